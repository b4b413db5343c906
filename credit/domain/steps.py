"""Typed trace steps (OpenFisca's tracer is the model): every step names the rule, the
section of the spec it implements, its inputs, the parameter values it used and the
value it produced, so a reader can redo each one by hand.

A step is a small immutable value; it becomes JSON (the trace payload of API.md §6) in
exactly one place, :meth:`Step.as_json`, so every engine (scores, screens, performance,
agencies) writes its steps the same way.
"""

from __future__ import annotations

from typing import Any, Mapping

from .values import value


class _NoValue:
    """Marks a step that states facts but computes no single value (a measure)."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()


@value
class Step:
    """One step of a trace.

    ``facts`` are further named fields written beside ``rule`` and ``section`` (a
    record's id and code for a contribution, a measure's basis and until); ``inputs``
    and ``parameters`` are written as objects of their own when given.
    """

    rule: str
    section: str
    value: Any = NO_VALUE
    inputs: Mapping[str, Any] | None = None
    parameters: Mapping[str, Any] | None = None
    facts: Mapping[str, Any] | None = None

    def as_json(self) -> dict:
        """The step as written into a trace: plain JSON values, keys as named here."""
        out: dict[str, Any] = {"rule": self.rule, "section": self.section}
        if self.facts:
            out.update(self.facts)
        if self.inputs is not None:
            out["inputs"] = dict(self.inputs)
        if self.parameters is not None:
            out["parameters"] = dict(self.parameters)
        if self.value is not NO_VALUE:
            out["value"] = self.value
        return out

    def __getitem__(self, key: str) -> Any:
        """Read a step like its JSON (``step["rule"]``), for readers and tests."""
        return self.as_json()[key]
