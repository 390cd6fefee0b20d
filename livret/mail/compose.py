"""Stage 4 — one message per recipient: templates in `layouts/mail/` → `EmailMessage` → bytes.

Structure of every message (policy SMTP: CRLF line ends, headers encoded as RFC 2047,
attachment names as RFC 2231):

    multipart/mixed
     ├── multipart/alternative
     │    ├── text/plain  (body.txt)
     │    └── text/html   (body.html, autoescaped)
     └── application/pdf …  (one per document asked for)

A PDF is base64-encoded once per run however many people get it: `PartCache` keeps one
encoded MIME part per (file, sha256, name) with its flattened bytes, and a message is kept
as a list of chunks in which those bytes appear by reference: a 1 MB attachment is neither
re-split into lines, nor copied, nor scanned for dot-stuffing once per recipient.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from pathlib import Path

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from ..errors import LivretError, Problem, display_path
from .attachments import Attachment, Edition, campaign_id, message_id
from .recipients import Recipient, line_break_problem
from .settings import Settings


class _Policy(email_policy.EmailPolicy):
    """policy.SMTP that parses and folds each distinct header value once per run.

    The header registry's parser and folder cost more than everything else in building a
    message; most headers (From, Subject, Content-Type…) are the same in every message.
    Only plain str values are cached, keyed by the value itself, so the result is identical.
    """

    def header_store_parse(self, name, value):
        if type(value) is str and len(value.splitlines()) <= 1:
            return (name, _parsed_header(self, name, value))
        return super().header_store_parse(name, value)

    def fold_binary(self, name, value):
        folded = getattr(value, "_livret_folded", None)
        if folded is None:
            folded = super().fold_binary(name, value)
            if getattr(value, "_livret_cached", False):
                value._livret_folded = folded
        return folded


@functools.lru_cache(maxsize=1024)
def _parsed_header(policy, name, value):
    header = policy.header_factory(name, value)
    header._livret_cached = True  # shared between messages: safe, headers are immutable
    return header


POLICY = _Policy(linesep="\r\n")  # = email.policy.SMTP, plus the caches above
TEMPLATE_NAMES = ("subject.txt", "body.txt", "body.html")
PROJECT = Path(__file__).resolve().parent.parent.parent
DEFAULT_TEMPLATES = PROJECT / "layouts" / "mail"
NBSP = "\u00a0"


def human_size(size: int) -> str:
    """French style, as a reader expects it in the body: 812 ko, 1,2 Mo."""
    if size < 1000:
        return f"{size}{NBSP}octets"
    if size < 1000**2:
        return f"{round(size / 1000)}{NBSP}ko"
    return f"{size / 1000**2:.1f}".replace(".", ",") + f"{NBSP}Mo"


def pages_label(pages: int) -> str:
    return f"{pages}{NBSP}page" + ("s" if pages > 1 else "")


class Templates:
    """subject.txt, body.txt and body.html from one folder; every problem names the file."""

    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder is not None else DEFAULT_TEMPLATES
        self.env = Environment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,  # a typo in a template fails the run, not one mail
            autoescape=select_autoescape(
                enabled_extensions=("html",), default=False, default_for_string=False
            ),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["size"] = human_size
        self.env.filters["pages"] = pages_label
        problems = []
        self.templates = {}
        for name in TEMPLATE_NAMES:
            where = display_path(self.folder / name)
            try:
                self.templates[name] = self.env.get_template(name)
            except TemplateNotFound:
                problems.append(Problem(where, None, None, "mail template not found"))
            except TemplateSyntaxError as exc:
                problems.append(Problem(where, exc.lineno, None, f"template error: {exc.message}"))
        if problems:
            raise LivretError(problems)

    def render(self, context: dict) -> tuple[str, str, str]:
        subject = " ".join(self._render("subject.txt", context).split())
        if not subject:
            raise LivretError(
                Problem(
                    display_path(self.folder / "subject.txt"), None, None, "the subject is empty"
                )
            )
        context = {**context, "subject": subject}
        return subject, self._render("body.txt", context), self._render("body.html", context)

    def _render(self, name: str, context: dict) -> str:
        template = self.templates[name]
        try:
            return template.render(context)
        except TemplateError as exc:
            raise LivretError(
                Problem(
                    display_path(self.folder / name),
                    _template_line(exc, template.filename),
                    None,
                    f"template error: {exc}",
                )
            ) from None


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    # Jinja rewrites tracebacks so that template frames carry the template's own line numbers.
    line, tb = None, exc.__traceback__
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class _CachedPart(MIMEPart):
    wire: bytes  # the part (headers and body) exactly as BytesGenerator writes it
    smtp: bytes  # the same, dot-stuffed for the DATA phase (usually the same object)


class PartCache:
    """One encoded `application/pdf` part per (file, sha256, name), shared by all messages."""

    def __init__(self) -> None:
        self._parts: dict[tuple, _CachedPart] = {}
        self.encoded = 0  # how many times a PDF was actually read and encoded (tests, bench)

    def part(self, att: Attachment) -> _CachedPart:
        key = (att.path, att.sha256, att.filename)
        part = self._parts.get(key)
        if part is None:
            data = att.path.read_bytes()
            # Hash what is encoded, not what was listed: the recipient must get the bytes
            # whose sha256 goes into the campaign id and the journal.
            if hashlib.sha256(data).hexdigest() != att.sha256:
                raise LivretError(
                    Problem(
                        display_path(att.path),
                        None,
                        None,
                        "sha256 differs from output/manifest.json: the file "
                        "changed after the build; run the build again",
                    )
                )
            part = _CachedPart(policy=POLICY)
            # name= on Content-Type too: some mail programs still read only that one.
            part.set_content(
                data,
                "application",
                "pdf",
                disposition="attachment",
                filename=att.filename,
                params={"name": att.filename},
            )
            part.wire = part.as_bytes(policy=POLICY)
            part.smtp = dot_stuff(part.wire)
            self._parts[key] = part
            self.encoded += 1
        return part


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency: a line that starts with "." gets another one.

    Same result as smtplib's `re.sub(rb'(?m)^\\.', b'..', data)` for CRLF text, but
    bytes.replace runs at memchr speed where that regex takes ~6 ms per megabyte.
    """
    out = data.replace(b"\n.", b"\n..")
    return b"." + out if out.startswith(b".") else out


_MARK = b"\0livret-cached-part\0"  # NUL never appears in a generated message


class _Generator(BytesGenerator):
    """BytesGenerator that puts a marker where a cached part goes (see `Composed`).

    `_write` is what flatten() runs for the message and, through clone(), for each subpart;
    a test checks that the joined result equals the stock generator's, byte for byte.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spliced: list[_CachedPart] = []

    def clone(self, fp):
        clone = super().clone(fp)
        clone.spliced = self.spliced
        return clone

    def _write(self, msg):
        if isinstance(msg, _CachedPart):
            self.spliced.append(msg)
            self._fp.write(_MARK)
        else:
            super()._write(msg)


@dataclass(frozen=True)
class Composed:
    """A message as chunks: b"".join(chunks) is the message; cached parts are shared."""

    chunks: tuple[bytes, ...]
    smtp_chunks: tuple[bytes, ...]  # the same, dot-stuffed, for the DATA phase

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def as_bytes(self) -> bytes:
        return b"".join(self.chunks)


def flatten(msg: EmailMessage) -> Composed:
    buf = io.BytesIO()
    gen = _Generator(buf, policy=POLICY)
    gen.flatten(msg)
    pieces = buf.getvalue().split(_MARK)
    assert len(pieces) == len(gen.spliced) + 1, "marker found outside a cached part"
    chunks, smtp = [pieces[0]], [dot_stuff(pieces[0])]
    for part, piece in zip(gen.spliced, pieces[1:]):
        # Every piece starts at a line start (right after a part), so stuffing it alone is
        # the same as stuffing the whole message.
        chunks += [part.wire, piece]
        smtp += [part.smtp, dot_stuff(piece)]
    return Composed(tuple(chunks), tuple(smtp))


def to_bytes(msg: EmailMessage) -> bytes:
    return flatten(msg).as_bytes()


@dataclass(frozen=True)
class Planned:
    """What one recipient gets, before any message is built (small: kept for the whole run)."""

    recipient: Recipient
    attachments: tuple[Attachment, ...]
    campaign: str
    message_id: str

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(a.slug for a in self.attachments)

    def attachments_record(self) -> list[dict]:
        return [{"slug": a.slug, "path": a.path.name, "sha256": a.sha256} for a in self.attachments]


class Composer:
    def __init__(
        self,
        edition: Edition,
        settings: Settings,
        templates: Templates,
        attachments: dict[str, Attachment],
        label: str = "",
        parts: PartCache | None = None,
    ):
        self.edition = edition
        self.settings = settings
        self.templates = templates
        self.attachments = attachments
        self.label = label
        self.parts = parts if parts is not None else PartCache()
        self.sender = settings.sender or Address(
            display_name=edition.publisher, addr_spec=edition.contact_email
        )
        self.domain = self.sender.domain
        # Parsed once: the header registry's parser is the slowest part of building a message.
        self._from_header = POLICY.header_factory("From", self.sender)
        self._reply_to_header = (
            POLICY.header_factory("Reply-To", settings.reply_to)
            if settings.reply_to is not None
            else None
        )

    def plan(self, recipient: Recipient) -> Planned:
        atts = tuple(self.attachments[s] for s in recipient.send)
        campaign = campaign_id(self.edition.slug, self.label, atts)
        return Planned(recipient, atts, campaign, message_id(campaign, recipient.key, self.domain))

    def context(self, planned: Planned) -> dict:
        r = planned.recipient
        return {
            "recipient": {"email": r.email, "name": r.name, "organisation": r.organisation},
            "edition": self.edition.context(),
            "attachments": [
                {
                    "slug": a.slug,
                    "title": a.title,
                    "filename": a.filename,
                    "pages": a.pages,
                    "size": a.size,
                }
                for a in planned.attachments
            ],
            "total_size": sum(a.size for a in planned.attachments),
            "sender": {"name": self.sender.display_name, "email": self.sender.addr_spec},
        }

    def message(self, planned: Planned, now: datetime | None = None) -> EmailMessage:
        subject, text, html = self.templates.render(self.context(planned))
        return self._assemble(planned, subject, text, html, now)

    def compose(self, planned: Planned, now: datetime | None = None) -> Composed:
        return flatten(self.message(planned, now))

    def render(self, planned: Planned, now: datetime | None = None) -> bytes:
        return self.compose(planned, now).as_bytes()

    def size_bound(self, planned: Planned) -> int:
        """An upper bound of len(render(planned)), at a fraction of its cost.

        The size limit must be checked for every message before connecting, but building
        each message twice would cost as much as sending it to a nearby relay. The
        attachments' encoded size is exact (cached); the rest is bounded: quoted-printable
        and RFC 2047 turn a UTF-8 byte into at most 3 characters, plus soft line breaks.
        Rendering the templates here also means a template error shows up before sending.
        """
        subject, text, html = self.templates.render(self.context(planned))
        r = planned.recipient
        bodies = len(text.encode()) + len(html.encode())
        # In a header, encoded-word and folding overhead can bring it close to 4 per byte.
        headers = sum(len(s.encode()) for s in (subject, r.name, r.email, planned.message_id))
        fixed = sum(len(self.parts.part(a).wire) + 64 for a in planned.attachments)
        return fixed + bodies * 33 // 10 + headers * 4 + self._header_overhead

    @property
    def _header_overhead(self) -> int:
        addresses = [self.sender, self.settings.reply_to]
        return 4096 + 4 * sum(len(str(a).encode()) for a in addresses if a is not None)

    def _assemble(self, planned, subject, text, html, now) -> EmailMessage:
        why = line_break_problem(subject)
        if why:  # collapsed already; a stray control character still has no place in a header
            raise LivretError(
                Problem(display_path(self.templates.folder / "subject.txt"), None, "subject", why)
            )
        # Fixed boundaries spare the generator a scan of every part for a collision; "=_"
        # can appear neither in base64 nor in quoted-printable, so none can collide. One per
        # campaign rather than per message: the Content-Type headers are then shared too.
        token = planned.campaign
        # Quoted-printable keeps the message 7-bit: no reliance on the relay's 8BITMIME.
        plain = MIMEPart(policy=POLICY)
        plain.set_content(text, cte="quoted-printable")
        rich = MIMEPart(policy=POLICY)
        rich.set_content(html, subtype="html", cte="quoted-printable")
        alternative = MIMEPart(policy=POLICY)
        alternative["Content-Type"] = f'multipart/alternative; boundary="=_livret_alt_{token}"'
        alternative.set_payload([plain, rich])

        msg = EmailMessage(policy=POLICY)
        msg["From"] = self._from_header
        msg["To"] = planned.recipient.address
        if self._reply_to_header is not None:
            msg["Reply-To"] = self._reply_to_header
        msg["Subject"] = subject
        msg["Date"] = format_datetime((now or datetime.now()).astimezone())
        msg["Message-ID"] = planned.message_id
        msg["Content-Language"] = self.edition.language
        msg["MIME-Version"] = "1.0"
        msg["Content-Type"] = f'multipart/mixed; boundary="=_livret_mixed_{token}"'
        msg.set_payload([alternative, *(self.parts.part(a) for a in planned.attachments)])
        return msg
