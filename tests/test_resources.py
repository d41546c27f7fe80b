"""Per-rule resources: derived in the expanded config, asked by every job of a SLURM-profile dry run, groupable.

The dry runs use the project's SLURM profile (``executor: slurm``) with its placeholder partition replaced on the
command line; ``snakemake -n`` with the plugin needs no sbatch or cluster. Snakemake prints each job's resolved
``resources:`` line (a group job prints its members indented under ``Group job NAME``), which the checks read.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import ase.io
import pytest
import yaml
from ase.build import bulk

from conftest import PYTHON, REPO, SNAKEFILE
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import FullConfig
from mlip_autopipec.config.resources import pw_memory_per_task_mb
from mlip_autopipec.data.structure_files import structure_ids_in_file

PARTITION = "testpart"
LOCAL_RULES = {"ingest", "finalize", "report", "all"}  # run by Snakemake itself, never submitted
MPI_RULES = {"label", "validate", "validate_iteration"}
LABELS = 4
NTASKS = 4

# pw.x's "Estimated max dynamical RAM per process" (Debian's pw.x, MB) on rattled cells with the expander's
# settings: (composition, atoms, volume A^3, valence electrons per atom, MPI tasks (-nk tasks), pw.x's estimate).
PW_ESTIMATES = [
    ("Si", 8, 160.1, 4, 1, 84.32),
    ("Si", 64, 1281.0, 4, 2, 1.22 * 1024),
    ("FePt", 32, 442.5, 17, 1, 48.76 * 1024),
    ("FePt", 64, 884.9, 17, 2, 59.78 * 1024),
]


def fept_cells() -> list:
    """Four rattled L1_0-like FePt cells (4 and 8 atoms): user structures, so the label jobs are in the dry run."""
    cells = []
    for seed in range(LABELS):
        atoms = bulk("Fe", "fcc", a=3.81, cubic=True)
        atoms.symbols[[0, 1]] = "Pt"
        atoms = atoms.repeat((1, 1, 1 + seed % 2))
        atoms.rattle(0.03, seed=seed)
        cells.append(atoms)
    return cells


def write_fept(workdir: Path, generate: bool = True, **extra: object) -> dict:
    """A FePt config with user structures (their label jobs are planned before any checkpoint runs) and, with
    ``generate``, generated structures too (generate, explore and select are in the plan)."""
    ase.io.write(workdir / "fept.extxyz", fept_cells())
    config = {
        "composition": "FePt",
        "structures": "fept.extxyz",
        "generate": {"enabled": generate},
        "label": {"mpi": {"ntasks": NTASKS}},
        **extra,
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return config


def slurm_dry_run(workdir: Path, *args: str, targets: list[str]) -> str:
    """``snakemake -n`` under profiles/slurm with a real partition name; returns Snakemake's output."""
    command = [PYTHON, "-m", "snakemake", *targets]
    command += ["-s", str(SNAKEFILE), "-d", str(workdir), "--configfile", str(workdir / "config.yaml")]
    command += ["--profile", str(REPO / "profiles" / "slurm"), "-n", "--default-resources", f"slurm_partition={PARTITION}"]
    command += ["runtime=60", "mem_mb=4000", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Using profile" in output and "slurm" in output
    return output


def jobs_of(output: str) -> list[tuple[str, dict[str, str], str | None]]:
    """(rule, resources, group) of every job the dry run lists."""
    jobs: list[tuple[str, dict[str, str], str | None]] = []
    group: str | None = None
    rule: str | None = None
    for line in output.splitlines():
        if match := re.search(r"Group job (\S+) \(", line):
            group = match.group(1)
        elif match := re.match(r"(\s*)(?:rule|checkpoint|localrule|localcheckpoint) (\w+):$", line):
            rule = match.group(2)
            if not match.group(1):  # a job at the top level ends the group listing
                group = None
        elif (match := re.match(r"\s+resources: (.*)$", line)) and rule is not None:
            resources = dict(item.split("=", 1) for item in match.group(1).split(", ") if "=" in item)
            jobs.append((rule, resources, group))
            rule = None
    return jobs


def expected(full: FullConfig, rule: str):
    return getattr(full.resources, rule) if rule in type(full.resources).model_fields else full.resources.default


def expanded(workdir: Path) -> FullConfig:
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    return expand_config(config | {"structures": str(workdir / "fept.extxyz")})


@pytest.mark.parametrize(
    ("extra", "gpu_rules"),
    [
        ({}, set()),
        (
            {"device": "cuda", "train": {"backend": "mace"}, "resources": {"label": {"mem_mb": 90000, "runtime": 600}}},
            {"explore", "train_member", "simulate_md"},
        ),
    ],
    ids=["ace-auto", "mace-cuda-override"],
)
def test_every_job_of_a_fept_slurm_dry_run_asks_its_rules_resources(
    tmp_path: Path, extra: dict, gpu_rules: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    write_fept(tmp_path, **extra)
    full = expanded(tmp_path)
    # the whole plan, and the label jobs of the user's structures (with generation on, iteration 0's label jobs
    # wait for the select checkpoint; each of these is planned now)
    ids = structure_ids_in_file(str(tmp_path / "fept.extxyz"), full.elements)
    output = slurm_dry_run(tmp_path, targets=["all", *(f"results/iter_0/labels/{sid}.json" for sid in ids)])
    jobs = jobs_of(output)
    rules = {rule for rule, _, _ in jobs}
    assert {"label", "generate", "explore", "select", "train_member", "simulate_md", "validate"} <= rules, rules
    assert sum(rule == "label" for rule, _, _ in jobs) == LABELS
    with capsys.disabled():
        print(f"\nFePt ({'/'.join(sorted(extra)) or 'defaults'}), expanded resources:")
        for name, entry in full.resources:
            print(
                f"  {name:<18} threads {entry.threads} tasks {entry.tasks} mem_mb {entry.mem_mb} runtime {entry.runtime} gpus {entry.gpus}"
            )
    for rule, resources, _ in jobs:
        where = f"{rule}: {resources}"
        assert resources["slurm_partition"] == PARTITION, where
        if rule in LOCAL_RULES:
            continue
        entry = expected(full, rule)
        assert int(resources["mem_mb"]) == entry.mem_mb, where
        assert int(resources["runtime"]) == entry.runtime, where
        assert int(resources.get("gpu", 0)) == entry.gpus == (1 if rule in gpu_rules else 0), where
        if rule in MPI_RULES:
            assert int(resources["tasks"]) == entry.tasks == NTASKS and resources["mpi"] == "srun", where
            assert int(resources["cpus_per_task"]) == 1, where  # one core per MPI rank
        else:
            assert "tasks" not in resources and "mpi" not in resources, where
            assert int(resources["cpus_per_task"]) == entry.threads, where
            assert "mem_mb_per_cpu" not in resources, where  # the plugin would prefer it over mem_mb


def test_label_request_follows_the_config_and_pw_x(tmp_path: Path) -> None:
    """The label numbers themselves: MPI tasks, memory from the memory model, the ladder's run time."""
    write_fept(tmp_path)
    full = expanded(tmp_path)
    label = full.resources.label
    assert label.tasks == label.threads == NTASKS and label.gpus == 0
    assert label.runtime == math.ceil(full.label.walltime_s * full.label.max_attempts / 60) + 5
    # the largest labelled FePt cell is the 64-atom exploration supercell; pw.x's own estimate for 64 FePt atoms
    # (2 tasks: 59.8 GB per task, i.e. ~120 GB in all) must fit in what 4 tasks ask for
    assert "64 atoms" in label.why and "5x5x5 k-mesh" in label.why and f"{NTASKS} MPI tasks" in label.why
    assert 2 * 59.78 * 1024 < label.mem_mb < 2 * 2 * 59.78 * 1024
    smaller = expand_config(
        {"composition": "FePt", "label": {"mpi": {"ntasks": NTASKS}}, "explore": {"supercell_atoms": 32}}
    ).resources.label
    assert smaller.mem_mb < label.mem_mb / 2  # half the atoms: fewer plane waves, bands and no more k-points
    custom = expand_config({"composition": "FePt", "resources": {"label": {"mem_mb": 1234}}}).resources.label
    assert custom.mem_mb == 1234 and custom.why.startswith("set by you: mem_mb=1234")


@pytest.mark.parametrize(("composition", "atoms", "volume", "valence", "ntasks", "pw_mb"), PW_ESTIMATES)
def test_memory_model_matches_pw_x_estimates(
    composition: str, atoms: int, volume: float, valence: float, ntasks: int, pw_mb: float
) -> None:
    full = expand_config({"composition": composition})
    model, _ = pw_memory_per_task_mb(atoms, volume / atoms, valence, full, ntasks)
    assert model == pytest.approx(pw_mb, rel=0.10)


def test_gpus_only_for_torch_rules_under_cuda() -> None:
    for device in ("auto", "cpu", "cuda"):
        for backend in ("ace", "mace"):
            r = expand_config({"composition": "Si", "device": device, "train": {"backend": backend}}).resources
            cuda = device == "cuda"
            assert r.explore.gpus == int(cuda)
            assert r.train_member.gpus == r.simulate_md.gpus == int(cuda and backend == "mace")
            assert r.label.gpus == r.validate.gpus == r.generate.gpus == r.default.gpus == 0


def test_grouped_label_jobs_share_submissions(tmp_path: Path) -> None:
    """--groups label=dft --group-components dft=2: the four label jobs come as two group jobs of two."""
    write_fept(tmp_path, generate=False)
    target = ["results/iter_0/ingested.json"]
    plain = jobs_of(slurm_dry_run(tmp_path, targets=target))
    assert all(group is None for _, _, group in plain) and "Group job" not in str(plain)
    output = slurm_dry_run(tmp_path, "--groups", "label=dft", "--group-components", "dft=2", targets=target)
    assert output.count("Group job dft") == 2, output[-3000:]
    jobs = jobs_of(output)
    grouped = [rule for rule, _, group in jobs if group == "dft"]
    assert grouped == ["label"] * LABELS
    assert all(group is None for rule, _, group in jobs if rule != "label")


def test_a_one_task_label_job_is_not_an_mpi_job_for_the_plugin(tmp_path: Path) -> None:
    """The default `label.mpi.ntasks: 1`: the SLURM plugin refuses an MPI job with one task ("'tasks' must be greater
    than 1"), so such a label job carries an empty `mpi` (the plugin's serial path, --ntasks=1); with 2 tasks, srun."""
    from snakemake_executor_plugin_slurm import submit_string  # the plugin's own check, read to keep this test honest

    assert "'tasks' must be greater than 1" in Path(submit_string.__file__).read_text()
    for ntasks, marker in ((1, ""), (2, "srun")):
        write_fept(tmp_path, generate=False, label={"mpi": {"ntasks": ntasks}})
        ids = structure_ids_in_file(str(tmp_path / "fept.extxyz"), ["Fe", "Pt"])
        output = slurm_dry_run(tmp_path, targets=[f"results/iter_0/labels/{sid}.json" for sid in ids])
        labels = [resources for rule, resources, _ in jobs_of(output) if rule == "label"]
        assert len(labels) == LABELS and all(r["mpi"] == marker and int(r["tasks"]) == ntasks for r in labels), labels
