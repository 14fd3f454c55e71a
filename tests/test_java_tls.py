"""A Java 17 TLS client completes mutual TLS using only the key stores the library wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.java_client import EXIT_ACCEPTED, EXIT_REFUSED, outcome, run_java_client
from tests.tls import mutual_tls_server
from truststore_builder import KeyStore, KeyStoreBuilder, TrustStoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptography import x509

    from tests.pki import GeneratedPki, Hierarchy

pytestmark = pytest.mark.slow

PASSWORD = "Mesh-keystore-5521"


@pytest.fixture(scope="module")
def server(
    pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    """A Python ssl server (CERT_REQUIRED) whose client CA file is the library's G1+G2 PEM bundle."""
    folder = tmp_path_factory.mktemp("server")
    chain = folder / "server-chain.pem"
    chain.write_bytes(
        pki.server.certificate.public_bytes(Encoding.PEM) + pki.g2.intermediate.cert_pem()
    )
    key = folder / "server-key.pem"
    key.write_bytes(pki.server.key_pem())
    bundle = folder / "truststore.pem"
    TrustStoreBuilder().add_certificates(_g1_g2_cas(pki)).build().write(bundle)
    with mutual_tls_server(cert_chain=chain, key=key, client_ca_file=bundle) as address:
        yield address


def _g1_g2_cas(pki: GeneratedPki) -> list[x509.Certificate]:
    return [
        pki.g1.root.certificate,
        pki.g1.intermediate.certificate,
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    ]


def _keystore(pki: GeneratedPki, client: Hierarchy) -> KeyStore:
    """A key store for ``client`` trusting the G1+G2 CAs and the client's own hierarchy."""
    own = [client.root.certificate, client.intermediate.certificate]
    return (
        KeyStoreBuilder()
        .add_trusted_certificates([*_g1_g2_cas(pki), *own])  # duplicates fold by fingerprint
        .with_identity(client.client.certificate, client.client.key)
        .build()
    )


@pytest.mark.parametrize("store_type", ["JKS", "PKCS12"])
@pytest.mark.parametrize("tls13", [True, False], ids=["tls1.3", "tls1.2"])
def test_g2_key_store_is_accepted(
    pki: GeneratedPki,
    server: tuple[str, int],
    tmp_path: Path,
    store_type: str,
    tls13: bool,  # noqa: FBT001
) -> None:
    """Java loads the written key store (key entry + trusted CAs, one file) and the server accepts it."""
    keystore = _keystore(pki, pki.g2)
    path = tmp_path / f"keystore.{store_type.lower()}"
    data = keystore.to_jks(PASSWORD) if store_type == "JKS" else keystore.to_pkcs12(PASSWORD)
    path.write_bytes(data)
    result = run_java_client(
        *server,
        keystore=path,
        keystore_type=store_type,
        keystore_password=PASSWORD,
        truststore=path,
        truststore_type=store_type,
        truststore_password=PASSWORD,
        tls13=tls13,
    )
    assert (result.returncode, outcome(result)) == (EXIT_ACCEPTED, "ACCEPTED"), result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_legacy_pkcs12_and_g1_key_store_are_accepted(
    pki: GeneratedPki, server: tuple[str, int], tmp_path: Path
) -> None:
    """A G1 client in a legacy-profile (3DES, SHA-1 MAC) PKCS#12 is read by Java and accepted."""
    path = tmp_path / "keystore.p12"
    path.write_bytes(_keystore(pki, pki.g1).to_pkcs12(PASSWORD, profile="legacy"))
    result = run_java_client(
        *server,
        keystore=path,
        keystore_type="PKCS12",
        keystore_password=PASSWORD,
        truststore=path,
        truststore_type="PKCS12",
        truststore_password=PASSWORD,
    )
    assert outcome(result) == "ACCEPTED", result.stderr


def test_separate_jks_key_password(
    pki: GeneratedPki, server: tuple[str, int], tmp_path: Path
) -> None:
    """A JKS whose key entry has its own password works when Java is given that key password."""
    path = tmp_path / "keystore.jks"
    path.write_bytes(_keystore(pki, pki.g2).to_jks(PASSWORD, key_password="Entry-pass-9"))
    result = run_java_client(
        *server,
        keystore=path,
        keystore_type="JKS",
        keystore_password=PASSWORD,
        key_password="Entry-pass-9",
        truststore=path,
        truststore_type="JKS",
        truststore_password=PASSWORD,
    )
    assert outcome(result) == "ACCEPTED", result.stderr


def test_foreign_client_is_refused(
    pki: GeneratedPki, server: tuple[str, int], tmp_path: Path
) -> None:
    """A key store for a client from a third CA loads in Java, and the server refuses it."""
    path = tmp_path / "keystore.jks"
    path.write_bytes(_keystore(pki, pki.foreign).to_jks(PASSWORD))
    result = run_java_client(
        *server,
        keystore=path,
        keystore_type="JKS",
        keystore_password=PASSWORD,
        truststore=path,
        truststore_type="JKS",
        truststore_password=PASSWORD,
    )
    assert (result.returncode, outcome(result)) == (EXIT_REFUSED, "REFUSED"), result.stdout
