"""What a line of the service's own loggers looks like in a server's log."""

import re

#: A line of the service's own loggers in the server's log (api/server.py LOG_FORMAT):
#: gunicorn's time, process and level, then the logger's name.
SERVICE_LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[(?P<level>[A-Z]+)\] "
    r"(?P<logger>(credit|api)(\.\w+)*): (?P<message>.*)$")
