# What iteration 0 labels.
# - The user's structures ('structures:' in the config): their content ids are known when the DAG is
#   built, so `snakemake -n` lists each of their label jobs.
# - Generated structures: the checkpoint `select` picks the most informative ones with DIRECT
#   sampling and writes one file per structure; the label jobs appear once it has run.


rule import_structures:
    input:
        structures=FULL.structures or [],
    output:
        expand("results/iter_0/user/{sid}.extxyz", sid=USER_IDS),
    log:
        "logs/select/import_structures.log",
    params:
        elements=FULL.elements,
        version=VERSION,
    threads: request("default", "threads")
    resources:
        cpus_per_task=request("default", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("default", "mem_mb"),
        runtime=request("default", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/import_structures.py"


checkpoint select:
    input:
        generated="results/iter_{iteration}/generated.extxyz",
        explored=explored_frames(),
    output:
        folder=directory("results/iter_{iteration,0}/selected"),
        summary="results/iter_{iteration}/selection.json",
    log:
        "logs/select/iter_{iteration}.log",
    params:
        select=used("select", "initial_structures", "cluster_fraction", "strain_fraction"),
        elements=FULL.elements,
        seed=FULL.seed,
        version=VERSION,
    threads: request("default", "threads")
    resources:
        cpus_per_task=request("default", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("default", "mem_mb"),
        runtime=request("default", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/select_structures.py"
