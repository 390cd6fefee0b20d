"""The commands that keep the list clean and the journal lawful (`python build.py mail ACTION`):

    mail suppress ADDRESS…      never mail these addresses again
    mail unsubscribe TOKEN…     the tokens the organisation's unsubscribe form collected
    mail bounces PATH           delivery reports (maildir or mbox): 5.x.x, or 4.x.x three times
    mail unsubscribes PATH      the mails that reached the unsubscribe address
    mail forget ADDRESS…        erase a person from the journal, keep a hash (still suppressed)
    mail purge --older-than N   drop the personal data older than N days (or `retention`)

Each says what it did; every one of them writes to the journal only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ..errors import LivretError, Problem, display_path
from ..i18n import _
from .journal import SOFT_BOUNCE_LIMIT, Journal, ReadOnlyJournal
from .recipients import check_address
from .settings import DEFAULT_JOURNAL, command_line, flag_dest, load_settings
from .suppress import (
    SECRET_ENV,
    automatic,
    check_secret,
    delivery_statuses,
    read_mailbox,
    secret,
    sender_of,
    token,
    tokens_in,
)

ACTIONS = ("suppress", "unsubscribe", "bounces", "unsubscribes", "forget", "purge")


def register(mail: argparse.ArgumentParser, parents: list) -> None:
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--config", type=Path, metavar="FILE", help=_("settings file (default mail.yaml)")
    )
    state.add_argument(
        "--journal",
        metavar="FILE",
        help=_("send journal (default {path})").format(path=DEFAULT_JOURNAL),
    )
    sub = mail.add_subparsers(dest="mail_action", metavar="[ACTION]", required=False)
    common = [*parents, state]
    p = sub.add_parser("suppress", parents=common, help=_("never mail these addresses again"))
    p.add_argument("addresses", nargs="+", metavar="ADDRESS")
    p = sub.add_parser(
        "unsubscribe",
        parents=common,
        help=_("suppress the people whose unsubscribe tokens the web form collected"),
    )
    p.add_argument("tokens", nargs="+", metavar="TOKEN")
    p = sub.add_parser(
        "bounces",
        parents=common,
        help=_(
            "read delivery reports (a maildir folder or an mbox file): permanent failures "
            "are suppressed, temporary ones after {count} in a row"
        ).format(count=SOFT_BOUNCE_LIMIT),
    )
    p.add_argument("path", type=Path, metavar="PATH")
    p = sub.add_parser(
        "unsubscribes",
        parents=common,
        help=_("read the mails sent to the unsubscribe address (maildir or mbox)"),
    )
    p.add_argument("path", type=Path, metavar="PATH")
    p = sub.add_parser(
        "forget",
        parents=common,
        help=_("erase a person from the journal; only a hash stays, so they stay suppressed"),
    )
    p.add_argument("addresses", nargs="+", metavar="ADDRESS")
    p = sub.add_parser(
        "purge",
        parents=common,
        help=_("drop the personal data the journal holds from before DAYS days"),
    )
    p.add_argument(
        "--older-than",
        metavar="DAYS",
        help=_("days to keep (default: the retention setting)"),
    )


def suppressed(journal: Path, keys: Iterable[str]) -> set[str]:
    """Which of these addresses (lower case) the journal says must not be mailed."""
    found = ReadOnlyJournal(journal)
    try:
        return found.suppressed(list(keys))
    finally:
        found.close()


def run(args: argparse.Namespace, out: IO[str]) -> int:
    overrides: dict[str, object] = {"journal": getattr(args, flag_dest("journal"), None)}
    settings = load_settings(getattr(args, "config", None), overrides)
    action = args.mail_action
    if action in ("suppress", "forget"):
        addresses = _addresses(args.addresses)
        with Journal(settings.journal) as journal:
            if action == "suppress":
                return _suppress(journal, addresses, out)
            return _forget(journal, addresses, out)
    if action == "purge":
        days = _days(getattr(args, "older_than", None), settings.retention)
        with Journal(settings.journal) as journal:
            return _purge(journal, days, out)
    if action == "unsubscribe":
        key = _secret()
        with Journal(settings.journal) as journal:
            return _unsubscribe(journal, key, args.tokens, out)
    mails = list(read_mailbox(args.path))  # a bad path or file before the journal is touched
    with Journal(settings.journal) as journal:
        if action == "bounces":
            return _bounces(journal, mails, out)
        return _unsubscribes(journal, mails, secret(os.environ), out)


def _addresses(values: list[str]) -> list[str]:
    problems, found = [], []
    for value in values:
        address, why = check_address(value.strip())
        if why:
            problems.append(
                Problem(command_line(), None, None, _("invalid address: {why}").format(why=why))
            )
        else:
            assert address is not None
            found.append(address.lower())
    if problems:
        raise LivretError(problems)
    return found


def _secret() -> str:
    value = secret(os.environ)
    why = check_secret(value, "mail unsubscribe")
    if why is not None:
        raise LivretError(why)
    assert value is not None
    return value


def _days(given: str | None, retention: int | None) -> int:
    raw: Any = given if given is not None else retention
    if raw is None:
        raise LivretError(
            Problem(
                command_line(),
                None,
                "--older-than",
                _("how old? give --older-than DAYS, or set retention: DAYS in mail.yaml"),
            )
        )
    try:
        days = int(str(raw).strip())
    except ValueError:
        days = -1
    if days < 0:
        raise LivretError(
            Problem(
                command_line(),
                None,
                "--older-than",
                _('"{value}" is not a whole number of days').format(value=raw),
            )
        )
    return days


def _suppress(journal: Journal, addresses: list[str], out: IO[str]) -> int:
    new = 0
    for address in addresses:
        if journal.suppress(address, "manual", _("mail suppress")):
            new += 1
            print(_("  {address}: suppressed").format(address=address), file=out)
        else:
            print(_("  {address}: already suppressed").format(address=address), file=out)
    print(
        _("Suppressed: {new} new, {old} already; they will never be mailed again.").format(
            new=new, old=len(addresses) - new
        ),
        file=out,
    )
    return 0


def _forget(journal: Journal, addresses: list[str], out: IO[str]) -> int:
    for address in addresses:
        removed = journal.forget(address)
        print(
            _(
                "{address}: erased from the journal ({deliveries} deliveries, {events} "
                "history lines); only a hash of the address is kept, so that it is never "
                "mailed again"
            ).format(address=address, **removed),
            file=out,
        )
    print(
        _(
            "The recipient lists and the dry runs' .eml files (output/mail/) are yours to "
            "clean: remove the person there too."
        ),
        file=out,
    )
    return 0


def _purge(journal: Journal, days: int, out: IO[str]) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    removed = journal.purge(cutoff.isoformat(timespec="milliseconds"))
    print(
        _(
            "Removed what is older than {days} days (before {date}): {deliveries} deliveries "
            "and {events} history lines; addresses replaced by a hash in {addresses} "
            "suppressions (they stay suppressed)."
        ).format(days=days, date=cutoff.date().isoformat(), **removed),
        file=out,
    )
    return 0


def _unsubscribe(journal: Journal, key: str, tokens: list[str], out: IO[str]) -> int:
    by_token = {token(key, address): address for address in journal.known_addresses()}
    unknown = []
    done = 0
    for tok in tokens:
        address = by_token.get(tok.strip())
        if address is None:
            unknown.append(tok)
            continue
        journal.suppress(address, "unsubscribe", _("token from the unsubscribe form"))
        done += 1
        print(_("  {address}: unsubscribed").format(address=address), file=out)
    print(_("Unsubscribed: {count}").format(count=done), file=out)
    if unknown:
        raise LivretError(
            [
                Problem(
                    command_line(),
                    None,
                    None,
                    _(
                        "token {token} matches no address of the journal (mistyped, made with "
                        "another {variable}, or the person was already forgotten or purged)"
                    ).format(token=tok, variable=SECRET_ENV),
                )
                for tok in unknown
            ]
        )
    return 0


def _bounces(journal: Journal, mails: list, out: IO[str]) -> int:
    reports = not_reports = seen = 0
    permanent: list[str] = []
    repeated: list[str] = []
    counted = 0
    for mail in mails:
        statuses = delivery_statuses(mail.message)
        if statuses is None:
            not_reports += 1
            continue
        if not journal.report_seen(mail.id):
            seen += 1
            continue
        reports += 1
        for st in statuses:
            if st.kind == "permanent":
                if journal.suppress(st.address, "bounce", f"{st.status} ({mail.where})"):
                    permanent.append(st.address)
                    print(
                        _("  {address}: permanent failure {status}: suppressed").format(
                            address=st.address, status=st.status
                        ),
                        file=out,
                    )
            elif st.kind == "temporary":
                counted += 1
                count = journal.soft_bounce(st.address, f"{st.status} ({mail.where})")
                if count >= SOFT_BOUNCE_LIMIT and journal.suppress(
                    st.address,
                    "bounce",
                    _("{count} temporary failures in a row, the last {status}").format(
                        count=count, status=st.status
                    ),
                ):
                    repeated.append(st.address)
                    print(
                        _(
                            "  {address}: temporary failure {status}, {count} in a row: suppressed"
                        ).format(address=st.address, status=st.status, count=count),
                        file=out,
                    )
                else:
                    print(
                        _("  {address}: temporary failure {status} ({count} of {limit})").format(
                            address=st.address,
                            status=st.status,
                            count=count,
                            limit=SOFT_BOUNCE_LIMIT,
                        ),
                        file=out,
                    )
            else:
                journal.delivered(st.address)
    print(
        _(
            "Delivery reports read: {reports} (already read before: {seen}; other messages, "
            "not reports: {other}). Suppressed: {permanent} after a permanent failure, "
            "{repeated} after {limit} temporary failures in a row; temporary failures "
            "counted: {counted}."
        ).format(
            reports=reports,
            seen=seen,
            other=not_reports,
            permanent=len(permanent),
            repeated=len(repeated),
            limit=SOFT_BOUNCE_LIMIT,
            counted=counted,
        ),
        file=out,
    )
    return 0


def _unsubscribes(journal: Journal, mails: list, key: str | None, out: IO[str]) -> int:
    by_token = (
        {token(key, a): a for a in journal.known_addresses()} if key and len(key) >= 16 else {}
    )
    done = skipped = 0
    problems = []
    for mail in mails:
        if automatic(mail.message):
            skipped += 1
            continue
        address = next(
            (by_token[t] for t in tokens_in(mail.message) if t in by_token), None
        ) or sender_of(mail.message)
        if address is None:
            problems.append(
                Problem(
                    display_path(mail.where),
                    None,
                    None,
                    _("no sender address and no token: nobody to unsubscribe"),
                    "warning",
                )
            )
            continue
        if journal.suppress(address, "unsubscribe", mail.where):
            done += 1
            print(_("  {address}: unsubscribed").format(address=address), file=out)
    for problem in problems:
        print(problem, file=out)
    print(
        _("Unsubscribed: {count} (automatic replies and reports skipped: {skipped}).").format(
            count=done, skipped=skipped
        ),
        file=out,
    )
    return 0
