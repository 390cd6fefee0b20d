"""The press file: `--variant print` as PDF/X-4 for an offset printer.

WeasyPrint writes the PDF/X-4 identification (XMP pdfxid, Trapped), the CMYK output intent
(from `@color-profile device-cmyk` in styles/print.css), the TrimBox and a 3 mm BleedBox.
This module finishes the file, with pikepdf:

- every colour left in RGB (the theme colours come from the content as sRGB hex) is turned
  into CMYK through the output profile, in page content, form XObjects, images and
  transparency groups: a printer's preflight finds no RGB at all;
- the output intent names its printing condition (FOGRA39);
- the page grows by a slug area outside the bleed, where the crop marks (100 % K, starting
  beyond the bleed) and a slug line (document, page, colour condition) are drawn.

The output profile is styles/icc/FOGRA39L-livret.icc, made with ArgyllCMS from the FOGRA39L
characterisation data of Debian's icc-profiles-free (zlib licence), see styles/icc/README.md.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..rendering.design import shipped

# The output profile shipped with livret's styles (print.css names the same file).
PROFILE = (shipped("styles") or Path(__file__).resolve().parent.parent.parent / "styles") / (
    "icc/FOGRA39L-livret.icc"
)
MM = 72 / 25.4
BLEED = 3 * MM  # the bleed WeasyPrint paints (print.css: `bleed: 3mm`)
SLUG = 12 * MM  # room outside the bleed for the marks and the slug line
MARK_GAP = 1 * MM  # crop marks start this far outside the bleed…
MARK_LENGTH = 6 * MM  # …and are this long
CONDITION = "FOGRA39"
CONDITION_INFO = "Coated FOGRA39 (ISO 12647-2:2004/Amd 1, paper type 1 or 2, coated)"

RGB_OPS = {"rg": "k", "RG": "K"}
# Colours whose channels differ by less than this (0–1) are greys to the press: K only.
NEAR_GREY = 0.1


@lru_cache(maxsize=1)
def _transform():
    from PIL import ImageCms

    return ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"),
        ImageCms.getOpenProfile(str(PROFILE)),
        "RGB",
        "CMYK",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


@lru_cache(maxsize=4096)
def rgb_to_cmyk(r: float, g: float, b: float) -> tuple[float, float, float, float]:
    """sRGB (0–1) → CMYK (0–1) through the output profile. Greys and near-greys (the
    muted text #5b6270, the Notes rules, the back cover's light grey), black and white go
    to K only: no four-colour grey on press, so that hairlines, dots and small text stay
    sharp whatever the registration."""
    if max(r, g, b) - min(r, g, b) < NEAR_GREY:
        grey = (r + g + b) / 3
        return (0.0, 0.0, 0.0, round(1 - grey, 4))
    from PIL import Image, ImageCms

    pixel = Image.new("RGB", (1, 1), tuple(round(c * 255) for c in (r, g, b)))
    converted = ImageCms.applyTransform(pixel, _transform())
    assert converted is not None  # applyTransform returns None only with inPlace=True
    c, m, y, k = converted.tobytes()
    return (round(c / 255, 4), round(m / 255, 4), round(y / 255, 4), round(k / 255, 4))


def _is_rgb_space(space, resources) -> bool:
    import pikepdf

    if space == pikepdf.Name.DeviceRGB:
        return True
    if isinstance(space, pikepdf.Name) and resources is not None and "/ColorSpace" in resources:
        named = resources.ColorSpace.get(space)
        if named is not None:
            return _is_rgb_space(named, None)
    if isinstance(space, pikepdf.Array) and len(space) == 2 and space[0] == pikepdf.Name.ICCBased:
        return int(space[1].get("/N", 0)) == 3
    return False


def _numbers(values) -> list[Any]:
    """Content-stream operands (pikepdf takes Python numbers)."""
    return list(values)


def _convert_stream(pdf, owner, resources, seen: set) -> None:
    """Rewrite the RGB colour operators of one content stream (page or form) in CMYK."""
    import pikepdf

    instructions = pikepdf.parse_content_stream(owner)
    out: list[pikepdf.ContentStreamInstruction | pikepdf.ContentStreamInlineImage] = []
    changed = False
    rgb_fill = rgb_stroke = False
    for item in instructions:
        if isinstance(item, pikepdf.ContentStreamInlineImage):
            out.append(item)
            continue
        operands, op = list(item.operands), str(item.operator)
        if op in RGB_OPS and len(operands) == 3:
            cmyk = rgb_to_cmyk(*(float(v) for v in operands))
            out.append(
                pikepdf.ContentStreamInstruction(
                    _numbers(cmyk),
                    pikepdf.Operator(RGB_OPS[op]),
                )
            )
            changed = True
            continue
        if op in ("cs", "CS"):
            is_rgb = _is_rgb_space(operands[0], resources)
            if op == "cs":
                rgb_fill = is_rgb
            else:
                rgb_stroke = is_rgb
            if is_rgb:
                operands = [pikepdf.Name.DeviceCMYK]
                changed = True
        elif op in ("sc", "scn") and rgb_fill and len(operands) == 3:
            operands = _numbers(rgb_to_cmyk(*(float(v) for v in operands)))
            changed = True
        elif op in ("SC", "SCN") and rgb_stroke and len(operands) == 3:
            operands = _numbers(rgb_to_cmyk(*(float(v) for v in operands)))
            changed = True
        out.append(pikepdf.ContentStreamInstruction(operands, pikepdf.Operator(op)))
    if changed:
        data = pikepdf.unparse_content_stream(out)
        if isinstance(owner, pikepdf.Page):
            owner.obj.Contents = pikepdf.Stream(pdf, data)
        else:
            owner.write(data)
    _convert_resources(pdf, resources, seen)


def _convert_resources(pdf, resources, seen: set) -> None:
    import pikepdf

    if resources is None:
        return
    for xobject in (resources.get("/XObject") or {}).values():
        key = xobject.objgen
        if key in seen:
            continue
        seen.add(key)
        if xobject.get("/Subtype") == pikepdf.Name.Form:
            _convert_group(xobject)
            _convert_stream(pdf, xobject, xobject.get("/Resources"), seen)
        elif xobject.get("/Subtype") == pikepdf.Name.Image:
            _convert_image(xobject)
    for shading in (resources.get("/Shading") or {}).values():
        _convert_shading(shading)
    for pattern in (resources.get("/Pattern") or {}).values():
        if pattern.objgen in seen and pattern.objgen != (0, 0):
            continue
        seen.add(pattern.objgen)
        if "/Shading" in pattern:
            _convert_shading(pattern.Shading)
        if "/Resources" in pattern:
            _convert_stream(pdf, pattern, pattern.Resources, seen)


def _convert_shading(shading) -> None:
    """A gradient (WeasyPrint: sRGB, exponential or stitched functions) in CMYK."""
    import pikepdf

    function = shading.get("/Function")
    # sRGB stops: in an RGB space, or (WeasyPrint's gradients in the print variant) under the
    # CMYK output profile's space with three values each, which no RIP can read right.
    if not (_is_rgb_space(shading.get("/ColorSpace"), None) or _outputs(function) == 3):
        return
    shading.ColorSpace = pikepdf.Name.DeviceCMYK

    def convert(function) -> None:
        for key in ("/C0", "/C1"):
            if key in function:
                function[key] = pikepdf.Array(rgb_to_cmyk(*(float(v) for v in function[key])))
        if "/C0" not in function and int(function.get("/FunctionType", 0)) == 2:
            function.C0 = pikepdf.Array([0, 0, 0, 0])  # the default C0 is black in RGB
        for sub in function.get("/Functions", []):
            convert(sub)

    if isinstance(function, pikepdf.Array):
        raise ValueError("per-channel gradient functions in the press file")
    if function is not None:
        convert(function)


def _outputs(function) -> int | None:
    """How many colour components a shading's function gives (None: not known)."""
    import pikepdf

    if not isinstance(function, pikepdf.Dictionary | pikepdf.Stream):
        return None
    for key in ("/C0", "/C1"):
        if key in function:
            return len(function[key])
    subs = function.get("/Functions")
    return _outputs(subs[0]) if subs else None


def _convert_group(obj) -> None:
    import pikepdf

    group = obj.get("/Group")
    if group is not None and _is_rgb_space(group.get("/CS"), None):
        group.CS = pikepdf.Name.DeviceCMYK


def _convert_image(image) -> None:
    """An RGB image becomes CMYK at full resolution (through the output profile)."""
    import pikepdf
    from PIL import ImageCms

    if not _is_rgb_space(image.get("/ColorSpace"), None):
        return
    pil = pikepdf.PdfImage(image).as_pil_image().convert("RGB")
    cmyk = ImageCms.applyTransform(pil, _transform())
    assert cmyk is not None  # applyTransform returns None only with inPlace=True
    image.write(zlib.compress(cmyk.tobytes(), 6), filter=pikepdf.Name.FlateDecode)
    image.ColorSpace = pikepdf.Name.DeviceCMYK
    image.BitsPerComponent = 8
    for key in ("/DecodeParms", "/Decode"):
        if key in image:
            del image[key]


def _marks(trim: tuple[float, float, float, float]) -> bytes:
    """Crop marks at the four corners, in the slug area only: they start MARK_GAP beyond the
    bleed, so nothing of them is left on a page trimmed anywhere inside the BleedBox."""
    x0, y0, x1, y1 = trim
    start = BLEED + MARK_GAP
    end = start + MARK_LENGTH
    ops = ["q", "0 0 0 1 K", "0.25 w", "[] 0 d"]
    for x, sx in ((x0, -1), (x1, 1)):
        for y, sy in ((y0, -1), (y1, 1)):
            # horizontal mark on the trim line y, vertical mark on the trim line x
            ops.append(f"{x + sx * start:.3f} {y:.3f} m {x + sx * end:.3f} {y:.3f} l S")
            ops.append(f"{x:.3f} {y + sy * start:.3f} m {x:.3f} {y + sy * end:.3f} l S")
    ops.append("Q")
    return "\n".join(ops).encode()


def slug_css(label: str, width_pt: float, height_pt: float) -> str:
    """The stylesheet of the slug document: one page per booklet page, the size of the final
    MediaBox, the slug line in its bottom-left margin (outside the bleed)."""
    bottom = (SLUG - 4 * MM) / MM
    left = (SLUG + BLEED) / MM
    label = _css_string(label.replace("'", "\u2019"))  # the text's apostrophe
    return (
        f"@page {{ size: {width_pt:.3f}pt {height_pt:.3f}pt; margin: 0 {left:.2f}mm "
        f"{bottom:.2f}mm {left:.2f}mm; "
        f"@bottom-left {{ content: {label} ' · page ' counter(page) ' / ' "
        "counter(pages); "
        "font: 400 6pt 'Livret Lato', sans-serif; color: device-cmyk(0 0 0 1); "
        "vertical-align: bottom; } }"
    )


def _css_string(text: str) -> str:
    return (
        '"'
        + "".join(c if c.isalnum() or c in " #·-_.,'()/:" else f"\\{ord(c):x} " for c in text)
        + '"'
    )


def slug_html(pages: int) -> str:
    """As many empty pages as the booklet has."""
    return (
        "<!DOCTYPE html><html><body>"
        + '<div style="break-after: page"></div>' * (pages - 1)
        + "<div></div></body></html>"
    )


def _own_resources(pdf, page) -> None:
    """Give `page` a Resources dictionary (and XObject dictionary) of its own. WeasyPrint
    shares one between all pages: a slug form added under one name to the shared dictionary
    would be the last page's slug on every page."""
    import pikepdf

    shared = page.obj.get("/Resources")
    own = pikepdf.Dictionary({k: v for k, v in shared.items()} if shared is not None else {})
    xobjects = own.get("/XObject")
    own.XObject = pikepdf.Dictionary(
        {k: v for k, v in xobjects.items()} if xobjects is not None else {}
    )
    page.obj.Resources = pdf.make_indirect(own)


SUBSET_TAG = re.compile(r"^/?[A-Z]{6}\+")


def _subset_tag(program: bytes) -> str:
    """Six capital letters from the font program's own bytes (ISO 32000-1 9.6.4)."""
    digest = hashlib.sha256(program).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _retagged(name, tag: str):
    import pikepdf

    return pikepdf.Name("/" + tag + "+" + SUBSET_TAG.sub("", str(name)).lstrip("/"))


def retag_fonts(pdf) -> None:
    """Every embedded font subset named after its own program. WeasyPrint derives the tag
    from the font file, not the subset: the slug document, rendered apart, brings a second
    subset of Lato Regular under the body subset's name (preflight flags it; software that
    merges fonts by name can lose glyphs)."""
    import pikepdf

    renamed: dict[tuple[int, int], str] = {}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != pikepdf.Name.Font:
            continue
        descriptor = obj.get("/FontDescriptor")
        if descriptor is None or not SUBSET_TAG.match(str(obj.get("/BaseFont", ""))):
            continue
        program = next(
            (descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor),
            None,
        )
        if program is None:
            continue
        tag = _subset_tag(program.read_bytes())
        obj.BaseFont = _retagged(obj.BaseFont, tag)
        descriptor.FontName = _retagged(descriptor.FontName, tag)
        renamed[obj.objgen] = tag
    for obj in pdf.objects:  # composite fonts take their descendant's name
        if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == pikepdf.Name.Type0:
            descendant = obj.DescendantFonts[0]
            if descendant.objgen in renamed and SUBSET_TAG.match(str(obj.BaseFont)):
                obj.BaseFont = _retagged(obj.BaseFont, renamed[descendant.objgen])


def finish(data: bytes, render_slug: Callable[[int, float, float], bytes]) -> bytes:
    """PDF/X-4 bytes from WeasyPrint → the press file. `render_slug(pages, width, height)`
    renders the slug document (one page per page, the size of the enlarged MediaBox)."""
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(data))
    seen: set = set()
    first = pdf.pages[0]
    trim = [float(v) for v in first.obj.TrimBox]
    width = trim[2] - trim[0] + 2 * (BLEED + SLUG)
    height = trim[3] - trim[1] + 2 * (BLEED + SLUG)
    slug = pikepdf.open(io.BytesIO(render_slug(len(pdf.pages), width, height)))
    for page, slug_page in zip(pdf.pages, slug.pages, strict=True):
        _convert_group(page.obj)
        _convert_stream(pdf, page, page.obj.get("/Resources"), seen)
        x0, y0, x1, y1 = (float(v) for v in page.obj.TrimBox)
        page.obj.BleedBox = pikepdf.Array([x0 - BLEED, y0 - BLEED, x1 + BLEED, y1 + BLEED])
        media = [x0 - BLEED - SLUG, y0 - BLEED - SLUG, x1 + BLEED + SLUG, y1 + BLEED + SLUG]
        page.obj.MediaBox = pikepdf.Array(media)
        if "/CropBox" in page.obj:
            del page.obj["/CropBox"]
        form = pdf.copy_foreign(slug_page.as_form_xobject())
        _convert_stream(pdf, form, form.get("/Resources"), seen)
        _own_resources(pdf, page)
        name = page.add_resource(form, pikepdf.Name.XObject, pikepdf.Name("/LivretSlug"))
        # WeasyPrint's page stream starts with an unbalanced `cm` (its y axis down): wrap it.
        page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
        overlay = (
            b"\nQ\n/Artifact BMC\n"
            + _marks((x0, y0, x1, y1))
            + f"\nq 1 0 0 1 {media[0]:.3f} {media[1]:.3f} cm {name} Do Q\nEMC\n".encode()
        )
        page.contents_add(pikepdf.Stream(pdf, overlay), prepend=False)
    retag_fonts(pdf)
    for intent in pdf.Root.get("/OutputIntents", []):
        intent.OutputConditionIdentifier = pikepdf.String(CONDITION)
        intent.OutputCondition = pikepdf.String(CONDITION_INFO)
        intent.RegistryName = pikepdf.String("http://www.color.org")
        intent.Info = pikepdf.String(CONDITION_INFO)
    # WeasyPrint draws a random xmpMM:DocumentID: derive it from the document's /ID instead.
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["xmpMM:DocumentID"] = "xmp.did:" + bytes(pdf.trailer.ID[0]).hex()
    out = io.BytesIO()
    # /ID from the content, no timestamps: same input, same bytes.
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()
