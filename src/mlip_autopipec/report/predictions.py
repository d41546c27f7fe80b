"""The committee's predictions on the structures it was trained and tested on, for the parity plots.

Why evaluate again: ``metrics.json`` keeps the errors but not the predicted values, and the ``parity.png`` the
training job drew has no stress panel. The committee files and its train/test split (with the DFT labels) are
in ``results/iter_{i}/models``, so the mean prediction is recomputed from them, on the same structures.
"""

from __future__ import annotations

from pathlib import Path

from mlip_autopipec.potentials.metrics import Predictions


def split_predictions(manifest: Path) -> dict[str, Predictions]:
    """Committee-mean predictions next to the DFT labels, by set ('train', 'test'), for the committee of ``manifest``."""
    from mlip_autopipec.potentials.committee import CommitteeCalculator  # loads the backend: only when drawing
    from mlip_autopipec.potentials.committee_plan import load_committee, load_split
    from mlip_autopipec.potentials.metrics import committee_predictions

    committee = load_committee(manifest)
    calc = CommitteeCalculator(committee, extrapolation_grade=False)
    train, test = load_split(committee)
    return {name: committee_predictions(calc, frames)[0] for name, frames in (("train", train), ("test", test)) if frames}
