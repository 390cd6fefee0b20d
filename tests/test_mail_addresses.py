"""One e-mail validator everywhere (issue #8): content fields, the recipient list, the mail
settings and the bare addresses that the booklet's text turns into links agree on every
address, because they all ask livret.reading.fields.check_email (email-validator)."""

import re
from pathlib import Path

import pytest

from livret.errors import Collector, LivretError
from livret.mail.recipients import read_recipients
from livret.mail.settings import load_settings
from livret.reading import fields
from livret.reading.markup import link_emails
from livret.reading.reader import Located

REFUSED = [
    "a..b@example.org",
    "x@example.123",
    "anaïs@example.org",
    "x@localhost",
    "x%40y.org?bcc=espion@example.org",  # URL syntax: legal, but a mailto: would obey it
    "a&cc=b@example.org",
]
ACCEPTED = {"x@élysée.fr": "x@xn--lyse-9oad.fr", "Ana.B+club@example.org": None}


def by_content_field(address: str) -> bool:
    problems = Collector()
    ctx = fields.Ctx(Located(Path("edition.yaml"), {}), problems)
    return fields.email(address, ctx, "contact_email") is not None


def by_recipient_list(address: str, tmp_path: Path) -> bool:
    path = tmp_path / "list.csv"
    path.write_text(f"email,name,send\n{address},Ana,booklet\n", encoding="utf-8")
    try:
        read_recipients(path, ("booklet",))
    except LivretError:
        return False
    return True


def by_settings(address: str) -> bool:
    try:
        load_settings(None, {"from": f"Club <{address}>", "reply-to": address}, environ={})
    except LivretError:
        return False
    return True


def by_text_link(address: str) -> bool:
    """The whole address, as written in the text, became a mailto: link."""
    return f">{address}</a>" in link_emails(f"Écrire à {address} .")


@pytest.mark.parametrize("address", REFUSED)
def test_refused_everywhere(address, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not fields.is_email(address)
    assert not by_content_field(address)
    assert not by_recipient_list(address, tmp_path)
    assert not by_settings(address)
    assert not by_text_link(address)


@pytest.mark.parametrize("address", list(ACCEPTED))
def test_accepted_everywhere(address, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fields.is_email(address)
    assert by_content_field(address)
    assert by_recipient_list(address, tmp_path)
    assert by_settings(address)
    assert by_text_link(address)


def test_an_internationalised_domain_travels_in_ascii(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fields.check_email("x@élysée.fr") == ("x@xn--lyse-9oad.fr", None)
    settings = load_settings(None, {"from": "Club <x@élysée.fr>"}, environ={})
    assert settings.sender is not None and settings.sender.addr_spec == "x@xn--lyse-9oad.fr"
    html = link_emails("Écrire à x@élysée.fr.")
    assert 'href="mailto:x@xn--lyse-9oad.fr">x@élysée.fr</a>' in html


@pytest.mark.parametrize("address", ["x%y@example.org", "x?bcc=y@example.org", "a&cc=b@c.org"])
def test_a_text_link_cannot_smuggle_headers(address):
    # The one validator refuses URL syntax before the @: no link carries it (at most the
    # plain address after it becomes a link of its own).
    hrefs = re.findall(r'href="([^"]*)"', link_emails(f"Écrire à {address}"))
    assert not [h for h in hrefs if re.search(r"[%?&=]", h)], hrefs
    assert not fields.is_email(address)
