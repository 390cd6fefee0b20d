"""The `mail` subcommand: check everything, build what is missing, then either write one .eml
per recipient under output/mail/ (the default, a dry run) or send (`--send`).

Order matters: every check that can refuse the run — the list, the settings, the templates,
the build, each message's size — happens before the first connection, so that a problem
never leaves a list half sent. Before a real send, the same summary as the dry run's is shown
and, on a terminal, confirmed (`--yes` in scripts).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..building.writer import write_atomic
from ..console import common_options, guarded, take_lang
from ..errors import Collector, LivretError, Problem, display_path
from ..i18n import ArgumentParser, _
from ..reading.reader import TODO_RE, todo_marks
from . import lists
from .attachments import Edition, attachments_from_manifest, read_edition
from .compose import Composed, Composer, Planned, Templates, display_size
from .journal import Delivered, Journal, ReadOnlyJournal
from .recipients import check_address, read_recipients
from .send import Fatal, Outcome, Sender
from .settings import (
    DEFAULT_JOURNAL,
    FLAGS,
    PASSWORD_ENV,
    SECURITY,
    Settings,
    check_for_sending,
    command_line,
    describe,
    flag_dest,
    load_settings,
)
from .suppress import SECRET_ENV, Unsubscribe, check_secret
from .suppress import secret as unsubscribe_secret

DRY_RUN_LIST = ".livret-dry-run"  # in output/mail/: the .eml files the last dry run wrote
_LINK_URL = re.compile(r"https://[^\s<>\"'\\^`|{}]+")


def _description() -> str:
    return _(
        "Send the booklet and theme excerpts to the people in a CSV list (columns email, "
        "name, organisation, send — or courriel, nom, organisation, envoi). Without --send, "
        "nothing is sent: one .eml file per recipient is written under OUTPUT/mail/ to be "
        "opened and checked. With --send, a summary is shown and confirmed, then messages go "
        "out over one SMTP connection, and a journal records each delivery so that running the "
        "same command again only sends what has not been delivered yet. See docs/mail.md."
    )


def _flag_help() -> dict[str, str]:
    return {
        "host": _("SMTP server (default localhost)"),
        "port": _("SMTP port (default 587 for starttls, 465 for ssl, 25 for none)"),
        "security": _("{modes} (default starttls)").format(modes=" | ".join(SECURITY)),
        "user": _("login; the password is read from ${variable} only").format(
            variable=PASSWORD_ENV
        ),
        "from": _(
            'sender, e.g. "Club des territoires <club@example.org>" (default: the '
            "edition's publisher and contact_email)"
        ),
        "reply-to": _("address that replies go to"),
        "rate": _("at most this many messages per minute (default: no limit)"),
        "cafile": _("PEM file of the certificate authority of a relay with a private certificate"),
        "timeout": _(
            "seconds allowed to each exchange with the server before the attempt fails (default 60)"
        ),
        "max-size": _("largest encoded message, e.g. 10MB (default), 25MB, 7MiB"),
        "attempts": _("tries per message on temporary failures (default 4)"),
        "backoff": _("seconds before the first retry, doubled for each next one (default 2)"),
        "templates": _("folder with subject.txt, body.txt and body.html (default layouts/mail)"),
        "journal": _("send journal (default {path})").format(path=DEFAULT_JOURNAL),
        "unsubscribe-mailto": _("address that takes unsubscribe requests (List-Unsubscribe)"),
        "unsubscribe-url": _(
            "unsubscribe web form, with {token} where the person's token goes; the secret "
            "comes from ${variable}"
        ).format(token="{token}", variable=SECRET_ENV),
        "privacy-url": _("page on personal data and rights, linked from every message"),
    }


def register(subparsers: Any, parents: list) -> None:
    p = subparsers.add_parser(
        "mail",
        parents=parents,
        help=_("send the booklet and excerpts by e-mail (dry run unless --send)"),
        description=_description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--recipients",
        type=Path,
        metavar="FILE",
        help=_("CSV list of recipients (see content/recipients.example.csv); needed to send"),
    )
    p.add_argument(
        "--link",
        metavar="BASE_URL",
        help=_(
            "instead of attaching the PDFs, link to them where they are published: "
            "BASE_URL/file-name.pdf (https://…); the same documents per person"
        ),
    )
    p.add_argument(
        "--send", action="store_true", help=_("really send (default: dry run writing .eml files)")
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help=_("send without asking for confirmation (scripts; needed when not on a terminal)"),
    )
    p.add_argument(
        "--to",
        metavar="ADDRESS",
        help=_(
            "test run: send every message to this one address instead of the recipients "
            "(journalled apart: the real send afterwards still reaches everyone)"
        ),
    )
    p.add_argument(
        "--limit",
        metavar="N",
        help=_("send at most N messages in this run; the next run carries on"),
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=_("settings file (default mail.yaml, if present)"),
    )
    p.add_argument(
        "--resend-unknown",
        action="store_true",
        help=_(
            "send again the messages whose delivery is unknown (a connection lost after the "
            "message was sent): their recipients may get them twice"
        ),
    )
    p.add_argument(
        "--campaign",
        metavar="LABEL",
        default="",
        help=_(
            "start a new campaign with the same PDFs (e.g. a reminder): recipients already "
            "served by an earlier campaign get it again"
        ),
    )
    helps = _flag_help()
    for name in FLAGS:
        metavar = {"security": "MODE", "cafile": "FILE", "templates": "DIR", "journal": "FILE"}.get(
            name, name.upper().replace("-", "_")
        )
        p.add_argument(f"--{name}", dest=flag_dest(name), metavar=metavar, help=helps[name])
    p.set_defaults(func=run)
    lists.register(p, parents)


def main(argv: list[str] | None = None, *, build: Callable | None = None) -> int:
    """`python -m livret.mail …`: the same parser and `run` as `livret mail …`, through the
    same guard (livret.console.guarded), so the same exit statuses — 0, 1 for problems (listed
    as file:line lines), 2 for a bad option, 130 after Ctrl-C. `build` replaces the build
    pipeline (tests)."""
    argv = take_lang(list(sys.argv[1:] if argv is None else argv))

    def command() -> int:
        parser = ArgumentParser(prog="livret", parents=[common_options(defaults=True)])
        register(parser.add_subparsers(dest="command", required=True), [common_options()])
        args = parser.parse_args(["mail", *argv])
        return run(args, build=build)

    return guarded(command)


def _default_build() -> Callable:
    from ..building.pipeline import build

    return build


@dataclass(frozen=True)
class Options:
    """What the command line asks beyond the settings."""

    send: bool
    yes: bool
    to: str | None
    limit: int | None
    resend_unknown: bool
    recipients: Path
    link: str | None = None


def _options(args: argparse.Namespace) -> tuple[Options | None, list[Problem]]:
    problems: list[Problem] = []
    to = None
    if getattr(args, "to", None):
        to, why = check_address(args.to.strip())
        if why:
            problems.append(
                Problem(command_line(), None, "--to", _("invalid address: {why}").format(why=why))
            )
    limit = None
    raw = getattr(args, "limit", None)
    if raw is not None:
        try:
            limit = int(str(raw).strip())
        except ValueError:
            limit = 0
        if limit < 1:
            problems.append(
                Problem(
                    command_line(),
                    None,
                    "--limit",
                    _('"{value}" is not a whole number ≥ 1').format(value=raw),
                )
            )
    link = getattr(args, "link", None)
    if link is not None and not _LINK_URL.fullmatch(link.strip()):
        problems.append(
            Problem(
                command_line(),
                None,
                "--link",
                _(
                    '"{value}" is not an https:// address (the folder where the PDFs are '
                    "published, e.g. https://example.org/publications/)"
                ).format(value=link),
            )
        )
    options = Options(
        link=link.strip() if link else None,
        send=bool(args.send),
        yes=bool(getattr(args, "yes", False)),
        to=to,
        limit=limit,
        resend_unknown=bool(getattr(args, "resend_unknown", False)),
        recipients=Path(args.recipients),
    )
    return (None if problems else options), problems


def run(
    args: argparse.Namespace,
    *,
    build: Callable | None = None,
    out: IO[str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    out = out or sys.stdout
    stdin = stdin or sys.stdin
    if getattr(args, "mail_action", None):
        return lists.run(args, out)
    content = Path(getattr(args, "content", None) or "content")
    output = Path(getattr(args, "output", None) or "output")
    if args.recipients is None:
        raise LivretError(
            Problem(
                command_line(),
                None,
                "--recipients",
                _("which list? add --recipients FILE (a CSV file: see docs/mail.md)"),
            )
        )

    edition = read_edition(content)
    settings = recipients = None
    warnings: list[Problem] = []
    overrides = {name: getattr(args, flag_dest(name), None) for name in FLAGS}
    options, problems = _options(args)
    try:
        settings = load_settings(args.config, overrides)
    except LivretError as exc:
        problems += exc.problems
    try:
        recipients = read_recipients(args.recipients, edition.slugs, warnings)
    except LivretError as exc:
        problems += exc.problems
    secret = unsubscribe_secret(os.environ)
    if settings is not None and (settings.unsubscribe_url or secret is not None):
        why = check_secret(secret, "unsubscribe-url")
        if why is not None:
            problems.append(why)
    if problems or options is None or settings is None or recipients is None:
        raise LivretError(problems)
    for warning in warnings:
        print(warning, file=sys.stderr)
    if options.send:
        check_for_sending(settings)
        if not (settings.unsubscribe_url or settings.unsubscribe_mailto):
            print(
                Problem(
                    command_line(),
                    None,
                    None,
                    _(
                        "no unsubscribe-mailto or unsubscribe-url: the messages carry no "
                        "List-Unsubscribe header, which large providers ask of bulk senders "
                        "(see docs/mail.md)"
                    ),
                    "warning",
                ),
                file=sys.stderr,
            )
    templates = Templates(settings.templates, content)
    # Nobody who unsubscribed, bounced for good or was suppressed is ever sent to.
    suppressed = lists.suppressed(settings.journal, [r.key for r in recipients])
    excluded = [r for r in recipients if r.key in suppressed]
    recipients = [r for r in recipients if r.key not in suppressed]
    if excluded:
        print(
            _("Suppressed addresses skipped (unsubscribed, bounced or suppressed): {count}").format(
                count=len(excluded)
            ),
            file=out,
        )
    if not recipients:
        print(_("Nobody left to send to: nothing to do."), file=out)
        return 0

    needed = [s for s in edition.slugs if any(s in r.send for r in recipients)]
    build = build or _default_build()
    manifest = build(
        content,
        output,
        booklet="booklet" in needed,
        themes=[s for s in needed if s != "booklet"],
        actions=[],
    )
    attachments = attachments_from_manifest(manifest, output, needed, edition.slug, edition.number)
    composer = Composer(
        edition,
        settings,
        templates,
        attachments,
        label=args.campaign or "",
        test_to=options.to,
        source=display_path(options.recipients),
        unsubscribe=Unsubscribe(settings.unsubscribe_mailto, settings.unsubscribe_url, secret),
        link_base=options.link,
    )
    plans = [composer.plan(r) for r in recipients]
    composer.excluded = len(excluded)

    if not options.send:
        return _dry_run(options, composer, plans, output, settings, edition, out)
    # Everything that would refuse the send, listed at once, before any connection.
    too_large = _check_sizes(options, composer, plans, settings)
    unfinished = _check_finished(content, composer, plans)
    if too_large or unfinished:
        raise LivretError(unfinished + too_large)
    return _send(options, composer, plans, settings, edition, out, stdin)


# -- what a run will do: the same summary for the dry run and the send --------------------------


@dataclass
class Plan:
    """Who is sent what in this run, and who is skipped, from the journal's point of view."""

    todo: list[Planned] = field(default_factory=list)
    skipped: list[Planned] = field(default_factory=list)  # already sent
    unknown: list[tuple[Planned, str]] = field(default_factory=list)  # not resent
    later: list[Planned] = field(default_factory=list)  # beyond --limit


def _triage(
    plans: list[Planned],
    statuses: Mapping[tuple[str, str], tuple[str, str | None]],
    options: Options,
) -> Plan:
    plan = Plan()
    for p in plans:
        status, reply = statuses.get((p.campaign, p.recipient.key), (None, None))
        if status == "sent":
            plan.skipped.append(p)
        elif status == "unknown" and not options.resend_unknown:
            plan.unknown.append((p, reply or "unknown"))
        elif options.limit is not None and len(plan.todo) >= options.limit:
            plan.later.append(p)
        else:
            plan.todo.append(p)
    return plan


def _older_versions(
    todo: list[Planned], history: dict[str, list[Delivered]]
) -> list[tuple[Planned, str, Delivered]]:
    """(plan, slug, earlier delivery) for each document someone already received in an
    older version (another sha256) and never in this one."""
    found = []
    for p in todo:
        earlier = history.get(p.recipient.key, [])
        for att in p.attachments:
            versions = [
                (d, doc) for d in earlier for doc in d.documents if doc.get("slug") == att.slug
            ]
            if versions and not any(doc.get("sha256") == att.sha256 for _d, doc in versions):
                found.append((p, att.slug, versions[-1][0]))
    return found


def _summary(
    composer: Composer,
    settings: Settings,
    plan: Plan,
    total: int,
    exact: bool,
    older: list[tuple[Planned, str, Delivered]],
    where: str,
    out: IO[str],
) -> None:
    print(_("Summary:"), file=out)
    count = len(plan.todo)
    print(
        "  "
        + _("messages to send: {count}").format(count=count)
        + (
            _(" ({skipped} already sent, {unknown} unknown, {later} left for a later run)").format(
                skipped=len(plan.skipped), unknown=len(plan.unknown), later=len(plan.later)
            )
        ),
        file=out,
    )
    if composer.excluded:
        print(
            "  " + _("suppressed addresses skipped: {count}").format(count=composer.excluded),
            file=out,
        )
    print("  " + _("From: {sender}").format(sender=composer.sender), file=out)
    if plan.todo:
        subject = composer.templates.render(composer.context(plan.todo[0]))[0]
        print("  " + _("Subject: {subject}").format(subject=subject), file=out)
    if composer.test_to:
        print(
            "  "
            + _(
                "Test run: every message goes to {address}, none to the recipients "
                "(the real send afterwards still reaches everyone)"
            ).format(address=composer.test_to),
            file=out,
        )
    print("  " + _("Documents:"), file=out)
    for att in composer.attachments.values():
        people = [p for p in plan.todo if att.slug in p.slugs]
        print(
            "    "
            + _("{slug}: {filename} ({pages} p., {size}) → {people}").format(
                slug=att.slug,
                filename=att.filename,
                pages=att.pages,
                size=display_size(att.size),
                people=_("recipients: {n}").format(n=len(people)),
            ),
            file=out,
        )
    groups: dict[tuple[str, ...], list[Planned]] = {}
    for p in plan.todo:
        groups.setdefault(p.slugs, []).append(p)
    print("  " + _("Who gets what:"), file=out)
    for slugs, people in groups.items():
        shown = ", ".join(p.recipient.email for p in people[:5])
        more = len(people) - 5
        if more > 0:
            shown += _(" and {n} more").format(n=more)
        print(f"    {' + '.join(slugs)} ({len(people)}): {shown}", file=out)
    print(
        "  "
        + (_("Total size: {size}") if exact else _("Total size: at most {size}")).format(
            size=display_size(total)
        ),
        file=out,
    )
    if older:
        print(
            _("Already received an older version of a document (they will get the new version):"),
            file=out,
        )
        for p, slug, earlier in older:
            att = composer.attachments[slug]
            print(
                "  "
                + _(
                    "{where}:{line}: {email}: {slug} sent on {date} in an older version; "
                    "will now receive {filename}"
                ).format(
                    where=where,
                    line=p.recipient.line,
                    email=p.recipient.email,
                    slug=slug,
                    date=earlier.sent_at[:10],
                    filename=att.filename,
                ),
                file=out,
            )


# -- dry run ---------------------------------------------------------------------------------


def _eml_name(index: int, email: str) -> str:
    return f"{index:04d}-{re.sub(r'[^A-Za-z0-9@._+-]', '_', email)}.eml"


def _dry_run(
    options: Options,
    composer: Composer,
    plans: list[Planned],
    output: Path,
    settings: Settings,
    edition: Edition,
    out: IO[str],
) -> int:
    folder = output / "mail"
    journal = ReadOnlyJournal(settings.journal)
    try:
        statuses = {k: (s, None) for k, s in journal.statuses().items()}
        history = journal.history(edition.slug)
    finally:
        journal.close()
    plan = _triage(plans, statuses, options)
    names = {id(p): _eml_name(i, p.recipient.email) for i, p in enumerate(plans, 1)}
    # Only the files a dry run wrote are ever replaced or removed: never anyone else's .eml.
    ours = _dry_run_files(folder)
    foreign = [
        Problem(
            display_path(folder / name),
            None,
            None,
            _(
                "this file was not written by a dry run and would be replaced: move it "
                "elsewhere (the dry run only replaces or removes the files it wrote)"
            ),
        )
        for name in names.values()
        if name not in ours and (folder / name).exists()
    ]
    if foreign:
        raise LivretError(foreign)

    problems: list[Problem] = []
    rows = []
    total = 0
    notes = {
        "sent": _("already sent"),
        "unknown": _("unknown: not resent"),
        "refused": _("refused before"),
        "failed": _("failed before"),
    }
    written: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    for p in plans:
        composed = composer.compose(p)
        name = names[id(p)]
        write_atomic(folder / name, composed.as_bytes())
        written.append(name)
        if composed.size > settings.max_size:
            problems.append(_too_large(options, p, composed.size, settings))
        if any(p is q for q in plan.todo):
            total += composed.size
        status = statuses.get((p.campaign, p.recipient.key), ("", None))[0]
        note = notes.get(status, "")
        if any(p is q for q in plan.later):
            note = _("later (--limit)")
        rows.append((p.recipient.email, " ".join(p.slugs), display_size(composed.size), note))
        # Saved as it goes: an interrupted dry run still knows its files.
        if len(written) % 100 == 0:
            _save_dry_run_files(folder, set(written) | ours)
    for stale in ours - set(written):  # from an earlier dry run with a longer list
        (folder / stale).unlink(missing_ok=True)
    _save_dry_run_files(folder, set(written))

    print(
        _(
            "Dry run: nothing sent. Messages written to {folder}/: {count} (open them in a "
            "mail program to check)."
        ).format(count=len(plans), folder=display_path(folder)),
        file=out,
    )
    _table(rows, (_("recipient"), _("documents"), _("size"), _("journal")), out)
    _summary(
        composer,
        settings,
        plan,
        total,
        True,
        _older_versions(plan.todo, history),
        display_path(options.recipients),
        out,
    )
    print(
        _("To send: add --send ({todo} to send, {skipped} skipped).").format(
            todo=len(plan.todo), skipped=len(plans) - len(plan.todo)
        ),
        file=out,
    )
    if problems:
        raise LivretError(problems)
    return 0


def _dry_run_files(folder: Path) -> set[str]:
    try:
        text = (folder / DRY_RUN_LIST).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line for line in text.splitlines() if line.endswith(".eml") and "/" not in line}


def _save_dry_run_files(folder: Path, names: set[str]) -> None:
    write_atomic(folder / DRY_RUN_LIST, "".join(f"{n}\n" for n in sorted(names)).encode())


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], out: IO[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = (str(v).ljust(w) for v, w in zip(row, widths, strict=True))
        print("  " + "  ".join(cells).rstrip(), file=out)


# -- sending ----------------------------------------------------------------------------------


def _check_finished(content: Path, composer: Composer, plans: list[Planned]) -> list[Problem]:
    """A real send refuses while anything it would send still holds « À COMPLÉTER » (what
    new-edition and new-action write where the real text goes, and what `check` warns
    about): the content files the attached PDFs were built from, the edition (it makes the
    subject), and the rendered subject and bodies (seen by Composer.size_bound(), which
    renders every message once before sending). Dry runs and builds stay allowed."""
    root = content.resolve()
    files: dict[Path, None] = {root / "edition.yaml": None}
    for att in {a.path: a for plan in plans for a in plan.attachments}.values():
        for key in att.inputs:
            path = (root.parent / key).resolve()
            if path.is_relative_to(root) and path.suffix in (".md", ".yaml", ".yml"):
                files[path] = None
    found = Collector()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            continue  # the build read it; a file gone since is the build's business
        todo_marks(text, path, found)
    problems = [Problem(display_path(p.path), p.line, None, p.message) for p in found.problems]
    for name, text in composer.unfinished.items():
        problems.append(
            Problem(
                composer.templates.where(name),
                composer.templates.line_of(name, TODO_RE),
                None,
                (
                    _(
                        "the subject would hold « À COMPLÉTER » ({text}): write the real "
                        "text first (the lines above say where)"
                    )
                    if name == "subject.txt"
                    else _(
                        "the message body would hold « À COMPLÉTER » ({text}): write the "
                        "real text first (the lines above say where)"
                    )
                ).format(text=_excerpt(text)),
            )
        )
    if problems:
        problems.append(
            Problem(
                command_line(),
                None,
                "--send",
                _(
                    "not sent: {count} place(s) still to write in what this send would carry; "
                    "a dry run (without --send) stays possible"
                ).format(count=len(problems)),
            )
        )
    return problems


def _excerpt(text: str) -> str:
    match = TODO_RE.search(text)
    assert match is not None
    start = max(0, match.start() - 30)
    return "…" * (start > 0) + " ".join(text[start : match.end() + 30].split()) + "…"


def _too_large(options: Options, plan: Planned, size: int, settings: Settings) -> Problem:
    return Problem(
        display_path(options.recipients),
        plan.recipient.line,
        plan.recipient.label("send"),
        _(
            "the message for {email} would be {size} once encoded (base64 adds a third to "
            "each PDF), over the limit of {limit} (max-size): many mail servers refuse such a "
            "message (Exchange: 10 MB by default). Send fewer documents to this address, send "
            "links to the published PDFs instead (--link BASE_URL), or raise max-size if the "
            "relay and the recipients accept more"
        ).format(
            email=plan.recipient.email,
            size=display_size(size),
            limit=display_size(settings.max_size),
        ),
    )


def _check_sizes(
    options: Options, composer: Composer, plans: list[Planned], settings: Settings
) -> list[Problem]:
    problems = []
    for plan in plans:
        if composer.size_bound(plan) > settings.max_size:
            size = composer.compose(plan).size  # close to the limit: measure exactly
            if size > settings.max_size:
                problems.append(_too_large(options, plan, size, settings))
    return problems


@dataclass
class Report:
    sent: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    not_attempted: list = field(default_factory=list)
    later: list = field(default_factory=list)  # beyond --limit: by choice, not a problem
    suppressed: int = 0  # addresses of the list that must not be mailed any more

    @property
    def clean(self) -> bool:
        return not (self.refused or self.unknown or self.failed or self.not_attempted)


def _confirm(options: Options, count: int, out: IO[str], stdin: IO[str]) -> bool:
    if options.yes or count == 0:
        return True
    if not stdin.isatty():
        raise LivretError(
            Problem(
                command_line(),
                None,
                "--yes",
                _(
                    "not on a terminal, so nobody can confirm the send: run it from a "
                    "terminal, or add --yes (scripts) once the summary above is right; "
                    "nothing was sent"
                ),
            )
        )
    print(
        _("Send the {count} message(s) now? Type yes to confirm: ").format(count=count),
        end="",
        file=out,
        flush=True,
    )
    answer = stdin.readline().strip().lower()
    return answer in ("yes", "y", "oui", "o", _("yes").lower())


def _send(
    options: Options,
    composer: Composer,
    plans: list[Planned],
    settings: Settings,
    edition: Edition,
    out: IO[str],
    stdin: IO[str],
) -> int:
    report = Report(suppressed=composer.excluded)
    where = display_path(options.recipients)
    envelope_from = composer.sender.addr_spec
    bcc = [] if options.to else [a.addr_spec for a in settings.bcc]  # a test run: only --to
    fatal: list[Problem] | None = None
    interrupted = False

    with Journal(settings.journal) as journal:
        journal.recover_interrupted()
        plan = _triage(plans, journal.statuses(), options)
        todo = plan.todo
        report.skipped = plan.skipped
        report.unknown = list(plan.unknown)
        report.later = plan.later
        total = sum(composer.size_bound(p) for p in todo)
        older = _older_versions(todo, journal.history(edition.slug))
        _summary(composer, settings, plan, total, False, older, where, out)
        if not _confirm(options, len(todo), out, stdin):
            print(_("Cancelled: nothing sent."), file=out)
            return 1
        journal.prepare(
            [
                (
                    p.campaign,
                    p.recipient.key,
                    p.to,
                    edition.slug,
                    p.attachments_record(),
                    p.message_id,
                )
                for p in todo
            ]
        )
        print(
            _(
                "Sending {count} message(s) via {server}; {skipped} already sent; journal {journal}"
            ).format(
                count=len(todo),
                server=describe(settings),
                skipped=len(report.skipped),
                journal=display_path(settings.journal),
            ),
            file=out,
        )
        sender = Sender(settings)
        done = 0
        ahead: dict[int, Composed | Exception] = {}  # the next message, built meanwhile
        current: Planned | None = None
        outcome: Outcome | None = None

        def compose_ahead(i: int) -> None:
            if i < len(todo) and i not in ahead:
                try:
                    ahead[i] = composer.compose(todo[i])
                except Exception as exc:  # raised when its turn comes, not mid-transaction
                    ahead[i] = exc

        try:
            for i, p in enumerate(todo):
                current, outcome = p, None
                compose_ahead(i)
                composed = ahead.pop(i)
                if isinstance(composed, Exception):
                    raise composed

                def on_data(p: Planned = p, size: int = composed.size) -> None:
                    journal.sending(p.campaign, p.recipient.key, size)

                def on_not_sent(reply: str, p: Planned = p) -> None:
                    journal.finish(
                        p.campaign,
                        p.recipient.key,
                        "pending",
                        None,
                        _("not delivered, will retry: {reply}").format(reply=reply),
                    )

                outcome = sender.send(
                    envelope_from,
                    [p.to, *bcc],
                    composed.as_bytes(),
                    on_data,
                    on_not_sent,
                    while_waiting=functools.partial(compose_ahead, i + 1),
                )
                journal.finish(
                    p.campaign, p.recipient.key, outcome.status, outcome.code, outcome.reply
                )
                done += 1
                current = None
                _progress(p, outcome, composed.size, out)
                getattr(report, outcome.status).append((p, outcome.reply))
                if outcome.unreachable:
                    break  # the next ones would wait for the same server in vain
        except Fatal as exc:
            fatal = [exc.problem]
        except LivretError as exc:  # a journal or template problem: say what was sent first
            fatal = exc.problems
        except KeyboardInterrupt:
            interrupted = True
            if current is not None:
                done += _settle_interrupted(journal, current, outcome, report)
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


def _settle_interrupted(
    journal: Journal, p: Planned, outcome: Outcome | None, report: Report
) -> int:
    """Ctrl-C during a message: record what is known of it. Returns 1 if it was attempted.

    The journal says how far it got: "sending" means the end-of-data marker may have gone
    out, so the message may have been delivered: unknown (never resent on its own), as after
    a kill -9. "pending" means the server cannot have it: not attempted, sent by the next run.
    """
    if outcome is not None:  # the server had answered; interrupted while recording it
        journal.finish(p.campaign, p.recipient.key, outcome.status, outcome.code, outcome.reply)
        getattr(report, outcome.status).append((p, outcome.reply))
        return 1
    row = journal.get(p.campaign, p.recipient.key)
    if row is not None and row.status == "sending":
        reply = _(
            "interrupted (Ctrl-C) after the message data was sent, before the server's reply: "
            "it may or may not have been delivered"
        )
        journal.finish(p.campaign, p.recipient.key, "unknown", None, reply)
        report.unknown.append((p, reply))
        return 1
    return 0


def _status_word(status: str) -> str:
    return {
        "sent": _("sent"),
        "refused": _("refused"),
        "failed": _("failed"),
        "unknown": _("unknown"),
    }.get(status, status)


def _progress(plan: Planned, outcome: Outcome, size: int, out: IO[str]) -> None:
    docs = " ".join(plan.slugs)
    detail = "" if outcome.status == "sent" else f" — {outcome.reply}"
    word = _status_word(outcome.status)
    print(
        f"  {word:<8} {plan.recipient.email}  [{docs}]  {display_size(size)}{detail}",
        file=out,
        flush=True,
    )


def _print_report(report: Report, where: str, out: IO[str], interrupted: bool) -> None:
    print(
        _(
            "Sent: {sent}, already sent (skipped): {skipped}, refused: {refused}, "
            "unknown: {unknown}, failed: {failed}"
        ).format(
            sent=len(report.sent),
            skipped=len(report.skipped),
            refused=len(report.refused),
            unknown=len(report.unknown),
            failed=len(report.failed),
        )
        + (
            _(", not attempted: {count}").format(count=len(report.not_attempted))
            if report.not_attempted
            else ""
        )
        + (
            _(", suppressed (not sent): {count}").format(count=report.suppressed)
            if report.suppressed
            else ""
        ),
        file=out,
    )
    sections = (
        (
            _("Refused by the server (fix the address, then run the same command):"),
            report.refused,
        ),
        (
            _("Failed after every retry (run the same command later to retry):"),
            report.failed,
        ),
        (
            _(
                "Unknown: the message may have been delivered. Ask the recipient, then run "
                "again with --resend-unknown to send it anyway:"
            ),
            report.unknown,
        ),
    )
    for title, items in sections:
        if items:
            print(title, file=out)
            for plan, reply in items:
                print(f"  {where}:{plan.recipient.line}: {plan.recipient.email}: {reply}", file=out)
    if report.not_attempted:
        print(
            (
                _(
                    "Not attempted (interrupted): {count}; run the same command again to "
                    "continue where it stopped."
                )
                if interrupted
                else _(
                    "Not attempted (stopped): {count}; run the same command again to continue "
                    "where it stopped."
                )
            ).format(count=len(report.not_attempted)),
            file=out,
        )
    if report.later:
        print(
            _("Left for a later run (--limit): {count}; run the same command again.").format(
                count=len(report.later)
            ),
            file=out,
        )
