"""The service as ``credit serve`` serves it, but remembering no score: every score and
every evaluation's bidder computed afresh (services/result_memo.py off). As a gunicorn
app (``no_memo:app``) for bench/issue10.py's cold 50-bidder evaluation: the bench
evaluates the same 50 bidders each time, which a worker's memo answers after the first.
"""

from __future__ import annotations

from credit.services import result_memo


def _app():
    # Every ResultMemo built from here on (the worker's context's) has capacity 0.
    result_memo.ResultMemo.__init__.__defaults__ = (0,)
    from api.server import worker_app
    return worker_app()


if __name__ != "__main__":  # imported by a gunicorn worker (no preload: after fork)
    app = _app()
