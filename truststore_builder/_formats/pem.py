"""PEM: reading certificate blocks, and writing the readable bundle with a header per certificate.

Blocks are found by our own scan rather than cryptography's, so that an error can say which
block of a long bundle is broken (its 1-based index and line number).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import (
    InputError,
    MalformedInputError,
    NoCertificatesError,
    UnknownFormatError,
)
from truststore_builder._formats.codec import Codec, ReadBack
from truststore_builder._formats.der import load_der_certificate
from truststore_builder._model import StoreEntry, StoreFormat

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from truststore_builder._model import TrustedEntry

__all__ = [
    "BEGIN_LINE",
    "PemBlock",
    "decode_pem_block",
    "der_to_pem",
    "iter_pem_blocks",
    "load_pem_certificates",
    "load_pem_entries",
    "pem_to_der",
    "serialize_pem_bundle",
]

_BOM = b"\xef\xbb\xbf"
#: Labels whose body is a plain DER X.509 certificate.
_CERTIFICATE_LABELS = frozenset({b"CERTIFICATE", b"X509 CERTIFICATE"})
#: A BEGIN line; group 1 is the label.
# Anchored at the start of a line (after optional indentation): a "-----BEGIN" inside a comment,
# such as a hostile subject in a header line, is text and never opens a block.
BEGIN_LINE = re.compile(rb"^[ \t]*-----BEGIN ([A-Z0-9 ]+)-----", re.MULTILINE)
_WHITESPACE = re.compile(rb"[ \t\r\n]+")
#: A header line naming the block's alias, as :func:`serialize_pem_bundle` writes it: printable
#: ASCII only, at most 256 characters (any other line is a comment like the rest).
_ALIAS_LINE = re.compile(
    rb"^[ \t]*#[ \t]*Alias:[ \t]*([!-~](?:[ -~]{0,254}[!-~])?)[ \t]*\r?$", re.MULTILINE
)


@attrs.frozen
class PemBlock:
    """One ``-----BEGIN X----- ... -----END X-----`` block.

    Attributes:
        label: The label between ``BEGIN`` and the dashes, e.g. ``CERTIFICATE``.
        body: The base64 text between the lines, whitespace included, not yet decoded.
        index: 1-based position of the block in its file.
        line: 1-based line number of the ``BEGIN`` line.
        alias: The alias a ``# Alias:`` comment line names between the previous block and this
            one (the last such line), or "".
    """

    label: str
    body: bytes = attrs.field(repr=False)
    index: int
    line: int
    alias: str = ""

    @property
    def where(self) -> str:
        """The block's place in its file, for messages: ``PEM block 2 (line 31)``."""
        return f"PEM block {self.index} (line {self.line})"


def iter_pem_blocks(data: bytes, source: str) -> Iterator[PemBlock]:
    """Yield every PEM block in ``data``, whatever its label, in file order.

    Text outside blocks (comments, headers, blank lines) is ignored; CRLF line ends, a UTF-8
    byte order mark and trailing whitespace are accepted.

    Args:
        data: The file's bytes.
        source: The file name (or ``<bytes>``) for messages.

    Yields:
        Each block, undecoded.

    Raises:
        MalformedInputError: A block has no matching ``END`` line.
    """
    data = data.removeprefix(_BOM)
    position = 0
    index = 0
    # Lines are counted from where the last count stopped: counting from the start of the file
    # for every block made reading a large bundle quadratic.
    line, counted = 1, 0
    while match := BEGIN_LINE.search(data, position):
        index += 1
        label = match.group(1)
        line += data.count(b"\n", counted, match.start())
        counted = match.start()
        end_marker = b"-----END " + label + b"-----"
        end = data.find(end_marker, match.end())
        following = BEGIN_LINE.search(data, match.end())
        if end < 0 or (following is not None and following.start() < end):
            # Only the label and the line go into the message: the body may be a private key.
            msg = (
                f"{source}: PEM block {index} (line {line}), {label.decode('ascii')}, "
                "has no matching END line"
            )
            raise MalformedInputError(msg, source=source)
        aliases = _ALIAS_LINE.findall(data, position, match.start())
        yield PemBlock(
            label=label.decode("ascii"),
            body=data[match.end() : end],
            index=index,
            line=line,
            alias=aliases[-1].decode("ascii") if aliases else "",
        )
        position = end + len(end_marker)


def decode_pem_block(block: PemBlock, source: str) -> bytes:
    """Decode a block's base64 body.

    Args:
        block: The block.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        The DER bytes.

    Raises:
        MalformedInputError: The body is not valid base64 (the message names the block).
    """
    try:
        return base64.b64decode(_WHITESPACE.sub(b"", block.body), validate=True)
    except (binascii.Error, ValueError):
        msg = f"{source}: {block.where} is not valid base64"
        raise MalformedInputError(msg, source=source) from None


def load_pem_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Read every certificate from PEM text: one block or a whole bundle.

    As :func:`load_pem_entries`, without the aliases.
    """
    return [certificate for _, certificate in load_pem_entries(data, source)]


def load_pem_entries(data: bytes, source: str) -> list[tuple[str, x509.Certificate]]:
    """Read every certificate from PEM text, with the alias its ``# Alias:`` header names.

    ``CERTIFICATE`` and ``X509 CERTIFICATE`` blocks are read. Other blocks beside certificates
    (a private key in a combined file, a CRL) are skipped; a file that holds nothing but a
    private key is refused with a message that names no part of the key.

    Args:
        data: The PEM text as bytes.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        ``(alias, certificate)`` in file order; the alias is "" for a block without a
        ``# Alias:`` line above it (what this library writes above each certificate).

    Raises:
        MalformedInputError: A certificate block has broken base64 or is not a certificate, or a
            block has no END line.
        UnknownFormatError: The file holds a private key and no certificate, or an OpenSSL
            ``TRUSTED CERTIFICATE`` block (which carries OpenSSL-only trust settings).
        NoCertificatesError: No certificate block at all.
    """
    certificates: list[tuple[str, x509.Certificate]] = []
    other_labels: list[str] = []
    for block in iter_pem_blocks(data, source):
        label = block.label.encode("ascii")
        if label == b"TRUSTED CERTIFICATE":
            msg = (
                f"{source}: {block.where} is an OpenSSL TRUSTED CERTIFICATE, which is not "
                "supported; write it out as a plain certificate first "
                "(openssl x509 -in FILE -out plain.pem)"
            )
            raise UnknownFormatError(msg, source=source)
        if label not in _CERTIFICATE_LABELS:
            other_labels.append(block.label)
            continue
        der = decode_pem_block(block, source)
        try:
            certificates.append((block.alias, x509.load_der_x509_certificate(der)))
        except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
            msg = f"{source}: {block.where} is not a valid X.509 certificate"
            raise MalformedInputError(msg, source=source) from None
    if certificates:
        return certificates
    if any(label.endswith("PRIVATE KEY") for label in other_labels):
        msg = f"{source}: holds a private key, not a certificate"
        raise UnknownFormatError(msg, source=source)
    if other_labels:
        found = ", ".join(dict.fromkeys(other_labels))
        msg = f"{source}: holds no certificate (found PEM blocks: {found})"
        raise NoCertificatesError(msg, source=source)
    msg = f"{source}: holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"
    raise NoCertificatesError(msg, source=source)


def _header_text(text: str) -> str:
    r"""Make ``text`` one line of printable ASCII that no PEM reader can mistake for a marker.

    Other characters become RFC 4514 hex pairs of their UTF-8 bytes (``é`` -> ``\\C3\\A9``), so
    an escaped subject is still a valid RFC 4514 string; runs of dashes are broken up the same
    way, for readers that look for ``-----BEGIN`` anywhere on a line.
    """
    if text.isascii() and text.isprintable():  # the common case: nothing to escape
        escaped = text
    else:
        escaped = "".join(
            char
            if " " <= char <= "~"
            else "".join(f"\\{byte:02X}" for byte in char.encode("utf-8"))
            for char in text
        )
    return escaped.replace("-----", "\\2D----")


def _header(entry: TrustedEntry) -> list[str]:
    certificate = entry.certificate
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":")
    not_before = f"{certificate.not_valid_before_utc:%Y-%m-%d}"
    not_after = f"{certificate.not_valid_after_utc:%Y-%m-%d}"
    lines = [
        f"Alias: {entry.alias}",
        f"Subject: {certificate.subject.rfc4514_string()}",
        f"Issuer: {certificate.issuer.rfc4514_string()}",
        f"Serial: {certificate.serial_number:#x}",
        f"Valid: {not_before} to {not_after} (UTC)",
        f"SHA-256: {fingerprint}",
    ]
    if entry.nhs is not None:
        nhs = entry.nhs
        lines.append(
            f"NHS: {nhs.name} (generation {nhs.generation}, {nhs.role}, "
            f"environments {', '.join(nhs.environments)})"
        )
    return [f"# {_header_text(line)}" for line in lines]


def serialize_pem_bundle(entries: Sequence[TrustedEntry]) -> bytes:
    """Write entries as a readable PEM bundle, a comment header above each certificate.

    The output depends only on the entries (no time of writing), so a rebuilt bundle diffs
    cleanly against the last one. It is ASCII with LF line ends, one blank line between
    certificates and a final newline.

    Args:
        entries: The entries, in the order to write them.

    Returns:
        The bundle's bytes (empty for no entries).
    """
    chunks = []
    for entry in entries:
        block = entry.certificate.public_bytes(Encoding.PEM).decode("ascii")
        chunks.append("\n".join([*_header(entry), block]))
    return "\n".join(chunks).encode("ascii")


def der_to_pem(der: bytes) -> bytes:
    """Convert one DER certificate to a PEM block.

    Args:
        der: The DER-encoded certificate.

    Returns:
        The ``-----BEGIN CERTIFICATE-----`` block, LF line ends.

    Raises:
        MalformedInputError: ``der`` is not a DER certificate.
        NoCertificatesError: ``der`` is empty.
    """
    return load_der_certificate(der, "<bytes>").public_bytes(Encoding.PEM)


def pem_to_der(pem: bytes) -> bytes:
    """Convert a PEM holding exactly one certificate to DER.

    Args:
        pem: PEM text holding one certificate.

    Returns:
        The certificate's DER encoding.

    Raises:
        InputError: The PEM holds more than one certificate (DER holds one; use PKCS#7), or
            cannot be read (see :func:`load_pem_certificates`).
    """
    certificates = load_pem_certificates(pem, "<bytes>")
    if len(certificates) != 1:
        msg = (
            f"<bytes>: holds {len(certificates)} certificates and DER holds exactly one; "
            "convert to PKCS#7 (p7b) to keep them all"
        )
        raise InputError(msg, source="<bytes>")
    return certificates[0].public_bytes(Encoding.DER)


def _read(data: bytes, _password: bytes | None, source: str) -> list[StoreEntry]:
    # Each block's alias is the one its "# Alias:" comment line gives (empty without one).
    return [StoreEntry(alias, c, trusted=True) for alias, c in load_pem_entries(data, source)]


def _read_back(data: bytes, _password: bytes | None, source: str) -> ReadBack:
    # Written by our header writer over cryptography's PEM encoding; read back by our strict
    # block reader, each block parsed by cryptography.
    return ReadBack(load_pem_certificates(data, source))


#: The PEM bundle's codec (see ``_formats.registry``).
CODEC = Codec(
    store_format=StoreFormat.PEM,
    looks_like=lambda data: BEGIN_LINE.search(data) is not None,
    read=_read,
    write=lambda entries, _password: serialize_pem_bundle(entries),
    read_back=_read_back,
)
