"""Signed runs of ``audit verify`` (services/run_seals.py), on SQLite and PostgreSQL.

With a signing key configured, every stored run carries the key's id and a signature
over its columns, and an incremental run (API.md §6 ``?from=checkpoint``) starts only
from a run that key signed: a run row inserted or altered around the service — which,
unsigned, chooses where the next incremental run starts and hides an edit made after
it — is no starting point. Without a key, stored runs are trusted as stored (the first
test shows what that costs, so that the others can fail)."""

from __future__ import annotations

import json

import pytest

from api import create_app
from credit import signing
from credit.domain.dates import format_instant
from credit.services.audit import last_verification, verify_chain
from credit.services.run_seals import RunSeal, signed_message

from .helpers import S2, head, tamper
from .test_incremental_verify import incremental, rec, serve

pytestmark = pytest.mark.db


@pytest.fixture
def key_path(tmp_path):
    path = tmp_path / "signing.pem"
    signing.create_key(path)
    return str(path)


@pytest.fixture
def keyed(ctx, key_path):
    """``ctx`` with a signing key configured (CREDIT_SIGNING_KEY)."""
    ctx.settings = ctx.settings.with_(signing_key_path=key_path)
    return ctx


def runs(ctx) -> list[dict]:
    """The stored runs' columns (``ok`` as the ORM reads it: SQLite stores 0 or 1)."""
    with ctx.uow.engine.connect() as conn:
        return [dict(r._mapping, ok=bool(r.ok)) for r in conn.exec_driver_sql(
            "SELECT * FROM audit_verifications ORDER BY id")]


def forge_run(ctx, clock, *, ok=True, from_position=0, at_head=True) -> None:
    """A run row inserted around the service (INSERT is allowed: the table's triggers
    refuse only UPDATE and DELETE), started after every stored one, unsigned."""
    position, sha = head(ctx)
    clock.advance(seconds=1)
    with ctx.uow.engine.begin() as conn:
        next_id = conn.exec_driver_sql(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM audit_verifications").scalar()
        conn.exec_driver_sql(
            "INSERT INTO audit_verifications (id, mode, from_position, position, sha256, ok, "
            "entries_checked, first_bad, verified_at, seconds) VALUES "
            f"({next_id}, 'full', {from_position}, {position if at_head else 0}, "
            f"'{sha}', {'TRUE' if ok else 'FALSE'}, 1, NULL, "
            f"'{format_instant(clock())}', '0.001')")


def edited_after_a_run(ctx, clock) -> dict:
    """A full run stored at the head, then a record whose row is edited: the run's
    position is before the edit."""
    rec(ctx, clock, document_no="S1")
    serve(ctx)
    assert verify_chain(ctx)["ok"]
    edited = rec(ctx, clock, uscc=S2, document_no="S2")
    tamper(ctx, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
           {"id": edited["id"]})
    return edited


def test_without_a_key_a_forged_run_hides_an_edit_after_it(ctx, clock):
    edited_after_a_run(ctx, clock)
    forge_run(ctx, clock)
    assert incremental(ctx)["ok"] is True  # documented (README): unsigned runs trusted
    assert last_verification(ctx)["signature"] is None


def test_with_a_key_a_forged_run_is_no_starting_point(keyed, clock):
    edited = edited_after_a_run(keyed, clock)
    forge_run(keyed, clock)
    result = incremental(keyed)
    assert (result["from_position"], result["first_bad"]["id"]) == (2, edited["id"])


def test_runs_are_stored_with_a_signature_over_their_columns(keyed, clock, key_path):
    rec(keyed, clock, document_no="S1")
    verify_chain(keyed)
    incremental(keyed)
    key = signing.load_key(key_path)
    for run in runs(keyed):
        assert run["key_id"] == key.key_id
        assert signing.verify_signature(key.public_key_b64(), signed_message(run),
                                        run["signature"])
    assert json.loads(signed_message(runs(keyed)[0]))["purpose"] == "audit.verification"
    assert last_verification(keyed)["signature"] == "signed"


def test_a_signed_run_altered_is_no_starting_point(keyed, clock):
    rec(keyed, clock, document_no="S1")
    serve(keyed)
    assert verify_chain(keyed)["ok"]
    first = runs(keyed)[0]
    edited = rec(keyed, clock, uscc=S2, document_no="S2")
    tamper(keyed, "records", "UPDATE records SET document_no = 'X' WHERE id = :id",
           {"id": edited["id"]})
    # moved to the head, its hash with it: it would start past the edit
    position, sha = head(keyed)
    tamper(keyed, "audit_verifications",
           "UPDATE audit_verifications SET position = :p, sha256 = :s WHERE id = :id",
           {"p": position, "s": sha, "id": first["id"]})
    assert last_verification(keyed) is None  # with a key, only runs it signed (or failed)
    result = incremental(keyed)
    assert (result["from_position"], result["first_bad"]["id"]) == (0, edited["id"])


def test_runs_stored_before_the_key_are_not_trusted_once_it_is(ctx, clock, key_path):
    rec(ctx, clock, document_no="S1")
    serve(ctx)
    assert verify_chain(ctx)["ok"]  # unsigned
    ctx.settings = ctx.settings.with_(signing_key_path=key_path)
    assert last_verification(ctx) is None
    assert incremental(ctx)["from_position"] == 0  # walks the whole chain, signs it
    assert incremental(ctx)["from_position"] == 2


def test_a_rotated_key_trusts_none_of_the_old_key_s_runs(keyed, clock, tmp_path):
    rec(keyed, clock, document_no="S1")
    assert verify_chain(keyed)["ok"]
    other = tmp_path / "rotated.pem"
    signing.create_key(other)
    keyed.settings = keyed.settings.with_(signing_key_path=str(other))
    assert incremental(keyed)["from_position"] == 0


def test_an_unreadable_key_signs_and_trusts_nothing(keyed, clock, tmp_path, caplog):
    rec(keyed, clock, document_no="S1")
    assert verify_chain(keyed)["ok"]  # signed with the readable key
    keyed.settings = keyed.settings.with_(signing_key_path=str(tmp_path / "absent.pem"))
    assert incremental(keyed)["from_position"] == 0
    assert runs(keyed)[-1]["signature"] is None
    assert "an incremental run walks the whole chain" in caplog.text


def test_an_unsigned_failure_still_counts(keyed, clock):
    """A failed run, signed or not, makes incremental runs walk the whole chain until a
    signed whole walk starts after it; an unsigned whole walk does not clear it."""
    rec(keyed, clock, document_no="S1")
    serve(keyed)
    assert verify_chain(keyed)["ok"]
    forge_run(keyed, clock, ok=False)
    forge_run(keyed, clock)  # an unsigned "whole walk, intact" after the failure
    clock.advance(seconds=1)
    assert incremental(keyed)["from_position"] == 0  # the signed whole walk
    clock.advance(seconds=1)
    assert incremental(keyed)["from_position"] == 2


def test_the_http_route_signs_with_the_app_s_key(ctx, clock, key_path):
    """The app's configuration may name the key (as checkpoints read it)."""
    from credit.services.tokens import create_token
    rec(ctx, clock, document_no="S1")
    _, secret = create_token(ctx, "test", role="auditor", name="审计")
    app = create_app({"CREDIT_CONTEXT": ctx, "CREDIT_SIGNING_KEY": key_path,
                      "TESTING": True})
    client = app.test_client()
    r = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200 and r.get_json()["ok"] is True
    assert runs(ctx)[-1]["key_id"] == signing.load_key(key_path).key_id
    assert RunSeal.configured(key_path).accepts(_row(runs(ctx)[-1]))


class _Row:
    def __init__(self, columns: dict):
        self.__dict__.update(columns)


def _row(columns: dict) -> _Row:
    return _Row(columns)


def test_with_a_key_the_console_shows_signed_runs_and_any_failure(keyed, clock):
    """The run the console shows with a key: the newest it signed, or a newer failure
    however stored (shown unsigned); a forged intact run dated later is not shown."""
    rec(keyed, clock, document_no="S1")
    assert verify_chain(keyed)["ok"]
    signed = last_verification(keyed)
    forge_run(keyed, clock)  # intact, later, unsigned
    assert last_verification(keyed) == signed
    forge_run(keyed, clock, ok=False)
    shown = last_verification(keyed)
    assert (shown["ok"], shown["signature"]) == (False, "unsigned")


def test_a_stored_run_reports_whatever_an_entry_forged_with_a_float_holds(ctx, clock):
    """A correctly chained entry inserted around the service whose record id is a
    float: every run reports it (row_missing), stored; canonical text refuses floats,
    so storing it as such was a 500 on every verify."""
    from credit.persistence.audit_log import entry_row
    from credit.services.verification import verify_chain as verify
    rec(ctx, clock, document_no="S1")
    with ctx.uow(write=True) as uow:
        uow.audit.lock()
        head = uow.audit._require_lock()
        row, _ = entry_row(head, "record.created", "x", json.dumps(
            {"record": {"id": 1.5}, "sha256": "0" * 64}), None, clock.advance(seconds=1))
        uow.session.connection().exec_driver_sql(
            "INSERT INTO audit_entries (position, kind, at_us, actor, uscc, text, sha256) "
            "VALUES (%s)" % ", ".join(["?" if ctx.uow.engine.dialect.name == "sqlite"
                                       else "%s"] * 7),
            tuple(row[k] for k in ("position", "kind", "at_us", "actor", "uscc", "text",
                                   "sha256")))
        uow.commit()
    result = verify(ctx)
    assert result["ok"] is False and result["first_bad"]["position"] == row["position"]
    assert last_verification(ctx)["first_bad"] == result["first_bad"]


def test_a_key_of_an_unsupported_type_signs_and_trusts_nothing(ctx, clock, tmp_path, caplog):
    """An SM2 key (or any PKCS#8 key cryptography cannot load) is a key that cannot be
    read: verify still runs and reports, unsigned, with a warning — not a 500."""
    sm2 = tmp_path / "sm2.pem"
    sm2.write_text(  # a GB/T 32918 (SM2) key, generated once with OpenSSL
        "-----BEGIN PRIVATE KEY-----\n"
        "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgty3JEAvaVm4CBIch\n"
        "U9p3rmLvdDDSm0r06Gb4rXp1UgyhRANCAAQMSq3chOFE973aDhVvUMkuSRvRVPK5\n"
        "yUY3HmU7mHPwGwvHoHLNkE1dD9K7glFZ2ub26MWpZkGVavItciEmrPD0\n"
        "-----END PRIVATE KEY-----\n", encoding="ascii")
    ctx.settings = ctx.settings.with_(signing_key_path=str(sm2))
    rec(ctx, clock, document_no="S1")
    assert verify_chain(ctx)["ok"] is True
    assert runs(ctx)[-1]["signature"] is None and incremental(ctx)["from_position"] == 0
    assert "an incremental run walks the whole chain" in caplog.text


def test_a_row_of_the_wrong_types_is_refused_not_an_error(keyed, clock, key_path):
    """SQLite keeps whatever type a row is given: a forged row carrying the key's id (it
    is public) with a float position or bytes for a hash is no starting point, and
    neither the incremental run nor the console's view fails on it."""
    if keyed.uow.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses these types")
    rec(keyed, clock, document_no="S1")
    assert verify_chain(keyed)["ok"]
    kid = signing.load_key(key_path).key_id
    for position, sha in (("1000000000.5", "'x'"), ("1", "X'00'")):
        clock.advance(seconds=1)
        with keyed.uow.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO audit_verifications (id, mode, from_position, position, sha256, "
                "ok, entries_checked, first_bad, verified_at, seconds, key_id, signature) "
                f"VALUES ((SELECT MAX(id) + 1 FROM audit_verifications), 'full', 0, "
                f"{position}, {sha}, 1, 1, NULL, '{format_instant(clock())}', '0.001', "
                f"'{kid}', 'AAAA')")
        assert incremental(keyed)["from_position"] == 1
        assert last_verification(keyed)["signature"] == "signed"


def test_a_forged_highest_id_keeps_no_run_from_being_stored(ctx, clock):
    rec(ctx, clock, document_no="S1")
    assert verify_chain(ctx)["ok"]
    with ctx.uow.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_verifications (id, mode, from_position, position, sha256, ok, "
            "entries_checked, first_bad, verified_at, seconds) VALUES "
            f"({2**63 - 1}, 'full', 0, 0, '{'0' * 64}', FALSE, 0, NULL, "
            f"'{format_instant(clock())}', '0.001')")
    clock.advance(seconds=1)
    assert verify_chain(ctx)["ok"]
    assert sorted(r["id"] for r in runs(ctx)) == [1, 2, 2**63 - 1]
