"""PKCS#12 key stores: proven by keytool (JDK 17), the openssl command line and cryptography."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests.commands import run
from tests.pki import GeneratedPki, make_certificate
from truststore_builder._errors import WrongPasswordError
from truststore_builder._formats import asn1
from truststore_builder._formats import pkcs12 as ours
from truststore_builder._formats.pkcs12 import (
    PKCS12_CONSUMERS,
    PKCS12_PROFILES,
    Pkcs12Profile,
    load_pkcs12_identities,
    load_pkcs12_keystore,
    load_pkcs12_store,
    resolve_pkcs12_profile,
    serialize_pkcs12_keystore,
    serialize_pkcs12_truststore,
)

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = b"Tr0ub4dor&3-secret"
ALIAS = "mesh-client"
PROFILES = ["modern", "legacy"]


def public_der(key: object) -> bytes:
    """An RSA or EC public key (or a private key's public half) as DER SubjectPublicKeyInfo."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        key = key.public_key()
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def chain_of(pki: GeneratedPki) -> list[x509.Certificate]:
    """The G2 client's chain, leaf first."""
    return [pki.g2.client.certificate, pki.g2.intermediate.certificate, pki.g2.root.certificate]


def trusted_of(pki: GeneratedPki) -> list[tuple[str, x509.Certificate]]:
    """The G1 and G2 roots and intermediates, as trusted entries."""
    return [
        ("test-g1-root", pki.g1.root.certificate),
        ("test-g1-level-1c", pki.g1.intermediate.certificate),
        ("test-g2-root", pki.g2.root.certificate),
        ("test-g2-authentication-g2", pki.g2.intermediate.certificate),
    ]


@pytest.fixture(scope="module")
def key_stores(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The G2 client's key store with the G1+G2 trusted CAs, once per profile."""
    directory = tmp_path_factory.mktemp("keystore")
    paths = {}
    for profile in PROFILES:
        paths[profile] = directory / f"{profile}.p12"
        paths[profile].write_bytes(
            serialize_pkcs12_keystore(
                alias=ALIAS,
                key=pki.g2.client.key,
                chain=chain_of(pki),
                trusted=trusted_of(pki),
                password=PASSWORD,
                profile=profile,
            )
        )
    return paths


def keytool_entries(listing: str) -> dict[str, tuple[str, int | None]]:
    """Parse ``keytool -list -v``: alias to (entry type, certificate chain length or None)."""
    entries: dict[str, tuple[str, int | None]] = {}
    alias = ""
    for line in listing.splitlines():
        if line.startswith("Alias name: "):
            alias = line.removeprefix("Alias name: ")
            entries[alias] = ("", None)
        elif line.startswith("Entry type: "):
            entries[alias] = (line.removeprefix("Entry type: "), None)
        elif line.startswith("Certificate chain length: "):
            entries[alias] = (entries[alias][0], int(line.rsplit(" ", 1)[1]))
    return entries


# --- keytool ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_keytool_lists_key_entry_and_trusted_entries(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str
) -> None:
    """Keytool lists one PrivateKeyEntry (chain of 3) and every CA as trustedCertEntry, no more."""
    result = run(
        "keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", key_stores[profile],
        "-storepass", PASSWORD.decode(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    entries = keytool_entries(result.stdout)
    expected = {ALIAS: ("PrivateKeyEntry", 3)} | {
        alias: ("trustedCertEntry", None) for alias, _ in trusted_of(pki)
    }
    assert entries == expected
    assert f"Your keystore contains {1 + len(trusted_of(pki))} entries" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("profile", PROFILES)
def test_keytool_importkeystore_to_jks_recovers_key_entry(
    key_stores: dict[str, Path], pki: GeneratedPki, tmp_path: Path, profile: str
) -> None:
    """Keytool -importkeystore copies the key entry (chain of 3) and the trusted entries to JKS."""
    jks = tmp_path / "copy.jks"
    # No -destkeypass: keytool would then try to password-protect the trusted entries, and
    # refuse them ("trusted certificate entries are not password-protected") for any source,
    # its own PKCS#12 files included.
    imported = run(
        "keytool", "-importkeystore", "-srckeystore", key_stores[profile],
        "-srcstoretype", "PKCS12", "-srcstorepass", PASSWORD.decode(),
        "-destkeystore", jks, "-deststoretype", "JKS", "-deststorepass", "changeit",
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr + imported.stdout
    assert "5 entries successfully imported, 0 entries failed" in imported.stdout + imported.stderr
    listed = run("keytool", "-list", "-v", "-keystore", jks, "-storepass", "changeit")
    assert listed.returncode == 0, listed.stderr + listed.stdout
    entries = keytool_entries(listed.stdout)
    assert entries[ALIAS] == ("PrivateKeyEntry", 3)
    assert sum(kind == "trustedCertEntry" for kind, _ in entries.values()) == len(trusted_of(pki))


@pytest.mark.slow
def test_keytool_lists_ec_identity(pki: GeneratedPki, tmp_path: Path) -> None:
    """An EC P-256 client key store is listed by keytool as a PrivateKeyEntry with its chain."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nhs"),
            x509.NameAttribute(NameOID.COMMON_NAME, "ec-client.test"),
        ]
    )
    leaf = make_certificate(name, key, issuer=pki.g2.intermediate, ca=False).certificate
    chain = [leaf, pki.g2.intermediate.certificate, pki.g2.root.certificate]
    path = tmp_path / "ec.p12"
    path.write_bytes(
        serialize_pkcs12_keystore(
            alias="ec-client", key=key, chain=chain, trusted=trusted_of(pki), password=PASSWORD
        )
    )
    result = run(
        "keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", path,
        "-storepass", PASSWORD.decode(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert keytool_entries(result.stdout)["ec-client"] == ("PrivateKeyEntry", 3)
    assert "256-bit EC (secp256r1) key" in result.stdout
    ((alias, loaded_key, loaded_chain),) = load_pkcs12_identities(
        path.read_bytes(), PASSWORD, "ec.p12"
    )
    assert (alias, public_der(loaded_key), loaded_chain) == ("ec-client", public_der(key), chain)


@pytest.mark.slow
def test_keytool_lists_key_store_without_trusted_entries(pki: GeneratedPki, tmp_path: Path) -> None:
    """With no trusted entries the store holds exactly the key entry, chain of 3."""
    path = tmp_path / "alone.p12"
    path.write_bytes(
        serialize_pkcs12_keystore(
            alias=ALIAS, key=pki.g2.client.key, chain=chain_of(pki), trusted=[], password=PASSWORD
        )
    )
    result = run("keytool", "-list", "-v", "-keystore", path, "-storepass", PASSWORD.decode())
    assert result.returncode == 0, result.stderr + result.stdout
    assert keytool_entries(result.stdout) == {ALIAS: ("PrivateKeyEntry", 3)}


@pytest.mark.slow
def test_keytool_made_store_with_two_keys_gives_both(tmp_path: Path) -> None:
    """A keytool store holding two key entries gives both identities, not only cryptography's one."""
    path = tmp_path / "two.p12"
    for alias in ("first", "second"):
        made = run(
            "keytool", "-genkeypair", "-alias", alias, "-keyalg", "EC", "-dname", f"CN={alias}",
            "-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr + made.stdout
    identities = load_pkcs12_identities(path.read_bytes(), b"changeit", str(path))
    assert [(alias, len(chain)) for alias, _, chain in identities] == [
        ("first", 1),
        ("second", 1),
    ]
    for alias, key, (leaf,) in identities:
        assert leaf.subject.rfc4514_string() == f"CN={alias}"
        assert public_der(key) == public_der(leaf.public_key())


# --- openssl ---------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_openssl_extracts_the_clients_key(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str
) -> None:
    """Openssl pkcs12 -nodes gives the private key, whose public key is the client cert's."""
    result = run(
        "openssl", "pkcs12", "-in", key_stores[profile], "-passin", f"pass:{PASSWORD.decode()}",
        "-nodes",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key = serialization.load_pem_private_key(result.stdout.encode(), password=None)
    assert public_der(key) == public_der(pki.g2.client.certificate.public_key())
    assert result.stdout.count("BEGIN CERTIFICATE") == 3 + len(trusted_of(pki))
    assert result.stdout.count(f"friendlyName: {ALIAS}") == 2  # the key bag and the leaf's bag


def test_openssl_info_modern_algorithms(key_stores: dict[str, Path]) -> None:
    """The modern store: AES-256-CBC with PBKDF2-HMAC-SHA256 for key and certs, SHA-256 MAC."""
    result = run(
        "openssl", "pkcs12", "-info", "-noout", "-in", key_stores["modern"],
        "-passin", f"pass:{PASSWORD.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MAC: sha256, Iteration 10000" in result.stderr
    assert "MAC length: 32, salt length: 16" in result.stderr
    aes = "PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256"
    assert f"PKCS7 Encrypted data: {aes}" in result.stderr
    assert f"Shrouded Keybag: {aes}" in result.stderr


def test_openssl_info_legacy_algorithms_without_legacy_provider(
    key_stores: dict[str, Path],
) -> None:
    """The legacy store: 3DES for key and certs, SHA-1 MAC, read by OpenSSL 3 without -legacy."""
    result = run(
        "openssl", "pkcs12", "-info", "-noout", "-in", key_stores["legacy"],
        "-passin", f"pass:{PASSWORD.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "MAC: sha1, Iteration 10000" in result.stderr
    assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in result.stderr
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in result.stderr
    assert "RC2" not in result.stderr


@pytest.mark.parametrize("mac_hash", ["sha384", "sha512"])
def test_custom_profile_mac_hash(pki: GeneratedPki, tmp_path: Path, mac_hash: str) -> None:
    """A caller's own profile with a SHA-384 or SHA-512 MAC is written and verified by openssl."""
    profile = Pkcs12Profile(
        name="custom",
        key_cert_algorithm=pkcs12.PBES.PBESv2SHA256AndAES256CBC,
        mac_hash=mac_hash,
        iterations=2048,
    )
    path = tmp_path / "custom.p12"
    path.write_bytes(
        serialize_pkcs12_keystore(
            alias=ALIAS,
            key=pki.g2.client.key,
            chain=chain_of(pki),
            trusted=trusted_of(pki),
            password=PASSWORD,
            profile=profile,
        )
    )
    result = run(
        "openssl", "pkcs12", "-info", "-noout", "-in", path, "-passin",
        f"pass:{PASSWORD.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"MAC: {mac_hash}, Iteration 2048" in result.stderr
    assert len(load_pkcs12_identities(path.read_bytes(), PASSWORD, "custom.p12")) == 1


def test_openssl_made_store_chain_is_ordered(pki: GeneratedPki, tmp_path: Path) -> None:
    """An openssl key store whose CA certs come root first still loads leaf, issuer, root."""
    key_pem, cert_pem, cas_pem = tmp_path / "k.pem", tmp_path / "c.pem", tmp_path / "cas.pem"
    key_pem.write_bytes(pki.g2.client.key_pem())
    cert_pem.write_bytes(pki.g2.client.cert_pem())
    cas_pem.write_bytes(
        pki.g1.root.cert_pem() + pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem()
    )
    path = tmp_path / "openssl.p12"
    made = run(
        "openssl", "pkcs12", "-export", "-inkey", key_pem, "-in", cert_pem, "-certfile", cas_pem,
        "-name", "from-openssl", "-out", path, "-passout", "pass:pw",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    ((alias, key, chain),) = load_pkcs12_identities(path.read_bytes(), b"pw", str(path))
    assert alias == "from-openssl"
    assert public_der(key) == public_der(pki.g2.client.key)
    assert chain == chain_of(pki)  # the unrelated G1 root is not part of the chain


# --- profiles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("modern", "modern"),
        ("legacy", "legacy"),
        ("java8", "legacy"),
        ("java8u301", "modern"),
        ("java11", "modern"),
        ("java17", "modern"),
        ("java21", "modern"),
        ("windows2016", "legacy"),
        ("windows2019", "modern"),
        ("dotnet-framework", "legacy"),
        ("dotnet", "modern"),
        ("macos", "legacy"),
        ("openssl1.1", "modern"),
        ("openssl3", "modern"),
        ("python", "modern"),
        (" Java8 ", "legacy"),
    ],
)
def test_profile_names_resolve(name: str, expected: str) -> None:
    """Profile and consumer names (any case, blanks ignored) resolve to the right profile."""
    assert resolve_pkcs12_profile(name) is PKCS12_PROFILES[expected]


def test_profiles_carry_their_algorithms() -> None:
    """Modern is AES-256/SHA-256, legacy 3DES/SHA-1, both at 10,000 iterations."""
    modern, legacy = PKCS12_PROFILES["modern"], PKCS12_PROFILES["legacy"]
    assert (modern.key_cert_algorithm, modern.mac_hash, modern.iterations) == (
        pkcs12.PBES.PBESv2SHA256AndAES256CBC, "sha256", 10_000,
    )  # fmt: skip
    assert (legacy.key_cert_algorithm, legacy.mac_hash, legacy.iterations) == (
        pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC, "sha1", 10_000,
    )  # fmt: skip
    assert set(PKCS12_CONSUMERS.values()) <= set(PKCS12_PROFILES)


def test_unknown_profile_lists_valid_names(pki: GeneratedPki) -> None:
    """An unknown profile is a ValueError naming every valid profile and consumer."""
    with pytest.raises(ValueError, match="unknown PKCS#12 profile 'java7'") as caught:
        resolve_pkcs12_profile("java7")
    for valid in [*PKCS12_PROFILES, *PKCS12_CONSUMERS]:
        assert valid in str(caught.value)
    with pytest.raises(ValueError, match="unknown PKCS#12 profile"):
        serialize_pkcs12_keystore(
            alias=ALIAS, key=pki.g2.client.key, chain=chain_of(pki), trusted=[],
            password=PASSWORD, profile="windows2008",
        )  # fmt: skip


@pytest.mark.parametrize(
    "mac_hash",
    [
        hashes.SHA3_256(),
        hashes.MD5(),  # noqa: S303 - refused, which is the point
        hashes.SHA512_256(),
        hashes.SHA224(),
        "sha3-256",
        "md5",
    ],
    ids=["sha3-256", "md5", "sha512-256", "sha224", "text-sha3-256", "text-md5"],
)
def test_unapproved_mac_hash_is_value_error(mac_hash: object) -> None:
    """A MAC hash other than SHA-1/256/384/512 is a ValueError when the profile is made."""
    with pytest.raises(ValueError, match="unsupported PKCS#12 MAC hash"):
        Pkcs12Profile(
            name="bad",
            key_cert_algorithm=pkcs12.PBES.PBESv2SHA256AndAES256CBC,
            mac_hash=mac_hash,
        )


def test_unapproved_mac_hash_never_reaches_cryptography(pki: GeneratedPki) -> None:
    """A profile forced to MD5 past its checks is still refused before cryptography (no panic)."""
    profile = Pkcs12Profile(
        name="forced", key_cert_algorithm=pkcs12.PBES.PBESv2SHA256AndAES256CBC, mac_hash="sha256"
    )
    object.__setattr__(profile, "mac_hash", "md5")
    with pytest.raises(ValueError, match="unsupported PKCS#12 MAC hash 'md5'"):
        serialize_pkcs12_keystore(
            alias=ALIAS, key=pki.g2.client.key, chain=chain_of(pki), trusted=[],
            password=PASSWORD, profile=profile,
        )  # fmt: skip


@pytest.mark.parametrize("iterations", [0, -1, 5_000_001, True])
def test_bad_iteration_count_is_value_error(iterations: int) -> None:
    """An iteration count outside 1..5,000,000 (or not an integer) is refused."""
    with pytest.raises(ValueError, match="iteration count"):
        Pkcs12Profile(
            name="bad",
            key_cert_algorithm=pkcs12.PBES.PBESv2SHA256AndAES256CBC,
            mac_hash="sha256",
            iterations=iterations,
        )


# --- writer rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("password", [None, b""], ids=["none", "empty"])
def test_no_password_is_value_error(pki: GeneratedPki, password: bytes | None) -> None:
    """A key store is never written without a password (Java would read it as empty)."""
    with pytest.raises(ValueError, match="needs a password"):
        serialize_pkcs12_keystore(
            alias=ALIAS, key=pki.g2.client.key, chain=chain_of(pki),
            trusted=trusted_of(pki), password=password,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty-alias", "non-empty alias"),
        ("empty-chain", "chain is empty"),
        ("alias-clash-ignoring-case", "used twice"),
        ("not-utf8", "UTF-8"),
        ("wrong-key", "not the private key's certificate"),
    ],
)
def test_writer_refuses_bad_arguments(pki: GeneratedPki, case: str, message: str) -> None:
    """Empty alias or chain, clashing aliases, a non-UTF-8 password, a foreign key: ValueError."""
    alias, key, chain, password = ALIAS, pki.g2.client.key, chain_of(pki), PASSWORD
    trusted: list[tuple[str, x509.Certificate]] = []
    if case == "empty-alias":
        alias = ""
    elif case == "empty-chain":
        chain = []
    elif case == "alias-clash-ignoring-case":
        trusted = [(ALIAS.upper(), pki.g2.root.certificate)]
    elif case == "not-utf8":
        password = b"\xff\xfe"
    else:
        key = pki.g1.client.key
    with pytest.raises(ValueError, match=message):
        serialize_pkcs12_keystore(
            alias=alias, key=key, chain=chain, trusted=trusted, password=password
        )


def test_same_inputs_new_salts(pki: GeneratedPki) -> None:
    """Two writes of the same store differ (fresh salts and IVs) yet both read back the same."""
    arguments = {"alias": ALIAS, "key": pki.g2.client.key, "chain": chain_of(pki)}
    first = serialize_pkcs12_keystore(**arguments, trusted=[], password=PASSWORD)  # type: ignore[arg-type]
    second = serialize_pkcs12_keystore(**arguments, trusted=[], password=PASSWORD)  # type: ignore[arg-type]
    assert first != second
    assert [c for _, _, c in load_pkcs12_identities(first, PASSWORD, "a")] == [
        c for _, _, c in load_pkcs12_identities(second, PASSWORD, "b")
    ]


# --- reading back ----------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_round_trip_identities(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str
) -> None:
    """load_pkcs12_identities gives back the alias, the key and the chain, leaf first."""
    identities = load_pkcs12_identities(key_stores[profile].read_bytes(), PASSWORD, "ks.p12")
    ((alias, key, chain),) = identities
    assert alias == ALIAS
    assert public_der(key) == public_der(pki.g2.client.key)
    assert chain == chain_of(pki)


@pytest.mark.parametrize("profile", PROFILES)
def test_load_store_marks_chain_untrusted_and_cas_trusted(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str
) -> None:
    """load_pkcs12_store: the key's chain certificates are untrusted, the CA entries trusted."""
    entries = load_pkcs12_store(key_stores[profile].read_bytes(), PASSWORD, "ks.p12")
    assert [(e.alias, e.certificate, e.trusted) for e in entries if not e.trusted] == [
        (ALIAS, pki.g2.client.certificate, False),
        ("", pki.g2.intermediate.certificate, False),
        ("", pki.g2.root.certificate, False),
    ]
    assert [(e.alias, e.certificate) for e in entries if e.trusted] == trusted_of(pki)


@pytest.mark.parametrize("profile", PROFILES)
def test_wrong_password_is_wrong_password_error(key_stores: dict[str, Path], profile: str) -> None:
    """A wrong password is WrongPasswordError naming the file, never the passwords."""
    with pytest.raises(WrongPasswordError) as caught:
        load_pkcs12_identities(key_stores[profile].read_bytes(), b"hunter2-wrong", "ks.p12")
    message = str(caught.value)
    assert message.startswith("ks.p12: ")
    assert "hunter2" not in message
    assert PASSWORD.decode() not in message


def test_cryptography_reads_the_key_store(key_stores: dict[str, Path], pki: GeneratedPki) -> None:
    """Cryptography's own loader verifies our recomputed MAC and finds key, leaf and CAs."""
    loaded = pkcs12.load_pkcs12(key_stores["modern"].read_bytes(), PASSWORD)
    assert loaded.key is not None
    assert public_der(loaded.key) == public_der(pki.g2.client.key)
    assert loaded.cert is not None
    assert (loaded.cert.certificate, loaded.cert.friendly_name) == (
        pki.g2.client.certificate,
        ALIAS.encode(),
    )
    assert len(loaded.additional_certs) == 2 + len(trusted_of(pki))


def test_trust_store_has_no_identity(pki: GeneratedPki) -> None:
    """A trust store (no key) gives an empty list of identities, not an error."""
    data = serialize_pkcs12_truststore(trusted_of(pki), PASSWORD)
    assert load_pkcs12_identities(data, PASSWORD, "trust.p12") == []


# --- one decryption each ---------------------------------------------------------------------


def _record_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[object, ...]]:
    """Wrap the pkcs12 module's ``name`` to record each call's arguments; return the record."""
    calls: list[tuple[object, ...]] = []
    original = getattr(ours, name)

    def recorded(*args: object) -> object:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(ours, name, recorded)
    return calls


@pytest.mark.parametrize("profile", PROFILES)
def test_key_read_back_is_the_key_written(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str
) -> None:
    """The one key of our key store reads back as the very key written, private numbers and all."""
    ((_, key, _),) = load_pkcs12_identities(key_stores[profile].read_bytes(), PASSWORD, "ks.p12")
    written = pki.g2.client.key
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == written.private_numbers()


@pytest.mark.parametrize("profile", PROFILES)
def test_one_key_store_is_decrypted_once(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading our key store decrypts its certificates once and takes its one key from cryptography."""
    decrypted = _record_calls(monkeypatch, "_decrypt_encrypted_data")
    keys_decoded = _record_calls(monkeypatch, "load_der_private_key")
    identities, entries = load_pkcs12_keystore(key_stores[profile].read_bytes(), PASSWORD, "ks")
    assert len(decrypted) == 1  # keytool's layout: one encrypted SafeContents, every certificate
    assert keys_decoded == []
    ((alias, key, chain),) = identities
    assert (alias, chain) == (ALIAS, chain_of(pki))
    assert public_der(key) == public_der(pki.g2.client.key)
    assert [(e.alias, e.certificate) for e in entries if e.trusted] == trusted_of(pki)


@pytest.mark.slow
def test_keytool_store_with_two_keys_decodes_each_key_bag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two key bags, each key is decoded from its own bag, not taken from cryptography."""
    path = tmp_path / "two.p12"
    for alias in ("first", "second"):
        made = run(
            "keytool", "-genkeypair", "-alias", alias, "-keyalg", "EC", "-dname", f"CN={alias}",
            "-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr + made.stdout
    keys_decoded = _record_calls(monkeypatch, "load_der_private_key")
    identities = load_pkcs12_identities(path.read_bytes(), b"changeit", str(path))
    assert len(keys_decoded) == 2
    first, second = (key for _, key, _ in identities)
    assert public_der(first) != public_der(second)


def _safe_bags(data: bytes, password: bytes) -> list[bytes]:
    """Every SafeBag (whole DER element) of a PKCS#12 file, decrypted, in file order."""
    contents = ours._plain_safe_contents(ours._parse_pfx(data).auth_safe, password)  # noqa: SLF001
    bags = []
    for plain in contents.plains:
        _, content, _ = asn1.read_element(memoryview(plain))
        bags += [asn1.encode_tlv(tag, bytes(bag)) for tag, bag in asn1.iter_children(content)]
    return bags


def test_key_in_a_nested_safe_contents_bag_is_not_mistaken_for_the_top_level_one(
    pki: GeneratedPki,
) -> None:
    """Beside a key nested in a safeContentsBag (cryptography's key), the top-level key bag is decoded itself."""
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(1000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(PASSWORD)
    )
    bags = {}
    for name, hierarchy in (("nested", pki.g1), ("top", pki.g2)):
        written = pkcs12.serialize_key_and_certificates(
            name.encode(), hierarchy.client.key, hierarchy.client.certificate, None, encryption
        )
        bags[name] = _safe_bags(written, PASSWORD)  # [certificate bag, key bag]
    nested = ours._sequence(  # noqa: SLF001
        ours._oid(ours._OID_SAFE_CONTENTS_BAG),  # noqa: SLF001
        ours._explicit0(ours._sequence(bags["nested"][1])),  # noqa: SLF001
    )
    safe_contents = ours._sequence(nested, bags["top"][1], bags["nested"][0], bags["top"][0])  # noqa: SLF001
    auth_safe = ours._sequence(ours._data_content_info(safe_contents))  # noqa: SLF001
    mac = ours._mac_data(auth_safe, PASSWORD, os.urandom(16), 2048)  # noqa: SLF001
    data = ours._sequence(ours._integer(3), ours._data_content_info(auth_safe), mac)  # noqa: SLF001
    # OpenSSL meets the nested key first: that is the one cryptography returns.
    loaded = pkcs12.load_pkcs12(data, PASSWORD)
    assert loaded.key is not None
    assert public_der(loaded.key) == public_der(pki.g1.client.key)
    ((alias, key, chain),) = load_pkcs12_identities(data, PASSWORD, "nested.p12")
    assert alias == "top"
    assert public_der(key) == public_der(pki.g2.client.key)
    assert chain == [pki.g2.client.certificate]


@pytest.mark.parametrize(
    ("profile", "algorithm"),
    [("modern", "1.2.840.113549.1.5.13"), ("legacy", "1.2.840.113549.1.12.1.3")],
)
def test_key_store_is_laid_out_as_keytool_lays_it_out(
    key_stores: dict[str, Path], pki: GeneratedPki, profile: str, algorithm: str
) -> None:
    """Two SafeContents as keytool has them (in OpenSSL's order): every certificate, encrypted, then the key."""
    pfx = ours._parse_pfx(key_stores[profile].read_bytes())  # noqa: SLF001
    _, content, _ = asn1.read_element(bytes(pfx.auth_safe))
    content_types = [asn1.children(info)[0][1] for _, info in asn1.children(content)]
    assert content_types == [ours._OID_ENCRYPTED_DATA, ours._OID_DATA]  # noqa: SLF001
    assert ours._encryption_algorithms(pfx.auth_safe) == [algorithm]  # noqa: SLF001
    certificates, key = ours._plain_safe_contents(pfx.auth_safe, PASSWORD).plains  # noqa: SLF001
    _, certificate_bags, _ = asn1.read_element(bytes(certificates))
    bags = [asn1.children(bag)[0][1] for _, bag in asn1.children(certificate_bags)]
    assert bags == [ours._OID_CERT_BAG] * (len(chain_of(pki)) + len(trusted_of(pki)))  # noqa: SLF001
    (key_bag,) = asn1.children(asn1.read_element(bytes(key))[1])
    assert asn1.children(key_bag[1])[0][1] == ours._OID_SHROUDED_KEY_BAG  # noqa: SLF001


def _certificate_encryption_octets(data: bytes) -> list[bytes]:
    """The salt (and for PBES2 the IV) of a key store's encrypted certificates, in DER order."""
    _, content, _ = asn1.read_element(bytes(ours._parse_pfx(data).auth_safe))  # noqa: SLF001
    infos = [asn1.children(info) for _, info in asn1.children(content)]
    (encrypted,) = [fields[1][1] for fields in infos if fields[0][1] == ours._OID_ENCRYPTED_DATA]  # noqa: SLF001
    ((_, encrypted_data),) = asn1.children(bytes(encrypted))
    info = asn1.children(asn1.children(encrypted_data)[1][1])

    def octets(der: bytes) -> list[bytes]:
        found = []
        for tag, value in asn1.children(der):
            if tag == 0x04:  # OCTET STRING
                found.append(bytes(value))
            elif tag == 0x30:  # SEQUENCE
                found += octets(value)
        return found

    return octets(info[1][1])


@pytest.mark.parametrize(
    ("algorithm", "openssl_name", "octet_count"),
    [
        (pkcs12.PBES.PBESv2SHA256AndAES256CBC, "PBES2, PBKDF2, AES-256-CBC", 2),
        (pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC, "pbeWithSHA1And3-KeyTripleDES-CBC", 1),
    ],
)
def test_certificates_are_encrypted_afresh_at_the_profiles_iterations(
    pki: GeneratedPki,
    tmp_path: Path,
    algorithm: pkcs12.PBES,
    openssl_name: str,
    octet_count: int,
) -> None:
    """The re-encrypted certificates take the profile's algorithm and iterations, and a new salt and IV each write."""
    profile = Pkcs12Profile(
        name="custom", key_cert_algorithm=algorithm, mac_hash="sha256", iterations=2048
    )
    writes = [
        serialize_pkcs12_keystore(
            alias=ALIAS,
            key=pki.g2.client.key,
            chain=chain_of(pki),
            trusted=trusted_of(pki),
            password=PASSWORD,
            profile=profile,
        )
        for _ in range(2)
    ]
    first, second = (_certificate_encryption_octets(data) for data in writes)
    assert len(first) == len(second) == octet_count
    assert all(a != b for a, b in zip(first, second, strict=True))
    path = tmp_path / "custom.p12"
    path.write_bytes(writes[0])
    result = run(
        "openssl", "pkcs12", "-info", "-noout", "-in", path, "-passin",
        f"pass:{PASSWORD.decode()}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"PKCS7 Encrypted data: {openssl_name}, Iteration 2048" in result.stderr
    assert f"Shrouded Keybag: {openssl_name}, Iteration 2048" in result.stderr


def test_an_opened_store_shows_neither_its_password_nor_its_decrypted_bags(
    pki: GeneratedPki,
) -> None:
    """The reader's record of an opened store (password, decrypted key bags) has a bare repr."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = make_certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "repr.test")]),
        key,
        issuer=pki.g2.intermediate,
        ca=False,
    ).certificate
    data = serialize_pkcs12_keystore(
        alias="repr", key=key, chain=[leaf], trusted=trusted_of(pki), password=PASSWORD
    )
    opened = ours._open(data, PASSWORD, "repr.p12")  # noqa: SLF001 - the private record itself
    assert opened.secret == PASSWORD  # the control: the record does hold the password
    shown = repr(opened) + str(opened)
    assert PASSWORD.decode() not in shown
    assert "not shown" in shown
