"""Cell-list neighbour search under periodic boundary conditions, as Numba kernels.

Works for any triclinic cell, including cells thinner than the cutoff (periodic images are
replicated as far as needed) and non-periodic directions (no images, any cell vector there).
The result is a CSR layout: the neighbours of atom ``i`` are rows ``offsets[i]:offsets[i+1]``
of ``indices`` (atom index j), ``vectors`` (r_j + S @ cell - r_i) and ``shifts`` (integer S,
relative to the positions as given, matching ``ase.neighborlist.neighbor_list``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_EPS = 1e-9  # fractional slack so atoms on a cell face are never dropped by round-off


@njit(cache=True)
def complete_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Cell whose non-periodic vectors are unit vectors orthogonal to the periodic ones.

    Non-periodic vectors may be zero (molecules); replacing them keeps the matrix invertible and
    makes the image padding along periodic directions as tight as possible.
    """
    out = np.eye(3)
    n_periodic = 0
    for k in range(3):
        if pbc[k]:
            out[k, :] = cell[k, :]
            n_periodic += 1
    if n_periodic == 3 or n_periodic == 0:
        return out
    if n_periodic == 2:
        a = -1
        b = -1
        for k in range(3):
            if pbc[k]:
                if a < 0:
                    a = k
                else:
                    b = k
        normal = np.cross(out[a], out[b])
        normal /= math.sqrt(normal @ normal)
        for k in range(3):
            if not pbc[k]:
                out[k, :] = normal
        return out
    # one periodic direction: two orthonormal vectors perpendicular to it
    p = 0
    for k in range(3):
        if pbc[k]:
            p = k
    axis = out[p] / math.sqrt(out[p] @ out[p])
    trial = np.zeros(3)
    trial[np.argmin(np.abs(axis))] = 1.0
    u = np.cross(axis, trial)
    u /= math.sqrt(u @ u)
    v = np.cross(axis, u)
    first = True
    for k in range(3):
        if not pbc[k]:
            if first:
                out[k, :] = u
                first = False
            else:
                out[k, :] = v
    return out


@njit(cache=True)
def _images(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_cut: float):
    """Wrapped atoms plus every periodic image that can lie within r_cut of the central cell.

    Returns image positions, their atom index, their integer shift (relative to the positions as
    given) and, per atom, the image number of its own central copy.
    """
    n_atoms = positions.shape[0]
    full = complete_cell(cell, pbc)
    inv = np.linalg.inv(full)  # columns are the reciprocal vectors b_k (no 2 pi)
    frac = positions @ inv
    wrap = np.zeros((n_atoms, 3), dtype=np.int64)
    pad = np.zeros(3)
    reach = np.zeros(3, dtype=np.int64)
    for k in range(3):
        if pbc[k]:
            b_len = math.sqrt(inv[0, k] ** 2 + inv[1, k] ** 2 + inv[2, k] ** 2)
            pad[k] = r_cut * b_len + _EPS
            reach[k] = int(math.ceil(pad[k]))
            for i in range(n_atoms):
                w = math.floor(frac[i, k])
                wrap[i, k] = w
                frac[i, k] -= w
    # count, then fill (no growing arrays inside the kernel)
    count = 0
    for s0 in range(-reach[0], reach[0] + 1):
        for s1 in range(-reach[1], reach[1] + 1):
            for s2 in range(-reach[2], reach[2] + 1):
                for i in range(n_atoms):
                    if _inside(frac[i], s0, s1, s2, pad, pbc):
                        count += 1
    img_pos = np.empty((count, 3))
    img_atom = np.empty(count, dtype=np.int64)
    img_shift = np.empty((count, 3), dtype=np.int64)
    central = np.empty(n_atoms, dtype=np.int64)
    c = 0
    for s0 in range(-reach[0], reach[0] + 1):
        for s1 in range(-reach[1], reach[1] + 1):
            for s2 in range(-reach[2], reach[2] + 1):
                for i in range(n_atoms):
                    if not _inside(frac[i], s0, s1, s2, pad, pbc):
                        continue
                    f0 = frac[i, 0] + s0
                    f1 = frac[i, 1] + s1
                    f2 = frac[i, 2] + s2
                    for d in range(3):
                        img_pos[c, d] = f0 * full[0, d] + f1 * full[1, d] + f2 * full[2, d]
                    img_atom[c] = i
                    img_shift[c, 0] = s0 - wrap[i, 0]
                    img_shift[c, 1] = s1 - wrap[i, 1]
                    img_shift[c, 2] = s2 - wrap[i, 2]
                    if s0 == 0 and s1 == 0 and s2 == 0:
                        central[i] = c
                    c += 1
    return img_pos, img_atom, img_shift, central, wrap


@njit(cache=True)
def _inside(f: np.ndarray, s0: int, s1: int, s2: int, pad: np.ndarray, pbc: np.ndarray) -> bool:
    """Whether an image lies in the central cell padded by r_cut along each periodic direction."""
    if pbc[0] and (f[0] + s0 < -pad[0] or f[0] + s0 > 1.0 + pad[0]):
        return False
    if pbc[1] and (f[1] + s1 < -pad[1] or f[1] + s1 > 1.0 + pad[1]):
        return False
    if pbc[2] and (f[2] + s2 < -pad[2] or f[2] + s2 > 1.0 + pad[2]):
        return False
    return True


@njit(cache=True)
def _bin_images(img_pos: np.ndarray, r_cut: float):
    """Cartesian bins of side >= r_cut over the images' bounding box, as a counting sort."""
    n_img = img_pos.shape[0]
    lo = np.empty(3)
    nbin = np.empty(3, dtype=np.int64)
    width = np.empty(3)
    for d in range(3):
        lo[d] = img_pos[:, d].min()
        extent = img_pos[:, d].max() - lo[d]
        nbin[d] = max(1, int(extent / r_cut))
        width[d] = max(extent / nbin[d], r_cut) * (1.0 + 1e-12)
    # sparse, far-flung atoms (a big molecule): cap the grid at a few bins per image
    while nbin[0] * nbin[1] * nbin[2] > max(64, 4 * n_img):
        for d in range(3):
            nbin[d] = max(1, nbin[d] // 2)
            extent = img_pos[:, d].max() - lo[d]
            width[d] = max(extent / nbin[d], r_cut) * (1.0 + 1e-12)
    n_bins = nbin[0] * nbin[1] * nbin[2]
    img_bin = np.empty(n_img, dtype=np.int64)
    start = np.zeros(n_bins + 1, dtype=np.int64)
    for k in range(n_img):
        b = 0
        for d in range(3):
            t = min(int((img_pos[k, d] - lo[d]) / width[d]), nbin[d] - 1)
            b = b * nbin[d] + t
        img_bin[k] = b
        start[b + 1] += 1
    for b in range(n_bins):
        start[b + 1] += start[b]
    order = np.empty(n_img, dtype=np.int64)
    fill = start[:-1].copy()
    for k in range(n_img):
        order[fill[img_bin[k]]] = k
        fill[img_bin[k]] += 1
    return order, start, img_bin, nbin


@njit(cache=True)
def _scan(
    i: int,
    img_pos,
    central,
    order,
    start,
    img_bin,
    nbin,
    r_cut: float,
    out_j,
    out_vec,
    out_shift,
    img_atom,
    img_shift,
    base: int,
    fill: bool,
) -> int:
    """Visit the 27 bins around atom i; count (fill=False) or store (fill=True) neighbours."""
    me = central[i]
    b = img_bin[me]
    bz = b % nbin[2]
    by = (b // nbin[2]) % nbin[1]
    bx = b // (nbin[1] * nbin[2])
    r2 = r_cut * r_cut
    n = 0
    for x in range(max(bx - 1, 0), min(bx + 2, nbin[0])):
        for y in range(max(by - 1, 0), min(by + 2, nbin[1])):
            for z in range(max(bz - 1, 0), min(bz + 2, nbin[2])):
                cell_id = (x * nbin[1] + y) * nbin[2] + z
                for q in range(start[cell_id], start[cell_id + 1]):
                    k = order[q]
                    if k == me:
                        continue
                    dx = img_pos[k, 0] - img_pos[me, 0]
                    dy = img_pos[k, 1] - img_pos[me, 1]
                    dz = img_pos[k, 2] - img_pos[me, 2]
                    if dx * dx + dy * dy + dz * dz < r2:
                        if fill:
                            p = base + n
                            out_j[p] = img_atom[k]
                            out_vec[p, 0] = dx
                            out_vec[p, 1] = dy
                            out_vec[p, 2] = dz
                            for d in range(3):
                                out_shift[p, d] = img_shift[k, d] - img_shift[me, d]
                        n += 1
    return n


@njit(cache=True)
def find_neighbours(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_cut: float):
    """All pairs closer than r_cut: (offsets, indices, vectors, shifts); for other kernels to call."""
    n_atoms = positions.shape[0]
    if n_atoms == 0:
        empty = np.empty(0, dtype=np.int64)
        return np.zeros(1, dtype=np.int64), empty, np.empty((0, 3)), np.empty((0, 3), dtype=np.int64)
    img_pos, img_atom, img_shift, central, _ = _images(positions, cell, pbc, r_cut)
    order, start, img_bin, nbin = _bin_images(img_pos, r_cut)
    offsets = np.zeros(n_atoms + 1, dtype=np.int64)
    dummy_j = np.empty(0, dtype=np.int64)
    dummy_vec = np.empty((0, 3))
    dummy_shift = np.empty((0, 3), dtype=np.int64)
    for i in range(n_atoms):
        offsets[i + 1] = offsets[i] + _scan(
            i,
            img_pos,
            central,
            order,
            start,
            img_bin,
            nbin,
            r_cut,
            dummy_j,
            dummy_vec,
            dummy_shift,
            img_atom,
            img_shift,
            0,
            False,
        )
    total = offsets[n_atoms]
    indices = np.empty(total, dtype=np.int64)
    vectors = np.empty((total, 3))
    shifts = np.empty((total, 3), dtype=np.int64)
    for i in range(n_atoms):
        _scan(
            i,
            img_pos,
            central,
            order,
            start,
            img_bin,
            nbin,
            r_cut,
            indices,
            vectors,
            shifts,
            img_atom,
            img_shift,
            offsets[i],
            True,
        )
    return offsets, indices, vectors, shifts


@njit(cache=True)
def neighbour_list(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_cut: float):
    """All pairs closer than r_cut: (offsets, indices, vectors, shifts) in CSR layout; call from Python.

    ``positions`` (n, 3) float64, ``cell`` (3, 3) rows are lattice vectors, ``pbc`` (3,) bool.
    The vector from i to neighbour p is ``positions[indices[p]] + shifts[p] @ cell - positions[i]``.
    A separate entry point from ``find_neighbours`` because a cached Numba function that is both
    called from Python and compiled into another cached function can, when the two caches were
    written by different processes, lose its boxing environment ("'descr' is NULL").
    """
    return find_neighbours(positions, cell, pbc, r_cut)
