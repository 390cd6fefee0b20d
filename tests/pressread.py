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
