"""The DFT part of the heuristic engine: one family per run, cutoffs, k-points, smearing, spin."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from mlip_autopipec.config.expander import expand_config, write_exec_config
from mlip_autopipec.dft.espresso.pseudopotentials import DEBIAN_PSEUDO_DIR, md5sum, resolve_family
from mlip_autopipec.errors import PseudopotentialError


@pytest.mark.parametrize("composition", ["Si", "FePt", "NaCl", "H2O", "MgO", "CrMnFeCoNi"])
def test_every_element_gets_a_file_and_checksum_from_one_family(composition: str) -> None:
    full = expand_config({"composition": composition})
    dft = full.dft
    assert set(dft.pseudopotentials) == set(full.elements)
    for element, filename in dft.pseudopotentials.items():
        path = Path(dft.pseudo_dir) / filename
        assert path.is_file()
        assert md5sum(path) == dft.pseudo_md5[element]
    assert dft.ecutrho >= 4 * dft.ecutwfc > 0


def test_cutoff_is_the_largest_over_the_elements() -> None:
    si = expand_config({"composition": "Si"}).dft
    fe = expand_config({"composition": "Fe"}).dft
    fesi = expand_config({"composition": "FeSi"}).dft
    assert fesi.ecutwfc == max(si.ecutwfc, fe.ecutwfc) > si.ecutwfc


def test_metals_get_cold_smearing_and_denser_kpoints() -> None:
    metal = expand_config({"composition": "FePt"}).dft
    insulator = expand_config({"composition": "NaCl"}).dft
    assert (metal.occupations, metal.smearing) == ("smearing", "mv")
    assert insulator.smearing != "mv"
    assert metal.kpoint_spacing < insulator.kpoint_spacing
    assert "metal" in metal.why["smearing"]


@pytest.mark.parametrize(
    ("composition", "magnetic"), [("Fe", {"Fe"}), ("CrMnFeCoNi", {"Cr", "Mn", "Fe", "Co", "Ni"}), ("FePt", {"Fe"})]
)
def test_magnetic_elements_switch_on_spin_with_starting_moments(composition: str, magnetic: set[str]) -> None:
    dft = expand_config({"composition": composition}).dft
    assert dft.nspin == 2
    assert set(dft.initial_magnetic_moments) == magnetic
    assert all(moment > 0 for moment in dft.initial_magnetic_moments.values())


@pytest.mark.parametrize("composition", ["Si", "NaCl", "H2O", "Pt"])
def test_non_magnetic_systems_stay_spin_unpolarised(composition: str) -> None:
    assert expand_config({"composition": composition}).dft.nspin == 1


def test_user_overrides_win_and_are_not_second_guessed() -> None:
    dft = expand_config({"composition": "Fe", "dft": {"ecutwfc": 55.0, "nspin": 1, "kpoint_spacing": 0.4}}).dft
    assert (dft.ecutwfc, dft.nspin, dft.kpoint_spacing) == (55.0, 1, 0.4)
    assert dft.ecutrho == 4 * 55.0


def test_user_sssp_folder_takes_precedence_with_its_json_cutoffs(tmp_path: Path) -> None:
    source = DEBIAN_PSEUDO_DIR / "Si.pbe-nl-rrkjus_psl.1.0.0.UPF"
    if not source.is_file():
        pytest.fail(f"{source} missing: install the Debian package quantum-espresso-data (envs/install.sh does)")
    shutil.copy(source, tmp_path / source.name)
    (tmp_path / "SSSP_test_PBE_efficiency.json").write_text(
        json.dumps(
            {
                "Si": {
                    "filename": source.name,
                    "md5": md5sum(source),
                    "pseudopotential": "pslibrary",
                    "cutoff_wfc": 30.0,
                    "cutoff_rho": 240.0,
                }
            }
        )
    )
    dft = expand_config({"composition": "Si", "dft": {"pseudo_dir": str(tmp_path)}}).dft
    assert dft.pseudo_family == "SSSP_test_PBE_efficiency"
    assert (dft.ecutwfc, dft.ecutrho) == (30.0, 240.0)
    assert dft.pseudopotentials == {"Si": source.name}
    assert "pseudo_dir" in dft.why["pseudo_family"]


def test_user_folder_without_json_uses_the_upf_suggested_cutoffs(tmp_path: Path) -> None:
    source = DEBIAN_PSEUDO_DIR / "Fe.pbe-spn-rrkjus_psl.0.2.1.UPF"
    shutil.copy(source, tmp_path / source.name)
    family = resolve_family("auto", ["Fe"], str(tmp_path))
    assert family.files["Fe"].ecutwfc == 64.0 and family.files["Fe"].ecutrho == 782.0
    assert family.files["Fe"].pseudo_type == "USPP"
    with pytest.raises(PseudopotentialError, match="no pseudopotential for Pt"):
        resolve_family("auto", ["Fe", "Pt"], str(tmp_path))


def test_debian_pslibrary_family_picks_the_newest_version() -> None:
    family = resolve_family("pslibrary-debian-pbe", ["N"])
    assert family.files["N"].path.name == "N.pbe-n-kjpaw_psl.1.0.0.UPF"


def test_the_dft_section_does_not_change_with_unrelated_keys() -> None:
    a = expand_config({"composition": "Si", "temperatures": [300]}).dft.model_dump()
    b = expand_config({"composition": "Si", "temperatures": [900, 1200], "max_iterations": 9}).dft.model_dump()
    assert a == b


def test_exec_config_is_written_once_and_left_alone_when_unchanged(tmp_path: Path) -> None:
    full = expand_config({"composition": "NaCl"})
    path = tmp_path / "results" / "exec_config_dump.yaml"
    assert write_exec_config(full, path) is True
    assert write_exec_config(full, path) is False
    assert yaml.safe_load(path.read_text())["dft"]["why"]["pseudo_family"]


@pytest.mark.parametrize("composition", ["Si", "FePt", "NaCl", "H2O", "MgO", "CrMnFeCoNi"])
def test_full_config_is_schema_valid_and_sensible(composition: str, tmp_path: Path) -> None:
    from mlip_autopipec.config.models import FullConfig

    full = expand_config({"composition": composition})
    write_exec_config(full, tmp_path / "dump.yaml")
    reloaded = FullConfig.model_validate(yaml.safe_load((tmp_path / "dump.yaml").read_text().split("\n", 1)[1]))
    assert reloaded == full
    assert full.explore.temperatures and all(t > 0 for t in full.explore.temperatures)
    assert full.select.initial_structures + full.select.per_iteration * full.max_iterations <= full.dft_budget
    if full.system.bonding_type == "metallic":
        assert full.dft.smearing == "mv" and full.generate.sqs_sizes
    if full.system.bonding_type == "molecular":
        assert full.system.molecule and full.explore.timestep_fs <= 0.5 and full.explore.ensembles == ["nvt"]
    else:
        assert "npt" in full.explore.ensembles and full.system.prototype
    assert all(full.system.why.values())
