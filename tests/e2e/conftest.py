"""End-to-end fixtures: the real app (``api.create_app``) on a fresh test database of each
backend, driven through Flask's test client with real bearer tokens.

Everything here goes through HTTP exactly as a client would; the service context is
only used to create tokens (which the CLI does in production), to move the fake clock
and to look at the audit head (to prove that something wrote nothing).
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus

import pytest

from credit.services.tokens import create_token

# The request bodies and constants both suites use: one copy, in the integration helpers.
from tests.integration.helpers import (  # noqa: F401 - re-exported to the e2e tests
    DROP,
    INSTANT_RE,
    S1,
    S2,
    S3,
    S4,
    S5,
    S6,
    canonical_sha256,
    record_body,
    repair_body,
    revocation_body,
)

SHA_RE = re.compile(r"^[0-9a-f]{64}$")
DECIMAL_RE = re.compile(r"^-?\d+\.\d{2}$")
ERROR_KEYS = {"code", "status", "error", "message", "errors"}
ENTRY_KEYS = {"position", "kind", "at", "actor", "payload", "prev_sha256", "sha256"}
GENESIS = "0" * 64

# Callers of the permission matrix: None is "no token".
ROLES = ("regulator", "evaluator", "auditor", "admin", "enterprise")

NAMES = {
    "regulator": "柯桥区住房和城乡建设局",
    "regulator2": "柯桥区住建局第二窗口",
    "transport": "柯桥区交通运输局",
    "water": "柯桥区水利局",
    "evaluator": "柯桥区公共资源交易中心评标系统",
    "evaluator2": "另一评标系统",
    "auditor": "柯桥区审计局",
    "admin": "系统管理员",
    "enterprise": "绍兴柯桥建工集团有限公司",
    "enterprise2": "北京某建设有限公司",
}


@pytest.fixture
def signing_key(tmp_path) -> str:
    """An Ed25519 private key (PKCS#8 PEM) for signed checkpoints (API.md §8)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    path = tmp_path / "signing-key.pem"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def app(ctx, signing_key):
    from api import create_app
    return create_app({"CREDIT_CONTEXT": ctx, "TESTING": True,
                       "CREDIT_SIGNING_KEY": signing_key})


@pytest.fixture
def platform_api(tctx, tokens, signing_key) -> "Api":
    """The tender loop's API (``tctx``: an identity key of its own) with the bearer
    tokens of :func:`tokens` plus the trading platform's (``platform``)."""
    from api import create_app
    from credit.services.tokens import create_token
    app = create_app({"CREDIT_CONTEXT": tctx, "TESTING": True, "CREDIT_SIGNING_KEY": signing_key})
    tokens = dict(tokens)
    tokens["platform"] = create_token(tctx, "e2e-operator", role="platform",
                                      name="柯桥区公共资源交易中心")[1]
    return Api(app.test_client(), tokens)


@pytest.fixture
def tokens(ctx) -> dict[str, str]:
    """Bearer secrets by caller name: one token of every role plus a few second ones.
    ``regulator`` writes housing only; ``enterprise`` is S1, ``enterprise2`` is S2."""
    specs = {
        "regulator": dict(role="regulator", sectors=["housing"]),
        "regulator2": dict(role="regulator", sectors=["housing"]),
        "transport": dict(role="regulator", sectors=["transport"]),
        "water": dict(role="regulator", sectors=["water"]),
        "evaluator": dict(role="evaluator"),
        "evaluator2": dict(role="evaluator"),
        "auditor": dict(role="auditor"),
        "admin": dict(role="admin"),
        "enterprise": dict(role="enterprise", uscc=S1),
        "enterprise2": dict(role="enterprise", uscc=S2),
    }
    return {who: create_token(ctx, "e2e-operator", name=NAMES[who], **spec)[1]
            for who, spec in specs.items()}


class Api:
    """The test client with bearer tokens by caller name (``who=None``: no token)."""

    def __init__(self, client, tokens: dict[str, str]):
        self.client = client
        self.tokens = tokens

    def headers(self, who: str | None, headers: dict | None = None) -> dict:
        out = {}
        if who is not None:
            out["Authorization"] = f"Bearer {self.tokens.get(who, who)}"
        out.update(headers or {})
        return out

    def request(self, method: str, path: str, who: str | None = None, *,
                headers: dict | None = None, **kw):
        return self.client.open(path, method=method, headers=self.headers(who, headers), **kw)

    def get(self, path: str, who: str | None = None, **kw):
        return self.request("GET", path, who, **kw)

    def post(self, path: str, body=None, who: str | None = None, **kw):
        if body is not None:
            kw["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kw.setdefault("content_type", "application/json")
        return self.request("POST", path, who, **kw)

    # -- the use cases, asserting success ------------------------------------------------
    def create_record(self, who: str = "regulator", **overrides) -> dict:
        r = self.post("/api/v1/records", record_body(**overrides), who)
        assert r.status_code == 201, r.get_data(as_text=True)
        return r.get_json()

    def score(self, uscc: str = S1, who: str = "evaluator", sector: str = "housing",
              **query) -> dict:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        r = self.get(f"/api/v1/subjects/{uscc}/score?sector={sector}"
                     + (f"&{qs}" if qs else ""), who)
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()

    def evaluate(self, who: str = "evaluator", **overrides):
        r = self.post("/api/v1/evaluations", evaluation_body(**overrides), who)
        assert r.status_code == 201, r.get_data(as_text=True)
        return r


@pytest.fixture
def api(app, tokens) -> Api:
    return Api(app.test_client(), tokens)


# ---- request bodies ---------------------------------------------------------------------

def evaluation_body(**overrides) -> dict:
    body = {
        "tender": {"code": "KQ-2026-0012", "name": "柯桥区某安置房项目施工"},
        "sector": "housing",
        "as_of": "2026-06-01",
        "bidders": [{"uscc": S1}, {"consortium": [S2, S3]}],
    }
    body.update(overrides)
    return body


# ---- assertions -------------------------------------------------------------------------

def assert_error(resp, status: int, error: str, *, allow_extra: bool = False,
                 **extra) -> dict:
    """The error body of API.md §1, exactly: the five keys plus the named extra fields
    (plus any others when ``allow_extra``)."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, f"expected {status} {error}, got {resp.status_code}: {text}"
    assert resp.mimetype == "application/json", resp.content_type
    body = json.loads(text)
    if allow_extra:
        assert set(body) >= ERROR_KEYS | set(extra), body
    else:
        assert set(body) == ERROR_KEYS | set(extra), body
    assert body["code"] == status
    assert body["status"] == HTTPStatus(status).phrase
    assert body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"].strip()
    assert isinstance(body["errors"], dict)
    for key, messages in body["errors"].items():
        assert isinstance(key, str) and key
        assert isinstance(messages, list) and messages
        assert all(isinstance(m, str) and m for m in messages)
    for key, value in extra.items():
        if value is not ANY:
            assert body[key] == value, (key, body[key], value)
    return body


class _Any:
    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


def audit_head(ctx) -> int:
    """Position of the newest audit entry (to prove a request wrote nothing)."""
    with ctx.uow(write=False) as uow:
        return uow.audit.head().position


def collect_pages(api: Api, path: str, who: str, limit: int) -> tuple[list, int]:
    """Follow ``next`` through a list route; returns (all items, number of pages)."""
    sep = "&" if "?" in path else "?"
    items, after, pages = [], None, 0
    while True:
        url = f"{path}{sep}limit={limit}" + (f"&after={after}" if after is not None else "")
        r = api.get(url, who)
        assert r.status_code == 200, r.get_data(as_text=True)
        body = r.get_json()
        assert set(body) >= {"items", "next"}
        assert len(body["items"]) <= limit
        pages += 1
        items += body["items"]
        if body["next"] is None:
            return items, pages
        assert isinstance(body["next"], str)
        after = body["next"]
        assert pages < 100
