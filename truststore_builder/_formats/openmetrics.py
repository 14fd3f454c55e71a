"""Metrics as text for Prometheus: node exporter's textfile collector, or a scrape.

:func:`render_openmetrics` writes OpenMetrics 1.0 text: ``# HELP``, ``# TYPE`` and ``# UNIT``
lines per family, one line per sample, ``# EOF`` at the end. node exporter's textfile collector
reads ``*.prom`` files with the Prometheus text format 0.0.4 parser, not the OpenMetrics one;
the text written here is the subset both parse alike, so one file serves both:

- only gauges (0.0.4 has no ``unknown`` type, and its counters have no ``_total`` rule);
- ``# UNIT`` and ``# EOF`` are comments to the 0.0.4 parser, which it skips;
- label values escape backslash, double quote and newline, as both formats do;
- no timestamps on samples (the textfile collector refuses them).

Names are checked: a metric name ``[a-zA-Z_:][a-zA-Z0-9_:]*`` that ends in ``_<unit>`` when it
has a unit, label names ``[a-zA-Z_][a-zA-Z0-9_]*`` that do not start with ``__``. A wrong name
is a ValueError (a programming error: every name here is chosen in code, not read).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from truststore_builder._writing import write_atomically

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["MetricFamily", "Sample", "render_openmetrics", "write_openmetrics"]

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: The metric types written: those the OpenMetrics and the 0.0.4 text parsers read alike.
_TYPES = frozenset({"gauge"})


@attrs.frozen
class Sample:
    """One sample of a metric family: its labels and its value.

    Attributes:
        labels: Label name to value (any text: it is escaped when rendered).
        value: The value (a timestamp in seconds, a count, 0 or 1).
    """

    labels: Mapping[str, str]
    value: float


@attrs.frozen
class MetricFamily:
    """A metric: its name, help text, type, unit and samples.

    Attributes:
        name: The metric name (``tsb_certificate_not_after_timestamp_seconds``).
        help: One line saying what it measures.
        type: ``gauge`` (the one type both text formats read alike).
        unit: The unit (``seconds``), which the name must end with; None for none.
        samples: The samples, rendered in this order.
    """

    name: str
    help: str
    type: str = "gauge"
    unit: str | None = None
    samples: tuple[Sample, ...] = ()


def _check_family(family: MetricFamily) -> None:
    if not _METRIC_NAME.fullmatch(family.name):
        msg = f"not a metric name: {family.name!r} (letters, digits, _ and :, not first a digit)"
        raise ValueError(msg)
    if family.type not in _TYPES:
        msg = f"metric {family.name}: type {family.type!r} is not one of {sorted(_TYPES)}"
        raise ValueError(msg)
    if family.unit is not None and (
        not _LABEL_NAME.fullmatch(family.unit) or not family.name.endswith(f"_{family.unit}")
    ):
        msg = f"metric {family.name}: a metric with unit {family.unit!r} must end in _{family.unit}"
        raise ValueError(msg)
    for sample in family.samples:
        for label in sample.labels:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                msg = f"metric {family.name}: not a label name: {label!r}"
                raise ValueError(msg)


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _escape_help(text: str) -> str:
    # Both formats read \\ and \n in help text; a double quote stays as it is in either.
    return text.replace("\\", r"\\").replace("\n", r"\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _sample_line(name: str, sample: Sample) -> str:
    if not sample.labels:
        return f"{name} {_value(sample.value)}"
    labels = ",".join(
        f'{label}="{_escape_label_value(value)}"' for label, value in sample.labels.items()
    )
    return f"{name}{{{labels}}} {_value(sample.value)}"


def render_openmetrics(families: Iterable[MetricFamily]) -> bytes:
    """The families as OpenMetrics 1.0 text that the Prometheus 0.0.4 text parser reads too.

    Args:
        families: The metric families, each name once.

    Returns:
        UTF-8 text ending ``# EOF`` and a newline.

    Raises:
        ValueError: A bad metric or label name, an unknown type, a unit the name does not end
            with, or a family named twice.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for family in families:
        _check_family(family)
        if family.name in seen:
            msg = f"metric {family.name} is given twice; a family's samples go in one family"
            raise ValueError(msg)
        seen.add(family.name)
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        if family.unit is not None:
            lines.append(f"# UNIT {family.name} {family.unit}")
        lines.extend(_sample_line(family.name, sample) for sample in family.samples)
    lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_openmetrics(
    path: Path, families: Iterable[MetricFamily], *, overwrite: bool = False
) -> None:
    """Write the families to ``path`` atomically (mode 0644 less the umask).

    The textfile collector may read the file at any moment: it sees the old file or the whole
    new one, never half of either. A job that rewrites it on a schedule passes
    ``overwrite=True``.

    Raises:
        ValueError: As :func:`render_openmetrics` (nothing is written).
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        OutputError: The file cannot be written.
    """
    write_atomically(path, render_openmetrics(families), overwrite=overwrite)
