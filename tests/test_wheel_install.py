"""The installable workflow (issue 13, item 5): a wheel carries the Snakefile, rules, scripts, envs and profiles.

The wheel test builds the sdist from a copy of the working tree (so MANIFEST.in is checked too), the wheel from
that sdist, installs it into a fresh virtual environment, and runs that environment's ``mlip-pipe init`` and
``mlip-pipe run --dry-run`` in an empty folder outside the repository: the plan must list the label jobs and the
folder must hold the SLURM profile to edit. The heavy dependencies come from this virtual environment through a
.pth file, not from a reinstall; its editable finder for mlip_autopipec is not what the fresh one imports.
The other tests check the order in which ``workflow_files`` looks for the Snakefile and a profile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tarfile
from pathlib import Path

import ase.io
import pytest

from conftest import PYTHON, REPO, small_si_structures
from mlip_autopipec import workflow_files
from mlip_autopipec.errors import ConfigError
from mlip_autopipec.workflow_files import copy_slurm_profile, find_profile, find_snakefile

# What the sdist is built from: the package, its metadata and build hook, and the workflow the wheel carries.
SOURCE_ENTRIES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", "workflow", "scripts", "profiles", "envs"]
BUNDLE = Path("mlip_autopipec", "_workflow_bundle")


def working_tree_copy(target: Path) -> Path:
    """The working tree's files (tracked and untracked, not ignored: no .venv, results or __pycache__) under target."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *SOURCE_ENTRIES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for relative in listed:
        if (REPO / relative).is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / relative, target / relative)
    return target


def checked(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def build_wheel(tmp_path: Path) -> Path:
    """sdist from a copy of the working tree, then the wheel from the unpacked sdist (no build isolation: offline)."""
    tree = working_tree_copy(tmp_path / "tree")
    build_sdist = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    name = checked([PYTHON, "-c", build_sdist, str(tmp_path / "sdist")], cwd=tree).stdout.split()[-1]
    with tarfile.open(tmp_path / "sdist" / name) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert (unpacked / "workflow" / "Snakefile").is_file(), "the sdist lacks workflow/ (MANIFEST.in)"
    wheels = tmp_path / "wheels"
    checked([PYTHON, "-m", "pip", "wheel", str(unpacked), "--no-deps", "--no-build-isolation", "-w", str(wheels), "-q"])
    (wheel,) = wheels.glob("mlip_autopipec-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; this environment's site-packages on its path (.pth)."""
    venv = tmp_path / "venv"
    checked([PYTHON, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    checked([PYTHON, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    site = checked([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    # Lines of a .pth file are appended to sys.path (after the fresh site-packages); the .pth files in the listed
    # folder are not read, so the editable install's path hook to src/ stays out.
    (Path(site) / "mlip_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")  # from sys.prefix
    return venv


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    table = dry_run_output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.workflow
def test_the_wheel_runs_the_workflow_from_an_empty_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    venv = fresh_venv(tmp_path, wheel)
    env = {key: value for key, value in os.environ.items() if key not in {workflow_files.WORKFLOW_ENV, "PYTHONPATH"}}
    where = checked([str(venv / "bin" / "python"), "-c", "import mlip_autopipec; print(mlip_autopipec.__file__)"], env=env)
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(venv), f"imported {package}, not the fresh environment's copy"
    bundle = package / "_workflow_bundle"
    for relative in ["workflow/Snakefile", "workflow/rules/label.smk", "scripts/label_structure.py", "envs/pipeline.yaml"]:
        assert (bundle / relative).is_file(), f"the wheel lacks {relative}"

    project = tmp_path / "project"  # outside the repository, empty
    project.mkdir()
    mlip_pipe = str(venv / "bin" / "mlip-pipe")
    init = checked([mlip_pipe, "init", "Si"], cwd=project, env=env)
    assert "profiles/slurm/config.yaml" in init.stdout
    profile = project / "profiles" / "slurm" / "config.yaml"
    assert profile.read_text() == (bundle / "profiles" / "slurm" / "config.yaml").read_text()
    ase.io.write(project / "si.extxyz", small_si_structures(3))
    with (project / "config" / "config.yaml").open("a") as config:
        config.write("structures: si.extxyz\n")

    dry = checked([mlip_pipe, "run", "--dry-run"], cwd=project, env=env)
    counts = job_counts(dry.stdout)
    assert counts.get("label") == 3 and counts.get("import_structures") == 1, dry.stdout[-3000:]
    # a bare profile name: this folder's copy first (init wrote it), else the one the wheel ships
    slurm = checked([mlip_pipe, "run", "--dry-run", "--profile", "slurm"], cwd=project, env=env)
    assert f"Using profile {project / 'profiles' / 'slurm'} " in slurm.stdout + slurm.stderr
    local = checked([mlip_pipe, "run", "--dry-run", "--profile", "profiles/local"], cwd=project, env=env)
    assert f"Using profile {bundle / 'profiles' / 'local'} " in local.stdout + local.stderr
    assert job_counts(local.stdout).get("label") == 3
    assert not (project / "results" / "iter_0" / "labels").exists()


def test_snakefile_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$MLIP_AUTOPIPE_WORKFLOW first (a missing file is an error, not ignored), then this source tree."""
    monkeypatch.delenv(workflow_files.WORKFLOW_ENV, raising=False)
    assert find_snakefile() == REPO / "workflow" / "Snakefile"  # the editable install reads the tree in place
    other = tmp_path / "Snakefile"
    other.write_text("rule all:\n")
    monkeypatch.setenv(workflow_files.WORKFLOW_ENV, str(other))
    assert find_snakefile() == other
    monkeypatch.setenv(workflow_files.WORKFLOW_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="MLIP_AUTOPIPE_WORKFLOW"):
        find_snakefile()


def test_profile_order(tmp_path: Path) -> None:
    """A folder as given; else the project's profiles/NAME; else the shipped one; else Snakemake's own lookup."""
    shipped = str(REPO / "profiles" / "slurm")
    assert find_profile("slurm", tmp_path) == shipped
    assert find_profile("profiles/slurm", tmp_path) == shipped
    assert find_profile("my_cluster", tmp_path) == "my_cluster"
    config, written = copy_slurm_profile(tmp_path)
    assert written and config == tmp_path / "profiles" / "slurm" / "config.yaml"
    assert find_profile("slurm", tmp_path) == str(tmp_path / "profiles" / "slurm")
    assert find_profile("profiles/slurm", tmp_path) == "profiles/slurm"  # exists as given (relative to the project)
    config.write_text("# edited\n")
    assert copy_slurm_profile(tmp_path) == (config, False) and config.read_text() == "# edited\n"
