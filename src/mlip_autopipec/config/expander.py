"""The heuristic engine: expand a minimal config into every parameter a stage needs, with reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlip_autopipec.config import heuristics
from mlip_autopipec.config.loader import describe_validation_error, load_minimal_config
from mlip_autopipec.config.models import (
    ActiveLearningConfig,
    DFTConfig,
    ExploreConfig,
    FullConfig,
    GenerateConfig,
    LabelConfig,
    MinimalConfig,
    ResourcesConfig,
    SelectConfig,
    SystemConfig,
    TrainConfig,
    ValidationConfig,
)
from mlip_autopipec.config.profiles import merge_profile, profile_overrides
from mlip_autopipec.config.resources import expand_resources
from mlip_autopipec.data.atomic_io import atomic_write_text
from mlip_autopipec.dft.espresso.pseudopotentials import OFFLINE_PBE_FAILURES, resolve_family
from mlip_autopipec.errors import ConfigError
from mlip_autopipec.structures.bonding import BondingAnalysis, analyse_bonding
from mlip_autopipec.structures.composition import is_metallic, parse_composition
from mlip_autopipec.structures.prototypes import choose_prototype

# Ferromagnetic starting moments (mu_B): near the bulk moments, so the SCF finds the magnetic
# solution instead of getting stuck in the non-magnetic one.
MAGNETIC_MOMENTS = {"Fe": 2.5, "Co": 1.7, "Ni": 0.7, "Mn": 3.0, "Cr": 2.0}
METAL_KPOINT_SPACING = 0.15  # 1/Angstrom; Fermi-surface sampling needs a dense mesh
NONMETAL_KPOINT_SPACING = 0.30


class ConfigExpander:
    """Turns a ``MinimalConfig`` into a ``FullConfig``; each heuristic choice carries its ``why``."""

    def __init__(self, minimal: MinimalConfig) -> None:
        self.amounts = parse_composition(minimal.composition)
        self.elements = sorted(self.amounts)
        self.bonding = analyse_bonding(self.amounts)  # the inferred type; a user's system.bonding_type wins where used
        self.minimal = self._with_profile(minimal)

    def _with_profile(self, minimal: MinimalConfig) -> MinimalConfig:
        """The user's config with the profile's values where the user set nothing, each with the profile's reason."""
        metallic = is_metallic(self.elements)
        bonding_type = (minimal.system or {}).get("bonding_type") or self.bonding.bonding_type
        values, reasons = profile_overrides(
            minimal.profile,
            metallic,
            alloy=metallic and len(self.elements) > 1,
            ionic=bonding_type == "ionic" and not metallic,  # a metal keeps the metal's mesh whatever it is called
        )
        if not values:
            return minimal
        user = minimal.model_dump(exclude_unset=True)
        merged = merge_profile(user, values)
        for section, why in reasons.items():
            set_by_user = user.get(section) or {}
            merged[section]["why"] = {**{k: v for k, v in why.items() if k not in set_by_user}, **set_by_user.get("why", {})}
        return MinimalConfig.model_validate(merged)

    def expand(self) -> FullConfig:
        m = self.minimal
        dft_budget = m.dft_budget or FullConfig.model_fields["dft_budget"].default
        max_iterations = m.max_iterations or FullConfig.model_fields["max_iterations"].default
        system = self.expand_system()
        bonding = self._bonding_for(system)
        explore = self.expand_explore(system, bonding)
        validation = self._validated_section(ValidationConfig, m.validation, "validation")
        full = FullConfig(
            composition=m.composition.strip(),
            elements=self.elements,
            seed=m.seed,
            structures=m.structures,
            temperatures=explore.temperatures,
            pressure=m.pressure or 0.0,
            dft_budget=dft_budget,
            max_iterations=max_iterations,
            device=m.device,
            system=system,
            generate=self.expand_generate(bonding, explore),
            explore=explore,
            select=self.expand_select(dft_budget, max_iterations),
            train=self.expand_train(),
            active_learning=self.expand_active_learning(validation),
            dft=self.expand_dft(),
            label=self._validated_section(LabelConfig, m.label, "label"),
            validation=validation,
        )
        full.resources = self.expand_resources(full)
        return full

    def expand_resources(self, full: FullConfig) -> ResourcesConfig:
        """Derived per-rule requests; a value the user set wins and its ``why`` says so."""
        user = self.minimal.resources or {}
        checked = self._validated_section(ResourcesConfig, user, "resources")
        resources = expand_resources(full)
        for rule, overrides in user.items():
            entry = getattr(resources, rule)
            for key in overrides or {}:
                if key != "why":
                    setattr(entry, key, getattr(getattr(checked, rule), key))
            if overrides:
                entry.why = f"set by you: {', '.join(f'{k}={v}' for k, v in overrides.items())}; derived: {entry.why}"
        return resources

    def expand_active_learning(self, validation: ValidationConfig) -> ActiveLearningConfig:
        """The loop aims at the accuracy the validation judges: the target force error is its force tolerance."""
        return self._section(
            ActiveLearningConfig,
            "active_learning",
            {"target_force_rmse": validation.force_rmse_tolerance},
            {
                "target_force_rmse": "the validation's force tolerance: the loop labels where the committee's calibrated "
                "expected error exceeds what the validation will accept",
                "uncertainty_percentile": "fallback threshold (spread percentile on training data) when the held-out set is "
                "too small to calibrate spread against true error",
            },
        )

    def _section(self, model: type, name: str, heuristic: dict[str, Any], why: dict[str, str]) -> Any:
        """User overrides win; heuristic values fill the keys the user did not set; reasons are kept."""
        user = getattr(self.minimal, name) or {}
        section = self._validated_section(model, user, name)
        for key, value in heuristic.items():
            if key not in user:
                setattr(section, key, value)
        section.why = {**{k: v for k, v in why.items() if k not in user}, **section.why}
        return section

    def _bonding_for(self, system: SystemConfig) -> BondingAnalysis:
        if system.bonding_type == self.bonding.bonding_type:
            return self.bonding
        return BondingAnalysis(system.bonding_type, "set by the user", oxidation_states=self.bonding.oxidation_states)

    def expand_system(self) -> SystemConfig:
        user = self.minimal.system or {}
        bonding = self.bonding
        if "bonding_type" in user:
            bonding = BondingAnalysis(user["bonding_type"], "set by the user", oxidation_states=self.bonding.oxidation_states)
        prototype = choose_prototype(self.amounts, bonding)
        melting, melting_why = heuristics.estimate_melting_point(self.amounts, bonding)
        return self._section(
            SystemConfig,
            "system",
            {
                "bonding_type": bonding.bonding_type,
                "prototype": prototype.name if prototype else None,
                "molecule": bonding.molecule,
                "melting_point_k": round(melting, 1),
            },
            {
                "bonding_type": bonding.why,
                "prototype": (
                    f"{prototype.why} (the radius-ratio guess; generation relaxes every prototype of the formula with "
                    "the surrogate and seeds from the lowest: see generated_summary.json)"
                )
                if prototype
                else "no prototype fits: random packed cells at the expected density (or give 'structures:')",
                "melting_point_k": melting_why,
            },
        )

    def expand_explore(self, system: SystemConfig, bonding: BondingAnalysis) -> ExploreConfig:
        temperatures, t_why = heuristics.md_temperatures(system.melting_point_k, bonding, self.minimal.temperatures)
        timestep, dt_why = heuristics.md_timestep(self.elements)
        pressures = [0.0] if not self.minimal.pressure else sorted({0.0, self.minimal.pressure})
        ensembles = ["nvt"] if bonding.bonding_type == "molecular" else ["nvt", "npt"]
        return self._section(
            ExploreConfig,
            "explore",
            {"temperatures": temperatures, "timestep_fs": timestep, "pressures": pressures, "ensembles": ensembles},
            {
                "temperatures": t_why,
                "timestep_fs": dt_why,
                "pressures": "ambient pressure, plus your target pressure",
                "ensembles": "NVT for thermal disorder; NPT (crystals) for volume fluctuations and thermal expansion",
                "surrogate": "MACE-MP when its weights are present, else CHGNet (weights ship in its wheel)",
                "starts": "the relaxed prototype (or SQS cells, molecule, random cells) and a second start for variety",
            },
        )

    def expand_generate(self, bonding: BondingAnalysis, explore: ExploreConfig) -> GenerateConfig:
        atoms, atoms_why = heuristics.cell_atoms_for(bonding, len(self.elements))
        heuristic: dict[str, Any] = {
            "enabled": self.minimal.structures is None,
            "target_atoms": atoms,
            "rattle_temperatures": heuristics.rattle_temperatures(explore.temperatures),
        }
        why = {
            "enabled": "your structures are labelled as given"
            if self.minimal.structures
            else "no structures given: generate them from the composition",
            "target_atoms": atoms_why,
            "rattle_temperatures": "the coolest and hottest MD temperatures bracket the thermal displacements",
            "relax_prototype": "radius-ratio rules pick the wrong lattice for several common compounds: every prototype "
            "of the formula is relaxed with the surrogate (cell included) and the lowest seeds the structures",
            "prototype_window_ev_per_atom": "polymorphs within 50 meV/atom are near the surrogate's energy error: "
            "seeding them as well keeps the true ground state in the data when the surrogate ranks it second",
            "search_random_cells": "two random cells relaxed beside the table (random structure search) catch a ground "
            "state the table lacks for little time: each is a few hundred surrogate steps on about 8 atoms",
        }
        if bonding.bonding_type == "metallic" and len(self.elements) > 1:
            n = len(self.elements)
            base = n * -(-8 // n)  # smallest multiple of the element count with at least 8 atoms
            heuristic["sqs_sizes"] = [base, 2 * base]
            heuristic["sqs_concentration_shifts"] = [0.0, -0.125, 0.125] if n == 2 else [0.0]
            why["sqs_sizes"] = "SQS at two cell sizes (multiples of the element count) for finite-size variety"
            why["sqs_concentration_shifts"] = "binary alloys: also +-12.5% around the target composition"
        if bonding.bonding_type == "ionic":
            why["antisites"] = (
                "ionic: only like-charged ions swap (a cation on an anion site is eV above the crystal, where no MD goes, "
                "and the hardest SCF of a run); with one cation and one anion there are none"
            )
        if bonding.bonding_type == "molecular":
            heuristic["surfaces"] = False
            why["surfaces"] = "molecules have no surfaces"
        return self._section(GenerateConfig, "generate", heuristic, why)

    def expand_train(self) -> TrainConfig:
        why = {
            "committee_size": "4 members: enough spread for a force-uncertainty estimate at 4x the cost of one",
            "baseline": "ZBL repulsion fixes the short-range wall that data-driven models get wrong",
            "backend": "ACE: pacemaker fits small data on a CPU in minutes, exports .yace for LAMMPS and has an extrapolation grade",
        }
        if (self.minimal.train or {}).get("backend") == "mace":
            from mlip_autopipec.potentials.mace_backend import EPOCH_RANGE, TARGET_STEPS  # lazy: only for MACE runs

            why["mace_epochs"] = (
                f"chosen when the committee is planned (the data size is known then): about {TARGET_STEPS} optimiser "
                f"steps, within {EPOCH_RANGE[0]}-{EPOCH_RANGE[1]} epochs; see plan.json settings_why"
            )
        return self._section(TrainConfig, "train", {}, why)

    def expand_select(self, dft_budget: int, max_iterations: int) -> SelectConfig:
        initial, per_iteration, why = heuristics.budget_split(dft_budget, max_iterations)
        cluster_why = "dimers and trimers pin the short range; capped at a fifth of the picks so the bulk, not the outlying clusters, fills the DIRECT budget"
        return self._section(
            SelectConfig,
            "select",
            {"initial_structures": initial, "per_iteration": per_iteration},
            {
                "initial_structures": why,
                "per_iteration": why,
                "cluster_fraction": cluster_why,
                "strain_fraction": "a fifth of the picks spread over the strained crystals' volumes: the bulk modulus "
                "and elastic constants are fitted, not extrapolated (DIRECT alone picks few strained cells)",
            },
        )

    @staticmethod
    def _validated_section(model: type[BaseModel], overrides: dict[str, Any] | None, name: str) -> Any:
        try:
            return model.model_validate(overrides or {})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, model, prefix=f"{name}.")) from None

    def expand_dft(self) -> DFTConfig:
        user = self.minimal.dft or {}
        dft = self._validated_section(DFTConfig, user, "dft")
        why: dict[str, str] = {}
        troubled = {el: OFFLINE_PBE_FAILURES[el] for el in self.elements if el in OFFLINE_PBE_FAILURES}
        if troubled and "functional" not in user and not dft.pseudo_dir and dft.pseudo_family == "auto":
            dft.functional = "PBEsol"
            why["functional"] = (
                "PBEsol: the offline PBE set's "
                + "; ".join(f"{el} file gives {problem} in pw.x 6.7" for el, problem in troubled.items())
                + " (give dft.pseudo_dir, e.g. an SSSP folder, to use PBE)"
            )
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
