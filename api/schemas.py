"""Marshmallow schemas of the HTTP layer: query parameters (validated by webargs through
flask-smorest, errors mapped to API.md §1) and response shapes (for the OpenAPI
document). Request bodies are the use cases' own schemas (credit.services.inputs)."""

from __future__ import annotations

import re

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser

from credit.domain.dates import parse_instant
from credit.domain.model import SECTORS
from credit.errors import InvalidInput
from credit.services.inputs import Day, flatten
from credit.uscc import InvalidUSCC, normalise_uscc

DECIMAL = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "100.00"}


class UsccParam(fields.String):
    """A USCC in a query string: normalised, ``invalid_uscc`` when wrong."""

    def _deserialize(self, value, attr, data, **kw):
        try:
            return normalise_uscc(super()._deserialize(value, attr, data, **kw))
        except InvalidUSCC as exc:
            raise ValidationError(str(exc)) from None


class Instant(fields.Field):
    """RFC 3339 with an offset; a space before the offset digits is read as ``+``
    (an unescaped ``+`` in a query string arrives as a space)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update({"type": "string", "format": "date-time"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str):
            raise ValidationError("must be an RFC 3339 instant.")
        value = re.sub(r" (\d{2}:\d{2})$", r"+\1", value)
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise ValidationError(f"must be an RFC 3339 instant with an offset: {exc}.") \
                from None


class Position(fields.Integer):
    """A cursor: a positive integer below 2^63."""

    def __init__(self, **kw):
        super().__init__(strict=False, validate=validate.Range(min=0, max=2**63 - 1), **kw)


class Query(Schema):
    class Meta:
        unknown = RAISE


class Page(Query):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    after = Position(load_default=None)


class RecordQuery(Page):
    uscc = UsccParam(load_default=None)
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    code = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class ScoreQuerySchema(Query):
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    as_of = Day(load_default=None)
    known_at = Instant(load_default=None)
    model = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class TraceQuery(Page):
    uscc = UsccParam(load_default=None)
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    from_ = Instant(data_key="from", load_default=None)
    to = Instant(load_default=None)


class EntryQuery(Page):
    after = Position(load_default=0)
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class CreditParser(FlaskParser):
    """Query errors in the error body of API.md §1, keyed by parameter name; unknown
    query parameters are refused like unknown body fields (a misspelt ``asof`` must not
    silently serve today's score)."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": RAISE, "querystring": RAISE}

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        if isinstance(messages, dict) and set(messages) <= {"query", "json", "view_args"}:
            merged = {}
            for part in messages.values():
                merged.update(part)
            messages = merged
        errors = flatten(messages)
        uscc_fields = {name for name, f in schema.fields.items() if isinstance(f, UsccParam)}
        if len(errors) == 1 and set(errors) <= uscc_fields:
            (field,) = errors
            raise InvalidInput(errors[field][0], error="invalid_uscc", errors=errors)
        first = next(iter(errors), "_query")
        raise InvalidInput(f"Invalid query parameter {first}: "
                           f"{(errors.get(first) or ['invalid'])[0]}", errors=errors)


# ---- response shapes (documentation) ------------------------------------------------

class ErrorBody(Schema):
    """The error body of API.md §1; some errors add fields (e.g. ``latest_valid_until``)."""

    class Meta:
        unknown = INCLUDE

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    error = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         required=True)


class Event(Schema):
    kind = fields.String(required=True)
    document_no = fields.String(required=True)
    reason = fields.String(required=True)
    repaired_on = fields.String(metadata={"format": "date"})
    entered_by = fields.String(required=True)
    recorded_at = fields.String(required=True)
    audit_position = fields.Integer(required=True)


class RecordOut(Schema):
    id = fields.Integer(required=True)
    uscc = fields.String(required=True)
    subject_name = fields.String(required=True)
    sector = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String()
    decided_on = fields.String(required=True)
    document_no = fields.String(required=True)
    issued_by = fields.String(required=True)
    valid_until = fields.String(required=True)
    original_valid_until = fields.String(required=True)
    project_code = fields.String(allow_none=True)
    project_name = fields.String(allow_none=True)
    occurred_on = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    category = fields.String(required=True)
    tier = fields.String(allow_none=True, required=True)
    points = fields.String(required=True, metadata=DECIMAL)
    valid_from = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "repaired",
                                                                   "revoked"]))
    counts_today = fields.Boolean(required=True)
    entered_by = fields.String(required=True)
    recorded_at = fields.String(required=True)
    audit_position = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    repaired_on = fields.String()
    revoked_at = fields.String()
    source_warning = fields.Integer(allow_none=True, metadata={
        "description": "the warning whose confirmation created the record (WARNINGS.md "
                       "§6); null for records entered directly"})
    events = fields.List(fields.Nested(Event), required=True)


class RecordPage(Schema):
    items = fields.List(fields.Nested(RecordOut), required=True)
    next = fields.String(allow_none=True, required=True)


class ModelRef(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = fields.String(required=True)


class MeasureOut(Schema):
    measure = fields.String(required=True)
    basis = fields.List(fields.Integer(), required=True)
    until = fields.String(allow_none=True, required=True)
    uscc = fields.String()


class ScoreOut(Schema):
    uscc = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    sector = fields.String(required=True)
    as_of = fields.String(required=True)
    known_at = fields.String(required=True)
    model = fields.Nested(ModelRef, required=True)
    score = fields.String(required=True, metadata=DECIMAL)
    components = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    grade = fields.String(required=True)
    eligible_to_bid = fields.Boolean(required=True)
    bid_points = fields.String(required=True, metadata=DECIMAL)
    inspection_multiplier = fields.String(required=True, metadata=DECIMAL)
    measures = fields.List(fields.Nested(MeasureOut), required=True)
    reasons = fields.List(fields.Dict(), required=True)
    trace_id = fields.Integer(required=True)
    trace_sha256 = fields.String(required=True)


class SubjectOut(Schema):
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    counts = fields.Dict(required=True)


class Inquiry(Schema):
    trace_id = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    sector = fields.String(required=True)
    as_of = fields.String(required=True)
    evaluation_id = fields.Integer()
    tender_code = fields.String()


class InquiryPage(Schema):
    items = fields.List(fields.Nested(Inquiry), required=True)
    next = fields.String(allow_none=True, required=True)


class BidResult(Schema):
    bidder = fields.Dict(required=True)
    score = fields.String(required=True, metadata=DECIMAL)
    grade = fields.String(required=True)
    eligible_to_bid = fields.Boolean(required=True)
    bid_points = fields.String(required=True, metadata=DECIMAL)
    measures = fields.List(fields.Dict(), required=True)
    reasons = fields.List(fields.Dict(), required=True)
    members = fields.List(fields.Nested(ScoreOut), required=True)


class EvaluationOut(Schema):
    id = fields.Integer(required=True)
    tender = fields.Dict(required=True)
    sector = fields.String(required=True)
    as_of = fields.String(required=True)
    known_at = fields.String(required=True)
    model = fields.Nested(ModelRef, required=True)
    created_by = fields.String(required=True)
    created_at = fields.String(required=True)
    results = fields.List(fields.Nested(BidResult), required=True)
    warnings = fields.List(fields.Dict(), metadata={
        "description": "the registered tender's warnings open or referred at creation "
                       "(WARNINGS.md §7): id, code, severity, bids; [] for a tender the "
                       "platform did not register (absent on evaluations created before)"})


class Entry(Schema):
    position = fields.Integer(required=True)
    kind = fields.String(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    payload = fields.Dict(required=True)
    prev_sha256 = fields.String(required=True)
    sha256 = fields.String(required=True)


class EntryPage(Schema):
    items = fields.List(fields.Nested(Entry), required=True)
    next = fields.String(allow_none=True, required=True)


class TraceVerification(Schema):
    hash_ok = fields.Boolean(required=True)
    chain_ok = fields.Boolean(required=True)
    replay_ok = fields.Boolean(required=True)
    ok = fields.Boolean(required=True)
    differences = fields.List(fields.String(), required=True)


class ChainVerification(Schema):
    ok = fields.Boolean(required=True)
    entries_checked = fields.Integer(required=True)
    first_bad = fields.Dict(allow_none=True, required=True)


class ModelItem(Schema):
    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "scoring (a scoring model) or another rule set kept as data"})
    active = fields.Boolean(required=True)


class ModelList(Schema):
    items = fields.List(fields.Nested(ModelItem), required=True)


class ModelDefinition(Schema):
    """A published definition, whole (decimals as strings): a scoring model's parameters
    and catalogue, or a screen definition's parameters and screens (WARNINGS.md §4)."""

    class Meta:
        unknown = INCLUDE

    id = fields.String(required=True)
    version = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "scoring (a scoring model) or another rule set kept as data"})
    active = fields.Boolean(required=True)
    catalogue = fields.List(fields.Dict(), metadata={"description": "scoring models"})
    parameters = fields.Dict(metadata={"description": "screen definitions: WARNINGS.md §4"})
    screens = fields.List(fields.Dict(), metadata={"description": "screen definitions"})


class Health(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)
    model = fields.String(required=True)
