"""Stage 1 — read: files on disk → Python values that remember their line numbers.

Nothing here knows what a booklet is; it only turns bytes into data and reports, as
`Problem`s, what cannot be read (bad encoding, bad YAML, missing front matter), with the
line where it happens.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Collector
from ..i18n import _
from . import memo

if TYPE_CHECKING:
    import yaml

# Invisible control characters (C0 but tab and line end, DEL, C1) and lone surrogates (only
# YAML escapes such as "\ud800" make those): never text a booklet should print.
BAD_CHAR = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Deeper than this, YAML (and Markdown) nesting is a mistake, not a booklet; bounded well
# below Python's recursion limit.
MAX_DEPTH = 40


def bad_char_message(char: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return _("invalid character U+{code} (half of a character pair): remove it").format(
            code=f"{ord(char):04X}"
        )
    return _("invisible control character U+{code}: remove it").format(code=f"{ord(char):04X}")


@dataclass
class Located:
    """A YAML mapping/sequence read from a file, with the line of each key/item.

    `lines` maps a dotted field path ("contact.emails.0") to its 1-based line in the file.
    """

    path: Path
    data: object
    lines: dict[str, int] = field(default_factory=dict)
    start_line: int = 1  # line of the document's first line (front matter starts at 2)

    def line(self, dotted: str) -> int:
        # Fall back to the closest parent so that every problem gets a line.
        key = dotted
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return self.start_line


# No text of a booklet comes near: a bigger file is refused before it is parsed.
MAX_FILE_BYTES = 1_000_000


def read_text(
    path: Path,
    problems: Collector,
    what: str | None = None,
    fix: str | None = None,
    *,
    inside: Path | None = None,
    max_bytes: int | None = None,
) -> str | None:
    """The file's text (UTF-8, BOM dropped, Windows line ends made plain), or a Problem.

    `inside`: the folder a content file must really be in (the content folder): a link to a
    file elsewhere is refused, as pictures are (policy.py), and only a regular file is read
    (a FIFO would block, a device never end). `max_bytes`: read no more than that."""
    try:
        if inside is not None and not path.resolve().is_relative_to(Path(inside).resolve()):
            problems.error(
                path,
                None,
                None,
                _(
                    "this file is a link to a file outside the content folder ({target}): "
                    "content files must be inside it; copy the file here instead of linking it"
                ).format(target=path.resolve()),
            )
            return None
        if inside is not None and not stat.S_ISREG(path.stat().st_mode):
            problems.error(
                path, None, None, _("not a regular file: content is read from plain files only")
            )
            return None
        with path.open("rb") as fh:
            raw = fh.read(-1 if max_bytes is None else max_bytes + 1)
    except OSError as exc:
        problems.error(
            path,
            None,
            None,
            _("cannot read {what}: {reason}").format(
                what=what or _("file"), reason=exc.strerror or exc
            ),
        )
        return None
    if max_bytes is not None and len(raw) > max_bytes:
        problems.error(
            path,
            raw[:max_bytes].count(b"\n") + 1,
            None,
            _(
                "the file is longer than {max} kB (from this line on): this is not the text of "
                "a booklet page; split it or remove what was pasted by mistake"
            ).format(max=max_bytes // 1000),
        )
        return None
    # The build fingerprints these very bytes: a save after this read is a change.
    problems.digests[path.resolve()] = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.error(
            path,
            line,
            None,
            _("not UTF-8 (byte 0x{byte:02x}); {fix}").format(
                byte=raw[exc.start], fix=fix or _("save the file as UTF-8")
            ),
        )
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    clean = True
    for n, row in enumerate(text.split("\n"), 1):
        bad = BAD_CHAR.search(row)
        if bad:
            problems.error(path, n, None, bad_char_message(bad.group()))
            clean = False
    return text if clean else None


# YAML 1.1 types that content never wants: see _LineLoader.
_TYPED_TAGS = frozenset(
    {
        "tag:yaml.org,2002:timestamp",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
    }
)


@lru_cache(maxsize=1)
def _yaml_loader() -> tuple[type, type]:
    """(_LineLoader, _TooDeep), made at the first parse: PyYAML is imported then, which a
    build whose texts were all read whole at the last build never needs (memo.py)."""
    import yaml

    class _TooDeep(yaml.composer.ComposerError):
        """YAML nested deeper than MAX_DEPTH."""

    class _LineLoader(yaml.SafeLoader):
        """SafeLoader where every plain scalar stays the text that was typed.

        YAML 1.1 would turn a phone number 0561270762 into the octal 96825842, "12:30" into
        750, "no" into False, 1.50 into 1.5: content is printed as typed, so validators
        convert.

        Nesting is bounded (MAX_DEPTH): PyYAML composes recursively, and a file of ten
        thousand "[" would end in a RecursionError instead of a line number.
        The resolver table is this class's own copy: PyYAML's is shared by every loader of
        the process, and changing it would change `yaml.safe_load` for everyone who imports
        livret.
        """

        yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if tag not in _TYPED_TAGS]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

        depth = 0

        def compose_node(self, parent, index):
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _TooDeep(
                        None,
                        None,
                        _(
                            "nested more than {max} levels deep (lists or fields inside each "
                            "other): simplify this value"
                        ).format(max=MAX_DEPTH),
                        self.peek_event().start_mark,
                    )
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    _LineLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
    )
    return _LineLoader, _TooDeep


def load_yaml(text: str, path: Path, problems: Collector, line_offset: int = 0) -> Located | None:
    """Parse YAML text; on a syntax error say, in the editor's words, what to type and where.

    A slip that has an obvious repair (an unquoted « : », a tab, an unclosed quote) is
    reported, repaired in memory and the parse goes on, so that every slip of the file is
    reported at once; the file is refused all the same.

    A text read whole at the last build, without a problem, is taken as it was read then
    (memo.py): the same values and lines; its « À COMPLÉTER » marks are warned about again.
    """
    key = f"{line_offset}\n{text}"
    known = _unmemo(memo.lookup("yaml", key))
    if known is not None:
        todo_marks(text, path, problems, line_offset + 1)
        return Located(path, known[0], known[1], line_offset + 1)
    before = len(problems.problems)
    located = _parse_yaml(text, path, problems, line_offset)
    fine = not any(p.severity == "error" for p in problems.problems[before:])
    if located is not None and fine and _plain(located.data):
        memo.keep("yaml", key, json.dumps([located.data, located.lines], ensure_ascii=False))
    return located


def _plain(value) -> bool:
    """Made of what JSON gives back exactly as it was: texts, true/false, null, lists and
    mappings of texts (what a content file holds: no number nor date is read as one)."""
    if value is None or isinstance(value, (str, bool)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _unmemo(kept: str | None) -> tuple[object, dict[str, int]] | None:
    """(data, lines) as load_yaml kept them, or None for anything else."""
    if kept is None:
        return None
    try:
        data, lines = json.loads(kept)
    except (ValueError, TypeError, RecursionError):
        return None
    if not (
        _plain(data)
        and isinstance(lines, dict)
        and all(isinstance(n, int) and not isinstance(n, bool) for n in lines.values())
    ):
        return None
    return data, lines


def _parse_yaml(text: str, path: Path, problems: Collector, line_offset: int) -> Located | None:
    import yaml

    _LineLoader, _TooDeep = _yaml_loader()
    lines = text.split("\n")
    failed = _no_break_spaces(lines, path, problems, line_offset)
    reported: set[int | None] = set()
    for _attempt in range(50):
        loader = _LineLoader("\n".join(lines))
        try:
            node = loader.get_single_node()
            if node is None:
                return None if failed else Located(path, {}, {}, line_offset + 1)
            located: dict[str, int] = {}
            data = _build(loader, node, "", located, line_offset, path, problems, set(), lines)
        except yaml.MarkedYAMLError as exc:
            failed = True
            line, message, repaired = _explain(exc, lines)
            if line in reported:  # a repair that did not work: one message per line is enough
                return None
            reported.add(line)
            problems.error(path, None if line is None else line + 1 + line_offset, None, message)
            if repaired is None:
                return None
            lines = repaired
            continue
        except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
            problems.error(path, None, None, _("invalid YAML: {problem}").format(problem=exc))
            return None
        finally:
            loader.dispose()
        if failed:
            return None
        todo_marks(text, path, problems, line_offset + 1)
        return Located(path, data, located, line_offset + 1)
    return None


# No-break spaces (U+00A0, U+202F, U+2007), which word processors paste where YAML needs an
# ordinary space: after « key: », after a list's « - », or to indent. YAML then reads the
# line as text, and complains a line later about something else.
_NBSP = "\u00a0\u202f\u2007"
_NBSP_AFTER_KEY = re.compile(rf"^([ \t]*(?:-[ \t]+)?[A-Za-z_][\w-]*):[{_NBSP}]")
_NBSP_AFTER_DASH = re.compile(rf"^([ \t]*)-[{_NBSP}]")
_NBSP_INDENT = re.compile(rf"^[ \t]*[{_NBSP}]")


def _no_break_spaces(lines: list[str], path: Path, problems: Collector, offset: int) -> bool:
    """Report (and repair in `lines`, for the parse to go on) each no-break space where YAML
    needs an ordinary one. True when there was one."""
    found = False
    for i, line in enumerate(lines):
        key = _NBSP_AFTER_KEY.match(line)
        if key:
            message = _(
                "a no-break space after « {key}: » (pasted from a word processor): YAML needs "
                "an ordinary space there; delete the space after « : » and type it again"
            ).format(key=key[1].strip(" -\t"))
            fixed = key[1] + ": " + line[key.end() :].lstrip(_NBSP)
        elif _NBSP_AFTER_DASH.match(line):
            message = _(
                "a no-break space after the « - » of a list item (pasted from a word "
                "processor): YAML needs an ordinary space there; delete it and type a space"
            )
            fixed = re.sub(rf"-[{_NBSP}]+", "- ", line, count=1)
        elif _NBSP_INDENT.match(line):
            message = _(
                "no-break spaces at the start of the line (pasted from a word processor): YAML "
                "indents with ordinary spaces; delete them and indent with the space bar"
            )
            fixed = re.sub(rf"^[ \t{_NBSP}]+", lambda m: " " * len(m.group()), line)
        else:
            continue
        problems.error(path, i + 1 + offset, None, message)
        lines[i] = fixed
        found = True
    return found


# A list item pasted from a word processor: « - », « * » or « + » then a no-break space, or a
# « • » bullet. Markdown would read the list as one paragraph; it is a list, and read as one.
WORD_BULLET = re.compile(rf"^([ \t]*)(?:[-*+][{_NBSP}]+|•[ \t{_NBSP}]+)", re.MULTILINE)


TODO_RE = re.compile(r"à compléter", re.IGNORECASE)


def todo_marks(text: str, path: Path, problems: Collector, first_line: int = 1) -> None:
    """A warning for each line that still holds the marker « À COMPLÉTER » (new-edition and
    new-action write it wherever the editor has to write the real text)."""
    for n, line in enumerate(text.split("\n")):
        if TODO_RE.search(line):
            problems.warning(
                path,
                first_line + n,
                None,
                _("still to fill in: replace « À COMPLÉTER » with the real text before publishing"),
            )


# --- YAML slips, explained ---------------------------------------------------------------

_KEY_VALUE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?)(?P<key>[^\s:#\"'\[{-][^:#]*?):[ \t]+(?P<value>.*)$"
)
_QUOTES = "\"'"


# Curly quotes a word processor types where the editor meant YAML's own quotes: around the
# whole value they are the quotes of the value, not text (« » are text: French quotes).
_CURLY_PAIRS = (("“", "”"), ("”", "”"), ("‘", "’"), ("’", "’"), ("„", "“"))


def quote(text: str) -> str:
    """The value as YAML text in double quotes (single quotes if it holds a double quote);
    curly quotes around the whole value are taken for the quotes they stand for."""
    text = text.strip()
    for opening, closing in _CURLY_PAIRS:
        if len(text) > 1 and text.startswith(opening) and text.endswith(closing):
            text = text[1:-1].strip()
            break
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


Explained = tuple[int | None, str, list | None]  # (0-based line, message, repaired lines)


@dataclass
class Slip:
    """A YAML syntax error as the rules below read it: PyYAML's English words, where it
    stopped, and the line there."""

    problem: str  # PyYAML's problem ("mapping values are not allowed here")
    context: str  # and its context ("while scanning a quoted scalar")
    at: int | None  # 0-based line where PyYAML stopped
    raw: str  # that line
    lines: list[str]
    context_mark: yaml.Mark | None
    key_value: re.Match | None  # the line read as « key: value », if it is one

    def repaired(self, line: int, text: str) -> list[str]:
        return [text if i == line else old for i, old in enumerate(self.lines)]


def _tab(slip: Slip) -> Explained | None:
    """A tab: YAML indents with spaces only (PyYAML: "found character '\\t'…")."""
    at, lines = slip.at, slip.lines
    indent = slip.raw[: len(slip.raw) - len(slip.raw.lstrip())]
    if "'\\t'" not in slip.problem and "\t" not in indent:
        return None
    fixed = list(lines)
    if at is not None:
        # Repair: indent like the line above (one level deeper after a « field: » line).
        above = next((lines[i] for i in range(at - 1, -1, -1) if lines[i].strip()), "")
        new_indent = above[: len(above) - len(above.lstrip())]
        if above.rstrip().endswith(":"):
            new_indent += "  "
        fixed[at] = new_indent + lines[at].lstrip(" \t").replace("\t", " ")
    return (
        at,
        _(
            "a tab character: YAML indents with spaces only; replace the tab with spaces, "
            "in the same column as the lines above"
        ),
        fixed,
    )


def _open_quote(slip: Slip) -> Explained | None:
    """A quote opened and never closed: YAML goes on reading to the next quote, lines below,
    or to the end of the file, and complains there."""
    unclosed = _unclosed_quote(slip.lines, slip.at)
    start = slip.context_mark
    if unclosed is None and "quoted scalar" in slip.context and start is not None:
        line = slip.lines[start.line]
        unclosed = (start.line, line[start.column] if start.column < len(line) else '"')
    if unclosed is None:
        return None
    line_no, q = unclosed
    return (
        line_no,
        _(
            "the quote {quote} that opens this value is never closed: end the value with "
            "{quote} on the same line"
        ).format(quote=q),
        slip.repaired(line_no, slip.lines[line_no].rstrip() + q),
    )


def _colon_in_value(slip: Slip) -> Explained | None:
    """`title: Atelier vélo : solidaire`: the second « : » looks like a new field."""
    m = slip.key_value
    if not (slip.problem.startswith("mapping values are not allowed") and m):
        return None
    if ":" not in m["value"]:
        return None
    if m["lead"].strip() == "-" and not re.match(r"^[a-z_]+$", m["key"]):
        # `- 27 665 € : dont 10 €`: a list item, not a field
        fixed_line = f"{m['lead']}{quote(m['key'] + ': ' + m['value'])}"
    else:
        fixed_line = f"{m['lead']}{m['key']}: {quote(m['value'])}"
    return (
        slip.at,
        _(
            "the text contains « : », which YAML reads as the start of a field: put the "
            "whole text in double quotes: {fixed}"
        ).format(fixed=fixed_line.strip()),
        slip.repaired(slip.at, fixed_line) if slip.at is not None else None,
    )


def _stray_bracket(slip: Slip) -> Explained | None:
    """PyYAML: "found ']'" or "found '}'" where nothing is open."""
    if not re.search(r"found '[\]}]'", slip.problem):
        return None
    return (
        slip.at,
        _(
            "a « ] » or « } » closes nothing on this line: remove it, or put the whole "
            "text in double quotes"
        ),
        None,
    )


def _indentation(slip: Slip) -> Explained | None:
    """A line more (or less) indented than its neighbours."""
    problem = slip.problem
    if not (
        problem.startswith("mapping values are not allowed")
        or ("expected <block end>" in problem and "<scalar>" not in problem)
        or "did not find expected" in problem
    ):
        return None
    return (
        slip.at,
        _(
            "this line is not indented like the lines above: the fields of one group start "
            "in the same column, and so do the « - » items of one list; add or remove "
            "spaces at the start of the line"
        ),
        None,
    )


def _quote_inside_quotes(slip: Slip) -> Explained | None:
    """`title: "Le "Club" des territoires"` or `title: 'L'atelier'`."""
    m = slip.key_value
    if not ("<scalar>" in slip.problem and m and m["value"][:1] in _QUOTES):
        return None
    q = m["value"][0]
    inner = m["value"].strip()[1:]
    inner = inner[:-1] if inner.endswith(q) else inner
    if q == '"':
        inner = re.sub(r'"([^"]*)"', "« \\1 »", inner)
    fixed_line = f"{m['lead']}{m['key']}: {quote(inner)}"
    return (
        slip.at,
        _(
            "the text starts with {quote} and holds {quote} again, which ends it too early: "
            "write instead: {fixed}"
        ).format(quote=q, fixed=fixed_line.strip()),
        slip.repaired(slip.at, fixed_line) if slip.at is not None else None,
    )


def _open_flow(slip: Slip) -> Explained | None:
    """A list between [ ] (or a mapping between { }) that is not closed."""
    if "flow sequence" not in slip.context and "flow mapping" not in slip.context:
        return None
    opening = slip.context_mark
    return (
        opening.line if opening else slip.at,
        _(
            "a list written between [ ] is not closed, or one of its items holds a comma, "
            "a bracket or a quote: close it with « ] » on the same line, or write one item "
            "per line, each starting with « - »"
        ),
        None,
    )


# The slips editors make, each recognised from PyYAML's (English) words: tried in this order,
# the first that recognises the error explains it; else the generic message of _explain.
RULES = (
    _tab,
    _open_quote,
    _colon_in_value,
    _stray_bracket,
    _indentation,
    _quote_inside_quotes,
    _open_flow,
)


def _explain(exc: yaml.MarkedYAMLError, lines: list[str]) -> Explained:
    """(0-based line, message, the lines repaired or None) for a YAML syntax error."""
    mark = exc.problem_mark or exc.context_mark
    at = mark.line if mark else None
    if isinstance(exc, _yaml_loader()[1]):
        return at, exc.problem or "", None
    raw = lines[at] if at is not None and at < len(lines) else ""
    slip = Slip(
        exc.problem or "",
        exc.context or "",
        at,
        raw,
        lines,
        exc.context_mark,
        _KEY_VALUE.match(raw),
    )
    for rule in RULES:
        found = rule(slip)
        if found is not None:
            return found
    return (
        at,
        _(
            "invalid YAML ({problem}): check the quotes, the « : » and the indentation of this line"
        ).format(problem=slip.problem or slip.context or "?"),
        None,
    )


def _unclosed_quote(lines: list[str], until: int | None) -> tuple[int, str] | None:
    """(line, quote) of the first value that opens a quote and does not close it on its line
    (editors never mean a value to run over several lines)."""
    last = len(lines) - 1 if until is None else min(until, len(lines) - 1)
    for i in range(last + 1):
        m = _KEY_VALUE.match(lines[i]) or re.match(r"^(?P<lead>\s*-\s+)(?P<value>.*)$", lines[i])
        if not m:
            continue
        value = m["value"].rstrip()
        if not value or value[0] not in _QUOTES:
            continue
        q, rest = value[0], value[1:]
        if q == '"':
            rest = rest.replace("\\\\", "").replace('\\"', "")
            closed = '"' in rest
        else:
            closed = "'" in rest.replace("''", "")
        if not closed:
            return i, q
    return None


def _comment_slip(node, lines: list[str]) -> str | None:
    """The text lost to a « # » that YAML read as a comment (`colour: #1d5ea8`,
    `title: Atelier #2`), or None."""
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.style is not None:
        return None
    end = node.end_mark
    if end.line >= len(lines):
        return None
    rest = lines[end.line][end.column :]
    # `# text` (a space after the « # ») is a comment an editor meant; `#1d5ea8` or `#2`,
    # glued to what follows, is text that YAML dropped.
    if not re.match(r"\s*#\S", rest) or (node.value and not re.match(r"\s", rest)):
        return None
    return (node.value + rest).strip()


def _nested_item(node, lines: list[str]) -> int | None:
    """A plain list item continued on a line that starts with « - » (a sub-item written
    under an item: YAML glues it to the item's text): that line, 0-based, else None."""
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.style is not None:
        return None
    for i in range(node.start_mark.line + 1, min(node.end_mark.line + 1, len(lines))):
        if lines[i].lstrip().startswith("- "):
            return i
    return None


def _build(loader, node, prefix, lines, offset, path, problems, seen, raw=()):
    """The node's value, each node once: an alias (*name) would repeat a value — a
    "billion laughs" file makes billions — so aliases are refused where they appear."""
    import yaml

    line = node.start_mark.line + 1 + offset
    if id(node) in seen:
        problems.error(
            path,
            line,
            prefix or None,
            _("YAML aliases (*name) are not allowed here: write the value out"),
        )
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1 + offset
            if not isinstance(key_node, yaml.ScalarNode):
                problems.error(path, key_line, prefix or None, _("keys must be plain words"))
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, (str, int)):
                problems.error(path, key_line, prefix or None, _("keys must be plain words"))
                continue
            key = str(key)
            dotted = f"{prefix}.{key}" if prefix else key
            if key in out:
                problems.error(path, key_line, dotted, _("field given twice: keep one"))
            lines[dotted] = key_line
            out[key] = _build(loader, value_node, dotted, lines, offset, path, problems, seen, raw)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            dotted = f"{prefix}.{i}" if prefix else str(i)
            lines[dotted] = item.start_mark.line + 1 + offset
            items.append(_build(loader, item, dotted, lines, offset, path, problems, seen, raw))
        return items
    lost = _comment_slip(node, raw)
    if lost is not None:
        problems.error(
            path,
            node.start_mark.line + 1 + offset,
            prefix or None,
            _(
                "« # » starts a comment in YAML, so the text from « # » on is dropped: put the "
                "whole text in double quotes: {fixed}"
            ).format(fixed=quote(lost)),
        )
        return lost  # what the editor meant, so that no second message follows
    nested = _nested_item(node, raw)
    if nested is not None:
        problems.error(
            path,
            nested + 1 + offset,
            prefix or None,
            _(
                "an indented « - » line under an item is read as the end of that item's text: "
                "sub-items are not printed; write it as an item of its own, in the same column "
                "as the others, or inside the item's text (« …, Région, … »)"
            ),
        )
    value = loader.construct_object(node)
    if isinstance(value, str):
        bad = BAD_CHAR.search(value)
        if bad:
            problems.error(path, line, prefix or None, bad_char_message(bad.group()))
            return None
    return value


def read_yaml(path: Path, problems: Collector, inside: Path | None = None) -> Located | None:
    """`inside`: the content folder of a content file (see read_text), read up to
    MAX_FILE_BYTES; None for other files (mail settings)."""
    limit = None if inside is None else MAX_FILE_BYTES
    text = read_text(path, problems, inside=inside, max_bytes=limit)
    return None if text is None else load_yaml(text, path, problems)


@dataclass
class MarkdownFile:
    meta: Located
    body: str
    body_line: int  # 1-based line of the body's first line

    @property
    def fields(self) -> dict[str, object]:
        """The front matter's fields: read_markdown made sure that it is a mapping."""
        assert isinstance(self.meta.data, dict)
        return self.meta.data


def read_markdown(
    path: Path, problems: Collector, inside: Path | None = None, max_bytes: int = MAX_FILE_BYTES
) -> MarkdownFile | None:
    """A Markdown file with YAML front matter between two `---` lines."""
    text = read_text(path, problems, inside=inside, max_bytes=max_bytes)
    if text is None:
        return None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.error(
            path,
            1,
            None,
            _(
                "no front matter: the file must start with a line '---', the YAML fields, "
                "then a closing '---' line"
            ),
        )
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        problems.error(
            path, 1, None, _("front matter is not closed: add a line '---' after the fields")
        )
        return None
    meta = load_yaml("\n".join(lines[1:end]), path, problems, line_offset=1)
    if meta is None:
        return None
    if not isinstance(meta.data, dict):
        problems.error(path, 2, None, _("front matter must be 'field: value' lines"))
        return None
    body = WORD_BULLET.sub(r"\1- ", "\n".join(lines[end + 1 :]))
    todo_marks(body, path, problems, end + 2)
    return MarkdownFile(meta, body, end + 2)
