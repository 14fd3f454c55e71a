"""Secrets: a planted password and private key never show in output, logs, reprs or errors.

Every command is driven, succeeding and failing, with the root logger capturing at DEBUG; the
password and recognisable pieces of the private key (PEM body lines, the private scalar) must
appear in none of stdout, stderr, the log records, the reprs of the objects made, or the text
of any exception raised. Files that hold a key are 0600 even under umask 000, and a key store
is never written without a password.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import stat
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from truststore_builder import (
    InvalidPasswordError,
    KeyStoreBuilder,
    MissingPasswordError,
    RecipeError,
    StoreFormat,
    TrustStoreBuilder,
    TruststoreBuilderError,
    UnknownFormatError,
    _deployment,
    convert,
    load_certificates,
    read_store,
    verify_certificate,
)
from truststore_builder._cli import build_parser, main
from truststore_builder._formats.pkcs12 import load_pkcs12_store
from truststore_builder._sources.files import read_identities, read_private_key
from truststore_builder._stores import serialize_keystore
from truststore_builder.diff import diff_stores
from truststore_builder.recipe import load_recipe

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


@pytest.mark.slow
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


# --- passwords no store can hold: refused, typed, before any library sees them ---------------

#: A password with a NUL byte: cryptography, handed one, panics and prints its bytes.
NUL_PASSWORD = b"Nul\x00Planted-Secret-7310"


def _nul_markers() -> list[str]:
    """How a NUL password would show: its text after the NUL, or Rust's list of its bytes."""
    return ["Planted-Secret-7310", ", ".join(str(byte) for byte in NUL_PASSWORD[:6])]


def _assert_no_nul_secret(text: str, where: str) -> None:
    for marker in _nul_markers():
        assert marker not in text, f"the NUL password shows in {where}"


@pytest.fixture
def p12_store(planted: dict[str, Path], tmp_path: Path) -> Path:
    """A PKCS#12 trust store under the planted password."""
    path = tmp_path / "store.p12"
    TrustStoreBuilder().add_nhs("int").add_file(planted["cas"]).build().write(
        path, password=PASSWORD
    )
    return path


def test_cryptography_prints_a_nul_password_it_is_handed(capfd: pytest.CaptureFixture[str]) -> None:
    """The control: cryptography itself, handed a NUL password, prints the password's bytes."""
    store = TrustStoreBuilder().add_nhs("int").build().to_pkcs12(PASSWORD)
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - pyo3's PanicException
        pkcs12.load_pkcs12(store, NUL_PASSWORD)
    assert type(caught.value).__name__ == "PanicException"
    assert _nul_markers()[1] in capfd.readouterr().err


def test_a_nul_password_is_refused_by_every_python_entry_point(
    planted: dict[str, Path],
    p12_store: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every function taking a password: InvalidPasswordError, and nothing printed by a panic."""
    keystore = (
        KeyStoreBuilder()
        .add_nhs("int")
        .add_trusted_file(planted["cas"])
        .with_identity(planted["cert"], planted["key"])
        .build()
    )
    store = keystore.trust_store
    data = p12_store.read_bytes()
    attempts: list[Callable[[bytes | str], object]] = [
        lambda pw: read_store(p12_store, password=pw),
        lambda pw: read_store(data, password=pw),
        lambda pw: load_certificates(p12_store, password=pw),
        lambda pw: TrustStoreBuilder().add_file(p12_store, password=pw),
        lambda pw: TrustStoreBuilder().add_bytes(data, password=pw),
        lambda pw: read_identities(p12_store, password=pw),
        lambda pw: read_private_key(planted["encrypted"], password=pw),
        lambda pw: KeyStoreBuilder().with_identity(
            planted["cert"], planted["encrypted"], key_password=pw
        ),
        lambda pw: diff_stores(p12_store, p12_store, old_password=pw, new_password=PASSWORD),
        lambda pw: diff_stores(p12_store, p12_store, old_password=PASSWORD, new_password=pw),
        lambda pw: convert(p12_store, "pem", password=pw),
        lambda pw: verify_certificate(planted["cert"], trust=p12_store, trust_password=pw),
        lambda pw: verify_certificate(
            planted["cert"], environment="int", key=planted["encrypted"], key_password=pw
        ),
        lambda pw: store.serialize("p12", pw),
        store.to_pkcs12,
        store.to_jks,
        lambda pw: store.write(tmp_path / "nul.p12", password=pw),
        keystore.to_pkcs12,
        keystore.to_jks,
        keystore.key_pem,
        lambda pw: keystore.write(tmp_path / "nul-out", password=pw),
        lambda pw: load_pkcs12_store(data, bytes(pw, "utf-8") if isinstance(pw, str) else pw, "x"),
    ]
    for password in (NUL_PASSWORD, NUL_PASSWORD.decode()):
        for attempt in attempts:
            with pytest.raises(InvalidPasswordError, match="holds a NUL character") as caught:
                attempt(password)
            _assert_no_nul_secret(str(caught.value), "an error")
            _assert_no_nul_secret(repr(caught.value), "an error's repr")
    captured = capfd.readouterr()
    _assert_no_nul_secret(captured.out + captured.err, "the output")
    assert not (tmp_path / "nul.p12").exists()
    assert not (tmp_path / "nul-out").exists()


def test_a_nul_password_is_refused_by_every_command(
    planted: dict[str, Path],
    p12_store: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every password option given a NUL: exit 2, one line naming the option, no panic printed."""
    secret = tmp_path / "nul-password.txt"
    secret.write_bytes(NUL_PASSWORD + b"\n")
    out = tmp_path / "out"
    identity = ["--cert", str(planted["cert"]), "--key", str(planted["key"])]
    build = ["build", "--env", "int", "--add", str(planted["cas"]), "--out", str(out)]
    commands = [
        ["inspect", str(p12_store), "--password-file", str(secret)],
        [*build, "--password-file", str(secret)],
        [
            *build,
            "--password-env",
            VARIABLE,
            "--add",
            str(p12_store),
            "--add-password-file",
            str(secret),
        ],
        [
            *build,
            "--password-env",
            VARIABLE,
            "--cert",
            str(planted["cert"]),
            "--key",
            str(planted["encrypted"]),
            "--key-password-file",
            str(secret),
        ],
        [*build, "--password-env", VARIABLE, *identity, "--jks-key-password-file", str(secret)],
        ["verify", str(planted["cert"]), "--trust", str(p12_store), "--password-file", str(secret)],
        ["diff", str(p12_store), str(p12_store), "--old-password-file", str(secret)],
        ["diff", str(p12_store), str(p12_store), "--new-password-file", str(secret)],
        [
            "csr",
            "--cn",
            "client.test.nhs.uk",
            "--key-out",
            str(tmp_path / "k.pem"),
            "--csr-out",
            str(tmp_path / "c.pem"),
            "--password-file",
            str(secret),
        ],
    ]
    for argv in commands:
        status = main(argv)
        captured = capfd.readouterr()
        option = next(arg for arg in argv if arg.endswith("password-file"))
        assert status == 2, argv
        assert captured.err == (
            f"truststore-builder: error: {option}: the file it names holds a NUL character, "
            "which no store password can hold\n"
        )
        _assert_no_nul_secret(captured.out + captured.err, f"the output of {argv[0]}")
    assert not out.exists()
    assert not (tmp_path / "k.pem").exists()


def test_passwords_java_cannot_be_given_are_typed_errors(
    planted: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not UTF-8 (JKS, PKCS#12) or not ASCII (a JCEKS key): InvalidPasswordError, exit 2."""
    keystore = (
        KeyStoreBuilder()
        .add_nhs("int")
        .add_trusted_file(planted["cas"])
        .with_identity(planted["cert"], planted["key"])
        .build()
    )
    not_utf8 = b"\xff\xfePlanted-Secret-7310"
    cases: list[Callable[[], object]] = [
        lambda: keystore.trust_store.to_jks(not_utf8),
        lambda: keystore.trust_store.serialize("jceks", not_utf8),
        lambda: keystore.to_pkcs12(not_utf8),
        lambda: keystore.to_jks(not_utf8),
        lambda: keystore.to_jks(PASSWORD, key_password=not_utf8),
        lambda: serialize_keystore(keystore, StoreFormat.JCEKS, "pässwörd-Planted-Secret-7310"),
    ]
    for case in cases:
        with pytest.raises(InvalidPasswordError) as caught:
            case()
        assert isinstance(caught.value, ValueError)  # and still the ValueError it was
        assert "Planted-Secret-7310" not in str(caught.value)
    # The same through the command line: a typed error, not "internal error".
    secret = tmp_path / "latin1.txt"
    secret.write_bytes(not_utf8)
    build = ["build", "--env", "int", "--add", str(planted["cas"])]
    for formats, extra in (("jks", []), ("p12", ["--cert", str(planted["cert"])])):
        argv = [*build, "--out", str(tmp_path / formats), "--formats", formats]
        argv += ["--password-file", str(secret)]
        if extra:
            argv += [*extra, "--key", str(planted["key"])]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "internal error" not in err
        assert "UTF-8" in err
        assert "Planted-Secret-7310" not in err
        assert not (tmp_path / formats).exists()


# --- options whose value may be a secret: named, never echoed ---------------------------------


def _password_options() -> dict[str, set[str]]:
    """Every subcommand's options that name a password's source, read from the parser."""
    found: dict[str, set[str]] = {}
    parser = build_parser()
    # argparse offers no public view of its subcommands and their options.
    actions = parser._actions  # noqa: SLF001
    (commands,) = (a for a in actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    for name, subparser in commands.choices.items():
        for action in subparser._actions:  # noqa: SLF001
            for option in action.option_strings:
                if "password" in option:
                    found.setdefault(name, set()).add(option)
    return found


def test_a_password_option_never_echoes_its_value(
    planted: dict[str, Path],
    p12_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every -env and -file password option given a password instead: named, value not shown."""
    monkeypatch.chdir(tmp_path)  # PASSWORD, as a relative path, names no file
    out = str(tmp_path / "out")
    cert, key, cas = (str(planted[name]) for name in ("cert", "key", "cas"))
    bases = {
        "build": ["build", "--env", "int", "--add", cas],
        "inspect": ["inspect", str(p12_store)],
        "verify": ["verify", cert, "--trust", str(p12_store), "--key", str(planted["encrypted"])],
        "csr": ["csr", "--cn", "c.test.nhs.uk", "--key-out", "k.pem", "--csr-out", "c.pem"],
        "diff": ["diff", str(p12_store), str(p12_store)],
    }
    needs = {  # what else an option needs for the command to reach it
        "--key-password": ["--cert", cert, "--key", str(planted["encrypted"])],
        "--jks-key-password": ["--cert", cert, "--key", key],
        "--add-password": ["--add", str(p12_store)],
        "--identity-from-password": ["--identity-from", str(p12_store)],
    }
    options = _password_options()
    assert set(options) == set(bases), "a subcommand with a password option is not swept"
    swept = 0
    for command, names in options.items():
        for option in sorted(names):
            stem = option.rsplit("-", 1)[0]
            argv = [*bases[command], option, PASSWORD]
            if command == "csr" and stem == "--key-password":  # the password of a reused key
                argv = ["csr", "--cn", "c.test.nhs.uk", "--key", str(planted["encrypted"])]
                argv += ["--csr-out", "c.pem", option, PASSWORD]
            if command == "build":
                argv += ["--out", out, *needs.get(stem, [])]
                if stem != "--password":
                    argv += ["--password-env", VARIABLE]
            status = main(argv)
            captured = capsys.readouterr()
            assert status == 2, argv
            assert captured.err.startswith(f"truststore-builder: error: {option}: "), argv
            _assert_clean(captured.out + captured.err, [], f"{command} {option}")
            swept += 1
    assert swept == 25  # build 10, verify 4, diff 4, inspect 3, csr 4
    assert not (tmp_path / "out").exists()


def test_a_recipe_password_key_never_echoes_its_value(
    planted: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """password_env, password_file, key_password_env, key_password_file: the key, not the value."""
    head = f"[trust]\nenvironments = ['int']\nadd = ['{planted['cas']}']\n"
    identity = f"[identity]\ncert = '{planted['cert']}'\nkey = '{planted['encrypted']}'\n"
    target = "[[targets]]\nformat = 'p12'\npath = 'out/t.p12'\n"
    recipes = {
        "targets[0].password_env": head + target + f"password_env = '{PASSWORD}'\n",
        "targets[0].password_file": head + target + f"password_file = '{PASSWORD}'\n",
        "identity.key_password_env": (
            head
            + identity
            + f"key_password_env = '{PASSWORD}'\n"
            + target
            + f"password_env = '{VARIABLE}'\n"
        ),
        "identity.key_password_file": (
            head
            + identity
            + f"key_password_file = '{PASSWORD}'\n"
            + target
            + f"password_env = '{VARIABLE}'\n"
        ),
    }
    for key_path, text in recipes.items():
        path = tmp_path / "recipe.toml"
        path.write_text(text)
        with pytest.raises(RecipeError) as caught:
            load_recipe(path).build()
        assert caught.value.key_path == key_path
        _assert_clean(str(caught.value), [], key_path)
        assert main(["build", "--recipe", str(path)]) == 2
        captured = capsys.readouterr()
        assert f": {key_path}: " in captured.err
        _assert_clean(captured.out + captured.err, [], f"build --recipe ({key_path})")
    assert not (tmp_path / "out").exists()


def test_a_password_file_given_as_a_store_is_not_shown(
    planted: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password file read as a store: 'unknown format', with neither its text nor its bytes."""
    password_file = planted["password_file"]
    first_bytes = PASSWORD.encode()[:4].hex(" ")
    cert = str(planted["cert"])
    commands = [
        ["inspect", str(password_file)],
        ["convert", str(password_file), str(tmp_path / "x.pem")],
        [
            "build",
            "--env",
            "int",
            "--add",
            str(password_file),
            "--out",
            str(tmp_path / "o"),
            "--formats",
            "pem",
        ],
        ["verify", cert, "--trust", str(password_file)],
        ["diff", str(password_file), str(planted["cas"])],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert "unknown format" in text, argv
        assert "bytes of text; the content is not shown" in text
        _assert_clean(text, [PASSWORD[:4], first_bytes], argv[0])
    with pytest.raises(UnknownFormatError) as caught:
        read_store(password_file)
    _assert_clean(str(caught.value), [PASSWORD[:4], first_bytes], "the error")


def test_a_misspelt_password_option_does_not_echo_what_follows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unrecognised arguments are named, not echoed: a password after --pasword-env stays unshown."""
    for argv in (
        ["inspect", "x.p12", "--pasword-env", PASSWORD],
        ["inspect", "x.p12", f"--pasword-file={PASSWORD}"],
        ["build", "--env", "int", "--out", "o", PASSWORD],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "unrecognized argument" in err
        _assert_clean(err, [], " ".join(argv[:2]))
    assert main(["inspect", "x.p12", "--bogus"]) == 2  # an option alone is still named
    assert "unrecognized arguments: --bogus (see" in capsys.readouterr().err


def test_the_pipeline_and_deployment_outputs_hold_no_secret(
    pki: GeneratedPki,
    planted: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14's pipeline and issue 16's deployment outputs, built and failing, show no secret.

    A recipe with an encrypted key and a key store, a kubernetes.io/tls Secret, the MHS
    environment files, a PFX and a trust bundle with its password Secret: the reprs and
    strings of the recipe, each target and password reference, the BuildResult, each
    WrittenFile and its to_dict, build --recipe's text and --json output, and the library's
    DeploymentFiles; then a wrong key password and a missing store password. The control:
    the files written do hold the key and the password (the Secret and env files must).
    """
    markers = _key_markers(pki)
    head = f"[trust]\nenvironments = ['int']\nadd = ['{planted['cas']}']\n"
    identity = (
        f"[identity]\ncert = '{planted['cert']}'\nkey = '{planted['encrypted']}'\n"
        f"key_password_env = '{VARIABLE}'\n"
    )
    targets = (
        f"[[targets]]\nformat = 'keystore-p12'\npath = 'out/ks.p12'\npassword_env = '{VARIABLE}'\n"
        "[[targets]]\nformat = 'k8s-tls-secret'\npath = 'out'\nname = 'nhs-int'\n"
        "[[targets]]\nformat = 'env'\npath = 'out'\n"
        f"[[targets]]\nformat = 'pfx'\npath = 'out'\npassword_file = '{planted['password_file']}'\n"
        "[[targets]]\nformat = 'k8s-trust-bundle'\npath = 'out'\nname = 'bundle'\n"
        f"jks_key = 'bundle.jks'\npassword_env = '{VARIABLE}'\n"
    )
    path = tmp_path / "recipe.toml"
    path.write_text(head + identity + targets)
    recipe = load_recipe(path)
    texts = {"the recipe": repr(recipe), "its identity": repr(recipe.identity)}
    for index, target in enumerate(recipe.targets):
        texts[f"targets[{index}]"] = repr(target) + str(target)
        for name in ("password", "key_password"):
            texts[f"targets[{index}].{name}"] = repr(getattr(target, name, None))
    result = recipe.build()
    texts["the result"] = repr(result) + str(result)
    texts["its dict"] = json.dumps(result.to_dict(), default=str)
    for file in result.files:
        texts[str(file.path)] = repr(file) + str(file)
    written = b"".join(p.read_bytes() for p in (tmp_path / "out").iterdir())
    # The trust bundle's password Secret holds the password (base64, as Kubernetes stores data).
    assert base64.b64encode(PASSWORD.encode()) in written
    assert markers[0].encode() in written  # the env file holds the key's PEM
    for flags in ([], ["--json"]):
        assert main(["build", "--recipe", str(path), "--force", *flags]) == 0
        captured = capsys.readouterr()
        texts[f"build --recipe {flags}"] = captured.out + captured.err
    keystore = (
        KeyStoreBuilder()
        .with_identity(planted["cert"], planted["key"])
        .with_trust_store(TrustStoreBuilder().add_nhs("int").add_file(planted["cas"]))
        .build()
    )
    deployment = {
        "environment_files": _deployment.environment_files(keystore),
        "kubernetes_tls_secret": _deployment.kubernetes_tls_secret(keystore, name="x"),
        "windows_pfx": _deployment.windows_pfx(keystore, PASSWORD),
        "kubernetes_trust_bundle": _deployment.kubernetes_trust_bundle(
            keystore.trust_store, name="x", jks_key="b.jks", password=PASSWORD
        ),
    }
    for name, files in deployment.items():
        texts[name] = repr(files) + str(files)
    wrong = path.read_text().replace(
        f"key_password_env = '{VARIABLE}'", f"key_password_env = '{WRONG_VARIABLE}'"
    )
    missing = path.read_text().replace(
        f"password_env = '{VARIABLE}'\n", "password_env = 'TSB_UNSET_42'\n"
    )
    for label, text in {"a wrong key password": wrong, "a missing password": missing}.items():
        path.write_text(text)
        with pytest.raises(TruststoreBuilderError) as caught:
            load_recipe(path).build(overwrite=True)
        texts[label] = repr(caught.value) + str(caught.value)
        assert main(["build", "--recipe", str(path), "--force", "--json"]) == 2
        captured = capsys.readouterr()
        texts[f"build --recipe with {label}"] = captured.out + captured.err
    for where, text in texts.items():
        _assert_clean(text, markers, where)
