"""Labelling engines: DFT labels behind one interface, with Quantum ESPRESSO (pw.x) its only implementation today.

``engine`` defines the interface and the code-neutral outcomes; ``labeller`` is the label job (recovery-ladder
loop, label cache and its lock, label record) and speaks only to that interface; ``runner`` launches a program
under MPI with a wall-time limit; ``kpoints`` turns a k-point spacing into a mesh. ``espresso/`` holds
everything specific to pw.x: input writing, output verdicts, the recovery ladder and UPF pseudopotentials.
"""
