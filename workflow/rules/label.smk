# One DFT job per structure (the labelling engine: Quantum ESPRESSO), with the recovery ladder and the label cache inside.


rule label:
    input:
        structure=structure_file,
    output:
        label="results/iter_{iteration}/labels/{sid}.json",
    log:
        "logs/label/iter_{iteration}/{sid}.log",
    params:
        dft=dft_params(),
        label=used("label", *LABEL_KEYS),
        workdir=lambda wildcards: f"results/iter_{wildcards.iteration}/dft/{wildcards.sid}",
        version=VERSION,
    threads: FULL.label.mpi.ntasks
    resources:
        tasks=FULL.label.mpi.ntasks,
        mpi="srun",
        runtime=max(1, int(FULL.label.walltime_s * FULL.label.max_attempts / 60) + 5),
    retries: 1
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/label_structure.py"
