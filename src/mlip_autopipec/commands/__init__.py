"""One module per `mlip-pipe` command."""
