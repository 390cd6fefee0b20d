"""Stage 2 — SMTP settings: `mail.yaml` (optional) → flags of the same name → `Settings`.

The password is the one setting that never comes from a file or a flag: files get committed
and flags show up in `ps` and shell history, so it is read from LIVRET_SMTP_PASSWORD only,
and it is kept out of `repr()` so that it cannot leak into a log or a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from ..errors import Collector, LivretError, Problem, display_path
from ..i18n import _
from ..reading import fields as f
from ..reading.reader import Located, read_yaml

PASSWORD_ENV = "LIVRET_SMTP_PASSWORD"
DEFAULT_CONFIG = Path("mail.yaml")
DEFAULT_JOURNAL = Path(".livret/mail-journal.sqlite")
SECURITY = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


def command_line() -> str:
    """Where a problem of an option is: the command line, in the interface's language."""
    return _("command line")


@dataclass(frozen=True)
class Settings:
    host: str = "localhost"
    port: int | None = None  # None: the usual port for `security`
    security: str = "starttls"
    user: str | None = None
    sender: Address | None = None  # "from"; None: the edition's publisher and contact_email
    reply_to: Address | None = None
    bcc: tuple[Address, ...] = ()  # archive copies, envelope only (never a header)
    rate: float | None = None  # messages per minute; None: as fast as the server answers
    cafile: Path | None = None
    timeout: float = 60.0  # seconds, for every network operation
    # Bytes of the encoded message, headers included: Exchange refuses 10 MB by default,
    # Outlook.com 20 MB, Gmail 25 MB; 7 MB leaves room for what relays add on the way.
    max_size: int = 7_000_000
    attempts: int = 4  # tries per message for temporary failures
    backoff: float = 2.0  # seconds before the second try; doubled for each further one
    backoff_max: float = 60.0
    templates: Path | None = None  # None: layouts/mail of the project
    journal: Path = DEFAULT_JOURNAL
    unsubscribe_mailto: str | None = None  # the address that takes unsubscribe requests
    unsubscribe_url: str | None = None  # https://…{token}…: the organisation's web form
    privacy_url: str | None = None  # the page on personal data (RGPD), in every message
    retention: int | None = None  # days the journal keeps personal data (mail purge)
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @property
    def server(self) -> str:
        return f"{self.host}:{self.effective_port}"


# Every setting, as in mail.yaml and as a flag (--name): the Settings field it sets and its
# validator from livret.reading.fields, the one field framework of livret (content and settings).
OPTIONS: dict[str, tuple[str, f.Validator]] = {
    "host": ("host", f.host),
    "port": ("port", f.port),
    "security": ("security", f.choice(SECURITY)),
    "user": ("user", f.header_text),
    "from": ("sender", f.mailbox),
    "reply-to": ("reply_to", f.mailbox),
    "bcc": ("bcc", f.mailbox_list),
    "rate": ("rate", f.non_negative_number),  # 0: no limit
    "cafile": ("cafile", f.path),
    "timeout": ("timeout", f.positive_number),
    "max-size": ("max_size", f.size),
    "attempts": ("attempts", f.whole_number(1, 20)),
    "backoff": ("backoff", f.non_negative_number),
    "backoff-max": ("backoff_max", f.non_negative_number),
    "templates": ("templates", f.path),
    "journal": ("journal", f.path),
    "unsubscribe-mailto": ("unsubscribe_mailto", f.email),
    "unsubscribe-url": ("unsubscribe_url", lambda v, ctx, key: https_url(v, ctx, key, True)),
    "privacy-url": ("privacy_url", lambda v, ctx, key: https_url(v, ctx, key, False)),
    "retention": ("retention", f.whole_number(1, 36500)),
}
SPEC = {name: (validator, False) for name, (_target, validator) in OPTIONS.items()}
# Options that have a flag; the others (bcc, backoff-max) are rare enough for mail.yaml only.
FLAGS = tuple(name for name in OPTIONS if name not in ("bcc", "backoff-max", "retention"))
_URL = re.compile(r"https://[^\s<>\"'\\^`|{}]+")


def https_url(value, ctx: f.Ctx, key: str, with_token: bool):
    """An https address; for the unsubscribe form, with `{token}` where the person's token
    goes (https://example.org/desinscription?t={token})."""
    written = f.header_text(value, ctx, key)
    if written is None:
        return None
    if with_token and "{token}" not in written:
        ctx.error(
            key,
            _(
                "put {token} where the person's token goes, e.g. "
                "https://example.org/desinscription?jeton={token}"
            ).format(token="{token}"),
        )
        return None
    if not _URL.fullmatch(written.replace("{token}", "x")):
        ctx.error(
            key,
            _('"{value}" is not an https:// address (no spaces, quotes or < >)').format(
                value=written
            ),
        )
        return None
    return written


PASSWORD_KEYS = ("password", "pass", "passwd", "smtp-password")


def parse_size(value: object) -> int | None:
    """`10MB`, `10 Mo`, `7,5M`, `10MiB` or a number of bytes → bytes; None if not a size."""
    return f.parse_size(value)


def flag_dest(name: str) -> str:
    """argparse attribute of the flag `--name` (`from` is a Python keyword)."""
    return "from_" if name == "from" else name.replace("-", "_")


def load_settings(
    config: Path | None,
    overrides: dict[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from `config` (default `mail.yaml`, which may be absent), then `overrides`
    (flag name → value as typed, None meaning "not given"), then the password from the
    environment. Every problem is reported at once."""
    env = os.environ if environ is None else environ
    problems = Collector()
    values: dict[str, Any] = {}
    path = DEFAULT_CONFIG if config is None else Path(config)
    if config is not None or path.exists():
        if not path.is_file():
            problems.error(
                path,
                None,
                None,
                _(
                    "settings file not found (copy mail.example.yaml to mail.yaml, or drop "
                    "--config to use the defaults)"
                ),
            )
        else:
            values.update(_from_file(path, problems))
    values.update(_from_flags(overrides or {}, problems))
    problems.raise_if_errors()
    if values.get("rate") == 0:
        values["rate"] = None
    settings = replace(Settings(), **values, password=env.get(PASSWORD_ENV) or None)
    if settings.cafile is not None and not settings.cafile.is_file():
        raise LivretError(
            Problem(
                display_path(settings.cafile), None, "cafile", _("CA certificate file not found")
            )
        )
    return settings


def _clean(checked: dict | None) -> dict[str, object]:
    """check_fields' result (setting name → value) → Settings field → value, given only."""
    return {OPTIONS[name][0]: v for name, v in (checked or {}).items() if v is not None}


def _from_file(path: Path, problems: Collector) -> dict[str, object]:
    src = read_yaml(path, problems)
    if src is None or src.data is None:
        return {}
    if not isinstance(src.data, dict):
        problems.error(path, src.start_line, None, _("settings must be 'name: value' lines"))
        return {}
    # Names are forgiving (Max_Size, max-size): normalised, each keeping its line.
    data: dict[str, object] = {}
    lines: dict[str, int] = {}
    for key, raw in src.data.items():
        name = str(key).strip().lower().replace("_", "-")
        if name in PASSWORD_KEYS:
            problems.error(
                path,
                src.line(str(key)),
                str(key),
                _(
                    "a password is never read from a file: set the environment variable "
                    "{variable} instead, and remove this line"
                ).format(variable=PASSWORD_ENV),
            )
            continue
        data[name] = raw
        lines[name] = src.line(str(key))
    located = Located(src.path, data, lines, src.start_line)
    found = Collector()
    checked = f.check_fields(data, f.Ctx(located, found), SPEC, _("mail settings"))
    problems.problems += sorted(found.problems, key=lambda p: p.line or 0)  # in file order
    return _clean(checked)


def _from_flags(overrides: dict[str, object], problems: Collector) -> dict[str, object]:
    given = {name: raw for name, raw in overrides.items() if raw is not None}
    if not given:
        return {}
    found = Collector()
    checked = f.check_fields(
        given, f.Ctx(Located(Path(command_line()), given), found), SPEC, _("mail settings")
    )
    for p in found.problems:  # on the command line, a flag has no line
        problems.problems.append(Problem(command_line(), None, f"--{p.field}", p.message))
    return _clean(checked)


def check_for_sending(settings: Settings) -> None:
    """What must hold before connecting; a dry run needs none of it."""
    problems = []
    where = settings.server
    if settings.user and not settings.password:
        problems.append(
            Problem(
                command_line(),
                None,
                None,
                _(
                    "user {user} is set but {variable} is not: export {variable}=… before sending"
                ).format(user=settings.user, variable=PASSWORD_ENV),
            )
        )
    if settings.user and settings.security == "none" and not _is_loopback(settings.host):
        problems.append(
            Problem(
                command_line(),
                None,
                "security",
                _(
                    "security is none, so the password for {server} would cross the "
                    "network in clear; use starttls or ssl"
                ).format(server=where),
            )
        )
    if problems:
        raise LivretError(problems)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def describe(settings: Settings) -> str:
    """A few words for the report; never the password."""
    parts = [{"none": _("no TLS"), "starttls": "STARTTLS", "ssl": "TLS"}[settings.security]]
    if settings.user:
        parts.append(_("user {user}").format(user=settings.user))
    if settings.rate:
        parts.append(_("at most {rate}/min").format(rate=f"{settings.rate:g}"))
    return f"{settings.server} ({', '.join(parts)})"
