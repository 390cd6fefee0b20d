"""Settings: mail.yaml, flags of the same name on top, the password from the environment only."""

from pathlib import Path

import pytest

from livret.errors import LivretError
from livret.mail.settings import (
    Settings,
    check_for_sending,
    load_settings,
    parse_size,
)


def test_absent_default_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, {}, environ={})
    assert s == Settings()
    assert (s.host, s.effective_port, s.security, s.max_size) == (
        "localhost",
        587,
        "starttls",
        7_000_000,
    )


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(LivretError, match="settings file not found"):
        load_settings(tmp_path / "nope.yaml", {}, environ={})


def test_file_then_flags(tmp_path):
    cfg = tmp_path / "mail.yaml"
    cfg.write_text(
        "host: smtp.example.org\nsecurity: ssl\nuser: club\n"
        'from: "Club des territoires <club@example.org>"\nreply-to: r@example.org\n'
        "rate: 30\nmax_size: 7 Mo\ntimeout: 12\nbcc: [a@example.org, b@example.org]\n",
        encoding="utf-8",
    )
    s = load_settings(
        cfg,
        {"host": "relay.example.org", "rate": "0", "max-size": None, "port": "2525"},
        environ={"LIVRET_SMTP_PASSWORD": "pw"},
    )
    assert s.host == "relay.example.org"  # flag wins
    assert s.port == 2525 and s.security == "ssl" and s.user == "club"
    assert str(s.sender) == "Club des territoires <club@example.org>"
    assert s.reply_to.addr_spec == "r@example.org"
    assert s.rate is None  # 0 on the command line: no limit
    assert s.max_size == 7_000_000 and s.timeout == 12
    assert [a.addr_spec for a in s.bcc] == ["a@example.org", "b@example.org"]
    assert s.password == "pw"


def test_every_problem_with_file_line_and_field(tmp_path):
    cfg = tmp_path / "mail.yaml"
    cfg.write_text(
        "host: smtp.example.org\nport: seventy\nsecurity: tls\nsender: x@example.org\n"
        "from: not an address\n",
        encoding="utf-8",
    )
    with pytest.raises(LivretError) as exc:
        load_settings(cfg, {"timeout": "-1", "max-size": "huge"}, environ={})
    found = [str(p) for p in exc.value.problems]
    assert found[0] == f'{cfg}:2: port: "seventy" is not a whole number'
    assert found[1].startswith(f'{cfg}:3: security: "tls" is not one of none, starttls, ssl')
    assert found[2].startswith(
        f"{cfg}:4: sender: unknown field in mail settings; expected one of: host, port"
    )
    assert found[3].startswith(f'{cfg}:5: from: "not an address" is not an e-mail address')
    assert found[4] == "command line: --timeout: must be a positive number"
    assert found[5].startswith('command line: --max-size: "huge" is not a size')
    assert len(found) == 6


def test_password_in_the_file_is_refused(tmp_path):
    cfg = tmp_path / "mail.yaml"
    cfg.write_text("user: club\npassword: hunter2\n", encoding="utf-8")
    with pytest.raises(LivretError) as exc:
        load_settings(cfg, {}, environ={})
    assert str(exc.value) == (
        f"{cfg}:2: password: a password is never read from a file: set the "
        "environment variable LIVRET_SMTP_PASSWORD instead, and remove this "
        "line"
    )
    assert "hunter2" not in str(exc.value)


def test_password_never_in_repr():
    s = load_settings(None, {"user": "club"}, environ={"LIVRET_SMTP_PASSWORD": "hunter2"})
    assert s.password == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)


def test_sending_needs_the_password_and_no_cleartext_auth_over_the_network():
    with pytest.raises(LivretError, match="LIVRET_SMTP_PASSWORD is not"):
        check_for_sending(Settings(user="club"))
    with pytest.raises(LivretError, match="in clear"):
        check_for_sending(
            Settings(user="club", password="x", security="none", host="smtp.example.org")
        )
    check_for_sending(Settings(user="club", password="x", security="none", host="127.0.0.1"))
    check_for_sending(Settings())


@pytest.mark.parametrize(
    "text, size",
    [
        ("10MB", 10_000_000),
        ("10 Mo", 10_000_000),
        ("7,5M", 7_500_000),
        ("10MiB", 10 * 2**20),
        ("500kB", 500_000),
        ("123456", 123456),
    ],
)
def test_sizes(text, size):
    assert parse_size(text) == size


def test_header_injection_in_settings(tmp_path):
    with pytest.raises(LivretError, match="line break"):
        load_settings(
            None, {"from": "Club <club@example.org>\r\nBcc: victim@example.org"}, environ={}
        )
    with pytest.raises(LivretError, match="line break"):
        load_settings(None, {"reply-to": "r@example.org\nX: y"}, environ={})


def test_missing_cafile(tmp_path):
    with pytest.raises(LivretError, match="CA certificate file not found"):
        load_settings(None, {"cafile": str(tmp_path / "ca.pem")}, environ={})


def test_example_settings_file_is_valid():
    example = Path(__file__).parent.parent / "mail.example.yaml"
    s = load_settings(example, {}, environ={})
    assert s.security == "starttls" and s.rate == 30 and s.max_size == 7_000_000
