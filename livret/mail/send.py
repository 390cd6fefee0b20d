"""Stage 6 — SMTP: one connection for the whole run, retries, pacing, and the fate of each
message (sent, refused, failed, or unknown).

The transaction is written out with smtplib's public commands (mail, rcpt, docmd("DATA"),
send, getreply) instead of one `sendmail` call, because the journal needs to know *where* it
stopped: a failure before the end-of-data marker has gone out means the server has nothing
(safe to retry), while a lost reply after it means the message may well have been delivered
(unknown).

Every wait on the server is bounded by a deadline, not per read: socket time-outs alone let a
server that trickles its reply one byte at a time hold a run for ever. A watchdog thread shuts
the connection's socket down when a command (connection, greeting, TLS, login, each command,
the message data) has not completed within `timeout` seconds — plus the time the message data
needs at 50 kB/s — and the attempt then fails like any lost connection.
"""

from __future__ import annotations

import functools
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ..errors import Problem
from ..i18n import _
from .compose import dot_stuff
from .settings import Settings

MIN_DATA_RATE = 50_000  # bytes per second: the data phase's deadline grows with the message


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


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _reply(code: int, message: bytes | str) -> str:
    """A server's reply as one printable line: what a hostile server sends (ESC sequences…)
    never reaches the terminal as such."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return _CONTROL.sub("?", f"{code} {' '.join(text.split())}".strip())


class _ServerContext(ssl.SSLContext):
    """The TLS settings of one relay: certificates checked (system authorities, or `cafile`)
    against `host`. smtplib passes the host given to its constructor as the name to check;
    an SMTP object made without one (so that connecting can be bounded) passes none, and
    this context then checks the relay's own name."""

    def __new__(cls, host: str, cafile=None):
        return super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)

    def __init__(self, host: str, cafile=None) -> None:
        # PROTOCOL_TLS_CLIENT (in __new__): certificate and host name checked.
        self.server_host = host
        if cafile:
            self.load_verify_locations(cafile=str(cafile))
        else:
            self.load_default_certs(ssl.Purpose.SERVER_AUTH)

    def wrap_socket(
        self,
        sock,
        server_side=False,
        do_handshake_on_connect=True,
        suppress_ragged_eofs=True,
        server_hostname=None,
        session=None,
    ):
        return super().wrap_socket(
            sock,
            server_side,
            do_handshake_on_connect,
            suppress_ragged_eofs,
            server_hostname or self.server_host,
            session,
        )


class Watchdog:
    """Shuts a socket down when the command in progress passes its deadline.

    One thread for the whole run. `arm()` only wakes it when it sleeps without a deadline or
    past the new one: deadlines only move forward, so most commands cost a lock, no wake-up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._target: socket.socket | None = None
        self._wakes_at: float | None = None  # None: sleeps until notified
        self._stopped = False
        self.expired = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def limit(self, seconds: float, sock_of: Callable[[], socket.socket | None]) -> Iterator[None]:
        """Within this block, the socket `sock_of()` is shut down after `seconds`. A command
        that returns after that has read a reply cut short (smtplib takes the "25" of a "250"
        cut by the shutdown for a reply): it counts as lost, as when smtplib notices."""
        self.arm(seconds, sock_of)
        try:
            yield
        finally:
            self.disarm()
        if self.expired:
            raise smtplib.SMTPServerDisconnected("time-out")

    def arm(self, seconds: float, sock_of: Callable[[], socket.socket | None]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="livret-smtp-deadline")
            self._thread.daemon = True
            self._thread.start()
        with self._cond:
            self._deadline = time.monotonic() + seconds
            self._sock_of = sock_of
            self.expired = False
            if self._wakes_at is None or self._wakes_at > self._deadline:
                self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._deadline is None:
                    self._wakes_at = None
                    self._cond.wait()
                    continue
                now = time.monotonic()
                if now < self._deadline:
                    self._wakes_at = self._deadline
                    self._cond.wait(self._deadline - now)
                    continue
                self._deadline = None
                self.expired = True
                sock = self._sock_of()
                if sock is not None:
                    try:  # the blocked read or write in the sender's thread returns at once
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass


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
        self._used = False  # the open connection already carried a transaction
        self._last_start: float | None = None
        self.watchdog = Watchdog()

    @property
    def where(self) -> str:
        return f"smtp {self.settings.server}"

    # -- public -----------------------------------------------------------------------------

    def send(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        on_data: Callable[[], None],
        on_not_sent: Callable[[str], None],
        while_waiting: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Deliver one message (its bytes, not yet dot-stuffed), retrying temporary failures
        with exponential backoff.

        `on_data` runs after the message's body went out and before its end-of-data marker
        (the journal records "sending", on disk when it returns). `on_not_sent` runs when an
        attempt that got that far is known not to have delivered (the journal goes back to
        "pending"). `while_waiting` runs while the server digests the message, before its
        reply is read: time to build the next one.
        """
        s = self.settings
        data = dot_stuff(message)
        delay = s.backoff
        attempt = 1
        free_reconnect = True
        while True:
            self._pace()
            data_started = False

            def started() -> None:
                nonlocal data_started
                data_started = True
                on_data()

            try:
                smtp = self._connection()
                return self._transaction(
                    smtp, sender, recipients, data, started, while_waiting, attempt
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
                with self._limit():
                    self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        self.watchdog.stop()

    # -- connection -------------------------------------------------------------------------

    def _limit(self, extra: float = 0.0):
        """The deadline of one command on the current connection."""
        return self.watchdog.limit(self.settings.timeout + extra, self._sock)

    def _sock(self) -> socket.socket | None:
        return self.smtp.sock if self.smtp is not None else None

    def _lost(self, exc: BaseException) -> str:
        if self.watchdog.expired:
            return _("no complete answer within {seconds} s (time-out)").format(
                seconds=f"{self.settings.timeout:g}"
            )
        return _("connection lost: {error}").format(error=exc or type(exc).__name__)

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
        context = _ServerContext(s.host, s.cafile)
        # Created unconnected (no host given: smtplib's documented way to defer the
        # connection), so that connect() runs under the watchdog. The host the certificate
        # must name then comes from the TLS context (see _ServerContext).
        if s.security == "ssl":
            self.smtp = smtplib.SMTP_SSL(
                local_hostname=_local_hostname(), timeout=s.timeout, context=context
            )
        else:
            self.smtp = smtplib.SMTP(local_hostname=_local_hostname(), timeout=s.timeout)
        self._used = False
        smtp = self.smtp
        try:
            with self._limit():
                smtp.connect(s.host, s.effective_port)
            # A message goes out as two writes (body, end marker); with Nagle's algorithm the
            # small last one waits for the server's delayed ACK: up to 40 ms per message.
            assert smtp.sock is not None  # connected
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._limit():
                smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise Fatal(
                        self._problem(
                            _(
                                "the server does not offer STARTTLS; set security: ssl if it "
                                "expects TLS from the start, or none for a relay on this machine"
                            )
                        )
                    )
                with self._limit():
                    smtp.starttls(context=context)
                with self._limit():
                    smtp.ehlo()
            if s.user:
                if not smtp.has_extn("auth"):
                    raise Fatal(
                        self._problem(
                            _(
                                "the server offers no authentication (AUTH) on this connection; "
                                "remove user, or check security"
                            )
                        )
                    )
                with self._limit():
                    smtp.login(s.user, s.password or "")
        except Fatal:
            self._drop()
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise Fatal(
                self._problem(
                    _(
                        "the server's TLS certificate could not be verified ({reason}); for a "
                        "relay with a private certificate authority, give its certificate with "
                        "--cafile (or cafile: in mail.yaml)"
                    ).format(reason=exc.verify_message)
                )
            ) from None
        except ssl.SSLError as exc:
            self._drop()
            if self.watchdog.expired:
                raise _Temporary(self._lost(exc), drop=True, connect=True) from None
            raise Fatal(
                self._problem(_("TLS failed: {reason}").format(reason=exc.reason or exc))
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            raise Fatal(
                self._problem(
                    _(
                        "authentication refused for user {user}: {reply} (check user and "
                        "LIVRET_SMTP_PASSWORD)"
                    ).format(user=s.user, reply=_reply(exc.smtp_code, exc.smtp_error))
                )
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            reply = _reply(exc.smtp_code, exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise _Temporary(
                    _("connection refused for now: {reply}").format(reply=reply),
                    exc.smtp_code,
                    drop=True,
                    connect=True,
                ) from None
            raise Fatal(
                self._problem(_("the server refused the connection: {reply}").format(reply=reply))
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            why = self._lost(exc) if self.watchdog.expired else (exc or type(exc).__name__)
            raise _Temporary(
                _("cannot connect to {server}: {error}").format(server=s.server, error=why),
                drop=True,
                connect=True,
            ) from None
        return smtp

    def _problem(self, message: str) -> Problem:
        return Problem(self.where, None, None, message)

    # -- one transaction ---------------------------------------------------------------------

    def _transaction(
        self, smtp, sender, recipients, data, on_data, while_waiting, attempt
    ) -> Outcome:
        reused, self._used = self._used, True
        try:
            with self._limit():
                code, message = smtp.mail(sender)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(self._lost(exc), drop=True, stale=reused) from None
        if code != 250:
            return self._refusal(smtp, code, message, attempt, "sender")
        refused = []
        for rcpt in recipients:
            try:
                with self._limit():
                    code, message = smtp.rcpt(rcpt)
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                raise _Temporary(self._lost(exc), drop=True) from None
            if code not in (250, 251):
                refused.append((rcpt, code, message))
        if refused:
            # All or nothing: a message that reached only the archive copy (bcc) would be
            # recorded as delivered to someone who never got it.
            detail = "; ".join(
                _reply(c, m) if r == recipients[0] else f"{r}: {_reply(c, m)}"
                for r, c, m in refused
            )
            worst = max(c for _r, c, _m in refused)
            return self._refusal(
                smtp, worst, detail.encode(), attempt, "recipient", preformatted=True
            )

        try:
            with self._limit():
                code, message = smtp.docmd("DATA")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Temporary(self._lost(exc), drop=True) from None
        if code != 354:
            return self._refusal(smtp, code, message, attempt, "data")
        end = b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
        try:
            with self._limit(len(data) / MIN_DATA_RATE):
                smtp.send(data)
                # From the end marker on, the server may deliver: "sending" must be on disk
                # first. Recorded now, the fsync overlaps the server's work on the body.
                on_data()
                smtp.send(end)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # The end-of-data marker never left: a server drops an unterminated message.
            raise _Temporary(
                _("connection lost while sending the message: {error}").format(
                    error=self._lost(exc)
                ),
                drop=True,
            ) from None
        while_waiting()
        try:
            with self._limit():
                code, message = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            return Outcome(
                "unknown",
                None,
                _(
                    "the connection ended after the whole message was sent, before the "
                    "server's reply ({error}); it may or may not have been delivered"
                ).format(error=self._lost(exc)),
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
                with self._limit():
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
        raise _Temporary(
            _("unexpected reply to {stage}: {reply}").format(stage=stage, reply=reply),
            code,
            drop=True,
        )
