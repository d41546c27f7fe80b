# What iteration 0 labels. With 'structures:' in the config these are the user's structures: their
# content ids are known when the DAG is built, so `snakemake -n` lists every label job. (The
# explorer's DIRECT sampler, a later stage, selects from surrogate MD frames behind a checkpoint.)


rule import_structures:
    input:
        structures=FULL.structures,
    output:
        expand("results/iter_0/selected/{sid}.extxyz", sid=USER_IDS),
    log:
        "logs/select/import_structures.log",
    params:
        elements=FULL.elements,
        version=VERSION,
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/import_structures.py"
