"""Properties of the loader: any breaking change to the sample is reported, at a real line."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DefinitionInvalid, DefinitionSyntaxError, Problem
from engine.loader import collect_problems, load_definition_text

SAMPLE_TEXT = (Path(__file__).resolve().parents[2] / "workflows" / "mapa.yaml").read_text(
    encoding="utf-8"
)
SAMPLE: dict[str, Any] = yaml.safe_load(SAMPLE_TEXT)
STATES = sorted(SAMPLE["states"])
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def mapping_paths(data: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every mapping of the definition, except free-form control parameters."""
    found: list[tuple[Any, ...]] = []
    if isinstance(data, dict):
        if here[-1:] != ("params",):
            found.append(here)
            for key, value in data.items():
                found += mapping_paths(value, (*here, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += mapping_paths(value, (*here, index))
    return found


MAPPINGS = mapping_paths(SAMPLE)


def at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def assert_reported(text: str) -> list[Problem]:
    """The text has problems, each at a line of the file, and loading raises only our errors."""
    problems = collect_problems("mutant.yaml", text=text)
    assert problems, "a breaking mutation went unnoticed"
    line_count = max(1, len(text.splitlines()))
    for problem in problems:
        assert problem.line is not None, problem
        assert 1 <= problem.line <= line_count, problem
        assert problem.message
    with pytest.raises((DefinitionInvalid, DefinitionSyntaxError)):
        load_definition_text(text, "mutant.yaml")
    return problems


def test_sample_round_trips_through_yaml_dump() -> None:
    """The property tests start from a sample that is valid once re-dumped."""
    assert collect_problems("sample.yaml", text=dump(SAMPLE)) == []


@PROPERTY_SETTINGS
@given(st.sampled_from(STATES))
def test_removing_a_state_is_reported(state: str) -> None:
    """Removing any state leaves a dangling reference (or no initial state) to report."""
    data = copy.deepcopy(SAMPLE)
    del data["states"][state]
    assert_reported(dump(data))


@PROPERTY_SETTINGS
@given(
    st.integers(min_value=0, max_value=len(SAMPLE["transitions"]) - 1),
    st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda s: s not in STATES),
)
def test_renaming_a_dest_is_reported(index: int, name: str) -> None:
    """A transition leading to a state that does not exist is reported at that transition."""
    data = copy.deepcopy(SAMPLE)
    data["transitions"][index]["dest"] = name
    problems = assert_reported(dump(data))
    assert f"transitions[{index}].dest" in [p.field for p in problems]


@PROPERTY_SETTINGS
@given(
    st.sampled_from(MAPPINGS),
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_ ]{0,15}", fullmatch=True),
    st.one_of(st.text(max_size=10), st.integers(), st.booleans()),
)
def test_inserting_an_unknown_key_is_reported(path: tuple[Any, ...], key: str, value: Any) -> None:
    """A key no model knows, anywhere but in free-form params, is reported."""
    data = copy.deepcopy(SAMPLE)
    target = at(data, path)
    unknown = f"zz_{key}"
    target[unknown] = value
    assert_reported(dump(data))


@PROPERTY_SETTINGS
@given(st.data())
def test_random_line_damage_never_crashes(data: st.DataObject) -> None:
    """Deleting or garbling a line yields problems or a valid file, never an unexpected error."""
    lines = SAMPLE_TEXT.splitlines()
    index = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="line")
    garbage = data.draw(st.text(max_size=12), label="garbage")
    if data.draw(st.booleans(), label="delete"):
        del lines[index]
    else:
        lines[index] = lines[index][: len(lines[index]) // 2] + garbage
    text = "\n".join(lines) + "\n"
    problems = collect_problems("damaged.yaml", text=text)
    for problem in problems:
        assert problem.line is None or 1 <= problem.line <= len(lines) + 1, problem
    if problems:
        with pytest.raises((DefinitionInvalid, DefinitionSyntaxError)):
            load_definition_text(text, "damaged.yaml")
    else:
        load_definition_text(text, "damaged.yaml")
