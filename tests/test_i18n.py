"""The French catalog: complete, compiled, and faithful to each message's placeholders."""

from __future__ import annotations

import io
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from livret import i18n

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "livret" / "locale"
PO = LOCALE / "fr" / "LC_MESSAGES" / "livret.po"
MO = LOCALE / "fr" / "LC_MESSAGES" / "livret.mo"


def _po():
    with PO.open("rb") as fh:
        return read_po(fh, locale="fr")


def _extracted() -> dict[str, tuple[str, int]]:
    """Every message of the package, found as `make i18n` finds it: msgid → where."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "livret"), method_map=[("**.py", "python")]
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found.setdefault(ids[0], (f"livret/{filename}", lineno))
    return found


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}
    except ValueError:  # a message never formatted may hold a lone brace ("« } »")
        return set()


def test_every_message_has_a_french_translation():
    catalog = _po()
    missing = []
    for msgid, (filename, lineno) in sorted(_extracted().items()):
        entry = catalog.get(msgid)
        strings = (
            ()
            if entry is None
            else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        )
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(f"{filename}:{lineno}: {msgid!r}")
    assert not missing, (
        "messages without a French translation (run `make i18n`, then translate them in "
        f"{PO.relative_to(ROOT)}):\n" + "\n".join(missing)
    )


def test_placeholders_of_each_translation_match_its_message():
    bad = []
    for entry in _po():
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        want = set().union(*map(_placeholders, ids))
        for s in strings:
            if s and _placeholders(s) != want:
                bad.append(f"{ids[0]!r}: {sorted(_placeholders(s))} ≠ {sorted(want)}")
    assert not bad, "\n".join(bad)


def test_committed_mo_is_the_compiled_po(tmp_path):
    """The .mo shipped with the package says what the .po says (run `make i18n` after editing
    the .po)."""
    buf = io.BytesIO()
    write_mo(buf, _po())
    buf.seek(0)

    def entries(catalog):
        return {
            tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id: (
                tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
            )
            for m in catalog
            if m.id
        }

    fresh = entries(read_mo(buf))
    with MO.open("rb") as fh:
        committed = entries(read_mo(fh))
    assert committed == fresh
    assert len(committed) >= len(_extracted())


def test_french_by_default_english_on_request(monkeypatch):
    msgid = "show this help and exit"
    monkeypatch.delenv("LIVRET_LANG")
    i18n.set_language(None)
    assert i18n.language() == "fr"
    assert i18n._(msgid) != msgid
    monkeypatch.setenv("LIVRET_LANG", "en")
    assert i18n._(msgid) != msgid  # chosen once per process, unless set again
    i18n.set_language(None)
    assert i18n._(msgid) == msgid
    i18n.set_language("fr")
    assert i18n._(msgid) != msgid


def test_french_plural_and_units(french):
    assert i18n.size(304_123) == "304\u202fko"
    assert i18n.size(1_234_567) == "1,2\u202fMo"
    assert i18n.size(12_345_678) == "12\u202fMo"
    assert i18n.seconds(1.25) == "1,2\u202fs"
    assert i18n.number(1234567) == "1\u202f234\u202f567"


def test_english_units():
    assert i18n.size(304_123) == "304 kB"
    assert i18n.size(1_234_567) == "1.2 MB"
    assert i18n.number(1234.5, 1) == "1,234.5"


def _cli(*args, env_lang=None, **kw):
    import os

    env = dict(os.environ)
    env.pop("LIVRET_LANG", None)
    if env_lang:
        env["LIVRET_LANG"] = env_lang
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=kw.get("cwd", ROOT),
    )


def test_help_is_french_by_default_and_english_with_lang():
    fr = _cli("--help")
    assert fr.returncode == 0
    assert fr.stdout.startswith("utilisation : livret")
    assert "afficher cette aide" in fr.stdout
    assert "usage:" not in fr.stdout and "options:" not in fr.stdout
    en = _cli("--help", "--lang", "en")
    assert en.stdout.startswith("usage: livret")
    assert "show this help and exit" in en.stdout
    env = _cli("check", "--help", env_lang="en")
    assert env.stdout.startswith("usage: livret check")


def test_argparse_errors_in_french():
    r = _cli("check", "--bogus")
    assert r.returncode == 2
    assert "livret : erreur : " in r.stderr
    assert "--bogus" in r.stderr
    r = _cli("build", "--only", "tout")
    assert r.returncode == 2
    assert "n'est pas un choix possible" in r.stderr, r.stderr


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_lang_option_anywhere(lang):
    r = _cli("--lang", lang, "check", "--content", "nowhere")
    r2 = _cli("check", "--content", "nowhere", "--lang", lang)
    assert r.returncode == r2.returncode == 1
    assert r.stderr == r2.stderr
