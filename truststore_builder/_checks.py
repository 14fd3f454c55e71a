"""Every check in one place: what may enter a trust store, and whether a written store is right.

The rules, each raising a :class:`~truststore_builder.CheckError` subclass that names the input:

- **CA only.** A trust store holds issuers, not leaves: a certificate enters only if its
  basicConstraints says ``CA:TRUE``, or it is a self-signed certificate with no
  basicConstraints at all (an X.509 v1 root). ``allow_leaf`` lifts the rule for callers who
  really mean to pin a leaf.
- **Right environment.** Once a store is built for NHS environments, any certificate the NHS
  catalogue recognises must belong to one of them: an INT CA never slips into a prod store.
- **Read-back.** Every serialised store is parsed again by a reader that did not write it and
  must give back the same certificates (and aliases, and Java trust, where the format has them).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from truststore_builder._errors import (
    EnvironmentMismatchError,
    NotACertificateAuthorityError,
    ReadBackError,
)
from truststore_builder._model import Environment, NhsCa, StoreFormat, sha256_fingerprint

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from truststore_builder._model import TrustStore

__all__ = [
    "check_certificate_authority",
    "check_environment",
    "check_read_back",
    "is_certificate_authority",
    "is_self_signed",
    "utc_now",
]


def utc_now() -> dt.datetime:
    """The current time in UTC (the default validation time)."""
    return dt.datetime.now(dt.UTC)


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Whether the certificate names itself as issuer and its signature verifies with its key."""
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except ValueError as exc:
        # cryptography refuses to check SHA-1 signatures at all (the prod G1 root uses one);
        # for a certificate naming itself as issuer the names are the evidence left.
        return "Unsupported signature algorithm" in str(exc)
    except (TypeError, InvalidSignature):
        return False
    return True


def is_certificate_authority(certificate: x509.Certificate) -> bool:
    """Whether the certificate may act as an issuer in a trust store (see the module rules)."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return is_self_signed(certificate)
    return constraints.value.ca


def check_certificate_authority(certificate: x509.Certificate, source: str) -> None:
    """Refuse a certificate that is not a CA.

    Raises:
        NotACertificateAuthorityError: It is an end-entity (leaf) certificate.
    """
    if not is_certificate_authority(certificate):
        msg = (
            f"{source}: {certificate.subject.rfc4514_string()} is not a CA certificate "
            "(basicConstraints CA:FALSE or absent); a trust store holds the issuers of a "
            "peer's certificate, not the peer's own: add its issuer, or allow leaf certificates"
        )
        raise NotACertificateAuthorityError(msg, source=source)


def check_environment(
    nhs: NhsCa, source: str, environments: Collection[Environment]
) -> None:
    """Refuse an NHS CA that belongs to none of the environments being built.

    Raises:
        EnvironmentMismatchError: The CA serves other environments only.
    """
    if environments and not set(nhs.environments) & set(environments):
        msg = (
            f"{source}: {nhs.name} belongs to {', '.join(nhs.environments)}, "
            f"not to the {', '.join(environments)} store being built"
        )
        raise EnvironmentMismatchError(msg, source=source)


def _read_back(
    store_format: StoreFormat, data: bytes, password: bytes | None
) -> tuple[list[x509.Certificate], list[str] | None, list[bool] | None]:
    """Parse serialised bytes with an independent reader: certificates, aliases, trust flags."""
    label = f"<{store_format.value} read-back>"
    if store_format is StoreFormat.PEM:
        from truststore_builder._formats import pem  # noqa: PLC0415

        return pem.load_pem_certificates(data, label), None, None
    if store_format is StoreFormat.PKCS7:
        from truststore_builder._formats import pkcs7  # noqa: PLC0415

        return pkcs7.load_pkcs7_certificates(data, label), None, None
    if store_format in (StoreFormat.JKS, StoreFormat.JCEKS):
        from truststore_builder._formats import jks  # noqa: PLC0415

        # Written by pyjks, read back by our own parser: two implementations must agree.
        pairs = jks.parse_jks_trusted_certificates(data, password or b"", source=label)
        certificates = [x509.load_der_x509_certificate(der) for _, der in pairs]
        return certificates, [alias for alias, _ in pairs], [True] * len(pairs)
    from truststore_builder._formats import pkcs12  # noqa: PLC0415

    # Written by our DER encoder, read back through cryptography's PKCS#12 parser.
    entries = pkcs12.load_pkcs12_store(data, password, label)
    return (
        [e.certificate for e in entries],
        [e.alias for e in entries],
        [e.trusted for e in entries],
    )


def check_read_back(
    store: TrustStore, store_format: StoreFormat, data: bytes, password: bytes | None
) -> None:
    """Read ``data`` back and compare it with ``store``; any difference is an error.

    Raises:
        ReadBackError: Count, fingerprints, aliases or trust flags differ.
    """
    certificates, aliases, trusted = _read_back(store_format, data, password)
    expected: Sequence[str] = [entry.sha256 for entry in store.entries]
    found = [sha256_fingerprint(c) for c in certificates]
    # PKCS#7 holds a SET OF certificates: DER may reorder them, so compare as sets there.
    same = sorted(found) == sorted(expected) if store_format is StoreFormat.PKCS7 else found == expected
    where = f"{store_format.value} store"
    if not same:
        msg = (
            f"{where}: read back {len(found)} certificates where {len(expected)} were written, "
            "or not the same ones; nothing was written"
        )
        raise ReadBackError(msg)
    if aliases is not None and aliases != [entry.alias for entry in store.entries]:
        msg = f"{where}: aliases read back differ from those written; nothing was written"
        raise ReadBackError(msg)
    if trusted is not None and not all(trusted):
        untrusted = [e.alias for e, t in zip(store.entries, trusted, strict=True) if not t]
        msg = (
            f"{where}: entries {', '.join(untrusted)} do not read back as trusted "
            "certificate entries; nothing was written"
        )
        raise ReadBackError(msg)
