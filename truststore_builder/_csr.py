"""Getting a certificate, or renewing one: a CN-only certificate signing request.

NHS England asks for the endpoint's FQDN as the CN and every other subject field (email
included) blank, so the request's subject is the CN alone, with no extensions. The key is a
new one, or the one already in service (a key file, or a key store's key entry: keytool
-certreq's job), whose CN then comes from the current certificate by default.

>>> mesh_client_common_name("X26OT001", "X26")
'x26ot001.x26.api.mesh-client.nhs.uk'
>>> bars_common_name("RK5", "Nervecentre")
'BaRS-PROD-RK5.Nervecentre.thirdparty.nhs.uk'
>>> bars_common_name("RK5", "NorthCare", naming="provider")
'BaRS-PROD-RK5.NorthCare.nhs.uk'
>>> bars_common_name("A1B2C", "NorthCare", environment="int")
'BaRS-INT-A1B2C.NorthCare.thirdparty.nhs.uk'
>>> bars_common_name("RK5", "NorthCare", naming="older")
'BaRS-RK5.NorthCare.nhs.uk'
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from truststore_builder._errors import InputError
from truststore_builder._formats.keys import PrivateKey, serialize_private_key_pem
from truststore_builder._sources import files

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "BARS_NAMINGS",
    "SigningRequest",
    "bars_common_name",
    "check_common_name",
    "common_name_of",
    "generate_signing_request",
    "mesh_client_common_name",
    "signing_request_for_key",
    "signing_request_from_key_file",
    "signing_request_from_store",
]

_MAX_COMMON_NAME = 64  # X.520 ub-common-name
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAILBOX = re.compile(r"[A-Za-z0-9]{3,20}")
_ODS = re.compile(r"[A-Za-z0-9]{3,10}")
_MIN_RSA_BITS = 2048
_MIN_EC_BITS = 256

#: The BaRS receiver certificate names, by (environment, naming): the CN pattern, and which
#: form it is. NHS England's current receiver guide gives the PROD and INT forms; the BaRS
#: guide of the first onboarding ("seed") gives the older prod form.
BARS_NAMINGS: dict[tuple[str, str], tuple[str, str]] = {
    ("prod", "supplier"): (
        "BaRS-PROD-{ods}.{name}.thirdparty.nhs.uk",
        "prod, supplier-hosted: the naming in force",
    ),
    ("prod", "provider"): (
        "BaRS-PROD-{ods}.{name}.nhs.uk",
        "prod, provider-hosted: the naming in force",
    ),
    ("prod", "older"): (
        "BaRS-{ods}.{name}.nhs.uk",
        "prod, the seed guide's older form",
    ),
    ("int", "supplier"): (
        "BaRS-INT-{ods}.{name}.thirdparty.nhs.uk",
        "INT, supplier-hosted: the naming in force",
    ),
}


def check_common_name(common_name: str) -> str:
    """Return ``common_name`` if it is a usable certificate CN (an FQDN of at most 64 characters).

    Raises:
        ValueError: It is not a fully-qualified DNS name, or it is too long for a CN.
    """
    if len(common_name) > _MAX_COMMON_NAME:
        msg = f"CN {common_name!r} is {len(common_name)} characters; a CN holds at most {_MAX_COMMON_NAME}"
        raise ValueError(msg)
    labels = common_name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):  # noqa: PLR2004
        msg = (
            f"CN {common_name!r} is not a fully-qualified DNS name (letters, digits and "
            "hyphens in dot-separated labels); NHS certificates carry the endpoint's FQDN as CN"
        )
        raise ValueError(msg)
    return common_name


def mesh_client_common_name(mailbox: str, ods_code: str) -> str:
    """The CN of a MESH API client certificate: ``<mailboxid>.<odscode>.api.mesh-client.nhs.uk``.

    Raises:
        ValueError: The mailbox ID or ODS code is not alphanumeric of a plausible length.
    """
    if not _MAILBOX.fullmatch(mailbox):
        msg = f"MESH mailbox ID {mailbox!r} must be 3 to 20 letters and digits (e.g. X26OT001)"
        raise ValueError(msg)
    if not _ODS.fullmatch(ods_code):
        msg = f"ODS code {ods_code!r} must be 3 to 10 letters and digits (e.g. X26)"
        raise ValueError(msg)
    return check_common_name(f"{mailbox}.{ods_code}.api.mesh-client.nhs.uk".lower())


def bars_common_name(
    ods_code: str, name: str, *, environment: str = "prod", naming: str = "supplier"
) -> str:
    """The CN of a BaRS receiver's certificate (see :data:`BARS_NAMINGS`).

    The naming in force: ``BaRS-PROD-<ODS>.<Supplier>.thirdparty.nhs.uk`` for a receiver a
    supplier hosts (``naming="supplier"``, the default), ``BaRS-PROD-<ODS>.<Provider>.nhs.uk``
    for one the provider hosts (``naming="provider"``), and in INT
    ``BaRS-INT-<ODS>.<Supplier>.thirdparty.nhs.uk``. The BaRS seed guide's older prod form
    ``BaRS-<ODS>.<Organisation>.nhs.uk`` is ``naming="older"``.

    Args:
        ods_code: The receiving organisation's ODS code.
        name: The supplier's, provider's or organisation's name, as one DNS label.
        environment: ``prod`` or ``int``.
        naming: ``supplier``, ``provider`` or ``older``.

    Raises:
        ValueError: A naming not defined for that environment, or parts that do not make a
            valid DNS name.
    """
    if not _ODS.fullmatch(ods_code):
        msg = f"ODS code {ods_code!r} must be 3 to 10 letters and digits"
        raise ValueError(msg)
    if not _LABEL.fullmatch(name):
        msg = (
            f"BaRS name {name!r} must be one DNS label: letters, digits and inner hyphens, no "
            "spaces or dots"
        )
        raise ValueError(msg)
    found = BARS_NAMINGS.get((environment, naming))
    if found is None:
        defined = ", ".join(f"{env} {form}" for env, form in BARS_NAMINGS)
        msg = f"BaRS certificate names are defined for {defined}; not {environment} {naming}"
        raise ValueError(msg)
    return check_common_name(found[0].format(ods=ods_code, name=name))


def common_name_of(certificate: x509.Certificate) -> str:
    """The CN of ``certificate``, checked as an FQDN: the name a renewal asks for again.

    Raises:
        ValueError: The certificate has no CN, more than one, or one that is not an FQDN.
    """
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        msg = (
            f"the certificate's subject ({certificate.subject.rfc4514_string()}) has "
            f"{len(names)} CNs, not one: give the CN to ask for"
        )
        raise ValueError(msg)
    return check_common_name(str(names[0].value))


@attrs.frozen(repr=False)
class SigningRequest:
    """A generated private key and the CSR for it. The key never appears in a repr.

    Attributes:
        key: The new private key.
        csr: The certificate signing request.
    """

    key: PrivateKey
    csr: x509.CertificateSigningRequest

    @property
    def common_name(self) -> str:
        """The requested CN."""
        return str(self.csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def csr_pem(self) -> bytes:
        """The CSR as PEM, as NHS England's certificate request form takes it."""
        return self.csr.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, password: bytes | None = None) -> bytes:
        """The key as PKCS#8 PEM, encrypted (AES-256) when a password is given."""
        return serialize_private_key_pem(self.key, password)

    def __repr__(self) -> str:
        """The CN only."""
        return f"SigningRequest(common_name={self.common_name!r})"


def _check_key_strength(key: PrivateKey) -> None:
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < _MIN_RSA_BITS:
        msg = f"RSA keys below {_MIN_RSA_BITS} bits are refused by NHS endpoints (this key has {key.key_size})"
        raise ValueError(msg)
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < _MIN_EC_BITS:
        msg = f"EC keys below {_MIN_EC_BITS} bits are refused (this key has {key.curve.key_size})"
        raise ValueError(msg)


def signing_request_for_key(common_name: str, key: PrivateKey) -> SigningRequest:
    """A CSR whose subject is ``CN=<common_name>`` alone, for a key already in service.

    Args:
        common_name: The endpoint's FQDN.
        key: The RSA (2048 bits or more) or EC (256 bits or more) key to certify again.

    Raises:
        TypeError: ``key`` is not an RSA or EC private key.
        ValueError: A CN that is not an FQDN, or a weak key.
    """
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        msg = f"expected an RSA or EC private key, got {type(key).__name__}"
        raise TypeError(msg)
    check_common_name(common_name)
    _check_key_strength(key)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return SigningRequest(key=key, csr=csr)


def generate_signing_request(common_name: str, *, key_size: int = 2048) -> SigningRequest:
    """Generate an RSA key and a CSR whose subject is ``CN=<common_name>`` alone.

    Args:
        common_name: The endpoint's FQDN (see :func:`mesh_client_common_name`,
            :func:`bars_common_name`).
        key_size: RSA key size in bits, 2048 (the default, what NHS issues) or more.

    Raises:
        ValueError: A CN that is not an FQDN, or a key size below 2048 bits.
    """
    check_common_name(common_name)
    if key_size < _MIN_RSA_BITS:
        msg = f"RSA keys below {_MIN_RSA_BITS} bits are refused by NHS endpoints (asked for {key_size})"
        raise ValueError(msg)
    return signing_request_for_key(
        common_name, rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    )


def signing_request_from_key_file(
    path: str | os.PathLike[str], common_name: str, *, password: str | bytes | None = None
) -> SigningRequest:
    """A CN-only CSR for the key in a PEM or DER file (PKCS#8, PKCS#1 or SEC1; encrypted or not).

    Raises:
        InputError: The file cannot be read, its password is missing or wrong, or it holds no
            private key (each names the file).
        ValueError: A CN that is not an FQDN, or a weak key.
    """
    return signing_request_for_key(common_name, files.read_private_key(path, password=password))


def signing_request_from_store(
    path: str | os.PathLike[str],
    *,
    password: str | bytes,
    alias: str | None = None,
    key_password: str | bytes | None = None,
    common_name: str | None = None,
) -> SigningRequest:
    """A CN-only CSR for a key store's key entry, reusing its key (keytool -certreq's job).

    Args:
        path: A PKCS#12, JKS or JCEKS key store.
        password: The store's password.
        alias: The key entry (matched regardless of case, as JKS does); may be left out when
            the store holds exactly one.
        key_password: The key's own password, where it differs from the store's (JKS, JCEKS).
        common_name: The CN to ask for; by default the current certificate's CN.

    Raises:
        InputError: The store cannot be read with the passwords, holds no key entry, or has no
            entry ``alias`` (the message names the file and the aliases it has).
        ValueError: A CN that is not an FQDN (or a current certificate without one), or a
            weak key.
    """
    source = os.fspath(path)
    identities = files.read_identities(
        path, password=password, key_password=key_password, alias=alias
    )
    _alias, key, chain = _pick_identity(identities, alias, source)
    return signing_request_for_key(common_name or common_name_of(chain[0]), key)


def _pick_identity(
    identities: Sequence[tuple[str, PrivateKey, list[x509.Certificate]]],
    alias: str | None,
    source: str,
) -> tuple[str, PrivateKey, list[x509.Certificate]]:
    """The key entry called ``alias`` (any case), or the only one when no alias is given."""
    aliases = ", ".join(repr(found) for found, _key, _chain in identities)
    if not identities:
        msg = f"{source}: the store holds no private key entry to renew"
        raise InputError(msg, source=source)
    if alias is None:
        if len(identities) == 1:
            return identities[0]
        msg = f"{source}: the store holds {len(identities)} key entries ({aliases}); name one with an alias"
        raise InputError(msg, source=source)
    for identity in identities:
        if identity[0].casefold() == alias.casefold():
            return identity
    msg = f"{source}: no key entry with the alias {alias!r}; the store has {aliases}"
    raise InputError(msg, source=source)
