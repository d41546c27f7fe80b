"""Harmonic phonons by finite displacements (phonopy), the same code for the potential and for DFT.

Why phonopy: symmetry-reduced displacement sets (one displaced supercell for diamond Si or fcc Cu, so one
DFT call), force constants with the translational sum rule enforced, and band structures and DOS on a
mesh; we only supply forces from an ASE calculator. Why fractional q-points with a fixed number of points
per segment: the two sides (potential and DFT, each perhaps at its own lattice constant) are then sampled at
the same q-points of the same path, so the band-structure RMSE compares like with like, as autoplex's
benchmark does (``get_rmse``: frequencies sorted per q-point, RMSE over every q-point and branch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.dft.kpoints import parse_path_string
from phonopy import Phonopy
from phonopy.phonon.band_structure import get_band_qpoints_and_path_connections
from phonopy.structure.atoms import PhonopyAtoms

from mlip_autopipec.config.models import ValidationConfig
from mlip_autopipec.data.atomic_io import atomic_savefig
from mlip_autopipec.data.records import ValidationRow
from mlip_autopipec.structures.thermal import phonopy_atoms
from mlip_autopipec.validation.table import compare, metric

GROUP = "phonons"
DISPLACEMENT = 0.01  # A: phonopy's and autoplex's default amplitude
IMAGINARY_THRESHOLD = 0.05  # THz: a frequency below minus this is an imaginary mode, not round-off
POINTS_PER_SEGMENT = 51  # q-points per straight segment of the path, ends included (phonopy's default)
DOS_MESH = (16, 16, 16)  # q-point mesh of the DOS and of the imaginary-mode search
GAMMA = "G"  # ASE's name of the zone centre


@dataclass(frozen=True, eq=False)
class PhononResult:
    """One side's phonons: bands along the path, frequencies at its special points, and the DOS."""

    supercell: tuple[int, int, int]  # supercell of the primitive cell that was displaced
    displacement: float  # A, amplitude of each finite displacement
    n_displaced: int  # displaced supercells = calculator calls (DFT labels on the DFT side)
    n_atoms: int  # atoms of the primitive cell (3 * n_atoms branches)
    path: str  # special points in ASE notation, e.g. 'GXWKGLUWLK,UX' (',' breaks the path)
    special_points: dict[str, tuple[float, float, float]]  # label -> q in fractional reciprocal coordinates
    qpoints: np.ndarray  # (n_q, 3) fractional reciprocal coordinates along the path, segment ends repeated
    distances: np.ndarray  # (n_q,) 1/A, position along the path (for plotting)
    segment_ends: tuple[int, ...]  # index into qpoints after each straight segment (len = number of segments)
    frequencies: np.ndarray  # (n_q, 3 * n_atoms) THz, ascending at each q-point; negative = imaginary
    special_frequencies: dict[str, np.ndarray] = field(default_factory=dict)  # label -> (3 * n_atoms,) THz
    dos_frequencies: np.ndarray = field(default_factory=lambda: np.zeros(0))  # THz
    dos: np.ndarray = field(default_factory=lambda: np.zeros(0))  # states / THz per primitive cell
    mesh: tuple[int, int, int] = DOS_MESH
    mesh_min_frequency: float = 0.0  # THz, lowest frequency on the mesh

    @property
    def min_frequency(self) -> float:
        """THz: the lowest frequency anywhere on the path or the mesh (imaginary modes are negative)."""
        return float(min(self.frequencies.min(), self.mesh_min_frequency))

    @property
    def zone_boundary_labels(self) -> list[str]:
        """Special points of the path other than Gamma, in order of first appearance."""
        return [label for label in self.special_points if label != GAMMA]


def _ase_atoms(cell: PhonopyAtoms, origin: str) -> Atoms:
    assert cell.symbols is not None and cell.cell is not None and cell.scaled_positions is not None
    atoms = Atoms(symbols=list(cell.symbols), cell=np.array(cell.cell), scaled_positions=cell.scaled_positions, pbc=True)
    atoms.info["origin"] = origin  # LabelledDft records it: the phonon labels are told apart in the cache
    return atoms


def _path_segments(primitive: Atoms, path: str | None) -> tuple[str, dict[str, np.ndarray], list[list[str]]]:
    """ASE's standard path for the primitive's Bravais lattice (or ``path``) and its special points."""
    bandpath = primitive.cell.bandpath(npoints=0)
    path = path or bandpath.path
    pieces = parse_path_string(path)
    points = {label: np.array(bandpath.special_points[label], dtype=float) for piece in pieces for label in piece}
    return path, points, pieces


def phonon_bands(
    primitive: Atoms,
    calculator: Calculator,
    supercell: Sequence[int] = (2, 2, 2),
    path: str | None = None,
    displacement: float = DISPLACEMENT,
    mesh: Sequence[int] = DOS_MESH,
    points_per_segment: int = POINTS_PER_SEGMENT,
    origin: str = "validation_phonons",
) -> PhononResult:
    """Phonons of ``primitive`` (relaxed with the same calculator: residual forces are not subtracted) in THz.

    ``supercell``: diagonal multiples of the primitive cell (the config's ``phonon_supercell``); ``path``: special
    points in ASE notation, ASE's standard path of the lattice when None. Costs ``n_displaced`` calculator calls.
    """
    if len(supercell) != 3:
        raise ValueError(f"supercell must have three multiples, got {list(supercell)}")
    phonon = Phonopy(phonopy_atoms(primitive), supercell_matrix=np.diag([int(n) for n in supercell]), primitive_matrix=None)
    phonon.generate_displacements(distance=displacement)
    displaced = phonon.supercells_with_displacements
    assert displaced is not None
    forces = []
    for cell in displaced:
        atoms = _ase_atoms(cell, origin)
        atoms.calc = calculator
        forces.append(np.array(atoms.get_forces(), dtype=float))
    phonon.forces = np.array(forces)
    phonon.produce_force_constants(show_drift=False)
    phonon.symmetrize_force_constants()  # translational sum rule: acoustic modes at Gamma go to zero

    path, points, pieces = _path_segments(primitive, path)
    band_paths = [[points[label] for label in piece] for piece in pieces]
    qpoints, connections = get_band_qpoints_and_path_connections(band_paths, npoints=points_per_segment)
    bands = phonon.run_band_structure(qpoints, path_connections=connections)
    segment_lengths = [len(q) for q in bands.qpoints]

    labels = list(points)
    phonon.run_qpoints(np.array([points[label] for label in labels]))
    assert phonon.qpoints is not None
    at_points = phonon.qpoints.frequencies

    mesh_result = phonon.run_mesh([int(n) for n in mesh], is_gamma_center=True)
    dos = phonon.run_total_dos()

    return PhononResult(
        supercell=(int(supercell[0]), int(supercell[1]), int(supercell[2])),
        displacement=float(displacement),
        n_displaced=len(displaced),
        n_atoms=len(primitive),
        path=path,
        special_points={label: (float(q[0]), float(q[1]), float(q[2])) for label, q in points.items()},
        qpoints=np.concatenate(bands.qpoints),
        distances=np.concatenate(bands.distances),
        segment_ends=tuple(int(n) for n in np.cumsum(segment_lengths)),
        frequencies=np.sort(np.concatenate(bands.frequencies), axis=1),
        special_frequencies={label: np.sort(np.array(f, dtype=float)) for label, f in zip(labels, at_points, strict=True)},
        dos_frequencies=np.array(dos.frequency_points, dtype=float),
        dos=np.array(dos.dos, dtype=float),
        mesh=(int(mesh[0]), int(mesh[1]), int(mesh[2])),
        mesh_min_frequency=float(np.min(mesh_result.frequencies)),
    )


def band_rmse(potential: PhononResult, dft: PhononResult) -> float:
    """THz: RMSE over every q-point and branch of the path, frequencies sorted per q-point (autoplex's definition)."""
    if potential.frequencies.shape != dft.frequencies.shape or not np.allclose(potential.qpoints, dft.qpoints, atol=1e-8):
        raise ValueError(f"the two band structures are not on the same path ({potential.path!r} vs {dft.path!r})")
    return float(np.sqrt(np.mean((potential.frequencies - dft.frequencies) ** 2)))


def _name(label: str) -> str:
    return "Γ" if label == GAMMA else label


def phonon_rows(potential: PhononResult, dft: PhononResult, cfg: ValidationConfig) -> list[ValidationRow]:
    """The phonon rows of the validation table.

    - band-structure RMSE (THz, a value row against ``phonon_rmse_tolerance``: it is itself an error);
    - the highest optical frequency at Gamma (cells of two or more atoms) and the lowest and highest branch at each
      zone-boundary special point, relative errors judged with ``elastic_tolerance`` (a frequency is the square root
      of a harmonic stiffness, the same stiffness the elastic constants measure, so this is the looser of the two);
      the lowest branch is the lowest that DFT gives above the imaginary threshold, the same branch on both sides;
    - the most negative frequency on the path or the mesh (THz, clipped at 0), absolute error judged against
      ``IMAGINARY_THRESHOLD``: an imaginary mode of the potential that DFT does not have fails (warns within twice
      the threshold, which soft modes near Gamma from round-off can reach), and so does a DFT instability that the
      potential misses.
    """
    note = (
        f"phonopy finite displacements ({dft.displacement:g} A) on the "
        f"{'x'.join(str(n) for n in dft.supercell)} supercell of the {dft.n_atoms}-atom primitive cell; "
        f"{dft.n_displaced} displaced supercell(s) per side"
    )
    n_q, n_branches = dft.frequencies.shape
    rows = [
        metric(
            GROUP,
            f"band-structure RMSE ({dft.path})",
            "THz",
            band_rmse(potential, dft),
            cfg.phonon_rmse_tolerance,
            n_samples=n_q * n_branches,
            note=f"{note}; all {n_q} q-points x {n_branches} branches of the path, sorted per q-point",
        )
    ]
    if dft.n_atoms > 1:
        rows.append(
            compare(
                GROUP,
                "highest optical frequency at Γ",
                "THz",
                float(dft.special_frequencies[GAMMA][-1]),
                float(potential.special_frequencies[GAMMA][-1]),
                cfg.elastic_tolerance,
                note=f"{note}; no LO-TO splitting (no Born charges)",
            )
        )
    for labels in _equivalent_groups(dft):
        label = labels[0]
        reference, ours = dft.special_frequencies[label], potential.special_frequencies[label]
        positive = np.flatnonzero(reference > IMAGINARY_THRESHOLD)
        if positive.size == 0:
            continue
        where = "/".join(labels)
        q = ", ".join(f"{x:g}" for x in dft.special_points[label])
        same = f"; {', '.join(labels[1:])} equivalent (same DFT frequencies)" if len(labels) > 1 else ""
        for which, branch in (("lowest", int(positive[0])), ("highest", n_branches - 1)):
            rows.append(
                compare(
                    GROUP,
                    f"{which} frequency at {where}",
                    "THz",
                    float(reference[branch]),
                    float(ours[branch]),
                    cfg.elastic_tolerance,
                    note=f"{note}; branch {branch + 1} of {n_branches} at q = ({q}){same}",
                )
            )
    rows.append(
        compare(
            GROUP,
            "most negative frequency (imaginary modes)",
            "THz",
            min(0.0, dft.min_frequency),
            min(0.0, potential.min_frequency),
            IMAGINARY_THRESHOLD,
            compared="absolute",
            n_samples=n_q + int(np.prod(dft.mesh)),
            note=(
                f"lowest frequency on the path and a {'x'.join(str(n) for n in dft.mesh)} mesh, clipped at 0; "
                f"below -{IMAGINARY_THRESHOLD:g} THz is an imaginary mode"
            ),
        )
    )
    return rows


def _equivalent_groups(result: PhononResult) -> list[list[str]]:
    """Zone-boundary points grouped when their frequencies agree (K and U of fcc): one pair of rows per group."""
    groups: list[list[str]] = []
    for label in result.zone_boundary_labels:
        for group in groups:
            if np.allclose(result.special_frequencies[group[0]], result.special_frequencies[label], atol=1e-4):
                group.append(label)
                break
        else:
            groups.append([label])
    return groups


def plot_phonons(potential: PhononResult, dft: PhononResult, path: str | Path) -> Path:
    """PNG: the potential's bands (lines) over DFT's (dashed), special points marked, and the potential's DOS."""
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(8.0, 4.5), layout="constrained")
    bands_axes, dos_axes = figure.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [4, 1]})
    x = _continuous_distances(potential)
    starts = (0, *potential.segment_ends[:-1])
    for start, end in zip(starts, potential.segment_ends, strict=True):
        dft_lines = bands_axes.plot(x[start:end], dft.frequencies[start:end], "--", color="black", lw=1.0)
        our_lines = bands_axes.plot(x[start:end], potential.frequencies[start:end], "-", color="tab:red", lw=1.2)
    dft_lines[0].set_label("DFT")
    our_lines[0].set_label("potential")
    ticks, names = _ticks(potential, x)
    bands_axes.set_xticks(ticks, names)
    for tick in ticks:
        bands_axes.axvline(tick, color="0.7", lw=0.6)
    bands_axes.axhline(0.0, color="0.5", lw=0.6)
    bands_axes.set_xlim(x[0], x[-1])
    top = max(potential.frequencies.max(), dft.frequencies.max())
    bands_axes.set_ylim(min(potential.min_frequency, dft.min_frequency, 0.0) - 0.05 * top, 1.05 * top)
    bands_axes.set_ylabel("Frequency (THz)")
    bands_axes.set_title(f"Phonons ({'x'.join(str(n) for n in potential.supercell)} supercell)")
    bands_axes.legend(loc="lower right", fontsize=8)
    dos_axes.plot(potential.dos, potential.dos_frequencies, color="tab:red", lw=1.0)
    dos_axes.set_xlabel("DOS (1/THz)")
    dos_axes.set_xlim(left=0.0)
    return atomic_savefig(path, figure)


def _continuous_distances(result: PhononResult) -> np.ndarray:
    """Path coordinate with the jump of each break (',' in the path) removed, so pieces sit side by side."""
    x = result.distances.copy()
    for end in result.segment_ends[:-1]:
        x[end:] += x[end - 1] - x[end]
    return x


def _ticks(result: PhononResult, x: np.ndarray) -> tuple[list[float], list[str]]:
    """Tick positions and labels at the segment ends; 'K|U' where the path breaks."""
    pieces = parse_path_string(result.path)
    ticks: list[float] = [float(x[0])]
    names: list[str] = [_name(pieces[0][0])]
    segment = 0
    for k, piece in enumerate(pieces):
        if k > 0:  # a break: the previous piece's last point and this piece's first share a tick
            names[-1] = f"{names[-1]}|{_name(piece[0])}"
        for label in piece[1:]:
            ticks.append(float(x[result.segment_ends[segment] - 1]))
            names.append(_name(label))
            segment += 1
    return ticks, names
