"""The JSON Schema of the minimal config, generated from the pydantic models so it never drifts from them.

Why a file at all: editors (VS Code's YAML extension, PyCharm) complete and check ``config/config.yaml``
against it, and the Snakefile hands it to Snakemake's ``validate``. ``python -m mlip_autopipec.config.schema``
rewrites it; a test fails when the committed file differs from the models.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mlip_autopipec.config.models import FullConfig, MinimalConfig

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.json"


def config_schema() -> dict[str, Any]:
    """MinimalConfig's JSON Schema (draft 2020-12), titled and with the file's purpose as its description.

    A section (``dft:``, ``train:``, ...) is a partial override of the expanded section, so its schema is that
    section's model with nothing required: an editor then completes and checks keys inside sections too.
    """
    schema = MinimalConfig.model_json_schema()
    full = FullConfig.model_json_schema()
    definitions = full.get("$defs", {})
    for definition in definitions.values():
        definition.pop("required", None)
    for name, field in FullConfig.model_fields.items():
        model = field.annotation
        if name in schema["properties"] and isinstance(model, type) and issubclass(model, BaseModel):
            reference = {"$ref": f"#/$defs/{model.__name__}"}
            schema["properties"][name]["anyOf"] = [reference, {"type": "null"}]
    schema["$defs"] = definitions
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "MLIP-AutoPipe config"
    schema["description"] = "The minimal config of mlip-pipe (config/README.md explains every key)."
    return schema


def schema_text() -> str:
    """The schema as the committed file holds it (sorted keys, stable across runs)."""
    return json.dumps(config_schema(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema (to the path given, else the workflow's ``schemas/config.schema.json``)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else SCHEMA_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(schema_text())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
