"""One validator per kind of field, MkDocs-style, but each reports file, line and field and
never stops validation: it returns the cleaned value or records a Problem and returns None.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

from ..errors import Collector
from ..i18n import N_, _
from . import memo
from .reader import Located, quote

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Names Windows keeps for devices, whatever the extension (con.md, nul.yaml): such a file
# cannot be checked out or opened there.
WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])$", re.IGNORECASE)


def slug_problem(name: str) -> str | None:
    """Why `name` cannot be a slug — the name of a file of the content folder — or None."""
    if not SLUG_RE.match(name):
        return _(
            '"{slug}" is not a slug: lower-case letters, digits and "-" only (no "/", "." '
            "or space: it names a file inside the content folder)"
        ).format(slug=name)
    if WINDOWS_RESERVED.match(name):
        return _(
            '"{slug}" is a name Windows keeps for a device: such a file cannot be opened '
            "or checked out there; choose another name"
        ).format(slug=name)
    return None


COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_URL_SYNTAX = re.compile(r"[%?&=#/!]")
URL_RE = re.compile(r"^(https?)://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:[/?#]\S*)?$")


def check_email(value: str) -> tuple[str | None, str | None]:
    """The one e-mail validator of livret (content, recipient lists, mail settings, links).

    Returns (address in ASCII form, None) or (None, why not). `email-validator` checks the
    syntax (RFC 5321/5322: no "a..b@", a real top-level domain, lengths) without any network
    look-up. Internationalised domains are accepted (élysée.fr → xn--lyse-9oad.fr, the form
    every SMTP server and header takes); accents before the @ are refused everywhere: they
    need SMTPUTF8, which few relays offer, and an address that cannot be mailed has no place
    in the booklet either. So are the characters a mail program reads as URL syntax in a
    `mailto:` (% ? & = # / !): valid in RFC 5322, they are how `x%40y.org?bcc=…` would add
    a hidden recipient, and no address of the booklet or of a recipient list needs them.
    """
    local = value.rpartition("@")[0]
    bad = sorted(set(_URL_SYNTAX.findall(local)))
    if bad:
        return None, _("the characters {chars} are not allowed before the @").format(
            chars=" ".join(bad)
        )
    known = memo.lookup("e-mail", value)  # valid at the last build (memo.py)
    if known is not None:
        return known, None
    from email_validator import EmailNotValidError, validate_email

    try:
        found = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return None, email_reason(str(exc))
    address = found.ascii_email
    if address is not None:
        memo.keep("e-mail", value, address)
    return address, None


def email_reason(message: str) -> str:
    """email-validator explains in English: its usual reasons in the interface's language,
    with the detail it gives after a colon (the characters at fault)."""
    detail = message.partition(": ")[2].rstrip(".") if ": " in message else ""
    for start, reason in (
        (
            "There must be something after the @-sign",
            N_("nothing after the @: the domain is missing (name@example.org)"),
        ),
        ("There must be something before the @-sign", N_("nothing before the @")),
        (
            "An email address must have an @-sign",
            N_("no @: an address is written name@example.org"),
        ),
        ("An email address cannot have two periods in a row", N_("two periods in a row")),
        (
            "An email address cannot have a period and a hyphen",
            N_("a period and a hyphen side by side"),
        ),
        (
            "The part after the @-sign is not valid. It should have a period",
            N_("the part after the @ is not a domain: it has no period (example.org)"),
        ),
        (
            "The part after the @-sign is not valid. It is not within a valid top-level domain",
            N_("the part after the @ does not end with a real domain extension (.fr, .org…)"),
        ),
        (
            "The part after the @-sign is a special-use or reserved name",
            N_("the part after the @ is a reserved name that cannot receive mail"),
        ),
        (
            "Internationalized characters before the @-sign",
            N_("accents or other non-ASCII characters before the @ (few mail servers accept them)"),
        ),
        (
            "The email address contains invalid characters before the @-sign",
            N_("characters not allowed before the @"),
        ),
        (
            "The part after the @-sign contains invalid characters",
            N_("characters not allowed after the @"),
        ),
        ("The email address contains unsafe characters", N_("invisible or control characters")),
        ("The email address contains an invalid character", N_("a character that is not allowed")),
        ("There can't be anything after the email address", N_("something follows the address")),
        ("The email address is too long", N_("the address is too long")),
        ("A display name and angle brackets", N_('"Name <address>": only the address goes here')),
        ("Quoting the part before the @-sign", N_("quotes before the @ are not accepted")),
        (
            "A bracketed IP address",
            N_("an IP address after the @ is not accepted: use the domain name"),
        ),
        ('The email address has the "small commercial at"', N_("a ﹫ instead of the usual @")),
    ):
        if message.startswith(start):
            if detail:
                return _("{reason}: {detail}").format(reason=_(reason), detail=detail)
            return _(reason)
    return _("not a valid address ({detail})").format(detail=message)


def is_email(value: str) -> bool:
    return check_email(value)[0] is not None


def is_url(value: str) -> bool:
    return bool(URL_RE.match(value))


def _type_name(value) -> str:
    names = {
        str: N_("text"),
        int: N_("a number"),
        float: N_("a number"),
        bool: N_("true/false"),
        list: N_("a list"),
        dict: N_("a mapping (field: value)"),
        type(None): N_("nothing"),
    }
    name = names.get(type(value))
    return _(name) if name else type(value).__name__


class Ctx:
    """Where a value comes from: the located file and the dotted field name."""

    def __init__(self, src: Located, problems: Collector, prefix: str = ""):
        self.src, self.problems, self.prefix = src, problems, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> None:
        dotted = self.name(key)
        self.problems.error(self.src.path, self.src.line(dotted), dotted, message)

    def sub(self, key: str) -> Ctx:
        return Ctx(self.src, self.problems, self.name(key))


Validator = Callable[[object, Ctx, str], object]


def text(value, ctx: Ctx, key: str):
    if isinstance(value, list):
        # `title:` then `- …` lines: one text is expected, not a list.
        ctx.error(
            key,
            _(
                "expected one text, not a list: write the text on the same line, after the "
                "« : » of the field, without « - »"
            ),
        )
        return None
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value)), str):
        # `- Coût : 12 €`: YAML reads « word : text » as a field; the editor meant one text.
        ((k, v),) = value.items()
        ctx.error(
            key,
            _(
                "the text contains « : », which YAML reads as a field: put the whole text in "
                "double quotes: {fixed}"
            ).format(fixed=quote(f"{k} : {v}" if v is not None else f"{k} :")),
        )
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        ctx.error(key, _("expected text, got {what}").format(what=_type_name(value)))
        return None
    value = " ".join(str(value).split())
    if not value:
        ctx.error(key, _("expected text, got an empty value"))
        return None
    return value


def text_list(value, ctx: Ctx, key: str):
    if value is None:
        return ()
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        ctx.error(
            key,
            _(
                "expected a list: put each item on a line of its own under « {field}: », "
                "starting with « - » (for example « - {value} »)"
            ).format(field=key.rpartition(".")[2], value=value),
        )
        return None
    if not isinstance(value, list):
        ctx.error(key, _("expected a list of items, got {what}").format(what=_type_name(value)))
        return None
    if too_long(value, ctx, key):
        return None
    items = [text(v, ctx, f"{key}.{i}") for i, v in enumerate(value)]
    return None if None in items else tuple(items)


# No list of a booklet comes near (edition #01: 15 people in a group of the thanks, 9
# partners on a card): a longer list is a paste gone wrong, refused before it is printed.
MAX_ITEMS = 100


def too_long(value: list, ctx: Ctx, key: str) -> bool:
    """True, and the problem reported at the first item too many, when `value` has more than
    MAX_ITEMS items."""
    if len(value) <= MAX_ITEMS:
        return False
    ctx.error(
        f"{key}.{MAX_ITEMS}",
        _(
            "{count} items: no list of a booklet is this long (at most {max}); keep the "
            "essential ones"
        ).format(count=len(value), max=MAX_ITEMS),
    )
    return True


def email(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is None:
        return None
    if not is_email(value):
        ctx.error(key, _('"{value}" is not an e-mail address').format(value=value))
        return None
    return value


def slug(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is not None and not SLUG_RE.match(value):
        ctx.error(
            key,
            _('"{value}" is not a slug (lower-case letters, digits and "-")').format(value=value),
        )
        return None
    return value


def list_of(item: Validator) -> Validator:
    """A list whose every item goes through `item`; problems are reported per item."""

    def validate(value, ctx: Ctx, key: str):
        items = text_list(value, ctx, key)
        if items is None:
            return None
        ok = [item(v, ctx, f"{key}.{i}") for i, v in enumerate(items)]
        return None if None in ok else tuple(ok)

    return validate


email_list = list_of(email)
_slugs = list_of(slug)


def slug_list(value, ctx: Ctx, key: str):
    ok = _slugs(value, ctx, key)
    if ok is None:
        return None
    seen: set[str] = set()
    for i, s in enumerate(cast(tuple[str, ...], ok)):
        if s in seen:
            ctx.error(f"{key}.{i}", _('duplicate slug "{slug}"').format(slug=s))
        seen.add(s)
    return ok


def colour(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is not None and not COLOUR_RE.match(value):
        ctx.error(key, _('"{value}" is not a colour: expected "#rrggbb"').format(value=value))
        return None
    return value


def integer(value, ctx: Ctx, key: str):
    text_value = str(value).strip()
    if isinstance(value, (list, dict)) or not text_value.isdigit() or int(text_value) < 1:
        got = _type_name(value) if isinstance(value, (list, dict)) else repr(value)
        ctx.error(key, _("expected a whole number ≥ 1, got {what}").format(what=got))
        return None
    return int(text_value)


def date(value, ctx: Ctx, key: str):
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        ctx.error(key, _('"{value}" is not a date: expected YYYY-MM-DD').format(value=value))
        return None


def timestamp(value, ctx: Ctx, key: str):
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        ctx.error(
            key,
            _(
                '"{value}" is not a date and time with its time zone: '
                "expected e.g. 2023-11-27T09:00:00+01:00"
            ).format(value=value),
        )
        return None
    return stamp


def mapping(value, ctx: Ctx, key: str):
    if not isinstance(value, dict):
        ctx.error(
            key,
            _("expected a mapping (field: value lines), got {what}").format(what=_type_name(value)),
        )
        return None
    return value


def record(spec: dict, where: str, make) -> Validator:
    """A validator for one mapping checked by `spec` {key: (validator, required)}, made into
    `make(**fields)`; `where` names it in messages."""

    def validate(value, ctx: Ctx, key: str):
        data = mapping(value, ctx, key)
        clean = None if data is None else check_fields(data, ctx.sub(key), spec, where)
        return None if clean is None else make(**clean)

    return validate


def records(
    spec: dict, many: str, one: str, example: str, make, allow_empty: bool = False
) -> Validator:
    """A validator for a list of mappings (people, groups, initiatives), each checked by `spec`."""

    def validate(value, ctx: Ctx, key: str):
        if value is None and allow_empty:
            return ()
        if not isinstance(value, list) or not (value or allow_empty):
            ctx.error(
                key,
                _("expected a list of {what} ({example})").format(what=_(many), example=example),
            )
            return None
        if too_long(value, ctx, key):
            return None
        out, ok = [], True
        each = record(spec, _(one), make)
        for i, item in enumerate(value):
            made = each(item, ctx, f"{key}.{i}")
            if made is None:
                ok = False
            else:
                out.append(made)
        return tuple(out) if ok else None

    return validate


def check_fields(
    data: Mapping[str, object], ctx: Ctx, spec: Mapping[str, tuple[Validator, bool]], where: str
) -> dict | None:
    """Validate `data` against `spec` {key: (validator, required)}; collect every problem.

    Unknown keys are errors, not warnings: a misspelt key ("partenaire:") would otherwise
    silently drop facts from the printed booklet, and nobody reads warnings of a green build.
    """
    out: dict = {}
    ok = True
    for key in data:
        if key not in spec:
            close = [k for k in spec if _close(k, key)]
            if close:
                message = _(
                    'unknown field in {where} (did you mean "{close}"?); expected one of: {fields}'
                )
            else:
                message = _("unknown field in {where}; expected one of: {fields}")
            ctx.error(
                key,
                message.format(
                    where=_(where), close=close[0] if close else "", fields=", ".join(spec)
                ),
            )
            ok = False
    for key, (validator, required) in spec.items():
        if key not in data or data[key] is None:
            if required:
                ctx.error(key, _("required field is missing in {where}").format(where=_(where)))
                ok = False
            out[key] = validator(None, ctx, key) if validator in (text_list, email_list) else None
            continue
        value = validator(data[key], ctx, key)
        if value is None:
            ok = False
        out[key] = value
    return out if ok else None


def _close(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() > 0.75


# -- Settings-style validators (mail settings): numbers, sizes, choices, paths, mailboxes ----
# Same contract as above: the cleaned value, or None after recording a problem with ctx.error.
# Messages are gettext msgids (see livret/i18n.py).


_CONTROL_RE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


def whole_number(lo: int, hi: int) -> Validator:
    """A whole number between lo and hi (inclusive), written as a number or as text."""

    def validate(value, ctx: Ctx, key: str):
        try:
            if isinstance(value, bool) or isinstance(value, (list, dict, float)):
                raise ValueError
            number = int(str(value).strip())
        except ValueError:
            ctx.error(key, _('"{value}" is not a whole number').format(value=value))
            return None
        if not lo <= number <= hi:
            ctx.error(key, _("must be between {lo} and {hi}").format(lo=lo, hi=hi))
            return None
        return number

    return validate


port = whole_number(1, 65535)


def number(minimum: float = 0.0, allow_minimum: bool = True) -> Validator:
    """A number (decimal point or comma) ≥ minimum (> minimum if not allow_minimum)."""

    def validate(value, ctx: Ctx, key: str):
        try:
            if isinstance(value, (bool, list, dict)):
                raise ValueError
            result = float(str(value).strip().replace(",", "."))
        except ValueError:
            ctx.error(key, _('"{value}" is not a number').format(value=value))
            return None
        if result != result or result in (float("inf"), float("-inf")):
            ctx.error(key, _('"{value}" is not a number').format(value=value))
            return None
        if result < minimum or (result == minimum and not allow_minimum):
            message = (
                _("must be a positive number or 0")
                if allow_minimum and minimum == 0
                else _("must be a positive number")
            )
            ctx.error(key, message)
            return None
        return result

    return validate


positive_number = number(0.0, allow_minimum=False)
non_negative_number = number(0.0, allow_minimum=True)


def choice(options: tuple[str, ...]) -> Validator:
    """One of `options`, case-insensitively; returned in lower case."""

    def validate(value, ctx: Ctx, key: str):
        word = str(value).strip().lower() if not isinstance(value, (list, dict)) else ""
        if word not in options:
            ctx.error(
                key,
                _('"{value}" is not one of {options}').format(
                    value=value, options=", ".join(options)
                ),
            )
            return None
        return word

    return validate


_SIZE_UNITS = {
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
_SIZE_RE = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*([A-Za-z]*)\s*")


def parse_size(value: object) -> int | None:
    """`10MB`, `10 Mo`, `7,5M`, `10MiB` or a number of bytes → bytes (MB = 1,000,000)."""
    match = _SIZE_RE.fullmatch(str(value))
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        return None
    return int(float(match.group(1).replace(",", ".")) * _SIZE_UNITS[match.group(2).lower()])


def size(value, ctx: Ctx, key: str):
    """A size in bytes, at least 1 kB: `10MB`, `10 Mo`, `500kB`, `10MiB`, `10485760`."""
    result = None if isinstance(value, (bool, list, dict)) else parse_size(value)
    if result is None:
        ctx.error(
            key, _('"{value}" is not a size like 10MB, 500kB or 10485760').format(value=value)
        )
        return None
    if result < 1000:
        ctx.error(key, _("must be at least 1kB"))
        return None
    return result


def header_text(value, ctx: Ctx, key: str):
    """Text that may go into a mail header: no line break nor control character."""
    if isinstance(value, str) and _CONTROL_RE.search(value):
        ctx.error(
            key,
            _(
                "contains a line break or a control character; in a mail header it could "
                "add headers of its own (header injection)"
            ),
        )
        return None
    return text(value, ctx, key)


def host(value, ctx: Ctx, key: str):
    name = header_text(value, ctx, key)
    if name is not None and (" " in name or "/" in name):
        ctx.error(key, _('"{value}" is not a host name').format(value=name))
        return None
    return name


def path(value, ctx: Ctx, key: str):
    name = header_text(value, ctx, key)
    return None if name is None else Path(name)


_MAILBOX_RE = re.compile(r"(.*?)\s*<([^<>]*)>")


def mailbox(value, ctx: Ctx, key: str):
    """An address with an optional name: `Club des territoires <club@example.org>` →
    email.headerregistry.Address (address in ASCII form: see check_email)."""
    written = header_text(value, ctx, key)
    if written is None:
        return None
    display, addr = "", written
    match = _MAILBOX_RE.fullmatch(written)
    if match:
        display, addr = match.group(1).strip(), match.group(2).strip()
        if len(display) >= 2 and display[0] == display[-1] == '"':
            display = display[1:-1]
    address, why = check_email(addr)
    if address is None:
        ctx.error(key, _('"{value}" is not an e-mail address ({why})').format(value=addr, why=why))
        return None
    from email.headerregistry import Address  # the mail's settings only: not on a build's path

    return Address(display_name=display, addr_spec=address)


_mailboxes = list_of(mailbox)


def mailbox_list(value, ctx: Ctx, key: str):
    """A list of mailboxes, or one text with them separated by commas."""
    if isinstance(value, str):
        value = [item for item in value.split(",") if item.strip()]
    return _mailboxes(value, ctx, key)
