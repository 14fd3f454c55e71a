"""PKCS#12 trust stores: proven by keytool (JDK 17), the openssl command line and cryptography."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.commands import run
from truststore_builder._errors import (
    DerDecodeError,
    MalformedInputError,
    MissingPasswordError,
    WrongPasswordError,
)
from truststore_builder._formats.asn1 import children, encode_tlv, read_element
from truststore_builder._formats.pkcs12 import (
    _OID_DATA,
    _Bag,
    _bmp_password,
    _data_content_info,
    _data_content_info_pieces,
    _entries,
    _explicit0,
    _hash_constructor,
    _integer,
    _mac_data,
    _octets,
    _oid,
    _Pieces,
    _pkcs12_kdf,
    _sequence,
    _trusted_certificate_bag,
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


def keytool_trusted_aliases(listing: str) -> list[str]:
    """The aliases keytool -list prints as trustedCertEntry, in its order."""
    return [
        line.split(",")[0] for line in listing.splitlines() if line.endswith("trustedCertEntry, ")
    ]


@pytest.mark.slow
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


@pytest.mark.slow
def test_keytool_lists_passwordless_store_without_password(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Keytool (JDK 17) lists the password-less store with no -storepass, no prompt, no warning."""
    result = run("keytool", "-list", "-keystore", stores["none"])
    assert result.returncode == 0, result.stderr + result.stdout
    assert sorted(keytool_trusted_aliases(result.stdout)) == sorted(a for a, _ in nhs_entries)
    assert "Enter keystore password" not in result.stdout
    assert "WARNING" not in result.stdout


@pytest.mark.slow
def test_keytool_accepts_changeit_on_passwordless_store(
    stores: dict[str, Path], nhs_entries: list[tuple[str, x509.Certificate]]
) -> None:
    """Keytool given -storepass changeit on the password-less store lists it: no integrity error."""
    result = run("keytool", "-list", "-keystore", stores["none"], "-storepass", "changeit")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Integrity check failed" not in result.stdout + result.stderr
    assert len(keytool_trusted_aliases(result.stdout)) == len(nhs_entries)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


def _openssl_export(tmp_path: Path, name: str, *options: str) -> tuple[Path, x509.Certificate]:
    """A key store made by openssl pkcs12 -export with ``options``, and its certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem, cert_pem = tmp_path / f"{name}-k.pem", tmp_path / f"{name}-c.pem"
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    path = tmp_path / f"{name}.p12"
    key_option = [] if "-nokeys" in options else ["-inkey", str(key_pem)]
    result = run(
        "openssl", "pkcs12", "-export", *key_option, "-in", cert_pem, "-out", path, *options,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return path, certificate


def test_openssl_nomac_store_lists_its_certificates_without_a_password(tmp_path: Path) -> None:
    """-nomac (certificates in clear, key encrypted): read without a password, as OpenSSL does.

    Before: "not a valid PKCS#12 file". The control: the same store with its MAC still needs
    its password (MissingPasswordError).
    """
    path, certificate = _openssl_export(tmp_path, "nomac", "-nomac", "-passout", "pass:pw")
    listed = run("openssl", "pkcs12", "-in", path, "-nokeys", "-passin", "pass:")
    assert listed.returncode == 0, listed.stderr
    assert "MAC is absent" in listed.stderr
    found = x509.load_pem_x509_certificate(listed.stdout.encode())
    for password in (None, b"pw"):
        entries = load_pkcs12_store(path.read_bytes(), password, str(path))
        assert [(e.certificate, e.trusted) for e in entries] == [(found, False)]
    assert found == certificate
    with_mac, _ = _openssl_export(tmp_path, "mac", "-passout", "pass:pw")
    with pytest.raises(MissingPasswordError):
        load_pkcs12_store(with_mac.read_bytes(), None, str(with_mac))


def test_an_alias_outside_the_bmp_is_read_as_written(
    nhs_entries: list[tuple[str, x509.Certificate]],
) -> None:
    """An emoji friendly name (cryptography gives None for it) is read from the bag as written.

    The control: the file holds the name as UTF-16 (as keytool writes it); cryptography alone
    has no name for it. keytool's own listing of such aliases is compared in test_corpus.
    """
    alias = "ca-\U0001f600-é"
    certificate = nhs_entries[0][1]
    data = serialize_pkcs12_truststore([(alias, certificate)], PASSWORD)
    assert alias.encode("utf-16-be") in data
    loaded = pkcs12.load_pkcs12(data, PASSWORD)
    assert [c.friendly_name for c in loaded.additional_certs] == [None]  # before: alias ""
    entries = load_pkcs12_store(data, PASSWORD, "<bytes>")
    assert [(e.alias, e.certificate, e.trusted) for e in entries] == [(alias, certificate, True)]


def test_a_ber_indefinite_length_store_reads_as_its_der_twin(stores: dict[str, Path]) -> None:
    """A PFX with BER's indefinite length reads as its DER twin; nested too deep, refused."""
    der = stores["password"].read_bytes()
    _tag, content, _end = read_element(der)
    ber = b"\x30\x80" + bytes(content) + b"\0\0"
    with pytest.warns(UserWarning, match="falling back to parsing as BER"):
        assert pkcs12.load_pkcs12(ber, PASSWORD) is not None  # cryptography reads it too
    expected = [(e.alias, e.certificate, e.trusted) for e in load_pkcs12_store(der, PASSWORD, "d")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and its remark about BER does not reach our caller
        found = [(e.alias, e.certificate, e.trusted) for e in load_pkcs12_store(ber, PASSWORD, "b")]
    assert found == expected
    nested = b"\x30\x80" * 40 + b"\0\0" * 40
    with pytest.raises(MalformedInputError, match=r"^deep: "):
        load_pkcs12_store(b"\x30\x80\x02\x01\x03\x30\x80" + nested + b"\0\0\0\0", None, "deep")


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


# --- The KDF, the encoder and the reader's pairing, against references -------------------------

#: Every hash the KDF is used with, reading or writing.
DIGESTS = ["sha1", "sha224", "sha256", "sha384", "sha512"]

#: Published SHA-1 vectors of the PKCS#12 KDF (RFC 7292 Appendix B): password, salt, iterations,
#: purpose (1 key, 2 IV, 3 MAC), derived bytes. openssl kdf PKCS12KDF gives the same.
KDF_VECTORS = [
    ("smeg", "0a58cf64530d823f", 1, 1, "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"),
    ("smeg", "0a58cf64530d823f", 1, 2, "79993dfe048d3b76"),
    ("smeg", "3d83c0e4546ac140", 1, 3, "8d967d88f6caa9d714800ab3d48051d63f73a312"),
    ("queeg", "1682c0fc5b3f7ec5", 1000, 1, "483dd6e919d7de2e8e648ba8f862f3fbfbdc2bcb2c02957f"),
]


@pytest.mark.parametrize(("password", "salt", "iterations", "purpose", "expected"), KDF_VECTORS)
def test_kdf_matches_published_vectors(
    password: str, salt: str, iterations: int, purpose: int, expected: str
) -> None:
    """The PKCS#12 KDF gives the published SHA-1 test vectors."""
    derived = _pkcs12_kdf(
        "sha1",
        _bmp_password(password.encode()),
        bytes.fromhex(salt),
        iterations,
        purpose,
        len(expected) // 2,
    )
    assert derived.hex() == expected


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize(
    ("password", "iterations", "purpose", "length"),
    [
        (b"Tr0ub4dor&3", 2048, 3, 64),  # a MAC key, and (for SHA-1) more than one digest
        ("pässwörd-€".encode(), 3, 1, 150),  # non-ASCII; several rounds of the I_j update
        (b"", 10, 2, 16),  # the empty password: just the two-byte terminator
        (None, 10, 3, 20),  # no password at all: no bytes, not even the terminator
    ],
    ids=["mac", "non-ascii-long", "empty", "absent"],
)
def test_kdf_matches_openssl(
    digest: str, password: bytes | None, iterations: int, purpose: int, length: int
) -> None:
    """Our KDF gives what OpenSSL's PKCS12KDF gives, for every MAC hash we write."""
    salt = bytes(range(1, 17))
    bmp = _bmp_password(password)
    result = run(
        "openssl", "kdf", "-keylen", str(length), "-kdfopt", f"digest:{digest.upper()}",
        "-kdfopt", f"hexpass:{bmp.hex()}", "-kdfopt", f"hexsalt:{salt.hex()}",
        "-kdfopt", f"iter:{iterations}", "-kdfopt", f"id:{purpose}", "PKCS12KDF",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = result.stdout.strip().replace(":", "").lower()
    assert _pkcs12_kdf(digest, bmp, salt, iterations, purpose, length).hex() == expected


def test_kdf_without_cpythons_own_hash_modules_gives_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where CPython's own hash modules are missing (some FIPS builds), hashlib's give the same KDF."""
    cases = [(digest, _pkcs12_kdf(digest, b"\0a\0\0", b"salt", 50, 3, 40)) for digest in DIGESTS]
    for module in ("_sha1", "_sha2", "_sha256", "_sha512"):
        monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    _hash_constructor.cache_clear()
    try:
        assert _hash_constructor("sha256") is hashlib.sha256
        for digest, derived in cases:
            assert _pkcs12_kdf(digest, b"\0a\0\0", b"salt", 50, 3, 40) == derived
    finally:
        monkeypatch.undo()
        _hash_constructor.cache_clear()


def test_kdf_uses_cpythons_own_sha256_where_there_is_one() -> None:
    """Where CPython has its own SHA-256 module (the cheaper constructor), the KDF uses it."""
    own = next((m for m in ("_sha2", "_sha256") if importlib.util.find_spec(m) is not None), None)
    if own is None:
        pytest.skip("this Python has no SHA-256 module of its own")
    assert _hash_constructor("sha256") is importlib.import_module(own).sha256


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 70_000), max_size=4), st.binary(max_size=3))
def test_pieces_encode_what_the_nested_encoding_does(lengths: list[int], fill: bytes) -> None:
    """A ContentInfo built from pieces is byte for byte the one built by nesting, at any length."""
    parts = [(fill or b"x") * length for length in lengths]
    content = b"".join(parts)
    expected = _sequence(_oid(_OID_DATA), _explicit0(_octets(content)))
    pieces = _data_content_info_pieces(_Pieces.of(parts))
    assert b"".join(pieces.parts) == expected
    assert pieces.length == len(expected)


def test_trust_store_is_the_plain_nested_encoding(
    nhs_entries: list[tuple[str, x509.Certificate]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trust store written from pieces is the same bytes as its plain nested encoding."""
    monkeypatch.setattr(os, "urandom", lambda size: b"\x5a" * size)
    data = serialize_pkcs12_truststore(nhs_entries, PASSWORD)
    safe = _sequence(*(_trusted_certificate_bag(a, c) for a, c in nhs_entries))
    auth_safe = _sequence(_data_content_info(safe))
    mac = _mac_data(auth_safe, PASSWORD, b"\x5a" * 16, 10_000)
    info = _data_content_info(auth_safe)
    assert data == _sequence(_integer(3), info, mac)
    assert serialize_pkcs12_truststore(nhs_entries, None) == _sequence(_integer(3), info)


def _children_by_read(content: bytes) -> list[tuple[int, bytes]] | str:
    """The plain loop over read_element that children inlines: its pairs, or its error message."""
    items = []
    offset = 0
    try:
        while offset < len(content):
            tag, value, offset = read_element(content, offset)
            items.append((tag, value))
    except DerDecodeError as exc:
        return str(exc)
    return items


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=64)
    | st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=300)), max_size=4).map(
        lambda items: b"".join(encode_tlv(tag, value) for tag, value in items)
    )
)
def test_children_reads_as_read_does(content: bytes) -> None:
    """The inlined reading of children gives read_element's elements or error, bytes or view."""
    expected = _children_by_read(content)
    try:
        found: list[tuple[int, bytes]] | str = children(content)
    except DerDecodeError as exc:
        found = str(exc)
    assert found == expected
    try:
        found = [(tag, bytes(value)) for tag, value in children(memoryview(content))]
    except DerDecodeError as exc:
        found = str(exc)
    assert found == expected


def _entries_by_scanning(
    items: list[tuple[bytes, str]], bags: list[tuple[bytes, str, bool]]
) -> list[bool]:
    """The pairing rule the reader implements, written the slow way: trust flag per item."""
    left = list(bags)
    flags = []
    for der, alias in items:
        bag = next((b for b in left if b[0] == der and b[1] == alias), None)
        bag = bag or next((b for b in left if b[0] == der), None)
        if bag is not None:
            left.remove(bag)
        flags.append(bag is not None and bag[2])
    return flags


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["a", "b", ""])), max_size=8),
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", ""]), st.booleans()), max_size=8
    ),
)
def test_certificates_pair_with_bags_as_the_first_match(
    items: list[tuple[int, str]], bags: list[tuple[int, str, bool]]
) -> None:
    """Each certificate takes the first free bag with its DER and alias, else with its DER."""
    certificates = [_PAIRING_CERTIFICATES[i] for i in range(4)]
    ders = [c.public_bytes(serialization.Encoding.DER) for c in certificates]
    loaded = pkcs12.PKCS12KeyAndCertificates(
        None,
        None,
        [pkcs12.PKCS12Certificate(certificates[i], alias.encode() or None) for i, alias in items],
    )
    found = _entries(loaded, [_Bag(ders[i], a, t) for i, a, t in bags])
    expected = _entries_by_scanning(
        [(ders[i], alias) for i, alias in items], [(ders[i], a, t) for i, a, t in bags]
    )
    assert [e.trusted for e in found] == expected
    assert [(e.certificate, e.alias) for e in found] == [(certificates[i], a) for i, a in items]


def _pairing_certificate(serial: int) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pairing")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


_PAIRING_CERTIFICATES = [_pairing_certificate(serial) for serial in range(1, 5)]
