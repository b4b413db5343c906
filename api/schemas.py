"""Marshmallow schemas of the HTTP layer: query parameters (validated by webargs through
flask-smorest, errors mapped to API.md §1) and the error body. Request bodies are the
use cases' own schemas (credit.services.inputs); success responses are the resources of
credit.services.resources."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import current_app
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser

from credit.domain.dates import cst_date_in_range, parse_instant
from credit.domain.model import SECTORS
from credit.domain.performance import CONTRACT_STATUSES
from credit.domain.screens.definition import SEVERITIES
from credit.domain.storable_text import unstorable
from credit.errors import InvalidInput
from credit.services import records, warnings
from credit.services.inputs import USCC_METADATA, Day, field_name, flatten
from credit.services.performance_resources import EVALUATION_STATUSES
from credit.services.resources import APPLICATION_STATUSES
from credit.services.scoring import KNOWN_AT_RANGE
from credit.services.tender_inputs import TenderCode
from credit.services.tender_resources import WARNING_STATUSES
from credit.uscc import InvalidUSCC, normalise_uscc


class UsccParam(fields.String):
    """A USCC in a query string: normalised, ``invalid_uscc`` when wrong."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update(USCC_METADATA)
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        try:
            return normalise_uscc(super()._deserialize(value, attr, data, **kw))
        except InvalidUSCC as exc:
            raise ValidationError(str(exc)) from None


class Instant(fields.Field):
    """RFC 3339 with an offset; a space before the offset digits is read as ``+``
    (an unescaped ``+`` in a query string arrives as a space). Its date in China
    Standard Time lies in 2000-01-01 … 2099-12-31, like every date the service accepts
    (API.md §1: else 400)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update({"type": "string", "format": "date-time"})
        kw["metadata"].setdefault(
            "description", "RFC 3339 instant with an offset; its date in China Standard "
            "Time lies in 2000-01-01 … 2099-12-31 (else 400).")
        super().__init__(validate=_in_date_range, **kw)

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str):
            raise ValidationError("must be an RFC 3339 instant.")
        value = re.sub(r" ([0-9]{2}:[0-9]{2})\Z", r"+\1", value)
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise ValidationError(f"must be an RFC 3339 instant with an offset: {exc}.") \
                from None


class KnownAt(Instant):
    """A score's ``known_at``: an instant whose date in CST lies in 2000 … 2099, so that
    a bad one is listed beside the query's other problems (check 8)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).setdefault(
            "description", "RFC 3339 instant with an offset; its date in China Standard "
            "Time lies in 2000-01-01 … 2099-12-31 (else 400), and it is not later than "
            "now (else 422 known_at_in_future). Default: the chain's committed head.")
        super().__init__(**kw)


def _in_date_range(value: datetime) -> None:
    if not cst_date_in_range(value):
        raise ValidationError(KNOWN_AT_RANGE)


class Position(fields.Integer):
    """A cursor: a positive integer below 2^63."""

    def __init__(self, **kw):
        super().__init__(strict=False, validate=validate.Range(min=0, max=2**63 - 1), **kw)


class _KnownCode(fields.String):
    """A code filter checked while the query loads, so that its problem is listed with
    the query's other problems (API.md §1): ``problem(ctx, code)`` says why no stored
    row can have the code (API.md §3: filters are 400 like the fields they filter)."""

    problem = staticmethod(lambda ctx, code: None)

    def _deserialize(self, value, attr, data, **kw):
        code = super()._deserialize(value, attr, data, **kw)
        problem = self.problem(current_app.extensions["credit"], code)
        if problem:
            raise ValidationError(problem)
        return code


class RecordCodeParam(_KnownCode):
    """A behaviour-code filter (``GET /records?code=``): a code no record can have is
    ``unknown_code``; the use case checks it again for callers other than this API."""

    problem = staticmethod(records.code_filter_problem)


class WarningCodeParam(_KnownCode):
    """A warning-code filter (``GET /warnings?code=``): a code no warning can have is a
    400 listing the codes, not an empty list that would read as "no such warnings"."""

    problem = staticmethod(warnings.code_filter_problem)


#: Parameter types whose problem, when it is the query's only one, answers its own code.
_SPECIFIC = {UsccParam: "invalid_uscc", RecordCodeParam: "unknown_code"}


class Query(Schema):
    class Meta:
        unknown = RAISE


class Page(Query):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    after = Position(load_default=None)


class RecordQuery(Page):
    uscc = UsccParam(load_default=None)
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    code = RecordCodeParam(load_default=None)


class ScoreQuerySchema(Query):
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    as_of = Day(load_default=None)
    known_at = KnownAt(load_default=None)
    model = fields.String(load_default=None, validate=validate.Length(min=1, max=100),
                          metadata={"description": "id@version; default the active "
                                    "scoring model. Unknown: 404; one that does not rate "
                                    "the sector: 400 on sector."})


class TraceQuery(Page):
    uscc = UsccParam(load_default=None)
    actor = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    from_ = Instant(data_key="from", load_default=None)
    to = Instant(load_default=None)


class EntryQuery(Page):
    after = Position(load_default=0)
    kind = fields.String(load_default=None, validate=validate.Length(min=1, max=64))


class ApplicationQuery(Page):
    status = fields.String(load_default=None, validate=validate.OneOf(APPLICATION_STATUSES))
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))


class PunishmentQuery(Page):
    """The public list: ``after`` is the last USCC of the previous page."""

    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    as_of = Day(load_default=None)
    after = UsccParam(load_default=None)


class TenderQuery(Page):
    """GET /tenders (WARNINGS.md §5): by sector, opening date and party."""

    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)
    bidder = UsccParam(load_default=None)
    agency = UsccParam(load_default=None)  # PERFORMANCE.md §7


#: The ``tender`` filter of GET /warnings and GET /performance (README "Choices"): checked
#: and trimmed like the code it filters (TenderCode), so that ``a/b`` is a 400 and
#: `` KQ-1 `` finds ``KQ-1`` (API.md §3: filters are 400 like the fields they filter).
_ONE_TENDER = ("A tender code. A tender the caller may not read is 403: another sector's "
               "for a regulator (sector_forbidden), another tenderee's for a tenderee "
               "(forbidden); a code no tender has lists nothing.")


class WarningQuery(Page):
    """GET /warnings (WARNINGS.md §5)."""

    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    status = fields.String(load_default=None, validate=validate.OneOf(WARNING_STATUSES))
    code = WarningCodeParam(load_default=None)
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    tender = TenderCode(load_default=None, metadata={"description": _ONE_TENDER})
    uscc = UsccParam(load_default=None)



class PerformanceQuery(Page):
    """GET /performance (PERFORMANCE.md §3): the review queue, the tenderee's list."""

    status = fields.String(load_default=None, validate=validate.OneOf(EVALUATION_STATUSES))
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    tender = TenderCode(load_default=None, metadata={"description": _ONE_TENDER})


class ContractQuery(Page):
    """GET /contracts (PERFORMANCE.md §2)."""

    status = fields.String(load_default=None, validate=validate.OneOf(CONTRACT_STATUSES))
    sector = fields.String(load_default=None, validate=validate.OneOf(SECTORS))
    village = fields.Boolean(load_default=None, truthy={"true"}, falsy={"false"})
    tenderee = UsccParam(load_default=None)
    winner = UsccParam(load_default=None, metadata={
        "description": "A party of the winning bid: its bidder or a consortium member."})


class AsOfQuery(Query):
    as_of = Day(load_default=None)

# ---- strict query strings (API.md §3) -----------------------------------------------
# marshmallow's Integer takes whatever int() takes ("5_0", "+5", " 5", "５") and webargs
# keeps the first of a repeated parameter; both are refused before the schema loads,
# listed together with every other problem of the query.

_PLAIN_INTEGER = re.compile(r"-?[0-9]+")
REPEATED = "given more than once; send it once."
NOT_PLAIN = "must be a plain integer (ASCII digits 0-9 only)."


def query_problems(args, schema: Schema) -> dict[str, list[str]]:
    """Repeated parameters (other than list fields), integer parameters that are not
    plain ASCII integers, and values that are not text the service can store (U+0000,
    which PostgreSQL refuses to compare with: a 500 there; storable_text.py), keyed by
    parameter name."""
    by_key = {f.data_key or name: f for name, f in schema.fields.items()}
    problems: dict[str, list[str]] = {}
    for key in args:
        values = args.getlist(key)
        field = by_key.get(key)
        if len(values) > 1 and not isinstance(field, fields.List):
            problems[key] = [REPEATED]
        elif isinstance(field, fields.Integer) and not _PLAIN_INTEGER.fullmatch(values[0]):
            problems[key] = [NOT_PLAIN]
        elif problem := next(filter(None, map(unstorable, values)), None):
            problems[key] = [f"must not contain {problem}."]
    return problems


class StrictQuery:
    """Parser mixin: a query with :func:`query_problems` fails with those problems and
    every other one the schema finds (API.md §1: every problem listed)."""

    def pre_load(self, location_data, *, schema, req, location):
        if location in ("query", "querystring"):
            problems = query_problems(req.args, schema)
            if problems:
                rest = {k: location_data[k] for k in location_data if k not in problems}
                raise ValidationError({**schema.validate(rest), **problems})
        return super().pre_load(location_data, schema=schema, req=req, location=location)


_LEFT_OUT = object()


class CreditParser(StrictQuery, FlaskParser):
    """Query errors in the error body of API.md §1, keyed by parameter name; unknown
    query parameters are refused like unknown body fields (a misspelt ``asof`` must not
    silently serve today's score).

    A query string that parsed once is not parsed again by the same schema instance:
    loading it is a pure function of its bytes (nothing here reads the clock or the
    database), and on the score route the same few strings (``sector=housing``) came
    back thousands of times a second (issue 10). Only successes are remembered, only
    results made of immutable values, at most :attr:`MEMO_SIZE` strings per parser."""

    DEFAULT_VALIDATION_STATUS = 400
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": RAISE, "querystring": RAISE}
    MEMO_SIZE = 1024
    #: Parse options that shape only a refusal (never remembered) or, ``unknown``, the
    #: result (part of the key). Any other option: no memo.
    _ERROR_ONLY = frozenset({"unknown", "error_status_code", "error_headers"})
    _IMMUTABLE = (str, int, bool, type(None), date, datetime)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._memo: dict[tuple, dict] = {}

    def parse(self, argmap, req=None, *, location=None, validate=None, **kwargs):
        if location not in ("query", "querystring") or validate is not None \
                or not isinstance(argmap, Schema) or not kwargs.keys() <= self._ERROR_ONLY:
            return super().parse(argmap, req, location=location, validate=validate,
                                 **kwargs)
        req = req if req is not None else self.get_default_request()
        # Of the options webargs passes, only ``unknown`` changes what a success loads
        # (left out and ``None`` differ: the parser's default, or the schema's own).
        key = (id(argmap), location, kwargs.get("unknown", _LEFT_OUT), req.query_string)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is argmap:
            return dict(hit[1])
        data = super().parse(argmap, req, location=location, **kwargs)
        if all(type(v) in self._IMMUTABLE for v in data.values()):
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = (argmap, dict(data))
        return data

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        if isinstance(messages, dict) and set(messages) <= {"query", "json", "view_args"}:
            merged = {}
            for part in messages.values():
                merged.update(part)
            messages = merged
        errors = flatten(messages)
        _path_uscc_problem(req, errors)
        specific = {f.data_key or name: _SPECIFIC[type(f)]
                    for name, f in schema.fields.items() if type(f) in _SPECIFIC}
        if len(errors) == 1 and set(errors) <= set(specific) and REPEATED not in \
                next(iter(errors.values())):
            (field,) = errors
            raise InvalidInput(errors[field][0], error=specific[field], errors=errors)
        first = next(iter(errors), "_query")
        raise InvalidInput(f"Invalid query parameter {first}: "
                           f"{(errors.get(first) or ['invalid'])[0]}", errors=errors)


def refuse_unread_query(req) -> None:
    """A GET route that reads no query string refuses every parameter, as a ``Query``
    refuses an unknown one (README "Choices": unknown query parameters are a 400 like
    unknown body fields), each listed, with a malformed USCC of the path beside them."""
    if not req.args:
        return
    errors = {field_name(name): ["Unknown field."] for name in req.args}
    _path_uscc_problem(req, errors)
    first = next(iter(errors))
    raise InvalidInput(f"Invalid query parameter {first}: Unknown field.", errors=errors)


def _path_uscc_problem(req, errors: dict) -> None:
    """A malformed USCC in the path, listed beside the query's problems: "every problem
    listed" (API.md §1), where the view's own check (http.path_uscc) never ran because
    the query failed first."""
    raw = (req.view_args or {}).get("uscc")
    if not isinstance(raw, str) or "uscc" in errors:
        return
    try:
        normalise_uscc(raw)
    except InvalidUSCC as exc:
        errors["uscc"] = [str(exc)]


# ---- the error body ------------------------------------------------------------------

class ErrorBody(Schema):
    """The error body of API.md §1 (api/errors.py dumps every error through it). Some
    errors add a field; each is declared here, so a field this schema does not name is
    never sent."""

    class Meta:
        unknown = INCLUDE  # documented as open: clients must accept further fields

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    error = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         required=True)
    latest_valid_until = fields.String(metadata={
        "format": "date", "description": "valid_until_out_of_range"})
    earliest_repair_on = fields.String(metadata={
        "format": "date", "description": "repair_too_early (a repair or its application)"})
    latest_repair_on = fields.String(metadata={
        "format": "date", "description": "repair_after_expiry (a repair or its application)"})
    record_id = fields.Integer(metadata={
        "description": "duplicate_record: the live record (POST /records, or one a "
                       "disposal's confirmation would duplicate)"})
    application_id = fields.Integer(metadata={
        "description": "application_pending: the pending application"})
    maximum = fields.String(metadata={
        "pattern": r"^\d+\.\d{2}$",
        "description": "points_out_of_range: the item's maximum (PERFORMANCE.md §3)"})


ERROR_BODY = ErrorBody()
