"""Stage `explore` (iteration 0): surrogate MD from the generated structures, one trajectory per job.

The universal potential (MACE-MP or CHGNet) drives NVT/NPT MD at the target temperatures with a
watchdog against unphysical runs (``explore``); ``job`` is one ``explore`` job (wildcards, surrogate, every
pressure, the summary). The sampled frames are the candidate pool that DIRECT selects from. The MD helpers
in ``explore`` (thermostats and barostats, start-cell preparation) are reused by active learning.
"""
