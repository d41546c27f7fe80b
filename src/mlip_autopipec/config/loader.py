"""Read the user's YAML into a ``MinimalConfig``; every problem becomes one line naming key and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mlip_autopipec.config.models import MinimalConfig
from mlip_autopipec.errors import ConfigError


def describe_validation_error(error: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line for the first problem pydantic found: the dotted key, what is wrong, how to fix it."""
    first = error.errors()[0]
    key = prefix + ".".join(str(part) for part in first["loc"]) if first["loc"] else prefix.rstrip(".") or "config"
    kind = first["type"]
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields) if not first["loc"][:-1] else "see config/README.md"
        return f"{key}: unknown key; remove it or fix its spelling (known keys: {known})"
    if kind == "missing":
        return f"{key}: is required; add it to the config (e.g. 'composition: Si')"
    message = first["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {first.get('input')!r})"


def parse_yaml_text(text: str, source: str = "config") -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{source}: YAML syntax error{where} ({problem}); fix the indentation or quoting there") from None
    if data is None:
        raise ConfigError(f"{source}: is empty; write at least 'composition: Si'")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping of keys to values (e.g. 'composition: Si'), not a {type(data).__name__}")
    return data


def load_minimal_config(source: str | Path | dict[str, Any]) -> MinimalConfig:
    """Validate a YAML file path or an already-parsed mapping (Snakemake's ``config``)."""
    if isinstance(source, dict):
        data = dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file: '{path}' does not exist; create it (mlip-pipe init) or give the right path")
        data = parse_yaml_text(path.read_text(), source=str(path))
    try:
        config = MinimalConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, MinimalConfig)) from None
    if config.structures is not None and not Path(config.structures).is_file():
        raise ConfigError(
            f"structures: file '{config.structures}' does not exist (paths are relative to the working directory "
            f"{Path.cwd()}); fix the path or remove the key"
        )
    return config
