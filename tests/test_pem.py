"""The PEM format: reading certificate blocks and writing the readable, reproducible bundle."""

from __future__ import annotations

import re
import subprocess
import warnings
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BUNDLES
from tests.strategies import certificates, trusted_entries
from truststore_builder._errors import (
    InputError,
    MalformedInputError,
    NoCertificatesError,
    UnknownFormatError,
)
from truststore_builder._formats.pem import (
    der_to_pem,
    load_pem_certificates,
    load_pem_entries,
    pem_to_der,
    serialize_pem_bundle,
)
from truststore_builder._model import TrustedEntry, sha256_fingerprint
from truststore_builder._sources.files import read_store
from truststore_builder._sources.nhs import nhs_catalogue

if TYPE_CHECKING:
    from pathlib import Path

NHS_FILES = sorted(BUNDLES.glob("*.pem"))
ROOT_G2 = BUNDLES / "nhs-root-authority-g2.pem"


def nhs_entries() -> list[TrustedEntry]:
    """Every shipped NHS certificate as a TrustedEntry carrying its catalogue record."""
    catalogue = nhs_catalogue()
    entries = []
    for ca in catalogue:
        if ca.slug in catalogue.certificates:
            certificate = catalogue.certificates[ca.slug]
            entries.append(TrustedEntry(ca.slug, certificate, f"nhs:{ca.slug}", ca))
    return entries


def openssl_fingerprints(path: Path) -> list[str]:
    """SHA-256 fingerprints of every certificate openssl finds in a PEM file, in file order.

    openssl parses the PEM and repacks the certificates as PKCS#7 (in input order); only the
    DER container is decoded here, so our PEM reader plays no part.
    """
    p7b = subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(path), "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    with warnings.catch_warnings():
        # openssl keeps input order, which is not DER's sorted SET OF; cryptography warns.
        warnings.simplefilter("ignore", UserWarning)
        return [sha256_fingerprint(c) for c in pkcs7.load_der_pkcs7_certificates(p7b)]


def key_pem(label_format: serialization.PrivateFormat, *, encrypted: bool = False) -> bytes:
    """A freshly generated private key as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = (
        serialization.BestAvailableEncryption(b"secret")
        if encrypted
        else serialization.NoEncryption()
    )
    return key.private_bytes(Encoding.PEM, label_format, encryption)


# --- reading -------------------------------------------------------------------------------


def test_reads_every_shipped_nhs_certificate() -> None:
    """Each real NHS PEM file in bundles/ reads as one certificate."""
    for path in NHS_FILES:
        (certificate,) = load_pem_certificates(path.read_bytes(), str(path))
        assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)


def test_multi_block_with_comments_crlf_bom_and_trailing_whitespace() -> None:
    """A bundle with text between blocks, CRLF line ends, a BOM and trailing spaces reads whole."""
    blocks = [p.read_bytes() for p in NHS_FILES]
    text = b"\xef\xbb\xbf# NHS bundle\r\n\r\n"
    for i, block in enumerate(blocks):
        text += f"Certificate {i}: some words -- not PEM\r\n".encode()
        text += block.replace(b"\n", b"  \r\n") + b"\r\n"
    text += b"   \r\n\t\r\n"
    certificates_read = load_pem_certificates(text, "bundle.pem")
    expected = [x509.load_pem_x509_certificate(b) for b in blocks]
    assert certificates_read == expected


def test_x509_certificate_label_is_read() -> None:
    """The old ``X509 CERTIFICATE`` label reads like ``CERTIFICATE``."""
    pem = ROOT_G2.read_bytes().replace(b" CERTIFICATE-----", b" X509 CERTIFICATE-----")
    assert load_pem_certificates(pem, "x.pem") == load_pem_certificates(ROOT_G2.read_bytes(), "r")


def test_certificates_beside_a_private_key_are_read() -> None:
    """A combined key-and-certificate PEM yields its certificates; the key block is skipped."""
    pem = key_pem(serialization.PrivateFormat.PKCS8) + ROOT_G2.read_bytes()
    assert len(load_pem_certificates(pem, "combined.pem")) == 1


def test_trusted_certificate_is_refused_clearly() -> None:
    """An OpenSSL TRUSTED CERTIFICATE block is refused with a message that says so."""
    pem = ROOT_G2.read_bytes().replace(b" CERTIFICATE-----", b" TRUSTED CERTIFICATE-----")
    with pytest.raises(UnknownFormatError, match=r"t\.pem: PEM block 1 \(line 1\).*TRUSTED"):
        load_pem_certificates(pem, "t.pem")


def test_broken_base64_names_the_block_and_line() -> None:
    """Broken base64 in the third block is reported with its index and line number."""
    blocks = [p.read_bytes() for p in NHS_FILES[:3]]
    lines = blocks[2].split(b"\n")
    broken = b"\n".join([lines[0], b"*" + lines[1][1:], *lines[2:]])
    text = b"# header\n" + blocks[0] + b"\n" + blocks[1] + broken
    line = text.count(b"\n", 0, text.index(broken)) + 1
    with pytest.raises(MalformedInputError) as caught:
        load_pem_certificates(text, "b.pem")
    assert str(caught.value) == f"b.pem: PEM block 3 (line {line}) is not valid base64"
    assert caught.value.source == "b.pem"


def test_valid_base64_that_is_not_a_certificate_names_the_block() -> None:
    """A block whose DER is not a certificate is a MalformedInputError naming that block."""
    text = (
        ROOT_G2.read_bytes() + b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"
    )
    line = ROOT_G2.read_bytes().count(b"\n") + 1
    with pytest.raises(MalformedInputError, match=rf"PEM block 2 \(line {line}\) is not a valid X"):
        load_pem_certificates(text, "n.pem")


def test_block_without_end_line() -> None:
    """A BEGIN line with no END line is malformed, not silently ignored."""
    text = b"\n".join(ROOT_G2.read_bytes().splitlines()[:-1])
    with pytest.raises(MalformedInputError, match="has no matching END line"):
        load_pem_certificates(text, "cut.pem")


@pytest.mark.parametrize(
    ("fmt", "encrypted", "label"),
    [
        (serialization.PrivateFormat.PKCS8, False, b"PRIVATE KEY"),
        (serialization.PrivateFormat.TraditionalOpenSSL, False, b"EC PRIVATE KEY"),
        (serialization.PrivateFormat.PKCS8, True, b"ENCRYPTED PRIVATE KEY"),
    ],
)
def test_private_key_in_a_certificate_slot(
    fmt: serialization.PrivateFormat, *, encrypted: bool, label: bytes
) -> None:
    """A PEM holding only a private key is refused, and the message holds none of the key."""
    pem = key_pem(fmt, encrypted=encrypted)
    assert f"-----BEGIN {label.decode()}-----".encode() in pem
    with pytest.raises(InputError) as caught:
        load_pem_certificates(pem, "key.pem")
    message = str(caught.value)
    assert message == "key.pem: holds a private key, not a certificate"
    body_lines = pem.splitlines()[1:-1]
    assert not any(line.decode() in message for line in body_lines)


def test_rsa_private_key_label_is_recognised() -> None:
    """An ``RSA PRIVATE KEY`` block alone is reported as a private key."""
    fake = b"-----BEGIN RSA PRIVATE KEY-----\nTUlJ\n-----END RSA PRIVATE KEY-----\n"
    with pytest.raises(InputError, match=r"a private key, not a certificate$"):
        load_pem_certificates(fake, "rsa.pem")


@pytest.mark.parametrize(
    "text",
    [b"", b"hello\n", b"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"],
)
def test_no_certificate_blocks(text: bytes) -> None:
    """PEM text with no certificate block is a NoCertificatesError naming the source."""
    with pytest.raises(NoCertificatesError, match=r"^e\.pem: holds no"):
        load_pem_certificates(text, "e.pem")


# --- the bundle ----------------------------------------------------------------------------


def test_bundle_header_for_nhs_root_g2() -> None:
    """The header above NHS Root Authority G2 names its alias, names, dates, hash and NHS role."""
    entry = next(e for e in nhs_entries() if e.alias == "nhs-root-authority-g2")
    text = serialize_pem_bundle([entry]).decode("ascii")
    header = text.split("-----BEGIN", 1)[0].splitlines()
    fingerprint = ":".join(re.findall("..", entry.sha256))
    assert header == [
        "# Alias: nhs-root-authority-g2",
        "# Subject: CN=NHS Root Authority G2,OU=CA,O=NHS,C=GB",
        "# Issuer: CN=NHS Root Authority G2,OU=CA,O=NHS,C=GB",
        f"# Serial: {entry.certificate.serial_number:#x}",
        f"# Valid: {entry.not_before:%Y-%m-%d} to {entry.not_after:%Y-%m-%d} (UTC)",
        f"# SHA-256: {fingerprint}",
        "# NHS: NHS Root Authority G2 (generation g2, root, environments prod)",
    ]


def test_bundle_layout() -> None:
    """ASCII, LF only, one blank line between certificates, ending in exactly one newline."""
    data = serialize_pem_bundle(nhs_entries())
    data.decode("ascii")
    assert b"\r" not in data
    assert data.endswith(b"-----END CERTIFICATE-----\n")
    assert data.count(b"-----END CERTIFICATE-----\n\n# Alias: ") == len(nhs_entries()) - 1
    assert b"\n\n\n" not in data


def test_bundle_without_nhs_record_has_no_nhs_line() -> None:
    """A certificate the catalogue does not know gets no NHS line."""
    entry = nhs_entries()[0]
    plain = TrustedEntry(entry.alias, entry.certificate, "file.pem")
    assert b"# NHS:" not in serialize_pem_bundle([plain])


def test_bundle_is_byte_identical_for_the_same_inputs() -> None:
    """Serialising the same entries twice gives the same bytes."""
    assert serialize_pem_bundle(nhs_entries()) == serialize_pem_bundle(nhs_entries())


def test_bundle_is_read_by_openssl(tmp_path: Path) -> None:
    """OpenSSL reads every certificate of our bundle, in order, with the right fingerprints."""
    entries = nhs_entries()
    path = tmp_path / "bundle.pem"
    path.write_bytes(serialize_pem_bundle(entries))
    assert openssl_fingerprints(path) == [e.sha256 for e in entries]
    counted = subprocess.run(
        ["openssl", "storeutl", "-noout", "-certs", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"Total found: {len(entries)}" in counted


def test_aliases_are_read_from_the_bundle_headers(tmp_path: Path) -> None:
    """A bundle we wrote reads back with its aliases; a PEM without headers has none."""
    entries = nhs_entries()
    path = tmp_path / "bundle.pem"
    path.write_bytes(serialize_pem_bundle(entries))
    assert [(e.alias, e.certificate) for e in read_store(path)] == [
        (e.alias, e.certificate) for e in entries
    ]
    plain = b"".join(e.certificate.public_bytes(Encoding.PEM) for e in entries)
    assert [alias for alias, _ in load_pem_entries(plain, "plain.pem")] == [""] * len(entries)


def test_an_alias_line_names_only_the_block_below_it() -> None:
    """The last ``# Alias:`` above a block names it; a block with none above has none."""
    first, second, third = (e.certificate.public_bytes(Encoding.PEM) for e in nhs_entries()[:3])
    data = (
        b"# Alias: overridden\n# Alias: first-one\n# Subject: ...\n"
        + first
        + second  # no header: not named after the block above
        + b"\r\n  #   Alias:  third-one  \r\n"
        + third
    )
    assert [alias for alias, _ in load_pem_entries(data, "mixed.pem")] == [
        "first-one",
        "",
        "third-one",
    ]


@pytest.mark.parametrize(
    "line",
    [
        b"# Alias: bell\x07here",
        b"# Alias: caf\xc3\xa9",
        b"# Alias: " + b"a" * 257,
        b"# Alias:",
        b"# Alias:    ",
        b"# Aliases: not-this",
        b"x # Alias: not-a-comment",
    ],
)
def test_an_alias_that_is_not_plain_printable_text_is_not_read(line: bytes) -> None:
    """Control characters, non-ASCII, more than 256 characters or nothing: no alias at all."""
    block = nhs_entries()[0].certificate.public_bytes(Encoding.PEM)
    assert load_pem_entries(line + b"\n" + block, "odd.pem")[0][0] == ""
    # The control: the same place with a plain alias is read.
    assert load_pem_entries(b"# Alias: " + b"a" * 256 + b"\n" + block, "ok.pem")[0][0] == "a" * 256


def hostile_certificate() -> x509.Certificate:
    """A certificate whose subject holds a newline, a PEM marker and non-ASCII text."""
    import datetime as dt  # noqa: PLC0415

    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Hôpital\n-----END CERTIFICATE-----"),
            x509.NameAttribute(NameOID.COMMON_NAME, "-----BEGIN CERTIFICATE-----"),
        ]
    )
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_hostile_subject_cannot_break_the_bundle(tmp_path: Path) -> None:
    """A subject with a newline, PEM markers and non-ASCII stays one escaped ASCII header line."""
    hostile = TrustedEntry("hostile", hostile_certificate(), "<bytes>")
    entries = [nhs_entries()[0], hostile]
    data = serialize_pem_bundle(entries)
    text = data.decode("ascii")
    subject = next(line for line in text.splitlines() if line.startswith("# Subject: CN=\\"))
    assert subject == (
        r"# Subject: CN=\2D----BEGIN CERTIFICATE\2D----,"
        r"O=H\C3\B4pital\0A\2D----END CERTIFICATE\2D----"
    )
    assert text.count("-----BEGIN CERTIFICATE-----") == 2
    assert load_pem_certificates(data, "h.pem") == [e.certificate for e in entries]
    path = tmp_path / "h.pem"
    path.write_bytes(data)
    assert openssl_fingerprints(path) == [e.sha256 for e in entries]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(trusted_entries(), min_size=1, max_size=4))
def test_bundle_round_trip(entries: list[TrustedEntry]) -> None:
    """Any entries, any name text: the bundle is ASCII and reads back as the same certificates."""
    data = serialize_pem_bundle(entries)
    text = data.decode("ascii")
    assert load_pem_certificates(data, "<bytes>") == [e.certificate for e in entries]
    assert load_pem_entries(data, "<bytes>") == [(e.alias, e.certificate) for e in entries]
    header_lines = [line for line in text.splitlines() if line.startswith("#")]
    assert len(header_lines) == sum(7 if e.nhs else 6 for e in entries)
    assert text.count("-----BEGIN") == len(entries)


# --- conversion helpers --------------------------------------------------------------------


def test_pem_to_der_to_pem_round_trip() -> None:
    """Every NHS certificate survives PEM -> DER -> PEM byte for byte."""
    for path in NHS_FILES:
        pem = path.read_bytes()
        der = pem_to_der(pem)
        assert sha256_fingerprint(x509.load_der_x509_certificate(der)) in {
            e.sha256 for e in nhs_entries()
        }
        assert der_to_pem(der) == x509.load_pem_x509_certificate(pem).public_bytes(Encoding.PEM)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certificates())
def test_der_pem_round_trip_generated(certificate: x509.Certificate) -> None:
    """Any generated certificate survives DER -> PEM -> DER."""
    der = certificate.public_bytes(Encoding.DER)
    assert pem_to_der(der_to_pem(der)) == der


def test_pem_to_der_refuses_several_certificates() -> None:
    """DER holds one certificate: a bundle is refused with a pointer to PKCS#7."""
    bundle = b"".join(p.read_bytes() for p in NHS_FILES[:2])
    with pytest.raises(InputError, match=r"holds 2 certificates.*PKCS#7"):
        pem_to_der(bundle)


def test_der_to_pem_refuses_garbage() -> None:
    """der_to_pem on bytes that are not DER raises a typed error, not a bare ValueError."""
    with pytest.raises(MalformedInputError, match=r"^<bytes>: "):
        der_to_pem(b"\x30\x03\x02\x01\x01")
    with pytest.raises(NoCertificatesError):
        der_to_pem(b"")
