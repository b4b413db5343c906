"""Signed checkpoints (API.md §6, §8): Ed25519 over the canonical JSON of
{position, sha256, at}; a log truncated or rewritten after a checkpoint is caught by
``checkpoint_ok``, which the chain alone cannot show. Service, HTTP and CLI, on every
backend; the offline verifier of docs/ runs as documented."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api import create_app
from credit import signing
from credit.cli import main as cli
from credit.domain import canonical
from credit.errors import InvalidInput
from credit.services import checkpoints
from credit.services.audit import verify_chain
from credit.services.context import Actor
from credit.services.records import create_record, revoke_record
from credit.services.scoring import ScoreQuery, score
from tests.live_server import bearer, make_tokens, make_uscc, query, raw, record_body

ROOT = Path(__file__).resolve().parents[2]
GENESIS = "0" * 64
REG = Actor("柯桥区住房和城乡建设局", "regulator", token_id=1,
            sectors=frozenset(["housing", "transport", "water"]))
EVAL = Actor("评标系统", "evaluator", token_id=2)
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+08:00$")


@pytest.fixture
def key_path(tmp_path):
    path = tmp_path / "keys" / "signing.pem"
    signing.create_key(path)
    return path


@pytest.fixture
def key(key_path):
    return signing.load_key(key_path)


def fill(ctx, n: int = 4) -> list[int]:
    """n records (one revoked) and a score per record: a log of 2n+1 entries."""
    ids = []
    for i in range(n):
        body = record_body(make_uscc(i + 1), f"绍柯建罚〔2026〕{i + 1}号",
                           decided_on="2026-01-10")
        ids.append(json.loads(create_record(ctx, REG, body).body)["id"])
        score(ctx, EVAL, ScoreQuery(make_uscc(i + 1), "housing"))
    revoke_record(ctx, REG, ids[0], {"document_no": "撤〔2026〕1号", "reason": "复议撤销"})
    return ids


def head(ctx) -> tuple[int, str]:
    rows = query(ctx, "SELECT position, sha256 FROM audit_entries ORDER BY position DESC "
                      "LIMIT 1")
    return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)


def cp_of(doc: dict) -> checkpoints.Checkpoint:
    return checkpoints.parse(doc["position"], doc["sha256"])


def truncate_after(ctx, position: int) -> None:
    """What a careful attacker does: drop the newest entries and the rows they made."""
    raw(ctx, "DELETE FROM token_revocations WHERE audit_position > :p", {"p": position},
        tables=["token_revocations"])
    raw(ctx, "DELETE FROM tokens WHERE audit_position > :p", {"p": position},
        tables=["tokens"])
    raw(ctx, "DELETE FROM record_events WHERE audit_position > :p", {"p": position},
        tables=["record_events"])
    raw(ctx, "DELETE FROM idempotency_keys", tables=["idempotency_keys"])
    raw(ctx, "DELETE FROM records WHERE audit_position > :p", {"p": position},
        tables=["records"])
    raw(ctx, "DELETE FROM subjects WHERE registered_position > :p", {"p": position},
        tables=["subjects"])
    raw(ctx, "DELETE FROM audit_entries WHERE position > :p", {"p": position},
        tables=["audit_entries"])


def rewrite_from(ctx, position: int, change) -> None:
    """Rewrite the entry at ``position`` with ``change(entry)`` and recompute every hash
    after it, so that the chain verifies again."""
    rows = query(ctx, "SELECT position, text FROM audit_entries WHERE position >= :p "
                      "ORDER BY position", {"p": position})
    prev = query(ctx, "SELECT sha256 FROM audit_entries WHERE position = :p",
                 {"p": position - 1})
    prev_sha = prev[0][0] if prev else GENESIS
    for pos, text in rows:
        entry = json.loads(text)
        if pos == position:
            change(entry)
        entry["prev_sha256"] = prev_sha
        new_text = canonical.dumps(entry)
        prev_sha = canonical.sha256_hex(new_text)
        raw(ctx, "UPDATE audit_entries SET text = :t, sha256 = :s, actor = :a "
                 "WHERE position = :p",
            {"t": new_text, "s": prev_sha, "a": entry["actor"], "p": pos},
            tables=["audit_entries"])


# ---------------------------------------------------------------- signing

def test_checkpoint_is_signed_over_canonical_position_sha256_at(ctx, key):
    fill(ctx)
    before = head(ctx)
    doc = checkpoints.issue(ctx, key)
    assert set(doc) == {"position", "sha256", "at", "key_id", "signature"}
    assert (doc["position"], doc["sha256"]) == before
    assert head(ctx) == before  # issuing appends nothing
    assert INSTANT.match(doc["at"])
    last_at = query(ctx, "SELECT text FROM audit_entries WHERE position = :p",
                    {"p": before[0]})[0][0]
    assert doc["at"] >= json.loads(last_at)["at"]
    # Checked independently of the service: the raw key, the canonical text, Ed25519.
    pub = key.public_document()
    assert pub["algorithm"] == "Ed25519"
    raw_pub = base64.b64decode(pub["public_key"])
    assert len(raw_pub) == 32
    assert pub["key_id"] == doc["key_id"] == hashlib.sha256(raw_pub).hexdigest()[:16]
    message = json.dumps({"position": doc["position"], "sha256": doc["sha256"],
                          "at": doc["at"]}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode("utf-8")
    Ed25519PublicKey.from_public_bytes(raw_pub).verify(base64.b64decode(doc["signature"]),
                                                       message)
    assert checkpoints.signature_ok(doc, key) is True
    forged = dict(doc, position=doc["position"] + 1)
    assert checkpoints.signature_ok(forged, key) is False
    other = signing.Signer(signing.Ed25519PrivateKey.generate())
    assert checkpoints.signature_ok(doc, other) is None  # another key: cannot tell


def test_empty_log_checkpoint_is_genesis(ctx, key):
    doc = checkpoints.issue(ctx, key)
    assert (doc["position"], doc["sha256"]) == (0, GENESIS)
    fill(ctx, 1)
    result = verify_chain(ctx, cp_of(doc))
    assert result["ok"] and result["checkpoint_ok"] and result["checkpoint_problem"] is None


def test_log_that_grew_since_the_checkpoint_still_extends_it(ctx, key):
    fill(ctx, 2)
    doc = checkpoints.issue(ctx, key)
    fill_more = record_body(make_uscc(99), "后续〔2026〕1号", decided_on="2026-01-10")
    create_record(ctx, REG, fill_more)
    score(ctx, EVAL, ScoreQuery(make_uscc(99), "water"))
    result = verify_chain(ctx, cp_of(doc))
    assert result == {"ok": True, "entries_checked": doc["position"] + 2, "first_bad": None,
                      "checkpoint_ok": True, "checkpoint_problem": None}
    assert "checkpoint_ok" not in verify_chain(ctx)  # only when asked


# ---------------------------------------------------------------- what only a checkpoint catches

def test_truncated_tail_is_caught_only_against_a_checkpoint(ctx, key):
    fill(ctx, 4)
    doc = checkpoints.issue(ctx, key)
    keep = doc["position"] - 3
    truncate_after(ctx, keep)
    plain = verify_chain(ctx)
    assert plain["ok"] is True  # the chain alone cannot see it (API.md §6)
    result = verify_chain(ctx, cp_of(doc))
    assert result["ok"] is True
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"] == {"position": keep + 1, "problem": "truncated"}


def test_consistently_rewritten_history_is_caught_by_the_checkpoint(ctx, key):
    fill(ctx, 3)
    doc = checkpoints.issue(ctx, key)
    # A served score (creates no row) rewritten: another actor pulled it; every later
    # hash recomputed, so the chain and every row verify again.
    target = query(ctx, "SELECT min(position) FROM audit_entries WHERE kind = "
                        "'score.served'")[0][0]
    rewrite_from(ctx, target, lambda e: e.update(actor="某人"))
    assert verify_chain(ctx)["ok"] is True
    result = verify_chain(ctx, cp_of(doc))
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"] == {"position": doc["position"],
                                            "problem": "hash_mismatch"}


def test_truncated_then_regrown_log_is_caught(ctx, key):
    fill(ctx, 3)
    doc = checkpoints.issue(ctx, key)
    truncate_after(ctx, doc["position"] - 2)
    fill_more = record_body(make_uscc(77), "另〔2026〕1号", decided_on="2026-01-10")
    for _ in range(3):
        score(ctx, EVAL, ScoreQuery(make_uscc(77), "housing"))
    create_record(ctx, REG, fill_more)
    assert verify_chain(ctx)["ok"] is True
    result = verify_chain(ctx, cp_of(doc))
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"]["problem"] == "hash_mismatch"


def test_entry_deleted_at_the_checkpoint_position(ctx, key):
    fill(ctx, 3)
    doc = checkpoints.issue(ctx, key)
    score(ctx, EVAL, ScoreQuery(make_uscc(1), "housing"))
    raw(ctx, "DELETE FROM audit_entries WHERE position = :p", {"p": doc["position"]},
        tables=["audit_entries"])
    result = verify_chain(ctx, cp_of(doc))
    assert result["ok"] is False
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"] == {"position": doc["position"],
                                            "problem": "position_gap"}


def test_damage_before_the_checkpoint_fails_it_even_when_its_hash_holds(ctx, key):
    fill(ctx, 3)
    doc = checkpoints.issue(ctx, key)
    # An early entry's text changed, its stored hash left alone: entry P still hashes to
    # the checkpoint, but P no longer vouches for what precedes it.
    text = query(ctx, "SELECT text FROM audit_entries WHERE position = 2")[0][0]
    raw(ctx, "UPDATE audit_entries SET text = :t WHERE position = 2",
        {"t": text.replace('"actor":"', '"actor":"x', 1)}, tables=["audit_entries"])
    result = verify_chain(ctx, cp_of(doc))
    assert result["first_bad"] == {"position": 2, "problem": "hash_mismatch"}
    assert result["checkpoint_ok"] is False
    assert result["checkpoint_problem"] == {"position": 2, "problem": "hash_mismatch"}


@pytest.mark.parametrize("position,sha,field", [
    (-1, GENESIS, "position"), (True, GENESIS, "position"), ("3", GENESIS, "position"),
    (2**63, GENESIS, "position"), (3, "abc", "sha256"), (3, None, "sha256"),
    (0, "1" * 64, "sha256"),
])
def test_parse_refuses_bad_checkpoints(position, sha, field):
    with pytest.raises(InvalidInput) as info:
        checkpoints.parse(position, sha)
    assert field in info.value.errors


def test_parse_accepts_upper_case_hex():
    assert checkpoints.parse(5, "AB" * 32).sha256 == "ab" * 32


# ---------------------------------------------------------------- keys

def test_create_key_is_0600_and_never_overwritten(tmp_path):
    path = tmp_path / "k" / "signing.pem"
    first = signing.create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    content = path.read_bytes()
    with pytest.raises(signing.SigningKeyExists):
        signing.create_key(path)
    assert path.read_bytes() == content
    assert signing.load_key(path).key_id == first.key_id


def test_load_key_refuses_missing_garbage_and_other_key_types(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    with pytest.raises(signing.SigningKeyMissing):
        signing.load_key(None)
    with pytest.raises(signing.SigningKeyMissing):
        signing.load_key(tmp_path / "absent.pem")
    (tmp_path / "garbage.pem").write_text("not a key")
    with pytest.raises(signing.SigningKeyMissing):
        signing.load_key(tmp_path / "garbage.pem")
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    (tmp_path / "ec.pem").write_bytes(ec_key)
    with pytest.raises(signing.SigningKeyMissing):
        signing.load_key(tmp_path / "ec.pem")


# ---------------------------------------------------------------- HTTP

@pytest.fixture
def http(ctx, key_path):
    app = create_app({"CREDIT_CONTEXT": ctx, "CREDIT_SIGNING_KEY": str(key_path),
                      "TESTING": True})
    return app.test_client(), make_tokens(ctx)


def test_checkpoint_route_for_auditors_and_admins_only(http):
    client, tokens = http
    for role in ("auditor", "admin"):
        r = client.get("/api/v1/audit/checkpoint", headers=bearer(tokens[role]))
        assert r.status_code == 200, r.get_json()
        assert set(r.get_json()) == {"position", "sha256", "at", "key_id", "signature"}
    for role in ("regulator", "evaluator", "enterprise"):
        r = client.get("/api/v1/audit/checkpoint", headers=bearer(tokens[role]))
        assert (r.status_code, r.get_json()["error"]) == (403, "forbidden")
    r = client.get("/api/v1/audit/checkpoint")
    assert (r.status_code, r.get_json()["error"]) == (401, "unauthenticated")
    r = client.post("/api/v1/audit/checkpoint", headers=bearer(tokens["auditor"]))
    assert r.status_code == 405


def test_public_key_needs_no_token_and_checks_the_checkpoint(http):
    client, tokens = http
    pub = client.get("/api/v1/audit/public-key")
    assert pub.status_code == 200
    assert pub.content_type == "application/json; charset=utf-8"
    pub = pub.get_json()
    assert set(pub) == {"key_id", "algorithm", "public_key"}
    doc = client.get("/api/v1/audit/checkpoint", headers=bearer(tokens["auditor"])).get_json()
    message = canonical.dumps({k: doc[k] for k in ("position", "sha256", "at")}).encode()
    Ed25519PublicKey.from_public_bytes(base64.b64decode(pub["public_key"])).verify(
        base64.b64decode(doc["signature"]), message)


def test_without_a_key_both_routes_answer_503_signing_key_missing(ctx, tmp_path,
                                                                   monkeypatch):
    monkeypatch.delenv("CREDIT_SIGNING_KEY", raising=False)
    tokens = make_tokens(ctx)
    for config in ({}, {"CREDIT_SIGNING_KEY": str(tmp_path / "absent.pem")}):
        client = create_app({"CREDIT_CONTEXT": ctx, **config}).test_client()
        for path, headers in (("/api/v1/audit/checkpoint", bearer(tokens["auditor"])),
                              ("/api/v1/audit/public-key", {})):
            r = client.get(path, headers=headers)
            body = r.get_json()
            assert r.status_code == 503, body
            assert body["error"] == "signing_key_missing"
            assert set(body) >= {"code", "status", "error", "message", "errors"}
        # authentication still comes first
        assert client.get("/api/v1/audit/checkpoint").status_code == 401


def test_key_from_the_environment_is_picked_up_without_restart(ctx, tmp_path, monkeypatch):
    # The configured path (settings: CREDIT_SIGNING_KEY) names a file created later.
    path = tmp_path / "later.pem"
    monkeypatch.setenv("CREDIT_SIGNING_KEY", str(path))
    ctx.settings = ctx.settings.from_env()
    client = create_app({"CREDIT_CONTEXT": ctx}).test_client()
    assert client.get("/api/v1/audit/public-key").status_code == 503
    key = signing.create_key(path)
    assert client.get("/api/v1/audit/public-key").get_json()["key_id"] == key.key_id


def test_verify_route_with_a_checkpoint(http, ctx):
    client, tokens = http
    h = bearer(tokens["auditor"])
    fill(ctx, 3)
    doc = client.get("/api/v1/audit/checkpoint", headers=h).get_json()
    url = f"/api/v1/audit/verify?position={doc['position']}&sha256={doc['sha256']}"
    body = client.get(url, headers=h).get_json()
    assert body["ok"] is True and body["checkpoint_ok"] is True
    assert body["checkpoint_problem"] is None
    assert "checkpoint_ok" not in client.get("/api/v1/audit/verify", headers=h).get_json()
    truncate_after(ctx, doc["position"] - 1)
    body = client.get(url, headers=h).get_json()
    assert body["ok"] is True and body["checkpoint_ok"] is False
    assert body["checkpoint_problem"] == {"position": doc["position"], "problem": "truncated"}
    # appends nothing
    assert head(ctx)[0] == doc["position"] - 1


BAD_QUERIES = [
    ("position=3", "sha256"), (f"sha256={'a' * 64}", "position"),
    (f"position=x&sha256={'a' * 64}", "position"), ("position=3&sha256=xyz", "sha256"),
    (f"position=-1&sha256={'a' * 64}", "position"),
    (f"position=0&sha256={'a' * 64}", "sha256"),
]


def test_verify_route_refuses_half_or_bad_checkpoints(http):
    client, tokens = http
    for qs, field in BAD_QUERIES:
        r = client.get(f"/api/v1/audit/verify?{qs}", headers=bearer(tokens["auditor"]))
        body = r.get_json()
        assert r.status_code == 400, (qs, body)
        assert field in body["errors"], (qs, body)
        # 401 and 403 come before query validation (API.md §1)
        assert client.get(f"/api/v1/audit/verify?{qs}").status_code == 401
        r = client.get(f"/api/v1/audit/verify?{qs}", headers=bearer(tokens["evaluator"]))
        assert (r.status_code, r.get_json()["error"]) == (403, "forbidden")


# ---------------------------------------------------------------- CLI

def _cli(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def test_cli_keys_create(tmp_path):
    path = tmp_path / "cli" / "signing.pem"
    r = _cli(["keys", "create"], {"CREDIT_SIGNING_KEY": str(path)})
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = signing.load_key(path)
    assert key.key_id in r.output and key.public_key_b64() in r.output
    before = path.read_bytes()
    r = _cli(["keys", "create"], {"CREDIT_SIGNING_KEY": str(path)})
    assert r.exit_code == 2 and "never overwritten" in r.output  # an operator error (README)
    assert path.read_bytes() == before
    r = _cli(["keys", "create"], {"CREDIT_SIGNING_KEY": ""})
    assert r.exit_code == 2


def test_cli_audit_verify_with_a_checkpoint(ctx, key, key_path, database_url, tmp_path):
    fill(ctx, 3)
    doc = checkpoints.issue(ctx, key)
    cp_file = tmp_path / "cp.json"
    cp_file.write_text(json.dumps(doc), encoding="utf-8")
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_SIGNING_KEY": str(key_path)}
    r = _cli(["audit", "verify", "--checkpoint", str(cp_file)], env)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["checkpoint_ok"] is True and out["checkpoint_signature_ok"] is True
    # a forged checkpoint file: the signature no longer holds
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(dict(doc, at="2030-01-01T00:00:00.000000+08:00")))
    r = _cli(["audit", "verify", "--checkpoint", str(forged)], env)
    assert r.exit_code == 1
    assert json.loads(r.output.strip().splitlines()[-1])["checkpoint_signature_ok"] is False
    # without a key on this machine the signature cannot be judged: exit 2, never 0
    # (issue 9 item 5; it was exit 0 with checkpoint_signature_ok null)
    r = _cli(["audit", "verify", "--checkpoint", str(cp_file)],
             {"CREDIT_DATABASE_URL": database_url, "CREDIT_SIGNING_KEY": ""})
    assert r.exit_code == 2 and "--public-key" in r.output
    # unreadable or malformed files: exit 2
    assert _cli(["audit", "verify", "--checkpoint", str(tmp_path / "none.json")],
                env).exit_code == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert _cli(["audit", "verify", "--checkpoint", str(tmp_path / "bad.json")],
                env).exit_code == 2
    # an unsigned checkpoint (no key_id, no signature): said as such, not "names key None"
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps({k: v for k, v in doc.items()
                                    if k not in ("key_id", "signature")}))
    r = _cli(["audit", "verify", "--checkpoint", str(unsigned)], env)
    assert r.exit_code == 2 and "not signed" in r.stderr and "None" not in r.stderr, r.output
    (tmp_path / "half.json").write_text(json.dumps({"position": 3}))
    assert _cli(["audit", "verify", "--checkpoint", str(tmp_path / "half.json")],
                env).exit_code == 2
    # the tail removed: exit 1, located
    truncate_after(ctx, doc["position"] - 2)
    r = _cli(["audit", "verify", "--checkpoint", str(cp_file)], env)
    assert r.exit_code == 1
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["ok"] is True and out["checkpoint_ok"] is False
    assert out["checkpoint_problem"] == {"position": doc["position"] - 1,
                                         "problem": "truncated"}
    # the plain verification cannot see it
    assert _cli(["audit", "verify"], env).exit_code == 0


# ---------------------------------------------------------------- the documented verifier

def _doc_snippet() -> str:
    text = (ROOT / "docs" / "offline-checkpoint-verifier.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "docs/offline-checkpoint-verifier.md has no python block"
    code = blocks[0]
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 12
    return code


def test_offline_verifier_of_the_docs(ctx, key, tmp_path):
    fill(ctx, 2)
    script = tmp_path / "verify_checkpoint.py"
    script.write_text(_doc_snippet(), encoding="utf-8")
    pub = tmp_path / "public-key.json"
    pub.write_text(json.dumps(key.public_document()), encoding="utf-8")
    doc = checkpoints.issue(ctx, key)
    good = tmp_path / "cp.json"
    good.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, str(script), str(pub), str(good)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "signature OK" in run.stdout and doc["sha256"] in run.stdout
    for name, bad in (("moved", dict(doc, position=doc["position"] + 1)),
                      ("other-hash", dict(doc, sha256="f" * 64)),
                      ("other-key", dict(doc, key_id="0" * 16))):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(bad), encoding="utf-8")
        run = subprocess.run([sys.executable, str(script), str(pub), str(path)],
                             capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=60)
        assert run.returncode != 0, name


def test_a_run_that_found_a_cut_tail_is_not_kept_as_intact(ctx, key):
    """The run that reports ``checkpoint_ok: false`` must not become the console's last
    verification, shown intact, nor an incremental run's start (audit review); nor may a
    mistyped checkpoint, the caller's word, record an intact log as failed (a second
    review): such a run is not stored at all."""
    from credit.services.audit import last_verification
    fill(ctx, 4)
    doc = checkpoints.issue(ctx, key)
    before = verify_chain(ctx, cp_of(doc))  # intact: stored
    assert before["checkpoint_ok"] is True and last_verification(ctx)["ok"] is True
    shown = last_verification(ctx)
    wrong = cp_of({**doc, "sha256": "f" * 64})
    assert verify_chain(ctx, wrong)["checkpoint_ok"] is False
    assert last_verification(ctx) == shown  # the intact log is not recorded as failed
    keep = doc["position"] - 3
    truncate_after(ctx, keep)
    assert verify_chain(ctx, cp_of(doc))["checkpoint_ok"] is False
    assert last_verification(ctx) == shown  # nor the cut one as intact


def test_a_run_that_found_the_chain_broken_is_kept_whatever_the_checkpoint(ctx, key):
    """A checkpoint run that finds an entry edited inside the log is stored, failed, so
    the next incremental run does not step over the edit (a review of the rule above:
    every run with ``checkpoint_ok: false`` was dropped, this one included)."""
    from credit.services.audit import last_verification
    fill(ctx, 4)
    assert verify_chain(ctx)["ok"] is True
    doc = checkpoints.issue(ctx, key)
    raw(ctx, "UPDATE audit_entries SET text = text || ' ' WHERE position = 3",
        tables=["audit_entries"])
    assert verify_chain(ctx, cp_of(doc))["ok"] is False
    assert last_verification(ctx)["ok"] is False
    assert verify_chain(ctx, incremental=True)["ok"] is False
