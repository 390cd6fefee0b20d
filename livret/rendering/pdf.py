"""Stage 4 — print: HTML → PDF bytes with WeasyPrint, safely and reproducibly.

- The URL fetcher serves only files under layouts/, styles/ and the content folder, and
  data: URLs; anything else stops the render (no network, nothing else on the disk).
- Any WeasyPrint warning (missing anchor, failed fetch, unknown CSS property) fails the
  render: each one means a booklet that is not what the layouts say.
- The tag tree is finished after WeasyPrint (livret/finishing/tags.py): one element per part over
all
  its pages, TOC/TOCI, link descriptions from the layouts' titles.
- The archive variant (PDF/A-3a) claims PDF/UA-1 as well, in its XMP (_also_pdf_ua).
- One FontConfiguration and one set of parsed stylesheets per process, reused by every
  document it renders (parsing the fonts is a large part of a small render).
"""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..building import usercache
from ..errors import LivretError, Problem, display_path
from ..finishing import assemble
from ..finishing.tags import finish as finish_tags
from ..i18n import _
from . import compose, fit, pageplan, partcache
from .design import STYLESHEETS, for_content


def tidy(folios: list[int] | None):
    """What a composed document's file needs after WeasyPrint (livret/rendering/compose.py), done in
    the tag tree's pass (tags.finish): the copyfitting's probes are no destinations (their
    ids, `…-fit-…`, livret/rendering/fit.py), and an offprint's pages show the booklet's folios."""

    def change(pdf) -> None:
        import pikepdf

        dests = pdf.Root.get("/Names", {}).get("/Dests")
        if dests is not None and "/Names" in dests:
            names = list(dests.Names)
            kept = pikepdf.Array()
            for name, target in zip(names[::2], names[1::2], strict=True):
                if fit.PROBE not in str(name):
                    kept.append(name)
                    kept.append(target)
            dests.Names = kept
        if folios is not None:
            nums = pikepdf.Array()
            for index, folio in compose.page_labels(folios):
                nums.append(index)
                nums.append(pikepdf.Dictionary(S=pikepdf.Name.D, St=folio))
            pdf.Root.PageLabels = pikepdf.Dictionary(Nums=nums)

    return change


VARIANTS = {
    # name: (WeasyPrint pdf_variant, extra stylesheet)
    "accessible": ("pdf/ua-1", None),
    # PDF/A-3 level "a": archival and tagged; it claims PDF/UA-1 too (_also_pdf_ua)
    "archive": ("pdf/a-3a", None),
    "print": ("pdf/x-4", "print.css"),  # finished for the press by livret.finishing.press
}


# What the fetcher serves from the content folder: pictures only. An SVG is drawn by WeasyPrint
# (its type from the suffix, as policy.py checks it) and may ask for more: every such fetch
# goes through this same fetcher, so it gets a picture of the content or nothing.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}


def _fetcher_class():
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class SafeFetcher(URLFetcher):
        """file: URLs under the allowed folders and data: URLs; nothing else, ever."""

        def __init__(self, roots: list[Path], content_root: Path | None = None):
            # fail_on_errors: a refused fetch stops the render instead of a silent blank.
            super().__init__(timeout=5, allowed_protocols={"file", "data"}, fail_on_errors=True)
            self.roots = [r.resolve() for r in roots]
            # From the content folder, pictures only (never the recipient list, say).
            self.content_root = content_root.resolve() if content_root else None
            self.denied: list[str] = []

        def _allowed(self, url: str) -> Path | None:
            try:
                path = Path(unquote(urlsplit(url).path)).resolve()  # resolves ../ and links
            except (ValueError, OSError):  # "\x00" in the path, a loop of links
                return None
            if not any(path.is_relative_to(r) for r in self.roots) or not path.is_file():
                return None
            if (
                self.content_root
                and path.is_relative_to(self.content_root)
                and path.suffix.lower() not in IMAGE_SUFFIXES
            ):
                return None
            return path

        def fetch(self, url, headers=None):
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = self._allowed(url)
                if path is not None:
                    return super().fetch(path.as_uri(), headers)
            self.denied.append(url)
            raise FatalURLFetchingError(f"refused to fetch {url}")

    return SafeFetcher


def _refused_links(document) -> list[str]:
    """Defence in depth behind the content policy (policy.py, enforced by `check`): the laid
    out document carries no attachment and no link but http(s), mailto and its own anchors."""
    from ..i18n import _
    from ..reading.policy import link_problem

    out = []
    if document.metadata.attachments:
        out.append(_("the document would embed a file: attachments are not allowed"))
    for page in document.pages:
        for link_type, target, *_rest in page.links:
            if link_type == "attachment":
                out.append(
                    _("the document would embed {target}: attachments are not allowed").format(
                        target=target
                    )
                )
            elif link_type == "external":
                why = link_problem(target, None)
                if why:
                    out.append(_("refused link: {why}").format(why=why))
    return out


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _pictures(variant: str) -> dict:
    """Pictures: downsampled (200 dpi) for the screen PDFs, kept whole for the press."""
    return {} if variant == "print" else {"optimize_images": True, "dpi": 200}


# PDF/UA's identification schema, declared as PDF/A wants every schema it does not predefine
# (ISO 19005-3 6.6.2.3.1): the archive claims both, as public administrations ask.
UA_SCHEMA = b"""<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" \
pdfuaid:part="1"/><rdf:Description rdf:about="" \
xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" \
xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" \
xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#"><pdfaExtension:schemas><rdf:Bag>\
<rdf:li rdf:parseType="Resource">\
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>\
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>\
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>\
<rdf:li rdf:parseType="Resource"><pdfaProperty:name>part</pdfaProperty:name>\
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>\
<pdfaProperty:category>internal</pdfaProperty:category>\
<pdfaProperty:description>Indicates which part of ISO 14289 standard is followed\
</pdfaProperty:description></rdf:li></rdf:Seq></pdfaSchema:property></rdf:li></rdf:Bag>\
</pdfaExtension:schemas></rdf:Description>"""


def _collect(freeze: bool) -> None:
    """With the collector paused (a render: see Printer.render), the garbage of what was
    just laid out and dropped (a card measured to fit it), collected now, so that memory
    follows the largest card, not the number of cards (benchmarks/bench_reuse.py, figure
    6). `freeze`: in a worker of one build, what is kept (the parts laid out for the
    documents) is frozen, not walked again by the next collections; a warm worker (the
    preview's) does not freeze: what a save drops must be collected."""
    if not gc.isenabled():
        gc.collect()
        if freeze:
            gc.freeze()


MAP_CAP = 1024 * 1024  # page numbers of a 500-card edition: ~20 KB
MAPS = "pages"  # their folder in the user's cache


def _maps(fit_cache: Path) -> Path:
    """Where the page numbers are kept: beside the copyfitting decisions."""
    return fit_cache.with_name("pages")


def _places(folder: Path | None, key: str, shared: str | None) -> list[tuple[Path, bool]]:
    """(file, whether in the user's cache) where a map is kept: the build's cache under `key`,
    the user's (livret/building/usercache.py) under `shared`, which defaults to `key`."""
    places = [] if folder is None else [(_maps(folder) / f"{key}.json", False)]
    return [*places, (usercache.folder(MAPS) / f"{shared or key}.json", True)]


def _read_map(folder: Path | None, key: str, shared: str | None = None) -> dict[str, int] | None:
    """A map of ids to page numbers kept by _write_map in `folder` (the build's cache), else
    in the user's cache, or None: anything but the JSON object _write_map writes counts as
    absent."""
    from ..building.writer import read_json

    for path, _user in _places(folder, key, shared):
        value = read_json(path, MAP_CAP)
        if isinstance(value, dict) and all(
            isinstance(k, str) and type(v) is int and v > 0 for k, v in value.items()
        ):
            return value
    return None


def _write_map(
    folder: Path | None, key: str, value: dict[str, int], shared: str | None = None
) -> None:
    """Keep a map (a cache: what cannot be written is laid out again next time)."""
    data = json.dumps(value, sort_keys=True).encode()
    for path, user in _places(folder, key, shared):
        usercache.keep(path, data, pruned=user)


def _also_pdf_ua(data: bytes) -> bytes:
    """The PDF/A-3a file claiming PDF/UA-1 as well: WeasyPrint writes one claim per file
    (Kozea/WeasyPrint#2467); the rest PDF/UA asks (tags, title shown, language, artifacts) the
    archive has already. The claim is added to the XMP metadata as it is, byte for byte."""
    import io

    import pikepdf

    pdf = pikepdf.open(io.BytesIO(data))
    xmp = pdf.Root.Metadata.read_bytes()
    if b"pdfuaid:part" in xmp:
        return data
    end = xmp.rindex(b"</rdf:RDF>")
    pdf.Root.Metadata.write(xmp[:end] + UA_SCHEMA + xmp[end:])
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def _differ(a: Path, b: Path) -> bool:
    """Whether two files hold other bytes."""
    return a.stat().st_size != b.stat().st_size or a.read_bytes() != b.read_bytes()


class Printer:
    """Renders documents in one process, sharing fonts and stylesheets between them."""

    def __init__(self, content_root: Path):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.content_root = Path(content_root).resolve()
        self.design = for_content(self.content_root)
        self._stamp = self._design_stamp("styles/")
        self.fetcher = _fetcher_class()(
            [*self.design.folders, self.content_root], content_root=self.content_root
        )
        self.font_config = FontConfiguration()
        self._css: dict[str, object] = {}
        # Filled by the `@color-profile` rules of the stylesheets (print.css: the CMYK intent).
        self.color_profiles: dict[str, object] = {}
        self._CSS = CSS
        self.base = [self._sheet(name) for name in STYLESHEETS]
        # Copyfitting decisions (livret/rendering/fit.py), kept for the life of this printer; a
        # render given a folder also reads and keeps them there, across builds.
        self.decisions = fit.Decisions(shared="fit")
        self.spreads: fit.Plan | None = None  # the last press file's plan (livret/rendering/fit.py)
        # Each part of a book laid out once (livret/rendering/compose.py), kept for the documents
        # that follow (the excerpts after the booklet; the next save in a warm worker):
        # key → (its WeasyPrint document, its pages). `keep_used` drops what a build
        # did not use.
        self.parts: dict[str, tuple[object, list]] = {}
        self.used: set[str] = set()
        self.final: dict[str, str] = {}  # part id → its HTML as printed (a card: fitted)
        self.areas: dict[str, tuple[float, float]] = {}  # the page area, by variant and head
        self.laid_out = ""  # the last composed document's HTML as printed
        # A booklet's folios by its HTML, and the parts it was laid out from (kept with it).
        self.frames: dict[str, tuple[dict[str, int], frozenset[str]]] = {}
        self._keys: list[set[str]] = []  # the parts each composition under way uses
        self.folios: dict[str, dict[str, int]] = {}  # variant → the last page numbers shown
        self.numbers_kept: set[str] = set()  # documents whose numbers the user's cache holds
        self.verdicts: dict[str, bool] = {}  # a project's design: can its documents be composed
        self.whole: str | None = None  # why the last document was laid out whole, if it was
        self.composing = True  # False: every document laid out whole (the tests' reference)
        self.one_build = False  # the printer of a worker of one build (see _collect)
        self.composition: compose.Composition | None = None  # the last document's, if composed
        self.split: compose.Split | None = None  # and the parts it was composed from
        self.keys: dict[str, str] = {}  # part id → the key of its layout, in the last one
        # Each part written once (livret/finishing/assemble.py): its layout's key → its file.
        self.written: dict[str, assemble.Fragment] = {}
        self.entries: dict[str, str] = {}  # a part's layout key → its key in partcache.py
        self.reuse_parts = True  # False: each part laid out again (`build --force`)
        self.assembled = 0  # documents assembled from their parts' files (the tests read it)
        # While a render composes a document: how its parts are written (a card is written as
        # soon as it is laid out for good, and its layout let go).
        self._writing: Callable[[Any], bytes] | None = None
        self._garbage = False

    def _design_stamp(self, prefix: str = "") -> tuple[tuple[str, int, int], ...]:
        """Each design file whose name starts with `prefix` ("styles/": stylesheets, fonts,
        drawings), as found now: its name, time and size (one stat each)."""
        stamp = []
        for name, path in self.design.files().items():
            if name.startswith(prefix):
                found = path.stat()
                stamp.append((name, found.st_mtime_ns, found.st_size))
        return tuple(stamp)

    def stale(self) -> bool:
        """Whether a style file was changed, added or removed since this printer loaded
        the design: its stylesheets and fonts are then out of date (a new Printer is needed)."""
        try:
            return self._design_stamp("styles/") != self._stamp
        except OSError:
            return True

    def _sheet(self, name: str):
        if name not in self._css:
            self._css[name] = self._CSS(
                filename=str(self.design.stylesheet(name)),
                font_config=self.font_config,
                url_fetcher=self.fetcher,
                color_profiles=self.color_profiles,
            )
        return self._css[name]

    def _sheets(self, variant: str, numbered: bool = False) -> list:
        """The stylesheets of `variant`; `numbered`: for a part that shows page numbers
        written in it (livret/rendering/compose.py), the sheets whose cross-references read them."""
        extra = VARIANTS[variant][1]
        names = [*STYLESHEETS, *([extra] if extra else [])]
        if not numbered:
            return [self._sheet(name) for name in names]
        return [self._numbered_sheet(name) for name in names]

    def _numbered_sheet(self, name: str):
        key = "numbered\0" + name
        if key not in self._css:
            path = self.design.stylesheet(name)
            text = path.read_text(encoding="utf-8")
            if compose.TARGET_COUNTER not in text:
                self._css[key] = self._sheet(name)
            else:
                self._css[key] = self._CSS(
                    string=compose.numbered_sheet(text),
                    base_url=path.as_uri(),
                    font_config=self.font_config,
                    url_fetcher=self.fetcher,
                    color_profiles=self.color_profiles,
                )
        return self._css[key]

    def _first_folio(self, folio: int):
        """The sheet that makes a part's document number its first page `folio`."""
        key = f"folio\0{folio}"
        if key not in self._css:
            self._css[key] = self._CSS(
                string=f"@page :first {{ counter-increment: page {folio} }}",
                font_config=self.font_config,
            )
        return self._css[key]

    def refusal(self, variant: str) -> str | None:
        """Why the documents of `variant` cannot be composed from their parts (a stylesheet
        that makes a part depend on what precedes it: livret/rendering/compose.py), or None."""
        key = "refusal\0" + variant
        if key not in self._css:
            found = None
            if variant == "print":  # the press file's page plan is the whole document's
                found = "print"
            extra = VARIANTS[variant][1]
            for name in [*STYLESHEETS, *([extra] if extra else [])]:
                text = self.design.stylesheet(name).read_text(encoding="utf-8")
                why = compose.refusal(text)
                if found is None and why:
                    found = f"styles/{name}: {why}"
            self._css[key] = found
        return self._css[key]  # type: ignore[return-value]

    def _layout(self, html: str, variant: str, sheets: list | None = None):
        """WeasyPrint's layout of `html` (a Document), with this printer's fonts and sheets."""
        from weasyprint import HTML

        pdf_variant, _extra = VARIANTS[variant]
        sheets = sheets if sheets is not None else self._sheets(variant)
        return HTML(
            string=html, base_url=self.content_root.as_uri() + "/", url_fetcher=self.fetcher
        ).render(
            stylesheets=sheets,
            font_config=self.font_config,
            color_profiles=self.color_profiles if variant == "print" else None,
            # PDF/X: the CMYK output intent is chosen at layout time.
            **({"pdf_variant": pdf_variant} if variant == "print" else {}),
            **_pictures(variant),
        )

    def _part(self, split: compose.Split, variant: str, cache: Path | None) -> compose.LayOut:
        """How a part of `split` is laid out on its own (livret/rendering/compose.py), once: the
        same part, folio and numbers give the pages kept from before. A card of a book is
        fitted to whole pages (livret/rendering/fit.py) on the layouts that are printed: a card that
        fits is laid out once, one that needs a break once more."""
        fit_head = fit.head_of(split.document("")) or ""  # the decisions' key, as `fitted`'s
        salt = self._fit_salt(variant)  # the design as it is for this whole document

        def laid(part: compose.Part, body: str, start: int, numbers) -> tuple[str, list]:
            shown = sorted(numbers.items()) if numbers is not None else None
            # The first part gives the document its metadata: laid out with its own <head>.
            head = split.head if part is split.parts[0] else split.shape
            key = compose.key(variant, head, body, start, shown)
            self.used.add(key)
            for keys in self._keys:
                keys.add(key)
            if key in self.parts:
                return key, self.parts[key][1]
            if part is not split.parts[0]:  # the first part's layout is the document's
                entry = partcache.key(salt, key, body, self.content_root)
                self.entries[key] = entry
                found = partcache.get(entry) if self.reuse_parts else None
                if found is not None:  # written by an earlier process (partcache.py)
                    self.written[key], pages = found
                    self.parts[key] = (None, pages)
                    return key, pages
            if self._garbage:  # a card written and let go (_written)
                _collect(self.one_build)
                self._garbage = False
            left = start % 2 == 0  # a left-hand page: the second of its document
            sheets = self._sheets(variant, numbered=numbers is not None)
            first = start - 1 if left else start
            if first != 1:
                sheets = [*sheets, self._first_folio(first)]
            document = self._layout(
                split.document(compose.PREFIX + body if left else body), variant, sheets
            )
            pages = document.pages[1:] if left else document.pages
            if not pages or part.ident not in pages[0].anchors:
                raise compose.MissingTarget(part.ident)  # it did not open its own page
            self.parts[key] = (document, pages)
            return key, pages

        def lay_out(part: compose.Part, start: int, numbers) -> list:
            if not split.copyfit or numbers is not None or not part.card:
                self.final[part.ident] = part.html
                body = part.html if numbers is None else part.numbered(numbers)
                self.keys[part.ident], pages = laid(part, body, start, numbers)
                return pages
            key = fit.Decisions.key(salt, fit_head, part.html, self.content_root)
            found = self.decisions.get(key, cache, fit.breaks_of(part.html))
            prefix = part.ident + fit.PROBE  # ids of its own: unique in the document
            if found is not None:
                text = fit.probed(part.html, fit.candidates(part.html), set(found), prefix)
                self.keys[part.ident], pages = laid(part, text, start, None)
            else:
                tried: dict[str, str] = {}

                def trial(text: str) -> list:
                    got, pages = laid(part, text, start, None)
                    tried[text] = got
                    return pages

                area = self._area(variant, fit_head)
                breaks, text, pages = fit.fit_in_place(trial, part.html, area, prefix)
                self.decisions.put(key, breaks, cache)
                self.keys[part.ident] = tried[text]
                for other, got in tried.items():  # the trials not printed: garbage
                    if other != text:
                        self.parts.pop(got, None)
                        self.used.discard(got)
                # Collected before the next layout: a collection now would keep (and, in a
                # worker of one build, freeze for good) the card's layout that _written lets go.
                self._garbage = True
            self.final[part.ident] = text
            return self._written(split, part, self.keys[part.ident], pages)

        return lay_out

    def _written(self, split: compose.Split, part: compose.Part, key: str, pages: list) -> list:
        """A card laid out for good, in a render: written at once (its file kept in `written`
        for the documents that share it, and in the user's cache: partcache.py), and its pages
        are then what the composition reads of them (partcache.WrittenPage); its layout is let
        go, and collected before the next layout (here the caller still holds it: in a worker
        of one build, what a collection leaves is frozen for good)."""
        if self._writing is None or key in self.written or part is split.parts[0]:
            return pages  # the first part's layout is the document's (its metadata): kept
        document, _pages = self.parts[key]
        self.written[key] = self._fragment(
            document, pages, split.document(self.final[part.ident]), self._writing
        )
        kept = [partcache.WrittenPage.of(page) for page in pages]
        self._keep(key, kept)
        self.parts[key] = (None, kept)
        self._garbage = True  # collected before the next layout, once nothing holds it
        return kept

    def _keep(self, key: str, pages: list) -> None:
        """A part just written, kept in the user's cache for later processes (partcache.py);
        not the first part, whose layout each document makes again (its metadata)."""
        entry = self.entries.get(key)
        if entry is not None:
            partcache.put(entry, self.written[key], pages)

    def _area(self, variant: str, head: str) -> tuple[float, float]:
        """The top and bottom of the page area a card is laid out in (fit.PROBES)."""
        key = f"area\0{variant}\0{head}"
        if key not in self.areas:
            document = self._layout(head + fit.PROBES + "</body></html>", variant)
            self.areas[key] = fit.area_of(document.pages)
        return self.areas[key]

    def keep_used(self) -> None:
        """Forget the parts the documents rendered since the last call did not use."""
        for key in [k for k in self.parts if k not in self.used]:
            del self.parts[key]
        for key in [k for k, (_s, keys) in self.frames.items() if not keys <= self.used]:
            del self.frames[key]  # a booklet of another save
        for key in [k for k in self.written if k not in self.used]:
            del self.written[key]
        for key in [k for k in self.entries if k not in self.used]:
            del self.entries[key]
        self.used.clear()

    def compose_parts(
        self, html: str, variant: str, frame: str | None = None, cache: Path | None = None
    ) -> tuple[Any, compose.Composition] | None:
        """`html` laid out part by part, its cards fitted as they are laid out: (the
        document, its composition), or None when it cannot be (self.whole says why); the
        HTML as printed is then `self.laid_out`. `frame`: the booklet's HTML, whose folios
        an excerpt keeps (an offprint)."""
        self._keys.append(set())
        try:
            return self._compose_parts(html, variant, frame, cache)
        finally:
            self._keys.pop()

    def _compose_parts(
        self, html: str, variant: str, frame: str | None, cache: Path | None
    ) -> tuple[Any, compose.Composition] | None:
        self.whole = self.refusal(variant) if self.composing else "asked"
        if self.whole is None and self._verdict(variant, cache)[1] is False:
            self.whole = "design"  # this design's parts were found to depend on each other
        split = compose.split(html) if self.whole is None else None
        if split is None:
            self.whole = self.whole or "body"
            return None
        folios = None
        if frame is not None:
            folios = self._frame(frame, variant, cache)
            if folios is None:
                return None
        # The page numbers to try first: this process's last, else the folder's last build's,
        # else those of this very document in the user's cache.
        exact = compose.key("numbers", variant, self._fit_salt(variant), html)
        guess = self.folios.get(variant)
        if guess is None:
            guess = _read_map(cache, compose.key("numbers", variant), exact)
        try:
            composition = compose.compose(split, self._part(split, variant, cache), folios, guess)
        except compose.MissingTarget:
            self.whole = "target"
            return None
        if composition.numbers != {
            k: v for k, v in (guess or {}).items() if k in composition.numbers
        }:
            numbers = {**(guess or {}), **composition.numbers}
            self.folios[variant] = numbers
            _write_map(cache, compose.key("numbers", variant), numbers, exact)
        elif exact not in self.numbers_kept and _read_map(None, exact) is None:
            _write_map(None, exact, composition.numbers)  # right from memory: for a new folder
        self.numbers_kept.add(exact)  # looked up in the user's cache once per document
        first = composition.pages[0]
        document = next(d for d, pages in self.parts.values() if pages and pages[0] is first)
        self.laid_out = split.document("".join(self.final[p.ident] for p in split.parts))
        self.split = split
        if not self._trusted(self.laid_out, variant, composition, cache):
            return None
        if frame is None:  # the booklet: its folios, for the excerpts that follow
            key = self._frame_key(html, variant)
            self.frames[key] = (composition.starts, frozenset(self._keys[-1]))
            if _read_map(cache, key) != composition.starts:  # and for an excerpt built alone
                _write_map(cache, key, composition.starts)
        return document.copy(composition.pages), composition  # type: ignore[attr-defined]

    def _own_design(self) -> list[str]:
        """The project's own layouts and styles: those that replace livret's with other
        bytes (a copy of livret's file, as a project starting its own design makes, is
        livret's)."""
        from .design import shipped

        key = "own\0" + repr(self._design_stamp())
        if key not in self._css:
            own = []
            for name, path in self.design.files().items():
                kind, _slash, rest = name.partition("/")
                base = shipped(kind)
                if base is not None and path.resolve().is_relative_to(base.resolve()):
                    continue
                theirs = base / rest if base is not None else None
                if theirs is None or not theirs.is_file() or _differ(path, theirs):
                    own.append(name)
            self._css[key] = own
        return self._css[key]  # type: ignore[return-value]

    def _verdict(self, variant: str, cache: Path | None) -> tuple[str | None, bool | None]:
        """(the key of this design's verdict, the verdict known so far) for a project's own
        layouts or styles; (None, True) for livret's own design, made for the composition
        (tests/test_compose.py)."""
        own = self._own_design()
        if not own:
            return None, True
        digest = hashlib.sha256(self._fit_salt(variant).encode())
        for name in own:
            digest.update(name.encode() + b"\0" + self.design.files()[name].read_bytes())
        key = compose.key("trusted", variant, digest.hexdigest())
        verdict = self.verdicts.get(key)
        if verdict is None:
            kept = _read_map(cache, key)
            verdict = None if kept is None else kept.get("trusted") == 2
        return key, verdict

    def _trusted(
        self, html: str, variant: str, composition: compose.Composition, cache: Path | None
    ) -> bool:
        """Whether the composition can stand for a whole layout. A project's own layouts or
        styles may make a part depend on what precedes it (a counter, a running head, a part
        that does not open a page): once per version of the design, the first composed
        document is laid out whole too and the two compared (pages, and the anchors on each
        page). When they differ, every document of this design is laid out whole (self.whole),
        without being composed first (_compose_parts asks _verdict)."""
        key, verdict = self._verdict(variant, cache)
        if key is None:
            return True
        if verdict is None:
            whole = self._layout(html, variant)
            verdict = [set(p.anchors) for p in whole.pages] == [
                set(p.anchors) for p in composition.pages
            ]
            _write_map(cache, key, {"trusted": int(verdict) + 1})
        self.verdicts[key] = verdict
        if not verdict:
            self.whole = "design"
        return verdict

    def folios_digest(
        self, html: str, variant: str, frame: str | None, cache: Path | None
    ) -> str | None:
        """The digest of the folios an excerpt would keep (Composition.digest), without
        writing it; None when it is not composed."""
        made = self.compose_parts(html, variant, frame, cache)
        return None if made is None or frame is None else made[1].digest

    def _frame(self, html: str, variant: str, cache: Path | None) -> dict[str, int] | None:
        """The folios of the booklet's parts: laid out, or kept from a build before."""
        key = self._frame_key(html, variant)
        if key in self.frames:  # laid out in this process: its parts are kept with it
            starts, keys = self.frames[key]
            self.used |= keys
            return starts
        found = _read_map(cache, key)
        if found is None:
            made = self.compose_parts(html, variant, None, cache)
            if made is None:
                return None
            found = made[1].starts  # kept in `cache` by compose_parts
        return found

    def _frame_key(self, html: str, variant: str) -> str:
        """The key of a booklet's folios: its HTML, and what shapes its layout besides (the
        styles, the renderer and livret's code: a stylesheet changed, the folios may move)."""
        return compose.key("frame", variant, self._fit_salt(variant), html)

    def _fit_salt(self, variant: str) -> str:
        """What shapes a card's layout besides its HTML: the styles (stylesheets, fonts,
        drawings), the renderer and livret's code, the variant. Hashed again only when a
        style file's size or time changed (reading the fonts is most of the cost)."""
        key = "\0".join(["salt", variant, repr(self._design_stamp("styles/"))])
        if key not in self._css:
            self._css[key] = self._salt(variant)
        return self._css[key]  # type: ignore[return-value]

    def _salt(self, variant: str) -> str:
        from ..building.outputs import tool_versions

        digest = hashlib.sha256(json.dumps(tool_versions(variant), sort_keys=True).encode())
        for name, path in self.design.files().items():
            if name.startswith("styles/"):
                digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def fitted(self, html: str, variant: str = "accessible", cache: Path | None = None) -> str:
        """`html` with the page breaks that fit each card to whole pages (livret/rendering/fit.py):
        cards laid out on their own, once per version of a card (cached in `cache`)."""
        # Hashed at the first card, once: a sheet, which asks for no fitting, pays nothing.
        salt = functools.cache(lambda: self._fit_salt(variant))

        def decide(head: str, card: str) -> list[int]:
            key = fit.Decisions.key(salt(), head, card, self.content_root)
            found = self.decisions.get(key, cache, fit.breaks_of(card))
            if found is None:
                found = fit.fit_card(lambda doc: self._layout(doc, variant), head, card)
                _collect(self.one_build)  # the card's trial layouts: garbage (memory)
                self.decisions.put(key, found, cache)
            return found

        if variant != "print":
            return fit.apply(html, decide)

        # The press file, in spreads: each card's ways to fill whole pages, then one plan.
        def menu(head: str, card: str) -> list[fit.Option]:
            key = fit.Decisions.key("spreads\0" + salt(), head, card, self.content_root)
            kept = self.decisions.get(key, cache)
            found = None if kept is None else fit.menu_from_json(kept)
            if found is None:
                found = fit.options(lambda doc: self._layout(doc, variant), head, card)
                _collect(self.one_build)
                self.decisions.put(key, fit.menu_to_json(found), cache)
            return found

        fitted, self.spreads = fit.apply_spreads(html, menu, lambda doc: self._layout(doc, variant))
        return fitted

    def planned_html(self, html: str, variant: str = "accessible") -> str:
        """The HTML as finally laid out: the cards fitted to their pages, with the Notes
        pages the page plan adds (see pageplan.py), which needs one layout to count them."""
        html = self.fitted(html, variant)
        if variant != "print":  # the screen PDFs leave no page blank
            return html
        return pageplan.plan(html, len(self._layout(html, variant).pages)) or html

    def render(
        self,
        html: str,
        variant: str = "accessible",
        sources=(),
        fit_cache: Path | None = None,
        frame: str | None = None,
        book: bool = False,
        fitted: bool = False,
    ) -> tuple[bytes, int]:
        """→ (PDF bytes, page count). `sources` are the content files, to name in errors;
        `fit_cache` a folder where copyfitting decisions are kept across builds; `book`: a
        book document, composed from its parts (livret/rendering/compose.py); `frame`: for an
        excerpt, the booklet's HTML, whose folios it keeps; `fitted`: `html` is fitted
        already (laid out whole as it is: the tests' reference)."""
        from weasyprint.urls import FatalURLFetchingError

        pdf_variant = VARIANTS[variant][0]
        capture = _Capture()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(capture)
        self.fetcher.denied.clear()

        pictures = _pictures(variant)
        # The garbage collector paused during the render: WeasyPrint makes millions of objects
        # and the collector's passes over them cost a share of the render (benchmarks/README.md);
        # the garbage is collected once, after, by the next pass.
        collecting = gc.isenabled()
        gc.disable()
        try:
            if book and variant in compose.VARIANTS:
                self._writing = functools.partial(self._write, variant=variant)
            try:
                composed = self.compose_parts(html, variant, frame, fit_cache) if book else None
            finally:
                self._writing = None
            if composed is not None:  # each part laid out once (livret/rendering/compose.py)
                document, composition = composed
                laid_out = self.laid_out
            else:
                composition = None
                laid_out = html if fitted else self.fitted(html, variant, fit_cache)
                document = self._layout(laid_out, variant)
            self.composition = composition
            # The press file: a multiple of 4 pages, Notes pages before the back cover.
            if variant == "print" and (planned := pageplan.plan(laid_out, len(document.pages))):
                laid_out = planned
                document = self._layout(planned, variant)
            pages = len(document.pages)
            refused = _refused_links(document)
            if refused:
                raise LivretError(
                    [Problem("livret", None, None, m) for m in dict.fromkeys(refused)]
                )
            offprint = composition is not None and composition.offprint
            also = tidy(composition.folios if composition and offprint else None) if book else None
            anchors = [set(page.anchors) for page in document.pages]
            # A fixed identifier derived from the HTML as printed: same HTML, same bytes.
            identifier = hashlib.md5(laid_out.encode() + variant.encode()).hexdigest().encode()

            def write(written) -> bytes:
                return written.write_pdf(
                    pdf_variant=pdf_variant,
                    pdf_tags=True,
                    **pictures,
                    attachments=[],
                    pdf_identifier=identifier,
                )

            data = None
            if composition is not None and self.split is not None:
                # Each part written once, the file put together from theirs
                # (livret/finishing/assemble.py).
                data = self._assemble(document, composition, self.split, variant, also)
            if data is None:
                if composition is not None:  # its parts' layouts may be let go: anew, whole
                    document = self._layout(laid_out, variant)
                    anchors = [set(page.anchors) for page in document.pages]
                data = finish_tags(write(document), anchors, laid_out, also)
        except FatalURLFetchingError:
            raise LivretError(self._denied_problems(sources)) from None
        finally:
            logger.removeHandler(capture)
            if collecting:
                gc.enable()
        if self.fetcher.denied:
            raise LivretError(self._denied_problems(sources))
        if capture.messages:
            raise LivretError([Problem("weasyprint", None, None, m) for m in capture.messages])
        if variant == "archive":
            data = _also_pdf_ua(data)
        if variant == "print":
            data = self._press(data, document.metadata.title or "")
        return data, pages

    def _assemble(self, document, composition, split, variant: str, also) -> bytes | None:
        """The composed document's file made of its parts' files, each written once (kept
        in `written` for the documents that share the part); None when they are not of the
        shape assemble.py puts together (the document is then written whole)."""
        fragments = []
        for part in split.parts:
            key = self.keys[part.ident]
            if key not in self.written:
                pages = [composition.pages[i] for i in composition.spans[part.ident]]
                self.written[key] = self._fragment(
                    document,
                    pages,
                    split.document(self.final[part.ident]),
                    functools.partial(self._write, variant=variant),
                )
                self._keep(key, pages)
            fragments.append(self.written[key])
        try:
            made = assemble.assemble(fragments, document.make_bookmark_tree(0.75, True), also)
        except assemble.Unassembled:
            return None
        self.assembled += 1
        return made

    @staticmethod
    def _write(document, variant: str) -> bytes:
        """A part's pages as a file (livret/finishing/assemble.py takes its catalog from the
        first part only: its identifier and metadata are set again there)."""
        return document.write_pdf(
            pdf_variant=VARIANTS[variant][0],
            pdf_tags=True,
            attachments=[],
            pdf_identifier=b"0" * 32,
            **_pictures(variant),
        )

    @staticmethod
    def _fragment(document, pages: list, html: str, write) -> assemble.Fragment:
        """A part's pages written as a file of their own, its tag tree finished. The names
        it links to that other parts hold get a stand-in anchor on its first page, so that
        WeasyPrint keeps the links (assemble.py gives them the real destination)."""
        anchors = [set(page.anchors) for page in pages]
        targets = {t for page in pages for kind, t, *_r in page.links if kind == "internal"}
        borrowed = targets - set().union(*anchors)
        if borrowed:
            first = copy.copy(pages[0])
            first.anchors = {**first.anchors, **{name: (0, 0, 0, 0) for name in sorted(borrowed)}}
            pages = [first, *pages[1:]]
        data = finish_tags(write(document.copy(pages)), anchors, html)
        return assemble.Fragment(data, frozenset(borrowed))

    def _press(self, data: bytes, title: str) -> bytes:
        """The PDF/X-4 file finished for the press (CMYK only, marks and slug outside the bleed)."""
        from weasyprint import CSS, HTML

        from ..finishing import press

        def slug(pages: int, width: float, height: float) -> bytes:
            label = f"{title} · PDF/X-4 · {press.CONDITION}"
            sheet = CSS(string=press.slug_css(label, width, height), font_config=self.font_config)
            return HTML(string=press.slug_html(pages)).write_pdf(
                stylesheets=[self._sheet("fonts.css"), sheet], font_config=self.font_config
            )

        return press.finish(data, slug)

    def _denied_problems(self, sources) -> list[Problem]:
        problems = []
        for url in dict.fromkeys(self.fetcher.denied):
            hits: list[tuple[str, int | None]] = []
            for src in sources:
                try:
                    lines = Path(src).read_text(encoding="utf-8").split("\n")
                except (OSError, UnicodeDecodeError):
                    continue
                needle = urlsplit(url).path.rsplit("/", 1)[-1] or url
                hits += [(src, n) for n, line in enumerate(lines, 1) if needle in line]
            where = hits or [("layouts/styles", None)]
            for src, line in where:
                problems.append(
                    Problem(
                        display_path(src),
                        line,
                        None,
                        _(
                            "refused to fetch {url}: only files inside the content, "
                            "layouts and styles folders (and data: URLs) may be used"
                        ).format(url=url),
                    )
                )
        return problems
