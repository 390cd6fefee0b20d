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
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path

from ..errors import Collector
from ..i18n import _
from ..reading.fields import check_email
from ..reading.reader import read_text

COLUMNS = ("email", "name", "organisation", "send")
REQUIRED = ("email", "name", "send")
BOOKLET = "booklet"

# Column names as people write them, French or English, compared without case or accents.
ALIASES = {
    "email": ("email", "e-mail", "courriel", "mail", "adresse e-mail"),
    "name": ("name", "nom"),
    "organisation": ("organisation", "organization", "structure"),
    "send": ("send", "envoi", "envoyer", "documents"),
}
_COLUMN_OF = {alias: column for column, names in ALIASES.items() for alias in names}
# The names a French header uses, to name the columns as the file does.
FRENCH = {"email": "courriel", "name": "nom", "organisation": "organisation", "send": "envoi"}
_FRENCH_ALIASES = {"courriel", "adresse e-mail", "nom", "envoi", "envoyer", "structure"}
# Document names as people write them: "livret" is the booklet.
SYNONYMS = {"livret": BOOKLET}
# Characters that end a header line somewhere: CR and LF for SMTP, and the other Unicode
# line breaks because str.splitlines() — used by parts of the email package — splits on them.
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
# An RFC 2047 encoded word (=?charset?q?…?= or =?charset?b?…?=): the email package decodes it
# when a header is set and writes what it decodes to, CR LF included.
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")


def fold(word: str) -> str:
    """Lower case, without accents, spaces collapsed: "Courriel", "E-MAIL", "Envoi " → key."""
    decomposed = unicodedata.normalize("NFKD", word.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@dataclass(frozen=True)
class Recipient:
    line: int  # line of the row in the CSV file (its first line if a value spans several)
    email: str  # as written, except an internationalised domain turned into its ASCII form
    name: str
    organisation: str
    send: tuple[str, ...]  # "booklet" first, then themes in the edition's order
    # The file's own names of the columns email, name, organisation, send ("Courriel"…).
    labels: tuple[str, ...] = COLUMNS

    def label(self, column: str) -> str:
        return self.labels[COLUMNS.index(column)]

    @property
    def key(self) -> str:
        """What makes two rows the same person: the address, case-insensitively."""
        return self.email.lower()

    @property
    def address(self) -> Address:
        return Address(display_name=self.name, addr_spec=self.email)


def check_address(value: str) -> tuple[str | None, str | None]:
    """(address, None) when `value` is a usable address, else (None, why not): livret's one
    validator (fields.check_email), after two checks that explain a spreadsheet's usual
    slips better than a syntax error would."""
    if not value:
        return None, _("is empty")
    if "<" in value or ">" in value:
        return None, _('"{value}" looks like "Name <address>": put only the address here').format(
            value=value
        )
    address, why = check_email(value)
    if address is None:
        return None, _('"{value}": {why}').format(value=value, why=why)
    return address, None


def line_break_problem(value: str) -> str | None:
    """Why `value` cannot go into a mail header, or None."""
    if _LINE_BREAKS.search(value):
        return _(
            "contains a line break; it would end the mail header and could add "
            "headers of its own (header injection)"
        )
    if _CONTROL.search(value):
        return _("contains a control character")
    word = _ENCODED_WORD.search(value)
    if word:
        return _(
            "contains an encoded word ({word}): a mail program would decode it, and what it "
            "hides could add headers of its own (header injection); write the text as it "
            "should read"
        ).format(word=word.group(0)[:40])
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
        path, problems, _("the recipient list"), _('in the spreadsheet, save as "CSV UTF-8"')
    )
    if text is None:
        problems.raise_if_errors()
        return []
    labels: dict[str, str] = {}
    rows = _rows(text, path, problems, labels)
    recipients = _check_rows(rows, path, list(slugs), problems, labels)
    if not recipients and not problems.has_errors:
        problems.error(path, None, None, _("no recipients: the file has no row after the header"))
    problems.raise_if_errors()
    if warnings is not None:
        warnings.extend(problems.problems)
    return recipients


def _delimiter(header_line: str) -> str:
    """The separator that splits the header into the most known column names.

    Sniffing the data rows is unreliable (names contain commas); the header is plain words.
    """

    def known(sep: str) -> int:
        return sum(1 for c in header_line.split(sep) if fold(c.strip().strip('"')) in _COLUMN_OF)

    return max((",", ";", "\t"), key=lambda sep: (known(sep), sep == ","))


def _rows(
    text: str, path: Path, problems: Collector, labels: dict[str, str]
) -> Iterable[tuple[int, dict, int]]:
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
                header = _check_header(values, path, start, problems, labels)
                if header is None:
                    return
                continue
            row = {}
            for column, value in zip(header, values, strict=False):
                if column is not None:
                    row[column] = value
            extra = [v for v in values[len(header) :] if v.strip()]
            if extra:
                problems.error(
                    path,
                    start,
                    None,
                    _(
                        "{values} values but the header (line {line}) has {columns} columns; "
                        "put quotes around a value that contains the separator"
                    ).format(values=len(values), line=header_line, columns=len(header)),
                )
            yield start, row, len(values)
    except csv.Error as exc:
        problems.error(
            path, reader.line_num, None, _("not a valid CSV file: {error}").format(error=exc)
        )
    if header is None and not problems.has_errors:
        problems.error(
            path,
            None,
            None,
            _("empty file: the first line must name the columns {columns}").format(
                columns=", ".join(COLUMNS)
            ),
        )


def _check_header(
    values: list[str], path: Path, line: int, problems: Collector, labels: dict[str, str]
):
    """The canonical column of each value of the header line (None: ignored); `labels` gets
    the file's own name of each column, so that problems name the columns as the file does
    (a column the file lacks is named in the file's language: courriel, nom, envoi…)."""
    french = any(fold(v) in _FRENCH_ALIASES for v in values)
    for column in COLUMNS:
        labels[column] = FRENCH[column] if french else column
    header: list[str | None] = [_COLUMN_OF.get(fold(value)) for value in values]
    seen: set[str] = set()
    for value, name in zip(values, header, strict=True):
        if name is not None:
            if name in seen:
                problems.error(path, line, value.strip(), _("column given twice"))
            seen.add(name)
            labels[name] = value.strip()
    known = ", ".join(labels[c] for c in COLUMNS)
    for value, name in zip(values, header, strict=True):
        if name is None and value.strip():
            problems.warning(
                path,
                line,
                None,
                _('column "{column}" is ignored (known columns: {columns})').format(
                    column=value.strip(), columns=known
                ),
            )
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        for column in missing:
            problems.error(
                path,
                line,
                labels[column],
                _(
                    "missing column (the header line must name {required} and, optionally, "
                    "{optional}; found: {found})"
                ).format(
                    required=", ".join(labels[c] for c in REQUIRED),
                    optional=labels["organisation"],
                    found=", ".join(v.strip() for v in values if v.strip()) or _("nothing"),
                ),
            )
        return None
    return header


def _check_rows(
    rows, path: Path, slugs: list[str], problems: Collector, labels: dict[str, str]
) -> list[Recipient]:
    out: list[Recipient] = []
    first_seen: dict[str, int] = {}
    for line, row, _count in rows:
        bad = False
        for column in COLUMNS:
            why = line_break_problem(row.get(column, ""))
            if why:
                problems.error(path, line, labels[column], why)
                bad = True
        if bad:
            continue
        email, why = check_address(row.get("email", "").strip())
        if why:
            problems.error(path, line, labels["email"], _("invalid address: {why}").format(why=why))
        send = _check_send(row.get("send", ""), path, line, slugs, problems, labels["send"])
        if email is not None:
            key = email.lower()
            if key in first_seen:
                problems.error(
                    path,
                    line,
                    labels["email"],
                    _(
                        "{email} is already on line {line} (addresses are compared without "
                        "regard to case)"
                    ).format(email=email, line=first_seen[key]),
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
                labels=tuple(labels[c] for c in COLUMNS),
            )
        )
    return out


def _check_send(
    value: str, path: Path, line: int, slugs: list[str], problems: Collector, label: str
) -> tuple[str, ...] | None:
    # Spaces separate documents; commas too, because people type "booklet, mobilites".
    # Case and accents do not matter ("Mobilités", "Livret"); "livret" is the booklet.
    words = [SYNONYMS.get(fold(w), fold(w)) for w in re.split(r"[\s,;]+", value) if w]
    if not words:
        problems.error(
            path,
            line,
            label,
            _("empty: name at least one document among {documents}").format(
                documents=", ".join(slugs)
            ),
        )
        return None
    unknown = [w for w in words if w not in slugs]
    for word in unknown:
        close = difflib.get_close_matches(word, slugs, n=1)
        message = (
            _('unknown document "{word}" (did you mean "{close}"?); valid: {documents}')
            if close
            else _('unknown document "{word}"; valid: {documents}')
        )
        problems.error(
            path,
            line,
            label,
            message.format(word=word, close=close[0] if close else "", documents=", ".join(slugs)),
        )
    if unknown:
        return None
    return tuple(s for s in slugs if s in words)
