"""Getting a certificate in the first place: a key and a CN-only certificate signing request.

NHS England asks for the endpoint's FQDN as the CN and every other subject field (email
included) blank, so the request's subject is the CN alone, with no extensions.

>>> mesh_client_common_name("X26OT001", "X26")
'x26ot001.x26.api.mesh-client.nhs.uk'
>>> bars_common_name("A1B2C", "NorthCare", environment="int")
'BaRS-INT-A1B2C.NorthCare.thirdparty.nhs.uk'
"""

from __future__ import annotations

import re

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from truststore_builder._formats.keys import PrivateKey, serialize_private_key_pem

__all__ = [
    "SigningRequest",
    "bars_common_name",
    "check_common_name",
    "generate_signing_request",
    "mesh_client_common_name",
]

_MAX_COMMON_NAME = 64  # X.520 ub-common-name
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_MAILBOX = re.compile(r"[A-Za-z0-9]{3,20}")
_ODS = re.compile(r"[A-Za-z0-9]{3,10}")
_MIN_RSA_BITS = 2048


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


def bars_common_name(ods_code: str, organisation: str, *, environment: str = "prod") -> str:
    """The CN of a BaRS receiver's certificate.

    Prod: ``BaRS-<ODSCode>.<OrganisationName>.nhs.uk``; INT:
    ``BaRS-INT-<ODSCode>.<Supplier>.thirdparty.nhs.uk``.

    Raises:
        ValueError: An unknown environment, or parts that do not make a valid DNS name.
    """
    if not _ODS.fullmatch(ods_code):
        msg = f"ODS code {ods_code!r} must be 3 to 10 letters and digits"
        raise ValueError(msg)
    if not _LABEL.fullmatch(organisation):
        msg = (
            f"organisation {organisation!r} must be one DNS label: letters, digits and inner "
            "hyphens, no spaces or dots"
        )
        raise ValueError(msg)
    if environment == "prod":
        return check_common_name(f"BaRS-{ods_code}.{organisation}.nhs.uk")
    if environment == "int":
        return check_common_name(f"BaRS-INT-{ods_code}.{organisation}.thirdparty.nhs.uk")
    msg = f"BaRS certificate names are defined for prod and int, not {environment!r}"
    raise ValueError(msg)


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
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return SigningRequest(key=key, csr=csr)
