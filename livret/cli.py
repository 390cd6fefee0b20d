"""Command line: `livret [build|check|watch|mail] …` (also `python build.py …`).

Every user-facing failure is a LivretError; it is caught here, once, and printed as
`file:line: field: message` lines — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from . import __version__
from .console import (
    _lang_option,
    guarded,
    print_problems,
    report_internal_error,
    selection,
    take_lang,
)
from .console import common_options as _common
from .errors import LivretError, Problem, printable
from .i18n import N_, ArgumentParser, _, ngettext, seconds, size

STATUS = {"built": N_("built"), "up to date": N_("up to date")}
COMMANDS = (
    "build",
    "check",
    "check-equivalence",
    "watch",
    "preview",
    "serve",
    "mail",
    "new-edition",
    "new-action",
)


# Options accepted before the command too (`livret --content c check`), each with a value.
GLOBAL_OPTIONS = ("--content", "--output")


def _selection(p: argparse.ArgumentParser) -> None:
    from .building.outputs import KINDS

    for kind in KINDS.values():
        if kind.option:
            p.add_argument(
                kind.option, action="append", default=[], metavar=_("SLUG"), help=_(kind.help)
            )
    p.add_argument(
        "--only",
        choices=tuple(k.only for k in KINDS.values()),
        action="append",
        help=_("build only this kind of output (repeatable)"),
    )
    p.add_argument(
        "--list", action="store_true", help=_("print the theme and action slugs, then stop")
    )
    p.add_argument("--force", action="store_true", help=_("rebuild even what is up to date"))
    p.add_argument(
        "--variant",
        choices=("accessible", "archive", "print"),
        default="accessible",
        help=_(
            "accessible: tagged PDF/UA-1 (default); archive: PDF/A-3a; "
            "print: PDF/X-4 in CMYK for the press, 3 mm bleed and crop marks"
        ),
    )
    p.add_argument(
        "-j", "--jobs", type=int, default=None, help=_("parallel renders (default: CPUs)")
    )
    p.add_argument("-q", "--quiet", action="store_true", help=_("print only errors"))
    p.add_argument("--json", action="store_true", help=_("print the summary as JSON"))


def _impose_option(p: argparse.ArgumentParser) -> None:
    from .finishing.impose import SHEETS

    p.add_argument(
        "--impose",
        choices=tuple(SHEETS),
        action="append",
        default=[],
        help=_(
            "also write the booklet and excerpts imposed for an office printer: a4 (an A5 "
            "booklet on A4 sheets) or a3 (an A4 booklet on A3 sheets); repeatable"
        ),
    )


def parser(full: bool = False) -> argparse.ArgumentParser:
    """The command line. `full`: with the mail command's own options (its modules — email,
    smtplib, ssl… — take time to import: a build, the most frequent command, does not pay
    for them; the figure is in benchmarks/README.md)."""
    common = _common()
    p = ArgumentParser(
        prog="livret",
        parents=[_common(defaults=True)],
        description=_(
            "Build the « Retour d'expérience » booklet, its excerpts "
            "and action sheets from content/, check the content, or mail the PDFs."
        ),
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"livret {__version__}",
        help=_("print the version and exit"),
    )
    _lang_option(p)
    sub = p.add_subparsers(dest="command", metavar=_("COMMAND"), title=_("commands"))
    b = sub.add_parser(
        "build",
        parents=[common],
        help=_("build the PDFs (default command)"),
        description=_(
            "Build the booklet and one excerpt per theme into the output "
            "folder; only what changed is rebuilt."
        ),
    )
    _selection(b)
    _impose_option(b)
    b.add_argument(
        "--html",
        type=Path,
        metavar=_("DIR"),
        help=_("write the HTML documents, their stylesheets and fonts into DIR instead of PDFs"),
    )
    b.set_defaults(func=cmd_build)
    c = sub.add_parser(
        "check", parents=[common], help=_("validate the content, print every problem")
    )
    c.add_argument("-q", "--quiet", action="store_true", help=_("print only errors"))
    c.set_defaults(func=cmd_check)
    q = sub.add_parser(
        "check-equivalence",
        parents=[common],
        help=_("check that the EPUB says what the PDF says (RGAA 13.4), block by block"),
    )
    q.set_defaults(func=cmd_check_equivalence)
    w = sub.add_parser("watch", parents=[common], help=_("rebuild on every save"))
    _selection(w)
    _impose_option(w)
    w.set_defaults(func=cmd_watch)
    v = sub.add_parser(
        "preview",
        aliases=["serve"],
        parents=[common],
        help=_("show the pages in the browser, updated on every save"),
        description=_(
            "A local web server (127.0.0.1 only) showing every output's pages as printed; "
            "each save rebuilds what changed and the page updates by itself."
        ),
    )
    _selection(v)
    v.add_argument(
        "--port", action=_Port, default=0, help=_("port (default: a free one, printed at start)")
    )
    v.add_argument("--no-open", action="store_true", help=_("do not open the browser"))
    v.set_defaults(func=cmd_preview)
    e = sub.add_parser(
        "new-edition",
        help=_("start the next edition in a new content folder"),
        description=_(
            "Create a complete content folder for edition N: same series, themes and colours, "
            "one example card; every value to write says « À COMPLÉTER »."
        ),
    )
    _lang_option(e)
    e.add_argument("folder", type=Path, metavar=_("FOLDER"), help=_("the new content folder"))
    e.add_argument(
        "--number", type=int, required=True, metavar="N", help=_("the new edition's number")
    )
    e.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=Path("content"),
        metavar=_("FOLDER"),
        help=_("the edition to start from (default: content)"),
    )
    e.add_argument(
        "--output",
        type=Path,
        default=Path("output"),
        metavar=_("DIR"),
        help=_("output folder the editions share (default: output): its numbers are taken"),
    )
    e.set_defaults(func=cmd_new_edition)
    a = sub.add_parser(
        "new-action",
        parents=[common],
        help=_("add a card to a theme"),
        description=_(
            "Create actions/SLUG.md from the card template and add SLUG to the theme's "
            "« actions: » list."
        ),
    )
    a.add_argument("slug", metavar=_("SLUG"), help=_("the card's file name, e.g. velo-solidaire"))
    a.add_argument("--theme", required=True, metavar=_("THEME"), help=_("the theme's slug"))
    a.set_defaults(func=cmd_new_action)
    if full:
        from .mail import cli as mail_cli

        mail_cli.register(sub, [common])
    else:
        sub.add_parser(
            "mail", help=_("send the booklet and excerpts by e-mail (dry run unless --send)")
        )
    return p


class _Port(argparse.Action):
    """--port: a TCP port, 1 to 65535 (without the option: a free one)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        value = str(values).strip()
        if not (value.isdigit() and 1 <= int(value) <= 65535):
            parser.error(
                _(
                    "--port: {value} is not a port; give a number from 1 to 65535, "
                    "or leave --port out for a free one"
                ).format(value=values)
            )
        setattr(namespace, self.dest, int(value))


def cmd_check_equivalence(args) -> int:
    from .building.equivalence import command

    return command(args)


def cmd_new_edition(args) -> int:
    from .reading.scaffold import new_edition

    written = new_edition(args.folder, args.number, args.source, args.output)
    print(
        _("{folder}: edition no. {number} created ({count} files).").format(
            folder=args.folder, number=args.number, count=len(written)
        )
    )
    print(
        _(
            "Next: replace each « À COMPLÉTER » (python build.py check --content {folder} "
            "lists them), then build with python build.py --content {folder}."
        ).format(folder=args.folder)
    )
    return 0


def cmd_new_action(args) -> int:
    from .reading.scaffold import new_action

    card, theme = new_action(args.slug, args.theme, args.content)
    print(
        _(
            "{card}: new card, listed in {theme}; write its text in place of « À COMPLÉTER »."
        ).format(card=card, theme=theme)
    )
    return 0


def print_warnings(site) -> None:
    for p in site.warnings:
        print(p, file=sys.stderr)


def cmd_check(args) -> int:
    from .reading.loader import load_site
    from .rendering.render import check_design

    site = load_site(args.content)
    # the layouts keep their promises to the code (livret/rendering/contracts.py)
    check_design(site)
    if not args.quiet:
        print_warnings(site)
    counts = {
        "themes": ngettext("{n} theme", "{n} themes", len(site.themes)).format(n=len(site.themes)),
        "actions": ngettext("{n} action", "{n} actions", len(site.actions)).format(
            n=len(site.actions)
        ),
        "files": ngettext("{n} file", "{n} files", len(site.files)).format(n=len(site.files)),
    }
    print(_("{folder}: OK — {themes}, {actions}, {files}").format(folder=args.content, **counts))
    return 0


def _summary(results, elapsed, args) -> None:
    if args.json:
        print(
            json.dumps(
                {
                    "seconds": round(elapsed, 3),
                    "outputs": [
                        {
                            "path": str(r.path),
                            "kind": r.output.kind,
                            "status": r.status,
                            "pages": r.pages,
                            "bytes": r.bytes,
                            "seconds": round(r.seconds, 3),
                        }
                        for r in results
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if args.quiet:
        return
    from rich.console import Console
    from rich.table import Table

    folder = args.output
    table = Table(
        title=_("livret → {folder}/ in {time}").format(folder=folder, time=seconds(elapsed)),
        title_justify="left",
    )
    for col in (N_("output"), N_("pages"), N_("size"), N_("time"), N_("status")):
        table.add_column(
            _(col), justify="left" if col in ("output", "status") else "right", no_wrap=True
        )
    for r in results:
        table.add_row(
            os.path.relpath(r.path, folder),  # web/01/index.html: the web edition
            str(r.pages),
            size(r.bytes),
            seconds(r.seconds) if r.status == "built" else "—",
            _(STATUS.get(r.status, r.status)),
        )
    console = Console()
    if not console.is_terminal:  # logs and pipes: never cut a file name at 80 columns
        console = Console(width=120)
    console.print(table)


def _list(site) -> None:
    print(_("themes:"))
    for t in site.themes:
        print(printable(f"  {t.slug:24} {t.title}"))
    print(_("actions:"))
    for a in site.actions:
        print(printable(f"  {a.slug:24} {a.title}, {a.organisation}  [{a.theme}]"))


def build_once(args, site=None, session=None):
    """Build what `args` asks. `session`: watch's use of its warm pool (preview/renderer.py),
    which a newer save cancels: from then on this build prints nothing (no line of stale
    work) and ends with Cancelled."""
    from .building.pipeline import run
    from .reading.loader import load_site
    from .reading.memo import CACHE

    if site is None:
        # The checks' results kept in the output folder (memo.py); --list writes nothing.
        site = load_site(args.content, cache=None if args.list else Path(args.output) / CACHE)
        if not args.quiet:
            print_warnings(site)
    if args.list:
        _list(site)
        return None
    sel = selection(args, site)
    start = time.perf_counter()
    with _progress(args) as shown:
        progress = shown
        if shown is not None and session is not None:

            def progress(name, info=None):
                if not session.cancelled:
                    shown(name, info)

        manifest, results = run(
            args.content,
            args.output,
            site=site,
            force=args.force,
            jobs=args.jobs,
            variant=args.variant,
            progress=progress,
            pool=session,
            impose=args.impose,
            **sel,
        )
    if session is not None and session.cancelled:
        from .preview.renderer import Cancelled

        raise Cancelled
    _summary(results, time.perf_counter() - start, args)
    if not (args.quiet or args.json):
        _how_to_print(results, asked=bool(args.impose))
    return results


def _how_to_print(results, asked: bool = False) -> None:
    """Where each imposed PDF is and how to print it (livret/finishing/impose.py)."""
    from .building.pipeline import IMPOSITION
    from .finishing.impose import FOLDED, READABLE_PT, body_size
    from .i18n import quantity

    pages = {r.path.name: r.pages for r in results}
    imposed = [r for r in results if r.output.kind == IMPOSITION]
    if asked and not imposed:
        print(
            _(
                "--impose: only the booklet and the theme excerpts are imposed, and this "
                "build has neither"
            ),
            file=sys.stderr,
        )
    for r in imposed:
        sheet, source = r.inputs["sheet"], r.inputs["source"]
        count = pages[source]
        sheets = r.pages // 2
        print(
            printable(
                ngettext(
                    "{path}: {sheets} {paper} sheet to print and fold, an {size} booklet of "
                    "{pages} pages",
                    "{path}: {sheets} {paper} sheets to print and fold, an {size} booklet of "
                    "{pages} pages",
                    sheets,
                ).format(
                    path=r.path,
                    sheets=sheets,
                    paper=sheet.upper(),
                    size=FOLDED[sheet],
                    pages=2 * r.pages,
                )
            )
        )
        blanks = 2 * r.pages - count
        if blanks:
            print(
                "  "
                + ngettext(
                    "{source} has {pages} pages, not a multiple of 4: {blanks} blank page "
                    "added before the last one",
                    "{source} has {pages} pages, not a multiple of 4: {blanks} blank pages "
                    "added before the last one",
                    blanks,
                ).format(source=source, pages=count, blanks=blanks)
            )
        if (body := body_size(sheet)) < READABLE_PT:
            print(
                "  "
                + _(
                    "warning: the body text is printed at {size} on {paper} sheets, under "
                    "{readable} and hard to read: prefer --impose a3 (an A4 booklet on A3 "
                    "sheets) if your printer takes A3"
                ).format(
                    size=quantity(body, "pt", 1),
                    paper=sheet.upper(),
                    readable=quantity(READABLE_PT, "pt"),
                )
            )
    if imposed:
        print(
            _(
                "To print: both sides, flip on the short edge, actual size (100 %); then "
                "fold the stack in half, the sheet with the cover outside, and staple it on "
                "the fold."
            )
        )


@contextlib.contextmanager
def _progress(args):
    """A live bar on a terminal; one line per rendered PDF otherwise (logs, CI)."""
    if args.quiet or args.json:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:

        def line(name, info=None):
            if info is not None:
                print(
                    "  "
                    + ngettext(
                        "rendered {name}: {pages} page in {time}",
                        "rendered {name}: {pages} pages in {time}",
                        info[1],
                    ).format(name=name, pages=info[1], time=seconds(info[4])),
                    file=sys.stderr,
                )

        yield line
        return
    # No auto-refresh thread: the render workers are forked, and a thread holding a lock
    # (the terminal's) at fork time would leave it locked forever in the child.
    with Progress(
        TextColumn(_("rendering")),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        auto_refresh=False,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(name, info=None):
            if info is None:  # the pipeline announces how many outputs it will render
                bar.update(task, total=name)
            else:
                bar.update(task, advance=1, description=name)
            bar.refresh()

        yield update


def cmd_build(args) -> int:
    if args.html:
        return cmd_html(args)
    build_once(args)
    return 0


def cmd_html(args) -> int:
    from .building.htmlexport import export
    from .building.outputs import plan
    from .reading.loader import load_site

    site = load_site(args.content)
    from .building.outputs import KINDS

    documents = [o for o in plan(site, **selection(args, site)) if KINDS[o.kind].pdf]
    written = export(site, documents, args.html, args.variant)
    if not args.quiet:
        for path in written:
            print(path)
    return 0


def cmd_preview(args) -> int:
    from .preview.server import serve

    return serve(args)


class _Watch:
    """`watch`: saves come on the main thread, builds run on a thread of their own, one at a
    time, for the newest save. A save stops the build under way at once (its renders not
    started never start, those running stop: preview/renderer.py's Session), is checked at
    once (its problems printed now, not when the stale build would have ended), then built.
    A stale build prints nothing more and its renders have all ended before the next build
    starts: no stale PDF is written after a newer one. The preview works the same way."""

    CHECKING = object()  # the newest save is being checked: no build starts meanwhile

    def __init__(self, args, pool) -> None:
        import threading

        self.args, self.pool = args, pool
        self.wake = threading.Condition()
        self.pending: list[str] | None = None  # saved since the last build started
        self.site: object = None  # the newest save's content, checked; False: it has problems
        self.saves = 0  # saves seen: a build is for the newest one, or is stale
        self.session = None  # the build under way
        self.closing = False
        self.started = False  # "watching" printed

    # --- the watcher's side (the main thread) -----------------------------------------------
    def saved(self, changes: list[str]) -> None:
        with self.wake:
            self.saves += 1
            if self.session is not None:
                self.session.cancel()
            self.pending = (self.pending or []) + list(changes)
            self.site = self.CHECKING
        site = self.check()
        with self.wake:
            self.site = site
            self.wake.notify()

    def check(self):
        """The content, read and checked now; False when it has problems (printed)."""
        from .reading.loader import load_site

        try:
            site = load_site(self.args.content)
        except Exception as exc:  # any error: said, and still watching
            self.failed(exc)
            return False
        if not self.args.quiet:
            print_warnings(site)
        return site

    def failed(self, exc: BaseException) -> None:
        """Keep watching: the last good PDFs stay in place until the content is fixed."""
        if isinstance(exc, LivretError):
            print_problems(exc, self.args.quiet)
            message = _("livret: the last good PDFs are kept; fix the content and save again.")
        else:  # anything else: said in one line
            report_internal_error(exc)
            message = _("livret: the last good PDFs are kept; still watching.")
        print(message, file=sys.stderr, flush=True)

    def stop(self) -> None:
        with self.wake:
            self.closing = True
            if self.session is not None:
                self.session.cancel()
            self.wake.notify()

    # --- the builder's side ---------------------------------------------------------------
    def run_builds(self) -> None:
        while True:
            with self.wake:
                while not self.closing and (self.pending is None or self.site is self.CHECKING):
                    if self.pending is None and self.saves and not self.started:
                        self.started = True  # the first build is over: say what is watched
                        print(
                            _(
                                "livret: watching {content}, layouts/ and styles/ (Ctrl-C to stop)"
                            ).format(content=self.args.content),
                            file=sys.stderr,
                            flush=True,
                        )
                    self.wake.wait()
                if self.closing:
                    return
                changes, site, serial = self.pending or [], self.site, self.saves
                self.pending = None
            try:
                self.pool.saved(changes)  # a layout or a stylesheet: the process's caches go
            except Exception as exc:  # the watch survives any error
                self.failed(exc)
                continue
            if site is not False:  # else the check has printed its problems
                self.build(site, serial)

    def build(self, site, serial: int) -> None:
        from concurrent.futures import CancelledError

        from .preview.renderer import Cancelled

        session = None
        try:
            session = self.pool.session(site)
            with self.wake:
                if self.closing or serial != self.saves:
                    return  # a newer save came while it started
                self.session = session
            build_once(self.args, site, session)
        except (Cancelled, CancelledError):
            pass  # a newer save stopped it: that one is built next
        except Exception as exc:  # the watch survives any error
            if not (session is not None and session.cancelled):
                self.failed(exc)
        finally:
            if session is not None:
                session.wait()  # its stopped renders have ended: none writes after the next
            with self.wake:
                if self.session is session:
                    self.session = None
            sys.stderr.flush()


def cmd_watch(args) -> int:
    import threading

    from .preview.renderer import WarmPool
    from .preview.watcher import saves
    from .rendering.design import for_content

    pool = WarmPool(args.content, args.jobs)  # workers that stay warm across saves
    watch = _Watch(args, pool)
    builder = threading.Thread(target=watch.run_builds, name="watch-build", daemon=True)
    builder.start()
    # The watcher starts first, the first build after (its first batch is empty): a save made
    # while that build runs, or just after, is seen. A content folder removed and put back is
    # watched again (preview/watcher.py).
    try:
        for changes in saves(args.content, for_content(args.content).folders):
            watch.saved(changes)
    except KeyboardInterrupt:
        pass
    finally:
        watch.stop()
        builder.join(timeout=60)  # its renders stopped: it ends at once
        pool.close()
    return 0


def _command_at(argv: list[str]) -> int:
    """Where the command is in argv, after any global options; "build" is put there when
    none is given (`livret --theme x` = `livret build --theme x`)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in COMMANDS:
            return i
        if arg in GLOBAL_OPTIONS:
            i += 2
        elif arg.partition("=")[0] in GLOBAL_OPTIONS:
            i += 1
        else:
            break
    if i < len(argv) and argv[i] in ("-h", "--help", "--version"):
        return i
    argv.insert(min(i, len(argv)), "build")
    return i


def _unknown_command(argv: list[str], at: int) -> None:
    """`livret chek`: a word where the command goes is not taken for build's argument (build
    takes none) but named, with the command it is closest to."""
    word = argv[at + 1] if argv[at] == "build" and at + 1 < len(argv) else ""
    if not word or word.startswith("-") or word in COMMANDS:
        return
    import difflib

    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = (
        _("did you mean « {command} »?").format(command=close[0])
        if close
        else _("commands: {commands}").format(commands=", ".join(COMMANDS))
    )
    raise LivretError(
        Problem(
            "livret",
            None,
            None,
            _("unknown command « {word} »: {hint}").format(word=word, hint=hint),
        )
    )


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C stops every command, even one started with SIGINT ignored (nohup, a background
    # job, some CI runners), which Python would otherwise leave ignored.
    with contextlib.suppress(ValueError):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # The language is set; "--lang X", if given, is now at the end.
    argv = take_lang(list(sys.argv[1:] if argv is None else argv))
    at = _command_at(argv)
    quiet = "-q" in argv or "--quiet" in argv

    def command() -> int:
        _unknown_command(argv, at)
        # One way to run mail: `python -m livret.mail …` is `livret mail …`, same exit codes.
        full = argv[at] in ("mail", "-h", "--help")
        args = parser(full=full).parse_args(argv)
        return args.func(args)

    return guarded(command, quiet)

    return guarded(command)
