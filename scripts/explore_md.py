"""Snakemake script of rule `explore`: one surrogate MD trajectory per (start structure, temperature, ensemble).

input.structure     one start structure (extxyz; its first frame is used)
wildcards.temperature   target temperature in K ("300", "300.0", "300K" and "T300" all read as 300)
wildcards.ensemble  nvt or npt
wildcards.sid       (optional) the start structure's id; else info['structure_id'] of the file, else its content id
wildcards.pressure  (optional, GPa) for npt; without it an npt job runs every explore.pressures in turn
params.explore      section("explore"): ExploreConfig as a plain dict
params.seed         the run's seed; each trajectory's seed is derived from it and the job's identity
params.surrogate    (optional) {"name": ..., "model": ...}; default explore.surrogate / explore.surrogate_model
params.sample_every (optional) steps between frames; default about 100 frames per trajectory
params.watchdog     (optional) dict of Watchdog fields, e.g. {"min_distance_factor": 0.5}
output.frames       the frames, gzip-compressed extxyz (e.g. ...{sid}_{ensemble}_{temperature}K.extxyz.gz)
output.summary      (optional) JSON: the surrogate used and one record per trajectory (steps done, reason, ...)
log[0]              the job's log
"""

import sys

import ase.io

from mlip_autopipec.config.models import ExploreConfig
from mlip_autopipec.data.atomic_io import atomic_write_json
from mlip_autopipec.data.ids import structure_id
from mlip_autopipec.joblog import job_logger
from mlip_autopipec.potentials.surrogate import make_surrogate
from mlip_autopipec.simulation.explore import Watchdog, default_sample_every, explore_md, job_seed, write_frames

snakemake = globals()["snakemake"]
log = job_logger("explore", snakemake.log[0])
params = snakemake.params
wildcards = snakemake.wildcards
explore = ExploreConfig.model_validate(params.explore)

atoms = ase.io.read(snakemake.input.structure, index=0)
start_id = str(wildcards.get("sid") or atoms.info.get("structure_id") or structure_id(atoms))
temperature = float(str(wildcards.temperature).strip().lstrip("Tt").rstrip("Kk"))
ensemble = str(wildcards.ensemble).lower()
if wildcards.get("pressure") is not None:
    pressures = [float(wildcards.pressure)]
elif ensemble == "npt":
    pressures = [float(p) for p in explore.pressures]
else:
    pressures = [0.0]

surrogate = params.get("surrogate") or {"name": explore.surrogate, "model": explore.surrogate_model}
calculator, surrogate_name = make_surrogate(surrogate["name"], surrogate.get("model"))
log.info("surrogate: %s", surrogate_name)
sample_every = int(params.get("sample_every") or default_sample_every(explore.steps))
watchdog = Watchdog(**(params.get("watchdog") or {}))

frames = []
runs = []
for pressure in pressures:
    result = explore_md(
        atoms,
        calculator,
        temperature_K=temperature,
        ensemble=ensemble,
        steps=explore.steps,
        timestep_fs=explore.timestep_fs,
        sample_every=sample_every,
        supercell_atoms=explore.supercell_atoms,
        pressure_gpa=pressure,
        seed=job_seed(int(params.seed), start_id, temperature, ensemble, pressure),
        start_id=start_id,
        watchdog=watchdog,
        surrogate_name=surrogate_name,
        progress=sys.stderr.isatty(),
        logger=log,
    )
    frames.extend(result.frames)
    runs.append(result.summary())
    if result.ensemble != ensemble:  # a molecule: npt ran as nvt, once is enough
        break

write_frames(snakemake.output.frames, frames)
summary_path = snakemake.output.get("summary")
if summary_path:
    atomic_write_json(summary_path, {"surrogate": surrogate_name, "frames": len(frames), "runs": runs})
log.info("wrote %d frames to %s", len(frames), snakemake.output.frames)
