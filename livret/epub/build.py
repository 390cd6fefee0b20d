"""The EPUB in a build: made after the booklet (its page list is the booklet's layout), only
when the booklet, the EPUB's own design or its code changed; recorded in the manifest."""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from pathlib import Path

from ..errors import LivretError, Problem
from ..i18n import _
from ..model import Site

KIND = "epub"
PACKAGE = Path(__file__).resolve().parent.parent  # livret/
# livret's code that shapes the EPUB besides the booklet's (which the booklet's inputs cover).
CODE = ("epub", "equivalence.py")


def filename(site: Site) -> str:
    return f"{site.edition.slug}.epub"


@lru_cache(maxsize=2)
def code_hash(package: Path = PACKAGE) -> str:
    digest = hashlib.sha256()
    for name in CODE:
        root = package / name
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            rel = path.relative_to(package).as_posix()
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def inputs(site: Site, booklet) -> dict[str, str]:
    """What the EPUB is made from: the booklet (its inputs and its bytes), the EPUB's design
    files, livret's EPUB code."""
    from . import design_files

    out = dict(booklet.inputs)
    out["source"] = booklet.path.name
    out["source sha256"] = booklet.sha256
    for name, path in design_files(site).items():
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    out["livret epub code"] = code_hash()
    return out


def epub_result(site: Site, results: list, old_entries: dict, out_dir: Path, force: bool):
    """The EPUB of this build's booklet (in `results`): kept when up to date, else made."""
    from dataclasses import replace

    from ..pipeline import Result
    from . import build_epub

    booklet = next((r for r in results if r.output.kind == "booklet"), None)
    if booklet is None:  # never: a build asked for the EPUB plans the booklet
        raise LivretError(Problem("epub", None, None, _("the EPUB needs the booklet")))
    name = filename(site)
    target = out_dir / name
    wanted = inputs(site, booklet)
    output = replace(booklet.output, kind=KIND, filename=name)
    entry = old_entries.get(name)
    if (
        not force
        and entry
        and entry.get("inputs") == wanted
        and target.is_file()
        and target.stat().st_size == entry.get("bytes")
    ):
        return Result(
            output, target, "up to date", entry["pages"], entry["bytes"], entry["sha256"], 0.0,
            wanted,
        )  # fmt: skip
    start = time.perf_counter()
    try:
        made = build_epub(site, booklet.path, target)
    except ValueError as exc:
        if "untagged" not in str(exc):
            raise
        raise LivretError(  # the print variant's booklet
            Problem(
                "--only epub",
                None,
                None,
                _(
                    "the EPUB's page list is read from the tagged booklet: build it with the "
                    "accessible or archive variant, not print"
                ),
            )
        ) from None
    return Result(
        output, target, "built", made.pages, made.bytes, made.sha256,
        time.perf_counter() - start, wanted,
    )  # fmt: skip
