"""Concurrency against a real ``credit serve`` (4 threaded workers): 8 writers entering
records and 8 readers pulling scores (each appends a trace), reading acknowledged
records back and listing, for a fixed time; then

* every acknowledged write is present exactly once, unchanged, and nothing else;
* readers see every acknowledged write at once (read-your-acknowledged-writes) and
  each reader's traces have strictly increasing positions;
* positions are gap-free, ``at`` strictly increases with ``position``, the chain and
  every row verify;
* no request failed.

And concurrent retries with one Idempotency-Key (16 at once, released by a barrier)
create exactly one record / one evaluation, every retry answering the same bytes.

``make test`` runs 4 s per backend; ``make stress`` runs 30 s on PostgreSQL and SQLite.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from tests.live_server import LiveServer, bearer, make_tokens, make_uscc, query, record_body

USCCS = [make_uscc(n, prefix="91330603") for n in range(1, 41)]


@dataclass
class Run:
    acked: dict[str, dict] = field(default_factory=dict)
    errors: list = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"write": [],
                                                                        "read": []})
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(server, secret, run: Run, tag: int, deadline: float):
    s = requests.Session()
    rng = random.Random(tag)
    i = 0
    while time.monotonic() < deadline:
        i += 1
        doc = f"并发〔{tag}〕{i}号"
        body = record_body(rng.choice(USCCS), doc,
                           sector=rng.choice(["housing", "transport", "water"]),
                           code=rng.choice(["BID-NOSIGN", "SITE-QUALITY", "AWARD-CITY",
                                            "SAFE-ACC-GENERAL"]))
        t0 = time.monotonic()
        try:
            r = s.post(server.url("/api/v1/records"), json=body, timeout=60,
                       headers={**bearer(secret), "Idempotency-Key": f"conc-{tag}-{i}"})
        except requests.RequestException as exc:
            with run.lock:
                run.errors.append(("write", repr(exc)))
            continue
        with run.lock:
            run.latencies["write"].append(time.monotonic() - t0)
            run.counts[f"write {r.status_code}"] += 1
            if r.status_code == 201:
                run.acked[doc] = r.json()
            else:
                run.errors.append(("write", r.status_code, r.text[:300]))


def _reader(server, secret, run: Run, tag: int, deadline: float):
    s = requests.Session()
    rng = random.Random(1000 + tag)
    last_trace = 0
    while time.monotonic() < deadline:
        kind = rng.random()
        t0 = time.monotonic()
        try:
            if kind < 0.6:
                r = s.get(server.url(f"/api/v1/subjects/{rng.choice(USCCS)}/score"),
                          params={"sector": rng.choice(["housing", "transport", "water"])},
                          headers=bearer(secret), timeout=60)
                if r.status_code == 200:
                    trace = r.json()["trace_id"]
                    if trace <= last_trace:
                        with run.lock:
                            run.errors.append(("trace order", last_trace, trace))
                    last_trace = trace
            elif kind < 0.9:
                with run.lock:
                    known = rng.choice(list(run.acked.values())) if run.acked else None
                if known is None:
                    continue
                r = s.get(server.url(f"/api/v1/records/{known['id']}"),
                          headers=bearer(secret), timeout=60)
                if r.status_code == 200 and r.json()["sha256"] != known["sha256"]:
                    with run.lock:
                        run.errors.append(("changed", known["id"]))
            else:
                r = s.get(server.url("/api/v1/records"),
                          params={"uscc": rng.choice(USCCS), "limit": 50},
                          headers=bearer(secret), timeout=60)
        except requests.RequestException as exc:
            with run.lock:
                run.errors.append(("read", repr(exc)))
            continue
        with run.lock:
            run.latencies["read"].append(time.monotonic() - t0)
            run.counts[f"read {r.status_code}"] += 1
            if r.status_code != 200:
                run.errors.append(("read", r.status_code, r.text[:300]))


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def run_concurrency(ctx, database_url, tmp_path, seconds: float, writers: int = 8,
                    readers: int = 8, workers: int = 4) -> Run:
    tokens = make_tokens(ctx)
    run = Run()
    with LiveServer(database_url, tmp_path / "srv", workers=workers) as server:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=_writer, args=(server, tokens["regulator"], run,
                                                          w, deadline))
                   for w in range(writers)]
        threads += [threading.Thread(target=_reader, args=(server, tokens["auditor"], run,
                                                           r, deadline))
                    for r in range(readers)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - started
        assert not any(t.is_alive() for t in threads)
        verify = requests.get(server.url("/api/v1/audit/verify"),
                              headers=bearer(tokens["auditor"]), timeout=600).json()
    assert run.errors == [], run.errors[:10]
    assert verify["ok"] is True, verify

    # every acknowledged write exactly once, unchanged, nothing else
    rows = query(ctx, "SELECT id, document_no, sha256, audit_position FROM records")
    by_doc = Counter(r[1] for r in rows)
    assert all(n == 1 for n in by_doc.values())
    assert set(by_doc) == set(run.acked)
    for rid, doc, sha, pos in rows:
        a = run.acked[doc]
        assert (a["id"], a["sha256"], a["audit_position"]) == (rid, sha, pos)
    # positions gap-free from 1; at strictly increasing with position
    entries = query(ctx, "SELECT position, at_us FROM audit_entries ORDER BY position")
    assert [p for p, _ in entries] == list(range(1, len(entries) + 1))
    assert all(a[1] < b[1] for a, b in zip(entries, entries[1:], strict=False))
    total = sum(run.counts.values())
    print(f"concurrency[{ctx.uow.engine.dialect.name}] {elapsed:.1f}s {writers}w/{readers}r "
          f"on {workers} workers: {total} requests ({total / elapsed:.0f}/s), "
          f"{len(run.acked)} records, {len(entries)} entries; write p50 "
          f"{_pct(run.latencies['write'], .5) * 1000:.0f} ms p99 "
          f"{_pct(run.latencies['write'], .99) * 1000:.0f} ms; read p50 "
          f"{_pct(run.latencies['read'], .5) * 1000:.0f} ms p99 "
          f"{_pct(run.latencies['read'], .99) * 1000:.0f} ms; {dict(run.counts)}")
    return run


def test_writers_and_readers_short(ctx, database_url, tmp_path):
    run = run_concurrency(ctx, database_url, tmp_path, seconds=4)
    assert len(run.acked) >= 8


@pytest.mark.slow
def test_writers_and_readers_30s(ctx, database_url, tmp_path):
    run = run_concurrency(ctx, database_url, tmp_path, seconds=30)
    assert len(run.acked) >= 100


# ---------------------------------------------------------------- one key, many retries

def _storm(url, headers, body, n=16):
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def go(i):
        s = requests.Session()
        barrier.wait()
        try:
            r = s.post(url, json=body, headers=headers, timeout=60)
            out[i] = (r.status_code, r.content)
        except requests.RequestException as exc:
            out[i] = ("error", repr(exc))

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_concurrent_retries_with_one_key_create_exactly_one(ctx, database_url, tmp_path):
    tokens = make_tokens(ctx)
    with LiveServer(database_url, tmp_path / "srv", workers=4) as server:
        for k in range(3):
            doc = f"幂等〔2026〕{k}号"
            body = record_body(USCCS[k], doc)
            headers = {**bearer(tokens["regulator"]), "Idempotency-Key": f"storm-{k}"}
            out = _storm(server.url("/api/v1/records"), headers, body)
            assert {o[0] for o in out} == {201}, out
            assert len({o[1] for o in out}) == 1, "retries answered different bytes"
            n = query(ctx, "SELECT count(*) FROM records WHERE document_no = :d",
                      {"d": doc})[0][0]
            assert n == 1
            # the same key with another body: 409, nothing written
            r = requests.post(server.url("/api/v1/records"),
                              json=dict(body, note="另一份"), headers=headers, timeout=30)
            assert (r.status_code, r.json()["error"]) == (409, "idempotency_key_reused")
        ev = {"tender": {"code": "KQ-2026-0099", "name": "幂等评标"}, "sector": "housing",
              "as_of": "2026-06-01", "bidders": [{"uscc": USCCS[0]}, {"uscc": USCCS[1]}]}
        headers = {**bearer(tokens["evaluator"]), "Idempotency-Key": "storm-evaluation"}
        out = _storm(server.url("/api/v1/evaluations"), headers, ev)
        assert {o[0] for o in out} == {201}, out
        assert len({o[1] for o in out}) == 1
        assert query(ctx, "SELECT count(*) FROM evaluations")[0][0] == 1
        verify = requests.get(server.url("/api/v1/audit/verify"),
                              headers=bearer(tokens["auditor"]), timeout=120).json()
        assert verify["ok"] is True
    assert query(ctx, "SELECT count(*) FROM idempotency_keys")[0][0] == 4
