"""Ships the Snakemake workflow inside the wheel, so that `pip install mlip-autopipec` can run `mlip-pipe run`.

Why a build hook and not a move: workflow/, scripts/, envs/ and profiles/ stay at the repository's top level (users
run `snakemake` there, and the editable install reads them in place); a wheel build copies them into
mlip_autopipec/_workflow_bundle/ with the same layout, so the rules' "../../scripts/x.py" and
"../../envs/pipeline.yaml" still resolve. MANIFEST.in puts the same files in the sdist. Metadata: pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLE = Path("mlip_autopipec", "_workflow_bundle")  # inside the built package; mlip_autopipec/workflow_files.py reads it
# Top-level folder -> glob patterns of the files the workflow needs at run time (keep MANIFEST.in in step).
WORKFLOW_FILES = {
    "workflow": ["Snakefile", "rules/*.smk", "report/*.rst", "schemas/*.json"],
    "scripts": ["*.py"],
    "envs": ["pipeline.yaml"],
    "profiles": ["README.md", "*/*.yaml"],
}


def workflow_files() -> list[Path]:
    """The files to bundle, relative to the project root; a missing Snakefile stops the build (a broken sdist)."""
    if not (ROOT / "workflow" / "Snakefile").is_file():
        raise SystemExit(f"setup.py: {ROOT / 'workflow' / 'Snakefile'} is missing; build from the repository or a full sdist")
    files = {
        path.relative_to(ROOT)
        for folder, patterns in WORKFLOW_FILES.items()
        for p in patterns
        for path in (ROOT / folder).glob(p)
    }
    return sorted(path for path in files if (ROOT / path).is_file())


class BuildPyWithWorkflow(build_py):
    """build_py, then the workflow's files into the built package (not for editable installs: they use the tree)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / BUNDLE
        shutil.rmtree(target, ignore_errors=True)  # a file deleted from the tree must not linger in the next wheel
        for relative in workflow_files():
            self.mkpath(str((target / relative).parent))
            self.copy_file(str(ROOT / relative), str(target / relative))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return outputs + [str(Path(self.build_lib) / BUNDLE / relative) for relative in workflow_files()]


setup(cmdclass={"build_py": BuildPyWithWorkflow})
