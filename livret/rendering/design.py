"""Where the design comes from: the layouts (Jinja2) and styles (CSS, fonts).

livret ships its design inside the package (the repository's top-level `layouts/` and
`styles/` folders, installed as package data `livret.layouts` and `livret.styles`). A project
may override any file of it: a `layouts/` or `styles/` folder *beside the content folder*
(for `--content content`, the folder that holds `content/`) is searched first, file by file.
So `layouts/cover.html` in the project folder replaces the shipped cover, and every other
layout still comes from livret. In a checkout of the repository, the project folder is the
repository itself: its own `layouts/` and `styles/` are used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

KINDS = ("layouts", "styles")
# Order matters: later sheets refine earlier ones.
STYLESHEETS = (
    "fonts.css",
    "page.css",
    "typography.css",
    "cover.css",
    "contents.css",
    "opener.css",
    "card.css",
    "thanks.css",
)


def shipped(kind: str) -> Path | None:
    """The folder of the design installed with livret (wheel or editable install)."""
    # find_spec, not import: nothing runs and no __pycache__ lands in the design folders.
    spec = importlib.util.find_spec(f"livret.{kind}")
    locations = spec.submodule_search_locations if spec else None
    return Path(next(iter(locations))).resolve() if locations else None


@dataclass(frozen=True)
class Design:
    """The folders searched for layouts and styles, the project's own first."""

    project: Path  # the folder that holds the content folder
    layouts: tuple[Path, ...]
    styles: tuple[Path, ...]

    @property
    def folders(self) -> tuple[Path, ...]:
        return self.layouts + self.styles

    def stylesheet(self, name: str) -> Path:
        for folder in self.styles:
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(2, "stylesheet not found", f"styles/{name}")

    def files(self) -> dict[str, Path]:
        """Every design file a PDF is made from, by the name it is looked up with
        ("layouts/cover.html"); a project's file hides the shipped one of the same name.
        The mail templates are not part of a PDF."""
        found: dict[str, Path] = {}
        for kind, folders in (("layouts", self.layouts), ("styles", self.styles)):
            for folder in folders:
                for path in sorted(_walk(folder)):
                    found.setdefault(f"{kind}/{path.relative_to(folder).as_posix()}", path)
        return dict(sorted(found.items()))


def _walk(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if (
            path.is_file()
            and not any(part.startswith((".", "__")) for part in rel.parts)
            and rel.parts[0] not in ("mail", "epub")  # not part of a PDF
        ):
            yield path


@lru_cache(maxsize=8)
def for_project(project: Path) -> Design:
    def search(kind: str) -> tuple[Path, ...]:
        own = project / kind
        folders = [own.resolve()] if own.is_dir() else []
        base = shipped(kind)
        if base is not None and base not in folders:
            folders.append(base)
        return tuple(folders)

    return Design(project, search("layouts"), search("styles"))


def for_content(content_root: Path | str) -> Design:
    """The design used to print the content of `content_root`."""
    return for_project(Path(content_root).resolve().parent)
