"""What every command shares, below the commands: the messages' language, the options every
command takes, and how a command's failures reach the person at the terminal (problems as
`file:line: field: message` lines, Ctrl-C, a closed pipe, a bug) — never a traceback.

`livret.cli` (the build, check, watch, preview… commands) and `livret.mail.cli` (`mail`, also
`python -m livret.mail`) both run their command through `guarded()`, so the same failure gives
the same lines and the same exit status wherever it is run from.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .errors import LivretError, Problem, printable
from .i18n import LANGUAGES, ArgumentParser, _, ngettext, set_language


def _lang_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        help=_("language of the messages: fr (default) or en; also LIVRET_LANG"),
    )


def take_lang(argv: list[str]) -> list[str]:
    """Set the messages' language from --lang before the parser (and its help) is made; the
    option is moved to the end of the arguments, where every command accepts it."""
    out, lang, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--lang" and i + 1 < len(argv):
            lang, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--lang="):
            lang, i = arg.partition("=")[2], i + 1
            continue
        out.append(arg)
        i += 1
    set_language(lang)
    if lang is None:
        return out
    return [*out, "--lang", lang]


def common_options(defaults: bool = False) -> ArgumentParser:
    """--content and --output (and --lang). The top-level parser holds the defaults; a
    command's own copy sets them only when given after it, so that one given before is kept."""
    p = ArgumentParser(add_help=False)
    if not defaults:
        _lang_option(p)  # the top-level parser has its own
    p.add_argument(
        "--content",
        type=Path,
        default=Path("content") if defaults else argparse.SUPPRESS,
        metavar=_("DIR"),
        help=_("content folder (default: content)"),
    )
    p.add_argument(
        "--output",
        type=Path,
        default=Path("output") if defaults else argparse.SUPPRESS,
        metavar=_("DIR"),
        help=_("output folder (default: output)"),
    )
    return p


def report_internal_error(exc: BaseException) -> None:
    """A bug, not a content problem: one line for the editor, the traceback in a log file
    for whoever fixes it."""
    import tempfile
    import traceback

    try:
        fd, log = tempfile.mkstemp(prefix="livret-error-", suffix=".log")
        with open(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"livret {__version__}\n")
            fh.write("".join(traceback.format_exception(exc)))
        where = _("details in {log}").format(log=log)
    except OSError:
        where = _("no log could be written")
    message = _("livret: internal error ({kind}: {message}); {where}").format(
        kind=type(exc).__name__, message=str(exc)[:300], where=where
    )
    print(printable(message), file=sys.stderr, flush=True)


def print_problems(exc: LivretError, quiet: bool = False) -> None:
    """Errors first (what stops the build), then warnings unless `quiet` (-q: errors only)."""
    errors = 0
    for p in sorted(exc.problems, key=lambda p: p.severity != "error"):
        if quiet and p.severity != "error":
            continue
        print(p, file=sys.stderr)
        errors += p.severity == "error"
    print(
        ngettext("livret: {n} error", "livret: {n} errors", errors).format(n=errors),
        file=sys.stderr,
    )


def pipe_closed() -> int:
    """The reader of our output went away (`livret --json | head`): stop quietly, with the
    status of a process ended by SIGPIPE, as any command in a pipe does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):  # nothing more to flush into the closed pipe
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    return 128 + signal.SIGPIPE


def guarded(command: Callable[[], int], quiet: bool = False) -> int:
    """Run a command: its exit status, or 1 after problems (printed), 130 after Ctrl-C, the
    SIGPIPE status when the reader of the output went away, 2 after a bug (one line, the
    traceback in a log file)."""
    try:
        code = command()
        sys.stdout.flush()  # a closed pipe is seen here, not at exit
        return code
    except LivretError as exc:
        print_problems(exc, quiet)
        return 1
    except KeyboardInterrupt:
        print(_("livret: interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        return pipe_closed()
    except OSError as exc:
        print_problems(
            LivretError(
                Problem(str(exc.filename or "livret"), None, None, exc.strerror or str(exc))
            )
        )
        return 1
    except Exception as exc:
        report_internal_error(exc)
        return 2


def selection(args, site) -> dict:
    """--theme/--action/--only → what to build, one keyword per kind (outputs.plan): the
    slugs named, all of a kind's outputs when --only names it, else the kinds built by
    default (the booklet, every theme excerpt, the web edition) when nothing is named."""
    from .building.outputs import KINDS

    only = set(args.only or ())
    named = {k.only: list(getattr(args, _dest(k.option), ())) for k in KINDS.values() if k.option}
    everything = not only and not any(named.values())
    sel: dict = {}
    for kind in KINDS.values():
        whole = kind.only in only or (everything and kind.default)
        if kind.option is None:
            sel[kind.only] = whole
        else:
            sel[kind.only] = named[kind.only] or (kind.slugs(site) if whole else [])
    return sel


def _dest(option: str | None) -> str:
    """The argparse attribute of an option: --theme → theme."""
    return (option or "").lstrip("-").replace("-", "_")
