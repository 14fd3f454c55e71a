"""Recipes: TOML in, every target or none out; errors name the file and the key path."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.commands import keytool_list
from tests.commands import run_cli as run
from tests.pki import _name, make_certificate
from tests.test_cli import PASSWORD_VAR, PLANTED, trusted_aliases
from truststore_builder._cli.errors import exit_status
from truststore_builder._cli.progress import TerminalProgress
from truststore_builder._errors import (
    BatchError,
    KeyMismatchError,
    OutputError,
    OutputExistsError,
    RecipeError,
)
from truststore_builder._model import Environment
from truststore_builder._recipe import (
    PasswordRef,
    RecipeTarget,
    TargetFormat,
)
from truststore_builder._recipe_toml import load_recipe

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

BATCH_ROWS = 20
KEY_VAR = "TSB_TEST_KEYSTORE_PASSWORD"


@pytest.fixture
def inputs(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the G2-like client's chain and key, its CAs, a G1 key, and passwords set."""
    monkeypatch.setenv(PASSWORD_VAR, PLANTED)
    monkeypatch.setenv(KEY_VAR, PLANTED + "-ks")
    pki.g2.write_client(tmp_path, "client")
    pki.g1.write_client(tmp_path, "other")
    (tmp_path / "test-cas.pem").write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    return tmp_path


@pytest.fixture(scope="module")
def batch_dir(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twenty EC P-256 clients issued by the G2-like intermediate, and mailboxes.csv naming them."""
    directory = tmp_path_factory.mktemp("batch")
    (directory / "keys").mkdir()
    lines = ["name,cert,key,alias"]
    for i in range(BATCH_ROWS):
        name = f"mbx{i:02d}"
        issued = make_certificate(
            _name(f"{name}.x26.api.mesh-client.nhs.uk", ou="Devices"),
            ec.generate_private_key(ec.SECP256R1()),
            issuer=pki.g2.intermediate,
            ca=False,
        )
        (directory / "keys" / f"{name}.pem").write_bytes(issued.cert_pem())
        (directory / "keys" / f"{name}-key.pem").write_bytes(issued.key_pem())
        lines.append(f"{name},keys/{name}.pem,keys/{name}-key.pem,{name}")
    (directory / "mailboxes.csv").write_text("\n".join(lines) + "\n")
    (directory / "test-cas.pem").write_bytes(
        pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem()
    )
    return directory


def _recipe(directory: Path, text: str, name: str = "recipe.toml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


TRUST = """
[trust]
environments = ["int"]
add = ["test-cas.pem"]
"""

IDENTITY = """
[identity]
cert = "client-chain.pem"
key = "client-key.pem"
alias = "mesh-client"
"""

FULL = (
    TRUST
    + IDENTITY
    + f"""
[[targets]]
format = "jks"
path = "out/truststore.jks"
password_env = "{PASSWORD_VAR}"

[[targets]]
format = "pem"
path = "out/truststore.pem"

[[targets]]
format = "keystore-jks"
path = "out/meshclient.jks"
password_env = "{KEY_VAR}"
"""
)


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_recipe_builds_trust_stores_and_a_mesh_key_store(inputs: Path) -> None:
    """Trust store JKS + PEM and a key store JKS; keytool sees PrivateKeyEntry + trustedCertEntry."""
    result = load_recipe(_recipe(inputs, FULL)).build()
    out = inputs / "out"
    assert result.written == (
        out / "truststore.jks",
        out / "truststore.pem",
        out / "meshclient.jks",
    )
    trust = trusted_aliases(keytool_list(out / "truststore.jks", "JKS", PLANTED))
    assert len(trust) == 6  # the four NHS INT CAs and the two added test CAs
    assert set(trust.values()) == {"trustedCertEntry"}
    keystore = trusted_aliases(keytool_list(out / "meshclient.jks", "JKS", PLANTED + "-ks"))
    assert keystore.pop("mesh-client") == "PrivateKeyEntry"
    assert keystore == trust
    assert (out / "truststore.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 6
    assert [f.private for f in result.files] == [False, False, True]
    assert (out / "meshclient.jks").stat().st_mode & 0o777 == 0o600


BROKEN = [
    (
        "unknown key",
        "[trust]\nenvironments=['int']\nenviroment='x'\n",
        "trust.enviroment",
        "did you mean environments?",
    ),
    (
        "wrong type",
        "[trust]\nenvironments=['int']\ncertifi='yes'\n",
        "trust.certifi",
        "expected true or false, not a string",
    ),
    (
        "wrong item type",
        "[trust]\nenvironments=['int', 2]\n",
        "trust.environments[1]",
        "expected a string, not an integer",
    ),
    (
        "unknown environment",
        "[trust]\nenvironments=['live']\n",
        "trust.environments[0]",
        "unknown environment 'live'",
    ),
    (
        "missing trust",
        "[[targets]]\nformat='pem'\npath='a.pem'\n",
        "trust",
        "missing; expected a table",
    ),
    (
        "missing file",
        "[trust]\nenvironments=['int']\nadd=['nope.pem']\n[[targets]]\nformat='pem'\npath='a.pem'\n",
        "trust.add[0]",
        "no such file or directory",
    ),
    (
        "missing key file",
        TRUST + "[identity]\ncert='client-chain.pem'\nkey='gone.pem'\n",
        "identity.key",
        "no such file",
    ),
    (
        "unknown format",
        TRUST + "[[targets]]\nformat='pkcs11'\npath='a.p11'\n",
        "targets[0].format",
        "unknown format 'pkcs11'",
    ),
    (
        "jks without password",
        TRUST + "[[targets]]\nformat='jks'\npath='a.jks'\n",
        "targets[0].password_env",
        "needs a password",
    ),
    (
        "password on pem",
        TRUST + "[[targets]]\nformat='pem'\npath='a.pem'\npassword_env='X'\n",
        "targets[0].password_env",
        "has no password",
    ),
    (
        "profile on jks",
        TRUST
        + IDENTITY
        + "[[targets]]\nformat='keystore-jks'\npath='a.jks'\npassword_env='X'\nprofile='legacy'\n",
        "targets[0].profile",
        "only keystore-p12",
    ),
    (
        "unknown profile",
        TRUST
        + IDENTITY
        + "[[targets]]\nformat='keystore-p12'\npath='a.p12'\npassword_env='X'\nprofile='java5'\n",
        "targets[0].profile",
        "unknown PKCS#12 profile",
    ),
    (
        "key store without identity",
        TRUST + "[[targets]]\nformat='keystore-p12'\npath='a.p12'\npassword_env='X'\n",
        "targets[0].format",
        "needs an [identity] table",
    ),
    ("no targets", TRUST, "targets", "at least one"),
    (
        "batch path without name",
        TRUST
        + "[batch]\ntable='rows.csv'\n[[batch.targets]]\nformat='client-chain-pem'\npath='out/chain.pem'\n",
        "batch.targets[0].path",
        "uses {name} (the row's name), plain",
    ),
    *(
        (
            f"batch path {spelling}",
            TRUST
            + "[batch]\ntable='rows.csv'\n[[batch.targets]]\nformat='client-chain-pem'\n"
            + f"path='out/{spelling}.pem'\n",
            "batch.targets[0].path",
            "plain and nothing else",
        )
        # A width that would allocate gigabytes, a conversion, an attribute, an index, a stray {.
        for spelling in ("{name:>1500000000}", "{name!r}", "{name.upper}", "{name[0]}", "{name}{")
    ),
    (
        "batch trust target",
        TRUST
        + "[batch]\ntable='rows.csv'\n[[batch.targets]]\nformat='pem'\npath='out/{name}.pem'\n",
        "batch.targets[0].format",
        "is a trust store",
    ),
    (
        "batch missing cert",
        TRUST
        + "[batch]\ntable='bad-rows.csv'\n[[batch.targets]]\nformat='client-chain-pem'\npath='out/{name}.pem'\n",
        "batch.table[b].cert",
        "no such file",
    ),
    (
        "batch unknown column",
        TRUST
        + "[batch]\ntable='odd-rows.csv'\n[[batch.targets]]\nformat='client-chain-pem'\npath='out/{name}.pem'\n",
        "batch.table",
        "unknown column colour",
    ),
]


@pytest.mark.parametrize(
    ("text", "key_path", "says"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_every_recipe_error_names_the_file_and_the_key_path(
    inputs: Path, text: str, key_path: str, says: str
) -> None:
    """Unknown keys, wrong types, missing files, bad formats and options: RecipeError at the key."""
    (inputs / "rows.csv").write_text("name,cert,key\na,client-chain.pem,client-key.pem\n")
    (inputs / "bad-rows.csv").write_text("name,cert,key\nb,missing.pem,client-key.pem\n")
    (inputs / "odd-rows.csv").write_text(
        "name,cert,key,colour\na,client-chain.pem,client-key.pem,red\n"
    )
    path = _recipe(inputs, text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert str(caught.value).startswith(f"{path}: {key_path}: "), str(caught.value)
    assert says in str(caught.value)
    assert caught.value.key_path == key_path
    assert caught.value.path == str(path)


def test_thousands_of_repeated_environments_and_add_paths_build_in_linear_time(
    inputs: Path,
) -> None:
    """20,000 repeats of an environment and of an add path: read once each, built in seconds.

    Before, each repeat was built again (30,000 took 89 s); the store equals the one without
    repeats.
    """
    repeats = 20_000
    text = (
        "[trust]\nenvironments = [" + ", ".join(['"int"'] * repeats) + "]\n"
        "add = [" + ", ".join(['"test-cas.pem"', '"./test-cas.pem"'] * (repeats // 2)) + "]\n"
        '[[targets]]\nformat = "pem"\npath = "out/many.pem"\n'
    )
    started = time.monotonic()
    recipe = load_recipe(_recipe(inputs, text))
    assert recipe.trust.environments == (Environment.INT,)
    assert recipe.trust.add == (inputs / "test-cas.pem",)
    recipe.build()
    assert time.monotonic() - started < 10
    plain = TRUST + '[[targets]]\nformat = "pem"\npath = "out/once.pem"\n'
    load_recipe(_recipe(inputs, plain, "once.toml")).build()
    assert (inputs / "out/many.pem").read_bytes() == (inputs / "out/once.pem").read_bytes()


def test_an_unset_password_variable_is_named_at_build(
    inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`targets[2].password_env:` unset, named by its key, not its value; nothing is created."""
    monkeypatch.delenv(KEY_VAR)
    path = _recipe(inputs, FULL)
    recipe = load_recipe(path)
    with pytest.raises(RecipeError) as caught:
        recipe.build()
    assert str(caught.value) == (
        f"{path}: targets[2].password_env: the environment variable it names is not set "
        "(its name is not shown)"
    )
    assert KEY_VAR not in str(caught.value)
    assert not (inputs / "out").exists()


def test_an_inline_password_is_refused_without_echoing_it(inputs: Path) -> None:
    """`password = "..."` is an error that says why and how, and never shows the value."""
    text = TRUST + f"[[targets]]\nformat = 'p12'\npath = 'a.p12'\npassword = '{PLANTED}'\n"
    path = _recipe(inputs, text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert caught.value.key_path == "targets[0].password"
    assert "never written in a recipe" in message
    assert "password_env" in message
    assert "password_file" in message
    assert PLANTED not in message


def test_a_failing_last_target_leaves_every_file_untouched(inputs: Path) -> None:
    """A mismatched key in the last row: existing files stay byte-identical, none is created."""
    (inputs / "rows.csv").write_text(
        "name,cert,key\ngood,client-chain.pem,client-key.pem\nbad,client-chain.pem,other-key.pem\n"
    )
    text = (
        FULL
        + f"""
[[targets]]
format = "p12"
path = "out/new/truststore.p12"

[batch]
table = "rows.csv"
[[batch.targets]]
format = "keystore-p12"
path = "out/rows/{{name}}.p12"
password_env = "{KEY_VAR}"
"""
    )
    out = inputs / "out"
    out.mkdir()
    for name in ("truststore.jks", "truststore.pem", "meshclient.jks"):
        (out / name).write_bytes(b"old " + name.encode())
    recipe = load_recipe(_recipe(inputs, text))
    before = _digests(inputs)
    with pytest.raises(BatchError) as caught:
        recipe.build(overwrite=True)
    (failure,) = caught.value.failures
    assert isinstance(failure, KeyMismatchError)
    assert "batch.table[bad]" in str(failure)
    assert "1 of 2 rows failed, nothing was written" in str(caught.value)
    assert _digests(inputs) == before
    assert not (out / "new").exists()
    assert not (out / "rows").exists()


def test_an_existing_file_is_refused_before_any_work(inputs: Path) -> None:
    """Without overwrite an existing target fails at once, naming its key path; nothing changes."""
    path = _recipe(inputs, FULL)
    (inputs / "out").mkdir()
    (inputs / "out" / "meshclient.jks").write_bytes(b"old")
    before = _digests(inputs)
    with pytest.raises(OutputExistsError, match=r"targets\[2\]\.path: .* already exists"):
        load_recipe(path).build()
    assert _digests(inputs) == before


def _batch_recipe(batch_dir: Path, out: str, fmt: str = "keystore-p12") -> Path:
    password = f'password_env = "{KEY_VAR}"' if fmt.startswith("keystore") else ""
    return _recipe(
        batch_dir,
        TRUST
        + f"""
[batch]
table = "mailboxes.csv"
[[batch.targets]]
format = "{fmt}"
path = "{out}/{{name}}.{fmt.rsplit("-", 1)[-1]}"
{password}
""",
        f"{out}.toml",
    )


def test_a_batch_of_twenty_builds_one_key_store_per_row_on_both_cores(
    batch_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty rows give twenty PKCS#12 key stores, in two worker processes, with a summary."""
    monkeypatch.setenv(KEY_VAR, PLANTED)
    stream = io.StringIO()
    started = time.perf_counter()
    result = load_recipe(_batch_recipe(batch_dir, "p12")).build(
        progress=TerminalProgress(stream), workers=2
    )
    elapsed = time.perf_counter() - started
    assert result.rows == BATCH_ROWS
    assert result.workers == 2
    assert len(result.files) == BATCH_ROWS
    assert [f.row for f in result.files] == [f"mbx{i:02d}" for i in range(BATCH_ROWS)]
    assert result.summary().startswith(
        f"wrote {BATCH_ROWS} files (0 from targets, 20 from 20 batch rows, 2 workers)"
    )
    key, certificate, cas = pkcs12.load_key_and_certificates(
        (batch_dir / "p12" / "mbx07.p12").read_bytes(), PLANTED.encode()
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert certificate is not None
    assert "mbx07.x26" in certificate.subject.rfc4514_string()
    assert len(cas) == 2 + 6  # intermediate and root in the chain, then the trusted CAs
    bar = stream.getvalue()
    assert bar.count("\r") == BATCH_ROWS + 1
    assert (
        bar.endswith(f"] {BATCH_ROWS}/{BATCH_ROWS} rows {elapsed:.0f} s\n") or "20/20 rows" in bar
    )


def test_a_batch_reports_every_failed_row_and_writes_nothing(
    batch_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bad rows of twenty: a BatchError naming both; none of the eighteen good files appears."""
    monkeypatch.setenv(KEY_VAR, PLANTED)
    table = (batch_dir / "mailboxes.csv").read_text().splitlines()
    table[3] = table[3].replace("mbx02-key.pem", "mbx03-key.pem")
    table[9] = table[9].replace("mbx08-key.pem", "mbx09-key.pem")
    (tmp_path / "mailboxes.csv").write_text("\n".join(table).replace("keys/", f"{batch_dir}/keys/"))
    (tmp_path / "test-cas.pem").write_bytes((batch_dir / "test-cas.pem").read_bytes())
    recipe = load_recipe(_batch_recipe(tmp_path, "out", "keystore-jks"))
    with pytest.raises(BatchError) as caught:
        recipe.build()
    assert [f.source for f in caught.value.failures] == [
        str(batch_dir / "keys" / "mbx02.pem"),
        str(batch_dir / "keys" / "mbx08.pem"),
    ]
    assert all(isinstance(f, KeyMismatchError) for f in caught.value.failures)
    assert exit_status(caught.value) == 1
    assert "2 of 20 rows failed" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_the_progress_bar_shows_only_on_a_terminal(
    batch_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`build --recipe` draws the bar on a tty stderr, and not otherwise; the summary is printed."""
    path = _batch_recipe(batch_dir, "chains", "client-chain-pem")
    status, stdout, stderr = run(["build", "--recipe", str(path)], capsys)
    assert status == 0, stderr
    assert "rows" not in stderr
    assert stdout.splitlines()[-1].startswith(
        "wrote 20 files (0 from targets, 20 from 20 batch rows"
    )
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    status, _, stderr = run(["build", "--recipe", str(path), "--force"], capsys)
    assert status == 0, stderr
    assert "] 20/20 rows" in stderr
    assert TerminalProgress.for_stream(io.StringIO()) is None


@pytest.mark.slow
def test_the_python_api_round_trip(inputs: Path) -> None:
    """load_recipe, then attrs.evolve a target and the trust, then build: the changed recipe is written."""
    recipe = load_recipe(_recipe(inputs, FULL))
    assert PLANTED not in repr(recipe)
    p12 = RecipeTarget(
        format="keystore-p12",
        path=inputs / "dep" / "client.p12",
        password=PasswordRef(env=KEY_VAR),
        profile="legacy",
    )
    changed = attrs.evolve(
        recipe,
        trust=attrs.evolve(recipe.trust, environments=["dep"], generations=["g2"]),
        targets=[*recipe.targets[1:2], p12],
    )
    result = changed.build()
    assert result.written == (inputs / "out" / "truststore.pem", inputs / "dep" / "client.p12")
    assert [f.format for f in result.files] == [TargetFormat.PEM, TargetFormat.KEYSTORE_PKCS12]
    kinds = trusted_aliases(keytool_list(inputs / "dep" / "client.p12", "PKCS12", PLANTED + "-ks"))
    assert kinds.pop("mesh-client") == "PrivateKeyEntry"
    assert len(kinds) == 4  # DEP's two G2 CAs and the two test CAs


def test_build_recipe_on_the_command_line(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`build --recipe FILE --json` reports every file; mixing in --env is a usage error."""
    path = _recipe(inputs, FULL)
    status, stdout, stderr = run(["build", "--recipe", str(path), "--json"], capsys)
    assert status == 0, stderr
    report = json.loads(stdout)
    assert [f["target"] for f in report["files"]] == ["targets[0]", "targets[1]", "targets[2]"]
    assert PLANTED not in stdout + stderr
    status, _, stderr = run(["build", "--recipe", str(path), "--env", "int"], capsys)
    assert status == 2
    assert "--recipe" in stderr
    # Built again from the same inputs: every file already holds it and is left untouched.
    status, stdout, stderr = run(["build", "--recipe", str(path)], capsys)
    assert status == 0, stderr
    assert stdout.count("unchanged ") == 3
    status, _, stderr = run(["build", "--out", str(inputs)], capsys)
    assert status == 2
    assert "--env" in stderr


def test_a_dangling_link_at_the_third_target_leaves_nothing(inputs: Path) -> None:
    """The third target's path is a link to nothing: refused at once, no file and no directory."""
    out = inputs / "out"
    out.mkdir()
    (out / "meshclient.jks").symlink_to(inputs / "nowhere")
    with pytest.raises(OutputExistsError, match=r"targets\[2\]\.path: .*meshclient\.jks"):
        load_recipe(_recipe(inputs, FULL)).build()
    assert [p.name for p in out.iterdir()] == ["meshclient.jks"]


def test_a_third_target_that_cannot_be_renamed_leaves_every_file_as_it_was(
    inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--force, the third file's rename refused (EPERM): the first two hold their old bytes."""
    out = inputs / "out"
    out.mkdir()
    (out / "truststore.jks").write_bytes(b"old jks")
    (out / "meshclient.jks").write_bytes(b"old mesh")
    recipe = load_recipe(_recipe(inputs, FULL))
    before = _digests(inputs)
    real = Path.replace

    def replace(self: Path, target: str | Path) -> Path:
        if Path(target).name == "meshclient.jks":
            raise PermissionError(errno.EPERM, "Operation not permitted", str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OutputError, match=r"meshclient\.jks: cannot give the file its name"):
        recipe.build(overwrite=True)
    assert _digests(inputs) == before
    assert sorted(p.name for p in out.iterdir()) == ["meshclient.jks", "truststore.jks"]


def test_recipe_directories_are_0755_or_0700_for_keys_whatever_the_umask(inputs: Path) -> None:
    """Under umask 000 the recipe makes out/ 0700 (it holds a key store) and pem/ 0755."""
    text = FULL.replace('path = "out/truststore.pem"', 'path = "pem/truststore.pem"')
    old = os.umask(0)
    try:
        load_recipe(_recipe(inputs, text)).build()
    finally:
        os.umask(old)
    assert stat.S_IMODE((inputs / "out").stat().st_mode) == 0o700
    assert stat.S_IMODE((inputs / "pem").stat().st_mode) == 0o755
