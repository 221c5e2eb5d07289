"""The case-file schema: each key is a field of a frozen dataclass that carries its name
(with the unit), its type, default, allowed values and the conversion to SI.

A section of a case file is a dataclass of :mod:`fem.config.sections`; its fields made with
:func:`key` are the section's keys, in file order. :func:`section_schema` reads them back as
:class:`Spec` objects (what :mod:`fem.config.resolve` validates against) and
:func:`build_section` turns a resolved table (file units) into the dataclass (SI). Adding a
parameter is one :func:`key` field and the code that uses it.

Every problem is a :class:`CaseError` with one line naming the key, the value and what is
allowed; the command line turns it into exit status 2.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

UM = 1e-6  # m per micrometre
MS = 1e-3  # s per millisecond
KELVIN = 273.15  # K at 0 C


#: The characters that break a line (str.splitlines), shown escaped in a message.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class CaseError(ValueError):
    """Bad input in a case or study file (exit status 2); its message is one line (line
    breaks that come with a key or value of the file are shown escaped)."""

    def __str__(self) -> str:
        return super().__str__().translate(_LINE_BREAKS)


@dataclass(frozen=True)
class Spec:
    """One case-file key: its type, default and allowed values."""

    kind: str  # "float", "int", "str", "bool", "points", "floats"
    default: Any = None  # None: required (or filled by a preset / derived)
    lo: float | None = None  # inclusive lower bound
    hi: float | None = None  # inclusive upper bound
    lo_open: bool = False  # lower bound exclusive
    choices: tuple | None = None
    doc: str = ""

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "points":
            return "a list of [x, y, z] triples in micrometres"
        if self.kind == "floats":
            return "a list of numbers > 0"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"<= {self.hi:g}")
        kind = {"float": "a number", "int": "an integer", "str": "a string",
                "bool": "true or false"}
        return kind[self.kind] + (" " + " and ".join(parts) if parts else "")


def celsius(t_C: float) -> float:
    """Degrees Celsius to kelvin."""
    return t_C + KELVIN


def key(name: str, kind: str = "float", si: float | Callable[[Any], Any] = 1.0, *,
        default: Any = None, lo: float | None = None, hi: float | None = None,
        lo_open: bool = False, choices: tuple | None = None, doc: str = "") -> Any:
    """A case-file key as a dataclass field.

    Args:
        name: the key in the file, its unit in the name (``energy_mJ``).
        kind: "float", "int", "str", "bool", "points" (``[x, y, z]`` triples), "floats".
        si: the factor from the file unit to SI (applied to every number of a list), or a
            function (``math.radians``, :func:`celsius`).
        default, lo, hi, lo_open, choices, doc: see :class:`Spec`; a key without a default
            is required, filled by a preset or derived (:mod:`fem.config.resolve`), or absent
            when it does not apply (then its field is None).
    """
    spec = Spec(kind, default, lo, hi, lo_open, choices, doc)
    return dataclasses.field(metadata={"key": name, "spec": spec, "si": si})


def keyed_fields(cls) -> list[dataclasses.Field]:
    """The fields of a section dataclass that are case-file keys, in file order."""
    return [f for f in dataclasses.fields(cls) if "key" in f.metadata]


def section_schema(cls) -> dict[str, Spec]:
    """``{key: Spec}`` of a section dataclass."""
    return {f.metadata["key"]: f.metadata["spec"] for f in keyed_fields(cls)}


def to_si(value: Any, si: float | Callable[[Any], Any], kind: str) -> Any:
    """A resolved value (file unit) in SI: numbers scaled, lists scaled element by element."""
    if value is None or kind in ("str", "bool", "int"):
        return value
    convert = si if callable(si) else (lambda v: v * si)
    if kind == "points":
        return tuple(tuple(convert(c) for c in p) for p in value)
    if kind == "floats":
        return tuple(convert(v) for v in value)
    return convert(value)


def build_section(cls, table: dict, **derived):
    """The section dataclass ``cls`` from a resolved table (file units), in SI; the fields that
    are not keys (derived values) are passed as keywords."""
    values = {f.name: to_si(table.get(f.metadata["key"]), f.metadata["si"],
                            f.metadata["spec"].kind) for f in keyed_fields(cls)}
    return cls(**values, **derived)


def _is_number(value: Any) -> bool:
    """An int or a float (not a bool); NaN and infinity included."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(key: str, value: Any, spec: Spec) -> Any:
    """The value of ``key`` checked against its spec (numbers as float, lists normalised)."""
    def bad(problem: str) -> CaseError:
        return CaseError(f"{key} = {value!r}: {problem}; allowed: {spec.allowed()}")

    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad("wrong type")
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise bad("wrong type")
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("wrong type")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("wrong type")
        value = float(value)
        if not math.isfinite(value):
            raise bad("not a finite number")
    elif spec.kind == "floats":
        if not isinstance(value, list) or not all(_is_number(c) for c in value):
            raise bad("wrong type")
        if not all(math.isfinite(c) for c in value):
            raise bad("not all finite numbers")
        if not all(c > 0 for c in value):
            raise bad("not all > 0")
        return sorted(float(c) for c in value)
    elif spec.kind == "points":
        for i, p in enumerate(value if isinstance(value, list) else [None]):
            if not (isinstance(p, list) and len(p) == 3 and all(_is_number(c) for c in p)):
                raise bad("wrong type" if p is None else f"entry {i} is not [x, y, z]")
            if not all(math.isfinite(c) for c in p):
                raise bad(f"entry {i} is not finite (nan or inf)")
        return [[float(c) for c in p] for p in value]
    if spec.choices is not None:
        if value not in spec.choices:
            raise bad("unknown value")
        return value
    if spec.lo is not None and (value < spec.lo or (spec.lo_open and value == spec.lo)):
        raise bad("out of range")
    if spec.hi is not None and value > spec.hi:
        raise bad("out of range")
    return value


def check_table(prefix: str, table: Any, schema: dict[str, Spec]) -> dict:
    """A table of keys checked against a schema (unknown keys refused), in the user's order."""
    if not isinstance(table, dict):
        raise CaseError(f"{prefix} = {table!r}: expected a table")
    out = {}
    for name, value in table.items():
        if name not in schema:
            known = ", ".join(schema)
            raise CaseError(f"{prefix}.{name} = {value!r}: unknown key; known keys: {known}")
        out[name] = check_value(f"{prefix}.{name}", value, schema[name])
    return out
