# Stage `validate`: the delivered committee's properties next to DFT from the same engine (label cache first).


rule validate:
    input:
        manifest="results/final/committee.json",
        generated=ranked_crystal_input,
    output:
        report="results/validation/validation.json",
    log:
        "logs/validate.log",
    params:
        composition=FULL.composition,
        elements=FULL.elements,
        seed=FULL.seed,
        temperatures=FULL.temperatures,
        timestep_fs=FULL.explore.timestep_fs,
        system=used("system", "bonding_type", "molecule"),
        dft=dft_params(),
        label=used("label", *LABEL_KEYS),
        validation=used("validation", *VALIDATION_KEYS),
        skip=[],
        surrogate=FULL.explore.surrogate,
        surrogate_model=FULL.explore.surrogate_model,
        version=VERSION,
    threads: request("validate", "threads")
    resources:
        tasks=request("validate", "tasks"),
        cpus_per_task=1,
        mpi=mpi_job("validate"),
        mem_mb=request("validate", "mem_mb"),
        runtime=request("validate", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/validate.py"


rule validate_iteration:
    """Each iteration's committee, every check but validation.iteration_skips: the stopping rule's evidence."""
    input:
        manifest="results/iter_{iteration}/models/committee.json",
        generated=ranked_crystal_input,
    output:
        report="results/iter_{iteration}/validation/validation.json",
    log:
        "logs/validate/iter_{iteration}.log",
    params:
        composition=FULL.composition,
        elements=FULL.elements,
        seed=FULL.seed,
        temperatures=FULL.temperatures,
        timestep_fs=FULL.explore.timestep_fs,
        system=used("system", "bonding_type", "molecule"),
        dft=dft_params(),
        label=used("label", *LABEL_KEYS),
        validation=used("validation", *VALIDATION_KEYS),
        skip=FULL.validation.iteration_skips,
        surrogate=FULL.explore.surrogate,
        surrogate_model=FULL.explore.surrogate_model,
        version=VERSION,
    threads: request("validate_iteration", "threads")
    resources:
        tasks=request("validate_iteration", "tasks"),
        cpus_per_task=1,
        mpi=mpi_job("validate_iteration"),
        mem_mb=request("validate_iteration", "mem_mb"),
        runtime=request("validate_iteration", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/validate.py"
