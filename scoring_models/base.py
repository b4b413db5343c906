"""What every kind of definition's loader shares: the error it raises, strict marshmallow
schemas, and the rule that every quantity of a definition is exact to the cent."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields

CENT = Decimal("0.01")
MAX_MAGNITUDE = Decimal(1_000_000)


class ModelError(ValueError):
    """A model definition that cannot be used; the message names the file and key."""


def dec(**kw):
    """A required decimal (TOML floats are read as Decimal, never as binary floats)."""
    return fields.Decimal(required=True, allow_nan=False, **kw)


class Strict(Schema):
    """Unknown keys are an error: a misspelt key must not silently fall back to a
    default."""

    class Meta:
        unknown = RAISE


def flatten(messages, prefix="") -> list[str]:
    """marshmallow's nested messages as ``key.path: message`` lines."""
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


def load_strict(schema: Schema, doc: dict, source: str) -> dict:
    """Validate ``doc`` with ``schema``; ModelError naming ``source`` and every bad key."""
    try:
        return schema.load(doc)
    except ValidationError as exc:
        raise ModelError(f"{source}: " + "; ".join(flatten(exc.messages))) from None


def cents_problem(key: str, value: Decimal, cents: bool = True) -> str | None:
    """Every quantity of a model is exact to the cent and of a sane size, so that no
    rounding happens anywhere in scoring and every trace value prints exactly."""
    if not value.is_finite() or abs(value) >= MAX_MAGNITUDE:
        return f"{key}: {value} is out of range (|value| < {MAX_MAGNITUDE})"
    if cents and value.quantize(CENT) != value:
        return f"{key}: more than two decimals ({value})"
    return None


def raise_problems(source: str, problems: list[str]) -> None:
    """ModelError listing every problem found, when there is one."""
    if problems:
        raise ModelError(f"{source}: " + "; ".join(problems))
