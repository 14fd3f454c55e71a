"""verify: the real NHS leaves in ../shared against the catalogue, and generated identities."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from truststore_builder import (
    CertificateNotValidError,
    ChainError,
    Generation,
    IdentityEnvironmentError,
    KeyMismatchError,
    verify_certificate,
)
from truststore_builder._cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tests.pki import GeneratedPki


def test_real_g2_mesh_certificate_verifies_against_int(shared_nhs_pki: Path) -> None:
    """The real G2 MESH client certificate chains to NHS PTL Root Authority G2 via INT Authentication G2."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g2-int-mesh-api-n1g3bot001.pem", environment="int"
    )
    assert report.ok, report.failures
    assert report.generation is Generation.G2
    assert report.issuer_nhs is not None
    assert report.issuer_nhs.slug == "nhs-int-authentication-g2"
    assert [c.subject.rfc4514_string() for c in report.chain][1:] == [
        "CN=NHS INT Authentication G2,OU=CA,O=nhs,C=GB",
        "CN=NHS PTL Root Authority G2,OU=CA,O=nhs,C=GB",
    ]


def test_tampered_certificate_does_not_verify(shared_nhs_pki: Path) -> None:
    """Four altered bytes break the signature: the chain rule fails and says so."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g2-int-inttif-checkuphealth-TAMPERED.pem", environment="int"
    )
    assert not report.ok
    assert [type(f) for f in report.failures] == [ChainError]
    assert "does not verify" in str(report.failures[0])


def test_untampered_twin_verifies(shared_nhs_pki: Path) -> None:
    """The same certificate untampered verifies, so the failure above is the tampering."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g2-int-inttif-checkuphealth.pem", environment="dep"
    )
    assert report.ok, report.failures


def test_prod_g1_certificate_is_reported_expired(shared_nhs_pki: Path) -> None:
    """The prod G1 BaRS proxy certificate is G1 and expired on 2024-06-04."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g1-live-bars-proxy.pem", environment="prod"
    )
    assert not report.ok
    assert report.generation is Generation.G1
    assert isinstance(report.failures[0], CertificateNotValidError)
    assert "expired on 2024-06-04" in str(report.failures[0])


def test_prod_g1_certificate_verified_before_expiry(shared_nhs_pki: Path) -> None:
    """Judged in 2023 the G1 prod chain verifies, SHA-1 root and non-critical basicConstraints included."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g1-live-bars-proxy.pem",
        environment="prod",
        at=dt.datetime(2023, 6, 1, tzinfo=dt.UTC),
    )
    assert report.ok, report.failures
    assert len(report.chain) == 3


def test_ptl_certificate_is_refused_for_prod(shared_nhs_pki: Path) -> None:
    """The INT MESH certificate checked against prod: the environment rule names its issuer."""
    report = verify_certificate(
        shared_nhs_pki / "leaves" / "g2-int-mesh-api-n1g3bot001.pem", environment="prod"
    )
    assert [type(f) for f in report.failures] == [IdentityEnvironmentError]
    assert "NHS INT Authentication G2" in str(report.failures[0])


def test_verify_with_a_key_checks_the_match(pki: GeneratedPki, tmp_path: Path) -> None:
    """The verify command with --trust and the wrong key reports the key rule, and exits 1 from the command line."""
    chain, key = pki.g2.write_client(tmp_path, "g2")
    _, other_key = pki.g1.write_client(tmp_path, "g1")
    trust = tmp_path / "trust.pem"
    trust.write_bytes(pki.g2.root.cert_pem())
    assert verify_certificate(chain, trust=trust, key=key).ok
    report = verify_certificate(chain, trust=trust, key=other_key)
    assert [type(f) for f in report.failures] == [KeyMismatchError]
    assert main(["verify", str(chain), "--trust", str(trust), "--key", str(other_key)]) == 1


def test_verify_command_json_and_exit_status(
    shared_nhs_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The verify command with --json reports chain and generation; 0 when it verifies, 1 when not, 2 for bad input."""
    leaf = shared_nhs_pki / "leaves" / "g2-int-mesh-api-n1g3bot001.pem"
    assert main(["verify", str(leaf), "--env", "int", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["verified"] is True
    assert document["generation"] == "g2"
    assert document["chain"][1]["nhs_name"] == "NHS INT Authentication G2"
    tampered = shared_nhs_pki / "leaves" / "g2-int-inttif-checkuphealth-TAMPERED.pem"
    assert main(["verify", str(tampered), "--env", "int"]) == 1
    assert "FAILED chain" in capsys.readouterr().out
    assert main(["verify", str(shared_nhs_pki / "README.md"), "--env", "int"]) == 2
    assert main(["verify", str(leaf)]) == 2
