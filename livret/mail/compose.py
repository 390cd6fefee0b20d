"""Stage 4 — one message per recipient: templates in `layouts/mail/` → `EmailMessage` → bytes.

Structure of every message (policy SMTP: CRLF line ends, headers encoded as RFC 2047,
attachment names as RFC 2231):

    multipart/mixed
     ├── multipart/alternative
     │    ├── text/plain  (body.txt)
     │    └── text/html   (body.html, autoescaped)
     └── application/pdf …  (one per document asked for)

A PDF is read, checked, base64-encoded and flattened once per run however many people get
it: `PartCache` keeps one MIME part per (file, sha256, name) and its bytes (`as_bytes()`).
Each message is the standard library's own output, produced through its public API only
(EmailMessage, policy.SMTP, as_bytes(); nothing overridden): its headers and its text parts
are flattened by `as_bytes()`, and the parts are joined as RFC 2046 says and as
`email.generator` does — "--boundary" lines around each part — so that the attachments'
bytes are reused rather than flattened again for every recipient (a test checks that the
result is byte for byte what `as_bytes()` gives for the whole message).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from .. import i18n
from ..errors import LivretError, Problem, display_path
from ..i18n import _
from ..reading.fields import check_email
from ..reading.reader import TODO_RE
from .attachments import Attachment, Edition, campaign_id, message_id
from .recipients import Recipient, line_break_problem
from .settings import Settings
from .suppress import Unsubscribe


class _HeaderFactory(HeaderRegistry):
    """The email package's header factory (policy.header_factory), each header class made
    once: the standard registry builds a new class for every header it parses, a tenth of the
    time spent composing a message."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


# CRLF line ends, RFC 2047 headers, RFC 2231 parameters. refold_source="none": a header set
# as written (set_raw: only List-Unsubscribe, whose URLs a mail provider reads as they are and
# must never find as RFC 2047 encoded words) is written as given, folded by us.
POLICY = email_policy.SMTP.clone(refold_source="none", header_factory=_HeaderFactory())
TEMPLATE_NAMES = ("subject.txt", "body.txt", "body.html")
NBSP = "\u00a0"


def human_size(size: int) -> str:
    """French style, as a reader expects it in the body: 812 ko, 1,2 Mo."""
    if size < 1000:
        return f"{size}{NBSP}octets"
    if size < 1000**2:
        return f"{round(size / 1000)}{NBSP}ko"
    return f"{size / 1000**2:.1f}".replace(".", ",") + f"{NBSP}Mo"


def display_size(size: int) -> str:
    """A size for the terminal, in the interface's language: 812 ko, 1,2 Mo / 812 kB, 1.2 MB."""
    return i18n.size(size)


def pages_label(pages: int) -> str:
    return f"{pages}{NBSP}page" + ("s" if pages > 1 else "")


def default_folders(content: Path | str = "content") -> list[Path]:
    """`layouts/mail/` of the design (livret.rendering.design): the project's own, beside the
    content folder, file by file over the one shipped with livret."""
    from ..rendering.design import for_content

    return [folder / "mail" for folder in for_content(content).layouts]


class Templates:
    """subject.txt, body.txt and body.html from one folder (or the design's `layouts/mail/`);
    every problem names the file."""

    def __init__(self, folder: Path | None = None, content: Path | str = "content"):
        self.folders = [Path(folder)] if folder is not None else default_folders(content)
        self.folder = self.folders[0]
        self.env = Environment(
            loader=FileSystemLoader([str(f) for f in self.folders]),
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
                problems.append(Problem(where, None, None, _("mail template not found")))
            except TemplateSyntaxError as exc:
                problems.append(
                    Problem(
                        where,
                        exc.lineno,
                        None,
                        _("template error: {error}").format(error=exc.message),
                    )
                )
        if problems:
            raise LivretError(problems)

    def where(self, name: str) -> str:
        """The file a template was read from, as people type it."""
        template = self.templates.get(name)
        filename = template.filename if template is not None else None
        return display_path(filename or self.folder / name)

    def line_of(self, name: str, pattern) -> int | None:
        """The first line of a template's own file that matches `pattern`, if any."""
        template = self.templates.get(name)
        if template is None or not template.filename:
            return None
        try:
            text = Path(template.filename).read_text(encoding="utf-8")
        except OSError:
            return None
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                return n
        return None

    def render(self, context: dict) -> tuple[str, str, str]:
        subject = " ".join(self._render("subject.txt", context).split())
        if not subject:
            raise LivretError(
                Problem(self.where("subject.txt"), None, None, _("the subject is empty"))
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
                    self.where(name),
                    _template_line(exc, template.filename),
                    None,
                    _("template error: {error}").format(error=exc),
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


class PartCache:
    """One `application/pdf` part per (file, sha256, name), shared by all the messages."""

    def __init__(self) -> None:
        self._parts: dict[tuple[Path, str, str], tuple[MIMEPart, bytes]] = {}
        self.encoded = 0  # how many times a PDF was actually read and encoded (tests, bench)

    def part(self, att: Attachment) -> MIMEPart:
        return self._entry(att)[0]

    def flattened(self, att: Attachment) -> bytes:
        """The part (headers and base64 body) as it appears in a message."""
        return self._entry(att)[1]

    def encoded_size(self, att: Attachment) -> int:
        return len(self._entry(att)[1])

    def _entry(self, att: Attachment) -> tuple[MIMEPart, bytes]:
        key = (att.path, att.sha256, att.filename)
        entry = self._parts.get(key)
        if entry is None:
            data = att.path.read_bytes()
            # Hash what is encoded, not what was listed: the recipient must get the bytes
            # whose sha256 goes into the campaign id and the journal.
            if hashlib.sha256(data).hexdigest() != att.sha256:
                raise LivretError(
                    Problem(
                        display_path(att.path),
                        None,
                        None,
                        _(
                            "sha256 differs from output/manifest.json: the file changed "
                            "after the build; run the build again"
                        ),
                    )
                )
            part = MIMEPart(policy=POLICY)
            # name= on Content-Type too: some mail programs still read only that one.
            part.set_content(
                data,
                "application",
                "pdf",
                disposition="attachment",
                filename=att.filename,
                params={"name": att.filename},
            )
            entry = (part, part.as_bytes(policy=POLICY))
            self._parts[key] = entry
            self.encoded += 1
        return entry


def _one_header(folded: bytes) -> bool:
    """A folded header is one header: CR LF only between lines, and every line after the
    first a continuation (it starts with a space or a tab)."""
    lines = folded.split(b"\r\n")
    if lines[-1] != b"" or any(b"\r" in line or b"\n" in line for line in lines):
        return False
    return all(line[:1] in (b" ", b"\t") for line in lines[1:-1])


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency: a line that starts with "." gets another one.

    What smtplib's `data()` does with a regex, at memchr speed (bytes.replace): the message
    is sent with `send()` so that the journal can record "sending" before its end marker.
    """
    out = data.replace(b"\n.", b"\n..")
    return b"." + out if out.startswith(b".") else out


@dataclass(frozen=True)
class Composed:
    """One message, flattened: its bytes as the recipient gets them."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def as_bytes(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class Planned:
    """What one recipient gets, before any message is built (small: kept for the whole run)."""

    recipient: Recipient
    attachments: tuple[Attachment, ...]
    campaign: str
    message_id: str
    to: str  # the envelope recipient: the person's address, or --to's in a test run

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
        test_to: str | None = None,
        source: str = "",
        unsubscribe: Unsubscribe | None = None,
        link_base: str | None = None,
    ):
        self.edition = edition
        self.source = source or _("the recipient list")  # the list's file, for problems
        self.unsubscribe = unsubscribe or Unsubscribe()
        self.excluded = 0  # suppressed addresses left out of this run (for the summaries)
        # --link: links to the published PDFs (under this URL) instead of attachments.
        self.link_base = link_base.rstrip("/") + "/" if link_base else None
        # --to: every message goes to this one address, as a campaign of its own, so that
        # the real send afterwards still reaches everyone (the journal keys on the campaign).
        self.test_to = test_to
        self.settings = settings
        self.templates = templates
        self.attachments = attachments
        self.label = label
        self.parts = parts if parts is not None else PartCache()
        self.sender = settings.sender or Address(
            display_name=edition.publisher,
            addr_spec=check_email(edition.contact_email)[0] or edition.contact_email,
        )
        self.domain = self.sender.domain
        self._headers: dict[tuple[str, str], Any] = {}
        self._folded: dict[tuple[str, str], bytes] = {}
        self._bounds: dict[str, int] = {}  # size_bound() of each message, once
        # Template → a rendering that still holds « À COMPLÉTER » (found by size_bound()).
        self.unfinished: dict[str, str] = {}

    def plan(self, recipient: Recipient) -> Planned:
        atts = tuple(self.attachments[s] for s in recipient.send)
        label = self.label if self.link_base is None else f"link:{self.link_base}:{self.label}"
        if self.test_to is not None:
            label = f"test:{self.test_to}:{label}"
        campaign = campaign_id(self.edition.slug, label, atts)
        return Planned(
            recipient,
            atts,
            campaign,
            message_id(campaign, recipient.key, self.domain),
            self.test_to or recipient.email,
        )

    def to_address(self, planned: Planned) -> Address:
        if self.test_to is None:
            return planned.recipient.address
        return Address(addr_spec=self.test_to)

    def link(self, att: Attachment) -> str | None:
        """The address of a published PDF (--link), or None when it is attached."""
        return self.link_base + quote(att.path.name) if self.link_base else None

    def attached(self, planned: Planned) -> tuple[Attachment, ...]:
        """The PDFs that travel inside the message: none with --link."""
        return () if self.link_base else planned.attachments

    def context(self, planned: Planned) -> dict:
        r = planned.recipient
        return {
            "recipient": {"email": r.email, "name": r.name, "organisation": r.organisation},
            "unsubscribe": (
                self.unsubscribe.for_address(r.email) if self.unsubscribe.active else None
            ),
            "privacy_url": self.settings.privacy_url,
            "linked": self.link_base is not None,
            "edition": self.edition.context(),
            "attachments": [
                {
                    "slug": a.slug,
                    "title": a.title,
                    "filename": a.filename,
                    "pages": a.pages,
                    "size": a.size,
                    "url": self.link(a),
                }
                for a in planned.attachments
            ],
            "total_size": sum(a.size for a in planned.attachments),
            "sender": {"name": self.sender.display_name, "email": self.sender.addr_spec},
        }

    def message(self, planned: Planned, now: datetime | None = None) -> EmailMessage:
        """The whole message as an EmailMessage (compose() gives its bytes)."""
        subject, text, html = self.templates.render(self.context(planned))
        msg, alternative = self._assemble(planned, subject, text, html, now)
        msg.set_payload([alternative, *(self.parts.part(a) for a in self.attached(planned))])
        return msg

    def compose(self, planned: Planned, now: datetime | None = None) -> Composed:
        """message(planned).as_bytes(), with each attachment's bytes flattened once per run."""
        subject, text, html = self.templates.render(self.context(planned))
        head, alternative = self._assemble(planned, subject, text, html, now)
        nl = POLICY.linesep.encode()
        dashes = b"--" + head.get_boundary("").encode()
        pieces = [
            self._header_block(head, planned),
            dashes,
            nl,
            alternative.as_bytes(policy=POLICY),
        ]
        for att in self.attached(planned):
            pieces += [nl, dashes, nl, self.parts.flattened(att)]
        pieces += [nl, dashes, b"--", nl]
        return Composed(b"".join(pieces))

    def size_bound(self, planned: Planned) -> int:
        """An upper bound of len(render(planned)), at a fraction of its cost.

        The size limit must be checked for every message before connecting, but building
        each message twice would cost as much as sending it to a nearby relay. The
        attachments' encoded size is exact (cached); the rest is bounded: quoted-printable
        and RFC 2047 turn a UTF-8 byte into at most 3 characters, plus soft line breaks.
        Rendering the templates here also means a template error shows up before sending.
        """
        known = self._bounds.get(planned.message_id)
        if known is not None:
            return known
        subject, text, html = self.templates.render(self.context(planned))
        for name, rendered in zip(TEMPLATE_NAMES, (subject, text, html), strict=True):
            if name not in self.unfinished and TODO_RE.search(rendered):
                self.unfinished[name] = rendered  # « À COMPLÉTER » would go out: see cli
        r = planned.recipient
        bodies = len(text.encode()) + len(html.encode())
        # In a header, encoded-word and folding overhead can bring it close to 4 per byte.
        headers = sum(len(s.encode()) for s in (subject, r.name, r.email, planned.message_id))
        headers += sum(len(n) + len(v) + 8 for n, v in self.unsubscribe.headers(r.email))
        fixed = sum(self.parts.encoded_size(a) + 64 for a in self.attached(planned))
        bound = fixed + bodies * 33 // 10 + headers * 4 + self._header_overhead
        self._bounds[planned.message_id] = bound
        return bound

    @property
    def _header_overhead(self) -> int:
        addresses = [self.sender, self.settings.reply_to]
        return 4096 + 4 * sum(len(str(a).encode()) for a in addresses if a is not None)

    def _assemble(self, planned, subject, text, html, now) -> tuple[EmailMessage, MIMEPart]:
        """The message's headers (no body yet) and its multipart/alternative text part."""
        why = line_break_problem(subject)
        if why:  # collapsed already; a stray control character still has no place in a header
            raise LivretError(Problem(self.templates.where("subject.txt"), None, None, why))
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
        alternative["Content-Type"] = self._header(
            "Content-Type", f'multipart/alternative; boundary="=_livret_alt_{token}"'
        )
        alternative.set_payload([plain, rich])

        msg = EmailMessage(policy=POLICY)
        msg["From"] = self._header("From", self.sender)
        msg["To"] = self.to_address(planned)
        if self.settings.reply_to is not None:
            msg["Reply-To"] = self._header("Reply-To", self.settings.reply_to)
        if self.test_to is not None:  # a test run (--to): say who it stands for
            msg["X-Livret-Test-For"] = str(planned.recipient.address)
        msg["Subject"] = subject
        for name, value in self.unsubscribe.headers(planned.recipient.email):
            # As written: a URL must reach the provider as it is (see POLICY); one form per
            # line. Every piece of it was checked (the settings, a token of [A-Za-z0-9_-]).
            msg.set_raw(name, value.replace(", <", f",{POLICY.linesep} <"))
        msg["Date"] = format_datetime((now or datetime.now()).astimezone())
        msg["Message-ID"] = planned.message_id
        msg["Content-Language"] = self._header("Content-Language", self.edition.language)
        msg["MIME-Version"] = self._header("MIME-Version", "1.0")
        msg["Content-Type"] = self._header(
            "Content-Type", f'multipart/mixed; boundary="=_livret_mixed_{token}"'
        )
        return msg, alternative

    def _header_block(self, msg: EmailMessage, planned: Planned) -> bytes:
        """The message's header lines and the blank line after them, as the generator writes
        them (policy.fold_binary for each header); the headers that are the same in every
        message are folded once. Each header must stay one header: whatever reached it (an
        encoded word decoded by the email package, a template), a line that is not a
        continuation would add a header of its own, and the message is refused."""
        lines = []
        for name, value in msg.raw_items():  # as email.generator does
            key = (name, str(value))
            folded = self._folded.get(key)
            if folded is None:
                folded = POLICY.fold_binary(name, value)
                if not _one_header(folded):
                    raise LivretError(
                        Problem(
                            self.templates.where("subject.txt")
                            if name == "Subject"
                            else self.source,
                            planned.recipient.line if name != "Subject" else None,
                            name,
                            _(
                                "this header would carry a line break and add headers of "
                                "its own (header injection); nothing was sent"
                            ),
                        )
                    )
                if self._headers.get(key) is value:  # one of the shared header objects
                    self._folded[key] = folded
            lines.append(folded)
        lines.append(POLICY.linesep.encode())
        return b"".join(lines)

    def _header(self, name: str, value: object) -> Any:
        """A header that is the same in many messages, parsed once: `policy.header_factory`
        makes the header object, which a message takes as it is (documented in
        email.policy.EmailPolicy.header_store_parse)."""
        key = (name, str(value))
        header = self._headers.get(key)
        if header is None:
            header = self._headers[key] = POLICY.header_factory(name, value)
        return header
