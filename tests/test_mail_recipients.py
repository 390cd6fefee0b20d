"""The recipient list: what spreadsheets write is read, what would make a bad message is
refused with file:line: field: message, every problem at once."""

import pytest
from conftest import CONTENT

from livret.errors import LivretError
from livret.mail.recipients import check_address, read_recipients

SLUGS = ["booklet", "precarite-energetique", "precarite-alimentaire", "mobilites"]


def write(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def problems(tmp_path, text, **kw):
    with pytest.raises(LivretError) as exc:
        read_recipients(write(tmp_path, text, **kw), SLUGS)
    return [str(p) for p in exc.value.errors]


def test_reads_a_plain_list(tmp_path):
    path = write(
        tmp_path,
        "email,name,organisation,send\n"
        "ana@example.org,Ana Ruiz,Mairie,booklet mobilites\n"
        "bob@example.org,Bob,,precarite-alimentaire\n",
    )
    rs = read_recipients(path, SLUGS)
    assert [(r.line, r.email, r.name, r.organisation, r.send) for r in rs] == [
        (2, "ana@example.org", "Ana Ruiz", "Mairie", ("booklet", "mobilites")),
        (3, "bob@example.org", "Bob", "", ("precarite-alimentaire",)),
    ]


def test_spreadsheet_export_with_bom_semicolons_and_crlf(tmp_path):
    text = (
        "\ufeffEmail;Notes;send;Name;Organisation\r\n"
        "ana@example.org;x;mobilites booklet;Anaïs Dupré, DGCS;Ville; de Lyon\r\n"
    )
    # "Notes" is not a known column: ignored with a warning, the row's extra value is an error.
    assert any("values but the header" in p for p in problems(tmp_path, text))
    text = (
        "\ufeffEmail;Notes;send;Name;Organisation\r\n"
        'ana@example.org;x;mobilites booklet;Anaïs Dupré, DGCS;"Ville; de Lyon"\r\n'
        ";;;;\r\n"
    )
    warnings = []
    rs = read_recipients(write(tmp_path, text), SLUGS, warnings)
    assert len(rs) == 1
    assert rs[0].email == "ana@example.org"
    assert rs[0].name == "Anaïs Dupré, DGCS"
    assert rs[0].organisation == "Ville; de Lyon"
    assert rs[0].send == ("booklet", "mobilites")  # booklet first, then edition order
    assert any('"Notes" is ignored' in str(w) for w in warnings)


def test_comma_separated_send_and_case(tmp_path):
    text = 'email,name,send\nana@example.org,Ana,"Mobilites, BOOKLET"\n'
    rs = read_recipients(write(tmp_path, text), SLUGS)
    assert rs[0].send == ("booklet", "mobilites")


@pytest.mark.parametrize(
    "address, fragment",
    [
        ("ana.example.org", "no @: an address is written name@example.org"),
        ("ana@@example.org", "characters not allowed after the @: '@'"),
        ("ana @example.org", "SPACE"),
        ("Ana <ana@example.org>", 'looks like "Name <address>"'),
        ("ana@localhost", "the part after the @ is not a domain"),
        ("ana@exa_mple.org", "characters not allowed after the @: '_'"),
        ("ana..b@example.org", "two periods in a row"),
        ("x@example.123", "does not end with a real domain extension"),
        ("anaïs@example.org", "accents or other non-ASCII characters before the @"),
        ("", "is empty"),
    ],
)
def test_invalid_addresses(tmp_path, address, fragment):
    found = problems(tmp_path, f"email,name,send\n{address},Ana,booklet\n")
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'list.csv'}:2: email: invalid address")
    assert fragment in found[0]


def test_internationalised_domain_becomes_ascii():
    assert check_address("ana@élysée.fr") == ("ana@xn--lyse-9oad.fr", None)


def test_unknown_slug_lists_the_valid_ones_and_suggests(tmp_path):
    found = problems(tmp_path, "email,name,send\nana@example.org,Ana,booklet mobilite\n")
    assert found == [
        f'{tmp_path / "list.csv"}:2: send: unknown document "mobilite" '
        f'(did you mean "mobilites"?); valid: {", ".join(SLUGS)}'
    ]


def test_empty_send(tmp_path):
    found = problems(tmp_path, "email,name,send\nana@example.org,Ana,  \n")
    assert len(found) == 1 and ":2: send: empty" in found[0]


def test_duplicate_address_is_case_insensitive(tmp_path):
    found = problems(
        tmp_path,
        "email,name,send\nana@example.org,Ana,booklet\n"
        "bob@example.org,Bob,booklet\nANA@Example.org,Ana bis,mobilites\n",
    )
    assert found == [
        f"{tmp_path / 'list.csv'}:4: email: ANA@example.org is already on line 2 "
        "(addresses are compared without regard to case)"
    ]


@pytest.mark.parametrize(
    "value",
    [
        '"Ana\r\nBcc: victim@example.org"',
        '"Ana\nBcc: x@example.org"',
        '"Ana\rX"',
        "Ana\u2028Bcc: x@example.org",
        "Ana\x0bB",
    ],
)
def test_line_breaks_in_any_field_are_header_injection(tmp_path, value):
    found = problems(
        tmp_path,
        "email,name,organisation,send\n"
        f"ana@example.org,{value},Org,booklet\n"
        "bob@example.org,Bob,Org,booklet\n",
    )
    assert len(found) == 1
    # A lone CR or a vertical tab is refused sooner, by the reader, as an invisible control
    # character: refused either way, on line 2, before any message is composed.
    assert (":2: name: contains a line break" in found[0] and "header injection" in found[0]) or (
        ":2: invisible control character" in found[0]
    )


def test_line_break_in_organisation_and_send(tmp_path):
    found = problems(
        tmp_path,
        "email,name,organisation,send\n"
        'ana@example.org,Ana,"Org\nBcc: x@example.org",booklet\n'
        'bob@example.org,Bob,Org,"booklet\nmobilites"\n',
    )
    assert [p.split(": ")[1] for p in found] == ["organisation", "send"]
    # A quoted value spanning lines: the next row starts after it, and says so.
    assert ":2: organisation:" in found[0] and ":4: send:" in found[1]


def test_missing_columns(tmp_path):
    with pytest.raises(LivretError) as exc:
        read_recipients(
            write(tmp_path, "courriels,name,organisation\nana@example.org,Ana,Org\n"), SLUGS
        )
    found = [str(p) for p in exc.value.problems]
    assert [p.split(": ")[1] for p in found] == ["warning", "email", "send"]
    assert 'column "courriels" is ignored' in found[0]
    assert all(":1: " in p and "missing column" in p for p in found[1:])


def test_every_problem_at_once(tmp_path):
    text = (
        "email,name,organisation,send\n"
        "ana@example.org,Ana,Org,booklet\n"  # 2 fine
        "not-an-address,Bob,Org,booklet\n"  # 3 bad address
        "carl@example.org,Carl,Org,brochure\n"  # 4 unknown slug
        "dora@example.org,Dora,Org,\n"  # 5 empty send
        "ANA@example.org,Ana 2,Org,booklet\n"  # 6 duplicate
        'eve@example.org,"Eve\nBcc: x@example.org",Org,booklet\n'
    )  # 7-8 injection
    found = problems(tmp_path, text)
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == [3, 4, 5, 6, 7]


def test_not_utf8_says_how_to_export(tmp_path):
    found = problems(
        tmp_path, "email,name,send\nana@example.org,Anaïs,booklet\n", encoding="cp1252"
    )
    assert found == [
        f'{tmp_path / "list.csv"}:2: not UTF-8 (byte 0xef); in the spreadsheet, save as "CSV UTF-8"'
    ]


def test_empty_list_and_header_only(tmp_path):
    assert "empty file" in problems(tmp_path, "\n\n")[0]
    assert "no recipients" in problems(tmp_path, "email,name,send\n")[0]


def test_unterminated_quote_is_reported_with_its_line(tmp_path):
    found = problems(tmp_path, 'email,name,send\nana@example.org,"Ana,booklet\n')
    assert len(found) == 1 and "list.csv:" in found[0]


def test_example_list_is_valid():
    rs = read_recipients(CONTENT / "recipients.example.csv", SLUGS)
    assert len(rs) >= 3
    assert all(r.email.endswith("@example.org") for r in rs)


def test_french_headers_and_livret_as_booklet(tmp_path):
    text = (
        "Courriel;Nom;Organisation;Envoi\n"
        "ana@example.org;Ana;Ville;Livret Mobilités\n"
        "bob@example.org;Bob;;LIVRET\n"
    )
    rs = read_recipients(write(tmp_path, text), SLUGS)
    assert [(r.email, r.name, r.organisation, r.send) for r in rs] == [
        ("ana@example.org", "Ana", "Ville", ("booklet", "mobilites")),
        ("bob@example.org", "Bob", "", ("booklet",)),
    ]
    for header in ("E-mail,NOM,envoi", "e-mail,Nom,Envoi", "EMAIL,nom,ENVOI"):
        rs = read_recipients(write(tmp_path, f"{header}\nana@example.org,Ana,livret\n"), SLUGS)
        assert rs[0].send == ("booklet",) and rs[0].name == "Ana"
