"""Read the user's YAML into a ``MinimalConfig``; every problem becomes one line naming key and fix."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlip_autopipec.config.models import MinimalConfig
from mlip_autopipec.errors import ConfigError

# How to fix a value of the wrong type; constraint errors (greater than, one of ...) already say it in pydantic's words.
TYPE_FIXES = {
    "int_parsing": "give a whole number",
    "int_type": "give a whole number",
    "int_from_float": "give a whole number",
    "float_parsing": "give a plain number without units (e.g. 300, not 300K)",
    "float_type": "give a plain number without units",
    "bool_parsing": "give true or false",
    "bool_type": "give true or false",
    "string_type": "give one value in quotes (e.g. 'Si' or 'my_structures.extxyz')",
    "list_type": "write it as a list in brackets, e.g. [300, 900]",
    "dict_type": "indent its keys under it (a mapping), or remove it",
    "model_type": "indent its keys under it (a mapping), or remove it",
}


def _sub_model(model: type[BaseModel], path: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The nested model that holds the key at ``path`` (``("mpi",)`` in ``LabelConfig`` is ``MPIConfig``)."""
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        candidates = [annotation, *typing.get_args(annotation)]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def unknown_key_message(key: str, loc: tuple[int | str, ...], model: type[BaseModel]) -> str:
    """Why one message per typo: the closest known key is what a hurried user meant nearly every time."""
    holder = _sub_model(model, loc[:-1])
    known = [name for name in holder.model_fields if name != "why"] if holder is not None else []
    close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"{key}: unknown key; did you mean '{close[0]}'?"
    listing = f"known keys: {', '.join(known)}" if known else "see config/README.md"
    return f"{key}: unknown key; remove it or fix its spelling ({listing})"


def _first_error(error: ValidationError) -> ErrorDetails:
    """A misspelt key shows up twice (unknown key + required key missing); the unknown key is the one to fix."""
    errors = error.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    return unknown[0] if unknown else errors[0]


def describe_validation_error(error: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line for the first problem pydantic found: the dotted key, what is wrong, how to fix it."""
    first = _first_error(error)
    key = prefix + ".".join(str(part) for part in first["loc"]) if first["loc"] else prefix.rstrip(".") or "config"
    kind = first["type"]
    if kind == "extra_forbidden":
        return unknown_key_message(key, first["loc"], model)
    if kind == "missing":
        return f"{key}: is required; add it to the config (e.g. 'composition: Si')"
    given = first.get("input")
    if given is None:
        return f"{key}: has no value; give one after the colon or remove the key"
    message = first["msg"].removeprefix("Value error, ")
    return f"{key}: {message} (got {given!r})" + _fix_for(kind, message)


def _fix_for(kind: str, message: str) -> str:
    """The fix after the problem; pydantic's constraint messages name the allowed range, not what to do."""
    if kind in TYPE_FIXES:
        return f"; {TYPE_FIXES[kind]}"
    if ";" in message:  # our validators' messages carry their fix
        return ""
    if kind in ("literal_error", "enum"):
        return "; pick one of these, or remove the key to use the default"
    return "; change the value, or remove the key to use the default"


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` keeps the last of two equal keys silently; a pasted second block must not win unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                line = key_node.start_mark.line + 1
                raise ConfigError(f"{key}: is given twice (again at line {line}); keep one of the two")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_error_message(exc: yaml.YAMLError, source: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return (
            f"{source}: has the control character {chr(exc.character)!r} at character {exc.position}; "
            "remove it (save the config as plain text)"
        )
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "syntax error"
    if "\\t" in problem or "\t" in problem:
        fix = "replace the tab with spaces"
    elif "another document" in problem:
        fix = "keep one document: remove the '---' line and what follows, or merge the keys"
    else:
        fix = "fix the indentation or quoting there"
    return f"{source}: YAML syntax error{where} ({problem}); {fix}"


def parse_yaml_text(text: str, source: str = "config") -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error_message(exc, source)) from None
    if data is None:
        raise ConfigError(f"{source}: is empty; write at least 'composition: Si'")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: must be a mapping of keys to values (e.g. 'composition: Si'), not a {type(data).__name__}; "
            "write one 'key: value' per line"
        )
    return data


def read_config_text(path: Path) -> str:
    """The config file's text, or one line saying why it cannot be the config."""
    if path.is_dir():
        raise ConfigError(f"config file: '{path}' is a directory; give the YAML file in it (e.g. '{path / 'config.yaml'}')")
    if not path.is_file():
        raise ConfigError(f"config file: '{path}' does not exist; create it (mlip-pipe init) or give the right path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file: '{path}' is not a text file (binary or not UTF-8); give the YAML config (mlip-pipe init Si writes one)"
        ) from None


def _check_composition_value(data: dict[str, Any]) -> None:
    """``composition:`` with nothing after it is an empty formula, not a type error."""
    if "composition" in data and (data["composition"] is None or str(data["composition"]).strip() == ""):
        raise ConfigError("composition: is empty; give a chemical formula such as 'Si', 'FePt' or 'H2O'")


def _check_structures(config: MinimalConfig, read_file: bool) -> None:
    """The ``structures:`` file exists and, when ``read_file``, holds usable structures of the composition."""
    if config.structures is None:
        if config.generate is not None and config.generate.get("enabled") is False:
            raise ConfigError(
                "generate.enabled: is false and no 'structures:' file is given; nothing to label, "
                "give 'structures: <file>' or remove 'enabled: false'"
            )
        return
    path = Path(config.structures)
    if not config.structures.strip():
        raise ConfigError("structures: is empty; give the path of a structure file or remove the key")
    if not path.exists():
        raise ConfigError(
            f"structures: file '{config.structures}' does not exist (paths are relative to the working directory "
            f"{Path.cwd()}); fix the path or remove the key"
        )
    if read_file:
        from mlip_autopipec.data.structure_files import read_structures  # lazy: ASE's readers only when needed
        from mlip_autopipec.structures.composition import parse_composition

        read_structures(path, sorted(parse_composition(config.composition)))


def load_minimal_config(source: str | Path | dict[str, Any]) -> MinimalConfig:
    """Validate a YAML file path or an already-parsed mapping (Snakemake's ``config``).

    From a file (the CLI), the structure file is read too, so ``check`` and ``run`` catch a bad one before Snakemake
    starts; Snakemake's ``common.smk`` reads it itself.
    """
    if isinstance(source, dict):
        data = dict(source)
    else:
        path = Path(source)
        data = parse_yaml_text(read_config_text(path), source=str(path))
    _check_composition_value(data)
    try:
        config = MinimalConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, MinimalConfig)) from None
    _check_structures(config, read_file=not isinstance(source, dict))
    return config
