"""One mappings YAML file read with the line and column of every node.

The mappings are written by hand and reviewed like code, so every problem found later (a wrong
type, an unknown persona) must point at the line that holds it. :func:`read_marked_yaml`
composes the node tree with a :class:`yaml.SafeLoader` subclass, records where each node
starts under its path (``("rules", 3, "when")``), refuses duplicate keys (YAML itself keeps the
last one silently) and tab indentation, and only then constructs the plain Python data.

Aliases are bounded before anything is constructed: the tree as it reads with every alias and
merge key expanded may hold at most :data:`MAX_EXPANDED_NODES` nodes, and an anchor may not
contain an alias to itself. A few hundred bytes of nested aliases (a "billion laughs") would
otherwise expand to gigabytes in whatever walks the data next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

NodePath = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"

MAX_EXPANDED_NODES = 100_000
"""Nodes of a file with its aliases expanded; the shipped mappings hold under 2,000."""


class _AliasBomb(Exception):
    def __init__(self, mark: yaml.Mark, message: str) -> None:
        super().__init__(message)
        self.problem = MarkedProblem(Position.of(mark), message)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """How many nodes ``node`` stands for with its aliases expanded (memoised per node, so the
    count itself costs one visit per node); raises :class:`_AliasBomb` past the limit."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if id(node) in open_:
        raise _AliasBomb(node.start_mark, "an anchor contains an alias to itself (a loop); "
                                          "remove the alias")
    open_.add(id(node))
    total = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            total += _expanded_size(key_node, sizes, open_)
            total += _expanded_size(value_node, sizes, open_)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _expanded_size(item, sizes, open_)
    open_.discard(id(node))
    if total > MAX_EXPANDED_NODES:
        raise _AliasBomb(
            node.start_mark,
            f"with its aliases expanded this part stands for over {MAX_EXPANDED_NODES:,} "
            "values (aliases of aliases multiply); write the values out or use fewer aliases",
        )
    sizes[id(node)] = total
    return total


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a file, 1-based as editors show it."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Position:
        return cls(mark.line + 1, mark.column + 1)


@dataclass(frozen=True, slots=True)
class MarkedProblem:
    position: Position
    message: str


@dataclass(slots=True)
class MarkedDocument:
    """The data of one file and where each node of it starts."""

    data: Any
    positions: dict[NodePath, Position] = field(default_factory=dict)

    def position(self, path: NodePath) -> Position:
        """Where the node at ``path`` starts, or its nearest ancestor that exists."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)


class MappingsYamlLoader(yaml.SafeLoader):
    """The safe loader; only safe tags, so ``!!python/...`` is refused."""


# libyaml's parser (about 5 times faster) when PyYAML was built with it; a file it refuses is
# read again by the pure Python loader above, whose messages the problems quote.
_FastLoader: type[Any] = getattr(yaml, "CSafeLoader", MappingsYamlLoader)


def _tab_problems(text: str) -> list[MarkedProblem]:
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            problems.append(
                MarkedProblem(
                    Position(number, indent.index("\t") + 1),
                    "tab character in the indentation; YAML indents with spaces only, "
                    "replace the tab with spaces",
                )
            )
    return problems


def _key_text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return f"<{type(node).__name__}>"


def _index(
    node: yaml.Node,
    path: NodePath,
    doc: MarkedDocument,
    problems: list[MarkedProblem],
    walked: set[int],
) -> None:
    doc.positions.setdefault(path, Position.of(node.start_mark))
    if id(node) in walked:  # an alias: already indexed (and guards recursive anchors)
        return
    walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, Position] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = _key_text(key_node)
            where = Position.of(key_node.start_mark)
            if key in first:
                problems.append(
                    MarkedProblem(
                        where,
                        f"duplicate key '{key}' (first given at line {first[key].line}); "
                        "keep only one of them",
                    )
                )
                continue
            first[key] = where
            doc.positions.setdefault((*path, key), where)
            _index(value_node, (*path, key), doc, problems, walked)
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            _index(item, (*path, number), doc, problems, walked)


def _yaml_problem(exc: yaml.YAMLError) -> MarkedProblem:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        text = " ".join(part for part in (exc.context, exc.problem) if part)
        if isinstance(exc, yaml.constructor.ConstructorError):
            return MarkedProblem(
                Position.of(exc.problem_mark),
                f"YAML value not allowed: {text}; use plain YAML (no !! tags)",
            )
        return MarkedProblem(
            Position.of(exc.problem_mark),
            f"YAML syntax error: {text}; fix the syntax at this place",
        )
    return MarkedProblem(Position(1, 1), f"YAML error: {exc}; fix the file")


def read_marked_yaml(text: str) -> tuple[MarkedDocument | None, list[MarkedProblem]]:
    """Parse ``text``; the document is ``None`` when the file cannot be used at all."""
    tabs = _tab_problems(text)
    if tabs:
        return None, tabs
    found = _read(_FastLoader(text))
    if found[0] is None and _FastLoader is not MappingsYamlLoader:
        return _read(MappingsYamlLoader(text))
    return found


def _read(loader: Any) -> tuple[MarkedDocument | None, list[MarkedProblem]]:
    try:
        node = loader.get_single_node()
        if node is None:
            return MarkedDocument(None), []
        problems: list[MarkedProblem] = []
        _expanded_size(node, {}, set())
        doc = MarkedDocument(None)
        _index(node, (), doc, problems, set())
        doc.data = loader.construct_document(node)
        return doc, problems
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc)]
    except _AliasBomb as exc:
        return None, [exc.problem]
    except RecursionError:
        return None, [MarkedProblem(Position(1, 1), "the YAML nests too deeply; flatten it")]
    finally:
        loader.dispose()
