"""check's verdict equals curl's against real servers, configured as docs/migration.md says.

One row per server configuration; each is started once and checked over TLS 1.2 and 1.3 with
G1-like, G2-like and foreign identities and no certificate, and for each the verdict of
``check`` (accepted, or not) must be what curl with the same identity gets (HTTP 200, or not).
Each row also states what curl must get, so that a misconfigured server that refuses (or
serves) everyone cannot make the two agree by accident. A new server kind is one row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.commands import run_cli
from tests.pki import Issued, _name, expiring_server, make_certificate
from tests.servers import (
    RunningServer,
    ServerFiles,
    ServerStartError,
    apache_server,
    curl,
    haproxy_server,
    nginx_server,
    node_exporter,
    openssl_s_server,
    scrape,
    tomcat_server,
    write_server_files,
)
from tests.tls import configurable_tls_server
from truststore_builder import KeyStoreBuilder, TrustStoreBuilder
from truststore_builder.endpoint import Outcome, check_endpoint

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.pki import GeneratedPki
    from truststore_builder.endpoint import EndpointReport

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parent.parent / "docs"
DOC_TRUSTSTORE = "/etc/pki/nhs/truststore.pem"
TOMCAT_PASSWORD = "Tomcat-endpoint-4417"
NO_CERTIFICATE = "none"
VERSIONS = ("1.2", "1.3")


def docs_server_config(name: str, page: str = "migration.md") -> str:
    """The code block under ``<!-- server-config: NAME -->`` in a docs page, as the page gives it."""
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- server-config: {re.escape(name)} -->\n```[a-z]*\n(.*?)```", text, re.DOTALL
    )
    assert match is not None, f"docs/{page} has no server-config block {name!r}"
    return match.group(1)


@attrs.frozen
class Material:
    """Everything the servers and clients read, written once for the module."""

    directory: Path
    server: ServerFiles
    truststore_pem: Path
    truststore_p12: Path
    server_p12: Path
    identities: dict[str, tuple[Path, Path]]


#: Starts one server configuration in a directory; the server stops when the block exits.
Starter = Callable[[Material, Path], contextlib.AbstractContextManager[RunningServer]]


def _ec_client(pki: GeneratedPki) -> Issued:
    """A G2-like client certificate with an EC P-256 key (what -client_sigalgs RSA rules out)."""
    return make_certificate(
        _name("client-ec.test-g2.test", ou="Devices"),
        ec.generate_private_key(ec.SECP256R1()),
        issuer=pki.g2.intermediate,
        ca=False,
    )


@pytest.fixture(scope="module")
def material(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> Material:
    """The transition trust store (G1-like + G2-like CAs) built by the library, and identities."""
    directory = tmp_path_factory.mktemp("endpoint-servers")
    directory.chmod(0o755)
    truststore = (
        TrustStoreBuilder()
        .add_certificates(
            [
                pki.g1.root.certificate,
                pki.g1.intermediate.certificate,
                pki.g2.root.certificate,
                pki.g2.intermediate.certificate,
            ]
        )
        .build()
    )
    truststore_pem = directory / "truststore.pem"
    truststore_pem.write_bytes(truststore.to_pem())
    truststore_p12 = directory / "truststore.p12"
    truststore_p12.write_bytes(truststore.to_pkcs12(TOMCAT_PASSWORD))
    server_keystore = (
        KeyStoreBuilder()
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(pki.server.certificate, pki.server.key)
        .build()
    )
    server_p12 = directory / "server.p12"
    server_p12.write_bytes(server_keystore.to_pkcs12(TOMCAT_PASSWORD))
    for path in (truststore_pem, truststore_p12):
        path.chmod(0o644)
    ec_client = _ec_client(pki)
    ec_chain = directory / "g2-ec-chain.pem"
    ec_chain.write_bytes(ec_client.cert_pem() + pki.g2.intermediate.cert_pem())
    ec_key = directory / "g2-ec-key.pem"
    ec_key.write_bytes(
        ec_client.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Material(
        directory=directory,
        server=write_server_files(pki, directory / "server"),
        truststore_pem=truststore_pem,
        truststore_p12=truststore_p12,
        server_p12=server_p12,
        identities={
            "g1": pki.g1.write_client(directory, "g1"),
            "g2": pki.g2.write_client(directory, "g2"),
            "foreign": pki.foreign.write_client(directory, "foreign"),
            "g2-ec": (ec_chain, ec_key),
        },
    )


def _nginx(verify_client: str) -> Starter:
    @contextlib.contextmanager
    def start(material: Material, directory: Path) -> Iterator[RunningServer]:
        documented = docs_server_config("nginx")
        directives = documented.replace(DOC_TRUSTSTORE, str(material.truststore_pem))
        directives = directives.replace(
            "ssl_verify_client      on;", f"ssl_verify_client      {verify_client};"
        )
        # nginx 1.22 offers TLS 1.3 only when told (its default list ends at 1.2 until 1.23.4).
        own = (
            f"ssl_certificate {material.server.chain};\n"
            f"ssl_certificate_key {material.server.key};\n"
            "ssl_protocols TLSv1.2 TLSv1.3;\n"
        )
        with nginx_server(directory, own + directives) as server:
            yield server

    return start


def _apache(block: str) -> Starter:
    @contextlib.contextmanager
    def start(material: Material, directory: Path) -> Iterator[RunningServer]:
        documented = docs_server_config(block)
        own = (
            f"SSLCertificateFile {material.server.chain}\n"
            f"SSLCertificateKeyFile {material.server.key}\n"
        )
        directives = own + documented.replace(DOC_TRUSTSTORE, str(material.truststore_pem))
        with apache_server(directory, directives) as server:
            yield server

    return start


def _haproxy(verify: str) -> Starter:
    @contextlib.contextmanager
    def start(material: Material, directory: Path) -> Iterator[RunningServer]:
        combined = directory / "haproxy-server.pem"
        combined.write_bytes(material.server.chain.read_bytes() + material.server.key.read_bytes())
        combined.chmod(0o600)
        bind = (
            docs_server_config("haproxy")
            .strip()
            .removeprefix("bind :443 ")
            .replace("/etc/pki/tls/server.pem", str(combined))
            .replace(DOC_TRUSTSTORE, str(material.truststore_pem))
            .replace("verify required", f"verify {verify}")
        )
        with haproxy_server(directory, bind) as server:
            yield server

    return start


def _tomcat(verification: str) -> Starter:
    @contextlib.contextmanager
    def start(material: Material, directory: Path) -> Iterator[RunningServer]:
        connector = (
            docs_server_config("tomcat")
            .replace('port="8443"', 'port="{port}" address="127.0.0.1"')
            .replace("/etc/pki/nhs/truststore.p12", str(material.truststore_p12))
            .replace("/etc/pki/tls/server.p12", str(material.server_p12))
            .replace("TRUSTSTORE_PASSWORD", TOMCAT_PASSWORD)
            .replace("KEYSTORE_PASSWORD", TOMCAT_PASSWORD)
            .replace(
                'certificateVerification="required"', f'certificateVerification="{verification}"'
            )
        )
        with tomcat_server(directory, connector, secrets=[TOMCAT_PASSWORD]) as server:
            yield server

    return start


def _s_server(*options: str) -> Starter:
    @contextlib.contextmanager
    def start(material: Material, directory: Path) -> Iterator[RunningServer]:
        with openssl_s_server(
            directory,
            cert=material.server.cert,
            key=material.server.key,
            cert_chain=material.server.chain,
            ca_file=material.truststore_pem,
            options=options,
        ) as server:
            yield server

    return start


@contextlib.contextmanager
def _python_ssl(material: Material, directory: Path) -> Iterator[RunningServer]:
    with configurable_tls_server(
        cert_chain=material.server.chain,
        key=material.server.key,
        client_ca_file=material.truststore_pem,
        verify_mode=ssl.CERT_REQUIRED,
    ) as (host, port):
        yield RunningServer(host=host, port=port, logs=(), directory=directory)


@attrs.frozen
class Row:
    """One server configuration and what curl must get from it, per identity.

    ``served`` names the identities curl gets HTTP 200 with, per TLS version (the others
    must be refused); ``none`` stands for no client certificate.
    """

    name: str
    start: Starter
    served: dict[str, frozenset[str]]
    identities: tuple[str, ...] = ("g1", "g2", "foreign")


def _both(*names: str) -> dict[str, frozenset[str]]:
    return dict.fromkeys(VERSIONS, frozenset(names))


ROWS = (
    Row("nginx on", _nginx("on"), _both("g1", "g2")),
    Row("nginx optional", _nginx("optional"), _both("g1", "g2", NO_CERTIFICATE)),
    Row(
        "nginx optional_no_ca",
        _nginx("optional_no_ca"),
        _both("g1", "g2", "foreign", NO_CERTIFICATE),
    ),
    Row("apache require", _apache("apache"), _both("g1", "g2")),
    Row("apache <Location> require", _apache("apache-location"), _both("g1", "g2")),
    Row("haproxy verify required", _haproxy("required"), _both("g1", "g2")),
    Row("haproxy verify optional", _haproxy("optional"), _both("g1", "g2", NO_CERTIFICATE)),
    Row("tomcat required", _tomcat("required"), _both("g1", "g2")),
    Row("tomcat optional", _tomcat("optional"), _both("g1", "g2", NO_CERTIFICATE)),
    Row("s_server -Verify", _s_server("-Verify", "2"), _both("g1", "g2")),
    Row("s_server -verify", _s_server("-verify", "2"), _both("g1", "g2", NO_CERTIFICATE)),
    Row(
        "s_server -client_sigalgs RSA+SHA256",
        _s_server("-Verify", "2", "-client_sigalgs", "RSA+SHA256"),
        # TLS 1.3 signs CertificateVerify with RSA-PSS only, which RSA+SHA256 leaves out.
        {"1.2": frozenset({"g2"}), "1.3": frozenset()},
        identities=("g2", "g2-ec"),
    ),
    Row("python ssl CERT_REQUIRED", _python_ssl, _both("g1", "g2")),
)


@pytest.fixture(scope="module", params=ROWS, ids=[row.name for row in ROWS])
def running(
    request: pytest.FixtureRequest, material: Material, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Row, RunningServer]]:
    """One server per row, started once for both TLS versions."""
    row: Row = request.param
    directory = tmp_path_factory.mktemp("server")
    directory.chmod(0o755)
    with row.start(material, directory) as server:
        yield row, server


def _curl_served(
    server: RunningServer, material: Material, identity: str, version: str
) -> tuple[bool, str]:
    options = ("--tlsv1.2", "--tls-max", "1.2") if version == "1.2" else ("--tlsv1.3",)
    files = material.identities.get(identity)
    result = curl(
        server,
        cacert=material.server.ca,
        cert=files[0] if files else None,
        key=files[1] if files else None,
        options=options,
    )
    return result.status == 200, result.describe


def _check(server: RunningServer, material: Material, row: Row, version: str) -> EndpointReport:
    return check_endpoint(
        server.host,
        server.port,
        trust=material.server.ca,
        server_name=server.server_name,
        identities={name: material.identities[name] for name in row.identities},
        tls_version=version,
        timeout=10,
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_check_verdict_equals_curl(
    running: tuple[Row, RunningServer], material: Material, version: str
) -> None:
    """For each identity (and none), check says accepted exactly when curl gets HTTP 200."""
    row, server = running
    report = _check(server, material, row, version)
    results = {NO_CERTIFICATE: report.probe} | {r.name or "": r for r in report.identities}
    lines = []
    for identity in (*row.identities, NO_CERTIFICATE):
        result = results[identity]
        served, curl_says = _curl_served(server, material, identity, version)
        accepted = result.outcome is Outcome.ACCEPTED
        lines.append(
            f"{row.name} | TLS {version} | {identity} | check {result.outcome.value} "
            f"({result.detail}) | curl {'200' if served else 'refused'}"
        )
        assert accepted == served, (
            f"{row.name}, TLS {version}, {identity}: check {result.outcome.value} "
            f"({result.detail}) but {curl_says}\n{server.read_logs()}"
        )
        assert served == (identity in row.served[version]), (
            f"{row.name}, TLS {version}, {identity}: the server is not configured as the row "
            f"says: {curl_says}\n{server.read_logs()}"
        )
    print("\n".join(["", *lines]))  # noqa: T201  (the verdict table, with -s)
    wanted = "optional" if NO_CERTIFICATE in row.served[version] else "required"
    if row.served[version]:
        assert report.client_certificate == wanted, report.summary()


def test_an_ec_identity_is_not_sent_where_the_request_allows_rsa_only(
    material: Material, tmp_path: Path
) -> None:
    """-client_sigalgs RSA+SHA256: the EC identity is 'not-sent' naming the algorithm, never accepted."""
    with _s_server("-Verify", "2", "-client_sigalgs", "RSA+SHA256")(material, tmp_path) as server:
        report = check_endpoint(
            server.host,
            server.port,
            trust=material.server.ca,
            server_name=server.server_name,
            identities={"g2-ec": material.identities["g2-ec"], "g2": material.identities["g2"]},
            tls_version="1.2",
            timeout=10,
        )
    ec_result, rsa_result = report.identities
    assert ec_result.outcome is Outcome.NOT_SENT
    assert ec_result.certificate_sent is False
    assert ec_result.signature_algorithms == ("rsa_pkcs1_sha256",)
    assert "rsa_pkcs1_sha256" in ec_result.detail
    assert "EC secp256r1" in ec_result.detail
    assert rsa_result.outcome is Outcome.ACCEPTED  # the control: an RSA key can sign it


def test_an_ec_identity_is_not_sent_after_post_handshake_auth_that_allows_rsa_only(
    material: Material, tmp_path: Path
) -> None:
    """Apache <Location> optional, RSA-only request over TLS 1.3: the EC identity is not-sent."""
    directives = (
        f"SSLCertificateFile {material.server.chain}\n"
        f"SSLCertificateKeyFile {material.server.key}\n"
        f"SSLCACertificateFile {material.truststore_pem}\n"
        "SSLOpenSSLConfCmd ClientSignatureAlgorithms RSA-PSS+SHA256:RSA+SHA256\n"
        "<Location />\n    SSLVerifyClient optional\n    SSLVerifyDepth 2\n</Location>\n"
    )
    with apache_server(tmp_path, directives) as server:
        report = check_endpoint(
            server.host,
            server.port,
            trust=material.server.ca,
            server_name=server.server_name,
            identities={"g2-ec": material.identities["g2-ec"], "g2": material.identities["g2"]},
            tls_version="1.3",
            timeout=10,
        )
    ec_result, rsa_result = report.identities
    # Apache serves the page: it asked after the request and took the empty answer.
    assert ec_result.http_status == 200, ec_result.detail
    assert (ec_result.outcome, ec_result.certificate_sent) == (Outcome.NOT_SENT, False)
    assert "EC secp256r1" in ec_result.detail
    # The control: the RSA identity can sign what the request allows, is sent and accepted.
    assert (rsa_result.outcome, rsa_result.certificate_sent) == (Outcome.ACCEPTED, True)


def test_nginx_refusals_carry_nginx_own_words(material: Material, tmp_path: Path) -> None:
    """With nginx on, the foreign identity and no certificate are refused in HTTP, in nginx's words."""
    with _nginx("on")(material, tmp_path) as server:
        report = check_endpoint(
            server.host,
            server.port,
            trust=material.server.ca,
            server_name=server.server_name,
            identities={n: material.identities[n] for n in ("g2", "foreign")},
            timeout=10,
        )
    g2, foreign = report.identities
    assert (g2.outcome, g2.http_status) == (Outcome.ACCEPTED, 200)
    assert (foreign.outcome, foreign.http_status) == (Outcome.REFUSED, 400)
    assert foreign.server_said == "400 The SSL certificate error"
    assert report.probe.server_said == "400 No required SSL certificate was sent"
    assert report.client_certificate == "required"
    assert "foreign refused (HTTP 400)" in report.summary()


def test_nginx_refuses_to_start_with_ssl_trusted_certificate_alone(
    material: Material, tmp_path: Path
) -> None:
    """Nginx 1.22 does not start with ssl_trusted_certificate in place of ssl_client_certificate."""
    directives = (
        f"ssl_certificate {material.server.chain};\n"
        f"ssl_certificate_key {material.server.key};\n"
        "ssl_verify_client on;\n"
        f"ssl_trusted_certificate {material.truststore_pem};\n"
    )
    with (
        pytest.raises(ServerStartError, match="no ssl_client_certificate for ssl_verify_client"),
        nginx_server(tmp_path, directives),
    ):
        pytest.fail("nginx started with ssl_trusted_certificate alone")


def test_probe_tls_says_it_judged_on_tls_alone(material: Material, tmp_path: Path) -> None:
    """--probe tls against nginx on: the foreign identity looks accepted, and the report says why."""
    with _nginx("on")(material, tmp_path) as server:
        report = check_endpoint(
            server.host,
            server.port,
            trust=material.server.ca,
            server_name=server.server_name,
            identities={"foreign": material.identities["foreign"]},
            probe="tls",
            tls_version="1.2",
            timeout=10,
        )
    assert report.identities[0].outcome is Outcome.ACCEPTED
    assert "judged on TLS alone" in report.identities[0].detail
    assert "judged on TLS alone" in report.summary()


def _apache_proxy(material: Material, backend: RunningServer, identity_file: Path) -> str:
    """docs/clients.md's proxy block with the files filled in, in front of ``backend``."""
    block = (
        docs_server_config("apache-proxy-client", page="clients.md")
        .replace(DOC_TRUSTSTORE, str(material.server.ca))
        .replace("/etc/pki/nhs/client-cert-and-key.pem", str(identity_file))
        .replace("/etc/pki/nhs/client-chain.pem", str(material.identities["g2"][0]))
    )
    return (
        f"SSLCertificateFile {material.server.chain}\n"
        f"SSLCertificateKeyFile {material.server.key}\n"
        f"{block}\n"
        f"ProxyPass / https://{backend.server_name}:{backend.port}/\n"
    )


_PROXY_MODULES = (
    "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so\n"
    "LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so\n"
)


def test_apache_as_a_client_presents_the_identity_as_the_docs_say(
    pki: GeneratedPki, material: Material, tmp_path: Path
) -> None:
    """Apache with leaf+key and a chain file presents G2 to nginx; the chain+key file does not start."""
    chain, key = material.identities["g2"]
    leaf_and_key = tmp_path / "client-cert-and-key.pem"
    leaf_and_key.write_bytes(pki.g2.client.cert_pem() + key.read_bytes())
    leaf_and_key.chmod(0o600)
    chain_and_key = tmp_path / "client-chain-and-key.pem"
    chain_and_key.write_bytes(chain.read_bytes() + key.read_bytes())
    chain_and_key.chmod(0o600)
    with _nginx("on")(material, tmp_path) as backend:
        with apache_server(
            tmp_path,
            _apache_proxy(material, backend, leaf_and_key),
            server_directives=_PROXY_MODULES,
        ) as proxy:
            through = curl(proxy, cacert=material.server.ca)
        with (
            pytest.raises(
                ServerStartError,
                match="AH02326: proxy client certificate and private key do not match",
            ),
            apache_server(
                tmp_path,
                _apache_proxy(material, backend, chain_and_key),
                server_directives=_PROXY_MODULES,
            ),
        ):
            pytest.fail("apache2 started with the chain and key in SSLProxyMachineCertificateFile")
        direct = curl(backend, cacert=material.server.ca)
    assert (through.returncode, through.status, through.body) == (0, 200, "ok\n"), through.describe
    # The control: without the proxy's certificate nginx refuses.
    assert direct.status == 400, direct.describe


# --- expiry: check's numbers are OpenSSL's, and its metrics are what node exporter reads -----


@attrs.frozen
class ShortLived:
    """A server certificate that expires in 5 days (and a half), its key and its chain file."""

    cert: Path
    key: Path
    chain: Path
    intermediate: Path


@pytest.fixture(scope="module")
def short_lived(pki: GeneratedPki, material: Material) -> ShortLived:
    """The localhost server certificate again, issued by the G2-like CA, with 5 days left."""
    issued = expiring_server(pki, days=5.5)
    directory = material.directory / "short-lived"
    directory.mkdir()
    directory.chmod(0o755)
    files = ShortLived(
        cert=directory / "cert.pem",
        key=directory / "key.pem",
        chain=directory / "chain.pem",
        intermediate=directory / "intermediate.pem",
    )
    files.cert.write_bytes(issued.cert_pem())
    files.key.write_bytes(issued.key_pem())
    files.chain.write_bytes(issued.cert_pem() + pki.g2.intermediate.cert_pem())
    files.intermediate.write_bytes(pki.g2.intermediate.cert_pem())
    for path in (files.cert, files.chain, files.intermediate):
        path.chmod(0o644)
    files.key.chmod(0o600)
    return files


@contextlib.contextmanager
def _short_lived_nginx(
    material: Material, files: ShortLived, directory: Path
) -> Iterator[RunningServer]:
    directives = docs_server_config("nginx").replace(DOC_TRUSTSTORE, str(material.truststore_pem))
    own = f"ssl_certificate {files.chain};\nssl_certificate_key {files.key};\n"
    with nginx_server(directory, own + directives) as server:
        yield server


@contextlib.contextmanager
def _short_lived_s_server(
    material: Material, files: ShortLived, directory: Path
) -> Iterator[RunningServer]:
    with openssl_s_server(
        directory,
        cert=files.cert,
        key=files.key,
        cert_chain=files.intermediate,
        ca_file=material.truststore_pem,
        options=("-Verify", "2"),
    ) as server:
        yield server


def _openssl_enddates(server: RunningServer) -> list[dt.datetime]:
    """Each certificate the server presents, as `openssl s_client -showcerts | openssl x509 -enddate` sees it."""
    shown = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{server.host}:{server.port}",
            "-servername",
            server.server_name,
            "-showcerts",
        ],
        input=b"",
        capture_output=True,
        timeout=30,
        check=False,
    ).stdout.decode()
    blocks = re.findall(
        r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", shown, re.DOTALL
    )
    assert blocks, shown
    dates = []
    for block in blocks:
        enddate = subprocess.run(
            ["openssl", "x509", "-noout", "-enddate"],
            input=block.encode(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        # notAfter=Dec 12 19:04:05 2026 GMT
        text = enddate.strip().removeprefix("notAfter=").replace(" GMT", " +0000")
        dates.append(dt.datetime.strptime(text, "%b %d %H:%M:%S %Y %z"))
    return dates


@pytest.mark.parametrize(
    "start", [_short_lived_nginx, _short_lived_s_server], ids=["nginx", "s_server"]
)
def test_check_expiry_is_what_openssl_reads_from_the_same_server(
    material: Material,
    short_lived: ShortLived,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    start: Callable[[Material, ShortLived, Path], contextlib.AbstractContextManager[RunningServer]],
) -> None:
    """not_after and days left per presented certificate equal OpenSSL's; --fail-within 10 exits 1, 3 exits 0."""
    tmp_path.chmod(0o755)
    with start(material, short_lived, tmp_path) as server:
        argv = [
            "check",
            f"{server.host}:{server.port}",
            "--trust",
            str(material.server.ca),
            "--server-name",
            server.server_name,
            "--identity",
            f"g1={material.identities['g1'][0]},{material.identities['g1'][1]}",
            "--identity",
            f"g2={material.identities['g2'][0]},{material.identities['g2'][1]}",
        ]
        status, out, err = run_cli([*argv, "--json"], capsys)
        openssl = _openssl_enddates(server)
        refused_soon = run_cli([*argv, "--fail-within", "10"], capsys)
        accepted_later = run_cli([*argv, "--fail-within", "3"], capsys)
    assert (status, err) == (0, "")
    (endpoint,) = json.loads(out)["endpoints"]
    checked_at = dt.datetime.fromisoformat(endpoint["checked_at"])
    presented = endpoint["server"]["presented"]
    assert [dt.datetime.fromisoformat(c["not_after"]) for c in presented] == openssl
    assert len(openssl) == 2
    assert [c["days_left"] for c in presented] == [
        (when - checked_at) // dt.timedelta(days=1) for when in openssl
    ]
    assert presented[0]["days_left"] == 5
    assert endpoint["expiry"]["earliest"]["index"] == 0
    status, out, err = refused_soon
    assert status == 1
    assert (
        f"EXPIRES WITHIN 10 DAYS: presented[0] CN=localhost,OU=Devices,O=nhs on {openssl[0]:%Y-%m-%d} (in 5 days)"
        in out
    )
    assert "1 presented certificate expires within 10 days (--fail-within)" in err
    status, out, err = accepted_later
    assert (status, err) == (0, "")
    assert "g1 accepted; g2 accepted; OK" in out.splitlines()[0]


def test_node_exporter_reads_the_metrics_file(
    material: Material, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Node exporter's textfile collector serves check's metrics as written.

    A file outside the common subset (a HELP escape the 0.0.4 parser does not know) it
    refuses: the negative control.
    """
    tmp_path.chmod(0o755)
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    with (
        _s_server("-Verify", "2")(material, tmp_path) as server,
        node_exporter(tmp_path, textfiles) as exporter,
    ):
        address = f"{server.host}:{server.port}"
        argv = ["check", address, "--trust", str(material.server.ca), "--server-name", "localhost"]
        argv += ["--identity", f"g2={material.identities['g2'][0]},{material.identities['g2'][1]}"]
        status, _, _ = run_cli([*argv, "--metrics", str(textfiles / "check.prom")], capsys)
        served = scrape(exporter)
        (textfiles / "bad.prom").write_text(
            '# HELP bad_metric say \\"hi\\"\n# TYPE bad_metric gauge\nbad_metric 1\n'
        )
        refused = scrape(exporter)
    assert status == 0
    assert "node_textfile_scrape_error 0" in served
    leaf = material.server.cert
    not_after = x509.load_pem_x509_certificate(leaf.read_bytes()).not_valid_after_utc.timestamp()
    expiry = re.search(
        r'^truststore_builder_endpoint_certificate_expiry_timestamp_seconds\{([^}]*position="leaf"[^}]*)\} (\S+)$',
        served,
        re.MULTILINE,
    )
    assert expiry is not None, served
    assert f'endpoint="{address}"' in expiry.group(1)
    assert float(expiry.group(2)) == not_after
    labels = f'endpoint="{address}",identity="g2",outcome="accepted"'
    assert f"truststore_builder_endpoint_identity_accepted{{{labels}}} 1\n" in served
    assert f'truststore_builder_endpoint_up{{endpoint="{address}"}} 1' in served
    assert "node_textfile_scrape_error 1" in refused
