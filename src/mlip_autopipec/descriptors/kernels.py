"""SOAP-like power spectrum as Numba kernels: radial basis, real spherical harmonics, invariants.

For a centre atom i the species-resolved neighbour density is expanded as
    c[Z, n, lm] = sum_{j in N(i), Z_j = Z} g_n(r_ij) Y_lm(r_ij / |r_ij|)
with g_n(r) = T_n(2 r / r_cut - 1) * f_cut(r) (Chebyshev T_n, f_cut = (1 + cos(pi r / r_cut)) / 2,
so every coefficient goes to zero with zero slope at r_cut), and the rotation invariants are
    p[(Z, n), (Z', n'), l] = sum_m c[Z, n, lm] c[Z', n', lm]   for (Z, n) <= (Z', n').
The centre atom itself is not part of its density (it would add a constant). Feature order:
pair a = Z * n_max + n, b = Z' * n_max + n' with a <= b (row-major), then l.
``reference.py`` holds the same math in plain NumPy for the tests.

Functions without a leading underscore are the entry points called from Python; the underscored
ones are only called from other kernels. Keeping the two sets apart avoids a Numba caching bug
(a cached function both called from Python and compiled into another cached function can lose
its boxing environment). Numba's cache only watches the file a function is defined in: after
editing ``neighbours.py`` delete this package's ``__pycache__`` so these kernels recompile.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .neighbours import find_neighbours


def n_atom_features(n_species: int, n_max: int, l_max: int) -> int:
    """Length of one atom's power spectrum: unique (Z n, Z' n') pairs times (l_max + 1)."""
    k = n_species * n_max
    return k * (k + 1) // 2 * (l_max + 1)


@njit(cache=True)
def _sph_harm_norms(l_max: int) -> np.ndarray:
    """Constants N_lm * (sqrt 2 for m != 0) for the real spherical harmonics, index l*l + l + m."""
    out = np.empty((l_max + 1) ** 2)
    for l in range(l_max + 1):
        for m in range(l + 1):
            ratio = 1.0  # (l - m)! / (l + m)!
            for k in range(l - m + 1, l + m + 1):
                ratio /= k
            norm = math.sqrt((2 * l + 1) / (4.0 * math.pi) * ratio)
            if m == 0:
                out[l * l + l] = norm
            else:
                out[l * l + l + m] = math.sqrt(2.0) * norm
                out[l * l + l - m] = math.sqrt(2.0) * norm
    return out


@njit(cache=True)
def _real_sph_harm(x: float, y: float, z: float, l_max: int, norms: np.ndarray, out: np.ndarray) -> None:
    """Real Y_lm of a unit vector by recurrence (no trig, no Condon-Shortley phase), into out[l*l+l+m].

    Uses P_l^m(z) = (1 - z^2)^{m/2} Q_l^m(z) and (1 - z^2)^{m/2} (cos m phi, sin m phi) =
    (Re, Im) (x + i y)^m, so only polynomial recurrences in x, y, z are needed.
    """
    a_m = 1.0  # Re (x + i y)^m
    b_m = 0.0  # Im (x + i y)^m
    q_mm = 1.0  # Q_m^m = (2m - 1)!!
    for m in range(l_max + 1):
        if m > 0:
            a_m, b_m = x * a_m - y * b_m, x * b_m + y * a_m
            q_mm *= 2 * m - 1
        q_prev = 0.0
        q_cur = q_mm
        for l in range(m, l_max + 1):
            if l == m + 1:
                q_prev, q_cur = q_cur, (2 * m + 1) * z * q_mm
            elif l > m + 1:
                q_prev, q_cur = q_cur, ((2 * l - 1) * z * q_cur - (l + m - 1) * q_prev) / (l - m)
            base = l * l + l
            if m == 0:
                out[base] = norms[base] * q_cur
            else:
                out[base + m] = norms[base + m] * q_cur * a_m
                out[base - m] = norms[base - m] * q_cur * b_m


@njit(cache=True)
def _radial_basis(r: float, r_cut: float, n_max: int, out: np.ndarray) -> None:
    """g_n(r) = T_n(2 r / r_cut - 1) * (1 + cos(pi r / r_cut)) / 2 for n < n_max, into out."""
    fc = 0.5 * (1.0 + math.cos(math.pi * r / r_cut))
    x = 2.0 * r / r_cut - 1.0
    t_prev = 1.0
    t_cur = x
    out[0] = fc
    if n_max > 1:
        out[1] = x * fc
    for n in range(2, n_max):
        t_prev, t_cur = t_cur, 2.0 * x * t_cur - t_prev
        out[n] = t_cur * fc


@njit(cache=True)
def _density_coefficients(
    vectors: np.ndarray,
    nb_species: np.ndarray,
    start: int,
    stop: int,
    n_species: int,
    r_cut: float,
    n_max: int,
    l_max: int,
    norms: np.ndarray,
    coeffs: np.ndarray,
    g: np.ndarray,
    ylm: np.ndarray,
) -> None:
    """c[Z, n, lm] of one centre from its neighbour rows start:stop (coeffs is overwritten)."""
    n_lm = (l_max + 1) ** 2
    coeffs[:] = 0.0
    for p in range(start, stop):
        dx = vectors[p, 0]
        dy = vectors[p, 1]
        dz = vectors[p, 2]
        r = math.sqrt(dx * dx + dy * dy + dz * dz)
        if r >= r_cut or r == 0.0:
            continue
        _radial_basis(r, r_cut, n_max, g)
        _real_sph_harm(dx / r, dy / r, dz / r, l_max, norms, ylm)
        s = nb_species[p]
        for n in range(n_max):
            gn = g[n]
            for lm in range(n_lm):
                coeffs[s, n, lm] += gn * ylm[lm]


@njit(cache=True)
def _power_spectrum(coeffs: np.ndarray, l_max: int, out: np.ndarray) -> None:
    """p[a, b, l] = sum_m c[a, lm] c[b, lm] for a <= b over flattened (Z, n), into out."""
    n_species, n_max, _ = coeffs.shape
    k_tot = n_species * n_max
    flat = coeffs.reshape(k_tot, (l_max + 1) ** 2)
    f = 0
    for a in range(k_tot):
        for b in range(a, k_tot):
            for l in range(l_max + 1):
                acc = 0.0
                for lm in range(l * l, (l + 1) * (l + 1)):
                    acc += flat[a, lm] * flat[b, lm]
                out[f] = acc
                f += 1


@njit(cache=True)
def _atoms_serial(offsets, vectors, nb_species, n_species, r_cut, n_max, l_max, norms, out) -> None:
    """Power spectrum of every centre, one after the other (used inside the per-frame prange)."""
    coeffs = np.empty((n_species, n_max, (l_max + 1) ** 2))
    g = np.empty(n_max)
    ylm = np.empty((l_max + 1) ** 2)
    for i in range(offsets.shape[0] - 1):
        _density_coefficients(
            vectors, nb_species, offsets[i], offsets[i + 1], n_species, r_cut, n_max, l_max, norms, coeffs, g, ylm
        )
        _power_spectrum(coeffs, l_max, out[i])


@njit(cache=True, parallel=True)
def atom_descriptors(
    positions: np.ndarray,
    species: np.ndarray,
    cell: np.ndarray,
    pbc: np.ndarray,
    n_species: int,
    r_cut: float,
    n_max: int,
    l_max: int,
) -> np.ndarray:
    """Per-atom power spectra (n_atoms, n_features) of one structure, parallel over atoms."""
    offsets, indices, vectors, _ = find_neighbours(positions, cell, pbc, r_cut)
    nb_species = species[indices]
    norms = _sph_harm_norms(l_max)
    n_atoms = positions.shape[0]
    k = n_species * n_max
    out = np.empty((n_atoms, k * (k + 1) // 2 * (l_max + 1)))
    for i in prange(n_atoms):
        coeffs = np.empty((n_species, n_max, (l_max + 1) ** 2))
        g = np.empty(n_max)
        ylm = np.empty((l_max + 1) ** 2)
        _density_coefficients(
            vectors, nb_species, offsets[i], offsets[i + 1], n_species, r_cut, n_max, l_max, norms, coeffs, g, ylm
        )
        _power_spectrum(coeffs, l_max, out[i])
    return out


@njit(cache=True)
def _species_moments(per_atom: np.ndarray, species: np.ndarray, n_species: int, include_variance: bool, out: np.ndarray) -> None:
    """Per-centre-species mean (then variance) of per-atom rows, concatenated; absent species give zeros.

    Two-pass variance (population, 1/N) so replicated cells give the same value to round-off.
    """
    n_atoms, n_feat = per_atom.shape
    out[:] = 0.0
    counts = np.zeros(n_species, dtype=np.int64)
    for i in range(n_atoms):
        s = species[i]
        counts[s] += 1
        for f in range(n_feat):
            out[s * n_feat + f] += per_atom[i, f]
    for s in range(n_species):
        if counts[s] > 0:
            for f in range(n_feat):
                out[s * n_feat + f] /= counts[s]
    if not include_variance:
        return
    var0 = n_species * n_feat
    for i in range(n_atoms):
        s = species[i]
        for f in range(n_feat):
            d = per_atom[i, f] - out[s * n_feat + f]
            out[var0 + s * n_feat + f] += d * d
    for s in range(n_species):
        if counts[s] > 0:
            for f in range(n_feat):
                out[var0 + s * n_feat + f] /= counts[s]


@njit(cache=True)
def species_moments(per_atom: np.ndarray, species: np.ndarray, n_species: int, include_variance: bool) -> np.ndarray:
    """Structure descriptor from per-atom rows: per-species means, then variances if asked."""
    n_out = n_species * per_atom.shape[1] * (2 if include_variance else 1)
    out = np.empty(n_out)
    _species_moments(per_atom, species, n_species, include_variance, out)
    return out


@njit(cache=True)
def sph_harm_table(unit: np.ndarray, l_max: int) -> np.ndarray:
    """Real Y_lm (k, (l_max + 1)^2) of k unit vectors, column l*l + l + m (for tests and plots)."""
    norms = _sph_harm_norms(l_max)
    out = np.empty((unit.shape[0], (l_max + 1) ** 2))
    for k in range(unit.shape[0]):
        _real_sph_harm(unit[k, 0], unit[k, 1], unit[k, 2], l_max, norms, out[k])
    return out


@njit(cache=True)
def radial_table(r: np.ndarray, r_cut: float, n_max: int) -> np.ndarray:
    """Radial basis g_n (k, n_max) at k distances (for tests and plots)."""
    out = np.empty((r.shape[0], n_max))
    for k in range(r.shape[0]):
        _radial_basis(r[k], r_cut, n_max, out[k])
    return out


@njit(cache=True, parallel=True)
def batch_structure_descriptors(
    positions: np.ndarray,
    species: np.ndarray,
    atom_offsets: np.ndarray,
    cells: np.ndarray,
    pbcs: np.ndarray,
    n_species: int,
    r_cut: float,
    n_max: int,
    l_max: int,
    include_variance: bool,
) -> np.ndarray:
    """Structure descriptors of many frames packed end to end, parallel over frames.

    Frame f owns atoms atom_offsets[f]:atom_offsets[f+1]; a whole frame per thread keeps the
    neighbour search parallel too and avoids any per-frame Python work.
    """
    n_frames = atom_offsets.shape[0] - 1
    k = n_species * n_max
    n_feat = k * (k + 1) // 2 * (l_max + 1)
    n_out = n_species * n_feat * (2 if include_variance else 1)
    out = np.empty((n_frames, n_out))
    norms = _sph_harm_norms(l_max)
    for fr in prange(n_frames):
        a0 = atom_offsets[fr]
        a1 = atom_offsets[fr + 1]
        pos = positions[a0:a1]
        spc = species[a0:a1]
        offsets, indices, vectors, _ = find_neighbours(pos, cells[fr], pbcs[fr], r_cut)
        nb_species = spc[indices]
        per_atom = np.empty((a1 - a0, n_feat))
        _atoms_serial(offsets, vectors, nb_species, n_species, r_cut, n_max, l_max, norms, per_atom)
        _species_moments(per_atom, spc, n_species, include_variance, out[fr])
    return out
