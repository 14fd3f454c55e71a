"""``nhs update`` / propose_catalogue_update: a user catalogue from CA files downloaded from NHS England.

The NHS roots are stood in for by generated ones: a catalogue directory written in the test
pins them (the shipped pins are not touched). NHS England's publication point is a loopback
HTTP server laid out like pki.nhs.uk (``/live/G2/auth/NHSauthG2.crt``, DER), and the files are
fetched with curl, as a user would. The store built from the new catalogue is proven by
``openssl verify``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import json
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from tests.commands import run as run_program
from tests.commands import run_cli
from tests.conftest import BUNDLES
from tests.pki import Issued, _name, make_certificate, rsa_key
from tests.servers import loopback_http_server
from tests.tls import configurable_tls_server
from truststore_builder import (
    CatalogueUpdateError,
    Environment,
    Generation,
    NhsCa,
    NhsCatalogue,
    PinMismatchError,
    TrustStoreBuilder,
    load_nhs_catalogue,
    sha256_fingerprint,
)
from truststore_builder._sources.nhs import write_nhs_catalogue
from truststore_builder.catalogue import (
    CatalogueChangeKind,
    propose_catalogue_update,
    write_catalogue,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

_NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@attrs.frozen
class StandIn:
    """Generated CAs standing in for NHS ones, and what NHS England 'publishes' next."""

    prod_root: Issued
    prod_auth: Issued
    ptl_root: Issued
    int_auth: Issued
    # Published after the catalogue was written:
    new_prod: Issued  # a genuine new intermediate under the prod root
    leaf: Issued  # an endpoint certificate it issues
    forged: Issued  # the prod intermediate's name, issuer name right, signature not the root's
    expired: Issued  # genuine, under the prod root, expired ten days ago
    g3_root: Issued  # a root the catalogue does not know
    g3_auth: Issued  # its intermediate
    new_int: Issued  # a genuine new intermediate under the PTL root: INT or DEP?


def _ca(
    name: str,
    *,
    issuer: Issued | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    org = "NHS" if issuer is None else "nhs"
    return make_certificate(
        _name(name, org=org),
        rsa_key(),
        issuer=issuer,
        ca=True,
        not_before=not_before,
        not_after=not_after,
    )


@pytest.fixture(scope="module")
def stand_in() -> StandIn:
    """The generated stand-ins, once for the module (RSA keys take a moment)."""
    prod_root = _ca("Test Root Authority G2")
    ptl_root = _ca("Test PTL Root Authority G2")
    prod_auth = _ca("Test Authentication G2", issuer=prod_root)
    new_prod = _ca("Test Authentication G2 Issuing 2", issuer=prod_root)
    attacker = Issued(prod_root.certificate, rsa_key())  # the root's name, not its key
    g3_root = _ca("Test Root Authority G3")
    return StandIn(
        prod_root=prod_root,
        prod_auth=prod_auth,
        ptl_root=ptl_root,
        int_auth=_ca("Test INT Authentication G2", issuer=ptl_root),
        new_prod=new_prod,
        leaf=make_certificate(
            _name("spine.test.nhs.uk", ou="Devices"), rsa_key(), issuer=new_prod, ca=False
        ),
        forged=_ca("Test Authentication G2", issuer=attacker),
        expired=_ca(
            "Test Authentication G2 Old",
            issuer=prod_root,
            not_before=_NOW - dt.timedelta(days=400),
            not_after=_NOW - dt.timedelta(days=10),
        ),
        g3_root=g3_root,
        g3_auth=_ca("Test Authentication G3", issuer=g3_root),
        new_int=_ca("Test INT Authentication G3", issuer=ptl_root),
    )


def _record(slug: str, issued: Issued, envs: tuple[str, ...], role: str) -> NhsCa:
    return NhsCa(
        slug=slug,
        name=slug.replace("-", " ").title(),
        environments=tuple(Environment(e) for e in envs),
        generation=Generation.G2,
        role=role,
        purpose="authentication",
        sha256=sha256_fingerprint(issued.certificate),
        file=f"{slug}.pem",
    )


@pytest.fixture
def base_catalogue(stand_in: StandIn, tmp_path: Path) -> Path:
    """A catalogue directory whose pins are the generated roots' (prod; PTL for int and dep)."""
    entries = [
        ("test-root-authority-g2", stand_in.prod_root, ("prod",), "root"),
        ("test-authentication-g2", stand_in.prod_auth, ("prod",), "intermediate"),
        ("test-ptl-root-authority-g2", stand_in.ptl_root, ("int", "dep"), "root"),
        ("test-int-authentication-g2", stand_in.int_auth, ("int", "dep"), "intermediate"),
    ]
    catalogue = NhsCatalogue(
        cas=tuple(_record(*entry) for entry in entries),
        certificates={slug: issued.certificate for slug, issued, *_ in entries},
        directory=Path("<generated>"),
    )
    directory = tmp_path / "base-catalogue"
    write_nhs_catalogue(catalogue, directory)
    return directory


def _der(issued: Issued) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.DER)


#: Where pki.nhs.uk's layout puts each file (its AIA URLs: /live/G2/auth/NHSauthG2.crt, ...).
SITE = {
    "live/G2/issuing/NHSissuingG2.crt": ("new_prod", "der"),
    "live/G2/auth/NHSauthG2.crt": ("forged", "der"),
    "live/G2/old/NHSoldG2.crt": ("expired", "der"),
    "live/G3/root/NHSRootAuthorityG3.crt": ("g3_root", "der"),
    "live/G3/auth/NHSauthG3.cer": ("g3_auth", "pem"),
    "int/G3/auth/NHSINTAuthG3.p7b": ("new_int", "p7b"),
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        """Say nothing: the test's output is pytest's."""


@pytest.fixture
def pki_site(stand_in: StandIn, tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server laid out like pki.nhs.uk; yields its base URL, stopped after."""
    root = tmp_path / "site"
    for path, (which, encoding) in SITE.items():
        issued: Issued = getattr(stand_in, which)
        if encoding == "der":
            data = _der(issued)
        elif encoding == "pem":
            data = issued.cert_pem()
        else:
            data = pkcs7.serialize_certificates([issued.certificate], serialization.Encoding.DER)
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    with loopback_http_server(functools.partial(_QuietHandler, directory=str(root))) as url:
        yield url


@pytest.fixture
def downloaded(pki_site: str, tmp_path: Path) -> Path:
    """Every published file, fetched with curl into a directory of the same layout."""
    directory = tmp_path / "downloads"
    for path in SITE:
        done = run_program(
            "curl", "--fail", "--silent", "--show-error", "--create-dirs",
            "-o", directory / path, f"{pki_site}/{path}",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return directory


def _bundle_digests() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(BUNDLES.iterdir())
    }


def _rows(stdout: str) -> dict[str, str]:
    """The table's rows by file name (the last path component)."""
    rows = {}
    for line in stdout.splitlines():
        for path in SITE:
            if path in line:
                rows[path] = line
    return rows


def test_the_whole_mirror_is_judged_and_nothing_is_written_while_one_is_refused(
    downloaded: Path, base_catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every kind at once: the table names each file's fate; a refusal writes nothing."""
    before = _bundle_digests()
    out = tmp_path / "user-catalogue"
    status, stdout, stderr = run_cli(
        ["nhs", "update", "--catalogue", str(base_catalogue), "--from", str(downloaded),
         "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert status == 1, stderr
    rows = _rows(stdout)
    assert rows["live/G2/issuing/NHSissuingG2.crt"].startswith("added")
    assert "signature verified" in rows["live/G2/issuing/NHSissuingG2.crt"]
    assert rows["live/G2/auth/NHSauthG2.crt"].startswith("refused")
    assert "forged" in rows["live/G2/auth/NHSauthG2.crt"]
    assert "the subject of Test Authentication G2 without its pin" in stdout
    assert rows["live/G2/old/NHSoldG2.crt"].startswith("expired")
    assert rows["live/G3/root/NHSRootAuthorityG3.crt"].startswith("refused")
    assert "unknown root" in rows["live/G3/root/NHSRootAuthorityG3.crt"]
    assert rows["live/G3/auth/NHSauthG3.cer"].startswith("refused")
    assert rows["int/G3/auth/NHSINTAuthG3.p7b"].startswith("refused")
    assert "int,dep: say which with --env" in rows["int/G3/auth/NHSINTAuthG3.p7b"]
    # The refusal is the error, naming each file; the expired one is a warning.
    assert "NHSauthG2.crt" in stderr
    assert "NHSRootAuthorityG3.crt" in stderr
    assert "warning:" in stderr
    assert "NHSoldG2.crt" in stderr
    assert "expired" in stderr
    assert not out.exists()
    assert _bundle_digests() == before


def test_new_intermediates_and_a_pinned_root_reach_a_store_openssl_verifies(
    stand_in: StandIn,
    downloaded: Path,
    base_catalogue: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each kind of new CA, one update at a time, then a store built from the result."""
    before = _bundle_digests()
    first = _add_the_new_prod_intermediate(stand_in, downloaded, base_catalogue, tmp_path, capsys)
    second = _add_the_pinned_root(stand_in, downloaded, first, tmp_path, capsys)
    third = _add_the_ptl_intermediate(stand_in, downloaded, second, tmp_path, capsys)
    added = load_nhs_catalogue(third).recognise(stand_in.new_prod.certificate)
    assert added is not None
    _prove_with_openssl(stand_in, added.slug, third, base_catalogue, tmp_path, capsys)
    # Python: the same catalogue, through with_catalogue.
    store = TrustStoreBuilder().with_catalogue(load_nhs_catalogue(third)).add_nhs("prod").build()
    assert added.slug in [entry.alias for entry in store]
    assert _bundle_digests() == before


def _add_the_new_prod_intermediate(
    stand_in: StandIn,
    downloaded: Path,
    base_catalogue: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """A genuine prod intermediate is added; the expired one is warned about and left out."""
    first = tmp_path / "catalogue-1"
    status, stdout, stderr = run_cli(
        ["nhs", "update", "--catalogue", str(base_catalogue),
         "--from", str(downloaded / "live/G2/issuing"), str(downloaded / "live/G2/old"),
         "--out", str(first)],
        capsys,
    )  # fmt: skip
    assert status == 0, stderr
    assert "1 added, 0 unchanged, 1 expired (left out), 0 refused" in stdout
    assert "NHSoldG2.crt" in stderr
    catalogue = load_nhs_catalogue(first)
    added = catalogue.recognise(stand_in.new_prod.certificate)
    assert added is not None
    assert (added.environments, added.generation, added.role) == (
        (Environment.PROD,),
        Generation.G2,
        "intermediate",
    )
    assert catalogue.recognise(stand_in.expired.certificate) is None
    # Catalogue order: the new CA follows its root's block, before the PTL root.
    slugs = [ca.slug for ca in catalogue.cas]
    assert slugs.index(added.slug) < slugs.index("test-ptl-root-authority-g2")
    return first


def _add_the_pinned_root(
    stand_in: StandIn,
    downloaded: Path,
    first: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """An unknown root: refused without its pin, accepted with it (and its intermediate)."""
    g3_sha256 = sha256_fingerprint(stand_in.g3_root.certificate)
    second = tmp_path / "catalogue-2"
    g3 = ["nhs", "update", "--catalogue", str(first), "--from", str(downloaded / "live/G3")]
    status, _, stderr = run_cli([*g3, "--out", str(second)], capsys)
    assert status == 1
    assert "--pin" in stderr
    assert not second.exists()
    pinned = [*g3, "--pin", f"sha256:{g3_sha256.upper()}", "--env", "prod", "--generation", "g2"]
    status, stdout, stderr = run_cli([*pinned, "--out", str(second)], capsys)
    assert status == 0, stderr
    assert "2 added" in stdout
    catalogue = load_nhs_catalogue(second)
    root = catalogue.recognise(stand_in.g3_root.certificate)
    assert root is not None
    assert root.role == "root"
    assert catalogue.recognise(stand_in.g3_auth.certificate) is not None
    return second


def _add_the_ptl_intermediate(
    stand_in: StandIn,
    downloaded: Path,
    second: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """A PTL intermediate: INT or DEP is the user's to say."""
    third = tmp_path / "catalogue-3"
    ptl = ["nhs", "update", "--catalogue", str(second), "--from", str(downloaded / "int")]
    status, _, stderr = run_cli([*ptl, "--out", str(third)], capsys)
    assert status == 1
    assert "--env" in stderr
    status, _, stderr = run_cli([*ptl, "--env", "prod", "--out", str(third)], capsys)
    assert status == 1
    assert "not --env prod" in stderr
    status, _, stderr = run_cli([*ptl, "--env", "int", "--out", str(third)], capsys)
    assert status == 0, stderr
    new_int = load_nhs_catalogue(third).recognise(stand_in.new_int.certificate)
    assert new_int is not None
    assert new_int.environments == (Environment.INT,)
    return third


def _prove_with_openssl(
    stand_in: StandIn,
    slug: str,
    third: Path,
    base_catalogue: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``build --catalogue`` holds the new CA, and openssl verifies a leaf under it."""
    leaf = _write(tmp_path / "leaf.pem", stand_in.leaf)

    def build_and_verify(name: str, *catalogue_option: str) -> tuple[str, int]:
        out = tmp_path / name
        argv = ["build", *catalogue_option, "--env", "prod", "--formats", "pem", "--out", str(out)]
        status, _, stderr = run_cli(argv, capsys)
        assert status == 0, stderr
        pem = (out / "truststore.pem").read_text()
        verified = run_program(
            "openssl", "verify", "-x509_strict", "-CAfile", out / "truststore.pem", leaf
        )
        return pem, verified.returncode

    pem, returncode = build_and_verify("store-new", "--catalogue", str(third))
    assert slug in pem
    assert returncode == 0
    # Negative controls: the catalogue it started from, and the shipped one.
    pem, returncode = build_and_verify("store-base", "--catalogue", str(base_catalogue))
    assert slug not in pem
    assert returncode != 0
    pem, returncode = build_and_verify("store-shipped")
    assert slug not in pem
    assert returncode != 0


def test_the_python_proposal_shows_itself_and_refuses_by_typed_error(
    stand_in: StandIn, downloaded: Path, base_catalogue: Path, tmp_path: Path
) -> None:
    """propose_catalogue_update shows itself; write_catalogue refuses while one is refused."""
    catalogue = load_nhs_catalogue(base_catalogue)
    update = propose_catalogue_update([downloaded], catalogue=catalogue)
    kinds = {change.source.split("downloads/")[1]: change.kind for change in update.changes}
    assert kinds == {
        "int/G3/auth/NHSINTAuthG3.p7b": CatalogueChangeKind.REFUSED,
        "live/G2/auth/NHSauthG2.crt": CatalogueChangeKind.REFUSED,
        "live/G2/issuing/NHSissuingG2.crt": CatalogueChangeKind.ADDED,
        "live/G2/old/NHSoldG2.crt": CatalogueChangeKind.EXPIRED,
        "live/G3/auth/NHSauthG3.cer": CatalogueChangeKind.REFUSED,
        "live/G3/root/NHSRootAuthorityG3.crt": CatalogueChangeKind.REFUSED,
    }
    forged = next(c for c in update.refused if "NHSauthG2" in c.source)
    assert isinstance(forged.error, CatalogueUpdateError)
    assert forged.error.source == forged.source
    assert "forged" in str(forged.error)
    assert "NHSissuingG2.crt" in str(update)
    assert "<table>" in update._repr_html_()
    with pytest.raises(CatalogueUpdateError, match=r"NHSauthG2\.crt"):
        write_catalogue(update, tmp_path / "never")
    assert not (tmp_path / "never").exists()

    # Expired, asked for: added, with a warning in its reason.
    kept = propose_catalogue_update(
        [downloaded / "live/G2/old"], catalogue=catalogue, include_expired=True
    )
    assert [c.kind for c in kept.changes] == [CatalogueChangeKind.ADDED]
    assert "warning: expired" in kept.changes[0].reason

    # A root pinned by the SHA-1 thumbprint NHS England's page publishes, colons and all.
    sha1 = stand_in.g3_root.certificate.fingerprint(hashes.SHA1())  # noqa: S303 - NHS's thumbprint
    thumbprint = ":".join(f"{byte:02X}" for byte in sha1)
    by_sha1 = propose_catalogue_update(
        [downloaded / "live/G3"],
        catalogue=catalogue,
        pins=[thumbprint],
        environments=["prod"],
        generation="g2",
    )
    assert [c.kind for c in by_sha1.changes] == [
        CatalogueChangeKind.ADDED,
        CatalogueChangeKind.ADDED,
    ]
    written = write_catalogue(by_sha1, tmp_path / "by-sha1")
    assert written.recognise(stand_in.g3_auth.certificate) is not None
    # Running it again changes nothing.
    again = propose_catalogue_update([downloaded / "live/G3"], catalogue=written)
    assert [c.kind for c in again.changes] == [
        CatalogueChangeKind.UNCHANGED,
        CatalogueChangeKind.UNCHANGED,
    ]


def test_a_written_catalogue_refuses_a_tampered_file(
    stand_in: StandIn, downloaded: Path, base_catalogue: Path, tmp_path: Path
) -> None:
    """What write_catalogue writes loads with load_nhs_catalogue, pins checked."""
    update = propose_catalogue_update(
        [downloaded / "live/G2/issuing"], catalogue=load_nhs_catalogue(base_catalogue)
    )
    directory = tmp_path / "user"
    record = write_catalogue(update, directory).recognise(stand_in.new_prod.certificate)
    assert record is not None
    assert record.file is not None
    (directory / record.file).write_bytes(stand_in.expired.cert_pem())
    with pytest.raises(PinMismatchError, match=re.escape(record.file)):
        load_nhs_catalogue(directory)


def test_a_leaf_and_a_retired_ca_are_refused_and_a_pinned_only_record_gets_its_file(
    shared_nhs_pki: Path,
) -> None:
    """The real catalogue: NHS INT Level 1D (pinned only) gets its file; a leaf is no CA."""
    update = propose_catalogue_update(
        [shared_nhs_pki / "more", shared_nhs_pki / "leaves" / "g2-int-mesh-api-n1g3bot001.pem"]
    )
    by_file = {Path(change.source).name: change for change in update.changes}
    level_1d = by_file["nhs-int-level-1d.pem"]
    assert level_1d.kind is CatalogueChangeKind.ADDED
    assert level_1d.record is not None
    assert level_1d.record.slug == "nhs-int-level-1d"
    assert by_file["nhs-dev-level-1c.pem"].kind is CatalogueChangeKind.UNCHANGED
    leaf = by_file["g2-int-mesh-api-n1g3bot001.pem"]
    assert leaf.kind is CatalogueChangeKind.REFUSED
    assert "not a CA" in leaf.reason


def test_a_bad_pin_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A pin that is no fingerprint stops at the command line."""
    status, _, stderr = run_cli(
        ["nhs", "update", "--from", str(tmp_path), "--pin", "not-a-fingerprint"], capsys
    )
    assert status == 2
    assert "SHA-256" in stderr


@pytest.fixture
def user_catalogue(downloaded: Path, base_catalogue: Path, tmp_path: Path) -> Path:
    """The base catalogue with the genuine new prod intermediate added."""
    update = propose_catalogue_update(
        [downloaded / "live/G2/issuing"], catalogue=load_nhs_catalogue(base_catalogue)
    )
    directory = tmp_path / "user-catalogue"
    write_catalogue(update, directory)
    return directory


def test_verify_inspect_and_nhs_list_take_the_user_catalogue(
    stand_in: StandIn,
    user_catalogue: Path,
    base_catalogue: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--catalogue DIR on verify, inspect and nhs list; the base catalogue as the control."""
    leaf = _write(tmp_path / "leaf.pem", stand_in.leaf)
    verify = ["verify", str(leaf), "--env", "prod", "--json"]
    status, stdout, stderr = run_cli([*verify, "--catalogue", str(user_catalogue)], capsys)
    assert status == 0, stdout + stderr
    assert json.loads(stdout)["issuer"] == "Test Authentication G2 Issuing 2"
    status, stdout, _ = run_cli([*verify, "--catalogue", str(base_catalogue)], capsys)
    assert status == 1
    assert not json.loads(stdout)["verified"]

    chain = tmp_path / "chain.pem"
    chain.write_bytes(stand_in.new_prod.cert_pem())
    inspect = ["inspect", str(chain), "--json"]
    status, stdout, stderr = run_cli([*inspect, "--catalogue", str(user_catalogue)], capsys)
    assert status == 0, stderr
    [entry] = json.loads(stdout)["entries"]
    assert (entry["nhs_name"], entry["nhs_environments"]) == (
        "Test Authentication G2 Issuing 2",
        ["prod"],
    )
    status, stdout, _ = run_cli(inspect, capsys)
    assert json.loads(stdout)["entries"][0]["nhs_name"] is None
    # The estate report (a directory) names it by the same catalogue, and not without it.
    estate = ["inspect", str(tmp_path), "--json"]
    status, stdout, stderr = run_cli([*estate, "--catalogue", str(user_catalogue)], capsys)
    assert '"nhs_slug": "test-authentication-g2-issuing-2"' in stdout, stdout + stderr
    status, stdout, stderr = run_cli(estate, capsys)
    assert '"nhs_slug": "test-authentication-g2-issuing-2"' not in stdout, stdout + stderr

    status, stdout, _ = run_cli(["nhs", "list", "--catalogue", str(user_catalogue)], capsys)
    assert status == 0
    assert "test-authentication-g2-issuing-2" in stdout
    status, stdout, _ = run_cli(["nhs", "list", "--catalogue", str(base_catalogue)], capsys)
    assert "test-authentication-g2-issuing-2" not in stdout


def test_a_recipe_names_the_user_catalogue(
    user_catalogue: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Catalogue = "DIR" in [trust], relative to the recipe; --catalogue beside --recipe is refused."""
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f'[trust]\nenvironments = ["prod"]\ncatalogue = "{user_catalogue.name}"\n\n'
        '[[targets]]\nformat = "pem"\npath = "out/truststore.pem"\n'
    )
    status, _, stderr = run_cli(["build", "--recipe", str(recipe)], capsys)
    assert status == 0, stderr
    assert "test-authentication-g2-issuing-2" in (tmp_path / "out/truststore.pem").read_text()
    status, _, stderr = run_cli(
        ["build", "--recipe", str(recipe), "--catalogue", str(user_catalogue)], capsys
    )
    assert status == 2
    assert "--catalogue" in stderr


def test_a_ca_beneath_an_issuer_whose_path_length_is_spent_is_refused(
    stand_in: StandIn, base_catalogue: Path, tmp_path: Path
) -> None:
    """PathLenConstraint 0 on a catalogue CA: a CA beneath it is refused, a control is not."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Test Issuing CA Under Zero"))
        .issuer_name(stand_in.prod_root.certificate.subject)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - dt.timedelta(days=1))
        .not_valid_after(_NOW + dt.timedelta(days=300))
    )
    key = rsa_key()

    def ca(path_length: int | None) -> Issued:
        certificate = (
            builder.public_key(key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .sign(stand_in.prod_root.key, hashes.SHA256())
        )
        return Issued(certificate, key)

    for path_length, kind in ((0, CatalogueChangeKind.REFUSED), (None, CatalogueChangeKind.ADDED)):
        issuing = ca(path_length)
        first = propose_catalogue_update(
            [_write(tmp_path / f"issuing-{path_length}.pem", issuing)],
            catalogue=load_nhs_catalogue(base_catalogue),
        )
        catalogue = write_catalogue(first, tmp_path / f"catalogue-{path_length}")
        beneath = _ca(f"Test Beneath {path_length}", issuer=issuing)
        update = propose_catalogue_update(
            [_write(tmp_path / f"beneath-{path_length}.pem", beneath)], catalogue=catalogue
        )
        assert [c.kind for c in update.changes] == [kind], update
        if kind is CatalogueChangeKind.REFUSED:
            assert "pathLenConstraint" in update.changes[0].reason


def _write(path: Path, issued: Issued) -> Path:
    path.write_bytes(issued.cert_pem())
    return path


def test_check_judges_a_server_chain_by_the_user_catalogue(
    stand_in: StandIn,
    user_catalogue: Path,
    base_catalogue: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Check --catalogue: a server under the new intermediate verifies; under the base, not.

    The server sends its own certificate alone (as some do), so its issuer must come from the
    catalogue; a server that sends the intermediate verifies against the root either way.
    """
    server = make_certificate(
        _name("localhost", ou="Devices"),
        rsa_key(),
        issuer=stand_in.new_prod,
        ca=False,
        dns_name="localhost",
    )
    chain = tmp_path / "server-chain.pem"
    chain.write_bytes(server.cert_pem())
    key = tmp_path / "server-key.pem"
    key.write_bytes(server.key_pem())
    with configurable_tls_server(
        cert_chain=chain, key=key, client_ca_file=None, verify_mode=ssl.CERT_NONE
    ) as (host, port):
        check = ["check", f"{host}:{port}", "--env", "prod", "--server-name", "localhost"]
        verdicts = []
        for catalogue in (user_catalogue, base_catalogue):
            _, stdout, _ = run_cli([*check, "--json", "--catalogue", str(catalogue)], capsys)
            [endpoint] = json.loads(stdout)["endpoints"]
            verdicts.append(endpoint["server"]["verified"])
    assert verdicts == [True, False]


def test_a_signing_ca_is_kept_out_of_tls_stores(
    stand_in: StandIn, downloaded: Path, base_catalogue: Path, tmp_path: Path
) -> None:
    """purpose="signing" (--purpose signing): recognised and named, never in a TLS store."""
    aliases = {}
    for purpose in ("signing", None):
        update = propose_catalogue_update(
            [downloaded / "live/G2/issuing"],
            catalogue=load_nhs_catalogue(base_catalogue),
            purpose=purpose,
        )
        catalogue = write_catalogue(update, tmp_path / f"catalogue-{purpose}")
        record = catalogue.recognise(stand_in.new_prod.certificate)
        assert record is not None
        assert record.purpose == (purpose or "authentication")
        store = TrustStoreBuilder().with_catalogue(catalogue).add_nhs("prod").build()
        aliases[purpose] = [entry.alias for entry in store]
    assert "test-authentication-g2-issuing-2" not in aliases["signing"]
    assert "test-authentication-g2-issuing-2" in aliases[None]


def test_a_manifest_round_trips_names_toml_must_escape(stand_in: StandIn, tmp_path: Path) -> None:
    """Quotes, backslashes, control characters and non-ASCII survive write and load."""
    name = 'Odd "CA" \\ name\nwith é\x7f'
    record = attrs.evolve(
        _record("odd-root", stand_in.prod_root, ("prod",), "root"), name=name, file=None
    )
    catalogue = NhsCatalogue(
        cas=(record,),
        certificates={"odd-root": stand_in.prod_root.certificate},
        directory=Path("<generated>"),
    )
    loaded = write_nhs_catalogue(
        catalogue, tmp_path / "odd", header="two\nlines", notes={"odd-root": "a\rnote"}
    )
    assert loaded.get("odd-root").name == name
    assert loaded.get("odd-root").file == "odd-root.pem"


def test_a_root_carrying_a_pinned_roots_name_is_named_as_a_look_alike(
    stand_in: StandIn, base_catalogue: Path, tmp_path: Path
) -> None:
    """A self-signed 'Test Root Authority G2' with another key is refused as not that root."""
    look_alike = _ca("Test Root Authority G2")
    update = propose_catalogue_update(
        [_write(tmp_path / "look-alike.crt", look_alike)],
        catalogue=load_nhs_catalogue(base_catalogue),
    )
    [change] = update.changes
    assert change.kind is CatalogueChangeKind.REFUSED
    assert "subject of Test Root Authority G2 without its pin" in change.reason
    assert change.error is not None
    assert change.error.source == str(tmp_path / "look-alike.crt")
    assert stand_in.prod_root.certificate.subject == look_alike.certificate.subject
