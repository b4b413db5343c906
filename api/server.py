"""``credit serve``: gunicorn with sync workers by default, threaded (gthread) workers
with ``--threads N``. The app (and its database engine, and its group appender of
served-score traces) is created in each worker after fork, never in the master (no
preload).

Why sync workers by default (issue 10, measured side by side by bench/issue10.py;
README "Worker model", bench/README.md): once a served score cost about a millisecond of
CPU, two sync processes on two cores beat two processes of 4 or 8 threads on both
backends (SQLite 901 against 684 scores/s, PostgreSQL 651 against 594, quiet machine):
threads share one GIL, and gthread's own event loop costs more than the commits that
group commit saves when the database is local. Threads pay where the database is far
away (each request waits longer for it) or the machine is oversubscribed: then
``--threads 8`` lets the traces of concurrent requests share one commit
(services/group_commit.py)."""

from __future__ import annotations

import atexit
import gc
import json
import logging
import queue
import re
import socket
import sys
from http import HTTPStatus
from logging.handlers import QueueHandler, QueueListener

from gunicorn.app.base import BaseApplication
from gunicorn.util import is_ipv6
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from api.auth import LONGEST_HEADER_LINE
from credit.services.tokens import TOKEN_PREFIX
from credit.settings import ConfigurationError, Settings

#: A token's secret wherever it appears in a line gunicorn writes about a request it
#: refused (its message quotes the offending header line, ``Authorization`` included).
_SECRET = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]*")


def masked(text: str) -> str:
    """``text`` with every token secret in it replaced: no secret reaches a log line
    or an error body (services/tokens.py logs at most a prefix of its hash)."""
    return _SECRET.sub(TOKEN_PREFIX + "…", text)


class MaskSecrets(logging.Filter):
    """On gunicorn's logs: a refused request's line names its header as sent, and the
    access line's user is a ``Basic`` Authorization header's, decoded."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_PREFIX in message:
            record.msg, record.args = masked(message), None
        return True


def _json_write_error(sock, status_int, reason, mesg):
    """gunicorn's own refusals (bad request line, oversized headers) in the error body
    of API.md §1 instead of gunicorn's HTML. An unsupported transfer coding (gunicorn's
    501) is the client's error: 400."""
    if status_int in (414, 431):
        status_int, error = 413, "payload_too_large"
    elif status_int >= 500 and status_int != 501:
        error = "internal_error"
    else:
        status_int, error = 400, "validation_error"
    body = json.dumps({"code": status_int, "status": HTTPStatus(status_int).phrase,
                       "error": error, "message": masked(str(mesg or reason)), "errors": {}},
                      ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status_int} {HTTPStatus(status_int).phrase}\r\n"
            "Connection: close\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    sock.sendall(head + body)


def _json_errors_and_masked_log() -> None:
    """In a worker: gunicorn's refusals as JSON, no secret in its log, and each request's
    longest header line as it came (:func:`_longest_header_line`)."""
    import gunicorn.http.wsgi
    import gunicorn.util
    gunicorn.util.write_error = _json_write_error
    for name in ("gunicorn.error", "gunicorn.access"):  # the access line decodes Basic
        logging.getLogger(name).addFilter(MaskSecrets())
    if not getattr(gunicorn.http.wsgi.create, "credit_measures", False):
        gunicorn.http.wsgi.create = _longest_header_line(gunicorn.http.wsgi.create)


def _longest_header_line(create):
    """gunicorn joins a header sent on several lines into one WSGI value (``a, b``), so
    two lines under 8 KiB would look like one over it: the environ carries the longest
    line as sent (``name: value``), which api.auth.check_limits reads (API.md §1: 413
    for a header *line* over 8 KiB)."""
    def created(req, *args, **kwargs):
        resp, environ = create(req, *args, **kwargs)
        environ[LONGEST_HEADER_LINE] = max(
            ((len(name) + 2 + len(value), name) for name, value in req.headers),
            default=(0, ""))
        return resp, environ

    created.credit_measures = True
    return created


class JsonErrorSyncWorker(SyncWorker):
    """A sync worker whose protocol-level errors are JSON too."""

    def init_process(self):
        _json_errors_and_masked_log()
        super().init_process()


class JsonErrorThreadWorker(ThreadWorker):
    """A gthread worker whose protocol-level errors are JSON too."""

    def init_process(self):
        _json_errors_and_masked_log()
        super().init_process()


#: Threads per worker: 1 = sync workers (the measured default, module docstring).
THREADS = 1
#: The shortest CREDIT_SECRET_KEY ``credit serve`` accepts (`make run`: 64 hex digits).
MIN_SECRET_KEY = 32
#: gunicorn's log levels (it reads any other word as info without a word).
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class CreditServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """The app, built in the worker after fork (:func:`worker_app`)."""
        return worker_app()


def worker_app():
    """The app as a worker serves it, its log lines routed (:func:`route_service_logs`),
    built and then frozen (:func:`freeze_survivors`)."""
    from api import create_app
    app = create_app()
    route_service_logs(app.extensions["credit"].settings.log_level)
    freeze_survivors()
    return app


#: The service's own loggers: ``credit.auth``, ``credit.idempotency``,
#: ``credit.result_memo``, ``credit.api``, … (every module logs under one of these).
SERVICE_LOGGERS = ("credit", "api")
#: gunicorn's error-log line, with the logger's name, so that an operator can tell an
#: authentication failure from a worker's boot.
LOG_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"
LOG_DATE_FORMAT = "[%Y-%m-%d %H:%M:%S %z]"


#: Lines a worker holds for its writer thread; more are dropped, never waited for.
LOG_QUEUE_LINES = 10_000


def route_service_logs(level: str) -> None:
    """The service's log lines on the error log gunicorn writes (stderr), at
    CREDIT_LOG_LEVEL, in gunicorn's format. gunicorn configures only its own loggers:
    without this a worker's INFO lines (an authentication without a token, the result
    memo's report) were dropped, and its warnings reached stderr through Python's
    last-resort handler as bare messages, without time, process or level.

    Written by a thread of the worker's own (the standard library's QueueListener): a
    request only queues its line (:class:`DroppingQueueHandler`), so that none waits
    for the error log's pipe — least of all one that holds the append lock (the result
    memo reports during a look-up, and an evaluation looks its bidders up under the
    lock). The lines queued when the worker exits are written before it does
    (``atexit``); those of a worker killed outright are lost with it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT))
    lines: queue.Queue = queue.Queue(LOG_QUEUE_LINES)
    listener = QueueListener(lines, handler)
    for name in SERVICE_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [DroppingQueueHandler(lines)]
        logger.setLevel(level.upper())
        logger.propagate = False  # the root logger is not ours to configure
    listener.start()
    atexit.register(listener.stop)  # (which also keeps the listener alive)


class DroppingQueueHandler(QueueHandler):
    """Queues a line for the writer thread, or drops it when the queue is full (the
    error log stopped reading): serving goes on and the worker's memory stays bounded.
    The next line that fits is preceded by one WARNING saying how many were dropped.
    (``Handler.handle`` holds the handler's lock around this: the count is safe.)"""

    def __init__(self, lines: queue.Queue):
        super().__init__(lines)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            if self.dropped:
                self.queue.put_nowait(self._dropped_line(record))
                self.dropped = 0
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def _dropped_line(self, record: logging.LogRecord) -> logging.LogRecord:
        return logging.LogRecord(
            __name__, logging.WARNING, __file__, 0,
            f"{self.dropped:,} log line{'' if self.dropped == 1 else 's'} dropped: the "
            "error log did not take them fast enough", None, None)


def freeze_survivors() -> None:
    """Everything built so far (the imported modules, the app, its schemas and engine:
    several hundred thousand objects that live as long as the worker) leaves the cyclic
    garbage collector's care: without ``gc.freeze()`` each full collection walks them
    all again, about 4 % of a served score's CPU (bench/README.md, "Issue 10, fourth
    pass"). Benches that time a use case in-process call it at the same point."""
    gc.collect()
    gc.freeze()


def check_settings(settings: Settings) -> None:
    """Everything ``credit serve`` needs, checked before gunicorn starts a worker (each
    would otherwise fail to boot, or serve misconfigured): ConfigurationError saying
    what is wrong and how to fix it; the CLI prints it on one line, exit 2."""
    from api.ratelimit import check
    from credit.services.bootstrap import check_settings as check_service
    from credit.services.identity import IdentityKeyMissing, load_identity_key
    key = settings.secret_key or ""
    if len(key) < MIN_SECRET_KEY:
        raise ConfigurationError(
            f"CREDIT_SECRET_KEY is required by credit serve, at least {MIN_SECRET_KEY} "
            f"characters (it signs console sessions; {len(key)} given); `make run` "
            "generates one under var/.")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise ConfigurationError(f"CREDIT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, "
                                 f"not {settings.log_level!r}.")
    check_service(settings)
    check(settings)
    _check_access_log(settings.access_log)
    try:
        load_identity_key(settings.identity_key_path)
    except IdentityKeyMissing as exc:
        raise ConfigurationError(
            f"{exc.message} credit serve needs CREDIT_IDENTITY_KEY, the path of a file of "
            "at least 32 random bytes (personal data, WARNINGS.md §2); `make run` "
            "generates var/identity-key.") from None


def _check_access_log(path: str | None) -> None:
    """CREDIT_ACCESS_LOG names a file gunicorn can append to (``-``: stdout); gunicorn
    itself would exit 1 with its own two-line error."""
    if not path or path == "-":
        return
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigurationError(f"CREDIT_ACCESS_LOG {path!r} cannot be written "
                                 f"({exc.strerror or exc}).") from None


def _check_bind(host: str, port: int) -> None:
    """The address can be listened on, tried as gunicorn binds it (an IPv6 literal,
    bracketed or not, on an IPv6 socket; anything else, a host name included, on an
    IPv4 one): a port in use or an address this machine does not have is an operator's
    error in one line (exit 2), where gunicorn would retry for five seconds, print a
    dozen lines and exit 1 — after ``make run`` had printed its tokens and "Try: curl"
    lines for a server that never started."""
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    family = socket.AF_INET6 if is_ipv6(name) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((name, port))
        except socket.gaierror as exc:
            raise ConfigurationError(f"--host {host!r} cannot be resolved "
                                     f"({exc.strerror}).") from None
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {host}:{port} "
                                     f"({exc.strerror or exc}); choose another --port "
                                     "(make run PORT=…) or --host.") from None


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 2,
        threads: int = THREADS) -> None:
    settings = Settings.from_env()
    check_settings(settings)
    _check_bind(host, port)
    CreditServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": ("api.server.JsonErrorThreadWorker" if threads > 1
                         else "api.server.JsonErrorSyncWorker"),
        "threads": threads,
        # One request per connection, as the sync workers had: a keep-alive connection
        # whose request body the app refused unread (401 before reading 1 MiB, 413) is
        # not reusable by gthread (tests/e2e/test_real_server.py).
        "keepalive": 0,
        "preload_app": False,
        # gunicorn caps a request line at 8190 bytes whatever is set; header fields up
        # to 64 KiB reach the app, which answers 401/403 before its own 8 KiB 413.
        "limit_request_line": 8190,
        "limit_request_field_size": 65536,
        "limit_request_fields": 200,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": settings.access_log,
        # The service is served at the root: no proxy header moves it (gunicorn takes
        # SCRIPT_NAME and PATH_INFO from a proxy at 127.0.0.1 by default, and answers a
        # SCRIPT_NAME that does not prefix the path with a 500).
        "forwarder_headers": "",
        "errorlog": "-",
        "loglevel": settings.log_level,
    }).run()
