"""Secrets: a planted password and private key never show in output, logs, reprs or errors.

Every command is driven, succeeding and failing, with the root logger capturing at DEBUG; the
password and recognisable pieces of the private key (PEM body lines, the private scalar) must
appear in none of stdout, stderr, the log records, the reprs of the objects made, or the text
of any exception raised. Files that hold a key are 0600 even under umask 000, and a key store
is never written without a password.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from truststore_builder import (
    KeyStoreBuilder,
    MissingPasswordError,
    StoreFormat,
    TruststoreBuilderError,
)
from truststore_builder._cli import main
from truststore_builder._writing import serialize_keystore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.pki import GeneratedPki

PASSWORD = "Planted-Hardening-Secret-5521"
WRONG = "Wrong-Planted-Guess-0042"
VARIABLE = "TSB_SECRETS_TEST_PASSWORD"
WRONG_VARIABLE = "TSB_SECRETS_TEST_WRONG"


def _key_markers(pki: GeneratedPki) -> list[str]:
    """Pieces of the client's private key that would betray it if printed."""
    key = pki.g2.client.key
    assert isinstance(key, rsa.RSAPrivateKey)
    body = pki.g2.client.key_pem().decode().splitlines()[1:-1]
    numbers = key.private_numbers()
    return [
        *body[1:4],  # three whole base64 lines of the key
        f"{numbers.d:x}"[:32],
        str(numbers.d)[:32],
        f"{numbers.p:x}"[:32],
    ]


def _assert_clean(text: str, markers: list[str], where: str) -> None:
    for marker in [PASSWORD, WRONG, *markers]:
        assert marker not in text, f"a secret shows in {where}"


@pytest.fixture
def planted(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The client's files, the planted password in the environment and in a file."""
    chain, key = pki.g2.write_client(tmp_path, "g2")
    cas = tmp_path / "cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    encrypted = tmp_path / "g2-key-encrypted.pem"
    from truststore_builder._formats.keys import serialize_private_key_pem  # noqa: PLC0415

    encrypted.write_bytes(serialize_private_key_pem(pki.g2.client.key, PASSWORD.encode()))
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n")
    monkeypatch.setenv(VARIABLE, PASSWORD)
    monkeypatch.setenv(WRONG_VARIABLE, WRONG)
    return {
        "cert": chain,
        "key": key,
        "encrypted": encrypted,
        "cas": cas,
        "password_file": password_file,
        "leaf": chain,
    }


def _commands(files: dict[str, Path], out: Path) -> list[list[str]]:
    """Every command, with and without the right password, succeeding and failing."""
    build = ["build", "--env", "int", "--add", str(files["cas"]), "--out"]
    identity = ["--cert", str(files["cert"]), "--key", str(files["key"])]
    return [
        [*build, str(out / "a"), "--password-env", VARIABLE, *identity],
        [
            *build,
            str(out / "b"),
            "--password-file",
            str(files["password_file"]),
            *identity,
            "--encrypt-key-pem",
            "--json",
        ],
        [
            *build,
            str(out / "c"),
            "--password-env",
            VARIABLE,
            "--cert",
            str(files["cert"]),
            "--key",
            str(files["encrypted"]),
            "--key-password-env",
            VARIABLE,
        ],
        # Failures: wrong key password, no key password, no store password, existing output.
        [
            *build,
            str(out / "d"),
            "--password-env",
            VARIABLE,
            "--cert",
            str(files["cert"]),
            "--key",
            str(files["encrypted"]),
            "--key-password-env",
            WRONG_VARIABLE,
        ],
        [
            *build,
            str(out / "e"),
            "--password-env",
            VARIABLE,
            "--cert",
            str(files["cert"]),
            "--key",
            str(files["encrypted"]),
        ],
        [*build, str(out / "f"), *identity],
        [*build, str(out / "a"), "--password-env", VARIABLE, *identity],
        ["inspect", str(out / "a" / "keystore.p12"), "--password-env", VARIABLE],
        ["inspect", str(out / "a" / "keystore.jks"), "--password-env", VARIABLE, "--json"],
        ["inspect", str(out / "a" / "keystore.p12"), "--password-env", WRONG_VARIABLE],
        ["inspect", str(out / "a" / "keystore.jks"), "--password-env", WRONG_VARIABLE],
        ["inspect", str(out / "a" / "keystore.p12")],
        ["inspect", str(files["key"])],
        ["inspect", str(files["encrypted"])],
        ["convert", str(out / "a" / "truststore.pem"), str(out / "converted.p7b")],
        ["convert", str(files["key"]), str(out / "key-as.pem")],
        ["verify", str(files["cert"]), "--trust", str(files["cas"]), "--key", str(files["key"])],
        [
            "verify",
            str(files["cert"]),
            "--trust",
            str(files["cas"]),
            "--key",
            str(files["encrypted"]),
            "--key-password-env",
            VARIABLE,
            "--json",
        ],
        [
            "verify",
            str(files["cert"]),
            "--trust",
            str(files["cas"]),
            "--key",
            str(files["encrypted"]),
            "--key-password-env",
            WRONG_VARIABLE,
        ],
        [
            "verify",
            str(files["cert"]),
            "--trust",
            str(out / "a" / "keystore.p12"),
            "--password-env",
            WRONG_VARIABLE,
        ],
        [
            "csr",
            "--cn",
            "client.test.nhs.uk",
            "--key-out",
            str(out / "csr-key.pem"),
            "--csr-out",
            str(out / "csr.pem"),
            "--password-env",
            VARIABLE,
        ],
        [
            "csr",
            "--cn",
            "client.test.nhs.uk",
            "--key-out",
            str(out / "csr-key.pem"),
            "--csr-out",
            str(out / "csr.pem"),
            "--password-env",
            VARIABLE,
        ],
        [*build, str(out / "g"), "--password-env", VARIABLE, *identity, "--debug"],
    ]


def test_no_command_prints_or_logs_a_secret(
    pki: GeneratedPki,
    planted: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every command, ok or failing: neither the password nor the key in any output or log."""
    markers = _key_markers(pki)
    out = tmp_path / "out"
    out.mkdir()
    statuses = []
    caplog.set_level(logging.DEBUG)
    old = os.umask(0)
    try:
        for argv in _commands(planted, out):
            status = main(argv)
            statuses.append(status)
            captured = capsys.readouterr()
            _assert_clean(captured.out, markers, f"stdout of {argv[0]}")
            _assert_clean(captured.err, markers, f"stderr of {argv[0]}")
    finally:
        os.umask(old)
    _assert_clean(caplog.text, markers, "the log")
    for record in caplog.records:
        _assert_clean(repr(record.args), markers, "log arguments")
    assert 0 in statuses
    assert 2 in statuses
    # Every file holding a private key is 0600, whatever the umask.
    for name in ("client-key.pem", "keystore.p12", "keystore.jks"):
        for directory in ("a", "b", "c"):
            mode = stat.S_IMODE((out / directory / name).stat().st_mode)
            assert mode == 0o600, f"{directory}/{name}"
    assert stat.S_IMODE((out / "csr-key.pem").stat().st_mode) == 0o600
    # Nothing was written by the failed builds.
    for failed in ("d", "e", "f"):
        assert not (out / failed).exists()


def test_objects_and_errors_hold_no_secret(pki: GeneratedPki, planted: dict[str, Path]) -> None:
    """Reprs, str and HTML of identities and key stores; the text of every error raised."""
    markers = _key_markers(pki)
    builder = (
        KeyStoreBuilder()
        .add_nhs("int")
        .add_trusted_file(planted["cas"])
        .with_identity(planted["cert"], planted["encrypted"], key_password=PASSWORD)
    )
    keystore = builder.build()
    for text in (repr(builder), repr(keystore), str(keystore), keystore._repr_html_()):
        _assert_clean(text, markers, "a repr")
    _assert_clean(repr(keystore.identity), markers, "the identity's repr")
    failures: list[BaseException] = []
    attempts: list[Callable[[], object]] = [
        lambda: (
            KeyStoreBuilder()
            .add_nhs("int")
            .add_trusted_file(planted["cas"])
            .with_identity(planted["cert"], planted["encrypted"], key_password=WRONG)
            .build()
        ),
        lambda: (
            KeyStoreBuilder()
            .add_nhs("int")
            .with_identity(planted["cert"], planted["encrypted"])
            .build()
        ),
        lambda: keystore.to_pkcs12(None),  # type: ignore[arg-type]
        lambda: keystore.to_jks(""),
        lambda: serialize_keystore(keystore, keystore_format(), None),
    ]
    for action in attempts:
        with pytest.raises((TruststoreBuilderError, ValueError, TypeError)) as caught:
            action()
        failures.append(caught.value)
    for error in failures:
        _assert_clean(str(error), markers, "an error")
        _assert_clean(repr(error), markers, "an error's repr")


def keystore_format() -> StoreFormat:
    """PKCS#12, the key store format every consumer reads."""
    return StoreFormat.PKCS12


def test_a_key_store_is_never_written_without_a_password(
    planted: dict[str, Path], tmp_path: Path
) -> None:
    """No password, or the empty one: refused for PKCS#12, JKS and JCEKS; no file appears."""
    keystore = (
        KeyStoreBuilder()
        .add_nhs("int")
        .add_trusted_file(planted["cas"])
        .with_identity(planted["cert"], planted["key"])
        .build()
    )
    for fmt in (StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.JCEKS):
        for password in (None, "", b""):
            with pytest.raises(MissingPasswordError):
                serialize_keystore(keystore, fmt, password)
    target = tmp_path / "nopass"
    assert (
        main(
            [
                "build",
                "--env",
                "int",
                "--add",
                str(planted["cas"]),
                "--cert",
                str(planted["cert"]),
                "--key",
                str(planted["key"]),
                "--out",
                str(target),
            ]
        )
        == 2
    )
    assert not target.exists()
