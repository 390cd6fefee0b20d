"""Reading and checking content: a content folder → one validated `Site`, or every
problem at once, before anything is rendered or written.

`reader` turns files into values that remember their line numbers; `fields` validates each
kind of field; `loader` cross-checks everything into the typed `model` of an edition, which
every later stage works from; `policy` and `svg` decide what content may link to or embed;
`markup` and `typography` make HTML of each text (Markdown, French typography), once;
`scaffold` writes new editions and cards from templates that pass these same checks.

`memo` keeps the content checks' results from one build to the next.
"""
