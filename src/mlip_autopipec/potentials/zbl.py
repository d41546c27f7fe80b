"""Ziegler-Biersack-Littmark (ZBL) screened nuclear repulsion as a short-range delta-learning baseline.

Why: DFT training sets (MD snapshots, rattled cells) almost never contain atoms closer than ~0.8
of a bond length, so a purely data-driven potential extrapolates freely there and can let atoms
collapse onto each other in hot MD. ZBL is the standard universal screened-Coulomb repulsion
that is accurate at exactly those short distances. Switching it off smoothly well inside the
bonding range means the model learns (almost) plain DFT where data exist, while the baseline
guarantees a physical repulsive wall where they do not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ase import units
from ase.data import covalent_radii

from mlip_autopipec.potentials.pair import PairPotential, smoothstep_switch

#: e^2 / (4 pi eps0) in eV * Angstrom (14.3996...).
COULOMB_CONSTANT = units._e / (4.0 * math.pi * units._eps0) * 1e10

#: Universal screening length prefactor (Angstrom): a = 0.46850 / (Z_i^0.23 + Z_j^0.23).
ZBL_SCREENING_PREFACTOR = 0.46850
ZBL_COEFFICIENTS = np.array([0.18175, 0.50986, 0.28022, 0.02817])
ZBL_EXPONENTS = np.array([3.19980, 0.94229, 0.40290, 0.20162])

#: Default switching window, as fractions of the covalent bond length r_cov_i + r_cov_j: full ZBL
#: below half a bond length, nothing beyond 3/4 of it (Si-Si: 1.11-1.67 A, Cu-Cu: 1.32-1.98 A,
#: H-H: 0.31-0.47 A), i.e. only in the compressed region that thermal sampling does not reach.
DEFAULT_INNER_FACTOR = 0.5
DEFAULT_OUTER_FACTOR = 0.75


def zbl_pair_energy(z_i: np.ndarray, z_j: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unswitched ZBL pair energy E(r) = k Z_i Z_j / r * phi(r/a) and dE/dr (eV, eV/Angstrom)."""
    z_i = np.asarray(z_i, dtype=float)
    z_j = np.asarray(z_j, dtype=float)
    r = np.asarray(r, dtype=float)
    a = ZBL_SCREENING_PREFACTOR / (z_i**0.23 + z_j**0.23)
    x = r / a
    exps = np.exp(-np.multiply.outer(x, ZBL_EXPONENTS))
    phi = exps @ ZBL_COEFFICIENTS
    dphi_dx = -(exps @ (ZBL_COEFFICIENTS * ZBL_EXPONENTS))
    prefactor = COULOMB_CONSTANT * z_i * z_j
    energy = prefactor * phi / r
    denergy = prefactor * (dphi_dx / (a * r) - phi / r**2)
    return energy, denergy


class ZBLCalculator(PairPotential):
    """ZBL repulsion between all atom pairs, multiplied by a C2 quintic switch from r_inner to r_outer.

    By default the window is per species pair, ``inner_factor`` and ``outer_factor`` times the
    covalent bond length r_cov_i + r_cov_j (ASE covalent radii); pass ``r_inner`` and ``r_outer``
    (Angstrom) together to use one fixed window for every pair instead (e.g. 1.0 and 2.0, as in
    LAMMPS ``pair_style zbl 1.0 2.0``). Because both E and the switch are positive and
    non-increasing, the switched energy stays purely repulsive; it and its force are exactly zero
    at and beyond r_outer.
    """

    def __init__(
        self,
        inner_factor: float = DEFAULT_INNER_FACTOR,
        outer_factor: float = DEFAULT_OUTER_FACTOR,
        r_inner: float | None = None,
        r_outer: float | None = None,
        **kwargs: Any,
    ) -> None:
        if (r_inner is None) != (r_outer is None):
            raise ValueError("ZBL baseline: give both r_inner and r_outer, or neither (covalent-radius window)")
        if r_inner is not None and r_outer is not None:
            if not 0.0 <= r_inner < r_outer:
                raise ValueError(f"ZBL baseline: need 0 <= r_inner < r_outer, got {r_inner} and {r_outer}")
        elif not 0.0 <= inner_factor < outer_factor:
            raise ValueError(f"ZBL baseline: need 0 <= inner_factor < outer_factor, got {inner_factor} and {outer_factor}")
        super().__init__(**kwargs)
        self.inner_factor = float(inner_factor)
        self.outer_factor = float(outer_factor)
        self.r_inner = None if r_inner is None else float(r_inner)
        self.r_outer = None if r_outer is None else float(r_outer)

    def cutoffs(self, z_i: np.ndarray, z_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Switching window (r_inner, r_outer) in Angstrom for each pair of atomic numbers."""
        z_i = np.asarray(z_i, dtype=int)
        z_j = np.asarray(z_j, dtype=int)
        if self.r_inner is not None and self.r_outer is not None:
            shape = np.broadcast(z_i, z_j).shape
            return np.full(shape, self.r_inner), np.full(shape, self.r_outer)
        bond = covalent_radii[z_i] + covalent_radii[z_j]
        return self.inner_factor * bond, self.outer_factor * bond

    def max_cutoff(self, numbers: np.ndarray) -> float:
        species = np.unique(numbers)
        _, outer = self.cutoffs(species[:, None], species[None, :])
        return float(outer.max())

    def pair_energy(self, z_i: np.ndarray, z_j: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inner, outer = self.cutoffs(z_i, z_j)
        energy, denergy = zbl_pair_energy(z_i, z_j, r)
        switch, dswitch = smoothstep_switch(r, inner, outer)
        inside = r < outer
        phi = np.where(inside, energy * switch, 0.0)
        dphi = np.where(inside, denergy * switch + energy * dswitch, 0.0)
        return phi, dphi
