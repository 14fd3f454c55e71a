"""Test material the benchmarks generate at run time: a CA, client identities, many CAs.

Nothing here is committed: keys and certificates are made fresh (or cached under
``bench/.cache``, which git ignores) and every private key is a throwaway.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The certificates come from the tests' builder (tests/pki.py); the repository root, appended
# so that an installed truststore_builder still wins, makes it importable.
sys.path.append(str(Path(__file__).resolve().parent.parent))
from tests.pki import Issued, make_certificate

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_CA_NOT_AFTER = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=3650)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "Bench Test CA") -> tuple[Key, x509.Certificate]:
    """A self-signed EC P-256 CA (basicConstraints CA:TRUE, keyCertSign)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, self_signed_ca(key, common_name, serial=x509.random_serial_number())


def self_signed_ca(key: Key, common_name: str, *, serial: int) -> x509.Certificate:
    """A self-signed CA certificate over ``key`` (reused across many certificates for speed)."""
    return make_certificate(
        _name(common_name), key, ca=True, serial=serial, not_after=_CA_NOT_AFTER
    ).certificate


def make_client(
    ca_key: Key, ca: x509.Certificate, common_name: str, *, rsa_key: bool = False
) -> tuple[Key, x509.Certificate]:
    """A client certificate (clientAuth) issued by ``ca``; RSA-2048 or EC P-256 key."""
    key: Key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if rsa_key
        else ec.generate_private_key(ec.SECP256R1())
    )
    issuer = Issued(ca, ca_key)
    issued = make_certificate(
        _name(common_name), key, issuer=issuer, ca=False, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)
    )
    return key, issued.certificate


def pem(certificate: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: Key) -> bytes:
    """The key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_identity(folder: Path, stem: str, key: Key, certificate: x509.Certificate) -> None:
    """Write ``stem.pem`` (certificate) and ``stem.key`` (PKCS#8) into ``folder``."""
    (folder / f"{stem}.pem").write_bytes(pem(certificate))
    key_path = folder / f"{stem}.key"
    key_path.write_bytes(key_pem(key))
    key_path.chmod(0o600)


def many_cas(count: int, start: int = 0) -> list[bytes]:
    """``count`` self-signed CA certificates as PEM, all over ONE EC key (fast to make).

    Every certificate has the same subject, ``CN=Bench Scale CA``, so alias assignment meets
    a clash at every entry: its worst case.
    """
    key = ec.derive_private_key(0xB3C4, ec.SECP256R1())
    return [pem(self_signed_ca(key, "Bench Scale CA", serial=start + i + 1)) for i in range(count)]
