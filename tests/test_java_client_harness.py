"""The Java TLS client harness itself works, on stores made with openssl and keytool alone.

Nothing here uses the library: these tests prove that ``tests/java/TlsClient.java`` and its
wrapper tell an accepted client from a refused one, a broken store from a refusal, and list
what Java sees, so that the tests of the library's key stores can rely on them.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.java_client import (
    EXIT_ACCEPTED,
    EXIT_KEYSTORE_ERROR,
    EXIT_REFUSED,
    EXIT_UNTRUSTED_SERVER,
    java_list_lines,
    java_lists,
    outcome,
    run_java_client,
)
from tests.tls import mutual_tls_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptography import x509

    from tests.pki import GeneratedPki


pytestmark = pytest.mark.slow

# Throwaway passwords of stores generated for this module.
STORE_PASSWORD = "store-secret-1"
KEY_PASSWORD = "key-secret-2"
TRUST_PASSWORD = "changeit"


def _tool(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


@pytest.fixture(scope="module")
def stores(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Server files, PKCS#12 key stores for the G2 and foreign clients, JKS trust stores."""
    d = tmp_path_factory.mktemp("java-harness")
    files = {
        "server-chain": d / "server-chain.pem",
        "server-key": d / "server-key.pem",
        "client-cas": d / "client-cas.pem",
        "g2-root": d / "g2-root.pem",
        "g1-root": d / "g1-root.pem",
    }
    files["server-chain"].write_bytes(_pem(pki.server.certificate, pki.g2.intermediate.certificate))
    files["server-key"].write_bytes(pki.server.key_pem())
    files["client-cas"].write_bytes(
        _pem(
            pki.g1.root.certificate,
            pki.g1.intermediate.certificate,
            pki.g2.root.certificate,
            pki.g2.intermediate.certificate,
        )
    )
    files["g2-root"].write_bytes(_pem(pki.g2.root.certificate))
    files["g1-root"].write_bytes(_pem(pki.g1.root.certificate))
    for name in ("g2", "foreign"):
        chain, key = getattr(pki, name).write_client(d, name)
        files[f"{name}.p12"] = d / f"{name}.p12"
        _tool(
            "openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(chain),
            "-name", "client", "-passout", f"pass:{STORE_PASSWORD}",
            "-out", str(files[f"{name}.p12"]),
        )  # fmt: skip
    # The G2 client again, as a JKS whose key password differs from its store password.
    files["g2.jks"] = d / "g2.jks"
    _tool(
        "keytool", "-importkeystore", "-noprompt",
        "-srckeystore", str(files["g2.p12"]), "-srcstoretype", "PKCS12",
        "-srcstorepass", STORE_PASSWORD, "-srcalias", "client",
        "-destkeystore", str(files["g2.jks"]), "-deststoretype", "JKS",
        "-deststorepass", STORE_PASSWORD, "-destkeypass", KEY_PASSWORD,
    )  # fmt: skip
    for store, roots in (("trust.jks", ("g1-root", "g2-root")), ("g1-only.jks", ("g1-root",))):
        files[store] = d / store
        for root in roots:
            _tool(
                "keytool", "-importcert", "-noprompt", "-alias", root, "-file", str(files[root]),
                "-keystore", str(files[store]), "-storetype", "JKS", "-storepass", TRUST_PASSWORD,
            )  # fmt: skip
    return files


@pytest.fixture(scope="module")
def server(stores: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """A loopback CERT_REQUIRED server trusting the G1-like and G2-like CAs."""
    with mutual_tls_server(
        cert_chain=stores["server-chain"],
        key=stores["server-key"],
        client_ca_file=stores["client-cas"],
    ) as address:
        yield address


def _connect(
    server: tuple[str, int],
    keystore: Path,
    truststore: Path,
    *,
    keystore_type: str = "PKCS12",
    keystore_password: str = STORE_PASSWORD,
    key_password: str | None = None,
    tls13: bool = True,
    source_launch: bool = False,
) -> subprocess.CompletedProcess[str]:
    host, port = server
    return run_java_client(
        host,
        port,
        keystore=keystore,
        keystore_type=keystore_type,
        keystore_password=keystore_password,
        key_password=key_password,
        truststore=truststore,
        truststore_type="JKS",
        truststore_password=TRUST_PASSWORD,
        tls13=tls13,
        source_launch=source_launch,
    )


@pytest.mark.parametrize("tls13", [True, False], ids=["tls1.3", "tls1.2"])
def test_g2_client_is_accepted(
    server: tuple[str, int],
    stores: dict[str, Path],
    tls13: bool,  # noqa: FBT001
) -> None:
    """Java presents the G2 PKCS#12 key, trusts the server via JKS, and reads the reply."""
    # The TLS 1.3 run goes through `java TlsClient.java`, proving the single-file launch.
    result = _connect(
        server, stores["g2.p12"], stores["trust.jks"], tls13=tls13, source_launch=tls13
    )
    assert (result.returncode, result.stdout) == (EXIT_ACCEPTED, "ACCEPTED ok\n"), result.stderr
    protocol = "TLSv1.3" if tls13 else "TLSv1.2"
    assert f"INFO handshake protocol={protocol} " in result.stderr
    assert "local-chain=2" in result.stderr


@pytest.mark.parametrize("tls13", [True, False], ids=["tls1.3", "tls1.2"])
def test_foreign_client_is_refused(
    server: tuple[str, int],
    stores: dict[str, Path],
    tls13: bool,  # noqa: FBT001
) -> None:
    """A client certificate the server does not trust gives REFUSED, exit 3, in TLS 1.3 and 1.2."""
    result = _connect(server, stores["foreign.p12"], stores["trust.jks"], tls13=tls13)
    assert result.returncode == EXIT_REFUSED, result.stdout + result.stderr
    assert outcome(result) == "REFUSED"
    assert "INFO refused stage=" in result.stderr


def test_wrong_keystore_password_is_a_keystore_error(
    server: tuple[str, int], stores: dict[str, Path]
) -> None:
    """A wrong store password is KEYSTORE-ERROR, exit 4, and the password is not printed."""
    result = _connect(
        server,
        stores["g2.p12"],
        stores["trust.jks"],
        keystore_password="wrong-password",
    )
    assert result.returncode == EXIT_KEYSTORE_ERROR, result.stdout + result.stderr
    assert outcome(result) == "KEYSTORE-ERROR"
    assert "wrong-password" not in result.stdout + result.stderr


def test_separate_key_password_is_needed_and_used(
    server: tuple[str, int], stores: dict[str, Path]
) -> None:
    """A JKS key whose password differs from the store's: exit 4 without it, accepted with it."""
    without = _connect(server, stores["g2.jks"], stores["trust.jks"], keystore_type="JKS")
    assert without.returncode == EXIT_KEYSTORE_ERROR, without.stdout + without.stderr
    with_key_password = _connect(
        server,
        stores["g2.jks"],
        stores["trust.jks"],
        keystore_type="JKS",
        key_password=KEY_PASSWORD,
    )
    assert with_key_password.returncode == EXIT_ACCEPTED, with_key_password.stdout
    assert KEY_PASSWORD not in without.stdout + with_key_password.stdout


def test_untrusted_server_is_not_mistaken_for_a_refusal(
    server: tuple[str, int], stores: dict[str, Path]
) -> None:
    """A trust store lacking the server's root gives UNTRUSTED-SERVER (exit 6), not REFUSED."""
    result = _connect(server, stores["g2.p12"], stores["g1-only.jks"])
    assert result.returncode == EXIT_UNTRUSTED_SERVER, result.stdout + result.stderr
    assert "PKIX path building failed" in result.stdout


def test_list_shows_entry_kinds(stores: dict[str, Path]) -> None:
    """--list shows a PKCS#12 key as PrivateKeyEntry (chain 2), JKS roots as trustedCertEntry."""
    assert java_lists(stores["trust.jks"], "JKS", TRUST_PASSWORD) == {
        "g1-root": "trustedCertEntry",
        "g2-root": "trustedCertEntry",
    }
    [key_entry] = java_list_lines(stores["g2.p12"], "PKCS12", STORE_PASSWORD)
    assert key_entry[1:5] == ["client", "PrivateKeyEntry", "chain=2", "key=RSA"]
    [jks_entry] = java_list_lines(stores["g2.jks"], "JKS", STORE_PASSWORD)
    assert jks_entry[2:5] == ["PrivateKeyEntry", "chain=2", "key=UNRECOVERABLE"]


def test_pkcs12_without_password_loses_its_certificates(stores: dict[str, Path]) -> None:
    """Java loads a PKCS#12 without its password as a key with no chain: the pitfall is visible."""
    [entry] = java_list_lines(stores["g2.p12"], "PKCS12", None)
    assert entry[1:4] == ["client", "PrivateKeyEntry", "chain=0"]
