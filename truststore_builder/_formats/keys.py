"""Private keys: PEM (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8) and DER, read and written.

Nothing here ever puts key material or a password into an exception message.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from truststore_builder._errors import (
    InputError,
    MalformedInputError,
    MissingPasswordError,
    WrongPasswordError,
)
from truststore_builder._model import PrivateKey

__all__ = ["PrivateKey", "load_private_key", "serialize_private_key_pem"]

_PEM_KEY = re.compile(rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----")
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN (?:X509 )?CERTIFICATE-----")


def _checked_type(key: object, source: str) -> PrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        msg = f"{source}: a {type(key).__name__.removeprefix('_')} key; only RSA and EC keys are supported"
        raise InputError(msg, source=source)
    return key


def load_private_key(data: bytes, password: bytes | None, source: str) -> PrivateKey:
    """Read an RSA or EC private key from PEM or DER.

    Args:
        data: The key file's content.
        password: The password of an encrypted key, or None.
        source: How messages name the input (a path, or ``<bytes>``).

    Returns:
        The key.

    Raises:
        MissingPasswordError: The key is encrypted and no password was given.
        WrongPasswordError: The password does not decrypt the key.
        InputError: A certificate (or something else) where a private key was expected.
        MalformedInputError: The content is not a readable key.
    """
    pem = _PEM_KEY.search(data)
    if pem is None and _PEM_CERTIFICATE.search(data):
        msg = f"{source}: holds a certificate, not a private key"
        raise InputError(msg, source=source)
    encrypted = pem is not None and (
        pem.group(1) == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in data
    )
    if encrypted and not password:
        msg = f"{source}: the private key is encrypted and needs its password; none was given"
        raise MissingPasswordError(msg, source=source)
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        key = loader(data, password=password or None)
    except TypeError:
        # cryptography's way of saying a password was given for an unencrypted key, or the
        # reverse (an encrypted DER key given none).
        if password:
            msg = f"{source}: the private key is not encrypted, but a password was given"
            raise InputError(msg, source=source) from None
        msg = f"{source}: the private key is encrypted and needs its password; none was given"
        raise MissingPasswordError(msg, source=source) from None
    except ValueError as exc:
        if encrypted or (password and "password" in str(exc).lower()):
            msg = f"{source}: the password does not decrypt the private key"
            raise WrongPasswordError(msg, source=source) from None
        kind = "PEM" if pem else "DER"
        msg = f"{source}: not a readable {kind} private key (PKCS#1, SEC1 or PKCS#8)"
        raise MalformedInputError(msg, source=source) from None
    except Exception:  # noqa: BLE001 - a Rust-side panic or unsupported algorithm, never leaked raw
        msg = f"{source}: the private key cannot be read (unsupported encoding or algorithm)"
        raise MalformedInputError(msg, source=source) from None
    return _checked_type(key, source)


def serialize_private_key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with the best available scheme (AES-256) when a password is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
