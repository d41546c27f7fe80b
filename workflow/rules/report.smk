# Stage `report`: one HTML page of the run from the files under results/ (mlip-pipe report also writes the
# provenance report with snakemake --report, which shows the outputs marked report(...) in the rules files).


rule report:
    input:
        manifest="results/final/committee.json",
        validation=["results/validation/validation.json"] if FULL.validation.enabled else [],
    output:
        index=report("results/report/index.html", caption="../report/index.rst", category="Report"),
        figures=report(
            directory("results/report/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Report",
            subcategory="figures",
            labels={"figure": "{name}"},
        ),
    log:
        "logs/report.log",
    params:
        version=VERSION,
    localrule: True
    conda:
        "../../envs/pipeline.yaml"
    script:
        "../../scripts/build_report.py"
