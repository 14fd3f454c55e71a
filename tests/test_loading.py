"""Reading certificates from files, directories and bytes: DER, PKCS#7, detection and refusals."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.commands import openssl
from tests.conftest import BUNDLES
from tests.strategies import certificates
from truststore_builder._errors import (
    InputError,
    MalformedInputError,
    NoCertificatesError,
    TruststoreBuilderWarning,
    UnknownFormatError,
)
from truststore_builder._formats.der import (
    der_header,
    load_der_certificate,
    looks_like_der_certificate,
)
from truststore_builder._formats.pkcs7 import (
    load_pkcs7_certificates,
    looks_like_pkcs7,
    serialize_pkcs7,
)
from truststore_builder._model import sha256_fingerprint
from truststore_builder._sources.files import detect_format, load_certificates, read_store

if TYPE_CHECKING:
    from pathlib import Path

NHS_FILES = sorted(BUNDLES.glob("*.pem"))
NHS_CERTIFICATES = [x509.load_pem_x509_certificate(p.read_bytes()) for p in NHS_FILES]
ROOT_G2 = x509.load_pem_x509_certificate((BUNDLES / "nhs-root-authority-g2.pem").read_bytes())
ROOT_G2_DER = ROOT_G2.public_bytes(Encoding.DER)


def openssl_p7b(tmp_path: Path, *, outform: str) -> bytes:
    """A PKCS#7 bundle of every NHS certificate, made by openssl crl2pkcs7."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in NHS_FILES))
    return openssl("crl2pkcs7", "-nocrl", "-certfile", str(bundle), "-outform", outform)


# --- DER -----------------------------------------------------------------------------------


def test_der_certificate_reads() -> None:
    """A DER certificate reads as itself."""
    assert load_der_certificate(ROOT_G2_DER, "root.der") == ROOT_G2
    assert looks_like_der_certificate(ROOT_G2_DER)


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 10, 100, 500, -1])
def test_truncated_der_is_malformed(cut: int) -> None:
    """DER cut short anywhere is a MalformedInputError naming the source, never a ValueError."""
    with pytest.raises(MalformedInputError, match=r"^cut\.der: "):
        load_der_certificate(ROOT_G2_DER[:cut], "cut.der")


@pytest.mark.parametrize("cut", [10, 100, 500, -1])
def test_truncated_der_file_is_malformed_through_detection(tmp_path: Path, cut: int) -> None:
    """A truncated DER file is detected as DER and reported as truncated."""
    path = tmp_path / "cut.cer"
    path.write_bytes(ROOT_G2_DER[:cut])
    with pytest.raises(MalformedInputError, match=rf"^{path}: DER certificate is truncated"):
        load_certificates(path)


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_der_cut_too_short_to_tell_is_malformed(cut: int) -> None:
    """A few bytes of a DER SEQUENCE are reported as cut short, not as an unknown format."""
    with pytest.raises(MalformedInputError, match=rf"^<bytes>: is cut short: {cut} bytes"):
        load_certificates(ROOT_G2_DER[:cut])


def test_der_with_trailing_bytes_is_malformed() -> None:
    """Bytes after the end of the certificate are refused, not ignored."""
    with pytest.raises(MalformedInputError, match="unexpected bytes after its end"):
        load_der_certificate(ROOT_G2_DER + b"\x00\x00", "t.der")


def test_der_garbage_is_malformed() -> None:
    """A SEQUENCE of a SEQUENCE that is no certificate is a MalformedInputError."""
    with pytest.raises(MalformedInputError, match=r"not a valid DER X\.509 certificate"):
        load_der_certificate(b"\x30\x04\x30\x02\x05\x00", "g.der")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(certificates())
def test_der_round_trip(certificate: x509.Certificate) -> None:
    """Any generated certificate's DER reads back as the same certificate, detected as DER."""
    der = certificate.public_bytes(Encoding.DER)
    assert detect_format(der) == "der"
    assert load_certificates(der) == [certificate]


def _with_undecodable_subject(der: bytes, damage: str) -> bytes:
    """``der`` with its subject's CN (a UTF8String) made undecodable, its length unchanged."""
    start = der.index(b"\x0c", der.rindex(b"\x06\x03\x55\x04\x03"))  # the subject's CN
    length = der[start + 1]
    value = der[start + 2 : start + 2 + length]
    rest = der[start + 2 + length :]
    if damage == "invalid UTF-8":
        return der[:start] + bytes([0x0C, length]) + b"\xff" + value[1:] + rest
    if damage == "unsupported string tag":
        return der[:start] + bytes([0x49, length]) + value + rest
    if damage == "bit string value":
        # A BIT STRING (no unused bits) under the CN type: cryptography raises TypeError.
        return der[:start] + bytes([0x03, length]) + b"\x00" + value[1:] + rest
    # A long-form tag (0x1f 0x1f): one byte more for the tag, one less of the value.
    return der[:start] + bytes([0x1F, 0x1F, length - 1]) + value[1:] + rest


@pytest.mark.parametrize(
    "damage", ["invalid UTF-8", "unsupported string tag", "long-form tag", "bit string value"]
)
def test_a_certificate_whose_names_cannot_be_decoded_is_refused_when_read(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name cryptography loads but cannot decode: a typed error naming the file at read time.

    Before, read_store accepted it and inspect and build then died with a bare ValueError.
    The control: the undamaged certificate reads.
    """
    from truststore_builder import _cli  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Undecodable Test CA")])
    original = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(ROOT_G2.not_valid_before_utc)
        .not_valid_after(ROOT_G2.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    der = original.public_bytes(Encoding.DER)
    damaged = _with_undecodable_subject(der, damage)
    probe = x509.load_der_x509_certificate(damaged)  # cryptography loads it...
    # ...and cannot decode its name (cryptography 45.0.1, our minimum, raises KeyError for
    # the unsupported tag; later releases ValueError).
    with pytest.raises((ValueError, KeyError, TypeError)):
        _ = probe.subject
    assert read_store(der)[0].certificate == original
    for name, content in (
        ("bad.der", damaged),
        (
            "bad.pem",
            b"# a comment\n" + x509.load_der_x509_certificate(damaged).public_bytes(Encoding.PEM),
        ),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(MalformedInputError, match=f"^{path}: certificate 1 .* subject name"):
            read_store(path)
        capsys.readouterr()
        assert _cli.main(["inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"truststore-builder: error: {path}: certificate 1"), err
        assert "internal error" not in err
        assert len(err.splitlines()) == 1


def _self_signed(key: ec.EllipticCurvePrivateKey | dsa.DSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Other DER Test CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(ROOT_G2.not_valid_before_utc)
        .not_valid_after(ROOT_G2.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )


def _other_der_structures() -> dict[str, bytes]:
    """A DER CRL, CSR, OCSP request and OCSP response, made by cryptography."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca = _self_signed(key)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(ROOT_G2.not_valid_before_utc)
        .next_update(ROOT_G2.not_valid_after_utc)
        .sign(key, hashes.SHA256())
    )
    csr = (
        x509.CertificateSigningRequestBuilder().subject_name(ca.subject).sign(key, hashes.SHA256())
    )
    request = ocsp.OCSPRequestBuilder().add_certificate(ca, ca, hashes.SHA256()).build()
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    return {
        "an X.509 CRL": crl.public_bytes(Encoding.DER),
        "a certificate signing request": csr.public_bytes(Encoding.DER),
        "an OCSP request": request.public_bytes(Encoding.DER),
        "an OCSP response": response.public_bytes(Encoding.DER),
    }


def test_der_crls_csrs_and_ocsp_data_are_named_as_what_they_are(tmp_path: Path) -> None:
    """A DER CRL, CSR or OCSP message: "is an X.509 CRL ...", not "not a valid certificate".

    They hold no certificate (NoCertificatesError), so a directory skips them with a warning,
    as it skips a PEM CRL; the control, a certificate beside them, is read.
    """
    for index, (kind, der) in enumerate(_other_der_structures().items()):
        path = tmp_path / f"other-{index}.der"
        path.write_bytes(der)
        with pytest.raises(NoCertificatesError, match=f"^{path}: is {kind}"):
            read_store(path)
    (tmp_path / "z-root.der").write_bytes(ROOT_G2_DER)
    with pytest.warns(TruststoreBuilderWarning) as warned:
        assert load_certificates(tmp_path) == [ROOT_G2]
    said = sorted(str(w.message).split(": is ")[1].split(",")[0] for w in warned)
    assert said == [
        "a certificate signing request (PKCS#10)",
        "an OCSP request",
        "an OCSP response",
        "an X.509 CRL (a certificate revocation list)",
    ]


def _strip_dsa_parameters(der: bytes) -> bytes:
    """A DSA certificate re-encoded with no parameters in its key (RFC 3279 inheritance)."""

    def tlv(tag: int, content: bytes) -> bytes:
        size = len(content)
        length = bytes([size]) if size < 0x80 else bytes([0x82]) + size.to_bytes(2, "big")
        return bytes([tag]) + length + content

    def children(data: bytes) -> list[bytes]:
        items, offset = [], 0
        while offset < len(data):
            _tag, header, size = der_header(data, offset) or (0, 0, 0)
            items.append(data[offset : offset + header + size])
            offset += header + size
        return items

    def content(element: bytes) -> bytes:
        _tag, header, _size = der_header(element) or (0, 0, 0)
        return element[header:]

    certificate = children(content(der))
    tbs = children(content(certificate[0]))
    spki = children(content(tbs[6]))  # [0] version, serial, signature, issuer, validity, subject
    oid = children(content(spki[0]))[0]
    tbs[6] = tlv(0x30, tlv(0x30, oid) + spki[1])
    certificate[0] = tlv(0x30, b"".join(tbs))
    return tlv(0x30, b"".join(certificate))


def test_a_dsa_certificate_inheriting_its_parameters_is_named_in_der_and_pkcs12(
    tmp_path: Path,
) -> None:
    """DSA inheriting parameters: said, as DER and inside a PKCS#12 OpenSSL wrote around it.

    Before, the PKCS#12 was "encrypted with an algorithm this cryptography build refuses".
    """
    original = _self_signed(dsa.generate_private_key(2048)).public_bytes(Encoding.DER)
    assert read_store(original)  # the control: with its parameters, it reads
    inheriting = _strip_dsa_parameters(original)
    with pytest.raises(ValueError, match=r"\S"):
        x509.load_der_x509_certificate(inheriting)
    der_path = tmp_path / "inherits.der"
    der_path.write_bytes(inheriting)
    says = "a DSA certificate that inherits its key parameters from its issuer"
    with pytest.raises(MalformedInputError, match=f"^{der_path}: is {says}"):
        read_store(der_path)
    p12_path = tmp_path / "inherits.p12"
    openssl(
        "pkcs12", "-export", "-nokeys", "-in", str(der_path), "-passout", "pass:pw",
        "-out", str(p12_path),
    )  # fmt: skip
    with pytest.raises(MalformedInputError, match=f"^{p12_path}: certificate 1 .* is {says}"):
        read_store(p12_path, password="pw")


# --- PKCS#7 --------------------------------------------------------------------------------


def test_openssl_pkcs7_der_reads_in_order(tmp_path: Path) -> None:
    """A DER .p7b made by openssl reads as every certificate, in openssl's order."""
    data = openssl_p7b(tmp_path, outform="DER")
    assert looks_like_pkcs7(data)
    assert detect_format(data) == "pkcs7"
    assert load_pkcs7_certificates(data, "b.p7b") == NHS_CERTIFICATES


def test_openssl_pkcs7_pem_reads(tmp_path: Path) -> None:
    """A PEM PKCS7 block made by openssl reads as every certificate, despite CRLF and a BOM."""
    data = openssl_p7b(tmp_path, outform="PEM")
    assert detect_format(data) == "pkcs7"
    assert load_certificates(data) == NHS_CERTIFICATES
    crlf = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    assert load_pkcs7_certificates(crlf, "b.p7b") == NHS_CERTIFICATES


def test_our_pkcs7_is_read_by_openssl() -> None:
    """The openssl pkcs7 command reads every certificate of our DER bundle."""
    text = openssl(
        "pkcs7", "-inform", "DER", "-print_certs", data=serialize_pkcs7(NHS_CERTIFICATES)
    )
    found = [x509.load_pem_x509_certificate(b) for b in _pem_blocks(text)]
    assert sorted(map(sha256_fingerprint, found)) == sorted(
        map(sha256_fingerprint, NHS_CERTIFICATES)
    )


def _pem_blocks(text: bytes) -> list[bytes]:
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    return [begin + chunk.split(end)[0] + end for chunk in text.split(begin)[1:]]


def test_pkcs7_output_is_deterministic_and_pem_option_works() -> None:
    """The same certificates in any order give the same bytes; pem=True gives a PKCS7 block."""
    forward = serialize_pkcs7(NHS_CERTIFICATES)
    assert forward == serialize_pkcs7(list(reversed(NHS_CERTIFICATES)))
    pem = serialize_pkcs7(NHS_CERTIFICATES, pem=True)
    assert pem.startswith(b"-----BEGIN PKCS7-----")
    assert set(load_pkcs7_certificates(pem, "p")) == set(NHS_CERTIFICATES)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(certificates(), min_size=1, max_size=4))
def test_pkcs7_round_trip(generated: list[x509.Certificate]) -> None:
    """Any generated certificates survive serialize_pkcs7 then load (as a multiset)."""
    read = load_pkcs7_certificates(serialize_pkcs7(generated), "<bytes>")
    assert sorted(map(sha256_fingerprint, read)) == sorted(map(sha256_fingerprint, generated))


def test_pkcs7_without_certificates(tmp_path: Path) -> None:
    """An empty degenerate PKCS#7 (crl2pkcs7 with no certificates) is NoCertificatesError."""
    empty = openssl("crl2pkcs7", "-nocrl", "-outform", "DER")
    with pytest.raises(NoCertificatesError, match="holds no certificate"):
        load_pkcs7_certificates(empty, "e.p7b")
    path = tmp_path / "e.p7b"
    path.write_bytes(empty)
    with pytest.raises(NoCertificatesError, match=f"^{path}: "):
        load_certificates(path)


def _indefinite_length(der_p7b: bytes) -> bytes:
    """Re-encode a DER PKCS#7's ContentInfo and its [0] with BER's indefinite lengths."""
    _tag, header, _length = der_header(der_p7b) or (0, 0, 0)
    oid_end = header + 2 + der_p7b[header + 1]
    _tag, inner_header, _length = der_header(der_p7b, oid_end) or (0, 0, 0)
    signed_data = der_p7b[oid_end + inner_header :]
    return b"\x30\x80" + der_p7b[header:oid_end] + b"\xa0\x80" + signed_data + b"\0\0\0\0"


def test_ber_indefinite_length_pkcs7_reads_as_openssl_reads_it(tmp_path: Path) -> None:
    """A BER PKCS#7 (indefinite lengths) reads as OpenSSL lists it; cut short, it is refused."""
    ber = _indefinite_length(openssl_p7b(tmp_path, outform="DER"))
    assert ber.startswith(b"\x30\x80")
    listed = openssl("pkcs7", "-inform", "DER", "-print_certs", data=ber)
    assert [x509.load_pem_x509_certificate(b) for b in _pem_blocks(listed)] == NHS_CERTIFICATES
    assert detect_format(ber) == "pkcs7"
    path = tmp_path / "ber.p7b"
    path.write_bytes(ber)
    assert load_certificates(path) == NHS_CERTIFICATES
    for cut in (2, 30, len(ber) // 2, len(ber) - 3):
        with pytest.raises(MalformedInputError, match=r"^cut\.p7b: "):
            load_pkcs7_certificates(ber[:cut], "cut.p7b")


def test_truncated_pkcs7_is_malformed(tmp_path: Path) -> None:
    """A PKCS#7 bundle cut short is a MalformedInputError."""
    data = openssl_p7b(tmp_path, outform="DER")
    for cut in (20, 400, len(data) - 1):
        with pytest.raises(MalformedInputError):
            load_pkcs7_certificates(data[:cut], "t.p7b")


def test_serialize_pkcs7_refuses_nothing() -> None:
    """Serialising no certificates is a ValueError stating the rule."""
    with pytest.raises(ValueError, match="at least one certificate"):
        serialize_pkcs7([])


# --- detection and files -------------------------------------------------------------------


def test_detection_ignores_the_file_name(tmp_path: Path) -> None:
    """A DER file named .pem and a PEM file named .der read by their content."""
    der_named_pem = tmp_path / "root.pem"
    der_named_pem.write_bytes(ROOT_G2_DER)
    pem_named_der = tmp_path / "root.der"
    pem_named_der.write_bytes(ROOT_G2.public_bytes(Encoding.PEM))
    assert load_certificates(der_named_pem) == [ROOT_G2]
    assert load_certificates(str(pem_named_der)) == [ROOT_G2]


def test_detect_format_names() -> None:
    """detect_format tells PEM, DER and both PKCS#7 encodings apart from content alone."""
    pem = ROOT_G2.public_bytes(Encoding.PEM)
    assert detect_format(pem) == "pem"
    assert detect_format(b"\xef\xbb\xbf\r\n" + pem) == "pem"
    assert detect_format(ROOT_G2_DER) == "der"
    assert detect_format(serialize_pkcs7([ROOT_G2])) == "pkcs7"
    assert detect_format(serialize_pkcs7([ROOT_G2], pem=True)) == "pkcs7"


def test_detect_format_java_magic() -> None:
    """JKS and JCEKS are told by their magic numbers."""
    assert detect_format(b"\xfe\xed\xfe\xed" + b"\x00" * 16) == "jks"
    assert detect_format(b"\xce\xce\xce\xce" + b"\x00" * 16) == "jceks"


@pytest.mark.parametrize("data", [b"", b"  \r\n\t", b"\xef\xbb\xbf\n"])
def test_empty_input(tmp_path: Path, data: bytes) -> None:
    """An empty (or blank) file is NoCertificatesError saying it is empty, naming the path."""
    path = tmp_path / "empty.pem"
    path.write_bytes(data)
    with pytest.raises(NoCertificatesError, match=f"^{path}: is empty$"):
        load_certificates(path)
    with pytest.raises(NoCertificatesError, match=r"^<bytes>: is empty$"):
        load_certificates(data)


@pytest.mark.parametrize("data", [b"hello, world\n", b"PK\x03\x04zipfile", b"\x02\x01\x05"])
def test_unknown_format(data: bytes) -> None:
    """Content in no format we read is UnknownFormatError naming the source."""
    with pytest.raises(UnknownFormatError, match=r"^<bytes>: unknown format"):
        detect_format(data)


def test_broken_base64_in_a_file_names_path_block_and_line(tmp_path: Path) -> None:
    """A broken block in a PEM file is reported with the path, block index and line."""
    path = tmp_path / "broken.crt"
    text = b"# comment\n" + (BUNDLES / "nhs-root-authority-g2.pem").read_bytes()
    path.write_bytes(text.replace(b"\nMII", b"\n!II", 1))
    with pytest.raises(MalformedInputError) as caught:
        load_certificates(path)
    assert str(caught.value) == f"{path}: PEM block 1 (line 2) is not valid base64"
    assert caught.value.source == str(path)


def test_private_key_file_in_a_certificate_slot(tmp_path: Path) -> None:
    """A key file given as certificates is refused without a byte of the key in the message."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "client.crt"
    path.write_bytes(pem)
    with pytest.raises(InputError) as caught:
        load_certificates(path)
    assert str(caught.value) == f"{path}: holds a private key, not a certificate"


def test_missing_path_gives_the_os_reason(tmp_path: Path) -> None:
    """A path that does not exist is an InputError with the OS's reason."""
    path = tmp_path / "nope.pem"
    with pytest.raises(InputError, match=f"^{path}: cannot read \\(No such file or directory\\)"):
        load_certificates(path)


def test_unreadable_file_gives_the_os_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the OS will not let us read is an InputError with the OS's reason."""
    path = tmp_path / "locked.pem"
    path.write_bytes(ROOT_G2_DER)

    # Root (as CI runs) reads any file whatever its mode, so the refusal is the OS's, simulated.
    real_open = os.open

    def refuse(file: str | os.PathLike[str], *args: int, **kwargs: int) -> int:
        if os.fspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(InputError, match="Permission denied"):
        load_certificates(path)


# --- directories ---------------------------------------------------------------------------


def test_directory_reads_every_file_in_name_order(tmp_path: Path) -> None:
    """A directory yields the certificates of each regular file, sorted by name, any format."""
    (tmp_path / "b.der").write_bytes(ROOT_G2_DER)
    (tmp_path / "a.pem").write_bytes(b"".join(p.read_bytes() for p in NHS_FILES[:2]))
    (tmp_path / "c.p7b").write_bytes(serialize_pkcs7([NHS_CERTIFICATES[3]]))
    (tmp_path / ".hidden.pem").write_bytes(NHS_FILES[5].read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.pem").write_bytes(NHS_FILES[6].read_bytes())
    (tmp_path / "3c0f8a2b.0").symlink_to("b.der")
    expected = [*NHS_CERTIFICATES[:2], ROOT_G2, NHS_CERTIFICATES[3]]
    assert load_certificates(tmp_path) == expected


def test_directory_skips_files_without_certificates_with_a_warning(tmp_path: Path) -> None:
    """A README beside the certificates is skipped, and a warning names it."""
    (tmp_path / "README.txt").write_bytes(b"These are our CAs.\n")
    (tmp_path / "root.pem").write_bytes(ROOT_G2_DER)
    with pytest.warns(TruststoreBuilderWarning, match="README.txt: unknown format"):
        assert load_certificates(tmp_path) == [ROOT_G2]


def test_directory_with_a_broken_certificate_fails(tmp_path: Path) -> None:
    """A broken certificate in a directory stops the load rather than dropping a CA."""
    (tmp_path / "a.der").write_bytes(ROOT_G2_DER[:-1])
    (tmp_path / "b.der").write_bytes(ROOT_G2_DER)
    with pytest.raises(MalformedInputError, match=r"a\.der: DER certificate is truncated"):
        load_certificates(tmp_path)


def test_directory_with_no_certificates(tmp_path: Path) -> None:
    """A directory with no certificate file is NoCertificatesError naming the directory."""
    (tmp_path / "empty.pem").write_bytes(b"")
    with (
        pytest.warns(TruststoreBuilderWarning, match="empty.pem: is empty"),
        pytest.raises(NoCertificatesError, match=f"^{tmp_path}: the directory holds no"),
    ):
        load_certificates(tmp_path)
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(NoCertificatesError, match=f"^{empty}: "):
        load_certificates(empty)


# --- stores with aliases -------------------------------------------------------------------


def test_read_store_gives_plain_certificates_empty_trusted_aliases() -> None:
    """PEM certificates read as entries with alias "" and trusted=True."""
    entries = read_store(b"".join(p.read_bytes() for p in NHS_FILES))
    assert [e.certificate for e in entries] == NHS_CERTIFICATES
    assert {(e.alias, e.trusted) for e in entries} == {("", True)}


def test_read_store_keeps_keytool_jks_aliases(tmp_path: Path) -> None:
    """A JKS written by keytool reads with its aliases (changeit is only a test password)."""
    store = tmp_path / "trust.jks"
    for name in ("nhs-root-authority-g2.pem", "nhs-authentication-g2.pem"):
        subprocess.run(
            [
                "keytool", "-importcert", "-noprompt", "-storetype", "JKS",
                "-keystore", str(store), "-storepass", "changeit",
                "-alias", name.removesuffix(".pem"), "-file", str(BUNDLES / name),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    entries = read_store(store, password="changeit")
    assert sorted(e.alias for e in entries) == ["nhs-authentication-g2", "nhs-root-authority-g2"]
    assert all(e.trusted for e in entries)
    assert ROOT_G2 in load_certificates(store, password=b"changeit")


def test_read_store_pkcs12_from_openssl(tmp_path: Path) -> None:
    """A certificate-only PKCS#12 made by openssl is detected and read."""
    p12 = tmp_path / "t.p12"
    openssl(
        "pkcs12", "-export", "-nokeys", "-in", str(BUNDLES / "nhs-root-authority-g2.pem"),
        "-out", str(p12), "-passout", "pass:secret",
    )  # fmt: skip
    assert detect_format(p12.read_bytes()) == "pkcs12"
    certificates_read = load_certificates(p12, password="secret")
    assert certificates_read == [ROOT_G2]
