"""The web edition's assets: its style sheet and script (styles/web/, a project's own first)
and Lato as WOFF2 subsets, made with fontTools (WeasyPrint's own dependency, with Brotli).

The subsets keep a fixed character set (Latin, French punctuation and spaces, €), not the
characters of the day's text: a card edit never changes a font file."""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

from ...reading.model import Site
from ...rendering.design import for_content
from .. import usercache

ASSETS = "assets"
SHEETS = ("livret.css", "catalogue.js")
# (file, weight, style): the faces the pages use.
FACES = (
    ("Lato-Regular.ttf", 400, "normal"),
    ("Lato-Italic.ttf", 400, "italic"),
    ("Lato-Bold.ttf", 700, "normal"),
    ("Lato-Black.ttf", 900, "normal"),
)
# Basic Latin, Latin-1, Latin Extended-A (œ, Œ…), general punctuation (’ “ ” … – — and the
# narrow no-break space of French typography), €, ™, arrows, the replacement character.
UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *range(0x2000, 0x2070),
    0x20AC,
    0x2122,
    *range(0x2190, 0x2194),
    0xFFFD,
]


def woff2_name(ttf: str) -> str:
    return Path(ttf).stem.lower() + ".woff2"


def subset_woff2(ttf: Path) -> bytes:
    """The face reduced to UNICODES, as WOFF2; the same bytes for the same font."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff2"
    options.name_IDs = ["*"]  # keep the copyright and licence records (OFL)
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.layout_features = ["kern", "liga", "clig", "calt", "ccmp", "locl", "mark", "mkmk"]
    # Lato's own 'created' date is older than fontTools expects: it says so, harmlessly.
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    font = TTFont(str(ttf), recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=UNICODES)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.flavor = "woff2"
    font.save(buffer)
    return buffer.getvalue()


def _cached_subset(ttf: Path, cache: Path) -> bytes:
    from fontTools import version

    key = hashlib.sha256(
        ttf.read_bytes() + repr((UNICODES, version, "woff2 v1")).encode()
    ).hexdigest()
    path = cache / f"{key}.woff2"
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = subset_woff2(ttf)
    usercache.keep(path, data)  # none where none can be written: the subset is made each time
    return data


def font_faces() -> str:
    """The @font-face rules of the pages (paths relative to assets/livret.css)."""
    rules = []
    for ttf, weight, style in FACES:
        rules.append(
            '@font-face { font-family: "Livret Lato"; '
            f'src: url(fonts/{woff2_name(ttf)}) format("woff2"); '
            f"font-weight: {weight}; font-style: {style}; font-display: swap; }}"
        )
    return "\n".join(rules) + "\n"


def files(site: Site, out_dir: Path) -> dict[str, bytes]:
    design = for_content(site.root)
    out: dict[str, bytes] = {}
    for name in SHEETS:
        data = design.stylesheet(f"web/{name}").read_bytes()
        if name.endswith(".css"):
            data = font_faces().encode() + data
        out[f"{ASSETS}/{name}"] = data
    # The subsets depend only on the font files and fontTools: one cache per user, so that
    # a fresh output folder does not subset them again.
    cache = usercache.folder("web-fonts")
    for ttf, _weight, _style in FACES:
        out[f"{ASSETS}/fonts/{woff2_name(ttf)}"] = _cached_subset(
            design.stylesheet(f"fonts/{ttf}"), cache
        )
    out[f"{ASSETS}/fonts/OFL.txt"] = design.stylesheet("fonts/OFL.txt").read_bytes()
    return out
