"""Scoring model definitions as data.

Each file under ``definitions/`` is one published version (``<id>@<version>.toml``),
read with ``tomllib`` (``parse_float=Decimal``), validated with marshmallow and stamped
with the SHA-256 of its bytes. A published version is never edited, only superseded.
"""

from .loader import ModelError, ModelRegistry, default_registry, load_bytes, load_file

__all__ = ["ModelError", "ModelRegistry", "default_registry", "load_bytes", "load_file"]
