# Module E: committee MD that hands uncertain structures back to labelling, and the loop's decision.


rule simulate_md:
    input:
        manifest=lambda wildcards: f"{models(int(wildcards.iteration) - 1)}/committee.json",
        threshold=lambda wildcards: f"{models(int(wildcards.iteration) - 1)}/threshold.json",
        starts=simulation_starts(),
    output:
        frames="results/iter_{iteration}/simulate/{ensemble}_{temperature}K.extxyz",
        summary="results/iter_{iteration}/simulate/{ensemble}_{temperature}K.json",
    log:
        "logs/simulate/iter_{iteration}/{ensemble}_{temperature}K.log",
    params:
        explore=used("explore", "supercell_atoms", "timestep_fs"),
        active_learning=used(
            "active_learning", "engine", "md_steps", "check_every", "max_uncertain_per_run", "kmc_steps", "kmc_searches"
        ),
        seed=FULL.seed,
        version=VERSION,
    threads: request("simulate_md", "threads")
    resources:
        cpus_per_task=request("simulate_md", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("simulate_md", "mem_mb"),
        runtime=request("simulate_md", "runtime"),
        gpu=request("simulate_md", "gpus"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/simulate_md.py"


checkpoint simulate:
    input:
        manifest=lambda wildcards: f"{models(int(wildcards.iteration) - 1)}/committee.json",
        threshold=lambda wildcards: f"{models(int(wildcards.iteration) - 1)}/threshold.json",
        frames=lambda wildcards: [f"{job}.extxyz" for job in md_jobs(wildcards.iteration)],
        summaries=lambda wildcards: [f"{job}.json" for job in md_jobs(wildcards.iteration)],
        metrics=lambda wildcards: [f"{models(k)}/metrics.json" for k in range(int(wildcards.iteration))],
        labels=previous_labels,
        validation=lambda wildcards: iteration_validation(int(wildcards.iteration) - 1),
    output:
        folder=directory("results/iter_{iteration,[1-9][0-9]*}/selected"),
        status="results/iter_{iteration}/status.json",
    log:
        "logs/simulate/iter_{iteration}/decision.log",
    params:
        active_learning=used(
            "active_learning",
            "converged_uncertain_fraction",
            "min_error_improvement",
            "target_force_rmse",
            "extraction_max_whole_atoms",
            "extraction_buffer",
            "duplicate_distance",
        ),
        elements=FULL.elements,
        per_iteration=FULL.select.per_iteration,
        dft_budget=FULL.dft_budget,
        labels_so_far=lambda wildcards, input: len(input.labels),
        version=VERSION,
    threads: request("default", "threads")
    resources:
        cpus_per_task=request("default", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("default", "mem_mb"),
        runtime=request("default", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/simulate_select.py"


rule finalize:
    input:
        unpack(final_inputs),
    output:
        manifest="results/final/committee.json",
        readme="results/final/README.md",
        export="results/final/export.json",
    log:
        "logs/finalize.log",
    params:
        version=VERSION,
    localrule: True
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/finalize.py"
