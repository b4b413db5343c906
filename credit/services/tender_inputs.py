"""Request bodies of the tender loop (WARNINGS.md §2, §3, §6) and their validation.

As for records (credit.services.inputs), validation has two phases: marshmallow checks
the shape (types, lengths, enums, unknown fields); then the rules that carry their own
error codes — ``invalid_uscc``, ``duplicate_bidder``, ``invalid_identifier``,
``invalid_account``, ``invalid_id_number``, ``opened_in_future``,
``submitted_after_opening`` — are applied to what loaded, all problems collected.

Normalisation and personal data happen here and nowhere else: identifiers through
credit.domain.identifiers, and each personal value (``id_number``,
``deposit_account``) is replaced at once by its keyed hash and its mask, so the clear
value never leaves this module — not in the stored rows, the audit payload, an error
message or a log line.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from marshmallow import ValidationError, fields, validate, validates_schema

from credit.domain import identifiers as ids
from credit.domain.dates import CST, cst_date, cst_date_in_range, format_instant, parse_instant
from credit.domain.model import SECTORS
from credit.domain.tenders import (
    BID_STATUSES,
    DOCUMENT_KINDS,
    EXCLUSION_KINDS,
    METHODS,
    PERSONNEL_ROLES,
    Bid,
    Document,
    Party,
    Person,
    Tender,
    Upload,
)
from credit.uscc import InvalidUSCC, normalise_uscc

from .inputs import (
    Day,
    FieldErrors,
    OptionalText,
    Strict,
    Text,
    UsccString,
    as_sent,
    load,
    refused_field,
    sent_at,
)
from .tender_resources import DISPOSAL_ACTIONS

CLOCK_SKEW = timedelta(seconds=1)
UPLOAD_IDENTIFIERS = ("mac", "cpu", "disk")
ACTIONS = DISPOSAL_ACTIONS
_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,14})\.[0-9]{2}")  # fullmatch: ASCII, whole string
_TOO_LARGE = re.compile(r"[1-9][0-9]{15,}\.[0-9]{2}")
_AMOUNT_MAX = "999999999999999.99"
_CODE_FORBIDDEN = re.compile(r"[\s/?#%]")
_DOT_SEGMENTS = (".", "..")


# ------------------------------------------------------------------ field types

class StrictBool(fields.Boolean):
    """A JSON ``true`` or ``false`` (not 1, "yes" or "true")."""

    def _deserialize(self, value, attr, data, **kw):
        if type(value) is not bool:
            raise ValidationError("must be true or false.")
        return value


def _amount_problem(value) -> str:
    """Why ``value`` is no amount: an amount of more than 15 digits before the point
    (a trillion yuan and more: no tender's price) is named as such, not as "two
    decimals", which it may well have."""
    if isinstance(value, str) and _TOO_LARGE.fullmatch(value):
        return f"must be at most {_AMOUNT_MAX} (15 digits before the decimal point)."
    return "must be a decimal string with exactly two decimals, e.g. \"1196000.00\"."


class Amount(fields.String):
    """A decimal string with exactly two decimals, greater than zero (kept as sent)."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update(
            {"pattern": r"^\d+\.\d{2}$", "example": "1196000.00"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
            raise ValidationError(_amount_problem(value))
        if Decimal(value) <= 0:
            raise ValidationError("must be greater than 0.00.")
        return value


class InstantText(fields.String):
    """An RFC 3339 instant with an offset and 0–6 fraction digits (API.md §1), whose
    date in CST lies in 2000-01-01 … 2099-12-31."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).update({"format": "date-time"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kw):
        if not isinstance(value, str):
            raise ValidationError("must be an RFC 3339 instant with an offset.")
        try:
            instant = parse_instant(value)
        except ValueError as exc:
            raise ValidationError(f"must be an RFC 3339 instant with an offset: {exc}.") \
                from None
        if not cst_date_in_range(instant):
            raise ValidationError("must lie between 2000-01-01 and 2099-12-31.")
        return instant


class RawValue(fields.String):
    """An identifier or personal value as sent; normalised in phase two.

    Its length is judged only after normalisation (WARNINGS.md §2: "the result must be
    1–128 ASCII letters and digits", an account 8–32 digits "after removing whitespace
    and -"), so that padded input is valid and an overlong value answers the code the
    spec names for it. No cap on the raw text: over HTTP the 1 MiB body limit (413)
    bounds it (an import line is the operator's own file), and normalising is one
    linear pass."""


def _optional(field_cls=RawValue, **kw):
    return field_cls(load_default=None, allow_none=True, **kw)


# ------------------------------------------------------------------ POST /tenders

class PartyIn(Strict):
    uscc = UsccString(required=True)
    name = Text(required=True, min_len=1, max_len=200)


class DocumentIn(Strict):
    """At least one of the three identifiers of a bid file."""

    machine_code = _optional()
    file_id = _optional()
    pricing_lock = _optional()


class UploadIn(Strict):
    """Where a bid was uploaded from: at least one of mac, cpu, disk, ip."""

    mac = _optional()
    cpu = _optional()
    disk = _optional()
    ip = _optional()
    onsite = StrictBool(load_default=False)


class PersonIn(Strict):
    role = fields.String(required=True, validate=validate.OneOf(PERSONNEL_ROLES))
    id_number = RawValue(required=True,
                         metadata={"description": "居民身份证号码 (GB 11643); stored only as "
                                                  "keyed hash and mask"})


class BidIn(Strict):
    bidder = UsccString(required=True)
    bidder_name = Text(required=True, min_len=1, max_len=200)
    consortium = fields.List(fields.Nested(PartyIn), load_default=list,
                             validate=validate.Length(max=4))
    price = Amount(required=True)
    status = fields.String(required=True, validate=validate.OneOf(BID_STATUSES))
    reject_reason = OptionalText(max_len=200)
    submitted_at = InstantText(required=True)
    documents = fields.List(fields.Nested(DocumentIn), load_default=list,
                            validate=validate.Length(max=10))
    uploads = fields.List(fields.Nested(UploadIn), load_default=list,
                          validate=validate.Length(max=10))
    deposit_account = _optional(metadata={"description": "保证金缴纳账号; stored only as "
                                                         "keyed hash and mask"})
    personnel = fields.List(fields.Nested(PersonIn), load_default=list,
                            validate=validate.Length(max=10))

    # Checked even when another field fails: every problem is listed (API.md §1); a
    # reason sent but refused has its own problem already.
    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _reason_iff_rejected(self, data, original_data, **kw):
        status, reason = data.get("status"), data.get("reject_reason")
        if refused_field(original_data, data, "reject_reason"):
            return
        if status == "rejected" and not reason:
            raise ValidationError("is required when status is rejected.", "reject_reason")
        if status == "valid" and reason:
            raise ValidationError("is only for rejected bids.", "reject_reason")


class ExclusionIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(EXCLUSION_KINDS))
    value = RawValue(required=True)


class TenderCode(Text):
    """A tender code: 1–64 characters without whitespace, ``/``, ``?``, ``#`` or ``%``."""

    def __init__(self, **kw):
        super().__init__(min_len=1, max_len=64, **kw)

    def _deserialize(self, value, attr, data, **kw):
        text = super()._deserialize(value, attr, data, **kw)
        if _CODE_FORBIDDEN.search(text):
            raise ValidationError("must not contain whitespace, '/', '?', '#' or '%'.")
        if text in _DOT_SEGMENTS:
            # RFC 3986 §5.2.4: clients remove these path segments, so /tenders/{code}
            # could never name such a tender.
            raise ValidationError("must not be '.' or '..': a URL path cannot name them.")
        return text


class TenderIn(Strict):
    """POST /tenders (WARNINGS.md §2): the tender and every bid, once opened."""

    code = TenderCode(required=True)
    name = Text(required=True, min_len=1, max_len=200)
    sector = fields.String(required=True, validate=validate.OneOf(SECTORS))
    tenderee = fields.Nested(PartyIn, required=True)
    agency = fields.Nested(PartyIn, load_default=None, allow_none=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    ceiling_price = Amount(required=True)
    opened_at = InstantText(required=True)
    village = StrictBool(load_default=False)
    exclusions = fields.List(fields.Nested(ExclusionIn), load_default=list,
                             validate=validate.Length(max=50))
    bids = fields.List(fields.Nested(BidIn), required=True,
                       validate=validate.Length(min=1, max=200))


_TENDER_IN, _BID_IN = TenderIn(), BidIn()


class _Normaliser:
    """Phase two of POST /tenders over what loaded; personal values hashed on the way."""

    def __init__(self, key: bytes, errors: FieldErrors):
        self.key, self.errors = key, errors
        self.seen: dict[str, str] = {}

    def uscc(self, raw, path: str, *, party: bool = False) -> str | None:
        if not isinstance(raw, str):
            return None  # missing or not a string: phase one said so
        try:
            value = normalise_uscc(raw)
        except InvalidUSCC as exc:
            self.errors.add(path, str(exc), "invalid_uscc")
            return None
        if party:
            if value in self.seen:
                self.errors.add(path, f"{value} appears twice in this tender: at "
                                f"{self.seen[value]} and at {path}.", "duplicate_bidder")
            else:
                self.seen[value] = path
        return value

    def party(self, raw: dict | None, path: str, *, bidder: bool = False) -> dict | None:
        if raw is None:
            return None
        return {"uscc": self.uscc(raw.get("uscc"), f"{path}.uscc", party=bidder),
                "name": raw.get("name")}

    def identifier(self, kind: str, raw, path: str) -> str | None:
        if not isinstance(raw, str):
            return None
        try:
            return ids.normalise_by_kind(kind, raw)
        except ValueError as exc:
            self.errors.add(path, str(exc), "invalid_identifier")
            return None

    def personal(self, value: str) -> str:
        return ids.keyed_hash(self.key, value)


def _needs_one(norm: _Normaliser, item: dict, kinds: tuple[str, ...], path: str,
               what: str) -> None:
    """WARNINGS.md §2: a document or upload without any identifier is refused. Judged
    on the item as sent: an identifier of the wrong type is there (phase one said what
    is wrong with it), not missing."""
    if not any(item.get(kind) is not None for kind in kinds):
        norm.errors.add(path, f"{what} needs at least one of {', '.join(kinds)}.")


def _documents(norm: _Normaliser, items: list[dict], path: str, sent) -> list[dict]:
    out = []
    for k, doc in as_sent(sent, items):
        _needs_one(norm, sent_at(sent, k) or doc, DOCUMENT_KINDS, f"{path}.{k}", "a document")
        out.append({kind: norm.identifier(kind, doc.get(kind), f"{path}.{k}.{kind}")
                    for kind in DOCUMENT_KINDS})
    return out


def _uploads(norm: _Normaliser, items: list[dict], path: str, sent) -> list[dict]:
    out = []
    kinds = UPLOAD_IDENTIFIERS + ("ip",)
    for k, up in as_sent(sent, items):
        _needs_one(norm, sent_at(sent, k) or up, kinds, f"{path}.{k}", "an upload")
        item = {kind: norm.identifier(kind, up.get(kind), f"{path}.{k}.{kind}")
                for kind in kinds}
        item["onsite"] = bool(up.get("onsite", False))
        out.append(item)
    return out


def _personnel(norm: _Normaliser, items: list[dict], path: str, sent, today: date
               ) -> list[dict]:
    out, hashes = [], {}
    for k, person in as_sent(sent, items):
        where = f"{path}.{k}.id_number"
        raw = person.get("id_number")
        if not isinstance(raw, str):
            continue
        try:
            value = ids.check_id_number(raw.strip(), today)
        except ValueError as exc:
            norm.errors.add(where, str(exc), "invalid_id_number")
            continue
        digest = norm.personal(value)
        if digest in hashes:
            norm.errors.add(where, f"names the same person as {path}.{hashes[digest]} "
                            "(one person appears once in a bid).")
        hashes.setdefault(digest, k)
        out.append({"role": person.get("role"), "id_number_hash": digest,
                    "id_number_masked": ids.mask_id_number(value)})
    return out


def _deposit(norm: _Normaliser, raw, path: str) -> tuple[str | None, str | None]:
    if not isinstance(raw, str):
        return None, None
    try:
        value = ids.normalise_account(raw)
    except ValueError as exc:
        norm.errors.add(path, str(exc), "invalid_account")
        return None, None
    return norm.personal(value), ids.mask_account(value)


def _bid(norm: _Normaliser, n: int, bid: dict, sent: dict, opened_at: datetime | None,
         today: date) -> dict:
    """Phase two of one bid (``bid`` as loaded, ``sent`` as sent: the paths of its
    lists' errors are the indexes sent, :func:`~credit.services.inputs.as_sent`)."""
    p = f"bids.{n - 1}"
    submitted = bid.get("submitted_at")
    if submitted is not None and opened_at is not None and submitted > opened_at:
        norm.errors.add(f"{p}.submitted_at", "A bid cannot be submitted after the tender "
                        "was opened (submitted_at is later than opened_at).",
                        "submitted_after_opening")
    deposit_hash, deposit_masked = _deposit(norm, bid.get("deposit_account"),
                                            f"{p}.deposit_account")
    return {
        "n": n,
        "bidder": norm.uscc(bid.get("bidder"), f"{p}.bidder", party=True),
        "bidder_name": bid.get("bidder_name"),
        "consortium": [norm.party(m, f"{p}.consortium.{j}", bidder=True)
                       for j, m in as_sent(sent.get("consortium"), bid.get("consortium") or [])],
        "price": bid.get("price"),
        "status": bid.get("status"),
        "reject_reason": bid.get("reject_reason"),
        "submitted_at": format_instant(submitted) if submitted else None,
        "documents": _documents(norm, bid.get("documents") or [], f"{p}.documents",
                                sent.get("documents")),
        "uploads": _uploads(norm, bid.get("uploads") or [], f"{p}.uploads",
                            sent.get("uploads")),
        "deposit_account_hash": deposit_hash,
        "deposit_account_masked": deposit_masked,
        "personnel": _personnel(norm, bid.get("personnel") or [], f"{p}.personnel",
                                sent.get("personnel"), today),
    }


def _loaded_bids(raw: dict, data: dict, errors: FieldErrors) -> list[dict]:
    """Each bid as loaded, by position — also when some failed phase one (their other
    fields are still checked in phase two)."""
    raw_bids = raw.get("bids") if isinstance(raw.get("bids"), list) else []
    if "bids" not in errors.errors and not any(k.startswith("bids.") for k in errors.errors) \
            and isinstance(data.get("bids"), list) and len(data["bids"]) == len(raw_bids):
        return data["bids"]
    out = []
    for item in raw_bids[:200]:
        scratch = FieldErrors()
        out.append(load(_BID_IN, item, scratch))
    return out


def validate_tender(raw, key: bytes, now: datetime) -> dict:
    """The normalised registration of POST /tenders (the ``tender.registered``
    payload's input part), or InvalidInput with every problem (API.md §1 order: this is
    step 8). ``now`` judges ``opened_in_future``; ``key`` is the identity key."""
    errors = FieldErrors()
    data = load(_TENDER_IN, raw, errors)
    if not isinstance(raw, dict):
        errors.raise_if_any()
    norm = _Normaliser(key, errors)
    opened_at = data.get("opened_at")
    if opened_at is not None and opened_at > now + CLOCK_SKEW:
        errors.add("opened_at", f"The opening instant lies in the future (now is "
                   f"{format_instant(now)}).", "opened_in_future")
    today = cst_date(now)
    doc = {
        "code": data.get("code"), "name": data.get("name"), "sector": data.get("sector"),
        "tenderee": norm.party(data.get("tenderee"), "tenderee"),
        "agency": norm.party(data.get("agency"), "agency"),
        "method": data.get("method"), "ceiling_price": data.get("ceiling_price"),
        "opened_at": format_instant(opened_at) if opened_at else None,
        "village": data.get("village", False),
        "exclusions": [{"kind": x.get("kind"),
                        "value": norm.identifier(x.get("kind"), x.get("value"),
                                                 f"exclusions.{k}.value")}
                       for k, x in as_sent(raw.get("exclusions"), data.get("exclusions") or [])
                       if x.get("kind") in EXCLUSION_KINDS],
        "bids": [_bid(norm, n, bid, sent_at(raw.get("bids"), n - 1), opened_at, today)
                 for n, bid in enumerate(_loaded_bids(raw, data, errors), start=1)],
    }
    errors.raise_if_any(uniform=True)
    return doc


# ------------------------------------------------------------------ the domain value

def _party(p: dict | None) -> Party | None:
    return Party(p["uscc"], p["name"]) if p else None


def tender_from_document(doc: dict) -> Tender:
    """The domain's Tender from a normalised registration (the request just validated,
    or a ``tender.registered`` payload read back for a replay)."""
    bids = tuple(Bid(
        n=b["n"], bidder=Party(b["bidder"], b["bidder_name"]), price=Decimal(b["price"]),
        status=b["status"], submitted_at=parse_instant(b["submitted_at"]),
        consortium=tuple(_party(m) for m in b["consortium"]),
        reject_reason=b["reject_reason"],
        documents=tuple(Document(**d) for d in b["documents"]),
        uploads=tuple(Upload(**u) for u in b["uploads"]),
        deposit_hash=b["deposit_account_hash"], deposit_masked=b["deposit_account_masked"],
        personnel=tuple(Person(p["role"], p["id_number_hash"], p["id_number_masked"])
                        for p in b["personnel"]),
    ) for b in doc["bids"])
    return Tender(
        code=doc["code"], name=doc["name"], sector=doc["sector"],
        tenderee=_party(doc["tenderee"]), agency=_party(doc["agency"]),
        method=doc["method"], ceiling_price=Decimal(doc["ceiling_price"]),
        opened_at=parse_instant(doc["opened_at"]), village=doc["village"], bids=bids,
        exclusions=frozenset((x["kind"], x["value"]) for x in doc["exclusions"]))


# ------------------------------------------------------------------ POST …/award

class AwardIn(Strict):
    """POST /tenders/{code}/award (WARNINGS.md §3)."""

    winner = UsccString(required=True)
    awarded_on = Day(required=True)
    contract_price = Amount(required=True)
    completion_due = Day(required=True)

    @validates_schema(skip_on_field_errors=False)  # every problem is listed (API.md §1)
    def _due_after_award(self, data, **kw):
        awarded, due = data.get("awarded_on"), data.get("completion_due")
        if awarded and due and due <= awarded:
            raise ValidationError("must be later than awarded_on.", "completion_due")


_AWARD_IN = AwardIn()


def validate_award(raw, today: date) -> dict:
    """Step 8 of POST …/award: shape, the winner's USCC, ``awarded_on`` not in the
    future, ``completion_due`` after ``awarded_on``."""
    errors = FieldErrors()
    data = load(_AWARD_IN, raw, errors)
    if "winner" in data:
        try:
            data["winner"] = normalise_uscc(data["winner"])
        except InvalidUSCC as exc:
            errors.add("winner", str(exc), "invalid_uscc")
    if data.get("awarded_on") and data["awarded_on"] > today:
        errors.add("awarded_on", f"must not lie in the future (today is {today} in China "
                   "Standard Time).")
    errors.raise_if_any(uniform=True)
    return data


# ------------------------------------------------------------------ POST …/disposal

class DisposalIn(Strict):
    """POST /warnings/{id}/disposal (WARNINGS.md §6)."""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    reason = Text(required=True, min_len=4, max_len=500)
    document_no = OptionalText(max_len=100)
    decided_on = Day(load_default=None, allow_none=True)
    # Text: no U+0000 (the duplicate check, step 11, looks the code up before check 11a
    # compares it with the allowed codes, and PostgreSQL refuses such text: a 500). No
    # length of its own: any code the warning's kind does not allow, a 65-character one
    # too, is 400 code_not_allowed listing the allowed codes (§6), as a record's code is
    # unknown_code whatever its length.
    code = OptionalText()
    # Which integers are positions of the warning's bids is a check against the stored
    # warning (step 11a, 400 bid_not_in_warning), after 403 sector_forbidden and the 409s:
    # a range here would answer validation_error at step 8 first.
    bids = fields.List(fields.Integer(strict=True), load_default=None, allow_none=True,
                       metadata={"description": "positions (from 1) of bids the warning "
                                                "names"})
    covered_by = fields.List(fields.Integer(strict=True,
                                            validate=validate.Range(min=1, max=2**63 - 1)),
                             load_default=None, allow_none=True)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _fields_of_the_action(self, data, original_data, **kw):
        # Every problem is listed (API.md §1); a field sent but refused has its own.
        _check_action_fields(data, refused={k for k in ("bids", "covered_by") + _DECISION
                                            if refused_field(original_data, data, k)})


_DECISION = ("code", "decided_on", "document_no")


def _check_action_fields(data: dict, refused: frozenset | set = frozenset()) -> None:
    """Which fields each action takes (§6): dismiss and refer only a reason; confirm
    ``bids`` and either (code, decided_on, document_no) or ``covered_by``. ``refused``:
    fields sent but refused by their own checks, about which nothing more is said."""
    action = data.get("action")
    if action in ("dismiss", "refer"):
        problems = {f: [f"is only for action confirm (not {action})."]
                    for f in _DECISION + ("bids", "covered_by") if data.get(f) is not None}
    elif action == "confirm":
        problems = {**({} if "bids" in refused else _confirm_bids(data.get("bids"))),
                    **({} if "covered_by" in refused else _confirm_decision(data))}
        problems = {f: p for f, p in problems.items() if f not in refused}
    else:
        problems = {}
    if problems:
        raise ValidationError(problems)


def _confirm_bids(bids) -> dict[str, list[str]]:
    """A confirmation names at least one bid, each once."""
    if not bids:
        return {"bids": ["confirm names at least one bid of the warning."]}
    if len(set(bids)) != len(bids):
        return {"bids": ["must not name a bid twice."]}
    return {}


def _confirm_decision(data: dict) -> dict[str, list[str]]:
    """A confirmation sends either the decision (code, decided_on, document_no) that
    creates its records, or ``covered_by``: the records that already punish it."""
    problems: dict[str, list[str]] = {}
    if data.get("covered_by") is None:
        return {f: ["is required to confirm (or send covered_by)."]
                for f in _DECISION if data.get(f) is None}
    covered = data["covered_by"]
    if not covered:
        problems["covered_by"] = ["must name at least one record."]
    elif len(set(covered)) != len(covered):
        twice = sorted({i for i in covered if covered.count(i) > 1})
        problems["covered_by"] = [f"must not name a record twice ({', '.join(map(str, twice))} "
                                  "named more than once)."]
    for f in _DECISION:
        if data.get(f) is not None:
            problems[f] = ["is not sent with covered_by (no record is created)."]
    return problems


_DISPOSAL_IN = DisposalIn()


def validate_disposal(raw, today: date) -> dict:
    """Step 8 of a disposal: shape, the fields each action takes, ``decided_on`` not in
    the future. Checks against the warning (bids, code, opening date) come at 11a."""
    errors = FieldErrors()
    data = load(_DISPOSAL_IN, raw, errors)
    if data.get("decided_on") and data["decided_on"] > today:
        errors.add("decided_on", f"must not lie in the future (today is {today} in China "
                   "Standard Time).")
    errors.raise_if_any()
    return data


def opened_on(doc_or_row) -> date:
    """The date of a tender's opening: its calendar date in CST."""
    value = doc_or_row["opened_at"] if isinstance(doc_or_row, dict) else doc_or_row.opened_at
    return parse_instant(value).astimezone(CST).date()
