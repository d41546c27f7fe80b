"""Invariant per-atom and per-structure descriptors (SOAP-like power spectrum) for frame selection."""

from .api import DescriptorSpec, per_atom_descriptors, structure_descriptor, structure_descriptors
from .neighbours import neighbour_list

__all__ = [
    "DescriptorSpec",
    "neighbour_list",
    "per_atom_descriptors",
    "structure_descriptor",
    "structure_descriptors",
]
