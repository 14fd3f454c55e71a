"""Converting certificates between formats: PEM, DER and PKCS#7, from any input we read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.serialization import Encoding

from truststore_builder._errors import InputError
from truststore_builder._formats.pkcs7 import serialize_pkcs7
from truststore_builder._sources.files import load_certificates

if TYPE_CHECKING:
    import os

__all__ = ["CONVERT_FORMATS", "convert"]

#: The formats :func:`convert` writes.
CONVERT_FORMATS = ("pem", "der", "p7b")


def convert(
    source: str | os.PathLike[str] | bytes,
    to: str,
    *,
    password: str | bytes | None = None,
) -> bytes:
    """Convert the certificates of any readable input to PEM, DER or PKCS#7.

    Args:
        source: A file, a directory or bytes in any format :func:`load_certificates` reads.
        to: ``pem`` (every certificate, plain blocks without headers), ``der`` (exactly one
            certificate) or ``p7b`` (every certificate, DER PKCS#7).
        password: The password of a PKCS#12, JKS or JCEKS input.

    Returns:
        The converted bytes.

    Raises:
        ValueError: ``to`` is not one of ``pem``, ``der``, ``p7b``.
        InputError: The input cannot be read, or DER was asked for more than one certificate.
    """
    if to not in CONVERT_FORMATS:
        msg = f"cannot convert to {to!r}: choose one of {', '.join(CONVERT_FORMATS)}"
        raise ValueError(msg)
    certificates = load_certificates(source, password=password)
    if to == "pem":
        return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)
    if to == "p7b":
        return serialize_pkcs7(certificates)
    if len(certificates) != 1:
        label = "<bytes>" if isinstance(source, bytes) else str(source)
        msg = (
            f"{label}: holds {len(certificates)} certificates and DER holds exactly one; "
            "convert to p7b (PKCS#7) to keep them all"
        )
        raise InputError(msg, source=label)
    return certificates[0].public_bytes(Encoding.DER)
