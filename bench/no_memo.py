"""The service as ``credit serve`` serves it, but remembering no score: every score and
every evaluation's bidder computed afresh (services/result_memo.py off). As a gunicorn
app (``no_memo:app``, bench/issue10.py ``bench_app_server``) for the cold 50-bidder
evaluation: the bench evaluates the same 50 bidders each time, which a worker's memo
answers after the first.
"""

from __future__ import annotations


def _app():
    from api.server import worker_app
    from credit.services.result_memo import ResultMemo
    app = worker_app()
    app.extensions["credit"].results = ResultMemo(capacity=0)  # the worker's context
    return app


if __name__ != "__main__":  # imported by a gunicorn worker (no preload: after fork)
    app = _app()
