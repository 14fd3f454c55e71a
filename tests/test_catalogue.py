"""The NHS catalogue: pins, chains, metadata and per-environment selection of the real certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from tests.conftest import BUNDLES
from truststore_builder import (
    Environment,
    Generation,
    MalformedInputError,
    PinMismatchError,
    load_nhs_catalogue,
    nhs_catalogue,
)
from truststore_builder._sources.nhs import bundle_directory

if TYPE_CHECKING:
    from pathlib import Path

# The pins, restated from ../shared/nhs-pki/README.md so that a change to the manifest shows.
PINS = {
    "nhs-root-authority": "cb7f39edd261631fe95995030f793c90d3db6d84912b0ff7a1a96fedea6d9f10",
    "nhs-level-1c": "b2a983f5284f267c9e7705af4a69387b8d2af5e281e194e6a279e033b06c7fdf",
    "nhs-root-authority-g2": "c418cfa50aad03d826fa1a6932b8187be18193f4b25a7a56f30df45d5f89f8f7",
    "nhs-authentication-g2": "1cb94b89dd6e3cbeb498f43f85aac7f7ea3a833805ba0a37396d669eaa794639",
    "nhs-ptl-root-authority": "7759a087977a9e37793093561149ee40b299c7027f4fa2a1c4e9eefeabc1b7d8",
    "nhs-int-level-1c": "67465bf8d72d1493d441ad1bc8f08b1ec2de9771c1cc40bb09b11bb72de14c0e",
    "nhs-dep-level-1c": "7e1c6b1244af68ec864f3af7fd020d052c2a096f3e58b6dec21c07a584d8ca41",
    "nhs-ptl-root-authority-g2": "540f7cd6111510ef8a4a78939b39a075c71a68f0ce71bbf28141f7c6be357f8f",
    "nhs-int-authentication-g2": "eb17b9fe90a19dbfe962bf41d3c907558f6f787e2fd1602268dfca9d3fdbf857",
    # From mesh-client's repository history (commit 27e4c53), listed in the README's more/.
    "nhs-dev-level-1c": "ca6dfb3bcdb1672d45d6c2a2baae4a6854e3dd23411a92363db35c4b505c01e8",
    "nhs-tra-level-1c": "4980388036338ff0ba4e5f7e9ce8a73de0818c2f842e484bbe7d943ae498b9a9",
}

# The retired CAs, restated from the README's "Retired NHS CAs" table.
RETIRED = {
    "nhs-root-authority": "cb7f39edd261631fe95995030f793c90d3db6d84912b0ff7a1a96fedea6d9f10",
    "nhs-level-1c": "b2a983f5284f267c9e7705af4a69387b8d2af5e281e194e6a279e033b06c7fdf",
    "nhs-old-int-rootca": "3575b04356d61ca0ffe4c97b3f89db48b675b4e3319ca0f8d4b42c9bd85a5313",
    "nhs-old-int-subca02": "0065c0b77bc859936b672f687069cdc81349fdc3677998649bdb9441dcc9954a",
    "hscic-opentest-rootca": "0fd92d60a8ad5320aa9c8fc296cd9c37d05a8e0ea60b8276ff741937ef9abd89",
    "hscic-opentest-subca02": "a511156ca41b592aa161414626629947f3ed2946ee5b1fdd78fe46734fd56797",
    "digicert-sha2-secure-server-ca": (
        "154c433c491929c5ef686e838e323664a00e6a0d822ccc958fb4dab03e49a08f"
    ),
}

SELECTIONS = {
    "prod": [
        "nhs-root-authority",
        "nhs-level-1c",
        "nhs-root-authority-g2",
        "nhs-authentication-g2",
    ],
    "int": [
        "nhs-ptl-root-authority",
        "nhs-int-level-1c",
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ],
    "dep": [
        "nhs-ptl-root-authority",
        "nhs-dep-level-1c",
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    ],
    "dev": ["nhs-ptl-root-authority", "nhs-dev-level-1c"],
    "tra": ["nhs-ptl-root-authority", "nhs-tra-level-1c"],
}


def test_every_shipped_certificate_matches_its_pin() -> None:
    """Each of the eleven shipped certificates hashes to the fingerprint NHS England's copy has."""
    catalogue = nhs_catalogue()
    assert set(catalogue.certificates) == set(PINS)
    for slug, pin in PINS.items():
        der = catalogue.certificates[slug].public_bytes(Encoding.DER)
        assert hashlib.sha256(der).hexdigest() == pin
        assert catalogue.get(slug).sha256 == pin


def test_bundle_is_found_in_the_source_checkout() -> None:
    """From a source checkout the catalogue is read from the top-level bundles/ directory."""
    assert bundle_directory().resolve() == BUNDLES.resolve()


@pytest.mark.parametrize("environment", sorted(SELECTIONS))
def test_selection_per_environment(environment: str) -> None:
    """Each environment selects its G1 root and intermediate, then its G2 pair (DEV, TRA: none)."""
    selected = [ca.slug for ca, _ in nhs_catalogue().select(environment)]
    assert selected == SELECTIONS[environment]


@pytest.mark.parametrize(("generations", "wanted"), [(["g1"], "g1"), (["g2"], "g2")])
def test_selection_by_generation(generations: list[str], wanted: str) -> None:
    """Choosing one generation selects only that generation's CAs."""
    selected = nhs_catalogue().select("prod", generations)
    assert len(selected) == 2
    assert {ca.generation for ca, _ in selected} == {Generation(wanted)}


def test_selection_refuses_unknown_environment_and_empty_generations() -> None:
    """Unknown environments and an empty generation list are refused."""
    with pytest.raises(ValueError, match="staging"):
        nhs_catalogue().select("staging")
    with pytest.raises(ValueError, match="at least one generation"):
        nhs_catalogue().select("prod", [])


def test_each_intermediate_verifies_under_its_root() -> None:
    """Every shipped intermediate's signature verifies with its root's key, names matched as X.509."""
    catalogue = nhs_catalogue()
    pairs = {
        "nhs-level-1c": "nhs-root-authority",
        "nhs-authentication-g2": "nhs-root-authority-g2",
        "nhs-int-level-1c": "nhs-ptl-root-authority",
        "nhs-dep-level-1c": "nhs-ptl-root-authority",
        "nhs-int-authentication-g2": "nhs-ptl-root-authority-g2",
        "nhs-dev-level-1c": "nhs-ptl-root-authority",
        "nhs-tra-level-1c": "nhs-ptl-root-authority",
    }
    for child, parent in pairs.items():
        catalogue.certificates[child].verify_directly_issued_by(catalogue.certificates[parent])
    for slug in ("nhs-root-authority-g2", "nhs-ptl-root-authority", "nhs-ptl-root-authority-g2"):
        root = catalogue.certificates[slug]
        root.verify_directly_issued_by(root)


def test_prod_g1_root_is_self_signed_with_sha1() -> None:
    """The prod G1 root signs itself with SHA-1, which cryptography's verifier refuses outright."""
    root = nhs_catalogue().certificates["nhs-root-authority"]
    assert root.signature_hash_algorithm is not None
    assert root.signature_hash_algorithm.name == "sha1"
    with pytest.raises(ValueError, match="Unsupported signature algorithm"):
        root.verify_directly_issued_by(root)
    public_key = root.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(root.signature, root.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303


def test_metadata_matches_the_certificates() -> None:
    """Names, roles and expiry in the manifest agree with the certificates themselves."""
    catalogue = nhs_catalogue()
    for slug, certificate in catalogue.certificates.items():
        ca = catalogue.get(slug)
        common_name = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert common_name == ca.name
        assert (ca.role == "root") == (certificate.issuer == certificate.subject)
    expiry = catalogue.certificates["nhs-root-authority"].not_valid_after_utc
    assert expiry.date() == dt.date(2024, 6, 4)


def test_pinned_only_int_level_1d_is_recognised_when_a_user_adds_it(shared_nhs_pki: Path) -> None:
    """INT Level 1D is not shipped but is named when a user has the file; it is a signing CA."""
    catalogue = nhs_catalogue()
    assert "nhs-int-level-1d" not in catalogue.certificates
    path = shared_nhs_pki / "more" / "nhs-int-level-1d.pem"
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    # Its pin's provenance: the genuine NHS PTL Root Authority signed it.
    certificate.verify_directly_issued_by(catalogue.certificates["nhs-ptl-root-authority"])
    recognised = catalogue.recognise(certificate)
    assert recognised is not None
    assert recognised.slug == "nhs-int-level-1d"
    assert recognised.purpose == "signing"
    assert all(ca.slug != "nhs-int-level-1d" for ca, _ in catalogue.select("int"))


@pytest.mark.parametrize("environment", ["dev", "tra"])
def test_shipped_dev_and_tra_files_are_the_shared_reference_copies(
    shared_nhs_pki: Path, environment: str
) -> None:
    """bundles/ holds byte for byte the DEV and TRA Level 1C of the reference data."""
    name = f"nhs-{environment}-level-1c.pem"
    assert (BUNDLES / name).read_bytes() == (shared_nhs_pki / "more" / name).read_bytes()


def test_retired_cas_are_pinned_never_shipped_and_named() -> None:
    """Every retired CA of the README is in the catalogue by its pin; only the G1 pair ships."""
    catalogue = nhs_catalogue()
    assert {ca.slug: ca.sha256 for ca in catalogue.retired} == RETIRED
    shipped = {
        hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest()
        for c in catalogue.certificates.values()
    }
    assert {ca.slug for ca in catalogue.retired if ca.sha256 in shipped} == {
        "nhs-root-authority",
        "nhs-level-1c",
    }
    for retired in catalogue.retired:
        assert catalogue.retirement_of(retired.sha256) is retired
        assert catalogue.retirement_of(retired.sha256.upper()) is retired
        assert retired.expired < dt.date(2026, 1, 1)
        assert retired.why


def test_the_real_prod_g1_pair_is_retired_and_g2_is_not(shared_nhs_pki: Path) -> None:
    """The real G1 files are named retired (expired 2024-06-04); the real G2 files are not."""
    catalogue = nhs_catalogue()
    for name in ("nhs-root-authority.pem", "nhs-level-1c.pem"):
        certificate = x509.load_pem_x509_certificate((shared_nhs_pki / name).read_bytes())
        retired = catalogue.retirement(certificate)
        assert retired is not None
        assert retired.expired == dt.date(2024, 6, 4)
    for name in ("nhs-root-authority-g2.pem", "nhs-ptl-root-authority.pem"):
        certificate = x509.load_pem_x509_certificate((shared_nhs_pki / name).read_bytes())
        assert catalogue.retirement(certificate) is None


def test_a_retired_record_with_a_bad_field_is_refused(tmp_path: Path) -> None:
    """A retired entry without a date, or with a short fingerprint, names its index."""
    copy = tmp_path / "bundles"
    shutil.copytree(BUNDLES, copy)
    manifest = copy / "manifest.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("expired = 2024-06-04", 'expired = "June"', 1))
    with pytest.raises(MalformedInputError, match=r"retired\[0\]: expired must be a TOML date"):
        load_nhs_catalogue(copy)
    manifest.write_text(text.replace('why = "the prod G1 root;', 'reason = "the prod G1 root;'))
    with pytest.raises(MalformedInputError, match=r"retired\[0\]: unknown keys \['reason'\]"):
        load_nhs_catalogue(copy)


def test_signing_g2_is_pinned_by_sha1() -> None:
    """NHS Signing G2 is pinned by its published SHA-1 thumbprint, the only fingerprint published."""
    ca = nhs_catalogue().get("nhs-signing-g2")
    assert ca.sha256 is None
    assert ca.sha1 == "49917cb5ed2b501bc278252c5c0ffccc5709a424"
    assert ca.environments == (Environment.PROD,)


def test_a_certificate_the_catalogue_does_not_know_is_not_recognised(pki: object) -> None:
    """A generated CA with an NHS-like name is not mistaken for an NHS CA: matching is by pin."""
    from tests.pki import GeneratedPki  # noqa: PLC0415

    assert isinstance(pki, GeneratedPki)
    assert nhs_catalogue().recognise(pki.g2.root.certificate) is None


def test_tampered_bundle_file_is_refused_naming_it(tmp_path: Path) -> None:
    """A catalogue file swapped for another certificate fails its pin, and the error names it."""
    copy = tmp_path / "bundles"
    shutil.copytree(BUNDLES, copy)
    (copy / "nhs-level-1c.pem").write_bytes((BUNDLES / "nhs-int-level-1c.pem").read_bytes())
    with pytest.raises(PinMismatchError) as caught:
        load_nhs_catalogue(copy)
    assert str(copy / "nhs-level-1c.pem") in str(caught.value)
    assert "NHS Level 1C" in str(caught.value)


def test_user_adds_a_file_to_a_copy_of_the_bundle(tmp_path: Path, shared_nhs_pki: Path) -> None:
    """A copy of the bundle with an extra pinned file loads, and the extra file is checked too."""
    copy = tmp_path / "bundles"
    shutil.copytree(BUNDLES, copy)
    manifest = copy / "manifest.toml"
    text = manifest.read_text()
    text = text.replace(
        'sha256 = "943820bca78dcb3c891d65b7ee26f1a0370b67e3e298d311e1db0b90aed74009"',
        'sha256 = "943820bca78dcb3c891d65b7ee26f1a0370b67e3e298d311e1db0b90aed74009"\n'
        'file = "nhs-int-level-1d.pem"',
    )
    manifest.write_text(text)
    added = copy / "nhs-int-level-1d.pem"
    added.write_bytes((shared_nhs_pki / "more" / "nhs-int-level-1d.pem").read_bytes())
    assert "nhs-int-level-1d" in load_nhs_catalogue(copy).certificates
    # Not the INT Level 1D certificate: the pin must refuse it.
    added.write_bytes((BUNDLES / "nhs-int-level-1c.pem").read_bytes())
    with pytest.raises(PinMismatchError, match=r"nhs-int-level-1d\.pem"):
        load_nhs_catalogue(copy)


def test_manifest_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    """A typo in the manifest is reported with the manifest's path and the entry's index."""
    copy = tmp_path / "bundles"
    shutil.copytree(BUNDLES, copy)
    manifest = copy / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('role = "root"', 'roel = "root"', 1))
    with pytest.raises(MalformedInputError, match=r"ca\[0\]"):
        load_nhs_catalogue(copy)


def test_sha1_fingerprint_helper_is_not_used_for_sha256_pins() -> None:
    """Recognition by SHA-256 does not fall back to SHA-1 for CAs that have a SHA-256 pin."""
    catalogue = nhs_catalogue()
    certificate = catalogue.certificates["nhs-root-authority-g2"]
    sha1 = certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    assert all(ca.sha1 != sha1 for ca in catalogue.cas)
    recognised = catalogue.recognise(certificate)
    assert recognised is not None
    assert recognised.slug == "nhs-root-authority-g2"
