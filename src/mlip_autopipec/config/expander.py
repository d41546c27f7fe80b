"""The heuristic engine: expand a minimal config into every parameter a stage needs, with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mlip_autopipec.config.loader import describe_validation_error, load_minimal_config
from mlip_autopipec.config.models import DFTConfig, FullConfig, LabelConfig, MinimalConfig
from mlip_autopipec.data.atomic_io import atomic_write_text
from mlip_autopipec.dft.pseudopotentials import resolve_family
from mlip_autopipec.errors import ConfigError
from mlip_autopipec.structures.composition import is_metallic, parse_composition

# Ferromagnetic starting moments (mu_B): near the bulk moments, so the SCF finds the magnetic
# solution instead of getting stuck in the non-magnetic one.
MAGNETIC_MOMENTS = {"Fe": 2.5, "Co": 1.7, "Ni": 0.7, "Mn": 3.0, "Cr": 2.0}
METAL_KPOINT_SPACING = 0.15  # 1/Angstrom; Fermi-surface sampling needs a dense mesh
NONMETAL_KPOINT_SPACING = 0.30


class ConfigExpander:
    """Turns a ``MinimalConfig`` into a ``FullConfig``; each heuristic choice carries its ``why``."""

    def __init__(self, minimal: MinimalConfig) -> None:
        self.minimal = minimal
        self.amounts = parse_composition(minimal.composition)
        self.elements = sorted(self.amounts)

    def expand(self) -> FullConfig:
        m = self.minimal
        full = FullConfig(
            composition=m.composition.strip(),
            elements=self.elements,
            seed=m.seed,
            structures=m.structures,
            dft=self.expand_dft(),
            label=self._validated_section(LabelConfig, m.label, "label"),
        )
        if m.temperatures is not None:
            full.temperatures = m.temperatures
        if m.pressure is not None:
            full.pressure = m.pressure
        if m.dft_budget is not None:
            full.dft_budget = m.dft_budget
        if m.max_iterations is not None:
            full.max_iterations = m.max_iterations
        return full

    @staticmethod
    def _validated_section(model: type, overrides: dict[str, Any] | None, name: str) -> Any:
        try:
            return model.model_validate(overrides or {})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, model, prefix=f"{name}.")) from None

    def expand_dft(self) -> DFTConfig:
        user = self.minimal.dft or {}
        dft = self._validated_section(DFTConfig, user, "dft")
        why: dict[str, str] = {}
        family = resolve_family(dft.pseudo_family, self.elements, dft.pseudo_dir, dft.functional)
        dft.pseudo_family = family.name
        dft.pseudopotentials = {el: f.path.name for el, f in family.files.items()}
        dft.pseudo_md5 = {el: f.md5 for el, f in family.files.items()}
        dft.pseudo_dir = str(family.directory)
        why["pseudo_family"] = (
            "your folder (dft.pseudo_dir) takes precedence"
            if family.name.startswith("user") or user.get("pseudo_dir")
            else f"one consistent offline family for {dft.functional}: '{family.name}'"
        )
        wfc, rho = family.cutoffs()
        if "ecutwfc" not in user:
            dft.ecutwfc = wfc
            why["ecutwfc"] = f"largest per-element cutoff of the family over {', '.join(self.elements)}"
        if "ecutrho" not in user:
            dft.ecutrho = round(dft.ecutwfc * rho / wfc, 2)
            why["ecutrho"] = f"the family's dual ({rho / wfc:g} x ecutwfc; 4 for norm-conserving, more for ultrasoft/PAW)"
        metallic = is_metallic(self.elements)
        if metallic:
            defaults = {"smearing": "mv", "degauss": 0.01, "kpoint_spacing": METAL_KPOINT_SPACING}
            why["smearing"] = "all elements are metals: Marzari-Vanderbilt cold smearing, 0.01 Ry, as in the SSSP protocol"
        else:
            defaults = {"smearing": "gaussian", "degauss": 0.005, "kpoint_spacing": NONMETAL_KPOINT_SPACING}
            why["smearing"] = (
                "not a metal: a small Gaussian smearing keeps rattled and defected cells (whose gap may close) "
                "convergent while changing energies by well under 1 meV/atom"
            )
        for key, value in defaults.items():
            if key not in user:
                setattr(dft, key, value)
        why["kpoint_spacing"] = (
            f"{dft.kpoint_spacing} 1/Angstrom ({'metal: dense Fermi-surface sampling' if metallic else 'gapped system'}); "
            "structures with no periodicity get the Gamma point only"
        )
        magnetic = {el: MAGNETIC_MOMENTS[el] for el in self.elements if el in MAGNETIC_MOMENTS}
        if magnetic and "nspin" not in user:
            dft.nspin = 2
            if "initial_magnetic_moments" not in user:
                dft.initial_magnetic_moments = magnetic
            why["nspin"] = f"{', '.join(magnetic)} can be magnetic: spin-polarised with ferromagnetic starting moments"
        dft.why = {**why, **dft.why}
        return dft


def expand_config(source: str | Path | dict[str, Any] | MinimalConfig) -> FullConfig:
    """Load (if needed), validate and expand; raises ``ConfigError`` with a one-line message."""
    minimal = source if isinstance(source, MinimalConfig) else load_minimal_config(source)
    return ConfigExpander(minimal).expand()


def write_exec_config(full: FullConfig, path: str | Path) -> bool:
    """Write the expanded config as YAML; leave the file alone when unchanged. Returns whether it wrote."""
    text = "# Expanded by mlip-pipe from your minimal config; every value a stage uses, with reasons.\n"
    text += yaml.safe_dump(full.model_dump(mode="json"), sort_keys=False)
    path = Path(path)
    if path.is_file() and path.read_text() == text:
        return False
    atomic_write_text(path, text)
    return True
