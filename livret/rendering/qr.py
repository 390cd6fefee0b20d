"""The web edition's address as a QR code for the press file's back cover (segno).

A QR code is drawn, not pictured: segno writes it as SVG paths (one path for the dark
modules, on a white square that is its quiet zone), which WeasyPrint draws as vectors, sharp
at any size and on any plate. Black on white: livret/finishing/press.py turns both into K only (100
% and 0 % black), one ink, so that the modules stay sharp whatever the registration.

The size of the code on the page is the stylesheet's (styles/cover.css, `.back-qr svg`): the
SVG has a viewBox and no size of its own.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks
ERROR_LEVEL = "m"  # 15 % of the code may be lost (a fold, a scratch); raised when it fits


def code(address: str) -> segno.QRCode:
    """The QR code of `address`: never a Micro QR (few phones read them), the same modules
    for the same address (segno is deterministic)."""
    return segno.make_qr(address, error=ERROR_LEVEL)


def svg(address: str, title: str) -> Markup:
    """The QR code of `address` as inline SVG for a layout (`{{ address | qr_svg(title) }}`).
    `title` is its text alternative: WeasyPrint gives the picture's Figure element the SVG's
    <title> as /Alt, the words a screen reader says for it."""
    return Markup(
        code(address).svg_inline(
            border=QUIET_ZONE,
            title=title,
            dark="#000",
            light="#fff",
            omitsize=True,
            svgclass="qr",
            lineclass=None,
        )
    )
