"""One module per section of the report; each has ``section(run, ...) -> Section`` and never raises for a missing file."""
