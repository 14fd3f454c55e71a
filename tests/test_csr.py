"""Certificate signing requests: CN-only subjects, NHS naming helpers, and openssl's reading."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from truststore_builder._csr import (
    bars_common_name,
    check_common_name,
    generate_signing_request,
    mesh_client_common_name,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_mesh_name_follows_the_mesh_api_convention() -> None:
    """MESH client CNs are <mailbox>.<ods>.api.mesh-client.nhs.uk, lower-case like NHS issues them."""
    assert (
        mesh_client_common_name("N1G3BOT001", "N1G3B") == "n1g3bot001.n1g3b.api.mesh-client.nhs.uk"
    )


@pytest.mark.parametrize(("mailbox", "ods"), [("X26 OT1", "X26"), ("X26OT001", "X-6"), ("", "X26")])
def test_mesh_name_refuses_malformed_parts(mailbox: str, ods: str) -> None:
    """Spaces, punctuation or empty parts in a mailbox ID or ODS code are refused."""
    with pytest.raises(ValueError, match="letters and digits"):
        mesh_client_common_name(mailbox, ods)


def test_bars_names_for_prod_and_int() -> None:
    """BaRS receivers: BaRS-<ODS>.<Org>.nhs.uk in prod, BaRS-INT-<ODS>.<Supplier>.thirdparty.nhs.uk in INT."""
    assert bars_common_name("RX1", "NorthTrust") == "BaRS-RX1.NorthTrust.nhs.uk"
    assert (
        bars_common_name("RX1", "Acme", environment="int") == "BaRS-INT-RX1.Acme.thirdparty.nhs.uk"
    )
    with pytest.raises(ValueError, match="one DNS label"):
        bars_common_name("RX1", "North Trust")
    with pytest.raises(ValueError, match="prod and int"):
        bars_common_name("RX1", "Acme", environment="dep")


def test_common_name_must_be_an_fqdn_within_64_characters() -> None:
    """A bare host name, an e-mail address or a 65-character name cannot be a certificate CN."""
    for bad in ("localhost", "me@example.nhs.uk", "a" * 60 + ".nhs.uk"):
        with pytest.raises(ValueError, match="CN"):
            check_common_name(bad)


def test_signing_request_subject_is_the_cn_alone(tmp_path: Path) -> None:
    """Openssl reads the CSR: subject CN only, no extensions, RSA-2048, signature valid."""
    request = generate_signing_request(mesh_client_common_name("X26OT001", "X26"))
    path = tmp_path / "client.csr"
    path.write_bytes(request.csr_pem())
    result = subprocess.run(
        ["openssl", "req", "-in", str(path), "-noout", "-subject", "-verify", "-text"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "subject=CN = x26ot001.x26.api.mesh-client.nhs.uk" in result.stdout
    assert "Public-Key: (2048 bit)" in result.stdout
    assert "X509v3" not in result.stdout  # openssl prints an empty "Requested Extensions:"
    assert "verify OK" in result.stdout + result.stderr
    assert isinstance(request.key, rsa.RSAPrivateKey)


def test_signing_request_repr_never_shows_the_key() -> None:
    """The repr names the CN and nothing of the key."""
    request = generate_signing_request("client.example.nhs.uk")
    assert repr(request) == "SigningRequest(common_name='client.example.nhs.uk')"
    assert "PRIVATE" not in repr(request)


def test_small_keys_are_refused() -> None:
    """Keys below 2048 bits are refused before one is generated."""
    with pytest.raises(ValueError, match="2048"):
        generate_signing_request("client.example.nhs.uk", key_size=1024)
