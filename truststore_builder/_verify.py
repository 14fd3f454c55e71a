"""The ``verify`` use case: does a certificate (and its key) chain to a store or environment?

It builds the trust store to verify against with a :class:`TrustStoreBuilder` and judges the
certificate with the identity rules of ``_checks``, so it sits above both.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from cryptography import x509

from truststore_builder._builders import TrustStoreBuilder
from truststore_builder._checks import evaluate_identity, utc_now
from truststore_builder._errors import ExpiredCertificateWarning
from truststore_builder._model import Generation, trust_anchors
from truststore_builder._sources import files
from truststore_builder._sources.nhs import nhs_catalogue

if TYPE_CHECKING:
    import datetime as dt
    import os

    from truststore_builder._model import Environment, IdentityReport
    from truststore_builder._sources.nhs import NhsCatalogue

__all__ = ["verify_certificate"]


def verify_certificate(
    certificate: str | os.PathLike[str] | bytes | x509.Certificate,
    *,
    environment: Environment | str | None = None,
    trust: str | os.PathLike[str] | None = None,
    trust_password: str | bytes | None = None,
    key: str | os.PathLike[str] | bytes | None = None,
    key_password: str | bytes | None = None,
    at: dt.datetime | None = None,
    catalogue: NhsCatalogue | None = None,
) -> IdentityReport:
    """Does this certificate (and optionally its key) chain to this store or NHS environment?

    Every rule is checked and every failure reported, not just the first: key match, key
    strength, validity at ``at``, clientAuth, the chain (NHS policy), and the environment.
    A G1 certificate is reported with its generation, not refused.

    Args:
        certificate: The certificate: a file in any readable format (a leaf-first chain file
            works; the rest of the file helps build the chain), bytes, or an object.
        environment: Check against this NHS environment's G1+G2 CAs.
        trust: Check against the CAs in this file instead (or as well).
        trust_password: The password of a PKCS#12/JKS ``trust`` file.
        key: The private key file, to check it matches.
        key_password: The key file's password.
        at: The validation time (default: now).
        catalogue: The NHS catalogue to take the environment's CAs from and recognise NHS
            CAs by (default: the shipped one; e.g. ``load_nhs_catalogue(DIR)``).

    Returns:
        The report: chain, NHS issuer, generation, and every failed rule.

    Raises:
        ValueError: Neither an environment nor a trust file was given.
        InputError: A file cannot be read.

    >>> report = verify_certificate(
    ...     nhs_catalogue().certificates["nhs-int-level-1c"], environment="int"
    ... )
    >>> [type(f).__name__ for f in report.failures]
    ['CertificateUsageError']
    """
    if environment is None and trust is None:
        msg = "give an NHS environment or a trust file to verify against"
        raise ValueError(msg)
    when = at or utc_now()
    catalogue = catalogue or nhs_catalogue()
    # A look-alike of an NHS CA in the trust file is verified like any CA and called by its
    # own subject (the walk goes by signature and the names by pin), not refused.
    builder = (
        TrustStoreBuilder()
        .with_catalogue(catalogue)
        .at(when)
        .allow_leaf()
        .allow_test_pki_impostors()
    )
    if environment is not None:
        # Both generations, expired or not: an expired CA shows in the chain verdict.
        builder = builder.add_nhs(environment, tuple(Generation))
    if trust is not None:
        builder = builder.add_file(trust, password=trust_password)
    with warnings.catch_warnings():
        # Expired CAs are reported through the chain rules, not as a store warning.
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        trusted = list(builder.build().certificates)
    if isinstance(certificate, x509.Certificate):
        given, source = [certificate], "<certificate>"
    else:
        given = files.load_certificates(certificate)
        source = files.input_name(certificate)
    private_key = None if key is None else files.read_private_key(key, password=key_password)
    leaf = given[0]
    anchors, others = trust_anchors(trusted)
    return evaluate_identity(
        leaf,
        key=private_key,
        intermediates=[*given[1:], *others],
        anchors=anchors,
        at=when,
        environments=builder.environments,
        catalogue=catalogue,
        source=source,
        allow_g1=True,
    )
