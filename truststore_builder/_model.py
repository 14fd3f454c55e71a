"""The values truststore_builder passes around: catalogue records, entries, identities.

Certificates are cryptography's ``x509.Certificate``; these classes add what a store needs
around them (an alias, where the certificate came from, what the NHS catalogue knows of it).
The facts about certificates every layer shares live here too, each in one place: the
SHA-256 fingerprint, who issued whom (:func:`is_issued_by`, :func:`issuer_path`) and what a
trust anchor is (:func:`trust_anchors`). The built stores, which serialise and write
themselves, are one layer up, in ``_stores``; the values render themselves through
``_report``, one layer down.
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from truststore_builder._errors import InvalidPasswordError
from truststore_builder._fingerprints import sha256_fingerprint
from truststore_builder._report import (
    entry_html,
    entry_summary,
    entry_text,
    identity_html,
    identity_summary,
    identity_text,
    report_html,
    report_summary,
    report_text,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes


__all__ = [
    "DeploymentFormat",
    "Environment",
    "Generation",
    "Identity",
    "IdentityReport",
    "NhsCa",
    "PrivateKey",
    "RetiredCa",
    "StoreEntry",
    "StoreFormat",
    "TrustedEntry",
    "as_password_bytes",
    "is_issued_by",
    "is_self_signed",
    "issuer_path",
    "sha256_fingerprint",
    "spki_der",
    "trust_anchors",
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


#: The one place that decides which client files a directory gets for each format, by
#: ``KeyStore.write``, ``build --cert --key`` and the recipe the command line makes: file name
#: and what it holds, as a recipe target's format names it. PKCS#7 and capath have none.
CLIENT_FILES: dict[StoreFormat, tuple[tuple[str, str], ...]] = {
    StoreFormat.PEM: (
        ("client-chain.pem", "client-chain-pem"),
        ("client-key.pem", "client-key-pem"),
    ),
    StoreFormat.PKCS12: (("keystore.p12", "keystore-p12"),),
    StoreFormat.JKS: (("keystore.jks", "keystore-jks"),),
    StoreFormat.JCEKS: (("keystore.jceks", "keystore-jceks"),),
}


@attrs.frozen
class ClientPreset:
    """The files one client reads, as it expects them (``build --preset``, a recipe's presets).

    Attributes:
        name: The preset's name (``mesh-java``).
        client: Who reads the files, and how it is told where they are.
        files: ``(path, holds, include_trusted)`` per file: its path under the preset's
            directory, what it holds as a recipe target's format names it, and whether a key
            store also holds the trusted CAs.
        alphanumeric_password: The client's configuration keeps the password where only
            letters and digits are safe: others are warned about
            (:class:`~truststore_builder.NonAlphanumericPasswordWarning`).
        takes_password: Whether its files are written with the store password (key stores:
            required; the key entry's password is the store password, never its own).
    """

    name: str
    client: str
    files: tuple[tuple[str, str, bool], ...]
    alphanumeric_password: bool = False
    takes_password: bool = True


#: Each client's files. The key entry's alias is the identity's (from the CN, or as given):
#: the MESH client's meshclient.cfg names only KeyStorePath and KeyStorePassword, and TKW
#: hands its stores to JSSE (javax.net.ssl.keyStore), whose key manager picks a key entry by
#: key type and issuer, not by alias.
CLIENT_PRESETS: dict[str, ClientPreset] = {
    preset.name: preset
    for preset in (
        ClientPreset(
            name="mesh-java",
            client=(
                "NHS England's Java MESH client: meshclient.cfg <KeyStorePath> "
                "(MESH-APP-HOME/KEYSTORE/mesh.keystore) and <KeyStorePassword>"
            ),
            files=(("KEYSTORE/mesh.keystore", "keystore-jks", True),),
            alphanumeric_password=True,
        ),
        ClientPreset(
            name="mesh-java-p12",
            client="the Java MESH client on Java 9 or later, the same file as PKCS#12",
            files=(("KEYSTORE/mesh.keystore", "keystore-p12", True),),
            alphanumeric_password=True,
        ),
        ClientPreset(
            name="tkw",
            client=(
                "the ITK Toolkit Workbench (TKW): tks.tls.keystore and tks.tls.keystorepassword, "
                "tks.tls.truststore and tks.tls.trustpassword in its properties file"
            ),
            files=(
                ("tkw-keystore.jks", "keystore-jks", False),
                ("tkw-truststore.jks", "jks", True),
            ),
        ),
        ClientPreset(
            name="mesh-python",
            client=(
                "NHS England's mesh-client (Python): MeshClient(url, mailbox, password, "
                "cert=(client-cert.pem, client-key.pem), verify=ca-bundle.pem)"
            ),
            files=(
                ("client-cert.pem", "client-chain-pem", False),
                ("client-key.pem", "client-key-pem", False),
                ("ca-bundle.pem", "pem", True),
            ),
            takes_password=False,
        ),
    )
}


class DeploymentFormat(enum.StrEnum):
    """A deployment output: a built store as the files a platform takes (see ``_deployment``)."""

    #: A ``kubernetes.io/tls`` Secret: the client's chain, key and the trusted CAs.
    K8S_TLS_SECRET = "k8s-tls-secret"  # noqa: S105 - a format's name, not a password
    #: A ConfigMap in cert-manager trust-manager's layout (and its stores' password Secret).
    K8S_TRUST_BUNDLE = "k8s-trust-bundle"
    #: The client's certificate, key and CAs as environment values (the MHS adaptor's).
    ENV = "env"
    #: One chain file per root, intermediates first (Azure Application Gateway).
    CHAINS = "chains"
    #: Each CA in a file of its own, roots apart from intermediates (Windows' stores).
    WINDOWS_CA = "windows-ca"
    #: The client key with its full chain as one PFX (IIS, Kestrel; legacy profile).
    PFX = "pfx"

    @property
    def needs_identity(self) -> bool:
        """Whether it holds the client identity (and so needs a certificate and key)."""
        return self in {DeploymentFormat.K8S_TLS_SECRET, DeploymentFormat.ENV, DeploymentFormat.PFX}


#: The one place that names the files each deployment format writes into its directory, by
#: the ``_deployment`` functions that write them and ``build --help`` that lists them: a name
#: pattern (``{...}`` filled in from the target's options, or the store: ``{root}`` a root's
#: alias, ``{alias}`` a CA's) and whether the file is private (0600). A ``k8s-trust-bundle``
#: writes its password Secret only when it holds a JKS or PKCS#12 store; ``windows-ca`` writes
#: ``.crt`` instead of ``.cer`` in its PEM encoding.
DEPLOYMENT_FILES: dict[DeploymentFormat, tuple[tuple[str, bool], ...]] = {
    DeploymentFormat.K8S_TLS_SECRET: (("{name}.secret.yaml", True),),
    DeploymentFormat.K8S_TRUST_BUNDLE: (
        ("{name}.configmap.yaml", False),
        ("{name}-password.secret.yaml", True),
    ),
    DeploymentFormat.ENV: (("{stem}.env", True), ("{stem}-env.sh", True)),
    DeploymentFormat.CHAINS: (("{prefix}{root}.pem", False),),
    DeploymentFormat.WINDOWS_CA: (("Root/{alias}.cer", False), ("CA/{alias}.cer", False)),
    DeploymentFormat.PFX: (("client.pfx", True),),
}

#: The key types NHS client certificates use.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Whether the certificate names itself as issuer and its signature verifies with its key."""
    return is_issued_by(certificate, certificate)


def trust_anchors(
    trusted: Sequence[x509.Certificate],
) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Split trusted certificates into the trust anchors and the rest.

    This is the package's one definition of an anchor, used wherever a chain is verified (a
    client identity, ``verify_certificate``, an endpoint's chain): a trusted certificate that
    is self-signed, by signature and not by name alone (:func:`is_self_signed`). When no
    trusted certificate is self-signed (a store that trusts an intermediate CA directly),
    every trusted certificate is an anchor.

    Returns:
        The anchors, and the other trusted certificates (candidate intermediates), each in
        the order given.
    """
    anchors: list[x509.Certificate] = []
    others: list[x509.Certificate] = []
    for certificate in trusted:
        (anchors if is_self_signed(certificate) else others).append(certificate)
    return (anchors, others) if anchors else (others, [])


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
class RetiredCa:
    """A CA that stores in service may still hold but need no longer: the catalogue never ships it.

    Attributes:
        slug: Short stable name (``nhs-ig-rootca``).
        name: Display name (``RootCA (OU=CA, O=nhs)``).
        sha256: Pinned SHA-256 fingerprint (lower-case hex).
        expired: The date its certificate expired (or the service that used it ended).
        why: Why it can go, one phrase (``the INT CA before NHS PTL Root Authority``).
    """

    slug: str
    name: str
    sha256: str
    expired: dt.date
    why: str


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
        return f"<TrustedEntry {entry_summary(self, _now())}>"

    def __str__(self) -> str:
        """Every field, one per line, with the expiry status now."""
        return entry_text(self, _now())

    def _repr_html_(self) -> str:
        """Jupyter's view: the fields as an HTML table, expiry marked."""
        return entry_html(self, _now())


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
        return f"<IdentityReport {report_summary(self)}>"

    def __str__(self) -> str:
        """The result, the chain with expiry, and every failed rule."""
        return report_text(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the result, the chain and the failures as HTML tables."""
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
        return f"<Identity {identity_summary(self, _now())}>"

    def __str__(self) -> str:
        """The certificate's fields and the key's type and size, one per line."""
        return identity_text(self, _now())

    def _repr_html_(self) -> str:
        """Jupyter's view: the fields as an HTML table, expiry marked; never the key."""
        return identity_html(self, _now())
