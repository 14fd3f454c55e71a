"""The OpenMetrics writer: read back by prometheus_client's OpenMetrics and 0.0.4 parsers."""

from __future__ import annotations

import math

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as prometheus_families

from truststore_builder._formats.openmetrics import MetricFamily, Sample, render_openmetrics

AWKWARD = 'CN=a\\b "quoted",\nO=next line'


def _families() -> list[MetricFamily]:
    return [
        MetricFamily(
            "tsb_expiry_timestamp_seconds",
            "When it expires (a back\\slash and a\nnew line in help).",
            unit="seconds",
            samples=(
                Sample({"subject": AWKWARD, "position": "leaf"}, 1.7e9),
                Sample({"subject": "CN=plain", "position": "intermediate"}, 1798761600.5),
            ),
        ),
        MetricFamily(
            "tsb_up",
            "1 when reachable.",
            samples=(Sample({}, 1), Sample({"endpoint": "x:1"}, math.inf)),
        ),
        MetricFamily("tsb_nothing", "A family without samples."),
    ]


def test_both_parsers_read_back_every_label_and_value() -> None:
    """Label values with backslash, quote and newline come back as they went in, from both."""
    text = render_openmetrics(_families()).decode()
    assert text.endswith("# EOF\n")
    assert "\n\n" not in text
    for parse in (openmetrics_families, prometheus_families):
        found = {family.name: family for family in parse(text)}
        expiry = found["tsb_expiry_timestamp_seconds"]
        assert expiry.type == "gauge"
        assert expiry.documentation == "When it expires (a back\\slash and a\nnew line in help)."
        values = {sample.labels["subject"]: sample.value for sample in expiry.samples}
        assert values == {AWKWARD: 1.7e9, "CN=plain": 1798761600.5}
        up = {tuple(s.labels.items()): s.value for s in found["tsb_up"].samples}
        assert up == {(): 1, (("endpoint", "x:1"),): math.inf}
    parsed = openmetrics_families(text)  # type: ignore[no-untyped-call]
    (openmetrics_expiry,) = [f for f in parsed if f.name == "tsb_expiry_timestamp_seconds"]
    assert openmetrics_expiry.unit == "seconds"


def test_without_eof_openmetrics_refuses_it() -> None:
    """Negative control: the OpenMetrics parser is strict about what the writer adds."""
    text = render_openmetrics(_families()).decode()
    with pytest.raises(ValueError, match="EOF"):
        list(openmetrics_families(text.removesuffix("# EOF\n")))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("family", "message"),
    [
        (MetricFamily("1bad", "x"), "not a metric name"),
        (MetricFamily("tsb_x", "x", type="counter"), "gauge"),
        (MetricFamily("tsb_x_total", "x"), "may not end in"),
        (MetricFamily("tsb_x", 'say "hi"'), "double quote"),
        (MetricFamily("tsb_x", "x", unit="seconds"), "unit"),
        (MetricFamily("tsb_x", "x", samples=(Sample({"__name": "v"}, 1),)), "label name"),
        (MetricFamily("tsb_x", "x", samples=(Sample({"a-b": "v"}, 1),)), "label name"),
        (
            MetricFamily("tsb_x", "x", samples=(Sample({"a": "v"}, 1), Sample({"a": "v"}, 2))),
            "appears twice",
        ),
    ],
)
def test_what_either_parser_would_refuse_is_refused(family: MetricFamily, message: str) -> None:
    """A name, type, unit, help or label set outside the common subset raises ValueError."""
    with pytest.raises(ValueError, match=message):
        render_openmetrics([family])


def test_a_family_named_twice_is_refused() -> None:
    """Two families of one name would be one family split in two: 0.0.4 parsers refuse that."""
    with pytest.raises(ValueError, match="appears twice"):
        render_openmetrics([MetricFamily("tsb_x", "x"), MetricFamily("tsb_x", "y")])
