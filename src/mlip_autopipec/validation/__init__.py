"""Stage `validate`: the delivered potential's physical properties next to DFT from the same engine.

Every property is computed twice, with the potential and with DFT from the project's own labelling engine
(same pseudopotentials, cutoffs, k-spacing and smearing, through the label cache, so a rerun costs nothing);
both sides are plain ASE calculators, so each property module is one function of (structure, calculator).
``dft_reference`` is the DFT side as an ASE calculator; ``table`` turns numbers into the rows of
``validation.json`` with a pass / warn / fail mark against the config's tolerances.
"""
