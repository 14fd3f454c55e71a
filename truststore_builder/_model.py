"""The values truststore_builder passes around: catalogue records, store entries, trust stores.

Certificates are cryptography's ``x509.Certificate``; these classes add what a store needs
around them (an alias, where the certificate came from, what the NHS catalogue knows of it).
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from truststore_builder._errors import InvalidPasswordError
from truststore_builder._formats.keys import PrivateKey

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes


__all__ = [
    "Environment",
    "Generation",
    "Identity",
    "IdentityReport",
    "KeyStore",
    "NhsCa",
    "StoreEntry",
    "StoreFormat",
    "TrustStore",
    "TrustedEntry",
    "as_password_bytes",
    "is_issued_by",
    "issuer_path",
    "sha256_fingerprint",
    "spki_der",
]


class Environment(enum.StrEnum):
    """An NHS PKI environment: the live service, or a Path to Live (PTL) test environment."""

    PROD = "prod"
    INT = "int"
    DEP = "dep"
    DEV = "dev"
    TRA = "tra"


class Generation(enum.StrEnum):
    """A generation of the NHS PKI hierarchy."""

    G1 = "g1"
    G2 = "g2"


class StoreFormat(enum.StrEnum):
    """A trust store file format truststore_builder writes."""

    PEM = "pem"
    PKCS12 = "p12"
    JKS = "jks"
    JCEKS = "jceks"
    PKCS7 = "p7b"
    #: A directory, not a file: OpenSSL's CApath layout (``<subject-hash>.N``, c_rehash -copy).
    CAPATH = "capath"

    @classmethod
    def from_path(cls, path: str | Path) -> StoreFormat:
        """Infer the format from a file name's suffix (``.pem``, ``.p12``/``.pfx``, ...).

        Raises:
            ValueError: The suffix names no format we write.
        """
        suffix = Path(path).suffix.lower().lstrip(".")
        aliases = {"crt": "pem", "cer": "pem", "pfx": "p12", "p7c": "p7b", "p7": "p7b"}
        try:
            return cls(aliases.get(suffix, suffix))
        except ValueError:
            msg = f"{path}: cannot tell the store format from the suffix {suffix!r}; name it"
            raise ValueError(msg) from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_password_bytes(password: str | bytes | None, what: str = "the password") -> bytes | None:
    """Return a password as UTF-8 bytes (None stays None), refusing one no store can hold.

    Every password that enters the library, from Python or the command line, passes here
    before anything else sees it.

    Args:
        password: The password as text or bytes, or None for none.
        what: How the message names the password (an option or key, never its value).

    Raises:
        InvalidPasswordError: It holds a NUL character (OpenSSL takes a password as a C
            string, and cryptography, handed one, panics and prints the password's bytes),
            or is text that cannot be encoded (a lone surrogate).
        TypeError: It is neither text nor bytes.
    """
    if password is None:
        return None
    if isinstance(password, str):
        try:
            # surrogateescape: bytes that os.environ could not decode come back as they were.
            secret = password.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            msg = f"{what} is not valid text (it holds a lone surrogate)"
            raise InvalidPasswordError(msg) from None
    elif isinstance(password, bytes | bytearray | memoryview):
        secret = bytes(password)
    else:
        msg = f"{what} must be str or bytes, not {type(password).__name__}"
        raise TypeError(msg)
    if b"\0" in secret:
        msg = f"{what} holds a NUL character, which no store password can hold"
        raise InvalidPasswordError(msg)
    return secret


def sha256_fingerprint(certificate: x509.Certificate) -> str:
    """Return the certificate's SHA-256 fingerprint over its DER encoding, as lower-case hex."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def spki_der(key: x509.Certificate | PrivateKeyTypes | PublicKeyTypes) -> bytes:
    """The public key's DER SubjectPublicKeyInfo: what two keys are compared by.

    Args:
        key: A certificate (its public key), a private key (its public half) or a public key.

    Returns:
        The DER bytes; equal for a private key and its certificate.
    """
    public = key.public_key() if isinstance(key, x509.Certificate) else key
    if not hasattr(public, "public_bytes"):  # a private key: its public half
        public = public.public_key()
    encoded: bytes = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return encoded


#: How many certificates an issuer walk follows before it gives up (a loop, or nonsense).
MAX_CHAIN_DEPTH = 8


def _key_identifiers_disagree(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether the certificate's AKI and the issuer's SKI are both present and differ."""
    try:
        authority = certificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
        subject = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except (x509.ExtensionNotFound, ValueError):
        return False
    return authority is not None and authority != subject


def _signature_verifies(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Check the signature with the issuer's public key directly.

    For the algorithms cryptography's X.509 verification refuses outright: SHA-1, which the
    prod G1 root and the CAs under it are signed with.
    """
    key = issuer.public_key()
    hash_algorithm = certificate.signature_hash_algorithm
    parameters = certificate.signature_algorithm_parameters
    signature, tbs = certificate.signature, certificate.tbs_certificate_bytes
    try:
        if isinstance(key, rsa.RSAPublicKey) and isinstance(
            parameters, padding.PKCS1v15 | padding.PSS
        ):
            key.verify(signature, tbs, parameters, hash_algorithm)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(parameters, ec.ECDSA):
            key.verify(signature, tbs, parameters)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def is_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``certificate``: the names agree and its key made the signature.

    A name alone proves nothing (anyone can put "NHS Root Authority G2" in a certificate), so
    the signature decides; the key identifiers, where both are present, rule a candidate out
    before any signature is checked.
    """
    if certificate.issuer != issuer.subject or _key_identifiers_disagree(certificate, issuer):
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except ValueError as exc:
        if "Unsupported signature algorithm" in str(exc):
            return _signature_verifies(certificate, issuer)
        return False
    except (TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def issuer_path(
    certificate: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> tuple[list[x509.Certificate], x509.Name | None]:
    """Walk from ``certificate`` up through the ``candidates`` that really issued each link.

    Every issuer walk in the package is this one: an issuer is found by name, key identifier
    and signature (:func:`is_issued_by`), never by name alone.

    Returns:
        The path, ``certificate`` first, up to a self-signed certificate or as far as the
        candidates go; and the issuer name no candidate answers for (None when the path ends
        at a self-signed certificate or at the depth limit).
    """
    path = [certificate]
    current = certificate
    while len(path) < MAX_CHAIN_DEPTH and not is_issued_by(current, current):
        issuer = next((c for c in candidates if c not in path and is_issued_by(current, c)), None)
        if issuer is None:
            return path, current.issuer
        path.append(issuer)
        current = issuer
    return path, None


@attrs.frozen
class NhsCa:
    """One NHS CA as the catalogue's manifest describes it.

    Attributes:
        slug: Short stable name, also the alias in stores (``nhs-root-authority-g2``).
        name: Display name (``NHS Root Authority G2``).
        environments: The environments whose stores hold it.
        generation: G1 or G2.
        role: ``root`` or ``intermediate``.
        purpose: ``authentication`` or ``signing``.
        sha256: Pinned SHA-256 fingerprint (lower-case hex), or None where only SHA-1 is published.
        sha1: Pinned SHA-1 fingerprint, where that is all that is published.
        file: The certificate's file name in bundles/, or None where we do not ship it.
    """

    slug: str
    name: str
    environments: tuple[Environment, ...]
    generation: Generation
    role: str
    purpose: str
    sha256: str | None
    sha1: str | None = None
    file: str | None = None


@attrs.frozen
class StoreEntry:
    """A certificate entry as read from an existing PKCS#12 or JKS store.

    Attributes:
        alias: The alias (PKCS#12 friendly name, JKS alias) in the store, or "" if it had none.
        certificate: The certificate.
        trusted: Whether the store marks it as a trusted certificate entry (Java's
            trustedCertEntry) rather than part of a private key entry's chain.
    """

    alias: str
    certificate: x509.Certificate
    trusted: bool


@attrs.frozen(repr=False)
class TrustedEntry:
    """A certificate in a trust store, with its alias and what is known about it.

    Attributes:
        alias: Unique, lower-case alias, valid in JKS and as a PKCS#12 friendly name.
        certificate: The certificate.
        source: Where it came from: a file path, ``nhs:<slug>``, ``certifi`` or ``<bytes>``.
        nhs: The NHS catalogue's record of it, when the catalogue recognises it.
    """

    alias: str
    certificate: x509.Certificate = attrs.field(repr=False)
    source: str
    nhs: NhsCa | None = None

    @property
    def sha256(self) -> str:
        """SHA-256 fingerprint of the certificate, lower-case hex."""
        return sha256_fingerprint(self.certificate)

    @property
    def subject(self) -> str:
        """The subject as an RFC 4514 string."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The issuer as an RFC 4514 string."""
        return self.certificate.issuer.rfc4514_string()

    @property
    def not_before(self) -> dt.datetime:
        """Start of validity, in UTC."""
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        """End of validity, in UTC."""
        return self.certificate.not_valid_after_utc

    def is_valid_at(self, when: dt.datetime) -> bool:
        """Whether ``when`` lies inside the certificate's validity period."""
        return self.not_before <= when <= self.not_after

    def __repr__(self) -> str:
        """``<TrustedEntry alias: name (gen), not after DATE, status now>``."""
        from truststore_builder._report import entry_summary  # noqa: PLC0415

        return f"<TrustedEntry {entry_summary(self, _now())}>"

    def __str__(self) -> str:
        """Every field, one per line, with the expiry status now."""
        from truststore_builder._report import entry_text  # noqa: PLC0415

        return entry_text(self, _now())

    def _repr_html_(self) -> str:
        """Jupyter's view: the fields as an HTML table, expiry marked."""
        from truststore_builder._report import entry_html  # noqa: PLC0415

        return entry_html(self, _now())


@attrs.frozen(repr=False)
class TrustStore:
    """A built trust store: checked, de-duplicated and ordered entries, ready to write.

    Build one with :class:`TrustStoreBuilder`. The order of ``entries`` is the order every
    writer uses: NHS catalogue certificates first, in catalogue order (prod, then PTL;
    G1 before G2; each root before its intermediates), then every other certificate sorted by
    subject and fingerprint.

    Attributes:
        entries: The entries, in store order.
        validated_at: The time expiry was judged at.
        dropped: Entries left out because they were not valid at ``validated_at`` (only when
            the builder was asked to drop expired certificates).
    """

    entries: tuple[TrustedEntry, ...]
    validated_at: dt.datetime
    dropped: tuple[TrustedEntry, ...] = ()

    def __len__(self) -> int:
        """Number of entries."""
        return len(self.entries)

    def __iter__(self) -> Iterator[TrustedEntry]:
        """Iterate over the entries in store order."""
        return iter(self.entries)

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The certificates, in store order."""
        return tuple(entry.certificate for entry in self.entries)

    @property
    def expired(self) -> tuple[TrustedEntry, ...]:
        """Entries not valid at ``validated_at`` (expired, or not yet valid)."""
        return tuple(e for e in self.entries if not e.is_valid_at(self.validated_at))

    def __repr__(self) -> str:
        """``<TrustStore 4 entries, 2 expired, validated 2026-11-23>``."""
        from truststore_builder._report import store_summary  # noqa: PLC0415

        return f"<TrustStore {store_summary(self, date_only=True)}>"

    def __str__(self) -> str:
        """A summary line, then a readable table of the entries, one line each."""
        from truststore_builder._report import store_text  # noqa: PLC0415

        return store_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the entries as an HTML table, expired and expiring ones marked."""
        from truststore_builder._report import store_html  # noqa: PLC0415

        return store_html(self)

    def serialize(
        self, store_format: StoreFormat | str, password: str | bytes | None = None
    ) -> bytes:
        """Serialise the store in one format and prove it reads back as meant.

        Args:
            store_format: ``pem``, ``p12``, ``jks``, ``jceks`` or ``p7b``.
            password: The store password. PKCS#12 without one is truly password-less (no
                integrity MAC at all); JKS and JCEKS require one.

        Returns:
            The file's bytes.

        Raises:
            MissingPasswordError: JKS or JCEKS without a password.
            ReadBackError: The serialised store does not read back as these entries.
        """
        from truststore_builder._writing import serialize_store  # noqa: PLC0415

        return serialize_store(self, StoreFormat(store_format), password)

    def to_pem(self) -> bytes:
        """The PEM bundle: a comment header above each certificate, byte-identical per input."""
        return self.serialize(StoreFormat.PEM)

    def to_pkcs12(self, password: str | bytes | None = None) -> bytes:
        """The PKCS#12 Java trust store: each certificate a trustedCertEntry for Java."""
        return self.serialize(StoreFormat.PKCS12, password)

    def to_jks(self, password: str | bytes) -> bytes:
        """The JKS trust store (every entry a trustedCertEntry)."""
        return self.serialize(StoreFormat.JKS, password)

    def to_pkcs7(self) -> bytes:
        """The certificates as a DER PKCS#7 (.p7b) bundle."""
        return self.serialize(StoreFormat.PKCS7)

    def to_capath(self) -> dict[str, bytes]:
        """The OpenSSL CApath directory's files, read back: ``<subject-hash>.N`` to PEM bytes."""
        from truststore_builder._writing import serialize_capath  # noqa: PLC0415

        return serialize_capath(self)

    def write(
        self,
        path: str | Path,
        store_format: StoreFormat | str | None = None,
        *,
        password: str | bytes | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Serialise, read back, then write the store to ``path`` atomically.

        Args:
            path: Destination file (for ``capath``, the directory to create or replace).
            store_format: The format; inferred from the suffix when None.
            password: The store password (see :meth:`serialize`).
            overwrite: Replace an existing file. Without it an existing file is an error.

        Returns:
            The path written.

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false.
        """
        from truststore_builder._writing import write_stores  # noqa: PLC0415

        fmt = StoreFormat(store_format) if store_format else StoreFormat.from_path(path)
        (written,) = write_stores(self, {Path(path): fmt}, password=password, overwrite=overwrite)
        return written


@attrs.frozen(repr=False)
class IdentityReport:
    """What checking a client certificate found: its chain, NHS issuer, and every failed rule.

    Attributes:
        certificate: The client certificate.
        chain: Leaf first, up to the trusted root when the chain verified (otherwise as far
            as issuer names lead).
        issuer_nhs: The first NHS CA in the chain, when the catalogue recognises one.
        validated_at: The time the rules were judged at.
        failures: Every rule broken, as the typed errors building would raise, in rule order.
    """

    certificate: x509.Certificate = attrs.field(repr=False)
    chain: tuple[x509.Certificate, ...] = attrs.field(repr=False)
    issuer_nhs: NhsCa | None
    validated_at: dt.datetime
    failures: tuple[Exception, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every rule passed."""
        return not self.failures

    @property
    def generation(self) -> Generation | None:
        """The NHS generation of the issuer, when the catalogue recognises it."""
        return self.issuer_nhs.generation if self.issuer_nhs else None

    @property
    def subject(self) -> str:
        """The client certificate's subject, RFC 4514."""
        return self.certificate.subject.rfc4514_string()

    def __repr__(self) -> str:
        """``<IdentityReport ok: subject, issued under NAME (g2), validated DATE>``."""
        from truststore_builder._report import report_summary  # noqa: PLC0415

        return f"<IdentityReport {report_summary(self)}>"

    def __str__(self) -> str:
        """The result, the chain with expiry, and every failed rule."""
        from truststore_builder._report import report_text  # noqa: PLC0415

        return report_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the result, the chain and the failures as HTML tables."""
        from truststore_builder._report import report_html  # noqa: PLC0415

        return report_html(self)


@attrs.frozen(repr=False)
class Identity:
    """A client's private key with its certificate and the issuers given with it.

    The key never appears in a repr, a str or a message.

    Attributes:
        alias: The key entry's alias in JKS and PKCS#12 (lower-case).
        key: The private key (RSA or EC).
        certificate: The client certificate.
        chain: Issuer certificates supplied with it (a chain file, an old store), if any.
        source: Where the certificate came from.
    """

    alias: str
    key: PrivateKey = attrs.field(eq=False)
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    source: str = "<identity>"

    def __repr__(self) -> str:
        """Alias, subject, key type and size, and expiry; never the key."""
        from truststore_builder._report import identity_summary  # noqa: PLC0415

        return f"<Identity {identity_summary(self, _now())}>"

    def __str__(self) -> str:
        """The certificate's fields and the key's type and size, one per line."""
        from truststore_builder._report import identity_text  # noqa: PLC0415

        return identity_text(self, _now())

    def _repr_html_(self) -> str:
        """Jupyter's view: the fields as an HTML table, expiry marked; never the key."""
        from truststore_builder._report import identity_html  # noqa: PLC0415

        return identity_html(self, _now())


@attrs.frozen(repr=False)
class KeyStore:
    """A checked client identity with its verified chain and the CAs it should trust.

    Build one with :class:`KeyStoreBuilder`; every identity rule has passed (or was allowed).

    Attributes:
        identity: The private key and certificate.
        chain: The verified chain, leaf first, up to and including the root.
        truststore: The trusted CA entries (the environment's G1+G2 issuers, plus any added).
        report: What the identity checks found.
    """

    identity: Identity
    chain: tuple[x509.Certificate, ...] = attrs.field(repr=False)
    truststore: TrustStore
    report: IdentityReport

    @property
    def alias(self) -> str:
        """The key entry's alias."""
        return self.identity.alias

    def __repr__(self) -> str:
        """Alias, subject, key type and size, expiry, chain length, trusted CAs; never the key."""
        from truststore_builder._report import keystore_summary  # noqa: PLC0415

        return f"<KeyStore {keystore_summary(self)}>"

    def __str__(self) -> str:
        """The identity, the verified chain, the trusted CAs and the checks, as text tables."""
        from truststore_builder._report import keystore_text  # noqa: PLC0415

        return keystore_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: identity, chain and trusted CAs as HTML tables, expiry marked."""
        from truststore_builder._report import keystore_html  # noqa: PLC0415

        return keystore_html(self)

    def chain_pem(self) -> bytes:
        """The client chain as PEM, leaf first, root left out (what TLS clients present)."""
        from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

        presented = [c for c in self.chain if c.issuer != c.subject or c is self.chain[0]]
        return b"".join(c.public_bytes(Encoding.PEM) for c in presented)

    def to_pkcs12(
        self,
        password: str | bytes,
        *,
        profile: str = "modern",
        include_trusted: bool = True,
    ) -> bytes:
        """The PKCS#12 key store: the key entry with its chain, and the trusted CA entries.

        Args:
            password: Store (and key) password; required.
            profile: ``modern`` (AES-256, PBKDF2, SHA-256 MAC), ``legacy`` (3DES, SHA-1 MAC),
                or a consumer's name such as ``java8``, ``windows2016`` or ``openssl3``.
            include_trusted: Add the trusted G1+G2 CAs as Java trustedCertEntry entries.
        """
        from truststore_builder._writing import serialize_keystore  # noqa: PLC0415

        return serialize_keystore(
            self, StoreFormat.PKCS12, password, profile=profile, include_trusted=include_trusted
        )

    def to_jks(
        self,
        password: str | bytes,
        *,
        key_password: str | bytes | None = None,
        include_trusted: bool = True,
    ) -> bytes:
        """The JKS key store the MESH Java client reads: key entry plus trusted CAs, one file.

        Args:
            password: The store password; required.
            key_password: The key entry's password (default: the store password, which is what
                the MESH client and most Java code assume).
            include_trusted: Add the trusted G1+G2 CAs as trustedCertEntry entries.
        """
        from truststore_builder._writing import serialize_keystore  # noqa: PLC0415

        return serialize_keystore(
            self,
            StoreFormat.JKS,
            password,
            key_password=key_password,
            include_trusted=include_trusted,
        )

    def key_pem(self, password: str | bytes | None = None) -> bytes:
        """The private key as PKCS#8 PEM, encrypted (AES-256) when a password is given."""
        from truststore_builder._formats.keys import serialize_private_key_pem  # noqa: PLC0415

        return serialize_private_key_pem(self.identity.key, as_password_bytes(password))

    def write(
        self,
        directory: str | Path,
        *,
        password: str | bytes | None = None,
        formats: tuple[str, ...] = ("p12", "jks", "pem"),
        key_password: str | bytes | None = None,
        profile: str = "modern",
        key_pem_password: str | bytes | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Write the client's files into ``directory``, all checked before any is written.

        ``p12`` writes ``keystore.p12``, ``jks`` writes ``keystore.jks`` (both with the trusted
        CAs), ``pem`` writes ``client-chain.pem`` (leaf first), ``client-key.pem`` and
        ``truststore.pem`` (the CA bundle). Files holding the private key are created 0600.
        ``password`` is required for ``p12`` and ``jks``.

        Returns:
            The paths written.
        """
        from truststore_builder._writing import serialize_keystore, write_files  # noqa: PLC0415

        folder = Path(directory)
        planned: list[tuple[Path, bytes, bool]] = []
        for name in formats:
            fmt = StoreFormat(name)
            if fmt is StoreFormat.PEM:
                planned += [
                    (folder / "client-chain.pem", self.chain_pem(), False),
                    (folder / "client-key.pem", self.key_pem(key_pem_password), True),
                    (folder / "truststore.pem", self.truststore.to_pem(), False),
                ]
            else:
                data = serialize_keystore(
                    self, fmt, password, key_password=key_password, profile=profile
                )
                planned.append((folder / f"keystore.{fmt.value}", data, True))
        return write_files(planned, overwrite=overwrite)
