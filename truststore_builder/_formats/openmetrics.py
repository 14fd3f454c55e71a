r"""An OpenMetrics text file that node exporter's textfile collector reads too.

node exporter's textfile collector parses ``*.prom`` files with the Prometheus text format
0.0.4 parser; Prometheus and ``prometheus_client`` read OpenMetrics 1.0. What is written here
is the subset both accept, and :func:`render_openmetrics` refuses anything outside it rather
than write a file one of them rejects:

- gauges only (``# TYPE NAME gauge``): the other types differ between the formats (an
  OpenMetrics counter's samples end in ``_total``, which 0.0.4 reads as another metric);
- ``# HELP`` text with backslash and newline escaped, and no double quote (OpenMetrics
  escapes one as ``\\"``, which the 0.0.4 parser refuses as an unknown escape);
- ``# UNIT`` lines (OpenMetrics; a comment to 0.0.4), the family name ending in ``_UNIT``;
- label values with backslash, double quote and newline escaped (the same in both);
- no sample timestamps (the textfile collector skips a whole file that has one), no blank
  lines, each family's lines together, every label set once per family, and ``# EOF`` last
  (OpenMetrics needs it; to 0.0.4 it is a comment).
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
_UNIT = re.compile(r"[a-zA-Z0-9_]+")
#: The types both parsers read alike.
_TYPES = frozenset({"gauge"})
#: Suffixes OpenMetrics gives to the samples of other types; a gauge named so is misread.
_RESERVED_SUFFIXES = (
    "_total",
    "_created",
    "_count",
    "_sum",
    "_bucket",
    "_gcount",
    "_gsum",
    "_info",
)


@attrs.frozen
class Sample:
    """One value of a metric family, with its labels (name to value)."""

    labels: Mapping[str, str]
    value: float


@attrs.frozen
class MetricFamily:
    """A metric: its name, help text, type, unit and samples."""

    name: str
    help: str
    type: str = "gauge"
    unit: str | None = None
    samples: tuple[Sample, ...] = ()


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _check_family(family: MetricFamily) -> None:
    """Raise ValueError for a family outside the subset both parsers read."""
    name = family.name
    if not _METRIC_NAME.fullmatch(name):
        msg = f"not a metric name: {name!r}"
        raise ValueError(msg)
    if family.type not in _TYPES:
        msg = f"{name}: type {family.type!r} is not one node exporter and OpenMetrics read alike (gauge)"
        raise ValueError(msg)
    if name.endswith(_RESERVED_SUFFIXES):
        msg = f"{name}: a gauge's name may not end in {', '.join(_RESERVED_SUFFIXES)}"
        raise ValueError(msg)
    if '"' in family.help:
        msg = (
            f"{name}: the help text may not hold a double quote (the formats escape it differently)"
        )
        raise ValueError(msg)
    if family.unit is not None and not (
        _UNIT.fullmatch(family.unit) and name.endswith(f"_{family.unit}")
    ):
        msg = f"{name}: the unit {family.unit!r} must be a word the name ends with (_{family.unit})"
        raise ValueError(msg)
    seen: set[tuple[tuple[str, str], ...]] = set()
    for sample in family.samples:
        for label in sample.labels:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                msg = f"{name}: not a label name: {label!r}"
                raise ValueError(msg)
        key = tuple(sorted(sample.labels.items()))
        if key in seen:
            msg = f"{name}: the label set {dict(key)} appears twice"
            raise ValueError(msg)
        seen.add(key)


def render_openmetrics(families: Iterable[MetricFamily]) -> bytes:
    """The families as an OpenMetrics text file that node exporter's textfile collector reads.

    Raises:
        ValueError: A name, label name, type, unit or help text outside the subset both
            formats read (see the module documentation), a family named twice, or a label set
            repeated within a family.
    """
    lines: list[str] = []
    names: set[str] = set()
    for family in families:
        _check_family(family)
        if family.name in names:
            msg = f"{family.name}: the metric family appears twice"
            raise ValueError(msg)
        names.add(family.name)
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        if family.unit is not None:
            lines.append(f"# UNIT {family.name} {family.unit}")
        for sample in family.samples:
            labels = ",".join(
                f'{label}="{_escape_label_value(value)}"' for label, value in sample.labels.items()
            )
            selector = f"{{{labels}}}" if labels else ""
            lines.append(f"{family.name}{selector} {_number(sample.value)}")
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
