# The only writer of results/database.db: one job per iteration, after all its labels exist.


rule ingest:
    input:
        unpack(ingest_inputs),
    output:
        summary="results/iter_{iteration}/ingested.json",
    log:
        "logs/ingest/iter_{iteration}.log",
    params:
        database="results/database.db",
        stop_fraction=FULL.label.stop_failed_fraction,
        stop_min_labels=FULL.label.stop_failed_min_labels,
        version=VERSION,
    localrule: True
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/ingest.py"
