"""Run profiles: one switch (``profile: tiny``) that scales a whole run to a laptop, instead of a dozen hand-tuned keys.

A profile sits between the expander's heuristics and the user's own keys: it overrides the heuristics (small cells,
short MD, a small DFT budget) and every key the user writes still wins. Each value it sets carries its reason into the
expanded config's ``why``, so the scaled-down choices are visible in ``results/exec_config_dump.yaml``.

``production`` (the default) changes nothing. ``tiny`` keeps everything that decides the physics the same as
production (functional, pseudopotentials, cutoffs, smearing), so its potential is judged against the same DFT, and
shrinks what costs time: 8-atom DFT cells (8-atom SQS for alloys), one exploration start, 300-step MD, 16 + 2 x 6
labels, a 3-member committee, and a coarser k-point mesh for metals and for ionic solids (a wide gap converges on
few k-points). The validation keeps its production checks and is labelled with the same mesh, so the potential is
judged against the DFT it was trained on. The README's demo is ``composition: Si`` with ``profile: tiny``.
"""

from __future__ import annotations

from typing import Any, Literal

Profile = Literal["production", "tiny"]
PROFILE_DESCRIPTION = (
    "'production' (default): the expander's choices for a real potential. 'tiny': the same physics (functional, "
    "pseudopotentials, cutoffs) on 8-atom cells, short MD and a small DFT budget, for a 2-core machine in about an "
    "hour; every key you write still wins."
)

TINY_METAL_KPOINT_SPACING = 0.25  # 1/Angstrom: an 8-atom fcc-based cell still gets a 5x5x5 mesh
TINY_IONIC_KPOINT_SPACING = 0.6  # 1/Angstrom: 2x2x2 on the 8-atom rock-salt cell; measured on NaCl, see _TINY_IONIC


# Section -> key -> (value, why) of the tiny profile; one table, so a value never loses its reason.
_TINY: dict[str, dict[str, tuple[Any, str]]] = {
    "generate": {"target_atoms": (8, "8-atom DFT cells (seconds to minutes of pw.x each on 2 cores)")},
    "explore": {
        "steps": (300, "300 surrogate MD steps per trajectory"),
        "supercell_atoms": (8, "8-atom exploration cells, the size DFT labels"),
        "starts": (1, "one start structure"),
    },
    "select": {
        "initial_structures": (16, "16 DIRECT picks in iteration 0"),
        "per_iteration": (6, "6 uncertain structures per later iteration (28 labels in all)"),
    },
    "train": {"committee_size": (3, "3 members, the fewest that give a spread with a median")},
    "active_learning": {"md_steps": (300, "300 committee MD steps per trajectory")},
}
_TINY_METAL = {
    "dft": {
        "kpoint_spacing": (
            TINY_METAL_KPOINT_SPACING,
            f"{TINY_METAL_KPOINT_SPACING} 1/Angstrom for metals, coarser than production's; the potential is judged "
            "against DFT with the same mesh",
        )
    }
}
_TINY_IONIC = {
    "dft": {
        "kpoint_spacing": (
            TINY_IONIC_KPOINT_SPACING,
            f"{TINY_IONIC_KPOINT_SPACING} 1/Angstrom for an ionic solid (expected wide gap): 8x fewer k-points than "
            "production's 0.3 on an 8-atom cell; measured on two rattled NaCl cells: forces moved by <= 0.003 eV/A, "
            "stresses by <= 0.09 GPa, energies by a near-constant 1.3-1.6 meV/atom (a small-gap or metallic oxide may "
            "need production's mesh: set dft.kpoint_spacing); the potential is judged against DFT with the same mesh",
        )
    }
}
_TINY_ALLOY = {"generate": {"sqs_sizes": ([8], "8-atom SQS cells only")}}


def profile_overrides(
    profile: Profile, metallic: bool, alloy: bool, ionic: bool = False
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """(values per config section or top-level key, why per section and key) of a profile; empty for production.

    ``metallic``: every element a metal; ``ionic``: an ionic solid (each a coarser k-mesh than production);
    ``alloy``: more than one metal (SQS cell sizes).
    """
    if profile == "production":
        return {}, {}
    values: dict[str, Any] = {"dft_budget": 28, "max_iterations": 2}
    why: dict[str, dict[str, str]] = {}
    tables = (_TINY, _TINY_METAL if metallic else {}, _TINY_IONIC if ionic else {}, _TINY_ALLOY if alloy else {})
    for table in tables:
        for section, entries in table.items():
            for key, (value, reason) in entries.items():
                values.setdefault(section, {})[key] = value
                why.setdefault(section, {})[key] = f"profile tiny: {reason}"
    return values, why


def merge_profile(user: dict[str, Any], profile_values: dict[str, Any]) -> dict[str, Any]:
    """The user's minimal config with the profile's values filled in where the user set nothing (user keys win)."""
    merged = dict(user)
    for key, value in profile_values.items():
        if isinstance(value, dict):
            merged[key] = {**value, **(user.get(key) or {})}
        elif user.get(key) is None:
            merged[key] = value
    return merged
