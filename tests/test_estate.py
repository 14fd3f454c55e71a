"""A supplier's estate: `inspect` over many stores, the password map, JSON, metrics and HTML."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import subprocess
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as classic_families

from tests.commands import run_cli as run
from tests.pki import catalogue_for, make_certificate, rsa_key
from truststore_builder import (
    KeyStoreBuilder,
    OutputExistsError,
    PasswordMapError,
    TrustStoreBuilder,
    nhs_catalogue,
)
from truststore_builder._cli.progress import TerminalProgress
from truststore_builder._formats.openmetrics import MetricFamily, Sample, render_openmetrics
from truststore_builder.estate import (
    EstateReport,
    PasswordMap,
    PasswordRule,
    estate_page,
    load_password_map,
    scan_estate,
    timeline_svg,
    write_metrics,
)

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

STORE_VAR = "TSB_ESTATE_STORE_PASSWORD"
#: Planted in every password: it must never show in any output.
PLANTED = "Planted-Estate-Secret-5521"
KEY_PASSWORD = "Planted-Estate-Key-Secret-8812"
HOSTILE = '<script>alert("x")</script>'


def _quiet_store(env: str, generations: tuple[str, ...]) -> TrustStoreBuilder:
    return TrustStoreBuilder().add_nhs(env, generations)


def _impostor_pem() -> bytes:
    """A self-signed certificate carrying NHS Root Authority G2's subject over another key."""
    subject = nhs_catalogue().certificates["nhs-root-authority-g2"].subject
    issued = make_certificate(subject, rsa_key(), ca=True)
    return issued.certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def estate(tmp_path: Path, pki: GeneratedPki, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An estate: prod PKCS#12 (with G1) and JKS, an INT PEM without G2, a key store, an impostor."""
    monkeypatch.setenv(STORE_VAR, PLANTED)
    root = tmp_path / "estate"
    (root / "prod").mkdir(parents=True)
    (root / "int").mkdir()
    (root / "client").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _quiet_store("prod", ("g1", "g2")).build().write(
            root / "prod" / "truststore.p12", password=PLANTED
        )
        _quiet_store("prod", ("g2",)).build().write(
            root / "prod" / "truststore.jks", password=PLANTED
        )
        _quiet_store("int", ("g1",)).build().write(root / "int" / "g1-only.pem")
        keystore = (
            KeyStoreBuilder()
            .with_catalogue(catalogue_for(pki))
            .add_nhs("prod", ["g2"])
            .with_identity(pki.g2.client.certificate, pki.g2.client.key, alias="client")
            .build()
        )
    (root / "client" / "keystore.p12").write_bytes(keystore.to_pkcs12(KEY_PASSWORD))
    (root / "client" / "key-password").write_text(KEY_PASSWORD + "\n")
    (root / "impostor.pem").write_bytes(_impostor_pem())
    (root / "README.txt").write_text("the supplier's stores\n")
    (root / "map.toml").write_text(
        "[[store]]\n"
        'glob = "client/*.p12"\n'
        'password_file = "./client/key-password"\n'
        "\n[[store]]\n"
        'glob = "prod/*"\n'
        f'password_env = "{STORE_VAR}"\n'
    )
    return root


def _scan(estate: Path, **options: object) -> EstateReport:
    passwords = load_password_map(estate / "map.toml")
    return scan_estate([estate], passwords=passwords, **options)  # type: ignore[arg-type]


def _by_name(report: EstateReport) -> dict[str, object]:
    return {Path(store.path).name: store for store in report.stores}


def test_scan_reports_every_store(estate: Path) -> None:
    """Each store is read with its map's password; retired, impostor, missing G2 and keys are named."""
    report = _scan(estate)
    stores = {Path(store.path).relative_to(estate).as_posix(): store for store in report.stores}
    assert set(stores) == {
        "prod/truststore.p12",
        "prod/truststore.jks",
        "int/g1-only.pem",
        "client/keystore.p12",
        "impostor.pem",
    }
    # Neither the map, nor the README, nor the password file is a store: they are skipped.
    assert sorted(Path(p).name for p in report.skipped) == [
        "README.txt",
        "key-password",
        "map.toml",
    ]
    assert report.unreadable == ()
    p12, jks = stores["prod/truststore.p12"], stores["prod/truststore.jks"]
    assert p12.format == "pkcs12"
    assert jks.format == "jks"
    assert sorted(c.retired.slug for c in p12.retired if c.retired) == [
        "nhs-level-1c",
        "nhs-root-authority",
    ]
    assert jks.retired == ()  # the control: a G2-only store holds nothing retired
    assert [e.value for e in p12.environments] == ["prod"]
    assert p12.missing_g2 == jks.missing_g2 == ()
    g1_only = stores["int/g1-only.pem"]
    assert {ca.slug for _env, ca in g1_only.missing_g2} == {
        "nhs-ptl-root-authority-g2",
        "nhs-int-authentication-g2",
    }
    impostor = stores["impostor.pem"].certificates[0]
    assert impostor.impostor_of is not None
    assert impostor.impostor_of.slug == "nhs-root-authority-g2"
    assert all(c.impostor_of is None for c in jks.certificates)  # the real one is no impostor
    client = stores["client/keystore.p12"]
    assert client.key_entries == 1
    assert p12.key_entries == 0
    assert client.earliest is not None
    assert client.earliest.alias == "client"  # the leaf expires before its CAs


def test_an_unreadable_store_is_reported_and_the_scan_goes_on(estate: Path) -> None:
    """A wrong password, a damaged store and a missing file are each reported; the rest are read."""
    (estate / "prod" / "broken.p12").write_bytes(b"\x30\x82\x01\x00" + b"\x00" * 64)
    (estate / "client" / "other.p12").write_bytes((estate / "prod" / "truststore.p12").read_bytes())
    report = scan_estate(
        [estate, estate / "missing.jks"], passwords=load_password_map(estate / "map.toml")
    )
    unreadable = {Path(s.path).name: s for s in report.unreadable}
    assert set(unreadable) == {"broken.p12", "other.p12", "missing.jks"}
    assert unreadable["other.p12"].error_type == "WrongPasswordError"
    assert len([s for s in report.stores if s.readable]) == 5
    assert not report.ok
    for store in unreadable.values():
        assert store.error is not None
        assert store.error.startswith(store.path)
        assert PLANTED not in store.error
        assert KEY_PASSWORD not in store.error


def test_an_empty_directory_is_reported(tmp_path: Path, estate: Path) -> None:
    """A directory given that holds no store is unreadable (a wrong path must not pass)."""
    empty = tmp_path / "empty"
    (empty / "docs").mkdir(parents=True)
    (empty / "docs" / "README.txt").write_text("nothing here\n")
    report = scan_estate([empty, estate / "int"])
    assert [s.path for s in report.unreadable] == [str(empty)]
    assert "holds no store" in (report.unreadable[0].error or "")
    assert [Path(s.path).name for s in report.stores if s.readable] == ["g1-only.pem"]


def test_write_metrics_is_atomic_and_keeps_a_file_unless_told(tmp_path: Path) -> None:
    """write_metrics refuses to replace a file without overwrite=True, then replaces it whole."""
    path = tmp_path / "estate.prom"
    path.write_text("kept")
    family = MetricFamily("x_seconds", "x", unit="seconds", samples=(Sample({}, 1),))
    with pytest.raises(OutputExistsError):
        write_metrics(path, [family])
    assert path.read_text() == "kept"
    write_metrics(path, [family], overwrite=True)
    assert path.read_bytes() == render_openmetrics([family])
    assert [p.name for p in tmp_path.iterdir()] == ["estate.prom"]  # no temporary left


def test_workers_read_the_same_estate(estate: Path) -> None:
    """A process pool reads the same stores, in the same order, as one process."""
    one = _scan(estate, workers=1, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    two = _scan(estate, workers=2, at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert one == two
    assert len(one.stores) == 5


def test_expiring_and_the_window(estate: Path) -> None:
    """What expires within the window is listed, expired ones too; nothing beyond it."""
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    report = _scan(estate, at=at, within_days=30)
    expiring = {(Path(s.path).name, c.name) for s, c in report.expiring}
    # The prod G1 pair expired in 2024; nothing else ends within 30 days.
    assert expiring == {
        ("truststore.p12", "NHS Level 1C"),
        ("truststore.p12", "NHS Root Authority"),
    }
    later = _scan(estate, at=at, within_days=3650 * 3)
    assert len(later.expiring) > len(expiring)


# --- the password map ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("*.p12", "/srv/a/b/store.p12", True),
        ("*.p12", "/srv/a/b/store.jks", False),
        ("prod/*.jks", "/srv/prod/x.jks", True),
        ("prod/*.jks", "/srv/prod/deep/x.jks", False),
        ("prod/**/*.jks", "/srv/prod/deep/er/x.jks", True),
        ("prod/**/*.jks", "/srv/prod/x.jks", True),
        ("/srv/*.pem", "/srv/x.pem", True),
        ("/srv/*.pem", "/other/srv/x.pem", False),
        ("store-?.p12", "store-1.p12", True),
        ("store-[!0-9].p12", "store-1.p12", False),
        ("store-[0-9].p12", "store-1.p12", True),
    ],
)
def test_password_map_globs(glob: str, path: str, *, matches: bool) -> None:
    """A relative glob matches a path's end, ** spans directories, an absolute glob the whole path."""
    found = PasswordMap(rules=(PasswordRule(glob=glob, env="X"),)).rule_for(path)
    assert (found is not None) is matches


def test_the_first_matching_rule_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules are tried in order; a store no rule matches has no password from the map."""
    monkeypatch.setenv("FIRST_PW", "one")
    monkeypatch.setenv("SECOND_PW", "two")
    rules = (PasswordRule(glob="prod/*", env="FIRST_PW"), PasswordRule(glob="*", env="SECOND_PW"))
    passwords = PasswordMap(rules=rules)
    assert passwords.password_for("/x/prod/a.p12") == b"one"
    assert passwords.password_for("/x/int/a.p12") == b"two"
    assert PasswordMap(rules=rules[:1]).password_for("/x/int/a.p12") is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f'[[store]]\nglob = "*"\npassword = "{PLANTED}"\n', "unknown key 'password'"),
        (f'[[store]]\nglob = "*"\npassword_env = "{PLANTED}"\n', "not an environment variable"),
        (f'[[store]]\nglob = "*"\npassword_file = "{PLANTED}"\n', "password_file is not a path"),
        (f'password = "{PLANTED}"\n', "unknown top-level key 'password'"),
        (f'"*.p12" = "{PLANTED}"\n', "unknown top-level key"),
        (f'"{PLANTED}" = 1\n', "unknown top-level key (a key not shown)"),
        (f'[[store]]\nglob = "*"\n"{PLANTED}" = "x"\n', "unknown key (a key not shown)"),
        ('[[store]]\nglob = "*"\n', "exactly one of password_env and password_file"),
        ('[[store]]\npassword_env = "X"\n', "has no glob"),
        (f'[[store]\nglob = "{PLANTED}"\n', "not a TOML password map"),
        ("", "holds no [[store]] rule"),
    ],
)
def test_a_map_holding_a_password_is_refused(tmp_path: Path, body: str, problem: str) -> None:
    """A literal password, an unknown key or a broken map is refused, and never quoted."""
    path = tmp_path / "map.toml"
    path.write_text(body)
    with pytest.raises(PasswordMapError) as caught:
        load_password_map(path)
    message = str(caught.value)
    assert problem in message
    assert message.startswith(str(path))
    assert PLANTED not in message


def test_good_map_loads(tmp_path: Path) -> None:
    """The control: a map of globs and references loads, a relative file beside the map."""
    path = tmp_path / "map.toml"
    path.write_text(
        '[[store]]\nglob = "*.p12"\npassword_env = "P12_PW"\n'
        '[[store]]\nglob = "*.jks"\npassword_file = "./jks-pw"\n'
    )
    loaded = load_password_map(path)
    assert loaded.rules == (
        PasswordRule(glob="*.p12", env="P12_PW"),
        PasswordRule(glob="*.jks", file=tmp_path / "jks-pw"),
    )


def test_an_unset_variable_fails_only_its_stores(
    estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule whose variable is unset makes its stores unreadable (named by rule); others are read."""
    monkeypatch.delenv(STORE_VAR)
    report = _scan(estate)
    unreadable = sorted(Path(s.path).name for s in report.unreadable)
    assert unreadable == ["truststore.jks", "truststore.p12"]
    assert all("rule 2 (password_env)" in (s.error or "") for s in report.unreadable)
    assert STORE_VAR not in " ".join(s.error or "" for s in report.unreadable)


# --- the command line ------------------------------------------------------------------------


def _estate_cli(estate: Path, *extra: str) -> list[str]:
    return ["inspect", str(estate), "--password-map", str(estate / "map.toml"), *extra]


def test_cli_fail_within_names_each_store(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--fail-within exits 1 naming each expiring certificate and its store; without it, 0."""
    status, out, err = run(_estate_cli(estate, "--fail-within", "30"), capsys)
    assert status == 1, err
    assert "truststore.p12: NHS Level 1C [alias nhs-level-1c] (expired 2024-06-04)" in err
    assert "truststore.p12: NHS Root Authority [alias nhs-root-authority] (expired" in err
    assert "5 stores," in out
    status, out, err = run(_estate_cli(estate), capsys)
    assert status == 0, err
    assert err == ""


def test_cli_the_control_estate_passes(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The control: with the G1 store gone, nothing expires within 30 days and the exit is 0."""
    (estate / "prod" / "truststore.p12").unlink()
    status, _out, err = run(_estate_cli(estate, "--fail-within", "30"), capsys)
    assert status == 0, err


def test_cli_unreadable_store_is_status_2_after_the_report(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that cannot be opened is reported on stderr; the others are still printed; exit 2."""
    (estate / "prod" / "broken.jks").write_bytes(b"\xfe\xed\xfe\xed" + b"\x00" * 40)
    status, out, err = run(_estate_cli(estate, "--json"), capsys)
    assert status == 2
    document = json.loads(out)
    assert [Path(p).name for p in document["unreadable"]] == ["broken.jks"]
    assert len(document["stores"]) == 6
    assert f"unreadable: {estate / 'prod' / 'broken.jks'}: " in err
    assert PLANTED not in out + err


def test_cli_single_file_is_unchanged(estate: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One file without estate options is today's entry listing, not the estate table."""
    status, out, _ = run(["inspect", str(estate / "int" / "g1-only.pem")], capsys)
    assert status == 0
    assert out.split()[:3] == ["alias", "subject", "issuer"]
    status, out, _ = run(["inspect", str(estate / "int")], capsys)
    assert status == 0
    assert out.split()[:2] == ["store", "format"]


def test_cli_writes_every_report_and_keeps_existing_ones(
    estate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON, metrics and HTML are written (0644); an existing one is kept without --force."""
    reports = tmp_path / "reports"
    reports.mkdir()
    files = {"--json-out": "estate.json", "--metrics": "estate.prom", "--html": "estate.html"}
    options = [item for option, name in files.items() for item in (option, str(reports / name))]
    status, _out, err = run(_estate_cli(estate, *options), capsys)
    assert status == 0, err
    for name in files.values():
        path = reports / name
        assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()
        assert PLANTED not in path.read_text()
        assert KEY_PASSWORD not in path.read_text()
    assert len(json.loads((reports / "estate.json").read_text())["stores"]) == 5
    (reports / "estate.html").write_text("kept")
    status, _out, err = run(_estate_cli(estate, *options), capsys)
    assert status == 2
    assert "--force" in err
    assert (reports / "estate.html").read_text() == "kept"
    status, _out, err = run(_estate_cli(estate, *options, "--force"), capsys)
    assert status == 0, err
    assert (reports / "estate.html").read_text().startswith("<!DOCTYPE html>")


def test_cli_never_writes_a_report_over_a_store(
    estate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report named like a store just read is refused, even with --force; the store is kept."""
    store = estate / "prod" / "truststore.jks"
    before = store.read_bytes()
    status, _out, err = run(_estate_cli(estate, "--html", str(store), "--force"), capsys)
    assert status == 2
    assert "a report never replaces a store" in err
    assert store.read_bytes() == before


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- metrics ---------------------------------------------------------------------------------


def _parse_both(text: str) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The samples by family name, as the OpenMetrics parser and the 0.0.4 text parser read them."""
    om = {f.name: list(f.samples) for f in openmetrics_families(text)}  # type: ignore[no-untyped-call]
    classic = {f.name: list(f.samples) for f in classic_families(text)}
    return om, classic


def test_metrics_parse_in_both_formats(estate: Path) -> None:
    """The metrics file parses as OpenMetrics and as Prometheus text, with one sample per certificate."""
    report = _scan(estate)
    text = render_openmetrics(report.metric_families()).decode()
    assert text.endswith("# EOF\n")
    om, classic = _parse_both(text)
    name = "truststore_builder_certificate_not_after_timestamp_seconds"
    count = sum(len(s.certificates) for s in report.stores)
    assert len(om[name]) == len(classic[name]) == count
    jks = next(s for s in report.stores if s.path.endswith("truststore.jks"))
    sample = next(s for s in om[name] if s.labels["store"] == jks.path)
    assert set(sample.labels) == {"store", "alias", "subject", "sha256", "nhs_ca", "environment"}
    assert sample.labels["environment"] == "prod"
    earliest = {
        s.labels["store"]: s.value
        for s in om["truststore_builder_store_earliest_not_after_timestamp_seconds"]
    }
    assert earliest[jks.path] == jks.earliest.not_after.timestamp()  # type: ignore[union-attr]
    readable = {s.labels["store"]: s.value for s in classic["truststore_builder_store_readable"]}
    assert set(readable.values()) == {1.0}
    retired = {s.labels["store"]: s.value for s in om["truststore_builder_store_retired_cas"]}
    assert retired[jks.path] == 0
    assert max(retired.values()) == 2


# The writer itself (names, units, types, escaping, duplicates) is tested in test_openmetrics.py.


# --- HTML ------------------------------------------------------------------------------------


def _hostile_estate(tmp_path: Path) -> Path:
    """A directory whose store name and certificate subject hold a <script> element."""
    root = tmp_path / "hostile"
    root.mkdir()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, HOSTILE)])
    issued = make_certificate(name, rsa_key(), ca=True)
    (root / f"{HOSTILE.replace('/', '-')}.pem").write_bytes(
        issued.certificate.public_bytes(serialization.Encoding.PEM)
    )
    return root


def test_html_escapes_every_path_and_subject(tmp_path: Path, estate: Path) -> None:
    """A <script> in a store's name or a subject is shown as text, never as an element."""
    report = scan_estate([_hostile_estate(tmp_path), estate / "int"])
    page = estate_page(report)
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)" in page
    assert "Content-Security-Policy" in page
    for fetch in ("http://", "https://", "src=", "@import", "url("):
        assert fetch not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    notebook = report._repr_html_()
    assert "<svg" in notebook
    assert "<script" not in notebook


def _png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw RGB(A) rows of an 8-bit PNG (a tiny decoder: zlib and filters)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    position, chunks, header = 8, [], b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        body = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                nearest = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + nearest) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def _chromium(url: str, tmp_path: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [
            "/usr/bin/chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,900",
            *mode,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.slow
def test_the_page_in_a_real_browser(
    estate: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Headless Chromium draws the page (not blank), names every store, and runs no script."""
    hostile = _hostile_estate(tmp_path)
    page = tmp_path / "estate.html"
    status, _out, err = run(
        ["inspect", str(hostile), *_estate_cli(estate, "--html", str(page))[1:]], capsys
    )
    assert status == 0, err
    dom = _chromium(page.as_uri(), tmp_path, "--dump-dom").stdout
    report = _scan(estate)
    for store in report.stores:
        assert store.path in dom.replace("&amp;", "&")
    assert "<script" not in dom
    assert "&lt;script&gt;" in dom
    assert dom.count('class="store"') == len(report.stores) + 1
    shot = tmp_path / "estate.png"
    _chromium(page.as_uri(), tmp_path, f"--screenshot={shot}")
    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 900)
    # Not blank: many distinct colours, and dark text on the light page.
    sampled = {row[i : i + 3] for row in rows[::7] for i in range(0, len(row) - 3, 3 * 7)}
    assert len(sampled) > 50
    assert min(sum(pixel) for pixel in sampled) < 200


@pytest.mark.slow
def test_a_blank_page_is_told_apart(tmp_path: Path) -> None:
    """The control: an empty page's screenshot fails the not-blank test."""
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    shot = tmp_path / "blank.png"
    _chromium(page.as_uri(), tmp_path, f"--screenshot={shot}")
    _width, _height, rows = _png_pixels(shot.read_bytes())
    sampled = {row[i : i + 3] for row in rows[::7] for i in range(0, len(row) - 3, 3 * 7)}
    assert len(sampled) <= 2


def test_the_timeline_flags_retired_and_impostor_cas(estate: Path) -> None:
    """Retired CAs are drawn as diamonds and impostors as triangles; a clean store has neither."""
    flagged = timeline_svg(_scan(estate))
    assert flagged.count('<g class="retired">') == 2
    assert flagged.count('<g class="impostor">') == 1
    assert 'class="today"' in flagged
    assert 'class="horizon"' in flagged
    clean = timeline_svg(scan_estate([estate / "int"]))
    assert '<g class="retired">' not in clean
    assert '<g class="impostor">' not in clean


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_scan_shows_progress_on_a_terminal_only(estate: Path) -> None:
    """The scan reports each store read; the bar draws on a terminal, not on a pipe."""
    calls: list[tuple[int, int]] = []
    _scan(estate, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 8)  # five stores and three files that turn out to hold none
    assert calls[-1] == (8, 8)
    terminal = _Terminal()
    bar = TerminalProgress.for_stream(terminal, noun="stores")
    assert bar is not None
    bar.minimum = 1
    _scan(estate, progress=bar)
    assert "8/8 stores" in terminal.getvalue()
    assert TerminalProgress.for_stream(io.StringIO(), noun="stores") is None
