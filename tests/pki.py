"""Test PKIs generated at test time that imitate the NHS G1 and G2 hierarchies.

Nothing here is committed key material: every key is generated when the test session starts.
The G1-like hierarchy copies what makes real G1 awkward (basicConstraints not critical on the
CAs); the G2-like one is shaped like NHS Root Authority G2 -> NHS Authentication G2. Endpoint
certificates look like real NHS ones: ``O=nhs, OU=Devices, CN=<FQDN>``, serverAuth + clientAuth.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from truststore_builder import Environment, Generation, NhsCa, NhsCatalogue, sha256_fingerprint

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(common_name: str, *, ou: str = "CA", org: str = "nhs") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@attrs.frozen
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: PrivateKey = attrs.field(repr=False)

    def cert_pem(self) -> bytes:
        """The certificate as PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make_certificate(
    subject: x509.Name,
    key: PrivateKey,
    *,
    issuer: Issued | None = None,
    ca: bool,
    critical_constraints: bool = True,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    dns_name: str | None = None,
    ip_address: str | None = None,
    serial: int | None = None,
    eku: tuple[x509.ObjectIdentifier, ...] = (
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ),
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | None = None,
) -> Issued:
    """Issue a certificate for ``key`` (self-signed when ``issuer`` is None).

    Also what bench/_fixtures.py and docs/_ext/doc_fixtures.py make their certificates with.
    ``serial`` is random unless given; ``dns_name`` and ``ip_address`` go in the
    subjectAltName of an end-entity certificate. ``public_key`` certifies that key instead of
    ``key``'s (a CSR's, whose private key only keytool holds; see :func:`sign_request`).
    """
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.certificate.subject if issuer else subject
    certified = public_key or key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(certified)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or _NOW - dt.timedelta(days=30))
        .not_valid_after(not_after or _NOW + dt.timedelta(days=365))
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=None), critical=critical_constraints
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(certified), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        alternative_names: list[x509.GeneralName] = []
        if dns_name:
            alternative_names.append(x509.DNSName(dns_name))
        if ip_address:
            alternative_names.append(x509.IPAddress(ipaddress.ip_address(ip_address)))
        if alternative_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternative_names), critical=False
            )
    certificate = builder.sign(signer_key, hashes.SHA256())
    return Issued(certificate, key)


def sign_request(
    request: x509.CertificateSigningRequest,
    issuer: Issued,
    *,
    not_after: dt.datetime | None = None,
) -> x509.Certificate:
    """What a CA does with a client's request: certify the key it holds (clientAuth too).

    The request's signature is checked first, as a CA would.
    """
    assert request.is_signature_valid, "the request's signature does not verify"
    public_key = request.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    # The issuer's key stands in for the subject's private key, which only keytool holds: it
    # is used for nothing but its public half, which public_key replaces.
    return make_certificate(
        request.subject,
        issuer.key,
        issuer=issuer,
        ca=False,
        not_after=not_after,
        public_key=public_key,
    ).certificate


@attrs.frozen
class Hierarchy:
    """A root, the intermediate it issues, and a client certificate the intermediate issues."""

    root: Issued
    intermediate: Issued
    client: Issued

    @property
    def client_chain(self) -> list[x509.Certificate]:
        """The client certificate then its intermediate (what a client presents)."""
        return [self.client.certificate, self.intermediate.certificate]

    def write_client(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write the client's chain (leaf first) and key as PEM files; return both paths."""
        chain = directory / f"{stem}-chain.pem"
        key = directory / f"{stem}-key.pem"
        chain.write_bytes(
            b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.client_chain)
        )
        key.write_bytes(self.client.key_pem())
        key.chmod(0o600)
        return chain, key


def make_hierarchy(label: str, *, g1_style: bool, root_bits: int = 2048) -> Hierarchy:
    """A G1-like or G2-like hierarchy named after ``label``."""
    root = make_certificate(
        _name(f"{label} Root Authority", org="NHS"),
        rsa_key(root_bits),
        ca=True,
        critical_constraints=not g1_style,
        not_after=_NOW + dt.timedelta(days=3650),
    )
    intermediate = make_certificate(
        _name(f"{label} {'Level 1C' if g1_style else 'Authentication G2'}"),
        rsa_key(),
        issuer=root,
        ca=True,
        critical_constraints=not g1_style,
        not_after=_NOW + dt.timedelta(days=1825),
    )
    client = make_certificate(
        _name(f"client.{label.lower().replace(' ', '-')}.test", ou="Devices"),
        rsa_key(),
        issuer=intermediate,
        ca=False,
    )
    return Hierarchy(root, intermediate, client)


@attrs.frozen
class GeneratedPki:
    """Everything the tests need: G1-like, G2-like and foreign hierarchies, and a server."""

    g1: Hierarchy
    g2: Hierarchy
    foreign: Hierarchy
    server: Issued


def make_test_pki() -> GeneratedPki:
    """Generate the session's test PKI (a few seconds: one RSA-4096 root, the rest 2048)."""
    g1 = make_hierarchy("Test G1", g1_style=True)
    g2 = make_hierarchy("Test G2", g1_style=False, root_bits=4096)
    foreign = make_hierarchy("Foreign", g1_style=False)
    server = make_certificate(
        _name("localhost", ou="Devices"),
        rsa_key(),
        issuer=g2.intermediate,
        ca=False,
        dns_name="localhost",
    )
    return GeneratedPki(g1=g1, g2=g2, foreign=foreign, server=server)


def expiring_server(pki: GeneratedPki, *, days: float) -> Issued:
    """The localhost server certificate again (G2-like issuer, new key), with ``days`` left."""
    return make_certificate(
        _name("localhost", ou="Devices"),
        rsa_key(),
        issuer=pki.g2.intermediate,
        ca=False,
        dns_name="localhost",
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
    )


def catalogue_for(pki: GeneratedPki) -> NhsCatalogue:
    """A catalogue that knows the generated CAs as NHS ones: G1/G2-like as prod, foreign as INT.

    It lets the NHS-specific rules (generation, environment) run on hierarchies whose keys the
    tests hold, which no real NHS certificate allows.
    """

    def record(slug: str, issued: Issued, generation: str, role: str, env: str) -> NhsCa:
        return NhsCa(
            slug=slug,
            name=slug.replace("-", " ").title(),
            environments=(Environment(env),),
            generation=Generation(generation),
            role=role,
            purpose="authentication",
            sha256=sha256_fingerprint(issued.certificate),
            file=f"{slug}.pem",
        )

    entries = [
        ("test-root-authority", pki.g1.root, "g1", "root", "prod"),
        ("test-level-1c", pki.g1.intermediate, "g1", "intermediate", "prod"),
        ("test-root-authority-g2", pki.g2.root, "g2", "root", "prod"),
        ("test-authentication-g2", pki.g2.intermediate, "g2", "intermediate", "prod"),
        ("test-ptl-root-authority-g2", pki.foreign.root, "g2", "root", "int"),
        ("test-int-authentication-g2", pki.foreign.intermediate, "g2", "intermediate", "int"),
    ]
    return NhsCatalogue(
        cas=tuple(record(*entry) for entry in entries),
        certificates={slug: issued.certificate for slug, issued, *_ in entries},
        directory=Path("<generated>"),
    )
