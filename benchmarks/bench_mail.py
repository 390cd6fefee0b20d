#!/usr/bin/env python3
"""Mail benchmark: how close is `mail --send` to a bare smtplib loop, how does it compare with
mailmerge, and how much memory does it need for a long list?

Run from the repository root:  .venv/bin/python benchmarks/bench_mail.py [--repeat N] [--json]

Everything goes to a local SMTP sink (aiosmtpd in its own process, on 127.0.0.1, accepting and
discarding every message), so the figures measure the client, not a network:

  1. bare smtplib   the same messages as ours, built beforehand (not timed), sent by a plain
                    loop of SMTP.sendmail over one connection: the floor for any sender
  2. livret         `mail --send` on the same list, in this process: reading the CSV, checking
                    sizes, composing from the templates, the SQLite journal, SMTP; a fresh
                    journal each round, so that everything is sent.   goal: 2 ÷ 1 ≤ 1.15
  3. mailmerge      mailmerge 2.3.0 (PyPI) on the same list, same attachments, same sink, in a
                    virtualenv of its own (created under /tmp on first use; --mailmerge-venv).
                    Throughput of 2 ÷ throughput of 3.                   goal: ≥ 1×
  4. CPU            client CPU time per message (user + system), for 1, 2 and 3
  5. memory         peak RSS of a fresh child process (subprocess, exec'd: nothing inherited
                    from this one) running `mail --send` for --memory-recipients (1,000) and,
                    for comparison, for --recipients (200): flat means messages are not kept in
                    memory. Read from the child's own /proc/self/status (VmHWM) just before it
                    exits: ru_maxrss would not do, Linux carries it across fork and exec, so a
                    child of this (large) process would report this process's peak.

Each of the --recipients (200) people gets one theme excerpt, the themes in turn: the real PDFs
of output/ when output/manifest.json lists them and they are intact (run the build first), or
else generated stand-ins of the same kind (say so in the output). Rounds run 1→3 in turn,
--repeat times (default 3), and the table shows the median. Exit status 0 even if a goal is
missed (a benchmark, not a test); 1 if a check fails (a message missing at the sink, a run that
did not send everything), since the figures would then not measure what they claim.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["LIVRET_LANG"] = "en"  # the report lines are parsed below; children inherit it
PYTHON = sys.executable
MAILMERGE_VERSION = "2.3.0"
SENDER = "club-des-territoires@example.org"
UNSUBSCRIBE_MAILTO = "desinscription@example.org"
UNSUBSCRIBE_URL = "https://example.org/lettre/desinscription?jeton={token}"
UNSUBSCRIBE_SECRET = "bench-secret-not-a-real-one"


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# -- the sink (runs in its own process: `bench_mail.py --sink PORT`) ----------------------------


def sink_main() -> None:
    """An aiosmtpd sink on a port the kernel picks (port 0) and reports: no bind-close-reuse."""
    import asyncio
    import signal

    from aiosmtpd.smtp import SMTP

    class Sink:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.count += 1
            return "250 2.0.0 OK"

        async def handle_VRFY(self, server, session, envelope, address):
            return f"252 {Sink.count}"

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Sink()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler), host="127.0.0.1", port=0)
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()


class SinkProcess:
    def __init__(self):
        self.proc = subprocess.Popen(
            [PYTHON, __file__, "--sink"], stdout=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            raise SystemExit("the SMTP sink did not start")
        self.port = int(line)

    def count(self) -> int:
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="bench") as smtp:
            return int(smtp.verify("count")[1].split()[0])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# -- inputs -------------------------------------------------------------------------------------


def theme_outputs(folder: Path) -> tuple[dict, str]:
    """manifest with the theme excerpts, in `folder`: real ones from output/ if intact."""
    folder.mkdir(parents=True, exist_ok=True)
    real = REPO / "output" / "manifest.json"
    if real.is_file():
        manifest = json.loads(real.read_text("utf-8"))
        themes = [e for e in manifest.get("outputs", []) if e.get("kind") == "theme"]
        ok = themes and all(
            (REPO / "output" / e["path"]).is_file()
            and hashlib.sha256((REPO / "output" / e["path"]).read_bytes()).hexdigest()
            == e["sha256"]
            for e in themes
        )
        if ok:
            for e in themes:
                shutil.copy(REPO / "output" / e["path"], folder / e["path"])
            manifest = {**manifest, "outputs": themes}
            (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
            return manifest, "real excerpts from output/"
    sys.path.insert(0, str(REPO / "tests"))
    from conftest_mail import write_outputs  # the tests' stand-in PDFs

    manifest = write_outputs(REPO / "content", folder, padding=120_000)
    manifest = {**manifest, "outputs": [e for e in manifest["outputs"] if e["kind"] == "theme"]}
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return manifest, "generated stand-in PDFs (no intact output/: run the build for real ones)"


def write_list(path: Path, n: int, themes: list[str]) -> None:
    lines = ["email,name,organisation,send"]
    lines += [
        f"person{i}@example.org,Personne {i} Éloïse,Organisation {i},{themes[i % len(themes)]}"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def mail_argv(work: Path, csv: Path, port: int, journal: Path) -> list[str]:
    return [
        "--content",
        str(REPO / "content"),
        "--output",
        str(work / "output"),
        "--recipients",
        str(csv),
        "--send",
        "--yes",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--security",
        "none",
        "--from",
        f"Club des territoires <{SENDER}>",
        "--journal",
        str(journal),
        "--config",
        str(work / "none.yaml"),
        # As a real campaign: both unsubscribe forms, a token per person (secret in main()).
        "--unsubscribe-mailto",
        UNSUBSCRIBE_MAILTO,
        "--unsubscribe-url",
        UNSUBSCRIBE_URL,
    ]


def fake_build(output: Path):
    manifest = json.loads((output / "manifest.json").read_text("utf-8"))
    return lambda *a, **k: manifest


# -- the three senders --------------------------------------------------------------------------


def prebuilt_messages(work: Path, csv: Path) -> list[tuple[str, bytes]]:
    from livret.mail.attachments import attachments_from_manifest, read_edition
    from livret.mail.compose import Composer, Templates
    from livret.mail.recipients import read_recipients
    from livret.mail.settings import load_settings
    from livret.mail.suppress import Unsubscribe

    edition = read_edition(REPO / "content")
    recipients = read_recipients(csv, edition.slugs)
    manifest = json.loads((work / "output" / "manifest.json").read_text("utf-8"))
    needed = sorted({s for r in recipients for s in r.send})
    settings = load_settings(
        work / "none.yaml", {"from": f"Club des territoires <{SENDER}>"}, environ={}
    )
    composer = Composer(
        edition,
        settings,
        Templates(),
        attachments_from_manifest(manifest, work / "output", needed),
        unsubscribe=Unsubscribe(UNSUBSCRIBE_MAILTO, UNSUBSCRIBE_URL, UNSUBSCRIBE_SECRET),
    )
    return [(r.email, composer.compose(composer.plan(r)).as_bytes()) for r in recipients]


def run_bare(messages, port: int) -> tuple[float, float]:
    cpu, start = time.process_time(), time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as smtp:
        for to, data in messages:
            smtp.sendmail(SENDER, [to], data)
    return time.perf_counter() - start, time.process_time() - cpu


def run_livret(work: Path, csv: Path, port: int, round_: int) -> tuple[float, float, str]:
    from livret.mail.cli import main

    journal = work / f"journal-{round_}.sqlite"
    out = io.StringIO()
    cpu, start = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(mail_argv(work, csv, port, journal), build=fake_build(work / "output"))
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"livret mail failed ({code}):\n{out.getvalue()[-2000:]}")
    return wall, used, out.getvalue()


def mailmerge_exe(venv: Path) -> tuple[Path | None, str]:
    exe = venv / "bin" / "mailmerge"
    if exe.exists():
        version = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout
        if MAILMERGE_VERSION in version:
            return exe, ""
    log(f"installing mailmerge {MAILMERGE_VERSION} into {venv} …")
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                f"mailmerge=={MAILMERGE_VERSION}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return None, f"could not install mailmerge {MAILMERGE_VERSION}: {detail.strip()[-300:]}"
    return (exe, "") if exe.exists() else (None, "mailmerge executable missing after install")


def mailmerge_inputs(work: Path, manifest: dict, n: int, port: int) -> Path:
    folder = work / "mailmerge"
    folder.mkdir(exist_ok=True)
    themes = [e for e in manifest["outputs"] if e["kind"] == "theme"]
    rows = ["email,name,attachment"]
    rows += [
        f"person{i}@example.org,Personne {i} Éloïse,"
        f"{work / 'output' / themes[i % len(themes)]['path']}"
        for i in range(n)
    ]
    (folder / "database.csv").write_text("\n".join(rows) + "\n", "utf-8")
    (folder / "template.txt").write_text(
        "TO: {{email}}\nFROM: Club des territoires <" + SENDER + ">\n"
        "SUBJECT: Retour d'expérience #01 du Club des territoires\n"
        "ATTACHMENT: {{attachment}}\n\n"
        "Bonjour {{name}},\n\nLe Club des territoires a le plaisir de vous adresser le document "
        "suivant.\n\nBien cordialement,\n\nLe Club des territoires\n",
        "utf-8",
    )
    (folder / "server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n", "utf-8"
    )
    return folder


def run_mailmerge(exe: Path, folder: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(exe),
            "--no-limit",
            "--no-dry-run",
            "--output-format",
            "raw",
            "--template",
            str(folder / "template.txt"),
            "--database",
            str(folder / "database.csv"),
            "--config",
            str(folder / "server.conf"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return wall, 0.0, f"mailmerge exited {proc.returncode}: {err.strip()[-300:]}"
    return wall, usage.ru_utime + usage.ru_stime, ""


# -- memory: a child process sending N messages --------------------------------------------------


def child_main(work: Path, n: int, port: int) -> None:
    from livret.mail.cli import main

    csv = work / f"list-{n}.csv"
    manifest = json.loads((work / "output" / "manifest.json").read_text("utf-8"))
    write_list(csv, n, [e["theme"] for e in manifest["outputs"]])
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(
            mail_argv(work, csv, port, work / f"journal-mem-{n}.sqlite"),
            build=fake_build(work / "output"),
        )
    print(json.dumps({"code": code, "peak_rss_mb": own_peak_rss_mb()}))


def own_peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), which exec resets, unlike ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise SystemExit("no VmHWM in /proc/self/status (not Linux?)")


def peak_rss(work: Path, n: int, port: int) -> float:
    out = subprocess.run(
        [PYTHON, __file__, "--child", str(work), str(n), str(port)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        raise SystemExit(f"memory child failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"memory child: mail --send exited {result['code']}")
    return result["peak_rss_mb"]


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=200)
    parser.add_argument("--memory-recipients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mailmerge-venv", type=Path, default=Path("/tmp/livret-bench-mailmerge"))
    parser.add_argument("--no-mailmerge", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ["LIVRET_UNSUBSCRIBE_SECRET"] = UNSUBSCRIBE_SECRET  # inherited by the children

    work = Path(tempfile.mkdtemp(prefix="livret-bench-mail-"))
    # An empty settings file: a developer's own mail.yaml must not change the figures.
    (work / "none.yaml").write_text("# benchmark: defaults and flags only\n", "utf-8")
    sink = SinkProcess()
    failures = []
    try:
        manifest, source = theme_outputs(work / "output")
        themes = [e["theme"] for e in manifest["outputs"]]
        n = args.recipients
        csv = work / "list.csv"
        write_list(csv, n, themes)
        log(
            f"attachments: {source}: "
            + ", ".join(f"{e['path']} ({e['bytes'] / 1000:.0f} kB)" for e in manifest["outputs"])
        )
        messages = prebuilt_messages(work, csv)
        avg_size = statistics.mean(len(m) for _, m in messages)

        exe, mm_problem = (
            (None, "skipped (--no-mailmerge)")
            if args.no_mailmerge
            else mailmerge_exe(args.mailmerge_venv)
        )
        mm_folder = mailmerge_inputs(work, manifest, n, sink.port)

        # Warm-up, not timed: page cache, .pyc files, the sink's first connections.
        run_bare(messages[:20], sink.port)
        run_livret(work, csv, sink.port, -1)

        results = {"bare": [], "livret": [], "mailmerge": []}
        for round_ in range(args.repeat):
            log(f"round {round_ + 1}/{args.repeat}")
            before = sink.count()
            results["bare"].append(run_bare(messages, sink.port))
            if sink.count() - before != n:
                failures.append(f"bare loop: sink got {sink.count() - before} of {n}")
            before = sink.count()
            wall, cpu, out = run_livret(work, csv, sink.port, round_)
            results["livret"].append((wall, cpu))
            if sink.count() - before != n or f"Sent: {n}," not in out:
                failures.append(f"livret: sink got {sink.count() - before} of {n}")
            if exe is not None:
                before = sink.count()
                wall, cpu, problem = run_mailmerge(exe, mm_folder)
                if problem:
                    exe, mm_problem = None, problem
                else:
                    results["mailmerge"].append((wall, cpu))
                    if sink.count() - before != n:
                        failures.append(f"mailmerge: sink got {sink.count() - before} of {n}")

        log(f"memory: {args.memory_recipients} recipients in a child process …")
        rss_big = peak_rss(work, args.memory_recipients, sink.port)
        rss_small = peak_rss(work, n, sink.port)
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)

    def med(name, i):
        return statistics.median(r[i] for r in results[name]) if results[name] else None

    def spread(name):
        walls = [r[0] for r in results[name]]
        return f"({min(walls):.2f}–{max(walls):.2f})" if walls else ""

    bare_wall, ours_wall, mm_wall = med("bare", 0), med("livret", 0), med("mailmerge", 0)
    figures = {
        "recipients": n,
        "attachments": source,
        "mean_message_bytes": round(avg_size),
        "bare_wall_s": bare_wall,
        "livret_wall_s": ours_wall,
        "livret_vs_bare": ours_wall / bare_wall,
        "mailmerge_wall_s": mm_wall,
        "throughput_vs_mailmerge": (mm_wall / ours_wall) if mm_wall else None,
        "mailmerge_problem": mm_problem or None,
        "cpu_ms_per_message": {k: (med(k, 1) / n * 1000 if results[k] else None) for k in results},
        "peak_rss_mb": {str(args.memory_recipients): rss_big, str(n): rss_small},
        "ratio_per_round": [
            o[0] / b[0] for o, b in zip(results["livret"], results["bare"], strict=True)
        ],
        "rounds": args.repeat,
        "failures": failures,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(
            f"mail benchmark: {n} recipients, one excerpt each, mean message "
            f"{avg_size / 1000:.0f} kB; {source}; median of {args.repeat} rounds"
        )
        print(
            f"  bare smtplib loop (pre-built, one connection)  {bare_wall:7.2f} s  "
            f"{n / bare_wall:6.1f} msg/s   {spread('bare')}"
        )
        goal = "ok" if figures["livret_vs_bare"] <= 1.15 else "MISSED"
        print(
            f"  livret mail --send                             {ours_wall:7.2f} s  "
            f"{n / ours_wall:6.1f} msg/s   {spread('livret')}   ÷ bare = "
            f"{figures['livret_vs_bare']:.2f} (goal ≤ 1.15: {goal}; per round: "
            + ", ".join(f"{r:.2f}" for r in figures["ratio_per_round"])
            + ")"
        )
        if mm_wall:
            goal = "ok" if figures["throughput_vs_mailmerge"] >= 1 else "MISSED"
            print(
                f"  mailmerge {MAILMERGE_VERSION}{' ' * 32}{mm_wall:7.2f} s  "
                f"{n / mm_wall:6.1f} msg/s   {spread('mailmerge')}   livret throughput = "
                f"{figures['throughput_vs_mailmerge']:.1f}× mailmerge (goal ≥ 1×: {goal})"
            )
        else:
            print(f"  mailmerge {MAILMERGE_VERSION}: NOT MEASURED — {mm_problem}")
        cpu = figures["cpu_ms_per_message"]
        print(
            "  client CPU per message: "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items() if v is not None)
        )
        print(
            f"  peak RSS of `mail --send` in a child process: {rss_big:.0f} MB for "
            f"{args.memory_recipients} recipients, {rss_small:.0f} MB for {n}"
        )
        for failure in failures:
            print(f"  CHECK FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--sink":
        sink_main()
    elif len(sys.argv) == 5 and sys.argv[1] == "--child":
        child_main(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main())
