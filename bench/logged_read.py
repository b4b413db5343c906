"""The minimal *logged read* (issue 10): the ceiling a served score is measured
against. A Flask app served by gunicorn (2 sync workers) whose one route does, per
request, one SELECT and one INSERT into a small hash-chained table of its own under
the append lock, and commits:

* SQLite: WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` (the service's settings);
* PostgreSQL: READ COMMITTED, ``pg_advisory_xact_lock`` (the service's lock).

    LOGGED_READ_URL=sqlite:///var/ceiling.db gunicorn -w 2 bench.logged_read:app
    LOGGED_READ_URL=postgresql://postgres@127.0.0.1/x gunicorn -w 2 bench.logged_read:app

Raw DB-API (sqlite3, psycopg): what any service that logs every read must at least pay.
bench/issue10.py starts it and measures it beside the service.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time

from flask import Flask

URL = os.environ.get("LOGGED_READ_URL", "sqlite:///var/ceiling.db")
LOCK = 0x4352454449544C48
TABLE = ("CREATE TABLE IF NOT EXISTS ceiling_log (position BIGINT PRIMARY KEY, "
         "at_us BIGINT NOT NULL, text TEXT NOT NULL, sha256 VARCHAR(64) NOT NULL)")
app = Flask(__name__)
_conn = None


def _connect():
    if URL.startswith("sqlite:///"):
        conn = sqlite3.connect(URL[len("sqlite:///"):], isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(TABLE)
        return conn
    import psycopg
    conn = psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"))
    with conn.transaction():
        conn.execute(TABLE)
    return conn


def connection():
    global _conn
    if _conn is None:
        _conn = _connect()
    return _conn


def _append(cur, head) -> dict:
    position, prev = (head[0] + 1, head[1]) if head else (1, "0" * 64)
    at_us = time.time_ns() // 1000
    text = json.dumps({"position": position, "at_us": at_us, "prev_sha256": prev},
                      sort_keys=True, separators=(",", ":"))
    sha = hashlib.sha256(text.encode()).hexdigest()
    return {"position": position, "at_us": at_us, "text": text, "sha256": sha}


@app.get("/read")
def read():
    conn = connection()
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE")
        head = conn.execute("SELECT position, sha256 FROM ceiling_log "
                            "ORDER BY position DESC LIMIT 1").fetchone()
        row = _append(conn, head)
        conn.execute("INSERT INTO ceiling_log VALUES (:position, :at_us, :text, :sha256)", row)
        conn.execute("COMMIT")
    else:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            head = conn.execute("SELECT position, sha256 FROM ceiling_log "
                                "ORDER BY position DESC LIMIT 1").fetchone()
            row = _append(conn, head)
            conn.execute("INSERT INTO ceiling_log VALUES (%(position)s, %(at_us)s, %(text)s, "
                         "%(sha256)s)", row)
    return {"position": row["position"], "sha256": row["sha256"]}
