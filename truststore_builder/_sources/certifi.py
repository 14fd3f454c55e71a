"""Source: the public web roots of the ``certifi`` package (Mozilla's CA list), opt-in only."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from truststore_builder._errors import InputError

__all__ = ["certifi_certificates"]


def certifi_certificates() -> list[x509.Certificate]:
    """Return every certificate in certifi's ``cacert.pem``.

    Raises:
        InputError: certifi is not installed (``pip install truststore-builder[certifi]``).
    """
    try:
        import certifi  # noqa: PLC0415
    except ImportError:
        msg = "certifi: not installed; install it with: pip install 'truststore-builder[certifi]'"
        raise InputError(msg, source="certifi") from None
    path = Path(certifi.where())
    return x509.load_pem_x509_certificates(path.read_bytes())
