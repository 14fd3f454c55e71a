"""JKS and JCEKS key stores (key entry + trusted CAs), proven against JDK 17's keytool."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from tests.commands import keytool
from tests.pki import Hierarchy, make_certificate
from truststore_builder._errors import MalformedInputError, WrongPasswordError
from truststore_builder._formats import jks as jks_module
from truststore_builder._formats.jks import (
    load_jks_identities,
    load_jks_store,
    looks_like_jks,
    parse_jks_key_entry_aliases,
    parse_jks_trusted_certificates,
    serialize_jks_keystore,
)
from truststore_builder._model import sha256_fingerprint

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from tests.pki import GeneratedPki, PrivateKey

STORE_PASSWORD = "mesh-store-pw"
KEY_PASSWORD = "mesh-key-pw"
WRONG_PASSWORD = "not-the-key-password"
NON_ASCII_PASSWORD = "pässwörd-€-\U0001d11e"
ALIAS = "mesh-client"


def full_chain(hierarchy: Hierarchy) -> list[x509.Certificate]:
    """Client, intermediate, root: the chain a key entry carries."""
    return [
        hierarchy.client.certificate,
        hierarchy.intermediate.certificate,
        hierarchy.root.certificate,
    ]


def cas(pki: GeneratedPki) -> list[tuple[str, x509.Certificate]]:
    """The G1 and G2 CA certificates, aliased as the library would."""
    return [
        ("test-g1-root", pki.g1.root.certificate),
        ("test-g1-level-1c", pki.g1.intermediate.certificate),
        ("test-g2-root", pki.g2.root.certificate),
        ("test-g2-authentication", pki.g2.intermediate.certificate),
    ]


def write_store(
    path: Path,
    pki: GeneratedPki,
    *,
    key_password: str | None = None,
    store_type: str = "jks",
    hierarchy: Hierarchy | None = None,
) -> bytes:
    """Write a key store holding the G2 client (or ``hierarchy``'s) and the CAs; return it."""
    chosen = hierarchy or pki.g2
    data = serialize_jks_keystore(
        alias=ALIAS,
        key=chosen.client.key,
        chain=full_chain(chosen),
        trusted=cas(pki),
        password=STORE_PASSWORD.encode(),
        key_password=None if key_password is None else key_password.encode(),
        store_type=store_type,
    )
    path.write_bytes(data)
    return data


def import_to_pkcs12(
    path: Path, store_type: str, key_password: str, out: Path
) -> subprocess.CompletedProcess[str]:
    """Keytool -importkeystore of the key entry into a PKCS#12 protected by 'out-pw'."""
    return keytool(
        "-importkeystore", "-noprompt", "-srckeystore", str(path), "-srcstoretype", store_type,
        "-srcstorepass", STORE_PASSWORD, "-destkeystore", str(out), "-deststoretype", "PKCS12",
        "-deststorepass", "out-pw", "-srcalias", ALIAS, "-srckeypass", key_password,
        "-destkeypass", "out-pw",
    )  # fmt: skip


def same_key(left: PrivateKey, right: PrivateKey) -> bool:
    """Whether two private keys share their public numbers."""
    return left.public_key().public_numbers() == right.public_key().public_numbers()


def ec_hierarchy(pki: GeneratedPki) -> Hierarchy:
    """The G2 hierarchy with an EC P-256 client certificate in place of the RSA one."""
    client = make_certificate(
        pki.g2.client.certificate.subject,
        ec.generate_private_key(ec.SECP256R1()),
        issuer=pki.g2.intermediate,
        ca=False,
    )
    return Hierarchy(pki.g2.root, pki.g2.intermediate, client)


@pytest.mark.slow
@pytest.mark.parametrize("store_type", ["JKS", "JCEKS"])
def test_keytool_lists_the_key_entry_and_the_trusted_cas(
    tmp_path: Path, pki: GeneratedPki, store_type: str
) -> None:
    """Keytool lists our alias as a PrivateKeyEntry with a 3-certificate chain, CAs as trusted."""
    path = tmp_path / "keystore.store"
    write_store(path, pki, store_type=store_type.lower())
    done = keytool(
        "-list", "-v", "-keystore", str(path), "-storepass", STORE_PASSWORD,
        "-storetype", store_type,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    blocks = {
        block.split("\n", 1)[0].strip(): block for block in done.stdout.split("Alias name: ")[1:]
    }
    assert set(blocks) == {ALIAS} | {alias for alias, _ in cas(pki)}
    assert "Entry type: PrivateKeyEntry" in blocks[ALIAS]
    assert "Certificate chain length: 3" in blocks[ALIAS]
    leaf_sha256 = blocks[ALIAS].split("SHA256: ", 1)[1].split("\n", 1)[0]
    assert leaf_sha256.replace(":", "").lower() == sha256_fingerprint(pki.g2.client.certificate)
    for alias, certificate in cas(pki):
        assert "Entry type: trustedCertEntry" in blocks[alias]
        sha256 = blocks[alias].split("SHA256: ", 1)[1].split("\n", 1)[0]
        assert sha256.replace(":", "").lower() == sha256_fingerprint(certificate)


@pytest.mark.slow
@pytest.mark.parametrize("store_type", ["JKS", "JCEKS"])
def test_keytool_importkeystore_recovers_the_key(
    tmp_path: Path, pki: GeneratedPki, store_type: str
) -> None:
    """Keytool moves the key entry into PKCS#12, and OpenSSL finds the client's own key there."""
    path = tmp_path / "keystore.store"
    write_store(path, pki, store_type=store_type.lower())
    out = tmp_path / "out.p12"
    done = import_to_pkcs12(path, store_type, STORE_PASSWORD, out)
    assert done.returncode == 0, done.stdout + done.stderr
    pem = subprocess.run(
        ["openssl", "pkcs12", "-in", str(out), "-nocerts", "-nodes", "-passin", "pass:out-pw"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    key = serialization.load_pem_private_key(pem, password=None)
    assert (
        key.public_key().public_numbers()  # type: ignore[union-attr]
        == pki.g2.client.certificate.public_key().public_numbers()  # type: ignore[union-attr]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store_type", "key_password"),
    [("JKS", KEY_PASSWORD), ("JKS", NON_ASCII_PASSWORD), ("JCEKS", KEY_PASSWORD)],
)
def test_a_separate_key_password_is_the_one_keytool_needs(
    tmp_path: Path, pki: GeneratedPki, store_type: str, key_password: str
) -> None:
    """With a separate key password, keytool fails with the store password and works with it."""
    path = tmp_path / "keystore.store"
    write_store(path, pki, key_password=key_password, store_type=store_type.lower())
    refused = import_to_pkcs12(path, store_type, STORE_PASSWORD, tmp_path / "refused.p12")
    assert refused.returncode != 0
    assert "UnrecoverableKeyException" in refused.stdout + refused.stderr
    accepted = import_to_pkcs12(path, store_type, key_password, tmp_path / "accepted.p12")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


@pytest.mark.slow
def test_an_ec_key_entry_works_with_keytool(tmp_path: Path, pki: GeneratedPki) -> None:
    """An EC P-256 client key is listed as a key entry and recovered by keytool -importkeystore."""
    hierarchy = ec_hierarchy(pki)
    path = tmp_path / "ec.jks"
    data = write_store(path, pki, hierarchy=hierarchy)
    listed = keytool("-list", "-keystore", str(path), "-storepass", STORE_PASSWORD)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert f"{ALIAS}, " in listed.stdout
    assert "PrivateKeyEntry" in listed.stdout
    done = import_to_pkcs12(path, "JKS", STORE_PASSWORD, tmp_path / "ec.p12")
    assert done.returncode == 0, done.stdout + done.stderr
    [(alias, key, chain)] = load_jks_identities(data, STORE_PASSWORD.encode(), str(path))
    assert alias == ALIAS
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert same_key(key, hierarchy.client.key)
    assert chain == full_chain(hierarchy)


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_load_jks_identities_round_trip(tmp_path: Path, pki: GeneratedPki, store_type: str) -> None:
    """Written then loaded: same alias, same key (public numbers), chain leaf first."""
    data = write_store(tmp_path / "ks", pki, key_password=KEY_PASSWORD, store_type=store_type)
    assert looks_like_jks(data) == store_type
    [(alias, key, chain)] = load_jks_identities(
        data, STORE_PASSWORD.encode(), "ks", key_password=KEY_PASSWORD.encode()
    )
    assert alias == ALIAS
    assert same_key(key, pki.g2.client.key)
    assert chain == full_chain(pki.g2)
    # The certificate view agrees: the chain untrusted under the key alias, the CAs trusted.
    entries = load_jks_store(data, STORE_PASSWORD.encode(), "ks")
    assert [(e.alias, e.trusted) for e in entries] == [(ALIAS, False)] * 3 + [
        (alias, True) for alias, _ in cas(pki)
    ]


def test_key_password_defaults_to_the_store_password(tmp_path: Path, pki: GeneratedPki) -> None:
    """Without a key password, the store password protects the key, and decrypts it on reading."""
    data = write_store(tmp_path / "ks.jks", pki)
    [(_, key, _)] = load_jks_identities(data, STORE_PASSWORD.encode(), "ks.jks")
    assert same_key(key, pki.g2.client.key)
    assert parse_jks_key_entry_aliases(data, STORE_PASSWORD.encode()) == [(ALIAS, 3)]


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_wrong_key_password_is_typed_and_not_echoed(
    tmp_path: Path, pki: GeneratedPki, store_type: str
) -> None:
    """A wrong key password raises WrongPasswordError naming the entry, never the password."""
    data = write_store(tmp_path / "ks", pki, key_password=KEY_PASSWORD, store_type=store_type)
    for password in (WRONG_PASSWORD, NON_ASCII_PASSWORD):
        with pytest.raises(WrongPasswordError) as caught:
            load_jks_identities(
                data, STORE_PASSWORD.encode(), "old/ks", key_password=password.encode()
            )
        message = str(caught.value)
        assert message == f"old/ks: the key password does not decrypt entry {ALIAS!r}"
        assert caught.value.source == "old/ks"
    # No key password: the store password is tried, and is not the key's either.
    with pytest.raises(WrongPasswordError, match="does not decrypt entry"):
        load_jks_identities(data, STORE_PASSWORD.encode(), "old/ks")
    with pytest.raises(WrongPasswordError) as parsed:
        parse_jks_key_entry_aliases(
            data, STORE_PASSWORD.encode(), key_password=WRONG_PASSWORD.encode()
        )
    assert WRONG_PASSWORD not in str(parsed.value)
    assert KEY_PASSWORD not in str(parsed.value)


def test_wrong_store_password_is_refused_before_any_key(tmp_path: Path, pki: GeneratedPki) -> None:
    """A wrong store password fails the integrity check in both readers of key stores."""
    data = write_store(tmp_path / "ks.jks", pki)
    with pytest.raises(WrongPasswordError, match="integrity check failed"):
        load_jks_identities(data, WRONG_PASSWORD.encode(), "ks.jks")
    with pytest.raises(WrongPasswordError, match="integrity check failed"):
        parse_jks_key_entry_aliases(data, WRONG_PASSWORD.encode())


@pytest.mark.slow
@pytest.mark.parametrize("store_type", ["JKS", "JCEKS"])
def test_a_keytool_made_key_store_loads(tmp_path: Path, store_type: str) -> None:
    """Keytool -genkeypair's entry (own key password) decrypts through pyjks and our own reader."""
    path = tmp_path / "keytool.store"
    made = keytool(
        "-genkeypair", "-keystore", str(path), "-storepass", STORE_PASSWORD,
        "-storetype", store_type, "-keypass", KEY_PASSWORD, "-alias", "old-g1-client",
        "-keyalg", "RSA", "-keysize", "2048", "-validity", "2", "-dname", "CN=old client",
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    data = path.read_bytes()
    [(alias, key, chain)] = load_jks_identities(
        data, STORE_PASSWORD.encode(), str(path), key_password=KEY_PASSWORD.encode()
    )
    assert alias == "old-g1-client"
    assert chain[0].subject.rfc4514_string() == "CN=old client"
    assert (
        key.public_key().public_numbers() == chain[0].public_key().public_numbers()  # type: ignore[union-attr]
    )
    # Java's own protection (SHA-1 keystream or PBEWithMD5AndTripleDES) decrypts independently.
    assert parse_jks_key_entry_aliases(
        data, STORE_PASSWORD.encode(), key_password=KEY_PASSWORD.encode()
    ) == [("old-g1-client", 1)]


@pytest.mark.parametrize("store_type", ["jks", "jceks"])
def test_independent_reader_sees_the_key_entry(
    tmp_path: Path, pki: GeneratedPki, store_type: str
) -> None:
    """The pyjks-free reader finds the key alias, its chain length, and the trusted CAs."""
    data = write_store(tmp_path / "ks", pki, key_password=KEY_PASSWORD, store_type=store_type)
    keys = parse_jks_key_entry_aliases(
        data, STORE_PASSWORD.encode(), key_password=KEY_PASSWORD.encode()
    )
    assert keys == [(ALIAS, 3)]
    trusted = parse_jks_trusted_certificates(data, STORE_PASSWORD.encode())
    assert [alias for alias, _ in trusted] == [alias for alias, _ in cas(pki)]


def test_entry_dates_come_from_the_certificates(tmp_path: Path, pki: GeneratedPki) -> None:
    """Entry dates are each certificate's notBefore, not the clock (the key's: its leaf's)."""
    import jks  # noqa: PLC0415

    data = write_store(tmp_path / "ks.jks", pki)
    store = jks.KeyStore.loads(data, STORE_PASSWORD, try_decrypt_keys=False)
    expected = {ALIAS: pki.g2.client.certificate} | dict(cas(pki))
    for alias, certificate in expected.items():
        millis = int(certificate.not_valid_before_utc.timestamp()) * 1000
        assert store.entries[alias].timestamp == millis


@pytest.mark.parametrize(
    ("alias", "trusted_alias", "problem"),
    [
        ("test-g2-root", "test-g2-root", "appears twice"),
        ("Mesh-Client", "test-g2-root", "not lower-case"),
        (ALIAS, ALIAS.upper(), "not lower-case"),
        ("", "test-g2-root", "must not be empty"),
    ],
)
def test_key_alias_must_be_unique_and_lower_case(
    pki: GeneratedPki, alias: str, trusted_alias: str, problem: str
) -> None:
    """The key alias may not repeat a trusted alias, in any case, and must be lower-case."""
    with pytest.raises(ValueError, match=problem):
        serialize_jks_keystore(
            alias=alias,
            key=pki.g2.client.key,
            chain=full_chain(pki.g2),
            trusted=[(trusted_alias, pki.g2.root.certificate)],
            password=STORE_PASSWORD.encode(),
        )


def test_bad_key_store_inputs_are_refused(pki: GeneratedPki) -> None:
    """Wrong key, empty chain, JCEKS non-ASCII key password, non-UTF-8 password: ValueError."""
    base = {
        "alias": ALIAS,
        "key": pki.g2.client.key,
        "chain": full_chain(pki.g2),
        "trusted": cas(pki),
        "password": STORE_PASSWORD.encode(),
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"key": pki.g1.client.key}, "does not belong to its first certificate"),
        ({"chain": []}, "needs a certificate chain"),
        (
            {"store_type": "jceks", "key_password": NON_ASCII_PASSWORD.encode()},
            "printable ASCII",
        ),
        ({"password": b"\xff\xfe"}, "store password is not valid UTF-8"),
        ({"key_password": b"\xff\xfe"}, "key password is not valid UTF-8"),
        ({"store_type": "pkcs12"}, "unknown Java key store type"),
    ]
    for change, problem in cases:
        with pytest.raises(ValueError, match=problem) as caught:
            serialize_jks_keystore(**{**base, **change})  # type: ignore[arg-type]
        assert NON_ASCII_PASSWORD not in str(caught.value)


def test_independent_reader_refuses_a_mangled_protected_key(
    tmp_path: Path, pki: GeneratedPki
) -> None:
    """A flipped byte in the protected key (digest recomputed) fails the key's own SHA-1 check."""
    from truststore_builder._formats import jks as jks_format  # noqa: PLC0415

    data = bytearray(write_store(tmp_path / "ks.jks", pki))
    # The protected key follows the first entry's tag, alias and date; flip a byte well inside.
    offset = 4 + 4 + 4 + 4 + 2 + len(ALIAS) + 8 + 4 + 100
    data[offset] ^= 0x01
    body = bytes(data[: -jks_format._DIGEST_SIZE])  # noqa: SLF001
    resealed = body + jks_format._integrity_digest(STORE_PASSWORD, body)  # noqa: SLF001
    with pytest.raises(WrongPasswordError, match="does not decrypt entry"):
        parse_jks_key_entry_aliases(resealed, STORE_PASSWORD.encode())
    with pytest.raises(WrongPasswordError, match="does not decrypt entry"):
        load_jks_identities(resealed, STORE_PASSWORD.encode(), "<bytes>")


def test_a_malformed_protected_key_is_malformed_not_a_wrong_password(
    tmp_path: Path, pki: GeneratedPki
) -> None:
    """A protected key that is no EncryptedPrivateKeyInfo is MalformedInputError in both readers."""
    from truststore_builder._formats import jks as jks_format  # noqa: PLC0415

    data = bytearray(write_store(tmp_path / "ks.jks", pki))
    start = 4 + 4 + 4 + 4 + 2 + len(ALIAS) + 8 + 4  # the protected key's first byte
    assert data[start] == 0x30  # a DER SEQUENCE
    data[start] = 0x31  # now a SET
    body = bytes(data[: -jks_format._DIGEST_SIZE])  # noqa: SLF001
    resealed = body + jks_format._integrity_digest(STORE_PASSWORD, body)  # noqa: SLF001
    with pytest.raises(MalformedInputError, match="well-formed protected key"):
        parse_jks_key_entry_aliases(resealed, STORE_PASSWORD.encode())
    with pytest.raises(MalformedInputError, match="well-formed protected key"):
        load_jks_identities(resealed, STORE_PASSWORD.encode(), "<bytes>")


def jceks_key_store(pki: GeneratedPki, key_password: str) -> bytes:
    """A JCEKS store of the G2 client's key entry alone, at the module's _JCE_ITERATIONS."""
    return serialize_jks_keystore(
        alias=ALIAS,
        key=pki.g2.client.key,
        chain=full_chain(pki.g2),
        trusted=[],
        password=STORE_PASSWORD.encode(),
        key_password=key_password.encode(),
        store_type="jceks",
    )


def padding_passing_password(data: bytes) -> str:
    """A wrong key password under which the store's JCEKS key decrypts to valid PKCS#5 padding.

    The store holds one key entry, protected with one PBEWithMD5AndTripleDES iteration.
    """
    start = 12 + 4 + 2 + len(ALIAS) + 8  # header, tag, alias, date
    (size,) = struct.unpack(">I", data[start : start + 4])
    protected = data[start + 4 : start + 4 + size]
    salt_at = protected.index(b"\x04\x08") + 2  # OCTET STRING of 8: the salt
    salt = protected[salt_at : salt_at + 8]
    tail = protected[salt_at + 8 :]
    assert tail.startswith(b"\x02\x01\x01\x04\x82")  # one iteration; the long ciphertext
    ciphertext = tail[7:]
    assert len(ciphertext) == int.from_bytes(tail[5:7], "big")
    for attempt in range(100_000):  # one in 256 pads validly: never reached
        candidate = f"{WRONG_PASSWORD}-{attempt}".encode()
        # SunJCE's derivation at one iteration: MD5 of each salt half and the password.
        derived = b"".join(
            hashlib.md5(half + candidate, usedforsecurity=False).digest()
            for half in (salt[:4], salt[4:])
        )
        decryptor = Cipher(TripleDES(derived[:24]), modes.CBC(derived[24:])).decryptor()
        if (decryptor.update(ciphertext) + decryptor.finalize()).endswith(b"\x01"):
            return candidate.decode()
    raise AssertionError


def test_wrong_jceks_key_password_with_valid_padding_is_still_wrong(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong JCEKS key password whose 3DES garbage ends in valid padding is WrongPasswordError."""
    # One iteration (not SunJCE's 200,000) makes the search for such a password instant.
    monkeypatch.setattr(jks_module, "_JCE_ITERATIONS", 1)
    data = jceks_key_store(pki, KEY_PASSWORD)
    wrong = padding_passing_password(data)
    with pytest.raises(WrongPasswordError, match="does not decrypt entry"):
        load_jks_identities(data, STORE_PASSWORD.encode(), "ks", key_password=wrong.encode())
    # The control: the right key password still decrypts the key.
    [(_, key, _)] = load_jks_identities(
        data, STORE_PASSWORD.encode(), "ks", key_password=KEY_PASSWORD.encode()
    )
    assert same_key(key, pki.g2.client.key)


def test_jceks_key_entries_asking_too_much_derivation_in_all_are_refused_before_any_runs(
    pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two JCEKS key entries at SunJCE's 5,000,000 cap each (~45 s of MD5): refused in < 1 s."""
    monkeypatch.setattr(jks_module, "_JCE_ITERATIONS", 0x10000)  # INTEGER 02 03 01 00 00
    one = jceks_key_store(pki, STORE_PASSWORD)
    entry = one[12:-20]
    twin = entry.replace(ALIAS.encode(), ALIAS[:-1].encode() + b"x", 1)

    def store(iterations: bytes) -> bytes:
        body = one[:8] + struct.pack(">I", 2) + entry + twin
        body = body.replace(b"\x02\x03\x01\x00\x00", b"\x02\x03" + iterations)
        digest = hashlib.sha1(usedforsecurity=False)
        for part in (STORE_PASSWORD.encode("utf-16-be"), b"Mighty Aphrodite", body):
            digest.update(part)
        return body + digest.digest()

    costly = store((5_000_000).to_bytes(3, "big"))
    for read in (load_jks_identities, parse_jks_key_entry_aliases):
        started = time.monotonic()
        with pytest.raises(MalformedInputError, match="10,000,000 key-derivation iterations"):
            read(costly, STORE_PASSWORD.encode(), source="ks")
        assert time.monotonic() - started < 1
    # The control: the same two entries at 65,536 iterations each decrypt.
    cheap = store(b"\x01\x00\x00")
    assert [alias for alias, _, _ in load_jks_identities(cheap, STORE_PASSWORD.encode(), "ks")] == [
        ALIAS,
        ALIAS[:-1] + "x",
    ]
