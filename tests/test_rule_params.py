"""A rule's params list exactly what its job reads: undeclared reads fail in tests, warn (with the run's value) for
users, and can be recorded to redraw the lists."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from mlip_autopipec.config.models import ExploreConfig, SelectConfig
from mlip_autopipec.config.rule_params import RECORD_ENV, STRICT_ENV, UndeclaredConfigKey, declared_section


def test_declared_keys_read_as_given_and_the_instance_is_the_model() -> None:
    explore = declared_section(ExploreConfig, {"steps": 17, "timestep_fs": 1.5}, "explore", "explore")
    assert isinstance(explore, ExploreConfig) and explore.steps == 17 and explore.timestep_fs == 1.5
    assert explore.model_dump()["steps"] == 17  # serialisation sees every field


def test_an_undeclared_read_names_the_rule_and_the_key_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    explore = declared_section(ExploreConfig, {"steps": 17}, "explore", "explore", {"composition": "Si"})
    with pytest.raises(UndeclaredConfigKey, match=r"rule explore read explore\.supercell_atoms.*used\('explore'"):
        _ = explore.supercell_atoms


def test_outside_strict_mode_the_runs_own_value_is_used_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(STRICT_ENV, "0")
    run_config = {"composition": "Si", "select": {"cluster_fraction": 0.35}}
    select = declared_section(SelectConfig, {"initial_structures": 9}, "select", "select", run_config)
    with caplog.at_level(logging.WARNING):
        assert select.cluster_fraction == 0.35  # the run's value, not the model's default (0.2)
    assert "rule select read select.cluster_fraction" in caplog.text
    assert select.initial_structures == 9


def test_record_mode_writes_every_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = tmp_path / "reads.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(record))
    explore = declared_section(ExploreConfig, ExploreConfig().model_dump(), "simulate_md", "explore")
    _ = explore.steps, explore.timestep_fs
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert {(r["rule"], r["section"], r["field"]) for r in lines} == {
        ("simulate_md", "explore", "steps"),
        ("simulate_md", "explore", "timestep_fs"),
    }
