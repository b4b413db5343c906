"""Crash safety (API.md §3 idempotency, §6 log): ``credit serve`` is killed with SIGKILL
— master and workers at once, no cleanup anywhere — while several clients write records
(each with its own Idempotency-Key) and pull scores (which append traces); then it is
restarted on the same database. On SQLite and on PostgreSQL:

* every write that was acknowledged (201) is there, unchanged, exactly once;
* a write whose answer was lost is retried with its key: 201, and still exactly once;
* nothing is half-written: every record has its creating entry and its idempotency row,
  positions are gap-free, the chain and every row verify, and the log still extends a
  checkpoint taken before the crash.

``make test`` kills twice per backend; ``make stress`` ten times (tests/stress).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import requests

from credit import signing
from tests.live_server import LiveServer, bearer, make_tokens, make_uscc, query, record_body

CYCLES = 2
WRITERS = 4
READERS = 2
USCCS = [make_uscc(n, prefix="91330602") for n in range(1, 25)]


@dataclass
class Load:
    acked: dict[str, dict] = field(default_factory=dict)      # document_no → 201 body
    attempted: dict[str, dict] = field(default_factory=dict)  # document_no → request body
    lost: list[str] = field(default_factory=list)             # sent, no answer
    unexpected: list[tuple] = field(default_factory=list)     # any other answer
    lock: threading.Lock = field(default_factory=threading.Lock)


def key_of(doc: str) -> str:
    """Idempotency keys are printable ASCII: the document number's digits."""
    return "crash-" + doc.encode("unicode_escape").decode("ascii")


def writer(server, secret, load: Load, tag: str, stop: threading.Event):
    s = requests.Session()
    rng = random.Random(tag)
    i = 0
    while not stop.is_set():
        i += 1
        doc = f"崩溃测试〔{tag}〕{i}号"
        sector = rng.choice(["housing", "transport", "water"])
        body = record_body(rng.choice(USCCS), doc, sector=sector,
                           code=rng.choice(["BID-NOSIGN", "SITE-QUALITY", "AWARD-CITY"]))
        with load.lock:
            load.attempted[doc] = body
        try:
            r = s.post(server.url("/api/v1/records"), json=body, timeout=30,
                       headers={**bearer(secret), "Idempotency-Key": key_of(doc)})
        except requests.RequestException:
            with load.lock:
                load.lost.append(doc)
            return
        with load.lock:
            if r.status_code == 201:
                load.acked[doc] = r.json()
            else:
                load.unexpected.append((doc, r.status_code, r.text[:300]))


def reader(server, secret, load: Load, stop: threading.Event):
    s = requests.Session()
    rng = random.Random()
    while not stop.is_set():
        try:
            r = s.get(server.url(f"/api/v1/subjects/{rng.choice(USCCS)}/score"),
                      params={"sector": "housing"}, headers=bearer(secret), timeout=30)
        except requests.RequestException:
            return
        if r.status_code != 200:
            with load.lock:
                load.unexpected.append(("score", r.status_code, r.text[:300]))


def crash_once(server: LiveServer, tokens, load: Load, cycle: int) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(server, tokens["regulator"], load,
                                                     f"{cycle}-{w}", stop))
               for w in range(WRITERS)]
    threads += [threading.Thread(target=reader, args=(server, tokens["evaluator"], load,
                                                      stop)) for _ in range(READERS)]
    before = len(load.acked)
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(load.acked) < before + 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.uniform(0.1, 0.6))  # kill somewhere in the middle of the load
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)


def test_sigkill_under_write_load_loses_no_acknowledged_write(ctx, database_url, tmp_path):
    run_crash_cycles(ctx, database_url, tmp_path, CYCLES)


def run_crash_cycles(ctx, database_url, tmp_path, cycles: int) -> dict:
    """Kill ``credit serve`` ``cycles`` times under load; check everything above."""
    tokens = make_tokens(ctx)
    key = tmp_path / "signing.pem"
    signing.create_key(key)
    server = LiveServer(database_url, tmp_path / "srv", workers=2,
                        env={"CREDIT_SIGNING_KEY": str(key)})
    load = Load()
    auditor = bearer(tokens["auditor"])
    stats = {"lost": 0, "lost_but_committed": 0}
    try:
        server.start()
        checkpoint = requests.get(server.url("/api/v1/audit/checkpoint"), headers=auditor,
                                  timeout=30).json()
        for cycle in range(cycles):
            crash_once(server, tokens, load, cycle)
            server.start()
            # every acknowledged write is there, unchanged
            s = requests.Session()
            for doc, body in load.acked.items():
                r = s.get(server.url(f"/api/v1/records/{body['id']}"), headers=auditor,
                          timeout=30)
                assert r.status_code == 200, (doc, r.status_code)
                got = r.json()
                assert (got["document_no"], got["sha256"], got["audit_position"]) == \
                    (doc, body["sha256"], body["audit_position"])
            # writes whose answer was lost: retried with their key, exactly once
            present = {d for (d,) in query(ctx, "SELECT document_no FROM records")}
            stats["lost"] += len(load.lost)
            stats["lost_but_committed"] += len(set(load.lost) & present)
            for doc in list(load.lost):
                r = s.post(server.url("/api/v1/records"), json=load.attempted[doc],
                           headers={**bearer(tokens["regulator"]),
                                    "Idempotency-Key": key_of(doc)},
                           timeout=30)
                assert r.status_code == 201, (doc, r.status_code, r.text)
                load.acked[doc] = r.json()
            load.lost.clear()
            # a write that was acknowledged replays byte for byte
            doc = next(iter(load.acked))
            r = s.post(server.url("/api/v1/records"), json=load.attempted[doc],
                       headers={**bearer(tokens["regulator"]),
                                    "Idempotency-Key": key_of(doc)},
                       timeout=30)
            assert r.status_code == 201 and r.json() == load.acked[doc]
        assert load.unexpected == [], load.unexpected[:5]
        # the log is whole: chain and rows verify, and it extends the old checkpoint
        r = requests.get(server.url("/api/v1/audit/verify"),
                         params={"position": checkpoint["position"],
                                 "sha256": checkpoint["sha256"]},
                         headers=auditor, timeout=120)
        result = r.json()
        assert result["ok"] is True, result
        assert result["checkpoint_ok"] is True, result
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-4000:]

    # every attempted write exactly once, nothing else, nothing half-written
    rows = query(ctx, "SELECT document_no, count(*) FROM records GROUP BY document_no")
    counts = dict((d, n) for d, n in rows)
    assert {d for d in counts if d.startswith("崩溃测试")} == set(load.acked)
    assert all(n == 1 for n in counts.values()), [d for d, n in counts.items() if n > 1]
    # every record has its creating entry, and its idempotency key row (same transaction)
    orphans = query(ctx, "SELECT r.id FROM records r LEFT JOIN audit_entries a "
                         "ON a.position = r.audit_position AND a.kind = 'record.created' "
                         "WHERE a.position IS NULL")
    assert orphans == []
    keys = query(ctx, "SELECT count(*) FROM idempotency_keys WHERE path = '/api/v1/records'")
    assert keys[0][0] == len(load.acked)
    n, top = query(ctx, "SELECT count(*), max(position) FROM audit_entries")[0]
    assert n == top, "positions have gaps"
    assert len(load.acked) >= 10 * cycles
    print(f"crash[{ctx.uow.engine.dialect.name}]: {cycles} kills, {len(load.acked)} writes, "
          f"{stats['lost']} in flight at a kill, {stats['lost_but_committed']} of them "
          "committed before it")
    return {"writes": len(load.acked), **stats}
