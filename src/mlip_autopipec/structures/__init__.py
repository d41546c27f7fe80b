"""Stage `generate` (iteration 0): from a composition to physically sensible starting structures.

``composition`` and ``bonding`` (parse the formula, infer the bonding type), ``prototypes`` (the starting
crystal), ``sqs`` (icet special quasirandom structures for alloys), ``normal_modes`` (molecules; also the
finite-difference Hessian that kMC uses), ``perturb`` (strained, rattled, defected cells and surfaces),
``clusters`` (dimer/trimer scans, isolated atoms), ``random_packing``, ``filters`` (minimum distances);
``generate`` puts them together for the ``generate`` rule.
"""
