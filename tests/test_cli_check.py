"""``truststore-builder check`` on loopback servers: exit statuses, the summary and the JSON."""

from __future__ import annotations

import json
import ssl
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization

from tests.commands import run_cli as run
from tests.tls import closed_port, configurable_tls_server

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
    summaries = [line for line in out.splitlines() if not line.startswith(" ")]
    assert [line.split(";")[0].split()[0] for line in summaries] == [
        both,
        g2_only,
        f"{host}:{port}",
    ]
    assert summaries[0].endswith("OK")
    assert "connection-failed" in summaries[2]


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
