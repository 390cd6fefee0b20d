"""Stage 6 — SMTP: one connection for the whole run, retries, pacing, and the fate of each
message (sent, refused, failed, or unknown).

The transaction is written out (MAIL, RCPT, DATA, data, reply) instead of calling
`smtplib.SMTP.sendmail`, because the journal needs to know *where* it stopped: a failure
before the end-of-data marker has gone out means the server has nothing (safe to retry),
while a lost reply after it means the message may well have been delivered (unknown).
"""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import Problem
from .settings import Settings


@dataclass(frozen=True)
class Outcome:
    status: str  # "sent", "refused", "failed" or "unknown"
    code: int | None
    reply: str
    attempts: int
    unreachable: bool = False  # failed because no connection could be made at all


class Fatal(Exception):
    """Nothing more can be sent in this run (certificate, authentication, server setup)."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


class _Temporary(Exception):
    def __init__(
        self,
        reply: str,
        code: int | None = None,
        *,
        drop: bool = False,
        connect: bool = False,
        stale: bool = False,
    ):
        super().__init__(reply)
        self.reply, self.code = reply, code
        self.drop = drop  # the connection is unusable
        self.connect = connect  # no connection could be opened
        self.stale = stale  # a reused connection turned out to be closed


@functools.cache
def _local_hostname() -> str:
    # smtplib calls getfqdn() for every connection; it can wait on DNS, so once is enough.
    return socket.getfqdn()


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


class Sender:
    """Sends messages over one SMTP connection, opened on first use and reused; a failed
    connection is dropped and the next attempt opens a new one."""

    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.smtp: smtplib.SMTP | None = None
        self.connections = 0  # opened in this run (tests, report)
        self._last_start: float | None = None

    @property
    def where(self) -> str:
        return f"smtp {self.settings.server}"

    # -- public -----------------------------------------------------------------------------

    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        chunks: Sequence[bytes],
        on_data: Callable[[], Callable[[], None]],
        on_not_sent: Callable[[str], None],
        while_waiting: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Deliver one message, retrying temporary failures with exponential backoff.

        `chunks` are the dot-stuffed message. `on_data` runs once the server has accepted
        MAIL FROM (the journal starts recording "sending") and returns a function that
        returns once that record is on disk: it is called before the end-of-data marker.
        `on_not_sent` runs when an attempt that got that far is known not to have delivered
        (the journal goes back to "pending"). `while_waiting` runs while the server digests
        the message, before its reply is read: time to build the next one.
        """
        s = self.settings
        delay = s.backoff
        attempt = 1
        free_reconnect = True
        while True:
            self._pace()
            data_started = False

            def started():
                nonlocal data_started
                data_started = True
                return on_data()

            try:
                smtp = self._connection()
                return self._transaction(
                    smtp, sender, recipients, chunks, started, while_waiting, attempt
                )
            except _Temporary as exc:
                if exc.drop:
                    self._drop()
                if data_started:
                    on_not_sent(exc.reply)
                if exc.stale and free_reconnect:
                    free_reconnect = False  # a relay closed an idle connection: not a failure
                    continue
                if attempt >= s.attempts:
                    return Outcome("failed", exc.code, exc.reply, attempt, unreachable=exc.connect)
                self.sleep(min(delay, s.backoff_max))
                delay *= 2
                attempt += 1

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()

    # -- connection -------------------------------------------------------------------------

    def _pace(self) -> None:
        rate = self.settings.rate
        if rate:
            now = self.clock()
            if self._last_start is not None:
                wait = self._last_start + 60.0 / rate - now
                if wait > 0:
                    self.sleep(wait)
                    now = self.clock()
            self._last_start = now

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
        self.smtp = None

    def _connection(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.cafile) if s.cafile else None)
        smtp = None
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.effective_port,
                    local_hostname=_local_hostname(),
                    timeout=s.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, s.effective_port, local_hostname=_local_hostname(), timeout=s.timeout
                )
            self.connections += 1
            # A message goes out as several writes (headers, shared attachment bytes, end
            # marker); with Nagle's algorithm the last small one waits for the server's delayed
            # ACK of the previous ones: up to 40 ms per message for nothing.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise Fatal(
                        self._problem(
                            "the server does not offer STARTTLS; set security: ssl if it expects "
                            "TLS from the start, or none for a relay on this machine"
                        )
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.user:
                if not smtp.has_extn("auth"):
                    raise Fatal(
                        self._problem(
                            "the server offers no authentication (AUTH) on this connection; "
                            "remove user, or check security"
                        )
                    )
                smtp.login(s.user, s.password or "")
        except Fatal:
            self._close_quietly(smtp)
            raise
        except ssl.SSLCertVerificationError as exc:
            self._close_quietly(smtp)
            raise Fatal(
                self._problem(
                    f"the server's TLS certificate could not be verified ({exc.verify_message}); "
                    "for a relay with a private certificate authority, give its certificate with "
                    "--cafile (or cafile: in mail.yaml)"
                )
            ) from None
        except ssl.SSLError as exc:
            self._close_quietly(smtp)
            raise Fatal(self._problem(f"TLS failed: {exc.reason or exc}")) from None
        except smtplib.SMTPAuthenticationError as exc:
            self._close_quietly(smtp)
            raise Fatal(
                self._problem(
                    f"authentication refused for user {s.user}: {_reply(exc.smtp_code, exc.smtp_error)}"
                    " (check user and LIVRET_SMTP_PASSWORD)"
                )
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._close_quietly(smtp)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Temporary(
                    f"connection refused for now: {reply}", exc.smtp_code, drop=True, connect=True
                ) from None
            raise Fatal(self._problem(f"the server refused the connection: {reply}")) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._close_quietly(smtp)
            raise _Temporary(
                f"cannot connect to {s.server}: {exc or type(exc).__name__}",
                drop=True,
                connect=True,
            ) from None
        self.smtp = smtp
        return smtp

    @staticmethod
    def _close_quietly(smtp) -> None:
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def _problem(self, message: str) -> Problem:
        return Problem(self.where, None, None, message)

    # -- one transaction ---------------------------------------------------------------------

    def _transaction(
        self, smtp, sender, recipients, chunks, on_data, while_waiting, attempt
    ) -> Outcome:
        reused = self.connections > 0 and getattr(smtp, "_livret_used", False)
        smtp._livret_used = True
        try:
            code, message = smtp.mail(sender)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(f"connection lost: {exc}", drop=True, stale=reused) from None
        if code != 250:
            return self._refusal(smtp, code, message, attempt, "sender")
        # The journal's "sending" record goes to disk in the background from here on (RCPT,
        # DATA and the message travel meanwhile), and must be there before the end-of-data
        # marker: from then on the server may deliver. Not before MAIL is accepted, so that a
        # run stopped before that leaves the message plainly unsent.
        recorded = on_data()
        try:
            return self._rest(smtp, recipients, chunks, recorded, while_waiting, attempt)
        finally:
            recorded()  # every way out waits: the next journal write must come after this one

    def _rest(self, smtp, recipients, chunks, recorded, while_waiting, attempt) -> Outcome:
        refused = []
        for rcpt in recipients:
            try:
                code, message = smtp.rcpt(rcpt)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                raise _Temporary(f"connection lost: {exc}", drop=True) from None
            if code not in (250, 251):
                refused.append((rcpt, code, message))
        if refused:
            # All or nothing: a message that reached only the archive copy (bcc) would be
            # recorded as delivered to someone who never got it.
            detail = "; ".join(
                _reply(c, m) if r == recipients[0] else f"{r}: {_reply(c, m)}"
                for r, c, m in refused
            )
            worst = max(c for _, c, _ in refused)
            return self._refusal(
                smtp, worst, detail.encode(), attempt, "recipient", preformatted=True
            )

        try:
            code, message = smtp.docmd("DATA")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(f"connection lost: {exc}", drop=True) from None
        if code != 354:
            return self._refusal(smtp, code, message, attempt, "data")
        end = b".\r\n" if chunks and chunks[-1].endswith(b"\r\n") else b"\r\n.\r\n"
        try:
            for chunk in chunks[:-1]:
                smtp.send(chunk)
            recorded()
            smtp.send(chunks[-1] + end if chunks else end)  # the last chunk is small
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The end-of-data marker never left: a server drops an unterminated message.
            raise _Temporary(
                f"connection lost while sending the message: {exc}", drop=True
            ) from None
        while_waiting()
        try:
            code, message = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return Outcome(
                "unknown",
                None,
                f"the connection ended after the whole message was sent, before the "
                f"server's reply ({exc}); it may or may not have been delivered",
                attempt,
            )
        if code == 250:
            return Outcome("sent", code, _reply(code, message), attempt)
        return self._refusal(smtp, code, message, attempt, "message", after_data=True)

    def _refusal(
        self, smtp, code, message, attempt, stage, *, preformatted=False, after_data=False
    ) -> Outcome:
        reply = message.decode("utf-8", "replace") if preformatted else _reply(code, message)
        if not after_data:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        if code == 421:  # the server is closing this connection
            self._drop()
        if 400 <= code < 500 or code == 421:
            raise _Temporary(reply, code)
        if 500 <= code < 600:
            return Outcome("refused", code, reply, attempt)
        # Not a valid SMTP reply at this point: the server is confused; start afresh.
        self._drop()
        raise _Temporary(f"unexpected reply to {stage}: {reply}", code, drop=True)
