"""Stage 1 — the recipient list: a CSV file → checked `Recipient`s.

The list usually comes out of a spreadsheet, so the reader accepts what spreadsheets write
(`,` or `;` between values, a UTF-8 byte order mark, blank trailing rows) and refuses, all at
once and before anything is sent, what would make a wrong or dangerous message: a bad
address, an unknown document, a duplicate, a line break inside a value (header injection).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path

from ..errors import Collector
from ..reader import read_text

COLUMNS = ("email", "name", "organisation", "send")
REQUIRED = ("email", "name", "send")
BOOKLET = "booklet"

# RFC 5322 dot-atom; quoted local parts ("john doe"@…) are legal but so rare in a mailing
# list that one is far more likely a copy-paste accident than a real address.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*\Z")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
# Characters that end a header line somewhere: CR and LF for SMTP, and the other Unicode
# line breaks because str.splitlines() — used by parts of the email package — splits on them.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Recipient:
    line: int  # line of the row in the CSV file (its first line if a value spans several)
    email: str  # as written, except an internationalised domain turned into its ASCII form
    name: str
    organisation: str
    send: tuple[str, ...]  # "booklet" first, then themes in the edition's order

    @property
    def key(self) -> str:
        """What makes two rows the same person: the address, case-insensitively."""
        return self.email.lower()

    @property
    def address(self) -> Address:
        return Address(display_name=self.name, addr_spec=self.email)


def check_address(value: str) -> tuple[str | None, str | None]:
    """(address, None) when `value` is a usable address, else (None, why not).

    The domain may be internationalised (élysée.fr); it is returned in its ASCII (IDNA) form
    so that every header and SMTP command stays ASCII.
    """
    if not value:
        return None, "is empty"
    if "<" in value or ">" in value:
        return None, f'"{value}" looks like "Name <address>": put only the address here'
    if any(c.isspace() for c in value):
        return None, f'"{value}" contains a space'
    if value.count("@") != 1:
        return None, f'"{value}" must contain exactly one @'
    local, domain = value.split("@")
    if not local.isascii():
        return None, (
            f'"{value}": accents before the @ are not supported (few servers accept them)'
        )
    if not _LOCAL.match(local) or len(local) > 64:
        return None, f'"{value}": the part before the @ is not a valid address'
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return None, f'"{value}": the domain is not a valid name'
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        return None, f'"{value}": the domain after the @ is not a valid name (like example.org)'
    address = f"{local}@{ascii_domain}"
    if len(address) > 254:
        return None, f'"{value}" is longer than 254 characters'
    return address, None


def line_break_problem(value: str) -> str | None:
    """Why `value` cannot go into a mail header, or None."""
    if _LINE_BREAKS.search(value):
        return (
            "contains a line break; it would end the mail header and could add "
            "headers of its own (header injection)"
        )
    if _CONTROL.search(value):
        return "contains a control character"
    return None


def read_recipients(
    path: Path, slugs: Sequence[str], warnings: list | None = None
) -> list[Recipient]:
    """Read and check the list; raise `LivretError` with every problem if any row is bad.

    `slugs` are the documents a row may ask for: "booklet" and the theme slugs, in the order
    attachments are to appear. Warnings (ignored columns) are appended to `warnings`.
    """
    problems = Collector()
    text = read_text(
        path, problems, "the recipient list", 'in the spreadsheet, save as "CSV UTF-8"'
    )
    if text is None:
        problems.raise_if_errors()
    rows = _rows(text, path, problems)
    recipients = _check_rows(rows, path, list(slugs), problems)
    if not recipients and not problems.has_errors:
        problems.error(path, None, None, "no recipients: the file has no row after the header")
    problems.raise_if_errors()
    if warnings is not None:
        warnings.extend(problems.problems)
    return recipients


def _delimiter(header_line: str) -> str:
    """The separator that splits the header into the most known column names.

    Sniffing the data rows is unreliable (names contain commas); the header is plain words.
    """

    def known(sep: str) -> int:
        return sum(1 for c in header_line.split(sep) if c.strip().strip('"').lower() in COLUMNS)

    return max((",", ";", "\t"), key=lambda sep: (known(sep), sep == ","))


def _rows(text: str, path: Path, problems: Collector) -> Iterable[tuple[int, dict, int]]:
    """(line, {column: value}, number of values) for each non-blank row; header checked."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    header_line = 0
    header: list[str] | None = None
    last = 0
    try:
        for values in reader:
            start, last = last + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank line, or a row of empty cells left by a spreadsheet
            if header is None:
                header_line = start
                header = _check_header(values, path, start, problems)
                if header is None:
                    return
                continue
            row = {}
            for column, value in zip(header, values):
                if column is not None:
                    row[column] = value
            extra = [v for v in values[len(header) :] if v.strip()]
            if extra:
                problems.error(
                    path,
                    start,
                    None,
                    f"{len(values)} values but the header (line {header_line}) has "
                    f"{len(header)} columns; put quotes around a value that contains "
                    "the separator",
                )
            yield start, row, len(values)
    except csv.Error as exc:
        problems.error(path, reader.line_num, None, f"not a valid CSV file: {exc}")
    if header is None and not problems.has_errors:
        problems.error(
            path,
            None,
            None,
            f"empty file: the first line must name the columns {', '.join(COLUMNS)}",
        )


def _check_header(values: list[str], path: Path, line: int, problems: Collector):
    header: list[str | None] = []
    seen: set[str] = set()
    for value in values:
        name = value.strip().lower()
        if name in COLUMNS:
            if name in seen:
                problems.error(path, line, name, "column given twice")
            seen.add(name)
            header.append(name)
        else:
            header.append(None)
            if name:
                problems.warning(
                    path,
                    line,
                    None,
                    f'column "{value.strip()}" is ignored (known columns: {", ".join(COLUMNS)})',
                )
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        for column in missing:
            problems.error(
                path,
                line,
                column,
                f"missing column (the header line must name {', '.join(REQUIRED)}"
                f" and, optionally, organisation; found: "
                f"{', '.join(v.strip() for v in values if v.strip()) or 'nothing'})",
            )
        return None
    return header


def _check_rows(rows, path: Path, slugs: list[str], problems: Collector) -> list[Recipient]:
    out: list[Recipient] = []
    first_seen: dict[str, int] = {}
    for line, row, _count in rows:
        bad = False
        for column in COLUMNS:
            why = line_break_problem(row.get(column, ""))
            if why:
                problems.error(path, line, column, why)
                bad = True
        if bad:
            continue
        email, why = check_address(row.get("email", "").strip())
        if why:
            problems.error(path, line, "email", f"invalid address: {why}")
        send = _check_send(row.get("send", ""), path, line, slugs, problems)
        if email is not None:
            key = email.lower()
            if key in first_seen:
                problems.error(
                    path,
                    line,
                    "email",
                    f"{email} is already on line {first_seen[key]} "
                    "(addresses are compared without regard to case)",
                )
                continue
            first_seen[key] = line
        if email is None or send is None:
            continue
        out.append(
            Recipient(
                line=line,
                email=email,
                name=" ".join(row.get("name", "").split()),
                organisation=" ".join(row.get("organisation", "").split()),
                send=send,
            )
        )
    return out


def _check_send(
    value: str, path: Path, line: int, slugs: list[str], problems: Collector
) -> tuple[str, ...] | None:
    # Spaces separate documents; commas too, because people type "booklet, mobilites".
    words = [w.lower() for w in re.split(r"[\s,;]+", value) if w]
    if not words:
        problems.error(
            path, line, "send", f"empty: name at least one document among {', '.join(slugs)}"
        )
        return None
    unknown = [w for w in words if w not in slugs]
    for word in unknown:
        close = difflib.get_close_matches(word, slugs, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        problems.error(
            path, line, "send", f'unknown document "{word}"{hint}; valid: {", ".join(slugs)}'
        )
    if unknown:
        return None
    return tuple(s for s in slugs if s in words)
