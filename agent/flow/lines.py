"""Reading YAML or JSON flow text with the line of every key, so every error can name its line."""

from __future__ import annotations

import json
from typing import Any

import yaml

from agent.flow.model import FlowError
from agent.i18n import _


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
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except FlowError as error:
        raise FlowError(error.message, source, error.line) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise FlowError(
            _("not valid YAML: {why}").format(why=problem), source, mark.line + 1 if mark else None
        ) from None
