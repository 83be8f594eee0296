"""Safe YAML loading for every file the advisor reads.

Only the safe loader (libyaml's when installed) is used, so YAML can never construct Python
objects. On top of PyYAML:

- duplicate keys are refused (PyYAML silently keeps the last one); a key written beside a merge
  key (``<<: *base``) overrides the merged value, as the merge key is specified, and is no
  duplicate;
- numbers are read as YAML 1.2's core schema reads them, not as YAML 1.1: ``1e15`` is a number,
  while ``1:30`` (base 60), ``0x10``, ``0o17``, ``0b101`` and ``010`` stay text, so that a number
  field refuses them (``number_hint`` says what was probably meant) instead of reading 90, 16,
  15, 5 or 8; digits may be grouped (``1_000``);
- a document may not nest deeper than ``MAX_DEPTH`` nor hold more than ``MAX_NODES`` values,
  counting what aliases expand to ("billion laughs"), and both are checked while the document is
  read, before anything is built from it;
- the line of every value is kept so that errors can point at ``file:line``;
- ``open_list`` reads a ``{key: [...]}`` document one entry at a time: memory stays flat
  whatever the length of the list, and a problem inside one entry rejects that entry only.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import (AliasEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent,
                         StreamEndEvent)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Most values a document (or one entry of a streamed list) may hold once aliases are followed.
MAX_EXPANDED_NODES = MAX_NODES = 200_000
#: Deepest nesting accepted; real scenario and rule files stay under 20.
MAX_DEPTH = 100
#: Longest piece of the input quoted in a message.
_MESSAGE_LIMIT = 200

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
    find_lines: Optional[Any] = field(default=None, repr=False, compare=False)  # () -> lines, read when first asked

    def all_lines(self) -> dict[DataPath, int]:
        """The line of every value (found when first asked)."""
        if self.find_lines is not None:
            find, self.find_lines = self.find_lines, None
            self.lines.update(find())
        return self.lines

    def line_of(self, path: DataPath) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        lines = self.all_lines()
        path = tuple(path)
        while path:
            if path in lines:
                return lines[path]
            path = path[:-1]
        return lines.get(())


# --- how plain scalars are read: YAML 1.2 core numbers ----------------------------------------------

_TAG = "tag:yaml.org,2002:"
_INT, _FLOAT, _MERGE = _TAG + "int", _TAG + "float", _TAG + "merge"
_INT_TEXT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_FLOAT_TEXT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
                               |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                               |[-+]?\.(?:inf|Inf|INF)
                               |\.(?:nan|NaN|NAN))$""", re.X)


def _implicit_resolvers(keep_yaml11_numbers: bool = False) -> dict:
    """PyYAML's YAML 1.1 resolvers with YAML 1.2 core int and float first (and, unless kept, 1.1's
    dropped); ``=`` (1.1's "value" type, which nothing can construct) is text."""
    dropped = (_TAG + "value",) if keep_yaml11_numbers else (_INT, _FLOAT, _TAG + "value")
    table = {first: [(tag, rx) for tag, rx in resolvers if tag not in dropped]
             for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}
    for first in "-+0123456789.":
        table.setdefault(first, [])
        table[first][:0] = ([(_INT, _INT_TEXT)] if first != "." else []) + [(_FLOAT, _FLOAT_TEXT)]
    return {first: resolvers for first, resolvers in table.items() if resolvers}


def _int_of(text: str) -> int:
    return int(text.replace("_", ""), 10)


_SPECIAL_FLOATS = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}


def _float_of(text: str) -> float:
    text = text.replace("_", "").lower()
    special = _SPECIAL_FLOATS.get(text)
    return special if special is not None else float(text)


def _bool_of(text: str) -> bool:
    return SafeConstructor.bool_values[text.lower()]


def _construct_bool(loader, node) -> bool:
    text = loader.construct_scalar(node)
    try:
        return _bool_of(text)
    except KeyError:  # PyYAML lets it escape: !!bool y
        raise ConstructorError(None, None, f"{_clip(repr(text))} is not a boolean (true or false)", node.start_mark) from None


def _construct_int(loader, node) -> int:
    text = loader.construct_scalar(node)
    try:
        return _int_of(text)
    except ValueError:
        raise ConstructorError(None, None, f"{_clip(repr(text))} is not a decimal whole number", node.start_mark) from None


def _construct_float(loader, node) -> float:
    text = loader.construct_scalar(node)
    try:
        return _float_of(text)
    except ValueError:
        raise ConstructorError(None, None, f"{_clip(repr(text.replace('_', '').lower()))} is not a number", node.start_mark) from None


def _construct_timestamp(loader, node):
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError, AttributeError, TypeError) as exc:  # 2020-99-99 matches the pattern
        raise ConstructorError(None, None, f"{_clip(repr(node.value))} is not a valid date or time ({exc})", node.start_mark) from None


#: Text that YAML 1.1 would read as a number and YAML 1.2 (so this loader) does not.
_BASE60 = re.compile(r"^([-+]?)([0-9][0-9_]*(?::[0-5]?[0-9])+)(\.[0-9_]*)?$")
_PREFIXED = re.compile(r"^([-+]?)0(x[0-9a-fA-F_]+|o[0-7_]+|b[01_]+)$")
_LEADING_ZERO = re.compile(r"^([-+]?)0[0-9_]+$")


def number_hint(value) -> Optional[str]:
    """What a text that looks like a number means, for the message of a number field that got it.

    ``1:30`` -> base 60 (YAML 1.1 reads 90), ``0x10`` -> hexadecimal 16, ``010`` -> YAML 1.1's
    octal 8; None for anything else."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    if match := _BASE60.match(text):
        sign, digits, fraction = match.groups()
        number = 0.0
        for part in digits.replace("_", "").split(":"):
            number = number * 60 + int(part)
        number = (number + float(fraction.replace("_", "") or 0) if fraction else number) * (-1 if sign == "-" else 1)
        return f"{text} is base-60 notation, which YAML 1.1 reads as {number:g}: write the number in decimal"
    if match := _PREFIXED.match(text):
        sign, body = match.groups()
        base = {"x": 16, "o": 8, "b": 2}[body[0]]
        name = {16: "hexadecimal", 8: "octal", 2: "binary"}[base]
        return f"{text} is {name} notation for {sign}{int(body[1:].replace('_', ''), base)}: write the number in decimal"
    if match := _LEADING_ZERO.match(text):
        digits = text.lstrip("+-").replace("_", "")
        readings = (f"YAML 1.1 reads it as octal {int(digits, 8)} and YAML 1.2 as {int(digits)}" if set(digits) <= set("01234567")
                    else f"YAML 1.2 reads it as {int(digits)}")
        return f"{text} has a leading zero ({readings}): write the number without it"
    return None


# --- the loader ----------------------------------------------------------------------------------------


class _StrictLoader(_SafeLoader):
    def __init__(self, stream, keep_duplicates: bool = False):
        super().__init__(stream)
        self.keep_duplicates = keep_duplicates
        self.duplicates: list[YamlError] = []

    def construct_mapping(self, node, deep=False):
        """A mapping with its merge keys applied, as the merge key type specifies: merged keys first,
        the keys written in the mapping after them (so they override); a key written twice is a
        duplicate. Never changes the node (an aliased node is constructed again in each entry)."""
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping, but found {node.id}", node.start_mark)
        mapping: dict = {}
        seen: set = set()
        for key_node, value_node, own in _effective_pairs(node):
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = own and key in seen
            except TypeError:
                raise YamlError("a mapping key must be a plain value", key_node.start_mark.line + 1) from None
            if duplicate:
                error = YamlError(f"duplicate key {_clip(repr(key))}", key_node.start_mark.line + 1, key=key)
                if not self.keep_duplicates:
                    try:
                        raise error
                    finally:
                        error = None  # as in _Composer.node
                self.duplicates.append(error)
            if own:
                seen.add(key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_StrictLoader.yaml_implicit_resolvers = _implicit_resolvers()
_StrictLoader.add_constructor(_TAG + "bool", _construct_bool)
_StrictLoader.add_constructor(_INT, _construct_int)
_StrictLoader.add_constructor(_FLOAT, _construct_float)
_StrictLoader.add_constructor(_TAG + "timestamp", _construct_timestamp)


class _Dumper(yaml.SafeDumper):
    """Writes what ``load`` (and a YAML 1.1 reader) reads back the same: text that either would
    read as something else (``'1e3'``, ``'1:30'``, ``'yes'``) is quoted."""


_Dumper.yaml_implicit_resolvers = _implicit_resolvers(keep_yaml11_numbers=True)


def dump(data) -> str:
    """YAML text of plain data (block style, keys in the order given) that ``load`` reads back equal."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _effective_pairs(node: MappingNode, depth: int = 0):
    """(key node, value node, written here) for every entry of a mapping, merged ones first."""
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            continue
        sources = [value_node] if isinstance(value_node, MappingNode) else value_node.value if isinstance(value_node, SequenceNode) else None
        if sources is None or not all(isinstance(s, MappingNode) for s in sources):
            raise ConstructorError("while constructing a mapping", node.start_mark,
                                   "expected a mapping or list of mappings for merging", value_node.start_mark)
        if depth > MAX_DEPTH:
            raise YamlError(f"merge keys nested deeper than {MAX_DEPTH} levels", key_node.start_mark.line + 1)
        for source in reversed(sources):  # the first mapping of a list wins, so it comes last
            for k, v, _own in _effective_pairs(source, depth + 1):
                yield k, v, False
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE:
            yield key_node, value_node, True


#: Resolved tags of untagged scalars by (text, implicit): the same few keys and values recur in
#: every entry of a list, and resolving runs a regular expression or two in Python each time.
#: Short texts only (a long one is rarely repeated), and at most so many: memory stays bounded.
_SCALAR_TAGS: dict = {}
_SCALAR_TAGS_KEPT = 4096
_SCALAR_TAG_TEXT = 64


class _Composer:
    """Nodes from the parser's events, one value at a time (PyYAML composes a whole document at
    once, so memory grew with the length of a list). Refuses absurd nesting and size as it reads;
    a value it refuses is still read to its end, so that the next one can be composed."""

    def __init__(self, loader):
        self.loader = loader
        self.anchors: dict = {}
        self.aliased = False  # an alias was followed since this was last reset

    def node(self, depth: int, what: str = "the document"):
        """The next value of the event stream as nodes; raises (YamlError or PyYAML's
        MarkedYAMLError) only once all of its events are read."""
        get_event, resolve, anchors, tags = self.loader.get_event, self.loader.resolve, self.anchors, _SCALAR_TAGS
        stack: list = []  # open collections: [node, key node waiting for its value]
        error, count = None, 0
        while True:
            event = get_event()
            kind = event.__class__
            node = None
            if kind is MappingEndEvent or kind is SequenceEndEvent:
                node = stack.pop()[0]
                if node is not None:
                    node.end_mark = event.end_mark
            elif error is not None:
                if kind is not ScalarEvent and kind is not AliasEvent:
                    stack.append([None, None])
                continue
            elif kind is AliasEvent:
                self.aliased = True
                node = anchors.get(event.anchor)
                if node is None:
                    error = yaml.composer.ComposerError(None, None, "found undefined alias", event.start_mark)
            else:
                count += 1
                anchor = event.anchor
                if anchor is not None and anchor in anchors:
                    error = yaml.composer.ComposerError("found duplicate anchor; first occurrence", anchors[anchor].start_mark,
                                                        "second occurrence", event.start_mark)
                elif count > MAX_NODES:
                    error = YamlError(f"more than {MAX_NODES:,} values in {what}", event.start_mark.line + 1)
                elif kind is ScalarEvent:
                    tag = event.tag
                    if tag is None or tag == "!":
                        key, short = (event.value, event.implicit), len(event.value) <= _SCALAR_TAG_TEXT
                        tag = tags.get(key) if short else None
                        if tag is None:
                            tag = resolve(ScalarNode, event.value, event.implicit)
                            if short:
                                if len(tags) >= _SCALAR_TAGS_KEPT:
                                    tags.clear()
                                tags[key] = tag
                    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                elif depth + len(stack) > MAX_DEPTH:
                    error = YamlError(f"nesting deeper than {MAX_DEPTH} levels", event.start_mark.line + 1)
                else:
                    cls = MappingNode if kind is MappingStartEvent else SequenceNode
                    tag = event.tag
                    if tag is None or tag == "!":
                        tag = resolve(cls, None, event.implicit)
                    node = cls(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if node is not None and anchor is not None:
                    anchors[anchor] = node
                if kind is not ScalarEvent:
                    stack.append([node, None])
                    continue
            if not stack:
                if error is not None:
                    try:
                        raise error
                    finally:
                        error = None  # the frame its traceback holds lets it go: no reference cycle
                return node
            if error is not None:
                continue
            top = stack[-1]
            parent = top[0]
            if parent.__class__ is SequenceNode:
                parent.value.append(node)
            elif top[1] is None:
                top[1] = node
            else:
                parent.value.append((top[1], node))
                top[1] = None

    def skip(self) -> None:
        """Read the next value's events without building anything."""
        depth = 0
        while True:
            kind = self.loader.get_event().__class__
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                depth += 1
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                depth -= 1
            if depth == 0:
                return


def _check_shape(root, depth0: int = 0) -> None:
    """Refuse alias bombs and nesting through aliases before anything walks the constructed data."""
    sizes: dict[int, int] = {}
    stack = [(root, depth0, False)]
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
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _lines_of(node, path: DataPath) -> dict[DataPath, int]:
    """The line of each value; for a mapping entry, the line of its key (where a reader looks).
    Values are visited in reading order, so a key written beside a merge key keeps its own line."""
    lines: dict[DataPath, int] = {}
    stack = [(node, path, node.start_mark.line + 1)]
    while stack:
        node, path, line = stack.pop()
        lines[path] = line
        if isinstance(node, MappingNode):
            pairs = [(k, v) for k, v, _own in _effective_pairs(node) if isinstance(k, ScalarNode)]
            stack.extend((v, path + (k.value,), k.start_mark.line + 1) for k, v in reversed(pairs))
        elif isinstance(node, SequenceNode):
            stack.extend((child, path + (i,), child.start_mark.line + 1) for i, child in reversed(list(enumerate(node.value))))
    return lines


def _path_of_key(root, line: int, key) -> DataPath | None:
    """The path of the mapping key written on ``line`` (for a duplicate key's error)."""
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode):
                    if key_node.start_mark.line + 1 == line and key_node.value == str(key):
                        return path + (key,)
                    stack.append((value_node, path + (key_node.value,)))
        elif isinstance(node, SequenceNode):
            stack.extend((child, path + (i,)) for i, child in enumerate(node.value))
    return None


def read_capped(stream, limit: int, hint: str) -> bytes:
    """At most ``limit`` bytes of a binary stream; a longer one is refused before it is parsed."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise YamlError(f"larger than {limit / 1e6:g} MB ({hint})")
    return data


def _checked(text: str | bytes) -> bytes:
    """UTF-8 bytes without NUL, which is what every loader here parses."""
    if isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(text)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x})") from None
    if b"\x00" in raw:
        raise YamlError("binary data, not YAML text", raw[: raw.index(b"\x00")].count(b"\n") + 1)
    return raw


@contextlib.contextmanager
def _reading(loader: _StrictLoader, raw: bytes) -> Iterator[_StrictLoader]:
    """The loader, disposed of at the end; PyYAML's errors become one YamlError (file:line when marked)."""
    try:
        yield loader
    except yaml.MarkedYAMLError as exc:
        raise _marked(exc, raw) from None
    except yaml.YAMLError as exc:
        raise YamlError(_clip(str(exc).splitlines()[0] if str(exc) else "invalid YAML")) from None
    finally:
        loader.dispose()


def _check_syntax(raw: bytes) -> None:
    """Read the whole text once without building anything (in C with libyaml): a syntax error
    anywhere refuses the file before any of it is used."""
    with _reading(_StrictLoader(raw), raw) as loader:
        if hasattr(loader, "raw_parse"):
            loader.raw_parse()
        else:
            while loader.check_event():
                loader.get_event()


class _NotPlain(Exception):
    """A value ``_plain`` leaves to PyYAML's constructor."""


_PLAIN_SCALARS = {_TAG + "str": str, _TAG + "int": _int_of, _TAG + "float": _float_of,
                  _TAG + "bool": _bool_of, _TAG + "null": lambda text: None}
_MAP, _SEQ = _TAG + "map", _TAG + "seq"


def _plain(node):
    """``node`` as data, as the loader's constructor builds it, for what every scenario and rule
    file is made of (mappings, lists, text, numbers, booleans, null), about four times faster.
    Anything else raises _NotPlain, and the constructor builds it (or says what is wrong): a
    merge key, a duplicate or unhashable key, another tag, a number it refuses. Never called on
    a document with aliases, so every node is built once."""
    kind = node.__class__
    if kind is ScalarNode:
        make = _PLAIN_SCALARS.get(node.tag)
        if make is None:
            raise _NotPlain
        try:
            return make(node.value)
        except (ValueError, KeyError):
            raise _NotPlain from None
    if kind is SequenceNode and node.tag == _SEQ:
        return [_plain(child) for child in node.value]
    if kind is not MappingNode or node.tag != _MAP:
        raise _NotPlain
    mapping: dict = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            raise _NotPlain
        key = _plain(key_node)
        try:
            if key in mapping:
                raise _NotPlain
        except TypeError:
            raise _NotPlain from None
        mapping[key] = _plain(value_node)
    return mapping


def _construct(loader: _StrictLoader, node, prefix: DataPath, want_lines: bool, depth0: int, aliased: bool) -> Document:
    """One composed value as data, with its lines and duplicate keys under ``prefix``."""
    loader.duplicates = []
    try:
        if aliased:
            _check_shape(node, depth0)
            data = loader.construct_document(node)
        else:
            try:
                data = _plain(node)
            except _NotPlain:
                data = loader.construct_document(node)
    except YamlError as exc:
        if exc.key is not None:  # name the field: the path of the duplicate
            found = _path_of_key(node, exc.line, exc.key)
            exc.path = prefix + found if found is not None else None
        raise
    except RecursionError:
        raise YamlError(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark.line + 1) from None
    except (ValueError, TypeError, OverflowError) as exc:  # a constructor PyYAML did not guard
        raise YamlError(f"cannot read a value: {_clip(str(exc))}", node.start_mark.line + 1) from None
    finally:  # a failed construction must not leave state behind for the next entry
        loader.state_generators, loader.constructed_objects, loader.recursive_objects = [], {}, {}
        loader.deep_construct = False
    duplicates = loader.duplicates
    for error in duplicates:
        found = _path_of_key(node, error.line, error.key)
        error.path = prefix + found if found is not None else None
    if not want_lines:
        return Document(data, {}, duplicates)
    return Document(data, {}, duplicates, find_lines=lambda: _lines_of(node, prefix))  # most documents never need them


def _single_document(loader: _StrictLoader) -> None:
    """After a document's end: the stream must end too."""
    loader.get_event()  # DocumentEndEvent
    if not loader.check_event(StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(None, None, "expected a single document in the stream, but found another document",
                                          event.start_mark)


def load(text: str | bytes, *, want_lines: bool = False, keep_duplicates: bool = False) -> Document:
    """Parse one YAML document safely; raises YamlError with a line number on any problem.

    ``keep_duplicates`` reports duplicate keys in ``Document.duplicates`` (each with its path)
    instead of raising, so that a file of several scenarios can reject only the one at fault.
    """
    raw = _checked(text)
    _check_syntax(raw)
    return _load_checked(raw, want_lines, keep_duplicates)


def _load_checked(raw: bytes, want_lines: bool, keep_duplicates: bool) -> Document:
    with _reading(_StrictLoader(raw, keep_duplicates), raw) as loader:
        loader.get_event()  # StreamStartEvent
        if loader.check_event(StreamEndEvent):
            return Document(None)
        loader.get_event()  # DocumentStartEvent
        composer = _Composer(loader)
        node = composer.node(0)
        _single_document(loader)
        return _construct(loader, node, (), want_lines, 0, composer.aliased)


# --- a long list, one entry at a time ------------------------------------------------------------------


@dataclass
class Entry:
    """One entry of a streamed list: its data (with lines under ``(key, index)``) or what is wrong with it."""

    index: int
    doc: Optional[Document] = None
    error: Optional[YamlError] = None


@dataclass
class Listed:
    """A document opened by ``open_list``.

    ``whole`` is the whole document when it is not ``{key: [...]}`` with ``key`` first (then
    ``entries()`` yields nothing). Otherwise ``entries()`` yields the list's entries one at a time;
    once it is exhausted, ``other_keys`` holds the (key, line) of any key written after the list
    and ``trailing`` a problem found after it (a second document)."""

    whole: Optional[Document] = None
    other_keys: list = field(default_factory=list)
    trailing: Optional[YamlError] = None
    _state: Optional[tuple] = field(default=None, repr=False)

    def entries(self) -> Iterator[Entry]:
        if self._state is None:
            return
        loader, raw, key, head_lines = self._state
        self._state = None
        composer = _Composer(loader)
        try:
            index = 0
            while not loader.check_event(SequenceEndEvent):
                composer.aliased = False
                try:
                    node = composer.node(2, "one entry of the list")
                    doc = _construct(loader, node, (key, index), True, 2, composer.aliased)
                    doc.lines.update(head_lines)
                    yield Entry(index, doc)
                except YamlError as exc:
                    yield Entry(index, error=exc)
                except yaml.MarkedYAMLError as exc:
                    yield Entry(index, error=_marked(exc, raw))
                index += 1
            loader.get_event()  # SequenceEndEvent
            self._rest(loader, composer, raw)
        finally:
            loader.dispose()

    def _rest(self, loader, composer: _Composer, raw: bytes) -> None:
        """The keys after the list (their values are not read into memory) and the end of the stream."""
        try:
            while not loader.check_event(MappingEndEvent):
                key_node = composer.node(1)
                composer.skip()
                shown = key_node.value if isinstance(key_node, ScalarNode) else f"(a {key_node.id} as a key)"
                self.other_keys.append((shown, key_node.start_mark.line + 1))
            loader.get_event()  # MappingEndEvent
            _single_document(loader)
        except YamlError as exc:
            self.trailing = exc
        except yaml.MarkedYAMLError as exc:
            self.trailing = _marked(exc, raw)


def open_list(text: str | bytes, key: str, *, keep_duplicates: bool = True) -> Listed:
    """A document whose first key is ``key`` with a list as its value, read one entry at a time
    (see ``Listed``); any other document is loaded whole, as ``load`` does (with lines).

    Raises YamlError, as ``load`` does, for what is wrong with the file as a whole: not UTF-8,
    binary, a syntax error anywhere in it (found before any entry is read)."""
    raw = _checked(text)
    plain = _json_document(raw, keep_duplicates)
    if plain is not None and not _keys_after_list(plain.data, key):
        return Listed(whole=plain)
    _check_syntax(raw)
    loader = _StrictLoader(raw, keep_duplicates)
    streamed = False
    try:
        head = [loader.get_event()]  # StreamStartEvent
        if loader.check_event(DocumentStartEvent):
            head.append(loader.get_event())
            for expected in (MappingStartEvent, ScalarEvent, SequenceStartEvent):
                event = loader.peek_event() if loader.check_event(expected) else None
                if event is None or event.anchor is not None or event.tag is not None:
                    break
                if expected is ScalarEvent and not (event.value == key and event.implicit[0]):
                    break  # another first key, or a quoted one: read the document whole
                head.append(loader.get_event())
            else:
                streamed = True
                root, key_event = head[2], head[3]
                head_lines = {(): root.start_mark.line + 1, (key,): key_event.start_mark.line + 1}
                return Listed(_state=(loader, raw, key, head_lines))
    finally:
        if not streamed:
            loader.dispose()
    return Listed(whole=_load_checked(raw, True, keep_duplicates))


# --- JSON: YAML read faster --------------------------------------------------------------------------

#: What YAML reads differently from JSON, or refuses: tabs, line breaks YAML folds (NEL, LS, PS) or
#: counts (a lone CR), characters YAML does not take even in quotes, escapes of half a character
#: (a surrogate), and a key whose colon is on another line or far after it (YAML's simple keys).
_NOT_PLAIN_JSON = re.compile(r'[\t\x85\u2028\u2029]|\r(?!\n)|[^\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]'
                             r'|\\u[dD][89abAB]|"[ \r\n]*\n[ \r\n]*:|" {16,}:')
_JSON_START = re.compile(rb"[ \r\n]*[{\[]")
_JSON_DEPTH = 50  # well within MAX_DEPTH; a deeper document is left to YAML, which says where
_JSON_KEY_CHARS = 1000  # YAML's simple keys stop at 1,024 characters


class _NotPlain(Exception):
    """A JSON document YAML would read differently: it is read as YAML."""


def _unique(pairs: list) -> dict:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _NotPlain  # a duplicate key: YAML says which and where
    return mapping


def _refuse(constant: str):
    raise _NotPlain  # NaN, Infinity: not JSON, and YAML reads them as text


def _json_document(raw: bytes, keep_duplicates: bool) -> Optional[Document]:
    """The document, when it is a JSON object or array that YAML reads the same (JSON is YAML):
    the standard library's C parser builds it at a fraction of YAML's cost. Any doubt (see
    ``_NOT_PLAIN_JSON``, duplicate keys, NaN, the size and depth limits) leaves the text to YAML,
    so the values, the checks and every message are the same. Lines are found when first asked
    for (an error's file:line), by reading the text as YAML then."""
    if not _JSON_START.match(raw):
        return None
    text = raw.decode("utf-8")
    if _NOT_PLAIN_JSON.search(text):
        return None
    try:
        data = json.loads(text, object_pairs_hook=_unique, parse_constant=_refuse)
        if not _within_limits(data):
            return None
    except (ValueError, RecursionError, _NotPlain):
        return None
    return Document(data, find_lines=lambda: _json_lines(raw, keep_duplicates))


def _keys_after_list(data, key: str) -> bool:
    """Whether a document read whole would be reported otherwise than streamed: a list under
    ``key``, written first, then other keys (streamed, its scenarios come before the problem)."""
    return isinstance(data, dict) and len(data) > 1 and next(iter(data)) == key and isinstance(data[key], list)


def _within_limits(data) -> bool:
    """Fewer values than MAX_NODES (counted as YAML counts them: collections, keys and scalars),
    nesting below _JSON_DEPTH, keys YAML takes."""
    count, stack = 0, [(data, 0)]
    while stack:
        value, depth = stack.pop()
        count += 1
        kind = type(value)
        if kind is dict or kind is list:
            if depth >= _JSON_DEPTH:
                return False
            if kind is dict:
                count += len(value)
                if any(len(k) > _JSON_KEY_CHARS for k in value):
                    return False
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
    return count < MAX_NODES - 1000


def _json_lines(raw: bytes, keep_duplicates: bool) -> dict:
    try:
        return _load_checked(raw, True, keep_duplicates).all_lines()
    except YamlError:  # cannot happen for text that passed _json_document; a message without a line then
        return {}


def _clip(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marked(exc: yaml.MarkedYAMLError, raw: bytes) -> YamlError:
    """PyYAML's error as one line with its line number, and where to look when that helps."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"  # where to look
    problem = _clip(problem)
    if mark and "cannot start any token" in problem:
        line = raw.split(b"\n", mark.line + 1)[mark.line:mark.line + 1]
        if line and b"\t" in line[0]:
            problem += " (a tab: YAML indents with spaces)"
    return YamlError(problem, mark.line + 1 if mark else None)
