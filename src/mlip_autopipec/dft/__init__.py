"""Quantum ESPRESSO labelling: parameters, pseudopotentials, running pw.x, parsing, recovery."""
