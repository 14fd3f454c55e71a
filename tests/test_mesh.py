"""NHS England's mesh-client talks to mesh-sandbox over mutual TLS using only files the library wrote."""

from __future__ import annotations

import ssl
import stat
from typing import TYPE_CHECKING

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tests.commands import run_cli
from tests.mesh import MAILBOX_1, MAILBOX_2, inbox, mesh_round_trip, mesh_sandbox
from truststore_builder import KeyStoreBuilder, TrustStoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptography import x509

    from tests.pki import GeneratedPki, Hierarchy, Issued


pytestmark = pytest.mark.slow


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what caused it, and so on."""
    current: BaseException | None = error
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


def _pem(*issued: Issued) -> bytes:
    return b"".join(item.certificate.public_bytes(serialization.Encoding.PEM) for item in issued)


@pytest.fixture(scope="module")
def mesh_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory shared by this module's sandbox and the client files it tests."""
    return tmp_path_factory.mktemp("mesh")


def _g1_g2_cas(pki: GeneratedPki) -> list[x509.Certificate]:
    return [
        pki.g1.root.certificate,
        pki.g1.intermediate.certificate,
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    ]


@pytest.fixture(scope="module")
def trusted_cas(pki: GeneratedPki, mesh_dir: Path) -> Path:
    """The server's client CA file: the library's PEM bundle of the G1-like and G2-like CAs."""
    path = mesh_dir / "server-truststore.pem"
    TrustStoreBuilder().add_certificates(_g1_g2_cas(pki)).build().write(path)
    return path


def _client_files(pki: GeneratedPki, client: Hierarchy, directory: Path) -> tuple[Path, Path, Path]:
    """The library's PEM outputs for a client: chain (leaf first), key (0600) and CA bundle."""
    directory.mkdir()
    own = [client.root.certificate, client.intermediate.certificate]
    keystore = (
        KeyStoreBuilder()
        .add_trusted_certificates([*_g1_g2_cas(pki), *own])
        .with_identity(client.client.certificate, client.client.key)
        .build()
    )
    keystore.write(directory, formats=("pem",))
    key = directory / "client-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    return directory / "client-chain.pem", key, directory / "truststore.pem"


@pytest.fixture(scope="module")
def mesh_url(pki: GeneratedPki, mesh_dir: Path, trusted_cas: Path) -> Iterator[str]:
    """One sandbox for the module, trusting G1-like and G2-like clients only."""
    server_cert = mesh_dir / "server-chain.pem"
    server_cert.write_bytes(_pem(pki.server, pki.g2.intermediate))
    server_key = mesh_dir / "server-key.pem"
    server_key.write_bytes(pki.server.key_pem())
    server_key.chmod(0o600)
    with mesh_sandbox(
        server_cert=server_cert,
        server_key=server_key,
        client_ca_file=trusted_cas,
        tmp_path=mesh_dir,
    ) as url:
        yield url


def test_g1_client_completes_round_trip(pki: GeneratedPki, mesh_url: str, mesh_dir: Path) -> None:
    """A G1-like client sends to another mailbox, which receives, reads and acknowledges."""
    chain, key, bundle = _client_files(pki, pki.g1, mesh_dir / "g1-client")
    mesh_round_trip(
        mesh_url,
        client_cert=chain,
        client_key=key,
        server_ca=bundle,
        sender=MAILBOX_1,
        recipient=MAILBOX_2,
    )


def test_g2_client_completes_round_trip(pki: GeneratedPki, mesh_url: str, mesh_dir: Path) -> None:
    """A G2-like client sends to its own mailbox, receives, reads and acknowledges."""
    chain, key, bundle = _client_files(pki, pki.g2, mesh_dir / "g2-client")
    mesh_round_trip(
        mesh_url,
        client_cert=chain,
        client_key=key,
        server_ca=bundle,
        sender=MAILBOX_1,
        recipient=MAILBOX_1,
    )


def test_foreign_client_is_refused(
    pki: GeneratedPki, mesh_url: str, mesh_dir: Path, trusted_cas: Path
) -> None:
    """A client whose CA the server does not trust is cut off in TLS and delivers nothing."""
    chain, key, bundle = _client_files(pki, pki.foreign, mesh_dir / "foreign-client")
    with pytest.raises(requests.exceptions.ConnectionError) as refused:
        mesh_round_trip(
            mesh_url,
            client_cert=chain,
            client_key=key,
            server_ca=bundle,
            sender=MAILBOX_1,
            recipient=MAILBOX_2,
        )
    # Under TLS 1.3 the client's handshake completes before the server has checked its
    # certificate; asyncio's server then drops the connection without an alert, so the first
    # request reads RemoteDisconnected (a ConnectionResetError). Other event loops or TLS 1.2
    # give an ssl.SSLError instead. An HTTP-level refusal (403) would be an HTTPError.
    causes = list(_causes(refused.value))
    assert any(isinstance(c, ssl.SSLError | ConnectionResetError) for c in causes), causes
    # ... and it is the server refusing the client, not the client refusing the server.
    assert not any(isinstance(c, ssl.SSLCertVerificationError) for c in causes), causes
    trusted_chain, trusted_key = pki.g2.write_client(mesh_dir, "g2-checker")
    for mailbox in (MAILBOX_1, MAILBOX_2):
        waiting = inbox(
            mesh_url,
            mailbox,
            client_cert=trusted_chain,
            client_key=trusted_key,
            server_ca=trusted_cas,
        )
        assert waiting == [], f"{mailbox} holds {waiting} after a refused client"


def test_mesh_python_preset_completes_round_trip(
    pki: GeneratedPki,
    mesh_url: str,
    mesh_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The files of build --preset mesh-python: mesh-client's cert, key and verify files complete a round trip."""
    chain, key = pki.g2.write_client(mesh_dir, "preset-g2")
    cas = mesh_dir / "preset-cas.pem"
    cas.write_bytes(_pem(pki.g2.root, pki.g2.intermediate))
    out = mesh_dir / "preset-mesh-python"
    status, _, stderr = run_cli(
        ["build", "--preset", "mesh-python", "--env", "int", "--add", str(cas),
         "--cert", str(chain), "--key", str(key), "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "ca-bundle.pem",
        "client-cert.pem",
        "client-key.pem",
    ]
    assert stat.S_IMODE((out / "client-key.pem").stat().st_mode) == 0o600
    mesh_round_trip(
        mesh_url,
        client_cert=out / "client-cert.pem",
        client_key=out / "client-key.pem",
        server_ca=out / "ca-bundle.pem",
        sender=MAILBOX_1,
        recipient=MAILBOX_2,
    )
