"""PKCS#12: Java trust stores encoded here in DER, and any PKCS#12 file read back.

We encode trust stores ourselves rather than through cryptography's
``pkcs12.serialize_java_truststore``: asked for no encryption, that still writes an integrity MAC
keyed on the empty password, which keytool then refuses with ``-storepass changeit``
("Integrity check failed"). Ours has either no MAC at all or a MAC keyed on the real password.

Reading goes through cryptography's ``pkcs12.load_pkcs12`` (MAC, decryption, certificates,
friendly names); this module then reads the bag attributes itself, because cryptography does not
expose Java's trusted-certificate attribute, which is what makes an entry a trustedCertEntry.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from truststore_builder._errors import (
    MalformedInputError,
    MissingPasswordError,
    WrongPasswordError,
)
from truststore_builder._model import StoreEntry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography import x509

__all__ = ["load_pkcs12_store", "looks_like_pkcs12", "serialize_pkcs12_truststore"]

#: Iterations and salt length of the MAC we write: what keytool and OpenSSL 3 write by default.
MAC_ITERATIONS = 10_000
MAC_SALT_LENGTH = 16
#: The most KDF iterations we run for a file we read (JDK's own limit), so that a hostile file
#: cannot make the pure-Python KDF spin for hours.
_MAX_ITERATIONS = 5_000_000

# DER tags.
_INTEGER = 0x02
_OCTET_STRING = 0x04
_NULL = 0x05
_OID = 0x06
_BMP_STRING = 0x1E
_SEQUENCE = 0x30
_SET = 0x31
_CONTEXT_0 = 0xA0
_CONTEXT_0_PRIMITIVE = 0x80
#: A first length octet from here on is the count of length octets that follow.
_LONG_FORM = 0x80
#: Low tag bits all set: a tag number in further octets, which PKCS#12 never uses.
_HIGH_TAG_NUMBER = 0x1F


def _oid_body(dotted: str) -> bytes:
    """Encode a dotted object identifier as the content octets of a DER OID."""
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return bytes(body)


def _oid_text(body: bytes) -> str:
    """Decode the content octets of a DER OID into dotted form, for messages."""
    arcs: list[int] = []
    value = 0
    for octet in body:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return "<empty OID>"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


_OID_DATA = _oid_body("1.2.840.113549.1.7.1")
_OID_ENCRYPTED_DATA = _oid_body("1.2.840.113549.1.7.6")
_OID_KEY_BAG = _oid_body("1.2.840.113549.1.12.10.1.1")
_OID_SHROUDED_KEY_BAG = _oid_body("1.2.840.113549.1.12.10.1.2")
_OID_CERT_BAG = _oid_body("1.2.840.113549.1.12.10.1.3")
_OID_X509_CERTIFICATE = _oid_body("1.2.840.113549.1.9.22.1")
_OID_FRIENDLY_NAME = _oid_body("1.2.840.113549.1.9.20")
_OID_LOCAL_KEY_ID = _oid_body("1.2.840.113549.1.9.21")
#: Oracle's attribute marking a certificate bag as a trusted certificate entry for Java.
_OID_JAVA_TRUSTED = _oid_body("2.16.840.1.113894.746875.1.1")
_OID_ANY_EXTENDED_KEY_USAGE = _oid_body("2.5.29.37.0")
_OID_PBES2 = _oid_body("1.2.840.113549.1.5.13")
_OID_PBKDF2 = _oid_body("1.2.840.113549.1.5.12")
_OID_DES_EDE3_CBC = _oid_body("1.2.840.113549.3.7")

#: Digest algorithms of a MAC, and PRFs of PBKDF2, by OID: hashlib name and cryptography hash.
_DIGESTS: dict[bytes, str] = {
    _oid_body("1.3.14.3.2.26"): "sha1",
    _oid_body("2.16.840.1.101.3.4.2.4"): "sha224",
    _oid_body("2.16.840.1.101.3.4.2.1"): "sha256",
    _oid_body("2.16.840.1.101.3.4.2.2"): "sha384",
    _oid_body("2.16.840.1.101.3.4.2.3"): "sha512",
}
_PRFS: dict[bytes, hashes.HashAlgorithm] = {
    # SHA-1 only ever to read older files, never to write.
    _oid_body("1.2.840.113549.2.7"): hashes.SHA1(),  # noqa: S303
    _oid_body("1.2.840.113549.2.8"): hashes.SHA224(),
    _oid_body("1.2.840.113549.2.9"): hashes.SHA256(),
    _oid_body("1.2.840.113549.2.10"): hashes.SHA384(),
    _oid_body("1.2.840.113549.2.11"): hashes.SHA512(),
}
_AES_CBC_KEY_LENGTHS: dict[bytes, int] = {
    _oid_body("2.16.840.1.101.3.4.1.2"): 16,
    _oid_body("2.16.840.1.101.3.4.1.22"): 24,
    _oid_body("2.16.840.1.101.3.4.1.42"): 32,
}
#: The PKCS#12 password-based schemes (RFC 7292 Appendix C): cipher, key length in bytes.
_PKCS12_PBE: dict[bytes, tuple[str, int]] = {
    _oid_body("1.2.840.113549.1.12.1.3"): ("3des", 24),
    _oid_body("1.2.840.113549.1.12.1.4"): ("3des", 16),
    _oid_body("1.2.840.113549.1.12.1.5"): ("rc2", 16),
    _oid_body("1.2.840.113549.1.12.1.6"): ("rc2", 5),
}


# --- DER encoding -------------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    """Encode one DER element: tag, definite length, content."""
    length = len(content)
    if length < _LONG_FORM:
        return bytes([tag, length]) + content
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _sequence(*elements: bytes) -> bytes:
    return _tlv(_SEQUENCE, b"".join(elements))


def _set_of(*elements: bytes) -> bytes:
    # DER orders the members of a SET OF by their encodings.
    return _tlv(_SET, b"".join(sorted(elements)))


def _integer(value: int) -> bytes:
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(content: bytes) -> bytes:
    return _tlv(_OCTET_STRING, content)


def _oid(body: bytes) -> bytes:
    return _tlv(_OID, body)


def _explicit0(element: bytes) -> bytes:
    return _tlv(_CONTEXT_0, element)


def _data_content_info(content: bytes) -> bytes:
    """A ContentInfo of type id-data: the content wrapped in an OCTET STRING, not encrypted."""
    return _sequence(_oid(_OID_DATA), _explicit0(_octets(content)))


def _trusted_certificate_bag(alias: str, certificate: x509.Certificate) -> bytes:
    """A CertBag SafeBag with the friendly name and Java's trusted-certificate attribute."""
    cert_bag = _sequence(
        _oid(_OID_X509_CERTIFICATE), _explicit0(_octets(certificate.public_bytes(Encoding.DER)))
    )
    # keytool writes anyExtendedKeyUsage as the value: trusted for every purpose.
    attributes = [_sequence(_oid(_OID_JAVA_TRUSTED), _set_of(_oid(_OID_ANY_EXTENDED_KEY_USAGE)))]
    if alias:
        name = _tlv(_BMP_STRING, alias.encode("utf-16-be"))
        attributes.append(_sequence(_oid(_OID_FRIENDLY_NAME), _set_of(name)))
    return _sequence(_oid(_OID_CERT_BAG), _explicit0(cert_bag), _set_of(*attributes))


# --- The PKCS#12 key derivation (RFC 7292 Appendix B) --------------------------------------


def _bmp_password(password: bytes | None) -> bytes:
    """The password as the KDF takes it: big-endian UTF-16 with a two-byte terminator.

    None is the absent password: no bytes at all, not even the terminator (which is what the
    empty password "" becomes).
    """
    if password is None:
        return b""
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        # OpenSSL's fallback for a password that is not UTF-8: each byte widened to 16 bits.
        return b"".join(bytes([0, octet]) for octet in password) + b"\0\0"
    return text.encode("utf-16-be") + b"\0\0"


def _pkcs12_kdf(  # noqa: PLR0917
    digest: str, password_bmp: bytes, salt: bytes, iterations: int, purpose: int, length: int
) -> bytes:
    """Derive ``length`` bytes with the PKCS#12 KDF (RFC 7292 Appendix B.2).

    Args:
        digest: hashlib name of the hash (``sha1``, ``sha256``, ...).
        password_bmp: The password from :func:`_bmp_password`.
        salt: The salt.
        iterations: The iteration count (at least 1).
        purpose: The diversifier ID: 1 key, 2 IV, 3 MAC key.
        length: How many bytes to derive.

    Returns:
        The derived bytes.
    """
    block = hashlib.new(digest).block_size

    def stretch(value: bytes) -> bytes:
        # Concatenate copies of value to fill a whole number of blocks (empty stays empty).
        if not value:
            return b""
        size = block * -(-len(value) // block)
        return (value * (size // len(value) + 1))[:size]

    diversifier = bytes([purpose]) * block
    state = bytearray(stretch(salt) + stretch(password_bmp))
    derived = b""
    while True:
        hashed = hashlib.new(digest, diversifier + state).digest()
        for _ in range(iterations - 1):
            hashed = hashlib.new(digest, hashed).digest()
        derived += hashed
        if len(derived) >= length:
            return derived[:length]
        # I_j = (I_j + B + 1) mod 2^(8v) for every block I_j of I.
        increment = int.from_bytes(stretch(hashed), "big") + 1
        for start in range(0, len(state), block):
            value = int.from_bytes(state[start : start + block], "big") + increment
            state[start : start + block] = (value % (1 << (8 * block))).to_bytes(block, "big")


def _mac_data(auth_safe: bytes, password: bytes, salt: bytes, iterations: int) -> bytes:
    """The MacData: HMAC-SHA256 over the AuthenticatedSafe, keyed by the PKCS#12 KDF."""
    key = _pkcs12_kdf("sha256", _bmp_password(password), salt, iterations, 3, 32)
    mac = hmac.digest(key, auth_safe, "sha256")
    sha256 = _sequence(_oid(_oid_body("2.16.840.1.101.3.4.2.1")), _tlv(_NULL, b""))
    return _sequence(_sequence(sha256, _octets(mac)), _octets(salt), _integer(iterations))


def serialize_pkcs12_truststore(
    entries: Sequence[tuple[str, x509.Certificate]], password: bytes | None
) -> bytes:
    """Encode a Java PKCS#12 trust store: every certificate a trustedCertEntry.

    The certificates sit unencrypted (they are public) in one SafeContents, one CertBag each in
    the order given, each carrying its alias as friendlyName and Java's trusted-certificate
    attribute (OID 2.16.840.1.113894.746875.1.1, value anyExtendedKeyUsage).

    Args:
        entries: ``(alias, certificate)`` pairs, in store order.
        password: The store password (UTF-8). None or the empty password gives a truly
            password-less store with no integrity MAC at all, which Java reads without a
            password; there is never a MAC keyed on the empty password. Otherwise the MAC is
            HMAC-SHA256 with a random 16-byte salt and 10,000 iterations of the PKCS#12 KDF.

    Returns:
        The DER-encoded PFX.
    """
    safe_contents = _sequence(*(_trusted_certificate_bag(a, c) for a, c in entries))
    auth_safe = _sequence(_data_content_info(safe_contents))
    parts = [_integer(3), _data_content_info(auth_safe)]
    if password:
        parts.append(_mac_data(auth_safe, password, os.urandom(MAC_SALT_LENGTH), MAC_ITERATIONS))
    return _sequence(*parts)


# --- DER decoding -------------------------------------------------------------------------


class _DerError(Exception):
    """Bytes that are not the DER this module expects (never leaves the module)."""


def _read(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """Read the element at ``offset``.

    Returns:
        ``(tag, content, offset just past the element)``.

    Raises:
        _DerError: Cut short, or a length that is not definite DER.
    """
    if offset + 2 > len(data):
        msg = f"an element is cut short at byte {offset}"
        raise _DerError(msg)
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if tag & _HIGH_TAG_NUMBER == _HIGH_TAG_NUMBER:
        msg = f"unexpected multi-byte tag at byte {offset}"
        raise _DerError(msg)
    if first < _LONG_FORM:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):  # noqa: PLR2004
            msg = f"bad length at byte {offset}"
            raise _DerError(msg)
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        msg = f"an element at byte {offset} claims {length} bytes, {len(data) - start} remain"
        raise _DerError(msg)
    return tag, data[start:end], end


def _children(content: bytes) -> list[tuple[int, bytes]]:
    """Split a constructed element's content into ``(tag, content)`` pairs."""
    items = []
    offset = 0
    while offset < len(content):
        tag, value, offset = _read(content, offset)
        items.append((tag, value))
    return items


def _expect(item: tuple[int, bytes], tag: int, what: str) -> bytes:
    if item[0] != tag:
        msg = f"{what}: expected tag 0x{tag:02x}, found 0x{item[0]:02x}"
        raise _DerError(msg)
    return item[1]


def _unwrap_explicit0_octets(content: bytes, what: str) -> bytes:
    """The content of ``[0] EXPLICIT OCTET STRING`` (also BER's constructed OCTET STRING)."""
    (inner,) = _children(content) or [(0, b"")]
    if inner[0] == _OCTET_STRING:
        return inner[1]
    if inner[0] == _OCTET_STRING | 0x20:
        return b"".join(_expect(part, _OCTET_STRING, what) for part in _children(inner[1]))
    msg = f"{what}: expected an OCTET STRING"
    raise _DerError(msg)


class _Mac(NamedTuple):
    digest_oid: bytes
    value: bytes
    salt: bytes
    iterations: int


class _Pfx(NamedTuple):
    auth_safe: bytes
    mac: _Mac | None


def _parse_pfx(data: bytes) -> _Pfx:
    """Parse the outer PFX: version 3, an id-data authSafe, optional MacData.

    Raises:
        _DerError: Not that structure.
    """
    tag, content, end = _read(data)
    if tag != _SEQUENCE:
        msg = "the file is not a DER SEQUENCE"
        raise _DerError(msg)
    if end != len(data):
        msg = f"{len(data) - end} bytes follow the PFX"
        raise _DerError(msg)
    parts = _children(content)
    if len(parts) < 2 or _expect(parts[0], _INTEGER, "version") != b"\x03":  # noqa: PLR2004
        msg = "not a PKCS#12 PFX (version 3)"
        raise _DerError(msg)
    info = _children(_expect(parts[1], _SEQUENCE, "authSafe"))
    if not info or _expect(info[0], _OID, "authSafe type") != _OID_DATA or len(info) < 2:  # noqa: PLR2004
        msg = "the authSafe is not id-data (public-key integrity mode is not supported)"
        raise _DerError(msg)
    auth_safe = _unwrap_explicit0_octets(_expect(info[1], _CONTEXT_0, "authSafe"), "authSafe")
    mac = None
    if len(parts) > 2:  # noqa: PLR2004
        fields = _children(_expect(parts[2], _SEQUENCE, "macData"))
        digest_info = _children(_expect(fields[0], _SEQUENCE, "mac"))
        algorithm = _children(_expect(digest_info[0], _SEQUENCE, "mac algorithm"))
        iterations = 1
        if len(fields) > 2:  # noqa: PLR2004
            iterations = int.from_bytes(_expect(fields[2], _INTEGER, "iterations"), "big")
        mac = _Mac(
            digest_oid=_expect(algorithm[0], _OID, "mac algorithm"),
            value=_expect(digest_info[1], _OCTET_STRING, "mac"),
            salt=_expect(fields[1], _OCTET_STRING, "mac salt"),
            iterations=iterations,
        )
    return _Pfx(auth_safe, mac)


def looks_like_pkcs12(data: bytes) -> bool:
    """Cheaply tell whether ``data`` starts like a PKCS#12 PFX.

    That is a DER SEQUENCE whose first element is INTEGER 3, followed by a SEQUENCE (the
    ContentInfo). Lengths are not checked against the data, so a truncated file still looks
    like PKCS#12 and reading it reports the truncation rather than an unknown format.

    Args:
        data: The file's first bytes (or all of them).

    Returns:
        Whether it looks like PKCS#12.
    """
    if len(data) < 2 or data[0] != _SEQUENCE:  # noqa: PLR2004
        return False
    first = data[1]
    offset = 2 + (first & 0x7F if first & 0x80 else 0)
    return data[offset : offset + 3] == b"\x02\x01\x03" and data[offset + 3 : offset + 4] == b"\x30"


# --- Reading ------------------------------------------------------------------------------


class _Bag(NamedTuple):
    """A certificate bag as this module sees it."""

    der: bytes
    alias: str
    trusted: bool


class _Contents(NamedTuple):
    """What the bag attributes tell: the certificate bags seen, and whether all could be."""

    bags: list[_Bag]
    complete: bool


def _verify_mac(mac: _Mac, auth_safe: bytes, password_bmp: bytes) -> bool | None:
    """Check the MAC with one password; None when the digest is one this module lacks."""
    digest = _DIGESTS.get(mac.digest_oid)
    if digest is None:
        return None
    length = hashlib.new(digest).digest_size
    key = _pkcs12_kdf(digest, password_bmp, mac.salt, mac.iterations, 3, length)
    return hmac.compare_digest(hmac.digest(key, auth_safe, digest), mac.value)


def _cbc_decrypt(cipher: algorithms.AES | TripleDES, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(cipher, modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(cipher.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _decrypt(algorithm: bytes, password: bytes | None, ciphertext: bytes) -> bytes | None:
    """Decrypt an encrypted SafeContents; None when its algorithm is one we do not decrypt.

    Args:
        algorithm: The DER AlgorithmIdentifier's content.
        password: The store password (UTF-8), or None.
        ciphertext: The encrypted content.

    Returns:
        The plaintext (a DER SafeContents), or None.

    Raises:
        _DerError: Parameters that do not parse.
        ValueError: Decryption fails (bad padding).
    """
    fields = _children(algorithm)
    oid = _expect(fields[0], _OID, "encryption algorithm")
    if len(fields) < 2:  # noqa: PLR2004
        return None
    parameters = _expect(fields[1], _SEQUENCE, "encryption parameters")
    if oid in _PKCS12_PBE:
        return _decrypt_pkcs12_pbe(oid, parameters, password, ciphertext)
    if oid == _OID_PBES2:
        return _decrypt_pbes2(parameters, password, ciphertext)
    return None


def _decrypt_pkcs12_pbe(
    oid: bytes, parameters: bytes, password: bytes | None, ciphertext: bytes
) -> bytes:
    """Decrypt with a PKCS#12 scheme: key and IV from the PKCS#12 KDF over SHA-1."""
    cipher_name, key_length = _PKCS12_PBE[oid]
    salt_item, count_item = _children(parameters)[:2]
    salt = _expect(salt_item, _OCTET_STRING, "PBE salt")
    iterations = _iterations(_expect(count_item, _INTEGER, "PBE iterations"))
    bmp = _bmp_password(password)
    key = _pkcs12_kdf("sha1", bmp, salt, iterations, 1, key_length)
    iv = _pkcs12_kdf("sha1", bmp, salt, iterations, 2, 8)
    if cipher_name == "rc2":
        return _rc2_cbc_decrypt(key, 8 * key_length, iv, ciphertext)
    if key_length == 16:  # noqa: PLR2004
        key += key[:8]  # two-key triple DES: K3 = K1
    return _cbc_decrypt(TripleDES(key), iv, ciphertext)


def _decrypt_pbes2(parameters: bytes, password: bytes | None, ciphertext: bytes) -> bytes | None:
    """Decrypt with PBES2: PBKDF2, then AES-CBC or 3DES-CBC; None for anything else."""
    kdf, scheme = _children(parameters)[:2]
    kdf_fields = _children(_expect(kdf, _SEQUENCE, "PBES2 KDF"))
    scheme_fields = _children(_expect(scheme, _SEQUENCE, "PBES2 scheme"))
    if _expect(kdf_fields[0], _OID, "KDF") != _OID_PBKDF2:
        return None
    params = _children(_expect(kdf_fields[1], _SEQUENCE, "PBKDF2 parameters"))
    salt = _expect(params[0], _OCTET_STRING, "PBKDF2 salt")
    iterations = _iterations(_expect(params[1], _INTEGER, "PBKDF2 iterations"))
    prf: hashes.HashAlgorithm | None = _PRFS[_oid_body("1.2.840.113549.2.7")]
    for tag, value in params[2:]:
        if tag == _SEQUENCE:
            prf = _PRFS.get(_expect(_children(value)[0], _OID, "PRF"))
    scheme_oid = _expect(scheme_fields[0], _OID, "PBES2 cipher")
    iv = _expect(scheme_fields[1], _OCTET_STRING, "PBES2 IV")
    length = 24 if scheme_oid == _OID_DES_EDE3_CBC else _AES_CBC_KEY_LENGTHS.get(scheme_oid)
    if prf is None or length is None:
        return None
    # PBES2 takes the password as its plain (UTF-8) bytes, unlike the PKCS#12 KDF.
    key = PBKDF2HMAC(prf, length, salt, iterations).derive(password or b"")
    cipher = TripleDES(key) if scheme_oid == _OID_DES_EDE3_CBC else algorithms.AES(key)
    return _cbc_decrypt(cipher, iv, ciphertext)


def _iterations(encoded: bytes) -> int:
    count = int.from_bytes(encoded, "big", signed=True)
    if not 1 <= count <= _MAX_ITERATIONS:
        msg = f"iteration count {count} is outside 1..{_MAX_ITERATIONS}"
        raise _DerError(msg)
    return count


def _safe_contents(auth_safe: bytes, password: bytes | None) -> _Contents:
    """Read every certificate bag's attributes, decrypting encrypted SafeContents we can."""
    bags: list[_Bag] = []
    complete = True
    _, content, _ = _read(auth_safe)
    for _tag, info in _children(content):
        fields = _children(info)
        content_type = _expect(fields[0], _OID, "ContentInfo type")
        if content_type == _OID_DATA:
            plain: bytes | None = _unwrap_explicit0_octets(fields[1][1], "SafeContents")
        elif content_type == _OID_ENCRYPTED_DATA:
            plain = _decrypt_encrypted_data(fields[1][1], password)
        else:
            plain = None
        if plain is None:
            complete = False
            continue
        bags.extend(_certificate_bags(plain))
    return _Contents(bags, complete)


def _decrypt_encrypted_data(content: bytes, password: bytes | None) -> bytes | None:
    """Decrypt an EncryptedData ContentInfo's ``[0]`` content, or None if we cannot."""
    (encrypted_data,) = _children(content)
    version_and_info = _children(_expect(encrypted_data, _SEQUENCE, "EncryptedData"))
    info = _children(_expect(version_and_info[1], _SEQUENCE, "EncryptedContentInfo"))
    algorithm = _expect(info[1], _SEQUENCE, "content encryption algorithm")
    if len(info) < 3:  # noqa: PLR2004
        return None
    tag, ciphertext = info[2]
    if tag == _CONTEXT_0:
        ciphertext = b"".join(
            _expect(p, _OCTET_STRING, "ciphertext") for p in _children(ciphertext)
        )
    elif tag != _CONTEXT_0_PRIMITIVE:
        return None
    try:
        return _decrypt(algorithm, password, ciphertext)
    except ValueError:
        return None


def _certificate_bags(safe_contents: bytes) -> list[_Bag]:
    """The X.509 certificate bags of one SafeContents, with alias and trust attribute."""
    bags = []
    _, content, _ = _read(safe_contents)
    for _tag, bag in _children(content):
        fields = _children(bag)
        if _expect(fields[0], _OID, "bag type") != _OID_CERT_BAG:
            continue
        cert_bag = _children(_children(_expect(fields[1], _CONTEXT_0, "bag value"))[0][1])
        if _expect(cert_bag[0], _OID, "certificate type") != _OID_X509_CERTIFICATE:
            continue
        der = _unwrap_explicit0_octets(_expect(cert_bag[1], _CONTEXT_0, "cert"), "cert")
        alias, trusted = "", False
        if len(fields) > 2:  # noqa: PLR2004
            for _attr_tag, attribute in _children(_expect(fields[2], _SET, "attributes")):
                attr_fields = _children(attribute)
                attr_type = _expect(attr_fields[0], _OID, "attribute type")
                values = _children(_expect(attr_fields[1], _SET, "attribute values"))
                if attr_type == _OID_JAVA_TRUSTED:
                    trusted = True
                elif attr_type == _OID_FRIENDLY_NAME and values:
                    name = _expect(values[0], _BMP_STRING, "friendlyName")
                    alias = name.decode("utf-16-be", errors="replace")
        bags.append(_Bag(der, alias, trusted))
    return bags


# --- RC2, for the RC2-40 certificate bags of legacy files -----------------------------------

# cryptography's RC2 takes only 128-bit keys; OpenSSL's "-legacy" and Java 8 before 8u301 encrypt
# the certificates with 40-bit RC2, so its few lines live here (RFC 2268).
_RC2_PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)


def _rc2_key_schedule(key: bytes, effective_bits: int) -> list[int]:
    """Expand an RC2 key into its 64 16-bit subkeys (RFC 2268 section 2)."""
    expanded = bytearray(128)
    expanded[: len(key)] = key
    for i in range(len(key), 128):
        expanded[i] = _RC2_PITABLE[(expanded[i - 1] + expanded[i - len(key)]) & 0xFF]
    t8 = (effective_bits + 7) // 8
    expanded[128 - t8] = _RC2_PITABLE[expanded[128 - t8] & (0xFF >> (8 * t8 - effective_bits))]
    for i in range(127 - t8, -1, -1):
        expanded[i] = _RC2_PITABLE[expanded[i + 1] ^ expanded[i + t8]]
    return [expanded[2 * i] | expanded[2 * i + 1] << 8 for i in range(64)]


def _rc2_decrypt_block(subkeys: list[int], block: bytes) -> bytes:
    """Decrypt one 8-byte RC2 block (RFC 2268 section 4)."""
    words = [int.from_bytes(block[i : i + 2], "little") for i in range(0, 8, 2)]
    rotations = (1, 2, 3, 5)
    j = 63
    for rounds, mash in ((5, True), (6, True), (5, False)):
        for _ in range(rounds):
            for i in (3, 2, 1, 0):
                w = words[i]
                w = ((w >> rotations[i]) | (w << (16 - rotations[i]))) & 0xFFFF
                a, b, c = words[(i - 1) % 4], words[(i - 2) % 4], words[(i - 3) % 4]
                words[i] = (w - subkeys[j] - (a & b) - (~a & c)) & 0xFFFF
                j -= 1
        if mash:
            for i in (3, 2, 1, 0):
                words[i] = (words[i] - subkeys[words[(i - 1) % 4] & 63]) & 0xFFFF
    return b"".join(w.to_bytes(2, "little") for w in words)


def _rc2_cbc_decrypt(key: bytes, effective_bits: int, iv: bytes, ciphertext: bytes) -> bytes:
    """RC2-CBC decryption with PKCS#7 padding removed.

    Raises:
        ValueError: The ciphertext is not whole blocks, or the padding is wrong (wrong key).
    """
    if not ciphertext or len(ciphertext) % 8:
        msg = "RC2 ciphertext is not a whole number of blocks"
        raise ValueError(msg)
    subkeys = _rc2_key_schedule(key, effective_bits)
    plain = bytearray()
    previous = iv
    for start in range(0, len(ciphertext), 8):
        block = ciphertext[start : start + 8]
        plain += bytes(
            x ^ y for x, y in zip(_rc2_decrypt_block(subkeys, block), previous, strict=True)
        )
        previous = block
    unpadder = padding.PKCS7(64).unpadder()
    return unpadder.update(bytes(plain)) + unpadder.finalize()


# --- load_pkcs12_store ----------------------------------------------------------------------


def _load_with_cryptography(
    data: bytes, password: bytes | None
) -> pkcs12.PKCS12KeyAndCertificates | None:
    """Call cryptography's load_pkcs12, with every failure (a Rust panic included) as None."""
    try:
        return pkcs12.load_pkcs12(data, password)
    except Exception:  # noqa: BLE001 - cryptography says only "invalid password or data"
        return None
    except BaseException as exc:
        # pyo3's PanicException derives from BaseException; anything else (KeyboardInterrupt,
        # SystemExit) must still propagate.
        if type(exc).__name__ == "PanicException":
            return None
        raise


def _encryption_algorithms(auth_safe: bytes) -> list[str]:
    """Dotted OIDs of the algorithms encrypting the SafeContents, for messages."""
    found: list[str] = []
    try:
        _, content, _ = _read(auth_safe)
        for _tag, info in _children(content):
            fields = _children(info)
            if fields[0][1] == _OID_ENCRYPTED_DATA:
                (encrypted,) = _children(fields[1][1])
                info_fields = _children(_children(encrypted[1])[1][1])
                oid = _oid_text(_children(info_fields[1][1])[0][1])
                found.append(oid)
    except (_DerError, IndexError, ValueError):
        pass
    return found


def load_pkcs12_store(data: bytes, password: bytes | None, source: str) -> list[StoreEntry]:
    """Read the certificates of any PKCS#12 file, each with its alias and whether it is trusted.

    Java trust stores (ours, keytool's), OpenSSL's (modern and ``-legacy``), with a password or
    password-less (no MAC) are all read. cryptography verifies the MAC, decrypts and parses; the
    bag attributes are then read here, decrypting encrypted SafeContents ourselves (PBES2 with
    PBKDF2 and AES-CBC or 3DES-CBC; the PKCS#12 3DES and RC2 schemes).

    The rule for ``trusted``: a certificate is trusted exactly when its bag carries Java's
    trusted-certificate attribute (OID 2.16.840.1.113894.746875.1.1), as Java itself decides
    trustedCertEntry. A certificate whose bag could not be seen (encrypted with an algorithm
    not decrypted here) is reported untrusted, as is a certificate without the attribute (an
    ``openssl pkcs12 -export -nokeys`` file, which Java reads as holding no trusted entry) and
    the certificate of a private key. Key entries themselves are not returned: their
    certificates are, untrusted.

    Args:
        data: The file's bytes.
        password: The store password (UTF-8), or None. The empty password counts as None; a
            store whose MAC is keyed on the empty password is read either way.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        One entry per certificate, keys' certificates first (cryptography's order), then the
        other certificates in file order. The alias is the friendly name, or "" without one.

    Raises:
        MalformedInputError: Not a PKCS#12 file: truncated, corrupt, or content that cannot be
            decrypted although the integrity check passes (the message names the algorithm).
        MissingPasswordError: The store has an integrity MAC (or encrypted content) and no
            password was given.
        WrongPasswordError: The password is wrong, or the MAC does not verify.
    """
    secret = password or None
    try:
        pfx: _Pfx | None = _parse_pfx(data)
    except (_DerError, IndexError, ValueError) as exc:
        if not looks_like_pkcs12(data):
            msg = f"{source}: not a PKCS#12 file (no DER PFX of version 3): {exc}"
            raise MalformedInputError(msg, source=source) from None
        pfx = None
        problem = str(exc)
    mac_ok = _check_mac(pfx, secret, source) if pfx is not None else None

    loaded = _load_with_cryptography(data, secret)
    if loaded is None and secret is not None and pfx is not None and pfx.mac is None:
        # OpenSSL refuses a password for a file without MAC; its certificates may be in clear.
        loaded = _load_with_cryptography(data, None)
    if loaded is None:
        if pfx is None:
            msg = f"{source}: not a valid PKCS#12 file (truncated or corrupt DER: {problem})"
            raise MalformedInputError(msg, source=source)
        _raise_unreadable(pfx, secret, mac_ok=mac_ok, source=source)

    return _entries(loaded, pfx, secret)


def _check_mac(pfx: _Pfx, secret: bytes | None, source: str) -> bool | None:
    """Verify the MAC ourselves, to tell a wrong or missing password from a corrupt file.

    Returns:
        True when it verifies, None when there is none or its digest is unknown here.

    Raises:
        MissingPasswordError: A MAC, no password, and the MAC is not keyed on the empty one.
        WrongPasswordError: A MAC the password does not verify.
    """
    mac = pfx.mac
    if mac is None:
        return None
    if not 1 <= mac.iterations <= _MAX_ITERATIONS:
        msg = f"{source}: the PKCS#12 MAC iteration count is outside 1..{_MAX_ITERATIONS}"
        raise MalformedInputError(msg, source=source)
    if secret is None:
        # Some writers key the MAC on no password, others on the empty one ("" plus terminator).
        verdicts = [_verify_mac(mac, pfx.auth_safe, bmp) for bmp in (b"", b"\0\0")]
        if True in verdicts:
            return True
        if None in verdicts:
            return None
        msg = (
            f"{source}: this PKCS#12 store is protected by an integrity MAC and needs its "
            "password; none was given"
        )
        raise MissingPasswordError(msg, source=source)
    verdict = _verify_mac(mac, pfx.auth_safe, _bmp_password(secret))
    if verdict is False:
        msg = (
            f"{source}: wrong password for this PKCS#12 store, or the file has been altered: "
            "its integrity check (MAC) does not verify"
        )
        raise WrongPasswordError(msg, source=source)
    return verdict


def _raise_unreadable(
    pfx: _Pfx, secret: bytes | None, *, mac_ok: bool | None, source: str
) -> NoReturn:
    """Raise the error that fits a file cryptography could not read."""
    algorithms_used = _encryption_algorithms(pfx.auth_safe)
    named = ", ".join(algorithms_used) or "none"
    if mac_ok:
        msg = (
            f"{source}: the PKCS#12 integrity check passes but the content cannot be read "
            f"(corrupt, or encrypted with an algorithm this cryptography build refuses; "
            f"encryption OIDs: {named})"
        )
        raise MalformedInputError(msg, source=source)
    if pfx.mac is not None or algorithms_used:
        if secret is None:
            msg = f"{source}: this PKCS#12 store is password-protected; no password was given"
            raise MissingPasswordError(msg, source=source)
        msg = f"{source}: wrong password for this PKCS#12 store (it cannot be decrypted)"
        raise WrongPasswordError(msg, source=source)
    msg = f"{source}: not a valid PKCS#12 file (its content cannot be parsed)"
    raise MalformedInputError(msg, source=source)


def _entries(
    loaded: pkcs12.PKCS12KeyAndCertificates, pfx: _Pfx | None, secret: bytes | None
) -> list[StoreEntry]:
    """Pair cryptography's certificates with the bags we read, for the trusted flag."""
    bags: list[_Bag] = []
    if pfx is not None:
        try:
            bags = _safe_contents(pfx.auth_safe, secret).bags
        except (_DerError, IndexError, ValueError):
            # The attributes could not be read: every certificate is then reported untrusted.
            bags = []
    key_certificate = loaded.cert if loaded.key is not None else None
    pkcs12_certificates = ([loaded.cert] if loaded.cert is not None else []) + list(
        loaded.additional_certs
    )
    entries = []
    for item in pkcs12_certificates:
        der = item.certificate.public_bytes(Encoding.DER)
        alias = (item.friendly_name or b"").decode("utf-8", errors="replace")
        bag = next((b for b in bags if b.der == der and b.alias == alias), None)
        bag = bag or next((b for b in bags if b.der == der), None)
        if bag is not None:
            bags.remove(bag)
        trusted = bag is not None and bag.trusted and item is not key_certificate
        entries.append(StoreEntry(alias=alias, certificate=item.certificate, trusted=trusted))
    return entries
