"""Issue 10: served scores under concurrent load against a real ``credit serve``
(threaded workers, traces group-committed), with and without SIGKILL of the whole
server mid-run. Every score that was answered 200 is in the log at the ``trace_id`` it
named, with the hash it named, exactly once; positions are gap-free and the chain and
every row verify. Used by tests/e2e (short) and tests/stress (``make stress``: 16
clients for 60 s on PostgreSQL) and by bench/issue10.py."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.live_server import LiveServer, bearer, make_tokens, make_uscc, query

SUBJECTS = [make_uscc(n, prefix="91330604") for n in range(1, 9)]


@dataclass
class Acks:
    traces: list[tuple[int, str, str]] = field(default_factory=list)  # id, sha, uscc
    failures: list = field(default_factory=list)  # answers other than 200 outside a kill
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(server: LiveServer, secret: str, acks: Acks, tag: int, stop: threading.Event,
            killing: threading.Event) -> None:
    s = requests.Session()
    rng = random.Random(tag)
    while not stop.is_set():
        uscc = rng.choice(SUBJECTS)
        try:
            r = s.get(server.url(f"/api/v1/subjects/{uscc}/score"),
                      params={"sector": "housing"}, headers=bearer(secret), timeout=30)
        except requests.RequestException as exc:
            if not killing.is_set():
                with acks.lock:
                    acks.failures.append(repr(exc)[:200])
            s = requests.Session()
            time.sleep(0.05)
            continue
        if r.status_code == 200:
            body = r.json()
            with acks.lock:
                acks.traces.append((body["trace_id"], body["trace_sha256"], body["uscc"]))
        elif not killing.is_set():
            with acks.lock:
                acks.failures.append((r.status_code, r.text[:200]))


def seed(server: LiveServer, secret: str, records_each: int = 3) -> None:
    from tests.live_server import record_body
    s = requests.Session()
    for i, uscc in enumerate(SUBJECTS):
        for j in range(records_each):
            r = s.post(server.url("/api/v1/records"), headers=bearer(secret), timeout=30,
                       json=record_body(uscc, f"持久〔{i}〕{j}号",
                                        code=["BID-NOSIGN", "SITE-QUALITY"][j % 2]))
            assert r.status_code == 201, r.text


def run(ctx, database_url: str, workdir, *, clients: int = 16, seconds: float = 60,
        kills: int = 0, workers: int = 2) -> dict:
    """Load for ``seconds`` with ``kills`` SIGKILLs spread over it; check everything."""
    tokens = make_tokens(ctx)
    server = LiveServer(database_url, workdir, workers=workers)
    acks = Acks()
    stop, killing = threading.Event(), threading.Event()
    server.start()
    try:
        seed(server, tokens["regulator"])
        threads = [threading.Thread(target=_client, args=(server, tokens["evaluator"], acks,
                                                          i, stop, killing))
                   for i in range(clients)]
        for t in threads:
            t.start()
        slice_ = seconds / (kills + 1)
        for _ in range(kills):
            time.sleep(slice_ * random.uniform(0.5, 1.0))
            killing.set()
            server.kill()
            server.start()
            time.sleep(1.0)  # let the clients reconnect before errors count again
            killing.clear()
        time.sleep(slice_)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        verified = requests.get(server.url("/api/v1/audit/verify"), timeout=600,
                                headers=bearer(tokens["auditor"])).json()
    finally:
        stop.set()
        server.stop()
    return check(ctx, acks, verified, server.log())


def check(ctx, acks: Acks, verified: dict, log: str) -> dict:
    assert acks.failures == [], acks.failures[:5]
    assert verified["ok"] is True, verified
    ids = [t[0] for t in acks.traces]
    assert len(ids) == len(set(ids)), "a trace id was acknowledged twice"
    stored = {p: (k, sha, u) for p, k, sha, u in query(
        ctx, "SELECT position, kind, sha256, uscc FROM audit_entries")}
    lost = [t for t in acks.traces if stored.get(t[0]) != ("score.served", t[1], t[2])]
    assert lost == [], f"{len(lost)} acknowledged traces lost or changed: {lost[:5]}"
    n, top = query(ctx, "SELECT count(*), max(position) FROM audit_entries")[0]
    assert n == top, "positions have gaps"
    assert "Traceback" not in log, log[-4000:]
    served = sum(1 for k, _, _ in stored.values() if k == "score.served")
    return {"acknowledged": len(ids), "served_entries": served, "entries": n}
