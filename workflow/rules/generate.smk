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
        system=section("system"),
        generate=section("generate"),
        surrogate={"name": FULL.explore.surrogate, "model": FULL.explore.surrogate_model},
        version=VERSION,
    threads: 2
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/generate_structures.py"
