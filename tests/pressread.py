"""Reading a press file back with pikepdf: its content streams, its gradients' colours."""

from __future__ import annotations

import pikepdf


def streams(pdf: pikepdf.Pdf):
    """(owner, resources) of every content stream: pages, forms and tiling patterns, nested."""
    seen: set = set()

    def inner(resources):
        for group in ("/XObject", "/Pattern"):
            for obj in (resources or {}).get(group, {}).values():
                if obj.objgen in seen:
                    continue
                seen.add(obj.objgen)
                if obj.get("/Subtype") == pikepdf.Name.Form or obj.get("/PatternType") == 1:
                    yield obj, obj.get("/Resources")
                    yield from inner(obj.get("/Resources"))

    for page in pdf.pages:
        yield page, page.obj.get("/Resources")
        yield from inner(page.obj.get("/Resources"))


def components(space) -> int:
    """How many values a colour of `space` has (its inks, or channels)."""
    if space == pikepdf.Name.DeviceCMYK:
        return 4
    if space == pikepdf.Name.DeviceGray:
        return 1
    if space == pikepdf.Name.DeviceRGB:
        return 3
    if isinstance(space, pikepdf.Array) and space[0] == pikepdf.Name.ICCBased:
        return int(space[1].N)
    raise AssertionError(f"unexpected shading colour space {space!r}")


def function_outputs(function) -> set[int]:
    """How many colour values a shading's function (and each function it stitches) gives."""
    found = {len(function[k]) for k in ("/C0", "/C1") if k in function}
    for sub in function.get("/Functions", []):
        found |= function_outputs(sub)
    return found


def inks(values) -> int:
    """How many inks a CMYK colour lays down."""
    return sum(1 for v in values if float(v) > 0.001)


def fine_elements(pdf: pikepdf.Pdf):
    """(what, page or form, colour) of every fine element of the content streams: strokes
    1 pt wide or less, and text under 9 pt, with their CMYK colour (None when not CMYK)."""
    for owner, _resources in streams(pdf):
        fill = stroke = (0.0, 0.0, 0.0, 1.0)
        width, size, scale, stack = 1.0, 0.0, 1.0, []
        for item in pikepdf.parse_content_stream(owner):
            if isinstance(item, pikepdf.ContentStreamInlineImage):
                continue
            op, values = str(item.operator), list(item.operands)
            if op == "q":
                stack.append((fill, stroke, width, scale))
            elif op == "Q" and stack:
                fill, stroke, width, scale = stack.pop()
            elif op == "cm":
                scale *= abs(float(values[0])) or abs(float(values[1]))
            elif op in ("k", "sc", "scn") and len(values) == 4:
                fill = tuple(float(v) for v in values)
            elif op in ("K", "SC", "SCN") and len(values) == 4:
                stroke = tuple(float(v) for v in values)
            elif op in ("rg", "g", "sc", "scn"):
                fill = None
            elif op in ("RG", "G", "SC", "SCN"):
                stroke = None
            elif op == "w":
                width = float(values[0])
            elif op == "Tf":
                size = float(values[1])
            elif op in ("S", "s", "B", "b", "B*", "b*") and width * scale <= 1.0:
                yield "stroke", owner, stroke
            elif op in ("TJ", "Tj", "'", '"') and 0 < size * scale < 9:
                yield f"{size * scale:.1f} pt text", owner, fill
