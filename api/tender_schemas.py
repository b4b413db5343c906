"""Marshmallow schemas of the tender loop's HTTP layer (WARNINGS.md §2–§6): query
parameters and response shapes. Views return the use cases' dicts and
``@blp.response`` dumps them through these schemas; a created resource (stored for
idempotent replay) is dumped once, at creation, through the same schema.

Personal values have no field here but their masks: a keyed hash could not be served
even by mistake, because dumping drops every field a schema does not declare."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import DECIMAL, Page, UsccParam
from credit.domain.model import SECTORS
from credit.domain.tenders import (
    BID_STATUSES,
    EXCLUSION_KINDS,
    METHODS,
    PERSONNEL_ROLES,
)
from credit.services.inputs import Day
from credit.services.tender_resources import WARNING_STATUSES

INSTANT = {"format": "date-time", "example": "2026-05-12T09:30:00.000000+08:00"}
SEVERITIES = ("high", "medium", "low")
AMOUNT = {**DECIMAL, "pattern": r"^\d+\.\d{2}$", "example": "1196000.00"}


# ---- queries --------------------------------------------------------------------------

class TenderQuery(Page):
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)
    bidder = UsccParam(load_default=None)


class WarningQuery(Page):
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    status = fields.String(load_default=None, validate=validate.OneOf(WARNING_STATUSES))
    code = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    tender = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    uscc = UsccParam(load_default=None)


# ---- tenders --------------------------------------------------------------------------

class PartyOut(Schema):
    uscc = fields.String(required=True)
    name = fields.String(required=True)


class DocumentOut(Schema):
    machine_code = fields.String(allow_none=True, required=True)
    file_id = fields.String(allow_none=True, required=True)
    pricing_lock = fields.String(allow_none=True, required=True)


class UploadOut(Schema):
    mac = fields.String(allow_none=True, required=True)
    cpu = fields.String(allow_none=True, required=True)
    disk = fields.String(allow_none=True, required=True)
    ip = fields.String(allow_none=True, required=True)
    onsite = fields.Boolean(required=True)


class PersonOut(Schema):
    role = fields.String(required=True, validate=validate.OneOf(PERSONNEL_ROLES))
    id_number_masked = fields.String(required=True, metadata={
        "example": "330621********1236"})


class BidOut(Schema):
    n = fields.Integer(required=True, metadata={"description": "position from 1, as sent"})
    bidder = fields.String(required=True)
    bidder_name = fields.String(required=True)
    consortium = fields.List(fields.Nested(PartyOut), required=True)
    price = fields.String(required=True, metadata=AMOUNT)
    status = fields.String(required=True, validate=validate.OneOf(BID_STATUSES))
    reject_reason = fields.String(allow_none=True, required=True)
    submitted_at = fields.String(required=True, metadata=INSTANT)
    documents = fields.List(fields.Nested(DocumentOut), required=True)
    uploads = fields.List(fields.Nested(UploadOut), required=True)
    deposit_account_masked = fields.String(allow_none=True, required=True,
                                           metadata={"example": "****4567"})
    personnel = fields.List(fields.Nested(PersonOut), required=True)


class ExclusionOut(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(EXCLUSION_KINDS))
    value = fields.String(required=True)


class ScreensRef(Schema):
    ref = fields.String(required=True, metadata={"example": "keqiao-screens-2025@1"})
    sha256 = fields.String(required=True)


class AwardOut(Schema):
    winner = fields.String(required=True)
    winner_name = fields.String(allow_none=True, required=True)
    bid = fields.Integer(allow_none=True, required=True)
    awarded_on = fields.String(required=True, metadata={"format": "date"})
    contract_price = fields.String(required=True, metadata=AMOUNT)
    completion_due = fields.String(required=True, metadata={"format": "date"})
    project_managers = fields.List(fields.String(), required=True, metadata={
        "description": "the winning bid's project managers, masked"})
    awarded_by = fields.String(required=True)
    awarded_at = fields.String(required=True, metadata=INSTANT)
    audit_position = fields.Integer(required=True)


class TenderOut(Schema):
    """A tender (WARNINGS.md §5): every input field, personal data masked."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    tenderee = fields.Nested(PartyOut, required=True)
    agency = fields.Nested(PartyOut, allow_none=True, required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    ceiling_price = fields.String(required=True, metadata=AMOUNT)
    opened_at = fields.String(required=True, metadata=INSTANT)
    village = fields.Boolean(required=True)
    exclusions = fields.List(fields.Nested(ExclusionOut), required=True)
    bids = fields.List(fields.Nested(BidOut), required=True)
    registered_at = fields.String(required=True, metadata=INSTANT)
    registered_by = fields.String(required=True)
    audit_position = fields.Integer(required=True)
    knowledge_position = fields.Integer(required=True, metadata={
        "description": "the chain position the cross-tender screens read up to"})
    screens = fields.Nested(ScreensRef, required=True)
    award = fields.Nested(AwardOut, allow_none=True, required=True)
    warnings = fields.List(fields.Integer(), required=True)


class TenderPage(Schema):
    items = fields.List(fields.Nested(TenderOut), required=True)
    next = fields.String(allow_none=True, required=True)


# ---- warnings -------------------------------------------------------------------------

class WarningBidOut(Schema):
    n = fields.Integer(required=True)
    bidder = fields.String(required=True)
    bidder_name = fields.String(required=True)
    consortium = fields.List(fields.Nested(PartyOut), required=True)


class DisposalOut(Schema):
    id = fields.Integer(required=True)
    action = fields.String(required=True, validate=validate.OneOf(("confirm", "dismiss",
                                                                   "refer")))
    reason = fields.String(required=True)
    document_no = fields.String(allow_none=True, required=True)
    decided_on = fields.String(allow_none=True, required=True, metadata={"format": "date"})
    code = fields.String(allow_none=True, required=True)
    bids = fields.List(fields.Integer(), required=True)
    covered_by = fields.List(fields.Integer(), allow_none=True, required=True)
    records = fields.List(fields.Integer(), required=True)
    by = fields.String(required=True)
    at = fields.String(required=True, metadata=INSTANT)
    audit_position = fields.Integer(required=True)


class WarningOut(Schema):
    """A warning (WARNINGS.md §5) with its disposals (§6)."""

    id = fields.Integer(required=True)
    tender = fields.String(required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    screen = fields.Integer(required=True)
    code = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(SEVERITIES))
    basis = fields.String(required=True)
    bids = fields.List(fields.Nested(WarningBidOut), required=True)
    evidence = fields.Dict(required=True)
    parameters = fields.Dict(required=True)
    definition = fields.String(required=True)
    raised_at = fields.String(required=True, metadata=INSTANT)
    audit_position = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(WARNING_STATUSES))
    disposals = fields.List(fields.Nested(DisposalOut), required=True)


class WarningPage(Schema):
    items = fields.List(fields.Nested(WarningOut), required=True)
    next = fields.String(allow_none=True, required=True)
