"""JKS and JCEKS: Java's own key store formats, written through pyjks and read here.

Both formats share one layout: a magic number (``FEEDFEED`` for JKS, ``CECECECE`` for JCEKS),
version 2, an entry count, the entries, then a SHA-1 integrity digest over
``password as UTF-16BE || b"Mighty Aphrodite" || everything before the digest``. The password
enters the digest as Java ``char`` values, big-endian: a ``str`` encoded as UTF-16BE gives
exactly those bytes (supplementary characters become the same surrogate pairs Java holds), which
is also what pyjks does. Our passwords arrive as bytes; they are decoded as UTF-8 first, which is
how a Java program reading the same password from a UTF-8 command line or file sees it.

Private key entries are protected with the key password, as Java's own providers protect them:
in JKS by Sun's proprietary key protector (a SHA-1 keystream XORed over the PKCS#8 key, then a
SHA-1 check over password and key; OID 1.3.6.1.4.1.42.2.17.1.1), which pyjks implements; in
JCEKS by SunJCE's ``PBEWithMD5AndTripleDES`` (OID 1.3.6.1.4.1.42.2.19.1: two MD5 chains over
the salt halves and the ASCII password give a 3DES key and IV; PKCS#5 padding), which pyjks can
read but not write, so it is implemented here. JCEKS key passwords are therefore printable ASCII
only (Java's ``PBEKey`` refuses anything else). Both protections draw a random IV or salt, so a
key store, unlike a trust store, is not byte-for-byte reproducible: its entry dates are.

One implementation writes, another reads. pyjks, the project's JKS library, writes every
store, trust stores and key stores alike (:func:`serialize_jks_truststore`,
:func:`serialize_jks_keystore`); it is imported inside the functions that write, so that
``import truststore_builder`` and every read stay without it (its import, pyasn1, Cryptodome
and javaobj, costs more than building a whole store). Every store is read here, with its
password or without, trusted, private key and (JCEKS) secret key entries alike, aliases as
Java's modified UTF-8 (pyjks refuses the supplementary characters keytool writes); a JCEKS
secret key entry is stepped over with javaobj, which comes with pyjks.
:func:`parse_jks_trusted_certificates` and :func:`parse_jks_key_entry_aliases` are the strict
readers that check what pyjks wrote: with the writer they share only the digest function,
which also seals what pyjks saved in batches (see ``_save``) and the JCEKS magic number.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import struct
import warnings
from typing import TYPE_CHECKING, Any

import attrs
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import (
    DerDecodeError,
    InputError,
    InvalidPasswordError,
    JksIntegrityNotCheckedWarning,
    MalformedInputError,
    TruststoreBuilderError,
    WrongPasswordError,
)
from truststore_builder._formats.asn1 import (
    INTEGER,
    OCTET_STRING,
    OID,
    SEQUENCE,
    DerCursor,
    encode_tlv,
    oid_content,
)
from truststore_builder._formats.codec import (
    Codec,
    KeyEntryReadBack,
    KeyStoreParts,
    KeyStoreReadBack,
    ReadBack,
)
from truststore_builder._model import StoreEntry, StoreFormat, spki_der

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._formats.keys import PrivateKey

__all__ = [
    "load_jks_identities",
    "load_jks_store",
    "looks_like_jks",
    "parse_jks_key_entry_aliases",
    "parse_jks_trusted_certificates",
    "serialize_jks_keystore",
    "serialize_jks_truststore",
]

_JKS_MAGIC = b"\xfe\xed\xfe\xed"
_JCEKS_MAGIC = b"\xce\xce\xce\xce"
_VERSION = 2
_WHITENING = b"Mighty Aphrodite"
_DIGEST_SIZE = 20  # SHA-1
#: Magic number, version and entry count.
_HEADER_SIZE = 12
#: Entries pyjks saves at once (see _save): its cost grows with the square of a batch.
_SAVE_BATCH = 64
_TAG_PRIVATE_KEY = 1
_TAG_TRUSTED_CERT = 2
_TAG_SECRET_KEY = 3
#: The largest serialized SealedObject (a JCEKS secret key entry) read: real ones are < 1 KiB.
_MAX_SEALED_KEY = 64 * 1024
_MAX_UTF_LENGTH = 0xFFFF
_BMP_LIMIT = 0x10000

_U2 = struct.Struct(">H")
_U4 = struct.Struct(">I")
_U8 = struct.Struct(">Q")

# Key protection (see the module docstring). DER encodings of the two algorithm OIDs.
_JKS_KEY_PROTECTOR_OID = encode_tlv(OID, oid_content("1.3.6.1.4.1.42.2.17.1.1"))
_JCE_PBE_MD5_3DES_OID = encode_tlv(OID, oid_content("1.3.6.1.4.1.42.2.19.1"))
_JKS_KEY_IV_SIZE = 20
_JCE_SALT_SIZE = 8
#: SunJCE's default (jdk.jceks.iterationCount) since JDK 8u301 / 11.0.12 / 17.
_JCE_ITERATIONS = 200_000
#: SunJCE refuses more when it reads a key (a guard against absurd work); so do we.
_JCE_MAX_ITERATIONS = 5_000_000
_DES_BLOCK_BITS = 64
_PRINTABLE_ASCII = range(0x20, 0x7F)


def looks_like_jks(data: bytes) -> str | None:
    """Tell a JKS or JCEKS store by its magic number.

    Args:
        data: The file's bytes (only the first four are looked at).

    Returns:
        ``"jks"`` for ``FEEDFEED``, ``"jceks"`` for ``CECECECE``, otherwise None.
    """
    if data[:4] == _JKS_MAGIC:
        return "jks"
    if data[:4] == _JCEKS_MAGIC:
        return "jceks"
    return None


def _pyjks() -> Any:  # noqa: ANN401  (the pyjks module, untyped)
    """Import pyjks, only when a JKS or JCEKS store is written (reading never needs it).

    Raises:
        TruststoreBuilderError: pyjks is not installed.
    """
    try:
        # Here, not at the top: pyjks (pyasn1, Cryptodome, javaobj) takes 0.2 s to import, and
        # only writing a JKS or JCEKS store needs it.
        import jks  # noqa: PLC0415 - start-up time: pyjks
    except ImportError:
        msg = "writing JKS and JCEKS stores needs pyjks, which is not installed (pip install pyjks)"
        raise TruststoreBuilderError(msg) from None
    return jks


def _integrity_digest(password: str, body: bytes) -> bytes:
    """Java's key store digest: SHA-1 over the password's chars (UTF-16BE), whitening and body."""
    # SHA-1 is what the format defines; this is interoperability, not a security choice.
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(password.encode("utf-16-be"))
    digest.update(_WHITENING)
    digest.update(body)
    return digest.digest()


def _utf8_differs_from_java(alias: str) -> bool:
    """Whether standard UTF-8 (pyjks's) and Java's modified UTF-8 encode ``alias`` differently.

    They agree on every character except NUL and those outside the Basic Multilingual Plane.
    """
    return "\x00" in alias or any(ord(char) >= _BMP_LIMIT for char in alias)


def _check_alias(alias: str, seen: set[str]) -> None:
    """Refuse an alias that Java would read back differently, or that repeats one already seen.

    Raises:
        ValueError: Empty, not lower-case, holding NUL or a supplementary character (which
            pyjks, writing key stores, would encode wrongly), too long, or a duplicate.
    """
    if not alias:
        msg = "a JKS alias must not be empty"
        raise ValueError(msg)
    if alias != alias.lower():
        # JKS aliases are case-insensitive: Java lower-cases them, so a mixed-case alias
        # would not read back as written.
        msg = f"JKS alias {alias!r} is not lower-case"
        raise ValueError(msg)
    if _utf8_differs_from_java(alias):
        # Our trust store encoder writes modified UTF-8, but both writers accept the same
        # aliases.
        msg = f"JKS alias {alias!r} holds NUL or a character outside the BMP"
        raise ValueError(msg)
    if len(alias.encode("utf-8")) > _MAX_UTF_LENGTH:
        msg = "a JKS alias must encode to at most 65535 bytes"
        raise ValueError(msg)
    if alias in seen:
        msg = f"JKS alias {alias!r} appears twice"
        raise ValueError(msg)
    seen.add(alias)


def _timestamp_ms(certificate: x509.Certificate) -> int:
    """A fixed entry date derived from the certificate: its notBefore, in ms since the epoch."""
    # pyjks stamps entries with the current time; the certificate's own start of validity
    # makes the output a function of the input alone. Clamp at 0: the field is unsigned here.
    return max(0, int(certificate.not_valid_before_utc.timestamp()) * 1000)


def serialize_jks_truststore(
    entries: Sequence[tuple[str, x509.Certificate]],
    password: bytes,
    store_type: str = "jks",
) -> bytes:
    """Serialise certificates as a JKS or JCEKS trust store, one trustedCertEntry each, by pyjks.

    The output is deterministic: each entry's date is the certificate's notBefore (not the
    time of writing), and entries keep the order given.

    Args:
        entries: ``(alias, certificate)`` pairs; aliases lower-case and unique.
        password: The store password, UTF-8 encoded.
        store_type: ``"jks"`` or ``"jceks"``.

    Returns:
        The store's bytes.

    Raises:
        ValueError: An unknown store type, an alias that is not lower-case, unique and
            representable, or a password that is not UTF-8.
        TruststoreBuilderError: pyjks is not installed.
    """
    secret = _store_secret(store_type, password)
    return _save(_trusted_entries(entries, set()), secret, store_type)


def _store_secret(store_type: str, password: bytes) -> str:
    """Check the store type asked for and decode the store password, before any writing.

    Raises:
        ValueError: An unknown store type, or a password that is not UTF-8.
    """
    if store_type not in {"jks", "jceks"}:
        msg = f"unknown Java key store type {store_type!r}; expected 'jks' or 'jceks'"
        raise ValueError(msg)
    return _write_password(password, "store password")


def _trusted_entries(entries: Sequence[tuple[str, x509.Certificate]], seen: set[str]) -> list[Any]:
    """Trusted certificate entries for pyjks, aliases checked, dated by their certificate."""
    jks = _pyjks()

    made = []
    for alias, certificate in entries:
        _check_alias(alias, seen)
        entry = jks.TrustedCertEntry.new(alias, certificate.public_bytes(Encoding.DER))
        entry.timestamp = _timestamp_ms(certificate)
        made.append(entry)
    return made


def _save(entries: list[Any], secret: str, store_type: str) -> bytes:
    """Save entries with pyjks, a batch at a time, under one header and integrity digest.

    pyjks writes every entry. Its ``saves`` grows the store with ``bytes +=``, which copies
    the whole store at each entry: 1,000 certificates took 1.5 s and 5,000 took 40 s. So it
    saves at most :data:`_SAVE_BATCH` entries at a time, and the entries it wrote (each batch's
    bytes between its 12-byte header and its digest) are joined under one header: magic,
    version 2, the whole count, then the digest over all of it. pyjks can only save JKS
    ("Saving of JCEKS keystores is not implemented"); JCEKS shares the layout (key entries
    arrive already protected the JCEKS way) and differs in the magic number, which the digest
    covers, so it is the same body under the JCEKS magic.
    """
    jks = _pyjks()

    magic = _JKS_MAGIC if store_type == "jks" else _JCEKS_MAGIC
    parts = [magic, _U4.pack(_VERSION), _U4.pack(len(entries))]
    for start in range(0, len(entries), _SAVE_BATCH):
        batch = entries[start : start + _SAVE_BATCH]
        saved: bytes = jks.KeyStore.new("jks", batch).saves(secret)
        parts.append(saved[_HEADER_SIZE:-_DIGEST_SIZE])
    body = b"".join(parts)
    return body + _integrity_digest(secret, body)


def _jce_password(password: str) -> bytes:
    """The bytes SunJCE's PBEKey makes of a password: one per char, printable ASCII only.

    Raises:
        ValueError: A character outside printable ASCII (Java refuses it too).
    """
    if any(ord(char) not in _PRINTABLE_ASCII for char in password):
        msg = "a JCEKS key password must be printable ASCII (Java's PBEKey refuses anything else)"
        raise InvalidPasswordError(msg)
    return password.encode("ascii")


def _jce_key_and_iv(password: bytes, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """SunJCE's PBEWithMD5AndTripleDES key derivation (PBES1Core.deriveCipherKey)."""
    first, second = salt[:4], salt[4:]
    if first == second:
        # Java "inverts" the first half by reversing its four bytes.
        first = first[::-1]
    derived = b""
    for half in (first, second):
        block = half
        for _ in range(iterations):
            # MD5 is what the format defines; interoperability, not a security choice.
            block = hashlib.md5(block + password, usedforsecurity=False).digest()
        derived += block
    return derived[:24], derived[24:]


def _jce_protect(pkcs8: bytes, password: str) -> bytes:
    """Protect a PKCS#8 key as SunJCE's KeyProtector does: an EncryptedPrivateKeyInfo."""
    secret = _jce_password(password)
    salt = os.urandom(_JCE_SALT_SIZE)
    while salt[:4] == salt[4:]:  # pragma: no cover  (chance 2**-32; keep to the plain path)
        salt = os.urandom(_JCE_SALT_SIZE)
    key, iv = _jce_key_and_iv(secret, salt, _JCE_ITERATIONS)
    padder = padding.PKCS7(_DES_BLOCK_BITS).padder()
    padded = padder.update(pkcs8) + padder.finalize()
    encryptor = Cipher(TripleDES(key), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    count = _JCE_ITERATIONS.to_bytes(_JCE_ITERATIONS.bit_length() // 8 + 1, "big")
    parameters = encode_tlv(SEQUENCE, encode_tlv(OCTET_STRING, salt) + encode_tlv(INTEGER, count))
    algorithm = encode_tlv(SEQUENCE, _JCE_PBE_MD5_3DES_OID + parameters)
    return encode_tlv(SEQUENCE, algorithm + encode_tlv(OCTET_STRING, encrypted))


def _write_password(password: bytes, what: str) -> str:
    """Decode a password for writing.

    Raises:
        ValueError: Not UTF-8 (Java could not be given the same one).
    """
    try:
        return password.decode("utf-8")
    except UnicodeDecodeError:
        msg = f"the {what} is not valid UTF-8, so Java could not be given the same one"
        raise InvalidPasswordError(msg) from None


def serialize_jks_keystore(
    *,
    alias: str,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    trusted: Sequence[tuple[str, x509.Certificate]],
    password: bytes,
    key_password: bytes | None = None,
    store_type: str = "jks",
) -> bytes:
    """Serialise one private key entry and trusted certificates as a JKS or JCEKS key store.

    This is the file the MESH Java client reads: the client's key entry (key and chain) and the
    trusted G1+G2 CA entries in one store under one password. The key entry comes first, then
    the trusted entries in the order given. Entry dates are the certificates' notBefore (the
    key entry's: its leaf's), so they do not depend on the clock; the key's protection draws a
    random IV (JKS) or salt (JCEKS), so the bytes differ from run to run.

    Args:
        alias: The key entry's alias (lower-case, unique among all the store's aliases).
        key: The RSA or EC private key.
        chain: The key's certificate first, then its issuers up to the root.
        trusted: ``(alias, certificate)`` pairs written as trustedCertEntry.
        password: The store password, UTF-8 encoded.
        key_password: The key entry's password, UTF-8 encoded; None (the default) uses the
            store password, which is what the MESH Java client and most Java code assume.
            For JCEKS it must be printable ASCII.
        store_type: ``"jks"`` or ``"jceks"``.

    Returns:
        The store's bytes.

    Raises:
        ValueError: An unknown store type; an alias that is not lower-case, unique and
            representable; an empty chain, or a key that is not its first certificate's; a
            password that is not UTF-8; a JCEKS key password that is not printable ASCII.
    """
    jks = _pyjks()

    secret = _store_secret(store_type, password)
    key_secret = secret if key_password is None else _write_password(key_password, "key password")
    if not chain:
        msg = f"the key entry {alias!r} needs a certificate chain (at least its own certificate)"
        raise ValueError(msg)
    if spki_der(key) != spki_der(chain[0]):
        msg = f"the private key of entry {alias!r} does not belong to its first certificate"
        raise ValueError(msg)
    seen: set[str] = set()
    _check_alias(alias, seen)
    ders = [certificate.public_bytes(Encoding.DER) for certificate in chain]
    pkcs8 = key.private_bytes(
        Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if store_type == "jks":
        key_entry = jks.PrivateKeyEntry.new(alias, ders, pkcs8, "pkcs8")
        key_entry.encrypt(key_secret)
    else:
        # Already protected, so pyjks's writer (which encrypts only plain entries) keeps it.
        key_entry = jks.PrivateKeyEntry(
            alias=alias,
            cert_chain=[("X.509", der) for der in ders],
            encrypted=_jce_protect(pkcs8, key_secret),
            store_type="jceks",
        )
    key_entry.timestamp = _timestamp_ms(chain[0])
    # The key entry is encrypted already, so saving uses the store password only for the digest.
    return _save([key_entry, *_trusted_entries(trusted, seen)], secret, store_type)


def _load_password(password: bytes, source: str) -> str:
    """Decode a password for reading; one that is not UTF-8 cannot be the store's.

    Raises:
        WrongPasswordError: The password is not valid UTF-8.
    """
    try:
        return password.decode("utf-8")
    except UnicodeDecodeError:
        msg = f"{source}: the password is not valid UTF-8, so it cannot be this store's password"
        raise WrongPasswordError(msg, source=source) from None


def _certificate(
    der: bytes, cert_type: str, alias: str, source: str, kind: str
) -> x509.Certificate:
    """Parse one certificate of a store entry.

    Raises:
        MalformedInputError: Not an X.509 certificate, or bad DER.
    """
    if cert_type != "X.509":
        msg = f"{source}: {kind} entry {alias!r} holds a {cert_type!r} certificate, not X.509"
        raise MalformedInputError(msg, source=source)
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
        msg = f"{source}: {kind} entry {alias!r} holds a certificate that is not valid DER"
        raise MalformedInputError(msg, source=source) from None


def load_jks_store(data: bytes, password: bytes | None, source: str) -> list[StoreEntry]:
    """Read the certificates of a JKS or JCEKS store.

    Trusted certificate entries give ``trusted=True``. Private key entries give every
    certificate of their chain with ``trusted=False`` and the key entry's alias; the keys
    themselves are not decrypted, so a key password that differs from the store password
    does no harm. Secret key entries (JCEKS) hold no certificate and give nothing.

    Aliases are read as Java's modified UTF-8, as keytool lists them (emoji included).

    With ``password=None`` the entries are read without checking the integrity digest, as
    ``keytool -list`` does when given no password; as keytool does, a
    :class:`~truststore_builder.JksIntegrityNotCheckedWarning` says so. Nothing then proves
    the file was not altered.

    Args:
        data: The store's bytes.
        password: The store password, UTF-8 encoded, or None to skip the integrity check.
        source: The file (or ``<bytes>``) named in error messages.

    Returns:
        The entries' certificates, in store order.

    Raises:
        MalformedInputError: Not a JKS/JCEKS store, or truncated or corrupt.
        WrongPasswordError: The password is wrong, or the integrity digest does not match.
    """
    entries = _parse_store(data, password, source, strict=False)
    if password is None:
        warnings.warn(
            f"{source}: read without its password: the {(looks_like_jks(data) or 'jks').upper()} "
            "store's integrity was not checked (as keytool warns); give the password to check it",
            JksIntegrityNotCheckedWarning,
            stacklevel=2,
        )
    result: list[StoreEntry] = []
    for entry in entries:
        if isinstance(entry, _TrustedEntry):
            certificate = _certificate(
                entry.der, "X.509", entry.alias, source, "trusted certificate"
            )
            result.append(StoreEntry(alias=entry.alias, certificate=certificate, trusted=True))
        else:
            for der in entry.chain:
                certificate = _certificate(der, "X.509", entry.alias, source, "private key")
                result.append(StoreEntry(alias=entry.alias, certificate=certificate, trusted=False))
    return result


def _private_key(pkcs8: bytes, alias: str, source: str) -> PrivateKey:
    """Load a decrypted entry's PKCS#8 key; only RSA and EC are accepted.

    Raises:
        MalformedInputError: Not a readable PKCS#8 key.
        InputError: A key of another type (DSA, say).
    """
    try:
        key = serialization.load_der_private_key(pkcs8, password=None)
    except Exception:  # noqa: BLE001  (ValueError, or an unsupported algorithm from the Rust layer)
        msg = f"{source}: the key of entry {alias!r} is not a readable PKCS#8 private key"
        raise MalformedInputError(msg, source=source) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        kind = type(key).__name__.removeprefix("_")
        msg = f"{source}: entry {alias!r} holds a {kind} key; only RSA and EC keys are supported"
        raise InputError(msg, source=source)
    return key


def load_jks_identities(
    data: bytes,
    password: bytes,
    source: str,
    *,
    key_password: bytes | None = None,
    alias: str | None = None,
) -> list[tuple[str, PrivateKey, list[x509.Certificate]]]:
    """Decrypt the private key entries of a JKS or JCEKS store, to rebuild an old key store.

    Trusted certificate entries are not returned (:func:`load_jks_store` reads them).

    Args:
        data: The store's bytes.
        password: The store password, UTF-8 encoded (checked against the integrity digest).
        source: The file (or ``<bytes>``) named in error messages.
        key_password: The key entries' password; None (the default) uses the store password.
        alias: Decrypt only the key entry of this alias (any case): the others' keys may be
            under other passwords. None decrypts them all.

    Returns:
        ``(alias, key, chain)`` per private key entry, in store order; chain leaf first.

    Raises:
        MalformedInputError: Not a JKS/JCEKS store, truncated or corrupt, or a key entry whose
            certificates or decrypted key cannot be read.
        WrongPasswordError: The store password is wrong (or the digest does not match), or
            the key password does not decrypt an entry.
        InputError: A key entry holds a key that is neither RSA nor EC, or none is ``alias``.
    """
    store_password = _load_password(password, source)
    secret = store_password if key_password is None else _load_password(key_password, source)
    result: list[tuple[str, PrivateKey, list[x509.Certificate]]] = []
    keys = [
        entry
        for entry in _parse_store(
            data, password, source, checked_password=store_password, strict=False
        )
        if isinstance(entry, _KeyEntry)
    ]
    aliases = ", ".join(repr(entry.alias) for entry in keys)
    if alias is not None:
        wanted = [entry for entry in keys if entry.alias.casefold() == alias.casefold()]
        if not wanted:
            msg = f"{source}: no key entry with the alias {alias!r}; the store has {aliases}"
            raise InputError(msg, source=source)
        keys = wanted
    _check_key_derivation_work(keys, source)
    for entry in keys:
        chain = [
            _certificate(der, "X.509", entry.alias, source, "private key") for der in entry.chain
        ]
        try:
            pkcs8 = _unprotect(entry.protected, secret, entry.alias, source)
        except WrongPasswordError as exc:
            if len(keys) == 1:
                raise
            msg = (
                f"{exc.problem}; the store holds {len(keys)} key entries ({aliases}): name one "
                "with an alias to read only that one"
            )
            raise WrongPasswordError(msg, source=source) from None
        result.append((entry.alias, _private_key(pkcs8, entry.alias, source), chain))
    return result


class _Reader:
    """A cursor over a byte string that reads Java DataInputStream fields."""

    def __init__(self, data: bytes, source: str) -> None:
        """Start at the beginning of ``data``."""
        self.data = data
        self.pos = 0
        self.source = source

    def take(self, size: int, what: str) -> bytes:
        """Return the next ``size`` bytes.

        Raises:
            MalformedInputError: Fewer than ``size`` bytes remain.
        """
        end = self.pos + size
        if end > len(self.data):
            msg = f"{self.source}: JKS store is truncated (in {what} at byte {self.pos})"
            raise MalformedInputError(msg, source=self.source)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u4(self, what: str) -> int:
        """Read an unsigned big-endian 32-bit integer."""
        value: int = _U4.unpack(self.take(4, what))[0]
        return value

    def utf(self, what: str) -> str:
        """Read a Java modified UTF-8 string (DataInput.readUTF).

        Raises:
            MalformedInputError: Truncated, or not valid modified UTF-8.
        """
        (size,) = _U2.unpack(self.take(2, what))
        raw = self.take(size, what)
        try:
            return _decode_modified_utf8(raw)
        except UnicodeError:
            msg = f"{self.source}: JKS {what} is not valid Java modified UTF-8"
            raise MalformedInputError(msg, source=self.source) from None

    def data_block(self, what: str) -> bytes:
        """Read a u4 length followed by that many bytes."""
        return self.take(self.u4(what), what)

    def skip_java_object(self, what: str) -> None:
        """Step over one serialized Java object (a JCEKS secret key's SealedObject).

        Its length is known only by parsing it; javaobj (which pyjks brings) does.

        Raises:
            MalformedInputError: Not a serialized Java object, or truncated.
        """
        try:
            import javaobj  # noqa: PLC0415 - start-up time: only for a JCEKS store holding a secret key
        except ImportError:
            msg = f"{self.source}: reading a JCEKS secret key entry needs pyjks (pip install pyjks)"
            raise InputError(msg, source=self.source) from None
        # A sealed key is a few hundred bytes; javaobj reads arrays an element at a time, so a
        # hostile "key" of megabytes would cost minutes: it gets a bounded window.
        stream = io.BytesIO(self.data[self.pos : self.pos + _MAX_SEALED_KEY])
        # On junk javaobj logs a "state dump" of what it parsed (the sealed key's bytes among
        # it): nothing of it may reach the user's terminal or logs.
        javaobj_log = logging.getLogger("javaobj")
        silencer = logging.NullHandler()
        propagate = javaobj_log.propagate
        javaobj_log.addHandler(silencer)
        javaobj_log.propagate = False
        try:
            javaobj.load(stream, ignore_remaining_data=True)  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001 - javaobj raises anything (RecursionError too) on junk
            msg = (
                f"{self.source}: JCEKS {what} is not a serialized Java object of at most "
                f"{_MAX_SEALED_KEY // 1024} KiB"
            )
            raise MalformedInputError(msg, source=self.source) from None
        finally:
            javaobj_log.removeHandler(silencer)
            javaobj_log.propagate = propagate
        self.pos += stream.tell()


def _decode_modified_utf8(raw: bytes) -> str:
    """Decode Java's modified UTF-8: NUL as C0 80, supplementary characters as two surrogates.

    Raises:
        UnicodeError: Not valid modified UTF-8 (including any 4-byte UTF-8 sequence, which
            Java's readUTF refuses).
    """
    if any(byte >= 0xF0 for byte in raw):  # noqa: PLR2004  (4-byte lead bytes and above)
        msg = "4-byte sequences are not modified UTF-8"
        raise UnicodeError(msg)
    text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "surrogatepass")
    # Pair the surrogates up; a lone surrogate fails here, as it should.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


@attrs.frozen
class _TrustedEntry:
    """A trusted certificate entry as read from the file: alias and certificate (DER)."""

    alias: str
    der: bytes = attrs.field(repr=False)


@attrs.frozen
class _KeyEntry:
    """A private key entry as read from the file: alias, protected key and chain (DER)."""

    alias: str
    protected: bytes = attrs.field(repr=False)
    chain: list[bytes] = attrs.field(repr=False)


def _read_entries(reader: _Reader, store_type: str) -> list[_TrustedEntry | _KeyEntry]:
    """Read the entry count and entries of a JKS body, in file order.

    Trusted certificate and private key entries are returned; JCEKS secret key entries, which
    hold no certificate, are stepped over.

    Raises:
        MalformedInputError: Truncated, an unknown tag, a non-X.509 certificate or a
            repeated alias.
    """
    source = reader.source
    count = reader.u4("entry count")
    seen: set[str] = set()
    entries: list[_TrustedEntry | _KeyEntry] = []
    for index in range(count):
        tag = reader.u4(f"entry {index} tag")
        alias = reader.utf(f"entry {index} alias")
        if alias.lower() in seen:
            msg = f"{source}: JKS alias {alias!r} appears twice"
            raise MalformedInputError(msg, source=source)
        seen.add(alias.lower())
        reader.take(_U8.size, f"entry {index} date")
        if tag == _TAG_TRUSTED_CERT:
            _read_certificate_type(reader, alias, f"entry {index} certificate type")
            entries.append(_TrustedEntry(alias, reader.data_block(f"entry {index} certificate")))
        elif tag == _TAG_PRIVATE_KEY:
            protected = reader.data_block(f"entry {index} protected key")
            chain: list[bytes] = []
            for link in range(reader.u4(f"entry {index} chain length")):
                _read_certificate_type(
                    reader, alias, f"entry {index} chain certificate {link} type"
                )
                chain.append(reader.data_block(f"entry {index} chain certificate {link}"))
            entries.append(_KeyEntry(alias, protected, chain))
        elif tag == _TAG_SECRET_KEY and store_type == "jceks":
            reader.skip_java_object(f"entry {index} sealed secret key")
        else:
            msg = f"{source}: {store_type.upper()} entry {index} has unknown tag {tag}"
            raise MalformedInputError(msg, source=source)
    return entries


def _read_certificate_type(reader: _Reader, alias: str, what: str) -> None:
    """Read a certificate type string; only X.509 is accepted.

    Raises:
        MalformedInputError: Another certificate type, or truncated.
    """
    cert_type = reader.utf(what)
    if cert_type != "X.509":
        msg = f"{reader.source}: JKS entry {alias!r} holds a {cert_type!r} certificate"
        raise MalformedInputError(msg, source=reader.source)


def _parse_store(
    data: bytes,
    password: bytes | None,
    source: str,
    *,
    checked_password: str | None = None,
    strict: bool = True,
) -> list[_TrustedEntry | _KeyEntry]:
    """Read a whole JKS/JCEKS store without pyjks and verify its integrity digest.

    Args:
        data: The store's bytes.
        password: The store password, UTF-8 encoded; None reads without checking the digest
            (the caller warns).
        source: The file named in messages.
        checked_password: The password already decoded, if the caller has it.
        strict: Refuse bytes after the digest. Java ignores them, so reading a store from the
            field does too; the read-back of what we wrote is strict.

    Raises:
        MalformedInputError: Not JKS/JCEKS version 2, truncated, trailing bytes, an unknown
            entry tag, a non-X.509 certificate or a repeated alias.
        WrongPasswordError: The digest does not match: wrong password, or altered content.
    """
    reader = _Reader(data, source)
    magic = reader.take(4, "magic number")
    if magic not in (_JKS_MAGIC, _JCEKS_MAGIC):
        msg = f"{source}: not a JKS or JCEKS store (magic number is neither FEEDFEED nor CECECECE)"
        raise MalformedInputError(msg, source=source)
    version = reader.u4("version")
    if version != _VERSION:
        msg = f"{source}: unsupported JKS version {version} (only version 2 is read)"
        raise MalformedInputError(msg, source=source)
    entries = _read_entries(reader, "jks" if magic == _JKS_MAGIC else "jceks")
    body_end = reader.pos
    if password is None and not strict:
        return entries  # as Java: without a password, the digest is not even read
    found = reader.take(_DIGEST_SIZE, "integrity digest")
    if strict and reader.pos != len(data):
        msg = f"{source}: {len(data) - reader.pos} unexpected bytes after the JKS digest"
        raise MalformedInputError(msg, source=source)
    if password is None:
        return entries
    secret = checked_password if checked_password is not None else _load_password(password, source)
    if not hmac.compare_digest(found, _integrity_digest(secret, data[:body_end])):
        msg = (
            f"{source}: the JKS integrity check failed: "
            "the password is wrong, or the file was altered"
        )
        raise WrongPasswordError(msg, source=source)
    return entries


def parse_jks_trusted_certificates(
    data: bytes, password: bytes, *, source: str = "<bytes>"
) -> list[tuple[str, bytes]]:
    """Read a JKS or JCEKS store's trusted certificate entries without pyjks, verifying its digest.

    This is a deliberately independent, strict reader used to prove what was written: the
    structure must be exactly JKS (or JCEKS, which shares its layout) version 2, every
    certificate X.509, and the file must end with the 20-byte digest. Private key entries are
    stepped over.

    Args:
        data: The JKS store's bytes.
        password: The store password, UTF-8 encoded.
        source: The file (or ``<bytes>``) named in error messages.

    Returns:
        ``(alias, DER)`` pairs of the trusted certificate entries, in store order.

    Raises:
        MalformedInputError: Not JKS/JCEKS version 2, truncated, trailing bytes, an unknown entry
            tag, a non-X.509 certificate or a repeated alias.
        WrongPasswordError: The digest does not match: wrong password, or altered content.
    """
    return [
        (e.alias, e.der)
        for e in _parse_store(data, password, source)
        if isinstance(e, _TrustedEntry)
    ]


def _jks_unprotect(encrypted: bytes, password: str) -> bytes | None:
    """Sun's JKS KeyProtector.recover: the PKCS#8 key, or None when the check fails."""
    secret = password.encode("utf-16-be")
    if len(encrypted) < 2 * _JKS_KEY_IV_SIZE:
        return None
    iv, body, check = (
        encrypted[:_JKS_KEY_IV_SIZE],
        encrypted[_JKS_KEY_IV_SIZE:-_DIGEST_SIZE],
        encrypted[-_DIGEST_SIZE:],
    )
    stream = bytearray()
    block = iv
    while len(stream) < len(body):
        # SHA-1 is what the format defines; interoperability, not a security choice.
        block = hashlib.sha1(secret + block, usedforsecurity=False).digest()
        stream += block
    plain = bytes(a ^ b for a, b in zip(body, stream, strict=False))
    expected = hashlib.sha1(secret + plain, usedforsecurity=False).digest()
    return plain if hmac.compare_digest(expected, check) else None


def _jce_parameters(parameters: bytes) -> tuple[bytes, int]:
    """The salt and iteration count of PBEWithMD5AndTripleDES parameters.

    Raises:
        DerDecodeError: Malformed parameters.
        ValueError: An unexpected salt size or an absurd iteration count.
    """
    fields = DerCursor(DerCursor(parameters).read(SEQUENCE))
    salt = fields.read(OCTET_STRING)
    iterations = int.from_bytes(fields.read(INTEGER), "big", signed=True)
    if len(salt) != _JCE_SALT_SIZE or not 1 <= iterations <= _JCE_MAX_ITERATIONS:
        msg = "unsupported PBEWithMD5AndTripleDES parameters"
        raise ValueError(msg)
    return salt, iterations


def _check_key_derivation_work(entries: Sequence[_KeyEntry], source: str) -> None:
    """Refuse a store whose key entries ask for more than one key's worth of derivation in all.

    Our MD5 chain runs in Python (~4 s a million iterations): SunJCE's own per-key cap,
    5,000,000, over a dozen entries would take minutes. Real stores ask 200,000 a key.

    Raises:
        MalformedInputError: The sum passes _JCE_MAX_ITERATIONS (checked before any runs).
    """
    total = 0
    for entry in entries:
        try:
            algorithm, _ = _split_protected(entry.protected)
            if algorithm.startswith(_JCE_PBE_MD5_3DES_OID):
                total += _jce_parameters(algorithm[len(_JCE_PBE_MD5_3DES_OID) :])[1]
        except (ValueError, DerDecodeError):
            continue  # refused, naming the entry, when it is decrypted
    if total > _JCE_MAX_ITERATIONS:
        msg = (
            f"{source}: the store's key entries ask for {total:,} key-derivation iterations in "
            f"all, more than {_JCE_MAX_ITERATIONS:,}; refused before any runs"
        )
        raise MalformedInputError(msg, source=source)


def _jce_unprotect(parameters: bytes, encrypted: bytes, password: str) -> bytes | None:
    """SunJCE's PBEWithMD5AndTripleDES decryption: the PKCS#8 key, or None when it fails.

    Raises:
        DerDecodeError: Malformed parameters.
        ValueError: An unexpected salt size, an absurd iteration count, or partial blocks.
    """
    salt, iterations = _jce_parameters(parameters)
    if not encrypted or len(encrypted) % (_DES_BLOCK_BITS // 8):
        msg = "the encrypted key is not whole 3DES blocks"
        raise ValueError(msg)
    try:
        secret = _jce_password(password)
    except ValueError:
        return None  # Java could never have protected a key with this password
    key, iv = _jce_key_and_iv(secret, salt, iterations)
    decryptor = Cipher(TripleDES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(encrypted) + decryptor.finalize()
    unpadder = padding.PKCS7(_DES_BLOCK_BITS).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        # No check value here, unlike Sun's JKS protector: a wrong password's garbage ends in
        # valid padding one time in 256, so the plaintext must also be one whole DER SEQUENCE
        # (a PKCS#8 key) before the password counts as right.
        whole = DerCursor(plain)
        whole.read(SEQUENCE)
    except (ValueError, DerDecodeError):
        return None
    return None if whole.rest() else plain


def _split_protected(protected: bytes) -> tuple[bytes, bytes]:
    """Take an EncryptedPrivateKeyInfo apart: (AlgorithmIdentifier content, encrypted key).

    Raises:
        DerDecodeError: Not a DER EncryptedPrivateKeyInfo.
    """
    whole = DerCursor(protected)
    outer = DerCursor(whole.read(SEQUENCE))
    algorithm = outer.read(SEQUENCE)
    encrypted = outer.read(OCTET_STRING)
    if whole.rest() or outer.rest():
        msg = "trailing bytes in EncryptedPrivateKeyInfo"
        raise DerDecodeError(msg)
    return algorithm, encrypted


def _unprotect(protected: bytes, password: str, alias: str, source: str) -> bytes:
    """Decrypt a key entry's EncryptedPrivateKeyInfo (JKS or JCEKS protection) without pyjks.

    Raises:
        MalformedInputError: Not an EncryptedPrivateKeyInfo, or an unknown algorithm.
        WrongPasswordError: The key password does not decrypt it.
    """
    try:
        algorithm, encrypted = _split_protected(protected)
        if algorithm.startswith(_JKS_KEY_PROTECTOR_OID):
            plain = _jks_unprotect(encrypted, password)
        elif algorithm.startswith(_JCE_PBE_MD5_3DES_OID):
            parameters = algorithm[len(_JCE_PBE_MD5_3DES_OID) :]
            plain = _jce_unprotect(parameters, encrypted, password)
        else:
            msg = f"{source}: entry {alias!r} is protected by an unknown algorithm"
            raise MalformedInputError(msg, source=source)
    except (ValueError, DerDecodeError):
        msg = f"{source}: entry {alias!r} does not hold a well-formed protected key"
        raise MalformedInputError(msg, source=source) from None
    if plain is None:
        msg = f"{source}: the key password does not decrypt entry {alias!r}"
        raise WrongPasswordError(msg, source=source)
    return plain


def parse_jks_key_entry_aliases(
    data: bytes,
    password: bytes,
    *,
    source: str = "<bytes>",
    key_password: bytes | None = None,
) -> list[tuple[str, int]]:
    """Read a JKS or JCEKS store's private key entries without pyjks, decrypting each key.

    The independent counterpart of :func:`parse_jks_trusted_certificates` for key stores: the
    digest is verified, each key entry's key is decrypted with Java's own key protection
    algorithm (implemented here from the JDK's description, not taken from pyjks), read as
    PKCS#8 and matched against the public key of the entry's first certificate.

    Args:
        data: The store's bytes.
        password: The store password, UTF-8 encoded.
        source: The file (or ``<bytes>``) named in error messages.
        key_password: The key entries' password; None uses the store password.

    Returns:
        ``(alias, chain length)`` per private key entry, in store order.

    Raises:
        MalformedInputError: The store is malformed (see :func:`parse_jks_trusted_certificates`),
            a key entry has no chain, its key is unreadable or is not its certificate's.
        WrongPasswordError: The digest does not match, or the key password does not decrypt an
            entry.
    """
    keys = [e for e in _parse_store(data, password, source) if isinstance(e, _KeyEntry)]
    _check_key_derivation_work(keys, source)
    secret = _load_password(password if key_password is None else key_password, source)
    result: list[tuple[str, int]] = []
    for entry in keys:
        if not entry.chain:
            msg = f"{source}: key entry {entry.alias!r} has no certificate chain"
            raise MalformedInputError(msg, source=source)
        key = _private_key(
            _unprotect(entry.protected, secret, entry.alias, source), entry.alias, source
        )
        leaf = _certificate(entry.chain[0], "X.509", entry.alias, source, "private key")
        if spki_der(key) != spki_der(leaf):
            msg = f"{source}: the key of entry {entry.alias!r} does not belong to its certificate"
            raise MalformedInputError(msg, source=source)
        result.append((entry.alias, len(entry.chain)))
    return result


# --- the codecs (see _formats.registry) ---------------------------------------------------------
#
# Written by the JKS writer above, read back by the strict parser here, a separate
# implementation that shares no code with the writer.


def _read_back(data: bytes, password: bytes | None, source: str) -> ReadBack:
    pairs = parse_jks_trusted_certificates(data, password or b"", source=source)
    return ReadBack(
        [x509.load_der_x509_certificate(der) for _, der in pairs],
        [alias for alias, _ in pairs],
        [True] * len(pairs),
    )


def _read_back_keystore(
    data: bytes, password: bytes, key_password: bytes | None, source: str
) -> KeyStoreReadBack:
    # The parser decrypts each key and matches it with its certificate itself.
    aliases = parse_jks_key_entry_aliases(data, password, source=source, key_password=key_password)
    pairs = parse_jks_trusted_certificates(data, password, source=source)
    return KeyStoreReadBack(
        [KeyEntryReadBack(alias, length) for alias, length in aliases],
        [(alias, x509.load_der_x509_certificate(der)) for alias, der in pairs],
    )


def jks_content_summary(
    data: bytes, password: bytes | None, key_password: bytes | None, source: str
) -> tuple[object, ...]:
    """What a JKS or JCEKS store holds and how its keys are protected, the salts left out.

    The entries in file order: a trusted entry's alias and certificate; a key entry's alias,
    chain and decrypted key, and its protection (JKS's key protector, or JCEKS's
    PBEWithMD5AndTripleDES with its iteration count). Entry dates are left out: they are
    metadata no consumer checks, and keytool's are the day the entry was made. Reading it
    checks the store password (the integrity digest) and the key password.

    Raises:
        MalformedInputError: Not a JKS/JCEKS store, or a key that cannot be read.
        WrongPasswordError: A password is wrong, or the digest does not match.
    """
    store_type = looks_like_jks(data)
    store_password = _load_password(password or b"", source)
    key_secret = store_password if key_password is None else _load_password(key_password, source)
    entries = _parse_store(data, password or b"", source, checked_password=store_password)
    _check_key_derivation_work([e for e in entries if isinstance(e, _KeyEntry)], source)
    summary: list[object] = [store_type]
    for entry in entries:
        if isinstance(entry, _TrustedEntry):
            summary.append(("trusted", entry.alias, entry.der))
            continue
        try:
            algorithm, _ = _split_protected(entry.protected)
            protection: object = algorithm
            if algorithm.startswith(_JCE_PBE_MD5_3DES_OID):
                parameters = algorithm[len(_JCE_PBE_MD5_3DES_OID) :]
                protection = (_JCE_PBE_MD5_3DES_OID, _jce_parameters(parameters)[1])
            elif algorithm.startswith(_JKS_KEY_PROTECTOR_OID):
                protection = _JKS_KEY_PROTECTOR_OID
        except ValueError:
            msg = f"{source}: entry {entry.alias!r} does not hold a well-formed protected key"
            raise MalformedInputError(msg, source=source) from None
        key = _unprotect(entry.protected, key_secret, entry.alias, source)
        summary.append(("key", entry.alias, tuple(entry.chain), key, protection))
    return tuple(summary)


def _codec(store_format: StoreFormat) -> Codec:
    store_type = store_format.value

    def write_keystore(parts: KeyStoreParts) -> bytes:
        return serialize_jks_keystore(
            alias=parts.alias,
            key=parts.key,
            chain=parts.chain,
            trusted=parts.trusted,
            password=parts.password,
            key_password=parts.key_password,
            store_type=store_type,
        )

    return Codec(
        store_format=store_format,
        looks_like=lambda data: looks_like_jks(data) == store_type,
        read=load_jks_store,
        write=lambda entries, password: serialize_jks_truststore(
            [(e.alias, e.certificate) for e in entries], password or b"", store_type=store_type
        ),
        read_back=_read_back,
        takes_password=True,
        needs_password=True,
        write_keystore=write_keystore,
        read_back_keystore=_read_back_keystore,
        read_identities=lambda data, password, key_password, source, alias: load_jks_identities(
            data, password, source, key_password=key_password, alias=alias
        ),
        content_summary=jks_content_summary,
    )


#: The JKS codec.
CODEC = _codec(StoreFormat.JKS)
#: The JCEKS codec.
JCEKS_CODEC = _codec(StoreFormat.JCEKS)
