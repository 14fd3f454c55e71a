"""The builders: immutable, each method returns a new builder, ``build()`` checks and assembles.

A builder can be shared and extended safely::

    base = TrustStoreBuilder().add_nhs("prod")
    with_public_roots = base.add_certifi()   # base is unchanged
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import unicodedata
import warnings
from typing import TYPE_CHECKING, NamedTuple

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from truststore_builder import _checks
from truststore_builder._chains import root_first
from truststore_builder._deprecation import renamed_method
from truststore_builder._errors import (
    ExpiredCertificateWarning,
    G1IdentityWarning,
    InputError,
    ReplyKeyMismatchError,
)
from truststore_builder._model import (
    Environment,
    Generation,
    Identity,
    NhsCa,
    TrustedEntry,
    sha256_fingerprint,
    spki_der,
    trust_anchors,
)
from truststore_builder._sources import certifi, files
from truststore_builder._sources.nhs import NhsCatalogue, nhs_catalogue
from truststore_builder._stores import KeyStore, TrustStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from truststore_builder._model import PrivateKey

__all__ = ["KeyStoreBuilder", "TrustStoreBuilder", "alias_for"]

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
    entries = files.read_store(source, password=password)
    trusted = [entry for entry in entries if entry.trusted]
    return [entry.certificate for entry in trusted or entries]


def _key_store_trust(path: str | os.PathLike[str], password: str | bytes) -> list[x509.Certificate]:
    """The certificates an old key store's trust gives: its trusted entries, or its CAs.

    A store that marks no entry trusted (``openssl pkcs12 -export``'s, or keytool's holding
    only the key entry) gives the CAs of its chains; its key entries' own certificates are
    the identity, never trust.
    """
    entries = files.read_store(path, password=password)
    trusted = [entry.certificate for entry in entries if entry.trusted]
    if trusted:
        return trusted
    return [e.certificate for e in entries if _checks.is_certificate_authority(e.certificate)]


@attrs.frozen
class _Candidate:
    certificate: x509.Certificate
    source: str
    #: An NHS CA the caller did not ask for by generation: left out unless valid at build time.
    current_only: bool = False


class _Accepted(NamedTuple):
    """A certificate that passed the checks, with what build() needs to order and name it."""

    candidate: _Candidate
    nhs: NhsCa | None
    alias: str
    #: The subject, RFC 4514 and case-folded, to sort by ("" for an NHS CA: catalogue order).
    subject: str


def _parsed_copy(der: bytes) -> x509.Certificate:
    """A certificate parsed afresh from its DER, to read names and extensions from and drop."""
    with warnings.catch_warnings():
        # The caller's own object was parsed from these bytes already, and warned about then
        # (a serial number that is not positive, say): once is enough.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return x509.load_der_x509_certificate(der)


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
    _at: dt.datetime | None = attrs.field(default=None, kw_only=True)
    _catalogue: NhsCatalogue | None = attrs.field(default=None, repr=False)
    _allow_test_pki_impostors: bool = False

    @property
    def environments(self) -> tuple[Environment, ...]:
        """The NHS environments this store is built for (empty when none was added)."""
        return self._environments

    @property
    def catalogue(self) -> NhsCatalogue:
        """The NHS catalogue this builder recognises certificates with."""
        return self._catalogue or nhs_catalogue()

    def with_catalogue(self, catalogue: NhsCatalogue) -> TrustStoreBuilder:
        """Use another NHS catalogue: ``load_nhs_catalogue(DIR)`` of one ``nhs update`` wrote."""
        return attrs.evolve(self, catalogue=catalogue)

    def _adding(
        self,
        certificates: Iterable[x509.Certificate],
        source: str,
        *,
        current_only: bool = False,
    ) -> TrustStoreBuilder:
        added = tuple(_Candidate(c, source, current_only) for c in certificates)
        return attrs.evolve(self, candidates=self._candidates + added)

    def add_nhs(
        self,
        environment: Environment | str,
        generations: Iterable[Generation | str] | None = None,
    ) -> TrustStoreBuilder:
        """Add the NHS authentication CAs of an environment, and build for that environment.

        By default the store holds the environment's CAs of either generation that are valid
        when it is built: G2 only for ``prod`` since the G1 hierarchy expired on 2024-06-04,
        G1 and G2 for ``int`` and ``dep``, G1 for ``dev`` and ``tra``. What that leaves out is
        in :attr:`TrustStore.dropped`. Naming the generations asks for them whatever their
        validity: an expired CA is then kept, with a warning (or left out by
        :meth:`drop_expired`).

        Args:
            environment: ``prod``, ``int``, ``dep``, ``dev`` or ``tra``.
            generations: ``g1``, ``g2`` or both; None (the default) for those valid at build
                time.

        Raises:
            ValueError: An unknown environment or generation, or generations named for which
                the catalogue ships no CA of that environment (``dev`` has no G2 CA).
        """
        env = Environment(environment)
        current_only = generations is None
        wanted = tuple(generations) if generations is not None else tuple(Generation)
        selected = self.catalogue.select(env, wanted)
        if not selected:
            named = ",".join(Generation(g).value for g in wanted)
            msg = f"the NHS catalogue ships no {named} authentication CA for {env.value}"
            raise ValueError(msg)
        builder = self
        for ca, certificate in selected:
            builder = builder._adding([certificate], f"nhs:{ca.slug}", current_only=current_only)
        environments = (
            self._environments if env in self._environments else (*self._environments, env)
        )
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
        return self._adding(certifi.certifi_certificates(), "certifi")

    def allow_leaf(self, allow: bool = True) -> TrustStoreBuilder:  # noqa: FBT001, FBT002
        """Let non-CA (leaf) certificates into the store, for callers who pin a peer directly."""
        return attrs.evolve(self, allow_leaf=allow)

    def allow_test_pki_impostors(self, allow: bool = True) -> TrustStoreBuilder:  # noqa: FBT001, FBT002
        """Let in certificates that carry an NHS CA's subject without being its pinned certificate.

        For test PKIs that imitate NHS names only: such a certificate is never given the NHS
        CA's name, generation or alias (its alias ends ``-test-pki``); by default
        :meth:`build` refuses it
        (:class:`~truststore_builder.NhsImpostorError`), because in a real store it is an
        impostor.
        """
        return attrs.evolve(self, allow_test_pki_impostors=allow)

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
        fingerprint's first hex digits as a suffix. NHS CAs added without naming their
        generation are left out when not valid at the validation time (see :meth:`add_nhs`).

        Returns:
            The trust store.

        Raises:
            NotACertificateAuthorityError: A leaf was added and leaves are not allowed.
            EnvironmentMismatchError: An NHS CA of another environment was added.
            NhsImpostorError: A certificate carries an NHS CA's subject but is not the pinned
                certificate (unless test-PKI impostors are allowed).

        Warns:
            ExpiredCertificateWarning: Certificates not valid at the validation time are kept
                (unless dropped) and named in one warning.
        """
        when = self._at or _checks.utc_now()
        catalogue = self.catalogue
        order = {ca.slug: i for i, ca in enumerate(catalogue.cas)}
        seen: dict[str, _Accepted] = {}
        for candidate in self._candidates:
            der = candidate.certificate.public_bytes(Encoding.DER)
            fingerprint = hashlib.sha256(der).hexdigest()
            if fingerprint in seen:
                first = seen[fingerprint]
                if first.candidate.current_only and not candidate.current_only:
                    # Asked for again, by name or by file: kept whatever its validity.
                    kept = attrs.evolve(first.candidate, current_only=False)
                    seen[fingerprint] = first._replace(candidate=kept)
                continue
            seen[fingerprint] = self._accept(candidate, der, fingerprint, catalogue)

        def sort_key(item: tuple[str, _Accepted]) -> tuple[int, str, str]:
            fingerprint, accepted = item
            if accepted.nhs is not None:
                return (order[accepted.nhs.slug], "", fingerprint)
            return (len(order), accepted.subject, fingerprint)

        taken: set[str] = set()
        entries: list[TrustedEntry] = []
        dropped: list[TrustedEntry] = []
        for fingerprint, (candidate, nhs, alias, _subject) in sorted(seen.items(), key=sort_key):
            if self._drop_expired or candidate.current_only:
                entry = TrustedEntry(
                    alias=alias, certificate=candidate.certificate, source=candidate.source, nhs=nhs
                )
                if not entry.is_valid_at(when):
                    dropped.append(entry)
                    continue
            entries.append(
                TrustedEntry(
                    alias=_unique_alias(alias, fingerprint, taken),
                    certificate=candidate.certificate,
                    source=candidate.source,
                    nhs=nhs,
                )
            )
        # NHS CAs are root-first by catalogue order; a private CA's root may sort after its
        # intermediates by subject: each entry goes after the entries that issued it.
        store = TrustStore(entries=root_first(entries), validated_at=when, dropped=tuple(dropped))
        expired = store.expired
        if expired:
            names = "; ".join(
                f"{e.alias} ({e.nhs.name if e.nhs else e.subject}, not after "
                f"{e.not_after:%Y-%m-%d})"
                for e in expired
            )
            msg = (
                f"{len(expired)} certificate(s) in the store are not valid at "
                f"{when:%Y-%m-%d %H:%M} UTC and were kept: {names}"
            )
            warnings.warn(msg, ExpiredCertificateWarning, stacklevel=2)
        return store

    def _accept(
        self, candidate: _Candidate, der: bytes, fingerprint: str, catalogue: NhsCatalogue
    ) -> _Accepted:
        """Check one new certificate (environment, CA) and find its alias and sort subject.

        The names and extensions are read from a copy parsed for the purpose and dropped:
        cryptography keeps what it parses on the certificate object (subject, issuer and
        extensions: some 2 KB each), which would otherwise stay on every one of the caller's
        certificates for as long as the caller holds them (200 MB for 100,000).

        Raises:
            EnvironmentMismatchError: An NHS CA of another environment.
            NotACertificateAuthorityError: A leaf, and leaves are not allowed.
            NhsImpostorError: An NHS CA's subject on another certificate.
        """
        nhs = catalogue.recognise_der(der, fingerprint)
        if nhs is not None:
            _checks.check_environment(nhs, candidate.source, self._environments)
        probe = _parsed_copy(der)
        subject = probe.subject.rfc4514_string() if nhs is None else ""
        if nhs is None and not self._allow_test_pki_impostors:
            _checks.check_not_impostor(subject, fingerprint, candidate.source, catalogue)
        if not self._allow_leaf:
            _checks.check_certificate_authority(probe, candidate.source)
        if nhs is not None:
            return _Accepted(candidate, nhs, nhs.slug, "")
        alias = alias_for(probe)
        # Never an NHS CA's own alias: a reader of the store must see it is not the CA.
        if self._allow_test_pki_impostors and catalogue.claimed_by(subject) is not None:
            alias = f"{alias}-test-pki"
        elif alias in catalogue.certificates:
            # Its CN is an NHS CA's, the rest of its subject is not (O=Evil, say).
            alias = f"{alias}-not-nhs"
        return _Accepted(candidate, None, alias, subject.casefold())


def _load_identity(
    certificate: str | os.PathLike[str] | bytes | x509.Certificate,
    key: str | os.PathLike[str] | bytes | PrivateKey,
    *,
    key_password: str | bytes | None,
    chain: str | os.PathLike[str] | bytes | None,
    alias: str | None,
) -> Identity:
    """Read a certificate (file, bytes or object), its key and an optional chain file."""
    if isinstance(certificate, x509.Certificate):
        certificates, source = [certificate], "<certificate>"
    else:
        certificates = files.load_certificates(certificate)
        source = files.input_name(certificate)
    private_key = (
        key
        if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        else files.read_private_key(key, password=key_password)
    )
    # The leaf is the certificate the key belongs to; a combined file may hold its chain too.
    spki = spki_der(private_key)
    leaf = next((c for c in certificates if spki_der(c) == spki), certificates[0])
    issuers = [c for c in certificates if c is not leaf]
    if chain is not None:
        issuers += files.load_certificates(chain)
    return Identity(
        alias=alias.lower() if alias else alias_for(leaf),
        key=private_key,
        certificate=leaf,
        chain=tuple(issuers),
        source=source,
    )


def _renewed_certificate(
    certificate: str | os.PathLike[str] | bytes | x509.Certificate,
    chain: str | os.PathLike[str] | bytes | None,
    key: PrivateKey,
    entry: str,
) -> tuple[x509.Certificate, tuple[x509.Certificate, ...], str]:
    """The new leaf for ``key`` among the given certificates, its issuers, and its source.

    Raises:
        ReplyKeyMismatchError: No given certificate certifies ``key``.
    """
    if isinstance(certificate, x509.Certificate):
        given, source = [certificate], "<certificate>"
    else:
        given, source = files.load_certificates(certificate), files.input_name(certificate)
    spki = spki_der(key)
    leaf = next((c for c in given if spki_der(c) == spki), None)
    if leaf is None:
        fingerprint = hashlib.sha256(spki_der(given[0])).hexdigest()
        msg = (
            f"{source}: refused: {given[0].subject.rfc4514_string()} certifies another key "
            f"(public key SHA-256 {fingerprint}) than the key of {entry} "
            f"({hashlib.sha256(spki).hexdigest()}); it is not the reply to a request made with "
            "that key"
        )
        raise ReplyKeyMismatchError(msg, source=source)
    issuers = [c for c in given if c is not leaf]
    if chain is not None:
        issuers += files.load_certificates(chain)
    return leaf, tuple(issuers), source


@attrs.frozen
class KeyStoreBuilder:
    """Collects a client identity and the CAs to trust with it; :meth:`build` checks them all.

    Every method returns a new builder. The identity rules (key match, key strength, validity,
    clientAuth, a chain to a root the store trusts, the right environment, G2 unless G1 is
    allowed) all run in :meth:`build`, before anything can be written.
    """

    _trust: TrustStoreBuilder = attrs.field(factory=TrustStoreBuilder)
    _identity: Identity | None = None
    _allow_g1: bool = False
    _at: dt.datetime | None = attrs.field(default=None, kw_only=True)

    def add_nhs(
        self,
        environment: Environment | str,
        generations: Iterable[Generation | str] | None = None,
    ) -> KeyStoreBuilder:
        """Trust the NHS CAs of an environment, and check the identity belongs to it.

        Which CAs: as :meth:`TrustStoreBuilder.add_nhs` (by default those valid at build time).
        """
        return attrs.evolve(self, trust=self._trust.add_nhs(environment, generations))

    def add_trusted_file(
        self, path: str | os.PathLike[str], *, password: str | bytes | None = None
    ) -> KeyStoreBuilder:
        """Trust the CA certificates in a file (any format TrustStoreBuilder.add_file reads)."""
        return attrs.evolve(self, trust=self._trust.add_file(path, password=password))

    def add_trusted_certificates(self, certificates: Iterable[x509.Certificate]) -> KeyStoreBuilder:
        """Trust these CA certificates."""
        return attrs.evolve(self, trust=self._trust.add_certificates(certificates))

    def with_catalogue(self, catalogue: NhsCatalogue) -> KeyStoreBuilder:
        """Recognise NHS CAs with another catalogue (see TrustStoreBuilder.with_catalogue)."""
        return attrs.evolve(self, trust=self._trust.with_catalogue(catalogue))

    def with_trust_store(self, builder: TrustStoreBuilder) -> KeyStoreBuilder:
        """Use a prepared TrustStoreBuilder for the trusted entries."""
        return attrs.evolve(self, trust=builder)

    with_truststore = renamed_method(with_trust_store, "with_truststore")

    def with_identity(
        self,
        certificate: str | os.PathLike[str] | bytes | x509.Certificate,
        key: str | os.PathLike[str] | bytes | PrivateKey,
        *,
        key_password: str | bytes | None = None,
        chain: str | os.PathLike[str] | bytes | None = None,
        alias: str | None = None,
    ) -> KeyStoreBuilder:
        """Set the client identity from a certificate and its private key.

        Args:
            certificate: The client certificate: a file in any format the loaders read (it
                may also hold the chain), bytes, or an ``x509.Certificate``.
            key: The private key: a PEM/DER file (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8),
                bytes, or a cryptography key object.
            key_password: The key file's password, if it is encrypted.
            chain: A file of issuer certificates, if you have one.
            alias: The key entry's alias (default: derived from the certificate's CN).

        Raises:
            InputError: A file cannot be read, or a password is missing or wrong.
        """
        identity = _load_identity(
            certificate, key, key_password=key_password, chain=chain, alias=alias
        )
        return attrs.evolve(self, identity=identity)

    def with_identity_from_store(
        self,
        path: str | os.PathLike[str],
        *,
        password: str | bytes,
        alias: str | None = None,
        key_password: str | bytes | None = None,
        certificate: str | os.PathLike[str] | bytes | x509.Certificate | None = None,
        chain: str | os.PathLike[str] | bytes | None = None,
    ) -> KeyStoreBuilder:
        """Take the identity from an existing PKCS#12 or JKS key store (to rebuild or renew it).

        The store's trusted entries are kept as trusted entries too (a store that marks none
        trusted, such as ``openssl pkcs12 -export``'s, gives the CAs of its chains), and the
        key entry keeps its key and its alias. Given ``certificate`` (the CA's reply to a request made with
        this key, e.g. by ``csr --from-store``), the entry's certificate and chain are
        replaced by it and the issuers given with it; :meth:`build` then runs every identity
        rule on the new certificate.

        Args:
            path: The old key store.
            password: Its store password.
            alias: Which key entry, when it holds more than one.
            key_password: The key entry's password, where it differs from the store's.
            certificate: The new certificate: a file in any format the loaders read (it may
                also hold its chain), bytes, or an ``x509.Certificate``.
            chain: A file of issuer certificates for the new certificate, if you have one.

        Raises:
            InputError: The store cannot be read, or has no (or no such) key entry.
            ReplyKeyMismatchError: ``certificate`` certifies another key than the entry's.
        """
        found = files.read_identities(
            path, password=password, key_password=key_password, alias=alias
        )
        source = os.fspath(path)
        if alias is not None:
            found = [entry for entry in found if entry[0].lower() == alias.lower()]
        if len(found) != 1:
            wanted = f"a key entry named {alias!r}" if alias else "exactly one key entry"
            msg = f"{source}: needs {wanted}, found {len(found)}"
            raise InputError(msg, source=source)
        entry_alias, key, old_chain = found[0]
        leaf, issuers = old_chain[0], tuple(old_chain[1:])
        if certificate is not None:
            leaf, issuers, source = _renewed_certificate(
                certificate, chain, key, f"{source} (entry {entry_alias!r})"
            )
        identity = Identity(
            alias=entry_alias.lower() or alias_for(leaf),
            key=key,
            certificate=leaf,
            chain=issuers,
            source=source,
        )
        trust = self._trust.add_certificates(
            _key_store_trust(path, password), source=os.fspath(path)
        )
        return attrs.evolve(self, identity=identity, trust=trust)

    def allow_test_pki_impostors(self, allow: bool = True) -> KeyStoreBuilder:  # noqa: FBT001, FBT002
        """Trust test-PKI CAs that imitate NHS names (see TrustStoreBuilder's method)."""
        return attrs.evolve(self, trust=self._trust.allow_test_pki_impostors(allow))

    def allow_g1(self, allow: bool = True) -> KeyStoreBuilder:  # noqa: FBT001, FBT002
        """Package a G1 client certificate (with a warning) instead of refusing it."""
        return attrs.evolve(self, allow_g1=allow)

    def at(self, when: dt.datetime) -> KeyStoreBuilder:
        """Judge validity at ``when`` (timezone-aware) instead of now."""
        return attrs.evolve(self, trust=self._trust.at(when), at=when)

    def build(self) -> KeyStore:
        """Run every identity rule and assemble the key store.

        Raises:
            ValueError: No identity was given.
            IdentityError: The first rule broken (KeyMismatchError, WeakKeyError,
                CertificateNotValidError, CertificateUsageError, ChainError,
                IdentityEnvironmentError, GenerationError); each names the file and the rule.

        Warns:
            G1IdentityWarning: A G1 client certificate was packaged because G1 was allowed.
        """
        if self._identity is None:
            msg = "no client identity: call with_identity() or with_identity_from_store() first"
            raise ValueError(msg)
        identity = self._identity
        when = self._at or _checks.utc_now()
        trust_store = self._trust.at(when).build()
        trusted = list(trust_store.certificates)
        anchors, others = trust_anchors(trusted)
        report = _checks.evaluate_identity(
            identity.certificate,
            key=identity.key,
            intermediates=[*identity.chain, *others],
            anchors=anchors,
            at=when,
            environments=self._trust.environments,
            catalogue=self._trust.catalogue,
            source=identity.source,
            allow_g1=self._allow_g1,
        )
        if report.failures:
            raise report.failures[0]
        if report.generation is Generation.G1:
            msg = (
                f"{identity.source}: packaging G1 client certificate {report.subject} as asked; "
                "NHS services are moving to G2"
            )
            warnings.warn(msg, G1IdentityWarning, stacklevel=2)
        taken = {entry.alias for entry in trust_store}
        alias = _unique_alias(identity.alias, sha256_fingerprint(identity.certificate), taken)
        return KeyStore(
            identity=attrs.evolve(identity, alias=alias),
            chain=report.chain,
            trust_store=trust_store,
            report=report,
        )
