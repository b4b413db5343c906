"""What ``credit serve`` does in each worker once the app is built (api/server.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

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
