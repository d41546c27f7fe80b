"""The report's page builder on a small results tree of real pw.x labels, and the browser's view of the page.

The tree: label records of the recorded Si labels (tests/data/si_labels, real pw.x) in two iterations, one of them
recovered by the ladder and one failed, indexed in a real ASE database by ``StructureIndex``; a threshold, a
committee-MD summary with its spreads, metrics and a validation report with a real figure. No committee files, no
Snakemake metadata: those sections must say so. The full report of a real run is tested in test_workflow_loop.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import matplotlib
import pytest
from ase import Atoms
from browser import broken_links, page_elements, rendered_dom

from conftest import PYTHON
from mlip_autopipec.cli import main
from mlip_autopipec.data.database import StructureIndex
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.data.records import (
    Attempt,
    CommitteeErrors,
    CommitteeMetrics,
    ErrorStats,
    LabelRecord,
    OtfJobSummary,
    OtfRun,
    Threshold,
    ValidationReport,
    ValidationRow,
)
from mlip_autopipec.report import SECTION_IDS, build_report
from mlip_autopipec.report.stage_times import stage_times

matplotlib.use("Agg")

SPREADS = [0.012, 0.02, 0.03, 0.05, 0.08, 0.3]
THRESHOLD = 0.06


def _record(atoms: Atoms, iteration: int, attempts: list[Attempt], failed: bool = False) -> LabelRecord:
    results = atoms.calc.results
    return LabelRecord(
        structure_id=structure_id(atoms),
        state="failed" if failed else "labelled",
        reason="scf_not_converged after 2 attempts" if failed else "",
        iteration=iteration,
        origin=str(atoms.info["origin"]),
        dft_hash=str(atoms.info["dft_hash"]),
        dft_parameters={"ecutwfc": 20.0},
        pseudo_family="oncvpsp-pbe",
        pseudo_md5={"Si": "0" * 32},
        **LabelRecord.structure_fields(atoms),
        energy=None if failed else float(results["energy"]),
        forces=None if failed else results["forces"].tolist(),
        stress=None if failed else results["stress"].tolist(),
        attempts=attempts,
    )


def _attempts(*outcomes: tuple[str, str]) -> list[Attempt]:
    return [Attempt(number=k + 1, rung=rung, status=status) for k, (rung, status) in enumerate(outcomes)]


def _figure(path: Path) -> Path:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([1, 2, 3], [3, 1, 2])
    figure.savefig(path)
    return path


def _row(quantity: str, mark: str, dft: float | None, potential: float) -> ValidationRow:
    error = None if dft is None else potential - dft
    return ValidationRow(
        group="equation of state",
        quantity=quantity,
        unit="A",
        dft=dft,
        potential=potential,
        error=error,
        relative_error=None if dft is None or error is None else error / abs(dft),
        compared="relative" if dft is not None else "value",
        tolerance=0.01,
        mark=mark,  # type: ignore[arg-type]
    )


@pytest.fixture
def run_tree(tmp_path: Path, si_frames: list[Atoms]) -> Path:
    """``tmp_path/results``: iteration 0 (8 labels, one recovered, one failed) and iteration 1 (3 labels)."""
    results = tmp_path / "results"
    index = StructureIndex(results / "database.db")
    plain = _attempts(("base", "converged"))
    batches = {
        0: [_record(a, 0, plain) for a in si_frames[:6]]
        + [
            _record(si_frames[6], 0, _attempts(("base", "scf_not_converged"), ("gentler_mixing", "converged"))),
            _record(si_frames[7], 0, _attempts(("base", "crashed"), ("gentler_mixing", "scf_not_converged")), failed=True),
        ],
        1: [_record(a, 1, plain) for a in si_frames[8:11]],
    }
    for iteration, records in batches.items():
        for record in records:
            record.write(results / f"iter_{iteration}/labels/{record.structure_id}.json")
            index.record_label(record)
    Threshold(value=THRESHOLD, percentile=95.0, n=120, reason="95th percentile of the training spreads").write(
        results / "iter_0/models/threshold.json"
    )
    run = OtfRun(
        temperature_K=300.0,
        ensemble="nvt",
        steps_done=30,
        checks=len(SPREADS),
        uncertain_checks=2,
        uncertain_fraction=2 / len(SPREADS),
        collected=2,
        max_uncertainty=max(SPREADS),
        spreads=SPREADS,
        stopped_reason=None,
        wall_time_s=1.0,
    )
    OtfJobSummary(threshold=THRESHOLD, upper=0.2, runs=[run]).write(results / "iter_1/simulate/nvt_300K.json")
    stats = ErrorStats(n_structures=2, force_rmse=0.25, energy_rmse_per_atom=0.012)
    metrics = CommitteeMetrics(committee=CommitteeErrors(train=stats, test=stats), members=[], config_hash="h0", units={})
    metrics.write(results / "iter_0/models/metrics.json")
    (results / "validation").mkdir()
    _figure(results / "validation/eos.png")
    ValidationReport(
        potential="results/final/committee.json",
        config_hash="h0",
        created="2026-01-01T00:00:00+00:00",
        rows=[
            _row("lattice constant a", "pass", 5.47, 5.48),
            _row("bulk modulus", "fail", 89.0, 70.0),
            ValidationRow(**{**_row("force RMSE", "info", None, 0.31).model_dump(), "group": "validation set"}),
        ],
        dft_runs=4,
        dft_seconds=12.0,
        figures={"equation_of_state": "eos.png", "phonons": "phonons.png"},  # phonons.png is not there
    ).write(results / "validation/validation.json")
    return results


def _section(page: str, section_id: str) -> str:
    """The HTML of one section (from its <h2> to the end of the <section>)."""
    match = re.search(rf'<h2 id="{section_id}">.*?</section>', page, re.S)
    assert match, f"no section {section_id}"
    return re.sub(r"data:image/png;base64,[^\"]+", "data:image/png;base64,...", match.group(0))  # short failure messages


def test_every_section_from_a_results_tree(run_tree: Path) -> None:
    path = build_report(run_tree)
    page = path.read_text()
    assert path == run_tree / "report/index.html"
    assert re.findall(r'<h2 id="([^"]+)"', page) == list(SECTION_IDS)
    # no committee files: parity says so; the learning curve has iteration 0's point and the validation star
    assert "No committee has been trained yet" in _section(page, "parity")
    curve = _section(page, "learning-curve")
    assert "<img" in curve and "fresh validation set (iter 0)" in curve, curve
    assert re.search(r"<td class=\"text\">0</td><td>8</td><td>8</td><td>10</td><td>0.25</td><td>12</td>", curve), curve
    uncertainty = _section(page, "uncertainty")
    assert (
        f"Iteration 1: threshold {THRESHOLD:.4g} eV/A, upper trust level 0.2 eV/A (95th percentile" in uncertainty
        and "<td>6</td><td>2</td><td>2</td>" in uncertainty
    )
    validation = _section(page, "validation")
    assert '<span class="mark mark-fail">fail</span>' in validation and '<span class="mark mark-pass">pass</span>' in validation
    assert (
        'id="validation-equation-of-state"' in validation and "phonons.png is listed in validation.json but absent" in validation
    )
    structures = _section(page, "structures")
    assert re.search(r'<td class="text">all</td><td>10</td><td>1</td><td>11</td>', structures), structures
    failures = _section(page, "dft-failures")
    assert (
        "11 label records" in failures
        and "2 needed more than one DFT attempt, 1 of them recovered by the ladder, 1 failed" in failures
    )
    assert 'base: scf_not_converged -&gt; gentler_mixing: converged</td><td class="text">gentler_mixing</td>' in failures
    assert "not fixed" in failures
    assert "No job times" in _section(page, "timing") and "No Snakemake report" in _section(page, "provenance")
    figures = sorted(p.name for p in (path.parent / "figures").iterdir())
    assert figures == ["learning_curve.png", "uncertainty_iter_1.png", "validation_equation_of_state.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in (path.parent / "figures").iterdir())
    assert page.count("<img ") == len(figures) and broken_links(path) == []


def test_missing_inputs_give_sections_that_say_so(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    page = build_report(tmp_path / "results", snakemake_report=tmp_path / "results/report/snakemake_report.html").read_text()
    assert re.findall(r'<h2 id="([^"]+)"', page) == list(SECTION_IDS)
    for section_id in SECTION_IDS[:-1]:
        assert 'class="missing"' in _section(page, section_id), section_id
    assert '<a href="snakemake_report.html">' in _section(page, "provenance")  # the caller writes it next


def test_stage_times_count_each_job_of_a_real_snakemake_run_once(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(
        "rule all:\n    input: 'b_1.txt', 'b_2.txt'\n\n"
        "rule a:\n    output: 'a1.txt', 'a2.txt'\n    shell: 'sleep 1; touch {output}'\n\n"
        "rule b:\n    input: 'a1.txt'\n    output: 'b_{n}.txt'\n    shell: 'touch {output}'\n"
    )
    done = subprocess.run([PYTHON, "-m", "snakemake", "-c", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    stages = {stage.rule: stage for stage in stage_times(tmp_path)}
    assert set(stages) == {"a", "b", "all"} or set(stages) == {"a", "b"}
    assert stages["a"].jobs == 1 and stages["a"].job_seconds >= 1.0 and stages["b"].jobs == 2
    assert stages["a"].first_start <= stages["b"].first_start and stages["b"].span_seconds >= 0


def test_browser_renders_every_image_and_counts_one_it_cannot(run_tree: Path, tmp_path: Path) -> None:
    page = build_report(run_tree)
    dom = rendered_dom(page, tmp_path / "profile")
    images = page.read_text().count("<img ")
    assert f'data-images="{images}"' in dom and 'data-broken-images="0"' in dom, dom[-1000:]
    assert f'data-sections="{len(SECTION_IDS)}"' in dom
    broken = page.with_name("broken.html")
    broken.write_text(
        page.read_text().replace(
            '<p id="render-check"', '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">\n<p id="render-check"'
        )
    )
    dom = rendered_dom(broken, tmp_path / "profile2")
    assert f'data-images="{images + 1}"' in dom and 'data-broken-images="1"' in dom, dom[-1000:]


def test_link_check_finds_missing_files_anchors_and_network(tmp_path: Path) -> None:
    (tmp_path / "there.html").write_text("x")
    page = tmp_path / "page.html"
    page.write_text(
        '<p id="a"></p><a href="#a">ok</a><a href="there.html">ok</a><a href="gone.html">no</a>'
        '<a href="#b">no</a><img src="https://example.org/x.png"><img src="data:image/png;base64,AA==">'
    )
    assert broken_links(page) == ["gone.html (no such file)", "#b (no such id)", "https://example.org/x.png (network)"]
    assert page_elements(page.read_text())[1] == {"a"}


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_report_command(run_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["report", "--results", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "mlip-pipe run" in err and len(err.strip().splitlines()) == 1
    code, out, err = _cli(["report", "--results", str(run_tree), "--no-snakemake-report"], capsys)
    assert code == 0, err
    assert (run_tree / "report/index.html").is_file() and str(run_tree / "report/index.html") in out
