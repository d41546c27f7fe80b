"""Quantum ESPRESSO, the first labelling engine: pw.x input, launch, output verdicts, recovery ladder, UPF pseudopotentials.

``engine.QuantumEspresso`` is what the label job sees (through ``dft.engine.get_engine``); the other
modules are its parts, each usable on its own (the expander reads ``pseudopotentials``).
"""
