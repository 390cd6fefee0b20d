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

import gettext
import os
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
