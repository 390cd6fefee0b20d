#!/usr/bin/env python3
"""SVG check benchmark: what `check` spends on an SVG picture (livret/reading/svg.py: defusedxml
SAX, tinycss2 where an attribute may hold a reference), against what WeasyPrint spends drawing it.

Run from the repository root:  .venv/bin/python benchmarks/bench_svg.py [--repeat N] [--json]

For each size (--elements, default 500 — a chart — and 45,000 — about 5 MB, the cap), a
generated drawing: paths with a transform, an RGB fill and a `style` with `url(#g)` (the
costly case: every element is looked at for references), a gradient, `<use>` copies, text.

  1. check     svg.problems() on the bytes: median of --repeat rounds (default 3)
  2. render    WeasyPrint 70 writing a one-page PDF that shows the picture (one round: it is
               the reference, not what is measured)
               ratio 1 ÷ 2                                           goal: ≤ 0.25

Exit status 0 even if the goal is missed (a benchmark, not a test); 1 if the generated
drawing is not accepted (the figures would not measure the check of a good picture).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from livret.reading import svg  # noqa: E402


def drawing(elements: int) -> bytes:
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="400" height="200" viewBox="0 0 400 200">',
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#e8590c"/>'
        '<stop offset="1" stop-color="#1d5ea8"/></linearGradient>'
        '<g id="bar"><rect width="4" height="10"/></g></defs>',
    ]
    for i in range(elements):
        if i % 10 == 0:
            parts.append(f'<use xlink:href="#bar" x="{i % 397}" y="{i % 190}" fill="#2b8a3e"/>')
        else:
            parts.append(
                f'<path transform="translate({i % 397} {i % 190}) rotate(3)" '
                f'fill="#{i % 255:02x}3366" style="stroke: url(#g)" '
                f'd="M0 0 L4 {i % 9} L8 2 Z"/>'
            )
    parts.append('<text x="10" y="195" font-size="9">Répartition</text></svg>')
    return "\n".join(parts).encode()


def render_seconds(data: bytes) -> float:
    from weasyprint import HTML

    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder) / "chart.svg"
        picture.write_bytes(data)
        html = f'<img src="{picture.as_uri()}" alt="x" style="width: 150mm">'
        start = time.perf_counter()
        HTML(string=html).write_pdf()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--elements", type=int, nargs="+", default=[500, 45_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for elements in args.elements:
        data = drawing(elements)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            found = svg.problems(data)
            times.append(time.perf_counter() - start)
            if found:
                print(f"the generated drawing is refused: {found[:3]}", file=sys.stderr)
                return 1
        check = statistics.median(times)
        render = render_seconds(data)
        rows.append(
            {
                "elements": elements,
                "bytes": len(data),
                "check_s": round(check, 4),
                "render_s": round(render, 3),
                "ratio": round(check / render, 3),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'elements':>9} {'MB':>6} {'check s':>9} {'render s':>9} {'ratio':>6}  goal ≤ 0.25")
        for r in rows:
            print(
                f"{r['elements']:>9} {r['bytes'] / 1e6:>6.2f} {r['check_s']:>9.3f} "
                f"{r['render_s']:>9.2f} {r['ratio']:>6.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
