"""`profile: tiny`: one switch that scales a run to a laptop, with the physics (and so the DFT) of production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlip_autopipec.config.expander import expand_config

DEMO = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def _without_why(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_why(item) for key, item in value.items() if key != "why"}
    return value


def test_the_demo_is_si_with_the_tiny_profile_and_the_profile_is_those_hand_tuned_keys() -> None:
    """The README's demo is `profile: tiny`; the profile gives exactly the keys the demo used to set by hand."""
    demo = yaml.safe_load(DEMO.read_text())
    assert demo["profile"] == "tiny" and demo["composition"] == "Si"
    by_hand = {
        "composition": "Si",
        "seed": 42,
        "max_iterations": 2,
        "dft_budget": 28,
        "generate": {"target_atoms": 8},
        "explore": {"steps": 300, "supercell_atoms": 8, "starts": 1},
        "select": {"initial_structures": 16, "per_iteration": 6},
        "train": {"committee_size": 3},
        "active_learning": {"md_steps": 300},
        "label": {"mpi": {"ntasks": 2}},
    }
    tiny = expand_config(demo)
    assert _without_why(tiny.model_dump(mode="json")) == _without_why(expand_config(by_hand).model_dump(mode="json"))
    assert tiny.generate.why["target_atoms"].startswith("profile tiny:") and "profile tiny" in tiny.select.why["per_iteration"]


def test_tiny_changes_cost_not_physics_and_production_changes_nothing() -> None:
    production = expand_config({"composition": "NaCl"})
    assert production == expand_config({"composition": "NaCl", "profile": "production"})
    tiny = expand_config({"composition": "NaCl", "profile": "tiny"})
    # an ionic solid: the same functional, pseudopotentials, cutoffs and smearing; only a coarser k-mesh (a wide gap)
    assert tiny.dft.kpoint_spacing == 0.6 and production.dft.kpoint_spacing == 0.3 and "ionic" in tiny.dft.why["kpoint_spacing"]
    assert _without_why(tiny.dft.model_dump()) == {**_without_why(production.dft.model_dump()), "kpoint_spacing": 0.6}
    assert (tiny.generate.target_atoms, tiny.select.initial_structures, tiny.dft_budget) == (8, 16, 28)
    assert production.generate.target_atoms > 8 and production.dft_budget > 28
    # a covalent semiconductor keeps production's DFT label for label (the demo's labels stay valid)
    assert expand_config({"composition": "Si", "profile": "tiny"}).dft == expand_config({"composition": "Si"}).dft
    # the user's bonding type decides: NaCl declared covalent gets the gapped default mesh
    declared = expand_config({"composition": "NaCl", "profile": "tiny", "system": {"bonding_type": "covalent"}})
    assert declared.dft.kpoint_spacing == 0.3
    # a metal keeps the metal's mesh whatever its bonding type is declared
    fept = expand_config({"composition": "FePt", "profile": "tiny", "system": {"bonding_type": "ionic"}})
    assert fept.dft.kpoint_spacing == 0.25


def test_user_keys_win_over_the_profile_and_keep_no_profile_reason() -> None:
    full = expand_config({"composition": "Si", "profile": "tiny", "generate": {"target_atoms": 16}, "dft_budget": 40})
    assert full.generate.target_atoms == 16 and full.dft_budget == 40
    assert "target_atoms" not in full.generate.why and full.explore.supercell_atoms == 8  # the rest of the profile stays


def test_tiny_alloy_gets_small_sqs_cells_a_coarser_metal_mesh_and_a_working_pseudopotential_set() -> None:
    """FePt: 8-atom SQS, k-spacing 0.25 1/A instead of 0.15, and PBEsol because the offline PBE Fe file has a ghost."""
    tiny = expand_config({"composition": "FePt", "profile": "tiny"})
    production = expand_config({"composition": "FePt"})
    assert tiny.generate.sqs_sizes == [8] and production.generate.sqs_sizes == [8, 16]
    assert tiny.dft.kpoint_spacing == 0.25 and production.dft.kpoint_spacing == 0.15
    assert tiny.dft.functional == production.dft.functional == "PBEsol" and tiny.dft.pseudo_family == "oncvpsp-pbesol"
    assert "Fe file gives a ghost state" in tiny.dft.why["functional"] and tiny.dft.nspin == 2
    assert expand_config({"composition": "FePt", "dft": {"functional": "PBE"}}).dft.functional == "PBE"  # asked for: kept
