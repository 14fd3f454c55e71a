"""The builders: immutable, each method returns a new builder, ``build()`` checks and assembles.

A builder can be shared and extended safely::

    base = TrustStoreBuilder().add_nhs("prod")
    with_public_roots = base.add_certifi()   # base is unchanged
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID

from truststore_builder import _checks
from truststore_builder._errors import ExpiredCertificateWarning
from truststore_builder._model import (
    Environment,
    Generation,
    NhsCa,
    TrustedEntry,
    TrustStore,
    sha256_fingerprint,
)
from truststore_builder._sources.nhs import NhsCatalogue, nhs_catalogue

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

__all__ = ["TrustStoreBuilder", "alias_for"]

_ALIAS_MAX = 64
_NOT_ALIAS = re.compile(r"[^a-z0-9]+")


def alias_for(certificate: x509.Certificate) -> str:
    """A readable lower-case alias from the certificate's subject (CN, else O/OU).

    Lower-case ASCII letters, digits and hyphens only: valid in JKS (whose aliases are
    case-insensitive) and as a PKCS#12 friendly name.

    >>> from truststore_builder import nhs_catalogue
    >>> alias_for(nhs_catalogue().certificates["nhs-int-level-1c"])
    'nhs-int-level-1c'
    """
    name = certificate.subject
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.ORGANIZATION_NAME):
        values = [a.value for a in name.get_attributes_for_oid(oid) if isinstance(a.value, str)]
        if values:
            text = values[-1]
            break
    else:
        text = ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    alias = _NOT_ALIAS.sub("-", ascii_text.lower()).strip("-")[:_ALIAS_MAX].strip("-")
    return alias or "certificate"


def _unique_alias(wanted: str, fingerprint: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted-<fingerprint prefix>`` as long as needed to be unused."""
    alias = wanted
    length = 8
    while alias in taken:
        alias = f"{wanted}-{fingerprint[:length]}"
        length += 4
    taken.add(alias)
    return alias


def _trusted_certificates(
    source: str | os.PathLike[str] | bytes, password: str | bytes | None
) -> list[x509.Certificate]:
    """The certificates a file contributes to a trust store (see TrustStoreBuilder.add_file)."""
    from truststore_builder._sources import files  # noqa: PLC0415

    entries = files.read_store(source, password=password)
    trusted = [entry for entry in entries if entry.trusted]
    return [entry.certificate for entry in trusted or entries]


@attrs.frozen
class _Candidate:
    certificate: x509.Certificate
    source: str


@attrs.frozen
class TrustStoreBuilder:
    """Collects CA certificates for a trust store; :meth:`build` checks and orders them.

    Every method returns a new builder and leaves this one unchanged. Certificates are read
    when added, so a bad file fails at the call that names it.

    >>> store = TrustStoreBuilder().add_nhs("dep", generations=["g2"]).build()
    >>> [entry.alias for entry in store]
    ['nhs-ptl-root-authority-g2', 'nhs-int-authentication-g2']
    """

    _candidates: tuple[_Candidate, ...] = ()
    _environments: tuple[Environment, ...] = ()
    _allow_leaf: bool = False
    _drop_expired: bool = False
    _at: dt.datetime | None = None
    _catalogue: NhsCatalogue | None = attrs.field(default=None, repr=False)

    @property
    def catalogue(self) -> NhsCatalogue:
        """The NHS catalogue this builder recognises certificates with."""
        return self._catalogue or nhs_catalogue()

    def with_catalogue(self, catalogue: NhsCatalogue) -> TrustStoreBuilder:
        """Use another NHS catalogue (e.g. a bundle directory with NHS Signing G2 added)."""
        return attrs.evolve(self, catalogue=catalogue)

    def _adding(self, certificates: Iterable[x509.Certificate], source: str) -> TrustStoreBuilder:
        added = tuple(_Candidate(c, source) for c in certificates)
        return attrs.evolve(self, candidates=self._candidates + added)

    def add_nhs(
        self,
        environment: Environment | str,
        generations: Iterable[Generation | str] = (Generation.G1, Generation.G2),
    ) -> TrustStoreBuilder:
        """Add the NHS authentication CAs of an environment, and build for that environment.

        Args:
            environment: ``prod``, ``int`` or ``dep``.
            generations: ``g1``, ``g2`` or both (the default: the transition store).

        Raises:
            ValueError: An unknown environment or generation.
        """
        env = Environment(environment)
        builder = self
        for ca, certificate in self.catalogue.select(env, generations):
            builder = builder._adding([certificate], f"nhs:{ca.slug}")
        environments = self._environments if env in self._environments else (*self._environments, env)
        return attrs.evolve(builder, environments=environments)

    def add_file(
        self, path: str | os.PathLike[str], *, password: str | bytes | None = None
    ) -> TrustStoreBuilder:
        """Add the certificates in a file or directory, whatever its format.

        PEM, DER and PKCS#7 files give all their certificates. A PKCS#12 or JKS store gives
        the entries it trusts (Java's trustedCertEntry); one that marks none as trusted (such
        as ``openssl pkcs12 -export``'s) gives every certificate, and the CA check applies.

        Args:
            path: A file, or a directory whose files are read in name order.
            password: The password of a PKCS#12, JKS or JCEKS store.

        Raises:
            InputError: The file cannot be read (each subclass names the file and the rule).
        """
        return self._adding(_trusted_certificates(path, password), os.fspath(path))

    def add_bytes(
        self, data: bytes, *, name: str = "<bytes>", password: str | bytes | None = None
    ) -> TrustStoreBuilder:
        """Add the certificates in ``data`` (any format :meth:`add_file` reads).

        Args:
            data: The content.
            name: How errors and the store's ``source`` refer to it.
            password: The password of a PKCS#12, JKS or JCEKS store.
        """
        return self._adding(_trusted_certificates(data, password), name)

    def add_certificates(
        self, certificates: Iterable[x509.Certificate], *, source: str = "<certificates>"
    ) -> TrustStoreBuilder:
        """Add certificates already loaded with cryptography.

        Raises:
            TypeError: Something that is not an ``x509.Certificate``.
        """
        certificates = tuple(certificates)
        for certificate in certificates:
            if not isinstance(certificate, x509.Certificate):
                msg = f"expected cryptography x509.Certificate objects, got {type(certificate).__name__}"
                raise TypeError(msg)
        return self._adding(certificates, source)

    def add_certifi(self) -> TrustStoreBuilder:
        """Opt in to the public web roots of the ``certifi`` package (Mozilla's CA list).

        Raises:
            InputError: certifi is not installed.
        """
        from truststore_builder._sources import certifi  # noqa: PLC0415

        return self._adding(certifi.certifi_certificates(), "certifi")

    def allow_leaf(self, allow: bool = True) -> TrustStoreBuilder:  # noqa: FBT001, FBT002
        """Let non-CA (leaf) certificates into the store, for callers who pin a peer directly."""
        return attrs.evolve(self, allow_leaf=allow)

    def drop_expired(self, drop: bool = True) -> TrustStoreBuilder:  # noqa: FBT001, FBT002
        """Leave out certificates that are not valid at the validation time, instead of warning."""
        return attrs.evolve(self, drop_expired=drop)

    def at(self, when: dt.datetime) -> TrustStoreBuilder:
        """Judge expiry at ``when`` (timezone-aware) instead of now.

        Raises:
            ValueError: ``when`` has no timezone.
        """
        if when.tzinfo is None:
            msg = "the validation time must be timezone-aware (e.g. datetime.now(UTC))"
            raise ValueError(msg)
        return attrs.evolve(self, at=when)

    def build(self) -> TrustStore:
        """Check, de-duplicate, order and name the certificates.

        De-duplication is by SHA-256 fingerprint (the first source wins). Order: NHS catalogue
        certificates in catalogue order, then the rest by subject and fingerprint. Aliases: the
        catalogue slug for NHS CAs, otherwise derived from the subject; a clash gets the
        fingerprint's first hex digits as a suffix.

        Returns:
            The trust store.

        Raises:
            NotACertificateAuthorityError: A leaf was added and leaves are not allowed.
            EnvironmentMismatchError: An NHS CA of another environment was added.

        Warns:
            ExpiredCertificateWarning: Certificates not valid at the validation time are kept
                (unless dropped) and named in one warning.
        """
        when = self._at or _checks.utc_now()
        catalogue = self.catalogue
        order = {ca.slug: i for i, ca in enumerate(catalogue.cas)}
        seen: dict[str, tuple[_Candidate, NhsCa | None]] = {}
        for candidate in self._candidates:
            fingerprint = sha256_fingerprint(candidate.certificate)
            if fingerprint in seen:
                continue
            nhs = catalogue.recognise(candidate.certificate)
            if nhs is not None:
                _checks.check_environment(nhs, candidate.source, self._environments)
            if not self._allow_leaf:
                _checks.check_certificate_authority(candidate.certificate, candidate.source)
            seen[fingerprint] = (candidate, nhs)

        def sort_key(item: tuple[str, tuple[_Candidate, NhsCa | None]]) -> tuple[int, str, str]:
            fingerprint, (candidate, nhs) = item
            if nhs is not None:
                return (order[nhs.slug], "", fingerprint)
            subject = candidate.certificate.subject.rfc4514_string().casefold()
            return (len(order), subject, fingerprint)

        taken: set[str] = set()
        entries: list[TrustedEntry] = []
        dropped: list[TrustedEntry] = []
        for fingerprint, (candidate, nhs) in sorted(seen.items(), key=sort_key):
            entry = TrustedEntry(
                alias=nhs.slug if nhs else alias_for(candidate.certificate),
                certificate=candidate.certificate,
                source=candidate.source,
                nhs=nhs,
            )
            if self._drop_expired and not entry.is_valid_at(when):
                dropped.append(entry)
                continue
            entries.append(attrs.evolve(entry, alias=_unique_alias(entry.alias, fingerprint, taken)))
        store = TrustStore(entries=tuple(entries), validated_at=when, dropped=tuple(dropped))
        if store.expired:
            names = "; ".join(
                f"{e.alias} ({e.nhs.name if e.nhs else e.subject}, not after "
                f"{e.not_after:%Y-%m-%d})"
                for e in store.expired
            )
            msg = (
                f"{len(store.expired)} certificate(s) in the store are not valid at "
                f"{when:%Y-%m-%d %H:%M} UTC and were kept: {names}"
            )
            warnings.warn(msg, ExpiredCertificateWarning, stacklevel=2)
        return store
