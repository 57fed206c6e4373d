"""Read scenario files: safe YAML, ``extends`` with deep merge, paths relative to each file.

Merge rule of ``extends``: the base file is read first, then the keys of the
extending file are laid over it. Mappings merge key by key, recursively; every
other value, **lists included, replaces** the base's value (a ``locks`` list in
the extending file is the whole list of locks). ``null`` replaces too: it turns
a base's setting off. Chains (``a`` extends ``b`` extends ``c``) are allowed;
cycles are an error.

Input paths (``inputs.accounts`` and friends) are relative to the file that
writes them; after loading they are stored relative to the scenario file that
was loaded (the last of the chain), so that the resolved scenario, and its
hash, do not depend on where the project lives.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from territory_opt._errors import InputError
from territory_opt.alignment.spec import AlignmentSpec
from territory_opt.scenario.config import Scenario, build_spec
from territory_opt.scenario.errors import (
    GRID_ORIGIN,
    KeyPath,
    display_name,
    scenario_error,
    translate,
)

#: Keys of ``inputs`` that hold file paths.
INPUT_PATH_KEYS = ("accounts", "reps", "pairs", "adjacency")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping; a repeated key is an error (safe_load keeps the last silently)."""
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict[str, Any]:
    """Read one scenario file with safe loading; the top level must be a mapping.

    Raises
    ------
    InputError
        Naming the file (and line) when it is missing, not UTF-8, not YAML, or
        not a mapping of keys.
    """
    shown = display_name(str(path))
    if not path.is_file():
        raise InputError.single(shown, "scenario file does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError.single(shown, "scenario file is not UTF-8 text") from None
    try:
        # A SafeLoader subclass: plain data only, no Python objects.
        data = load_yaml_text(text, shown)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InputError.single(shown, f"{where}not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise InputError.single(shown, f"not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError.single(
            shown, f"a scenario is a mapping of keys (inputs:, model:, ...), not a {_kind(data)}"
        )
    for key in data:
        if not isinstance(key, str):
            raise InputError.single(shown, f"key {key!r} is not a name")
    return data


#: Most values a scenario may hold once anchors (``&a``/``*a``) are expanded. A real
#: scenario has a few hundred (a lock list of 100,000 account ids is 100,000); a
#: "billion laughs" file of nested aliases expands to billions from a few lines.
MAX_YAML_VALUES = 1_000_000


def load_yaml_text(text: str, shown: str) -> Any:
    """Parse YAML safely, refusing recursive aliases and alias expansion bombs.

    Parameters
    ----------
    text
        The YAML text.
    shown
        Where the text comes from, for messages (a file name or ``--grid``).

    Returns
    -------
    Any
        Plain data (mappings, lists, scalars); repeated keys are an error.

    Raises
    ------
    InputError
        For a recursive alias or anchors that expand beyond :data:`MAX_YAML_VALUES`.
    yaml.YAMLError
        For text that is not YAML.

    Notes
    -----
    The document is composed into nodes first (aliases are shared nodes, so this
    is cheap), the expanded size is counted with memoisation, and only then are
    Python values built.
    """
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, {}, set(), shown)
        if size > MAX_YAML_VALUES:
            raise InputError.single(
                shown,
                f"anchors and aliases (&/*) expand to {size:,} values, more than the "
                f"{MAX_YAML_VALUES:,} a scenario may hold; write the values out instead",
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int], shown: str) -> int:
    """Count the values ``node`` stands for once every alias is expanded."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        line = node.start_mark.line + 1
        raise InputError.single(
            shown, f"line {line}: an alias refers to a value that contains it (recursive '*')"
        )
    active.add(key)
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo, active, shown) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            size += _expanded_size(k, memo, active, shown) + _expanded_size(v, memo, active, shown)
    active.discard(key)
    memo[key] = size
    return size


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "list"
    return "text" if isinstance(value, str) else type(value).__name__


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Lay ``override`` over ``base``: mappings merge recursively, anything else replaces.

    Examples
    --------
    >>> deep_merge({"a": {"x": 1, "y": 2}, "l": [1, 2]}, {"a": {"y": 3}, "l": [9]})
    {'a': {'x': 1, 'y': 3}, 'l': [9]}
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _origins(data: Any, origin: str, prefix: KeyPath = ()) -> dict[KeyPath, str]:
    """Record ``origin`` for every key path of the mappings in ``data`` (lists as a whole)."""
    out: dict[KeyPath, str] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            path = (*prefix, key)
            out[path] = origin
            out.update(_origins(value, origin, path))
    return out


def _absolute_inputs(data: dict[str, Any], folder: Path) -> None:
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        return
    for key in INPUT_PATH_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            inputs[key] = str((folder / value.strip()).resolve())


def _relative_inputs(data: dict[str, Any], folder: Path) -> None:
    inputs = data.get("inputs")
    if not isinstance(inputs, dict):
        return
    for key in INPUT_PATH_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and Path(value).is_absolute():
            try:
                inputs[key] = Path(os.path.relpath(value, folder)).as_posix()
            except ValueError:  # another drive (Windows): keep it absolute
                inputs[key] = Path(value).as_posix()


def _resolve(path: Path, chain: tuple[Path, ...]) -> tuple[dict[str, Any], dict[KeyPath, str]]:
    """Read ``path`` and its ``extends`` chain; return the merged mapping and key origins."""
    path = path.resolve()
    if path in chain:
        start = chain[0].parent
        names = " -> ".join(Path(os.path.relpath(p, start)).as_posix() for p in (*chain, path))
        raise InputError.single(display_name(str(chain[-1])), f"'extends' forms a cycle: {names}")
    data = read_yaml(path)
    _absolute_inputs(data, path.parent)
    base_ref = data.pop("extends", None)
    own = _origins(data, str(path))
    if base_ref is None:
        return data, own
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise scenario_error(
            {("extends",): str(path)}, str(path), ["extends"], "must name a scenario file"
        )
    base_path = path.parent / base_ref.strip()
    if not base_path.is_file():
        raise scenario_error(
            {("extends",): str(path)},
            str(path),
            ["extends"],
            f"base scenario '{base_ref}' does not exist (looked for {base_path})",
        )
    base, base_origins = _resolve(base_path, (*chain, path))
    return deep_merge(base, data), {**base_origins, **own}


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with what is needed to run it and to explain errors.

    Attributes
    ----------
    config
        The validated scenario (``extends`` resolved).
    file
        The scenario file that was loaded (absolute).
    raw
        The merged mapping before validation; input paths relative to ``file``.
    origins
        For every key path, the file (or ``--grid``) that set it.
    spec
        The alignment request: the model preset with the scenario's overrides.
    overrides
        Values set on top of the file (a sweep point's grid values), by dotted key.
    """

    config: Scenario
    file: Path
    raw: Mapping[str, Any]
    origins: Mapping[KeyPath, str]
    spec: AlignmentSpec
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The scenario's name: its file name without extension."""
        return self.file.stem

    @property
    def shown(self) -> str:
        """The scenario file as shown in messages."""
        return display_name(str(self.file))

    def canonical(self) -> dict[str, Any]:
        """Return the resolved scenario that the hash covers (all but the description).

        The resolved alignment request is included, so that a change to a model
        preset changes the hash of every scenario that uses it.
        """
        scenario = self.config.model_dump(mode="json", exclude={"description", "extends"})
        return {"scenario": scenario, "spec": dataclasses.asdict(self.spec)}

    @cached_property
    def hash(self) -> str:
        """sha256 of the canonical resolved scenario as compact, key-sorted JSON."""
        text = json.dumps(
            self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def input_path(self, role: str) -> Path | None:
        """Absolute path of an input file (``accounts``, ``reps``, ``pairs``, ``adjacency``)."""
        value = getattr(self.config.inputs, role)
        if value is None:
            return None
        return (self.file.parent / value).resolve()

    def error(self, path: list[str | int], problem: str) -> InputError:
        """Build an InputError about the key ``path``, naming the file that set it."""
        return scenario_error(self.origins, str(self.file), path, problem)


def _validated(
    raw: dict[str, Any],
    origins: Mapping[KeyPath, str],
    file: Path,
    overrides: Mapping[str, Any],
) -> LoadedScenario:
    try:
        config = Scenario.model_validate(raw)
    except ValidationError as err:
        raise translate(err, Scenario, raw, origins, str(file)) from None
    loaded = LoadedScenario(
        config=config,
        file=file,
        raw=raw,
        origins=dict(origins),
        spec=AlignmentSpec(),
        overrides=dict(overrides),
    )
    for role in INPUT_PATH_KEYS:
        path = loaded.input_path(role)
        if path is not None and not path.is_file():
            value = getattr(config.inputs, role)
            raise loaded.error(
                ["inputs", role],
                f"file '{value}' does not exist (looked for {path}; paths are relative "
                "to the scenario file that names them)",
            )
    try:
        spec = build_spec(config)
    except (ValueError, KeyError) as exc:
        raise loaded.error(["model"], str(exc.args[0] if exc.args else exc)) from None
    return dataclasses.replace(loaded, spec=spec)


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path
        A scenario YAML file.

    Returns
    -------
    LoadedScenario

    Raises
    ------
    InputError
        Naming the file, line and key of every problem: unknown keys (with the
        nearest valid key), wrong types, values out of range, missing input
        files, unknown model presets and ``extends`` cycles.

    Examples
    --------
    >>> from territory_opt.scenario import examples_folder
    >>> base = load_scenario(examples_folder() / "base.yaml")
    >>> base.config.model, base.config.inputs.demo.accounts
    ('balanced-travel', 1000)
    """
    file = Path(path).resolve()
    raw, origins = _resolve(file, ())
    _relative_inputs(raw, file.parent)
    return _validated(raw, origins, file, {})


def split_key(key: str) -> list[str | int]:
    """Split a dotted key into its parts; all-digit parts index lists.

    Examples
    --------
    >>> split_key("balance.potential"), split_key("locks.0.rep")
    (['balance', 'potential'], ['locks', 0, 'rep'])
    """
    return [int(p) if p.isdigit() else p for p in key.split(".")]


def with_overrides(loaded: LoadedScenario, overrides: Mapping[str, Any]) -> LoadedScenario:
    """Return the scenario with values set at dotted keys (a sweep point).

    Raises
    ------
    InputError
        Naming ``--grid`` and the key when it does not fit the scenario.
    """
    raw = copy.deepcopy(dict(loaded.raw))
    origins = dict(loaded.origins)
    for key, value in overrides.items():
        parts = split_key(key)
        if not key or any(p == "" for p in parts):
            raise InputError.single(
                GRID_ORIGIN, f"'{key}' is not a dotted key such as balance.potential"
            )
        node: Any = raw
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, dict) and isinstance(part, str):
                if not isinstance(node.get(part), dict | list):
                    node[part] = {}
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                shown = ".".join(str(p) for p in parts[: i + 1])
                raise InputError.single(
                    GRID_ORIGIN, f"key '{key}': '{shown}' is not in the scenario"
                )
        last = parts[-1]
        in_mapping = isinstance(node, dict) and isinstance(last, str)
        in_list = isinstance(node, list) and isinstance(last, int) and last < len(node)
        if in_mapping or in_list:
            node[last] = copy.deepcopy(value)
        else:
            raise InputError.single(GRID_ORIGIN, f"key '{key}' does not fit the scenario")
        origins[tuple(parts)] = GRID_ORIGIN
    return _validated(raw, origins, loaded.file, {**loaded.overrides, **overrides})
