"""Stage 2 — SMTP settings: `mail.yaml` (optional) → flags of the same name → `Settings`.

The password is the one setting that never comes from a file or a flag: files get committed
and flags show up in `ps` and shell history, so it is read from LIVRET_SMTP_PASSWORD only,
and it is kept out of `repr()` so that it cannot leak into a log or a traceback.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field, replace
from email.headerregistry import Address
from pathlib import Path

from ..errors import Collector, LivretError, Problem, display_path
from ..reader import read_yaml
from .recipients import check_address, line_break_problem

PASSWORD_ENV = "LIVRET_SMTP_PASSWORD"
DEFAULT_CONFIG = Path("mail.yaml")
DEFAULT_JOURNAL = Path(".livret/mail-journal.sqlite")
SECURITY = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
COMMAND_LINE = "command line"


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
    max_size: int = 10_000_000  # bytes of the encoded message, headers included
    attempts: int = 4  # tries per message for temporary failures
    backoff: float = 2.0  # seconds before the second try; doubled for each further one
    backoff_max: float = 60.0
    templates: Path | None = None  # None: layouts/mail of the project
    journal: Path = DEFAULT_JOURNAL
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @property
    def server(self) -> str:
        return f"{self.host}:{self.effective_port}"


# name in mail.yaml and on the command line → (Settings field, parser)
def _text(value, name):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty text")
    why = line_break_problem(value)
    if why:
        raise ValueError(why)
    return value.strip()


def _host(value, name):
    value = _text(value, name)
    if any(c.isspace() for c in value) or "/" in value:
        raise ValueError(f'"{value}" is not a host name')
    return value


def _int_range(lo, hi):
    def parse(value, name):
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f'"{value}" is not a whole number') from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return number

    return parse


def _positive(allow_zero: bool):
    def parse(value, name):
        if isinstance(value, bool):
            raise ValueError("must be a number")
        try:
            number = float(str(value).strip().replace(",", "."))
        except ValueError:
            raise ValueError(f'"{value}" is not a number') from None
        if number < 0 or (number == 0 and not allow_zero) or number != number:
            raise ValueError("must be a positive number")
        return number

    return parse


def _rate(value, name):
    number = _positive(True)(value, name)
    return None if number == 0 else number


def _security(value, name):
    value = str(value).strip().lower()
    if value not in SECURITY:
        raise ValueError(f'"{value}" is not one of {", ".join(SECURITY)}')
    return value


def _path(value, name):
    return Path(_text(value, name))


def _address(value, name):
    """An address with an optional display name: `Club des territoires <club@example.org>`."""
    value = _text(value, name)
    display, addr = "", value
    match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", value)
    if match:
        display, addr = match.group(1).strip(), match.group(2).strip()
        if len(display) >= 2 and display[0] == display[-1] == '"':
            display = display[1:-1]
    address, why = check_address(addr)
    if why:
        raise ValueError(f"invalid address: {why}")
    return Address(display_name=display, addr_spec=address)


def _addresses(value, name):
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(_address(item, name) for item in items if str(item).strip())


_UNITS = {
    "": 1,
    "b": 1,
    "o": 1,
    "k": 1000,
    "kb": 1000,
    "ko": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mo": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "go": 1000**3,
    "gib": 1024**3,
}


def parse_size(value, name="max-size") -> int:
    """`10MB`, `10 Mo`, `7.5M`, `10MiB` or a number of bytes → bytes (MB = 1,000,000)."""
    match = re.fullmatch(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(f'"{value}" is not a size like 10MB, 500kB or 10485760')
    size = int(float(match.group(1).replace(",", ".")) * _UNITS[unit])
    if size < 1000:
        raise ValueError("must be at least 1kB")
    return size


OPTIONS = {
    "host": ("host", _host),
    "port": ("port", _int_range(1, 65535)),
    "security": ("security", _security),
    "user": ("user", _text),
    "from": ("sender", _address),
    "reply-to": ("reply_to", _address),
    "bcc": ("bcc", _addresses),
    "rate": ("rate", _rate),
    "cafile": ("cafile", _path),
    "timeout": ("timeout", _positive(False)),
    "max-size": ("max_size", parse_size),
    "attempts": ("attempts", _int_range(1, 20)),
    "backoff": ("backoff", _positive(True)),
    "backoff-max": ("backoff_max", _positive(True)),
    "templates": ("templates", _path),
    "journal": ("journal", _path),
}
# Options that have a flag; the others (bcc, backoff-max) are rare enough for mail.yaml only.
FLAGS = (
    "host",
    "port",
    "security",
    "user",
    "from",
    "reply-to",
    "rate",
    "cafile",
    "timeout",
    "max-size",
    "attempts",
    "backoff",
    "templates",
    "journal",
)


def flag_dest(name: str) -> str:
    """argparse attribute of the flag `--name` (`from` is a Python keyword)."""
    return "from_" if name == "from" else name.replace("-", "_")


def load_settings(
    config: Path | None, overrides: dict[str, object] | None = None, environ=None
) -> Settings:
    """Settings from `config` (default `mail.yaml`, which may be absent), then `overrides`
    (flag name → value as typed, None meaning "not given"), then the password from the
    environment. Every problem is reported at once."""
    environ = os.environ if environ is None else environ
    problems = Collector()
    values: dict[str, object] = {}
    path = DEFAULT_CONFIG if config is None else Path(config)
    if config is not None or path.exists():
        if not path.is_file():
            problems.error(
                path,
                None,
                None,
                "settings file not found (copy mail.example.yaml "
                "to mail.yaml, or drop --config to use the defaults)",
            )
        else:
            _from_file(path, values, problems)
    for name, raw in (overrides or {}).items():
        if message := _set(values, name, raw):
            problems.error(COMMAND_LINE, None, f"--{name}", message)
    problems.raise_if_errors()
    password = environ.get(PASSWORD_ENV) or None
    settings = replace(Settings(), **values, password=password)
    if settings.cafile is not None and not settings.cafile.is_file():
        raise LivretError(
            Problem(display_path(settings.cafile), None, "cafile", "CA certificate file not found")
        )
    return settings


def _from_file(path: Path, values: dict, problems: Collector) -> None:
    src = read_yaml(path, problems)
    if src is None or src.data is None:
        return
    if not isinstance(src.data, dict):
        problems.error(path, src.start_line, None, "settings must be 'name: value' lines")
        return
    for key, raw in src.data.items():
        name = str(key).strip().lower().replace("_", "-")
        line = src.line(str(key))
        if name in ("password", "pass", "passwd", "smtp-password"):
            problems.error(
                path,
                line,
                str(key),
                f"a password is never read from a file: set the environment variable "
                f"{PASSWORD_ENV} instead, and remove this line",
            )
            continue
        if name not in OPTIONS:
            problems.error(path, line, str(key), f"unknown setting; valid: {', '.join(OPTIONS)}")
            continue
        if message := _set(values, name, raw):
            problems.error(path, line, str(key), message)


def _set(values: dict, name: str, raw) -> str | None:
    """Parse one setting, from the file or a flag (None: not given); return what is wrong."""
    if raw is None:
        return None
    target, parse = OPTIONS[name]
    try:
        values[target] = parse(raw, name)
    except ValueError as exc:
        return str(exc)
    return None


def check_for_sending(settings: Settings) -> None:
    """What must hold before connecting; a dry run needs none of it."""
    problems = []
    where = settings.server
    if settings.user and not settings.password:
        problems.append(
            Problem(
                COMMAND_LINE,
                None,
                None,
                f"user {settings.user} is set but {PASSWORD_ENV} is not: "
                f"export {PASSWORD_ENV}=… before sending",
            )
        )
    if settings.user and settings.security == "none" and not _is_loopback(settings.host):
        problems.append(
            Problem(
                COMMAND_LINE,
                None,
                "security",
                f"security is none, so the password for {where} would cross the "
                "network in clear; use starttls or ssl",
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
    parts = [{"none": "no TLS", "starttls": "STARTTLS", "ssl": "TLS"}[settings.security]]
    if settings.user:
        parts.append(f"user {settings.user}")
    if settings.rate:
        parts.append(f"at most {settings.rate:g}/min")
    return f"{settings.server} ({', '.join(parts)})"
