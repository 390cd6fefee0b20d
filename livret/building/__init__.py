"""Building outputs: what can be built from a site, what is out of date, and writing it.

`outputs` is the registry of the kinds of output and of the files each is made from;
`pipeline` runs the incremental, parallel build and writes the manifest; `writer` writes
files whole or not at all; `web` and `epub` are the kinds written by their own package (the
web edition, the EPUB); `htmlexport` writes the HTML as given to WeasyPrint (`--html`);
`equivalence` proves that the web edition and the EPUB say what the PDF says.
"""
