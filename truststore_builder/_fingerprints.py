"""A certificate's SHA-256 fingerprint: the one name every layer calls a certificate by.

It sits below the values (``_model`` re-exports it) so that the readable views in
``_report``, which the values render themselves through, can use it without reaching up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["sha256_fingerprint"]


def sha256_fingerprint(certificate: x509.Certificate) -> str:
    """Return the certificate's SHA-256 fingerprint over its DER encoding, as lower-case hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()
