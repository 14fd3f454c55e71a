"""A corpus of hostile and malformed inputs for every reader, generated at test time.

Nothing here is committed as a file: the valid originals (a small EC hierarchy in every format)
are made fresh, and each malformed input is derived from one of them (truncated, bit-flipped,
re-headed, given a huge declared length, ...) or built from scratch (junk, many PEM blocks).

Each :class:`Case` names the reader it is for (a key into :data:`READERS`), the bytes, and the
password to offer. The test module feeds every case to its reader and to ``inspect`` and checks
that the failure is one of the library's typed errors, naming the input, within a time bound.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID

from truststore_builder._formats import asn1, jks, keys, pkcs12
from truststore_builder._formats import pem as pem_format
from truststore_builder._formats.keys import PrivateKey
from truststore_builder._sources import files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


__all__ = [
    "PASSWORD",
    "READERS",
    "Case",
    "FieldStore",
    "Originals",
    "cases",
    "cheap_pkcs12",
    "costly_pkcs12",
    "make_field_stores",
    "make_originals",
    "non_positive_serial",
    "truncations",
]

#: The store password of every valid original.
PASSWORD = b"Corpus-Pa55word"
_NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_SERIAL = 0x4242


@attrs.frozen
class Originals:
    """The valid files every malformed input is derived from (all small: EC P-256)."""

    ca: x509.Certificate
    leaf: x509.Certificate
    key: PrivateKey = attrs.field(repr=False)
    files: dict[str, bytes] = attrs.field(repr=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: PrivateKey, issuer: tuple[str, PrivateKey] | None, *, ca: bool
) -> x509.Certificate:
    issuer_name, signer = issuer or (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(_SERIAL)
        .not_valid_before(_NOW)
        .not_valid_after(_NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )


def make_originals() -> Originals:
    """A CA, a leaf and its key, in every format the library reads."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Corpus CA", ca_key, None, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _certificate("corpus.leaf.test", key, ("Corpus CA", ca_key), ca=False)
    trusted = [("corpus-ca", ca)]
    made = {
        "der": ca.public_bytes(Encoding.DER),
        "pem": ca.public_bytes(Encoding.PEM) + leaf.public_bytes(Encoding.PEM),
        "p7b": pkcs7.serialize_certificates([ca, leaf], Encoding.DER),
        "p7b-pem": pkcs7.serialize_certificates([ca], Encoding.PEM),
        "p12": pkcs12.serialize_pkcs12_truststore(trusted, PASSWORD),
        "p12-key": pkcs12.serialize_pkcs12_keystore(
            alias="client", key=key, chain=[leaf, ca], trusted=[], password=PASSWORD
        ),
        "jks": jks.serialize_jks_truststore(trusted, PASSWORD, store_type="jks"),
        "jceks": jks.serialize_jks_truststore(trusted, PASSWORD, store_type="jceks"),
        "jks-key": jks.serialize_jks_keystore(
            alias="client", key=key, chain=[leaf, ca], trusted=[], password=PASSWORD
        ),
        "key-pem": keys.serialize_private_key_pem(key),
        "key-pem-encrypted": keys.serialize_private_key_pem(key, PASSWORD),
        "key-der": key.private_bytes(
            Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    }
    return Originals(ca=ca, leaf=leaf, key=key, files=made)


# --- the readers ------------------------------------------------------------------------------


def _read_store(data: bytes, password: bytes | None, source: str) -> object:
    del source  # read_store names bytes "<bytes>"; the file cases name the path
    return files.read_store(data, password=password)


def _identities_pkcs12(data: bytes, password: bytes | None, source: str) -> object:
    return pkcs12.load_pkcs12_identities(data, password, source)


def _identities_jks(data: bytes, password: bytes | None, source: str) -> object:
    return jks.load_jks_identities(data, password or b"", source)


def _jks_store(data: bytes, password: bytes | None, source: str) -> object:
    return jks.load_jks_store(data, password, source)


def _key(data: bytes, password: bytes | None, source: str) -> object:
    return keys.load_private_key(data, password, source)


def _pem(data: bytes, password: bytes | None, source: str) -> object:
    del password
    return pem_format.load_pem_certificates(data, source)


def _der(data: bytes, password: bytes | None, source: str) -> object:
    del password
    from truststore_builder._formats import der  # noqa: PLC0415

    return der.load_der_certificate(data, source)


def _pkcs7(data: bytes, password: bytes | None, source: str) -> object:
    del password
    from truststore_builder._formats import pkcs7 as pkcs7_format  # noqa: PLC0415

    return pkcs7_format.load_pkcs7_certificates(data, source)


def _pkcs12_store(data: bytes, password: bytes | None, source: str) -> object:
    return pkcs12.load_pkcs12_store(data, password, source)


def _detect(data: bytes, password: bytes | None, source: str) -> object:
    del password
    # Detection, then reading what it found, as read_store does for a file.
    return files._entries_from_data(data, source, PASSWORD)  # noqa: SLF001


#: Every reader the corpus drives: (data, password, source name) -> anything, or a typed error.
READERS: dict[str, Callable[[bytes, bytes | None, str], object]] = {
    "store": _read_store,
    "detect": _detect,
    "pem": _pem,
    "der": _der,
    "pkcs7": _pkcs7,
    "pkcs12": _pkcs12_store,
    "pkcs12-identities": _identities_pkcs12,
    "jks": _jks_store,
    "jks-identities": _identities_jks,
    "key": _key,
}

#: The reader (beyond ``detect``) that fits each original.
_READER_OF = {
    "der": "der",
    "pem": "pem",
    "p7b": "pkcs7",
    "p7b-pem": "pkcs7",
    "p12": "pkcs12",
    "p12-key": "pkcs12-identities",
    "jks": "jks",
    "jceks": "jks",
    "jks-key": "jks-identities",
    "key-pem": "key",
    "key-pem-encrypted": "key",
    "key-der": "key",
}


@attrs.frozen
class Case:
    """One malformed input.

    Attributes:
        name: Unique and readable: ``<category>/<original>/<detail>``.
        reader: A key of :data:`READERS`.
        data: The input's bytes.
        password: The password offered (None: none).
        category: What kind of damage it is.
    """

    name: str
    reader: str
    data: bytes = attrs.field(repr=False)
    password: bytes | None = attrs.field(repr=False, default=PASSWORD)
    category: str = ""


def truncations(originals: Originals, original: str) -> Iterator[Case]:
    """The original cut at every length from 1 to one byte short, for its own reader.

    PEM files are cut too, though some cuts (inside the trailing newline, between two
    certificates) are still valid PEM: the caller accepts a clean read for those.
    """
    data = originals.files[original]
    for length in range(1, len(data)):
        yield Case(
            f"truncation/{original}/{length}",
            _READER_OF[original],
            data[:length],
            category="truncation",
        )


def _bit_flips(originals: Originals, rng: random.Random) -> Iterator[Case]:
    for original in ("der", "p12", "p12-key", "jks", "jceks", "jks-key", "key-der", "p7b"):
        data = originals.files[original]
        for _ in range(6):
            position = rng.randrange(len(data))
            bit = rng.randrange(8)
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            yield Case(
                f"bit-flip/{original}/{position}.{bit}",
                _READER_OF[original],
                bytes(flipped),
                category="bit flip",
            )


def _passwords(originals: Originals) -> Iterator[Case]:
    wrong = {"wrong": b"not-the-password", "empty": b"", "none": None, "non-utf8": b"\xff\xfe"}
    for original in ("p12", "p12-key", "jks", "jceks", "jks-key", "key-pem-encrypted"):
        for label, password in wrong.items():
            if original in {"jks", "jceks"} and password is None:
                continue  # JKS read without a password skips the digest, as keytool -list does
            if original == "p12-key" and label == "empty":
                # load_pkcs12_identities takes b"" as no password: covered by "none".
                continue
            yield Case(
                f"password/{original}/{label}",
                _READER_OF[original],
                originals.files[original],
                password,
                category="wrong or empty password",
            )


def _tampered(originals: Originals) -> Iterator[Case]:
    p12 = originals.files["p12"]
    # The MAC value is the last OCTET STRING but for the salt and iteration count; flipping
    # the byte before "salt, iterations" lands in it. Flip at a fixed place found by search.
    mac_at = p12.rfind(b"\x04\x20")  # OCTET STRING of 32 bytes: the HMAC-SHA256 value
    tampered_mac = bytearray(p12)
    tampered_mac[mac_at + 5] ^= 0x01
    yield Case("tampered/p12/mac", "pkcs12", bytes(tampered_mac), category="tampered MAC")
    body = bytearray(p12)
    body[len(p12) // 3] ^= 0x01
    yield Case("tampered/p12/body", "pkcs12", bytes(body), category="tampered MAC")
    key_store = bytearray(originals.files["p12-key"])
    key_store[-40] ^= 0x01
    yield Case(
        "tampered/p12-key/mac", "pkcs12-identities", bytes(key_store), category="tampered MAC"
    )
    for original in ("jks", "jceks", "jks-key"):
        data = bytearray(originals.files[original])
        data[-1] ^= 0x01
        yield Case(
            f"tampered/{original}/digest",
            _READER_OF[original],
            bytes(data),
            category="tampered JKS digest",
        )
        data = bytearray(originals.files[original])
        data[len(data) // 2] ^= 0x01
        yield Case(
            f"tampered/{original}/body",
            _READER_OF[original],
            bytes(data),
            category="tampered JKS digest",
        )


def _jks_digest(password: bytes, body: bytes) -> bytes:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(password.decode().encode("utf-16-be"))
    digest.update(b"Mighty Aphrodite")
    digest.update(body)
    return digest.digest()


def _jks_with_body(body: bytes) -> bytes:
    """A JKS store around ``body`` with a correct digest, so only the structure is hostile."""
    return body + _jks_digest(PASSWORD, body)


def _huge_lengths(originals: Originals) -> Iterator[Case]:
    category = "huge declared length"
    huge = b"\x84\x7f\xff\xff\xff"
    yield Case("huge/der/outer", "der", b"\x30" + huge + b"\x30\x03\x02\x01\x01", category=category)
    yield Case(
        "huge/der/store", "store", b"\x30" + huge + b"\x30\x03\x02\x01\x01", category=category
    )
    der = originals.files["der"]
    # The inner TBSCertificate claims 2 GiB inside an outer SEQUENCE of the right size.
    yield Case("huge/der/inner", "der", der[:4] + b"\x30" + huge + der[8:], category=category)
    yield Case(
        "huge/p12/outer",
        "pkcs12",
        b"\x30" + huge + b"\x02\x01\x03\x30\x00",
        category=category,
    )
    p12 = originals.files["p12"]
    yield Case(
        "huge/p12/store",
        "store",
        b"\x30" + huge + p12[4:],
        category=category,
    )
    p7 = originals.files["p7b"]
    yield Case("huge/p7b/outer", "pkcs7", b"\x30" + huge + p7[4:], category=category)
    # JKS: an entry count of 2**31-1, an alias length of 65535, a certificate of 2 GiB.
    header = b"\xfe\xed\xfe\xed" + struct.pack(">I", 2)
    yield Case(
        "huge/jks/entry-count",
        "jks",
        _jks_with_body(header + struct.pack(">I", 0x7FFFFFFF)),
        category=category,
    )
    entry = struct.pack(">I", 2) + struct.pack(">H", 1) + b"a" + struct.pack(">Q", 0)
    entry += struct.pack(">H", 5) + b"X.509" + struct.pack(">I", 0x7FFFFFFF) + b"\x30\x82"
    yield Case(
        "huge/jks/certificate",
        "jks",
        _jks_with_body(header + struct.pack(">I", 1) + entry),
        category=category,
    )
    yield Case(
        "huge/jks/alias",
        "jks",
        _jks_with_body(header + struct.pack(">I", 1) + struct.pack(">IH", 2, 0xFFFF) + b"a"),
        category=category,
    )
    yield Case(
        "huge/jks/chain-length",
        "jks-identities",
        _jks_with_body(
            header
            + struct.pack(">I", 1)
            + struct.pack(">IH", 1, 1)
            + b"a"
            + struct.pack(">Q", 0)
            + struct.pack(">I", 4)
            + b"\x30\x02\x30\x00"
            + struct.pack(">I", 0x7FFFFFFF)
        ),
        category=category,
    )
    key = originals.files["key-der"]
    yield Case("huge/key/der", "key", b"\x30" + huge + key[2:], category=category)


def _junk(rng: random.Random) -> Iterator[Case]:
    yield Case("junk/empty", "store", b"", category="junk")
    yield Case("junk/whitespace", "store", b" \r\n\t\n", category="junk")
    yield Case("junk/bom", "store", b"\xef\xbb\xbf\n", category="junk")
    yield Case("junk/text", "store", b"hello, world\n", category="junk")
    yield Case("junk/nul", "store", b"\0" * 4096, category="junk")
    yield Case("junk/random-1k", "store", rng.randbytes(1024), category="junk")
    yield Case("junk/sequence-short", "store", b"\x30", category="junk")
    yield Case("junk/sequence-empty", "store", b"\x30\x00", category="junk")
    yield Case("junk/indefinite-length", "store", b"\x30\x80\x30\x80\0\0\0\0", category="junk")
    yield Case("junk/jks-magic-only", "store", b"\xfe\xed\xfe\xed", category="junk")
    yield Case("junk/jceks-magic-only", "store", b"\xce\xce\xce\xce", category="junk")
    yield Case(
        "junk/jks-version-99",
        "jks",
        _jks_with_body(b"\xfe\xed\xfe\xed" + struct.pack(">II", 99, 0)),
        category="junk",
    )
    yield Case(
        "junk/jks-unknown-tag",
        "jks",
        _jks_with_body(
            b"\xfe\xed\xfe\xed" + struct.pack(">III", 2, 1, 7) + struct.pack(">H", 1) + b"a"
        ),
        category="junk",
    )
    yield Case("junk/key-random", "key", rng.randbytes(256), category="junk")
    yield Case("junk/key-empty", "key", b"", category="junk")
    yield Case(
        "junk/pem-bad-base64",
        "pem",
        b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        category="junk",
    )
    yield Case(
        "junk/pem-no-end",
        "pem",
        b"-----BEGIN CERTIFICATE-----\nMIIB\n",
        category="junk",
    )
    yield Case(
        "junk/pem-not-a-certificate",
        "pem",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        category="junk",
    )
    yield Case(
        "junk/pem-key-in-certificate-slot", "store", b"", category="key in a certificate slot"
    )


def _wrong_kind(originals: Originals) -> Iterator[Case]:
    category = "wrong kind of input"
    made = originals.files
    yield Case("kind/key-as-store", "store", made["key-pem"], category=category)
    yield Case("kind/encrypted-key-as-store", "store", made["key-pem-encrypted"], category=category)
    yield Case("kind/certificate-as-key", "key", made["pem"], category=category)
    yield Case("kind/der-certificate-as-key", "key", made["der"], category=category)
    yield Case("kind/p12-as-key", "key", made["p12"], category=category)
    yield Case("kind/pem-as-pkcs7", "pkcs7", made["pem"], category=category)
    yield Case("kind/p12-as-jks", "jks", made["p12"], category=category)
    yield Case("kind/jks-as-pkcs12", "pkcs12", made["jks"], category=category)
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    yield Case("kind/ed25519-key", "key", ed, category=category)
    yield Case(
        "kind/password-for-plain-key", "key", made["key-pem"], b"unneeded", category=category
    )


def _fuzz_regressions(originals: Originals) -> Iterator[Case]:
    """Crashes atheris found (fuzz/), kept as regression cases."""
    category = "fuzz regression"
    der = originals.files["der"]
    # X.509 version 11 (INTEGER 10): cryptography raises InvalidVersion, which is no ValueError.
    at = der.find(b"\xa0\x03\x02\x01\x02")
    bad_version = der[:at] + b"\xa0\x03\x02\x01\x0a" + der[at + 5 :]
    yield Case("fuzz/der/x509-version-11", "der", bad_version, category=category)
    yield Case("fuzz/store/x509-version-11", "store", bad_version, category=category)
    block = b"-----BEGIN CERTIFICATE-----\n" + _base64(bad_version) + b"-----END CERTIFICATE-----\n"
    yield Case("fuzz/pem/x509-version-11", "pem", block, category=category)
    # A PEM PKCS7 block whose ContentInfo is enveloped data (…7.3), not signed data (…7.2):
    # cryptography raises UnsupportedAlgorithm, which is no ValueError.
    p7 = originals.files["p7b"]
    oid = bytes.fromhex("06092a864886f70d010702")
    enveloped = p7.replace(oid, oid[:-1] + b"\x03", 1)
    wrapped = b"-----BEGIN PKCS7-----\n" + _base64(enveloped) + b"-----END PKCS7-----\n"
    yield Case("fuzz/pkcs7/enveloped-data", "pkcs7", wrapped, category=category)
    yield Case("fuzz/store/enveloped-data", "store", wrapped, category=category)
    # A PKCS#7 bundle holding a certificate of X.509 version 36: InvalidVersion again, from the
    # PKCS#7 path this time (found by the in-CI fuzz run).
    signed = p7.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x23", 1)
    yield Case("fuzz/pkcs7/x509-version-36", "pkcs7", signed, category=category)


def _base64(data: bytes) -> bytes:
    import base64  # noqa: PLC0415

    text = base64.b64encode(data)
    return b"".join(text[i : i + 64] + b"\n" for i in range(0, len(text), 64))


# --- PKCS#12 files that ask for too much key derivation -------------------------------------

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES_256_CBC = "2.16.840.1.101.3.4.1.42"
_PKCS12_3DES = "1.2.840.113549.1.12.1.3"
_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
_DATA = "1.2.840.113549.1.7.1"
_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
_SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"


def _der_oid(dotted: str) -> bytes:
    return asn1.encode_tlv(asn1.OID, asn1.oid_content(dotted))


def _pbes2(iterations: int, salt: bytes = b"s" * 8, iv: bytes = b"i" * 16) -> bytes:
    """A PBES2 AlgorithmIdentifier: PBKDF2-HMAC-SHA256 then AES-256-CBC."""
    seq, integer, octets = pkcs12._sequence, pkcs12._integer, pkcs12._octets  # noqa: SLF001
    prf = seq(_der_oid(_HMAC_SHA256), b"\x05\x00")
    kdf = seq(_der_oid(_PBKDF2), seq(octets(salt), integer(iterations), prf))
    return seq(_der_oid(_PBES2), seq(kdf, seq(_der_oid(_AES_256_CBC), octets(iv))))


def _pkcs12_pbe(iterations: int) -> bytes:
    """A PKCS#12 pbeWithSHAAnd3-KeyTripleDES-CBC AlgorithmIdentifier."""
    seq = pkcs12._sequence  # noqa: SLF001
    return seq(
        _der_oid(_PKCS12_3DES),
        seq(pkcs12._octets(b"s" * 8), pkcs12._integer(iterations)),  # noqa: SLF001
    )


def _encrypted_data(algorithm: bytes, ciphertext: bytes) -> bytes:
    """An EncryptedData ContentInfo."""
    seq = pkcs12._sequence  # noqa: SLF001
    info = seq(_der_oid(_DATA), algorithm, asn1.encode_tlv(asn1.CONTEXT_0_PRIMITIVE, ciphertext))
    return seq(
        _der_oid(_ENCRYPTED_DATA),
        pkcs12._explicit0(seq(pkcs12._integer(0), info)),  # noqa: SLF001
    )


def _shrouded_key_bag(algorithm: bytes) -> bytes:
    seq = pkcs12._sequence  # noqa: SLF001
    info = seq(algorithm, pkcs12._octets(b"k" * 48))  # noqa: SLF001
    return seq(_der_oid(_SHROUDED_KEY_BAG), pkcs12._explicit0(info))  # noqa: SLF001


def _pfx(*content_infos: bytes) -> bytes:
    """A PFX without MAC over the given ContentInfos."""
    auth_safe = pkcs12._sequence(*content_infos)  # noqa: SLF001
    info = pkcs12._data_content_info(auth_safe)  # noqa: SLF001
    return pkcs12._sequence(pkcs12._integer(3), info)  # noqa: SLF001


def _pbes2_encrypt(plain: bytes, password: bytes, iterations: int) -> bytes:
    """Encrypt a SafeContents as an EncryptedData ContentInfo, PBES2 with ``iterations``."""
    from cryptography.hazmat.primitives import padding  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC  # noqa: PLC0415

    salt, iv = b"s" * 8, b"i" * 16
    key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return _encrypted_data(_pbes2(iterations, salt, iv), ciphertext)


def costly_pkcs12(originals: Originals) -> dict[str, bytes]:
    """PKCS#12 files (about 1 KB each, no MAC) whose key derivation would take minutes or more.

    Each must be refused before any KDF runs: 2**31-1 iterations in PBES2 or the PKCS#12 KDF, in
    an encrypted SafeContents or a shrouded key, one hidden in a SafeContents bag or inside an
    encrypted SafeContents of one iteration (there also 20 SafeContents bags deep), and eight
    encrypted blocks at the 5,000,000 limit.
    """
    hostile = 0x7FFFFFFF
    cert_bag = pkcs12._trusted_certificate_bag("ca", originals.ca)  # noqa: SLF001
    seq = pkcs12._sequence  # noqa: SLF001
    nested = seq(
        _der_oid(_SAFE_CONTENTS_BAG),
        pkcs12._explicit0(seq(_shrouded_key_bag(_pbes2(hostile)))),  # noqa: SLF001
    )
    deep = _shrouded_key_bag(_pbes2(hostile))
    for _ in range(20):
        deep = seq(_der_oid(_SAFE_CONTENTS_BAG), pkcs12._explicit0(seq(deep)))  # noqa: SLF001
    return {
        "pbes2-contents": _pfx(_encrypted_data(_pbes2(hostile), b"c" * 1024)),
        "pkcs12-kdf-contents": _pfx(_encrypted_data(_pkcs12_pbe(hostile), b"c" * 1024)),
        "pbes2-key": _pfx(
            pkcs12._data_content_info(seq(cert_bag, _shrouded_key_bag(_pbes2(hostile))))  # noqa: SLF001
        ),
        "pkcs12-kdf-key": _pfx(
            pkcs12._data_content_info(seq(cert_bag, _shrouded_key_bag(_pkcs12_pbe(hostile))))  # noqa: SLF001
        ),
        "key-in-nested-bag": _pfx(pkcs12._data_content_info(seq(cert_bag, nested))),  # noqa: SLF001
        "key-inside-cheap-encryption": _pfx(
            _pbes2_encrypt(seq(cert_bag, _shrouded_key_bag(_pbes2(hostile))), PASSWORD, 1)
        ),
        # Past the walk's nesting limit, where OpenSSL still looks for keys.
        "key-deep-inside-cheap-encryption": _pfx(_pbes2_encrypt(seq(cert_bag, deep), PASSWORD, 1)),
        "eight-blocks-at-the-limit": _pfx(
            *[_encrypted_data(_pbes2(5_000_000), b"c" * 64) for _ in range(8)]
        ),
        "zero-iterations": _pfx(_encrypted_data(_pbes2(0), b"c" * 64)),
    }


def cheap_pkcs12(originals: Originals) -> bytes:
    """The control: the shape of :func:`costly_pkcs12`'s, at one iteration: it reads."""
    cert_bag = pkcs12._trusted_certificate_bag("ca", originals.ca)  # noqa: SLF001
    return _pfx(_pbes2_encrypt(pkcs12._sequence(cert_bag), PASSWORD, 1))  # noqa: SLF001


def non_positive_serial(originals: Originals, serial: bytes) -> bytes:
    """The CA certificate with its serial INTEGER replaced (e.g. ``00`` or ``ff``): DER."""
    der = originals.files["der"]
    at = der.find(b"\x02\x02" + _SERIAL.to_bytes(2, "big"))
    replaced = b"\x02" + bytes([len(serial)]) + serial
    body = der[:at] + replaced + der[at + 4 :]
    # Fix the two enclosing lengths (outer SEQUENCE and TBSCertificate, both 0x81 or 0x82).
    delta = len(replaced) - 4
    return _relength(_relength(body, 0, delta), _inner_offset(body), delta)


def _inner_offset(der: bytes) -> int:
    first = der[1]
    return 2 + (first & 0x7F if first & 0x80 else 0)


def _relength(der: bytes, offset: int, delta: int) -> bytes:
    first = der[offset + 1]
    count = first & 0x7F
    length = int.from_bytes(der[offset + 2 : offset + 2 + count], "big") + delta
    return der[: offset + 2] + length.to_bytes(count, "big") + der[offset + 2 + count :]


def cases(originals: Originals, seed: int = 8) -> list[Case]:
    """Every malformed input but the truncations and the big ones (see the test module)."""
    rng = random.Random(seed)  # noqa: S311  (reproducible junk, not secrets)
    made = [
        *_bit_flips(originals, rng),
        *_passwords(originals),
        *_tampered(originals),
        *_huge_lengths(originals),
        *_junk(rng),
        *_wrong_kind(originals),
        *_fuzz_regressions(originals),
    ]
    return [c for c in made if c.name != "junk/pem-key-in-certificate-slot"]


# --- stores from the field: every keytool and OpenSSL flavour, made at test time ----------------


@attrs.frozen
class FieldStore:
    """A store made by keytool or OpenSSL, with what is needed to read it and list it.

    Attributes:
        name: The flavour, e.g. ``keytool-jceks``.
        path: The file.
        store_type: ``JKS``, ``JCEKS`` or ``PKCS12`` (keytool's name for it).
        password: The store password (None: read and list without one).
        key_password: The key entries' password, where it differs from the store's.
    """

    name: str
    path: Path
    store_type: str
    password: str | None = attrs.field(repr=False)
    key_password: str | None = attrs.field(repr=False, default=None)


def _run(command: list[str], **kwargs: object) -> None:
    """Run a tool in a UTF-8 locale; fail with its output if it fails."""
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=120,
        **kwargs,  # type: ignore[call-overload]
    )
    if done.returncode != 0:
        msg = f"{command[0]} failed: {' '.join(command)}\n{done.stdout}{done.stderr}"
        raise AssertionError(msg)


def make_field_stores(directory: Path) -> list[FieldStore]:
    """A store of each keytool and OpenSSL flavour, made in ``directory``.

    Store types JKS, JCEKS and PKCS12; RSA and EC keys; legacy and modern PKCS#12; key and
    store passwords that differ; unicode and emoji aliases; ``-nomac``, ``-iter 1``,
    certificates in clear; secret key entries.
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Field CA", ca_key, None, ca=True)
    leaves = {}
    for kind, key in (
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ec", ec.generate_private_key(ec.SECP384R1())),
    ):
        leaf = _certificate(f"field-{kind}.client.test", key, ("Field CA", ca_key), ca=False)
        (directory / f"{kind}.key").write_bytes(keys.serialize_private_key_pem(key))
        (directory / f"{kind}.pem").write_bytes(leaf.public_bytes(Encoding.PEM))
        leaves[kind] = leaf
    (directory / "ca.pem").write_bytes(ca.public_bytes(Encoding.PEM))
    stores: list[FieldStore] = []

    def openssl(name: str, kind: str, *options: str, mac: bool = True) -> None:
        path = directory / f"{name}.p12"
        _run(
            [
                "openssl", "pkcs12", "-export", "-inkey", str(directory / f"{kind}.key"),
                "-in", str(directory / f"{kind}.pem"), "-certfile", str(directory / "ca.pem"),
                "-out", str(path), "-passout", "pass:store-pw", *options,
            ]
        )  # fmt: skip
        stores.append(FieldStore(name, path, "PKCS12", "store-pw" if mac else None))

    openssl("openssl-modern-rsa", "rsa", "-name", "client-clé")
    openssl("openssl-legacy-ec", "ec", "-legacy", "-name", "legacy-client")
    openssl("openssl-nomac", "rsa", "-nomac", "-name", "nomac", mac=False)
    openssl("openssl-iter-1", "ec", "-iter", "1", "-name", "iter-one")
    openssl("openssl-clear", "ec", "-keypbe", "NONE", "-certpbe", "NONE", "-name", "clear")
    nokeys = directory / "openssl-nokeys.p12"
    _run(
        [
            "openssl", "pkcs12", "-export", "-nokeys", "-in", str(directory / "ca.pem"),
            "-out", str(nokeys), "-passout", "pass:store-pw",
        ]
    )  # fmt: skip
    stores.append(FieldStore("openssl-nokeys", nokeys, "PKCS12", "store-pw"))

    def keytool(name: str, store_type: str, steps: list[list[str]], **extra: str) -> None:
        path = directory / f"{name}.{store_type.lower()}"
        for step in steps:
            _run(
                [
                    "keytool", *step, "-keystore", str(path), "-storetype", store_type,
                    "-storepass", "store-pw", *(["-keypass", extra["key_password"]]
                    if "key_password" in extra and step[0] != "-importcert" else []),
                ]
            )  # fmt: skip
        stores.append(FieldStore(name, path, store_type, "store-pw", extra.get("key_password")))

    ca_file = str(directory / "ca.pem")
    rsa_pair = ["-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=field rsa"]
    ec_pair = ["-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=field ec"]
    secret = ["-genseckey", "-keyalg", "AES", "-keysize", "128"]
    trust = ["-importcert", "-noprompt", "-file", ca_file]
    keytool(
        "keytool-jks",
        "JKS",
        [[*rsa_pair, "-alias", "client-\U0001f600-é"], [*trust, "-alias", "ca-ünïcode"]],
        key_password="key-pw-differs",
    )
    keytool(
        "keytool-jceks",
        "JCEKS",
        [
            [*ec_pair, "-alias", "clé-\U0001f511"],
            [*secret, "-alias", "secret-aes"],
            [*trust, "-alias", "ca-\U0001f600"],
        ],
        key_password="key-pw-differs",
    )
    keytool(
        "keytool-pkcs12",
        "PKCS12",
        [
            [*rsa_pair, "-alias", "client-\U0001f642"],
            [*trust, "-alias", "ca-\U0001f600"],
            [*secret, "-alias", "secret"],
        ],
    )
    keytool(
        "keytool-pkcs12-legacy",
        "PKCS12",
        [
            ["-J-Dkeystore.pkcs12.legacy", *ec_pair, "-alias", "legacy-ec"],
            ["-J-Dkeystore.pkcs12.legacy", *trust, "-alias", "legacy-ca"],
        ],
    )
    return stores
