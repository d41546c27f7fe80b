"""The config's JSON Schema: generated from the models, committed, and strict enough to catch typos in sections."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlip_autopipec.config.schema import SCHEMA_PATH, schema_text

ROOT = Path(__file__).resolve().parents[1]


def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m mlip_autopipec.config.schema"


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "config" / "config.yaml",
        ROOT / "config" / "examples" / "si_short_loop.yaml",
        ROOT / "benchmarks" / "accuracy_si.yaml",
    ],
    ids=lambda p: p.name,
)
def test_shipped_configs_satisfy_the_schema(path: Path) -> None:
    config = yaml.safe_load(path.read_text())
    config.pop("benchmark", None)  # the benchmark's own section, removed before the config is run
    jsonschema.validate(config, _schema())


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"composition": "Si", "dft_budgt": 30}, "dft_budgt"),
        ({"composition": "Si", "dft": {"ecutwfk": 30}}, "ecutwfk"),
        ({"composition": "Si", "label": {"mpi": {"ntask": 2}}}, "ntask"),
        ({"composition": "Si", "train": {"committee_size": 1}}, "minimum of 2"),
        ({"dft_budget": 30}, "composition"),
    ],
)
def test_schema_refuses_typos_and_bad_values_inside_sections(config: dict, named: str) -> None:
    with pytest.raises(jsonschema.ValidationError, match=named):
        jsonschema.validate(config, _schema())
