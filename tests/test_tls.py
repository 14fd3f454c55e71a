"""Python's ssl, doing mutual TLS on loopback, trusts exactly what the written PEM bundle holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.tls import client_is_accepted, mutual_tls_server
from truststore_builder._builders import TrustStoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki


@pytest.fixture
def server_files(pki: GeneratedPki, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The localhost server's chain and key, and the CA file a client uses to trust it."""
    chain = tmp_path / "server-chain.pem"
    chain.write_bytes(
        pki.server.certificate.public_bytes(Encoding.PEM)
        + pki.g2.intermediate.certificate.public_bytes(Encoding.PEM)
    )
    key = tmp_path / "server-key.pem"
    key.write_bytes(pki.server.key_pem())
    server_ca = tmp_path / "server-ca.pem"
    server_ca.write_bytes(pki.g2.root.certificate.public_bytes(Encoding.PEM))
    return chain, key, server_ca


def _truststore_pem(pki: GeneratedPki, tmp_path: Path, *, generations: str) -> Path:
    """Write a trust store of the G1-like and/or G2-like CAs with the library's PEM writer."""
    certificates = []
    if "g1" in generations:
        certificates += [pki.g1.root.certificate, pki.g1.intermediate.certificate]
    if "g2" in generations:
        certificates += [pki.g2.root.certificate, pki.g2.intermediate.certificate]
    path = tmp_path / f"truststore-{generations}.pem"
    TrustStoreBuilder().add_certificates(certificates).build().write(path)
    return path


@pytest.mark.parametrize(
    ("generations", "g1_accepted", "g2_accepted"),
    [("g1+g2", True, True), ("g2", False, True), ("g1", True, False)],
)
def test_server_trusting_the_written_bundle_accepts_exactly_its_generations(
    pki: GeneratedPki,
    tmp_path: Path,
    server_files: tuple[Path, Path, Path],
    generations: str,
    g1_accepted: bool,  # noqa: FBT001
    g2_accepted: bool,  # noqa: FBT001
) -> None:
    """A CERT_REQUIRED server with the written PEM as CA file accepts G1/G2 clients as the store says."""
    chain, key, server_ca = server_files
    truststore = _truststore_pem(pki, tmp_path, generations=generations)
    clients = {
        name: getattr(pki, name).write_client(tmp_path, name) for name in ("g1", "g2", "foreign")
    }
    with mutual_tls_server(cert_chain=chain, key=key, client_ca_file=truststore) as address:
        results = {
            name: client_is_accepted(address, server_ca=server_ca, cert_chain=c, key=k)
            for name, (c, k) in clients.items()
        }
    assert results == {"g1": g1_accepted, "g2": g2_accepted, "foreign": False}
