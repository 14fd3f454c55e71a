"""DER: one binary X.509 certificate per file (``.der``, often ``.cer`` or ``.crt``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from cryptography import x509

from truststore_builder._errors import MalformedInputError, NoCertificatesError
from truststore_builder._formats.asn1 import (
    CONTEXT_0,
    OID,
    SEQUENCE,
    encode_tlv,
    oid_content,
    read_header,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "der_header",
    "describe_other_der",
    "load_der_certificate",
    "looks_like_der_certificate",
    "refuse_other_der",
]

#: DER of the OBJECT IDENTIFIER 1.2.840.10040.4.1 (id-dsa), tag and length included.
_DSA_OID = encode_tlv(OID, oid_content("1.2.840.10040.4.1"))


#: The name this module gave :func:`~truststore_builder._formats.asn1.read_header` before the
#: ASN.1 module had it; kept for callers of the old name.
der_header = read_header


def _element(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """``(tag, content start, end)`` of the DER element at ``offset``, or None if cut short."""
    header = read_header(data, offset)
    if header is None or offset + header[1] + header[2] > len(data):
        return None
    return header[0], offset + header[1], offset + header[1] + header[2]


def _inherits_dsa_parameters(data: bytes) -> bool:
    """Whether ``data`` is a certificate whose DSA key has no parameters (RFC 3279 inheritance).

    Walks Certificate -> TBSCertificate -> subjectPublicKeyInfo -> algorithm by hand, because
    cryptography refuses to load such a certificate at all.
    """
    certificate = _element(data, 0)
    tbs = certificate and _element(data, certificate[1])
    if not tbs or tbs[0] != SEQUENCE:
        return False
    offset, end = tbs[1], tbs[2]
    fields: list[tuple[int, int, int]] = []
    while offset < end and len(fields) < 8:  # noqa: PLR2004 - up to subjectPublicKeyInfo
        field = _element(data, offset)
        if field is None:
            return False
        fields.append(field)
        offset = field[2]
    # With the [0] version first, subjectPublicKeyInfo is the seventh field, else the sixth.
    spki_index = 6 if fields and fields[0][0] == CONTEXT_0 else 5
    if len(fields) <= spki_index:
        return False
    spki = fields[spki_index]
    algorithm = _element(data, spki[1])
    if algorithm is None or algorithm[0] != SEQUENCE:
        return False
    oid = _element(data, algorithm[1])
    return (
        oid is not None
        and data[algorithm[1] : oid[2]] == _DSA_OID
        and oid[2] == algorithm[2]  # nothing after the OID: no parameters
    )


def describe_other_der(data: bytes) -> str | None:
    """Say what a DER structure that is not a readable certificate is, if we can tell.

    Returns:
        ``"an X.509 CRL ..."``, ``"a certificate signing request ..."``, ``"an OCSP request"``,
        ``"an OCSP response"``, or a DSA certificate that inherits its parameters; None when
        it is none of those.
    """
    if _inherits_dsa_parameters(data):
        return (
            "a DSA certificate that inherits its key parameters from its issuer (RFC 3279), "
            "which cryptography cannot read; re-issue it with an RSA or EC key"
        )
    from cryptography.x509 import ocsp  # noqa: PLC0415 - start-up time: only when something is unreadable

    loaders: tuple[tuple[str, Callable[[bytes], object]], ...] = (
        ("an X.509 CRL (a certificate revocation list), not a certificate", x509.load_der_x509_crl),
        (
            "a certificate signing request (PKCS#10), not a certificate",
            x509.load_der_x509_csr,
        ),
        ("an OCSP request, not a certificate", ocsp.load_der_ocsp_request),
        ("an OCSP response, not a certificate", ocsp.load_der_ocsp_response),
    )
    for description, load in loaders:
        try:
            load(data)
        except Exception:  # noqa: BLE001, S112 - any failure just means "not this kind"
            continue
        return description
    return None


def looks_like_der_certificate(data: bytes) -> bool:
    """Cheaply tell whether ``data`` starts like a DER certificate: a SEQUENCE of a SEQUENCE.

    Truncated data still looks like DER, so that reading it reports the truncation rather than
    an unknown format.
    """
    outer = read_header(data)
    if outer is None or outer[0] != SEQUENCE:
        return False
    inner = read_header(data, outer[1])
    return inner is not None and inner[0] == SEQUENCE


def load_der_certificate(data: bytes, source: str) -> x509.Certificate:
    """Read one DER-encoded certificate.

    Args:
        data: The file's bytes.
        source: The file name (or ``<bytes>``) for messages.

    Returns:
        The certificate.

    Raises:
        NoCertificatesError: ``data`` is empty.
        MalformedInputError: ``data`` is truncated, has trailing bytes or is not a certificate.
    """
    if not data:
        msg = f"{source}: is empty"
        raise NoCertificatesError(msg, source=source)
    header = read_header(data)
    if header is not None and header[0] == SEQUENCE:
        declared = header[1] + header[2]
        if declared > len(data):
            msg = (
                f"{source}: DER certificate is truncated: it declares {declared} bytes "
                f"and holds {len(data)}"
            )
            raise MalformedInputError(msg, source=source)
        if declared < len(data):
            msg = (
                f"{source}: DER certificate has {len(data) - declared} unexpected bytes "
                f"after its end (byte {declared})"
            )
            raise MalformedInputError(msg, source=source)
    try:
        return x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):  # InvalidVersion is no ValueError
        pass
    other = describe_other_der(data)
    if other is not None:
        refuse_other_der(other, source)
    msg = f"{source}: is not a valid DER X.509 certificate"
    raise MalformedInputError(msg, source=source)


def refuse_other_der(description: str, source: str) -> NoReturn:
    """Raise the error for a DER structure :func:`describe_other_der` described.

    Raises:
        MalformedInputError: A certificate that cannot be read (DSA inheriting parameters).
        NoCertificatesError: A CRL, a signing request or OCSP data: no certificate at all (so
            a directory skips it with a warning, as it skips a PEM CRL).
    """
    msg = f"{source}: is {description}"
    if description.startswith("a DSA certificate"):
        raise MalformedInputError(msg, source=source)
    raise NoCertificatesError(msg, source=source)
