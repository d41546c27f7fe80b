"""Stage `ingest` and the run's files: what every other stage reads and writes.

``records`` (every JSON run file as a typed document), ``ids`` (content-hash structure ids), ``atomic_io``
(write-then-rename), ``structure_files`` and ``trajectories`` (structure and frame files), ``seeds`` (per-job
seeds), ``label_cache`` (DFT labels that outlive ``results/``), ``database`` and ``ingest`` (the ASE database
index, written by one job per iteration), ``run_summary`` (per-iteration facts for ``mlip-pipe status``).
"""
