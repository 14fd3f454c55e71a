"""PKCS#12 trust stores: proven by keytool (JDK 17), the openssl command line and cryptography."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from truststore_builder._errors import (
    MalformedInputError,
    MissingPasswordError,
    WrongPasswordError,
)
from truststore_builder._formats.pkcs12 import (
    load_pkcs12_store,
    looks_like_pkcs12,
    serialize_pkcs12_truststore,
)
from truststore_builder._model import sha256_fingerprint

BUNDLES = Path(__file__).resolve().parent.parent / "bundles"
PASSWORD = b"Tr0ub4dor&3-secret"


@pytest.fixture(scope="module")
def nhs_entries() -> list[tuple[str, x509.Certificate]]:
    """Every NHS CA certificate in bundles/, aliased by its file name."""
    return [
        (path.stem, x509.load_pem_x509_certificate(path.read_bytes()))
        for path in sorted(BUNDLES.glob("*.pem"))
    ]


@pytest.fixture(scope="module")
def stores(
    nhs_entries: list[tuple[str, x509.Certificate]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Our trust store written twice: with PASSWORD, and password-less."""
    directory = tmp_path_factory.mktemp("p12")
    paths = {"password": directory / "password.p12", "none": directory / "none.p12"}
    paths["password"].write_bytes(serialize_pkcs12_truststore(nhs_entries, PASSWORD))
    paths["none"].write_bytes(serialize_pkcs12_truststore(nhs_entries, None))
    return paths


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    """Run a command with no stdin (so a password prompt cannot hang), capturing its output."""
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )


def keytool_trusted_aliases(listing: str) -> list[str]:
    """The aliases keytool -list prints as trustedCertEntry, in its order."""
    return [
        line.split(",")[0] for line in listing.splitlines() if line.endswith("trustedCertEntry, ")
    ]


def test_keytool_lists_every_alias_as_trusted_with_password(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Keytool opens the passworded store with its password: every alias a trustedCertEntry."""
    result = run(
        "keytool", "-list", "-keystore", stores["password"], "-storepass", PASSWORD.decode()
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert sorted(keytool_trusted_aliases(result.stdout)) == sorted(a for a, _ in nhs_entries)
    assert f"Your keystore contains {len(nhs_entries)} entries" in result.stdout


def test_keytool_lists_passwordless_store_without_password(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Keytool (JDK 17) lists the password-less store with no -storepass, no prompt, no warning."""
    result = run("keytool", "-list", "-keystore", stores["none"])
    assert result.returncode == 0, result.stderr + result.stdout
    assert sorted(keytool_trusted_aliases(result.stdout)) == sorted(a for a, _ in nhs_entries)
    assert "Enter keystore password" not in result.stdout
    assert "WARNING" not in result.stdout


def test_keytool_accepts_changeit_on_passwordless_store(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Keytool given -storepass changeit on the password-less store lists it: no integrity error."""
    result = run("keytool", "-list", "-keystore", stores["none"], "-storepass", "changeit")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Integrity check failed" not in result.stdout + result.stderr
    assert len(keytool_trusted_aliases(result.stdout)) == len(nhs_entries)


def test_keytool_refuses_wrong_password(stores: dict[str, Path]) -> None:
    """Keytool refuses the passworded store under another password: our MAC really is checked."""
    result = run("keytool", "-list", "-keystore", stores["password"], "-storepass", "changeit")
    assert result.returncode != 0
    assert "Integrity check failed" in result.stdout + result.stderr


def test_openssl_verifies_mac_and_finds_every_certificate(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Openssl verifies our HMAC-SHA256 MAC (PKCS#12 KDF) and prints every certificate."""
    result = run(
        "openssl", "pkcs12", "-info", "-in", stores["password"], "-nokeys",
        "-passin", f"pass:{PASSWORD.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MAC: sha256, Iteration 10000" in result.stderr
    assert "MAC length: 32, salt length: 16" in result.stderr
    assert result.stdout.count("BEGIN CERTIFICATE") == len(nhs_entries)
    for alias, _ in nhs_entries:
        assert f"friendlyName: {alias}" in result.stdout


def test_openssl_refuses_wrong_password(stores: dict[str, Path]) -> None:
    """Openssl's MAC check fails under a wrong password."""
    result = run(
        "openssl", "pkcs12", "-in", stores["password"], "-nokeys", "-passin", "pass:wrong"
    )  # fmt: skip
    assert result.returncode != 0
    assert "Mac verify error" in result.stderr


def test_openssl_reads_passwordless_store(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Openssl reads the password-less store with an empty -passin, noting the absent MAC."""
    result = run("openssl", "pkcs12", "-info", "-in", stores["none"], "-nokeys", "-passin", "pass:")
    assert result.returncode == 0, result.stderr
    assert "MAC is absent" in result.stderr
    assert result.stdout.count("BEGIN CERTIFICATE") == len(nhs_entries)


def test_cryptography_verifies_our_mac(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Cryptography loads the passworded store with its password and refuses any other."""
    data = stores["password"].read_bytes()
    loaded = pkcs12.load_pkcs12(data, PASSWORD)
    assert [c.certificate for c in loaded.additional_certs] == [c for _, c in nhs_entries]
    assert [c.friendly_name for c in loaded.additional_certs] == [
        a.encode() for a, _ in nhs_entries
    ]
    with pytest.raises(ValueError, match="password"):
        pkcs12.load_pkcs12(data, b"wrong")


@pytest.mark.parametrize("password", [PASSWORD, None])
def test_round_trip(
    nhs_entries: list[tuple[str, x509.Certificate]], password: bytes | None
) -> None:
    """Serialize then load gives the same aliases and fingerprints, in order, all trusted."""
    data = serialize_pkcs12_truststore(nhs_entries, password)
    entries = load_pkcs12_store(data, password, "<bytes>")
    assert [(e.alias, sha256_fingerprint(e.certificate)) for e in entries] == [
        (a, sha256_fingerprint(c)) for a, c in nhs_entries
    ]
    assert all(e.trusted for e in entries)


def test_empty_password_means_no_mac(nhs_entries: list[tuple[str, x509.Certificate]]) -> None:
    """An empty password writes the same MAC-less store as None, readable with no password."""
    data = serialize_pkcs12_truststore(nhs_entries, b"")
    assert data == serialize_pkcs12_truststore(nhs_entries, None)
    assert len(load_pkcs12_store(data, None, "<bytes>")) == len(nhs_entries)


def test_passwordless_store_reads_with_any_password(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """A store without MAC reads whatever password is given, as Java reads it."""
    entries = load_pkcs12_store(stores["none"].read_bytes(), b"changeit", "none.p12")
    assert [e.alias for e in entries] == [a for a, _ in nhs_entries]


@pytest.mark.parametrize(
    "protection",
    [None, "PBEWithSHA1AndRC2_40", "PBEWithSHA1AndDESede"],
    ids=["jdk17-default-pbes2-aes256", "legacy-rc2-40", "legacy-3des"],
)
def test_keytool_made_store_loads_trusted(
    tmp_path: Path, protection: str | None, nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """A keytool trust store loads as trustedCertEntry, its encrypted certificate bags decrypted."""
    path, pem = tmp_path / "keytool.p12", tmp_path / "root.pem"
    alias, certificate = nhs_entries[-1]
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    options = [f"-J-Dkeystore.pkcs12.certProtectionAlgorithm={protection}"] if protection else []
    result = run(
        "keytool", *options, "-importcert", "-noprompt", "-alias", alias, "-file", pem,
        "-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    (entry,) = load_pkcs12_store(path.read_bytes(), b"changeit", str(path))
    assert (entry.alias, entry.certificate, entry.trusted) == (alias, certificate, True)


def test_keytool_key_entry_chain_is_untrusted(
    tmp_path: Path, nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """In a keytool store, a key entry's certificate is untrusted and a trusted entry trusted."""
    path, pem = tmp_path / "mixed.p12", tmp_path / "root.pem"
    alias, certificate = nhs_entries[0]
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    common: list[str | Path] = ["-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit"]
    generated = run(
        "keytool", "-genkeypair", "-alias", "client", "-keyalg", "EC", "-dname", "CN=client",
        *common,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr + generated.stdout
    imported = run("keytool", "-importcert", "-noprompt", "-alias", alias, "-file", pem, *common)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    entries = load_pkcs12_store(path.read_bytes(), b"changeit", str(path))
    assert {(e.alias, e.trusted) for e in entries} == {("client", False), (alias, True)}


def test_openssl_nokeys_export_loads_untrusted(
    tmp_path: Path, nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Openssl's -export -nokeys has no Java trust attribute, so its certificates are untrusted."""
    path, pem = tmp_path / "openssl.p12", tmp_path / "ca.pem"
    pem.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for _, c in nhs_entries))
    result = run(
        "openssl", "pkcs12", "-export", "-nokeys", "-in", pem, "-out", path, "-passout", "pass:pw"
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries = load_pkcs12_store(path.read_bytes(), b"pw", str(path))
    assert sorted(sha256_fingerprint(e.certificate) for e in entries) == sorted(
        sha256_fingerprint(c) for _, c in nhs_entries
    )
    assert not any(e.trusted for e in entries)


def test_legacy_openssl_key_store_loads(
    tmp_path: Path, nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """An openssl -legacy (RC2-40 certificates, 3DES key) file loads; key and chain untrusted."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legacy client")])
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem, leaf_pem, chain_pem = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "chain.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    chain_pem.write_bytes(nhs_entries[0][1].public_bytes(serialization.Encoding.PEM))
    path = tmp_path / "legacy.p12"
    result = run(
        "openssl", "pkcs12", "-export", "-legacy", "-inkey", key_pem, "-in", leaf_pem,
        "-certfile", chain_pem, "-name", "client", "-out", path, "-passout", "pass:pw",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    info = run("openssl", "pkcs12", "-info", "-legacy", "-in", path, "-passin", "pass:pw", "-noout")
    assert "pbeWithSHA1And40BitRC2-CBC" in info.stderr
    entries = load_pkcs12_store(path.read_bytes(), b"pw", str(path))
    assert [(e.alias, e.certificate, e.trusted) for e in entries] == [
        ("client", leaf, False),
        ("", nhs_entries[0][1], False),
    ]
    with pytest.raises(WrongPasswordError):
        load_pkcs12_store(path.read_bytes(), b"not-pw", str(path))


def test_wrong_password_message_hides_the_password(stores: dict[str, Path]) -> None:
    """A wrong password is WrongPasswordError naming the file, without either password."""
    data = stores["password"].read_bytes()
    with pytest.raises(WrongPasswordError) as caught:
        load_pkcs12_store(data, b"hunter2-wrong", "store.p12")
    message = str(caught.value)
    assert message.startswith("store.p12: ")
    assert "hunter2" not in message
    assert PASSWORD.decode() not in message
    assert caught.value.source == "store.p12"


def test_altered_store_fails_its_integrity_check(stores: dict[str, Path]) -> None:
    """One flipped byte inside a passworded store fails the MAC: WrongPasswordError."""
    data = bytearray(stores["password"].read_bytes())
    data[len(data) // 2] ^= 0x01
    with pytest.raises(WrongPasswordError, match="integrity check"):
        load_pkcs12_store(bytes(data), PASSWORD, "store.p12")


@pytest.mark.parametrize("password", [None, b""])
def test_missing_password(stores: dict[str, Path], password: bytes | None) -> None:
    """A passworded store read without a password is MissingPasswordError."""
    with pytest.raises(MissingPasswordError, match=r"^store\.p12: .*password"):
        load_pkcs12_store(stores["password"].read_bytes(), password, "store.p12")


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.25, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("kind", ["password", "none"])
def test_truncated_store_is_malformed(stores: dict[str, Path], kind: str, fraction: float) -> None:
    """A store cut short anywhere is MalformedInputError naming the file."""
    data = stores[kind].read_bytes()
    cut = data[: int(len(data) * fraction)]
    with pytest.raises(MalformedInputError, match=r"^cut\.p12: "):
        load_pkcs12_store(cut, PASSWORD, "cut.p12")


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world", b"\x30\x03\x02\x01\x03", b"\x30\x80\x02\x01\x03\x30\x80\x00\x00"],
    ids=["empty", "text", "bare-version", "indefinite-length"],
)
def test_garbage_is_malformed(data: bytes) -> None:
    """Bytes that are no PKCS#12 are MalformedInputError, never a bare ValueError."""
    with pytest.raises(MalformedInputError, match=r"^junk: "):
        load_pkcs12_store(data, PASSWORD, "junk")


def test_looks_like_pkcs12(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """The sniff accepts our stores (even truncated) and rejects PEM and DER certificates."""
    data = stores["password"].read_bytes()
    assert looks_like_pkcs12(data)
    assert looks_like_pkcs12(stores["none"].read_bytes())
    assert looks_like_pkcs12(data[:10])
    certificate = nhs_entries[0][1]
    assert not looks_like_pkcs12(certificate.public_bytes(serialization.Encoding.DER))
    assert not looks_like_pkcs12(certificate.public_bytes(serialization.Encoding.PEM))
    assert not looks_like_pkcs12(b"")
