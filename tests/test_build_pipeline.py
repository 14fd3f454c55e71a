"""One build pipeline: ``build``'s options make a recipe, and recipes do what the options do.

Also where a newcomer stumbled: a password asked for files that need none, which client files
``--formats`` writes, and remedies worded as the reader can type them (an option on the
command line, an argument in Python, a key in a recipe).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.commands import (
    PASSWORD_VARIABLE,
    keytool,
    keytool_list,
    openssl,
    openssl_with_password,
)
from tests.commands import run_cli as run
from tests.pki import make_certificate, rsa_key
from tests.test_cli import PASSWORD_VAR, PLANTED, expected_aliases, trusted_aliases
from tests.test_diff import keystore as keystore_for
from truststore_builder import TrustStoreBuilder, nhs_catalogue
from truststore_builder._errors import (
    MissingPasswordError,
    NhsImpostorError,
    NotACertificateAuthorityError,
    RecipeError,
    WrongPasswordError,
)
from truststore_builder._formats.keys import serialize_private_key_pem
from truststore_builder._model import CLIENT_FILES, StoreFormat
from truststore_builder._recipe_toml import load_recipe

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki


@pytest.fixture
def files(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The G2-like client's chain and key, its CAs in one file, and the password variable set."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    chain, key = pki.g2.write_client(tmp_path, "client")
    cas = tmp_path / "test-cas.pem"
    cas.write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    leaf = tmp_path / "peer.pem"
    leaf.write_bytes(pki.foreign.client.cert_pem())
    return {"cert": chain, "key": key, "cas": cas, "leaf": leaf}


def _identity(files: dict[str, Path], out: Path) -> list[str]:
    return [
        *("build", "--env", "int", "--add", str(files["cas"]), "--out", str(out)),
        *("--cert", str(files["cert"]), "--key", str(files["key"])),
    ]


# --- a password only where a file needs one -------------------------------------------------


def test_pem_client_files_need_no_password(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--formats pem --cert --key` writes the chain and an unencrypted key without a password.

    Before, a password was demanded though no key store was to be written. The controls: a
    key store, or --encrypt-key-pem, still needs one, and nothing is written without it.
    """
    out = tmp_path / "pem"
    status, stdout, stderr = run([*_identity(files, out), "--formats", "pem"], capsys)
    assert status == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "client-chain.pem",
        "client-key.pem",
        "truststore.pem",
    ]
    key = out / "client-key.pem"
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    # OpenSSL reads the key and finds it is the certificate's: the same public key.
    assert openssl("pkey", "-in", key, "-pubout") == openssl(
        "x509", "-in", out / "client-chain.pem", "-pubkey", "-noout"
    )
    assert "wrote " + str(key) in stdout
    for extra, says in (
        (["--formats", "pem,p12"], "a key store needs a password"),
        (["--formats", "pem", "--encrypt-key-pem"], "--encrypt-key-pem"),
    ):
        refused = tmp_path / "refused"
        status, stdout, stderr = run([*_identity(files, refused), *extra], capsys)
        assert (status, stdout) == (2, "")
        assert says in stderr
        assert "--password-env" in stderr
        assert not refused.exists()


# --- which client files each format writes: one table ---------------------------------------


def test_formats_help_says_which_client_files_each_format_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`build --help` names, for --formats, the client files of each format (it did not)."""
    status, stdout, _ = run(["build", "--help"], capsys)
    assert status == 0
    text = " ".join(stdout.split())
    for fmt, client_files in CLIENT_FILES.items():
        names = " and ".join(name for name, _ in client_files)
        assert f"{fmt}: {names}" in text
    assert "p7b and capath write none" in text
    assert "--allow-leaf" in text
    assert "jceks" in text


@pytest.mark.slow
def test_every_format_writes_the_tables_client_files_and_keytool_reads_jceks(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All six formats with an identity: the files CLIENT_FILES names, and JCEKS for keytool.

    JCEKS is new on the command line: JDK 17's keytool lists the trust store's CAs as
    trustedCertEntry and the key store's one PrivateKeyEntry beside them.
    """
    out = tmp_path / "all"
    formats = "pem,p12,jks,jceks,p7b,capath"
    argv = [*_identity(files, out), "--formats", formats, "--password-env", PASSWORD_VAR]
    status, stdout, stderr = run(argv, capsys)
    assert status == 0, stderr
    trust = {"capath" if f == "capath" else f"truststore.{f}" for f in formats.split(",")}
    client = {name for names in CLIENT_FILES.values() for name, _ in names}
    assert {p.name for p in out.iterdir()} == trust | client
    assert stdout.count("read back ok") == len(trust)
    cas = sorted(re.findall(r"Alias: (\S+)", (out / "truststore.pem").read_text()))
    assert len(cas) == len(expected_aliases("int")) + 2
    entries = trusted_aliases(keytool_list(out / "truststore.jceks", "JCEKS", PLANTED))
    assert sorted(entries) == cas
    assert set(entries.values()) == {"trustedCertEntry"}
    entries = trusted_aliases(keytool_list(out / "keystore.jceks", "JCEKS", PLANTED))
    assert entries.pop("client-test-g2-test") == "PrivateKeyEntry"
    assert sorted(entries) == cas
    # The control: keytool refuses the same store under another password.
    wrong = keytool(
        *("-list", "-keystore", out / "keystore.jceks", "-storetype", "JCEKS"),
        *("-storepass:env", PASSWORD_VARIABLE),
        password="not-the-password",
    )
    assert wrong.returncode != 0


# --- remedies in the reader's terms ---------------------------------------------------------


def test_a_refused_leaf_names_allow_leaf_in_each_readers_terms(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A leaf: the CLI says --allow-leaf (which it now has), Python says allow_leaf().

    Before, the CLI's message pointed at allow_leaf(), which the command line lacked. With
    --allow-leaf the same leaf is trusted (the control that the option is real).
    """
    out = tmp_path / "out"
    argv = ["build", "--env", "int", "--add", str(files["leaf"]), "--formats", "pem"]
    status, _, stderr = run([*argv, "--out", str(out)], capsys)
    assert status == 1
    assert "pass --allow-leaf to trust it anyway" in stderr
    assert "allow_leaf()" not in stderr
    assert not out.exists()
    with pytest.raises(NotACertificateAuthorityError) as caught:
        TrustStoreBuilder().add_file(files["leaf"]).build()
    assert "call allow_leaf() to trust it anyway" in str(caught.value)
    assert "--" not in str(caught.value)
    status, _, stderr = run([*argv, "--allow-leaf", "--out", str(out)], capsys)
    assert status == 0, stderr
    assert "Subject: CN=client.foreign.test" in (out / "truststore.pem").read_text()


def test_a_protected_add_store_names_the_option_that_gives_its_password(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A protected PKCS#12 in --add without its password: the CLI names --add-password-env.

    The same store in Python names no command line option; `diff` names --old-password-env
    for its OLD store; with the password given, both read it (the control).
    """
    store = _openssl_pkcs12(files["cas"], tmp_path / "old.p12")
    out = tmp_path / "out"
    argv = ["build", "--env", "int", "--add", str(store), "--formats", "pem", "--out", str(out)]
    status, _, stderr = run(argv, capsys)
    assert status == 2
    assert "give it with --add-password-env VAR or --add-password-file FILE" in stderr
    status, _, stderr = run(["diff", str(store), str(store)], capsys)
    assert status == 2
    assert "--old-password-env" in stderr
    with pytest.raises(MissingPasswordError) as caught:
        TrustStoreBuilder().add_file(store)
    assert "--" not in str(caught.value)
    status, _, stderr = run([*argv, "--add-password-env", PASSWORD_VAR], capsys)
    assert status == 0, stderr
    passwords = ["--old-password-env", PASSWORD_VAR, "--new-password-env", PASSWORD_VAR]
    status, _, stderr = run(["diff", str(store), str(store), *passwords], capsys)
    assert (status, stderr) == (0, "")


def test_verify_and_csr_name_the_option_that_gives_a_missing_password(
    pki: GeneratedPki, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verify's --trust store and --key file and csr's --key file, each without its password.

    Each names its own option, as build, inspect and diff do (issue 14: the command line names
    command line options); with the password given, each reads its file (the control).
    """
    store = _openssl_pkcs12(files["cas"], tmp_path / "trust.p12")
    encrypted = tmp_path / "key-encrypted.pem"
    encrypted.write_bytes(serialize_private_key_pem(pki.g2.client.key, PLANTED.encode()))
    verify = ["verify", str(files["cert"])]
    csr = ["csr", "--cn", "client.test.nhs.uk", "--key", str(encrypted)]
    cases = [
        ([*verify, "--trust", str(store)], "password", ["--password-env", PASSWORD_VAR]),
        (
            [*verify, "--trust", str(files["cas"]), "--key", str(encrypted)],
            "key-password",
            ["--key-password-env", PASSWORD_VAR],
        ),
        (
            [*csr, "--csr-out", str(tmp_path / "renew.csr")],
            "key-password",
            ["--key-password-env", PASSWORD_VAR],
        ),
    ]
    for argv, stem, given in cases:
        status, _, stderr = run(argv, capsys)
        assert status == 2, argv
        assert stderr.endswith(f"; give it with --{stem}-env VAR or --{stem}-file FILE\n"), stderr
        status, _, stderr = run([*argv, *given], capsys)
        assert status == 0, stderr


def test_an_existing_file_names_force_on_the_command_line_and_overwrite_in_python(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same OutputExistsError: `--force` for the CLI, `overwrite=True` for a recipe in Python."""
    out = tmp_path / "out"
    (out / "truststore.pem").parent.mkdir()
    (out / "truststore.pem").write_bytes(b"keep")
    argv = ["build", "--env", "int", "--add", str(files["cas"]), "--formats", "pem"]
    status, _, stderr = run([*argv, "--out", str(out)], capsys)
    assert status == 2
    assert stderr.endswith(
        f"{out / 'truststore.pem'}: already exists and is not what this build makes (its "
        "content differs); pass --force to replace it\n"
    )
    assert "overwrite" not in stderr
    recipe = _write_recipe(tmp_path, '[[targets]]\nformat = "pem"\npath = "out/truststore.pem"\n')
    with pytest.raises(Exception, match=r"\(its content differs\); pass overwrite=True") as caught:
        load_recipe(recipe).build()
    assert "--force" not in str(caught.value)
    assert (out / "truststore.pem").read_bytes() == b"keep"


def test_convert_refuses_a_dangling_link_with_the_writers_one_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    """`convert` onto a dangling link: refused, the link kept; with --force it is replaced."""
    output = tmp_path / "out.pem"
    output.symlink_to(tmp_path / "nowhere")
    status, _, stderr = run(["convert", str(files["cas"]), str(output)], capsys)
    assert status == 2
    assert (
        stderr
        == f"truststore-builder: error: {output}: already exists; pass --force to replace it\n"
    )
    assert output.is_symlink()
    assert not (tmp_path / "nowhere").exists()
    assert run(["convert", str(files["cas"]), str(output), "--force"], capsys)[0] == 0
    assert not output.is_symlink()


# --- recipes gain what the command line had -------------------------------------------------


def _write_recipe(directory: Path, targets: str, trust: str = "") -> Path:
    path = directory / "recipe.toml"
    path.write_text(f'[trust]\nenvironments = ["int"]\nadd = ["test-cas.pem"]\n{trust}\n{targets}')
    return path


def _openssl_pkcs12(cas: Path, path: Path) -> Path:
    """A password-protected PKCS#12 of ``cas`` made by OpenSSL (no key, every certificate)."""
    done = openssl_with_password(
        *("pkcs12", "-export", "-nokeys", "-in", cas, "-out", path),
        *("-passout", f"env:{PASSWORD_VARIABLE}"),
        password=PLANTED,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.usefixtures("files")
def test_a_recipe_capath_target_is_what_openssl_verify_capath_reads(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """`format = "capath"`: OpenSSL's -CApath verifies the client by it, and not a stranger."""
    recipe = _write_recipe(tmp_path, '[[targets]]\nformat = "capath"\npath = "out/capath"\n')
    result = load_recipe(recipe).build()
    capath = tmp_path / "out" / "capath"
    assert result.written == (capath,)
    assert len(result.files[0].certificates) == len(expected_aliases("int")) + 2
    assert all(re.fullmatch(r"[0-9a-f]{8}\.\d", p.name) for p in capath.iterdir())
    client = tmp_path / "client.pem"
    client.write_bytes(pki.g2.client.cert_pem())
    untrusted = tmp_path / "untrusted.pem"
    untrusted.write_bytes(pki.g2.intermediate.cert_pem())
    verified = openssl_with_password("verify", "-CApath", capath, "-untrusted", untrusted, client)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(pki.foreign.client.cert_pem())
    refused = openssl_with_password("verify", "-CApath", capath, stranger)
    assert refused.returncode != 0


def test_a_recipe_reads_a_protected_add_store_with_add_password(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`add_password_env` opens an OpenSSL PKCS#12 in `add`; without it, or wrong, nothing is written."""
    _openssl_pkcs12(files["cas"], tmp_path / "old.p12")
    targets = '[[targets]]\nformat = "pem"\npath = "out/truststore.pem"\n'
    trust = 'add = ["old.p12"]\nadd_password_env = "{}"\n'
    for variable, error in ((None, MissingPasswordError), ("WRONG", WrongPasswordError)):
        monkeypatch.setenv("WRONG", "not-the-password")
        text = 'add = ["old.p12"]\n' if variable is None else trust.format(variable)
        recipe = tmp_path / "recipe.toml"
        recipe.write_text(f'[trust]\nenvironments = ["int"]\n{text}\n{targets}')
        with pytest.raises(error) as caught:
            load_recipe(recipe).build()
        assert str(recipe) in str(caught.value)
        assert "trust" in str(caught.value)
        assert not (tmp_path / "out").exists()
    recipe.write_text(f'[trust]\nenvironments = ["int"]\n{trust.format(PASSWORD_VAR)}\n{targets}')
    result = load_recipe(recipe).build()
    written = (tmp_path / "out" / "truststore.pem").read_text()
    assert len(re.findall("Alias: ", written)) == len(expected_aliases("int")) + 2
    assert result.trust_store is not None
    assert len(result.trust_store) == len(expected_aliases("int")) + 2


def test_recipe_trust_keys_allow_leaf_and_impostors(files: dict[str, Path], tmp_path: Path) -> None:
    """`allow_leaf = true` trusts a leaf in `add`; without it the refusal names the recipe key."""
    (tmp_path / "peer.pem").write_bytes(files["leaf"].read_bytes())
    targets = '[[targets]]\nformat = "pem"\npath = "out/truststore.pem"\n'
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'[trust]\nenvironments = ["int"]\nadd = ["peer.pem"]\n{targets}')
    with pytest.raises(NotACertificateAuthorityError) as caught:
        load_recipe(recipe).build()
    assert "set allow_leaf = true in [trust]" in str(caught.value)
    recipe.write_text(
        '[trust]\nenvironments = ["int"]\nadd = ["peer.pem"]\nallow_leaf = true\n'
        f"allow_test_pki_impostors = true\n{targets}"
    )
    loaded = load_recipe(recipe)
    assert (loaded.trust.allow_leaf, loaded.trust.allow_test_pki_impostors) == (True, True)
    loaded.build()
    assert "Subject: CN=client.foreign.test" in (tmp_path / "out" / "truststore.pem").read_text()
    recipe.write_text(f'[trust]\nenvironments = ["int"]\nallow_leaves = true\n{targets}')
    with pytest.raises(
        RecipeError, match=r"trust\.allow_leaves: unknown key; did you mean allow_leaf"
    ):
        load_recipe(recipe)


def test_keystore_write_decides_its_client_files_by_the_same_table(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """`KeyStore.write` writes each format's CLIENT_FILES (jceks too), plus its PEM bundle."""
    keystore = keystore_for(pki, pki.g2)
    written = keystore.write(tmp_path, password=PLANTED, formats=("pem", "p12", "jceks"))
    names = [name for fmt in ("pem", "p12", "jceks") for name, _ in CLIENT_FILES[StoreFormat(fmt)]]
    assert [path.name for path in written] == [*names[:2], "truststore.pem", *names[2:]]
    assert written[-1].name == "keystore.jceks"
    with pytest.raises(ValueError, match="not p7b"):
        keystore.write(tmp_path / "p7b", password=PLANTED, formats=("p7b",))
    assert not (tmp_path / "p7b").exists()


def test_errors_of_the_options_recipe_name_the_options_not_recipe_keys(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing --add, --cert or --key-password-file is named by its option, never a key path."""
    out = tmp_path / "out"
    missing = tmp_path / "missing.pem"
    for extra, says in (
        (["--add", str(missing)], f"--add: no such file or directory: {missing}"),
        (["--cert", str(missing), "--key", str(files["key"])], f"--cert: no such file: {missing}"),
        (
            [*_identity(files, out)[7:], "--key-password-file", str(missing)],
            "--key-password-file: the file it names does not exist (its path is not shown)",
        ),
    ):
        argv = ["build", "--env", "int", "--formats", "pem", "--out", str(out), *extra]
        status, stdout, stderr = run(argv, capsys)
        assert (status, stdout) == (2, "")
        assert stderr == f"truststore-builder: error: {says}\n"
        assert not out.exists()
    # The control: the same options, every file there, build.
    status, _, stderr = run([*_identity(files, out), "--formats", "pem"], capsys)
    assert status == 0, stderr


def test_an_impostor_names_the_switch_in_each_readers_terms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An NHS CA's subject on another key: --allow-test-pki-impostors, its [trust] key, or the method.

    Before, one message named both the method and the option, and a recipe neither of its keys.
    """
    genuine = nhs_catalogue().certificates["nhs-root-authority-g2"]
    lookalike = tmp_path / "lookalike.pem"
    lookalike.write_bytes(make_certificate(genuine.subject, rsa_key(), ca=True).cert_pem())
    argv = ["build", "--env", "prod", "--add", str(lookalike), "--formats", "pem"]
    status, _, stderr = run([*argv, "--out", str(tmp_path / "out")], capsys)
    assert status == 1
    assert stderr.endswith("must be allowed explicitly: pass --allow-test-pki-impostors\n")
    with pytest.raises(NhsImpostorError) as caught:
        TrustStoreBuilder().add_file(lookalike).build()
    assert str(caught.value).endswith("must be allowed explicitly: call allow_test_pki_impostors()")
    recipe = tmp_path / "recipe.toml"
    targets = '[[targets]]\nformat = "pem"\npath = "out/truststore.pem"\n'
    recipe.write_text(f'[trust]\nenvironments = ["prod"]\nadd = ["lookalike.pem"]\n{targets}')
    with pytest.raises(NhsImpostorError) as caught:
        load_recipe(recipe).build()
    assert str(caught.value).startswith(f"{recipe}: trust: {lookalike}: refused: ")
    assert str(caught.value).endswith("set allow_test_pki_impostors = true in [trust]")
    assert caught.value.nhs_name == "NHS Root Authority G2"  # the error's own fields are kept
    assert not (tmp_path / "out").exists()
    status, _, stderr = run(
        [*argv, "--out", str(tmp_path / "out"), "--allow-test-pki-impostors"], capsys
    )
    assert status == 0, stderr
