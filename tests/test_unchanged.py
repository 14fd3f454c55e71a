"""Reproducible stores: a rebuild that would change nothing a reader sees leaves the files alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.commands import run_cli as run
from tests.test_cli import PASSWORD_VAR, PLANTED

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

OTHER_VAR = "TSB_TEST_OTHER_PASSWORD"
#: Every format in the first test; the others keep to the three defaults (JCEKS keys cost
#: Python MD5 rounds at every read).
EVERY_FORMAT = "pem,p12,jks,jceks,p7b,capath"
FORMATS = "pem,p12,jks"


@pytest.fixture
def inputs(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A G2-like client, its CAs, another CA file, and both passwords in the environment."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    monkeypatch.setenv(OTHER_VAR, "Another-password-2")
    chain, key = pki.g2.write_client(tmp_path, "g2")
    cas = tmp_path / "cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    more = tmp_path / "more.pem"
    more.write_bytes(pki.foreign.root.cert_pem())
    return {"cert": chain, "key": key, "cas": cas, "more": more}


def _argv(
    inputs: dict[str, Path],
    out: Path,
    *extra: str,
    password: str = PASSWORD_VAR,
    formats: str = FORMATS,
) -> list[str]:
    return [
        "build", "--env", "int", "--add", str(inputs["cas"]), "--cert", str(inputs["cert"]),
        "--key", str(inputs["key"]), "--password-env", password, "--formats", formats,
        "--out", str(out), "--json", *extra,
    ]  # fmt: skip


def _state(out: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``out``: inode, modification time (ns) and bytes."""
    return {
        str(path.relative_to(out)): (path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def _unchanged(stdout: str) -> dict[str, bool]:
    report = json.loads(stdout)
    flags = {Path(f["path"]).name: f["unchanged"] for f in report["files"]}
    for path in report["client"]["files"]:
        flags[Path(path).name] = path in report["client"]["unchanged"]
    return flags


def test_the_same_build_leaves_every_file_untouched(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Built twice, with and without --force: same bytes, inodes and mtimes; "unchanged" in --json."""
    out = tmp_path / "out"
    status, stdout, stderr = run(_argv(inputs, out, formats=EVERY_FORMAT), capsys)
    assert status == 0, stderr
    assert not any(_unchanged(stdout).values())  # the control: a first build writes them all
    before = _state(out)
    assert len(before) > 10  # the stores, client files, capath's
    for extra in ((), ("--force",)):
        status, stdout, stderr = run(_argv(inputs, out, *extra, formats=EVERY_FORMAT), capsys)
        assert status == 0, stderr
        flags = _unchanged(stdout)
        assert all(flags.values()), flags
        assert _state(out) == before
        assert PLANTED not in stdout + stderr
    # The same stores built again, in words.
    argv = [a for a in _argv(inputs, out, formats=EVERY_FORMAT) if a != "--json"]
    status, stdout, _ = run(argv, capsys)
    assert status == 0
    assert stdout.count("unchanged ") == len(flags)
    assert "wrote" not in stdout


def test_a_changed_input_is_refused_without_force_and_rewritten_with_it(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another CA: without --force 'already exists' and nothing changes; with it, every store is rewritten."""
    out = tmp_path / "out"
    assert run(_argv(inputs, out), capsys)[0] == 0
    before = _state(out)
    more = ["--add", str(inputs["more"])]
    status, _, stderr = run(_argv(inputs, out, *more), capsys)
    assert status == 2
    assert "already exists and is not what this build makes" in stderr
    assert "--force" in stderr
    assert _state(out) == before
    status, stdout, stderr = run(_argv(inputs, out, *more, "--force"), capsys)
    assert status == 0, stderr
    flags = _unchanged(stdout)
    after = _state(out)
    for name in (
        "truststore.pem",
        "truststore.p12",
        "truststore.jks",
        "keystore.p12",
        "keystore.jks",
    ):
        assert flags[name] is False
        assert after[name][2] != before[name][2]
    # The client's chain and key do not hold the CAs: they are the same, and left alone.
    assert flags["client-chain.pem"] is flags["client-key.pem"] is True
    assert after["client-key.pem"] == before["client-key.pem"]


def test_a_changed_password_rewrites_only_with_force(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another password: a store no longer reads with it, so it is not the same; PEM files are."""
    out = tmp_path / "out"
    assert run(_argv(inputs, out), capsys)[0] == 0
    before = _state(out)
    status, _, stderr = run(_argv(inputs, out, password=OTHER_VAR), capsys)
    assert status == 2
    assert "does not read with this build's password" in stderr
    assert "Another-password" not in stderr
    assert _state(out) == before
    status, stdout, stderr = run(_argv(inputs, out, "--force", password=OTHER_VAR), capsys)
    assert status == 0, stderr
    flags = _unchanged(stdout)
    assert {name for name, same in flags.items() if not same} == {
        "truststore.p12", "truststore.jks", "keystore.p12", "keystore.jks",
    }  # fmt: skip
    assert flags["truststore.pem"] is True
    # Built again with the new password: all the same now.
    status, stdout, _ = run(_argv(inputs, out, password=OTHER_VAR), capsys)
    assert status == 0
    assert all(_unchanged(stdout).values())


def test_another_profile_or_a_loose_mode_is_not_the_same(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The legacy PKCS#12 profile differs in protection only; a key store readable by others is not left so."""
    out = tmp_path / "out"
    assert run(_argv(inputs, out), capsys)[0] == 0
    status, _, stderr = run(_argv(inputs, out, "--p12-profile", "legacy"), capsys)
    assert status == 2
    assert "keystore.p12: already exists" in stderr
    assert "its content or protection differs" in stderr
    status, stdout, _ = run(_argv(inputs, out, "--p12-profile", "legacy", "--force"), capsys)
    assert status == 0
    flags = _unchanged(stdout)
    assert flags["keystore.p12"] is False
    assert flags["truststore.p12"] is True  # a trust store has no profile
    (out / "keystore.jks").chmod(0o644)
    status, _, stderr = run(_argv(inputs, out, "--p12-profile", "legacy"), capsys)
    assert status == 2
    assert "its mode is 0644, not 0600" in stderr
    status, stdout, _ = run(_argv(inputs, out, "--p12-profile", "legacy", "--force"), capsys)
    assert status == 0
    assert (out / "keystore.jks").stat().st_mode & 0o777 == 0o600


def test_an_encrypted_key_file_is_compared_by_its_key(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--encrypt-key-pem draws a new salt each time; the same key under the same password is unchanged."""
    out = tmp_path / "out"
    argv = [a if a != FORMATS else "pem" for a in _argv(inputs, out, "--encrypt-key-pem")]
    assert run(argv, capsys)[0] == 0
    before = _state(out)
    status, stdout, stderr = run(argv, capsys)
    assert status == 0, stderr
    assert _unchanged(stdout)["client-key.pem"] is True
    assert _state(out) == before


def test_summaries_leave_out_the_salts_only(pki: GeneratedPki) -> None:
    """Two serialisations of one key store differ in bytes, not in summary; another key differs in both."""
    from truststore_builder import KeyStoreBuilder  # noqa: PLC0415
    from truststore_builder._formats.jks import jks_content_summary  # noqa: PLC0415
    from truststore_builder._formats.pkcs12 import pkcs12_content_summary  # noqa: PLC0415

    store = (
        KeyStoreBuilder()
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(pki.g2.client.certificate, pki.g2.client.key)
        .build()
    )
    secret = PLANTED.encode()
    for serialise, summarise in (
        (store.to_pkcs12, pkcs12_content_summary),
        (store.to_jks, jks_content_summary),
    ):
        first, second = serialise(PLANTED), serialise(PLANTED)
        assert first != second
        assert summarise(first, secret, None, "a") == summarise(second, secret, None, "b")
    legacy = store.to_pkcs12(PLANTED, profile="legacy")
    assert pkcs12_content_summary(legacy, secret, None, "l") != pkcs12_content_summary(
        store.to_pkcs12(PLANTED), secret, None, "m"
    )


def test_deployment_outputs_rebuilt_the_same_are_unchanged(
    inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PFX (fresh salts each build) and the chain files: built again, left alone; another password is not."""
    out = tmp_path / "out"
    argv = _argv(inputs, out, formats="pfx,chains")
    assert run(argv, capsys)[0] == 0
    before = _state(out)
    status, stdout, stderr = run(argv, capsys)
    assert status == 0, stderr
    report = json.loads(stdout)
    assert report["files"]
    assert all(f["unchanged"] for f in report["files"]), report["files"]
    assert _state(out) == before
    # The control: under another password the PFX is not the same.
    status, _, stderr = run(_argv(inputs, out, formats="pfx,chains", password=OTHER_VAR), capsys)
    assert status == 2
    assert "client.pfx: already exists and is not what this build makes" in stderr
