"""Molecular dynamics with the surrogate potential (exploration of configuration space)."""
