"""Live preview: a local web server showing the outputs' pages, updated on every save."""
