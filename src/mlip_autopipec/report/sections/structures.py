"""Section `structures`: how many structures of each origin are in each state, from the database index."""

from __future__ import annotations

from collections import Counter

from mlip_autopipec.data.database import STATES, StructureIndex
from mlip_autopipec.report.page import Section, missing, paragraph, table
from mlip_autopipec.report.run_files import RunFiles


def origin_state_counts(run: RunFiles) -> Counter[tuple[str, str]]:
    """(origin, state) -> structures, over every row of ``results/database.db``."""
    index = StructureIndex(run.database)
    return Counter((str(row.get("origin", "unknown")), str(row.state)) for row in index.rows())


def section(run: RunFiles) -> Section:
    part = Section("structures", "Structures per origin and state")
    if not run.database.is_file():
        return part.add(
            missing(f"No database index yet: {run.database} is written when the first iteration's labels are ingested.")
        )
    counts = origin_state_counts(run)
    if not counts:
        return part.add(missing(f"{run.database} holds no structure."))
    origins = sorted({origin for origin, _ in counts})
    states = [s for s in STATES if any(state == s for _, state in counts)] + sorted({s for _, s in counts} - set(STATES))
    rows = [(origin, *(counts[(origin, s)] for s in states), sum(counts[(origin, s)] for s in states)) for origin in origins]
    rows.append(("all", *(sum(counts[(o, s)] for o in origins) for s in states), sum(counts.values())))
    part.add(
        paragraph(
            f"Every structure the run recorded in {run.database.name} (the ASE database index), by the generator or stage "
            "it came from and the furthest state it reached."
        ),
        table(("origin", *states, "total"), rows),
    )
    return part
