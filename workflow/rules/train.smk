# Module D: a committee of delta-learned potentials (train.backend: ace or mace), one SLURM job per member.
# Either backend writes member_KK/member.json; the plan records the backend, so members only read plan.json.


rule train_plan:
    input:
        labels=labels_up_to,
        previous_plan=previous_plan,
    output:
        plan="results/iter_{iteration}/models/plan.json",
    log:
        "logs/train/iter_{iteration}/plan.log",
    params:
        train=used("train", "committee_size", "baseline", "backend", "optimizer_steps", "mace_epochs", "mace_options"),
        elements=FULL.elements,
        seed=FULL.seed,
        probe_temperature=max(FULL.temperatures),  # a candidate basis must hold the highest target temperature
        probe_timestep_fs=FULL.explore.timestep_fs,
        version=VERSION,
    threads: request("default", "threads")
    resources:
        cpus_per_task=request("default", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("default", "mem_mb"),
        runtime=request("default", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/train_plan.py"


rule train_member:
    input:
        plan="results/iter_{iteration}/models/plan.json",
    output:
        member="results/iter_{iteration}/models/member_{member}/member.json",
    log:
        "logs/train/iter_{iteration}/member_{member}.log",
    params:
        version=VERSION,
    threads: request("train_member", "threads")
    resources:
        cpus_per_task=request("train_member", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("train_member", "mem_mb"),
        runtime=request("train_member", "runtime"),
        gpu=request("train_member", "gpus"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/train_member.py"


rule train_committee:
    input:
        members=lambda wildcards: expand(
            "results/iter_{iteration}/models/member_{member:02d}/member.json",
            iteration=wildcards.iteration,
            member=range(FULL.train.committee_size),
        ),
    output:
        manifest="results/iter_{iteration}/models/committee.json",
        threshold="results/iter_{iteration}/models/threshold.json",
        metrics="results/iter_{iteration}/models/metrics.json",
        parity=report("results/iter_{iteration}/models/parity.png", category="Training", subcategory="iteration {iteration}"),
        curve=report("results/iter_{iteration}/models/learning_curve.png", category="Training", subcategory="iteration {iteration}"),
    log:
        "logs/train/iter_{iteration}/committee.log",
    params:
        active_learning=used(
            "active_learning", "uncertainty_percentile", "uncertainty_threshold", "target_force_rmse", "upper_trust_factor"
        ),
        version=VERSION,
    threads: request("default", "threads")
    resources:
        cpus_per_task=request("default", "threads"),  # SLURM --cpus-per-task (the dry run shows it)
        mem_mb=request("default", "mem_mb"),
        runtime=request("default", "runtime"),
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/train_committee.py"
