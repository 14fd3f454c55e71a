r"""OpenSSL hashed directory (CApath): ``<subject-hash>.N`` files, as ``c_rehash -copy`` makes.

OpenSSL's CApath lookup (``openssl verify -CApath``, Apache's ``SSLCACertificatePath``, Python's
``load_verify_locations(capath=...)``) finds an issuer by the hash of its subject name: it opens
``<hash>.0``, ``<hash>.1``, ... until a number is missing. The hash is OpenSSL's
``X509_NAME_hash`` (the "new" hash since OpenSSL 1.0), which cryptography does not provide. It is
computed here exactly as OpenSSL's ``x509_name_canon`` and ``asn1_string_canon`` do:

- each attribute value of a string type (UTF8String, PrintableString, T61String, IA5String,
  VisibleString, UniversalString, BMPString) is converted to UTF-8 (the one-byte types read as
  Latin-1, as OpenSSL reads them), stripped of leading and trailing ASCII whitespace
  (space, ``\t \n \v \f \r``), its internal runs of ASCII whitespace collapsed to one space,
  ASCII letters lower-cased (nothing else is), and re-encoded as a UTF8String;
- any other value (NumericString, a time, ...) is kept as it is;
- each RDN is DER-encoded as a SET OF (elements sorted by their encoding), and the RDNs are
  concatenated without the outer SEQUENCE header; an empty name encodes as nothing;
- the hash is the first four bytes of the SHA-1 of that encoding, read little-endian, printed
  as eight lower-case hex digits.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from truststore_builder._formats.asn1 import (
    BIT_STRING,
    BMP_STRING,
    CONTEXT_0,
    HIGH_TAG_NUMBER,
    OID,
    SEQUENCE,
    SET,
    UTF8_STRING,
    encode_tlv,
    read_header,
)
from truststore_builder._formats.codec import DirectoryCodec, ReadBack
from truststore_builder._formats.pem import load_pem_certificates, serialize_pem_bundle
from truststore_builder._model import StoreFormat

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from cryptography import x509

    from truststore_builder._model import TrustedEntry

__all__ = [
    "CAPATH_FILE_NAME",
    "canonical_name_encoding",
    "capath_files",
    "check_capath_files",
    "openssl_certificate_hash",
    "openssl_subject_hash",
    "read_capath_directory",
]

#: A file name OpenSSL's CApath lookup opens: eight lower-case hex digits, a dot, a number.
CAPATH_FILE_NAME = re.compile(r"([0-9a-f]{8})\.(0|[1-9][0-9]*)")

#: TBSCertificate fields up to and including the subject, after the optional version.
_FIELDS_TO_SUBJECT = 5
_UNIVERSAL_STRING = 0x1C
#: PrintableString, T61String, IA5String, VisibleString: one byte a character, read as Latin-1
#: by OpenSSL's ASN1_STRING_to_UTF8.
_ONE_BYTE_STRINGS = frozenset({0x13, 0x14, 0x16, 0x1A})
_CANONICAL_STRINGS = _ONE_BYTE_STRINGS | {UTF8_STRING, _UNIVERSAL_STRING, BMP_STRING}
_MAX_UNUSED_BITS = 7
#: The value encodings OpenSSL reads in a name (its B_ASN1_PRINTABLE mask): BIT STRING,
#: UTF8String, NumericString, PrintableString, T61String, IA5String, UniversalString, BMPString,
#: a SEQUENCE, and the universal tags it knows no type for. Any other (VisibleString, UTCTime,
#: OCTET STRING, ...) makes OpenSSL refuse the whole certificate, so it has no hash.
_READABLE_VALUES = frozenset(
    {BIT_STRING, UTF8_STRING, 0x12, 0x13, 0x14, 0x16, _UNIVERSAL_STRING, BMP_STRING}
    | {0x07, 0x08, 0x09, 0x0B, 0x0D, 0x0E, 0x0F, 0x1D}
    | {SEQUENCE}
)
#: OpenSSL's ossl_isspace: the C locale's whitespace, ASCII only.
_SPACE = b" \t\n\x0b\x0c\r"
_SPACE_RUN = re.compile(rb"[ \t\n\x0b\x0c\r]+")
_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def _elements_of(data: bytes, start: int, end: int, what: str) -> list[tuple[int, int, int, int]]:
    """Each DER element in ``data[start:end]``: ``(tag, first byte, content start, end)``."""
    found = []
    offset = start
    while offset < end:
        header = read_header(data, offset)
        if header is None or offset + header[1] + header[2] > end:
            msg = f"{what}: not a valid DER encoding"
            raise ValueError(msg)
        tag, header_length, content_length = header
        if tag & HIGH_TAG_NUMBER == HIGH_TAG_NUMBER:
            msg = f"{what}: a high tag number, which no X.509 name uses"
            raise ValueError(msg)
        found.append((tag, offset, offset + header_length, offset + header_length + content_length))
        offset += header_length + content_length
    return found


def _code_points_to_utf8(content: bytes, width: int, what: str) -> bytes:
    """UCS-2 (BMPString) or UCS-4 (UniversalString) to UTF-8, refusing what OpenSSL refuses."""
    if len(content) % width:
        msg = f"{what}: a {width}-byte string of {len(content)} bytes"
        raise ValueError(msg)
    points = [int.from_bytes(content[i : i + width], "big") for i in range(0, len(content), width)]
    if any(point > _MAX_CODE_POINT or point in _SURROGATES for point in points):
        msg = f"{what}: a character OpenSSL cannot convert to UTF-8"
        raise ValueError(msg)
    return "".join(map(chr, points)).encode("utf-8")


def _bit_string(content: bytes, what: str) -> bytes:
    """A BIT STRING as OpenSSL re-encodes it: the unused bits of the last byte cleared."""
    if not content or content[0] > _MAX_UNUSED_BITS:
        msg = f"{what}: a BIT STRING OpenSSL does not read"
        raise ValueError(msg)
    unused, bits = content[0], content[1:]
    if not bits:
        return encode_tlv(BIT_STRING, b"\x00")
    last = bits[-1] & (0xFF << unused) & 0xFF
    return encode_tlv(BIT_STRING, bytes((unused,)) + bits[:-1] + bytes((last,)))


def _canonical_value(tag: int, element: bytes, content: bytes, what: str) -> bytes:
    """An attribute value as OpenSSL's asn1_string_canon leaves it, DER-encoded.

    Args:
        tag: The value's tag byte.
        element: The whole value element (tag, length, content).
        content: Its content octets.
        what: For messages.
    """
    if tag not in _READABLE_VALUES:
        msg = (
            f"{what}: OpenSSL does not read a name value with ASN.1 tag {tag:#04x}, so it "
            "cannot load this certificate at all"
        )
        raise ValueError(msg)
    if tag == SEQUENCE:
        return element  # OpenSSL keeps a SEQUENCE value's whole encoding as it came.
    if tag == BIT_STRING:
        return _bit_string(content, what)
    if tag not in _CANONICAL_STRINGS:
        return encode_tlv(tag, content)
    if tag in _ONE_BYTE_STRINGS:
        text = content.decode("latin-1").encode("utf-8")
    elif tag == BMP_STRING:
        text = _code_points_to_utf8(content, 2, what)
    elif tag == _UNIVERSAL_STRING:
        text = _code_points_to_utf8(content, 4, what)
    else:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            msg = f"{what}: a UTF8String that is not UTF-8"
            raise ValueError(msg) from None
        text = content
    # bytes.lower() changes ASCII letters only, as ossl_tolower does.
    return encode_tlv(UTF8_STRING, _SPACE_RUN.sub(b" ", text.strip(_SPACE)).lower())


def canonical_name_encoding(name_der: bytes) -> bytes:
    """OpenSSL's canonical encoding of a DER-encoded Name (what ``X509_NAME_hash`` hashes).

    Args:
        name_der: The Name's DER encoding (a SEQUENCE OF RelativeDistinguishedName).

    Returns:
        The canonical encoding: each RDN's SET OF canonical attributes, concatenated; empty
        for an empty name.

    Raises:
        ValueError: ``name_der`` is not a DER Name, or holds a string OpenSSL cannot convert.
    """
    what = "name"
    top = _elements_of(name_der, 0, len(name_der), what)
    if len(top) != 1 or top[0][0] != SEQUENCE:
        msg = f"{what}: not a DER SEQUENCE"
        raise ValueError(msg)
    _, _, name_start, name_end = top[0]
    out = bytearray()
    for rdn_tag, _, rdn_start, rdn_end in _elements_of(name_der, name_start, name_end, what):
        if rdn_tag != SET:
            msg = f"{what}: an RDN that is not a SET"
            raise ValueError(msg)
        attributes: list[bytes] = []
        for atv_tag, _, atv_start, atv_end in _elements_of(name_der, rdn_start, rdn_end, what):
            parts = _elements_of(name_der, atv_start, atv_end, what) if atv_tag == SEQUENCE else []
            if len(parts) != 2 or parts[0][0] != OID:  # noqa: PLR2004 - type and value
                msg = f"{what}: an attribute that is not a SEQUENCE of type and value"
                raise ValueError(msg)
            (_, oid_start, _, oid_end), (value_tag, value_first, value_start, value_end) = parts
            value = _canonical_value(
                value_tag,
                name_der[value_first:value_end],
                name_der[value_start:value_end],
                what,
            )
            attributes.append(encode_tlv(SEQUENCE, name_der[oid_start:oid_end] + value))
        # DER's SET OF order: by encoding, bytewise, a shorter prefix first (OpenSSL's der_cmp).
        out += encode_tlv(SET, b"".join(sorted(attributes)))
    return bytes(out)


def _hash_of(name_der: bytes) -> str:
    digest = hashlib.sha1(canonical_name_encoding(name_der), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def openssl_subject_hash(name: x509.Name | bytes) -> str:
    """OpenSSL's ``X509_NAME_hash`` of a name: what ``openssl x509 -hash`` prints.

    Args:
        name: The name (a certificate's subject, for a CApath file name), or its DER encoding.

    Returns:
        Eight lower-case hex digits.

    Raises:
        ValueError: The name holds a value OpenSSL cannot read or convert to UTF-8, or the
            bytes are not a DER Name.
    """
    return _hash_of(name if isinstance(name, bytes) else name.public_bytes())


def _raw_subject(certificate: x509.Certificate) -> bytes:
    """The subject's DER exactly as the certificate carries it, taken from the TBS."""
    tbs = certificate.tbs_certificate_bytes
    (tbs_tag, _, start, end), *_ = _elements_of(tbs, 0, len(tbs), "certificate")
    fields = _elements_of(tbs, start, end, "certificate") if tbs_tag == SEQUENCE else []
    # [0] version (optional), serial, signature, issuer, validity, subject, ...
    offset = 1 if fields and fields[0][0] == CONTEXT_0 else 0
    if len(fields) < offset + _FIELDS_TO_SUBJECT:
        msg = "certificate: a TBSCertificate without a subject"
        raise ValueError(msg)
    _, first, _, last = fields[offset + _FIELDS_TO_SUBJECT - 1]
    return tbs[first:last]


def openssl_certificate_hash(certificate: x509.Certificate) -> str:
    """``openssl x509 -hash`` of a certificate: its subject's hash, from the subject's own bytes.

    The subject is read from the certificate's encoding rather than re-encoded, so a T61String
    with Latin-1 bytes hashes as OpenSSL hashes it.

    Raises:
        ValueError: The subject holds a string OpenSSL cannot convert to UTF-8.
    """
    return _hash_of(_raw_subject(certificate))


def capath_files(entries: Sequence[TrustedEntry]) -> dict[str, bytes]:
    """The files of a CApath directory: ``<hash>.N`` to a one-certificate readable PEM.

    ``N`` counts from 0 for each hash, in store order, so certificates whose subjects hash alike
    (the same subject, or a collision) are ``<hash>.0``, ``<hash>.1``, ... Each file has the
    same comment header above its certificate as the PEM bundle.

    Args:
        entries: The store's entries, in store order.

    Returns:
        File name to content, in store order.

    Raises:
        ValueError: OpenSSL cannot read a certificate's subject (the message names its alias).
    """
    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for entry in entries:
        try:
            subject_hash = openssl_certificate_hash(entry.certificate)
        except ValueError as exc:
            msg = f"{entry.alias} ({entry.source}): {exc}; it cannot go into a CApath directory"
            raise ValueError(msg) from None
        number = counts.get(subject_hash, 0)
        counts[subject_hash] = number + 1
        files[f"{subject_hash}.{number}"] = serialize_pem_bundle([entry])
    return files


def read_capath_directory(directory: Path) -> dict[str, bytes]:
    """Every entry of a CApath directory, name to bytes, sorted by name (links are followed).

    Raises:
        OSError: The directory cannot be listed or a file cannot be read.
    """
    return {child.name: child.read_bytes() for child in sorted(directory.iterdir())}


def check_capath_files(files: Mapping[str, bytes], source: str) -> list[x509.Certificate]:
    """Check a CApath directory's files as OpenSSL will look them up; return the certificates.

    Every file must be named ``<hash>.N`` after the subject hash of the one certificate it
    holds, and each hash's numbers must run 0, 1, 2, ... without a gap (OpenSSL stops at the
    first missing number).

    Raises:
        ValueError: A file breaks a rule; the message names it.
    """
    certificates: list[x509.Certificate] = []
    numbers: dict[str, set[int]] = {}
    for name, data in files.items():
        match = CAPATH_FILE_NAME.fullmatch(name)
        if match is None:
            msg = f"{source}/{name}: not a <hash>.N name OpenSSL looks up"
            raise ValueError(msg)
        found = load_pem_certificates(data, f"{source}/{name}")
        if len(found) != 1:
            msg = f"{source}/{name}: holds {len(found)} certificates, not one"
            raise ValueError(msg)
        subject_hash = openssl_certificate_hash(found[0])
        if subject_hash != match.group(1):
            msg = f"{source}/{name}: the certificate's subject hash is {subject_hash}"
            raise ValueError(msg)
        numbers.setdefault(subject_hash, set()).add(int(match.group(2)))
        certificates.append(found[0])
    for subject_hash, used in numbers.items():
        if used != set(range(len(used))):
            msg = f"{source}: the {subject_hash}.N files do not run from 0 without a gap"
            raise ValueError(msg)
    return certificates


#: OpenSSL's CApath directory's codec (see ``_formats.registry``): written by
#: :func:`capath_files`, read back by :func:`check_capath_files` as OpenSSL looks files up.
CODEC = DirectoryCodec(
    store_format=StoreFormat.CAPATH,
    write=capath_files,
    read=read_capath_directory,
    read_back=lambda files, source: ReadBack(check_capath_files(files, source), ordered=False),
)
