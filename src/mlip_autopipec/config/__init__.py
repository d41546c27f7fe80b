"""Two-tier configuration: the minimal user input and the full, expanded execution config.

The names below load on first use (PEP 562): a job that needs only the models (every Snakemake script) then
skips the expander's imports (pymatgen, the prototype table), seconds of start-up per job.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlip_autopipec.config.expander import ConfigExpander, expand_config
    from mlip_autopipec.config.loader import load_minimal_config
    from mlip_autopipec.config.models import DFTConfig, FullConfig, LabelConfig, MinimalConfig

_WHERE = {
    "ConfigExpander": "expander",
    "expand_config": "expander",
    "load_minimal_config": "loader",
    "DFTConfig": "models",
    "FullConfig": "models",
    "LabelConfig": "models",
    "MinimalConfig": "models",
}

__all__ = [
    "ConfigExpander",
    "DFTConfig",
    "FullConfig",
    "LabelConfig",
    "MinimalConfig",
    "expand_config",
    "load_minimal_config",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"mlip_autopipec.config.{_WHERE[name]}"), name)
