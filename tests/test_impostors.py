"""NHS names and generations go by pin and issuers by signature: a look-alike is never the NHS CA."""

from __future__ import annotations

import datetime as dt
import json
import ssl
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tests.pki import Issued, _name, catalogue_for, make_certificate, rsa_key
from tests.tls import configurable_tls_server
from truststore_builder import (
    Generation,
    IssuerKeyUsageError,
    KeyStoreBuilder,
    NhsImpostorError,
    TrustStoreBuilder,
    nhs_catalogue,
    verify_certificate,
)
from truststore_builder._cli import main
from truststore_builder._model import is_issued_by, issuer_path
from truststore_builder.endpoint import check_endpoint

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki

ROOT_G2 = "nhs-root-authority-g2"


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@pytest.fixture(scope="module")
def lookalike_root() -> Issued:
    """A self-signed root with the exact subject of NHS Root Authority G2 and another key."""
    genuine = nhs_catalogue().certificates[ROOT_G2]
    return make_certificate(genuine.subject, rsa_key(), ca=True)


@pytest.fixture(scope="module")
def lookalike_leaf(lookalike_root: Issued) -> Issued:
    """A client certificate the look-alike root issued directly."""
    return make_certificate(
        _name("client.lookalike.test", ou="Devices"), rsa_key(), issuer=lookalike_root, ca=False
    )


def test_build_refuses_a_lookalike_naming_it_and_its_sha256(lookalike_root: Issued) -> None:
    """TrustStoreBuilder.build() refuses an NHS subject on another key, with the CA and sha256."""
    builder = TrustStoreBuilder().add_nhs("prod", generations=["g2"])
    builder = builder.add_certificates([lookalike_root.certificate], source="lookalike.pem")
    with pytest.raises(NhsImpostorError) as caught:
        builder.build()
    error = caught.value
    fingerprint = lookalike_root.certificate.fingerprint(hashes.SHA256()).hex()
    assert (error.nhs_name, error.sha256, error.source) == (
        "NHS Root Authority G2",
        fingerprint,
        "lookalike.pem",
    )
    assert "claims to be NHS Root Authority G2 but is not the pinned certificate" in str(error)
    assert fingerprint in str(error)
    # The genuine certificate, added the same way, is accepted (the control).
    genuine = nhs_catalogue().certificates[ROOT_G2]
    store = TrustStoreBuilder().add_certificates([genuine]).build()
    assert [e.alias for e in store] == [ROOT_G2]


def test_the_test_pki_option_lets_it_in_without_the_nhs_name(lookalike_root: Issued) -> None:
    """allow_test_pki_impostors() keeps the look-alike, but no NHS record, alias or generation."""
    store = (
        TrustStoreBuilder()
        .add_nhs("prod", generations=["g2"])
        .add_certificates([lookalike_root.certificate])
        .allow_test_pki_impostors()
        .build()
    )
    by_alias = {entry.alias: entry for entry in store}
    assert by_alias["nhs-root-authority-g2-test-pki"].nhs is None
    assert by_alias[ROOT_G2].nhs is not None  # the genuine one keeps its name


def test_build_command_refuses_and_writes_nothing(
    lookalike_root: Issued, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Build --add with a look-alike exits 1 with one line naming file and sha256; out/ is not made."""
    added = tmp_path / "lookalike.pem"
    added.write_bytes(lookalike_root.cert_pem())
    out = tmp_path / "out"
    argv = ["build", "--env", "prod", "--generations", "g2", "--add", str(added)]
    assert main([*argv, "--out", str(out), "--formats", "pem"]) == 1
    error = capsys.readouterr().err.strip()
    fingerprint = lookalike_root.certificate.fingerprint(hashes.SHA256()).hex()
    assert error.count("\n") == 0
    assert str(added) in error
    assert fingerprint in error
    assert not out.exists()
    assert main([*argv, "--out", str(out), "--formats", "pem", "--allow-test-pki-impostors"]) == 0
    assert "Alias: nhs-root-authority-g2-test-pki" in (out / "truststore.pem").read_text()


def test_keystore_build_gives_no_generation_under_a_lookalike(
    lookalike_root: Issued, lookalike_leaf: Issued
) -> None:
    """A key store for a client under the look-alike: refused by default, allowed with no g2."""
    builder = (
        KeyStoreBuilder()
        .add_nhs("prod", generations=["g2"])
        .add_trusted_certificates([lookalike_root.certificate])
        .with_identity(lookalike_leaf.certificate, lookalike_leaf.key)
    )
    with pytest.raises(NhsImpostorError):
        builder.build()
    keystore = builder.allow_test_pki_impostors().build()
    assert keystore.report.generation is None
    assert keystore.report.issuer_nhs is None
    assert keystore.chain == (lookalike_leaf.certificate, lookalike_root.certificate)


def test_verify_calls_a_lookalike_by_its_own_subject(
    lookalike_root: Issued,
    lookalike_leaf: Issued,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Verify beside the genuine G2 root: the signer is the look-alike, so no NHS name or g2."""
    trust = tmp_path / "lookalike.pem"
    trust.write_bytes(lookalike_root.cert_pem())
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(lookalike_leaf.cert_pem())
    report = verify_certificate(leaf, environment="prod", trust=trust)
    assert report.issuer_nhs is None
    assert report.generation is None
    assert report.chain[1] == lookalike_root.certificate
    assert main(["verify", str(leaf), "--env", "prod", "--trust", str(trust), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["generation"], document["issuer"]) == (None, None)
    assert document["chain"][1]["nhs_name"] is None
    assert document["chain"][1]["lookalike_of"] == "NHS Root Authority G2"
    assert main(["verify", str(leaf), "--env", "prod", "--trust", str(trust)]) == 0
    text = capsys.readouterr().out
    assert "verifies (not NHS)" in text
    assert "NOT the pinned NHS Root Authority G2" in text
    assert "(g2)" not in text


def test_issuer_walk_goes_by_signature_not_name(pki: GeneratedPki) -> None:
    """Of two CAs with the intermediate's name, the walk takes the one whose key signed."""
    genuine = pki.g2.intermediate.certificate
    namesake = make_certificate(genuine.subject, rsa_key(), issuer=pki.g2.root, ca=True)
    client = pki.g2.client.certificate
    assert not is_issued_by(client, namesake.certificate)
    assert is_issued_by(client, genuine)
    path, missing = issuer_path(client, [namesake.certificate, genuine, pki.g2.root.certificate])
    assert (path, missing) == ([client, genuine, pki.g2.root.certificate], None)
    path, missing = issuer_path(client, [namesake.certificate])
    assert (path, missing) == ([client], genuine.subject)


def test_sha1_signatures_are_checked_not_assumed() -> None:
    """The prod G1 root's SHA-1 self-signature is checked with its key; a flipped bit fails it."""
    root = nhs_catalogue().certificates["nhs-root-authority"]
    assert is_issued_by(root, root)
    der = bytearray(root.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the signature
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert not is_issued_by(tampered, tampered)


def test_endpoint_identity_under_a_lookalike_has_no_generation(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """check: an identity signed by a look-alike of the G2-like CA gets no generation; G2 gets g2."""
    catalogue = catalogue_for(pki)
    namesake = make_certificate(
        pki.g2.intermediate.certificate.subject, rsa_key(), issuer=pki.g2.root, ca=True
    )
    client = make_certificate(
        _name("client.lookalike.test", ou="Devices"), rsa_key(), issuer=namesake, ca=False
    )
    (tmp_path / "lookalike-chain.pem").write_bytes(_pem(client.certificate, namesake.certificate))
    (tmp_path / "lookalike-key.pem").write_bytes(client.key_pem())
    server_chain = tmp_path / "server.pem"
    server_chain.write_bytes(_pem(pki.server.certificate, pki.g2.intermediate.certificate))
    server_key = tmp_path / "server-key.pem"
    server_key.write_bytes(pki.server.key_pem())
    trust = tmp_path / "trust.pem"
    trust.write_bytes(_pem(pki.g2.root.certificate, pki.g2.intermediate.certificate))
    with configurable_tls_server(
        cert_chain=server_chain, key=server_key, client_ca_file=None, verify_mode=ssl.CERT_NONE
    ) as address:
        report = check_endpoint(
            *address,
            trust=trust,
            server_name="localhost",
            catalogue=catalogue,
            timeout=5,
            identities={
                "lookalike": (tmp_path / "lookalike-chain.pem", tmp_path / "lookalike-key.pem"),
                "g2": pki.g2.write_client(tmp_path, "g2"),
            },
        )
    lookalike, g2 = report.identities
    assert lookalike.generation is None
    assert g2.generation is Generation.G2
    assert report.server is not None
    assert report.server.generation is Generation.G2


def _issuer_without_key_cert_sign(root: Issued) -> Issued:
    """An intermediate CA whose keyUsage allows digitalSignature and cRLSign only."""
    key = rsa_key()
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("No KeyCertSign CA"))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(root.key, hashes.SHA256())
    )
    return Issued(certificate, key)


def test_verify_refuses_an_issuer_without_key_cert_sign(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An issuer whose keyUsage lacks keyCertSign fails the issuer-key-usage rule, named."""
    issuer = _issuer_without_key_cert_sign(pki.g2.root)
    client = make_certificate(
        _name("client.nokcs.test", ou="Devices"), rsa_key(), issuer=issuer, ca=False
    )
    chain = tmp_path / "chain.pem"
    chain.write_bytes(_pem(client.certificate, issuer.certificate))
    trust = tmp_path / "root.pem"
    trust.write_bytes(pki.g2.root.cert_pem())
    report = verify_certificate(chain, trust=trust)
    assert [type(f) for f in report.failures] == [IssuerKeyUsageError]
    assert "keyCertSign" in str(report.failures[0])
    assert main(["verify", str(chain), "--trust", str(trust)]) == 1
    assert "FAILED issuer-key-usage" in capsys.readouterr().out
    # The control: the same root's own intermediate (keyCertSign set) verifies.
    (tmp_path / "good.pem").write_bytes(_pem(*pki.g2.client_chain))
    assert verify_certificate(tmp_path / "good.pem", trust=trust).ok


def _variant(name: x509.Name, change: dict[str, str]) -> x509.Name:
    """``name`` with some attributes (by their RFC 4514 short name) given another value."""
    return x509.Name(
        x509.NameAttribute(
            attribute.oid, change.get(attribute.rfc4514_attribute_name, str(attribute.value))
        )
        for attribute in name
    )


@pytest.mark.parametrize(
    "change",
    [{"CN": "nhs root authority g2", "O": "nhs"}, {"CN": "NHS  Root Authority G2 "}],
    ids=["case", "spaces"],
)
def test_another_encoding_of_an_nhs_subject_still_claims_it(change: dict[str, str]) -> None:
    """Case or spaces (equal names to a chain builder, RFC 5280 7.1) do not slip a look-alike in."""
    genuine = nhs_catalogue().certificates[ROOT_G2]
    lookalike = make_certificate(_variant(genuine.subject, change), rsa_key(), ca=True)
    assert lookalike.certificate.subject != genuine.subject
    builder = TrustStoreBuilder().add_certificates([lookalike.certificate], source="variant.pem")
    with pytest.raises(NhsImpostorError, match="claims to be NHS Root Authority G2"):
        builder.build()
    allowed = builder.allow_test_pki_impostors().build()
    assert [e.alias for e in allowed] == [f"{ROOT_G2}-test-pki"]


def test_an_nhs_common_name_on_another_subject_never_gets_the_nhs_alias() -> None:
    """CN=NHS Root Authority G2 under O=Evil is no claim to refuse, but its alias says not NHS."""
    genuine = nhs_catalogue().certificates[ROOT_G2]
    other = make_certificate(_variant(genuine.subject, {"O": "Evil"}), rsa_key(), ca=True)
    store = TrustStoreBuilder().add_certificates([other.certificate]).build()
    assert [(e.alias, e.nhs) for e in store] == [(f"{ROOT_G2}-not-nhs", None)]
    # The control: the genuine certificate keeps the NHS alias.
    genuine_store = TrustStoreBuilder().add_certificates([genuine]).build()
    assert [e.alias for e in genuine_store] == [ROOT_G2]
