"""Rendering: a validated `Site` and an output → HTML (Jinja2) → PDF bytes (WeasyPrint).

`design` says where the layouts and styles come from; `render` fills the layouts (with
`acronyms` spelled out once per card and the `qr` code of the web address); `pdf` prints the
HTML with WeasyPrint, safely and reproducibly; `fit` moves a card's page break so that no page
of it is a leftover; `pageplan` makes the press file's page count a multiple of 4.

`compose` lays each part of a book out once and composes the booklet and its excerpts from
the parts; `contracts` checks, on the parsed HTML, what the code needs of the layouts.
"""
