"""Finishing PDFs: what WeasyPrint wrote, finished with pikepdf, without changing what
is drawn (but for the press file's colours and marks).

`tags` finishes the tag tree for screen readers and `linebreaks` the words across line ends;
`press` makes the PDF/X-4 press file; `impose` puts a finished PDF's pages two by two on the
sheets of a saddle-stitched booklet, for an office printer.
"""
