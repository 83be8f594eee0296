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

Path = tuple  # a path into the loaded data: keys and list indexes


class YamlError(Exception):
    """A file that is not acceptable YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class Document:
    """Loaded data plus the 1-based line of every value, keyed by its path."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


class _StrictLoader(_SafeLoader):
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
                    raise YamlError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
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


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _record_lines(node, path: Path, lines: dict) -> None:
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    stack.append((value_node, path + (key_node.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, path + (i,)) for i, child in enumerate(node.value))


def load(text: str | bytes, *, want_lines: bool = False) -> Document:
    """Parse one YAML document safely; raises YamlError with a line number on any problem."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not UTF-8 text (byte {exc.start} is {text[exc.start]:#04x})") from None
    if "\x00" in text:
        raise YamlError("binary data, not YAML text", text[: text.index("\x00")].count("\n") + 1)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None)
        _check_shape(node)
        data = loader.construct_document(node)
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(problem, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0] or "invalid YAML") from None
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if want_lines:
        _record_lines(node, (), lines)
    return Document(data, lines)

