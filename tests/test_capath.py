"""The OpenSSL hashed directory (CApath): the subject hash against openssl, and the directory.

Every hash is compared with what the OpenSSL 3 command line on this machine computes
(``openssl x509 -hash``, ``openssl rehash``), and every written directory is used by the programs
that read one: ``openssl verify -CApath`` and Python's ``ssl`` with ``capath=``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BUNDLES
from tests.pki import Issued, make_certificate, rsa_key
from tests.tls import mutual_tls_server
from truststore_builder import (
    CheckError,
    OutputError,
    OutputExistsError,
    ReadBackError,
    StoreFormat,
    TrustStoreBuilder,
)
from truststore_builder._checks import check_capath_read_back
from truststore_builder._cli import main
from truststore_builder._formats.capath import (
    capath_files,
    check_capath_files,
    openssl_certificate_hash,
    openssl_subject_hash,
)
from truststore_builder._writing import write_directory_atomically

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

A = x509.NameAttribute
RDN = x509.RelativeDistinguishedName
_KEY = ec.generate_private_key(ec.SECP256R1())
_START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _self_signed(name: x509.Name) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_KEY.public_key())
        .serial_number(1)
        .not_valid_before(_START)
        .not_valid_after(_START + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(_KEY, hashes.SHA256())
    )


def _openssl_hash(der: bytes) -> str:
    result = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-hash", "-noout"],
        input=der,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("ascii").strip()


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes((tag, length)) + content
    size = (length.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + length.to_bytes(size, "big") + content


def _split(der: bytes) -> list[bytes]:
    """The elements inside a DER SEQUENCE (short or long form lengths)."""
    body_start = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    elements, offset = [], body_start
    while offset < len(der):
        first = der[offset + 1]
        header = 2 if first < 0x80 else 2 + (first & 0x7F)
        length = first if first < 0x80 else int.from_bytes(der[offset + 2 : offset + header])
        elements.append(der[offset : offset + header + length])
        offset += header + length
    return elements


def _with_raw_subject(subject_der: bytes) -> bytes:
    """A certificate (DER) whose subject is exactly ``subject_der``, re-signed by hand.

    For subjects cryptography will not build: Latin-1 T61String bytes, a SEQUENCE value, an
    RDN whose SET OF is out of DER order.
    """
    template = _self_signed(x509.Name([A(NameOID.COMMON_NAME, "template")]))
    certificate = template.public_bytes(serialization.Encoding.DER)
    _, algorithm, _ = _split(certificate)
    fields = _split(template.tbs_certificate_bytes)
    fields[5] = subject_der  # [0] version, serial, signature, issuer, validity, subject
    tbs = _der(0x30, b"".join(fields))
    signature = _KEY.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return _der(0x30, tbs + algorithm + _der(0x03, b"\x00" + signature))


def _atv(oid_der: bytes, value: bytes) -> bytes:
    return _der(0x30, oid_der + value)


_CN = b"\x06\x03\x55\x04\x03"
_OU = b"\x06\x03\x55\x04\x0b"


# --- the hash -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(BUNDLES.glob("*.pem")), ids=lambda p: p.name)
def test_hash_matches_openssl_on_nhs_catalogue(path: Path) -> None:
    """Every NHS catalogue certificate hashes as `openssl x509 -hash` says."""
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    expected = _openssl_hash(certificate.public_bytes(serialization.Encoding.DER))
    assert openssl_certificate_hash(certificate) == expected
    assert openssl_subject_hash(certificate.subject) == expected


_AWKWARD = {
    "mixed case": x509.Name([A(NameOID.COMMON_NAME, "NhS RooT AuThOrItY")]),
    "extra spaces": x509.Name([A(NameOID.COMMON_NAME, "  NHS    Root \t\n Authority  ")]),
    "every ascii space": x509.Name([A(NameOID.COMMON_NAME, "\v\fA\t\n\r B\x0b\x0c")]),
    "only spaces": x509.Name([A(NameOID.COMMON_NAME, "   ")]),
    "no-break space is not a space": x509.Name([A(NameOID.COMMON_NAME, "\u00a0A\u00a0 B")]),
    "non-ascii letters keep case": x509.Name([A(NameOID.COMMON_NAME, " École  ÉCOLE ")]),
    "chinese": x509.Name(
        [A(NameOID.ORGANIZATION_NAME, "国民 保健  服务"), A(NameOID.COMMON_NAME, "中文")]
    ),
    "emoji": x509.Name([A(NameOID.COMMON_NAME, "Trust 🔐  Store")]),
    "nul byte": x509.Name([A(NameOID.COMMON_NAME, "A\x00 B")]),
    "printable vs utf8": x509.Name(
        [
            A(NameOID.ORGANIZATION_NAME, "NHS", _type=_ASN1Type.PrintableString),
            A(NameOID.ORGANIZATIONAL_UNIT_NAME, "CA", _type=_ASN1Type.UTF8String),
            A(NameOID.COMMON_NAME, "Mixed  Types", _type=_ASN1Type.PrintableString),
        ]
    ),
    "ia5 email": x509.Name([A(NameOID.EMAIL_ADDRESS, " PKI@NHS.Example ")]),
    "ia5 non-ascii read as latin-1": x509.Name(
        [A(NameOID.COMMON_NAME, "é X", _type=_ASN1Type.IA5String)]
    ),
    "t61": x509.Name([A(NameOID.COMMON_NAME, "T61  Name", _type=_ASN1Type.T61String)]),
    "bmp": x509.Name([A(NameOID.COMMON_NAME, "  Ab  É中 ", _type=_ASN1Type.BMPString)]),
    "universal": x509.Name(
        [A(NameOID.COMMON_NAME, " Ab  É中🔐 ", _type=_ASN1Type.UniversalString)]
    ),
    "numeric string kept as is": x509.Name(
        [A(NameOID.SERIAL_NUMBER, " 12  34 ", _type=_ASN1Type.NumericString)]
    ),
    "bit string kept as is": x509.Name(
        [A(NameOID.X500_UNIQUE_IDENTIFIER, b"\x00\xab", _type=_ASN1Type.BitString)]
    ),
    "multi-valued rdn, order changed by lower-casing": x509.Name(
        [
            RDN(
                [
                    A(NameOID.COMMON_NAME, "b"),
                    A(NameOID.COMMON_NAME, "A", _type=_ASN1Type.PrintableString),
                    A(NameOID.EMAIL_ADDRESS, "X@Y"),
                ]
            ),
            RDN([A(NameOID.ORGANIZATION_NAME, "NHS")]),
        ]
    ),
    "repeated attribute": x509.Name(
        [A(NameOID.ORGANIZATIONAL_UNIT_NAME, "CA"), A(NameOID.ORGANIZATIONAL_UNIT_NAME, "ca ")]
    ),
    "empty name": x509.Name([]),
}


@pytest.mark.parametrize("name", _AWKWARD.values(), ids=list(_AWKWARD))
def test_hash_matches_openssl_on_awkward_names(name: x509.Name) -> None:
    """Case, spaces, non-ASCII, string types, multi-valued RDNs, empty: as openssl hashes."""
    certificate = _self_signed(name)
    expected = _openssl_hash(certificate.public_bytes(serialization.Encoding.DER))
    assert openssl_certificate_hash(certificate) == expected
    assert openssl_subject_hash(name) == expected


_RAW_SUBJECTS = {
    "t61 latin-1 bytes": _der(0x30, _der(0x31, _atv(_CN, _der(0x14, b"Caf\xe9 \xc9COLE")))),
    "sequence value kept whole": _der(
        0x30, _der(0x31, _atv(_CN, _der(0x30, _der(0x0C, b"Inside  A SEQUENCE"))))
    ),
    "set of out of der order": _der(
        0x30,
        _der(0x31, _atv(_OU, _der(0x0C, b"Z")) + _atv(_CN, _der(0x13, b"Y"))),
    ),
    "bit string with stray unused bits": _der(
        0x30, _der(0x31, _atv(b"\x06\x03\x55\x04\x2d", _der(0x03, b"\x04\xff")))
    ),
    "long-form lengths": _der(0x30, _der(0x31, _atv(_CN, _der(0x0C, b"Long " * 40)))),
}


@pytest.mark.parametrize("subject", _RAW_SUBJECTS.values(), ids=list(_RAW_SUBJECTS))
def test_hash_matches_openssl_on_raw_subjects(subject: bytes) -> None:
    """Subjects cryptography will not build (Latin-1 T61, SEQUENCE values, unsorted SETs)."""
    assert openssl_subject_hash(subject) == _openssl_hash(_with_raw_subject(subject))


@pytest.mark.parametrize(
    "attribute",
    [
        A(NameOID.COMMON_NAME, "a🔐b", _type=_ASN1Type.BMPString),
        A(NameOID.COMMON_NAME, "Visible", _type=_ASN1Type.VisibleString),
        A(NameOID.COMMON_NAME, "240101000000Z", _type=_ASN1Type.UTCTime),
        A(NameOID.COMMON_NAME, "ab", _type=_ASN1Type.OctetString),
    ],
    ids=["bmp surrogates", "visible string", "utc time", "octet string"],
)
def test_names_openssl_cannot_read_have_no_hash(attribute: x509.NameAttribute[str]) -> None:
    """Where openssl refuses the certificate outright, the hash is a ValueError, not a guess."""
    certificate = _self_signed(x509.Name([attribute]))
    refused = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-hash", "-noout"],
        input=certificate.public_bytes(serialization.Encoding.DER),
        capture_output=True,
        check=False,
    )
    assert refused.returncode != 0
    with pytest.raises(ValueError, match="OpenSSL"):
        openssl_certificate_hash(certificate)


_ASCII = [*"AbCdEz09 .-'", "\t", "\n", "\v", "\f", "\r"]
_WIDE = ["é", "É", "ß", "中", "文", "\u00a0"]
#: Characters each string type may hold, as cryptography enforces when it signs.
_ALPHABETS = {
    _ASN1Type.UTF8String: [*_ASCII, *_WIDE, "🔐"],
    _ASN1Type.PrintableString: [*"AbCdEz09 .-'"],
    _ASN1Type.IA5String: _ASCII,
    _ASN1Type.T61String: [*_ASCII, *_WIDE],
    _ASN1Type.BMPString: [*_ASCII, *_WIDE],  # no surrogates: OpenSSL refuses those
    _ASN1Type.UniversalString: [*_ASCII, *_WIDE, "🔐"],
    _ASN1Type.NumericString: [*"0123 "],
}
_OIDS = [
    NameOID.COMMON_NAME,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.LOCALITY_NAME,
    NameOID.EMAIL_ADDRESS,
    NameOID.DOMAIN_COMPONENT,
]


@st.composite
def _attributes(draw: st.DrawFn) -> x509.NameAttribute[str]:
    kind = draw(st.sampled_from(list(_ALPHABETS)))
    text = draw(st.text(alphabet=st.sampled_from(_ALPHABETS[kind]), min_size=1, max_size=12))
    return A(draw(st.sampled_from(_OIDS)), text, _type=kind)


@st.composite
def _names(draw: st.DrawFn) -> x509.Name:
    rdns = draw(
        st.lists(
            st.lists(_attributes(), min_size=1, max_size=3, unique_by=lambda a: (a.oid, a.value)),
            max_size=4,
        )
    )
    return x509.Name([RDN(attributes) for attributes in rdns])


@pytest.mark.slow
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_names())
def test_hash_matches_openssl_on_random_names(name: x509.Name) -> None:
    """Random names (types, case, spaces, non-ASCII, multi-valued RDNs) hash as openssl's."""
    certificate = _self_signed(name)
    expected = _openssl_hash(certificate.public_bytes(serialization.Encoding.DER))
    assert openssl_certificate_hash(certificate) == expected
    assert openssl_subject_hash(name) == expected


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
def test_certifi_roots_match_openssl_rehash(tmp_path: Path) -> None:
    """Every certifi root lands where `openssl rehash` links it: about 140 real subjects."""
    certifi = pytest.importorskip("certifi")
    roots = x509.load_pem_x509_certificates(Path(certifi.where()).read_bytes())
    for index, root in enumerate(roots):
        (tmp_path / f"root{index}.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    subprocess.run(["openssl", "rehash", str(tmp_path)], check=True, capture_output=True)
    linked = {
        str(link.readlink()): link.name.split(".")[0]
        for link in tmp_path.iterdir()
        if link.is_symlink()
    }
    assert len(linked) == len(roots)
    for index, root in enumerate(roots):
        assert openssl_certificate_hash(root) == linked[f"root{index}.pem"]


# --- the directory ----------------------------------------------------------------------------


def _store_of(*certificates: x509.Certificate) -> object:
    return TrustStoreBuilder().add_certificates(certificates).build()


def _pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def _verify(capath: Path, leaf: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CApath", str(capath), *extra, str(leaf)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_write_capath_layout(tmp_path: Path, pki: GeneratedPki) -> None:
    """write(path, "capath") makes <hash>.0 files, one readable PEM each, nothing else."""
    store = (
        TrustStoreBuilder()
        .add_certificates(
            [pki.g1.root.certificate, pki.g2.root.certificate, pki.g2.intermediate.certificate]
        )
        .build()
    )
    target = tmp_path / "capath"
    assert store.write(target, "capath") == target
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted(f"{openssl_certificate_hash(c)}.0" for c in store.certificates)
    for entry in store:
        content = (target / f"{openssl_certificate_hash(entry.certificate)}.0").read_bytes()
        assert content.startswith(b"# Alias: ")
        assert x509.load_pem_x509_certificates(content) == [entry.certificate]
    assert all(p.is_file() and not p.is_symlink() for p in target.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capath"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o755 & ~umask
    assert {p.stat().st_mode & 0o777 for p in target.iterdir()} == {0o644 & ~umask}
    assert store.to_capath() == {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(ValueError, match="directory"):
        store.serialize(StoreFormat.CAPATH)


def test_openssl_verify_capath(tmp_path: Path, pki: GeneratedPki) -> None:
    """`openssl verify -CApath` chains a G1 and a G2 leaf through the written directory."""
    store = (
        TrustStoreBuilder()
        .add_certificates(
            [
                pki.g1.root.certificate,
                pki.g1.intermediate.certificate,
                pki.g2.root.certificate,
                pki.g2.intermediate.certificate,
            ]
        )
        .build()
    )
    capath = store.write(tmp_path / "capath", "capath")
    for name, hierarchy in (("g1", pki.g1), ("g2", pki.g2)):
        result = _verify(capath, _pem(tmp_path / f"{name}.pem", hierarchy.client.certificate))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith(": OK")
    foreign = _verify(capath, _pem(tmp_path / "foreign.pem", pki.foreign.client.certificate))
    assert foreign.returncode != 0


def test_python_ssl_capath_handshake(tmp_path: Path, pki: GeneratedPki) -> None:
    """A Python ssl client with capath= trusts the G2 server; without the G2 root it refuses."""
    store = (
        TrustStoreBuilder()
        .add_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .build()
    )
    capath = store.write(tmp_path / "capath", "capath")
    partial = TrustStoreBuilder().add_certificates([pki.g1.root.certificate]).build()
    wrong = partial.write(tmp_path / "wrong", "capath")
    server_chain = _pem(
        tmp_path / "server.pem", pki.server.certificate, pki.g2.intermediate.certificate
    )
    server_key = tmp_path / "server-key.pem"
    server_key.write_bytes(pki.server.key_pem())
    client_chain, client_key = pki.g2.write_client(tmp_path, "client")
    client_ca = store.write(tmp_path / "truststore.pem")

    def handshake(directory: Path) -> bytes:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(capath=directory)
        context.load_cert_chain(client_chain, client_key)
        with (
            socket.create_connection(address, timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"ping\n")
            return tls.recv(64)

    with mutual_tls_server(cert_chain=server_chain, key=server_key, client_ca_file=client_ca) as (
        address
    ):
        assert handshake(capath) == b"ok"
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(wrong)


def _ca(subject: x509.Name) -> Issued:
    return make_certificate(subject, rsa_key(), ca=True)


@pytest.mark.slow
def test_same_hash_is_numbered_and_both_found(tmp_path: Path) -> None:
    """Two CAs with one subject (and one differing only in case) are .0, .1, .2, all used."""
    same = x509.Name([A(NameOID.COMMON_NAME, "Same CA")])
    alike = x509.Name([A(NameOID.COMMON_NAME, "  SAME   ca ")])
    cas = [_ca(same), _ca(same), _ca(alike)]
    store = TrustStoreBuilder().add_certificates([ca.certificate for ca in cas]).build()
    subject_hash = openssl_subject_hash(same)
    assert openssl_subject_hash(alike) == subject_hash
    capath = store.write(tmp_path / "capath", "capath")
    assert sorted(p.name for p in capath.iterdir()) == [f"{subject_hash}.{n}" for n in range(3)]
    files = capath_files(store.entries)
    assert list(files) == [f"{subject_hash}.{n}" for n in range(3)]
    assert [x509.load_pem_x509_certificate(data) for data in files.values()] == list(
        store.certificates
    )
    for index, ca in enumerate(cas):
        leaf = make_certificate(
            x509.Name([A(NameOID.COMMON_NAME, f"leaf {index}")]), rsa_key(), issuer=ca, ca=False
        )
        result = _verify(capath, _pem(tmp_path / f"leaf{index}.pem", leaf.certificate))
        assert result.returncode == 0, result.stderr


def test_overwrite_rules(tmp_path: Path, pki: GeneratedPki) -> None:
    """Non-empty directories, files and links are refused without overwrite; overwrite replaces."""
    store = TrustStoreBuilder().add_certificates([pki.g2.root.certificate]).build()
    target = tmp_path / "capath"
    target.mkdir()
    store.write(target, "capath")  # an empty directory is simply filled
    (target / "deadbeef.0").write_bytes(b"stale")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(OutputExistsError, match="not empty"):
        store.write(target, "capath")
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    store.write(target, "capath", overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == [
        f"{openssl_certificate_hash(pki.g2.root.certificate)}.0"
    ]
    afile = tmp_path / "afile"
    afile.write_bytes(b"keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    for blocked in (afile, link):
        for overwrite in (False, True):
            with pytest.raises(OutputExistsError):
                store.write(blocked, "capath", overwrite=overwrite)
    assert afile.read_bytes() == b"keep"
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "capath", "link"]


def test_failures_leave_nothing_behind(
    tmp_path: Path, pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure mid-write or at the swap leaves no temporary directory and the old one whole."""
    store = (
        TrustStoreBuilder()
        .add_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .build()
    )
    files = store.to_capath()
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match=r"new: cannot write it \(No space"):
        write_directory_atomically(tmp_path / "new", files, overwrite=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(os, "fsync", real_fsync)

    old = tmp_path / "capath"
    old.mkdir()
    (old / "deadbeef.0").write_bytes(b"old")
    real_rename = Path.rename

    def failing_rename(self: Path, target: Path) -> Path:
        if Path(target) == old:
            raise OSError(5, "Input/output error")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", failing_rename)
    with pytest.raises(OutputError, match="cannot create"):
        write_directory_atomically(old, files, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["capath"]
    assert {p.name: p.read_bytes() for p in old.iterdir()} == {"deadbeef.0": b"old"}


def test_read_back_catches_what_openssl_would_miss(pki: GeneratedPki) -> None:
    """Wrong hash names, numbering gaps, two certificates in a file, stray files are refused."""
    store = (
        TrustStoreBuilder()
        .add_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .build()
    )
    files = store.to_capath()
    check_capath_read_back(store, files, "dir")
    (first, first_pem), (second, second_pem) = files.items()
    bad = {
        "wrong hash": {"00000000.0": first_pem, second: second_pem},
        "gap": {first.replace(".0", ".1"): first_pem, second: second_pem},
        "two in one": {first: first_pem + second_pem},
        "stray file": {**files, "README": b"x"},
        "missing": {first: first_pem},
    }
    for label, contents in bad.items():
        with pytest.raises(ReadBackError):
            check_capath_read_back(store, contents, label)
    with pytest.raises(ValueError, match=r"not a <hash>\.N"):
        check_capath_files({"README": b""}, "dir")


def test_unreadable_subject_is_refused_before_writing(tmp_path: Path) -> None:
    """A CA whose subject OpenSSL cannot read is a CheckError naming it; nothing is written."""
    odd = _self_signed(x509.Name([A(NameOID.COMMON_NAME, "Odd", _type=_ASN1Type.VisibleString)]))
    store = TrustStoreBuilder().add_certificates([odd], source="odd.pem").at(_START).build()
    with pytest.raises(CheckError, match=r"odd\.pem"):
        store.write(tmp_path / "capath", "capath")
    assert list(tmp_path.iterdir()) == []


def test_cli_build_writes_capath(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`build --formats pem,capath` writes DIR/capath/ that openssl verifies NHS G2 against."""
    out = tmp_path / "out"
    status = main(["build", "--env", "int", "--out", str(out), "--formats", "pem,capath"])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["capath", "truststore.pem"]
    assert f"wrote {out / 'capath'} (capath, " in capsys.readouterr().out
    result = _verify(out / "capath", BUNDLES / "nhs-int-authentication-g2.pem")
    assert result.returncode == 0, result.stderr
    # The same directory again: left as it is; another environment's: refused, or --force.
    assert main(["build", "--env", "int", "--out", str(out), "--formats", "capath"]) == 0
    assert f"unchanged {out / 'capath'} (capath, " in capsys.readouterr().out
    assert main(["build", "--env", "dep", "--out", str(out), "--formats", "capath"]) != 0
    assert "already exists and is not what this build makes (its files differ)" in (
        capsys.readouterr().err
    )
    assert main(["build", "--env", "dep", "--out", str(out), "--formats", "capath", "--force"]) == 0
