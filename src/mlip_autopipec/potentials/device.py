"""Where the torch models run: the config's ``device: auto | cpu | cuda``, resolved to ``cpu`` or ``cuda`` with the reason.

Why one module: surrogate exploration, MACE training and committee MD/kMC must agree on what ``auto`` means
(CUDA when torch sees it, else the CPU), record the same facts in their outputs, and turn ``cuda`` on a machine
without CUDA into one line that names the problem and the fix instead of a torch traceback deep inside a job.
Torch is imported only when CUDA has to be looked for, so ``device: cpu`` never pays for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ase.calculators.calculator import Calculator
from pydantic import BaseModel, ConfigDict, Field

from mlip_autopipec.errors import UserInputError

DeviceName = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
FIX = (
    "run the job on a GPU node with a CUDA build of torch (under SLURM, profiles/README.md says how the profile asks "
    "for the GPU), or set 'device: auto' (CUDA when present, else the CPU) or 'device: cpu' in the config"
)


class DeviceError(UserInputError):
    """``device: cuda`` where torch sees no CUDA device, or a device name that is not auto, cpu or cuda."""


class DeviceChoice(BaseModel):
    """Where one job's torch models ran and why; recorded in the job's metadata JSON as ``device``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requested: DeviceName = Field(description="The config's 'device' (auto, cpu or cuda).")
    resolved: Literal["cpu", "cuda"] = Field(description="Where the models ran.")
    why: str = Field(description="The reason for 'resolved', in words (what torch saw).")
    gpu: str | None = Field(default=None, description="The CUDA card's name when 'resolved' is cuda; None on the CPU.")


@dataclass(frozen=True)
class CudaProbe:
    """What torch sees of CUDA on this machine."""

    available: bool
    detail: str
    gpu: str | None = None


def probe_cuda() -> CudaProbe:
    """Ask torch whether a CUDA device is usable here; ``detail`` says why not (CPU-only build, hidden, no GPU)."""
    import torch

    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if torch.version.cuda is None:
        return CudaProbe(False, f"torch {torch.__version__} is a CPU-only build")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return CudaProbe(False, f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU")
    if not torch.cuda.is_available():
        return CudaProbe(False, f"torch {torch.__version__} sees no CUDA device (no GPU or no driver on this node)")
    name = torch.cuda.get_device_name(0)
    return CudaProbe(True, f"torch sees {torch.cuda.device_count()} CUDA device(s), the first a {name}", name)


def cpu_choice(requested: str, why: str) -> DeviceChoice:
    """The CPU, for a reason other than the probe (the models have no GPU path, or the config says cpu)."""
    return DeviceChoice(requested=_checked(requested), resolved="cpu", why=why)


def resolve_device(requested: str) -> DeviceChoice:
    """``auto``: CUDA when torch sees it, else the CPU; ``cpu``; ``cuda``, or ``DeviceError`` (problem and fix) without it."""
    name = _checked(requested)
    if name == "cpu":
        return cpu_choice(name, "device: cpu in the config")
    probe = probe_cuda()
    if probe.available:
        return DeviceChoice(requested=name, resolved="cuda", why=f"device: {name}; {probe.detail}", gpu=probe.gpu)
    if name == "auto":
        return cpu_choice(name, f"device: auto and no CUDA here ({probe.detail}), so the CPU")
    raise DeviceError(f"device: cuda was requested, but {probe.detail}; {FIX}")


def as_choice(device: DeviceChoice | str) -> DeviceChoice:
    """A resolved choice as it is; a device name resolved here."""
    return device if isinstance(device, DeviceChoice) else resolve_device(device)


def _checked(requested: str) -> DeviceName:
    name = str(requested).strip().lower()
    if name == "auto":
        return "auto"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        return "cuda"
    raise DeviceError(f"device: '{requested}' is not one of {', '.join(DEVICES)}; set device: auto, cpu or cuda")


def requested_device(config: Mapping[str, Any] | None) -> str:
    """The run's ``device`` (default ``auto``, also for a stand-in ``snakemake`` without a config) from Snakemake's config.

    Why the config and not a rule param: the device changes where a job runs, not what it computes (CPU and
    GPU agree within float tolerance), so switching it must not make Snakemake rerun finished jobs.
    """
    return str((config or {}).get("device") or "auto")


def job_device(requested: str, log: logging.Logger, *, torch_models: bool = True, cpu_why: str = "") -> DeviceChoice:
    """The device of one workflow job, logged; ``torch_models`` False (e.g. ACE members): the CPU, for ``cpu_why``.

    Ends the job when the device cannot be had: one line naming the problem and the fix, logged (the job's log and
    stderr), then ``SystemExit`` with ``UserInputError``'s status 2, so no torch traceback buries it.
    """
    try:
        choice = resolve_device(requested) if torch_models else cpu_choice(requested, cpu_why or "no torch models here")
    except DeviceError as error:
        log.error("%s", error)
        raise SystemExit(error.exit_code) from None
    log.info("device: %s (%s)", choice.resolved, choice.why)
    return choice


def slurm_gpus(device: str, torch_models: bool) -> int:
    """GPUs a SLURM job asks for: one for a job whose torch models run on ``device: cuda``, else none.

    Why ``auto`` asks none: a job that asked no GPU sees none (SLURM hides unallocated cards), so ``auto`` runs on
    the CPU there; set ``device: cuda`` to have the torch rules queued for GPUs.
    """
    return 1 if torch_models and str(device).strip().lower() == "cuda" else 0


@runtime_checkable
class LoadsOnDevice(Protocol):
    """A training backend whose members are torch models that can be placed on a device (MACE; ACE is CPU-only)."""

    def load_on(self, root: Path, member: Any, extrapolation_grade: bool, device: str) -> Calculator:
        """The bare model calculator of a manifest entry, on ``device`` (``cpu`` or ``cuda``)."""
        ...
