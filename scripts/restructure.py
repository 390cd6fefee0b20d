#!/usr/bin/env python3
"""Group livret/'s modules into stage folders (issue #19), with `git mv`, and rewrite every
reference to them.

Run from the repository root, on a clean git tree, with the project's venv (ruff sorts and
formats the imports it rewrites):

    .venv/bin/python scripts/restructure.py            # check, move, rewrite (nothing committed)
    .venv/bin/python scripts/restructure.py --check    # only check that it can run

Everything is checked first: a module of livret/ that PLACES below does not list (a new one),
an entry of PLACES that is not there, a reference the script cannot rewrite safely. Any of
them is reported and the script stops before changing anything: add the module to PLACES (or
fix what it says) and run it again. Same tree in, same tree out.

What it rewrites, in every tracked text file but the content (content/, tests/fixtures/):
- imports: relative ones inside livret/ (their depth changes: `from .errors` in a module
  moved to a stage folder becomes `from ..errors`), absolute ones everywhere, and those in
  strings (code the tests run with `python -c`); an import of several modules that now live
  in different folders is split (`from livret import fit, pipeline`);
- dotted names: `livret.pipeline._PRINTER` (monkeypatch targets), `-m livret.x`,
  `import_module("livret.x")`, pyproject.toml's package list (the stage packages added);
- paths: `livret/fit.py`, `livret/web/` (docs, comments, the message catalogs' locations);
- `Path(__file__).parent…` in a moved module, so that it still names the same folder;
- README.md's module table: each module under its stage folder, rows grouped by stage.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import subprocess
import sys
import tempfile
import textwrap
import tokenize
from pathlib import Path

# --- the mapping: the one table to edit -----------------------------------------------------

# The stage folders, in the order a build goes through them (Pelican's readers, generators and
# writers are the model): (summary for README.md, docstring of the folder's __init__.py).
STAGES: dict[str, tuple[str, str]] = {
    "reading": (
        "the content read and checked: a content folder → one validated `Site`, or every "
        "problem at once",
        """Reading and checking content: a content folder → one validated `Site`, or every
problem at once, before anything is rendered or written.

`reader` turns files into values that remember their line numbers; `fields` validates each
kind of field; `loader` cross-checks everything into the typed `model` of an edition, which
every later stage works from; `policy` and `svg` decide what content may link to or embed;
`markup` and `typography` make HTML of each text (Markdown, French typography), once;
`scaffold` writes new editions and cards from templates that pass these same checks.""",
    ),
    "rendering": (
        "a `Site` and an output → HTML (Jinja2) → PDF (WeasyPrint)",
        """Rendering: a validated `Site` and an output → HTML (Jinja2) → PDF bytes (WeasyPrint).

`design` says where the layouts and styles come from; `render` fills the layouts (with
`acronyms` spelled out once per card and the `qr` code of the web address); `pdf` prints the
HTML with WeasyPrint, safely and reproducibly; `fit` moves a card's page break so that no page
of it is a leftover; `pageplan` makes the press file's page count a multiple of 4.""",
    ),
    "finishing": (
        "the PDFs WeasyPrint wrote, finished with pikepdf: tag tree, line ends, press file, "
        "imposition",
        """Finishing PDFs: what WeasyPrint wrote, finished with pikepdf, without changing what
is drawn (but for the press file's colours and marks).

`tags` finishes the tag tree for screen readers and `linebreaks` the words across line ends;
`press` makes the PDF/X-4 press file; `impose` puts a finished PDF's pages two by two on the
sheets of a saddle-stitched booklet, for an office printer.""",
    ),
    "building": (
        "the outputs: what can be built, what is out of date, files written whole, the web "
        "edition and the EPUB",
        """Building outputs: what can be built from a site, what is out of date, and writing it.

`outputs` is the registry of the kinds of output and of the files each is made from;
`pipeline` runs the incremental, parallel build and writes the manifest; `writer` writes
files whole or not at all; `web` and `epub` are the kinds written by their own package (the
web edition, the EPUB); `htmlexport` writes the HTML as given to WeasyPrint (`--html`);
`equivalence` proves that the web edition and the EPUB say what the PDF says.""",
    ),
}

# Every entry at the top of livret/ (a module, without .py, or a folder) → its stage folder,
# or "" where it stays: what every stage shares, and the parts with a job of their own.
PLACES: dict[str, str] = {
    "__init__": "",
    "cli": "",  # the command line
    "console": "",  # what every command shares
    "errors": "",  # the one error family
    "i18n": "",  # messages in French
    "locale": "",  # the message catalogs
    "mail": "",  # e-mail distribution
    "preview": "",  # live preview
    "conformance": "",  # veraPDF, for the tests and `make conformance`
    "reader": "reading",
    "memo": "reading",  # (issue #21's branch) the content checks' results kept between builds
    "fields": "reading",
    "loader": "reading",
    "model": "reading",
    "policy": "reading",
    "svg": "reading",
    "markup": "reading",
    "typography": "reading",
    "scaffold": "reading",
    "design": "rendering",
    "render": "rendering",
    "acronyms": "rendering",
    "qr": "rendering",
    "pdf": "rendering",
    "fit": "rendering",
    "pageplan": "rendering",
    "compose": "rendering",  # (issue #21's branch) each part of a book laid out once
    "contracts": "rendering",  # (issue #19's branch) what the code needs of the layouts' HTML
    "tags": "finishing",
    "linebreaks": "finishing",
    "press": "finishing",
    "impose": "finishing",
    "outputs": "building",
    "pipeline": "building",
    "writer": "building",
    "htmlexport": "building",
    "equivalence": "building",
    "web": "building",
    "epub": "building",
}

# What the stage docstrings add for modules of other branches, once they are there.
MORE = {
    "memo": "`memo` keeps the content checks' results from one build to the next",
    "compose": "`compose` lays each part of a book out once and composes the booklet and its "
    "excerpts from the parts",
    "contracts": "`contracts` checks, on the parsed HTML, what the code needs of the layouts",
}

# Files never rewritten: the editors' content (its words are not code) and this script.
LEFT_ALONE = ("content/", "tests/fixtures/", "scripts/restructure.py")
CATALOGS = (".po", ".pot")  # only their "#:" location lines name files
README = "README.md"
README_INTRO = re.compile(
    r"^One module per stage, in the order they run \(`livret/`\):[ \t]*$", re.M
)

PKG = "livret"


class Stop(Exception):
    """What the script cannot do safely: reported, nothing changed."""


def git(*args: str, text_input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], check=True, capture_output=True, text=True, input=text_input
    ).stdout


# --- what moves --------------------------------------------------------------------------------


def top_entries(tracked: list[str]) -> dict[str, str]:
    """{name: "module" | "folder"} of livret/'s top level, from the files git tracks."""
    found: dict[str, str] = {}
    for path in tracked:
        parts = path.split("/")
        if parts[0] != PKG or len(parts) < 2:
            continue
        if len(parts) == 2:
            if parts[1].endswith(".py"):
                found[parts[1][:-3]] = "module"
        else:
            found[parts[1]] = "folder"
    return found


def moved_names() -> dict[str, str]:
    """{old dotted name: new dotted name} of every entry that moves."""
    return {f"{PKG}.{n}": f"{PKG}.{s}.{n}" for n, s in PLACES.items() if s}


def new_dotted(name: str, moves: dict[str, str]) -> str:
    for old in sorted(moves, key=len, reverse=True):
        if name == old or name.startswith(old + "."):
            return moves[old] + name[len(old) :]
    return name


def new_path(path: str) -> str:
    """A repository path after the move ("livret/fit.py" → "livret/rendering/fit.py")."""
    parts = path.split("/")
    if parts[0] == PKG and len(parts) >= 2:
        name = parts[1][:-3] if len(parts) == 2 and parts[1].endswith(".py") else parts[1]
        stage = PLACES.get(name, "")
        if stage:
            return "/".join([PKG, stage, *parts[1:]])
    return path


def module_of(path: str) -> tuple[str, bool]:
    """("livret.web.pages", False) for livret/web/pages.py; ("livret.web", True) for its
    __init__.py (a package)."""
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


# --- text rules ----------------------------------------------------------------------------------


def _names_alternation() -> str:
    names = sorted((n for n, s in PLACES.items() if s), key=len, reverse=True)
    return "|".join(re.escape(n) for n in names)


def dotted_rule() -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){PKG}\.({_names_alternation()})(?![\w])")


def path_rule() -> re.Pattern[str]:
    return re.compile(rf"(?<![\w./~-]){PKG}/({_names_alternation()})(?![\w-])")


# `from livret import render, pipeline` written in a string (code run with `python -c`, in the
# tests): split like the real imports, one statement per folder.
FROM_PKG = re.compile(rf"(?<![\w.])from {PKG} import (\w+(?: as \w+)?(?:, *\w+(?: as \w+)?)*)")


def _from_pkg(m: re.Match[str]) -> str:
    groups: dict[str, list[str]] = {}
    for item in (i.strip() for i in m[1].split(",")):
        stage = PLACES.get(item.split()[0], "")
        groups.setdefault(f"{PKG}.{stage}" if stage else PKG, []).append(item)
    if list(groups) == [PKG]:
        return m[0]
    text = m.string
    before = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
    sep = "\n" + before if not before.strip() else "; "
    return sep.join(f"from {where} import {', '.join(names)}" for where, names in groups.items())


def rewrite_text(text: str) -> str:
    text = FROM_PKG.sub(_from_pkg, text)
    text = dotted_rule().sub(lambda m: f"{PKG}.{PLACES[m[1]]}.{m[1]}", text)
    return path_rule().sub(lambda m: f"{PKG}/{PLACES[m[1]]}/{m[1]}", text)


WIDTH = 100  # ruff's line-length (pyproject.toml)
PRAGMA = re.compile(r"#\s*(noqa|type:|pragma|fmt:)")
QUOTES = ('"""', "'''")


def rewrite_python_text(path: str, text: str, problems: list[str]) -> str:
    """The text rules on a Python file; a comment or docstring line they make longer than
    WIDTH is wrapped: its last words go to the start of the next line of the same comment or
    paragraph, else to a new line; a comment after code goes on its own line above it."""
    try:
        tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, tokenize.TokenError):
        return rewrite_text(text)
    doc_of: dict[int, int] = {}  # line → first line of its docstring (or string statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                for n in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                    doc_of[n] = node.lineno
    comment_at = {t.start[0]: t.start[1] for t in tokens if t.type == tokenize.COMMENT}
    # One entry per line: [text, kind ("comment": a whole line, "doc", or None), group, changed,
    # column of a comment after code]
    lines: list[list] = []
    for n, body in enumerate(text.split("\n"), 1):
        new = rewrite_text(body)  # more than one line where an import in a string was split
        indent = len(body) - len(body.lstrip())
        after_code = None
        if n in comment_at and comment_at[n] > indent and "\n" not in new:
            comment = rewrite_text(body[comment_at[n] :])
            after_code = len(new) - len(comment) if new.endswith(comment) else None
        for piece in new.split("\n"):
            if comment_at.get(n) == indent and body.strip():
                lines.append([piece, "comment", indent, new != body, None])
            elif n in doc_of:
                lines.append([piece, "doc", doc_of[n], new != body, None])
            else:
                lines.append([piece, None, None, new != body, after_code])
    too_long = f"longer than {WIDTH} characters after the rewrite: wrap it by hand"
    i = 0
    while i < len(lines):
        line, kind, group, changed, col = lines[i]
        if not changed or len(line) <= WIDTH:
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if kind is None:
            if col is None or PRAGMA.match(line[col:]):
                problems.append(f"{path}: {line.strip()[:60]}…: {too_long}")
                i += 1
                continue
            # A comment after code: on its own line above it.
            lines[i : i + 1] = [
                [indent + line[col:], "comment", len(indent), True, None],
                [line[:col].rstrip(), None, None, False, None],
            ]
            continue
        lead = indent + ("# " if kind == "comment" else "")
        cut = line.rfind(" ", len(lead) + 1, WIDTH + 1)
        if cut <= len(lead):
            problems.append(f"{path}: {line.strip()[:60]}…: {too_long}")
            i += 1
            continue
        head, tail = line[:cut].rstrip(), line[cut + 1 :]
        lines[i][0] = head
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        follows = (
            nxt is not None
            and nxt[1] == kind
            and nxt[2] == group
            and nxt[0].startswith(lead)
            and nxt[0][len(lead) :].strip() != ""
            and not nxt[0][len(lead) :].startswith((" ", "-", "*", "|", ">", *QUOTES))
            and not tail.endswith(QUOTES)
        )
        if follows and nxt is not None:
            nxt[0] = lead + tail + " " + nxt[0][len(lead) :]
            nxt[3] = True
        else:
            lines.insert(i + 1, [lead + tail, kind, group, True, None])
        i += 1
    return "\n".join(entry[0] for entry in lines)


def rewrite_catalog(path: str, text: str, problems: list[str]) -> str:
    """A .po/.pot: the "#:" locations rewritten and sorted as pybabel writes them; a message
    that names a module is for a person to change (its translation must follow)."""
    out = []
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        if line.startswith("#:"):
            locations = rewrite_text(line[2:]).split()
            line = "#: " + " ".join(sorted(dict.fromkeys(locations))) + "\n"
        elif not line.startswith("#") and rewrite_text(line) != line:
            problems.append(f"{path}:{n}: a message names a moved module: change it by hand")
        out.append(line)
    return "".join(out)


# --- imports -------------------------------------------------------------------------------------


def _offsets(text: str) -> list[int]:
    starts, at = [0], 0
    for line in text.splitlines(keepends=True):
        at += len(line)
        starts.append(at)
    return starts


def _char_offset(text: str, starts: list[int], lineno: int, col: int) -> int:
    """ast gives UTF-8 byte columns; the text is indexed by characters."""
    line = text[starts[lineno - 1] : starts[lineno]]
    return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8"))


def _relative(package: str, target: str) -> str:
    """The relative spec of `target` from inside `package` ("..reading.loader")."""
    p, t = package.split("."), target.split(".")
    common = 0
    while common < min(len(p), len(t)) and p[common] == t[common]:
        common += 1
    return "." * (len(p) - common + 1) + ".".join(t[common:])


FROM = re.compile(r"from\s+(\.*\s*[\w.]*)\s+import\b")


def rewrite_imports(
    path: str, text: str, old_modules: set[str], moves: dict[str, str], problems: list[str]
) -> str:
    """Every `from … import …` of a livret module, for the file's new place."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        problems.append(f"{path}:{exc.lineno}: not Python ({exc.msg}): fix it first")
        return text
    inside = path.startswith(PKG + "/")
    if inside:
        module, is_package = module_of(path)
        old_package = module if is_package else module.rpartition(".")[0]
        new_module, is_package = module_of(new_path(path))
        new_package = new_module if is_package else new_module.rpartition(".")[0]
    starts = _offsets(text)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            if not inside:
                continue
            base = old_package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
            if target != PKG and not target.startswith(PKG + "."):
                continue
        # Where each imported name now comes from: a submodule moves on its own.
        groups: dict[str, list[ast.alias]] = {}
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            where = new_dotted(sub, moves).rpartition(".")[0] if sub in old_modules else None
            groups.setdefault(where or new_dotted(target, moves), []).append(alias)

        def spec(new_target: str, relative: bool = bool(node.level)) -> str:
            return _relative(new_package, new_target) if relative else new_target

        start = _char_offset(text, starts, node.lineno, node.col_offset)
        end = _char_offset(text, starts, node.end_lineno or node.lineno, node.end_col_offset or 0)
        segment = text[start:end]
        found = FROM.match(segment)
        if not found:
            problems.append(f"{path}:{node.lineno}: an import the script cannot read")
            continue
        if len(groups) == 1:
            [new_target] = groups
            new_spec = spec(new_target)
            if new_spec != found[1]:
                edits.append((start + found.start(1), start + found.end(1), new_spec))
            continue
        # Split: one statement per folder, at the same indentation.
        line_start = starts[node.lineno - 1]
        indent = text[line_start:start]
        if indent.strip() or "#" in segment:
            problems.append(
                f"{path}:{node.lineno}: an import to split that shares its line or holds a "
                "comment: split it by hand"
            )
            continue
        statements = []
        for new_target, aliases in groups.items():
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)
            statements.append(f"from {spec(new_target)} import {names}")
        edits.append((start, end, ("\n" + indent).join(statements)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


PATH_OF_FILE = re.compile(r"Path\(__file__\)(\.resolve\(\))?((?:\.parent)+)")


def rewrite_file_paths(path: str, text: str, problems: list[str]) -> str:
    """`Path(__file__).resolve().parent…` in a moved module: as many `.parent` as it takes
    to name the same folder from the new place."""
    target_path = new_path(path)
    if target_path == path or "__file__" not in text:
        return text
    if text.count("__file__") != len(PATH_OF_FILE.findall(text)):
        problems.append(
            f"{path}: uses __file__ otherwise than Path(__file__)(.resolve()).parent…: "
            "adjust it by hand"
        )
        return text

    def fix(m: re.Match[str]) -> str:
        ups = m[2].count(".parent")
        old_dir = Path(path).parents[ups - 1]
        new_dir = Path(new_path(old_dir.as_posix() + "/x")).parent if old_dir.parts else old_dir
        new_parents = list(Path(target_path).parents)
        if new_dir not in new_parents:
            problems.append(f"{path}: {m[0]} names {old_dir}, not above the new place")
            return m[0]
        return f"Path(__file__){m[1] or ''}" + ".parent" * (new_parents.index(new_dir) + 1)

    return PATH_OF_FILE.sub(fix, text)


# --- pyproject.toml and README.md --------------------------------------------------------------


def rewrite_pyproject(text: str, problems: list[str]) -> str:
    text = rewrite_text(text)
    anchor = re.search(r'^([ \t]*)"livret",\n', text, re.M)
    if not anchor:
        problems.append('pyproject.toml: no "livret", line in [tool.setuptools] packages')
        return text
    lines = "".join(f'{anchor[1]}"{PKG}.{s}",\n' for s in STAGES if f'"{PKG}.{s}"' not in text)
    return text[: anchor.end()] + lines + text[anchor.end() :]


def rewrite_readme(text: str, problems: list[str]) -> str:
    """The module table: each module under its stage folder, the rows grouped by stage, the
    stages said before it."""
    intro = README_INTRO.search(text)
    if not intro:
        problems.append(f"README.md: no line {README_INTRO.pattern!r}: update README_INTRO")
        return rewrite_text(text)
    stays = [n for n, s in PLACES.items() if not s and n not in ("__init__", "locale")]
    folders = [n for n in stays if top_kinds.get(n) == "folder"]
    modules = [n for n in stays if top_kinds.get(n) == "module"]
    stages = "; ".join(f"`{s}/` ({summary})" for s, (summary, _doc) in STAGES.items())
    new_intro = textwrap.fill(
        "`livret/` is grouped into stage folders, in the order a build goes through them (as "
        f"Pelican's readers, generators and writers): {stages}. Beside them, "
        + ", ".join(f"`{n}/`" for n in folders)
        + " have a job of their own, and what every stage shares stays at the top ("
        + ", ".join(f"`{n}.py`" for n in modules)
        + "). Each module, in its stage:",
        width=WIDTH,
        break_long_words=False,
        break_on_hyphens=False,
    )
    lines = text[intro.end() :].split("\n")
    # The table: the first run of lines starting with "|" after the intro.
    first = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if first is None or any(line.strip() for line in lines[:first]):
        problems.append("README.md: no module table right after its intro line")
        return rewrite_text(text)
    last = first
    while last < len(lines) and lines[last].startswith("|"):
        last += 1
    header, rule, rows = lines[first], lines[first + 1], lines[first + 2 : last]
    if header.strip() == "| stage | module |":
        header = "| step | module |"
    order = list(STAGES)
    cell = re.compile(r"`([\w]+)(\.py|/)`")

    def fix_row(row: str) -> tuple[int, str]:
        head, sep, module = row.rstrip().rstrip("|").rpartition("|")
        rank = len(order)

        def place(m: re.Match[str]) -> str:
            nonlocal rank
            stage = PLACES.get(m[1], "")
            if not stage or (m[2] == "/") != (top_kinds.get(m[1]) == "folder"):
                return m[0]
            rank = min(rank, order.index(stage))
            return f"`{stage}/{m[1]}{m[2]}`"

        return rank, f"{head}{sep}{cell.sub(place, module)}|"

    fixed = [fix_row(row) for row in rows]
    fixed.sort(key=lambda r: r[0])  # stable: each stage's rows in their order
    table = [header, rule, *(row for _, row in fixed)]
    rest = "\n".join(lines[:first] + table + lines[last:])
    return rewrite_text(text[: intro.start()]) + new_intro + rewrite_text(rest)


top_kinds: dict[str, str] = {}


# --- the fingerprints: the same files before and after -----------------------------------------

# Which of livret's files each fingerprint of its code reads ("livret code": the PDFs'; one per
# kind written by its own package; the EPUB's), by watching what code_hash() reads.
COVERAGE = r"""
import json, pathlib, sys
sys.path.insert(0, ".")
seen = []
read = pathlib.Path.read_bytes
pathlib.Path.read_bytes = lambda self: (seen.append(self), read(self))[1]
import importlib
outputs = importlib.import_module(sys.argv[1])
epub = importlib.import_module(sys.argv[2])
def covered(f, *args):
    seen.clear()
    f.__wrapped__(*args)
    root = pathlib.Path("livret").resolve()
    return sorted(p.resolve().relative_to(root).as_posix() for p in seen)
out = {"livret code": covered(outputs.code_hash), "livret epub code": covered(epub.code_hash)}
for kind in outputs.KINDS.values():
    if not kind.pdf:
        try:
            files = covered(outputs.code_hash, outputs.PACKAGE, kind.name)
        except TypeError:  # code_hash(package) only: the kind's folder beside outputs.py
            files = covered(outputs.code_hash, outputs.PACKAGE / kind.name)
        out[f"livret {kind.name} code"] = files
print(json.dumps(out))
"""


def coverage(root: Path, outputs: str, epub: str) -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", COVERAGE, outputs, epub],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode:
        raise Stop(
            f"the files of the code fingerprints could not be listed in {root}: does "
            "outputs.code_hash (or epub.code_hash) find livret's code by place rather than by "
            "name? (--skip-fingerprint-check skips this check)\n" + proc.stderr.strip()[-600:]
        )
    return json.loads(proc.stdout)


def check_fingerprints(texts: dict[str, str]) -> list[str]:
    """The code fingerprints read the same files (moved) in a copy of livret/ as it will be as
    they read now; the stages' __init__.py are new code of the PDFs."""
    before = coverage(Path.cwd(), f"{PKG}.outputs", f"{PKG}.epub")
    moves = moved_names()
    with tempfile.TemporaryDirectory(prefix="restructure-") as tmp:
        for path in git("ls-files", "-z", PKG).split("\0"):
            if path.endswith(".py"):
                target = Path(tmp, new_path(path))
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(texts.get(new_path(path)) or Path(path).read_text("utf-8"))
        for stage in STAGES:
            Path(tmp, PKG, stage, "__init__.py").write_text(texts[f"{PKG}/{stage}/__init__.py"])
        after = coverage(
            Path(tmp), new_dotted(f"{PKG}.outputs", moves), new_dotted(f"{PKG}.epub", moves)
        )
    problems = []
    new = {f"{s}/__init__.py" for s in STAGES}
    for key in sorted(set(before) | set(after)):
        then = {new_path(f"{PKG}/{p}")[len(PKG) + 1 :] for p in before.get(key, [])}
        now = set(after.get(key, []))
        lost, gained = sorted(then - now), sorted(now - then - new)
        if lost or gained:
            problems.append(
                f"the fingerprint {key!r} would read other files after the move (lost: {lost}, "
                f"gained: {gained}): make outputs.code_hash find code by name, not by place"
            )
    return problems


# --- the run -------------------------------------------------------------------------------------


def plan() -> tuple[list[tuple[str, str]], dict[str, str], list[str]]:
    """(moves of top-level entries, {new path: new text}, problems), changing nothing."""
    problems: list[str] = []
    if not Path(PKG, "__init__.py").is_file() or not Path(".git").exists():
        raise Stop("run it from the repository root (where livret/ and .git are)")
    status = git("status", "--porcelain", "--untracked-files=all").splitlines()
    ours = tuple(f"{d}/" for d in (PKG, "tests", "benchmarks", "scripts", "docs"))
    dirty = [s for s in status if not s.startswith("??") or s[3:].startswith(ours)]
    if dirty:
        raise Stop("the git tree is not clean:\n  " + "\n  ".join(dirty[:20]))
    tracked = git("ls-files", "-z").split("\0")
    tracked = [t for t in tracked if t]
    top_kinds.update(top_entries(tracked))
    if all(Path(PKG, s).is_dir() for s in STAGES) and not any(
        n in top_kinds for n, s in PLACES.items() if s
    ):
        raise Stop("livret/ is already grouped into its stage folders: nothing to do")
    unknown = sorted(set(top_kinds) - set(PLACES))
    if unknown:
        problems += [
            f"livret/{n}{'.py' if top_kinds[n] == 'module' else '/'}: not in PLACES "
            '(scripts/restructure.py): add it, with its stage or "" to leave it where it is'
            for n in unknown
        ]
    for name in sorted(set(PLACES) - set(top_kinds)):  # (another branch's, not merged yet)
        print(f"restructure: no livret/{name}: nothing to move for PLACES[{name!r}]")
    for stage in STAGES:
        if stage in PLACES or stage in top_kinds:  # (a folder of ignored files is no matter)
            problems.append(f"the stage folder {stage!r} is the name of a module or folder")
    bad = sorted({s for s in PLACES.values() if s and s not in STAGES})
    problems += [f"PLACES names a stage {s!r} that STAGES does not have" for s in bad]
    if problems:
        return [], {}, problems

    moves = moved_names()
    code = [t for t in tracked if t.startswith(PKG + "/") and t.endswith(".py")]
    old_modules = {module_of(t)[0] for t in code}
    old_modules.discard(PKG)
    texts: dict[str, str] = {}
    for path in tracked:
        if path.startswith(LEFT_ALONE) or not Path(path).is_file():
            continue
        raw = Path(path).read_bytes()
        if b"\0" in raw:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if path.endswith(CATALOGS):
            new = rewrite_catalog(path, text, problems)
        elif path == "pyproject.toml":
            new = rewrite_pyproject(text, problems)
        elif path == README:
            new = rewrite_readme(text, problems)
        else:
            new = text
            if path.endswith(".py"):
                new = rewrite_imports(path, new, old_modules, moves, problems)
                new = rewrite_file_paths(path, new, problems)
                new = rewrite_python_text(path, new, problems)
            else:
                new = rewrite_text(new)
        if new != text or new_path(path) != path:
            texts[new_path(path)] = new
    for stage, (_summary, doc) in STAGES.items():
        more = [line for name, line in MORE.items() if PLACES[name] == stage and name in top_kinds]
        if more:
            doc += "\n\n" + textwrap.fill("; ".join(more) + ".", width=92)
        texts[f"{PKG}/{stage}/__init__.py"] = f'"""{doc}\n"""\n'
    entries = [
        (f"{PKG}/{n}{'.py' if top_kinds[n] == 'module' else ''}", s)
        for n, s in sorted(PLACES.items())
        if s and n in top_kinds
    ]
    return entries, texts, problems


def apply(entries: list[tuple[str, str]], texts: dict[str, str]) -> list[str]:
    for stage in STAGES:
        Path(PKG, stage).mkdir(exist_ok=True)
    for source, stage in entries:
        git("mv", source, f"{PKG}/{stage}/{Path(source).name}")
    changed_py = []
    for path, text in sorted(texts.items()):
        target = Path(path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            if path.endswith(".py"):
                changed_py.append(path)
    # The rewritten imports sorted and wrapped as `make lint` wants them.
    if changed_py:
        ruff = [sys.executable, "-m", "ruff"]
        subprocess.run([*ruff, "check", "-q", "--select", "I", "--fix", *changed_py], check=True)
        subprocess.run([*ruff, "format", "-q", *changed_py], check=True)
    git("add", "-A", "--", *sorted({p.split("/")[0] for p in texts}), PKG)
    return changed_py


def refuse(problems: list[str]) -> int:
    print("restructure: nothing changed, because:", file=sys.stderr)
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    return 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; change nothing")
    ap.add_argument(
        "--skip-fingerprint-check",
        action="store_true",
        help="do not check that the code fingerprints read the same files after the move",
    )
    args = ap.parse_args()
    ruff = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if ruff.returncode:
        return refuse(["no ruff here: run it with .venv/bin/python"])
    try:
        entries, texts, problems = plan()
        if problems:
            return refuse(problems)
        if args.skip_fingerprint_check:
            print("restructure: the code fingerprints' files NOT checked")
        elif problems := check_fingerprints(texts):
            return refuse(problems)
        else:
            print("restructure: the code fingerprints read the same files, and the new __init__.py")
    except Stop as stop:
        return refuse([str(stop)])
    print(f"restructure: {len(entries)} entries of livret/ move, {len(texts)} files rewritten")
    if args.check:
        return 0
    apply(entries, texts)
    for source, stage in entries:
        print(f"  {source} → {PKG}/{stage}/{Path(source).name}")
    print("restructure: done (staged, not committed); next: make lint, make i18n, make test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
