"""PKCS#7 (``.p7b``, ``.p7c``): a degenerate SignedData that only carries certificates.

Windows and Java tools exchange certificate bundles this way; openssl makes one with
``openssl crl2pkcs7 -nocrl``. Reading accepts DER or PEM ``PKCS7`` blocks.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import MalformedInputError, NoCertificatesError
from truststore_builder._formats.asn1 import read_header
from truststore_builder._formats.codec import Codec, ReadBack
from truststore_builder._formats.pem import decode_pem_block, iter_pem_blocks
from truststore_builder._model import StoreEntry, StoreFormat

if TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = ["load_pkcs7_certificates", "looks_like_pkcs7", "serialize_pkcs7"]

#: DER of the OBJECT IDENTIFIER 1.2.840.113549.1.7.2 (pkcs7-signedData), tag and length included.
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")
_PEM_LABELS = frozenset({"PKCS7", "CMS"})
#: A SEQUENCE tag with BER's indefinite length.
_INDEFINITE_SEQUENCE = b"\x30\x80"


def looks_like_pkcs7(data: bytes) -> bool:
    """Tell whether ``data`` starts like a binary PKCS#7 SignedData: a SEQUENCE then its OID.

    The SEQUENCE may have BER's indefinite length (``30 80``), as bundles published by Amazon
    and others do: cryptography reads those, so they must reach it.
    """
    if data[:2] == _INDEFINITE_SEQUENCE:
        start = len(_INDEFINITE_SEQUENCE)
    else:
        outer = read_header(data)
        if outer is None or outer[0] != 0x30:  # noqa: PLR2004 - the SEQUENCE tag
            return False
        start = outer[1]
    return data[start : start + len(_SIGNED_DATA_OID)] == _SIGNED_DATA_OID


def _load_der(data: bytes, source: str, where: str) -> list[x509.Certificate]:
    # Imported here: cryptography's pkcs7 module pulls in the email package (import time).
    from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: PLC0415 - start-up time: cryptography's PKCS#7

    try:
        with warnings.catch_warnings():
            # openssl crl2pkcs7 keeps the input order, which breaks DER's sorted SET OF;
            # cryptography reads it as BER and warns. Such files are the common case, not news.
            warnings.filterwarnings("ignore", "PKCS#7 certificates could not be parsed as DER")
            return pkcs7.load_der_pkcs7_certificates(data)
    except UnsupportedAlgorithm:
        # A ContentInfo of another type (enveloped data, say): no certificate bundle.
        msg = f"{source}: {where}is a PKCS#7 structure other than a certificate bundle"
        raise MalformedInputError(msg, source=source) from None
    except ValueError as exc:
        # cryptography says so when the bundle parses but has no certificates field.
        if "no certificate" in str(exc):
            msg = f"{source}: {where}PKCS#7 bundle holds no certificate"
            raise NoCertificatesError(msg, source=source) from None
        msg = f"{source}: {where}is not a valid PKCS#7 certificate bundle"
        raise MalformedInputError(msg, source=source) from None
    except x509.InvalidVersion as exc:  # InvalidVersion is no ValueError
        msg = f"{source}: {where}holds a certificate of an unknown X.509 version ({exc.parsed_version})"
        raise MalformedInputError(msg, source=source) from None


def load_pkcs7_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Read the certificates of a PKCS#7 bundle, DER or PEM.

    Args:
        data: The file's bytes.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        The certificates in the order the bundle holds them.

    Raises:
        MalformedInputError: The bundle is truncated or badly encoded.
        NoCertificatesError: The input is empty, or the bundle holds no certificate.
    """
    if not data.strip():
        msg = f"{source}: is empty"
        raise NoCertificatesError(msg, source=source)
    certificates: list[x509.Certificate] = []
    if looks_like_pkcs7(data):
        certificates = _load_der(data, source, "")
    else:
        blocks = [b for b in iter_pem_blocks(data, source) if b.label in _PEM_LABELS]
        if not blocks:
            msg = (
                f"{source}: holds no PKCS#7 bundle (neither DER nor a -----BEGIN PKCS7----- block)"
            )
            raise MalformedInputError(msg, source=source)
        for block in blocks:
            certificates += _load_der(decode_pem_block(block, source), source, f"{block.where} ")
    if not certificates:
        msg = f"{source}: PKCS#7 bundle holds no certificate"
        raise NoCertificatesError(msg, source=source)
    return certificates


def serialize_pkcs7(certificates: Sequence[x509.Certificate], *, pem: bool = False) -> bytes:
    """Write certificates as a DER-canonical PKCS#7 bundle.

    The certificates are a SET OF, which DER sorts by encoding: readers see them in that order,
    not in the order given (the same inputs always give the same bytes).

    Args:
        certificates: At least one certificate.
        pem: Write a PEM ``PKCS7`` block instead of DER.

    Returns:
        The bundle's bytes.

    Raises:
        ValueError: No certificates were given (PKCS#7 bundles here hold at least one).
    """
    if not certificates:
        msg = "a PKCS#7 bundle needs at least one certificate"
        raise ValueError(msg)
    from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: PLC0415 - start-up time: cryptography's PKCS#7

    return pkcs7.serialize_certificates(list(certificates), Encoding.PEM if pem else Encoding.DER)


def _read(data: bytes, _password: bytes | None, source: str) -> list[StoreEntry]:
    return [StoreEntry("", c, trusted=True) for c in load_pkcs7_certificates(data, source)]


def _read_back(data: bytes, _password: bytes | None, source: str) -> ReadBack:
    # A SET OF certificates: DER may reorder them, so the comparison ignores order.
    return ReadBack(load_pkcs7_certificates(data, source), ordered=False)


#: The PKCS#7 bundle's codec (see ``_formats.registry``).
CODEC = Codec(
    store_format=StoreFormat.PKCS7,
    looks_like=looks_like_pkcs7,
    read=_read,
    write=lambda entries, _password: serialize_pkcs7([e.certificate for e in entries]),
    read_back=_read_back,
)
