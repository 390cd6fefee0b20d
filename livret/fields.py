"""One validator per kind of field, MkDocs-style, but each reports file, line and field and
never stops validation: it returns the cleaned value or records a Problem and returns None.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from .errors import Collector
from .i18n import _
from .reader import Located, quote

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
URL_RE = re.compile(r"^(https?)://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?::\d+)?(?:[/?#]\S*)?$")


def is_email(value: str) -> bool:
    return bool(EMAIL_RE.match(value))


def is_url(value: str) -> bool:
    return bool(URL_RE.match(value))


def _type_name(value) -> str:
    return {
        str: "text",
        int: "a number",
        float: "a number",
        bool: "true/false",
        list: "a list",
        dict: "a mapping (field: value)",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


class Ctx:
    """Where a value comes from: the located file and the dotted field name."""

    def __init__(self, src: Located, problems: Collector, prefix: str = ""):
        self.src, self.problems, self.prefix = src, problems, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> None:
        dotted = self.name(key)
        self.problems.error(self.src.path, self.src.line(dotted), dotted, message)

    def warning(self, key: str, message: str) -> None:
        dotted = self.name(key)
        self.problems.warning(self.src.path, self.src.line(dotted), dotted, message)

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
        ctx.error(key, f"expected text, got {_type_name(value)}")
        return None
    value = " ".join(str(value).split())
    if not value:
        ctx.error(key, "expected text, got an empty value")
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
        ctx.error(key, f"expected a list of items, got {_type_name(value)}")
        return None
    items = [text(v, ctx, f"{key}.{i}") for i, v in enumerate(value)]
    return None if None in items else tuple(items)


def email(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is not None and not is_email(value):
        ctx.error(key, f'"{value}" is not an e-mail address')
        return None
    return value


def slug(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is not None and not SLUG_RE.match(value):
        ctx.error(key, f'"{value}" is not a slug (lower-case letters, digits and "-")')
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
    for i, s in enumerate(ok):
        if s in seen:
            ctx.error(f"{key}.{i}", f'duplicate slug "{s}"')
        seen.add(s)
    return ok


def colour(value, ctx: Ctx, key: str):
    value = text(value, ctx, key)
    if value is not None and not COLOUR_RE.match(value):
        ctx.error(key, f'"{value}" is not a colour: expected "#rrggbb"')
        return None
    return value


def integer(value, ctx: Ctx, key: str):
    text_value = str(value).strip()
    if isinstance(value, (list, dict)) or not text_value.isdigit() or int(text_value) < 1:
        ctx.error(
            key,
            f"expected a whole number ≥ 1, got {_type_name(value) if isinstance(value, (list, dict)) else repr(value)}",
        )
        return None
    return int(text_value)


def date(value, ctx: Ctx, key: str):
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        ctx.error(key, f'"{value}" is not a date: expected YYYY-MM-DD')
        return None


def timestamp(value, ctx: Ctx, key: str):
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        stamp = None
    if stamp is None or stamp.tzinfo is None:
        ctx.error(
            key,
            f'"{value}" is not a date and time with its time zone: '
            "expected e.g. 2023-11-27T09:00:00+01:00",
        )
        return None
    return stamp


def mapping(value, ctx: Ctx, key: str):
    if not isinstance(value, dict):
        ctx.error(key, f"expected a mapping (field: value lines), got {_type_name(value)}")
        return None
    return value


def records(spec: dict, one: str, example: str, make, allow_empty: bool = False) -> Validator:
    """A validator for a list of mappings (people, groups, initiatives), each checked by `spec`."""

    def validate(value, ctx: Ctx, key: str):
        if value is None and allow_empty:
            return ()
        if not isinstance(value, list) or not (value or allow_empty):
            ctx.error(key, f"expected a list of {one}s ({example})")
            return None
        out, ok = [], True
        for i, item in enumerate(value):
            data = mapping(item, ctx, f"{key}.{i}")
            clean = (
                None
                if data is None
                else check_fields(data, ctx.sub(f"{key}.{i}"), spec, f"a {one}")
            )
            if clean is None:
                ok = False
            else:
                out.append(make(**clean))
        return tuple(out) if ok else None

    return validate


def check_fields(
    data: dict, ctx: Ctx, spec: dict[str, tuple[Validator, bool]], where: str
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
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            ctx.error(key, f"unknown field in {where}{hint}; expected one of: {', '.join(spec)}")
            ok = False
    for key, (validator, required) in spec.items():
        if key not in data or data[key] is None:
            if required:
                ctx.error(key, f"required field is missing in {where}")
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
