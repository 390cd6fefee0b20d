#!/usr/bin/env python3
"""What the tag tree's pass costs: livret/finishing/tags.py's finish() (line ends included),
CPU-s per document, in-process, on the very inputs a build gives it.

Run from the repository root:
    .venv/bin/python benchmarks/bench_tags.py [--repeat N] [--profile] [--tree DIR] [--json]

One build (`-j 1`, in this process, into a temporary folder) of the booklet, its theme excerpts
and one action sheet runs with tags.finish wrapped: each call's inputs (WeasyPrint's bytes, the
pages' anchors, the HTML, the caller's `also`) are kept. Then each document's finish() is run
--repeat times on those same inputs and timed with time.process_time (CPU of this process: the
pass has no threads or children); the table gives the median and the fastest run, and the
sha256 of the output (the same for every run, and the same as the build's: checked).

--tree DIR: time the livret package found in DIR instead of this checkout's (for a before/after
on the same machine: `git archive main | tar -x -C /tmp/before`, then `--tree /tmp/before`).
--profile: cProfile of one booklet run, the 25 costliest functions (cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pikepdf

ROOT = Path(__file__).resolve().parent.parent


def capture(tree: Path, content: Path, out: Path) -> list[dict]:
    """Build the booklet, its excerpts and one sheet with tags.finish wrapped → one dict per
    document: its label, finish()'s arguments and what it returned."""
    sys.path.insert(0, str(tree))
    from livret import cli
    from livret.rendering import pdf as rendering_pdf

    calls: list[dict] = []
    original = rendering_pdf.finish_tags

    def keep(data, anchors, html, also=None):
        result = original(data, anchors, html, also)
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        calls.append(
            {
                "label": " ".join((title.group(1) if title else "?").split()),
                "args": (data, anchors, html, also),
                "result": result,
            }
        )
        return result

    rendering_pdf.finish_tags = keep
    try:
        common = ["--content", str(content), "--output", str(out), "--force", "-q", "-j", "1"]
        if cli.main(["build", *common, "--only", "booklet", "--only", "themes"]):
            raise SystemExit("the build of the booklet and its excerpts failed")
        books = len(calls)
        if cli.main(["build", *common, "--only", "actions"]):
            raise SystemExit("the build of the sheets failed")
    finally:
        rendering_pdf.finish_tags = original
    # The booklet, each excerpt, one sheet (the sheets are alike).
    for n, c in enumerate(calls):
        c["kind"] = "booklet" if n == 0 else "excerpt" if n < books else "sheet"
    return calls[: books + 1]


def time_one(finish, document: dict, repeat: int) -> dict:
    """Run finish() `repeat` times on one document's inputs → CPU-s of each run."""
    from livret.rendering import contracts

    data, anchors, html, also = document["args"]
    runs = []
    outputs = set()
    for _ in range(repeat):
        # The HTML's landmarks read anew, as in a build (contracts.read's cache has others).
        contracts.read.cache_clear()
        start = time.process_time()
        result = finish(data, anchors, html, also)
        runs.append(time.process_time() - start)
        outputs.add(hashlib.sha256(result).hexdigest())
    expected = hashlib.sha256(document["result"]).hexdigest()
    if outputs != {expected}:
        raise SystemExit(f"{document['label']}: finish() gave other bytes than in the build")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
    return {
        "document": document["label"],
        "kind": document["kind"],
        "pages": pages,
        "median_cpu_s": statistics.median(runs),
        "min_cpu_s": min(runs),
        "runs": runs,
        "sha256": expected,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to time")
    parser.add_argument("--content", type=Path, default=ROOT / "content")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-tags-") as tmp:
        content = Path(tmp) / "content"
        shutil.copytree(args.content, content)
        print("capturing the inputs (one build, -j 1)…", file=sys.stderr)
        documents = capture(args.tree.resolve(), content, Path(tmp) / "out")
    from livret.finishing import tags

    rows = [time_one(tags.finish, d, args.repeat) for d in documents]
    if args.json:
        print(json.dumps({"module": tags.__file__, "repeat": args.repeat, "rows": rows}, indent=2))
    else:
        print(f"tags.finish, CPU-s per document ({args.repeat} runs; {tags.__file__})")
        print(f"{'document':55} {'kind':8} {'pages':>5} {'median':>8} {'fastest':>8}  sha256")
        for r in rows:
            print(
                f"{r['document'][:55]:55} {r['kind']:8} {r['pages']:5d} "
                f"{r['median_cpu_s']:8.3f} {r['min_cpu_s']:8.3f}  {r['sha256'][:12]}"
            )
        print(f"load average: {os.getloadavg()[0]:.2f}")
    if args.profile:
        data, anchors, html, also = documents[0]["args"]
        profile = cProfile.Profile()
        profile.enable()
        tags.finish(data, anchors, html, also)
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
