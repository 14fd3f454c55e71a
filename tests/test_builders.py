"""TrustStoreBuilder: immutability, de-duplication, order, aliases and the checks run by build()."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pki import GeneratedPki, Issued, make_certificate
from truststore_builder import (
    EnvironmentMismatchError,
    ExpiredCertificateWarning,
    NhsCa,
    NhsCatalogue,
    NotACertificateAuthorityError,
    nhs_catalogue,
)
from truststore_builder._builders import TrustStoreBuilder, alias_for
from truststore_builder._model import sha256_fingerprint

BEFORE_G1_EXPIRY = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _ca(common_name: str, **kwargs: object) -> x509.Certificate:
    """A quick self-signed EC CA certificate with this CN."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issued: Issued = make_certificate(name, _EC_KEY, ca=True, **kwargs)  # type: ignore[arg-type]
    return issued.certificate


def test_methods_return_new_builders_and_leave_the_original_alone() -> None:
    """A shared base builder is not changed by what is built on top of it."""
    base = TrustStoreBuilder().add_nhs("int", generations=["g2"])
    extended = base.add_nhs("int", generations=["g1"])
    assert [e.alias for e in base.build()] == [
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ]
    assert len(extended.build()) == 4


def test_prod_store_by_default_holds_the_cas_valid_at_build_time() -> None:
    """Prod G1 expired on 2024-06-04: by default the store is G2 only, G1 listed as dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = TrustStoreBuilder().add_nhs("prod").build()
    assert [e.alias for e in store] == ["nhs-root-authority-g2", "nhs-authentication-g2"]
    assert [e.alias for e in store.dropped] == ["nhs-root-authority", "nhs-level-1c"]
    # The control: before G1 expired, the same call keeps both generations.
    earlier = TrustStoreBuilder().add_nhs("prod").at(BEFORE_G1_EXPIRY).build()
    assert len(earlier) == 4
    assert earlier.dropped == ()


def test_ptl_stores_by_default_keep_both_generations() -> None:
    """INT and DEP keep G1 and G2 by default: both PTL hierarchies are still valid."""
    for environment in ("int", "dep"):
        store = TrustStoreBuilder().add_nhs(environment).build()
        assert len(store) == 4
        assert store.dropped == ()


def test_prod_g1_on_request_is_kept_with_a_warning_naming_the_expired_certificates() -> None:
    """Naming both generations keeps the expired G1 pair, and the warning names both."""
    with pytest.warns(ExpiredCertificateWarning) as caught:
        store = TrustStoreBuilder().add_nhs("prod", generations=["g1", "g2"]).build()
    assert len(store) == 4
    message = str(caught[0].message)
    assert "NHS Root Authority" in message
    assert "NHS Level 1C" in message
    assert "2024-06-04" in message
    assert [e.alias for e in store.expired] == ["nhs-root-authority", "nhs-level-1c"]


def test_a_g1_ca_added_again_by_file_is_kept() -> None:
    """The G1 root added by file as well as by the default selection is asked for: it stays."""
    root = nhs_catalogue().certificates["nhs-root-authority"]
    with pytest.warns(ExpiredCertificateWarning):
        store = TrustStoreBuilder().add_nhs("prod").add_certificates([root]).build()
    assert [e.alias for e in store] == [
        "nhs-root-authority",
        "nhs-root-authority-g2",
        "nhs-authentication-g2",
    ]
    assert [e.alias for e in store.dropped] == ["nhs-level-1c"]


def test_drop_expired_leaves_expired_certificates_out_and_says_which() -> None:
    """With drop_expired the prod store of both generations holds only G2, the rest listed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = TrustStoreBuilder().add_nhs("prod", ["g1", "g2"]).drop_expired().build()
    assert [e.alias for e in store] == ["nhs-root-authority-g2", "nhs-authentication-g2"]
    assert [e.alias for e in store.dropped] == ["nhs-root-authority", "nhs-level-1c"]


@pytest.mark.parametrize("environment", ["dev", "tra"])
def test_dev_and_tra_stores_hold_the_ptl_root_and_their_level_1c(environment: str) -> None:
    """DEV and TRA build: NHS PTL Root Authority and their own Level 1C, both shipped."""
    store = TrustStoreBuilder().add_nhs(environment).build()
    assert [e.alias for e in store] == ["nhs-ptl-root-authority", f"nhs-{environment}-level-1c"]
    with pytest.raises(ValueError, match=f"no g2 authentication CA for {environment}"):
        TrustStoreBuilder().add_nhs(environment, ["g2"])


def test_validation_time_can_be_given() -> None:
    """Judged at a time before the G1 expiry, the prod store raises no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = TrustStoreBuilder().add_nhs("prod").at(BEFORE_G1_EXPIRY).build()
    assert store.expired == ()
    assert store.validated_at == BEFORE_G1_EXPIRY


def test_naive_validation_time_is_refused() -> None:
    """A datetime without a timezone is ambiguous and refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        TrustStoreBuilder().at(dt.datetime(2025, 1, 1))  # noqa: DTZ001


def test_duplicates_are_removed_by_fingerprint() -> None:
    """The same certificate added from several sources appears once, from the first source."""
    certificate = nhs_catalogue().certificates["nhs-int-level-1c"]
    store = (
        TrustStoreBuilder()
        .add_nhs("int")
        .add_certificates([certificate, certificate], source="extra.pem")
        .build()
    )
    assert len(store) == 4
    assert store.entries[1].source == "nhs:nhs-int-level-1c"


def test_order_is_catalogue_first_then_by_subject_whatever_the_input_order(
    pki: GeneratedPki,
) -> None:
    """NHS CAs lead in catalogue order; other CAs follow sorted by subject, independent of input order."""
    others = [
        pki.g2.root.certificate,
        pki.g1.intermediate.certificate,
        pki.foreign.root.certificate,
    ]
    forward = TrustStoreBuilder().add_certificates(others).add_nhs("dep").build()
    backward = TrustStoreBuilder().add_nhs("dep").add_certificates(reversed(others)).build()
    assert [e.sha256 for e in forward] == [e.sha256 for e in backward]
    assert [e.alias for e in forward][:4] == [
        "nhs-ptl-root-authority",
        "nhs-dep-level-1c",
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ]
    assert [e.alias for e in forward][4:] == [
        "foreign-root-authority",
        "test-g1-level-1c",
        "test-g2-root-authority",
    ]


def test_same_subject_twice_both_survive_with_a_deterministic_suffix() -> None:
    """Two CAs with one subject both stay; the second alias carries its fingerprint's prefix."""
    first = _ca("Acme Issuing CA")
    second = _ca("Acme Issuing CA", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=99))
    store = TrustStoreBuilder().add_certificates([first, second]).build()
    aliases = [e.alias for e in store]
    assert len(aliases) == 2
    assert aliases[0] == "acme-issuing-ca"
    suffixed = store.entries[1]
    assert suffixed.alias == f"acme-issuing-ca-{suffixed.sha256[:8]}"
    again = TrustStoreBuilder().add_certificates([second, first]).build()
    assert [e.alias for e in again] == aliases


def test_aliases_differing_only_in_case_do_not_collide() -> None:
    """'ACME CA' and 'acme ca' would be one alias in Java: the second gets a suffix."""
    store = TrustStoreBuilder().add_certificates([_ca("ACME CA"), _ca("acme ca")]).build()
    aliases = [e.alias for e in store]
    assert len({a.lower() for a in aliases}) == 2


def test_leaf_is_refused_naming_the_source_unless_allowed(pki: GeneratedPki) -> None:
    """A client certificate is not a CA: refused with the source and subject named; allow_leaf admits it."""
    leaf = pki.g2.client.certificate
    with pytest.raises(NotACertificateAuthorityError) as caught:
        TrustStoreBuilder().add_certificates([leaf], source="client.pem").build()
    assert "client.pem" in str(caught.value)
    assert "not a CA certificate" in str(caught.value)
    store = TrustStoreBuilder().add_certificates([leaf]).allow_leaf().build()
    assert store.certificates == (leaf,)


def test_g1_style_ca_without_critical_constraints_is_a_ca(pki: GeneratedPki) -> None:
    """BasicConstraints CA:TRUE counts whether or not it is marked critical (as on NHS G1 CAs)."""
    store = TrustStoreBuilder().add_certificates([pki.g1.intermediate.certificate]).build()
    assert len(store) == 1


def test_ca_from_another_environment_is_refused() -> None:
    """An INT CA added to a prod build is refused, naming both environments and the file."""
    int_ca = nhs_catalogue().certificates["nhs-int-authentication-g2"]
    builder = TrustStoreBuilder().add_nhs("prod").add_certificates([int_ca], source="int-ca.pem")
    with pytest.raises(EnvironmentMismatchError) as caught:
        builder.build()
    message = str(caught.value)
    assert "int-ca.pem" in message
    assert "NHS INT Authentication G2" in message
    assert "prod" in message


def test_two_environments_can_share_a_store() -> None:
    """Asking for INT and DEP gives both G1 intermediates and the shared PTL roots once each."""
    store = TrustStoreBuilder().add_nhs("int").add_nhs("dep").build()
    assert [e.alias for e in store] == [
        "nhs-ptl-root-authority",
        "nhs-int-level-1c",
        "nhs-dep-level-1c",
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ]


def test_without_an_nhs_environment_any_ca_is_accepted() -> None:
    """A store built from user CAs only applies no environment rule, even to NHS CAs."""
    certificates = nhs_catalogue().certificates
    store = (
        TrustStoreBuilder()
        .add_certificates([certificates["nhs-int-level-1c"], certificates["nhs-root-authority-g2"]])
        .build()
    )
    assert [e.alias for e in store] == ["nhs-root-authority-g2", "nhs-int-level-1c"]


def test_add_certificates_refuses_other_objects() -> None:
    """Passing PEM bytes where certificate objects belong is a TypeError naming the type."""
    with pytest.raises(TypeError, match="bytes"):
        TrustStoreBuilder().add_certificates([b"-----BEGIN CERTIFICATE-----"])  # type: ignore[list-item]


def test_certifi_roots_join_after_the_nhs_certificates() -> None:
    """Opting in to certifi adds Mozilla's roots after the NHS CAs, every alias unique."""
    store = TrustStoreBuilder().add_nhs("int").add_certifi().drop_expired().build()
    assert len(store) > 100
    assert [e.alias for e in store][:4] == [
        "nhs-ptl-root-authority",
        "nhs-int-level-1c",
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ]
    assert len({e.alias for e in store}) == len(store)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(min_size=0, max_size=16), min_size=1, max_size=6))
def test_aliases_are_unique_lowercase_and_valid_for_any_names(names: list[str]) -> None:
    """Whatever the subjects, aliases are distinct ignoring case and use only [a-z0-9-]."""
    certificates = [_ca(name or " ") for name in names]
    store = TrustStoreBuilder().add_certificates(certificates).build()
    aliases = [e.alias for e in store]
    assert len({a.casefold() for a in aliases}) == len(store)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", a) for a in aliases)


def test_alias_for_folds_accents_and_punctuation() -> None:
    """Accented letters fold to ASCII and runs of punctuation become one hyphen."""
    assert alias_for(_ca("Hôpital  Général -- Root CA (2024)")) == "hopital-general-root-ca-2024"
    assert alias_for(_ca("???")) == "certificate"


def _first_pinned(catalogue: NhsCatalogue, certificate: x509.Certificate) -> NhsCa | None:
    """The rule, walked plainly: the first record in manifest order whose pin matches."""
    for ca in catalogue.cas:
        if ca.sha256 is not None:
            if ca.sha256 == sha256_fingerprint(certificate):
                return ca
        elif ca.sha1 == certificate.fingerprint(hashes.SHA1()).hex():  # noqa: S303 - a pin
            return ca
    return None


def test_recogniser_answers_as_the_catalogue_does(pki: GeneratedPki) -> None:
    """The catalogue's pin index answers as a walk of the manifest: SHA-256, else SHA-1, first wins."""
    catalogue = nhs_catalogue()
    g2_root, foreign = pki.g2.root.certificate, pki.foreign.root.certificate
    sha1 = g2_root.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - a pin, as the manifest's
    by_sha1 = attrs.evolve(catalogue.get("nhs-signing-g2"), slug="first-by-sha1", sha1=sha1)
    by_sha256 = attrs.evolve(
        catalogue.get("nhs-root-authority-g2"),
        slug="second-by-sha256",
        sha256=sha256_fingerprint(g2_root),
    )
    extended = attrs.evolve(catalogue, cas=(*catalogue.cas, by_sha1, by_sha256))
    certificates = [*catalogue.certificates.values(), g2_root, foreign]
    for known in (catalogue, extended):
        for certificate in certificates:
            der = certificate.public_bytes(Encoding.DER)
            found = known.recognise_der(der, sha256_fingerprint(certificate))
            assert found == known.recognise_der(der)
            assert found == known.recognise(certificate)
            assert found == _first_pinned(known, certificate)
    # Pinned twice: the earlier record (by SHA-1) wins over the later one (by SHA-256).
    der = g2_root.public_bytes(Encoding.DER)
    assert extended.recognise_der(der, sha256_fingerprint(g2_root)) == by_sha1
    assert extended.recognise(g2_root) == by_sha1


def test_build_does_not_warn_again_about_a_certificate_already_loaded() -> None:
    """A certificate cryptography warned about when it was loaded (serial 0) builds without a second warning."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Serial Zero CA")])
    now = dt.datetime.now(dt.UTC)
    der = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_EC_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(_EC_KEY, hashes.SHA256())
        .public_bytes(Encoding.DER)
    )
    version_and_serial = bytes.fromhex("a003020102020101")  # v3, then INTEGER 1
    assert der.count(version_and_serial) == 1
    zero = der.replace(version_and_serial, version_and_serial[:-1] + b"\x00")
    with pytest.warns(CryptographyDeprecationWarning, match="serial number"):
        certificate = x509.load_der_x509_certificate(zero)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = TrustStoreBuilder().add_certificates([certificate]).build()
    assert store.certificates == (certificate,)
