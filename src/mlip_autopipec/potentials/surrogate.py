"""The surrogate universal potential, as one ASE calculator: MACE-MP when its weights are here, else CHGNet.

MACE-MP downloads its weights at run time, which fails without a network; CHGNet ships its weights
inside its wheel and always works offline. ``auto`` takes MACE-MP only when a model file is given or
already sits in MACE's cache, so an offline machine never stalls on a download.

``device`` is where torch runs the model (``cpu`` or ``cuda``, as ``potentials.device.resolve_device`` chose);
the CPU is the default so callers that never chose (structure generation, benchmarks) keep running there.
"""

from __future__ import annotations

import os
from pathlib import Path

from ase.calculators.calculator import Calculator

from mlip_autopipec.errors import UserInputError

MACE_CACHE = Path.home() / ".cache" / "mace"
MACE_MP_URL = "https://github.com/ACEsuit/mace-mp/releases (e.g. mace-mp-0b3-medium.model)"


class SurrogateError(UserInputError):
    """The requested surrogate cannot be loaded here."""


def _torch_env() -> None:
    # torch >= 2.6 loads weights-only by default, which the MACE and SevenNet checkpoints predate.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def cached_mace_model() -> Path | None:
    """A MACE-MP model file already in MACE's download cache, if any."""
    if not MACE_CACHE.is_dir():
        return None
    models = sorted(MACE_CACHE.glob("*.model"))
    return models[0] if models else None


def load_mace(model_path: str | Path, device: str = "cpu") -> Calculator:
    _torch_env()
    path = Path(model_path)
    if not path.is_file():
        raise SurrogateError(
            f"explore.surrogate_model: '{path}' does not exist; download a MACE-MP model from {MACE_MP_URL} "
            f"to that path (or into {MACE_CACHE} and leave surrogate_model unset), or use 'surrogate: chgnet'"
        )
    from mace.calculators import MACECalculator

    try:
        return MACECalculator(model_paths=str(path), device=device, default_dtype="float64")
    except Exception as error:  # a corrupt file, or a model saved under another mace/e3nn version
        raise SurrogateError(
            f"explore.surrogate_model: cannot load '{path}' as a MACE model ({type(error).__name__}: {error}); "
            "give a model saved with the installed mace-torch, or use 'surrogate: chgnet'"
        ) from error


def load_chgnet(device: str = "cpu") -> Calculator:
    _torch_env()
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(use_device=device)


def load_sevenn(device: str = "cpu") -> Calculator:
    _torch_env()
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError:
        raise SurrogateError("explore.surrogate: 'sevenn' is not installed; pip install sevenn==0.10.4 or use 'chgnet'") from None
    return SevenNetCalculator("7net-0", device=device)


def make_surrogate(name: str = "auto", model_path: str | None = None, device: str = "cpu") -> tuple[Calculator, str]:
    """(calculator, the name of what was loaded) for ``auto``, ``mace-mp``, ``chgnet`` or ``sevenn``, on ``device``."""
    if name == "mace-mp":
        path = model_path or cached_mace_model()
        if path is None:
            raise SurrogateError(
                f"explore.surrogate: no MACE-MP weights on this machine; download one from {MACE_MP_URL} into "
                f"{MACE_CACHE} or set explore.surrogate_model to its path, or use 'surrogate: chgnet'"
            )
        return load_mace(path, device), f"mace-mp:{Path(path).name}"
    if name == "auto":
        path = model_path or cached_mace_model()
        if path is not None:
            return load_mace(path, device), f"mace-mp:{Path(path).name}"
        return load_chgnet(device), "chgnet"
    if name == "chgnet":
        return load_chgnet(device), "chgnet"
    if name == "sevenn":
        return load_sevenn(device), "sevenn:7net-0"
    raise SurrogateError(f"explore.surrogate: unknown surrogate '{name}'; use auto, mace-mp, chgnet or sevenn")
