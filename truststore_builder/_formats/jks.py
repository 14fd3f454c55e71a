"""JKS and JCEKS: Java's own key store formats, read through pyjks and written through it.

Both formats share one layout: a magic number (``FEEDFEED`` for JKS, ``CECECECE`` for JCEKS),
version 2, an entry count, the entries, then a SHA-1 integrity digest over
``password as UTF-16BE || b"Mighty Aphrodite" || everything before the digest``. The password
enters the digest as Java ``char`` values, big-endian: a ``str`` encoded as UTF-16BE gives
exactly those bytes (supplementary characters become the same surrogate pairs Java holds), which
is also what pyjks does. Our passwords arrive as bytes; they are decoded as UTF-8 first, which is
how a Java program reading the same password from a UTF-8 command line or file sees it.

``pyjks`` is imported inside the functions that use it so that ``import truststore_builder``
stays fast. :func:`parse_jks_trusted_certificates` deliberately does not use pyjks: it is the
independent reader that proves what pyjks wrote.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import MalformedInputError, WrongPasswordError
from truststore_builder._model import StoreEntry

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "load_jks_store",
    "looks_like_jks",
    "parse_jks_trusted_certificates",
    "serialize_jks_truststore",
]

_JKS_MAGIC = b"\xfe\xed\xfe\xed"
_JCEKS_MAGIC = b"\xce\xce\xce\xce"
_VERSION = 2
_WHITENING = b"Mighty Aphrodite"
_DIGEST_SIZE = 20  # SHA-1
_TAG_PRIVATE_KEY = 1
_TAG_TRUSTED_CERT = 2
_MAX_UTF_LENGTH = 0xFFFF
_BMP_LIMIT = 0x10000

_U2 = struct.Struct(">H")
_U4 = struct.Struct(">I")
_U8 = struct.Struct(">Q")


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


def _integrity_digest(password: str, body: bytes) -> bytes:
    """Java's key store digest: SHA-1 over the password's chars (UTF-16BE), whitening and body."""
    # SHA-1 is what the format defines; this is interoperability, not a security choice.
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(password.encode("utf-16-be"))
    digest.update(_WHITENING)
    digest.update(body)
    return digest.digest()


def _check_alias(alias: str, seen: set[str]) -> None:
    """Refuse an alias that Java would read back differently, or that repeats one already seen.

    Raises:
        ValueError: Empty, not lower-case, not encodable as Java modified UTF-8 the way pyjks
            writes it, too long, or a duplicate.
    """
    if not alias:
        msg = "a JKS alias must not be empty"
        raise ValueError(msg)
    if alias != alias.lower():
        # JKS aliases are case-insensitive: Java lower-cases them, so a mixed-case alias
        # would not read back as written.
        msg = f"JKS alias {alias!r} is not lower-case"
        raise ValueError(msg)
    if "\x00" in alias or any(ord(char) >= _BMP_LIMIT for char in alias):
        # pyjks writes standard UTF-8; Java reads modified UTF-8. The two agree on every
        # character except NUL and those outside the Basic Multilingual Plane.
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
    """Serialise certificates as a JKS or JCEKS trust store, one trustedCertEntry each.

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
    """
    import jks  # noqa: PLC0415  (pyjks is imported only when a JKS file is written)

    if store_type not in {"jks", "jceks"}:
        msg = f"unknown Java key store type {store_type!r}; expected 'jks' or 'jceks'"
        raise ValueError(msg)
    try:
        secret = password.decode("utf-8")
    except UnicodeDecodeError:
        msg = "the store password is not valid UTF-8, so Java could not be given the same one"
        raise ValueError(msg) from None
    seen: set[str] = set()
    jks_entries = []
    for alias, certificate in entries:
        _check_alias(alias, seen)
        entry = jks.TrustedCertEntry.new(alias, certificate.public_bytes(Encoding.DER))
        entry.timestamp = _timestamp_ms(certificate)
        jks_entries.append(entry)
    # pyjks can only save JKS ("Saving of JCEKS keystores is not implemented"). With trusted
    # certificate entries alone the two formats differ only in the magic number, and the
    # digest covers that, so a JCEKS store is the JKS body re-headed and re-digested.
    data: bytes = jks.KeyStore.new("jks", jks_entries).saves(secret)
    if store_type == "jceks":
        body = _JCEKS_MAGIC + data[len(_JKS_MAGIC) : -_DIGEST_SIZE]
        data = body + _integrity_digest(secret, body)
    return data


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
    except ValueError:
        msg = f"{source}: {kind} entry {alias!r} holds a certificate that is not valid DER"
        raise MalformedInputError(msg, source=source) from None


def load_jks_store(data: bytes, password: bytes | None, source: str) -> list[StoreEntry]:
    """Read the certificates of a JKS or JCEKS store.

    Trusted certificate entries give ``trusted=True``. Private key entries give every
    certificate of their chain with ``trusted=False`` and the key entry's alias; the keys
    themselves are not decrypted, so a key password that differs from the store password
    does no harm. Secret key entries (JCEKS) hold no certificate and give nothing.

    With ``password=None`` the entries are read without checking the integrity digest, as
    ``keytool -list`` does when given no password (it prints a warning; callers that want one
    should issue it). Nothing then proves the file was not altered.

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
    import jks  # noqa: PLC0415  (pyjks is imported only when a JKS file is read)

    kind = looks_like_jks(data)
    if kind is None:
        msg = f"{source}: not a JKS or JCEKS store (no FEEDFEED or CECECECE magic number)"
        raise MalformedInputError(msg, source=source)
    name = kind.upper()
    secret = None if password is None else _load_password(password, source)
    try:
        # try_decrypt_keys=False: key entries stay encrypted; only their public chains are read.
        store = jks.KeyStore.loads(data, secret, try_decrypt_keys=False)
    except jks.KeystoreSignatureException:
        msg = (
            f"{source}: the {name} integrity check failed: "
            "the password is wrong, or the file was altered"
        )
        raise WrongPasswordError(msg, source=source) from None
    except jks.UnsupportedKeystoreVersionException:
        msg = f"{source}: unsupported {name} store version (only version 2 is read)"
        raise MalformedInputError(msg, source=source) from None
    except jks.DuplicateAliasException:
        msg = f"{source}: two {name} entries share one alias"
        raise MalformedInputError(msg, source=source) from None
    except Exception:  # noqa: BLE001  (pyjks, javaobj and struct raise anything on bad input)
        msg = f"{source}: not a well-formed {name} store (truncated or corrupt)"
        raise MalformedInputError(msg, source=source) from None

    result: list[StoreEntry] = []
    for alias, entry in store.entries.items():
        if isinstance(entry, jks.TrustedCertEntry):
            certificate = _certificate(entry.cert, entry.type, alias, source, "trusted certificate")
            result.append(StoreEntry(alias=alias, certificate=certificate, trusted=True))
        elif isinstance(entry, jks.PrivateKeyEntry):
            # cert_chain is plain data on the entry, readable while the key stays encrypted.
            for cert_type, der in entry.cert_chain:
                certificate = _certificate(der, cert_type, alias, source, "private key")
                result.append(StoreEntry(alias=alias, certificate=certificate, trusted=False))
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


def _read_entries(reader: _Reader) -> list[tuple[str, bytes]]:
    """Read the entry count and entries of a JKS body, keeping the trusted certificates.

    Raises:
        MalformedInputError: Truncated, an unknown tag, a non-X.509 certificate or a
            repeated alias.
    """
    source = reader.source
    count = reader.u4("entry count")
    seen: set[str] = set()
    trusted: list[tuple[str, bytes]] = []
    for index in range(count):
        tag = reader.u4(f"entry {index} tag")
        alias = reader.utf(f"entry {index} alias")
        if alias in seen:
            msg = f"{source}: JKS alias {alias!r} appears twice"
            raise MalformedInputError(msg, source=source)
        seen.add(alias)
        reader.take(_U8.size, f"entry {index} date")
        if tag == _TAG_TRUSTED_CERT:
            cert_type = reader.utf(f"entry {index} certificate type")
            if cert_type != "X.509":
                msg = f"{source}: JKS entry {alias!r} holds a {cert_type!r} certificate"
                raise MalformedInputError(msg, source=source)
            trusted.append((alias, reader.data_block(f"entry {index} certificate")))
        elif tag == _TAG_PRIVATE_KEY:
            reader.data_block(f"entry {index} protected key")
            for link in range(reader.u4(f"entry {index} chain length")):
                reader.utf(f"entry {index} chain certificate {link} type")
                reader.data_block(f"entry {index} chain certificate {link}")
        else:
            msg = f"{source}: JKS entry {index} has unknown tag {tag}"
            raise MalformedInputError(msg, source=source)
    return trusted


def parse_jks_trusted_certificates(
    data: bytes, password: bytes, *, source: str = "<bytes>"
) -> list[tuple[str, bytes]]:
    """Read a JKS or JCEKS store's trusted certificate entries without pyjks, verifying its digest.

    This is a deliberately independent, strict reader used to prove what pyjks wrote: the
    structure must be exactly JKS (or JCEKS, which shares its layout) version 2, every trusted entry an X.509 certificate, and the
    file must end with the 20-byte digest. Private key entries are stepped over.

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
    reader = _Reader(data, source)
    if reader.take(4, "magic number") not in (_JKS_MAGIC, _JCEKS_MAGIC):
        msg = f"{source}: not a JKS or JCEKS store (magic number is neither FEEDFEED nor CECECECE)"
        raise MalformedInputError(msg, source=source)
    version = reader.u4("version")
    if version != _VERSION:
        msg = f"{source}: unsupported JKS version {version} (only version 2 is read)"
        raise MalformedInputError(msg, source=source)
    trusted = _read_entries(reader)
    body_end = reader.pos
    found = reader.take(_DIGEST_SIZE, "integrity digest")
    if reader.pos != len(data):
        msg = f"{source}: {len(data) - reader.pos} unexpected bytes after the JKS digest"
        raise MalformedInputError(msg, source=source)
    secret = _load_password(password, source)
    if not hmac.compare_digest(found, _integrity_digest(secret, data[:body_end])):
        msg = (
            f"{source}: the JKS integrity check failed: "
            "the password is wrong, or the file was altered"
        )
        raise WrongPasswordError(msg, source=source)
    return trusted
