"""``credit audit verify --checkpoint`` checks the signature with a key the auditor
holds (issue 9 item 5): ``--public-key FILE`` (the JSON of GET /audit/public-key) or
the signing key file of the settings; with neither it says why and exits 2 — a forged
checkpoint never passes with exit 0."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from credit import signing
from credit.cli import main as cli
from credit.services import checkpoints
from credit.services.records import create_record
from tests.live_server import make_uscc, record_body

from .test_checkpoints import REG

pytestmark = pytest.mark.db
LATER = "2030-01-01T00:00:00.000000+08:00"


def _cli(args, env):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def _last_json(output: str) -> dict:
    return json.loads(next(ln for ln in reversed(output.splitlines()) if ln.startswith("{")))


@pytest.fixture
def setup(ctx, tmp_path, database_url):
    """A log of two records, a real checkpoint, a forged one (its `at` changed), and
    the auditor's copy of the public key; the signing key itself is not configured."""
    for i in range(2):
        create_record(ctx, REG, record_body(make_uscc(i + 1), f"文{i}", decided_on="2026-01-10"))
    key = signing.create_key(tmp_path / "signing.pem")
    doc = checkpoints.issue(ctx, key)
    files = {"real": doc, "forged": dict(doc, at=LATER),
             "public": key.public_document(),
             "other_public": signing.Signer(signing.Ed25519PrivateKey.generate())
             .public_document()}
    paths = {}
    for name, value in files.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(value), encoding="utf-8")
    paths["key"] = tmp_path / "signing.pem"
    env = {"CREDIT_DATABASE_URL": database_url, "CREDIT_SIGNING_KEY": ""}
    return paths, env, doc


def test_a_forged_checkpoint_without_a_key_is_exit_2_not_0(setup):
    paths, env, _ = setup
    r = _cli(["audit", "verify", "--checkpoint", str(paths["forged"])], env)
    assert r.exit_code == 2, r.output
    assert "cannot be checked" in r.output and "--public-key" in r.output
    assert "CREDIT_SIGNING_KEY" in r.output


def test_the_auditors_public_key_checks_the_signature(setup):
    paths, env, _ = setup
    args = ["audit", "verify", "--public-key", str(paths["public"]), "--checkpoint"]
    r = _cli(args + [str(paths["real"])], env)
    assert r.exit_code == 0, r.output
    out = _last_json(r.output)
    assert out["checkpoint_ok"] is True and out["checkpoint_signature_ok"] is True
    r = _cli(args + [str(paths["forged"])], env)
    assert r.exit_code == 1, r.output
    assert _last_json(r.output)["checkpoint_signature_ok"] is False


def test_the_signing_key_file_checks_the_signature(setup):
    paths, env, _ = setup
    env = dict(env, CREDIT_SIGNING_KEY=str(paths["key"]))
    assert _cli(["audit", "verify", "--checkpoint", str(paths["real"])], env).exit_code == 0
    r = _cli(["audit", "verify", "--checkpoint", str(paths["forged"])], env)
    assert r.exit_code == 1 and _last_json(r.output)["checkpoint_signature_ok"] is False


def test_another_key_cannot_vouch_for_a_checkpoint(setup, tmp_path):
    paths, env, doc = setup
    args = ["audit", "verify", "--public-key", str(paths["other_public"]), "--checkpoint"]
    r = _cli(args + [str(paths["real"])], env)
    assert r.exit_code == 2 and "names key" in r.output, r.output
    # a forgery that names the auditor's other key instead: still not exit 0
    other_id = json.loads(paths["other_public"].read_text())["key_id"]
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(dict(doc, at=LATER, key_id=other_id)))
    r = _cli(args + [str(renamed)], env)
    assert r.exit_code == 1 and _last_json(r.output)["checkpoint_signature_ok"] is False


@pytest.mark.parametrize("content", [
    "{not json", "[]", json.dumps({"algorithm": "RSA", "public_key": "AAAA"}),
    json.dumps({"algorithm": "Ed25519", "public_key": "not base64!"}),
    json.dumps({"algorithm": "Ed25519", "public_key": "AAAA"}),
])
def test_an_unusable_public_key_file_is_exit_2(setup, tmp_path, content):
    paths, env, _ = setup
    bad = tmp_path / "bad-public.json"
    bad.write_text(content)
    r = _cli(["audit", "verify", "--public-key", str(bad), "--checkpoint",
              str(paths["real"])], env)
    assert r.exit_code == 2 and "cannot be checked" in r.output, r.output


def test_a_public_key_file_whose_key_id_lies_is_exit_2(setup, tmp_path):
    paths, env, _ = setup
    doc = json.loads(paths["public"].read_text())
    lying = tmp_path / "lying.json"
    lying.write_text(json.dumps(dict(doc, key_id="0" * 16)))
    r = _cli(["audit", "verify", "--public-key", str(lying), "--checkpoint",
              str(paths["real"])], env)
    assert r.exit_code == 2


def test_public_key_needs_a_checkpoint(setup):
    paths, env, _ = setup
    r = _cli(["audit", "verify", "--public-key", str(paths["public"])], env)
    assert r.exit_code == 2 and "--checkpoint" in r.output
