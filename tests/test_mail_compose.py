"""Messages: structure, headers, attachments, templates, and the encoding cache."""

import email
import re
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from livret.errors import LivretError
from livret.mail.attachments import (
    attachments_from_manifest,
    campaign_id,
    read_edition,
    readable_filename,
)
from livret.mail.compose import (
    Composer,
    PartCache,
    Templates,
    dot_stuff,
    human_size,
)
from livret.mail.recipients import Recipient
from livret.mail.settings import Settings, load_settings

NOW = datetime(2023, 11, 27, 9, 0, tzinfo=UTC)


def composer(env, settings=None, templates=None, parts=None, label=""):
    edition = read_edition(env.content)
    atts = attachments_from_manifest(env.manifest, env.output, edition.slugs)
    return Composer(
        edition, settings or Settings(), Templates(templates), atts, label=label, parts=parts
    )


def person(send, email="anais@example.org", name="Anaïs Dupré-Lefèvre", line=2):
    return Recipient(line=line, email=email, name=name, organisation="Mairie de Sète", send=send)


def render(c, plan, now=None) -> bytes:
    return c.compose(plan, now).as_bytes()


def parse(data: bytes):
    return email.message_from_bytes(data, policy=policy.default)


def test_structure_headers_and_attachments(mail_env):
    theme = mail_env.themes[-1]
    c = composer(
        mail_env,
        load_settings(
            None,
            {
                "from": "Club des territoires <club@example.org>",
                "reply-to": "Équipe <equipe@example.org>",
            },
            environ={},
        ),
    )
    data = render(c, c.plan(person(("booklet", theme))), NOW)
    msg = parse(data)
    assert msg.get_content_type() == "multipart/mixed"
    alt, *pdfs = msg.iter_parts()
    assert alt.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alt.iter_parts()] == ["text/plain", "text/html"]
    assert [p.get_content_type() for p in pdfs] == ["application/pdf"] * 2
    assert pdfs[0].get_content() == mail_env.pdf("booklet")  # byte-identical
    assert pdfs[1].get_content() == mail_env.pdf(theme)
    # Non-ASCII names survive the trip through RFC 2047.
    assert msg["To"].addresses[0].display_name == "Anaïs Dupré-Lefèvre"
    assert msg["To"].addresses[0].addr_spec == "anais@example.org"
    assert str(msg["From"]) == "Club des territoires <club@example.org>"
    assert msg["Reply-To"].addresses[0].display_name == "Équipe"
    assert msg["Date"].datetime == NOW
    assert re.fullmatch(r"<livret\.[0-9a-f]{16}\.[0-9a-f]{16}@example\.org>", msg["Message-ID"])
    assert "Bcc" not in msg
    # The wire form is 7-bit with CRLF line ends, as SMTP wants.
    assert data.isascii() and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_attachment_names_are_readable_and_rfc2231(mail_env):
    theme = mail_env.themes[0]
    c = composer(mail_env)
    data = render(c, c.plan(person((theme,))), NOW)
    (pdf,) = [p for p in parse(data).iter_attachments()]
    title = [e["title"] for e in mail_env.manifest["outputs"] if e["theme"] == theme][0]
    assert pdf.get_filename() == f"{title}.pdf"
    assert any(not ch.isascii() for ch in pdf.get_filename())
    assert b"filename*0*=utf-8''" in data or b"filename*=utf-8''" in data


def test_readable_filename_drops_what_file_systems_refuse():
    assert (
        readable_filename('Retour d\'expérience #01 — A/B: "C"?', "x.pdf")
        == "Retour d'expérience #01 — A B C.pdf"
    )
    assert readable_filename("  ", "fallback.pdf") == "fallback.pdf"
    assert len(readable_filename("mot " * 100, "x.pdf")) <= 124


def test_bodies_in_french_mention_what_is_attached(mail_env):
    theme = mail_env.themes[1]
    c = composer(mail_env)
    msg = parse(render(c, c.plan(person(("booklet", theme))), NOW))
    text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    for entry in mail_env.manifest["outputs"]:
        if entry["kind"] == "booklet" or entry["theme"] == theme:
            assert entry["title"] in text
            assert human_size(entry["bytes"]) in text
            assert f"{entry['pages']}\u00a0page" in text
    assert text.startswith("Bonjour Anaïs Dupré-Lefèvre,\n\n")
    assert "Bien cordialement,\n\nLe Club des territoires\nDGCS\n" in text
    assert "<li><strong>" in html


def test_html_body_is_autoescaped_and_text_is_not(mail_env):
    c = composer(mail_env)
    msg = parse(render(c, c.plan(person(("booklet",), name="Léa <b>&</b> Co")), NOW))
    assert "Bonjour Léa <b>&</b> Co," in msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Léa &lt;b&gt;&amp;&lt;/b&gt; Co" in html and "<b>&</b>" not in html


def test_message_id_is_deterministic_per_campaign_and_recipient(mail_env):
    c = composer(mail_env)
    a = c.plan(person(("booklet",)))
    assert a == c.plan(person(("booklet",)))
    assert a.message_id != c.plan(person(("booklet",), email="bob@example.org")).message_id
    assert a.campaign != c.plan(person(("booklet", mail_env.themes[0]))).campaign
    assert a.campaign != composer(mail_env, label="relance").plan(person(("booklet",))).campaign
    # A rebuilt PDF is a new campaign for those who get it, and only for them.
    atts = list(c.attachments.values())
    changed = [atts[0].__class__(**{**atts[0].__dict__, "sha256": "0" * 64}), *atts[1:]]
    assert campaign_id("e", "", atts) != campaign_id("e", "", changed)
    assert campaign_id("e", "", atts[1:]) == campaign_id("e", "", changed[1:])


def test_messages_are_the_standard_library_s_bytes(mail_env):
    c = composer(mail_env)
    plan = c.plan(person(("booklet", *mail_env.themes)))
    msg = c.message(plan, NOW)
    assert c.compose(plan, NOW).as_bytes() == msg.as_bytes(policy=policy.SMTP)
    # Shared attachment parts do not leak from one message into another.
    other = c.plan(person((mail_env.themes[0],), email="bob@example.org", name="Bob"))
    c.compose(other, NOW)
    assert c.compose(plan, NOW).as_bytes() == msg.as_bytes(policy=policy.SMTP)


def test_dot_stuffing_is_rfc_5321_transparency():
    for sample in [b".a\r\n.b\r\nc.\r\n..d\r\n", b"a\r\n.\r\n", b"\r\n.\r\n.", b"", b"."]:
        assert dot_stuff(sample) == re.sub(rb"(?m)^\.", b"..", sample)


def test_dot_stuffing_of_a_whole_message(mail_env, tmp_path):

    folder = tmp_path / "tpl"
    folder.mkdir()
    for name in ("subject.txt", "body.html"):
        (folder / name).write_text(
            (Path(__file__).parent.parent / "layouts" / "mail" / name).read_text(encoding="utf-8"),
            encoding="utf-8",
        )
    (folder / "body.txt").write_text(".leading dot\n..two\n.\n", encoding="utf-8")
    c = composer(mail_env, templates=folder)
    composed = c.compose(c.plan(person(("booklet",))), NOW)
    data = composed.as_bytes()
    assert b"\r\n.leading dot" in data and dot_stuff(data) == re.sub(rb"(?m)^\.", b"..", data)


def test_each_pdf_is_encoded_once_for_all_messages(mail_env):
    parts = PartCache()
    c = composer(mail_env, parts=parts)
    sets = [("booklet",), ("booklet", mail_env.themes[0]), (mail_env.themes[0],)]
    for i in range(30):
        render(c, c.plan(person(sets[i % 3], email=f"p{i}@example.org")))
    assert parts.encoded == 2


def test_a_pdf_changed_after_the_build_is_refused(mail_env):
    c = composer(mail_env)
    path = mail_env.output / mail_env.manifest["outputs"][0]["path"]
    data = bytearray(path.read_bytes())
    data[-10] ^= 1  # same size, different bytes
    path.write_bytes(bytes(data))
    with pytest.raises(LivretError, match="sha256 differs"):
        render(c, c.plan(person(("booklet",))))


def test_size_bound_is_an_upper_bound(mail_env):
    c = composer(mail_env, load_settings(None, {"reply-to": "Ré <r@example.org>"}, environ={}))
    names = ["", "A", "Anaïs", "ÉÈÊËéèêë" * 20, "李小龍 " * 30, "x" * 300]
    for name in names:
        for send in [("booklet",), tuple(mail_env.themes), ("booklet", *mail_env.themes)]:
            plan = c.plan(person(send, name=name))
            assert len(render(c, plan)) <= c.size_bound(plan) <= len(render(c, plan)) * 1.5 + 60000


def test_template_errors_name_the_file_and_line(mail_env, tmp_path):
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "subject.txt").write_text("Bonjour\n", encoding="utf-8")
    (folder / "body.html").write_text("<p>{% if x %}</p>\n", encoding="utf-8")
    with pytest.raises(LivretError) as exc:
        Templates(folder)
    found = [str(p) for p in exc.value.problems]
    assert found[0].endswith("body.txt: mail template not found")
    assert re.search(r"body\.html:1: template error: Unexpected end of template", found[1])

    (folder / "body.txt").write_text("Bonjour\n\n{{ recipient.nom }}\n", encoding="utf-8")
    (folder / "body.html").write_text("<p>x</p>\n", encoding="utf-8")
    c = composer(mail_env, templates=folder)
    with pytest.raises(LivretError) as exc:
        render(c, c.plan(person(("booklet",))))
    assert re.search(r"body\.txt:3: template error: .*'nom'", str(exc.value))


def test_subject_template_cannot_inject_headers(mail_env, tmp_path):
    folder = tmp_path / "tpl"
    folder.mkdir()
    for name in ("body.txt", "body.html"):
        (folder / name).write_text("x\n", encoding="utf-8")
    (folder / "subject.txt").write_text("Bonjour\nBcc: victim@example.org\n", encoding="utf-8")
    c = composer(mail_env, templates=folder)
    msg = parse(render(c, c.plan(person(("booklet",)))))
    assert "Bcc" not in msg
    assert msg["Subject"] == "Bonjour Bcc: victim@example.org"
