"""Credit records and their events (revocation, repair) as the engine sees them."""

from __future__ import annotations

from datetime import date, datetime

from .values import value


@value
class RecordEvent:
    """A revocation (撤销) or a credit repair (信用修复) of one record."""

    record_id: int
    kind: str  # "revocation" | "repair"
    audit_position: int
    recorded_at: datetime
    repaired_on: date | None = None
    document_no: str = ""
    reason: str = ""


@value
class Record:
    """One credit record as entered by a sector regulator.

    ``valid_until`` is the value as entered (explicit codes) or computed at entry; the
    engine recomputes default validity from the model it scores with.
    """

    id: int
    uscc: str
    sector: str
    code: str
    decided_on: date
    valid_until: date
    document_no: str
    audit_position: int
    recorded_at: datetime
    project_code: str | None = None
    sha256: str = ""


@value
class Knowledge:
    """What the service knew: every audit entry up to ``position`` (all with
    ``at ≤ known_at``)."""

    position: int
    known_at: datetime

    def knows(self, audit_position: int) -> bool:
        return audit_position <= self.position
