"""Multi-species Lennard-Jones baseline with sizes from covalent radii (alternative to ZBL).

Why: an LJ baseline gives every pair a repulsive wall *and* a minimum at a chemically sensible
distance, so the learned delta is smaller and smoother than plain DFT and extrapolation to
compressed or dissociated geometries falls back to something physical. It needs no fitted
parameters, which matters because the pipeline must run for any element mix:

* sigma_ii = 2 r_cov / 2^(1/6), so the pair minimum 2^(1/6) sigma sits at the covalent bond
  length 2 r_cov (ASE covalent radii); with Lorentz-Berthelot mixing the i-j minimum sits at
  r_cov_i + r_cov_j.
* epsilon is a small uniform well depth (default 0.1 eV per pair) for every element: weak
  compared with covalent or metallic bond energies (1-5 eV), so the baseline shapes the
  repulsion and the bond length while the model carries the chemistry; pass per-element values
  to change it (epsilon_ij = sqrt(epsilon_i epsilon_j)).
* The pair energy is multiplied by a C2 quintic switch between 2.0 and 2.5 sigma_ij, so energy
  and force go smoothly to exactly zero at the cutoff without moving the minimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ase.data import atomic_numbers, chemical_symbols, covalent_radii

from mlip_autopipec.potentials.pair import PairPotential, smoothstep_switch

DEFAULT_EPSILON = 0.1  # eV, uniform well depth
DEFAULT_CUTOFF = 2.5  # in units of sigma_ij
DEFAULT_SWITCH_ON = 2.0  # in units of sigma_ij
TWO_TO_SIXTH = 2.0 ** (1.0 / 6.0)


def covalent_sigma(symbol: str) -> float:
    """sigma that puts the LJ minimum of a homonuclear pair at twice the covalent radius (Angstrom)."""
    return 2.0 * float(covalent_radii[_atomic_number(symbol)]) / TWO_TO_SIXTH


def _atomic_number(symbol: str) -> int:
    try:
        return atomic_numbers[symbol]
    except KeyError:
        raise ValueError(f"Lennard-Jones baseline: unknown element {symbol!r}") from None


class LennardJonesBaseline(PairPotential):
    """phi_ij(r) = 4 eps_ij [(sigma_ij/r)^12 - (sigma_ij/r)^6] * S(r), Lorentz-Berthelot mixing.

    ``sigma`` and ``epsilon`` override the per-element defaults (covalent sigma, ``DEFAULT_EPSILON``);
    ``epsilon`` may be one number for all elements. ``cutoff`` and ``switch_on`` are in units of
    sigma_ij: the switch S runs from 1 at ``switch_on`` to 0 at ``cutoff``.
    """

    def __init__(
        self,
        sigma: Mapping[str, float] | None = None,
        epsilon: float | Mapping[str, float] = DEFAULT_EPSILON,
        cutoff: float = DEFAULT_CUTOFF,
        switch_on: float = DEFAULT_SWITCH_ON,
        **kwargs: Any,
    ) -> None:
        if not TWO_TO_SIXTH < switch_on < cutoff:
            raise ValueError(
                f"Lennard-Jones baseline: need 2^(1/6) < switch_on < cutoff (units of sigma), got {switch_on} and {cutoff}"
            )
        super().__init__(**kwargs)
        size = len(chemical_symbols)
        self.sigma_table = 2.0 * np.asarray(covalent_radii[:size], dtype=float) / TWO_TO_SIXTH
        for symbol, value in (sigma or {}).items():
            if value <= 0:
                raise ValueError(f"Lennard-Jones baseline: sigma for {symbol} must be positive, got {value}")
            self.sigma_table[_atomic_number(symbol)] = float(value)
        if isinstance(epsilon, Mapping):
            self.epsilon_table = np.full(size, DEFAULT_EPSILON)
            for symbol, value in epsilon.items():
                self.epsilon_table[_atomic_number(symbol)] = float(value)
        else:
            self.epsilon_table = np.full(size, float(epsilon))
        if (self.epsilon_table < 0).any():
            raise ValueError("Lennard-Jones baseline: epsilon must not be negative")
        self.cutoff = float(cutoff)
        self.switch_on = float(switch_on)

    def mixed_parameters(self, z_i: np.ndarray, z_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lorentz-Berthelot sigma_ij = (sigma_i + sigma_j)/2 and epsilon_ij = sqrt(epsilon_i epsilon_j)."""
        z_i = np.asarray(z_i, dtype=int)
        z_j = np.asarray(z_j, dtype=int)
        sigma = 0.5 * (self.sigma_table[z_i] + self.sigma_table[z_j])
        epsilon = np.sqrt(self.epsilon_table[z_i] * self.epsilon_table[z_j])
        return sigma, epsilon

    def max_cutoff(self, numbers: np.ndarray) -> float:
        return float(self.cutoff * self.sigma_table[np.unique(numbers)].max())

    def pair_energy(self, z_i: np.ndarray, z_j: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sigma, epsilon = self.mixed_parameters(z_i, z_j)
        s6 = (sigma / r) ** 6
        energy = 4.0 * epsilon * (s6 * s6 - s6)
        denergy = -24.0 * epsilon * (2.0 * s6 * s6 - s6) / r
        switch, dswitch = smoothstep_switch(r, self.switch_on * sigma, self.cutoff * sigma)
        inside = r < self.cutoff * sigma
        phi = np.where(inside, energy * switch, 0.0)
        dphi = np.where(inside, denergy * switch + energy * dswitch, 0.0)
        return phi, dphi
