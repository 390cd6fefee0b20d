#!/usr/bin/env python3
"""Synthetic editions, larger than any real one: the real cards copied under new slugs.

    from benchmarks.synthetic import synthetic_content, spread
    synthetic_content(tmp / "content", {"mobilites": 60})      # one theme of 60 cards
    synthetic_content(tmp / "content", spread(500))            # 500 cards, ≈ 1,000 pages

or from the shell (run from the repository root):

    python benchmarks/synthetic.py DEST --theme mobilites=60
    python benchmarks/synthetic.py DEST --total 500

The result is a copy of a content folder (by default tests/fixtures/edition-01/content) in
which each theme named holds the number of cards asked: its own cards first, then copies of
every real card of the edition taken in turn (sorted by slug), each moved into that theme. A
copy of `adie.md` is `adie-copie-3.md`: its slug (the file name) is new, its `theme:` is the
theme that lists it, its title ends with « (copie 3) », and so does every paragraph or list
that `check` compares between cards (livret/reading/loader.py, check_copies: a card copied and left
unedited is an error); everything else (the text, the figures, the names) is the real card's.

A theme lists at most 100 cards (fields.MAX_ITEMS), so a bigger edition needs more themes:
a theme named `<real theme>-copie-<n>` is made as a copy of that real theme (title « (copie
n) », same colour and texts, listed in edition.yaml after the real ones) holding only copied
cards. `spread(total)` adds as few such themes as it can, a whole set of the real themes at a
time, and spreads the cards evenly. The same arguments give the same bytes, and `python
build.py check` accepts the result.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "edition-01" / "content"
MAX_CARDS = 100  # the longest list `check` accepts (livret/reading/fields.py, MAX_ITEMS)
COPY = re.compile(r"^(?P<real>[a-z0-9-]+)-copie-(?P<n>[0-9]+)$")


def themes_of(source: Path = FIXTURE) -> list[str]:
    """The theme slugs of an edition, in the order of its edition.yaml."""
    edition = yaml.safe_load((source / "edition.yaml").read_text(encoding="utf-8"))
    return list(edition["themes"])


def spread(total: int, source: Path = FIXTURE) -> dict[str, int]:
    """`total` cards over the edition's themes, as evenly as possible (the first themes get
    one more), with copies of the whole set of themes when `total` needs more than
    MAX_CARDS cards in one theme: 500 cards over 3 real themes → 6 themes of 83 or 84."""
    real = themes_of(source)
    sets = max(1, math.ceil(total / (MAX_CARDS * len(real))))
    themes = [t if k == 0 else f"{t}-copie-{k}" for k in range(sets) for t in real]
    base, extra = divmod(total, len(themes))
    return {t: base + (i < extra) for i, t in enumerate(themes)}


def _set_list(path: Path, key: str, items: list[str]) -> None:
    """Rewrite a top-level `key:` list (flow or block) of a YAML file as one flow list; the
    rest of the file is kept as written."""
    lines = path.read_text(encoding="utf-8").split("\n")
    [at] = [i for i, line in enumerate(lines) if line.startswith(f"{key}:")]
    end = at + 1
    while end < len(lines) and lines[end].startswith((" ", "-")) and lines[end].strip():
        end += 1  # the items of a block list
    lines[at:end] = [f"{key}: {json.dumps(items, ensure_ascii=False)}"]
    path.write_text("\n".join(lines), encoding="utf-8")


def _set_fields(lines: list[str], values: dict[str, str]) -> None:
    """Set top-level `key: value` lines (values written as JSON strings, which YAML reads as
    double-quoted scalars)."""
    done = set()
    for i, line in enumerate(lines):
        key, sep, _ = line.partition(":")
        if sep and key in values and key not in done:
            lines[i] = f"{key}: {json.dumps(values[key], ensure_ascii=False)}"
            done.add(key)
    if done != set(values):
        raise ValueError(f"no line for {sorted(set(values) - done)}")


def _title(lines: list[str]) -> str:
    [title] = [yaml.safe_load(line[6:]) for line in lines if line.startswith("title:")][:1]
    return str(title)


def _copy_card(text: str, theme: str, n: int) -> str:
    """A card's text with its front matter's `theme:` set, and « (copie n) » after its title
    and at the end of every block (paragraph, list) that check_copies compares."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        raise ValueError("a card starts with its front matter (---)")
    end = lines.index("---", 1)
    front = lines[: end + 1]
    _set_fields(front, {"title": f"{_title(front[1:end])} (copie {n})", "theme": theme})
    body = "\n".join(lines[end + 1 :])
    parts = re.split(r"(\n\s*\n)", body)  # blocks and the blank lines between them
    for i in range(0, len(parts), 2):
        block = parts[i]
        words = " ".join(block.split())
        if len(words) >= 60 and not words.startswith("#"):  # as loader._paragraphs
            stripped = block.rstrip()
            parts[i] = f"{stripped} (copie {n}){block[len(stripped) :]}"
    return "\n".join(front) + "\n" + "".join(parts)


def _copy_theme(dest: Path, slug: str) -> None:
    """themes/<real>-copie-<n>.yaml: the real theme's file, its title marked, no cards yet;
    listed in edition.yaml after the themes already there."""
    match = COPY.match(slug)
    real_file = dest / "themes" / f"{match['real']}.yaml" if match else None
    if real_file is None or not real_file.is_file():
        raise ValueError(f"unknown theme {slug}: a real theme's slug, or <real>-copie-<n>")
    lines = real_file.read_text(encoding="utf-8").split("\n")
    _set_fields(lines, {"title": f"{_title(lines)} (copie {match['n']})"})
    path = dest / "themes" / f"{slug}.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    _set_list(path, "actions", [])
    _set_list(dest / "edition.yaml", "themes", [*themes_of(dest), slug])


def synthetic_content(dest: Path, cards: Mapping[str, int], source: Path = FIXTURE) -> Path:
    """Copy the content folder `source` to `dest` (which must not exist), with cards[theme]
    cards in each theme named (at least its own; at most MAX_CARDS); returns `dest`."""
    source, dest = Path(source), Path(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("recipients*.csv"))
    real = themes_of(source)
    for slug in cards:  # the copies of themes, in the order asked
        if slug not in real:
            _copy_theme(dest, slug)
    originals = sorted(p.stem for p in (source / "actions").glob("*.md"))
    copies = dict.fromkeys(originals, 0)  # copies made of each card so far
    turn = 0
    for theme in themes_of(dest):  # the edition's order: the same arguments, the same files
        if theme not in cards:
            continue
        theme_file = dest / "themes" / f"{theme}.yaml"
        listed = list(yaml.safe_load(theme_file.read_text(encoding="utf-8"))["actions"])
        if not len(listed) <= cards[theme] <= MAX_CARDS:
            raise ValueError(
                f"{theme}: {cards[theme]} cards asked; from {len(listed)} to {MAX_CARDS}"
            )
        while len(listed) < cards[theme]:
            original = originals[turn % len(originals)]
            turn += 1
            copies[original] += 1
            n = copies[original]
            slug = f"{original}-copie-{n}"
            text = (source / "actions" / f"{original}.md").read_text(encoding="utf-8")
            (dest / "actions" / f"{slug}.md").write_text(
                _copy_card(text, theme, n), encoding="utf-8"
            )
            listed.append(slug)
        _set_list(theme_file, "actions", listed)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="the new content folder (must not exist)")
    parser.add_argument(
        "--source", type=Path, default=FIXTURE, help="the content to copy (default: the fixture)"
    )
    parser.add_argument(
        "--theme",
        action="append",
        default=[],
        metavar="SLUG=N",
        help="this theme holds N cards (repeatable; SLUG may be <theme>-copie-<n>)",
    )
    parser.add_argument("--total", type=int, help="N cards spread over the themes (spread())")
    args = parser.parse_args()
    cards: dict[str, int] = spread(args.total, args.source) if args.total else {}
    for item in args.theme:
        slug, _, n = item.partition("=")
        cards[slug] = int(n)
    if not cards:
        parser.error("say how many cards: --theme SLUG=N or --total N")
    synthetic_content(args.dest, cards, args.source)
    count = sum(1 for _ in (args.dest / "actions").glob("*.md"))
    print(f"{args.dest}: {count} cards in {len(themes_of(args.dest))} themes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
