"""Scenario files: schema, errors that name file, line and key, and ``extends`` semantics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from territory_opt import InputError
from territory_opt.scenario import (
    deep_merge,
    examples_folder,
    load_scenario,
    schema_text,
    with_overrides,
)
from tests.scenario_helpers import SMALL_SCENARIO, write_scenario

REPO = Path(__file__).resolve().parents[1]


def error_of(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return str(info.value)


def test_published_schema_is_up_to_date() -> None:
    published = (REPO / "scenarios" / "schema.json").read_text(encoding="utf-8")
    assert published == schema_text(), (
        "scenarios/schema.json is stale; regenerate it with: .venv/bin/python -c "
        "\"from territory_opt.scenario import write_schema; write_schema('scenarios/schema.json')\""
    )
    schema = json.loads(published)
    assert schema["additionalProperties"] is False
    assert {"inputs", "balance", "team", "locks", "quota", "extends"} <= set(schema["properties"])
    # What an editor sees: the examples pass, typos and plain numbers above 1 do not.
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    for path in examples_folder().glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        data = json.loads(json.dumps(yaml.safe_load(text), default=str))  # dates as text
        assert list(validator.iter_errors(data)) == [], path.name
    assert not validator.is_valid({"solvr": {}})
    assert not validator.is_valid({"balance": {"potential": 5}})


def test_every_example_scenario_is_valid() -> None:
    names = sorted(p.name for p in examples_folder().glob("*.yaml"))
    assert {"base.yaml", "tighter-balance.yaml", "disruption-capped.yaml", "new-hires.yaml"} <= set(
        names
    )
    for name in names:
        loaded = load_scenario(examples_folder() / name)
        assert loaded.config.inputs.demo is not None  # runs from a fresh clone
    hires = load_scenario(examples_folder() / "new-hires.yaml")
    assert len(hires.config.team.add) == 4
    assert hires.config.quota is not None and hires.config.quota.target_growth == 0.1


def test_unknown_keys_name_file_line_key_and_nearest(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        "typo.yaml",
        """\
        inputs:
          demo: {accounts: 200}
        max_moved_share: 0.1
        disruption:
          max_moved_shar: 0.2
        team:
          add:
            - {rep_id: X1, hom_lat: 30, home_lon: -97}
        """,
    )
    message = error_of(path)
    assert "3 problems found" in message
    assert "typo.yaml: line 5, key 'disruption.max_moved_shar': unknown key " in message
    assert "(did you mean 'max_moved_share'?)" in message
    assert "key 'team.add[0].hom_lat': unknown key (did you mean 'home_lat'?)" in message
    # A key of another section is pointed at its section.
    assert "key 'max_moved_share': unknown key (did you mean 'disruption.max_moved_share'?)" in (
        message
    )


def test_bad_values_name_the_key(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        "bad.yaml",
        """\
        inputs: {demo: {accounts: 200}}
        model: balanced-travle
        balance: {potential: 5}
        solver: {backend: gurobi, time_limit: -1}
        locks:
          - {accounts: [A1], where: {segment: enterprise}}
        """,
    )
    message = error_of(path)
    assert "key 'model': 'balanced-travle' is not a model preset (did you mean " in message
    assert "key 'balance.potential': 5 is outside [0, 1]" in message and "'5%'" in message
    assert "key 'solver.backend': input should be 'highs'" in message
    assert "(got 'gurobi')" in message
    assert "key 'solver.time_limit': input should be greater than 0 (got -1)" in message
    assert "key 'locks[0]': give exactly one of 'accounts'" in message


def test_inputs_must_be_demo_or_existing_files(tmp_path: Path) -> None:
    neither = write_scenario(tmp_path, "n.yaml", "inputs: {}\n")
    assert "key 'inputs': give accounts and reps" in error_of(neither)
    missing = write_scenario(tmp_path, "m.yaml", "inputs: {accounts: a.csv, reps: r.csv}\n")
    message = error_of(missing)
    assert "key 'inputs.accounts': file 'a.csv' does not exist" in message
    assert "required key is missing" in error_of(write_scenario(tmp_path, "e.yaml", "model: x\n"))


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    evil = write_scenario(
        tmp_path, "evil.yaml", 'inputs: !!python/object/apply:os.system ["echo owned"]\n'
    )
    assert "not valid YAML" in error_of(evil)
    twice = write_scenario(tmp_path, "twice.yaml", "inputs: {demo: {}}\nmodel: a\nmodel: b\n")
    assert "twice.yaml: line 3: not valid YAML: key 'model' appears twice" in error_of(twice)
    listing = write_scenario(tmp_path, "list.yaml", "- inputs\n")
    assert "a scenario is a mapping of keys" in error_of(listing)


def test_percentages_and_fractions(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        "p.yaml",
        """\
        inputs: {demo: {accounts: 200}}
        balance: {potential: 3%, workload: 0.08, revenue_ly: "150%"}
        disruption: {max_moved_share: 10%}
        """,
    )
    loaded = load_scenario(path)
    assert loaded.config.balance == {"potential": 0.03, "workload": 0.08, "revenue_ly": 1.5}
    assert loaded.config.disruption.max_moved_share == pytest.approx(0.1)


def test_extends_merges_mappings_and_replaces_lists(tmp_path: Path) -> None:
    write_scenario(
        tmp_path,
        "base.yaml",
        """\
        description: base
        inputs: {demo: {accounts: 200, seed: 4}}
        balance: {potential: 5%, workload: 10%}
        disruption: {max_moved_share: 0.3}
        locks:
          - accounts: [A0000001]
          - accounts: [A0000002]
        team: {remove: [R002], capacity: {R001: 0.5}}
        quota: {target_growth: 0.1, method: blend}
        """,
    )
    child = write_scenario(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        inputs: {demo: {seed: 5}}
        balance: {potential: 3%, workload: null}
        disruption: {max_moved_share: null}
        locks:
          - accounts: [A0000009]
        team: {capacity: {R003: 0.8}}
        quota: null
        """,
    )
    loaded = load_scenario(child)
    config = loaded.config
    assert config.description == "base"  # not overridden: inherited
    assert config.inputs.demo is not None
    assert (config.inputs.demo.accounts, config.inputs.demo.seed) == (200, 5)
    assert config.balance == {"potential": 0.03, "workload": None}
    assert [lock.accounts for lock in config.locks] == [["A0000009"]]  # lists replace
    assert config.team.remove == ["R002"]
    assert config.team.capacity == {"R001": 0.5, "R003": 0.8}  # mappings merge
    assert config.quota is None  # null turns the base's quota step off
    # The request: the preset's bands with potential tightened and workload dropped,
    # and the base's moved-share budget removed again.
    assert [(b.metric, b.tolerance) for b in loaded.spec.bands] == [("potential", 0.03)]
    assert loaded.spec.max_moved_share is None
    assert deep_merge({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_extends_chain_cycle_and_errors_in_the_base(tmp_path: Path) -> None:
    write_scenario(tmp_path, "a.yaml", "extends: b.yaml\ninputs: {demo: {}}\n")
    write_scenario(tmp_path, "b.yaml", "extends: c.yaml\n")
    cycle = write_scenario(tmp_path, "c.yaml", "extends: a.yaml\n")
    message = error_of(cycle)
    assert "'extends' forms a cycle: c.yaml -> a.yaml -> b.yaml -> c.yaml" in message
    write_scenario(tmp_path, "base.yaml", "inputs: {demo: {}}\nsolver:\n  tiem_limit: 5\n")
    child = write_scenario(tmp_path, "child.yaml", "extends: base.yaml\nmodel: low-disruption\n")
    message = error_of(child)
    assert "base.yaml: line 3, key 'solver.tiem_limit': unknown key (did you mean " in message
    missing = write_scenario(tmp_path, "orphan.yaml", "extends: nowhere.yaml\n")
    assert "orphan.yaml: line 1, key 'extends': base scenario 'nowhere.yaml'" in error_of(missing)


def test_input_paths_are_relative_to_the_file_that_names_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "accounts.csv").write_text("account_id,potential\nA1,1\n", encoding="utf-8")
    (data / "reps.csv").write_text("rep_id\nR1\n", encoding="utf-8")
    write_scenario(
        tmp_path / "shared",
        "base.yaml",
        "inputs: {accounts: ../data/accounts.csv, reps: ../data/reps.csv}\n",
    )
    child = write_scenario(
        tmp_path / "team" / "east", "east.yaml", "extends: ../../shared/base.yaml\n"
    )
    loaded = load_scenario(child)
    assert loaded.input_path("accounts") == (data / "accounts.csv").resolve()
    # Stored relative to the scenario that was loaded, so the hash does not depend on
    # where the project lives.
    assert loaded.config.inputs.accounts == "../../data/accounts.csv"


def test_hash_covers_the_request_but_not_the_description(tmp_path: Path) -> None:
    one = load_scenario(write_scenario(tmp_path, "one.yaml", SMALL_SCENARIO))
    two = load_scenario(
        write_scenario(tmp_path, "two.yaml", SMALL_SCENARIO.replace("small test book", "other"))
    )
    assert one.hash == two.hash and len(one.hash) == 64
    tighter = with_overrides(one, {"balance.potential": "5%"})
    assert tighter.hash != one.hash
    assert tighter.config.balance["potential"] == pytest.approx(0.05)
    assert tighter.overrides == {"balance.potential": "5%"}


def test_grid_overrides_are_validated_and_named(tmp_path: Path) -> None:
    loaded = load_scenario(write_scenario(tmp_path, "s.yaml", SMALL_SCENARIO))
    with pytest.raises(InputError) as info:
        with_overrides(loaded, {"disruption.max_moved_shar": 0.1})
    assert "--grid: key 'disruption.max_moved_shar': unknown key (did you mean" in str(info.value)
    with pytest.raises(InputError) as info:
        with_overrides(loaded, {"balance.potential": "abc"})
    assert "--grid: key 'balance.potential': 'abc' is not a tolerance" in str(info.value)
