"""Two-tier configuration: the minimal user input and the full, expanded execution config."""

from mlip_autopipec.config.expander import ConfigExpander, expand_config
from mlip_autopipec.config.loader import load_minimal_config
from mlip_autopipec.config.models import DFTConfig, FullConfig, LabelConfig, MinimalConfig

__all__ = [
    "ConfigExpander",
    "DFTConfig",
    "FullConfig",
    "LabelConfig",
    "MinimalConfig",
    "expand_config",
    "load_minimal_config",
]
