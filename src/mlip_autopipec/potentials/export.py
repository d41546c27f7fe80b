"""Make a delivered committee usable outside this package: LAMMPS inputs, the baseline as a table, a README.

Why: the committee's calculators (``committee.member_calculator``) need this library, but production MD
usually runs in LAMMPS. A member's energy is exactly baseline + model + per-element reference energies
(``delta.DeltaCalculator``), and each part has a LAMMPS counterpart:

* the model: ACE's ``.yace`` is what ``pair_style pace`` (ML-PACE) reads; a MACE ``.model`` becomes a
  LAMMPS model with ``mace_create_lammps_model`` (``pair_style mace``);
* the baseline (ZBL or Lennard-Jones, with its smooth switch): written here point by point from the
  baseline's own ``pair_energy`` as a ``pair_style table`` file, one section per element pair, on the
  grid LAMMPS uses itself (N points evenly spaced in r^2, ``RSQ``), so LAMMPS takes the values as they
  are and only interpolates between them with its cubic spline; N is chosen by repeating that spline
  here until it reproduces the baseline to well below 1e-4 eV/A;
* the reference energies: a constant per atom, which no pair style adds; each member's input defines
  ``c_e_ref`` (their sum over atoms) and ``v_e_total`` = ``pe`` + ``c_e_ref``.

``export_potential`` writes all of it into the committee folder (``results/final`` in the workflow),
with ``export.json`` (``records.PotentialExport``) and ``README.md`` rendered from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.calculators.calculator import BaseCalculator
from ase.data import atomic_numbers
from scipy.interpolate import CubicSpline

from mlip_autopipec.data.atomic_io import atomic_write_text
from mlip_autopipec.data.records import (
    AceMemberEntry,
    CommitteeManifest,
    ExportedMember,
    ExportedPairTable,
    MaceMemberEntry,
    PotentialExport,
)
from mlip_autopipec.potentials.committee_plan import MANIFEST_NAME, TrainedCommittee, dft_hashes, make_plan_baseline
from mlip_autopipec.potentials.pair import PairPotential

LAMMPS_DIR = "lammps"
TABLE_NAME = f"{LAMMPS_DIR}/baseline.table"
BASELINE_INPUT = f"{LAMMPS_DIR}/baseline.lammps"
REFERENCE_INPUT = f"{LAMMPS_DIR}/reference_energies.lammps"
EXPORT_NAME = "export.json"
README_NAME = "README.md"
FINAL = "results/final"  # where the workflow delivers the committee; the README's paths start there

#: The table starts where the pair energy reaches this (eV): closer pairs stop LAMMPS ("Pair distance <
#: table inner cutoff"); 1000 eV per pair is far beyond anything MD at any sane temperature reaches.
ENERGY_CAP = 1000.0
#: Never start the table closer than this (Angstrom), whatever the pair energy there.
R_FLOOR = 0.05
#: Table ends are rounded to multiples of this (Angstrom), so r^2 and back are exact in floating point
#: and LAMMPS finds the table's last point exactly at its cutoff.
GRID = 1.0 / 1024.0
#: Candidate table lengths, smallest first; the first whose spline meets the tolerances below is taken.
TABLE_POINTS = (1000, 2000, 5000, 10000, 20000, 50000, 100000)
#: Tolerances of the spline against the baseline: |error| <= atol + rtol * |value|, per pair.
FORCE_ATOL, FORCE_RTOL = 1e-6, 1e-7  # eV/A
ENERGY_ATOL, ENERGY_RTOL = 1e-7, 1e-8  # eV
#: The MACE model file LAMMPS's ``pair_style mace`` reads, made by ``mace_create_lammps_model``.
MACE_LAMMPS_SUFFIX = "-lammps.pt"


@dataclass(frozen=True)
class PairTable:
    """One element pair of the baseline on LAMMPS's grid: n points evenly spaced in r^2 from r_inner to r_outer."""

    first: str
    second: str
    r_inner: float
    r_outer: float
    r: np.ndarray
    energy: np.ndarray  # eV
    force: np.ndarray  # -dE/dr, eV/A
    force_slopes: tuple[float, float]  # dF/dr at both ends (eV/A^2): the spline's end conditions ("FPRIME")

    @property
    def keyword(self) -> str:
        return f"{self.first}_{self.second}"


def pair_terms(baseline: PairPotential, first: str, second: str, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The baseline's pair energy and force -dE/dr (eV, eV/A) at distances ``r`` (A)."""
    r = np.asarray(r, dtype=float)
    z_i = np.full(r.shape, atomic_numbers[first])
    z_j = np.full(r.shape, atomic_numbers[second])
    energy, denergy = baseline.pair_energy(z_i, z_j, r)
    return np.asarray(energy, dtype=float), -np.asarray(denergy, dtype=float)


def table_range(baseline: PairPotential, first: str, second: str, energy_cap: float = ENERGY_CAP) -> tuple[float, float]:
    """(r_inner, r_outer) of a pair's table (A): from where the pair energy reaches ``energy_cap`` to the cutoff.

    Both are on ``GRID``: r_inner rounded down (the energy there is at least the cap), r_outer rounded up
    (the baseline is exactly zero beyond its cutoff, so the table only gains zeros).
    """
    numbers = np.array([atomic_numbers[first], atomic_numbers[second]])
    cutoff = baseline.max_cutoff(numbers)
    grid = np.linspace(R_FLOOR, cutoff, 20001)
    energy, _ = pair_terms(baseline, first, second, grid)
    above = np.flatnonzero(energy >= energy_cap)
    if len(above) == 0:
        inner = R_FLOOR
    else:
        lo, hi = grid[above[-1]], grid[min(above[-1] + 1, len(grid) - 1)]
        for _ in range(60):  # bisection: energy(lo) >= cap > energy(hi)
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if pair_terms(baseline, first, second, np.array([mid]))[0][0] >= energy_cap else (lo, mid)
        inner = lo
    inner = max(math.floor(inner / GRID) * GRID, GRID)
    outer = math.ceil(cutoff / GRID) * GRID
    return inner, outer


def rsq_grid(r_inner: float, r_outer: float, n: int) -> np.ndarray:
    """The distances LAMMPS computes for an ``RSQ`` table of n points: sqrt(lo^2 + (hi^2 - lo^2) i / (n - 1))."""
    lo2, hi2 = r_inner * r_inner, r_outer * r_outer
    return np.sqrt(lo2 + (hi2 - lo2) * np.arange(n) / (n - 1))


def make_pair_table(baseline: PairPotential, first: str, second: str, n: int) -> PairTable:
    """The pair's values on LAMMPS's grid of n points, with exact end slopes of the force."""
    inner, outer = table_range(baseline, first, second)
    r = rsq_grid(inner, outer, n)
    energy, force = pair_terms(baseline, first, second, r)
    slopes = tuple(_force_slope(baseline, first, second, x) for x in (inner, outer))
    return PairTable(first, second, inner, outer, r, energy, force, (slopes[0], slopes[1]))


def _force_slope(baseline: PairPotential, first: str, second: str, r: float) -> float:
    """dF/dr by central differences of the analytic force (the spline's end condition only)."""
    h = 1e-6 * max(r, 1.0)
    _, force = pair_terms(baseline, first, second, np.array([r - h, r + h]))
    return float((force[1] - force[0]) / (2.0 * h))


def lammps_spline(table: PairTable) -> tuple[CubicSpline, CubicSpline]:
    """What ``pair_style table spline`` builds from a matching table: clamped cubic splines in x = r^2 of
    E(x) and F(x)/r, with end slopes from the table's forces and its ``FPRIME`` values (pair_table.cpp)."""
    x = table.r**2
    lo, hi = table.r[0], table.r[-1]
    energy_ends = ((1, -table.force[0] / (2.0 * lo)), (1, -table.force[-1] / (2.0 * hi)))
    fp_lo, fp_hi = table.force_slopes
    force_ends = (
        (1, (fp_lo / lo - table.force[0] / lo**2) / (2.0 * lo)),
        (1, (fp_hi / hi - table.force[-1] / hi**2) / (2.0 * hi)),
    )
    return CubicSpline(x, table.energy, bc_type=energy_ends), CubicSpline(x, table.force / table.r, bc_type=force_ends)


def spline_errors(baseline: PairPotential, table: PairTable) -> tuple[float, float, bool]:
    """Largest energy and force errors (eV, eV/A) of LAMMPS's spline against the baseline, checked at five
    points inside every interval, and whether every point is within the tolerances."""
    energy_spline, force_spline = lammps_spline(table)
    x = table.r**2
    fractions = np.linspace(0.0, 1.0, 7)[1:-1]
    probe = (x[:-1, None] + np.diff(x)[:, None] * fractions[None, :]).ravel()
    r = np.sqrt(probe)
    energy, force = pair_terms(baseline, table.first, table.second, r)
    energy_error = np.abs(energy_spline(probe) - energy)
    force_error = np.abs(force_spline(probe) * r - force)
    ok = bool(
        np.all(energy_error <= ENERGY_ATOL + ENERGY_RTOL * np.abs(energy))
        and np.all(force_error <= FORCE_ATOL + FORCE_RTOL * np.abs(force))
    )
    return float(energy_error.max()), float(force_error.max()), ok


def element_pairs(elements: Sequence[str]) -> list[tuple[str, str]]:
    """Element pairs in LAMMPS type order: (type i, type j) with i <= j, types numbered as ``elements``."""
    return [(a, b) for i, a in enumerate(elements) for b in elements[i:]]


def baseline_tables(baseline: PairPotential, elements: Sequence[str]) -> tuple[int, list[PairTable], list[ExportedPairTable]]:
    """The shortest table length in ``TABLE_POINTS`` whose spline meets the tolerances for every pair
    (one length for all: ``pair_style table spline N`` has one N), the tables and their facts."""
    for n in TABLE_POINTS:
        tables = [make_pair_table(baseline, a, b, n) for a, b in element_pairs(elements)]
        errors = [spline_errors(baseline, table) for table in tables]
        if all(ok for _, _, ok in errors) or n == TABLE_POINTS[-1]:
            facts = [
                ExportedPairTable(
                    elements=[t.first, t.second],
                    keyword=t.keyword,
                    r_inner=t.r_inner,
                    r_outer=t.r_outer,
                    energy_at_inner=float(t.energy[0]),
                    max_energy_error=e_err,
                    max_force_error=f_err,
                    within_tolerance=ok,
                )
                for t, (e_err, f_err, ok) in zip(tables, errors, strict=True)
            ]
            return n, tables, facts
    raise AssertionError("unreachable: the last table length is always taken")


def table_text(tables: Sequence[PairTable], baseline_name: str) -> str:
    """The ``pair_style table`` file: per pair a keyword line, ``N n RSQ lo hi FPRIME fplo fphi``, then the points."""
    lines = [
        f"# MLIP-AutoPipe delta-learning baseline ({baseline_name}) for LAMMPS pair_style table spline N (N = points per section).",
        "# Written from the baseline's own pair energies; columns: index, r (A), E (eV), F = -dE/dr (eV/A).",
    ]
    for table in tables:
        fp_lo, fp_hi = table.force_slopes
        lines += [
            "",
            table.keyword,
            f"N {len(table.r)} RSQ {table.r_inner!r} {table.r_outer!r} FPRIME {fp_lo!r} {fp_hi!r}",
            "",
        ]
        rows = zip(table.r.tolist(), table.energy.tolist(), table.force.tolist(), strict=True)
        lines += [f"{k + 1} {r!r} {e!r} {f!r}" for k, (r, e, f) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def table_pair_coeffs(elements: Sequence[str], table_path: str, sub_style: str = "") -> list[str]:
    """``pair_coeff I J [table] FILE KEYWORD`` for every type pair (types numbered as ``elements``)."""
    style = f" {sub_style}" if sub_style else ""
    index = {symbol: k + 1 for k, symbol in enumerate(elements)}
    return [f"pair_coeff {index[a]} {index[b]}{style} {table_path} {a}_{b}" for a, b in element_pairs(elements)]


def reference_input(elements: Sequence[str], references: Mapping[str, float]) -> str:
    """LAMMPS lines for the reference energies: per-atom ``v_e_ref_atom``, their sum ``c_e_ref``, ``v_e_total``."""
    terms = "+".join(f"(type=={k + 1})*({references.get(symbol, 0.0)!r})" for k, symbol in enumerate(elements))
    return "\n".join(
        [
            "# Per-element reference energies (eV/atom) of the committee: a constant per atom, which no pair style adds.",
            "# E_total = pe + c_e_ref = v_e_total (put v_e_total in thermo_style so it is evaluated every output step).",
            f'variable e_ref_atom atom "{terms}"',
            "compute e_ref all reduce sum v_e_ref_atom",
            "variable e_total equal pe+c_e_ref",
        ]
    )


def member_model_file(member: AceMemberEntry | MaceMemberEntry) -> str:
    """The model file LAMMPS reads for a member: ACE's ``.yace``; for MACE the converted ``-lammps.pt``."""
    if isinstance(member, AceMemberEntry):
        return member.potential_yace
    return member.model + MACE_LAMMPS_SUFFIX


def member_pair_lines(backend: str, elements: Sequence[str], lammps_model: str, table_style: str | None) -> list[str]:
    """A member's pair lines and reference-energy include: the model (``pace`` or ``mace``) overlaid with the
    baseline table; paths relative to the committee folder, where LAMMPS is meant to run."""
    style = "pace" if backend == "ace" else "mace no_domain_decomposition"
    symbols = " ".join(elements)
    if table_style is None:
        lines = [f"pair_style {style}", f"pair_coeff * * {lammps_model} {symbols}"]
    else:
        lines = [
            f"pair_style hybrid/overlay {style} table {table_style}",
            f"pair_coeff * * {style.split()[0]} {lammps_model} {symbols}",
            *table_pair_coeffs(elements, TABLE_NAME, "table"),
        ]
    return [*lines, f"include {REFERENCE_INPUT}"]


def member_input(manifest: CommitteeManifest, member: AceMemberEntry | MaceMemberEntry, table_style: str | None) -> str:
    """One member's LAMMPS include file: a header that says what it is, then ``member_pair_lines``."""
    types = ", ".join(f"{k + 1} = {symbol}" for k, symbol in enumerate(manifest.elements))
    header = [
        f"# MLIP-AutoPipe committee member {member.index} ({manifest.backend}, baseline {manifest.baseline.name}): "
        "include after read_data; units metal, atom_style atomic.",
        f"# Atom types: {types}. Paths are relative to the committee folder ({FINAL}).",
    ]
    lines = member_pair_lines(manifest.backend, manifest.elements, member_model_file(member), table_style)
    return "\n".join(header + lines) + "\n"


def write_baseline_inputs(
    root: Path, baseline: BaseCalculator, name: str, elements: Sequence[str]
) -> tuple[int, list[ExportedPairTable]]:
    """Write ``TABLE_NAME`` and ``BASELINE_INPUT`` (the baseline alone in LAMMPS) under ``root``; return the
    table length and the pairs' facts. Only pair baselines can be tabulated."""
    if not isinstance(baseline, PairPotential):
        raise TypeError(f"export: baseline {name} is not a pair potential; it cannot be tabulated")
    n_points, tables, pairs = baseline_tables(baseline, elements)
    atomic_write_text(root / TABLE_NAME, table_text(tables, name))
    lines = [
        f"# The {name} baseline alone (no model, no reference energies), for checks. Types: "
        + ", ".join(f"{k + 1} = {symbol}" for k, symbol in enumerate(elements)),
        f"pair_style table spline {n_points}",
        *table_pair_coeffs(elements, TABLE_NAME),
    ]
    atomic_write_text(root / BASELINE_INPUT, "\n".join(lines) + "\n")
    return n_points, pairs


def export_potential(folder: str | Path, version: str = "") -> PotentialExport:
    """Write the LAMMPS inputs, the baseline table, ``export.json`` and ``README.md`` into a committee folder.

    ``folder`` holds ``committee.json``; ``version`` (the pipeline's) goes into the README's provenance.
    """
    root = Path(folder).resolve()
    manifest = CommitteeManifest.read(root / MANIFEST_NAME)
    baseline = make_plan_baseline(manifest)
    table_style: str | None = None
    n_points: int | None = None
    pairs: list[ExportedPairTable] = []
    if baseline is not None:
        n_points, pairs = write_baseline_inputs(root, baseline, manifest.baseline.name, manifest.elements)
        table_style = f"spline {n_points}"
    atomic_write_text(root / REFERENCE_INPUT, reference_input(manifest.elements, manifest.reference_energies) + "\n")
    members = []
    for member in manifest.members:
        path = f"{LAMMPS_DIR}/member_{member.index:02d}.lammps"
        atomic_write_text(root / path, member_input(manifest, member, table_style))
        model = member.potential_yace if isinstance(member, AceMemberEntry) else member.model
        members.append(ExportedMember(index=member.index, model=model, lammps_model=member_model_file(member), lammps_input=path))
    record = PotentialExport(
        backend=manifest.backend,
        elements=list(manifest.elements),
        baseline=manifest.baseline,
        reference_energies=dict(manifest.reference_energies),
        table_file=TABLE_NAME if baseline is not None else None,
        table_style=table_style,
        table_points=n_points,
        energy_cap=ENERGY_CAP,
        pairs=pairs,
        baseline_input=BASELINE_INPUT if baseline is not None else None,
        reference_input=REFERENCE_INPUT,
        members=members,
        config_hash=manifest.config_hash,
        dft_hashes=dft_hashes(TrainedCommittee(manifest, root)),
        created=manifest.created,
        version=version,
        readme=README_NAME,
    )
    record.write(root / EXPORT_NAME)
    atomic_write_text(root / README_NAME, readme_text(record))
    return record


# ---------------------------------------------------------------- README


def ase_snippet(record: PotentialExport) -> str:
    """Python lines that load member 0 (and the committee) with this library; ``atoms`` must exist."""
    return "\n".join(
        [
            "from mlip_autopipec.potentials.committee import CommitteeCalculator, member_calculator",
            "",
            f'FINAL = "{FINAL}"',
            "atoms.calc = member_calculator(FINAL, member=0)  # production: member 0 = baseline + model + reference energies",
            "energy = atoms.get_potential_energy()  # eV",
            "forces = atoms.get_forces()  # eV/A",
            "committee = CommitteeCalculator(FINAL)  # mean of all members, with their spread",
            "committee.calculate(atoms, ['energy', 'forces'])",
            'spread = committee.results["max_force_std"]  # eV/A: large where the committee extrapolates',
        ]
    )


def plain_ase_snippet(record: PotentialExport) -> str:
    """Python lines for member 0 without this library: the bare model, the baseline table run by LAMMPS
    through ASE's ``lammpsrun`` calculator, and the reference energies added by hand; ``atoms`` must exist."""
    member = record.members[0]
    references = ", ".join(f'"{symbol}": {record.reference_energies.get(symbol, 0.0)!r}' for symbol in record.elements)
    if record.backend == "ace":
        imports = ["from pyace import PyACECalculator"]
        model = f'model = PyACECalculator(f"{{FINAL}}/{member.model}")  # the ACE part (pyace: the evaluator of pair_style pace)'
    else:
        imports = ["from mace.calculators import MACECalculator"]
        model = f'model = MACECalculator(model_paths=f"{{FINAL}}/{member.model}", device="cpu", default_dtype="float64")'
    lines = [
        "import os",
        "",
        "from ase.calculators.lammpsrun import LAMMPS",
        "from ase.calculators.mixing import SumCalculator",
        *imports,
    ]
    lines += ["", f'FINAL = "{FINAL}"', f"E_REF = {{{references}}}  # eV per atom of each element", model]
    if record.table_file is not None and record.table_style is not None:
        table = "{FINAL}/" + record.table_file  # LAMMPS runs in the Python process's folder, the run folder
        coeffs = ", ".join(f'f"{line.removeprefix("pair_coeff ")}"' for line in table_pair_coeffs(record.elements, table))
        lines += [
            "baseline = LAMMPS(  # the baseline table, run by LAMMPS (pip install lammps mpich gives the lmp command)",
            '    command=os.environ.get("ASE_LAMMPSRUN_COMMAND", "lmp"),',
            f'    pair_style="table {record.table_style}",',
            f"    pair_coeff=[{coeffs}],",
            f"    specorder={record.elements!r},",
            ")",
            "atoms.calc = SumCalculator([model, baseline])",
        ]
    else:
        lines.append("atoms.calc = model")
    lines += [
        "energy = atoms.get_potential_energy() + sum(E_REF[s] for s in atoms.get_chemical_symbols())  # eV",
        "forces = atoms.get_forces()  # eV/A (the reference energies add no force)",
    ]
    return "\n".join(lines)


def lammps_snippet(record: PotentialExport) -> str:
    """A complete LAMMPS input for member 0 around its include file."""
    masses = ", ".join(f'"{s}"' for s in record.elements)
    return "\n".join(
        [
            "units           metal",
            "atom_style      atomic",
            "boundary        p p p",
            f"read_data       structure.data   # ase.io.write('structure.data', atoms, format='lammps-data', specorder=[{masses}], masses=True)",
            f"include         {record.members[0].lammps_input}",
            "thermo_style    custom step temp pe v_e_total press",
            "run             0",
        ]
    )


def _provenance(record: PotentialExport) -> list[str]:
    params = json.dumps(record.baseline.parameters) if record.baseline.parameters else "defaults"
    references = ", ".join(f"{s}: {record.reference_energies.get(s, 0.0):.6f}" for s in record.elements)
    rows = [
        ("backend", record.backend),
        ("members", str(len(record.members))),
        ("elements (LAMMPS types 1, 2, ...)", ", ".join(record.elements)),
        ("baseline", f"{record.baseline.name} ({params})"),
        ("reference energies (eV/atom)", references),
        ("fit configuration hash", record.config_hash),
        ("DFT parameters hash", ", ".join(record.dft_hashes) or "not recorded"),
        ("committee collected", record.created),
    ]
    if record.version:
        rows.append(("pipeline version", record.version))
    return ["| what | value |", "| --- | --- |", *[f"| {what} | {value} |" for what, value in rows]]


def _member_rows(record: PotentialExport) -> list[str]:
    rows = ["| member | model (ASE) | model (LAMMPS) | LAMMPS input |", "| --- | --- | --- | --- |"]
    for m in record.members:
        lammps_model = f"`{m.lammps_model}`" if m.lammps_model != m.model else "the same"
        rows.append(f"| {m.index} | `{m.model}` | {lammps_model} | `{m.lammps_input}` |")
    return rows


def _table_rows(record: PotentialExport) -> list[str]:
    rows = [
        "| pair (section) | r_inner (A) | E(r_inner) (eV) | r_outer (A) | max spline error E (eV) | max spline error F (eV/A) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in record.pairs:
        rows.append(
            f"| {p.keyword} | {p.r_inner:.4f} | {p.energy_at_inner:.1f} | {p.r_outer:.4f} | {p.max_energy_error:.1e} | {p.max_force_error:.1e} |"
        )
    return rows


def readme_text(record: PotentialExport) -> str:
    """The README of the delivered potential: what it is, and how to run it in ASE and in LAMMPS."""
    ace = record.backend == "ace"
    first = record.members[0]
    lines = [
        "# The delivered potential",
        "",
        "Written by MLIP-AutoPipe (`mlip_autopipec.potentials.export`) when the workflow delivered this committee; "
        f"every path below is relative to this folder (`{FINAL}` in the run folder).",
        "",
        "## What it is",
        "",
        "Each committee member is a delta-learned potential: its energy is",
        "",
        "    E = E_baseline + E_model + sum_i E_ref(element_i)",
        "",
        "The model learned DFT minus the baseline minus the per-element reference energies, so all three parts "
        "are needed. Forces and stress come from the baseline and the model only (the reference energies are "
        "constants). Member 0 is the production potential; the spread of all members is the uncertainty.",
        "",
        *_provenance(record),
        "",
        *_member_rows(record),
        "",
        f"`{MANIFEST_NAME}` is the full manifest (training settings, split, bootstrap, files); `{EXPORT_NAME}` lists what this export wrote.",
        "",
        "## In Python (ASE) with MLIP-AutoPipe",
        "",
        "With this package installed, from the run folder (`atoms` is your `ase.Atoms`):",
        "",
        "```python",
        ase_snippet(record),
        "```",
        "",
        "## In Python (ASE) without MLIP-AutoPipe",
        "",
        (
            "The bare model with pyace (`pip install python-ace`), the baseline table run by LAMMPS through ASE's "
            "`lammpsrun` calculator, and the reference energies added to the energy:"
            if ace
            else "The bare model with mace-torch, the baseline table run by LAMMPS through ASE's `lammpsrun` calculator, "
            "and the reference energies added to the energy:"
        ),
        "",
        "```python",
        plain_ase_snippet(record),
        "```",
        "",
    ]
    if ace:
        lines += [
            "pyace accepts only fully periodic or fully open cells; for slabs use the MLIP-AutoPipe loader above, "
            "which makes the cell periodic across the vacuum.",
            "",
        ]
    lines += ["## In LAMMPS", ""]
    if ace:
        lines += [
            "Needs a LAMMPS built with the ML-PACE package (`pair_style pace`); `pair_style table` and `hybrid/overlay` "
            "are in every build. Run LAMMPS in this folder (the include files name their files relative to it):",
        ]
    else:
        lines += [
            "Needs a LAMMPS built with the ML-MACE package (`pair_style mace`), and each member's model converted "
            "once with mace-torch's converter, which this export does not run: "
            f"`mace_create_lammps_model {first.model} --dtype float64` writes {first.lammps_model} (the name the include "
            "files use). Run LAMMPS in this folder (the include files name their files relative to it):",
        ]
    lines += ["", "```", lammps_snippet(record), "```", ""]
    lines += [
        f"`{first.lammps_input}` holds the pair lines of member 0 (the other members have their own files, see the table above):",
        "",
        "```",
        *member_pair_lines(record.backend, record.elements, first.lammps_model, record.table_style),
        "```",
        "",
        f"The reference energies are in `{record.reference_input}`: LAMMPS's `pe` is E_baseline + E_model; the total "
        "energy comparable to DFT is `v_e_total` = `pe` + `c_e_ref`, with `c_e_ref` = sum over atoms of "
        "E_ref(type). Forces, pressure and MD are unaffected by the constant.",
        "",
        "Atom types must follow the element order above (type 1 = "
        f"{record.elements[0]}"
        + "".join(f", type {k + 1} = {s}" for k, s in enumerate(record.elements) if k)
        + "), in the data file and on the `pair_coeff * *` line.",
        "",
    ]
    if ace:
        lines += [
            "For the extrapolation grade in LAMMPS, `pair_style pace/extrapolation` reads a member's B-basis YAML and "
            "active set (`potential_yaml` and `active_set` of the member in the manifest) instead of the `.yace`.",
            "",
        ]
    if record.table_file is not None:
        lines += [
            "## The baseline table",
            "",
            f"`{record.table_file}` holds the {record.baseline.name} baseline exactly as the Python baseline computes it "
            "(with its smooth switch to zero at the cutoff), one section per element pair, "
            f"{record.table_points} points evenly spaced in r^2, for `pair_style table {record.table_style}`; the points are "
            "LAMMPS's own grid, so it uses them as they are and interpolates with its cubic spline. The spline errors "
            "below are computed by repeating that spline and comparing it with the baseline at five points inside every "
            "interval. LAMMPS stops with 'Pair distance < table inner cutoff' if two atoms come closer than r_inner, "
            f"where the pair energy reaches {record.energy_cap:.0f} eV.",
            "",
            *_table_rows(record),
            "",
            f"`{record.baseline_input}` runs the baseline alone (for checks).",
            "",
        ]
    return "\n".join(lines)
