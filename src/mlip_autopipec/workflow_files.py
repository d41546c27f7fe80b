"""Where the workflow's files are: $MLIP_AUTOPIPE_WORKFLOW, the source tree, or the copy shipped in the wheel.

Why three places: an editable install (``pip install -e .``, envs/install.sh) runs the repository's workflow/ as
it is being edited; a wheel carries its own copy (setup.py puts workflow/, scripts/, envs/ and profiles/ into
``mlip_autopipec/_workflow_bundle/`` with their layout kept), so ``mlip-pipe run`` works from any folder; and
$MLIP_AUTOPIPE_WORKFLOW points at another Snakefile. The project folder is the working directory: ``mlip-pipe init``
writes the config and an editable SLURM profile there, ``mlip-pipe run`` runs Snakemake there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mlip_autopipec.errors import ConfigError

WORKFLOW_ENV = "MLIP_AUTOPIPE_WORKFLOW"
PACKAGE = Path(__file__).resolve().parent
BUNDLE = PACKAGE / "_workflow_bundle"
SNAKEFILE = Path("workflow", "Snakefile")


def source_tree() -> Path | None:
    """The repository this package runs from (an editable install: src/mlip_autopipec), or None."""
    root = PACKAGE.parents[1]
    if PACKAGE.parent.name == "src" and (root / SNAKEFILE).is_file():
        return root
    return None


def workflow_root() -> Path:
    """The folder holding workflow/, scripts/, envs/ and profiles/: the source tree, else the shipped copy."""
    root = source_tree()
    if root is not None:
        return root
    if (BUNDLE / SNAKEFILE).is_file():
        return BUNDLE
    raise ConfigError(
        f"workflow: no workflow/Snakefile in the source tree or in {BUNDLE}; reinstall the package "
        f"(pip install mlip-autopipec, or pip install -e . in the repository) or set {WORKFLOW_ENV} to a Snakefile"
    )


def find_snakefile() -> Path:
    """The Snakefile to run: $MLIP_AUTOPIPE_WORKFLOW, else the source tree's, else the shipped one."""
    given = os.environ.get(WORKFLOW_ENV)
    if given:
        if not Path(given).is_file():
            raise ConfigError(f"{WORKFLOW_ENV}: '{given}' is not a file; point it at a Snakefile or unset it")
        return Path(given)
    return workflow_root() / SNAKEFILE


def find_profile(profile: str, project: Path) -> str:
    """A --profile value for Snakemake: a folder as given, else the project's profiles/NAME, else the shipped one.

    'slurm' and 'profiles/slurm' both name profiles/slurm: the project's copy (``mlip-pipe init`` writes it) comes
    first, then the workflow's. Anything else goes to Snakemake as given (it also looks in ~/.config/snakemake).
    """
    given = Path(profile)
    if (project / given).is_dir():
        return profile
    parts = given.parts
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "profiles"):
        for root in (project, workflow_root()):
            candidate = root / "profiles" / parts[-1]
            if candidate.is_dir():
                return str(candidate)
    return profile


def copy_slurm_profile(project: Path) -> tuple[Path, bool]:
    """Copy the shipped SLURM profile to the project's profiles/slurm (with profiles/README.md) to edit there.

    An existing copy is kept as it is: it holds the user's partition and account. Returns its config and
    whether it was written now.
    """
    source = workflow_root() / "profiles"
    target = project / "profiles"
    config = target / "slurm" / "config.yaml"
    if (target / "slurm").exists():
        return config, False
    shutil.copytree(source / "slurm", target / "slurm", ignore=shutil.ignore_patterns("__pycache__"))
    if (source / "README.md").is_file() and not (target / "README.md").exists():
        shutil.copyfile(source / "README.md", target / "README.md")
    return config, True
