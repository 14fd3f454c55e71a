"""convert(): any readable certificate input to PEM, DER or PKCS#7, checked by openssl."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.commands import openssl
from tests.conftest import BUNDLES
from truststore_builder._convert import convert
from truststore_builder._errors import InputError, MalformedInputError
from truststore_builder._model import sha256_fingerprint

if TYPE_CHECKING:
    from pathlib import Path

NHS_FILES = sorted(BUNDLES.glob("*.pem"))
NHS_CERTIFICATES = [x509.load_pem_x509_certificate(p.read_bytes()) for p in NHS_FILES]
ROOT_G2_PEM = BUNDLES / "nhs-root-authority-g2.pem"


def openssl_fingerprint(data: bytes, inform: str) -> str:
    """One certificate's SHA-256 fingerprint as openssl computes it, lower-case hex."""
    out = openssl("x509", "-inform", inform, "-noout", "-fingerprint", "-sha256", data=data)
    return out.decode().strip().split("=", 1)[1].replace(":", "").lower()


def test_pem_to_der_checked_by_openssl() -> None:
    """A one-certificate PEM file converts to DER that openssl fingerprints identically."""
    der = convert(ROOT_G2_PEM, "der")
    assert openssl_fingerprint(der, "DER") == openssl_fingerprint(ROOT_G2_PEM.read_bytes(), "PEM")


def test_der_to_pem_and_back(tmp_path: Path) -> None:
    """DER -> PEM -> DER gives back the same bytes; the PEM is a plain block openssl reads."""
    der = convert(ROOT_G2_PEM, "der")
    path = tmp_path / "root.cer"
    path.write_bytes(der)
    pem = convert(path, "pem")
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----\n")
    root = x509.load_pem_x509_certificate(ROOT_G2_PEM.read_bytes())
    assert openssl_fingerprint(pem, "PEM") == sha256_fingerprint(root)
    assert convert(pem, "der") == der


def test_bundle_to_p7b_read_by_openssl(tmp_path: Path) -> None:
    """A PEM bundle converts to a DER PKCS#7 that openssl lists with every certificate."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"\n# between\n".join(p.read_bytes() for p in NHS_FILES))
    p7b = convert(bundle, "p7b")
    text = openssl("pkcs7", "-inform", "DER", "-print_certs", data=p7b)
    assert text.count(b"-----BEGIN CERTIFICATE-----") == len(NHS_FILES)
    assert sorted(sha256_fingerprint(c) for c in NHS_CERTIFICATES) == sorted(
        sha256_fingerprint(x509.load_der_x509_certificate(convert(p7b_one, "der")))
        for p7b_one in _split(text)
    )


def _split(text: bytes) -> list[bytes]:
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    return [begin + chunk.split(end)[0] + end + b"\n" for chunk in text.split(begin)[1:]]


def test_openssl_p7b_to_pem_keeps_order(tmp_path: Path) -> None:
    """A .p7b made by openssl converts to PEM holding every certificate, in the bundle's order."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in NHS_FILES))
    p7b = openssl("crl2pkcs7", "-nocrl", "-certfile", str(bundle), "-outform", "DER")
    pem = convert(p7b, "pem")
    expected = b"".join(c.public_bytes(Encoding.PEM) for c in NHS_CERTIFICATES)
    assert pem == expected


def test_der_refuses_several_certificates() -> None:
    """Converting a bundle to DER says how many certificates there are and suggests p7b."""
    bundle = b"".join(p.read_bytes() for p in NHS_FILES[:3])
    with pytest.raises(InputError, match=r"^<bytes>: holds 3 certificates.*p7b"):
        convert(bundle, "der")


def test_bad_input_is_a_typed_error() -> None:
    """Bad input raises the loader's typed error, naming the source."""
    with pytest.raises(MalformedInputError, match=r"^<bytes>: "):
        convert(ROOT_G2_PEM.read_bytes().replace(b"\nMII", b"\n*II"), "pem")


def test_unknown_target_format() -> None:
    """An unknown target is a ValueError listing the choices."""
    with pytest.raises(ValueError, match="pem, der, p7b"):
        convert(ROOT_G2_PEM, "jks")


def test_same_input_same_bytes() -> None:
    """Every conversion is a function of its input alone."""
    for to in ("pem", "der", "p7b"):
        assert convert(ROOT_G2_PEM, to) == convert(ROOT_G2_PEM, to)
