"""What ``credit serve`` does in each worker once the app is built (api/server.py)."""

import json
import logging
import os
import queue
import subprocess
import sys
from pathlib import Path

from api.server import DroppingQueueHandler
from tests.e2e.log_lines import SERVICE_LINE

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import gc, json
from api.server import CreditServer
app = CreditServer.__new__(CreditServer).load()
garbage = [[] for _ in range(10)]
for g in garbage:
    g.append(g)  # cycles made after the app: still the collector's
del garbage, g
print(json.dumps({"app": type(app).__name__, "frozen": gc.get_freeze_count(),
                  "collected": gc.collect()}))
"""


def test_a_worker_freezes_what_it_built_before_serving(tmp_path):
    """The app and everything imported for it leave the cyclic collector's care (a full
    collection would otherwise walk them all again), and what requests create later is
    still collected."""
    env = dict(os.environ, CREDIT_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
               CREDIT_SECRET_KEY="w" * 32, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["app"] == "Flask"
    assert probe["frozen"] > 50_000
    assert probe["collected"] >= 10


_LOG_PROBE = """
import atexit, logging, sys, threading
class Recording:
    # stderr, noting which threads write to it
    def __init__(self, stream):
        self.stream, self.writers = stream, set()
    def write(self, text):
        self.writers.add(threading.current_thread().name)
        return self.stream.write(text)
    def flush(self):
        self.stream.flush()
stderr = sys.stderr = Recording(sys.stderr)
# Registered first, so run last: after the listener has stopped.
atexit.register(lambda: print(",".join(sorted(stderr.writers))))
from api.server import route_service_logs
route_service_logs("info")
logging.getLogger("credit.result_memo").info("result memo line %d", 1)
logging.getLogger("api.auth").warning("api line")
logging.getLogger("credit.auth").debug("below the level")
"""


def test_a_workers_log_lines_are_written_by_a_thread_of_their_own():
    """The service's loggers only queue a line (a request never waits for the error
    log's pipe, even under the append lock); a thread of the worker writes it in
    gunicorn's format, at the configured level, and what is queued when the worker
    exits is written before it does."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", _LOG_PROBE], env=env, cwd=ROOT,
                          check=True, capture_output=True, text=True)
    assert [(m["level"], m["logger"], m["message"])
            for m in map(SERVICE_LINE.match, done.stderr.splitlines())] == [
        ("INFO", "credit.result_memo", "result memo line 1"),
        ("WARNING", "api.auth", "api line")]
    writers = done.stdout.strip().splitlines()[-1].split(",")
    assert writers != [""] and "MainThread" not in writers


def test_a_full_log_queue_drops_lines_and_says_how_many_with_the_next():
    """When the writer thread falls behind (the error log stopped reading), a line that
    does not fit is dropped, not waited for; the next that fits is preceded by one
    warning with the count."""
    lines = queue.Queue(2)
    handler = DroppingQueueHandler(lines)
    log = logging.getLogger("credit.test_dropping")
    log.handlers[:], log.propagate = [handler], False
    try:
        for n in range(5):
            log.warning("line %d", n)
        assert [lines.get_nowait().getMessage() for _ in range(2)] == ["line 0", "line 1"]
        log.warning("line 5")
        first, then = lines.get_nowait(), lines.get_nowait()
    finally:
        log.handlers[:], log.propagate = [], True
    assert (first.levelname, first.getMessage()) == (
        "WARNING", "3 log lines dropped: the error log did not take them fast enough")
    assert then.getMessage() == "line 5" and lines.empty() and handler.dropped == 0
