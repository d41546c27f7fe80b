"""Stage `simulate` (iterations 1, 2, ...): active learning with the committee.

On-the-fly committee MD (``otf``) and adaptive kMC (``kmc``, ``otf_kmc``) watch the committee's spread against
a threshold (``uncertainty``); ``committee_runs`` is one ``simulate_md`` job over its start structures.
``iteration`` is the checkpoint ``simulate``: it carves uncertain environments out of large cells
(``extraction``), drops near-duplicates, keeps the most uncertain within the budget and asks the stopping rule
(``convergence``) whether the loop has converged, writing ``status.json``.
"""
