"""DER: one binary X.509 certificate per file (``.der``, often ``.cer`` or ``.crt``)."""

from __future__ import annotations

from cryptography import x509

from truststore_builder._errors import MalformedInputError, NoCertificatesError

__all__ = ["der_header", "load_der_certificate", "looks_like_der_certificate"]

_SEQUENCE = 0x30
_LONG_FORM = 0x80
#: Four length bytes allow 4 GiB: more is no certificate anyone sends.
_MAX_LENGTH_BYTES = 4


def der_header(data: bytes, offset: int = 0) -> tuple[int, int, int] | None:
    """Read the tag and length of the DER element starting at ``offset``.

    Args:
        data: DER bytes.
        offset: Where the element starts.

    Returns:
        ``(tag, header_length, content_length)``, or None when the header itself is cut short
        or is not a definite DER length.
    """
    if offset + 2 > len(data):
        return None
    tag, first = data[offset], data[offset + 1]
    if first < _LONG_FORM:
        return tag, 2, first
    count = first & 0x7F
    # 0x80 alone is BER's indefinite length, never DER.
    if count == 0 or count > _MAX_LENGTH_BYTES or offset + 2 + count > len(data):
        return None
    return tag, 2 + count, int.from_bytes(data[offset + 2 : offset + 2 + count], "big")


def looks_like_der_certificate(data: bytes) -> bool:
    """Cheaply tell whether ``data`` starts like a DER certificate: a SEQUENCE of a SEQUENCE.

    Truncated data still looks like DER, so that reading it reports the truncation rather than
    an unknown format.
    """
    outer = der_header(data)
    if outer is None or outer[0] != _SEQUENCE:
        return False
    inner = der_header(data, outer[1])
    return inner is not None and inner[0] == _SEQUENCE


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
    header = der_header(data)
    if header is not None and header[0] == _SEQUENCE:
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
        msg = f"{source}: is not a valid DER X.509 certificate"
        raise MalformedInputError(msg, source=source) from None
