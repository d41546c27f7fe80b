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
    threads: request("label", "threads")
    resources:
        tasks=request("label", "tasks"),  # pw.x's MPI ranks (scripts/label_structure.py reads it), one core each
        cpus_per_task=1,
        mpi=mpi_job("label"),
        mem_mb=request("label", "mem_mb"),
        runtime=request("label", "runtime"),
    retries: 1
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/label_structure.py"
