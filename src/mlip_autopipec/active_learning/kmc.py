"""Adaptive kinetic Monte Carlo (aKMC) with the surrogate: reach rare events that MD never samples.

Why: diffusion hops, exchanges and other thermally activated events take micro- to milliseconds;
MD explores femto- to nanoseconds. aKMC finds the events on the fly and jumps from minimum to minimum,
and the saddle points it visits are exactly the configurations a potential trained on near-equilibrium
data knows least about. Each saddle and each new minimum therefore goes through an uncertainty hook.

One step from a relaxed minimum (energy E_min):
1. ``n_searches`` saddle searches with the dimer method (``ase.mep.dimer``: ``DimerControl``,
   ``MinModeAtoms``, ``MinModeTranslate``), each from a random Gaussian displacement (seeded) of the atoms
   within ``displacement_radius`` of a randomly chosen active atom; the displacement is also the initial
   guess of the lowest mode. A search counts only when it converges with negative curvature.
2. From a saddle (energy E_s), push both ways along the lowest mode and relax: one side must come back
   to the current minimum, the other gives the final state; otherwise the saddle does not connect to the
   current state and is discarded.
3. Barrier E_b = E_s - E_min; harmonic transition-state theory rate k = nu * exp(-E_b / k_B T). The
   prefactor nu is 1e13 /s by default (a typical attempt frequency for metals, within a factor of ~10 of
   Vineyard values), or ``"vineyard"``: nu = prod(nu_i at the minimum) / prod(nu_i at the saddle, the
   unstable mode left out), from finite-difference Hessians over the free atoms within
   ``vineyard_radius`` of the atom that moves most (a local Hessian, cheap: 6 force calls per atom);
   it falls back to 1e13 /s when the spectra do not have the expected signs, and says so in the event.
4. Events are de-duplicated by their displacement signature: two events are the same when their final
   states coincide atom by atom (minimum image, within ``same_state_tolerance``) and their barriers agree
   within ``energy_tolerance``. Symmetry-equivalent hops in different directions stay distinct, as they
   must (each contributes its own rate). ``times_found`` counts how often each was found.
5. Rate-weighted selection (u1 * sum k picks the event) and the residence-time clock
   dt = -ln(u2) / sum k, with u1, u2 from a stream seeded apart from the search stream.
Event tables are kept per visited state and reused when the walk returns to a known minimum.

Uncertainty hook: ``uncertainty(atoms) -> bool`` (e.g. ``active_learning.uncertainty.uncertainty_hook``) is
called with the calculator attached at the starting minimum, at every converged saddle and at every new
final minimum. True collects a copy (energy, forces, ``info['kmc_kind']`` = 'saddle' / 'minimum', step)
for labelling; with ``pause_on_uncertain`` the run stops there and says why, otherwise it goes on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from ase.geometry import find_mic
from ase.mep.dimer import DimerControl, MinModeAtoms, MinModeTranslate
from ase.optimize import FIRE

from mlip_autopipec.structures.normal_modes import finite_difference_hessian, mass_weighted

UncertaintyCheck = Callable[[Atoms], bool]
DEFAULT_PREFACTOR = 1e13  # 1/s
ORIGIN = "kmc"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KMCSettings:
    """Search, relaxation and bookkeeping parameters (lengths in A, energies in eV, rates in 1/s)."""

    temperature_K: float = 300.0
    prefactor: float | Literal["vineyard"] = DEFAULT_PREFACTOR
    n_searches: int = 8
    """Saddle searches per newly visited state."""
    active_atoms: tuple[int, ...] | None = None
    """Atoms around which searches start (default: every atom not fixed by FixAtoms)."""
    displacement_radius: float = 3.0
    displacement_std: float = 0.15
    fmax_saddle: float = 0.05
    fmax_relax: float = 0.05
    max_saddle_steps: int = 300
    max_relax_steps: int = 500
    push_distance: float = 0.2
    """How far (largest single-atom step) to push off the saddle along the mode before relaxing."""
    same_state_tolerance: float = 0.2
    energy_tolerance: float = 0.02
    max_barrier: float = 3.0
    """Saddles higher than this above the minimum are ignored (unreachable on kMC time scales)."""
    vineyard_radius: float = 3.5
    vineyard_step: float = 0.01
    pause_on_uncertain: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.temperature_K > 0:
            raise ValueError(f"temperature_K must be > 0, got {self.temperature_K}")
        if self.prefactor != "vineyard" and not float(self.prefactor) > 0:
            raise ValueError(f"prefactor must be > 0 (1/s) or 'vineyard', got {self.prefactor!r}")
        if self.n_searches < 1:
            raise ValueError(f"n_searches must be >= 1, got {self.n_searches}")


@dataclass
class Event:
    """One transition out of a state: saddle, final minimum, barrier and harmonic-TST rate."""

    barrier: float
    rate: float
    prefactor: float
    saddle_energy: float
    final_energy: float
    saddle_positions: np.ndarray = field(repr=False)
    final_positions: np.ndarray = field(repr=False)
    moved_atom: int
    max_displacement: float
    prefactor_note: str | None = None
    times_found: int = 1


@dataclass
class KMCStep:
    """One executed kMC step: the table it chose from, the random numbers and the clock."""

    step: int
    n_events: int
    total_rate: float
    chosen: int
    barrier: float
    u_select: float
    u_time: float
    dt: float
    time: float
    energy: float


@dataclass
class SearchStats:
    searches: int = 0
    converged: int = 0
    not_converged: int = 0
    not_connected: int = 0
    out_of_range: int = 0
    duplicates: int = 0
    unique: int = 0


@dataclass
class KMCResult:
    """What an aKMC run did. ``time_s`` is the simulated time (s); ``barriers`` lists the barrier of
    every unique event found (all states); ``uncertain`` holds the collected configurations."""

    steps: int
    time_s: float
    events: list[Event]
    barriers: list[float]
    uncertain: list[Atoms]
    records: list[KMCStep]
    stats: SearchStats
    final: Atoms
    paused: bool = False
    reason: str | None = None
    tables: list[list[Event]] = field(default_factory=list, repr=False)


class _Paused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------- small pure helpers


def harmonic_rate(barrier: float, temperature_K: float, prefactor: float = DEFAULT_PREFACTOR) -> float:
    """Harmonic TST: k = nu * exp(-E_b / k_B T) in 1/s."""
    return float(prefactor) * math.exp(-float(barrier) / (units.kB * float(temperature_K)))


def select_event(rates: Sequence[float] | np.ndarray, rng: np.random.Generator) -> tuple[int, float, float, float]:
    """Rate-weighted choice and residence time: (index, dt, u1, u2).

    u1 = rng.random() picks the first event whose cumulative rate exceeds u1 * sum k; u2 = 1 - rng.random()
    (in (0, 1], so the log is finite) gives dt = -ln(u2) / sum k.
    """
    k = np.asarray(rates, dtype=float)
    if k.size == 0 or not np.all(k >= 0) or not k.sum() > 0:
        raise ValueError("select_event needs at least one positive rate and no negative ones")
    total = float(k.sum())
    u1 = float(rng.random())
    u2 = 1.0 - float(rng.random())
    index = int(np.searchsorted(np.cumsum(k), u1 * total, side="right"))
    index = min(index, k.size - 1)
    return index, -math.log(u2) / total, u1, u2


def max_displacement(atoms: Atoms, a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Largest single-atom displacement between two position sets (minimum image) and that atom."""
    vectors, lengths = find_mic(np.asarray(b) - np.asarray(a), atoms.cell, atoms.pbc)
    index = int(np.argmax(lengths))
    return float(lengths[index]), index


def _fixed_mask(atoms: Atoms) -> np.ndarray:
    fixed = np.zeros(len(atoms), dtype=bool)
    for constraint in atoms.constraints:
        if isinstance(constraint, FixAtoms):
            fixed[constraint.index] = True
    return fixed


def _with_calc(atoms: Atoms, calculator: Calculator, positions: np.ndarray | None = None) -> Atoms:
    copy = atoms.copy()
    if positions is not None:
        copy.set_positions(positions, apply_constraint=False)
    copy.calc = calculator
    return copy


def relax(atoms: Atoms, fmax: float, steps: int) -> bool:
    """Local minimisation; True when converged. FIRE, because its inertia carries it off a saddle:
    quasi-Newton methods (LBFGS) started next to a saddle often "converge" back onto it."""
    with FIRE(atoms, logfile=None) as opt:
        return bool(opt.run(fmax=fmax, steps=steps))


# ----------------------------------------------------------------------------- Vineyard prefactor


def _hessian(atoms: Atoms, indices: np.ndarray, step: float) -> np.ndarray:
    """Mass-weighted finite-difference Hessian over ``indices`` (central differences of the forces)."""
    return mass_weighted(finite_difference_hessian(atoms, delta=step, indices=indices), atoms.get_masses()[indices])


def vineyard_prefactor(
    minimum: Atoms, saddle: Atoms, indices: Sequence[int] | np.ndarray, step: float = 0.01, n_zero: int = 0
) -> tuple[float | None, str]:
    """nu = prod_i omega_i(min) / prod_i omega_i(saddle, unstable mode left out) / (2 pi), in 1/s.

    ``minimum`` and ``saddle`` carry the calculator; ``indices`` are the atoms whose Hessian block is used
    (the same at both points). ``n_zero`` smallest-|lambda| modes (free translations) are dropped from both.
    Returns (None, why) when the minimum has a negative mode or the saddle does not have exactly one.
    """
    indices = np.asarray(indices, dtype=int)
    spectra = []
    for atoms in (minimum, saddle):
        values = np.linalg.eigvalsh(_hessian(atoms, indices, step))
        if n_zero:
            values = np.delete(values, np.argsort(np.abs(values))[:n_zero])
        spectra.append(values)
    lam_min, lam_sad = spectra
    scale = 1e-6 * max(float(np.abs(lam_min).max()), 1e-12)
    if np.any(lam_min <= scale):
        return None, "the minimum's Hessian has a non-positive mode"
    negative = lam_sad < -scale
    if int(negative.sum()) != 1 or np.any(np.abs(lam_sad) <= scale):
        return None, f"the saddle's Hessian has {int(negative.sum())} negative modes (expected 1)"
    log_nu = 0.5 * (np.log(lam_min).sum() - np.log(lam_sad[~negative]).sum())
    return float(math.exp(log_nu) / (2.0 * math.pi) * units.s), "Vineyard (harmonic TST) from a local Hessian"


# ----------------------------------------------------------------------------- the run


class _Walker:
    """State of one aKMC run: calculator, settings, RNG streams, collected configurations."""

    def __init__(
        self, calculator: Calculator, settings: KMCSettings, uncertainty: UncertaintyCheck | None, pause: bool = True
    ) -> None:
        self.calc = calculator
        self.pause = pause and settings.pause_on_uncertain
        self.settings = settings
        self.uncertainty = uncertainty
        self.search_rng, self.select_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(settings.seed)).spawn(2))
        self.uncertain: list[Atoms] = []
        self.stats = SearchStats()
        self.step = 0

    # -- uncertainty hook
    def check(self, atoms: Atoms, kind: str) -> None:
        if self.uncertainty is None:
            return
        probe = _with_calc(atoms, self.calc)
        if not self.uncertainty(probe):
            return
        frame = Atoms(numbers=probe.numbers, positions=probe.positions, cell=probe.cell, pbc=probe.pbc)
        frame.calc = SinglePointCalculator(
            frame, energy=float(probe.get_potential_energy()), forces=np.array(probe.get_forces(apply_constraint=False))
        )
        frame.info.update(probe.info)
        frame.info.update({"origin": ORIGIN, "kmc_kind": kind, "kmc_step": self.step})
        self.uncertain.append(frame)
        _log.info("kMC step %d: uncertain %s collected", self.step, kind)
        if self.pause:
            raise _Paused(f"step {self.step}: the uncertainty hook flagged a {kind}")

    # -- one saddle search
    def saddle_search(self, minimum: Atoms) -> tuple[Atoms, np.ndarray] | None:
        s = self.settings
        fixed = _fixed_mask(minimum)
        candidates = np.asarray(s.active_atoms if s.active_atoms is not None else np.flatnonzero(~fixed), dtype=int)
        if candidates.size == 0:
            raise ValueError("no active atoms to start saddle searches from")
        centre = int(self.search_rng.choice(candidates))
        distances = minimum.get_distances(centre, range(len(minimum)), mic=bool(np.any(minimum.pbc)))
        moving = (distances <= s.displacement_radius) & ~fixed
        displacement = self.search_rng.normal(0.0, s.displacement_std, (len(minimum), 3)) * moving[:, None]
        if not np.linalg.norm(displacement) > 0:  # only fixed atoms around the chosen one
            return None
        work = _with_calc(minimum, self.calc, minimum.positions + displacement)
        mode = displacement / np.linalg.norm(displacement)
        with DimerControl(
            logfile=None,
            eigenmode_logfile=None,
            initial_eigenmode_method="displacement",
            displacement_method="vector",
            max_num_rot=4,
        ) as control:
            dimer = MinModeAtoms(work, control, eigenmodes=[mode], random_seed=int(self.search_rng.integers(2**31 - 1)))
            with MinModeTranslate(dimer, logfile=None) as opt:
                try:
                    converged = bool(opt.run(fmax=s.fmax_saddle, steps=s.max_saddle_steps))
                except (RuntimeError, FloatingPointError, ValueError) as error:  # diverged dimer
                    _log.debug("dimer search failed: %s", error)
                    converged = False
            curvature = float(dimer.get_curvature())
            eigenmode = np.array(dimer.get_eigenmode())
        if not converged or not curvature < 0:
            return None
        return work, eigenmode

    def connect(self, minimum: Atoms, saddle: Atoms, mode: np.ndarray) -> Atoms | None:
        """Relax both sides of the saddle; the final state when exactly one side returns to ``minimum``."""
        s = self.settings
        step = mode / max(float(np.linalg.norm(mode, axis=1).max()), 1e-12) * s.push_distance
        ends = []
        saddle_energy = float(saddle.get_potential_energy())
        for sign in (1.0, -1.0):
            side = _with_calc(saddle, self.calc, saddle.positions + sign * step)
            if not relax(side, s.fmax_relax, s.max_relax_steps):
                return None
            if float(side.get_potential_energy()) > saddle_energy - s.energy_tolerance:
                return None  # stuck on the saddle ridge: no minimum on this side
            ends.append(side)
        back = [max_displacement(minimum, minimum.positions, e.positions)[0] < s.same_state_tolerance for e in ends]
        if back.count(True) != 1:
            return None
        return ends[back.index(False)]

    def prefactor(self, minimum: Atoms, saddle: Atoms, moved: int) -> tuple[float, str | None]:
        s = self.settings
        if s.prefactor != "vineyard":
            return float(s.prefactor), None
        fixed = _fixed_mask(minimum)
        d = minimum.get_distances(moved, range(len(minimum)), mic=bool(np.any(minimum.pbc)))
        indices = np.flatnonzero((d <= s.vineyard_radius) & ~fixed)
        n_zero = 3 if (not fixed.any() and len(indices) == len(minimum)) else 0
        nu, why = vineyard_prefactor(
            _with_calc(minimum, self.calc), _with_calc(saddle, self.calc), indices, s.vineyard_step, n_zero
        )
        if nu is None:
            return DEFAULT_PREFACTOR, f"{why}: default prefactor {DEFAULT_PREFACTOR:g} /s used"
        return nu, why

    def find_events(self, minimum: Atoms, energy: float, table: list[Event]) -> None:
        s = self.settings
        for _ in range(s.n_searches):
            self.stats.searches += 1
            found = self.saddle_search(minimum)
            if found is None:
                self.stats.not_converged += 1
                continue
            saddle, mode = found
            self.stats.converged += 1
            saddle_energy = float(saddle.get_potential_energy())
            barrier = saddle_energy - energy
            if not 0.0 < barrier <= s.max_barrier:
                self.stats.out_of_range += 1
                continue
            final = self.connect(minimum, saddle, mode)
            if final is None:
                self.stats.not_connected += 1
                continue
            final_positions = final.get_positions()
            duplicate = next(
                (
                    e
                    for e in table
                    if abs(e.barrier - barrier) < s.energy_tolerance
                    and max_displacement(minimum, e.final_positions, final_positions)[0] < s.same_state_tolerance
                ),
                None,
            )
            if duplicate is not None:
                duplicate.times_found += 1
                self.stats.duplicates += 1
                continue
            self.check(saddle, "saddle")
            self.check(final, "minimum")
            dist, moved = max_displacement(minimum, minimum.positions, final_positions)
            nu, note = self.prefactor(minimum, saddle, moved)
            table.append(
                Event(
                    barrier=barrier,
                    rate=harmonic_rate(barrier, s.temperature_K, nu),
                    prefactor=nu,
                    saddle_energy=saddle_energy,
                    final_energy=float(final.get_potential_energy()),
                    saddle_positions=saddle.get_positions(),
                    final_positions=final_positions,
                    moved_atom=moved,
                    max_displacement=dist,
                    prefactor_note=note,
                )
            )
            self.stats.unique += 1
            _log.info("kMC step %d: event %d, barrier %.3f eV, atom %d moves %.2f A", self.step, len(table), barrier, moved, dist)


def search_events(
    minimum: Atoms,
    calculator: Calculator,
    settings: KMCSettings | None = None,
    table: list[Event] | None = None,
    uncertainty: UncertaintyCheck | None = None,
) -> tuple[list[Event], SearchStats, list[Atoms]]:
    """``settings.n_searches`` saddle searches from the relaxed ``minimum``, new events appended to
    ``table`` (duplicates only raise ``times_found``). Returns (table, statistics, uncertain configurations).
    The pause flag is ignored here: there is no run to pause."""
    s = settings or KMCSettings()
    walker = _Walker(calculator, s, uncertainty, pause=False)
    current = _with_calc(minimum, calculator)
    table = [] if table is None else table
    walker.find_events(current, float(current.get_potential_energy()), table)
    return table, walker.stats, walker.uncertain


def run_akmc(
    atoms: Atoms,
    calculator: Calculator,
    n_steps: int,
    settings: KMCSettings | None = None,
    uncertainty: UncertaintyCheck | None = None,
) -> KMCResult:
    """Relax ``atoms`` (constraints such as FixAtoms are kept) and run up to ``n_steps`` aKMC steps.

    Stops early when no event is found from a state (``reason`` says so) or, with
    ``settings.pause_on_uncertain``, at the first configuration the hook flags (``paused``).
    """
    s = settings or KMCSettings()
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    walker = _Walker(calculator, s, uncertainty)
    current = _with_calc(atoms, calculator)
    if not relax(current, s.fmax_relax, s.max_relax_steps):
        _log.warning("kMC: the start structure did not relax to fmax %.3g", s.fmax_relax)
    energy = float(current.get_potential_energy())
    states: list[tuple[np.ndarray, list[Event]]] = []
    executed: list[Event] = []
    records: list[KMCStep] = []
    clock = 0.0
    paused, reason = False, None

    def result() -> KMCResult:
        final = current.copy()
        final.calc = None
        barriers = [e.barrier for _, table in states for e in table]
        return KMCResult(
            steps=len(records),
            time_s=clock,
            events=executed,
            barriers=barriers,
            uncertain=walker.uncertain,
            records=records,
            stats=walker.stats,
            final=final,
            paused=paused,
            reason=reason,
            tables=[table for _, table in states],
        )

    try:
        walker.check(current, "minimum")
        for step in range(1, n_steps + 1):
            walker.step = step
            table = next(
                (t for pos, t in states if max_displacement(current, pos, current.positions)[0] < s.same_state_tolerance), None
            )
            if table is None:
                table = []
                states.append((current.get_positions(), table))
                walker.find_events(current, energy, table)
            if not table:
                reason = f"step {step}: no event found in {s.n_searches} saddle searches"
                break
            index, dt, u1, u2 = select_event([e.rate for e in table], walker.select_rng)
            event = table[index]
            clock += dt
            current = _with_calc(current, calculator, event.final_positions)
            energy = float(current.get_potential_energy())
            executed.append(event)
            records.append(
                KMCStep(
                    step=step,
                    n_events=len(table),
                    total_rate=float(sum(e.rate for e in table)),
                    chosen=index,
                    barrier=event.barrier,
                    u_select=u1,
                    u_time=u2,
                    dt=dt,
                    time=clock,
                    energy=energy,
                )
            )
    except _Paused as stop:
        paused, reason = True, stop.reason
    return result()


def event_summary(events: Sequence[Event]) -> list[dict[str, Any]]:
    """JSON-ready rows of an event table (no positions)."""
    return [
        {
            "barrier": e.barrier,
            "rate": e.rate,
            "prefactor": e.prefactor,
            "moved_atom": e.moved_atom,
            "max_displacement": e.max_displacement,
            "times_found": e.times_found,
            "prefactor_note": e.prefactor_note,
        }
        for e in events
    ]
