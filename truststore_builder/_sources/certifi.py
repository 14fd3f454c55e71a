"""Source: the public web roots of the ``certifi`` package (Mozilla's CA list), opt-in only."""

from __future__ import annotations

import warnings
from pathlib import Path

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning

from truststore_builder._errors import InputError

__all__ = ["certifi_certificates"]


def certifi_certificates() -> list[x509.Certificate]:
    """Return every certificate in certifi's ``cacert.pem``.

    Raises:
        InputError: certifi is not installed (``pip install truststore-builder[certifi]``).
    """
    try:
        import certifi  # noqa: PLC0415 - start-up time: certifi
    except ImportError:
        msg = "certifi: not installed; install it with: pip install 'truststore-builder[certifi]'"
        raise InputError(msg, source="certifi") from None
    path = Path(certifi.where())
    with warnings.catch_warnings():
        # One Mozilla root has a non-positive serial; cryptography warns about it on every
        # load, which says nothing actionable to someone who opted in to certifi.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_pem_x509_certificates(path.read_bytes())
