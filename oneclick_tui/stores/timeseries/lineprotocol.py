"""Point -> InfluxDB line protocol, written by hand so the Decimal->float step is explicit.

InfluxDB stores numeric fields as float64: this is the one place a Decimal becomes a float
(`repr(float(d))`, the shortest string that round-trips). Values with up to 15 significant
digits come back exactly; sums of many values carry float rounding.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .base import EPOCH, Point

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\"})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(name: str) -> str:
    """Tag keys, tag values and field keys share one escaping rule."""
    return name.translate(_KEY_ESCAPES)


def format_float(value: Decimal) -> str:
    text = repr(float(value))
    if text in {"inf", "-inf", "nan"}:
        raise ValueError(f"{value} does not fit in a float64 field")
    return text


def to_nanoseconds(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def to_line(point: Point) -> str:
    tags = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(point.tags.items()))
    fields = ",".join(f"{escape_key(k)}={format_float(v)}" for k, v in sorted(point.fields.items()))
    return f"{escape_measurement(point.measurement)}{tags} {fields} {to_nanoseconds(point.at)}"
