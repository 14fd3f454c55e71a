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
import itertools
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from truststore_builder._errors import (
    ALLOW_G1_REMEDY,
    ALLOW_IMPOSTORS_REMEDY,
    ALLOW_LEAF_REMEDY,
    CertificateNotValidError,
    CertificateUsageError,
    ChainError,
    EnvironmentMismatchError,
    GenerationError,
    IdentityEnvironmentError,
    IdentityError,
    IssuerKeyUsageError,
    KeyMismatchError,
    NhsImpostorError,
    NotACertificateAuthorityError,
    ReadBackError,
    WeakKeyError,
)
from truststore_builder._formats.registry import directory_codec, file_codec
from truststore_builder._model import (
    Environment,
    Generation,
    IdentityReport,
    NhsCa,
    StoreFormat,
    is_issued_by,
    is_self_signed,
    issuer_path,
    sha256_fingerprint,
    spki_der,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

    from truststore_builder._formats.codec import ReadBack
    from truststore_builder._model import PrivateKey
    from truststore_builder._sources.nhs import NhsCatalogue
    from truststore_builder._stores import KeyStore, TrustStore

__all__ = [
    "check_capath_read_back",
    "check_certificate_authority",
    "check_environment",
    "check_keystore_read_back",
    "check_not_impostor",
    "check_read_back",
    "days_left",
    "evaluate_identity",
    "is_certificate_authority",
    "nhs_client_verifier",
    "nhs_issuer",
    "utc_now",
]


def utc_now() -> dt.datetime:
    """The current time in UTC (the default validation time)."""
    return dt.datetime.now(dt.UTC)


_DAY = dt.timedelta(days=1)


def days_left(not_after: dt.datetime, at: dt.datetime) -> int:
    """Whole days from ``at`` to ``not_after``; once expired, minus the whole days since."""
    if at > not_after:
        return -((at - not_after) // _DAY)
    return (not_after - at) // _DAY


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
            "peer's certificate, not the peer's own"
        )
        raise NotACertificateAuthorityError(msg, source=source, remedy=ALLOW_LEAF_REMEDY)


def check_not_impostor(subject: str, sha256: str, source: str, catalogue: NhsCatalogue) -> None:
    """Refuse a certificate the catalogue does not recognise that carries an NHS CA's subject.

    Call it for certificates :meth:`NhsCatalogue.recognise` did not match.

    Args:
        subject: The certificate's subject, RFC 4514.
        sha256: Its SHA-256 fingerprint.
        source: Where it came from, for the message.
        catalogue: The NHS catalogue.

    Raises:
        NhsImpostorError: It claims to be an NHS CA and is not the pinned certificate.
    """
    claimed = catalogue.claimed_by(subject)
    if claimed is None:
        return
    msg = (
        f"{source}: refused: {subject} claims to be {claimed.name} "
        f"but is not the pinned certificate: sha256 {sha256} (pinned "
        f"{claimed.sha256 or claimed.sha1})"
    )
    raise NhsImpostorError(
        msg, source=source, nhs_name=claimed.name, sha256=sha256, remedy=ALLOW_IMPOSTORS_REMEDY
    )


def nhs_issuer(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate], catalogue: NhsCatalogue
) -> NhsCa | None:
    """The NHS CA whose key signed ``certificate``: among ``candidates``, else the catalogue's.

    The issuer is found by signature (:func:`~truststore_builder._model.is_issued_by`) and
    named by its pin (:meth:`NhsCatalogue.recognise`), so a look-alike carrying an NHS CA's
    name is never called by it.
    """
    for candidate in [*candidates, *catalogue.certificates.values()]:
        if is_issued_by(certificate, candidate):
            found = catalogue.recognise(candidate)
            if found is not None:
                return found
    return None


def check_environment(nhs: NhsCa, source: str, environments: Collection[Environment]) -> None:
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


def check_read_back(
    store: TrustStore, store_format: StoreFormat, data: bytes, password: bytes | None
) -> None:
    """Read ``data`` back with the format's independent reader and compare it with ``store``.

    Raises:
        ReadBackError: Count, fingerprints, aliases or trust flags differ.
    """
    label = f"<{store_format.value} read-back>"
    _compare_read_back(
        store,
        file_codec(store_format).read_back(data, password, label),
        f"{store_format.value} store",
    )


def _compare_read_back(store: TrustStore, found: ReadBack, where: str) -> None:
    """Any difference between a store and what was read back of it is an error."""
    certificates, expected = found.certificates, store.certificates
    if not found.ordered:
        # A SET OF certificates: DER may reorder them, so compare as sets there.
        same = sorted(map(sha256_fingerprint, certificates)) == sorted(
            map(sha256_fingerprint, expected)
        )
    else:
        # Certificates are equal when their DER is (and so their fingerprints): comparing them
        # costs a fraction of hashing each, which counts at 100,000 certificates.
        same = len(certificates) == len(expected) and all(
            c == meant for c, meant in zip(certificates, expected, strict=True)
        )
    if not same:
        msg = (
            f"{where}: read back {len(certificates)} certificates where {len(expected)} were "
            "written, or not the same ones; nothing was written"
        )
        raise ReadBackError(msg)
    if found.aliases is not None and found.aliases != [entry.alias for entry in store.entries]:
        msg = f"{where}: aliases read back differ from those written; nothing was written"
        raise ReadBackError(msg)
    if found.trusted is not None and not all(found.trusted):
        untrusted = [e.alias for e, t in zip(store.entries, found.trusted, strict=True) if not t]
        msg = (
            f"{where}: entries {', '.join(untrusted)} do not read back as trusted "
            "certificate entries; nothing was written"
        )
        raise ReadBackError(msg)


def check_capath_read_back(store: TrustStore, files: Mapping[str, bytes], where: str) -> None:
    """Check an OpenSSL CApath directory's files against ``store``, as OpenSSL will look them up.

    Every file must be named ``<hash>.N`` after the subject hash of the one certificate it
    holds, each hash's numbers must run from 0 without a gap, and the certificates must be
    the store's, no more and no fewer.

    Args:
        store: The store meant.
        files: File name to content (serialised, or read from disk).
        where: The directory, for messages.

    Raises:
        ReadBackError: A rule is broken.
    """
    try:
        found = directory_codec(StoreFormat.CAPATH).read_back(files, where)
    except ValueError as exc:
        raise ReadBackError(str(exc), source=where) from None
    certificates = found.certificates
    if sorted(sha256_fingerprint(c) for c in certificates) != sorted(e.sha256 for e in store):
        msg = (
            f"{where}: read back {len(certificates)} certificates where {len(store)} were "
            "written, or not the same ones"
        )
        raise ReadBackError(msg, source=where)


def check_keystore_read_back(  # noqa: PLR0917 - one call site, every argument needed
    keystore: KeyStore,
    store_format: StoreFormat,
    data: bytes,
    password: bytes,
    key_password: bytes | None,
    trusted: Sequence[tuple[str, x509.Certificate]],
) -> None:
    """Read a serialised key store back: one key entry with the right chain, and the CAs trusted.

    Raises:
        ReadBackError: The key entry, its chain or the trusted entries differ from what was meant.
    """
    label = f"<{store_format.value} key store read-back>"
    where = f"{store_format.value} key store"
    read_back = file_codec(store_format).read_back_keystore
    if read_back is None:
        msg = f"a key store is written as p12, jks or jceks, not {store_format.value}"
        raise ValueError(msg)
    found = read_back(data, password, key_password, label)
    entry = found.key_entries[0] if len(found.key_entries) == 1 else None
    # A reader that gives the chain back has it compared whole; one that gives its length,
    # by length (the JKS reader matches each key with its certificate itself).
    keys_ok = (
        entry is not None
        and entry.alias == keystore.alias
        and (entry.chain is not None or entry.chain_length == len(keystore.chain))
    )
    if not keys_ok or entry is None:
        msg = f"{where}: does not read back with exactly one key entry {keystore.alias!r}; nothing was written"
        raise ReadBackError(msg)
    if entry.key is not None and not _same_private_key(entry.key, keystore.identity.key):
        msg = f"{where}: the key entry's private key reads back differently; nothing was written"
        raise ReadBackError(msg)
    # Certificates compare equal when their DER does (see _compare_read_back).
    if entry.chain is not None and entry.chain != list(keystore.chain):
        msg = f"{where}: the key entry's chain reads back differently; nothing was written"
        raise ReadBackError(msg)
    if found.trusted != list(trusted):
        msg = f"{where}: the trusted CA entries read back differently; nothing was written"
        raise ReadBackError(msg)


def _same_private_key(found: PrivateKey, meant: PrivateKey) -> bool:
    """Whether two RSA or EC private keys are the same key (their private numbers are equal)."""
    if isinstance(found, rsa.RSAPrivateKey) and isinstance(meant, rsa.RSAPrivateKey):
        return found.private_numbers() == meant.private_numbers()
    if isinstance(found, ec.EllipticCurvePrivateKey) and isinstance(
        meant, ec.EllipticCurvePrivateKey
    ):
        return found.private_numbers() == meant.private_numbers()
    return False


# --- Client identities -------------------------------------------------------------------------
#
# The NHS chain policy. cryptography's web-PKI defaults refuse every real NHS chain: NHS G1 CAs
# do not mark basicConstraints critical, and NHS endpoint certificates carry no
# subjectAltName (the FQDN is the CN). The policy used here is cryptography's web-PKI policy
# with exactly those two rules relaxed:
#
# - CA certificates must carry basicConstraints CA:TRUE, critical or not;
# - end-entity certificates may omit subjectAltName.
#
# Everything else stands: signatures (SHA-1 is refused on anything but a trust anchor), validity
# of every certificate at an explicit time, key usage, RSA of 2048 bits or more, path length.

_MIN_RSA_BITS = 2048
_MIN_EC_BITS = 256


def nhs_client_verifier(anchors: Sequence[x509.Certificate], at: dt.datetime) -> ClientVerifier:
    """A client-certificate verifier with the NHS chain policy (see above), at time ``at``."""
    ca_policy = ExtensionPolicy.webpki_defaults_ca().require_present(
        x509.BasicConstraints, Criticality.AGNOSTIC, None
    )
    ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
    )
    return (
        PolicyBuilder()
        .store(Store(list(anchors)))
        .time(at)
        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
        .build_client_verifier()
    )


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _key_failure(
    certificate: x509.Certificate, key: PrivateKey | None, source: str
) -> list[IdentityError]:
    failures: list[IdentityError] = []
    if key is not None and spki_der(key) != spki_der(certificate):
        msg = (
            f"{source}: the private key does not belong to the certificate {_subject(certificate)}"
        )
        failures.append(KeyMismatchError(msg, source=source))
    public_key = certificate.public_key()
    weak = (isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < _MIN_RSA_BITS) or (
        isinstance(public_key, ec.EllipticCurvePublicKey)
        and public_key.curve.key_size < _MIN_EC_BITS
    )
    if weak:
        size = public_key.key_size  # type: ignore[union-attr]
        msg = (
            f"{source}: the certificate's key is {size} bits; NHS endpoints refuse RSA below "
            f"{_MIN_RSA_BITS} bits (EC below {_MIN_EC_BITS})"
        )
        failures.append(WeakKeyError(msg, source=source))
    elif not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        msg = f"{source}: the certificate's key is neither RSA nor EC"
        failures.append(WeakKeyError(msg, source=source))
    return failures


def _usage_failure(certificate: x509.Certificate, source: str) -> IdentityError | None:
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        msg = (
            f"{source}: {_subject(certificate)} has no extendedKeyUsage; a client certificate "
            "needs clientAuth"
        )
        return CertificateUsageError(msg, source=source)
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        msg = (
            f"{source}: {_subject(certificate)} lacks clientAuth in its extendedKeyUsage, so "
            "servers will refuse it as a client certificate"
        )
        return CertificateUsageError(msg, source=source)
    return None


def _validity_failure(
    certificate: x509.Certificate, at: dt.datetime, source: str
) -> IdentityError | None:
    if certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
        return None
    state = "expired on" if at > certificate.not_valid_after_utc else "is not valid until"
    when = (
        certificate.not_valid_after_utc
        if at > certificate.not_valid_after_utc
        else certificate.not_valid_before_utc
    )
    msg = f"{source}: {_subject(certificate)} {state} {when:%Y-%m-%d %H:%M} UTC (checked at {at:%Y-%m-%d %H:%M} UTC)"
    return CertificateNotValidError(msg, source=source)


def _environment_failure(
    certificate: x509.Certificate,
    ca: NhsCa | None,
    environments: Collection[Environment],
    source: str,
) -> IdentityError | None:
    """The environment rule: an NHS CA in the chain that serves none of the environments."""
    if ca is None or not environments or set(ca.environments) & set(environments):
        return None
    msg = (
        f"{source}: {_subject(certificate)} is issued under {ca.name} "
        f"({', '.join(ca.environments)}), not for the {', '.join(environments)} "
        "environment being built"
    )
    return IdentityEnvironmentError(msg, source=source)


def evaluate_identity(
    certificate: x509.Certificate,
    *,
    key: PrivateKey | None,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    at: dt.datetime,
    environments: Collection[Environment],
    catalogue: NhsCatalogue,
    source: str,
    allow_g1: bool = False,
) -> IdentityReport:
    """Check a client certificate (and its key) against every identity rule; collect failures.

    Args:
        certificate: The client certificate.
        key: Its private key, when there is one to check.
        intermediates: Certificates that may complete the chain (a chain file, the catalogue).
        anchors: The trust anchors, as :func:`~truststore_builder._model.trust_anchors`
            defines them (the other trusted certificates go in ``intermediates``).
        at: The validation time, always explicit.
        environments: The NHS environments being built for (empty: no environment rule).
        catalogue: The NHS catalogue, to recognise NHS issuers.
        source: How messages name the certificate's file.
        allow_g1: Package a G1 client certificate instead of refusing it.

    Returns:
        The report: chain found, NHS issuer and generation, and every failed rule in order.
    """
    failures: list[IdentityError] = list(_key_failure(certificate, key, source))
    failures += [
        f
        for f in (_validity_failure(certificate, at, source), _usage_failure(certificate, source))
        if f
    ]
    candidates = [*intermediates, *anchors]
    path, missing = issuer_path(certificate, candidates)
    issuer_nhs = next((ca for c in path[1:] if (ca := catalogue.recognise(c)) is not None), None)
    chain: tuple[x509.Certificate, ...] = tuple(path)
    elsewhere = next(
        (
            catalogue.get(slug)
            for slug, c in catalogue.certificates.items()
            if missing is not None and is_issued_by(path[-1], c)
        ),
        None,
    )
    wrong_place = _environment_failure(certificate, elsewhere, environments, source)
    if wrong_place is not None:
        failures.append(wrong_place)
    elif missing is not None:
        if any(c.subject == missing for c in candidates):
            msg = (
                f"{source}: the chain of {_subject(certificate)} does not verify: no "
                f"certificate named {missing.rfc4514_string()} has the key that signed "
                f"{_subject(path[-1])} (a tampered certificate, or a look-alike issuer)"
            )
        else:
            msg = (
                f"{source}: no issuer found for {_subject(path[-1])}: it asks for "
                f"{missing.rfc4514_string()}, which is neither in the NHS catalogue for "
                f"{', '.join(environments) or 'this store'} nor in the given files"
            )
        failures.append(ChainError(msg, source=source))
    elif (refused := _issuer_key_usage_failure(path, source)) is not None:
        failures.append(refused)
    elif not failures:
        try:
            verified = nhs_client_verifier(anchors, at).verify(certificate, list(intermediates))
        except VerificationError as exc:
            msg = f"{source}: the chain of {_subject(certificate)} does not verify: {_short(exc)}"
            failures.append(ChainError(msg, source=source))
        else:
            chain = tuple(verified.chain)
    wrong_issuer = _environment_failure(certificate, issuer_nhs, environments, source)
    if wrong_issuer is not None:
        failures.append(wrong_issuer)
    if issuer_nhs is not None and issuer_nhs.generation is Generation.G1 and not allow_g1:
        msg = (
            f"{source}: {_subject(certificate)} is a G1 certificate (issued by "
            f"{issuer_nhs.name}), packaged only if asked for"
        )
        failures.append(GenerationError(msg, source=source, remedy=ALLOW_G1_REMEDY))
    return IdentityReport(
        certificate=certificate,
        chain=chain,
        issuer_nhs=issuer_nhs,
        validated_at=at,
        failures=tuple(failures),
    )


def _issuer_key_usage_failure(
    path: Sequence[x509.Certificate], source: str
) -> IssuerKeyUsageError | None:
    """RFC 5280 4.2.1.3: a CA that signs certificates must assert keyCertSign in its keyUsage.

    Without a keyUsage extension the key may be used for anything; with one, the issuer of
    each link must allow certificate signing.
    """
    for child, issuer in itertools.pairwise(path):
        try:
            usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if not usage.key_cert_sign:
            msg = (
                f"{source}: {_subject(issuer)} issued {_subject(child)} but its keyUsage lacks "
                "keyCertSign, so it may not sign certificates (RFC 5280 4.2.1.3)"
            )
            return IssuerKeyUsageError(msg, source=source)
    return None


def _short(exc: VerificationError) -> str:
    """Cryptography's message without its certificate repr."""
    return str(exc).split(" (encountered processing", 1)[0].removeprefix("validation failed: ")
