"""The deployment outputs as targets of the one build: from ``build --formats`` and a recipe.

Each output a build writes is proven by the program that consumes it, as tests/test_deployment.py
proves the library functions (and with its helpers, in tests/deployment_consumers.py):
``kubectl apply --dry-run=client`` and the API's models for the Kubernetes manifests, bash
sourcing for the environment files, ``openssl verify`` for the chain files, OpenSSL for the
Windows CA files and the PFX. Each refusal (no identity, no password, a bad name, a file in the
way, a read-back that fails) writes nothing at all, the build's other files included.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import stat
from typing import TYPE_CHECKING

import pytest
import yaml
from cryptography import x509

from tests.commands import PASSWORD_VARIABLE, openssl, run
from tests.commands import run_cli as run_main
from tests.deployment_consumers import as_model, kubectl_apply, pfx_info, source_in_bash
from truststore_builder._errors import ReadBackError, RecipeError
from truststore_builder._model import DEPLOYMENT_FILES, DeploymentFormat
from truststore_builder.recipe import (
    BatchRow,
    Recipe,
    RecipeBatch,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
    load_recipe,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki

PASSWORD = "Deploy-wire-pass-8841"


@pytest.fixture
def inputs(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with the G2 client's files and its test CAs; the store password set."""
    monkeypatch.setenv(PASSWORD_VARIABLE, PASSWORD)
    chain, key = pki.g2.write_client(tmp_path, "client")
    chain.rename(tmp_path / "client.pem")
    key.rename(tmp_path / "client-key.pem")
    (tmp_path / "test-cas.pem").write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    return tmp_path


def _build(inputs: Path, out: Path, formats: str, *extra: str, identity: bool = True) -> list[str]:
    client = ["--cert", str(inputs / "client.pem"), "--key", str(inputs / "client-key.pem")]
    return [
        "build", "--env", "int", "--add", str(inputs / "test-cas.pem"),
        *(client if identity else []),
        "--password-env", PASSWORD_VARIABLE, "--out", str(out), "--formats", formats, *extra,
    ]  # fmt: skip


def _issuers_after(certificates: list[x509.Certificate]) -> bool:
    """Whether each certificate's issuer, when the list holds it, comes after it (issuer-first)."""
    for index, certificate in enumerate(certificates):
        for other_index, other in enumerate(certificates):
            if other != certificate and other.subject == certificate.issuer and other_index < index:
                return False
    return True


def _applied_as_read(api_server: str, path: Path) -> None:
    """Assert that kubectl apply --dry-run=client reads the manifest as PyYAML does.

    kubectl fills in its default namespace where the manifest leaves it to ``kubectl -n``.
    """
    document = yaml.safe_load(path.read_bytes())
    applied = kubectl_apply(api_server, path)
    if "namespace" not in document["metadata"]:
        assert applied["metadata"].pop("namespace") == "default"
    assert applied == document


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def _named_as_the_table_says(name: str, output: DeploymentFormat) -> bool:
    """Whether ``name`` is one of DEPLOYMENT_FILES' patterns for ``output`` (what --help lists)."""
    for pattern, _private in DEPLOYMENT_FILES[output]:
        parts = re.split(r"\{[a-z]+\}", pattern)
        regex = "[-._a-zA-Z0-9]+".join(re.escape(part) for part in parts)
        if output is DeploymentFormat.WINDOWS_CA:
            regex = regex.replace(r"\.cer", r"\.(cer|crt)")
        if re.fullmatch(regex, name):
            return True
    return False


# --- the proofs, one per output -------------------------------------------------------------


def _prove_tls_secret(
    path: Path, api_server: str, pki: GeneratedPki, tmp_path: Path
) -> list[x509.Certificate]:
    """Applied by kubectl as read; a V1Secret; tls.key is tls.crt's key; tls.crt verifies."""
    document = yaml.safe_load(path.read_bytes())
    _applied_as_read(api_server, path)
    secret = as_model(document, "V1Secret")
    assert secret.type == "kubernetes.io/tls"
    for key in ("tls.crt", "tls.key", "ca.crt"):
        (tmp_path / key).write_bytes(base64.b64decode(secret.data[key]))
    assert x509.load_pem_x509_certificates((tmp_path / "tls.crt").read_bytes()) == [
        pki.g2.client.certificate,
        pki.g2.intermediate.certificate,
    ]
    from_cert = openssl("x509", "-in", tmp_path / "tls.crt", "-noout", "-pubkey")
    assert openssl("pkey", "-in", tmp_path / "tls.key", "-pubout") == from_cert
    verified = openssl(
        "verify", "-CAfile", tmp_path / "ca.crt", "-untrusted", tmp_path / "tls.crt",
        tmp_path / "tls.crt",
    )  # fmt: skip
    assert verified.endswith(b": OK\n")
    return x509.load_pem_x509_certificates((tmp_path / "ca.crt").read_bytes())


def _prove_trust_bundle(
    directory: Path, name: str, api_server: str, tmp_path: Path
) -> list[x509.Certificate]:
    """Both applied by kubectl as read; OpenSSL reads the ConfigMap's PKCS#12 with the Secret's password."""
    configmap_path = directory / f"{name}.configmap.yaml"
    secret_path = directory / f"{name}-password.secret.yaml"
    configmap = yaml.safe_load(configmap_path.read_bytes())
    _applied_as_read(api_server, configmap_path)
    _applied_as_read(api_server, secret_path)
    model = as_model(configmap, "V1ConfigMap")
    secret = as_model(yaml.safe_load(secret_path.read_bytes()), "V1Secret")
    password = base64.b64decode(secret.data["password"]).decode()
    assert password == PASSWORD
    (tmp_path / "bundle.p12").write_bytes(base64.b64decode(model.binary_data["bundle.p12"]))
    listed = openssl(
        "pkcs12", "-in", tmp_path / "bundle.p12", "-nokeys", "-passin", f"pass:{password}"
    )
    pem = x509.load_pem_x509_certificates(model.data["trust-bundle.pem"].encode())
    assert set(x509.load_pem_x509_certificates(listed)) == set(pem)
    assert "bundle.jks" in model.binary_data
    return pem


def _prove_env(
    directory: Path, stem: str, names: tuple[str, str, str], pki: GeneratedPki
) -> list[x509.Certificate]:
    """Sourced by bash (STEM-env.sh): written out as the MHS adaptor does, Python's ssl loads them."""
    cert, key, ca = names
    for file_name in (f"{stem}.env", f"{stem}-env.sh"):
        assert stat.S_IMODE((directory / file_name).stat().st_mode) == 0o600
    done = source_in_bash(
        f"set -a; source ./{stem}-env.sh; set +a; mkdir -p certs; "
        f'printf %s "${key}" > certs/client.key; printf %s "${cert}" > certs/client.pem; '
        f'printf %s "${ca}" > certs/ca.pem',
        directory,
    )
    assert done.returncode == 0, done.stderr
    certs = directory / "certs"
    context = ssl.create_default_context(cafile=certs / "ca.pem")
    context.load_cert_chain(certs / "client.pem", certs / "client.key")
    assert x509.load_pem_x509_certificates((certs / "client.pem").read_bytes()) == [
        pki.g2.client.certificate
    ]
    verified = openssl("verify", "-CAfile", certs / "ca.pem", certs / "client.pem")
    assert verified.endswith(b": OK\n")
    return x509.load_pem_x509_certificates((certs / "ca.pem").read_bytes())


def _prove_chains(directory: Path, pki: GeneratedPki, tmp_path: Path) -> None:
    """Each root's chain file: openssl verify takes the G2 client with its own file only."""
    chains = sorted(directory.glob("chain-*.pem"))
    assert [p.name for p in chains] == [
        "chain-nhs-ptl-root-authority-g2.pem",
        "chain-nhs-ptl-root-authority.pem",
        "chain-test-g2-root-authority.pem",
    ]
    client = tmp_path / "client-only.pem"
    client.write_bytes(pki.g2.client.cert_pem())
    for path in chains:
        done = run("openssl", "verify", "-CAfile", path, client)
        assert (done.returncode == 0) == (path.name == "chain-test-g2-root-authority.pem"), path


def _prove_windows_ca(directory: Path) -> None:
    """OpenSSL reads each DER file; Root/ holds the self-signed ones, CA/ the others."""
    files = sorted(directory.glob("Root/*.cer")) + sorted(directory.glob("CA/*.cer"))
    assert len(files) == 6
    for path in files:
        text = openssl("x509", "-inform", "DER", "-in", path, "-noout", "-subject", "-issuer")
        subject, issuer = (line.split(b"=", 1)[1] for line in text.splitlines())
        assert (subject == issuer) == (path.parent.name == "Root"), path


def _prove_pfx(path: Path, pki: GeneratedPki) -> None:
    """OpenSSL: legacy (3DES, SHA-1 MAC), leaf, intermediate, root and the leaf's key; 0600."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    done = pfx_info(path, PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "MAC: sha1" in done.stderr
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in done.stderr
    assert x509.load_pem_x509_certificates(done.stdout.encode()) == [
        pki.g2.client.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    ]
    wrong = pfx_info(path, "not-the-password")
    assert wrong.returncode != 0


# --- from the command line ------------------------------------------------------------------


def test_cli_kubernetes_outputs_pass_kubectl_and_list_every_file(
    inputs: Path,
    pki: GeneratedPki,
    api_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """k8s-tls-secret and k8s-trust-bundle beside the PEM store, issuer-first: --json lists each."""
    out = tmp_path / "out"
    argv = _build(
        inputs, out, "pem,k8s-tls-secret,k8s-trust-bundle",
        "--k8s-name", "mesh-client", "--k8s-namespace", "nhs", "--order", "issuer-first", "--json",
    )  # fmt: skip
    status, stdout, stderr = run_main(argv, capsys)
    assert status == 0, stderr
    report = json.loads(stdout)
    outputs = {
        "mesh-client.secret.yaml": True,
        "mesh-client.configmap.yaml": False,
        "mesh-client-password.secret.yaml": True,
    }
    listed = {f["path"]: f for f in report["files"]}
    assert set(listed) == {str(out / "truststore.pem"), *(str(out / name) for name in outputs)}
    assert set(report["client"]["files"]) == {
        str(out / "client-chain.pem"),
        str(out / "client-key.pem"),
    }
    assert _files(out) == {"truststore.pem", "client-chain.pem", "client-key.pem", *outputs}
    for name, private in outputs.items():
        assert listed[str(out / name)]["private"] is private
        assert (stat.S_IMODE((out / name).stat().st_mode) == 0o600) is private
        assert _named_as_the_table_says(name, DeploymentFormat(listed[str(out / name)]["format"]))
    ca = _prove_tls_secret(out / "mesh-client.secret.yaml", api_server, pki, tmp_path)
    bundle = _prove_trust_bundle(out, "mesh-client", api_server, tmp_path)
    store = x509.load_pem_x509_certificates((out / "truststore.pem").read_bytes())
    # --order issuer-first: each intermediate before its root, in the store file and both bundles.
    assert ca == bundle == store
    assert _issuers_after(store)
    fingerprints = listed[str(out / "mesh-client.configmap.yaml")]["sha256"]
    assert fingerprints == listed[str(out / "truststore.pem")]["sha256"]
    assert len(fingerprints) == 6


def test_cli_root_first_is_the_default_order(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control for --order: without it truststore.pem and ca.crt keep each root first."""
    out = tmp_path / "out"
    status, _, stderr = run_main(_build(inputs, out, "pem,k8s-tls-secret"), capsys)
    assert status == 0, stderr
    store = x509.load_pem_x509_certificates((out / "truststore.pem").read_bytes())
    assert _issuers_after(list(reversed(store)))  # every issuer before what it issued
    assert not _issuers_after(store)
    assert len(store) == 6
    secret = yaml.safe_load((out / "nhs-int.secret.yaml").read_bytes())
    assert x509.load_pem_x509_certificates(base64.b64decode(secret["data"]["ca.crt"])) == store


def test_cli_env_files_are_sourced_by_bash(
    inputs: Path, pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--formats env: mhs.env and mhs-env.sh, 0600, the MHS adaptor's variables, issuer-first."""
    out = tmp_path / "out"
    status, stdout, stderr = run_main(_build(inputs, out, "env"), capsys)
    assert status == 0, stderr
    assert _files(out) == {"mhs.env", "mhs-env.sh"}
    for name in ("mhs.env", "mhs-env.sh"):
        assert f"wrote {out / name} (env: " in stdout
    names = ("MHS_SECRET_CLIENT_CERT", "MHS_SECRET_CLIENT_KEY", "MHS_SECRET_CA_CERTS")
    ca = _prove_env(out, "mhs", names, pki)
    assert _issuers_after(ca)
    assert len(ca) == 6


def test_cli_chains_windows_ca_and_pfx_prove_out_with_openssl(
    inputs: Path, pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """chains, windows-ca and pfx in one build; each file named as --help says, each listed."""
    out = tmp_path / "out"
    status, stdout, stderr = run_main(_build(inputs, out, "chains,windows-ca,pfx"), capsys)
    assert status == 0, stderr
    written = _files(out)
    assert len(written) == 3 + 6 + 1
    for name in written:
        assert f"wrote {out / name} (" in stdout
        assert any(_named_as_the_table_says(name, fmt) for fmt in DeploymentFormat), name
    _prove_chains(out, pki, tmp_path)
    _prove_windows_ca(out)
    _prove_pfx(out / "client.pfx", pki)


def test_help_lists_each_deployment_formats_files(capsys: pytest.CaptureFixture[str]) -> None:
    """The build --help text names every format and its files, from DEPLOYMENT_FILES."""
    status, stdout, _ = run_main(["build", "--help"], capsys)
    assert status == 0
    text = " ".join(stdout.split())
    for fmt in DeploymentFormat:
        assert f"{fmt}: " in text
    for shown in ("<k8s-name>.secret.yaml (0600)", "mhs.env (0600)", "chain-<root alias>.pem",
                  "Root/<alias>.cer", "CA/<alias>.cer", "client.pfx (0600)",
                  "<k8s-name>-password.secret.yaml (0600)"):  # fmt: skip
        assert shown in text, shown


# --- refusals: nothing is written -----------------------------------------------------------


@pytest.mark.parametrize("output", ["k8s-tls-secret", "env", "pfx"])
def test_an_identity_output_without_cert_and_key_is_a_usage_error(
    output: str, inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2, naming --cert and --key and the format; not even truststore.pem is written."""
    out = tmp_path / "out"
    status, _, stderr = run_main(_build(inputs, out, f"pem,{output}", identity=False), capsys)
    assert status == 2
    assert f"--formats {output}" in stderr
    assert "--cert" in stderr
    assert "--key" in stderr
    assert not out.exists()
    # The positive control: the same build with the identity writes them.
    status, _, stderr = run_main(_build(inputs, out, f"pem,{output}"), capsys)
    assert status == 0, stderr


@pytest.mark.parametrize(
    ("formats", "extra", "named"),
    [
        ("pem,pfx", ("--password-env", None), ["pfx", "--password-env"]),
        ("pem,k8s-trust-bundle", ("--k8s-name", "Mesh_Client"), ["--k8s-name", "RFC 1123"]),
        ("pem,env", ("--env-stem", "../mhs"), ["--env-stem", "plain file name"]),
        ("pem,env", ("--env-stem", "mhs\nwrote x"), ["--env-stem", "plain file name"]),
        ("pem,chains", ("--chains-prefix", "chain\x1b[31m-"), ["--chains-prefix", "plain file"]),
    ],
    ids=[
        "pfx without a password",
        "bad k8s name",
        "env stem with a slash",
        "env stem with a newline",
        "chains prefix with an escape",
    ],
)
def test_refused_options_are_named_and_nothing_is_written(
    formats: str,
    extra: tuple[str, str | None],
    named: list[str],
    inputs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 2, the message naming the option (never a password); not even truststore.pem."""
    out = tmp_path / "out"
    argv = _build(inputs, out, formats)
    option, value = extra
    if value is None:  # leave the option out
        at = argv.index(option)
        del argv[at : at + 2]
    else:
        argv += [option, value]
    status, stdout, stderr = run_main(argv, capsys)
    assert status == 2
    for text in named:
        assert text in stderr
    assert PASSWORD not in stdout + stderr
    assert not out.exists()


def test_an_existing_output_file_stops_the_whole_build(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chain file already there: refused, and neither truststore.pem nor Root/ appears."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "chain-nhs-ptl-root-authority-g2.pem").write_bytes(b"old")
    status, _, stderr = run_main(_build(inputs, out, "pem,windows-ca,chains"), capsys)
    assert status != 0
    assert "already exists" in stderr
    assert _files(out) == {"chain-nhs-ptl-root-authority-g2.pem"}
    assert (out / "chain-nhs-ptl-root-authority-g2.pem").read_bytes() == b"old"
    assert not (out / "Root").exists()
    # With --force the same build replaces it.
    status, _, stderr = run_main([*_build(inputs, out, "pem,windows-ca,chains"), "--force"], capsys)
    assert status == 0, stderr
    assert (out / "chain-nhs-ptl-root-authority-g2.pem").read_bytes() != b"old"


def test_a_failed_read_back_writes_nothing(
    inputs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A manifest that does not read back stops the build before any file is written."""
    from truststore_builder._formats import kubernetes  # noqa: PLC0415

    def unreadable(_data: bytes, source: str = "<manifest>") -> object:
        msg = f"{source}: planted read-back failure"
        raise ReadBackError(msg)

    monkeypatch.setattr(kubernetes, "read_manifest", unreadable)
    out = tmp_path / "out"
    status, _, stderr = run_main(_build(inputs, out, "pem,p12,k8s-trust-bundle"), capsys)
    assert status != 0
    assert "planted read-back failure" in stderr
    assert not out.exists()


# --- from a recipe --------------------------------------------------------------------------

RECIPE = """\
[trust]
environments = ["int"]
add = ["test-cas.pem"]

[identity]
cert = "client.pem"
key = "client-key.pem"

[[targets]]
format = "k8s-tls-secret"
path = "k8s"
name = "mesh-client"
namespace = "nhs"

[[targets]]
format = "k8s-trust-bundle"
path = "k8s"
name = "nhs-trust"
jks_key = "bundle.jks"
pkcs12_key = "bundle.p12"
password_env = "{password}"

[[targets]]
format = "env"
path = "env"
stem = "svc"
cert_variable = "TLS_CERT"
key_variable = "TLS_KEY"
ca_variable = "TLS_CA"

[[targets]]
format = "chains"
path = "gateway"

[[targets]]
format = "windows-ca"
path = "windows"

[[targets]]
format = "pfx"
path = "windows"
password_env = "{password}"
"""


def test_a_recipe_builds_every_deployment_output(
    inputs: Path,
    pki: GeneratedPki,
    api_server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """All six outputs from one recipe (build --recipe), each proven by its consumer."""
    recipe = inputs / "deploy.toml"
    recipe.write_text(RECIPE.format(password=PASSWORD_VARIABLE), encoding="utf-8")
    status, stdout, stderr = run_main(["build", "--recipe", str(recipe), "--json"], capsys)
    assert status == 0, stderr
    report = json.loads(stdout)
    written = {f["path"] for f in report["files"]}
    on_disk = {
        str(inputs / folder / name)
        for folder in ("k8s", "env", "gateway", "windows")
        for name in _files(inputs / folder)
    }
    assert written == on_disk
    assert len(written) == 3 + 2 + 3 + 6 + 1
    for file in report["files"]:
        mode = stat.S_IMODE((inputs / file["path"]).stat().st_mode)
        assert (mode == 0o600) is file["private"], file["path"]
    _prove_tls_secret(inputs / "k8s" / "mesh-client.secret.yaml", api_server, pki, tmp_path)
    _prove_trust_bundle(inputs / "k8s", "nhs-trust", api_server, tmp_path)
    _prove_env(inputs / "env", "svc", ("TLS_CERT", "TLS_KEY", "TLS_CA"), pki)
    _prove_chains(inputs / "gateway", pki, tmp_path)
    _prove_windows_ca(inputs / "windows")
    _prove_pfx(inputs / "windows" / "client.pfx", pki)


@pytest.mark.parametrize(
    ("old", "new", "key_path", "message"),
    [
        ('name = "mesh-client"\n', "", "targets[0].name", "missing; a k8s-tls-secret"),
        ('stem = "svc"\n', 'stem = "svc"\nprefix = "x-"\n', "targets[2].prefix", "does not take prefix"),
        (
            f'pkcs12_key = "bundle.p12"\npassword_env = "{PASSWORD_VARIABLE}"\n',
            'pkcs12_key = "bundle.p12"\n',
            "targets[1].password_env",
            "needs a password",
        ),
        ('name = "nhs-trust"', 'name = "NHS_Trust"', "targets[1].name", "RFC 1123"),
        ('stem = "svc"\n', 'stem = "svc"\norder = "leaf-first"\n', "targets[2].order", "leaf-first"),
        ('path = "windows"\n', 'path = "windows"\nencoding = "p7b"\n', "targets[4].encoding", "der or pem"),
    ],
    ids=["no k8s name", "option not taken", "bundle without password", "bad name", "bad order", "bad encoding"],
)  # fmt: skip
def test_recipe_refusals_name_the_key(
    inputs: Path, old: str, new: str, key_path: str, message: str
) -> None:
    """Each refused deployment target names the recipe file and the key; the good one loads."""
    text = RECIPE.format(password=PASSWORD_VARIABLE)
    assert old in text
    recipe = inputs / "deploy.toml"
    recipe.write_text(text, encoding="utf-8")
    assert len(load_recipe(recipe).targets) == 6  # the control
    recipe.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe)
    assert str(caught.value).startswith(f"{recipe}: {key_path}: "), caught.value
    assert message in str(caught.value)


def test_two_targets_writing_one_file_are_refused(inputs: Path) -> None:
    """Two TLS Secrets of one name in one directory: refused, naming both; nothing written."""
    text = RECIPE.format(password=PASSWORD_VARIABLE)
    second = 'format = "k8s-tls-secret"\npath = "k8s"\nname = "mesh-client"\n'
    recipe = inputs / "deploy.toml"
    recipe.write_text(f"{text}\n[[targets]]\n{second}", encoding="utf-8")
    with pytest.raises(
        RecipeError, match=r"targets\[6\]\.path: .* is also written by targets\[0\]"
    ):
        load_recipe(recipe).build()
    for folder in ("k8s", "env", "gateway", "windows"):
        assert not (inputs / folder).exists()


def test_cli_options_reach_the_outputs(
    inputs: Path, pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each output option changes its output as it says.

    --env-stem, --env-variables and --env-client-chain; --windows-ca-encoding pem;
    --pfx-profile modern and --pfx-include-trusted.
    """
    out = tmp_path / "out"
    argv = _build(
        inputs, out, "env,windows-ca,pfx",
        "--env-stem", "svc", "--env-variables", "TLS_CERT,TLS_KEY,TLS_CA", "--env-client-chain",
        "--windows-ca-encoding", "pem", "--pfx-profile", "modern", "--pfx-include-trusted",
    )  # fmt: skip
    status, _, stderr = run_main(argv, capsys)
    assert status == 0, stderr
    done = source_in_bash(
        'set -a; source ./svc-env.sh; set +a; printf %s "$TLS_CERT" > cert.pem', out
    )
    assert done.returncode == 0, done.stderr
    assert x509.load_pem_x509_certificates((out / "cert.pem").read_bytes()) == [
        pki.g2.client.certificate,
        pki.g2.intermediate.certificate,
    ]
    crt = sorted(out.glob("*/*.crt"))
    assert len(crt) == 6
    assert not list(out.glob("*/*.cer"))
    for path in crt:
        assert b"subject=" in openssl("x509", "-in", path, "-noout", "-subject")
    done = run(
        "openssl", "pkcs12", "-info", "-in", out / "client.pfx", "-nodes", "-nokeys",
        "-passin", f"env:{PASSWORD_VARIABLE}", password=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MAC: sha256" in done.stderr
    assert "PBES2" in done.stderr
    # The client's chain, and the six trusted CAs (two of them in the chain already).
    assert len(set(x509.load_pem_x509_certificates(done.stdout.encode()))) == 1 + 6
    # The control: an unknown PKCS#12 profile is refused by the parser.
    status, _, stderr = run_main([*argv, "--pfx-profile", "no-such-profile"], capsys)
    assert status == 2
    assert "--pfx-profile" in stderr


def test_recipe_targets_made_in_python(inputs: Path) -> None:
    """RecipeTarget takes the same options in Python; one it does not take names its key."""
    trust = RecipeTrust(environments=["int"], add=[inputs / "test-cas.pem"])
    chains = RecipeTarget(format="chains", path=inputs / "gateway", prefix="g2-")
    windows = RecipeTarget(format="windows-ca", path=inputs / "windows", encoding="pem")
    result = Recipe(trust=trust, targets=[chains, windows]).build()
    assert {f.path.name for f in result.files if f.format is TargetFormat.CHAINS} == {
        "g2-nhs-ptl-root-authority.pem",
        "g2-nhs-ptl-root-authority-g2.pem",
        "g2-test-g2-root-authority.pem",
    }
    assert len(list((inputs / "windows").glob("*/*.crt"))) == 6
    assert all(f.target in {"targets[0]", "targets[1]"} for f in result.files)
    named = RecipeTarget(format="chains", path=inputs / "other", name="mesh-client")
    with pytest.raises(
        RecipeError, match=r"targets\[0\]\.name: a chains target does not take name"
    ):
        Recipe(trust=trust, targets=[named]).build()
    # A batch writes key stores and client files per row, not deployment outputs.
    row = BatchRow(name="mbx01", cert=inputs / "client.pem", key=inputs / "client-key.pem")
    env = RecipeTarget(format="env", path=inputs / "{name}")
    batch = RecipeBatch(rows=[row], targets=[env])
    with pytest.raises(RecipeError, match=r"batch\.targets\[0\]\.format: .* deployment output"):
        Recipe(trust=trust, batch=batch).build()
    assert not (inputs / "other").exists()
    assert not (inputs / "mbx01").exists()
