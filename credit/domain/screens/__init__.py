"""The collusion screens of WARNINGS.md §4 (标中预警), pure functions of a tender, the
screen definition and a snapshot of what was known before its registration.

One module per family: shared identifiers (screens 1–5, :mod:`.identifiers`), prices
(6–11, :mod:`.prices`) and earlier tenders (12–13, :mod:`.history`). A warning is a lead
for a regulator, never a finding.
"""

from __future__ import annotations

from ..tenders import ScreenWarning, Snapshot, Tender
from . import history, identifiers, prices
from .definition import ScreenDefinition

__all__ = ["ScreenDefinition", "run"]


def run(definition: ScreenDefinition, tender: Tender,
        snapshot: Snapshot) -> tuple[ScreenWarning, ...]:
    """Every screen of WARNINGS.md §4 on ``tender``, in the order warnings are raised:
    by screen number, then by the sorted list of bid positions each names (so pair
    (1, 2) comes before (1, 3)). The cross-tender screens read only ``snapshot``."""
    raised = [w for screen in (*identifiers.SCREENS, *prices.SCREENS)
              for w in screen(definition, tender)]
    raised += [w for screen in history.SCREENS for w in screen(definition, tender, snapshot)]
    return tuple(sorted(raised, key=lambda w: (w.screen, w.bids)))
