"""Plain NumPy/ASE references for the Numba kernels: the same math, written for clarity not speed.

The tests compare the kernels against these. They use independent routes on purpose:
ASE's ``neighbor_list`` instead of the cell list, ``numpy.polynomial`` Legendre derivatives and
``arctan2`` instead of the x/y/z recurrence, ``chebvander`` instead of the Chebyshev recurrence.
"""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from numpy.polynomial import chebyshev, legendre


def reference_neighbour_list(atoms: Atoms, r_cut: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, D, S) for all pairs closer than r_cut, from ASE, as the ground truth for the cell list."""
    i, j, d_vec, shifts = neighbor_list("ijDS", atoms, r_cut, self_interaction=False)
    return i, j, d_vec, shifts


def reference_real_sph_harm(unit: np.ndarray, l_max: int) -> np.ndarray:
    """Real Y_lm (columns l*l + l + m) of unit vectors (k, 3), no Condon-Shortley phase."""
    z = np.clip(unit[:, 2], -1.0, 1.0)
    phi = np.arctan2(unit[:, 1], unit[:, 0])
    sin_theta = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    out = np.empty((unit.shape[0], (l_max + 1) ** 2))
    for l in range(l_max + 1):
        p_l = legendre.Legendre.basis(l)
        for m in range(l + 1):
            assoc = sin_theta**m * p_l.deriv(m)(z) if m else p_l(z)
            norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
            if m == 0:
                out[:, l * l + l] = norm * assoc
            else:
                out[:, l * l + l + m] = math.sqrt(2) * norm * assoc * np.cos(m * phi)
                out[:, l * l + l - m] = math.sqrt(2) * norm * assoc * np.sin(m * phi)
    return out


def reference_radial_basis(r: np.ndarray, r_cut: float, n_max: int) -> np.ndarray:
    """g_n(r) (k, n_max): Chebyshev T_n(2 r / r_cut - 1) times the cosine cutoff."""
    fc = 0.5 * (1.0 + np.cos(np.pi * r / r_cut))
    return chebyshev.chebvander(2.0 * r / r_cut - 1.0, n_max - 1) * fc[:, None]


def reference_per_atom(atoms: Atoms, species: tuple[str, ...], r_cut: float, n_max: int, l_max: int) -> np.ndarray:
    """Per-atom power spectra (n_atoms, n_features) in the kernels' feature order."""
    index = {s: k for k, s in enumerate(species)}
    z_idx = np.array([index[s] for s in atoms.get_chemical_symbols()])
    i, j, d_vec, _ = reference_neighbour_list(atoms, r_cut)
    r = np.linalg.norm(d_vec, axis=1)
    g = reference_radial_basis(r, r_cut, n_max)
    y = reference_real_sph_harm(d_vec / r[:, None], l_max)
    n_species = len(species)
    rows = []
    for centre in range(len(atoms)):
        mask = i == centre
        coeffs = np.zeros((n_species, n_max, (l_max + 1) ** 2))
        for s in range(n_species):
            sel = mask & (z_idx[j] == s)
            coeffs[s] = np.einsum("kn,kq->nq", g[sel], y[sel])
        flat = coeffs.reshape(n_species * n_max, -1)
        blocks = [flat[:, l * l : (l + 1) ** 2] for l in range(l_max + 1)]
        spectrum = np.stack([np.einsum("aq,bq->ab", c_l, c_l) for c_l in blocks], axis=-1)  # (a, b, l)
        a_idx, b_idx = np.triu_indices(n_species * n_max)
        rows.append(spectrum[a_idx, b_idx].reshape(-1))
    return np.array(rows)


def reference_structure_descriptor(
    atoms: Atoms, species: tuple[str, ...], r_cut: float, n_max: int, l_max: int, include_variance: bool = False
) -> np.ndarray:
    """Per-species mean (then variance) of the reference per-atom spectra; absent species give zeros."""
    per_atom = reference_per_atom(atoms, species, r_cut, n_max, l_max)
    symbols = np.array(atoms.get_chemical_symbols())
    zeros = np.zeros(per_atom.shape[1])
    parts = [per_atom[symbols == s].mean(axis=0) if (symbols == s).any() else zeros for s in species]
    if include_variance:
        parts += [per_atom[symbols == s].var(axis=0) if (symbols == s).any() else zeros for s in species]
    return np.concatenate(parts)
