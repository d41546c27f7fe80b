"""Composition analysis and structure generation."""
