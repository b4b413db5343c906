"""The resources the API presents, as marshmallow schemas: the one shape of every
success response (API.md §3–§7), in the order their fields are sent.

The use cases build plain dicts; the views return them and flask-smorest dumps them
through these schemas (``@blp.response(status, Schema)``), so a field a schema does not
declare is never sent and the OpenAPI document is generated from the same classes. A
response that must later be sent again byte for byte — an evaluation document, a
remembered Idempotency-Key reply — is dumped through its schema once, at creation
(:func:`present`), and that text is stored and sent verbatim.

Request shapes are in credit/services/inputs.py; the error body of API.md §1 is
api/schemas.py's ``ErrorBody``. Schemas refuse unknown fields when loading (the default),
which is how tests check that a response is exactly what its schema says.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from credit import canonical_text
from credit.domain.model import SECTORS
from credit.domain.screens.definition import INTEGER_PARAMETERS, SEVERITIES
from credit.domain.screens.definition import PARAMETERS as SCREEN_PARAMETERS
from credit.domain.tenders import BID_STATUSES, EXCLUSION_KINDS, METHODS, PERSONNEL_ROLES

from .inputs import APPLICATION_KINDS, DECISION_ACTIONS
from .projection import projection_or_none
from .tender_resources import DISPOSAL_ACTIONS, WARNING_STATUSES

DECIMAL = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "100.00"}
AMOUNT = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "1196000.00"}
FACTOR = {"type": "string", "pattern": r"^\d+\.\d{2,}$", "example": "0.50"}
SHA256 = {"pattern": r"^[0-9a-f]{64}$"}
PROBLEMS = ("hash_mismatch", "prev_mismatch", "position_gap", "row_missing", "row_mismatch",
            "row_unreferenced")


def present(schema: Schema, resource) -> str:
    """The canonical JSON text (API.md §6) of ``resource`` dumped through ``schema``:
    what is stored to be sent again byte for byte."""
    return canonical_text.dumps(schema.dump(resource))


def _string(meta: dict, kw: dict) -> fields.String:
    return fields.String(metadata={**meta, **kw.pop("metadata", {})}, **kw)


def decimal(**kw) -> fields.String:
    """Money-like quantities: strings with exactly two decimals (API.md §1)."""
    return _string(DECIMAL, kw)


def amount(**kw) -> fields.String:
    """A price or contract sum: a non-negative decimal with exactly two decimals."""
    return _string(AMOUNT, kw)


def day(**kw) -> fields.String:
    return _string({"format": "date"}, kw)


def instant(**kw) -> fields.String:
    return _string({"format": "date-time"}, kw)


def sha256(**kw) -> fields.String:
    return _string(SHA256, kw)


def cursor() -> fields.String:
    return fields.String(required=True, allow_none=True, metadata={
        "description": "pass as `after` to continue; null on the last page"})


_UNBUILT = object()  # Resource.dump: this schema's projection is not built yet


class Resource(Schema):
    """Base of the response schemas (unknown fields refused when a response is loaded
    back to check it).

    A dict resource is dumped through the schema's projection
    (credit/services/projection.py): the same fields, order and values as marshmallow's
    own walk, a fraction of its cost (a served score's body was about a tenth of the
    request, an evaluation's document of fifty bodies 15 % of the evaluation). Schemas
    whose dump does more than select, and resources that are not dicts, keep
    marshmallow's walk. ``PROJECT = False`` gives marshmallow's walk everywhere (the
    tests compare the two)."""

    PROJECT = True

    def dump(self, obj, *, many=None):
        if Resource.PROJECT and type(obj) is dict and not (self.many if many is None
                                                              else many):
            project = self.__dict__.get("_projection", _UNBUILT)
            if project is _UNBUILT:
                project = self._projection = projection_or_none(self)
            if project is not None:
                return project(obj)
        return super().dump(obj, many=many)

    def get_attribute(self, obj, attr, default):
        # Resources are dicts: a field the dict lacks is absent, never one of the dict's
        # own methods (a field named ``items`` or ``values`` would otherwise dump them).
        if isinstance(obj, dict):
            return obj.get(attr, default)
        return super().get_attribute(obj, attr, default)


# ------------------------------------------------------------------- records (§3)

class RecordEventOut(Resource):
    kind = fields.String(required=True, validate=validate.OneOf(["revocation", "repair"]))
    document_no = fields.String(required=True)
    reason = fields.String(required=True)
    repaired_on = day(metadata={"description": "repairs only"})
    entered_by = fields.String(required=True)
    recorded_at = instant(required=True)
    audit_position = fields.Integer(required=True)


class RecordOut(Resource):
    id = fields.Integer(required=True)
    uscc = fields.String(required=True)
    subject_name = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    code = fields.String(required=True)
    name = fields.String(required=True)
    decided_on = day(required=True)
    document_no = fields.String(required=True)
    issued_by = fields.String(required=True)
    valid_until = day(required=True)
    original_valid_until = day(required=True)
    project_code = fields.String(required=True, allow_none=True)
    project_name = fields.String(required=True, allow_none=True)
    occurred_on = day(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    category = fields.String(required=True)
    tier = fields.String(required=True, allow_none=True)
    points = decimal(required=True)
    valid_from = day(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "repaired",
                                                                   "revoked"]))
    counts_today = fields.Boolean(required=True)
    entered_by = fields.String(required=True)
    recorded_at = instant(required=True)
    audit_position = fields.Integer(required=True)
    sha256 = sha256(required=True)
    source_warning = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the warning whose confirmation created the record (WARNINGS.md "
                       "§6); null for records entered directly"})
    source_performance = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the performance evaluation whose approval created the record "
                       "(PERFORMANCE.md §4); null otherwise"})
    events = fields.List(fields.Nested(RecordEventOut), required=True)
    repaired_on = day(metadata={"description": "when repaired"})
    revoked_at = instant(metadata={"description": "when revoked"})


class RecordPage(Resource):
    items = fields.List(fields.Nested(RecordOut), required=True)
    next = cursor()


# ----------------------------------------- applications and objections (issue 13)

APPLICATION_STATUSES = ("pending", "accepted", "rejected")


class DecisionOut(Resource):
    action = fields.String(required=True, validate=validate.OneOf(DECISION_ACTIONS))
    reason = fields.String(required=True)
    document_no = fields.String(required=True, allow_none=True)
    by = fields.String(required=True)
    at = instant(required=True)


class ApplicationOut(Resource):
    id = fields.Integer(required=True)
    record_id = fields.Integer(required=True)
    uscc = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    kind = fields.String(required=True, validate=validate.OneOf(APPLICATION_KINDS))
    reason = fields.String(required=True)
    requested_repair_on = day(required=True, allow_none=True,
                              metadata={"description": "repair applications only"})
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    submitted_by = fields.String(required=True)
    submitted_at = instant(required=True)
    decision = fields.Nested(DecisionOut, required=True, allow_none=True,
                             metadata={"description": "null while pending"})


class ApplicationPage(Resource):
    items = fields.List(fields.Nested(ApplicationOut), required=True)
    next = cursor()


# ------------------------------------- the public joint-punishment list (issue 13)

class BasisRecordOut(Resource):
    """A decision a public measure rests on: only what its decision document prints."""

    code = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "名称 of the code"})
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    document_no = fields.String(required=True)
    issued_by = fields.String(required=True)
    decided_on = day(required=True)
    valid_until = day(required=True, metadata={
        "description": "effective end of publication (公示期)"})


class PublicMeasureOut(Resource):
    measure = fields.String(required=True, validate=validate.OneOf(["blacklist", "bid_ban"]))
    until = day(required=True, allow_none=True)
    basis = fields.List(fields.Nested(BasisRecordOut), required=True)


class PunishedOut(Resource):
    uscc = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    measures = fields.List(fields.Nested(PublicMeasureOut), required=True)


class PunishmentPage(Resource):
    as_of = day(required=True)
    items = fields.List(fields.Nested(PunishedOut), required=True)
    next = cursor()


# ------------------------------------------------------------ scores (§4) and §5

class ModelRef(Resource):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = sha256(required=True)


class Components(Resource):
    """Exactly the two sites apart from good conduct (API.md §4)."""

    market = decimal(required=True)
    site = decimal(required=True)
    good = decimal(required=True)


class MeasureOut(Resource):
    """Exactly MODEL.md §6's fields."""

    measure = fields.String(required=True, validate=validate.OneOf(
        ["blacklist", "bid_ban", "key_supervision"]))
    basis = fields.List(fields.Integer(), required=True)
    until = day(required=True, allow_none=True)


REASON_FIELDS = {"measure": {"kind", "measure", "basis", "until"},
                 "record": {"kind", "record_id", "code", "name", "sector", "contribution",
                            "valid_until"}}


class ReasonOut(Resource):
    """MODEL.md §8: a present blacklist or bid ban (``kind`` measure: ``measure``,
    ``basis``, ``until``) or a harmful record (``kind`` record: ``record_id``, ``code``,
    ``name``, ``sector``, ``contribution``, ``valid_until``)."""

    extra_fields: frozenset[str] = frozenset()

    kind = fields.String(required=True, validate=validate.OneOf(list(REASON_FIELDS)))
    measure = fields.String()
    basis = fields.List(fields.Integer())
    until = day(allow_none=True)
    record_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    sector = fields.String()
    contribution = decimal()
    valid_until = day()

    @validates_schema
    def _fields_of_its_kind(self, data, **kw):
        expected = REASON_FIELDS.get(data.get("kind"), set()) | self.extra_fields
        if data.get("kind") in REASON_FIELDS and set(data) != expected:
            raise ValidationError(f"a {data['kind']} reason has exactly the fields "
                                  f"{sorted(expected)}.")


class ScoreOut(Resource):
    uscc = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    as_of = day(required=True)
    known_at = instant(required=True)
    model = fields.Nested(ModelRef, required=True)
    score = decimal(required=True)
    components = fields.Nested(Components, required=True)
    grade = fields.String(required=True)
    eligible_to_bid = fields.Boolean(required=True)
    bid_points = decimal(required=True)
    inspection_multiplier = decimal(required=True)
    measures = fields.List(fields.Nested(MeasureOut), required=True)
    reasons = fields.List(fields.Nested(ReasonOut), required=True)
    trace_id = fields.Integer(required=True)
    trace_sha256 = sha256(required=True)


class StatusCounts(Resource):
    active = fields.Integer(required=True)
    repaired = fields.Integer(required=True)
    revoked = fields.Integer(required=True)


SectorCounts = Resource.from_dict(
    {s: fields.Nested(StatusCounts, required=True) for s in SECTORS}, name="SectorCounts")


class SubjectOut(Resource):
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    counts = fields.Nested(SectorCounts, required=True)


class InquiryOut(Resource):
    trace_id = fields.Integer(required=True)
    at = instant(required=True)
    actor = fields.String(required=True)
    sector = fields.String(required=True, allow_none=True, metadata={
        "description": "null for an agency score (PERFORMANCE.md §7)"})
    as_of = day(required=True)
    evaluation_id = fields.Integer()
    tender_code = fields.String()


class InquiryPage(Resource):
    items = fields.List(fields.Nested(InquiryOut), required=True)
    next = cursor()


class TenderOut(Resource):
    code = fields.String(required=True)
    name = fields.String(required=True)


class BidderOut(Resource):
    """The bidder as sent, USCCs normalised: exactly one of ``uscc`` or ``consortium``."""

    uscc = fields.String()
    consortium = fields.List(fields.String())

    @validates_schema
    def _exactly_one(self, data, **kw):
        if ("uscc" in data) == ("consortium" in data):
            raise ValidationError("a bidder is exactly one of {uscc} or {consortium}.")


class MemberMeasureOut(MeasureOut):
    """A member's measure, with the member's USCC."""

    uscc = fields.String(required=True)


class MemberReasonOut(ReasonOut):
    """A member's reason, with the member's USCC."""

    extra_fields = frozenset({"uscc"})

    uscc = fields.String(required=True)


class BidResultOut(Resource):
    bidder = fields.Nested(BidderOut, required=True)
    score = decimal(required=True)
    grade = fields.String(required=True)
    eligible_to_bid = fields.Boolean(required=True)
    bid_points = decimal(required=True)
    measures = fields.List(fields.Nested(MemberMeasureOut), required=True)
    reasons = fields.List(fields.Nested(MemberReasonOut), required=True)
    members = fields.List(fields.Nested(ScoreOut), required=True)
    performance_index = decimal(allow_none=True, metadata={
        "description": "PERFORMANCE.md §6 as of the evaluation's as_of (a consortium: the "
                       "lowest non-null member index); information only, it changes no "
                       "score or bid points (absent on evaluations created before)"})


class EvaluationWarningOut(Resource):
    """A warning of the registered tender, open or referred when the evaluation was
    created (WARNINGS.md §7)."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    bids = fields.List(fields.Integer(), required=True)


class EvaluationOut(Resource):
    id = fields.Integer(required=True)
    tender = fields.Nested(TenderOut, required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    as_of = day(required=True)
    known_at = instant(required=True)
    model = fields.Nested(ModelRef, required=True)
    created_by = fields.String(required=True)
    created_at = instant(required=True)
    results = fields.List(fields.Nested(BidResultOut), required=True)
    warnings = fields.List(fields.Nested(EvaluationWarningOut), metadata={
        "description": "the registered tender's warnings open or referred at creation "
                       "(WARNINGS.md §7); [] for a tender the platform did not register "
                       "(absent on evaluations created before)"})


# ------------------------------------------- tenders and warnings (WARNINGS.md §5–§6)
# Personal values have no field here but their masks: a keyed hash could not be served
# even by mistake, because dumping drops every field a schema does not declare.

class PartyOut(Resource):
    uscc = fields.String(required=True)
    name = fields.String(required=True)


class DocumentOut(Resource):
    machine_code = fields.String(required=True, allow_none=True)
    file_id = fields.String(required=True, allow_none=True)
    pricing_lock = fields.String(required=True, allow_none=True)


class UploadOut(Resource):
    mac = fields.String(required=True, allow_none=True)
    cpu = fields.String(required=True, allow_none=True)
    disk = fields.String(required=True, allow_none=True)
    ip = fields.String(required=True, allow_none=True)
    onsite = fields.Boolean(required=True)


class PersonOut(Resource):
    role = fields.String(required=True, validate=validate.OneOf(PERSONNEL_ROLES))
    id_number_masked = fields.String(required=True, metadata={
        "example": "330621********1236"})


class BidOut(Resource):
    n = fields.Integer(required=True, metadata={"description": "position from 1, as sent"})
    bidder = fields.String(required=True)
    bidder_name = fields.String(required=True)
    consortium = fields.List(fields.Nested(PartyOut), required=True)
    price = amount(required=True)
    status = fields.String(required=True, validate=validate.OneOf(BID_STATUSES))
    reject_reason = fields.String(required=True, allow_none=True)
    submitted_at = instant(required=True)
    documents = fields.List(fields.Nested(DocumentOut), required=True)
    uploads = fields.List(fields.Nested(UploadOut), required=True)
    deposit_account_masked = fields.String(required=True, allow_none=True,
                                           metadata={"example": "****4567"})
    personnel = fields.List(fields.Nested(PersonOut), required=True)


class ExclusionOut(Resource):
    kind = fields.String(required=True, validate=validate.OneOf(EXCLUSION_KINDS))
    value = fields.String(required=True)


class ScreensRef(Resource):
    ref = fields.String(required=True, metadata={"example": "keqiao-screens-2025@1"})
    sha256 = sha256(required=True)


class AwardOut(Resource):
    winner = fields.String(required=True)
    winner_name = fields.String(required=True, allow_none=True)
    bid = fields.Integer(required=True, allow_none=True)
    awarded_on = day(required=True)
    contract_price = amount(required=True)
    completion_due = day(required=True)
    project_managers = fields.List(fields.String(), required=True, metadata={
        "description": "the winning bid's project managers, masked"})
    awarded_by = fields.String(required=True)
    awarded_at = instant(required=True)
    audit_position = fields.Integer(required=True)


class RegisteredTenderOut(Resource):
    """A registered tender (WARNINGS.md §5): every input field, personal data masked,
    with its award and the ids of its warnings."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    tenderee = fields.Nested(PartyOut, required=True)
    agency = fields.Nested(PartyOut, required=True, allow_none=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    ceiling_price = amount(required=True)
    opened_at = instant(required=True)
    village = fields.Boolean(required=True)
    exclusions = fields.List(fields.Nested(ExclusionOut), required=True)
    bids = fields.List(fields.Nested(BidOut), required=True)
    registered_at = instant(required=True)
    registered_by = fields.String(required=True)
    audit_position = fields.Integer(required=True)
    knowledge_position = fields.Integer(required=True, metadata={
        "description": "the chain position the cross-tender screens read up to"})
    screens = fields.Nested(ScreensRef, required=True)
    award = fields.Nested(AwardOut, required=True, allow_none=True)
    warnings = fields.List(fields.Integer(), required=True)


class RegisteredTenderPage(Resource):
    items = fields.List(fields.Nested(RegisteredTenderOut), required=True)
    next = cursor()


class WarningBidOut(Resource):
    n = fields.Integer(required=True)
    bidder = fields.String(required=True)
    bidder_name = fields.String(required=True)
    consortium = fields.List(fields.Nested(PartyOut), required=True)


class DisposalOut(Resource):
    id = fields.Integer(required=True)
    action = fields.String(required=True, validate=validate.OneOf(DISPOSAL_ACTIONS))
    reason = fields.String(required=True)
    document_no = fields.String(required=True, allow_none=True)
    decided_on = day(required=True, allow_none=True)
    code = fields.String(required=True, allow_none=True)
    bids = fields.List(fields.Integer(), required=True)
    covered_by = fields.List(fields.Integer(), required=True, allow_none=True)
    records = fields.List(fields.Integer(), required=True, metadata={
        "description": "the records this disposal created"})
    by = fields.String(required=True)
    at = instant(required=True)
    audit_position = fields.Integer(required=True)


class WarningOut(Resource):
    """A warning (WARNINGS.md §5) with its disposals (§6). ``evidence`` and
    ``parameters`` are the screen's own, as raised (their shape depends on ``code``)."""

    id = fields.Integer(required=True)
    tender = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    screen = fields.Integer(required=True)
    code = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    basis = fields.String(required=True)
    bids = fields.List(fields.Nested(WarningBidOut), required=True)
    evidence = fields.Dict(keys=fields.String(), required=True)
    parameters = fields.Dict(keys=fields.String(), required=True)
    definition = fields.String(required=True)
    raised_at = instant(required=True)
    audit_position = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(WARNING_STATUSES))
    disposals = fields.List(fields.Nested(DisposalOut), required=True)


class WarningPage(Resource):
    items = fields.List(fields.Nested(WarningOut), required=True)
    next = cursor()


# ------------------------------------------------------------- the audit log (§6)

class EntryOut(Resource):
    """An entry exactly as logged; its fields in the order of its canonical text, then
    ``sha256``. The payload is served exactly as hashed (its shape depends on
    ``kind``), so it is passed through, never re-shaped."""

    actor = fields.String(required=True)
    at = instant(required=True)
    kind = fields.String(required=True)
    payload = fields.Dict(keys=fields.String(), required=True)
    position = fields.Integer(required=True)
    prev_sha256 = sha256(required=True)
    sha256 = sha256(required=True)


class EntryPage(Resource):
    items = fields.List(fields.Nested(EntryOut), required=True)
    next = cursor()


class TraceVerification(Resource):
    hash_ok = fields.Boolean(required=True)
    chain_ok = fields.Boolean(required=True)
    replay_ok = fields.Boolean(required=True)
    ok = fields.Boolean(required=True)
    differences = fields.List(fields.String(), required=True, metadata={
        "description": "The payload paths where the replayed score differs from the "
                       "trace, or the first field the replay cannot read; ``records`` "
                       "alone when a stored input of the score (a record or event, an "
                       "agency rating, the subject's registration) no longer reads "
                       "back: the database was altered."})


class Problem(Resource):
    """The first bad position; ``table`` and ``id`` name a stored row (``id`` an
    integer, a USCC, or a key's ``token_id method path key``)."""

    position = fields.Integer(required=True, allow_none=True)
    problem = fields.String(required=True, validate=validate.OneOf(PROBLEMS))
    table = fields.String()
    id = fields.Raw(metadata={"oneOf": [{"type": "integer"}, {"type": "string"}]})


class CheckpointProblem(Resource):
    position = fields.Integer(required=True)
    problem = fields.String(required=True, validate=validate.OneOf(
        ["truncated", "hash_mismatch", "position_gap", "prev_mismatch"]))


class ChainVerification(Resource):
    ok = fields.Boolean(required=True)
    entries_checked = fields.Integer(required=True)
    first_bad = fields.Nested(Problem, required=True, allow_none=True)
    checkpoint_ok = fields.Boolean(metadata={"description": "only with position and sha256"})
    checkpoint_problem = fields.Nested(CheckpointProblem, allow_none=True, metadata={
        "description": "only with position and sha256"})
    from_position = fields.Integer(metadata={
        "description": "only with from=checkpoint: the stored verified position the run "
                       "started from (0: none was stored, the whole chain was walked)"})


class CheckpointOut(Resource):
    position = fields.Integer(required=True)
    sha256 = sha256(required=True)
    at = instant(required=True)
    key_id = fields.String(required=True)
    signature = fields.String(required=True, metadata={
        "description": "base64 Ed25519 signature over the UTF-8 canonical JSON of "
                       "{position, sha256, at}"})


class PublicKeyOut(Resource):
    key_id = fields.String(required=True)
    algorithm = fields.String(required=True, validate=validate.OneOf(["Ed25519"]))
    public_key = fields.String(required=True, metadata={
        "description": "base64 of the raw 32-byte Ed25519 public key"})


# -------------------------------------------------------- models and health (§7)

class ModelItem(Resource):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = sha256(required=True)
    kind = fields.String(required=True, metadata={
        "description": "scoring (a scoring model) or another rule set kept as data"})
    active = fields.Boolean(required=True)


class ModelList(Resource):
    items = fields.List(fields.Nested(ModelItem), required=True)


class GradeBandOut(Resource):
    grade = fields.String(required=True)
    min_score = decimal(required=True)


class GradesOut(Resource):
    listed = fields.String(metadata={"description": "scoring models: the grade when listed"})
    bands = fields.List(fields.Nested(GradeBandOut), required=True)


class FactorPair(Resource):
    same = fields.String(required=True, metadata=dict(FACTOR))
    other = fields.String(required=True, metadata=dict(FACTOR))


class JointPunishmentOut(Resource):
    pair_window_days = fields.Integer(required=True)
    key_supervision_grades = fields.List(fields.String(), required=True)
    key_supervision_min_serious = fields.Integer(required=True)
    key_supervision_min_multiplier = decimal(required=True)


class BidPointsOut(Resource):
    credit_weight = decimal(required=True)
    floor = decimal(required=True)
    full = decimal(required=True)


class CatalogueItem(Resource):
    code = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True)
    points = decimal(required=True)
    tier = fields.String(required=True, allow_none=True)
    validity_months = fields.Integer(required=True, allow_none=True)
    explicit_max_months = fields.Integer(required=True, allow_none=True)
    repair_min_months = fields.Integer(required=True, allow_none=True)
    flags = fields.List(fields.String(), required=True)
    family = fields.String(required=True, allow_none=True)
    basis = fields.String(required=True)
    created_by = fields.String(required=True, allow_none=True, metadata={
        "description": "the use case that creates records of this code (null: a regulator "
                       "enters them)"})
    enterable = fields.Boolean(required=True, metadata={
        "description": "whether POST /records accepts the code"})


class ScreenOut(Resource):
    number = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    basis = fields.String(required=True)
    allowed_codes = fields.List(fields.String(), required=True)


ScreenParameters = Resource.from_dict(
    {name: fields.Integer(required=True) if name in INTEGER_PARAMETERS
     else fields.String(required=True, metadata={"type": "string", "example": "0.02"})
     for name in SCREEN_PARAMETERS}, name="ScreenParameters")

class IndicatorOut(Resource):
    item = fields.String(required=True)
    name = fields.String(required=True)
    max = decimal(required=True)


class RatingBandOut(Resource):
    rating = fields.String(required=True)
    name = fields.String(required=True)
    min_score = decimal(required=True)


class PerformanceRecordsOut(Resource):
    kinds = fields.List(fields.String(), required=True)
    codes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class PostAwardWarningOut(Resource):
    code = fields.String(required=True)
    name = fields.String(required=True)
    severity = fields.String(required=True)
    basis = fields.String(required=True)
    stage = fields.String(required=True)
    when_manager_absent = fields.Boolean(required=True)
    trigger_items = fields.List(fields.String(), required=True)
    confirmation_codes = fields.List(fields.String(), required=True)


class AgencyWeightsOut(Resource):
    service = decimal(required=True)
    conduct = decimal(required=True)


DEFINITION_FIELDS = {
    "scoring": {"base", "bonus_cap", "floor", "sectors", "grades", "sector_factors",
                "joint_punishment", "inspection_multipliers", "bid_points", "max_reasons",
                "catalogue"},
    "screens": {"title", "parameters", "screens"},
    "performance": {"title", "base", "floor", "max_deductions", "note_length",
                    "reason_length", "overdue_after_days", "index_window_months",
                    "document_no", "indicators", "bands", "records", "warning"},
    "agency": {"title", "min_ratings", "default_rating", "window_days", "weights",
               "conduct_base", "conduct_floor", "service_places", "restricted_grade",
               "restricted_measure", "items", "grades", "catalogue"},
}
DEFINITION_HEAD = {"id", "version", "sha256", "kind", "active"}


class ModelDefinition(Resource):
    """A published definition, whole, decimals as strings (API.md §7): a scoring
    model's parameters and catalogue (``kind`` scoring), a screen definition's title,
    parameters and screens (``kind`` screens, WARNINGS.md §4), a performance definition's
    indicators, bands, records and post-award warning, or an agency definition's items,
    weights, grades and catalogue (PERFORMANCE.md)."""

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = sha256(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(DEFINITION_FIELDS)))
    active = fields.Boolean(required=True)
    # kind scoring
    base = decimal()
    bonus_cap = decimal()
    floor = decimal()
    sectors = fields.List(fields.String())
    grades = fields.Nested(GradesOut)
    sector_factors = fields.Dict(keys=fields.String(), values=fields.Nested(FactorPair),
                                 metadata={"description": "by tier"})
    joint_punishment = fields.Nested(JointPunishmentOut)
    inspection_multipliers = fields.Dict(keys=fields.String(), values=decimal(),
                                         metadata={"description": "by grade"})
    bid_points = fields.Nested(BidPointsOut)
    max_reasons = fields.Integer()
    catalogue = fields.List(fields.Nested(CatalogueItem))
    # kind screens
    title = fields.String()
    parameters = fields.Nested(ScreenParameters)
    screens = fields.List(fields.Nested(ScreenOut))
    # kind performance (PERFORMANCE.md §3–§6)
    max_deductions = fields.Integer()
    note_length = fields.List(fields.Integer(), metadata={"description": "[min, max]"})
    reason_length = fields.List(fields.Integer(), metadata={"description": "[min, max]"})
    overdue_after_days = fields.Integer()
    index_window_months = fields.Integer()
    document_no = fields.String(metadata={"description": "pattern of an approval's records"})
    indicators = fields.List(fields.Nested(IndicatorOut))
    bands = fields.List(fields.Nested(RatingBandOut))
    records = fields.Nested(PerformanceRecordsOut)
    warning = fields.Nested(PostAwardWarningOut)
    # kind agency (PERFORMANCE.md §7)
    min_ratings = fields.Integer()
    default_rating = decimal()
    window_days = fields.Integer()
    weights = fields.Nested(AgencyWeightsOut)
    conduct_base = decimal()
    conduct_floor = decimal()
    service_places = fields.Integer()
    restricted_grade = fields.String()
    restricted_measure = fields.String()
    items = fields.List(fields.Nested(IndicatorOut))

    @validates_schema
    def _fields_of_its_kind(self, data, **kw):
        expected = DEFINITION_HEAD | DEFINITION_FIELDS.get(data.get("kind"), set())
        if data.get("kind") in DEFINITION_FIELDS and set(data) != expected:
            raise ValidationError(f"a {data['kind']} definition has exactly the fields "
                                  f"{sorted(expected)}.")


class Health(Resource):
    status = fields.String(required=True)
    database = fields.String(required=True)
    model = fields.String(required=True)


# Built once: schema construction costs more than a dump.
RECORD = RecordOut()
EVALUATION = EvaluationOut()
TENDER = RegisteredTenderOut()
WARNING = WarningOut()
APPLICATION = ApplicationOut()
