"""MLIP-AutoPipe: from a composition to a validated, delta-learned MLIP committee."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlip-autopipec")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
