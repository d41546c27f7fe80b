"""Per-rule scheduler requests (threads, MPI tasks, memory, run time, GPUs) derived from the expanded config.

Why here and not in a profile: the numbers follow from the run's own settings (cell sizes, k-points, cutoffs,
MPI tasks, committee backend, device), so a cluster profile only names partitions and accounts. Each request
carries a ``why`` with the numbers it came from; a user overrides any value with ``resources: {rule: {...}}``
in the config, or in the profile's ``set-resources``.

The pw.x memory model (per MPI task, ``disk_io='low'`` as the labeller runs it: every k-point's wavefunctions
stay in memory) counts what pw.x's own "Estimated max dynamical RAM per process" counts, in its two large terms:

- wavefunctions: 16 B x plane waves x bands per k-point, for the k-points of one task (k-point pools split them
  over the tasks) plus ``DAVIDSON_COPIES`` more for the Davidson work arrays;
- the dense FFT grid: ``FFT_ARRAYS`` real arrays of 8 B per spin (density, potentials, mixing history);

with plane waves V k^3 / (6 pi^2) (k = sqrt(ecutwfc) in 1/bohr), the grid V (2 sqrt(ecutrho))^3 / (2 pi)^3,
bands nelec/2 (x1.2, at least +4, with smearing, as pw.x does), the cell a cube of the composition's reference
volume per atom and its k-mesh from ``dft.kpoint_spacing`` reduced by time reversal only (rattled cells keep no
other symmetry; spin-polarised runs hold both spins). Checked against the estimate of the Debian pw.x on rattled
cells with the expander's settings (tests/test_resources.py keeps the numbers): Si 8 atoms, 1 task: 84 MB (model 78);
Si 64 atoms, 2 tasks: 1.22 GB per task (model 1.14); FePt 32 atoms, 1 task: 48.8 GB (model 48.8); FePt 64 atoms,
2 tasks: 59.8 GB per task (model 60.1). The request adds ``SAFETY`` for what the estimate leaves out and
``RESIDENT_MB`` per task for the executable, MPI and Python around it.
"""

from __future__ import annotations

import math

from mlip_autopipec.config.models import FullConfig, ResourcesConfig, RuleResources
from mlip_autopipec.structures.composition import parse_composition
from mlip_autopipec.structures.prototypes import packing_volume

BOHR3 = 0.529177210903**3  # A^3 per bohr^3
DAVIDSON_COPIES = 8  # wavefunction-sized work arrays of the Davidson solver (fitted to pw.x's estimate)
FFT_ARRAYS = 30  # real dense-grid arrays per spin (fitted to pw.x's estimate)
SAFETY = 1.25
RESIDENT_MB = 300
LABEL_MARGIN_MIN = 5  # Snakemake's start and the label record, after the last attempt
LIGHT = RuleResources(threads=1, mem_mb=2000, runtime=60, why="light Python job: 1 core, 2 GB, 1 h")


def round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def kpoints_per_spin(cell_length: float, spacing: float) -> tuple[int, int]:
    """(mesh subdivisions per direction, irreducible points under time reversal) of a cube of ``cell_length`` A."""
    n = max(1, math.ceil(2 * math.pi / (cell_length * spacing) - 1e-9))
    self_conjugate = 8 if n % 2 == 0 else 1
    return n, (n**3 + self_conjugate) // 2


def pw_memory_per_task_mb(
    atoms: int, volume_per_atom: float, valence_per_atom: float, full: FullConfig, ntasks: int
) -> tuple[float, str]:
    """pw.x's dynamical memory per MPI task (MB) for a rattled cube of ``atoms`` atoms, and the numbers behind it."""
    dft = full.dft
    volume = atoms * volume_per_atom
    n, nks = kpoints_per_spin(volume ** (1 / 3), dft.kpoint_spacing)
    nks *= dft.nspin
    volume_bohr = volume / BOHR3
    plane_waves = volume_bohr * dft.ecutwfc**1.5 / (6 * math.pi**2)
    grid = volume_bohr * (2 * math.sqrt(dft.ecutrho)) ** 3 / (2 * math.pi) ** 3
    half = atoms * valence_per_atom / 2
    bands = max(round(1.2 * half), round(half) + 4) if dft.occupations == "smearing" else math.ceil(half)
    per_task_k = math.ceil(nks / ntasks)
    wavefunctions = 16 * plane_waves * bands * (per_task_k + DAVIDSON_COPIES)
    density = 8 * grid * FFT_ARRAYS * dft.nspin
    mb = (wavefunctions + density) / 2**20  # MiB, as pw.x and SLURM count
    detail = (
        f"{n}x{n}x{n} k-mesh -> {nks} k-points{' (2 spins)' if dft.nspin == 2 else ''}, {per_task_k} per task; "
        f"~{plane_waves:,.0f} plane waves x {bands} bands"
    )
    return mb, detail


def largest_label_cell(full: FullConfig) -> tuple[int, str]:
    """The most atoms a labelled periodic cell can have with these settings, and which setting gives it."""
    g, e, al = full.generate, full.explore, full.active_learning
    sizes: dict[str, int] = {}
    if g.enabled:
        sizes["generate.target_atoms"] = g.target_atoms
        if len(full.elements) > 1 and g.sqs_sizes:
            sizes["generate.sqs_sizes"] = max(g.sqs_sizes)
        if e.enabled:
            sizes["explore.supercell_atoms"] = e.supercell_atoms  # DIRECT picks explored frames
    sizes["active learning (min of explore.supercell_atoms, extraction_max_whole_atoms)"] = min(
        e.supercell_atoms, al.extraction_max_whole_atoms
    )
    source, atoms = max(sizes.items(), key=lambda item: item[1])
    return atoms, source


def largest_validation_cell(full: FullConfig) -> int:
    """The most atoms of a validation DFT cell: defect, fresh-set, alloy SQS cells and the phonon supercell."""
    v = full.validation
    phonon = math.prod(v.phonon_supercell) * 2  # supercell of a primitive cell of up to 2 atoms (diamond, hcp)
    sizes = [v.defect_cell_atoms, v.set_cell_atoms, phonon]
    if len(full.elements) > 1:
        sizes.append(v.alloy_sqs_atoms)
    return max(sizes)


def composition_averages(full: FullConfig) -> tuple[float, float]:
    """(reference volume per atom in A^3, valence electrons per atom) of the composition."""
    from mlip_autopipec.dft.espresso.pseudopotentials import family_of

    amounts = parse_composition(full.composition)
    total = sum(amounts.values())
    family = family_of(full.dft.pseudo_family, full.dft.pseudo_dir, full.elements)
    valence = sum(family.files[el].z_valence * amount for el, amount in amounts.items()) / total
    return packing_volume(amounts) / total, valence


def dft_request(full: FullConfig, atoms: int, what: str) -> tuple[int, str]:
    """Memory (MB) of a pw.x job on a cell of ``atoms`` atoms, and the sentence that derives it."""
    ntasks = full.label.mpi.ntasks
    volume, valence = composition_averages(full)
    per_task, detail = pw_memory_per_task_mb(atoms, volume, valence, full, ntasks)
    mem = round_up(ntasks * (SAFETY * per_task + RESIDENT_MB), 100)
    why = (
        f"pw.x: {ntasks} MPI task{'s' if ntasks > 1 else ''}; {what} {atoms} atoms ({volume:.1f} A^3 and "
        f"{valence:g} valence electrons per atom), k-spacing {full.dft.kpoint_spacing:g}, ecutwfc "
        f"{full.dft.ecutwfc:g}/ecutrho {full.dft.ecutrho:g} Ry: {detail} -> ~{per_task:,.0f} MB per task "
        f"(pw.x's estimate); x{SAFETY:g} + {RESIDENT_MB} MB per task"
    )
    return mem, why


def label_resources(full: FullConfig) -> RuleResources:
    atoms, source = largest_label_cell(full)
    mem, why = dft_request(full, atoms, f"largest labelled cell ({source})")
    label = full.label
    runtime = math.ceil(label.walltime_s * label.max_attempts / 60) + LABEL_MARGIN_MIN
    why += (
        f"; runtime: walltime_s {label.walltime_s:g} s x {label.max_attempts} attempts + {LABEL_MARGIN_MIN} min. "
        "Your own structures are not sized here: raise mem_mb if they are larger"
    )
    ntasks = label.mpi.ntasks
    return RuleResources(threads=ntasks, tasks=ntasks, mem_mb=mem, runtime=runtime, why=why)


def validate_resources(full: FullConfig, iteration: bool) -> RuleResources:
    """DFT of the validation cells (label cache first), one after another in one job, plus the committee's MD."""
    v = full.validation
    atoms = largest_validation_cell(full)
    mem, why = dft_request(full, atoms, "largest validation cell (defects, fresh set, phonons, alloy SQS)")
    stability = 0 if iteration and "stability" in v.iteration_skips else math.ceil(v.stability_ps * len(full.temperatures) * 3)
    runtime = 240 + stability
    why += "; runtime: 4 h for the checks' DFT (small cells, one pw.x run each, repeats from the label cache)" + (
        f" + {stability} min of stability NVT ({v.stability_ps:g} ps x {len(full.temperatures)} temperatures, "
        f"budgeted at 3 min/ps)"
        if stability
        else " (no stability MD: in validation.iteration_skips)"
    )
    ntasks = full.label.mpi.ntasks
    return RuleResources(threads=ntasks, tasks=ntasks, mem_mb=mem, runtime=runtime, why=why)


def gpus(full: FullConfig, torch_models: bool) -> int:
    from mlip_autopipec.potentials.device import slurm_gpus

    return slurm_gpus(full.device, torch_models)


def train_member_resources(full: FullConfig) -> RuleResources:
    """ACE: a CPU fit whose design matrix grows with the data; MACE: a torch fit (a GPU under device: cuda)."""
    atoms, _ = largest_label_cell(full)
    rows = full.dft_budget * (1 + 3 * atoms)  # one energy and 3N force rows per label, at most dft_budget labels
    if full.train.backend == "mace":
        gpu = gpus(full, True)
        threads = 4
        mem = 8000
        runtime = 240
        why = (
            f"MACE member (mace_run_train): {threads} CPU threads"
            + (", 1 GPU (device: cuda)" if gpu else "")
            + f", 8 GB for torch and up to {full.dft_budget} labels; 4 h for the 40-400 epochs of about 2000 optimiser steps"
        )
        return RuleResources(threads=threads, mem_mb=mem, runtime=runtime, gpus=gpu, why=why)
    columns = 700 * len(full.elements)  # the largest ACE tier: 700 functions per element
    matrix_mb = 8 * rows * columns / 1e6
    mem = round_up(max(2000.0, 1.5 * matrix_mb + 1000), 500)
    why = (
        f"ACE member (pacemaker, CPU): 1 thread; up to {full.dft_budget} labels x (1 + 3 x {atoms} atoms) = "
        f"{rows:,} rows x {columns} basis functions ({len(full.elements)} element(s) x 700, the largest tier) x 8 B = "
        f"{matrix_mb:,.0f} MB, x1.5 + 1 GB; 2 h (the linear tiers solve in minutes, pacemaker's BFGS tiers take longer)"
    )
    return RuleResources(threads=1, mem_mb=mem, runtime=120, why=why)


def torch_md_resources(full: FullConfig, rule: str, steps: int, torch_models: bool, model: str) -> RuleResources:
    """One MD run of ``steps`` steps on about explore.supercell_atoms atoms with a torch or ACE model."""
    gpu = gpus(full, torch_models)
    atoms = full.explore.supercell_atoms
    runtime = max(30, math.ceil(steps * atoms / 1000 * 0.1) + 15)  # budget 0.1 s per 1000 atom-steps
    mem = 4000 if torch_models else 2000
    why = (
        f"{model} MD: 1 thread{', 1 GPU (device: cuda)' if gpu else ''}; {mem // 1000} GB"
        f"{' for torch and the model' if torch_models else ''}; {steps} steps x {atoms} atoms at a budgeted 0.1 s "
        f"per 1000 atom-steps + 15 min, at least 30 min"
    )
    return RuleResources(threads=1, mem_mb=mem, runtime=runtime, gpus=gpu, why=why)


def expand_resources(full: FullConfig) -> ResourcesConfig:
    """Every rule's request from the expanded config (user overrides are applied by the expander afterwards)."""
    mace = full.train.backend == "mace"
    al = full.active_learning
    md_steps = al.md_steps if al.engine == "md" else al.kmc_steps * al.kmc_searches * 200
    return ResourcesConfig(
        label=label_resources(full),
        validate=validate_resources(full, iteration=False),
        validate_iteration=validate_resources(full, iteration=True),
        train_member=train_member_resources(full),
        explore=torch_md_resources(full, "explore", full.explore.steps, True, f"surrogate ({full.explore.surrogate})"),
        simulate_md=torch_md_resources(full, "simulate_md", md_steps, mace, f"committee ({full.train.backend})"),
        generate=RuleResources(
            threads=2,
            mem_mb=4000,
            runtime=60,
            why="2 cores for the surrogate relaxation and SQS annealing; 4 GB for the torch surrogate; 1 h",
        ),
        default=LIGHT.model_copy(),
    )
