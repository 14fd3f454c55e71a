"""PKCS#12: Java trust stores and key stores written, and any PKCS#12 file read back.

We encode trust stores ourselves rather than through cryptography's
``pkcs12.serialize_java_truststore``: asked for no encryption, that still writes an integrity MAC
keyed on the empty password, which keytool then refuses with ``-storepass changeit``
("Integrity check failed"). Ours has either no MAC at all or a MAC keyed on the real password.

Key stores (:func:`serialize_pkcs12_keystore`) start from cryptography's
``serialize_key_and_certificates`` (private key, certificate and chain under one alias, encrypted
with the profile's algorithm); this module then adds the trusted CA certificates with Java's
trust attribute (which cryptography cannot write next to a key) to the encrypted certificates,
re-encrypts them, and recomputes the integrity MAC over the result: two SafeContents, as keytool
writes them (in OpenSSL's order, the certificates first), which go-pkcs12 requires.

Reading goes through cryptography's ``pkcs12.load_pkcs12`` (MAC, decryption, certificates,
friendly names); this module then reads the bag attributes itself, because cryptography does not
expose Java's trusted-certificate attribute, which is what makes an entry a trustedCertEntry.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import importlib
import os
import warnings
from typing import TYPE_CHECKING, NamedTuple, NoReturn, Protocol

import attrs
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
    pkcs12,
)

from truststore_builder._errors import (
    DerDecodeError,
    InvalidPasswordError,
    MalformedInputError,
    MissingPasswordError,
    ReadBackError,
    WrongPasswordError,
)
from truststore_builder._formats.asn1 import (
    BMP_STRING,
    CONSTRUCTED,
    CONTEXT_0,
    CONTEXT_0_PRIMITIVE,
    INTEGER,
    MAX_NESTING,
    NULL,
    OCTET_STRING,
    OID,
    SEQUENCE,
    SET,
    Der,
    children,
    encode_header,
    encode_tlv,
    expect,
    iter_children,
    oid_content,
    oid_dotted,
    read_element,
)
from truststore_builder._formats.codec import (
    Codec,
    KeyEntryReadBack,
    KeyStoreParts,
    KeyStoreReadBack,
    ReadBack,
)
from truststore_builder._formats.der import describe_other_der
from truststore_builder._model import (
    StoreEntry,
    StoreFormat,
    as_password_bytes,
    issuer_path,
    spki_der,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from truststore_builder._formats.keys import PrivateKey

__all__ = [
    "PKCS12_CONSUMERS",
    "PKCS12_PROFILES",
    "Pkcs12Profile",
    "encrypted_key_protection",
    "load_pkcs12_identities",
    "load_pkcs12_keystore",
    "load_pkcs12_store",
    "looks_like_pkcs12",
    "pkcs12_content_summary",
    "resolve_pkcs12_profile",
    "serialize_pkcs12_keystore",
    "serialize_pkcs12_truststore",
]

#: Iterations and salt length of the MAC we write: what keytool and OpenSSL 3 write by default.
MAC_ITERATIONS = 10_000
MAC_SALT_LENGTH = 16
#: The most KDF iterations one count of a file we read may ask for (the JDK's own limit), so
#: that a hostile file cannot make a KDF spin for hours.
_MAX_ITERATIONS = 5_000_000
#: The most KDF iterations one file may ask for in all: its MAC, every encrypted SafeContents
#: and every shrouded key together (two counts at the limit). Every count is checked, and the
#: sum, before the file reaches cryptography (OpenSSL) or our own decryption.
_MAX_TOTAL_ITERATIONS = 2 * _MAX_ITERATIONS
#: How deep SafeContents bags may nest in a file we read (as BER indefinite lengths may).
_MAX_NESTING = MAX_NESTING

_BMP_MAX = 0xFFFF


_OID_DATA = oid_content("1.2.840.113549.1.7.1")
_OID_ENCRYPTED_DATA = oid_content("1.2.840.113549.1.7.6")
_OID_KEY_BAG = oid_content("1.2.840.113549.1.12.10.1.1")
_OID_SHROUDED_KEY_BAG = oid_content("1.2.840.113549.1.12.10.1.2")
_OID_CERT_BAG = oid_content("1.2.840.113549.1.12.10.1.3")
_OID_SAFE_CONTENTS_BAG = oid_content("1.2.840.113549.1.12.10.1.6")
_OID_X509_CERTIFICATE = oid_content("1.2.840.113549.1.9.22.1")
_OID_FRIENDLY_NAME = oid_content("1.2.840.113549.1.9.20")
_OID_LOCAL_KEY_ID = oid_content("1.2.840.113549.1.9.21")
#: Oracle's attribute marking a certificate bag as a trusted certificate entry for Java.
_OID_JAVA_TRUSTED = oid_content("2.16.840.1.113894.746875.1.1")
_OID_ANY_EXTENDED_KEY_USAGE = oid_content("2.5.29.37.0")
_OID_PBES2 = oid_content("1.2.840.113549.1.5.13")
_OID_PBKDF2 = oid_content("1.2.840.113549.1.5.12")
_OID_SCRYPT = oid_content("1.3.6.1.4.1.11591.4.11")
#: PKCS#5 v1.5 (PBES1) and PKCS#12 PBE algorithms: parameters SEQUENCE { salt, iterations }.
_PBE_ARCS = (oid_content("1.2.840.113549.1.5"), oid_content("1.2.840.113549.1.12.1"))
_OID_DES_EDE3_CBC = oid_content("1.2.840.113549.3.7")

#: Digest algorithms of a MAC, and PRFs of PBKDF2, by OID: hashlib name and cryptography hash.
_DIGESTS: dict[bytes, str] = {
    oid_content("1.3.14.3.2.26"): "sha1",
    oid_content("2.16.840.1.101.3.4.2.4"): "sha224",
    oid_content("2.16.840.1.101.3.4.2.1"): "sha256",
    oid_content("2.16.840.1.101.3.4.2.2"): "sha384",
    oid_content("2.16.840.1.101.3.4.2.3"): "sha512",
}
#: The MAC digests we write (hashlib name to OID): the four every PKCS#12 reader knows.
_MAC_DIGEST_OIDS: dict[str, bytes] = {
    name: oid for oid, name in _DIGESTS.items() if name in {"sha1", "sha256", "sha384", "sha512"}
}
_PRFS: dict[bytes, hashes.HashAlgorithm] = {
    # SHA-1 only ever to read older files, never to write.
    oid_content("1.2.840.113549.2.7"): hashes.SHA1(),  # noqa: S303
    oid_content("1.2.840.113549.2.8"): hashes.SHA224(),
    oid_content("1.2.840.113549.2.9"): hashes.SHA256(),
    oid_content("1.2.840.113549.2.10"): hashes.SHA384(),
    oid_content("1.2.840.113549.2.11"): hashes.SHA512(),
}
_AES_CBC_KEY_LENGTHS: dict[bytes, int] = {
    oid_content("2.16.840.1.101.3.4.1.2"): 16,
    oid_content("2.16.840.1.101.3.4.1.22"): 24,
    oid_content("2.16.840.1.101.3.4.1.42"): 32,
}
#: The PKCS#12 password-based schemes (RFC 7292 Appendix C): cipher, key length in bytes.
_PKCS12_PBE: dict[bytes, tuple[str, int]] = {
    oid_content("1.2.840.113549.1.12.1.3"): ("3des", 24),
    oid_content("1.2.840.113549.1.12.1.4"): ("3des", 16),
    oid_content("1.2.840.113549.1.12.1.5"): ("rc2", 16),
    oid_content("1.2.840.113549.1.12.1.6"): ("rc2", 5),
}


# --- DER encoding -------------------------------------------------------------------------


class _Pieces(NamedTuple):
    """DER bytes kept as a list of pieces, joined once at the end.

    A trust store of 100,000 certificates is some 50 MB: each layer of wrapping (SafeContents,
    ContentInfo, AuthenticatedSafe, PFX) would otherwise copy all of it once more.
    """

    parts: list[bytes]
    length: int

    @classmethod
    def of(cls, parts: list[bytes]) -> _Pieces:
        return cls(parts, sum(map(len, parts)))

    def enclosed(self, tag: int) -> _Pieces:
        """These pieces as the content of one DER element."""
        header = encode_header(tag, self.length)
        return _Pieces([header, *self.parts], len(header) + self.length)


def _sequence(*elements: bytes) -> bytes:
    return encode_tlv(SEQUENCE, b"".join(elements))


def _set_of(*elements: bytes) -> bytes:
    # DER orders the members of a SET OF by their encodings.
    return encode_tlv(SET, b"".join(sorted(elements)))


def _integer(value: int) -> bytes:
    return encode_tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(content: bytes) -> bytes:
    return encode_tlv(OCTET_STRING, content)


def _oid(body: bytes) -> bytes:
    return encode_tlv(OID, body)


def _explicit0(element: bytes) -> bytes:
    return encode_tlv(CONTEXT_0, element)


def _data_content_info_pieces(content: _Pieces) -> _Pieces:
    """:func:`_data_content_info` of content kept in pieces."""
    wrapped = content.enclosed(OCTET_STRING).enclosed(CONTEXT_0)
    oid = _oid(_OID_DATA)
    return _Pieces([oid, *wrapped.parts], len(oid) + wrapped.length).enclosed(SEQUENCE)


def _data_content_info(content: bytes) -> bytes:
    """A ContentInfo of type id-data: the content wrapped in an OCTET STRING, not encrypted."""
    return b"".join(_data_content_info_pieces(_Pieces.of([content])).parts)


def _trusted_certificate_bag(alias: str, certificate: x509.Certificate) -> bytes:
    """A CertBag SafeBag with the friendly name and Java's trusted-certificate attribute."""
    cert_bag = _sequence(
        _X509_CERTIFICATE_TYPE, _explicit0(_octets(certificate.public_bytes(Encoding.DER)))
    )
    attributes = [_JAVA_TRUSTED_ATTRIBUTE]
    if alias:
        name = encode_tlv(BMP_STRING, alias.encode("utf-16-be"))
        attributes.append(_sequence(_FRIENDLY_NAME_TYPE, _set_of(name)))
    return _sequence(_CERT_BAG_TYPE, _explicit0(cert_bag), _set_of(*attributes))


# The constant parts of a trusted certificate bag, encoded once. keytool writes
# anyExtendedKeyUsage as the trust attribute's value: trusted for every purpose.
_JAVA_TRUSTED_ATTRIBUTE = _sequence(
    _oid(_OID_JAVA_TRUSTED), _set_of(_oid(_OID_ANY_EXTENDED_KEY_USAGE))
)
_CERT_BAG_TYPE = _oid(_OID_CERT_BAG)
_X509_CERTIFICATE_TYPE = _oid(_OID_X509_CERTIFICATE)
_FRIENDLY_NAME_TYPE = _oid(_OID_FRIENDLY_NAME)


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


class _Hash(Protocol):
    """What the KDF needs of a hash object."""

    @property
    def block_size(self) -> int: ...

    def digest(self) -> bytes: ...


#: CPython's own hash modules, by hashlib name: ``_sha2`` from Python 3.12 on, ``_sha256`` and
#: ``_sha512`` before. The KDF is thousands of hashes of one digest each, where the cost is the
#: call, not the hashing: their constructors are cheaper than hashlib's OpenSSL ones (the KDF at
#: 10,000 iterations runs some 14% faster with SHA-256, 27% with SHA-512; SHA-1's gains nothing,
#: so hashlib's is kept). Builds without them (some FIPS builds) use hashlib's.
_BUILTIN_HASHES: dict[str, tuple[tuple[str, str], ...]] = {
    "sha224": (("_sha2", "sha224"), ("_sha256", "sha224")),
    "sha256": (("_sha2", "sha256"), ("_sha256", "sha256")),
    "sha384": (("_sha2", "sha384"), ("_sha512", "sha384")),
    "sha512": (("_sha2", "sha512"), ("_sha512", "sha512")),
}


@functools.cache
def _hash_constructor(digest: str) -> Callable[[bytes], _Hash]:
    """The fastest constructor of ``digest`` (a hashlib name) for short inputs."""
    for module_name, attribute in _BUILTIN_HASHES.get(digest, ()):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        constructor = getattr(module, attribute, None)
        if callable(constructor):
            return constructor  # type: ignore[no-any-return]
    # hashlib.sha256 and its kind, called directly, take half the time of hashlib.new(name).
    named = getattr(hashlib, digest, None)
    if callable(named):
        return named  # type: ignore[no-any-return]
    return functools.partial(hashlib.new, digest)


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
    construct = _hash_constructor(digest)
    block = construct(b"").block_size

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
        hashed = construct(diversifier + state).digest()
        for _ in range(iterations - 1):
            hashed = construct(hashed).digest()
        derived += hashed
        if len(derived) >= length:
            return derived[:length]
        # I_j = (I_j + B + 1) mod 2^(8v) for every block I_j of I.
        increment = int.from_bytes(stretch(hashed), "big") + 1
        for start in range(0, len(state), block):
            value = int.from_bytes(state[start : start + block], "big") + increment
            state[start : start + block] = (value % (1 << (8 * block))).to_bytes(block, "big")


def _mac_data(
    auth_safe: bytes | Iterable[bytes],
    password: bytes,
    salt: bytes,
    iterations: int,
    digest: str = "sha256",
) -> bytes:
    """The MacData: an HMAC over the AuthenticatedSafe (its bytes, or its pieces in order).

    ``digest`` is a hashlib name from :data:`_MAC_DIGEST_OIDS` (SHA-256 unless told); the key
    comes from the PKCS#12 KDF.
    """
    length = hashlib.new(digest).digest_size
    key = _pkcs12_kdf(digest, _bmp_password(password), salt, iterations, 3, length)
    hashing = hmac.new(key, digestmod=digest)
    for part in [auth_safe] if isinstance(auth_safe, bytes) else auth_safe:
        hashing.update(part)
    mac = hashing.digest()
    algorithm = _sequence(_oid(_MAC_DIGEST_OIDS[digest]), encode_tlv(NULL, b""))
    return _sequence(_sequence(algorithm, _octets(mac)), _octets(salt), _integer(iterations))


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
    if password:
        _require_utf8(password)
    safe_contents = _Pieces.of([_trusted_certificate_bag(a, c) for a, c in entries])
    auth_safe = _data_content_info_pieces(safe_contents.enclosed(SEQUENCE)).enclosed(SEQUENCE)
    parts = [_integer(3), *_data_content_info_pieces(auth_safe).parts]
    if password:
        salt = os.urandom(MAC_SALT_LENGTH)
        parts.append(_mac_data(auth_safe.parts, password, salt, MAC_ITERATIONS))
    return b"".join(_Pieces.of(parts).enclosed(SEQUENCE).parts)


def _require_utf8(password: bytes) -> None:
    """Refuse a password that is not UTF-8: Java and OpenSSL would each read it differently.

    Raises:
        InvalidPasswordError: It is not UTF-8 (the message does not show it).
    """
    try:
        password.decode("utf-8")
    except UnicodeDecodeError:
        msg = "the PKCS#12 password must be UTF-8 text"
        raise InvalidPasswordError(msg) from None


# --- Key store profiles ---------------------------------------------------------------------

#: KDF iterations of the key stores we write (key, certificates and MAC alike): keytool's default
#: since JDK 12, read by every consumer below, and well under .NET's total limit of 600,000.
KEYSTORE_ITERATIONS = 10_000

#: Accepted spellings of the MAC hashes, to the hashlib name.
_MAC_HASH_NAMES = {
    "sha1": "sha1",
    "sha-1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
    "sha384": "sha384",
    "sha-384": "sha384",
    "sha512": "sha512",
    "sha-512": "sha512",
}
_MAC_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(),  # noqa: S303 - the legacy profile's MAC, for readers that know no other
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}


def _mac_hash_name(value: object) -> str:
    """The hashlib name of an approved MAC hash, given as a name or a cryptography hash.

    Raises:
        ValueError: Any hash but SHA-1, SHA-256, SHA-384 or SHA-512 (cryptography's PKCS#12
            writer panics on some others, such as SHA3-256 or MD5, so they never reach it).
    """
    if isinstance(value, hashes.HashAlgorithm):
        value = value.name
    name = _MAC_HASH_NAMES.get(value.lower()) if isinstance(value, str) else None
    if name is None:
        msg = f"unsupported PKCS#12 MAC hash {value!r}: use one of SHA-1, SHA-256, SHA-384, SHA-512"
        raise ValueError(msg)
    return name


def _check_iterations(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ITERATIONS:
        msg = f"PKCS#12 iteration count must be an integer in 1..{_MAX_ITERATIONS}, not {value!r}"
        raise ValueError(msg)


def _check_algorithm(_instance: object, _attribute: object, value: pkcs12.PBES) -> None:
    if not isinstance(value, pkcs12.PBES):
        msg = f"unsupported PKCS#12 key/certificate algorithm {value!r}: use a pkcs12.PBES member"
        raise ValueError(msg)  # noqa: TRY004 - a bad value of the profile, like the others


@attrs.frozen
class Pkcs12Profile:
    """How a PKCS#12 key store is protected: one algorithm for the key and the certificates.

    Attributes:
        name: The profile's name (``modern``, ``legacy``, or the caller's own).
        key_cert_algorithm: Encryption of the private key bag and of the certificates.
        mac_hash: The integrity MAC's hash, a hashlib name (``sha1``, ``sha256``, ``sha384``,
            ``sha512``); a cryptography hash or ``SHA-256``-style name is converted. Any other
            hash is a ValueError when the profile is made.
        iterations: KDF iterations of the key and certificate encryption and of the MAC.
        description: Who reads it, for help texts.
    """

    name: str
    key_cert_algorithm: pkcs12.PBES = attrs.field(validator=_check_algorithm)
    mac_hash: str = attrs.field(converter=_mac_hash_name)
    iterations: int = attrs.field(default=KEYSTORE_ITERATIONS, validator=_check_iterations)
    description: str = ""


#: The two profiles. ``modern`` (the default): PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for
#: the key and the certificates, HMAC-SHA256 MAC. ``legacy``: pbeWithSHAAnd3-KeyTripleDES-CBC
#: for both, HMAC-SHA1 MAC; neither RC2 nor 40-bit keys (OpenSSL 3 reads it without -legacy).
PKCS12_PROFILES: Mapping[str, Pkcs12Profile] = {
    "modern": Pkcs12Profile(
        name="modern",
        key_cert_algorithm=pkcs12.PBES.PBESv2SHA256AndAES256CBC,
        mac_hash="sha256",
        description=(
            "AES-256-CBC/PBKDF2-HMAC-SHA256, HMAC-SHA256 MAC: Java 8u301+, 11.0.12+, 17, 21; "
            "Windows 10 1709+ and Server 2019+; .NET 5+; OpenSSL 1.1 and 3; Python"
        ),
    ),
    "legacy": Pkcs12Profile(
        name="legacy",
        key_cert_algorithm=pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC,
        mac_hash="sha1",
        description=(
            "3DES (pbeWithSHAAnd3-KeyTripleDES-CBC), HMAC-SHA1 MAC: Java 8 before 8u301, "
            "Windows Server 2016 and older, .NET Framework, macOS keychain"
        ),
    ),
}

#: Consumers by name, to the profile they read. Windows imports AES-256/SHA-256 PFX files from
#: Windows 10 1709 and Windows Server 2019 on (Microsoft's PKCS12_PBES2_EXPORT_PARAMS page);
#: Server 2016 (build 1607) does not. Java reads the HMAC-SHA256 MAC from 8u301 and 11.0.12 on
#: (JDK-8076190): ``java11`` means 11.0.12 or later.
PKCS12_CONSUMERS: Mapping[str, str] = {
    "java8": "legacy",
    "java8u301": "modern",
    "java11": "modern",
    "java17": "modern",
    "java21": "modern",
    "windows2016": "legacy",
    "windows2019": "modern",
    "dotnet-framework": "legacy",
    "dotnet": "modern",
    "macos": "legacy",
    "openssl1.1": "modern",
    "openssl3": "modern",
    "python": "modern",
}


def resolve_pkcs12_profile(name: str) -> Pkcs12Profile:
    """The key store profile for a profile name or a consumer's name.

    Args:
        name: ``modern`` or ``legacy``, or a consumer from :data:`PKCS12_CONSUMERS` such as
            ``java8``, ``windows2016`` or ``openssl3`` (case and surrounding blanks ignored).

    Returns:
        The profile.

    Raises:
        ValueError: An unknown name; the message lists every valid one.
    """
    key = name.strip().lower() if isinstance(name, str) else ""
    profile = PKCS12_PROFILES.get(PKCS12_CONSUMERS.get(key, key))
    if profile is None:
        valid = ", ".join([*PKCS12_PROFILES, *PKCS12_CONSUMERS])
        msg = f"unknown PKCS#12 profile {name!r}: use one of {valid}"
        raise ValueError(msg)
    return profile


# --- Key stores -------------------------------------------------------------------------------


def serialize_pkcs12_keystore(
    *,
    alias: str,
    key: PrivateKey,
    chain: Sequence[x509.Certificate],
    trusted: Sequence[tuple[str, x509.Certificate]],
    password: bytes | None,
    profile: str | Pkcs12Profile = "modern",
) -> bytes:
    """Encode a PKCS#12 key store: one private key entry plus trusted certificate entries.

    The layout, as Java and OpenSSL read it:

    - the private key (a PKCS8ShroudedKeyBag) and the leaf certificate both carry ``alias`` as
      friendlyName and the same localKeyId, so Java lists one PrivateKeyEntry named ``alias``;
    - the rest of the chain follows as certificate bags without attributes: no friendly name,
      no trust attribute, so Java attaches them to the key entry's chain and lists no entry of
      their own;
    - every ``trusted`` certificate is a certificate bag with its alias and Java's trusted
      certificate attribute, which Java lists as a trustedCertEntry. A CA may be both in the
      chain and trusted: it is then written twice, once each way.

    Two SafeContents, as keytool writes them: every certificate (the chain's and the trusted
    ones) in one, encrypted with the profile's algorithm; the shrouded key in the other. go-pkcs12
    refuses any other count, and an encrypted SafeContents is what every reader expects to hold
    the certificates of a key store. They come in OpenSSL's (and cryptography's) order, the
    certificates first; keytool writes the key first, and no reader here minds which. The MAC
    covers everything.

    There is one password: the key is encrypted under the store password, which is what Java
    (``-keypass`` must equal ``-storepass`` for PKCS#12), Windows, .NET and OpenSSL expect.

    Args:
        alias: The key entry's alias (friendlyName); non-empty.
        key: The private key (RSA or EC).
        chain: The certificate chain, leaf first (the leaf's public key must be ``key``'s).
        trusted: ``(alias, certificate)`` pairs for the trusted entries, in store order.
        password: The store (and key) password, UTF-8. Never empty: Java reads a key store
            without a password as holding no entry at all.
        profile: A profile name or consumer name (see :func:`resolve_pkcs12_profile`), or a
            :class:`Pkcs12Profile`.

    Returns:
        The DER-encoded PFX.

    Raises:
        ValueError: No or an empty password, a password that is not UTF-8, an unknown profile,
            an unsupported MAC hash, an empty alias or chain, aliases that clash (Java
            compares them ignoring case), or a leaf that is not the key's.
    """
    if not password:
        msg = (
            "a PKCS#12 key store needs a password: Java reads a password-less key store as "
            "holding no entries"
        )
        raise ValueError(msg)
    as_password_bytes(password)
    _require_utf8(password)
    chosen = profile if isinstance(profile, Pkcs12Profile) else resolve_pkcs12_profile(profile)
    digest = _mac_hash_name(chosen.mac_hash)  # again, for a profile made without attrs' checks
    if not alias:
        msg = "the key entry needs a non-empty alias"
        raise ValueError(msg)
    if not chain:
        msg = "the key entry needs its certificate: the chain is empty"
        raise ValueError(msg)
    seen: set[str] = set()
    for name in [alias, *(a for a, _ in trusted)]:
        if not name or name.lower() in seen:
            msg = f"alias {name!r} is empty or used twice (Java compares aliases ignoring case)"
            raise ValueError(msg)
        seen.add(name.lower())
    supported = isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    if not supported or spki_der(key) != spki_der(chain[0]):
        msg = "the first certificate of the chain is not the private key's certificate"
        raise ValueError(msg)

    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(chosen.iterations)
        .key_cert_algorithm(chosen.key_cert_algorithm)
        .hmac_hash(_MAC_HASHES[digest])
        .build(password)
    )
    base = pkcs12.serialize_key_and_certificates(
        alias.encode("utf-8"), key, chain[0], list(chain[1:]) or None, encryption
    )
    auth_safe = _keytool_layout(base, trusted, password, chosen)
    salt = os.urandom(MAC_SALT_LENGTH)
    mac = _mac_data(auth_safe.parts, password, salt, chosen.iterations, digest)
    pfx = _Pieces.of([_integer(3), *_data_content_info_pieces(auth_safe).parts, mac])
    return b"".join(pfx.enclosed(SEQUENCE).parts)


def _keytool_layout(
    base: bytes,
    trusted: Sequence[tuple[str, x509.Certificate]],
    password: bytes,
    profile: Pkcs12Profile,
) -> _Pieces:
    """The AuthenticatedSafe of a key store: its certificates and the trusted ones, then its key.

    Args:
        base: cryptography's PKCS#12 of the key and its chain: the encrypted certificates, then
            the key. Its MAC (2048 iterations, 8-byte salt) is dropped; its certificates are
            decrypted and encrypted again beside the trusted ones.
        trusted: ``(alias, certificate)`` pairs for the trusted entries, in store order.
        password: The store password.
        profile: The key store's profile.

    Returns:
        The AuthenticatedSafe: one encrypted SafeContents of every certificate, then the key's.

    Raises:
        ReadBackError: cryptography's certificates do not decrypt with ``password``.
    """
    certificate_bags: list[bytes] = []
    key_infos: list[bytes] = []
    _, safes, _ = read_element(memoryview(_parse_pfx(base).auth_safe))
    for _tag, info in children(safes):
        fields = children(info)
        if expect(fields[0], OID, "ContentInfo type") != _OID_ENCRYPTED_DATA:
            key_infos.append(encode_header(SEQUENCE, len(info)) + bytes(info))
            continue
        plain = _decrypt_encrypted_data(fields[1][1], password)
        if plain is None:
            msg = "the key store's certificates, as cryptography encrypted them, do not decrypt"
            raise ReadBackError(msg)
        certificate_bags.append(bytes(read_element(memoryview(plain))[1]))
    certificate_bags += [_trusted_certificate_bag(a, c) for a, c in trusted]
    certificates = b"".join(_Pieces.of(certificate_bags).enclosed(SEQUENCE).parts)
    encrypted = _encrypted_data_content_info(certificates, password, profile)
    return _Pieces.of([encrypted, *key_infos]).enclosed(SEQUENCE)


def _encrypted_data_content_info(
    safe_contents: bytes, password: bytes, profile: Pkcs12Profile
) -> bytes:
    """An EncryptedData ContentInfo holding ``safe_contents``, under the profile's algorithm.

    The algorithm identifiers are encoded as cryptography encodes them for the key (PBES2 with
    PBKDF2-HMAC-SHA256 and AES-256-CBC, or pbeWithSHAAnd3-KeyTripleDES-CBC), with a fresh salt
    and IV, and the profile's iterations.
    """
    iterations = profile.iterations
    if profile.key_cert_algorithm is pkcs12.PBES.PBESv2SHA256AndAES256CBC:
        salt, iv = os.urandom(16), os.urandom(16)
        kdf = _sequence(
            _oid(_OID_PBKDF2),
            _sequence(_octets(salt), _integer(iterations), _HMAC_WITH_SHA256),
        )
        algorithm = _sequence(
            _oid(_OID_PBES2), _sequence(kdf, _sequence(_oid(_OID_AES_256_CBC), _octets(iv)))
        )
        key = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(password)
        cipher: algorithms.AES | TripleDES = algorithms.AES(key)
    else:
        salt = os.urandom(8)
        algorithm = _sequence(
            _oid(_OID_PBE_SHA1_3DES), _sequence(_octets(salt), _integer(iterations))
        )
        bmp = _bmp_password(password)
        cipher = TripleDES(_pkcs12_kdf("sha1", bmp, salt, iterations, 1, 24))
        iv = _pkcs12_kdf("sha1", bmp, salt, iterations, 2, 8)
    padder = padding.PKCS7(cipher.block_size).padder()
    encryptor = Cipher(cipher, modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(safe_contents) + padder.finalize())
    ciphertext += encryptor.finalize()
    encrypted_content_info = _sequence(
        _oid(_OID_DATA), algorithm, encode_tlv(CONTEXT_0_PRIMITIVE, ciphertext)
    )
    return _sequence(
        _oid(_OID_ENCRYPTED_DATA), _explicit0(_sequence(_integer(0), encrypted_content_info))
    )


_OID_AES_256_CBC = oid_content("2.16.840.1.101.3.4.1.42")
_OID_PBE_SHA1_3DES = oid_content("1.2.840.113549.1.12.1.3")
_HMAC_WITH_SHA256 = _sequence(_oid(oid_content("1.2.840.113549.2.9")), encode_tlv(NULL, b""))

# --- DER decoding -------------------------------------------------------------------------


class _NestingError(DerDecodeError):
    """SafeContents nested deeper than this module walks (and so deeper than it checks)."""


class _UnwalkedError(Exception):
    """A SafeContents decrypted but whose bags do not parse: wrong password, or hostile.

    Its keys' iteration counts could not be checked, so the file must not reach OpenSSL.
    """


def _unwrap_explicit0_octets(content: Der, what: str) -> bytes | Der:
    """The content of ``[0] EXPLICIT OCTET STRING`` (also BER's constructed OCTET STRING)."""
    (inner,) = children(content) or [(0, content[:0])]
    if inner[0] == OCTET_STRING:
        return inner[1]
    if inner[0] == OCTET_STRING | 0x20:
        return b"".join(expect(part, OCTET_STRING, what) for part in children(inner[1]))
    msg = f"{what}: expected an OCTET STRING"
    raise DerDecodeError(msg)


class _Mac(NamedTuple):
    digest_oid: bytes
    value: bytes
    salt: bytes
    iterations: int


class _Pfx(NamedTuple):
    #: A view into the file's bytes (no copy) unless the file wrote it in BER pieces.
    auth_safe: bytes | memoryview
    mac: _Mac | None


def _parse_pfx(data: bytes) -> _Pfx:
    """Parse the outer PFX: version 3, an id-data authSafe, optional MacData.

    Raises:
        DerDecodeError: Not that structure.
    """
    tag, content, end = read_element(memoryview(data))
    if tag != SEQUENCE:
        msg = "the file is not a DER SEQUENCE"
        raise DerDecodeError(msg)
    if end != len(data):
        msg = f"{len(data) - end} bytes follow the PFX"
        raise DerDecodeError(msg)
    parts = children(content)
    if len(parts) < 2 or bytes(expect(parts[0], INTEGER, "version")) != b"\x03":  # noqa: PLR2004
        msg = "not a PKCS#12 PFX (version 3)"
        raise DerDecodeError(msg)
    info = children(expect(parts[1], SEQUENCE, "authSafe"))
    if not info or expect(info[0], OID, "authSafe type") != _OID_DATA or len(info) < 2:  # noqa: PLR2004
        msg = "the authSafe is not id-data (public-key integrity mode is not supported)"
        raise DerDecodeError(msg)
    auth_safe = _unwrap_explicit0_octets(expect(info[1], CONTEXT_0, "authSafe"), "authSafe")
    mac = None
    if len(parts) > 2:  # noqa: PLR2004
        fields = children(expect(parts[2], SEQUENCE, "macData"))
        digest_info = children(expect(fields[0], SEQUENCE, "mac"))
        algorithm = children(expect(digest_info[0], SEQUENCE, "mac algorithm"))
        iterations = 1
        if len(fields) > 2:  # noqa: PLR2004
            iterations = int.from_bytes(expect(fields[2], INTEGER, "iterations"), "big")
        mac = _Mac(
            digest_oid=bytes(expect(algorithm[0], OID, "mac algorithm")),
            value=bytes(expect(digest_info[1], OCTET_STRING, "mac")),
            salt=bytes(expect(fields[1], OCTET_STRING, "mac salt")),
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
    if len(data) < 2 or data[0] != SEQUENCE:  # noqa: PLR2004
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
    key_id: bytes = b""


class _KeyBag(NamedTuple):
    """A private key bag: its DER (EncryptedPrivateKeyInfo when shrouded), alias and key id."""

    der: bytes
    shrouded: bool
    alias: str
    key_id: bytes


class _Contents(NamedTuple):
    """A store's SafeContents, decrypted once: those in clear, and whether none was left out."""

    plains: list[bytes | memoryview]
    complete: bool


def _verify_mac(mac: _Mac, auth_safe: bytes | memoryview, password_bmp: bytes) -> bool | None:
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
        DerDecodeError: Parameters that do not parse.
        ValueError: Decryption fails (bad padding).
    """
    fields = children(algorithm)
    oid = expect(fields[0], OID, "encryption algorithm")
    if len(fields) < 2:  # noqa: PLR2004
        return None
    parameters = expect(fields[1], SEQUENCE, "encryption parameters")
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
    salt_item, count_item = children(parameters)[:2]
    salt = expect(salt_item, OCTET_STRING, "PBE salt")
    iterations = _iterations(expect(count_item, INTEGER, "PBE iterations"))
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
    kdf, scheme = children(parameters)[:2]
    kdf_fields = children(expect(kdf, SEQUENCE, "PBES2 KDF"))
    scheme_fields = children(expect(scheme, SEQUENCE, "PBES2 scheme"))
    if expect(kdf_fields[0], OID, "KDF") != _OID_PBKDF2:
        return None
    params = children(expect(kdf_fields[1], SEQUENCE, "PBKDF2 parameters"))
    salt = expect(params[0], OCTET_STRING, "PBKDF2 salt")
    iterations = _iterations(expect(params[1], INTEGER, "PBKDF2 iterations"))
    prf: hashes.HashAlgorithm | None = _PRFS[oid_content("1.2.840.113549.2.7")]
    for tag, value in params[2:]:
        if tag == SEQUENCE:
            prf = _PRFS.get(expect(children(value)[0], OID, "PRF"))
    scheme_oid = expect(scheme_fields[0], OID, "PBES2 cipher")
    iv = expect(scheme_fields[1], OCTET_STRING, "PBES2 IV")
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
        raise DerDecodeError(msg)
    return count


class _KdfBudget:
    """The key-derivation iterations one file asks for: each count, and their sum, capped."""

    def __init__(self, source: str) -> None:
        """Start at nothing spent."""
        self.source = source
        self.total = 0

    def spend(self, count: int, what: str) -> None:
        """Account for one KDF run of ``count`` iterations, before it runs.

        Raises:
            MalformedInputError: The count is outside 1.._MAX_ITERATIONS, or the file's total
                passes _MAX_TOTAL_ITERATIONS.
        """
        if not 1 <= count <= _MAX_ITERATIONS:
            msg = (
                f"{self.source}: the PKCS#12 {what} iteration count {count} is outside "
                f"1..{_MAX_ITERATIONS:,}; refused before any key derivation runs"
            )
            raise MalformedInputError(msg, source=self.source)
        self.total += count
        if self.total > _MAX_TOTAL_ITERATIONS:
            msg = (
                f"{self.source}: the PKCS#12 file asks for more than {_MAX_TOTAL_ITERATIONS:,} "
                "key-derivation iterations in all (its MAC, encrypted contents and keys "
                "together); refused before any key derivation runs"
            )
            raise MalformedInputError(msg, source=self.source)


def _integer_value(item: tuple[int, bytes], what: str) -> int:
    return int.from_bytes(expect(item, INTEGER, what), "big", signed=True)


def _kdf_cost(algorithm: bytes) -> int | None:
    """The iterations a password-based AlgorithmIdentifier's content asks for, or None.

    PBES2 with PBKDF2 (its iteration count) or scrypt (N x r x p, its work in the same rough
    unit); PKCS#5 v1.5 and PKCS#12 PBE (their iteration count). None for anything else, which
    derives no key from a password (or which nothing here or in OpenSSL decrypts).
    """
    fields = children(algorithm)
    oid = bytes(expect(fields[0], OID, "encryption algorithm"))
    if len(fields) < 2:  # noqa: PLR2004
        return None
    parameters = children(expect(fields[1], SEQUENCE, "encryption parameters"))
    if oid == _OID_PBES2:
        kdf = children(expect(parameters[0], SEQUENCE, "PBES2 KDF"))
        kdf_oid = expect(kdf[0], OID, "KDF")
        kdf_parameters = children(expect(kdf[1], SEQUENCE, "KDF parameters"))
        if kdf_oid == _OID_PBKDF2:
            return _integer_value(kdf_parameters[1], "PBKDF2 iterations")
        if kdf_oid == _OID_SCRYPT:
            cost, block_size, parallel = (
                _integer_value(item, "scrypt parameter") for item in kdf_parameters[1:4]
            )
            return cost * block_size * parallel
        return None
    if oid.startswith(_PBE_ARCS):
        return _integer_value(parameters[1], "PBE iterations")
    return None


def encrypted_private_key_iterations(der: bytes) -> int | None:
    """The key-derivation work an encrypted PKCS#8 key asks for, or None if it is not one.

    Read from its EncryptedPrivateKeyInfo before anything derives a key, in the unit the
    PKCS#12 reader caps (:func:`_kdf_cost`): a 1 KB key file must not cost minutes either.
    """
    try:
        info = children(expect(read_element(der)[:2], SEQUENCE, "EncryptedPrivateKeyInfo"))
        return _kdf_cost(expect(info[0], SEQUENCE, "key encryption algorithm"))
    except (DerDecodeError, IndexError, ValueError):
        return None


def encrypted_key_protection(der: bytes) -> object | None:
    """An EncryptedPrivateKeyInfo's algorithm with its salt and IV left out; None if not one."""
    try:
        return _algorithm(expect(read_element(der)[:2], SEQUENCE, "EncryptedPrivateKeyInfo"))
    except (DerDecodeError, IndexError, ValueError, StopIteration):
        return None


#: The most key-derivation iterations one encrypted key may ask for (as one PKCS#12 key bag).
MAX_KEY_ITERATIONS = _MAX_ITERATIONS


def _encrypted_data_algorithm(content: bytes) -> bytes:
    """The content encryption AlgorithmIdentifier's content of an EncryptedData ContentInfo."""
    (encrypted_data,) = children(content)
    version_and_info = children(expect(encrypted_data, SEQUENCE, "EncryptedData"))
    info = children(expect(version_and_info[1], SEQUENCE, "EncryptedContentInfo"))
    return expect(info[1], SEQUENCE, "content encryption algorithm")


def _spend_on_keys(safe_contents: bytes | memoryview, budget: _KdfBudget, depth: int = 0) -> None:
    """Account for every shrouded key bag of a SafeContents, nested SafeContents included."""
    if depth >= _MAX_NESTING:
        msg = (
            f"SafeContents nested more than {_MAX_NESTING} deep, where their keys' iteration "
            "counts are not checked"
        )
        raise _NestingError(msg)
    _, content, _ = read_element(memoryview(safe_contents))
    for _tag, view in iter_children(content):
        fields = children(bytes(view))
        bag_type = expect(fields[0], OID, "bag type")
        if bag_type not in {_OID_SHROUDED_KEY_BAG, _OID_SAFE_CONTENTS_BAG}:
            continue
        (value,) = children(expect(fields[1], CONTEXT_0, "bag value"))
        if bag_type == _OID_SAFE_CONTENTS_BAG:
            _spend_on_keys(encode_tlv(value[0], value[1]), budget, depth + 1)
            continue
        info = children(expect(value, SEQUENCE, "EncryptedPrivateKeyInfo"))
        cost = _kdf_cost(expect(info[0], SEQUENCE, "key encryption algorithm"))
        if cost is not None:
            budget.spend(cost, "shrouded key")


def _decrypted_and_spent(
    value: bytes | memoryview, password: bytes | None, budget: _KdfBudget | None
) -> bytes | None:
    """An EncryptedData's SafeContents, its keys spent on the budget; None if not decrypted.

    Raises:
        _NestingError: Bags nested past _MAX_NESTING (OpenSSL would walk on, unchecked).
        _UnwalkedError: The decrypted bags do not parse otherwise.
    """
    plain = _decrypt_encrypted_data(value, password)
    if plain is not None and budget is not None:
        try:
            _spend_on_keys(plain, budget)
        except _NestingError:
            raise
        except (DerDecodeError, IndexError, ValueError):
            # A wrong password whose garbage happened to end in valid padding (one time in
            # 256), or bags built to differ from what this walk reads: either way, not
            # something to hand to OpenSSL, whose key derivations it would not have checked.
            raise _UnwalkedError from None
    return plain


def _plain_safe_contents(
    auth_safe: bytes | memoryview, password: bytes | None, budget: _KdfBudget | None = None
) -> _Contents:
    """Every SafeContents in clear (decrypted where we can), and whether none was left out.

    With a budget, every iteration count met is spent on it before its KDF runs: the
    encryptions of every EncryptedData first, then each decrypted SafeContents' keys.

    Raises:
        DerDecodeError, IndexError, ValueError: The structure does not parse (_NestingError: bags
            nested too deep, in clear or encrypted).
        _UnwalkedError: An encrypted SafeContents decrypts to bags that do not parse.
        MalformedInputError: The budget refuses a count.
    """
    infos: list[tuple[bytes, memoryview]] = []
    _, content, _ = read_element(memoryview(auth_safe))
    for _tag, info in children(content):
        fields = children(info)
        content_type = bytes(expect(fields[0], OID, "ContentInfo type"))
        infos.append((content_type, fields[1][1] if len(fields) > 1 else content[:0]))
        if budget is not None and content_type == _OID_ENCRYPTED_DATA:
            cost = _kdf_cost(_encrypted_data_algorithm(bytes(fields[1][1])))
            if cost is not None:
                budget.spend(cost, "encrypted contents")
    plains: list[bytes | memoryview] = []
    complete = True
    for content_type, value in infos:
        plain: bytes | memoryview | None = None
        if content_type == _OID_DATA:
            plain = _unwrap_explicit0_octets(value, "SafeContents")
            if budget is not None:
                _spend_on_keys(plain, budget)
        elif content_type == _OID_ENCRYPTED_DATA:
            plain = _decrypted_and_spent(value, password, budget)
        if plain is None:
            complete = False
            continue
        plains.append(plain)
    return _Contents(plains, complete)


def _all_certificate_bags(contents: _Contents | None) -> list[_Bag] | None:
    """Every certificate bag in the SafeContents, in file order; None when one does not parse."""
    if contents is None:
        return None
    try:
        return [bag for plain in contents.plains for bag in _certificate_bags(plain)]
    except (DerDecodeError, IndexError, ValueError):
        return None


def _bag_attributes(fields: list[tuple[int, bytes]]) -> tuple[str, bool, bytes]:
    """A SafeBag's friendlyName, Java trust attribute and localKeyId."""
    alias, trusted, key_id = "", False, b""
    if len(fields) > 2:  # noqa: PLR2004
        for _attr_tag, attribute in children(expect(fields[2], SET, "attributes")):
            attr_fields = children(attribute)
            attr_type = expect(attr_fields[0], OID, "attribute type")
            values = children(expect(attr_fields[1], SET, "attribute values"))
            if attr_type == _OID_JAVA_TRUSTED:
                trusted = True
            elif attr_type == _OID_FRIENDLY_NAME and values:
                name = expect(values[0], BMP_STRING, "friendlyName")
                alias = name.decode("utf-16-be", errors="replace")
            elif attr_type == _OID_LOCAL_KEY_ID and values:
                key_id = expect(values[0], OCTET_STRING, "localKeyId")
    return alias, trusted, key_id


def _key_bags(safe_contents: bytes | memoryview) -> tuple[list[_KeyBag], bool]:
    """The private key bags (shrouded or not) of one SafeContents.

    Returns:
        The key bags, and whether the SafeContents also nests a SafeContents in a bag (which
        this module does not read, and where OpenSSL also looks for keys).
    """
    bags = []
    nested = False
    _, content, _ = read_element(memoryview(safe_contents))
    for _tag, view in iter_children(content):
        fields = children(bytes(view))
        bag_type = expect(fields[0], OID, "bag type")
        nested = nested or bag_type == _OID_SAFE_CONTENTS_BAG
        if bag_type not in {_OID_KEY_BAG, _OID_SHROUDED_KEY_BAG}:
            continue
        (value,) = children(expect(fields[1], CONTEXT_0, "bag value"))
        der = encode_tlv(value[0], value[1])
        alias, _trusted, key_id = _bag_attributes(fields)
        bags.append(_KeyBag(der, bag_type == _OID_SHROUDED_KEY_BAG, alias, key_id))
    return bags, nested


def _decrypt_encrypted_data(content: bytes | memoryview, password: bytes | None) -> bytes | None:
    """Decrypt an EncryptedData ContentInfo's ``[0]`` content, or None if we cannot."""
    (encrypted_data,) = children(bytes(content))
    version_and_info = children(expect(encrypted_data, SEQUENCE, "EncryptedData"))
    info = children(expect(version_and_info[1], SEQUENCE, "EncryptedContentInfo"))
    algorithm = expect(info[1], SEQUENCE, "content encryption algorithm")
    if len(info) < 3:  # noqa: PLR2004
        return None
    tag, ciphertext = info[2]
    if tag == CONTEXT_0:
        ciphertext = b"".join(expect(p, OCTET_STRING, "ciphertext") for p in children(ciphertext))
    elif tag != CONTEXT_0_PRIMITIVE:
        return None
    try:
        return _decrypt(algorithm, password, ciphertext)
    except ValueError:
        return None


def _certificate_bags(safe_contents: bytes | memoryview) -> list[_Bag]:
    """The X.509 certificate bags of one SafeContents, with alias, trust and key id."""
    bags = []
    _, content, _ = read_element(memoryview(safe_contents))
    for _tag, view in iter_children(content):
        # One bag at a time in bytes: the SafeContents itself is never copied whole.
        fields = children(bytes(view))
        if expect(fields[0], OID, "bag type") != _OID_CERT_BAG:
            continue
        cert_bag = children(children(expect(fields[1], CONTEXT_0, "bag value"))[0][1])
        if expect(cert_bag[0], OID, "certificate type") != _OID_X509_CERTIFICATE:
            continue
        der = _unwrap_explicit0_octets(expect(cert_bag[1], CONTEXT_0, "cert"), "cert")
        alias, trusted, key_id = _bag_attributes(fields)
        bags.append(_Bag(der, alias, trusted, key_id))
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
    """Call cryptography's load_pkcs12, with every failure (a Rust panic included) as None.

    Raises:
        InvalidPasswordError: A NUL in the password: cryptography would panic, and its panic
            message, printed before Python sees it, holds the password's bytes.
    """
    as_password_bytes(password)
    try:
        with warnings.catch_warnings():
            # A BER file (indefinite lengths, from older writers) is read, as it should be;
            # cryptography's remark that it was not DER is not news for the user.
            warnings.filterwarnings("ignore", "PKCS#12 bundle could not be parsed as DER")
            return pkcs12.load_pkcs12(data, password)
    except Exception:  # noqa: BLE001 - cryptography says only "invalid password or data"
        return None
    except BaseException as exc:
        # pyo3's PanicException derives from BaseException; anything else (KeyboardInterrupt,
        # SystemExit) must still propagate.
        if type(exc).__name__ == "PanicException":
            return None
        raise


def _encryption_algorithms(auth_safe: bytes | memoryview) -> list[str]:
    """Dotted OIDs of the algorithms encrypting the SafeContents, for messages."""
    found: list[str] = []
    try:
        _, content, _ = read_element(memoryview(auth_safe))
        for _tag, info in children(content):
            fields = children(info)
            if fields[0][1] == _OID_ENCRYPTED_DATA:
                (encrypted,) = children(fields[1][1])
                info_fields = children(children(encrypted[1])[1][1])
                oid = oid_dotted(children(info_fields[1][1])[0][1])
                found.append(oid)
    except (DerDecodeError, IndexError, ValueError):
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
    opened = _open(data, password, source)
    return _entries(opened.loaded, _all_certificate_bags(opened.contents) or [])


def _open(data: bytes, password: bytes | None, source: str) -> _Opened:
    """Check the file, then load it with cryptography, every failure one of our errors.

    Raises:
        MalformedInputError, MissingPasswordError, WrongPasswordError: As load_pkcs12_store;
            also an iteration count outside 1.._MAX_ITERATIONS, or more than
            _MAX_TOTAL_ITERATIONS in all, refused before any KDF runs.
    """
    secret = password or None
    try:
        pfx = _parse_pfx(data)
    except (DerDecodeError, IndexError, ValueError) as exc:
        kind = "not a PKCS#12 file (no DER PFX of version 3)"
        if looks_like_pkcs12(data):
            kind = "not a valid PKCS#12 file (truncated or corrupt DER"
            msg = f"{source}: {kind}: {exc})"
        else:
            msg = f"{source}: {kind}: {exc}"
        raise MalformedInputError(msg, source=source) from None
    # Every iteration count in the file is checked, and their sum, before any KDF runs (ours
    # or OpenSSL's): a 1 KB file must not buy minutes of work. That walk decrypts the
    # encrypted SafeContents once, for every reader below.
    budget = _KdfBudget(source)
    if pfx.mac is not None:
        budget.spend(pfx.mac.iterations, "MAC")
    try:
        contents = _plain_safe_contents(pfx.auth_safe, secret, budget)
    except (DerDecodeError, IndexError, ValueError) as exc:
        msg = f"{source}: not a valid PKCS#12 file (its contents do not parse: {exc})"
        raise MalformedInputError(msg, source=source) from None
    except _UnwalkedError:
        _raise_unwalked(pfx, secret, source)

    # cryptography (OpenSSL) verifies the MAC when it loads a store, in C. Our own check (a
    # Python KDF: ~10 ms at 10,000 iterations) only runs to explain a store it refused.
    mac_ok: bool | None = None
    loaded = _load_with_cryptography(data, secret)
    if loaded is None:
        mac_ok = _check_mac(pfx, secret, source)
        if secret is not None and pfx.mac is None:
            # OpenSSL refuses a password for a file without MAC; its certificates may be clear.
            loaded = _load_with_cryptography(data, None)
    if loaded is None and pfx.mac is None and secret is None:
        loaded = _clear_certificates(contents)
    if loaded is None:
        _raise_unreadable(pfx, secret, contents, mac_ok=mac_ok, source=source)
    return _Opened(loaded, pfx, secret, contents)


class _Opened(NamedTuple):
    """A store as _open read it: cryptography's result, our parse, the password, the contents."""

    loaded: pkcs12.PKCS12KeyAndCertificates
    pfx: _Pfx
    #: The password as used: None for no or the empty password.
    secret: bytes | None
    #: Every SafeContents in clear, decrypted once (see _plain_safe_contents).
    contents: _Contents

    def __repr__(self) -> str:
        """Name the type only: the fields hold the password and the decrypted key bags."""
        return "_Opened(<password and contents not shown>)"


def _clear_certificates(contents: _Contents) -> pkcs12.PKCS12KeyAndCertificates | None:
    """The certificates in clear of a store without MAC read without a password, or None.

    ``openssl pkcs12 -export -nomac`` (OpenSSL 3) writes the certificates in clear and only the
    key encrypted: cryptography, which must decrypt the key, refuses the file without the
    password, where keytool and OpenSSL list its certificates. So do we (the key is left out).
    """
    try:
        certificates = [
            pkcs12.PKCS12Certificate(
                x509.load_der_x509_certificate(bag.der), bag.alias.encode() or None
            )
            for bag in _all_certificate_bags(contents) or ()
        ]
    except ValueError:
        return None
    if not certificates:
        return None
    return pkcs12.PKCS12KeyAndCertificates(None, None, certificates)


def _check_mac(pfx: _Pfx, secret: bytes | None, source: str) -> bool | None:
    """Verify the MAC ourselves, to tell a wrong or missing password from a corrupt file.

    Returns:
        True when it verifies, None when there is none or its digest is unknown here.

    Raises:
        MissingPasswordError: A MAC, no password, and the MAC is not keyed on the empty one.
        WrongPasswordError: A MAC the password does not verify.
    """
    mac = pfx.mac
    if mac is None:  # its iteration count, if any, is checked by _open's budget
        return None
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


def _raise_unwalked(pfx: _Pfx, secret: bytes | None, source: str) -> NoReturn:
    """Raise the error that fits a file whose decrypted SafeContents do not parse."""
    if _check_mac(pfx, secret, source):
        msg = (
            f"{source}: the PKCS#12 integrity check passes but the decrypted content does not parse"
        )
        raise MalformedInputError(msg, source=source)
    msg = (
        f"{source}: wrong password for this PKCS#12 store (what it decrypts to does not "
        "parse), or a corrupt file"
    )
    raise WrongPasswordError(msg, source=source)


def _raise_unreadable(
    pfx: _Pfx, secret: bytes | None, contents: _Contents, *, mac_ok: bool | None, source: str
) -> NoReturn:
    """Raise the error that fits a file cryptography could not read."""
    algorithms_used = _encryption_algorithms(pfx.auth_safe)
    named = ", ".join(algorithms_used) or "none"
    if mac_ok:
        _refuse_unreadable_certificate(contents, source)
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


def _refuse_unreadable_certificate(contents: _Contents, source: str) -> None:
    """Say which certificate of a store cryptography refused, if that is why it refused it.

    Raises:
        MalformedInputError: A certificate bag holds a certificate cryptography cannot read
            (a DSA one inheriting its parameters, say); the message says what it is.
    """
    for index, bag in enumerate(_all_certificate_bags(contents) or [], 1):
        try:
            x509.load_der_x509_certificate(bag.der)
        except (ValueError, x509.InvalidVersion):
            what = describe_other_der(bag.der) or "not a valid X.509 certificate"
            msg = f"{source}: certificate {index} of this PKCS#12 store is {what}"
            raise MalformedInputError(msg, source=source) from None


def _outside_bmp(text: str) -> bool:
    return any(ord(char) > _BMP_MAX for char in text)


def _entries(loaded: pkcs12.PKCS12KeyAndCertificates, bags: Sequence[_Bag]) -> list[StoreEntry]:
    """Pair cryptography's certificates with the bags we read, for the trusted flag.

    Each certificate takes the first bag not yet taken that holds it under its alias, else the
    first not yet taken that holds it at all. Without bags (their attributes could not be
    read), every certificate is reported untrusted.
    """
    # Bag indices by DER, and by (DER, alias) for a certificate held in more than one bag:
    # last first, so that pop() gives the first in file order.
    positions: dict[bytes, list[int]] = {}
    for index in range(len(bags) - 1, -1, -1):
        positions.setdefault(bags[index].der, []).append(index)
    named: dict[tuple[bytes, str], list[int]] = {}
    for index in range(len(bags) - 1, -1, -1):
        der, alias = bags[index].der, bags[index].alias
        if len(positions[der]) > 1:
            named.setdefault((der, alias), []).append(index)
    taken: set[int] = set()

    def take(candidates: list[int] | None) -> _Bag | None:
        while candidates:
            index = candidates.pop()
            if index not in taken:
                taken.add(index)
                return bags[index]
        return None

    key_certificate = loaded.cert if loaded.key is not None else None
    pkcs12_certificates = ([loaded.cert] if loaded.cert is not None else []) + list(
        loaded.additional_certs
    )
    entries = []
    for item in pkcs12_certificates:
        der = item.certificate.public_bytes(Encoding.DER)
        alias = (item.friendly_name or b"").decode("utf-8", errors="replace")
        bag = take(named.get((der, alias))) or take(positions.get(der))
        if item.friendly_name is None and bag is not None and _outside_bmp(bag.alias):
            # OpenSSL gives no friendly name for one outside the Basic Multilingual Plane (an
            # emoji, which keytool writes); the bag's BMPString, read here, has it.
            alias = bag.alias
        trusted = bag is not None and bag.trusted and item is not key_certificate
        entries.append(StoreEntry(alias=alias, certificate=item.certificate, trusted=trusted))
    return entries


# --- load_pkcs12_identities -----------------------------------------------------------------


def load_pkcs12_identities(
    data: bytes, password: bytes | None, source: str
) -> list[tuple[str, PrivateKey, list[x509.Certificate]]]:
    """Read the private key entries of a PKCS#12 key store.

    cryptography's ``load_pkcs12`` checks the MAC and decrypts (errors as for
    :func:`load_pkcs12_store`). It returns one key only, so the key bags are also read here: a
    store holding several keys (keytool writes such) gives every one of them, in file order.

    Each key's chain starts with its certificate (the one whose public key is the key's), then
    the issuers found among the store's untrusted certificates, issuer by issuer, up to a
    self-signed root or the last issuer present. Trusted entries (Java's trustedCertEntry) and
    untrusted certificates outside the path are left out of the chain; they are still listed by
    :func:`load_pkcs12_store`. A key whose certificate is not in the store is left out.

    Args:
        data: The file's bytes.
        password: The store password (UTF-8), which also decrypts the keys.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        ``(alias, key, chain)`` per key entry, alias the key's friendly name (or its
        certificate's, or "" without one). An empty list when the store holds no key.

    Raises:
        MalformedInputError: Not a readable PKCS#12 file, or a key that cannot be decoded.
        MissingPasswordError: The store needs a password and none was given.
        WrongPasswordError: The password is wrong, or the MAC does not verify.
    """
    return load_pkcs12_keystore(data, password, source)[0]


def load_pkcs12_keystore(
    data: bytes, password: bytes | None, source: str
) -> tuple[list[tuple[str, PrivateKey, list[x509.Certificate]]], list[StoreEntry]]:
    """Read a key store's key entries and its certificates in one pass.

    The same as :func:`load_pkcs12_identities` and :func:`load_pkcs12_store` together, with
    the MAC checked and the content decrypted once instead of twice (each pass runs the
    store's KDFs: thousands of iterations each).

    Returns:
        The key entries (as ``load_pkcs12_identities``) and the certificates (as
        ``load_pkcs12_store``).

    Raises:
        MalformedInputError, MissingPasswordError, WrongPasswordError: As those two.
    """
    loaded, _pfx, secret, contents = _open(data, password, source)
    cert_bags = _all_certificate_bags(contents)
    entries = _entries(loaded, cert_bags or [])
    return _identities(loaded, contents, cert_bags, entries, secret, source), entries


def _identities(  # noqa: PLR0917 - one private caller
    loaded: pkcs12.PKCS12KeyAndCertificates,
    contents: _Contents | None,
    cert_bags: Sequence[_Bag] | None,
    entries: Sequence[StoreEntry],
    secret: bytes | None,
    source: str,
) -> list[tuple[str, PrivateKey, list[x509.Certificate]]]:
    """The key entries of a loaded store (see load_pkcs12_identities)."""
    untrusted = [e.certificate for e in entries if not e.trusted]
    key_bags: list[_KeyBag] = []
    nested = False
    if contents is not None and cert_bags is not None:
        try:
            for plain in contents.plains:
                found, nests = _key_bags(plain)
                key_bags.extend(found)
                nested = nested or nests
        except (DerDecodeError, IndexError, ValueError):
            key_bags = []
    # cryptography's key is the first key bag OpenSSL's PKCS12_parse meets, and it looks for
    # keys in the SafeContents and in bags nesting more. With every SafeContents read here, none
    # nested, and one key bag in all, that bag is where the key came from: take it rather than
    # decrypt the bag a second time (another run of its KDF).
    sole_bag = contents is not None and contents.complete and not nested and len(key_bags) == 1

    keys: list[tuple[str, PrivateKey]] = []
    for bag in key_bags:
        if sole_bag and loaded.key is not None:
            key = _checked_key(loaded.key, source)
        else:
            key = _decode_key(bag, secret, source)
        alias = bag.alias or next(
            (c.alias for c in cert_bags or () if bag.key_id and c.key_id == bag.key_id), ""
        )
        keys.append((alias, key))
    if not keys and loaded.key is not None:
        # A key in a SafeContents we could not decrypt ourselves: cryptography's one key.
        primary = _checked_key(loaded.key, source)
        # The key's certificate is the first entry (_entries puts cryptography's cert first).
        alias = entries[0].alias if loaded.cert is not None and entries else ""
        keys.append((alias, primary))

    identities = []
    for alias, key in keys:
        key_der = spki_der(key)
        leaf = next((c for c in untrusted if spki_der(c) == key_der), None)
        if leaf is None:
            continue
        identities.append((alias, key, issuer_path(leaf, untrusted)[0]))
    return identities


def _checked_key(key: object, source: str) -> PrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        kind = type(key).__name__.removeprefix("_")
        msg = f"{source}: the PKCS#12 store holds a {kind} key; only RSA and EC keys are supported"
        raise MalformedInputError(msg, source=source)
    return key


def _decode_key(bag: _KeyBag, secret: bytes | None, source: str) -> PrivateKey:
    """Decrypt and decode one key bag (the MAC has already verified the password)."""
    # A store read without a password may still hold a key encrypted under the empty one.
    passwords = [secret] if secret is not None else [None, b""]
    for password in passwords if bag.shrouded else [None]:
        try:
            key = load_der_private_key(bag.der, password)
        except Exception:  # noqa: BLE001, S112 - cryptography's errors are not for our messages
            continue
        return _checked_key(key, source)
    msg = (
        f"{source}: a private key in this PKCS#12 store cannot be decrypted or decoded "
        "(wrong password, or an unsupported algorithm)"
    )
    raise MalformedInputError(msg, source=source)


# --- what a store holds, without its random salts -------------------------------------------------


def _without_random(tag: int, content: bytes | memoryview, depth: int = 0) -> object:
    """An algorithm identifier as a tree, each OCTET STRING (a salt, an IV) by its length only.

    Two stores written with the same profile differ in their salts and IVs, and in nothing else
    of their algorithm identifiers: iteration counts, KDF, PRF, cipher and key length stay.
    """
    data = bytes(content)
    if tag == OCTET_STRING:
        return ("octets", len(data))
    if tag & CONSTRUCTED and depth < _MAX_NESTING:
        return (tag, tuple(_without_random(t, c, depth + 1) for t, c in iter_children(data)))
    return (tag, data)


def _algorithm(sequence_content: bytes | memoryview) -> object:
    """The first element (an AlgorithmIdentifier) of a SEQUENCE, salts and IVs left out."""
    first = next(iter_children(bytes(sequence_content)))
    return _without_random(*first)


def pkcs12_content_summary(
    data: bytes, password: bytes | None, _key_password: bytes | None, source: str
) -> tuple[object, ...]:
    """What a PKCS#12 file holds and how it is protected, its random salts and IVs left out.

    Two files with equal summaries, read with the same password, hold the same key entries
    (alias, key, chain), the same certificates (alias, trusted or not, in order) and the same
    protection: the MAC's hash, iterations and salt length, and each encryption's algorithm,
    KDF, iterations and key length. Reading it checks the password (the MAC).

    Raises:
        MalformedInputError, MissingPasswordError, WrongPasswordError: As load_pkcs12_store.
    """
    loaded, pfx, secret, contents = _open(data, password, source)
    cert_bags = _all_certificate_bags(contents)
    entries = _entries(loaded, cert_bags or [])
    identities = _identities(loaded, contents, cert_bags, entries, secret, source)
    mac = pfx.mac
    protection: list[object] = [
        None if mac is None else (mac.digest_oid, mac.iterations, len(mac.salt))
    ]
    try:
        _, safes, _ = read_element(memoryview(pfx.auth_safe))
        for _tag, info in iter_children(safes):
            fields = children(info)
            if bytes(fields[0][1]) == _OID_ENCRYPTED_DATA:
                (encrypted,) = children(fields[1][1])
                content_info = children(encrypted[1])[1][1]
                protection.append(("certificates", _algorithm(children(content_info)[1][1])))
        for plain in contents.plains:
            protection.extend(
                ("key", _algorithm(read_element(bag.der)[1]))
                for bag in _key_bags(plain)[0]
                if bag.shrouded
            )
    except (DerDecodeError, IndexError, ValueError) as exc:
        msg = f"{source}: not a valid PKCS#12 file (its protection does not parse: {exc})"
        raise MalformedInputError(msg, source=source) from None
    keys = tuple(
        (
            alias,
            key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()),
            tuple(c.public_bytes(Encoding.DER) for c in chain),
        )
        for alias, key, chain in identities
    )
    certificates = tuple(
        (e.alias, e.certificate.public_bytes(Encoding.DER), e.trusted) for e in entries
    )
    return (tuple(protection), keys, certificates)


# --- the codec (see _formats.registry) ----------------------------------------------------------


def _read_back(data: bytes, password: bytes | None, source: str) -> ReadBack:
    # Written by our DER encoder (or cryptography's, for key stores), read back through
    # cryptography's PKCS#12 parser.
    entries = load_pkcs12_store(data, password, source)
    return ReadBack(
        [e.certificate for e in entries], [e.alias for e in entries], [e.trusted for e in entries]
    )


def _write_keystore(parts: KeyStoreParts) -> bytes:
    if parts.key_password and parts.key_password != parts.password:
        msg = "a PKCS#12 key store has one password: the key password must equal the store password"
        raise ValueError(msg)
    return serialize_pkcs12_keystore(
        alias=parts.alias,
        key=parts.key,
        chain=parts.chain,
        trusted=parts.trusted,
        password=parts.password,
        profile=parts.profile,
    )


def _read_back_keystore(
    data: bytes, password: bytes, _key_password: bytes | None, source: str
) -> KeyStoreReadBack:
    # One pass: the MAC and the decryption each run the store's KDFs.
    identities, entries = load_pkcs12_keystore(data, password, source)
    return KeyStoreReadBack(
        [KeyEntryReadBack(alias, len(chain), key, chain) for alias, key, chain in identities],
        [(e.alias, e.certificate) for e in entries if e.trusted],
    )


#: The PKCS#12 codec.
CODEC = Codec(
    store_format=StoreFormat.PKCS12,
    looks_like=looks_like_pkcs12,
    read=load_pkcs12_store,
    write=lambda entries, password: serialize_pkcs12_truststore(
        [(e.alias, e.certificate) for e in entries], password
    ),
    read_back=_read_back,
    takes_password=True,
    write_keystore=_write_keystore,
    read_back_keystore=_read_back_keystore,
    # One password: the key entries' is the store's.
    # One password: the key entries' is the store's; the alias is chosen by the caller.
    read_identities=lambda data, password, _key_password, source, _alias: load_pkcs12_identities(
        data, password, source
    ),
    content_summary=pkcs12_content_summary,
)
