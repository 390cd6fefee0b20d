"""What the content checks computed at the last build, kept so that the next one need not.

Every build reads and checks the whole content first (loader.py): each YAML text is parsed
(reader.py), each text that may hold a link, an image or HTML is converted from Markdown for
the content policy to read (policy.py), each e-mail address is validated
(fields.check_email), each picture is decoded whole. Each of these results depends only on
its input and on the code that computes it, so a build keeps them in its output folder
(CACHE) and the next build looks them up there: a build whose content did not change
imports neither PyYAML, Markdown, email-validator nor Pillow, most of the time of a rebuild
with nothing to do (benchmarks/README.md). The checks themselves all run again, on the
results kept: they find the same problems, at the same files and lines.

- A result is found under the sha256 of (salt, kind, input). The salt is livret's own code
  (outputs.code_hash), the versions of the libraries that compute the results and Python's:
  a rule or a library changed, and every result is computed again.
- Only what passed is kept (a YAML text read without a problem, an address that
  validates, a picture that decodes whole): a problem is always found anew, in the words of
  the language of the day.
- Only what this build used is written back, and only when that changed: the file follows
  the content and does not grow with every edit.
- The file is only ever a shortcut: one that cannot be read, or not as this module writes
  it (its entries and their sha256), counts as empty; one that cannot be written is not
  written. The HTML kept is only read by the policy: what a PDF prints is converted anew
  (markup.html_of). The YAML values kept are the site's, as the parse would give them; like
  the PDFs and the manifest beside it, the file is as trusted as the output folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

CACHE = ".livret-cache/checks.json"  # in the output folder, beside the fitting decisions
# The HTML of every text of a large edition is a few megabytes: a bigger file is not ours.
CAP = 64 * 1024 * 1024
# What computes the results kept, besides livret's code and Python: each version is salt.
LIBRARIES = ("pyyaml", "markdown", "email-validator", "idna", "pillow", "defusedxml")

_current: ContextVar[Memo | None] = ContextVar("livret_memo", default=None)


def _salt() -> str:
    from ..building.outputs import PACKAGE, code_hash, installed_versions

    versions = installed_versions(LIBRARIES)
    return json.dumps([code_hash(PACKAGE), versions, sys.version], sort_keys=True)


def _digest(entries: dict[str, str]) -> str:
    data = json.dumps(entries, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def _read(path: Path) -> dict[str, str]:
    from ..building.writer import read_json

    data = read_json(path, CAP)
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(
        isinstance(k, str) and len(k) == 64 and isinstance(v, str) for k, v in entries.items()
    ):
        return {}
    assert isinstance(data, dict)
    return entries if data.get("sha256") == _digest(entries) else {}


class Memo:
    """The results kept in the file `path`, and those this build looks up or adds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.salt = _salt()
        self.kept = _read(path)
        self.used: dict[str, str] = {}

    def _key(self, kind: str, text: str) -> str:
        data = "\0".join((self.salt, kind, text)).encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).hexdigest()

    def lookup(self, kind: str, text: str) -> str | None:
        key = self._key(kind, text)
        value = self.used.get(key, self.kept.get(key))
        if value is not None:
            self.used[key] = value
        return value

    def keep(self, kind: str, text: str, value: str) -> None:
        self.used[self._key(kind, text)] = value

    def save(self) -> None:
        if self.used == self.kept:
            return
        from ..building.writer import write_atomic

        kept = {"entries": self.used, "sha256": _digest(self.used)}
        data = json.dumps(kept, ensure_ascii=False, sort_keys=True)
        with contextlib.suppress(OSError):  # a shortcut: the next build computes again
            write_atomic(self.path, data.encode("utf-8", "surrogatepass"), durable=False)


@contextlib.contextmanager
def kept(path: Path | None) -> Iterator[None]:
    """Within: lookup() and keep() use the results kept in the file `path` (None: none are
    kept); the file is written back when the block ends without an exception."""
    if path is None:
        yield
        return
    memo = Memo(path)
    token = _current.set(memo)
    try:
        yield
    finally:
        _current.reset(token)
    memo.save()


def lookup(kind: str, text: str) -> str | None:
    """The result kept for `text` (a `kind` of result), or None."""
    memo = _current.get()
    return None if memo is None else memo.lookup(kind, text)


def keep(kind: str, text: str, value: str) -> None:
    """Keep `value`, a result that passed its check, for the next build."""
    memo = _current.get()
    if memo is not None:
        memo.keep(kind, text, value)
