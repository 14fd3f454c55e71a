"""Deployment outputs: each file proven by the program that consumes it, each refusal tripped.

Kubernetes manifests are read by PyYAML, checked against the Kubernetes API's own models (the
``kubernetes`` client) and compared with what ``kubectl create ... --dry-run=client`` makes
from the same files; environment files are sourced by bash and handed to Python's ``ssl`` as
the MHS adaptor hands them; chain files pass ``openssl verify``; the Windows files and the PFX
are read by OpenSSL, and (slow) by Mono and keytool.
"""

from __future__ import annotations

import base64
import os
import ssl
import stat
import subprocess
from typing import TYPE_CHECKING

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.commands import PASSWORD_VARIABLE, keytool, openssl, run
from tests.consumers.mono import run_mono_probe
from tests.deployment_consumers import (
    as_model,
    kubectl,
    kubectl_apply,
    pfx_info,
    source_in_bash,
)
from tests.pki import catalogue_for, make_certificate, rsa_key
from truststore_builder import KeyStoreBuilder, TrustStoreBuilder
from truststore_builder._chains import chains_by_root, issuer_first
from truststore_builder._deployment import (
    DeploymentFiles,
    bundle_pem,
    chain_files,
    environment_files,
    environment_values,
    kubernetes_tls_secret,
    kubernetes_trust_bundle,
    read_back_tls_secret,
    windows_ca_files,
    windows_pfx,
)
from truststore_builder._errors import (
    CheckError,
    InvalidNameError,
    MissingPasswordError,
    OutputExistsError,
    ReadBackError,
)
from truststore_builder._formats import envfile, kubernetes

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki
    from truststore_builder import KeyStore, TrustStore

PASSWORD = "Deploy-pass-5512"


@pytest.fixture(scope="module")
def keystore(pki: GeneratedPki) -> KeyStore:
    """A G2 client in 'prod' as a test catalogue sees it: trusting G1 and G2, root-first."""
    return (
        KeyStoreBuilder()
        .with_catalogue(catalogue_for(pki))
        .add_nhs("prod")
        .with_identity(pki.g2.client.certificate, pki.g2.client.key)
        .build()
    )


@pytest.fixture(scope="module")
def truststore(keystore: KeyStore) -> TrustStore:
    """The key store's trust store: G1 root, level 1C, G2 root, authentication G2."""
    return keystore.trust_store


def _pem(certificates: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _sha256(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes  # noqa: PLC0415

    return certificate.fingerprint(hashes.SHA256()).hex()


def testkubectl_apply_dry_run_reads_every_manifest_as_meant(
    keystore: KeyStore, truststore: TrustStore, api_server: str, tmp_path: Path
) -> None:
    """Each manifest passes kubectl apply --dry-run=client, read exactly as PyYAML reads it."""
    outputs = [
        kubernetes_tls_secret(keystore, name="mesh-client", namespace="nhs"),
        kubernetes_trust_bundle(
            truststore, name="nhs-trust", namespace="nhs", jks_key="bundle.jks",
            pkcs12_key="bundle.p12", password=PASSWORD,
        ),
    ]  # fmt: skip
    written = [path for output in outputs for path in output.write(tmp_path)]
    assert len(written) == 3
    for path in written:
        assert kubectl_apply(api_server, path) == yaml.safe_load(path.read_bytes())
    # The negative control: a manifest kubectl cannot read is refused.
    broken = tmp_path / "broken.yaml"
    broken.write_bytes(written[0].read_bytes().replace(b"kind: Secret", b"kind: [Secret"))
    done = subprocess.run(
        ["kubectl", "--server", api_server, "apply", "--dry-run=client", "--validate=false",
         "-f", str(broken)],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0


# --- Kubernetes: the TLS Secret ---------------------------------------------------------------


def test_tls_secret_is_a_valid_v1_secret(keystore: KeyStore, pki: GeneratedPki) -> None:
    """The Secret parses as YAML into the API's V1Secret, every field one the API defines."""
    files = kubernetes_tls_secret(keystore, name="mesh-client.tls", namespace="nhs-int")
    assert files.private == {"mesh-client.tls.secret.yaml"}
    document = yaml.safe_load(files.files["mesh-client.tls.secret.yaml"])
    secret = as_model(document, "V1Secret")
    assert secret.type == "kubernetes.io/tls"
    assert (secret.metadata.name, secret.metadata.namespace) == ("mesh-client.tls", "nhs-int")
    chain = x509.load_pem_x509_certificates(base64.b64decode(secret.data["tls.crt"]))
    assert chain == [pki.g2.client.certificate, pki.g2.intermediate.certificate]
    ca = x509.load_pem_x509_certificates(base64.b64decode(secret.data["ca.crt"]))
    assert ca == list(keystore.trust_store.certificates)
    reordered = kubernetes_tls_secret(keystore, name="m", order="issuer-first")
    data = yaml.safe_load(reordered.files["m.secret.yaml"])["data"]
    ca = x509.load_pem_x509_certificates(base64.b64decode(data["ca.crt"]))
    assert (
        ca
        == [e.certificate for e in issuer_first(keystore.trust_store.entries)]
        != list(keystore.trust_store.certificates)
    )


def test_tls_secret_data_is_what_kubectl_makes(keystore: KeyStore, tmp_path: Path) -> None:
    """The data is what kubectl create secret tls makes from the same tls.crt and tls.key."""
    files = kubernetes_tls_secret(keystore, name="mesh-client", namespace="nhs", include_ca=False)
    ours = yaml.safe_load(files.files["mesh-client.secret.yaml"])
    (tmp_path / "tls.crt").write_bytes(base64.b64decode(ours["data"]["tls.crt"]))
    (tmp_path / "tls.key").write_bytes(base64.b64decode(ours["data"]["tls.key"]))
    theirs = kubectl(
        "create", "secret", "tls", "mesh-client", "-n", "nhs",
        "--cert", tmp_path / "tls.crt", "--key", tmp_path / "tls.key",
    )  # fmt: skip
    assert theirs["type"] == ours["type"] == "kubernetes.io/tls"
    assert theirs["data"] == ours["data"]
    assert theirs["metadata"]["name"] == ours["metadata"]["name"]


def test_tls_secret_key_and_chain_prove_out_with_openssl(
    keystore: KeyStore, pki: GeneratedPki, tmp_path: Path
) -> None:
    """tls.key is tls.crt's key, and tls.crt verifies against ca.crt; another key is caught."""
    files = kubernetes_tls_secret(keystore, name="mesh-client")
    data = yaml.safe_load(files.files["mesh-client.secret.yaml"])["data"]
    for key in ("tls.crt", "tls.key", "ca.crt"):
        (tmp_path / key).write_bytes(base64.b64decode(data[key]))
    from_cert = openssl("x509", "-in", tmp_path / "tls.crt", "-noout", "-pubkey")
    from_key = openssl("pkey", "-in", tmp_path / "tls.key", "-pubout")
    assert from_cert == from_key
    verified = openssl(
        "verify", "-CAfile", tmp_path / "ca.crt", "-untrusted", tmp_path / "tls.crt",
        tmp_path / "tls.crt",
    )  # fmt: skip
    assert verified.endswith(b": OK\n")
    # The negative control: a Secret holding another client's key.
    wrong = kubernetes.tls_secret_manifest(
        "mesh-client",
        None,
        certificate_chain=_pem([pki.g2.client.certificate]),
        private_key=pki.g1.client.key_pem(),
    )
    (tmp_path / "wrong.key").write_bytes(base64.b64decode(yaml.safe_load(wrong)["data"]["tls.key"]))
    assert openssl("pkey", "-in", tmp_path / "wrong.key", "-pubout") != from_cert
    with pytest.raises(ReadBackError, match="not the first certificate's"):
        read_back_tls_secret(wrong, name="mesh-client", chain=[pki.g2.client.certificate], ca=None)


@pytest.mark.parametrize(
    "name",
    ["Mesh-Client", "mesh_client", "-mesh", "mesh-", "mesh..client", "", "a" * 254, "mesh/x"],
)
def test_object_names_kubernetes_refuses_are_refused(keystore: KeyStore, name: str) -> None:
    """A name that is no RFC 1123 subdomain is refused, typed, before anything is made."""
    with pytest.raises(InvalidNameError, match="RFC 1123 subdomain") as caught:
        kubernetes_tls_secret(keystore, name=name)
    assert caught.value.name == name
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("namespace", ["nhs.int", "NHS", "a" * 64, "-nhs"])
def test_namespaces_kubernetes_refuses_are_refused(keystore: KeyStore, namespace: str) -> None:
    """A namespace that is no RFC 1123 label is refused."""
    with pytest.raises(InvalidNameError, match="RFC 1123 label"):
        kubernetes_tls_secret(keystore, name="mesh", namespace=namespace)


def test_longest_valid_names_are_taken(keystore: KeyStore) -> None:
    """The positive control: 253 characters of name and 63 of namespace pass."""
    name = ".".join(["a" * 63] * 3) + "." + "b" * 61
    assert len(name) == 253
    files = kubernetes_tls_secret(keystore, name=name, namespace="n" * 63)
    document = yaml.safe_load(files.files[f"{name}.secret.yaml"])
    assert as_model(document, "V1Secret").metadata.name == name


# --- Kubernetes: the trust bundle ConfigMap ---------------------------------------------------


def test_trust_bundle_is_trust_managers_layout(truststore: TrustStore, tmp_path: Path) -> None:
    """PEM in data, JKS and PKCS#12 in binaryData, the password in its own Secret: as kubectl."""
    files = kubernetes_trust_bundle(
        truststore,
        name="nhs-trust",
        namespace="nhs",
        jks_key="bundle.jks",
        pkcs12_key="bundle.p12",
        password=PASSWORD,
    )
    assert list(files.files) == ["nhs-trust.configmap.yaml", "nhs-trust-password.secret.yaml"]
    assert files.private == {"nhs-trust-password.secret.yaml"}
    configmap = yaml.safe_load(files.files["nhs-trust.configmap.yaml"])
    model = as_model(configmap, "V1ConfigMap")
    pem = model.data["trust-bundle.pem"].encode()
    assert x509.load_pem_x509_certificates(pem) == list(truststore.certificates)
    assert pem == truststore.to_pem()  # the comment headers survive the literal block
    secret = as_model(yaml.safe_load(files.files["nhs-trust-password.secret.yaml"]), "V1Secret")
    assert secret.type == "Opaque"
    assert base64.b64decode(secret.data["password"]) == PASSWORD.encode()
    # kubectl, given the same three files, makes the same data and binaryData.
    jks = base64.b64decode(model.binary_data["bundle.jks"])
    p12 = base64.b64decode(model.binary_data["bundle.p12"])
    for file_name, content in (("trust-bundle.pem", pem), ("bundle.jks", jks), ("bundle.p12", p12)):
        (tmp_path / file_name).write_bytes(content)
    theirs = kubectl(
        "create", "configmap", "nhs-trust", "-n", "nhs",
        f"--from-file=trust-bundle.pem={tmp_path / 'trust-bundle.pem'}",
        f"--from-file=bundle.jks={tmp_path / 'bundle.jks'}",
        f"--from-file=bundle.p12={tmp_path / 'bundle.p12'}",
    )  # fmt: skip
    assert theirs["data"] == configmap["data"]
    assert theirs["binaryData"] == configmap["binaryData"]
    # OpenSSL reads the PKCS#12 with the Secret's password: every CA, no key.
    listed = openssl(
        "pkcs12", "-in", tmp_path / "bundle.p12", "-nokeys", "-passin", f"pass:{PASSWORD}"
    )
    assert x509.load_pem_x509_certificates(listed) == list(truststore.certificates)


def test_trust_bundle_pem_only_has_no_secret(truststore: TrustStore) -> None:
    """Without binary stores there is no password and no Secret; issuer-first is kept."""
    files = kubernetes_trust_bundle(
        truststore, name="nhs-trust", key="ca-certificates.crt", order="issuer-first"
    )
    assert list(files.files) == ["nhs-trust.configmap.yaml"]
    assert files.private == frozenset()
    configmap = as_model(yaml.safe_load(files.files["nhs-trust.configmap.yaml"]), "V1ConfigMap")
    assert configmap.binary_data is None
    found = x509.load_pem_x509_certificates(configmap.data["ca-certificates.crt"].encode())
    assert found == [e.certificate for e in issuer_first(truststore.entries)]


def test_trust_bundle_refusals(truststore: TrustStore) -> None:
    """No password for a JKS, a key used twice, a key Kubernetes refuses: each typed."""
    with pytest.raises(MissingPasswordError, match="changeit"):
        kubernetes_trust_bundle(truststore, name="nhs-trust", jks_key="bundle.jks")
    with pytest.raises(InvalidNameError, match="must differ"):
        kubernetes_trust_bundle(
            truststore, name="nhs-trust", jks_key="x", pkcs12_key="x", password=PASSWORD
        )
    for key in ("a/b", "..", "tls crt"):
        with pytest.raises(InvalidNameError, match="Secret or ConfigMap key"):
            kubernetes_trust_bundle(truststore, name="nhs-trust", key=key)


def test_an_object_over_one_mebibyte_is_refused() -> None:
    """The 1 MiB etcd stores in one object is checked before anything is written; 1 MiB passes."""
    kubernetes.configmap_manifest("big", None, text={}, binary={"b": b"\0" * (1024 * 1024)})
    with pytest.raises(CheckError, match="1 MiB"):
        kubernetes.configmap_manifest("big", None, text={}, binary={"b": b"\0" * (1024 * 1024 + 1)})


_KEYS = st.from_regex(r"[-._a-zA-Z0-9]{1,20}", fullmatch=True).filter(
    lambda k: k not in {".", ".."}
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(), key=_KEYS)
def test_any_text_reads_back_the_same_in_pyyaml_and_our_reader(text: str, key: str) -> None:
    """Whatever the text (block or quoted, any character, any key), both readers get it back."""
    manifest = kubernetes.configmap_manifest("m", "ns", text={key: text})
    assert yaml.safe_load(manifest)["data"][key] == text
    data = kubernetes.read_manifest(manifest)["data"]
    assert isinstance(data, dict)
    assert data[key] == text


def test_a_tampered_manifest_is_refused_by_the_reader() -> None:
    """The strict reader refuses what the writer never writes: a tab, a flow map, a plain value."""
    good = kubernetes.opaque_secret_manifest("s", None, {"k": b"v"})
    assert kubernetes.read_manifest(good)["type"] == "Opaque"
    for bad in (
        good.replace(b"  name", b"\tname"),
        good + b"extra: {a: 1}\n",
        good.replace(b'"dg=="', b"dg=="),
        good + b"kind: Secret\n",
    ):
        with pytest.raises(ReadBackError):
            kubernetes.read_manifest(bad)


# --- Environment values -----------------------------------------------------------------------


def test_env_files_are_private_and_sourced_as_the_mhs_adaptor_reads_them(
    keystore: KeyStore, pki: GeneratedPki, tmp_path: Path
) -> None:
    """Sourced by bash and written out as the MHS adaptor does, the values load in Python's ssl."""
    files = environment_files(keystore)
    written = files.write(tmp_path)
    assert [p.name for p in written] == ["mhs.env", "mhs-env.sh"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_bytes().splitlines()) == 4
    done = source_in_bash(
        "set -a; source ./mhs-env.sh; set +a; mkdir -p data/certs; "
        'printf %s "$MHS_SECRET_CLIENT_KEY" > data/certs/client.key; '
        'printf %s "$MHS_SECRET_CLIENT_CERT" > data/certs/client.pem; '
        'printf %s "$MHS_SECRET_CA_CERTS" > data/certs/ca_certs.pem',
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    certs = tmp_path / "data" / "certs"
    # What the MHS adaptor's outbound service does with those three files.
    context = ssl.create_default_context(cafile=certs / "ca_certs.pem")
    context.load_cert_chain(certs / "client.pem", certs / "client.key")
    assert x509.load_pem_x509_certificates((certs / "client.pem").read_bytes()) == [
        pki.g2.client.certificate
    ]
    # "endpoint issuing subCA certificate, root CA certificate": issuer-first, G1 and G2.
    ca = x509.load_pem_x509_certificates((certs / "ca_certs.pem").read_bytes())
    assert ca == [
        pki.g1.intermediate.certificate,
        pki.g1.root.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    ]
    verified = openssl("verify", "-CAfile", certs / "ca_certs.pem", certs / "client.pem")
    assert verified.endswith(b": OK\n")


def test_dotenv_values_are_one_line_pem_that_printf_b_restores(
    keystore: KeyStore, tmp_path: Path
) -> None:
    r"""Sourced as is, the .env value is one line with \n; printf %b makes it PEM again."""
    environment_files(keystore, stem="svc").write(tmp_path)
    done = source_in_bash(
        "set -a; source ./svc.env; set +a; "
        'printf %s "$MHS_SECRET_CLIENT_CERT" > one-line.txt; '
        'printf %b "$MHS_SECRET_CLIENT_CERT" > cert.pem',
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    one_line = (tmp_path / "one-line.txt").read_text()
    assert "\n" not in one_line
    assert one_line.startswith("-----BEGIN CERTIFICATE-----\\n")
    subject = openssl("x509", "-in", tmp_path / "cert.pem", "-noout", "-subject")
    assert b"client.test-g2.test" in subject
    # The negative control: the one-line value taken verbatim is no PEM to OpenSSL.
    failed = run("openssl", "x509", "-in", tmp_path / "one-line.txt", "-noout")
    assert failed.returncode != 0


def test_env_variable_names_are_configurable_and_checked(keystore: KeyStore) -> None:
    """Other names are used as given; a name a shell cannot set, or one used twice, is refused."""
    values = environment_values(
        keystore, cert_variable="TLS_CERT", key_variable="TLS_KEY", ca_variable="TLS_CA"
    )
    assert list(values) == ["TLS_CERT", "TLS_KEY", "TLS_CA"]
    assert values["TLS_KEY"].startswith("-----BEGIN PRIVATE KEY-----\n")
    assert len(x509.load_pem_x509_certificates(values["TLS_CERT"].encode())) == 1
    with_chain = environment_values(keystore, client_chain=True)
    assert len(x509.load_pem_x509_certificates(with_chain["MHS_SECRET_CLIENT_CERT"].encode())) == 2
    for bad in ("1CERT", "TLS-CERT", "TLS CERT", ""):
        with pytest.raises(InvalidNameError, match="portable name"):
            environment_values(keystore, cert_variable=bad)
    with pytest.raises(InvalidNameError, match="different names"):
        environment_values(keystore, cert_variable="X", key_variable="X")
    with pytest.raises(InvalidNameError, match="plain file name"):
        environment_files(keystore, stem="../mhs")


def test_env_reader_refuses_what_the_writer_never_writes() -> None:
    """A value with a quote, a second setting of one name, text outside PEM: each refused."""
    good = envfile.serialize_env_file({"A": "-----BEGIN X-----\n"}, "shell")
    assert envfile.read_env_file(good, "shell") == {"A": "-----BEGIN X-----\n"}
    with pytest.raises(ReadBackError, match="line 1"):
        envfile.read_env_file(good.replace(b"'\n", b"''\n"), "shell")
    with pytest.raises(ReadBackError, match="line 2"):
        envfile.read_env_file(good + good, "shell")
    with pytest.raises(ValueError, match="not PEM text"):
        envfile.serialize_env_file({"A": "it's $HOME"}, "dotenv")


# --- Order and one chain per root -------------------------------------------------------------


def test_issuer_first_puts_each_intermediate_before_its_root(
    truststore: TrustStore, pki: GeneratedPki
) -> None:
    """Root-first [G1 root, 1C, G2 root, G2 CA] becomes [1C, G1 root, G2 CA, G2 root]."""
    assert list(truststore.certificates) == [
        pki.g1.root.certificate,
        pki.g1.intermediate.certificate,
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    ]
    expected = [
        pki.g1.intermediate.certificate,
        pki.g1.root.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    ]
    assert [e.certificate for e in issuer_first(truststore.entries)] == expected
    assert x509.load_pem_x509_certificates(bundle_pem(truststore, "issuer-first")) == expected
    assert bundle_pem(truststore) == truststore.to_pem()
    with pytest.raises(ValueError, match="leaf-first"):
        bundle_pem(truststore, "leaf-first")


def test_issuer_first_goes_by_signature_not_by_order_or_name(pki: GeneratedPki) -> None:
    """Two intermediates under one root, given in any order, both come before it."""
    from tests.pki import make_certificate  # noqa: PLC0415

    second = make_certificate(
        x509.Name.from_rfc4514_string("CN=Test G2 Second CA,OU=CA,O=nhs"),
        pki.g2.intermediate.key,
        issuer=pki.g2.root,
        ca=True,
    )
    store = (
        TrustStoreBuilder()
        .add_certificates(
            [second.certificate, pki.g2.root.certificate, pki.g2.intermediate.certificate]
        )
        .build()
    )
    ordered = [e.certificate for e in issuer_first(store.entries)]
    assert ordered[-1] == pki.g2.root.certificate
    assert set(ordered[:2]) == {second.certificate, pki.g2.intermediate.certificate}
    chains = chains_by_root(store.entries)
    assert [[e.certificate for e in chain][-1] for chain in chains.values()] == [
        pki.g2.root.certificate
    ]


def test_one_chain_file_per_root_verifies_its_own_clients_only(
    truststore: TrustStore, pki: GeneratedPki, tmp_path: Path
) -> None:
    """Each client passes openssl verify against its own root's chain file, not the other."""
    files = chain_files(truststore)
    assert list(files.files) == [
        "chain-test-root-authority.pem",
        "chain-test-root-authority-g2.pem",
    ]
    files.write(tmp_path)
    for hierarchy, own, other in (
        (pki.g1, "chain-test-root-authority.pem", "chain-test-root-authority-g2.pem"),
        (pki.g2, "chain-test-root-authority-g2.pem", "chain-test-root-authority.pem"),
    ):
        client = tmp_path / "client.pem"
        client.write_bytes(hierarchy.client.cert_pem())
        chain = x509.load_pem_x509_certificates((tmp_path / own).read_bytes())
        assert chain == [hierarchy.intermediate.certificate, hierarchy.root.certificate]
        assert openssl("verify", "-CAfile", tmp_path / own, client).endswith(b": OK\n")
        refused = run("openssl", "verify", "-CAfile", tmp_path / other, client)
        assert refused.returncode != 0


# --- Windows and .NET -------------------------------------------------------------------------


def test_windows_ca_files_split_roots_from_intermediates(
    truststore: TrustStore, tmp_path: Path
) -> None:
    """Root/ holds the self-signed roots, CA/ the intermediates; OpenSSL reads each DER file."""
    files = windows_ca_files(truststore)
    assert sorted(files.files) == [
        "CA/test-authentication-g2.cer",
        "CA/test-level-1c.cer",
        "Root/test-root-authority-g2.cer",
        "Root/test-root-authority.cer",
    ]
    files.write(tmp_path)
    for path in sorted(tmp_path.glob("*/*.cer")):
        text = openssl("x509", "-inform", "DER", "-in", path, "-noout", "-subject", "-issuer")
        subject, issuer = (line.split(b"=", 1)[1] for line in text.splitlines())
        assert (subject == issuer) == (path.parent.name == "Root")
    pem = windows_ca_files(truststore, encoding="pem")
    assert sorted(pem.files) == [name.replace(".cer", ".crt") for name in sorted(files.files)]
    with pytest.raises(ValueError, match="p7b"):
        windows_ca_files(truststore, encoding="p7b")


def test_windows_pfx_is_legacy_and_holds_the_full_chain_and_key(
    keystore: KeyStore, pki: GeneratedPki, tmp_path: Path
) -> None:
    """OpenSSL (pkcs12 -legacy -info) sees 3DES, a SHA-1 MAC, leaf, intermediate, root, one key."""
    files = windows_pfx(keystore, PASSWORD)
    (path,) = files.write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    done = pfx_info(path, PASSWORD)
    assert done.returncode == 0, done.stderr
    assert "MAC: sha1" in done.stderr
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in done.stderr
    output = done.stdout.encode()
    certificates = x509.load_pem_x509_certificates(output)
    assert certificates == [
        pki.g2.client.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    ]
    key = serialization.load_pem_private_key(output[output.index(b"-----BEGIN PRIVATE") :], None)
    assert key.public_key() == pki.g2.client.certificate.public_key()
    wrong = pfx_info(path, "not-the-password")
    assert wrong.returncode != 0
    with pytest.raises(MissingPasswordError):
        windows_pfx(keystore, "")
    # The modern profile on request, and the trusted CAs added on request.
    (modern,) = windows_pfx(
        keystore, PASSWORD, file_name="modern.pfx", profile="modern", include_trusted=True
    ).write(tmp_path)
    done = run(
        "openssl", "pkcs12", "-info", "-in", modern, "-nodes", "-nokeys",
        "-passin", f"env:{PASSWORD_VARIABLE}", password=PASSWORD,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MAC: sha256" in done.stderr
    assert "PBES2" in done.stderr
    found = x509.load_pem_x509_certificates(done.stdout.encode())
    assert set(found) == {*certificates, *keystore.trust_store.certificates}


# --- Writing, and what is never shown ---------------------------------------------------------


def test_files_are_written_all_or_none_and_never_shown(keystore: KeyStore, tmp_path: Path) -> None:
    """An existing file stops the whole write; the repr names files, never their content."""
    files = DeploymentFiles(
        {"a.pem": b"public", "private/b.key": b"secret"}, frozenset({"private/b.key"})
    )
    assert repr(files) == "<DeploymentFiles a.pem, private/b.key (private)>"
    (tmp_path / "a.pem").write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        files.write(tmp_path)
    assert not (tmp_path / "private").exists()
    assert (tmp_path / "a.pem").read_bytes() == b"old"
    written = files.write(tmp_path, overwrite=True)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
    assert [stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in written] == [False, True]
    for escaping in ("../x.pem", "/etc/x.pem", "a//b.pem", "./a.pem"):
        with pytest.raises(InvalidNameError, match="relative"):
            DeploymentFiles({escaping: b"x"}).write(tmp_path, overwrite=True)
    secret = kubernetes_tls_secret(keystore, name="mesh")
    assert "PRIVATE" not in repr(secret)
    assert "LS0t" not in repr(secret)


# --- Slow: keytool and Mono -------------------------------------------------------------------


@pytest.mark.slow
def test_keytool_reads_the_configmaps_jks_with_the_secrets_password(
    truststore: TrustStore, tmp_path: Path
) -> None:
    """The JKS from binaryData lists every CA as a trustedCertEntry; a wrong password fails."""
    files = kubernetes_trust_bundle(
        truststore, name="nhs-trust", jks_key="bundle.jks", password=PASSWORD
    )
    configmap = yaml.safe_load(files.files["nhs-trust.configmap.yaml"])
    secret = yaml.safe_load(files.files["nhs-trust-password.secret.yaml"])
    password = base64.b64decode(secret["data"]["password"]).decode()
    store = tmp_path / "bundle.jks"
    store.write_bytes(base64.b64decode(configmap["binaryData"]["bundle.jks"]))
    listed = keytool(
        "-list", "-keystore", store, "-storetype", "JKS", "-storepass:env", PASSWORD_VARIABLE,
        password=password,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.count("trustedCertEntry") == len(truststore)
    wrong = keytool(
        "-list", "-keystore", store, "-storetype", "JKS", "-storepass:env", PASSWORD_VARIABLE,
        password="not-the-password",
    )  # fmt: skip
    assert wrong.returncode != 0


@pytest.mark.slow
def test_mono_reads_the_pfx_chain_and_key_and_each_ca_file(
    keystore: KeyStore, truststore: TrustStore, pki: GeneratedPki, tmp_path: Path
) -> None:
    """Mono (.NET's stand-in) reads the PFX's three certificates and the leaf's key, and each CA file.

    Mono's X509Certificate2Collection.Import gives one certificate of a PFX, whoever wrote it
    (the consumer matrix shows OpenSSL's alike): every certificate is read through
    Mono.Security's PKCS12, the reader Mono's X509Certificate2 itself uses.
    """
    windows_pfx(keystore, PASSWORD).write(tmp_path)
    windows_ca_files(truststore).write(tmp_path / "der")
    windows_ca_files(truststore, encoding="pem").write(tmp_path / "pem")
    ca_files = sorted((tmp_path / "der").glob("*/*.cer")) + sorted(
        (tmp_path / "pem").glob("*/*.crt")
    )
    pfx = str(tmp_path / "client.pfx")
    answers = run_mono_probe(
        [
            ["pfxall", pfx, PASSWORD],
            ["pfxall", pfx, "not-the-password"],
            *(["cert", str(path)] for path in ca_files),
        ]
    )
    ok, wrong, *cas = answers
    expected = sorted(
        _sha256(c)
        for c in (
            pki.g2.client.certificate,
            pki.g2.intermediate.certificate,
            pki.g2.root.certificate,
        )
    )
    assert ok[0] == "OK", ok
    assert ok[2] == "certs=" + ",".join(expected)
    assert ok[3:] == ["keys=1", "keyleaf=True"]
    assert wrong[0] == "FAIL"
    by_fingerprint = {_sha256(c): c for c in truststore.certificates}
    for path, answer in zip(ca_files, cas, strict=True):
        assert answer[0] == "OK", answer
        fingerprint = answer[2].removeprefix("cert=")
        assert fingerprint in by_fingerprint
        assert answer[3] == f"selfsigned={path.parent.name == 'Root'}"


def test_chain_files_refuse_an_intermediate_whose_root_is_absent(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """An entry under no root of the store would be in no file: refused, by name, not dropped.

    Beside it, the same intermediate with its root gives its chain file.
    """
    orphan = TrustStoreBuilder().add_certificates(
        [pki.g2.intermediate.certificate, pki.g1.root.certificate]
    )
    with pytest.raises(CheckError, match=r"test-g2-authentication-g2 .*no root") as caught:
        chain_files(orphan.build())
    assert "Test G2 Root Authority" in str(caught.value)
    with pytest.raises(CheckError, match="no root"):
        chain_files(TrustStoreBuilder().add_certificates([pki.g2.intermediate.certificate]).build())
    whole = orphan.add_certificates([pki.g2.root.certificate]).build()
    assert list(chain_files(whole).files) == [
        "chain-test-g1-root-authority.pem",
        "chain-test-g2-root-authority.pem",
    ]
    assert not list(tmp_path.iterdir())


def test_root_first_puts_each_root_before_its_intermediates_whatever_their_names(
    pki: GeneratedPki,
) -> None:
    """A private CA's root comes before its intermediate, though its subject sorts after it.

    The catalogue does not know them, so they sort by subject ("Test G2 Authentication G2"
    before "Test G2 Root Authority"); the store, its PEM and root-first still keep the root
    first, and issuer-first is the reverse. (The store put the intermediate first before.)
    """
    store = (
        TrustStoreBuilder()
        .add_certificates(
            [
                pki.g2.intermediate.certificate,
                pki.g2.root.certificate,
                pki.foreign.root.certificate,
            ]
        )
        .build()
    )
    root_first_order = [
        pki.foreign.root.certificate,
        pki.g2.root.certificate,
        pki.g2.intermediate.certificate,
    ]
    assert [e.certificate for e in store.entries] == root_first_order
    assert x509.load_pem_x509_certificates(store.to_pem()) == root_first_order
    assert bundle_pem(store, "root-first") == store.to_pem()
    issuer_first_order = x509.load_pem_x509_certificates(bundle_pem(store, "issuer-first"))
    assert issuer_first_order == [
        pki.foreign.root.certificate,
        pki.g2.intermediate.certificate,
        pki.g2.root.certificate,
    ]


def test_file_names_with_control_characters_are_refused(keystore: KeyStore) -> None:
    """A stem or PFX name holding a newline or ESC names no file; the plain ones do."""
    with pytest.raises(InvalidNameError, match="plain file name"):
        environment_files(keystore, stem="mhs\nwrote x")
    with pytest.raises(InvalidNameError, match="plain file name"):
        windows_pfx(keystore, PASSWORD, file_name="client\x1b[31m.pfx")
    assert list(environment_files(keystore, stem="svc").files) == ["svc.env", "svc-env.sh"]
    assert list(windows_pfx(keystore, PASSWORD, file_name="iis.pfx").files) == ["iis.pfx"]


def test_root_first_keeps_same_named_self_signed_roots_without_a_signature_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many roots of one name (no AKI) stay where they are, and no signature is checked."""
    from truststore_builder import _chains  # noqa: PLC0415 - the module under test's internals
    from truststore_builder._model import TrustedEntry  # noqa: PLC0415

    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Same Root")])
    key = rsa_key()
    roots = [make_certificate(name, key, ca=True).certificate for _ in range(20)]
    entries = [TrustedEntry(f"root-{i}", c, "test") for i, c in enumerate(roots)]

    def no_walk(*_arguments: object) -> object:
        raise AssertionError("the signature walk ran")

    monkeypatch.setattr(_chains, "paths_to_top", no_walk)
    assert _chains.root_first(entries) == tuple(entries)


def test_root_first_still_moves_a_same_named_certificate_signed_by_another_key() -> None:
    """A self-issued link whose AKI names the old root's key goes after that root (the control)."""
    from truststore_builder._chains import root_first  # noqa: PLC0415
    from truststore_builder._model import TrustedEntry  # noqa: PLC0415

    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Rolled Root")])
    old = make_certificate(name, rsa_key(), ca=True)
    link = make_certificate(name, rsa_key(), issuer=old, ca=True).certificate
    entries = [TrustedEntry("link", link, "test"), TrustedEntry("old", old.certificate, "test")]
    assert [e.alias for e in root_first(entries)] == ["old", "link"]
