"""Request shapes as marshmallow schemas — the one definition that validates input from
the API and from spreadsheet imports, and that generates the OpenAPI document.

Validation has two phases. Marshmallow checks shape: types, lengths, enums, unknown
fields, date syntax and range. The use case then applies the rules that carry their own
error codes (``invalid_uscc``, ``unknown_code``, ``decided_in_future``, ...), collected
in :class:`FieldErrors` so that all problems are reported together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from credit.domain.dates import MAX_DATE, MIN_DATE, parse_date
from credit.domain.model import SECTORS
from credit.domain.storable_text import unstorable, unstorable_places
from credit.errors import InvalidInput
from credit.uscc import USCC_SHAPE


def _clean_text(value: str) -> str:
    problem = unstorable(value)
    if problem:
        raise ValidationError(f"must not contain {problem}.")
    return value.strip()


class Text(fields.String):
    """A string stored trimmed; length limits apply to the trimmed text."""

    def __init__(self, *, min_len: int = 0, max_len: int | None = None, **kw):
        self.min_len, self.max_len = min_len, max_len
        kw.setdefault("metadata", {})
        # The document states the limits as sent; the service applies them to the
        # trimmed text: "  " is refused as empty although it has two characters, and a
        # text at maxLength with spaces round it is taken although longer.
        if min_len:
            kw["metadata"].setdefault("minLength", min_len)
        if max_len:
            kw["metadata"].setdefault("maxLength", max_len)
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        text = _clean_text(super()._deserialize(value, attr, data, **kw))
        if len(text) < self.min_len:
            raise ValidationError("must not be empty." if self.min_len == 1
                                  else f"must have at least {self.min_len} characters.")
        if self.max_len is not None and len(text) > self.max_len:
            raise ValidationError(f"must have at most {self.max_len} characters.")
        return text


class OptionalText(Text):
    """Optional text: null, empty or all-space means absent."""

    def __init__(self, **kw):
        super().__init__(load_default=None, allow_none=True, **kw)

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        return text or None


class Day(fields.Field):
    """A calendar date ``YYYY-MM-DD`` within 2000-01-01 … 2099-12-31."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update({"type": "string", "format": "date"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str):
            raise ValidationError("must be a date string YYYY-MM-DD.")
        try:
            d = parse_date(value)
        except ValueError:
            raise ValidationError("must be a date YYYY-MM-DD.") from None
        if not MIN_DATE <= d <= MAX_DATE:
            raise ValidationError("must lie between 2000-01-01 and 2099-12-31.")
        return d

    def _serialize(self, value, attr, obj, **kw):
        return value.isoformat() if value else None


#: How the OpenAPI document describes every USCC field and query parameter.
USCC_METADATA = {"example": "91330603MA2D4F6E84", "pattern": USCC_SHAPE,
                 "description": "统一社会信用代码 (GB 32100-2015)"}


class UsccString(fields.String):
    """A USCC as sent; normalised and checked by the use case (``invalid_uscc``)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update(USCC_METADATA)
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        return _clean_text(super()._deserialize(value, attr, data, **kw))


class Strict(Schema):
    class Meta:
        unknown = RAISE


class RecordInput(Strict):
    """POST /records (API.md §3)."""

    uscc = UsccString(required=True)
    subject_name = Text(required=True, min_len=1, max_len=200)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    # No length of its own: any string that is not a catalogue code, "" and a 65-character
    # one alike, is 400 unknown_code listing the valid codes (API.md §3), from the use case.
    code = fields.String(required=True)
    decided_on = Day(required=True)
    document_no = Text(required=True, min_len=1, max_len=100)
    issued_by = Text(required=True, min_len=1, max_len=100)
    valid_until = Day(load_default=None, allow_none=True)
    project_code = OptionalText(max_len=64)
    project_name = OptionalText(max_len=200)
    occurred_on = Day(load_default=None, allow_none=True)
    note = OptionalText(max_len=2000)

    # Checked even when another field fails: every problem is listed (API.md §1).
    @validates_schema(skip_on_field_errors=False)
    def _occurred_before_decision(self, data, **kw):
        occurred, decided = data.get("occurred_on"), data.get("decided_on")
        if occurred and decided and occurred > decided:
            raise ValidationError("must not be after decided_on.", "occurred_on")


class RevocationInput(Strict):
    """POST /records/{id}/revocation."""

    document_no = Text(required=True, min_len=1, max_len=100)
    reason = Text(required=True, min_len=1, max_len=2000)


class RepairInput(Strict):
    """POST /records/{id}/repair."""

    repaired_on = Day(required=True)
    document_no = Text(required=True, min_len=1, max_len=100)
    reason = Text(required=True, min_len=1, max_len=2000)


def refused_field(original, data: dict, field: str) -> bool:
    """Whether ``field`` was sent but refused by its own check (so it is not in the
    loaded ``data``): a rule across fields, checked even when a field fails so that a
    400 lists every problem (API.md §1), then says nothing more about it. (``in``, not
    ``get``: webargs' query proxy gets ``missing`` for an absent key.)"""
    return isinstance(original, Mapping) and field in original and field not in data


class TenderInput(Strict):
    code = Text(required=True, min_len=1, max_len=64)
    name = Text(required=True, min_len=1, max_len=200)


class BidderInput(Strict):
    """Exactly one of ``uscc`` or ``consortium`` (2–10 USCCs)."""

    uscc = UsccString()
    consortium = fields.List(UsccString(), validate=validate.Length(min=2, max=10))

    # Checked even when a field fails (every problem listed, API.md §1), on what was
    # sent: a uscc sent but refused is still the one of the two this bidder sent.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _exactly_one(self, data, original_data, **kw):
        if not isinstance(original_data, Mapping):  # refused as no object already
            return
        if ("uscc" in original_data) == ("consortium" in original_data):
            raise ValidationError("each bidder is exactly one of {uscc} or {consortium}.",
                                  "_schema")


class EvaluationInput(Strict):
    """POST /evaluations (API.md §5)."""

    tender = fields.Nested(TenderInput, required=True)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    as_of = Day(required=True)
    model = fields.String(load_default=None, allow_none=True,
                          validate=validate.Length(min=1, max=100))
    bidders = fields.List(fields.Nested(BidderInput), required=True,
                          validate=validate.Length(min=1, max=200))


def field_name(key) -> str:
    """A field's or query parameter's name as an ``errors`` key: an empty name is
    spelt ``""``, so that it reads as a name and not as the body (``_body``) or a path
    ending in a dot."""
    return str(key) if key != "" else '""'


def flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as dotted field paths (API.md §1)."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, val in messages.items():
            if key == "_schema":
                path = prefix or "_body"
            else:
                path = f"{prefix}.{field_name(key)}" if prefix else field_name(key)
            for p, msgs in flatten(val, path).items():
                out.setdefault(p, []).extend(msgs)
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out.setdefault(prefix or "_body", []).extend(messages)
        else:
            for m in messages:
                for p, msgs in flatten(m, prefix).items():
                    out.setdefault(p, []).extend(msgs)
    else:
        out.setdefault(prefix or "_body", []).append(str(messages))
    return out


class FieldErrors:
    """Collects field problems, each optionally with a specific error code and the extra
    body fields that code names (``maximum``, say) — kept per field, so that a body
    never names one field's code with another field's extra fields."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}
        self.codes: dict[str, str] = {}
        self.extra: dict[str, dict] = {}

    def add(self, field: str, message: str, code: str | None = None, **extra) -> None:
        self.errors.setdefault(field, []).append(message)
        if code:
            self.codes[field] = code
            self.extra[field] = extra

    def _specific(self, uniform: bool) -> str | None:
        """The one code every failing field carries, if it may answer."""
        codes = {self.codes.get(field) for field in self.errors}
        if len(codes) != 1 or None in codes:
            return None
        if len(self.errors) > 1 and not (uniform and not any(self.extra.values())):
            return None
        return codes.pop()

    def merge(self, messages: dict) -> None:
        for path, msgs in flatten(messages).items():
            self.errors.setdefault(path, []).extend(msgs)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, *, uniform: bool = False) -> None:
        """API.md §1: a specific code answers when exactly one field fails with it (with
        that field's extra body fields); otherwise ``validation_error`` listing every
        problem. ``uniform``: the same check failing at several paths answers its code
        too (several invalid USCCs, API.md §5) — but only a code naming nothing of its
        own, since one body can name only one field's ``maximum``."""
        if not self.errors:
            return
        code = self._specific(uniform)
        if code:
            first = next(iter(self.errors))
            raise InvalidInput(self.errors[first][0], error=code, errors=self.errors,
                               **self.extra[first])
        count = sum(len(v) for v in self.errors.values())
        first = next(iter(self.errors))
        raise InvalidInput(
            f"The request has {count} invalid field(s), first {first}: "
            f"{self.errors[first][0]}", errors=self.errors)


def load(schema: Schema, raw, errors: FieldErrors) -> dict:
    """Phase one: shape. Returns what loaded (partially, on failure) so phase two can still
    check the fields that were well-formed.

    Text the service cannot store (U+0000, an unpaired surrogate; storable_text.py),
    in a value or a key anywhere in the body, ends validation here with every place it
    sits: nothing else is read of such a body, nor echoed (an unpaired surrogate has no
    UTF-8 form to answer with). This is field validation, step 8 of API.md §1, so an
    Idempotency-Key's replay or 409 (step 7) answers first."""
    if not isinstance(raw, dict):
        errors.add("_body", "The body must be a JSON object.")
        return {}
    bad = unstorable_places(raw)
    if bad:
        for path, problem in bad.items():
            errors.add(path, problem)
        errors.raise_if_any()
    try:
        return schema.load(raw)
    except ValidationError as exc:
        errors.merge(exc.messages)
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        return valid


def as_sent(sent, loaded: list, loads: Callable[[Any], bool] | None = None
            ) -> list[tuple[int, Any]]:
    """Each item of a ``loaded`` list with its index in the list as ``sent``, for the
    paths of phase two's errors: the schema leaves out the items that loaded nothing,
    which would shift every later item's index. ``loads`` tells the items it keeps: by
    default every item but a ``null`` (a list of objects keeps what is no object as an
    empty one, marshmallow 4). Should the count not agree, the loaded positions stand;
    either way a caller reads the sent list only through :func:`sent_at`."""
    loads = loads or (lambda item: item is not None)
    kept = [i for i, item in enumerate(sent if isinstance(sent, list) else []) if loads(item)]
    indexes = kept if len(kept) == len(loaded) else range(len(loaded))
    return list(zip(indexes, loaded, strict=True))


def sent_at(sent, index: int) -> dict:
    """The object at ``index`` of a list as sent; an empty one when there is none."""
    item = sent[index] if isinstance(sent, list) and 0 <= index < len(sent) else None
    return item if isinstance(item, dict) else {}


APPLICATION_KINDS = ("repair", "objection")
DECISION_ACTIONS = ("accept", "reject")


class ApplicationInput(Strict):
    """POST /records/{id}/applications: a repair application or an objection (issue 13)."""

    kind = fields.String(required=True, validate=validate.OneOf(APPLICATION_KINDS))
    reason = Text(required=True, min_len=4, max_len=1000)
    requested_repair_on = Day(load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _date_for_repair_only(self, data, original_data, **kw):
        if refused_field(original_data, data, "requested_repair_on"):
            return
        if data.get("kind") == "repair" and data.get("requested_repair_on") is None:
            raise ValidationError("Missing data for required field.", "requested_repair_on")
        if data.get("kind") == "objection" and data.get("requested_repair_on") is not None:
            raise ValidationError("only a repair application names a repair date.",
                                  "requested_repair_on")


class DecisionInput(Strict):
    """POST /applications/{id}/decision: accept (with the decision's document number) or
    reject."""

    action = fields.String(required=True, validate=validate.OneOf(DECISION_ACTIONS))
    reason = Text(required=True, min_len=4, max_len=1000)
    document_no = OptionalText(max_len=100)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _document_to_accept(self, data, original_data, **kw):
        if refused_field(original_data, data, "document_no"):
            return
        if data.get("action") == "accept" and not data.get("document_no"):
            raise ValidationError("Missing data for required field.", "document_no")
