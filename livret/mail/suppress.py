"""Who must not be mailed: unsubscribe tokens and headers, delivery reports, unsubscribe mails.

- **Tokens.** The unsubscribe link carries an opaque token per person: an HMAC-SHA256 of the
  address (lower case) with a secret read from the environment only (never the address, so a
  link forwarded or logged says nothing about whom it belongs to, and nobody can forge the
  token of someone else). `mail unsubscribe TOKEN…` finds whose token it is among the
  addresses the journal knows.
- **Headers.** `List-Unsubscribe` with the `mailto:` and `https:` forms (RFC 2369), and with a
  URL `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), which Gmail and Yahoo
  require of bulk senders.
- **Delivery reports** (RFC 3464, `multipart/report; report-type=delivery-status`, as
  Postfix, Exim, Exchange and Gmail send them), read from a maildir or an mbox: a permanent
  failure (5.x.x) suppresses the address; a temporary one (4.x.x) is counted, and the address
  is suppressed after three in a row; a report of a delivery (2.x.x) ends the row.
- **Unsubscribe mails**, read from the mailbox of the unsubscribe address: the sender (or the
  token in the subject) is suppressed; automatic replies are not requests and are skipped.
"""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import mailbox
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from ..errors import LivretError, Problem, display_path
from ..i18n import _
from ..reading.fields import check_email

SECRET_ENV = "LIVRET_UNSUBSCRIBE_SECRET"
MIN_SECRET = 16  # characters
TOKEN_RE = re.compile(r"\b[A-Za-z0-9_-]{27}\b")


def secret(environ: Mapping[str, str]) -> str | None:
    return environ.get(SECRET_ENV) or None


def token(secret: str, address: str) -> str:
    """27 URL-safe characters (160 bits): the same for the same address and secret."""
    mac = hmac.new(
        secret.encode(),
        b"livret-unsubscribe/1\0" + address.strip().lower().encode(),
        hashlib.sha256,
    )
    return base64.urlsafe_b64encode(mac.digest()[:20]).decode().rstrip("=")


def check_secret(value: str | None, needed_for: str) -> Problem | None:
    if value is None:
        return Problem(
            "LIVRET_UNSUBSCRIBE_SECRET",
            None,
            None,
            _(
                "{setting} is set, so every message carries a personal unsubscribe token, made "
                "with a secret read from the environment only: export {variable}=… (at least "
                "{count} characters, the same for every send, kept out of any file)"
            ).format(setting=needed_for, variable=SECRET_ENV, count=MIN_SECRET),
        )
    if len(value) < MIN_SECRET:
        return Problem(
            SECRET_ENV,
            None,
            None,
            _("the secret is too short: at least {count} characters").format(count=MIN_SECRET),
        )
    return None


@dataclass(frozen=True)
class Unsubscribe:
    """How a recipient stops the mailings: a mailto address, a URL template with {token}."""

    mailto: str | None = None
    url: str | None = None
    secret: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.mailto or self.url)

    def for_address(self, address: str) -> dict[str, str | None]:
        """The links of one person, for the headers and the templates."""
        tok = token(self.secret, address) if self.secret else None
        url = self.url.replace("{token}", tok) if self.url and tok else None
        mailto = None
        if self.mailto:
            subject = "unsubscribe" + (f" {tok}" if tok else "")
            mailto = f"mailto:{self.mailto}?subject={quote(subject)}"
        return {"url": url, "mailto": mailto, "address": self.mailto, "token": tok}

    def headers(self, address: str) -> list[tuple[str, str]]:
        links = self.for_address(address)
        forms = [f"<{links[k]}>" for k in ("mailto", "url") if links[k]]
        if not forms:
            return []
        out = [("List-Unsubscribe", ", ".join(forms))]
        if links["url"]:
            out.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return out


# -- reading a mailbox -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    where: str  # "bounces.mbox, message n° 3"
    id: str  # Message-ID, or the sha256 of the bytes
    message: EmailMessage


def read_mailbox(path: Path) -> Iterator[Mail]:
    """Each message of a maildir (a folder with cur/ and new/) or an mbox file, oldest first."""
    path = Path(path)
    shown = display_path(path)
    box: mailbox.Mailbox
    if path.is_dir():
        if not ((path / "cur").is_dir() or (path / "new").is_dir()):
            raise LivretError(
                Problem(
                    shown,
                    None,
                    None,
                    _(
                        "this folder is not a maildir (no cur/ or new/ inside): give the "
                        "maildir folder, or an mbox file"
                    ),
                )
            )
        box = mailbox.Maildir(path, factory=None, create=False)
    elif path.is_file():
        with open(path, "rb") as file:
            start = file.read(5)
        if start and start != b"From ":
            raise LivretError(
                Problem(
                    shown,
                    1,
                    None,
                    _(
                        'this file is not an mbox (it must start with a "From " line): export '
                        "the folder as mbox from the mail program, or give a maildir folder"
                    ),
                )
            )
        box = mailbox.mbox(path, create=False)
    else:
        raise LivretError(Problem(shown, None, None, _("no such file or folder")))
    found = []
    try:
        for n, key in enumerate(box.keys(), 1):
            data = box.get_bytes(key)
            msg = email.message_from_bytes(data, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            ident = str(msg.get("Message-ID") or "").strip() or hashlib.sha256(data).hexdigest()
            where = _("{path}, message no. {n}").format(path=shown, n=n)
            found.append((_date(msg), n, Mail(where, ident, msg)))
    finally:
        box.close()
    found.sort(key=lambda item: (item[0], item[1]))
    for _when, _n, mail in found:
        yield mail


def _date(msg: EmailMessage) -> float:
    try:
        return parsedate_to_datetime(str(msg["Date"])).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0


# -- delivery status notifications --------------------------------------------------------------

_STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Status:
    address: str  # the recipient the report is about, lower case
    status: str  # "5.1.1"
    action: str  # failed, delayed, delivered, relayed, expanded

    @property
    def kind(self) -> str:
        """permanent, temporary or delivered."""
        return {"5": "permanent", "4": "temporary"}.get(self.status[:1], "delivered")


def delivery_statuses(msg: EmailMessage) -> list[Status] | None:
    """The per-recipient statuses of a delivery report; None if `msg` is not one."""
    found: list[Status] = []
    is_report = False
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        is_report = True
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block is about the message, the others each recipient
            if not isinstance(block, Message):
                continue
            address = _recipient(block)
            status = _STATUS_RE.search(str(block.get("Status", "")))
            action = str(block.get("Action", "")).strip().lower()
            if address is None:
                continue
            if status is None:  # no Status: the action says enough
                code = {"failed": "5.0.0", "delayed": "4.0.0"}.get(action, "2.0.0")
            else:
                code = ".".join(status.groups())
            found.append(Status(address, code, action))
    return found if is_report else None


def _recipient(block) -> str | None:
    """Original-Recipient (what was sent to) if given, else Final-Recipient: "rfc822; a@b"."""
    for name in ("Original-Recipient", "Final-Recipient"):
        value = str(block.get(name, "") or "")
        kind, _sep, address = value.partition(";")
        if not _sep:
            address = kind
        elif kind.strip().lower() != "rfc822":
            continue
        address = address.strip().strip("<>").strip()
        found, _why = check_email(address)
        if found:
            return found.lower()
    return None


# -- unsubscribe mails -------------------------------------------------------------------------


def automatic(msg: EmailMessage) -> bool:
    """An automatic message (out-of-office, report, list traffic): not a person's request."""
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or msg.get_content_type() == "multipart/report"
        or msg.get("X-Autoreply") is not None
        or msg.get("X-Autorespond") is not None
    )


def sender_of(msg: EmailMessage) -> str | None:
    try:
        addresses = msg["From"].addresses if msg["From"] is not None else ()
    except (AttributeError, IndexError, ValueError):
        return None
    for addr in addresses:
        found, _why = check_email(addr.addr_spec)
        if found:
            return found.lower()
    return None


def tokens_in(msg: EmailMessage) -> list[str]:
    """Tokens in the subject (the mailto link puts one there) and the first text part."""
    text = str(msg.get("Subject", ""))
    body = msg.get_body(("plain",))
    if body is not None:
        try:
            text += "\n" + body.get_content()[:4000]
        except (LookupError, ValueError):
            pass
    return TOKEN_RE.findall(text)
