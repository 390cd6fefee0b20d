"""The one error family of livret.

Every problem a person can fix (bad content, bad recipient list, bad settings, a failed
render) is a `Problem` with a file, a line and a field; `LivretError` carries all of them at
once so that the CLI prints every problem in one go, one line each, and never a traceback.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .i18n import N_, _

# What a terminal would obey or choke on rather than show: C0 controls (ESC starts colour and
# cursor codes), DEL, C1, lone surrogates (not encodable) and the bidirectional overrides
# that reorder what is shown. Newlines too: one problem is one line.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """`text` safe to print on a terminal: every unprintable character as a visible escape
    (ESC → \\x1b, U+D800 → \\ud800)."""
    s = str(text)
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], s)


_DOTTED = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+)*$")


# Fields that are no key of a file, named in the editor's words: the Markdown text.
NOT_KEYS = {"body": N_("the text")}


def field_label(dotted: str) -> str:
    """A field path as people count: "actions.4" → "actions n° 5", "initiatives.0.items.2" →
    "initiatives n° 1, items n° 3" (items counted from 1, as in the file)."""
    if dotted in NOT_KEYS:
        return _(NOT_KEYS[dotted])
    if not _DOTTED.match(dotted):
        return dotted  # already words ("section « Contexte »")
    out = ""
    for part in dotted.split("."):
        if part.isdigit():
            out += " " + _("no. {n}").format(n=int(part) + 1)
        elif out:
            out += (", " if out[-1].isdigit() else ".") + part
        else:
            out = part
    return out


@dataclass(frozen=True, order=True)
class Problem:
    path: str  # shown as given (relative to the working directory when possible)
    line: int | None
    field: str | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = (
            _("{field}: {message}").format(field=field_label(self.field), message=self.message)
            if self.field
            else self.message
        )
        prefix = _("warning: ") if self.severity == "warning" else ""
        return printable(f"{where}: {prefix}{what}")


def display_path(path: Path | str) -> str:
    """A path as a person would type it: relative to the working directory when inside it."""
    p = Path(path)
    cwd = Path.cwd().resolve()
    # The path as named (a link keeps its own name, not its target's), else as resolved.
    for candidate in (Path(os.path.abspath(p)), p.resolve()):
        try:
            return str(candidate.relative_to(cwd))
        except ValueError:
            continue
    return str(p)


class LivretError(Exception):
    """One or more problems, reported together."""

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("livret", None, None, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):
        # Keep every Problem when the error crosses from a render worker to the parent.
        return (LivretError, (self.problems,))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class Collector:
    """Accumulates problems so that validation goes on after the first one."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # sha256 of the bytes read from each file (resolved path): what the build fingerprints
        self.digests: dict[Path, str] = {}

    def error(self, path, line, field, message) -> None:
        self.problems.append(Problem(display_path(path), line, field, message))

    def warning(self, path, line, field, message) -> None:
        self.problems.append(Problem(display_path(path), line, field, message, "warning"))

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise LivretError(self.problems)


def shape_changed(what: str) -> LivretError:
    """The renderer's output (WeasyPrint, pydyf) is not what a pass after it reads: said at
    once, rather than the pass silently doing nothing. `what`: what was expected, and where."""
    return LivretError(
        _(
            "the PDF written by WeasyPrint no longer has the shape livret reads ({what}): "
            "install the versions of constraints.txt (make), or adapt livret to the new one."
        ).format(what=what)
    )
