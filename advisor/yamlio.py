"""Safe YAML loading for every file the advisor reads.

Only the safe loader (libyaml's when installed) is used, so YAML can never construct Python
objects. On top of PyYAML it rejects duplicate keys (PyYAML silently keeps the last one), refuses
documents that aliases blow up beyond a size bound ("billion laughs"), and keeps the line of
every value so that errors can point at ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Largest number of values a document may expand to once aliases are followed.
MAX_EXPANDED_NODES = 200_000
#: Deepest nesting accepted; real scenario and rule files stay under 20.
MAX_DEPTH = 100

DataPath = tuple  # a path into the loaded data: keys and list indexes


class YamlError(Exception):
    """A file that is not acceptable YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, path: DataPath | None = None, key=None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path  # where in the data, when known (duplicate keys)
        self.key = key


@dataclass
class Document:
    """Loaded data plus the 1-based line of every value, keyed by its path."""

    data: Any
    lines: dict[DataPath, int] = field(default_factory=dict)
    duplicates: list[YamlError] = field(default_factory=list)  # with keep_duplicates, each with its path

    def line_of(self, path: DataPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


class _StrictLoader(_SafeLoader):
    def __init__(self, stream, keep_duplicates: bool = False):
        super().__init__(stream)
        self.keep_duplicates = keep_duplicates
        self.duplicates: list[YamlError] = []

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: set = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    raise YamlError("a mapping key must be a plain value", key_node.start_mark.line + 1)
                if duplicate:
                    error = YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1, key=key)
                    if not self.keep_duplicates:
                        raise error
                    self.duplicates.append(error)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _check_shape(root) -> None:
    """Refuse alias bombs and absurd nesting before anything walks the constructed data."""
    sizes: dict[int, int] = {}
    stack = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                raise YamlError(
                    f"the document expands to more than {MAX_EXPANDED_NODES:,} values through aliases",
                    node.start_mark.line + 1,
                )
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _check_depth(root) -> None:
    """Refuse absurd nesting (a document without anchors cannot expand through aliases)."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1)
        stack.extend((child, depth + 1) for child in _children(node) if not isinstance(child, yaml.ScalarNode))


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _record_lines(node, path: DataPath, lines: dict) -> None:
    """The line of each value; for a mapping entry, the line of its key (where a reader looks)."""
    stack = [(node, path, node.start_mark.line + 1)]
    while stack:
        node, path, line = stack.pop()
        lines[path] = line
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    stack.append((value_node, path + (key_node.value,), key_node.start_mark.line + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, path + (i,), child.start_mark.line + 1) for i, child in enumerate(node.value))


def _path_of_key(root, line: int, key) -> DataPath | None:
    """The path of the mapping key written on ``line`` (for a duplicate key's error)."""
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    if key_node.start_mark.line + 1 == line and key_node.value == str(key):
                        return path + (key,)
                    stack.append((value_node, path + (key_node.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, path + (i,)) for i, child in enumerate(node.value))
    return None


def read_capped(stream, limit: int, hint: str) -> bytes:
    """At most ``limit`` bytes of a binary stream; a longer one is refused before it is parsed."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise YamlError(f"larger than {limit / 1e6:g} MB ({hint})")
    return data


def load(text: str | bytes, *, want_lines: bool = False, keep_duplicates: bool = False) -> Document:
    """Parse one YAML document safely; raises YamlError with a line number on any problem.

    ``keep_duplicates`` reports duplicate keys in ``Document.duplicates`` (each with its path)
    instead of raising, so that a file of several scenarios can reject only the one at fault.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not UTF-8 text (byte {exc.start} is {text[exc.start]:#04x})") from None
    if "\x00" in text:
        raise YamlError("binary data, not YAML text", text[: text.index("\x00")].count("\n") + 1)
    loader = _StrictLoader(text, keep_duplicates)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None)
        if "&" in text:  # anchors, so perhaps aliases: bound the expanded size too
            _check_shape(node)
        else:
            _check_depth(node)
        data = loader.construct_document(node)
    except YamlError as exc:
        if exc.key is not None:  # name the field: the path of the duplicate
            exc.path = _path_of_key(node, exc.line, exc.key)
        raise
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, text) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] or "invalid YAML") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    lines: dict[DataPath, int] = {}
    if want_lines:
        _record_lines(node, (), lines)
    for error in loader.duplicates:
        error.path = _path_of_key(node, error.line, error.key)
    return Document(data, lines, loader.duplicates)



def _marked(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    """PyYAML's error as one line with its line number, and where to look when that helps."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"  # where to look
    if mark and "cannot start any token" in problem and "\t" in "".join(text.splitlines()[mark.line:mark.line + 1]):
        problem += " (a tab: YAML indents with spaces)"
    return YamlError(problem, mark.line + 1 if mark else None)
