"""Scenario errors that name the file, the line, the key and the nearest valid key.

pydantic reports errors by location tuples such as ``('team', 'add', 0,
'hom_lat')``. This module turns them into :class:`~territory_opt.InputError`
issues like ``scenarios/new-hires.yaml: line 12, key 'team.add[0].hom_lat':
unknown key (did you mean 'home_lat'?)``, naming the file of an ``extends``
chain that wrote the key.
"""

from __future__ import annotations

import datetime
import difflib
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from territory_opt._errors import InputError, Issue

#: Origin of keys set on the command line by ``sweep --grid``.
GRID_ORIGIN = "--grid"

KeyPath = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """Render a key path as ``team.add[0].home_lat``.

    Examples
    --------
    >>> dotted(("team", "add", 0, "home_lat"))
    'team.add[0].home_lat'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def display_name(origin: str) -> str:
    """Show a file relative to the working folder when it is below it."""
    if origin == GRID_ORIGIN or not Path(origin).is_absolute():
        return origin
    rel = os.path.relpath(origin)
    return rel if not rel.startswith("..") else origin


def origin_of(origins: Mapping[KeyPath, str], path: Sequence[str | int], default: str) -> str:
    """Return the file that set ``path`` (the longest recorded prefix wins)."""
    for end in range(len(path), 0, -1):
        found = origins.get(tuple(path[:end]))
        if found is not None:
            return found
    return default


def line_of(origin: str, path: Sequence[str | int]) -> int | None:
    """Return the 1-based line of ``path`` in the YAML file ``origin`` (None if unknown)."""
    if origin == GRID_ORIGIN:
        return None
    try:
        node = yaml.compose(Path(origin).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    line = None if node is None else node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if str(k.value) == str(part)]
            if not match:
                return line
            key, node = match[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def scenario_issue(
    origins: Mapping[KeyPath, str],
    default: str,
    path: Sequence[str | int],
    problem: str,
) -> Issue:
    """Build one issue about the key ``path``, located in the file that set it."""
    origin = origin_of(origins, path, default)
    parts = []
    line = line_of(origin, path) if path else None
    if line is not None:
        parts.append(f"line {line}")
    if path:
        parts.append(f"key '{dotted(path)}'")
    where = ", ".join(parts)
    return Issue(display_name(origin), None, None, f"{where}: {problem}" if where else problem)


def scenario_error(
    origins: Mapping[KeyPath, str], default: str, path: Sequence[str | int], problem: str
) -> InputError:
    """Build an :class:`InputError` about one key of a scenario."""
    return InputError(scenario_issue(origins, default, path, problem))


def _unwrap(annotation: Any, part: str | int) -> Any:
    """Return the type one step into ``annotation`` at ``part`` (list item, dict value)."""
    candidates = [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        candidates = list(typing.get_args(annotation))
    for cand in candidates:
        if (
            isinstance(cand, type)
            and issubclass(cand, BaseModel)
            and isinstance(part, str)
            and part in cand.model_fields
        ):
            return cand.model_fields[part].annotation
        origin = typing.get_origin(cand)
        args = typing.get_args(cand)
        if origin is list and isinstance(part, int) and args:
            return args[0]
        if origin is dict and isinstance(part, str) and len(args) == 2:
            return args[1]
        if origin is typing.Annotated and args:
            return _unwrap(args[0], part)
    return None


def model_at(root: type[BaseModel], path: Sequence[str | int]) -> type[BaseModel] | None:
    """Return the pydantic model class holding the keys at ``path`` (None if not a model)."""
    current: Any = root
    for part in path:
        current = _unwrap(current, part)
        if current is None:
            return None
    candidates = [current]
    if typing.get_origin(current) in (typing.Union, types.UnionType):
        candidates = list(typing.get_args(current))
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            return cand
    return None


def all_keys(root: type[BaseModel], prefix: KeyPath = ()) -> list[KeyPath]:
    """Every key path of the models below ``root`` (list items as index 0)."""
    out: list[KeyPath] = []
    for name in root.model_fields:
        path = (*prefix, name)
        out.append(path)
        sub = model_at(root, (name,))
        if sub is not None:
            out += all_keys(sub, path)
        else:
            item = model_at(root, (name, 0))
            if item is not None:
                out += all_keys(item, (*path, 0))
    return out


def suggest(root: type[BaseModel], parent: Sequence[str | int], key: str) -> str:
    """Return ``" (did you mean 'x'?)"`` for an unknown ``key`` below ``parent``."""
    model = model_at(root, parent)
    siblings = sorted(model.model_fields) if model is not None else []
    close = difflib.get_close_matches(key, siblings, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    # The key may belong to another section: `max_moved_share` at the top level.
    elsewhere = [p for p in all_keys(root) if str(p[-1]) == key and tuple(p[:-1]) != tuple(parent)]
    if elsewhere:
        return f" (did you mean '{dotted(elsewhere[0])}'?)"
    if siblings:
        return f"; valid keys here: {', '.join(siblings)}"
    return ""


def _data_path(raw: Any, loc: Sequence[str | int], error_type: str) -> list[str | int]:
    """Keep only the parts of a pydantic ``loc`` that are keys of the data.

    pydantic adds union member tags (``'str'``, ``'function-before[...]'``) to
    locations; they are not keys the user wrote.
    """
    path: list[str | int] = []
    node = raw
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            path.append(part)
            node = node[part]
        elif last and error_type == "missing":
            path.append(part)
    return path


def _problem(error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "missing":
        return "required key is missing"
    msg = f"{msg[:1].lower()}{msg[1:]}"
    value = error.get("input")
    if kind != "value_error" and isinstance(value, str | int | float | datetime.date):
        msg = f"{msg} (got {value!r})"
    return msg


def translate(
    err: ValidationError,
    root: type[BaseModel],
    raw: Mapping[str, Any],
    origins: Mapping[KeyPath, str],
    default: str,
) -> InputError:
    """Turn a pydantic ``ValidationError`` into an InputError naming file, line and key."""
    merged: dict[tuple[str | int, ...], list[str]] = {}
    for error in err.errors():
        kind = str(error["type"])
        path = tuple(_data_path(raw, error["loc"], kind))
        if kind == "extra_forbidden" and path:
            problem = "unknown key" + suggest(root, path[:-1], str(path[-1]))
        else:
            problem = _problem(error)
        texts = merged.setdefault(path, [])
        if problem not in texts:
            texts.append(problem)
    issues = [
        scenario_issue(origins, default, list(path), " or ".join(texts))
        for path, texts in merged.items()
    ]
    return InputError(issues)
