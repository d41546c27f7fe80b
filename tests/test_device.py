"""The config's ``device``: ``auto`` falls back to the CPU without CUDA, ``cuda`` without it is one line, and every
torch stage records where it ran.

No GPU here: where a test needs torch to see one, ``probe_cuda`` is replaced; where it needs torch to see none, the
cards are hidden with ``CUDA_VISIBLE_DEVICES=""``, so these tests mean the same on a GPU machine.
``benchmarks/gpu_speed.py`` is the check on a real GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator

from conftest import PYTHON, SNAKEFILE
from mlip_autopipec.config.expander import expand_config
from mlip_autopipec.config.models import ActiveLearningConfig, ExploreConfig, MinimalConfig
from mlip_autopipec.data.records import ExploreSummary, MaceMemberRecord, OtfJobSummary
from mlip_autopipec.potentials import device as device_module
from mlip_autopipec.potentials.committee import CommitteeCalculator, load_member
from mlip_autopipec.potentials.device import (
    CudaProbe,
    DeviceChoice,
    DeviceError,
    cpu_choice,
    job_device,
    requested_device,
    resolve_device,
    slurm_gpus,
)
from mlip_autopipec.potentials.lennard_jones import LennardJonesBaseline
from mlip_autopipec.potentials.mace_backend import mace_train_argv, trainer_env


@pytest.fixture()
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch sees no card, whatever this machine has."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture()
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Torch 'sees' one card."""
    probe = CudaProbe(True, "torch sees 1 CUDA device(s), the first a Test Card", "Test Card")
    monkeypatch.setattr(device_module, "probe_cuda", lambda: probe)


def test_auto_falls_back_to_the_cpu_without_cuda(no_cuda: None) -> None:
    choice = resolve_device("auto")
    assert (choice.requested, choice.resolved, choice.gpu) == ("auto", "cpu", None)
    assert "no CUDA here" in choice.why and ("CUDA_VISIBLE_DEVICES" in choice.why or "CPU-only" in choice.why)


def test_auto_takes_cuda_when_torch_sees_it(fake_gpu: None) -> None:
    choice = resolve_device("auto")
    assert (choice.resolved, choice.gpu) == ("cuda", "Test Card")
    assert resolve_device("cuda").resolved == "cuda"
    assert resolve_device("cpu").resolved == "cpu"  # an explicit cpu ignores the card


def test_cuda_without_cuda_is_one_line_with_the_fix(no_cuda: None) -> None:
    with pytest.raises(DeviceError) as caught:
        resolve_device("cuda")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("device: cuda was requested, but")
    assert "GPU node" in message and "device: auto" in message and "device: cpu" in message
    with pytest.raises(DeviceError, match="not one of auto, cpu, cuda"):
        resolve_device("gpu")


def test_cpu_never_imports_torch() -> None:
    code = (
        "import sys; from mlip_autopipec.potentials.device import resolve_device; "
        "print(resolve_device('cpu').resolved, 'torch' in sys.modules)"
    )
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]


def test_a_job_asking_cuda_without_it_exits_with_one_line_not_a_traceback(tmp_path: Path) -> None:
    """As a workflow script does it: the job's logger, then ``job_device``."""
    log = tmp_path / "job.log"
    code = (
        "from mlip_autopipec.joblog import job_logger; from mlip_autopipec.potentials.device import job_device; "
        f"job_device('cuda', job_logger('explore', {str(log)!r}))"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(lines) == 1 and "device: cuda was requested" in lines[0] and "device: auto" in lines[0], result.stderr
    assert "device: cuda was requested" in log.read_text()


def test_job_device_logs_the_choice_and_the_cpu_for_models_without_a_gpu_path(fake_gpu: None) -> None:
    import logging

    log = logging.getLogger("test_device")
    assert job_device("auto", log).resolved == "cuda"
    ace = job_device("cuda", log, torch_models=False, cpu_why="ACE members (pyace) run on the CPU")
    assert (ace.requested, ace.resolved, ace.why) == ("cuda", "cpu", "ACE members (pyace) run on the CPU")


def test_config_key_defaults_to_auto_and_rejects_other_names() -> None:
    assert MinimalConfig(composition="Si").device == "auto"
    assert expand_config({"composition": "Si", "device": "cuda"}).device == "cuda"
    with pytest.raises(ValueError, match="device"):
        MinimalConfig(composition="Si", device="gpu")  # type: ignore[arg-type]
    assert requested_device({}) == "auto" and requested_device({"device": "cpu"}) == "cpu"


class _Recorder(LennardJonesBaseline):
    """A Lennard-Jones stand-in for the surrogate that remembers which device it was asked for."""

    devices: list[str] = []

    @classmethod
    def factory(cls, name: str, model: str | None, device: str) -> tuple[Calculator, str]:
        cls.devices.append(device)
        return cls(sigma={"Si": 2.1}, epsilon=0.1), "lj-stand-in"


def test_the_exploration_summary_records_the_device(no_cuda: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mlip_autopipec.exploration import job

    monkeypatch.setattr(job, "make_surrogate", _Recorder.factory)
    _Recorder.devices.clear()
    explore = ExploreConfig(steps=4, supercell_atoms=2, timestep_fs=1.0)
    _, summary = job.run_exploration_job(bulk("Si", "diamond", 5.43), explore, temperature="300", ensemble="nvt", run_seed=1)
    assert _Recorder.devices == ["cpu"]
    summary.write(tmp_path / "summary.json")
    recorded = json.loads((tmp_path / "summary.json").read_text())["device"]
    assert recorded["requested"] == "auto" and recorded["resolved"] == "cpu" and "no CUDA here" in recorded["why"]
    assert ExploreSummary.read(tmp_path / "summary.json").device == summary.device


def test_the_committee_md_summary_records_the_device(tmp_path: Path) -> None:
    """The job records the device whatever its engine: MD and kMC evaluate the same committee calculator."""
    import ase.io

    from mlip_autopipec.active_learning.committee_runs import run_committee_job

    path = tmp_path / "start.extxyz"
    ase.io.write(path, bulk("Cu", "fcc", a=3.6, cubic=True))
    base = 2.55 / 2 ** (1 / 6)
    committee = CommitteeCalculator([LennardJonesBaseline(sigma={"Cu": base * (1 + f)}, epsilon=0.4) for f in (-0.02, 0.02)])
    choice = cpu_choice("cuda", "ACE members (pyace) run on the CPU")
    summary, _ = run_committee_job(
        [str(path)],
        committee,
        0.0,
        ActiveLearningConfig(md_steps=10, check_every=5),
        ExploreConfig(supercell_atoms=4),
        temperature_K=300.0,
        ensemble="nvt",
        run_seed=1,
        iteration=1,
        device=choice,
    )
    summary.write(tmp_path / "job.json")
    assert json.loads((tmp_path / "job.json").read_text())["device"]["why"] == "ACE members (pyace) run on the CPU"
    assert OtfJobSummary.read(tmp_path / "job.json").device == choice


def test_committee_members_are_loaded_on_the_device_their_backend_supports() -> None:
    calls: list[tuple[str, str]] = []

    class Torchy:
        def load(self, root: Path, member: object, extrapolation_grade: bool) -> str:
            calls.append(("load", "cpu"))
            return "model"

        def load_on(self, root: Path, member: object, extrapolation_grade: bool, device: str) -> str:
            calls.append(("load_on", device))
            return "model"

    class CpuOnly:
        def load(self, root: Path, member: object, extrapolation_grade: bool) -> str:
            calls.append(("load", "cpu"))
            return "model"

    for backend in (Torchy(), CpuOnly()):
        load_member(backend, Path("."), None, False, "cuda")  # type: ignore[arg-type]
    load_member(Torchy(), Path("."), None, False, "cpu")  # type: ignore[arg-type]
    assert calls == [("load_on", "cuda"), ("load", "cpu"), ("load", "cpu")]


@pytest.mark.parametrize("surrogate", ["chgnet", "auto"])
def test_the_chgnet_surrogate_is_put_on_the_requested_device(surrogate: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real CHGNet, asked for CUDA on a machine without it, must reach torch and fail there: the device is passed
    through (it once was dropped, and CHGNet then ran on the CPU of a GPU node)."""
    import torch

    from mlip_autopipec.potentials import surrogate as surrogate_module

    if torch.cuda.is_available():
        pytest.skip("torch sees a GPU here; benchmarks/gpu_speed.py checks the CUDA path")
    monkeypatch.setattr(surrogate_module, "cached_mace_model", lambda: None)  # auto: CHGNet, as on a machine without MACE-MP
    calc, name = surrogate_module.make_surrogate(surrogate, None, "cpu")
    assert name == "chgnet" and str(next(calc.model.parameters()).device) == "cpu"
    with pytest.raises((AssertionError, RuntimeError), match="CUDA"):
        surrogate_module.make_surrogate(surrogate, None, "cuda")


def test_mace_trains_where_the_device_says() -> None:
    from mlip_autopipec.potentials.mace_backend import mace_settings

    settings, _ = mace_settings(10, epochs=1)
    assert "--device=cuda" in mace_train_argv("train.extxyz", ["Si"], 1, settings, device="cuda")
    assert "--device=cpu" in mace_train_argv("train.extxyz", ["Si"], 1, settings)
    assert trainer_env(1, "cpu")["CUDA_VISIBLE_DEVICES"] == "" and "CUDA_VISIBLE_DEVICES" not in trainer_env(1, "cuda")


def test_a_mace_member_records_its_device(si_frames: list[Atoms], tmp_path: Path, no_cuda: None) -> None:
    """One real ``mace_run_train`` epoch on a few labels: ``member.json`` says where it trained."""
    from mlip_autopipec.potentials.baselines import make_baseline
    from mlip_autopipec.potentials.delta import delta_targets, reference_energies
    from mlip_autopipec.potentials.mace_backend import fit_mace_member, mace_settings

    frames = [atoms.copy() for atoms in si_frames[:8]]
    for atoms, source in zip(frames, si_frames[:8], strict=True):
        atoms.calc = source.calc
    baseline = make_baseline("zbl", ["Si"])
    references = reference_energies(delta_targets(si_frames, baseline), elements=["Si"])
    settings, _ = mace_settings(len(frames), epochs=1, options={"batch_size": 4})
    record = fit_mace_member(frames, tmp_path, ["Si"], baseline, references, settings, seed=3, device="auto")
    stored = MaceMemberRecord.read(tmp_path / "member.json")
    assert stored.device == record.device and stored.device is not None
    assert (stored.device.requested, stored.device.resolved) == ("auto", "cpu") and "--device=cpu" in stored.argv


def test_slurm_asks_a_gpu_only_for_torch_rules_under_cuda() -> None:
    assert slurm_gpus("cuda", True) == 1
    assert slurm_gpus("cuda", False) == 0 and slurm_gpus("auto", True) == 0 and slurm_gpus("cpu", True) == 0
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    class Resources(SimpleNamespace):
        def get(self, key: str, default: object = None) -> object:
            return getattr(self, key, default)

    assert set_gres_string(SimpleNamespace(resources=Resources(gpu=1))).strip() == "--gpus=1"
    assert set_gres_string(SimpleNamespace(resources=Resources(gpu=0))) == ""


@pytest.mark.workflow
def test_the_dry_run_asks_a_gpu_for_exploration_under_cuda(tmp_path: Path) -> None:
    config = {"composition": "Si", "device": "cuda", "explore": {"steps": 10, "starts": 1}, "train": {"backend": "mace"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/iter_0/explore/start0_nvt_300K.extxyz.gz"
    argv = [
        PYTHON,
        "-m",
        "snakemake",
        "-s",
        str(SNAKEFILE),
        "-d",
        str(tmp_path),
        "--configfile",
        "config.yaml",
        "-c",
        "1",
        "-n",
        target,
    ]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    blocks = {block.split(":", 1)[0].strip(): block for block in (result.stdout + result.stderr).split("rule ")[1:]}
    assert "gpu=1" in blocks["explore"] and "gpu=" not in blocks["generate"].split("Job stats")[0]
    assert yaml.safe_load((tmp_path / "results/exec_config_dump.yaml").read_text())["device"] == "cuda"


def test_a_choice_is_a_plain_record() -> None:
    choice = DeviceChoice(requested="auto", resolved="cuda", why="test", gpu="Test Card")
    assert DeviceChoice.model_validate_json(choice.model_dump_json()) == choice
