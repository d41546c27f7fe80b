"""Train one ACE potential with the real ``pacemaker`` on delta targets, and export it for LAMMPS.

Why pacemaker's pyace backend: it needs no TensorFlow, so it runs in the same environment as the
rest of the pipeline. Its optimiser takes finite-difference gradients (one loss evaluation per
parameter per BFGS step), so the cost grows with the number of trainable parameters: this is why
``choose_ace_settings`` keeps small data sets on a small, linear basis.

The model learns DFT minus the physical baseline minus per-element reference energies (see
``delta``); pacemaker's own ZBL core repulsion (``fit: repulsion: auto``) is deliberately left out
so the short-range physics is not counted twice. The ``input.yaml`` is written here, never by the
user; every key used is listed in ``pacemaker_input``. ``ACE`` is this module's ``TrainingBackend``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import yaml
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from ase.data import atomic_numbers, covalent_radii
from pydantic import BaseModel, ConfigDict, Field

from mlip_autopipec.data.ids import parameters_hash
from mlip_autopipec.executables import run_logged, venv_tool
from mlip_autopipec.potentials.ace_linear import (
    LinearFit,
    PosteriorDraw,
    UnitColumns,
    fit_linear,
    posterior_member,
    unit_columns,
)
from mlip_autopipec.potentials.ace_selection import (
    MIN_STRUCTURES,
    CandidateScore,
    assign_folds,
    best_per_basis,
    score_basis,
)
from mlip_autopipec.potentials.backend import Curve, CurveLabels, MemberJob, TrainingData, relative_path
from mlip_autopipec.potentials.dataset import origin_of, structure_key
from mlip_autopipec.potentials.delta import DeltaCalculator, delta_targets, reference_energy
from mlip_autopipec.potentials.stability_probe import probe, probe_start

if TYPE_CHECKING:
    from mlip_autopipec.config.models import TrainConfig
    from mlip_autopipec.data.records import AceMemberEntry, AceMemberRecord

DATASET_NAME = "train.pckl.gzip"
INPUT_NAME = "input.yaml"
POTENTIAL_YAML = "output_potential.yaml"
POTENTIAL_YACE = "output_potential.yace"
ACTIVE_SET = "output_potential.asi"
LOG_NAME = "pacemaker.log"
RESULT_NAME = "member.json"
LINEAR_FIT_NAME = "linear_fit.json"


class AceSettings(BaseModel):
    """Every pacemaker choice for one member; filled in by ``choose_ace_settings``, never by hand-editing YAML.

    The split, seed and bootstrap are the committee's (``backend.CommitteeSettings``), not ACE's.
    """

    model_config = ConfigDict(extra="forbid")

    cutoff: float = Field(default=5.0, gt=1.0, description="Outer cutoff rcut (Angstrom) of every bond.")
    number_of_functions_per_element: int = Field(default=24, ge=1, description="Basis functions per element (count).")
    nradmax_by_orders: list[int] = Field(
        default_factory=lambda: [8, 4, 2], description="Radial functions per body order (count)."
    )
    lmax_by_orders: list[int] = Field(default_factory=lambda: [0, 2, 1], description="Angular momentum per body order.")
    ndensity: int = Field(default=1, ge=1, le=4, description="1: linear embedding; 2: Finnis-Sinclair-like non-linear.")
    trainable: Literal["func", "all"] = Field(default="func", description="func: basis coefficients only; all: radial too.")
    radial_base: str = Field(default="SBessel", description="pacemaker's radial basis family.")
    radial_parameter: float = Field(default=5.25, description="Parameter of the radial basis (dimensionless).")
    dcut: float = Field(default=0.01, description="Width of the cutoff function's smoothing (Angstrom).")
    kappa: float = Field(default=0.1, ge=0.0, le=1.0, description="Weight of forces (1 - kappa: energies) in the loss.")
    l1_coeffs: float = Field(default=1e-8, ge=0.0, description="L1 regularisation of the basis coefficients (dimensionless).")
    l2_coeffs: float = Field(default=1e-6, ge=0.0, description="L2 regularisation of the basis coefficients (dimensionless).")
    solver: Literal["linear", "pacemaker"] = Field(
        default="linear",
        description="linear: the exact cross-validated ridge solution (linear embedding, basis coefficients only); "
        "pacemaker: pacemaker's optimiser (any embedding, radial functions trainable).",
    )
    stress_weight: float = Field(
        default=0.0,
        ge=0.0,
        description="Weight of stress rows (stress x volume per atom) relative to energies per atom in the loss; the exact "
        "linear solver only (pacemaker's loss has no stress term).",
    )
    ridge: float | None = Field(
        default=None,
        gt=0.0,
        description="Ridge strength of the exact linear solve, relative to the mean squared column norm; None: chosen "
        "by each member's own cross-validation.",
    )
    optimizer: Literal["BFGS", "L-BFGS-B"] = Field(default="BFGS", description="pacemaker's optimiser.")
    maxiter: int = Field(default=100, ge=1, description="Most optimiser (BFGS) iterations.")
    min_relative_loss_per_iter: float | None = Field(
        default=None,
        gt=0.0,
        description="Stop once the training loss falls by less than this fraction per iteration over the last "
        "`early_stopping_patience` iterations (pacemaker's min_relative_train_loss_per_iter); None: run all maxiter.",
    )
    early_stopping_patience: int = Field(default=50, ge=1, description="Iterations the loss change is judged over (count).")

    def fs_parameters(self) -> list[float]:
        """Finnis-Sinclair embedding: rho (linear) for ndensity 1, then sqrt-like terms as in pacemaker's template."""
        extra = [[1.0, 0.5], [1.0, 0.375], [1.0, 0.25]]
        return [1.0, 1.0] + [value for pair in extra[: self.ndensity - 1] for value in pair]


# Tiers of ``choose_ace_settings``: (largest structures per element, functions per element,
# nradmax_by_orders, lmax_by_orders, ndensity, trainable, maxiter). Fewer data -> fewer, lower-order
# functions, linear embedding and only the (convex) basis coefficients trained.
_TIERS: tuple[tuple[float, int, list[int], list[int], int, str, int], ...] = (
    (60, 24, [8, 4, 2], [0, 2, 1], 1, "func", 100),
    (300, 80, [10, 6, 3, 2], [0, 3, 2, 1], 1, "func", 300),
    (2000, 300, [12, 6, 4, 3, 2], [0, 3, 3, 2, 1], 2, "all", 1000),
    (float("inf"), 700, [15, 6, 4, 3, 2, 2], [0, 3, 3, 2, 2, 1], 2, "all", 2000),
)


SMALL_BASIS_PROBES = 4
"""Points of the smallest basis probed after every basis's best point has been (a collapse stops within ~1 ps)."""


def probe_order(scores: Sequence[CandidateScore]) -> list[CandidateScore]:
    """The order candidates are probed in: each basis's best point, best first (a basis whose best point collapses
    lacks data where the probe goes, whatever its loss weights: on the demo's data eight 80- and 150-function points
    all collapsed), then the next ``SMALL_BASIS_PROBES`` points of the smallest basis by score."""
    first = sorted(best_per_basis(scores), key=lambda c: c.score)
    smallest = min(c.functions for c in scores)
    rest = sorted((c for c in scores if c.functions == smallest and c not in first), key=lambda c: c.score)
    return first + rest[:SMALL_BASIS_PROBES]


# Linear bases the cross-validated selection (``select_linear_settings``) chooses among: (functions per element,
# nradmax_by_orders, lmax_by_orders). On the demo's 22 scored Si structures: held-out force RMSE 0.28 / 0.19 /
# 0.18 eV/A for 24 / 80 / 150 functions, 0.30 for a 300-function basis, which is why the list stops at 150.
LINEAR_CANDIDATES: tuple[tuple[int, list[int], list[int]], ...] = (
    (24, [8, 4, 2], [0, 2, 1]),
    (80, [10, 6, 3, 2], [0, 3, 2, 1]),
    (150, [12, 6, 4, 3], [0, 3, 3, 2]),
)


def choose_ace_settings(n_structures: int, elements: Sequence[str]) -> tuple[AceSettings, dict[str, str]]:
    """The expander's rule: basis size, cutoff and loss weights from the number of structures and elements.

    Rules (documented in ``why``):

    - basis: by structures per element, < 60: 24 functions/element up to 4-body, linear embedding,
      only basis coefficients trained; < 300: 80 functions, 5-body, still linear; < 2000: 300 functions,
      6-body, non-linear (ndensity 2), all parameters; more: 700 functions, 7-body (pacemaker's template).
      Small data -> small basis: a basis larger than the data overfits. The linear tiers are solved
      exactly (``ace_linear``: cross-validated ridge); the others with pacemaker's BFGS, whose pyace backend
      costs one evaluation of the data per parameter per step (use the MACE backend for large data on CPUs).
      For the linear tiers this is only the default: ``select_linear_settings`` replaces basis, kappa, stress
      weight and ridge by the cross-validated choice once the committee's training data are known.
    - cutoff: 2.25 x the longest covalent bond length among the elements (second/third neighbour
      shell), rounded up to 0.5 A and kept in [4.5, 7.0] A; +0.5 A from 2000 structures on.
    - loss weights: kappa (force share) 0.1 below 300 structures, since forces are 3N numbers per
      structure against one energy; 0.3 (pacemaker's default) above. L2 regularisation 1e-6 for
      small data (ridge for an under-determined fit), 1e-8 otherwise.

    The test fraction is the committee's (``backend.choose_committee_settings``).
    """
    if n_structures < 0:
        raise ValueError(f"n_structures must be >= 0, got {n_structures}")
    symbols = sorted(set(elements))
    unknown = [s for s in symbols if s not in atomic_numbers]
    if not symbols or unknown:
        raise ValueError(f"choose_ace_settings: need known element symbols, got {list(elements)}")
    per_element = n_structures / len(symbols)
    limit, nfunc, nradmax, lmax, ndensity, trainable, maxiter = next(t for t in _TIERS if per_element < t[0])
    bond = max(2.0 * covalent_radii[atomic_numbers[s]] for s in symbols)
    cutoff = float(np.clip(np.ceil(2.25 * bond * 2.0) / 2.0, 4.5, 7.0))
    if n_structures >= 2000:
        cutoff = min(cutoff + 0.5, 7.5)
    kappa = 0.1 if n_structures < 300 else 0.3
    l2 = 1e-6 if per_element < 60 else 1e-8
    settings = AceSettings(
        cutoff=cutoff,
        number_of_functions_per_element=nfunc,
        nradmax_by_orders=nradmax,
        lmax_by_orders=lmax,
        ndensity=ndensity,
        trainable=trainable,  # type: ignore[arg-type]
        kappa=kappa,
        l2_coeffs=l2,
        maxiter=maxiter,
        solver="linear" if ndensity == 1 and trainable == "func" else "pacemaker",
    )
    body = len(nradmax) + 1
    tier = f"< {limit:g}" if np.isfinite(limit) else ">= 2000"
    why = {
        "number_of_functions_per_element": f"{per_element:.0f} structures per element ({tier}): {nfunc} functions up to {body}-body; small data -> small basis",
        "ndensity": "linear embedding: a convex fit that small data can pin down"
        if ndensity == 1
        else "non-linear embedding: enough data for a Finnis-Sinclair-like term",
        "trainable": "basis coefficients only (radial functions fixed)"
        if trainable == "func"
        else "basis and radial coefficients",
        "cutoff": f"2.25 x longest covalent bond ({bond:.2f} A), rounded up to 0.5 A, within [4.5, 7.0] A"
        + (" + 0.5 A for a large data set" if n_structures >= 2000 else ""),
        "kappa": "forces dominate small data (3N numbers per structure vs one energy)"
        if kappa == 0.1
        else "pacemaker's default energy/force balance",
        "l2_coeffs": "ridge regularisation for an under-determined small fit" if l2 > 1e-8 else "pacemaker's default",
        "solver": "exact ridge solution, its strength by 5-fold cross-validation over structures: the model is "
        "linear in its coefficients, so no optimiser is needed and the fit is converged by construction"
        if settings.solver == "linear"
        else "pacemaker's BFGS: a non-linear embedding has no closed-form fit",
        "maxiter": "not used by the exact linear solve"
        if settings.solver == "linear"
        else f"{maxiter} BFGS steps: enough for this basis size with finite-difference gradients",
    }
    return settings, why


def settings_hash(settings: AceSettings) -> str:
    """Short stable hash of the settings (part of the committee's config hash)."""
    return parameters_hash(settings.model_dump())


MAX_CUTOFF = 7.5  # the largest cutoff choose_ace_settings picks


def ace_view(atoms: Atoms, cutoff: float = MAX_CUTOFF) -> Atoms:
    """The structure as pyace accepts it: slabs and wires (mixed pbc) made fully periodic.

    pyace handles only fully periodic or fully open cells. A slab whose vacuum gap exceeds the cutoff
    has no neighbours across the gap, so making it periodic changes nothing; a thinner gap is refused.
    """
    pbc = atoms.get_pbc()
    if pbc.all() or not pbc.any():
        return atoms
    scaled = atoms.get_scaled_positions(wrap=False)
    lengths = atoms.cell.lengths()
    for axis in np.flatnonzero(~pbc):
        span = (scaled[:, axis].max() - scaled[:, axis].min()) * lengths[axis]
        if lengths[axis] - span < cutoff:
            raise ValueError(
                f"{atoms.get_chemical_formula()}: vacuum of {lengths[axis] - span:.1f} A along axis {axis} is below the "
                f"ACE cutoff {cutoff} A; pyace needs full periodicity, so the slab needs more vacuum"
            )
    view = atoms.copy()
    view.pbc = True
    return view


def pacemaker_dataframe(
    atoms_list: Sequence[Atoms],
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float],
    weights: Sequence[float] | np.ndarray | None = None,
) -> pd.DataFrame:
    """The pacemaker dataset of delta targets: one row per structure (rows with weight 0 dropped).

    Columns pacemaker reads: ``ase_atoms`` (no calculator), ``energy`` (DFT minus baseline, eV),
    ``energy_corrected`` (that minus the per-element reference energies: what is fitted),
    ``forces`` (DFT minus baseline, N x 3), ``w_factor`` (bootstrap multiplicity) and ``name``
    (the structure id). ``stress`` (Voigt, DFT minus baseline, None without full periodicity) is fitted by the
    exact linear solver only; ``energy_dft``, ``energy_baseline`` and ``origin`` are kept for checks.
    """
    targets = delta_targets(atoms_list, baseline)
    rows = []
    for index, (atoms, target) in enumerate(zip(atoms_list, targets, strict=True)):
        weight = 1.0 if weights is None else float(weights[index])
        if weight <= 0:
            continue
        delta_energy = float(target.calc.results["energy"])
        dft_energy = float(atoms.calc.results["energy"])
        plain = ace_view(Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc))
        rows.append(
            {
                "name": structure_key(atoms),
                "origin": origin_of(atoms),
                "ase_atoms": plain,
                "energy": delta_energy,
                "energy_corrected": delta_energy - reference_energy(atoms, reference_energies),
                "forces": np.asarray(target.calc.results["forces"], dtype=float),
                "stress": _delta_stress(target),
                "energy_dft": dft_energy,
                "energy_baseline": dft_energy - delta_energy,
                "w_factor": weight,
            }
        )
    if not rows:
        raise ValueError("pacemaker dataset: no structures with positive weight")
    return pd.DataFrame(rows)


def _delta_stress(target: Atoms) -> np.ndarray | None:
    """The Voigt stress target (eV/A^3, DFT minus baseline) of a fully periodic structure; None otherwise."""
    stress = target.calc.results.get("stress") if target.calc is not None else None
    if stress is None or not (target.pbc.all() and target.cell.rank == 3):
        return None
    return np.asarray(stress, dtype=float).reshape(6)


def write_pacemaker_dataset(frame: pd.DataFrame, path: str | Path) -> Path:
    """Gzipped pickle, the format pacemaker's ``data: filename`` loads (``pd.read_pickle(..., compression='gzip')``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_pickle(path, compression="gzip", protocol=4)
    return path


def pacemaker_input(settings: AceSettings, elements: Sequence[str], dataset: str, seed: int) -> dict[str, Any]:
    """The ``input.yaml`` content (pacemaker 0.4.0rc1 keys, pyace backend)."""
    return {
        "seed": int(seed),
        "metadata": {"origin": "mlip-autopipec", "purpose": "delta model: DFT - baseline - reference energies"},
        "potential": {
            "deltaSplineBins": 0.001,
            "elements": sorted(set(elements)),
            "embeddings": {
                "ALL": {
                    "npot": "FinnisSinclairShiftedScaled",
                    "fs_parameters": settings.fs_parameters(),
                    "ndensity": settings.ndensity,
                }
            },
            "bonds": {
                "ALL": {
                    "radbase": settings.radial_base,
                    "radparameters": [settings.radial_parameter],
                    "rcut": settings.cutoff,
                    "dcut": settings.dcut,
                    "NameOfCutoffFunction": "cos",
                }
            },
            "functions": {
                "number_of_functions_per_element": settings.number_of_functions_per_element,
                "ALL": {"nradmax_by_orders": list(settings.nradmax_by_orders), "lmax_by_orders": list(settings.lmax_by_orders)},
            },
        },
        # energy_corrected is given, so no reference_energy key: pacemaker must not shift it again.
        "data": {"filename": dataset},
        "fit": {
            "loss": {"kappa": settings.kappa, "L1_coeffs": settings.l1_coeffs, "L2_coeffs": settings.l2_coeffs},
            "optimizer": settings.optimizer,
            "maxiter": settings.maxiter,
            # pacemaker reads "ALL" (upper case) as every parameter; a lower-case "all" matches no group and
            # leaves nothing trainable (its fit then fails on an empty parameter vector).
            "trainable_parameters": "ALL" if settings.trainable == "all" else settings.trainable,
            **(
                {
                    "min_relative_train_loss_per_iter": settings.min_relative_loss_per_iter,
                    "early_stopping_patience": settings.early_stopping_patience,
                }
                if settings.min_relative_loss_per_iter is not None
                else {}
            ),
        },
        "backend": {"evaluator": "pyace", "parallel_mode": "serial", "display_step": 10},
    }


class PacemakerError(RuntimeError):
    """pacemaker (or one of its tools) failed; the message names the log to read."""


def _tool(name: str) -> str:
    found = venv_tool(name)
    if found is None:
        raise PacemakerError(f"'{name}' not found; install pacemaker: pip install python-ace==0.4.0rc1")
    return found


def _run(argv: list[str], cwd: Path, log: Path, timeout_s: float | None) -> None:
    env = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run_logged(argv, cwd, log, env, timeout_s, PacemakerError)


def export_yace(potential_yaml: str | Path, output: str | Path | None = None, log: str | Path | None = None) -> Path:
    """B-basis YAML -> C-tilde ``.yace`` with ``pace_yaml2yace``: the file LAMMPS ``pair_style pace`` reads."""
    potential_yaml = Path(potential_yaml)
    output = Path(output) if output else potential_yaml.with_suffix(".yace")
    log_path = Path(log) if log else potential_yaml.parent / LOG_NAME
    _run([_tool("pace_yaml2yace"), str(potential_yaml), "-o", str(output)], potential_yaml.parent, log_path, 300)
    return output


def compute_active_set(potential_yaml: str | Path, dataset: str | Path, log: str | Path | None = None) -> Path | None:
    """``pace_activeset``: the active set (``.asi``) that turns on the extrapolation grade gamma.

    Optional: returns None (and leaves the reason in the log) when pacemaker cannot build it,
    e.g. fewer atoms than basis functions; the committee spread remains the uncertainty signal.
    """
    potential_yaml = Path(potential_yaml)
    log_path = Path(log) if log else potential_yaml.parent / LOG_NAME
    try:
        _run([_tool("pace_activeset"), str(potential_yaml), "-d", str(dataset)], potential_yaml.parent, log_path, 600)
    except PacemakerError:
        return None
    asi = potential_yaml.with_suffix(".asi")
    return asi if asi.is_file() else None


def train_ace_member(
    train_atoms: Sequence[Atoms],
    workdir: str | Path,
    settings: AceSettings,
    elements: Sequence[str],
    baseline: BaseCalculator | None,
    reference_energies: Mapping[str, float],
    seed: int,
    weights: Sequence[float] | np.ndarray | None = None,
    active_set: bool = True,
    timeout_s: float | None = None,
    posterior_draw: PosteriorDraw | None = None,
) -> AceMemberRecord:
    """Fit one ACE member with the ``pacemaker`` command in ``workdir``; export ``.yace`` (and ``.asi``).

    ``weights`` are per-structure multiplicities (bootstrap counts); ``seed`` is pacemaker's. Everything
    pacemaker writes stays in ``workdir``; its output goes to ``pacemaker.log``; the member's facts to
    ``member.json``. Raises ``PacemakerError`` when the fit fails.
    """
    from mlip_autopipec.data.records import AceMemberRecord  # records embeds AceSettings: import here, not at the top

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    seed = int(seed)
    start = time.monotonic()
    log = workdir / LOG_NAME
    log.write_text("")
    frame = pacemaker_dataframe(train_atoms, baseline, reference_energies, weights)
    dataset = write_pacemaker_dataset(frame, workdir / DATASET_NAME)
    input_yaml = workdir / INPUT_NAME
    input_yaml.write_text(yaml.safe_dump(pacemaker_input(settings, elements, DATASET_NAME, seed), sort_keys=False))
    for stale in (POTENTIAL_YAML, POTENTIAL_YACE, ACTIVE_SET):
        (workdir / stale).unlink(missing_ok=True)
    if settings.solver == "linear":
        write_linear_fit(frame, workdir, settings, elements, seed, log, posterior_draw)
    else:
        _run([_tool("pacemaker"), INPUT_NAME, "-o", POTENTIAL_YAML, "-l", "log.txt", "--no-predict"], workdir, log, timeout_s)
    potential_yaml = workdir / POTENTIAL_YAML
    if not potential_yaml.is_file():
        raise PacemakerError(f"pacemaker wrote no {POTENTIAL_YAML} in {workdir}; see {log}")
    potential_yace = export_yace(potential_yaml, workdir / POTENTIAL_YACE, log)
    asi = compute_active_set(potential_yaml, dataset, log) if active_set else None
    metrics = workdir / "metrics.txt"
    result = AceMemberRecord(
        workdir=workdir,
        potential_yaml=potential_yaml,
        potential_yace=potential_yace,
        active_set=asi,
        dataset=dataset,
        input_yaml=input_yaml,
        log=log,
        metrics=metrics if metrics.is_file() else None,
        n_structures=len(frame),
        n_functions=_count_functions(potential_yaml),
        seed=seed,
        wall_time_s=round(time.monotonic() - start, 2),
    )
    result.write(workdir / RESULT_NAME)
    return result


def linear_columns(settings: AceSettings, elements: Sequence[str], seed: int, frame: pd.DataFrame) -> tuple[Any, UnitColumns]:
    """The basis pacemaker would build for ``settings`` and its unit columns on ``frame`` (``ace_linear``)."""
    from pyace import PyACECalculator, create_multispecies_basis_config

    basis = create_multispecies_basis_config(pacemaker_input(settings, elements, DATASET_NAME, seed)["potential"])

    def calculator_of(coefficients: np.ndarray) -> PyACECalculator:
        trial = basis.copy()
        trial.set_func_coeffs(list(coefficients))
        return PyACECalculator(trial)

    return basis, unit_columns(calculator_of, len(basis.get_func_coeffs()), frame)


def select_linear_settings(
    settings: AceSettings, training: TrainingData, elements: Sequence[str], seed: int
) -> tuple[AceSettings, dict[str, str]]:
    """The linear basis, kappa, stress weight and ridge of least cross-validated error (``ace_selection``) among
    those that hold the run's highest target temperature (``stability_probe``, when ``training.probe`` is given).

    Candidates: ``LINEAR_CANDIDATES`` (same cutoff as ``settings``) in ``probe_order``; the first whose all-data fit
    passes the probe is chosen. Returns ``settings`` unchanged when the solver
    is not linear, when there are too few structures to hold any out, or when no candidate passes the probe.
    """
    if settings.solver != "linear":
        return settings, {}
    frame = pacemaker_dataframe(training.structures, training.baseline, training.reference_energies)
    n_scored = int(np.count_nonzero(assign_folds(frame, seed) >= 0))
    if n_scored < MIN_STRUCTURES:
        return settings, {
            "basis_selection": f"not cross-validated: {n_scored} structures besides atoms, dimers and trimers "
            f"(at least {MIN_STRUCTURES} needed); the size tier's basis is kept"
        }
    candidates = {
        nfunc: settings.model_copy(
            update={"number_of_functions_per_element": nfunc, "nradmax_by_orders": nradmax, "lmax_by_orders": lmax}
        )
        for nfunc, nradmax, lmax in LINEAR_CANDIDATES
    }
    scores, fitted = [], {}
    for nfunc, candidate in candidates.items():
        basis, columns = linear_columns(candidate, elements, seed, frame)
        fitted[nfunc] = (basis, columns)
        scores += score_basis(columns, frame, nfunc, seed)
    ranked = probe_order(scores) if training.probe is not None else [min(scores, key=lambda c: c.score)]
    evidence = "; ".join(c.summary() for c in best_per_basis(scores))
    reason = (
        f"least cross-validated error over {n_scored} held-out structures (atoms, dimers and trimers always trained), "
        f"each error over its target (energy, force, stress) summed in squares; best of each basis: {evidence}"
    )
    probes: list[str] = []
    start = probe_start(training.structures) if training.probe is not None else None
    for best in ranked:
        chosen = candidates[best.functions].model_copy(
            update={"kappa": best.kappa, "stress_weight": best.stress_weight, "ridge": best.ridge}
        )
        if training.probe is not None and start is not None:
            basis, columns = fitted[best.functions]
            fit = fit_linear(columns, frame, chosen.kappa, seed, chosen.stress_weight, chosen.ridge)
            trial = basis.copy()
            trial.set_func_coeffs(list(fit.coefficients))
            result = probe(_delta_calculator(trial, training), start, training.probe)
            verdict = "stable" if result.stable else "rejected"
            probes.append(
                f"{best.functions} functions, kappa {best.kappa:g}, stress weight {best.stress_weight:g}, ridge "
                f"{best.ridge:g}: {verdict}, {result.summary}"
            )
            if not result.stable:
                continue
        why = {
            "number_of_functions_per_element": f"{best.functions} functions: {reason}",
            "kappa": f"{best.kappa:g}: chosen with the basis (force share of the loss)",
            "stress_weight": f"{best.stress_weight:g}: chosen with the basis (stress rows relative to energies per atom)",
            "ridge": f"{best.ridge:g}: chosen with the basis",
            "solver": "exact ridge solution of energies, forces and stresses at the chosen ridge: the model is linear in "
            "its coefficients, so no optimiser is needed and the fit is converged by construction",
        }
        if probes:
            why["stability_probe"] = "; ".join(probes)
        return chosen, why
    return settings, {
        "basis_selection": f"no candidate held the highest target temperature ({'; '.join(probes)}); the size tier's "
        f"basis is kept ({reason})"
    }


def _delta_calculator(basis: Any, training: TrainingData) -> BaseCalculator:
    """A candidate's production calculator: baseline + the linear ACE model of ``basis`` + reference energies."""
    from pyace import PyACECalculator

    return DeltaCalculator(training.baseline, PyACECalculator(basis), training.reference_energies, view=ace_view)


def write_linear_fit(
    frame: pd.DataFrame,
    workdir: Path,
    settings: AceSettings,
    elements: Sequence[str],
    seed: int,
    log: Path,
    posterior_draw: PosteriorDraw | None = None,
) -> LinearFit:
    """Build the basis pacemaker would, solve its coefficients exactly (``ace_linear``), save the B-basis YAML.

    With ``posterior_draw`` the member saved is that draw from the ridge posterior around the all-data solution
    (``ace_linear.posterior_member``) instead of the solution itself.

    The saved potential is evaluated once more on the training data and must reproduce the solved
    predictions: that guards the linearity the solve assumes (and any change in pyace's coefficient order).
    """
    from pyace import BBasisConfiguration, PyACECalculator

    basis, columns = linear_columns(settings, elements, seed, frame)
    n_coefficients = columns.energies.shape[1]
    fit = fit_linear(columns, frame, settings.kappa, seed, settings.stress_weight, settings.ridge)
    saved = fit.coefficients
    if posterior_draw is not None:
        saved = posterior_member(fit.coefficients, fit.covariance, *posterior_draw)
    basis.set_func_coeffs(list(saved))
    basis.save(str(workdir / POTENTIAL_YAML))
    check = unit_columns(lambda _: PyACECalculator(BBasisConfiguration(str(workdir / POTENTIAL_YAML))), 1, frame.iloc[:3])
    expected = columns.energies[:3] @ saved
    if not np.allclose(check.energies[:, 0], expected, rtol=1e-8, atol=1e-8):
        raise PacemakerError(f"the saved linear ACE fit does not reproduce its solution in {workdir}: is ndensity 1?")
    (workdir / LINEAR_FIT_NAME).write_text(fit.to_json(posterior_draw))
    with log.open("a") as stream:
        stream.write(
            f"exact linear ACE fit: {n_coefficients} coefficients, {fit.n_structures} structures, ridge {fit.ridge:g} "
            f"({'given by the plan' if settings.ridge is not None else 'cross-validated'}), train RMSE "
            f"{fit.energy_rmse_per_atom * 1000:.2f} meV/atom, {fit.force_rmse:.3f} eV/A"
            + (f", {fit.stress_rmse_gpa:.2f} GPa" if fit.stress_rmse_gpa is not None else "")
            + "\n"
        )
    return fit


def _count_functions(potential_yaml: Path) -> int:
    try:
        from pyace import BBasisConfiguration

        return int(BBasisConfiguration(str(potential_yaml)).total_number_of_functions)
    except Exception:  # noqa: BLE001 - informative only
        return -1


def read_pacemaker_metrics(path: str | Path) -> pd.DataFrame:
    """pacemaker's per-iteration ``metrics.txt`` (whitespace table: iter_num, loss, rmse_epa, rmse_f_comp, ...)."""
    frame = pd.read_csv(path, sep=r"\s+")
    return frame.dropna(subset=["iter_num"]) if "iter_num" in frame.columns else frame


class AceBackend:
    """The pacemaker ACE backend of a committee (``TrainingBackend``)."""

    name: Literal["ace"] = "ace"
    curve_labels = CurveLabels("BFGS iteration", "train", "pacemaker training curves (delta targets)")

    def choose_settings(
        self,
        train: TrainConfig,
        n_structures: int,
        n_train: int,
        elements: Sequence[str],
        training: TrainingData | None = None,
        seed: int = 42,
    ) -> tuple[AceSettings, dict[str, str]]:
        """``choose_ace_settings`` of all labelled structures, then (linear tiers, with ``training``) the basis and
        loss weights of least cross-validated error; ``train.optimizer_steps`` overrides the BFGS steps."""
        settings, why = choose_ace_settings(n_structures, elements)
        if training is not None:
            settings, selected = select_linear_settings(settings, training, elements, seed)
            why.update(selected)
        if train.optimizer_steps:
            settings = settings.model_copy(update={"maxiter": int(train.optimizer_steps)})
            why["maxiter"] = (
                "set by the user (train.optimizer_steps)"
                if settings.solver == "pacemaker"
                else "train.optimizer_steps is not used: this basis is linear and solved exactly"
            )
        return settings, why

    def train(self, job: MemberJob) -> AceMemberRecord:
        assert job.plan.ace is not None
        return train_ace_member(
            job.train,
            job.workdir,
            job.plan.ace,
            job.plan.elements,
            job.baseline,
            job.plan.reference_energies,
            seed=job.seed,
            weights=job.weights,
            active_set=job.active_set,
            timeout_s=job.timeout_s,
            posterior_draw=None
            if job.plan.settings.bootstrap or job.plan.ace.solver != "linear"
            else (job.index, job.plan.committee_size, job.plan.settings.seed),
        )

    def read_member(self, path: Path) -> AceMemberRecord:
        from mlip_autopipec.data.records import AceMemberRecord

        return AceMemberRecord.read(path)

    def entry(self, record: AceMemberRecord, root: Path, common: dict[str, Any]) -> AceMemberEntry:
        from mlip_autopipec.data.records import AceMemberEntry

        return AceMemberEntry(
            **common,
            potential_yaml=relative_path(record.potential_yaml, root),
            potential_yace=relative_path(record.potential_yace, root),
            active_set=relative_path(record.active_set, root),
            pacemaker_log=relative_path(record.log, root),
            pacemaker_metrics=relative_path(record.metrics, root),
            n_functions=record.n_functions,
        )

    def load(self, root: Path, member: AceMemberEntry, extrapolation_grade: bool) -> Calculator:
        """pyace's calculator: the B-basis YAML with its active set for the extrapolation grade, else the ``.yace``."""
        from pyace import PyACECalculator

        if extrapolation_grade and member.active_set:
            calc = PyACECalculator(str(root / member.potential_yaml))
            calc.set_active_set(str(root / member.active_set))
            return calc
        return PyACECalculator(str(root / member.potential_yace))

    def view(self, atoms: Atoms) -> Atoms:
        return ace_view(atoms)

    def cutoff(self, settings: AceSettings) -> float:
        """ACE's radial cutoff: no force depends on anything farther away."""
        return float(settings.cutoff)

    def curve(self, root: Path, member: AceMemberEntry) -> Curve | None:
        """pacemaker's ``metrics.txt``: training errors per BFGS iteration."""
        if not member.pacemaker_metrics or not (root / member.pacemaker_metrics).is_file():
            return None
        frame = read_pacemaker_metrics(root / member.pacemaker_metrics)
        return Curve(frame["iter_num"].to_numpy(float), frame["rmse_f_comp"].to_numpy(float), frame["rmse_epa"].to_numpy(float))


ACE = AceBackend()
