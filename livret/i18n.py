"""Messages in the editor's language: French by default, English with `--lang en` or
LIVRET_LANG=en.

Every user-facing message is written in code as an English gettext msgid with named
placeholders, and formatted after translation:

    from .i18n import _
    problems.error(path, line, field, _("{value} is not an e-mail address").format(value=v))

The French catalog lives in livret/locale/fr/LC_MESSAGES/livret.po (compiled to .mo and
shipped with the package); `pybabel extract` finds every `_()` call.
"""

from __future__ import annotations

import argparse
import gettext
import os
import re
import sys
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "livret"
DEFAULT = "fr"
LANGUAGES = ("fr", "en")

_current: gettext.NullTranslations | None = None
_lang: str | None = None


def language() -> str:
    """The language in force: set_language()'s, else $LIVRET_LANG, else French."""
    if _lang:
        return _lang
    env = os.environ.get("LIVRET_LANG", "").strip().lower()[:2]
    return env if env in LANGUAGES else DEFAULT


def set_language(lang: str | None) -> None:
    global _current, _lang
    _lang = lang if lang in LANGUAGES else None
    _current = None


def _translations() -> gettext.NullTranslations:
    global _current
    if _current is None:
        lang = language()
        if lang == "en":
            _current = gettext.NullTranslations()
        else:
            _current = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
    return _current


def _(message: str) -> str:
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction where it is translated later (tables, constants)."""
    return message


# --- numbers and units, as the editor's language writes them ------------------------------

NARROW_NBSP = "\u202f"  # French: a fine no-break space before units and as thousands separator


def number(value: float, digits: int = 0) -> str:
    """1234.5 → "1 234,5" in French (fine spaces, decimal comma), "1,234.5" in English."""
    text = f"{value:,.{digits}f}"
    if language() == "fr":
        text = text.replace(",", NARROW_NBSP).replace(".", ",")
    return text


def quantity(value: float, unit: str, digits: int = 0) -> str:
    """A number and its unit, never split across lines: "1,5 s", "12 pages"."""
    sep = NARROW_NBSP if language() == "fr" else " "
    return f"{number(value, digits)}{sep}{unit}"


def size(n_bytes: int) -> str:
    """A file size in ko/Mo (French) or kB/MB: one decimal under 10, none above."""
    units = ("o", "ko", "Mo", "Go") if language() == "fr" else ("B", "kB", "MB", "GB")
    value, i = float(n_bytes), 0
    while value >= 1000 and i < len(units) - 1:
        value, i = value / 1000, i + 1
    return quantity(value, units[i], 0 if i == 0 or value >= 10 else 1)


def seconds(value: float) -> str:
    return quantity(value, "s", 1)


# --- argparse in the editor's language ------------------------------------------------------
# Python ships no French catalog for argparse: its few fixed strings (usage, section titles,
# errors) are translated here through our catalog, with public API only: our own -h option,
# format_usage/format_help and error() overridden.

_ARGPARSE_HEADINGS = {
    "usage: ": N_("usage: "),
    "options:": N_("options:"),
    "positional arguments:": N_("positional arguments:"),
}
_ARGPARSE_ERRORS = (
    (r"the following arguments are required: (?P<args>.+)", N_("missing: {args}")),
    (r"unrecognized arguments: (?P<args>.+)", N_("unknown options or arguments: {args}")),
    (r"argument (?P<arg>\S+?): expected one argument", N_("{arg} must be followed by a value")),
    (
        r"argument (?P<arg>\S+?): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)",
        N_("{arg}: {value} is not a valid choice; choose from {choices}"),
    ),
    (
        r"argument (?P<arg>\S+?): invalid int value: (?P<value>.+)",
        N_("{arg}: {value} is not a whole number"),
    ),
    (
        r"argument (?P<arg>\S+?): not allowed with argument (?P<other>.+)",
        N_("{arg} cannot be used with {other}"),
    ),
)


def _argparse_text(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        for english, msgid in _ARGPARSE_HEADINGS.items():
            if line == english.rstrip() or (english.endswith(" ") and line.startswith(english)):
                lines[i] = (
                    _(msgid).rstrip()
                    if line == english.rstrip()
                    else _(msgid) + line[len(english) :]
                )
        if language() == "fr" and re.fullmatch(r"\S[^:]*[^ :]:", lines[i]):
            lines[i] = lines[i][:-1] + " :"  # a group's title: « commandes : »
    return "\n".join(lines)


def argparse_error(message: str) -> str:
    """argparse's English error → the editor's language (unknown forms are kept as they are)."""
    for pattern, msgid in _ARGPARSE_ERRORS:
        m = re.fullmatch(pattern, message)
        if m:
            return _(msgid).format(**m.groupdict())
    return message


class ArgumentParser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose own strings (usage, titles, -h, errors) are translated."""

    def __init__(self, **kwargs) -> None:
        add_help = kwargs.pop("add_help", True)
        super().__init__(add_help=False, **kwargs)
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help=_("show this help and exit"),
            )

    def format_usage(self) -> str:
        return _argparse_text(super().format_usage())

    def format_help(self) -> str:
        return _argparse_text(super().format_help())

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(
            2,
            _("{prog}: error: {message}").format(prog=self.prog, message=argparse_error(message))
            + "\n",
        )
