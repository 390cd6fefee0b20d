"""The `mail` subcommand: check everything, build what is missing, then either write one .eml
per recipient under output/mail/ (the default, a dry run) or send (`--send`).

Order matters: every check that can refuse the run — the list, the settings, the templates,
the build, each message's size — happens before the first connection, so that a problem
never leaves a list half sent.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LivretError, Problem, display_path
from ..writer import write_atomic
from .attachments import Edition, attachments_from_manifest, read_edition
from .compose import Composer, Planned, Templates, human_size
from .journal import Journal, read_statuses
from .recipients import read_recipients
from .send import Fatal, Outcome, Sender
from .settings import (
    DEFAULT_JOURNAL,
    FLAGS,
    PASSWORD_ENV,
    SECURITY,
    check_for_sending,
    describe,
    flag_dest,
    load_settings,
)

DESCRIPTION = """\
Send the booklet and theme excerpts to the people in a CSV list (columns email, name,
organisation, send). Without --send, nothing is sent: one .eml file per recipient is written
under OUTPUT/mail/ to be opened and checked. With --send, messages go out over one SMTP
connection, and a journal records each delivery so that running the same command again only
sends what has not been delivered yet. See docs/mail.md."""

FLAG_HELP = {
    "host": "SMTP server (default localhost)",
    "port": "SMTP port (default 587 for starttls, 465 for ssl, 25 for none)",
    "security": f"{' | '.join(SECURITY)} (default starttls)",
    "user": f"login; the password is read from ${PASSWORD_ENV} only",
    "from": 'sender, e.g. "Club des territoires <club@example.org>" (default: the edition\'s '
    "publisher and contact_email)",
    "reply-to": "address that replies go to",
    "rate": "at most this many messages per minute (default: no limit)",
    "cafile": "PEM file of the certificate authority of a relay with a private certificate",
    "timeout": "seconds to wait on the network before giving up an attempt (default 60)",
    "max-size": "largest encoded message, e.g. 10MB (default), 25MB, 7MiB",
    "attempts": "tries per message on temporary failures (default 4)",
    "backoff": "seconds before the first retry, doubled for each next one (default 2)",
    "templates": "folder with subject.txt, body.txt and body.html (default layouts/mail)",
    "journal": f"send journal (default {DEFAULT_JOURNAL})",
}


def register(subparsers, parents: list) -> None:
    p = subparsers.add_parser(
        "mail",
        parents=parents,
        help="send the booklet and excerpts by e-mail (dry run unless --send)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--recipients",
        required=True,
        type=Path,
        metavar="FILE",
        help="CSV list of recipients (see content/recipients.example.csv)",
    )
    p.add_argument(
        "--send", action="store_true", help="really send (default: dry run writing .eml files)"
    )
    p.add_argument(
        "--config", type=Path, metavar="FILE", help="settings file (default mail.yaml, if present)"
    )
    p.add_argument(
        "--resend-unknown",
        action="store_true",
        help="send again the messages whose delivery is unknown (a connection lost "
        "after the message was sent): their recipients may get them twice",
    )
    p.add_argument(
        "--campaign",
        metavar="LABEL",
        default="",
        help="start a new campaign with the same PDFs (e.g. a reminder): "
        "recipients already served by an earlier campaign get it again",
    )
    for name in FLAGS:
        metavar = {"security": "MODE", "cafile": "FILE", "templates": "DIR", "journal": "FILE"}.get(
            name, name.upper().replace("-", "_")
        )
        p.add_argument(f"--{name}", dest=flag_dest(name), metavar=metavar, help=FLAG_HELP[name])
    p.set_defaults(func=run)


def main(argv: list[str] | None = None, *, build: Callable | None = None) -> int:
    """`python -m livret.mail …`: the same subcommand without the rest of the CLI."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--content", type=Path, default=Path("content"), metavar="DIR")
    common.add_argument("--output", type=Path, default=Path("output"), metavar="DIR")
    parser = argparse.ArgumentParser(prog="python -m livret.mail")
    register(parser.add_subparsers(dest="command", required=True), [common])
    args = parser.parse_args(["mail", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args, build=build)
    except LivretError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2


def _default_build():
    try:
        from ..pipeline import build
    except ImportError as exc:
        raise LivretError(
            Problem("livret", None, None, f"the build pipeline is not available ({exc})")
        ) from None
    return build


def run(args, *, build: Callable | None = None, out=None) -> int:
    out = out or sys.stdout
    content = Path(getattr(args, "content", None) or "content")
    output = Path(getattr(args, "output", None) or "output")

    edition = read_edition(content)
    problems: list[Problem] = []
    settings = recipients = None
    warnings: list[Problem] = []
    overrides = {name: getattr(args, flag_dest(name), None) for name in FLAGS}
    try:
        settings = load_settings(args.config, overrides)
    except LivretError as exc:
        problems += exc.problems
    try:
        recipients = read_recipients(args.recipients, edition.slugs, warnings)
    except LivretError as exc:
        problems += exc.problems
    if problems:
        raise LivretError(problems)
    for warning in warnings:
        print(warning, file=sys.stderr)
    if args.send:
        check_for_sending(settings)
    templates = Templates(settings.templates)

    needed = [s for s in edition.slugs if any(s in r.send for r in recipients)]
    build = build or _default_build()
    manifest = build(
        content,
        output,
        booklet="booklet" in needed,
        themes=[s for s in needed if s != "booklet"],
        actions=[],
    )
    attachments = attachments_from_manifest(manifest, output, needed)
    composer = Composer(edition, settings, templates, attachments, label=args.campaign or "")
    plans = [composer.plan(r) for r in recipients]

    if not args.send:
        return _dry_run(args, composer, plans, output, settings, out)
    _check_sizes(args, composer, plans, settings)
    return _send(args, composer, plans, settings, edition, out)


# -- dry run ---------------------------------------------------------------------------------


def _eml_name(index: int, email: str) -> str:
    return f"{index:04d}-{re.sub(r'[^A-Za-z0-9@._+-]', '_', email)}.eml"


def _dry_run(args, composer: Composer, plans: list[Planned], output: Path, settings, out) -> int:
    folder = output / "mail"
    statuses = read_statuses(settings.journal)
    problems: list[Problem] = []
    written: set[str] = set()
    lines = []
    for index, plan in enumerate(plans, 1):
        composed = composer.compose(plan)
        name = _eml_name(index, plan.recipient.email)
        write_atomic(folder / name, composed.as_bytes())
        written.add(name)
        if composed.size > settings.max_size:
            problems.append(_too_large(args, plan, composed.size, settings))
        note = {
            "sent": "already sent",
            "unknown": "unknown: not resent",
            "refused": "refused before",
            "failed": "failed before",
        }.get(statuses.get((plan.campaign, plan.recipient.key), ""), "")
        lines.append((plan.recipient.email, " ".join(plan.slugs), _size(composed.size), note))
    for stale in folder.glob("*.eml"):  # from an earlier dry run with a longer list
        if stale.name not in written:
            stale.unlink()

    print(
        f"Dry run: nothing sent. {len(plans)} message(s) written to "
        f"{display_path(folder)}/ (open them in a mail program to check).",
        file=out,
    )
    _table(lines, ("recipient", "documents", "size", "journal"), out)
    _documents(composer, out)
    would = sum(1 for line in lines if line[3] not in ("already sent", "unknown: not resent"))
    print(f"To send: add --send ({would} to send, {len(lines) - would} skipped).", file=out)
    if problems:
        raise LivretError(problems)
    return 0


def _size(size: int) -> str:
    return human_size(size).replace("\u00a0", " ")  # terminals align plain spaces better


def _table(rows, header, out) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip(), file=out)


def _documents(composer: Composer, out) -> None:
    print("Documents:", file=out)
    for att in composer.attachments.values():
        print(
            f"  {att.slug}: {att.filename} ({att.pages} pages, {_size(att.size)}, "
            f"from {display_path(att.path)})",
            file=out,
        )


# -- sending ----------------------------------------------------------------------------------


def _too_large(args, plan: Planned, size: int, settings) -> Problem:
    return Problem(
        display_path(args.recipients),
        plan.recipient.line,
        "send",
        f"the message for {plan.recipient.email} would be {_size(size)} encoded, "
        f"over the limit of {_size(settings.max_size)} (max-size); send fewer "
        "documents to this address, or raise max-size if the relay accepts more",
    )


def _check_sizes(args, composer: Composer, plans: list[Planned], settings) -> None:
    problems = []
    for plan in plans:
        if composer.size_bound(plan) > settings.max_size:
            size = composer.compose(plan).size  # close to the limit: measure exactly
            if size > settings.max_size:
                problems.append(_too_large(args, plan, size, settings))
    if problems:
        raise LivretError(problems)


@dataclass
class Report:
    sent: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    not_attempted: list = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.refused or self.unknown or self.failed or self.not_attempted)


def _send(args, composer: Composer, plans: list[Planned], settings, edition: Edition, out) -> int:
    report = Report()
    where = display_path(args.recipients)
    envelope_from = composer.sender.addr_spec
    bcc = [a.addr_spec for a in settings.bcc]
    fatal: list[Problem] | None = None
    interrupted = False

    with Journal(settings.journal) as journal:
        journal.recover_interrupted()
        known = journal.statuses()
        todo: list[Planned] = []
        for plan in plans:
            status, reply = known.get((plan.campaign, plan.recipient.key), (None, None))
            if status == "sent":
                report.skipped.append(plan)
            elif status == "unknown" and not args.resend_unknown:
                report.unknown.append((plan, reply or "unknown"))
            else:
                todo.append(plan)
        journal.prepare(
            [
                (
                    p.campaign,
                    p.recipient.key,
                    p.recipient.email,
                    edition.slug,
                    p.attachments_record(),
                    p.message_id,
                )
                for p in todo
            ]
        )

        print(
            f"Sending {len(todo)} message(s) via {describe(settings)}; "
            f"{len(report.skipped)} already sent; journal {display_path(settings.journal)}",
            file=out,
        )
        sender = Sender(settings)
        done = 0
        ahead: dict[int, object] = {}  # the next message, built while the server works

        def compose_ahead(i: int) -> None:
            if i < len(todo) and i not in ahead:
                try:
                    ahead[i] = composer.compose(todo[i])
                except Exception as exc:  # raised when its turn comes, not mid-transaction
                    ahead[i] = exc

        try:
            for i, plan in enumerate(todo):
                compose_ahead(i)
                composed = ahead.pop(i)
                if isinstance(composed, Exception):
                    raise composed

                def on_data(plan=plan, size=composed.size):
                    return journal.sending(plan.campaign, plan.recipient.key, size)

                def on_not_sent(reply, plan=plan):
                    journal.finish(
                        plan.campaign,
                        plan.recipient.key,
                        "pending",
                        None,
                        f"not delivered, will retry: {reply}",
                    )

                outcome = sender.send(
                    envelope_from,
                    [plan.recipient.email, *bcc],
                    composed.smtp_chunks,
                    on_data,
                    on_not_sent,
                    while_waiting=lambda i=i: compose_ahead(i + 1),
                )
                journal.finish(
                    plan.campaign, plan.recipient.key, outcome.status, outcome.code, outcome.reply
                )
                done += 1
                _progress(plan, outcome, composed.size, out)
                getattr(report, outcome.status).append((plan, outcome.reply))
                if outcome.unreachable:
                    break  # the next ones would wait for the same server in vain
        except Fatal as exc:
            fatal = [exc.problem]
        except LivretError as exc:  # a journal or template problem: say what was sent first
            fatal = exc.problems
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sender.close()
        # Not attempted rows stay "pending" in the journal, and the next run sends them.
        report.not_attempted = todo[done:]

    _print_report(report, where, out, interrupted)
    if fatal is not None:
        raise LivretError(fatal)
    if interrupted:
        return 130
    return 0 if report.clean else 1


def _progress(plan: Planned, outcome: Outcome, size: int, out) -> None:
    docs = " ".join(plan.slugs)
    detail = "" if outcome.status == "sent" else f" — {outcome.reply}"
    print(
        f"  {outcome.status:<8} {plan.recipient.email}  [{docs}]  {_size(size)}{detail}",
        file=out,
        flush=True,
    )


def _print_report(report: Report, where: str, out, interrupted: bool) -> None:
    print(
        f"Sent: {len(report.sent)}, already sent (skipped): {len(report.skipped)}, "
        f"refused: {len(report.refused)}, unknown: {len(report.unknown)}, "
        f"failed: {len(report.failed)}"
        + (f", not attempted: {len(report.not_attempted)}" if report.not_attempted else ""),
        file=out,
    )
    sections = (
        (
            "refused",
            "Refused by the server (fix the address, then run the same command):",
            report.refused,
        ),
        (
            "failed",
            "Failed after every retry (run the same command later to retry):",
            report.failed,
        ),
        (
            "unknown",
            "Unknown: the message may have been delivered. Ask the recipient, then "
            "run again with --resend-unknown to send it anyway:",
            report.unknown,
        ),
    )
    for _, title, items in sections:
        if items:
            print(title, file=out)
            for plan, reply in items:
                print(f"  {where}:{plan.recipient.line}: {plan.recipient.email}: {reply}", file=out)
    if report.not_attempted:
        why = "interrupted" if interrupted else "stopped"
        print(
            f"Not attempted ({why}): {len(report.not_attempted)}; run the same command again "
            "to continue where it stopped.",
            file=out,
        )
