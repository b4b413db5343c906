"""What every kind of definition's validation shares: the error that names the file and
the key, strict marshmallow schemas, and marshmallow's messages as ``key: problem``."""

from __future__ import annotations

from marshmallow import RAISE, Schema


class ModelError(ValueError):
    """A model definition that cannot be used; the message names the file and key."""


class Strict(Schema):
    """A table of a definition: unknown keys are refused, never ignored."""

    class Meta:
        unknown = RAISE


def flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested messages as ``dotted.key: message`` lines."""
    out = []
    if isinstance(messages, dict):
        for key, val in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "(top level)"
            out += flatten(val, path)
    elif isinstance(messages, list):
        for m in messages:
            out += flatten(m, prefix)
    else:
        out.append(f"{prefix}: {messages}")
    return out
