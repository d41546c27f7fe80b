"""The config values one rule declared in its params, and nothing else: so Snakemake reruns exactly what changed.

Snakemake reruns a job when its params change. A rule that received whole config sections reran for every edit
of any key in them (and of the explanatory ``why`` texts); a rule that received too few keys would silently use a
default instead of the run's value. ``declared_section`` closes both holes: a script builds its section from the
keys its rule lists (``used(...)`` in ``rules/common.smk``), and reading any other field of that section raises
``UndeclaredConfigKey`` naming the rule file to fix, so a job can never depend on a value that is not in its params.

What an undeclared read does:

- ``MLIP_STRICT_CONFIG_READS=1`` (the test suite sets it): raise ``UndeclaredConfigKey``, naming the rule to fix;
- otherwise (a user's run): read the run's own value from its config (expanded again, once per job), log a
  warning naming the rule to fix, and go on: the job is right, only its rerun trigger is incomplete;
- ``MLIP_RECORD_CONFIG_READS=<file>``: record every field a job reads (one JSON line per read: rule, section,
  field), which is how the key lists in the rules were drawn up, and how to redraw them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)
RECORD_ENV = "MLIP_RECORD_CONFIG_READS"
STRICT_ENV = "MLIP_STRICT_CONFIG_READS"
logger = logging.getLogger(__name__)


class UndeclaredConfigKey(KeyError):
    """A job read a config value its rule did not pass: the rule's params (its rerun trigger) are incomplete."""

    def __str__(self) -> str:
        return str(self.args[0])


def _record(path: str, rule: str, section: str, field: str) -> None:
    with open(path, "a") as stream:
        stream.write(json.dumps({"rule": rule, "section": section, "field": field}) + "\n")


def declared_section(
    model: type[ModelT],
    values: Mapping[str, Any],
    rule: str,
    section: str,
    run_config: Mapping[str, Any] | None = None,
) -> ModelT:
    """``model`` validated from ``values`` (the keys rule ``rule`` passed), guarding every field it was not given.

    The instance is a real ``model`` (isinstance holds, ``model_dump`` works); only reading an undeclared field
    differs (see the module docstring). ``run_config``: the run's raw config (``snakemake.config``), from which
    an undeclared value is taken outside strict mode.
    """
    allowed = frozenset(values)
    fields = frozenset(model.model_fields)
    record_to = os.environ.get(RECORD_ENV)
    strict = os.environ.get(STRICT_ENV, "") not in ("", "0")
    full_section: list[BaseModel] = []  # expanded on the first undeclared read only

    def undeclared(name: str) -> Any:
        message = (
            f"rule {rule} read {section}.{name}, which its params do not pass; add it to the rule's "
            f"used('{section}', ...) in workflow/rules so that editing it reruns the rule"
        )
        if strict or run_config is None:
            raise UndeclaredConfigKey(message)
        if not full_section:
            from mlip_autopipec.config.expander import expand_config

            full_section.append(getattr(expand_config(dict(run_config)), section))
        logger.warning("%s (used the run's value)", message)
        return getattr(full_section[0], name)

    class Declared(model):  # type: ignore[valid-type,misc]
        def __getattribute__(self, name: str) -> Any:
            if name in fields:
                if record_to:
                    _record(record_to, rule, section, name)
                elif name not in allowed:
                    return undeclared(name)
            return super().__getattribute__(name)

    Declared.__name__ = Declared.__qualname__ = model.__name__
    validated = model.model_validate(dict(values))  # the model's own validators, unguarded
    return Declared.model_construct(_fields_set=validated.model_fields_set, **dict(validated))
