"""Hostile or unlucky content: `livret check` refuses it with file:line, never a traceback.

Issue #9, items 3 (links, attachments, e-mail tricks), 10 (alias bombs, deep nesting,
regex blow-ups), 11 (broken or missing images), 12 (control characters, lone surrogates,
%00) and 13 (editors' backup files). Each class is tested with several payloads: the fix is
for the class, not for one string.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from livret.cli import main
from livret.errors import field_label

ROOT = Path(__file__).resolve().parent.parent
CARD = "actions/adie.md"


@pytest.fixture(autouse=True)
def _beside_content(content_copy, monkeypatch):
    monkeypatch.chdir(content_copy.parent)  # problems read content/actions/adie.md:…


def append(path: Path, text: str) -> int:
    """Append `text` to the file; return the 1-based line where its first line lands."""
    old = path.read_text(encoding="utf-8")
    if not old.endswith("\n"):
        old += "\n"
    path.write_text(old + "\n" + text + "\n", encoding="utf-8")
    return old.count("\n") + 2


def check(capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["check", "--content", "content"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out + err


def _as_printed(where: str) -> str:
    """`file:line: a.0:` as livret prints it: positions counted from 1 (`a no. 1`)."""
    head, sep, field = where.rstrip(":").rpartition(": ")
    return f"{head}: {field_label(field)}:" if sep and field else where


def assert_refused(capsys, where: str | tuple[str, ...], *words: str) -> str:
    """Exit 1 and a problem reported at `where` (a `file:line: field:` prefix, or several
    acceptable ones) holding each of `words`."""
    rc, text = check(capsys)
    assert rc == 1, text
    wheres = tuple(_as_printed(w) for w in ((where,) if isinstance(where, str) else where))
    lines = [line for line in text.splitlines() if line.startswith(wheres)]
    assert lines, f"nothing reported at {where}:\n{text}"
    for word in words:
        assert any(word in line for line in lines), f"{word!r} not in {lines}"
    return text


# --- item 3: what content may link to or embed ------------------------------------------

BODY_PAYLOADS = {
    "attachment": '<a rel="attachment" href="recipients.example.csv">la liste</a>',
    "attachment-link": '<link rel="attachment" href="recipients.example.csv">',
    "javascript-inline": "[clic](javascript:alert(1))",
    "javascript-reference": "[clic][x]\n\n[x]: javascript:alert(1)",
    "javascript-entities": '<a href="&#106;avascript:alert(1)">clic</a>',
    "javascript-tab": '<a href="java&#9;script:alert(1)">clic</a>',
    "file-reference": "[fichier][f]\n\n[f]: file:///etc/passwd",
    "file-raw": '<a href="file:///etc/passwd">fichier</a>',
    "relative-file": "[liste](recipients.example.csv)",
    "data-url": '<a href="data:text/html,<b>x</b>">x</a>',
    "iframe": '<iframe src="https://example.org"></iframe>',
    "object": '<object data="recipients.example.csv"></object>',
    "embed": '<embed src="recipients.example.csv">',
    "style": '<p style="background: url(file:///etc/passwd)">x</p>',
    "script": "<script>alert(1)</script>",
    "svg": '<svg><image href="file:///etc/passwd"/></svg>',
    "mailto-bcc": "[écrire](mailto:x%40y.org?bcc=espion@exemple.org)",
    "mailto-query-raw": '<a href="MAILTO:a@b.org?bcc=c@d.org">écrire</a>',
    "mailto-encoded": "[écrire](mailto:a%2540b.org)",
    "missing-anchor": "[voir](#nulle-part)",
    "anchor-not-in-the-sheet": "[voir](#action-cd41)",  # absent from adie's own sheet
    "image-absolute": "![x](/etc/passwd)",
    "image-escape": "![x](../../../../etc/passwd)",
    "image-escape-encoded": "![x](%2e%2e/%2e%2e/etc/passwd)",
    "image-remote": "![x](https://example.org/x.png)",
    "image-raw": '<img src="file:///etc/passwd">',
    "image-nul": "![x](photo%00.png)",
    "image-not-an-image": "![x](recipients.example.csv)",
}


@pytest.mark.parametrize("payload", BODY_PAYLOADS.values(), ids=BODY_PAYLOADS.keys())
def test_body_cannot_link_or_embed_what_it_must_not(content_copy, capsys, payload):
    line = append(content_copy / CARD, payload)
    lines = range(line, line + payload.count("\n") + 1)  # a reference: either line
    text = assert_refused(capsys, tuple(f"content/{CARD}:{n}: the text:" for n in lines))
    assert "\x1b" not in text and "\x00" not in text


YAML_PAYLOADS = {
    "raw-attachment": '<a rel="attachment" href="recipients.example.csv">liste</a>',
    "javascript": "[site](javascript:alert(1))",
    "file": "<file:///etc/passwd>",
    "image": "![x](/etc/passwd)",
}


@pytest.mark.parametrize("payload", YAML_PAYLOADS.values(), ids=YAML_PAYLOADS.keys())
def test_yaml_text_fields_cannot_link_or_embed(content_copy, capsys, payload):
    path = content_copy / "themes/mobilites.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"  - '{payload}'\n", encoding="utf-8")  # a third callout
    line = text.count("\n") + 1
    assert_refused(capsys, f"content/themes/mobilites.yaml:{line}: callouts no. 3:")


@pytest.mark.parametrize(
    "address",
    ["x%40y.org?bcc=espion@exemple.org", "a?bcc=b@c.org", "a&cc=b@c.org", "a%0Abcc@b.org"],
)
def test_email_fields_refuse_url_tricks(content_copy, capsys, address):
    path = content_copy / CARD
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("yjarland@adie.org,", f'"{address}",'), encoding="utf-8")
    assert_refused(capsys, f"content/{CARD}:11: contact.emails no. 1:", "e-mail")


ALLOWED = {
    "https": "Voir [le site](https://www.adie.org/aide).",
    "autolink": "Voir <https://www.adie.org>.",
    "mailto": "Écrire à [l'équipe](mailto:contact@adie.org).",
    "bare-email": "Écrire à contact@adie.org.",
    "anchor": "Voir [le début de la fiche](#action-adie).",
    "emphasis": "Un <em>mot</em> et un<br>retour.",
}


@pytest.mark.parametrize("text", ALLOWED.values(), ids=ALLOWED.keys())
def test_ordinary_links_are_accepted(content_copy, capsys, text):
    append(content_copy / CARD, text)
    rc, out = check(capsys)
    assert rc == 0, out


# --- item 11: images ----------------------------------------------------------------------


def _picture(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (120, 80), os.urandom(120 * 80 * 3)).save(buf, fmt)
    return buf.getvalue()


def test_a_whole_image_inside_content_is_accepted(content_copy, capsys):
    (content_copy / "images").mkdir()
    (content_copy / "images/photo.png").write_bytes(_picture("PNG"))
    (content_copy / "images/photo.jpg").write_bytes(_picture("JPEG"))
    append(content_copy / CARD, "![Une photo](images/photo.png) ![Une autre](images/photo.jpg)")
    rc, out = check(capsys)
    assert rc == 0, out


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("JPEG", "jpg")])
@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_image_is_a_check_error(content_copy, capsys, fmt, suffix, keep):
    import weasyprint  # noqa: F401  (as in watch: it makes Pillow lenient with truncated files)

    data = _picture(fmt)
    (content_copy / "images").mkdir()
    (content_copy / f"images/photo.{suffix}").write_bytes(data[: int(len(data) * keep)])
    line = append(content_copy / CARD, f"![Une photo](images/photo.{suffix})")
    assert_refused(capsys, f"content/{CARD}:{line}: the text:", f"photo.{suffix}")


def test_missing_image_is_a_check_error(content_copy, capsys):
    line = append(content_copy / CARD, "Texte.\n\n![Une photo](images/absente.png)")
    assert_refused(capsys, f"content/{CARD}:{line + 2}: the text:", "not found")


def test_a_changed_image_rebuilds_what_shows_it(content_copy):
    """Images are inputs of the outputs that show them (else a new picture stays unseen)."""
    from livret.building.outputs import Fingerprints, plan
    from livret.reading.loader import load_site

    (content_copy / "images").mkdir()
    picture = content_copy / "images/photo.png"
    picture.write_bytes(_picture("PNG"))
    append(content_copy / CARD, "![Une photo](images/photo.png)")
    site = load_site(content_copy)
    sheet = plan(site, booklet=False, actions=["adie"])[0]
    before = Fingerprints(site, {})(sheet)
    assert any(k.endswith("images/photo.png") for k in before)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 0, 200)).save(buf, "PNG")
    picture.write_bytes(buf.getvalue())
    assert Fingerprints(load_site(content_copy), {})(sheet) != before


# --- item 12: control characters, lone surrogates ---------------------------------------

CONTROL = {
    "esc-in-body": ("body", "Texte \x1b[31mrouge\x1b[0m et \x1b]0;titre\x07."),
    "nul-in-body": ("body", "Texte\x00caché."),
    "c1-in-body": ("body", "Texte\x9bcaché."),
    "esc-yaml-escape": ("yaml", '"\\e[31mPôle emploi\\e[0m"'),
    "surrogate-yaml-escape": ("yaml", '"Pôle \\ud800 emploi"'),
    "bell-yaml-escape": ("yaml", '"Pôle\\a emploi"'),
}


@pytest.mark.parametrize("where,payload", CONTROL.values(), ids=CONTROL.keys())
def test_control_characters_are_refused_and_never_printed(content_copy, capsys, where, payload):
    path = content_copy / CARD
    if where == "body":
        line = append(path, payload)
        prefix = f"content/{CARD}:{line}:"
    else:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("  - Pôle emploi", f"  - {payload}"), encoding="utf-8")
        prefix = f"content/{CARD}:14: partners no. 2:"
    text = assert_refused(capsys, prefix, "U+")
    assert not any(c in text for c in "\x1b\x00\x07\x9b"), repr(text)


def test_messages_escape_what_content_puts_in_them(content_copy, capsys):
    """A value quoted back in a message (here a bad e-mail address typed with an ESC code by
    YAML escape) is shown escaped, never sent raw to the terminal."""
    from livret.errors import Problem

    shown = str(Problem("content/x.md", 3, "title", 'bad "\x1b[2J\ud800\u202e\n"'))
    assert shown == 'content/x.md:3: title: bad "\\x1b[2J\\ud800\\u202e\\n"'


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_lone_surrogate_in_a_title_is_a_message_in_a_real_build(content_copy, tmp_path, jobs):
    path = content_copy / CARD
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Permettre", 'title: "Permettre \\udc80'), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("fragilité\n", 'fragilité"\n', 1), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--content", str(content_copy)]
        + ["--output", str(tmp_path / "out"), "--only", "actions", "--action", "adie", "-j", jobs],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=content_copy.parent,
    )
    assert proc.returncode == 1, proc.stderr
    assert "content/actions/adie.md:2: title:" in proc.stderr
    assert "U+DC80" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# --- item 10: bounded work on hostile files -----------------------------------------------


def _run_check(content: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """`livret check` in its own process, killed if it hangs (a guard, not a benchmark)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "check", "--content", str(content)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=content.parent,
    )


def test_yaml_alias_bomb_is_refused(content_copy):
    bomb = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    path = content_copy / "themes/mobilites.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n".join(bomb) + "\n", encoding="utf-8")
    proc = _run_check(content_copy)
    assert proc.returncode == 1
    assert "content/themes/mobilites.yaml:" in proc.stderr and "alias" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "where,text",
    [
        ("yaml", "notions: " + "[" * 5000 + "]" * 5000),
        ("yaml", "notions:\n" + "".join("  " * i + "- \n" for i in range(1, 400))),
        ("yaml", "notions: " + "{a: " * 3000 + "b" + "}" * 3000),
        ("body", "> " * 3000 + "citation"),
        # 150 levels: 300 would be a 180 kB card, refused for its size before any parsing
        ("body", "".join("    " * i + "- point\n" for i in range(150))),
        ("body", "<em>" * 150 + "x"),
    ],
    ids=["flow-lists", "block-lists", "mappings", "md-quotes", "md-lists", "html"],
)
def test_deep_nesting_is_a_line_not_a_recursion_error(content_copy, where, text):
    if where == "yaml":
        path = content_copy / "themes/mobilites.yaml"
        body = path.read_text(encoding="utf-8").replace("notions:", "old_notions:", 1)
        path.write_text(body.split("old_notions:")[0] + text + "\n", encoding="utf-8")
        prefix = "content/themes/mobilites.yaml:"
    else:
        append(content_copy / CARD, text)
        prefix = f"content/{CARD}:"
    proc = _run_check(content_copy)
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert any(line.startswith(prefix) and "nested" in line for line in proc.stderr.splitlines()), (
        proc.stderr
    )


ADVERSARIAL = r"""
import sys
from pathlib import Path
from livret.reading import markup, typography
from livret.errors import Collector
from livret.reading.loader import check_markdown
from livret.reading.policy import Policy
n = 100_000
cases = [
    " " * n + "x", " \t" * (n // 2) + "»", "«" + " " * n, " :" * (n // 2),
    "a" * n + " @", "a+" * (n // 2), "a-" * (n // 2), "a." * (n // 2), "a-a." * (n // 4),
    "1 000" * (n // 5), "0 " * (n // 2), "a@" * (n // 2), "&#" * (n // 2), "&" * n,
    "<a>" * (n // 3), "<a b" * (n // 4), "<a b" * (n // 4) + '">', "<!--" * (n // 4) + ">",
    "<?" * (n // 2) + ">", "<!" * (n // 2), "https://" * (n // 8), "www." * (n // 4),
    "[" * n, "![" * (n // 2), "[a](" * (n // 4), "[]" * (n // 2), "*a " * (n // 3),
]
for text in cases:
    typography.french(text)
    typography.french_html(text)
    markup.link_emails(text)
    # what `check` does with a paragraph: refused, or converted by Markdown and inspected
    check_markdown(text, Path("x.md"), 1, "body", Policy(Path("."), Collector()))
print("done", len(cases))
"""


@pytest.mark.slow  # 100 KB adversarial paragraphs, a hang guard
def test_typography_and_markup_finish_on_adversarial_paragraphs():
    """100 KB paragraphs built to make backtracking regexes (ours, Markdown's, html.parser's)
    quadratic: they once took minutes or hours each. The timeout is a hang guard for a busy
    machine, not a benchmark."""
    proc = subprocess.run(
        [sys.executable, "-c", ADVERSARIAL],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout


# --- item 13: editors' leftovers ------------------------------------------------------------

BACKUPS = ["adie.md~", ".#adie.md", "#adie.md#", ".adie.md.swp", ".adie.md.swo", "~$adie.md"]


def test_editor_backup_and_lock_files_are_ignored(content_copy, capsys):
    for folder in ("actions", "themes"):
        for name in [*BACKUPS, ".DS_Store", "mobilites.yaml~"]:
            (content_copy / folder / name).write_bytes(b"\x00\xff half-saved \x1b[2J")
    rc, out = check(capsys)
    assert rc == 0, out


# --- content files through links, and what is not a file ----------------------------------


@pytest.mark.parametrize(
    "link",
    ["actions/adie.md", "themes/mobilites.yaml", "edition.yaml", "thanks.yaml", "introduction.md"],
)
def test_a_content_file_linked_outside_the_content_folder_is_refused(
    content_copy, tmp_path, capsys, link
):
    """As pictures: a link to a file elsewhere (here, a copy outside the project holding a
    secret) is never read, printed or built."""
    secret = tmp_path / "ailleurs" / Path(link).name
    secret.parent.mkdir()
    original = content_copy / link
    secret.write_text(
        original.read_text(encoding="utf-8").replace("Financ", "SECRET Financ"), encoding="utf-8"
    )
    original.unlink()
    original.symlink_to(secret)
    text = assert_refused(capsys, f"content/{link}:", "outside the content folder")
    assert "SECRET" not in text


def test_a_card_folder_linked_outside_is_refused(content_copy, tmp_path, capsys):
    outside = tmp_path / "ailleurs"
    (content_copy / "actions").rename(outside)
    (content_copy / "actions").symlink_to(outside)
    assert_refused(capsys, "content/actions/adie.md:", "outside the content folder")


def test_a_link_inside_the_content_folder_is_followed(content_copy, capsys):
    drafts = content_copy / "brouillons"
    drafts.mkdir()
    (content_copy / "actions" / "adie.md").rename(drafts / "adie.md")
    (content_copy / "actions" / "adie.md").symlink_to(drafts / "adie.md")
    rc, text = check(capsys)
    assert rc == 0, text


def test_a_fifo_as_a_content_file_is_refused_not_waited_for(content_copy, capsys):
    (content_copy / "thanks.yaml").unlink()
    os.mkfifo(content_copy / "thanks.yaml")
    assert_refused(capsys, "content/thanks.yaml:", "regular file")
