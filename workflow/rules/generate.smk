# Module A: starting structures from the composition (skipped when generate.enabled is false),
# and the start structures of the surrogate exploration.


rule generate:
    output:
        structures="results/iter_0/generated.extxyz",
        summary="results/iter_0/generated_summary.json",
        starts=expand("results/iter_0/starts/start_{start}.extxyz", start=range(FULL.explore.starts)),
    log:
        "logs/generate.log",
    params:
        composition=FULL.composition,
        seed=FULL.seed,
        system=used("system", "bonding_type", "molecule"),
        generate=used(
            "generate",
            "target_atoms",
            "rattle_temperatures",
            "strained_per_temperature",
            "max_volumetric_strain",
            "max_shear_strain",
            "relaxed_strained",
            "vacancies",
            "antisites",
            "surfaces",
            "surface_layers",
            "sqs_sizes",
            "sqs_concentration_shifts",
            "sqs_annealing_steps",
            "random_cells",
            "relax_prototype",
            "prototype_window_ev_per_atom",
            "search_random_cells",
            "nms_samples_per_temperature",
            "dimer_points",
            "trimer_points",
            "scan_max_factor",
            "min_distance_factor",
        ),
        surrogate={"name": FULL.explore.surrogate, "model": FULL.explore.surrogate_model},
        version=VERSION,
    threads: request("generate", "threads")
    resources:
        cpus_per_task=request("generate", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("generate", "mem_mb"),
        runtime=request("generate", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/generate_structures.py"
