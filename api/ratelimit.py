"""Rate limits (Flask-Limiter) on the routes anyone may call without signing in: the
public joint-punishment list (API and console, one shared count) and the console
sign-in, each counted per client address (the peer address of the connection).

The counts live in the storage named by ``settings.rate_limit_storage`` (any
Flask-Limiter storage URI). The default, ``memory://``, counts in each worker process on
its own: with ``--workers 2`` a client may get up to twice the limit before every worker
refuses it; a shared storage (``redis://…``, ``memcached://…``) makes it one limit.

Over the limit: 429 ``rate_limited`` with the error body of API.md §1 (an HTML page on
console paths) and ``Retry-After`` in seconds (api/errors.py).
"""

from __future__ import annotations

import time
from functools import partial

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from credit.settings import ConfigurationError, Settings

# endpoint → which limit (and shared count) applies
LIMITED = {"public.punishments": "public", "console.public_list_page": "public",
           "console.signin": "signin"}


def check(settings: Settings) -> None:
    """ConfigurationError naming the variable when a limit is not in Flask-Limiter's
    notation or the storage cannot be used. Flask-Limiter itself would only log a bad
    limit and then serve the route with no limit at all, and a bad storage would fail
    every worker's boot with a traceback."""
    from limits import parse_many
    from limits.errors import ConfigurationError as LimitsError
    from limits.storage import storage_from_string
    for name, value in (("CREDIT_RATE_LIMIT_PUBLIC", settings.rate_limit_public),
                        ("CREDIT_RATE_LIMIT_SIGNIN", settings.rate_limit_signin)):
        try:
            parse_many(value)
        except ValueError:
            raise ConfigurationError(f"{name} {value!r} is not a rate limit such as "
                                     "'60 per minute' or '10/minute; 100/hour'.") from None
    uri = settings.rate_limit_storage
    try:
        storage_from_string(uri)  # connects to nothing yet
    except LimitsError as exc:
        shown = uri.split("://")[0] + "://…"  # the URI may hold a password
        raise ConfigurationError(f"CREDIT_RATE_LIMIT_STORAGE {shown} cannot be used: "
                                 f"{str(exc).replace(uri, shown)}") from None


def install(app: Flask, settings: Settings) -> Limiter:
    """One limiter per app (tests build many apps in one process: none shares counts)."""
    check(settings)
    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.rate_limit_storage,
                      strategy="fixed-window", headers_enabled=False, key_prefix="credit")
    limits = {"public": settings.rate_limit_public, "signin": settings.rate_limit_signin}
    for endpoint, scope in LIMITED.items():
        view = app.view_functions[endpoint]
        app.view_functions[endpoint] = limiter.shared_limit(limits[scope], scope=scope)(view)
    _drop_app_wide_hooks(app, limiter)
    app.extensions["credit_limiter"] = limiter
    return limiter


def _drop_app_wide_hooks(app: Flask, limiter: Limiter) -> None:
    """The three limited views check their limits themselves (Flask-Limiter's decorator
    runs the check on every call of the view). Its app-wide before/after/teardown hooks
    only looked up, on every other request, limits that never apply there: about 60 µs
    of a served score's 1.8 ms (bench/README.md, "Issue 10"). Should a later
    Flask-Limiter register them some other way, tests/e2e/test_public_list.py says so."""
    def ours(hook) -> bool:
        owner = getattr(hook, "__self__", None)
        if owner is None and isinstance(hook, partial):
            owner = hook.args[0] if hook.args else None
        return owner is limiter

    for hooks in (app.before_request_funcs, app.after_request_funcs,
                  app.teardown_request_funcs):
        if None in hooks:
            hooks[None] = [h for h in hooks[None] if not ours(h)]


def retry_after() -> int:
    """Whole seconds until the breached limit's window resets (at least 1; the reset
    instant is itself rounded up to a whole second)."""
    limiter = current_app.extensions.get("credit_limiter")
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))
