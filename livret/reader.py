"""Stage 1 — read: files on disk → Python values that remember their line numbers.

Nothing here knows what a booklet is; it only turns bytes into data and reports, as
`Problem`s, what cannot be read (bad encoding, bad YAML, missing front matter), with the
line where it happens.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Collector
from .i18n import _

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


def read_text(
    path: Path, problems: Collector, what: str = "file", fix: str = "save the file as UTF-8"
) -> str | None:
    """The file's text (UTF-8, BOM dropped, Windows line ends made plain), or a Problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.error(path, None, None, f"cannot read {what}: {exc.strerror or exc}")
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
            f"not UTF-8 (byte 0x{raw[exc.start]:02x}); {fix}",
        )
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    clean = True
    for n, line in enumerate(text.split("\n"), 1):
        bad = BAD_CHAR.search(line)
        if bad:
            problems.error(path, n, None, bad_char_message(bad.group()))
            clean = False
    return text if clean else None


class _LineLoader(yaml.SafeLoader):
    """SafeLoader where every plain scalar stays the text that was typed.

    YAML 1.1 would turn a phone number 0561270762 into the octal 96825842, "12:30" into 750,
    "no" into False, 1.50 into 1.5: content is printed as typed, so validators convert.

    Nesting is bounded (MAX_DEPTH): PyYAML composes recursively, and a file of ten thousand
    "[" would end in a RecursionError instead of a line number.
    """

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    _("nested more than {max} levels deep").format(max=MAX_DEPTH),
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


for first, resolvers in list(_LineLoader.yaml_implicit_resolvers.items()):
    _LineLoader.yaml_implicit_resolvers[first] = [
        (tag, rx)
        for tag, rx in resolvers
        if tag
        not in (
            "tag:yaml.org,2002:timestamp",
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        )
    ]
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load_yaml(text: str, path: Path, problems: Collector, line_offset: int = 0) -> Located | None:
    """Parse YAML text; on a syntax error report the YAML's own line and message."""
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located(path, {}, {}, line_offset + 1)
        lines: dict[str, int] = {}
        data = _build(loader, node, "", lines, line_offset, path, problems, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 + line_offset) if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        problems.error(path, line, None, f"invalid YAML: {what}")
        return None
    except yaml.YAMLError as exc:  # pragma: no cover - non-marked errors are rare
        problems.error(path, None, None, f"invalid YAML: {exc}")
        return None
    finally:
        loader.dispose()
    return Located(path, data, lines, line_offset + 1)


def _build(loader, node, prefix, lines, offset, path, problems, seen):
    """The node's value, each node once: an alias (*name) would repeat a value — a
    "billion laughs" file makes billions — so aliases are refused where they appear."""
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
                problems.error(path, key_line, prefix or None, "keys must be plain words")
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, (str, int)):
                problems.error(path, key_line, prefix or None, "keys must be plain words")
                continue
            key = str(key)
            dotted = f"{prefix}.{key}" if prefix else key
            if key in out:
                problems.error(path, key_line, dotted, "key given twice")
            lines[dotted] = key_line
            out[key] = _build(loader, value_node, dotted, lines, offset, path, problems, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            dotted = f"{prefix}.{i}" if prefix else str(i)
            lines[dotted] = item.start_mark.line + 1 + offset
            items.append(_build(loader, item, dotted, lines, offset, path, problems, seen))
        return items
    value = loader.construct_object(node)
    if isinstance(value, str):
        bad = BAD_CHAR.search(value)
        if bad:
            problems.error(path, line, prefix or None, bad_char_message(bad.group()))
            return None
    return value


def read_yaml(path: Path, problems: Collector) -> Located | None:
    text = read_text(path, problems)
    return None if text is None else load_yaml(text, path, problems)


@dataclass
class MarkdownFile:
    meta: Located
    body: str
    body_line: int  # 1-based line of the body's first line


def read_markdown(path: Path, problems: Collector) -> MarkdownFile | None:
    """A Markdown file with YAML front matter between two `---` lines."""
    text = read_text(path, problems)
    if text is None:
        return None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        problems.error(
            path,
            1,
            None,
            "no front matter: the file must start with a line '---', the YAML fields, "
            "then a closing '---' line",
        )
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        problems.error(
            path, 1, None, "front matter is not closed: add a line '---' after the fields"
        )
        return None
    meta = load_yaml("\n".join(lines[1:end]), path, problems, line_offset=1)
    if meta is None:
        return None
    if not isinstance(meta.data, dict):
        problems.error(path, 2, None, "front matter must be 'field: value' lines")
        return None
    return MarkdownFile(meta, "\n".join(lines[end + 1 :]), end + 2)
