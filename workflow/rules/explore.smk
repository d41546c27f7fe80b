# Module B, first half: surrogate MD, one job per (start structure, temperature, ensemble).


rule explore:
    input:
        structure="results/iter_0/starts/start_{start}.extxyz",
    output:
        frames="results/iter_0/explore/start{start}_{ensemble}_{temperature}K.extxyz.gz",
        summary="results/iter_0/explore/start{start}_{ensemble}_{temperature}K.json",
    log:
        "logs/explore/start{start}_{ensemble}_{temperature}K.log",
    params:
        explore=used("explore", "steps", "supercell_atoms", "surrogate", "surrogate_model", "timestep_fs", "pressures"),
        seed=FULL.seed,
        version=VERSION,
    threads: request("explore", "threads")
    resources:
        cpus_per_task=request("explore", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("explore", "mem_mb"),
        runtime=request("explore", "runtime"),
        gpu=request("explore", "gpus"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/explore_md.py"
