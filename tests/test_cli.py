"""The command line, driven in-process through ``main(argv)`` and once through ``python -m``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.commands import PASSWORD_VARIABLE, keytool, keytool_list
from tests.commands import run as run_program
from tests.commands import run_cli as run
from truststore_builder import nhs_catalogue
from truststore_builder._cli import build_parser

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

PASSWORD_VAR = "TSB_TEST_STORE_PASSWORD"
#: A password nobody would print by accident: it must never show in any output.
PLANTED = "Planted-Secret-7391-do-not-print"
ALL_FORMATS = "pem,p12,jks,p7b"


def expected_aliases(env: str) -> list[str]:
    """The aliases of ``env``'s CAs valid today (the default store), in store order."""
    now = dt.datetime.now(dt.UTC)
    return [
        ca.slug
        for ca, certificate in nhs_catalogue().select(env)
        if certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc
    ]


def trusted_aliases(listing: str) -> dict[str, str]:
    """Map each alias in a ``keytool -list`` listing to its entry type."""
    entries = {}
    for line in listing.splitlines():
        # "alias, Nov 23, 2026, trustedCertEntry, ": the date holds a comma, a comma ends it.
        parts = [part.strip() for part in line.rstrip().rstrip(",").split(",")]
        if len(parts) >= 3 and parts[-1] in {"trustedCertEntry", "PrivateKeyEntry"}:
            entries[parts[0]] = parts[-1]
    return entries


@pytest.fixture
def password_env(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The planted password in an environment variable, and the options that name it."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    return ["--password-env", PASSWORD_VAR]


@pytest.mark.parametrize("env", ["prod", "int", "dep", "dev", "tra"])
def test_build_writes_every_format(
    env: str, tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`build` writes truststore.pem/.p12/.jks/.p7b with the environment's CAs valid today."""
    out = tmp_path / "stores" / env
    status, stdout, _ = run(
        ["build", "--env", env, "--out", str(out), "--formats", ALL_FORMATS, *password_env], capsys
    )
    assert status == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["truststore.jks", "truststore.p12", "truststore.p7b", "truststore.pem"]
    pem = (out / "truststore.pem").read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == len(expected_aliases(env))
    for alias in expected_aliases(env):
        assert f"Alias: {alias}" in pem
    assert stdout.count("read back ok") == 4


def test_default_formats_are_pem_p12_jks(
    tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --formats, `build` writes pem, p12 and jks, and no p7b."""
    status, _, _ = run(["build", "--env", "int", "--out", str(tmp_path), *password_env], capsys)
    assert status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "truststore.jks",
        "truststore.p12",
        "truststore.pem",
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "store_type"), [("p12", "PKCS12"), ("jks", "JKS")])
def test_keytool_lists_every_alias_as_trusted(
    fmt: str,
    store_type: str,
    tmp_path: Path,
    password_env: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """JDK 17's keytool opens the PKCS#12 and JKS with the password: all trustedCertEntry."""
    status, _, _ = run(
        ["build", "--env", "prod", "--out", str(tmp_path), "--formats", fmt, *password_env],
        capsys,
    )
    assert status == 0
    listing = keytool_list(tmp_path / f"truststore.{fmt}", store_type, PLANTED)
    entries = trusted_aliases(listing)
    assert sorted(entries) == sorted(expected_aliases("prod"))
    assert set(entries.values()) == {"trustedCertEntry"}


@pytest.mark.slow
def test_keytool_lists_passwordless_pkcs12(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a password, the PKCS#12 is password-less: keytool lists it without one."""
    status, _, _ = run(
        ["build", "--env", "dep", "--out", str(tmp_path), "--formats", "pem,p12"], capsys
    )
    assert status == 0
    entries = trusted_aliases(keytool_list(tmp_path / "truststore.p12", "PKCS12", None))
    assert sorted(entries) == sorted(expected_aliases("dep"))
    assert set(entries.values()) == {"trustedCertEntry"}


def test_jks_without_password_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """JKS with no password: exit 2, one line saying how to give one, and nothing written."""
    monkeypatch.delenv(PASSWORD_VAR, raising=False)
    out = tmp_path / "new"
    status, stdout, stderr = run(["build", "--env", "prod", "--out", str(out)], capsys)
    assert status == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "--password-env" in stderr
    assert "--password-file" in stderr
    assert "changeit" in stderr  # it says the convention is not assumed
    assert not out.exists()


def test_expired_certificates_are_named_one_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prod store of G1 and G2 keeps the expired G1 CAs and names each on its own stderr line."""
    argv = ["build", "--env", "prod", "--formats", "pem", "--generations", "g1,g2"]
    status, _, stderr = run([*argv, "--out", str(tmp_path)], capsys)
    assert status == 0
    lines = [line for line in stderr.splitlines() if "warning" in line]
    assert len(lines) == 2
    assert "nhs-root-authority" in lines[0]
    assert "nhs-level-1c" in lines[1]
    assert all("expired on 2024-06-04" in line for line in lines)


def test_prod_store_by_default_is_g2_with_one_info_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """By default a prod store holds G2 only, and one info line names the G1 pair left out."""
    status, stdout, stderr = run(
        ["build", "--env", "prod", "--out", str(tmp_path), "--formats", "pem", "--json"], capsys
    )
    assert status == 0
    pem = (tmp_path / "truststore.pem").read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == 2
    assert "Alias: nhs-root-authority-g2" in pem
    assert "Alias: nhs-root-authority\n" not in pem
    (line,) = stderr.splitlines()
    assert line.startswith("truststore-builder: info: the prod store holds the NHS CAs valid on ")
    assert "nhs-root-authority (NHS Root Authority, expired 2024-06-04)" in line
    assert "nhs-level-1c (NHS Level 1C, expired 2024-06-04)" in line
    assert "--generations g1,g2" in line
    assert json.loads(stdout)["dropped"] == ["nhs-root-authority", "nhs-level-1c"]


def test_a_generation_an_environment_lacks_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--env dev --generations g2` is refused (DEV has no G2 CA) and writes nothing."""
    argv = ["build", "--env", "dev", "--formats", "pem", "--generations", "g2"]
    status, _, stderr = run([*argv, "--out", str(tmp_path / "o")], capsys)
    assert status == 2
    assert "no g2 authentication CA for dev" in stderr
    assert not (tmp_path / "o").exists()


def test_drop_expired_leaves_them_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--drop-expired writes a prod store of the two G2 CAs only."""
    argv = [
        "build",
        "--env",
        "prod",
        "--formats",
        "pem",
        "--drop-expired",
        "--generations",
        "g1,g2",
    ]
    status, stdout, _ = run([*argv, "--out", str(tmp_path)], capsys)
    assert status == 0
    pem = (tmp_path / "truststore.pem").read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == 2
    assert "Alias: nhs-root-authority-g2" in pem
    assert "Alias: nhs-root-authority\n" not in pem
    assert "2 certificates" in stdout


def test_nothing_left_after_dropping_is_a_check_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prod G1 only with --drop-expired leaves nothing: exit 1, and no empty store written."""
    out = tmp_path / "empty"
    argv = ["build", "--env", "prod", "--generations", "g1", "--drop-expired", "--out", str(out)]
    status, _, stderr = run([*argv, "--formats", "pem"], capsys)
    assert status == 1
    assert "nothing was written" in stderr
    assert not out.exists()


def test_added_user_ca_is_trusted(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--add puts a non-NHS CA into the store beside the NHS ones."""
    ca_file = tmp_path / "company-ca.pem"
    ca_file.write_bytes(pki.foreign.root.certificate.public_bytes(Encoding.PEM))
    out = tmp_path / "out"
    status, _, _ = run(
        ["build", "--env", "int", "--add", str(ca_file), "--out", str(out), "--formats", "pem"],
        capsys,
    )
    assert status == 0
    pem = (out / "truststore.pem").read_text()
    assert pem.count("-----BEGIN CERTIFICATE-----") == len(expected_aliases("int")) + 1
    assert "Alias: foreign-root-authority" in pem


def test_added_leaf_is_refused_with_status_1(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leaf certificate given with --add fails the CA check: exit 1, one line, nothing written."""
    leaf = tmp_path / "client.pem"
    leaf.write_bytes(pki.foreign.client.cert_pem())
    out = tmp_path / "out"
    status, _, stderr = run(
        ["build", "--env", "int", "--add", str(leaf), "--out", str(out), "--formats", "pem"], capsys
    )
    assert status == 1
    assert stderr.count("\n") == 1
    assert str(leaf) in stderr
    assert not out.exists()


def _bad_input(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.crt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "unknown-format":
        path.write_bytes(b"this is not a certificate in any format\n" * 4)
    return path  # "missing": never created


@pytest.mark.parametrize("kind", ["empty", "unknown-format", "missing"])
def test_bad_added_file_is_one_line_and_status_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty, unreadable or missing --add file: exit 2, one line naming it, no traceback."""
    bad = _bad_input(kind, tmp_path)
    out = tmp_path / "out"
    status, stdout, stderr = run(
        ["build", "--env", "int", "--add", str(bad), "--out", str(out), "--formats", "pem"], capsys
    )
    assert status == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith("truststore-builder: error: ")
    assert str(bad) in stderr
    assert "Traceback" not in stderr
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--debug adds the traceback to the one-line error."""
    missing = tmp_path / "missing.pem"
    status, _, stderr = run(
        ["build", "--debug", "--env", "int", "--add", str(missing), "--out", str(tmp_path)], capsys
    )
    assert status == 2
    assert "Traceback" in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("truststore-builder: error: ")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["build", "--out", "x"],
        ["build", "--env", "staging", "--out", "x"],
        ["build", "--env", "int", "--out", "x", "--formats", "pem,pfx2"],
        ["build", "--env", "int", "--out", "x", "--generations", "g3"],
        ["nhs"],
        ["frobnicate"],
    ],
)
def test_usage_errors_are_status_2_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A command line argparse refuses: exit 2 and one stderr line pointing to --help."""
    status, stdout, stderr = run(argv, capsys)
    assert status == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert "--help" in stderr


def test_existing_files_are_kept_without_force(
    tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --force an existing store stays byte-for-byte (exit 2); --force replaces it."""
    old = tmp_path / "truststore.pem"
    old.write_bytes(b"old content\n")
    argv = ["build", "--env", "int", "--out", str(tmp_path), *password_env]
    status, _, stderr = run(argv, capsys)
    assert status == 2
    assert str(old) in stderr
    assert old.read_bytes() == b"old content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truststore.pem"]  # none of the others
    status, _, _ = run([*argv, "--force"], capsys)
    assert status == 0
    assert old.read_bytes().count(b"-----BEGIN CERTIFICATE-----") == len(expected_aliases("int"))


def test_json_report_parses(
    tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--json prints per file its path, format, entry count, SHA-256s and read-back result.

    The SHA-256s are in store order for every format, as the text output and BuildResult give
    them (p7b and capath listed them in the order read back before the one pipeline).
    """
    status, stdout, _ = run(
        ["build", "--env", "dep", "--out", str(tmp_path), "--formats", f"{ALL_FORMATS},capath",
         "--json", *password_env],
        capsys,
    )  # fmt: skip
    assert status == 0
    report = json.loads(stdout)
    fingerprints = [str(nhs_catalogue().get(slug).sha256) for slug in expected_aliases("dep")]
    assert [item["format"] for item in report["files"]] == ["pem", "p12", "jks", "p7b", "capath"]
    assert report["generations"] is None  # not given: the CAs valid at build time
    for item in report["files"]:
        assert Path(item["path"]).exists()
        assert item["entries"] == len(fingerprints)
        assert item["sha256"] == fingerprints, item["format"]
        assert item["read_back_ok"] is True
        assert item["private"] is False


def test_password_is_never_printed(
    tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The planted password appears in no output: build, --json, inspect, errors, --debug."""
    password_file = tmp_path / "password.txt"
    password_file.write_text(PLANTED + "\n")
    out = tmp_path / "out"
    outputs = []
    for argv in (
        ["build", "--env", "prod", "--out", str(out), "--json", *password_env],
        ["build", "--env", "prod", "--out", str(out), "--password-file", str(password_file)],
        ["build", "--debug", "--env", "prod", "--out", str(out), *password_env],
        ["inspect", str(out / "truststore.jks"), "--json", *password_env],
        ["inspect", str(out / "truststore.p12"), "--password-file", str(password_file)],
        ["inspect", "--debug", str(out / "truststore.p12")],
    ):
        _, stdout, stderr = run(argv, capsys)
        outputs.append(stdout + stderr)
    assert outputs[0].count("read_back_ok") == 3
    # The same stores again (the password from a file now): read with it, left untouched.
    assert outputs[1].count("unchanged ") == 3
    for text in outputs:
        assert PLANTED not in text
        assert PLANTED.encode().hex() not in text


@pytest.mark.parametrize(
    ("content", "works"),
    [(b"s3cret\n", True), (b"s3cret\r\n", True), (b"s3cret", True), (b"s3cret\n\n", False)],
)
def test_password_file_loses_one_trailing_newline(
    content: bytes,
    works: bool,  # noqa: FBT001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A password file's one trailing LF or CRLF is removed, and only one."""
    password_file = tmp_path / "password"
    password_file.write_bytes(content)
    out = tmp_path / "out"
    status, _, _ = run(
        ["build", "--env", "int", "--out", str(out), "--formats", "jks",
         "--password-file", str(password_file)],
        capsys,
    )  # fmt: skip
    assert status == 0
    monkeypatch.setenv(PASSWORD_VAR, "s3cret")
    status, _, stderr = run(
        ["inspect", str(out / "truststore.jks"), "--password-env", PASSWORD_VAR], capsys
    )
    assert status == (0 if works else 2)
    if not works:
        assert stderr.count("\n") == 1


def test_unset_password_variable_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--password-env naming an unset variable: exit 2, one line naming the option, not its value."""
    monkeypatch.delenv(PASSWORD_VAR, raising=False)
    status, _, stderr = run(
        ["build", "--env", "int", "--out", str(tmp_path), "--password-env", PASSWORD_VAR], capsys
    )
    assert status == 2
    assert "--password-env: the environment variable it names is not set" in stderr
    assert PASSWORD_VAR not in stderr
    assert stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_nhs_list_names_shipped_and_pinned_cas(capsys: pytest.CaptureFixture[str]) -> None:
    """`nhs list` shows the eleven shipped CAs and the pinned-only ones, as a table and as JSON."""
    slugs = [ca.slug for ca in nhs_catalogue().cas]
    status, stdout, _ = run(["nhs", "list"], capsys)
    assert status == 0
    lines = stdout.splitlines()
    assert len(lines) == len(slugs) + 1
    assert [line.split()[0] for line in lines[1:]] == slugs
    assert stdout.count("pinned only") == len(slugs) - 11
    status, stdout, _ = run(["nhs", "list", "--json"], capsys)
    assert status == 0
    listed = json.loads(stdout)
    assert [ca["slug"] for ca in listed] == slugs
    assert sum(ca["shipped"] for ca in listed) == 11
    assert {"nhs-int-level-1d", "nhs-signing-g2"} == {
        ca["slug"] for ca in listed if not ca["shipped"]
    }


def test_nhs_list_filters_by_environment(capsys: pytest.CaptureFixture[str]) -> None:
    """`nhs list --env dep` lists only CAs that serve DEP."""
    status, stdout, _ = run(["nhs", "list", "--env", "dep", "--json"], capsys)
    assert status == 0
    listed = json.loads(stdout)
    assert listed
    assert all("dep" in ca["environments"] for ca in listed)
    assert "nhs-dep-level-1c" in {ca["slug"] for ca in listed}
    assert "nhs-int-level-1c" not in {ca["slug"] for ca in listed}


def test_inspect_shows_one_line_per_entry(
    tmp_path: Path, password_env: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`inspect` of a JKS prints a header, one line per entry (NHS name, expiry), retired CAs."""
    argv = ["build", "--env", "prod", "--generations", "g1,g2", "--out", str(tmp_path)]
    run([*argv, *password_env], capsys)
    status, stdout, _ = run(["inspect", str(tmp_path / "truststore.jks"), *password_env], capsys)
    assert status == 0
    lines = stdout.splitlines()
    # header, four entries, a line for each retired CA (the G1 pair), the expiry horizon
    assert len(lines) == 1 + 4 + 2 + 1
    assert lines[-1].startswith("expires first: ")
    by_alias = {line.split()[0]: line for line in lines[1:5]}
    assert list(by_alias) == [
        "nhs-root-authority",
        "nhs-level-1c",
        "nhs-root-authority-g2",
        "nhs-authentication-g2",
    ]
    assert "NHS Root Authority (g1)" in by_alias["nhs-root-authority"]
    assert "expired" in by_alias["nhs-root-authority"]
    assert "NHS Root Authority G2 (g2)" in by_alias["nhs-root-authority-g2"]
    assert "expired" not in by_alias["nhs-root-authority-g2"]
    g2 = nhs_catalogue().get("nhs-root-authority-g2").sha256
    assert g2 is not None
    assert g2 in by_alias["nhs-root-authority-g2"]
    assert lines[5] == (
        "retired, can go: nhs-root-authority (NHS Root Authority): the prod G1 root; "
        "Spine has accepted only G2 since May 2024; expired 2024-06-04"
    )
    assert lines[6].startswith("retired, can go: nhs-level-1c (NHS Level 1C): ")


def test_inspect_of_a_g2_store_names_no_retired_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: a default prod store holds no retired CA, and inspect says none can go."""
    run(["build", "--env", "prod", "--out", str(tmp_path), "--formats", "pem"], capsys)
    status, stdout, _ = run(["inspect", str(tmp_path / "truststore.pem"), "--json"], capsys)
    assert status == 0
    assert [e["retired"] for e in json.loads(stdout)["entries"]] == [None, None]
    status, stdout, _ = run(["inspect", str(tmp_path / "truststore.pem")], capsys)
    assert "retired" not in stdout


def test_inspect_json_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`inspect --json` of a PEM bundle gives every field for every certificate."""
    run(["build", "--env", "int", "--out", str(tmp_path), "--formats", "pem"], capsys)
    status, stdout, _ = run(["inspect", str(tmp_path / "truststore.pem"), "--json"], capsys)
    assert status == 0
    entries = json.loads(stdout)["entries"]
    assert [e["nhs_name"] for e in entries] == [
        nhs_catalogue().get(slug).name for slug in expected_aliases("int")
    ]
    for entry in entries:
        assert {"subject", "issuer", "not_after", "sha256", "nhs_generation", "expired"} <= set(
            entry
        )


def test_inspect_wrong_password_is_status_2(
    tmp_path: Path, password_env: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`inspect` with the wrong password: exit 2 and one line naming the file."""
    run(
        ["build", "--env", "int", "--out", str(tmp_path), "--formats", "jks", *password_env], capsys
    )
    monkeypatch.setenv(PASSWORD_VAR, "not the password")
    status, _, stderr = run(["inspect", str(tmp_path / "truststore.jks"), *password_env], capsys)
    assert status == 2
    assert stderr.count("\n") == 1
    assert "truststore.jks" in stderr


def test_convert_between_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`convert` turns a PEM bundle into PKCS#7 and back, and one certificate into DER."""
    run(["build", "--env", "int", "--out", str(tmp_path), "--formats", "pem"], capsys)
    bundle = tmp_path / "truststore.pem"
    p7b = tmp_path / "bundle.p7b"
    assert run(["convert", str(bundle), str(p7b)], capsys)[0] == 0
    back = tmp_path / "back.pem"
    assert run(["convert", str(p7b), str(back)], capsys)[0] == 0
    assert back.read_text().count("-----BEGIN CERTIFICATE-----") == len(expected_aliases("int"))
    root = nhs_catalogue().certificates["nhs-ptl-root-authority"]
    single = tmp_path / "root.pem"
    single.write_bytes(root.public_bytes(Encoding.PEM))
    der = tmp_path / "root.cer"
    assert run(["convert", str(single), str(der), "--to", "der"], capsys)[0] == 0
    assert der.read_bytes() == root.public_bytes(Encoding.DER)


def test_convert_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`convert`: unknown suffix, existing output, bad input: exit 2, output untouched."""
    root = nhs_catalogue().certificates["nhs-ptl-root-authority"]
    single = tmp_path / "root.pem"
    single.write_bytes(root.public_bytes(Encoding.PEM))
    status, _, stderr = run(["convert", str(single), str(tmp_path / "root.xyz")], capsys)
    assert status == 2
    assert "--to" in stderr
    existing = tmp_path / "existing.der"
    existing.write_bytes(b"keep me")
    status, _, stderr = run(["convert", str(single), str(existing)], capsys)
    assert status == 2
    assert existing.read_bytes() == b"keep me"
    assert run(["convert", str(single), str(existing), "--force"], capsys)[0] == 0
    assert existing.read_bytes() == root.public_bytes(Encoding.DER)
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    status, _, stderr = run(["convert", str(empty), str(tmp_path / "out.pem")], capsys)
    assert status == 2
    assert stderr.count("\n") == 1
    assert str(empty) in stderr
    assert not (tmp_path / "out.pem").exists()


@pytest.mark.parametrize(
    "command", [[], ["nhs"], ["nhs", "list"], ["build"], ["convert"], ["inspect"]]
)
def test_help_is_accurate(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--help exits 0 for every subcommand and names its options."""
    status, stdout, _ = run([*command, "--help"], capsys)
    assert status == 0
    assert stdout.startswith("usage: truststore-builder")
    if command == ["build"]:
        for option in (
            "--env",
            "--generations",
            "--add",
            "--certifi",
            "--drop-expired",
            "--out",
            "--formats",
            "--password-env",
            "--password-file",
            "--force",
            "--json",
        ):
            assert option in stdout
        assert "changeit" in stdout


def test_build_parser_is_the_cli() -> None:
    """build_parser() gives the parser main() uses, with the four commands."""
    parser = build_parser()
    assert parser.prog == "truststore-builder"
    help_text = parser.format_help()
    for command in ("nhs", "build", "convert", "inspect"):
        assert command in help_text


@pytest.mark.slow
def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    """`python -m truststore_builder` builds a store; an error is one line, no traceback."""
    out = tmp_path / "out"
    env = {**os.environ, PASSWORD_VAR: PLANTED}
    result = subprocess.run(
        [sys.executable, "-m", "truststore_builder", "build", "--env", "int", "--out", str(out),
         "--password-env", PASSWORD_VAR],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "truststore.jks",
        "truststore.p12",
        "truststore.pem",
    ]
    assert PLANTED not in result.stdout + result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "truststore_builder", "inspect", str(tmp_path / "missing.p12")],
        capture_output=True, text=True, cwd=tmp_path, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "missing.p12" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_other_libraries_warnings_are_one_line_each_and_once(tmp_path: Path) -> None:
    """With certifi's roots, every stderr line is the program's one-line form, none repeated.

    cryptography warns about a certifi root with a negative serial number each place it parses
    it; the command line shows such a warning once, without a source path or code line.
    """
    done = subprocess.run(
        [
            *(sys.executable, "-m", "truststore_builder", "build", "--env", "prod"),
            *("--certifi", "--formats", "pem,p12", "--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines
    # The one info line names the prod G1 CAs the store was built without.
    kinds = ("truststore-builder: warning: ", "truststore-builder: info: ")
    assert all(line.startswith(kinds) for line in lines), lines
    assert sum(line.startswith(kinds[1]) for line in lines) == 1
    assert len(lines) == len(set(lines))


def _keytool_store(pki: GeneratedPki, tmp_path: Path, store_type: str) -> Path:
    """An old password-protected trust store holding the foreign root, made by keytool."""
    ca_file = tmp_path / "company-ca.pem"
    ca_file.write_bytes(pki.foreign.root.certificate.public_bytes(Encoding.PEM))
    store = tmp_path / f"old.{store_type.lower()}"
    done = keytool(
        *("-importcert", "-noprompt", "-alias", "company-ca", "-file", ca_file),
        *("-keystore", store, "-storetype", store_type, "-storepass:env", PASSWORD_VARIABLE),
        password=PLANTED,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return store


@pytest.mark.slow
@pytest.mark.parametrize("store_type", ["JKS", "PKCS12"])
def test_add_reads_an_old_protected_store_with_its_password(
    pki: GeneratedPki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_type: str,
) -> None:
    """--add-password-env opens a keytool store's CAs for --add; a wrong one changes nothing."""
    store = _keytool_store(pki, tmp_path, store_type)
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    monkeypatch.setenv("WRONG_PASSWORD", "not-the-password")
    argv = ["build", "--env", "int", "--add", str(store), "--formats", "pem"]
    out = tmp_path / "out"
    status, stdout, stderr = run(
        [*argv, "--add-password-env", PASSWORD_VAR, "--out", str(out)], capsys
    )
    assert status == 0, stderr
    written = x509.load_pem_x509_certificates((out / "truststore.pem").read_bytes())
    assert len(written) == len(expected_aliases("int")) + 1
    assert pki.foreign.root.certificate in written
    assert PLANTED not in stdout + stderr

    refused = tmp_path / "refused"
    status, _, stderr = run(
        [*argv, "--add-password-env", "WRONG_PASSWORD", "--out", str(refused)], capsys
    )
    assert status == 2
    assert stderr.count("\n") == 1
    assert str(store) in stderr
    assert not refused.exists()


@pytest.mark.slow
def test_add_password_checks_a_jks_store_that_is_read_unchecked_without_it(
    pki: GeneratedPki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An altered JKS passes --add without a password (nothing to check it by), not with one."""
    store = _keytool_store(pki, tmp_path, "JKS")
    data = bytearray(store.read_bytes())
    data[-40] ^= 0x01  # in the certificate's signature, before the 20-byte integrity digest
    store.write_bytes(bytes(data))
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    argv = ["build", "--env", "int", "--add", str(store), "--formats", "pem"]
    status, _, stderr = run([*argv, "--out", str(tmp_path / "unchecked")], capsys)
    assert status == 0, stderr
    status, _, stderr = run(
        [*argv, "--add-password-env", PASSWORD_VAR, "--out", str(tmp_path / "checked")], capsys
    )
    assert status == 2
    assert "integrity" in stderr
    assert not (tmp_path / "checked").exists()


@pytest.mark.parametrize("env", ["dev", "tra"])
def test_dev_and_tra_stores_chain_under_openssl(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real DEV/TRA Level 1C of a built store verifies under the store's real PTL root."""
    out = tmp_path / env
    status, _, _ = run(["build", "--env", env, "--out", str(out), "--formats", "pem"], capsys)
    assert status == 0
    store = x509.load_pem_x509_certificates((out / "truststore.pem").read_bytes())
    root, level_1c = store
    (tmp_path / "root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (tmp_path / "1c.pem").write_bytes(level_1c.public_bytes(Encoding.PEM))
    verified = run_program(
        "openssl", "verify", "-CAfile", tmp_path / "root.pem", tmp_path / "1c.pem"
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip().endswith(": OK")
    assert f"CN=NHS {env.upper()} Level 1C" in level_1c.subject.rfc4514_string()
    # The control: the same intermediate under the prod G2 root does not verify.
    status, _, _ = run(
        ["build", "--env", "prod", "--out", str(tmp_path / "p"), "--formats", "pem"], capsys
    )
    prod_root = x509.load_pem_x509_certificates((tmp_path / "p" / "truststore.pem").read_bytes())[0]
    (tmp_path / "prod-root.pem").write_bytes(prod_root.public_bytes(Encoding.PEM))
    refused = run_program(
        "openssl", "verify", "-CAfile", tmp_path / "prod-root.pem", tmp_path / "1c.pem"
    )
    assert refused.returncode != 0


def test_nhs_list_retired_lists_the_retired_cas(capsys: pytest.CaptureFixture[str]) -> None:
    """`nhs list --retired` lists the seven retired CAs, none of them in the plain listing."""
    status, stdout, _ = run(["nhs", "list", "--retired", "--json"], capsys)
    assert status == 0
    retired = json.loads(stdout)
    assert [ca["slug"] for ca in retired] == [ca.slug for ca in nhs_catalogue().retired]
    assert len(retired) == 7
    status, stdout, _ = run(["nhs", "list", "--json"], capsys)
    listed = {ca["slug"] for ca in json.loads(stdout)}
    assert "digicert-sha2-secure-server-ca" not in listed
    status, _, stderr = run(["nhs", "list", "--retired", "--env", "int"], capsys)
    assert status == 2
    assert "--env does not apply to --retired" in stderr
