"""``truststore-builder check`` on loopback servers: exit statuses, the summary and the JSON."""

from __future__ import annotations

import json
import ssl
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as prometheus_families

from tests.commands import run_cli as run
from tests.pki import catalogue_for, expiring_server
from tests.tls import closed_port, configurable_tls_server
from truststore_builder._endpoint import check_endpoint, endpoint_metrics, parse_endpoint
from truststore_builder._formats.openmetrics import render_openmetrics

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.pki import GeneratedPki


@pytest.fixture(scope="module")
def setup(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PEM files: server chain and key, G1/G2 CA files, and a G1 and a G2 identity."""
    directory = tmp_path_factory.mktemp("cli-check")

    def pem(name: str, *certificates: object) -> Path:
        path = directory / name
        path.write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)  # type: ignore[attr-defined]
        )
        return path

    g1_chain, g1_key = pki.g1.write_client(directory, "g1")
    g2_chain, g2_key = pki.g2.write_client(directory, "g2")
    server_key = directory / "server-key.pem"
    server_key.write_bytes(pki.server.key_pem())
    return {
        "server_chain": pem("server.pem", pki.server.certificate, pki.g2.intermediate.certificate),
        "server_key": server_key,
        "g2_ca": pem("g2-ca.pem", pki.g2.root.certificate, pki.g2.intermediate.certificate),
        "both_ca": pem(
            "both-ca.pem",
            pki.g1.root.certificate,
            pki.g1.intermediate.certificate,
            pki.g2.root.certificate,
            pki.g2.intermediate.certificate,
        ),
        "g1_chain": g1_chain,
        "g1_key": g1_key,
        "g2_chain": g2_chain,
        "g2_key": g2_key,
    }


def _serve(setup: dict[str, Path], trusted: str) -> Iterator[tuple[str, int]]:
    with configurable_tls_server(
        cert_chain=setup["server_chain"],
        key=setup["server_key"],
        client_ca_file=setup[trusted],
        verify_mode=ssl.CERT_REQUIRED,
    ) as address:
        yield address


@pytest.fixture(scope="module")
def g2_only(setup: dict[str, Path]) -> Iterator[str]:
    """HOST:PORT of a server that requires a client certificate and trusts G2 only."""
    for host, port in _serve(setup, "g2_ca"):
        yield f"{host}:{port}"


@pytest.fixture(scope="module")
def both(setup: dict[str, Path]) -> Iterator[str]:
    """HOST:PORT of a server that requires a client certificate and trusts G1 and G2."""
    for host, port in _serve(setup, "both_ca"):
        yield f"{host}:{port}"


def _identities(setup: dict[str, Path]) -> list[str]:
    return [
        "--identity",
        f"g1={setup['g1_chain']},{setup['g1_key']}",
        "--identity",
        f"g2={setup['g2_chain']},{setup['g2_key']}",
    ]


def _common(setup: dict[str, Path]) -> list[str]:
    return ["--trust", str(setup["both_ca"]), "--server-name", "localhost", "--timeout", "5"]


def test_exit_zero_when_both_identities_are_accepted(
    setup: dict[str, Path], both: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server trusting G1 and G2, both identities accepted: exit 0 and an OK summary."""
    status, out, err = run(["check", both, *_common(setup), *_identities(setup)], capsys)
    assert (status, err) == (0, "")
    summary = out.splitlines()[0]
    assert summary.startswith(both)
    assert "g1 accepted; g2 accepted; OK" in summary
    assert "presented[0] CN=localhost" in out


def test_exit_one_when_g1_is_refused(
    setup: dict[str, Path], g2_only: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A G2-only server refuses G1: exit 1, and the summary names the alert."""
    status, out, _ = run(["check", g2_only, *_common(setup), *_identities(setup)], capsys)
    assert status == 1
    assert "g1 refused (unknown_ca); g2 accepted; FAIL" in out.splitlines()[0]


def test_json_report(
    setup: dict[str, Path], g2_only: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json gives every endpoint's chain, probe and identity outcomes, and no key material."""
    status, out, _ = run(["check", g2_only, *_common(setup), *_identities(setup), "--json"], capsys)
    assert status == 1
    document = json.loads(out)
    assert document["ok"] is False
    (endpoint,) = document["endpoints"]
    assert endpoint["endpoint"] == g2_only
    assert endpoint["client_certificate"] == "required"
    assert endpoint["server"]["verified"] is True
    assert endpoint["server"]["name_matches"] is True
    assert [c["subject"].split(",")[0] for c in endpoint["server"]["presented"]] == [
        "CN=localhost",
        "CN=Test G2 Authentication G2",
    ]
    outcomes = {i["name"]: (i["outcome"], i["alert"]) for i in endpoint["identities"]}
    assert outcomes == {"g1": ("refused", "unknown_ca"), "g2": ("accepted", None)}
    assert endpoint["identities"][0]["certificate"] == str(setup["g1_chain"])
    key_text = setup["g1_key"].read_text()
    body = key_text.splitlines()[1]
    assert body not in out
    assert "PRIVATE KEY" not in out


def test_probe_path_and_tls_version_options(
    setup: dict[str, Path], both: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--path, --tls-version and --probe reach every connection and the JSON says what was done."""
    argv = ["check", both, *_common(setup), *_identities(setup), "--json"]
    status, out, _ = run([*argv, "--path", "/status", "--tls-version", "1.2"], capsys)
    assert status == 0
    (endpoint,) = json.loads(out)["endpoints"]
    assert (endpoint["probe_mode"], endpoint["path"]) == ("http", "/status")
    g2 = endpoint["identities"][1]
    assert (g2["tls_version"], g2["http_status"], g2["certificate_sent"]) == ("TLSv1.2", 200, True)
    assert g2["server_said"] == "200 OK"
    status, out, _ = run([*argv, "--probe", "tls"], capsys)
    assert status == 0
    (endpoint,) = json.loads(out)["endpoints"]
    assert (endpoint["probe_mode"], endpoint["path"]) == ("tls", None)
    assert endpoint["identities"][1]["http_status"] is None
    status, out, _ = run(["check", both, *_common(setup), "--probe", "tls"], capsys)
    assert "judged on TLS alone" in out.splitlines()[0]


def test_from_file_checks_each_endpoint(
    pki: GeneratedPki,
    setup: dict[str, Path],
    both: str,
    g2_only: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--from-file: one summary line per endpoint, in file order; comments and blanks skipped."""
    host, port = closed_port()
    listing = tmp_path / "endpoints.txt"
    listing.write_text(f"# Stage 1\n{both}\n\n{g2_only}  # still G2 only\n{host}:{port}\n")
    status, out, _ = run(
        [
            "check",
            "--from-file",
            str(listing),
            "--concurrency",
            "2",
            *_common(setup),
            *_identities(setup),
        ],
        capsys,
    )
    assert status == 1
    reports, table = out.split("\n\n")
    summaries = [line for line in reports.splitlines() if not line.startswith(" ")]
    assert [line.split(";")[0].split()[0] for line in summaries] == [
        both,
        g2_only,
        f"{host}:{port}",
    ]
    assert summaries[0].endswith("OK")
    assert "connection-failed" in summaries[2]
    # The summary table: one row per endpoint, in file order, its columns aligned.
    header, *rows = table.splitlines()
    assert header.split() == [
        "endpoint", "chain", "g1", "g2", "leaf", "expires", "days", "left", "result"
    ]  # fmt: skip
    leaf_expires = f"{pki.server.certificate.not_valid_after_utc:%Y-%m-%d}"
    assert [row.split() for row in rows] == [
        [both, "verifies", "accepted", "accepted", leaf_expires, "364", "OK"],
        [g2_only, "verifies", "refused", "accepted", leaf_expires, "364", "FAIL"],
        [f"{host}:{port}", *["connection-failed"] * 3, "-", "-", "FAIL"],
    ]
    columns = {header.index("leaf expires"), *(row.index(leaf_expires) for row in rows[:2])}
    assert len(columns) == 1


def test_name_mismatch_exits_one(
    setup: dict[str, Path], both: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A certificate not issued to --server-name fails the check even when identities pass."""
    argv = ["check", both, "--trust", str(setup["both_ca"]), "--server-name", "wrong.example"]
    status, out, _ = run(argv, capsys)
    assert status == 1
    assert "NAME MISMATCH (wrong.example)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "127.0.0.1:443"], "give --env ENV or --trust FILE"),
        (["check", "--env", "int"], "give an endpoint HOST:PORT"),
        (["check", "127.0.0.1:0", "--env", "int"], "port"),
        (["check", "127.0.0.1:443", "--env", "int", "--trust", "x.pem"], "not allowed with"),
        (["check", "127.0.0.1:443", "--env", "int", "--identity", "g2=only.pem"], "NAME=CERT,KEY"),
        (["check", "127.0.0.1:443", "--env", "int", "--timeout", "0"], "positive"),
        (["check", "127.0.0.1:443", "--env", "int", "--concurrency", "0"], "1 or more"),
        (["check", "127.0.0.1:443", "--env", "int", "--path", "health"], "must start with /"),
        (["check", "127.0.0.1:443", "--env", "int", "--probe", "smtp"], "invalid choice"),
        (["check", "127.0.0.1:443", "--env", "int", "--tls-version", "1.1"], "invalid choice"),
    ],
)
def test_usage_errors_exit_two(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad command lines exit 2 with a one-line message, before connecting anywhere."""
    status, out, err = run(argv, capsys)
    assert status == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_identity_exits_two(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing identity file is an input error (exit 2) naming the file."""
    host, port = closed_port()
    missing = tmp_path / "missing.pem"
    argv = [
        "check",
        f"{host}:{port}",
        "--trust",
        str(setup["both_ca"]),
        "--identity",
        f"g2={missing},{setup['g2_key']}",
    ]
    status, _, err = run(argv, capsys)
    assert status == 2
    assert str(missing) in err


@pytest.fixture(scope="module")
def short_lived(pki: GeneratedPki, setup: dict[str, Path]) -> Iterator[str]:
    """HOST:PORT of a server (trusting G1 and G2) whose own certificate expires in 5 days."""
    directory = setup["g2_ca"].parent
    leaf = expiring_server(pki, days=5.5)
    chain = directory / "short-lived-chain.pem"
    chain.write_bytes(leaf.cert_pem() + pki.g2.intermediate.cert_pem())
    key = directory / "short-lived-key.pem"
    key.write_bytes(leaf.key_pem())
    with configurable_tls_server(
        cert_chain=chain,
        key=key,
        client_ca_file=setup["both_ca"],
        verify_mode=ssl.CERT_REQUIRED,
    ) as (host, port):
        yield f"{host}:{port}"


def test_fail_within_exits_one_only_when_something_presented_expires_within(
    setup: dict[str, Path], short_lived: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leaf with 5 days left: --fail-within 10 exits 1 naming it; --fail-within 3 exits 0."""
    argv = ["check", short_lived, *_common(setup), *_identities(setup)]
    status, out, err = run([*argv, "--fail-within", "10"], capsys)
    assert status == 1
    assert "g1 accepted; g2 accepted; OK" in out.splitlines()[0]
    assert "  leaf expires " in out
    assert "(in 5 days); chain: presented[1] " in out
    assert "  expires first: presented[0] CN=localhost" in out
    assert "  EXPIRES WITHIN 10 DAYS: presented[0] CN=localhost" in out
    assert "error: 1 presented certificate expires within 10 days (--fail-within): " in err
    assert f"{short_lived} presented[0] CN=localhost" in err
    status, out, err = run([*argv, "--fail-within", "3"], capsys)
    assert (status, err) == (0, "")
    assert "EXPIRES WITHIN" not in out
    status, out, err = run(argv, capsys)
    assert (status, err) == (0, "")


def test_fail_within_and_a_refused_identity_both_exit_one_and_both_are_reported(
    setup: dict[str, Path], g2_only: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 for either; the summary says FAIL, the JSON lists what expires within the window."""
    argv = ["check", g2_only, *_common(setup), *_identities(setup), "--fail-within", "400"]
    status, out, err = run(argv, capsys)
    assert status == 1
    assert out.splitlines()[0].endswith("g1 refused (unknown_ca); g2 accepted; FAIL")
    assert "EXPIRES WITHIN 400 DAYS: presented[0] CN=localhost" in out
    assert "within 400 days (--fail-within)" in err
    status, out, _ = run([*argv, "--json"], capsys)
    assert status == 1
    document = json.loads(out)
    assert (document["ok"], document["fail_within"]) == (False, 400)
    (endpoint,) = document["endpoints"]
    expiry = endpoint["expiry"]
    assert (expiry["within_days"], expiry["ok"]) == (400, False)
    assert [(e["index"], e["position"]) for e in expiry["within"]] == [(0, "leaf")]
    assert expiry["leaf"]["days_left"] == 364
    assert expiry["earliest"] == expiry["leaf"]
    presented = endpoint["server"]["presented"]
    assert [c["days_left"] for c in presented] == [364, expiry["leaf"]["days_left"] + 1460]


def test_json_expiry_without_fail_within(
    pki: GeneratedPki, setup: dict[str, Path], short_lived: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json gives the leaf's and the earliest certificate's expiry; no window, no verdict on it."""
    argv = ["check", short_lived, *_common(setup), "--json"]
    status, out, _ = run(argv, capsys)
    assert status == 0
    (endpoint,) = json.loads(out)["endpoints"]
    expiry = endpoint["expiry"]
    assert (expiry["within_days"], "ok" in expiry, "within" in expiry) == (None, False, False)
    assert (expiry["leaf"]["days_left"], expiry["leaf"]["position"]) == (5, "leaf")
    assert expiry["earliest"]["index"] == 0
    intermediate = endpoint["server"]["presented"][1]
    assert (
        intermediate["not_after"] == pki.g2.intermediate.certificate.not_valid_after_utc.isoformat()
    )


def _metric_samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Both parsers' reading of the file; they must agree."""
    readings = [
        {
            f.name: sorted(
                ((s.labels, s.value) for s in f.samples), key=lambda x: sorted(x[0].items())
            )
            for f in parse(text)
        }
        for parse in (openmetrics_families, prometheus_families)
    ]
    assert readings[0] == readings[1]
    return readings[0]


def test_metrics_and_json_out_files(
    pki: GeneratedPki,
    setup: dict[str, Path],
    g2_only: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--metrics and --json-out: written atomically (0644), read by prometheus_client's parsers."""
    host, port = closed_port()
    listing = tmp_path / "endpoints.txt"
    listing.write_text(f"{g2_only}\n{host}:{port}\n")
    metrics, report = tmp_path / "check.prom", tmp_path / "check.json"
    argv = ["check", "--from-file", str(listing), *_common(setup), *_identities(setup)]
    argv += ["--metrics", str(metrics), "--json-out", str(report)]
    status, out, _ = run(argv, capsys)
    assert status == 1
    assert "leaf expires" in out
    assert (metrics.stat().st_mode & 0o777, report.stat().st_mode & 0o777) == (0o644, 0o644)
    assert json.loads(report.read_text())["endpoints"][0]["endpoint"] == g2_only
    found = _metric_samples(metrics.read_text())

    def by_endpoint(name: str) -> dict[str, float]:
        return {labels["endpoint"]: value for labels, value in found[name]}

    assert by_endpoint("truststore_builder_endpoint_up") == {f"{host}:{port}": 0, g2_only: 1}
    assert by_endpoint("truststore_builder_endpoint_chain_ok") == {f"{host}:{port}": 0, g2_only: 1}
    leaf_time = pki.server.certificate.not_valid_after_utc.timestamp()
    intermediate_time = pki.g2.intermediate.certificate.not_valid_after_utc.timestamp()
    expiry = found["truststore_builder_endpoint_certificate_expiry_timestamp_seconds"]
    assert [(labels["index"], labels["position"], value) for labels, value in expiry] == [
        ("0", "leaf", leaf_time),
        ("1", "intermediate", intermediate_time),
    ]
    assert {labels["endpoint"] for labels, _ in expiry} == {g2_only}
    assert expiry[0][0]["subject"] == pki.server.certificate.subject.rfc4514_string()
    # With --trust there is no NHS environment, and test CAs are no NHS CA.
    assert {(labels["nhs_ca"], labels["environment"]) for labels, _ in expiry} == {("", "")}
    accepted = found["truststore_builder_endpoint_identity_accepted"]
    outcomes = [
        (labels["identity"], labels["outcome"], value)
        for labels, value in accepted
        if labels["endpoint"] == g2_only
    ]
    assert outcomes == [("g1", "refused", 0), ("g2", "accepted", 1)]
    # An existing file is replaced only with --force, and refused before any connection.
    before = metrics.read_bytes()
    status, out, err = run(argv, capsys)
    assert (status, out) == (2, "")
    assert f"{report}: already exists; pass --force to replace it" in err
    assert metrics.read_bytes() == before
    status, _, _ = run([*argv, "--force"], capsys)
    assert status == 1
    assert metrics.read_bytes() != before  # the check's time moved on


def test_metrics_name_the_nhs_ca_that_signed_each_certificate(
    pki: GeneratedPki, setup: dict[str, Path], g2_only: str
) -> None:
    """nhs_ca and generation name the issuer by its pin; a catalogue without it names none."""
    host, port = parse_endpoint(g2_only)
    options = {"trust": setup["both_ca"], "server_name": "localhost", "probe": "tls"}
    labels = {}
    for known, catalogue in (("known", catalogue_for(pki)), ("unknown", None)):
        report = check_endpoint(host, port, catalogue=catalogue, **options)  # type: ignore[arg-type]
        text = render_openmetrics(endpoint_metrics([report, report])).decode()
        (expiry,) = [
            family
            for family in prometheus_families(text)
            if family.name == "truststore_builder_endpoint_certificate_expiry_timestamp_seconds"
        ]
        labels[known] = [
            (s.labels["position"], s.labels["nhs_ca"], s.labels["generation"])
            for s in expiry.samples
        ]
    assert labels["known"] == [
        ("leaf", "Test Authentication G2", "g2"),
        ("intermediate", "Test Root Authority G2", "g2"),
    ]
    assert labels["unknown"] == [("leaf", "", ""), ("intermediate", "", "")]
