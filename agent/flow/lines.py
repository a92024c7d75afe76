"""Reading YAML or JSON flow text with the line of every key, so every error can name its line."""

from __future__ import annotations

import json
from typing import Any

import yaml

from agent.flow.model import FlowError
from agent.i18n import N_, _, told


class _LineDict(dict):
    line: int | None = None
    key_lines: dict[Any, int]


class _LineList(list):
    line: int | None = None
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise FlowError(
                _("duplicate key '{key}'").format(key=key), None, key_node.start_mark.line + 1
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


# A document is at most this many values once its aliases are expanded: far more than any flow
# (the bundled ones are a few hundred), far less than nested aliases can give in a few hundred
# bytes (9 aliases of 9 aliases of ... is 9**8 values: a "billion laughs"), which every walk
# over the data (the checker, the player) would then visit one by one.
MAX_EXPANDED_VALUES = 100_000


def expanded_size(node: yaml.Node) -> int:
    """How many values `node` stands for once its aliases are expanded, counted without expanding
    them (each node's size is worked out once). Past MAX_EXPANDED_VALUES, ExpandsTooFar names the
    line of the first (innermost) value that expands that far."""
    sizes: dict[int, int] = {}
    first_too_far: list[yaml.Node] = []

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a node that contains itself counts once (the loader refuses it)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_VALUES:
                if not first_too_far:
                    first_too_far.append(node)
                break
        sizes[id(node)] = total
        return total

    total = size(node)
    if total > MAX_EXPANDED_VALUES:
        raise ExpandsTooFar(first_too_far[0].start_mark.line + 1)
    return total


def load_yaml(text: str, loader_class: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The data of one YAML document, refused (ExpandsTooFar) when its aliases expand it past
    MAX_EXPANDED_VALUES values; ordinary anchors and aliases that share a part are fine."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


class ExpandsTooFar(Exception):
    """A YAML document whose aliases expand it past MAX_EXPANDED_VALUES values; `why` says so."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.why = told(
            N_(
                "its aliases (*name) expand it to more than {limit} values; "
                "write the parts out or share fewer"
            ),
            limit=f"{MAX_EXPANDED_VALUES:,}",
        )
        super().__init__(self.why)


def _line_of(data: Any, key: Any = None) -> int | None:
    if key is not None:
        if isinstance(data, _LineDict) and key in data.key_lines:
            return data.key_lines[key]
        if isinstance(data, _LineList) and isinstance(key, int) and key < len(data.item_lines):
            return data.item_lines[key]
    return getattr(data, "line", None)


def parse_text(text: str, source: str) -> Any:
    """The data of a YAML or JSON document (JSON is YAML, but its errors are reported as JSON's)."""
    if source.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise FlowError(
                _("not valid JSON: {why}").format(why=error.msg), source, error.lineno
            ) from None
    try:
        return load_yaml(text, _LineLoader)
    except ExpandsTooFar as error:
        raise FlowError(error.why.shown, source, error.line) from None
    except FlowError as error:
        raise FlowError(error.message, source, error.line) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise FlowError(
            _("not valid YAML: {why}").format(why=problem), source, mark.line + 1 if mark else None
        ) from None
