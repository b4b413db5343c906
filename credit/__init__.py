"""Credit evaluation and joint-punishment scoring service (两场联动)."""

__version__ = "0.1.0"
