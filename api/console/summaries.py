"""An audit entry's one-line summary for the console's lists and pages
(``console/_entry_summary.html``), laid out from its payload.

The macro reads each kind's payload as the service writes it. An entry edited behind
the service into another shape — its text and its hash column rewritten together, so
that only the next entry's link shows the edit — has no such payload, and a list that
holds it must still open: an auditor reads it there and runs the verification from the
same page. So the summary of a payload the macro cannot lay out is a plain statement of
that, logged, never the page's failure."""

from __future__ import annotations

from flask import current_app
from jinja2 import UndefinedError
from markupsafe import Markup
from werkzeug.routing import BuildError

NOT_AS_WRITTEN = Markup("<strong>内容不是服务写入的形式</strong>，无法摘要；"
                        "请查看条目页的存储文本，并运行 credit audit verify。")


def entry_summary(entry: dict) -> Markup:
    """The summary of ``entry`` (position, kind, payload as parsed), or NOT_AS_WRITTEN."""
    summary = current_app.jinja_env.get_template("console/_entry_summary.html").module.summary
    try:
        return summary(entry)
    except (UndefinedError, TypeError, ValueError, BuildError) as exc:
        current_app.logger.warning("audit entry %s: no summary of its payload (%s: %s)",
                                   entry.get("position"), type(exc).__name__, exc)
        return NOT_AS_WRITTEN
