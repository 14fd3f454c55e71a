"""check_endpoint against real TLS servers on loopback: every outcome, both TLS 1.2 and 1.3."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from cryptography.hazmat.primitives import serialization

from tests.pki import _name, catalogue_for, make_certificate, rsa_key
from tests.tls import closed_port, configurable_tls_server, silent_server
from truststore_builder import Generation, InputError, TrustStoreBuilder
from truststore_builder._endpoint import (
    EndpointReport,
    Outcome,
    _Observer,
    certificates_from_message,
    check_endpoint,
    check_endpoints,
    issuers_from_certificate_request,
    name_matches,
    parse_endpoint,
    signature_algorithms_from_certificate_request,
)

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Iterator

    from cryptography import x509

    from tests.pki import GeneratedPki


@attrs.frozen
class Files:
    """The PEM files the servers and the checks read."""

    server_chain: Path
    server_key: Path
    g1_ca: Path
    g2_ca: Path
    both_ca: Path
    foreign_ca: Path
    identities: dict[str, tuple[Path, Path]]


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@pytest.fixture(scope="module")
def files(pki: GeneratedPki, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Server chain and key, CA files per generation, and a G1 and a G2 client identity."""
    directory = tmp_path_factory.mktemp("endpoint")
    server_chain = directory / "server-chain.pem"
    server_chain.write_bytes(_pem(pki.server.certificate, pki.g2.intermediate.certificate))
    server_key = directory / "server-key.pem"
    server_key.write_bytes(pki.server.key_pem())
    cas = {}
    for label, hierarchies in (
        ("g1", [pki.g1]),
        ("g2", [pki.g2]),
        ("both", [pki.g1, pki.g2]),
        ("foreign", [pki.foreign]),
    ):
        path = directory / f"{label}-ca.pem"
        path.write_bytes(
            _pem(
                *(c for h in hierarchies for c in (h.root.certificate, h.intermediate.certificate))
            )
        )
        cas[label] = path
    return Files(
        server_chain=server_chain,
        server_key=server_key,
        g1_ca=cas["g1"],
        g2_ca=cas["g2"],
        both_ca=cas["both"],
        foreign_ca=cas["foreign"],
        identities={
            "g1": pki.g1.write_client(directory, "g1"),
            "g2": pki.g2.write_client(directory, "g2"),
        },
    )


def _server(
    files: Files,
    trusted: Path | None,
    mode: ssl.VerifyMode = ssl.CERT_REQUIRED,
    maximum_version: ssl.TLSVersion | None = None,
    **http: Any,  # configurable_tls_server's HTTP options, passed through
) -> contextlib.AbstractContextManager[tuple[str, int]]:
    return configurable_tls_server(
        cert_chain=files.server_chain,
        key=files.server_key,
        client_ca_file=trusted,
        verify_mode=mode,
        maximum_version=maximum_version,
        **http,
    )


def _check(files: Files, address: tuple[str, int], **options: object) -> EndpointReport:
    defaults: dict[str, object] = {
        "trust": files.both_ca,
        "identities": files.identities,
        "server_name": "localhost",
        "timeout": 5.0,
    }
    return check_endpoint(*address, **{**defaults, **options})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def g2_only_tls13(files: Files) -> Iterator[tuple[str, int]]:
    """A TLS 1.3 server that requires a client certificate and trusts G2 only."""
    with _server(files, files.g2_ca) as address:
        yield address


def test_tls13_g2_only_accepts_g2_and_refuses_g1_after_the_handshake(
    files: Files, g2_only_tls13: tuple[str, int]
) -> None:
    """TLS 1.3: G1 is refused on the first read (unknown_ca), G2 accepted, no cert is required."""
    report = check_endpoint(
        *g2_only_tls13,
        trust=files.both_ca,
        identities=files.identities,
        server_name="localhost",
        timeout=5,
    )
    g1, g2 = report.identities
    assert (g1.name, g1.outcome, g1.alert, g1.stage) == (
        "g1",
        Outcome.REFUSED,
        "unknown_ca",
        "first-read",
    )
    assert g1.tls_version == "TLSv1.3"
    assert (g2.outcome, g2.alert, g2.stage) == (Outcome.ACCEPTED, None, "first-read")
    assert report.probe.outcome is Outcome.REFUSED
    assert report.probe.alert == "certificate_required"
    assert report.client_certificate == "required"
    assert report.server is not None
    assert report.server.verified
    assert report.server.name_matches
    assert not report.ok
    assert "g1 refused (unknown_ca)" in report.summary()
    assert report.summary().endswith("FAIL")


def test_tls13_refusal_is_caught_quickly(files: Files, g2_only_tls13: tuple[str, int]) -> None:
    """The accepted and refused TLS 1.3 verdicts come from the server, not from a settle wait."""
    report = check_endpoint(
        *g2_only_tls13, trust=files.both_ca, identities=files.identities, server_name="localhost"
    )
    # The verdict names what the server sent: no fixed wait decided it.
    assert "HTTP 200" in report.identities[1].detail
    assert "unknown_ca" in report.identities[0].detail
    assert report.identities[1].elapsed < 2
    tls_only = check_endpoint(
        *g2_only_tls13,
        trust=files.both_ca,
        identities=files.identities,
        server_name="localhost",
        probe="tls",
    )
    assert "session ticket" in tls_only.identities[1].detail
    assert "unknown_ca" in tls_only.identities[0].detail
    assert "judged on TLS alone" in tls_only.summary()


def test_tls12_g2_only_refuses_g1_in_the_handshake(files: Files) -> None:
    """TLS 1.2: G1 is refused inside the handshake with unknown_ca; G2 is accepted."""
    with _server(files, files.g2_ca, maximum_version=ssl.TLSVersion.TLSv1_2) as address:
        report = check_endpoint(
            *address, trust=files.both_ca, identities=files.identities, server_name="localhost"
        )
    g1, g2 = report.identities
    assert (g1.outcome, g1.alert, g1.stage, g1.tls_version) == (
        Outcome.REFUSED,
        "unknown_ca",
        "handshake",
        None,
    )
    assert (g2.outcome, g2.stage, g2.tls_version) == (Outcome.ACCEPTED, "first-read", "TLSv1.2")
    assert g2.http_status == 200
    assert report.probe.outcome is Outcome.REFUSED
    assert report.probe.alert == "handshake_failure"
    assert report.client_certificate == "required"
    assert report.server is not None
    assert report.server.verified


def test_g1_only_server_refuses_g2(files: Files) -> None:
    """A server that still trusts only G1 refuses the G2 identity: the Stage 1 failure."""
    with _server(files, files.g1_ca) as address:
        report = _check(files, address)
    g1, g2 = report.identities
    assert g1.outcome is Outcome.ACCEPTED
    assert g2.outcome is Outcome.REFUSED
    assert g2.alert == "unknown_ca"


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_server_trusting_both_accepts_both(files: Files, version: ssl.TLSVersion) -> None:
    """A server trusting G1 and G2 accepts both identities; the report is OK."""
    with _server(files, files.both_ca, maximum_version=version) as address:
        report = _check(files, address)
    assert [r.outcome for r in report.identities] == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert all(r.certificate_requested for r in report.identities)
    assert report.ok
    assert report.summary().endswith("OK")


def test_server_that_does_not_ask(files: Files) -> None:
    """CERT_NONE: no CertificateRequest, so no identity is judged: not-requested, not OK."""
    with _server(files, None, ssl.CERT_NONE) as address:
        report = _check(files, address)
    assert report.probe.outcome is Outcome.NOT_REQUESTED
    assert report.client_certificate == "not-requested"
    assert [r.outcome for r in report.identities] == [Outcome.NOT_REQUESTED] * 2
    assert [r.certificate_requested for r in report.identities] == [False, False]
    assert report.server is not None
    assert report.server.verified
    assert not report.ok


def test_optional_client_certificate(files: Files) -> None:
    """CERT_OPTIONAL: the probe goes through (optional); a G1 certificate is still refused."""
    with _server(files, files.g2_ca, ssl.CERT_OPTIONAL) as address:
        report = _check(files, address)
    assert report.probe.outcome is Outcome.ACCEPTED
    assert report.client_certificate == "optional"
    g1, g2 = report.identities
    assert (g1.outcome, g1.alert) == (Outcome.REFUSED, "unknown_ca")
    assert g2.outcome is Outcome.ACCEPTED


def test_connection_refused() -> None:
    """A closed port: connection-failed at connect; identities are not tried."""
    report = check_endpoint(*closed_port(), trust=None, environment="int", timeout=2)
    assert report.probe.outcome is Outcome.CONNECTION_FAILED
    assert report.probe.stage == "connect"
    assert report.server is None
    assert not report.ok
    assert "connection-failed" in report.summary()


def test_identities_not_tried_when_unreachable(files: Files) -> None:
    """Each identity shows the probe's failure, marked as not tried, without connecting again."""
    report = _check(files, closed_port())
    assert [r.outcome for r in report.identities] == [Outcome.CONNECTION_FAILED] * 2
    assert all(r.detail.startswith("not tried") for r in report.identities)


def test_handshake_timeout(files: Files) -> None:
    """A server that accepts TCP and never speaks: timeout in the handshake, within the bound."""
    with silent_server() as address:
        started = time.monotonic()
        report = _check(files, address, timeout=1.0)
        elapsed = time.monotonic() - started
    assert report.probe.outcome is Outcome.TIMEOUT
    assert report.probe.stage == "handshake"
    assert [r.outcome for r in report.identities] == [Outcome.TIMEOUT] * 2
    assert elapsed < 10  # bounded by the 1 s timeout, with room for a loaded machine


def test_invalid_name_never_resolves(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    """A .invalid name fails at resolve time without asking any resolver (RFC 6761)."""

    def no_lookups(*_args: object, **_kwargs: object) -> object:
        pytest.fail("the resolver was asked about a .invalid name")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookups)
    report = _check(files, ("endpoint.example.invalid", 443))
    assert report.probe.outcome is Outcome.CONNECTION_FAILED
    assert report.probe.stage == "resolve"


def test_dns_failure(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name the resolver cannot resolve is a connection failure at resolve time."""

    def unresolvable(*_args: object, **_kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    report = _check(files, ("nowhere.example", 443))
    assert report.probe.outcome is Outcome.CONNECTION_FAILED
    assert report.probe.stage == "resolve"
    assert "does not resolve" in report.probe.detail


def test_server_name_mismatch(files: Files, g2_only_tls13: tuple[str, int]) -> None:
    """The chain verifies but is not issued to the name asked for: not OK, and said why."""
    report = _check(files, g2_only_tls13, server_name="spine.example.nhs.uk", identities={})
    assert report.server is not None
    assert report.server.verified
    assert not report.server.name_matches
    assert "not issued to spine.example.nhs.uk" in report.server.failures[0]
    assert not report.ok
    assert "NAME MISMATCH" in report.summary()


def test_untrusted_server_chain(files: Files, g2_only_tls13: tuple[str, int]) -> None:
    """A chain that leads to no trusted root does not verify; the presented chain is reported."""
    report = _check(files, g2_only_tls13, trust=files.foreign_ca, identities={})
    assert report.server is not None
    assert not report.server.verified
    assert len(report.server.presented) == 2
    assert report.server.presented[0].subject.startswith("CN=localhost")
    assert "does not verify" in report.server.failures[0]


def test_trust_store_object_and_generations(
    pki: GeneratedPki, files: Files, g2_only_tls13: tuple[str, int]
) -> None:
    """A TrustStore works as trust; a catalogue that knows the CAs names every generation."""
    store = TrustStoreBuilder().add_file(files.both_ca).build()
    report = check_endpoint(
        *g2_only_tls13,
        trust=store,
        identities=[("old", *files.identities["g1"]), ("new", *files.identities["g2"])],
        server_name="localhost",
        catalogue=catalogue_for(pki),
    )
    assert report.server is not None
    assert report.server.generation is Generation.G2
    assert [c.nhs.slug for c in report.server.chain[1:] if c.nhs] == [
        "test-authentication-g2",
        "test-root-authority-g2",
    ]
    assert [(r.name, r.generation) for r in report.identities] == [
        ("old", Generation.G1),
        ("new", Generation.G2),
    ]
    document = report.to_dict()
    assert document["server"]["generation"] == "g2"  # type: ignore[index]
    assert document["identities"][1]["outcome"] == "accepted"  # type: ignore[index]


def test_check_endpoints_keeps_order(files: Files, g2_only_tls13: tuple[str, int]) -> None:
    """Many endpoints at once: one report each, in the order given."""
    closed = closed_port()
    reports = check_endpoints(
        [g2_only_tls13, closed, g2_only_tls13],
        concurrency=2,
        trust=files.both_ca,
        server_name="localhost",
    )
    assert [r.port for r in reports] == [g2_only_tls13[1], closed[1], g2_only_tls13[1]]
    assert [r.ok for r in reports] == [True, False, True]


def test_encrypted_identity_key_is_refused(pki: GeneratedPki, files: Files, tmp_path: Path) -> None:
    """An encrypted key is out of scope: a clear InputError before any connection."""
    key = tmp_path / "encrypted.pem"
    key.write_bytes(
        pki.g2.client.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(InputError, match="encrypted"):
        check_endpoint(
            *closed_port(), trust=files.both_ca, identities={"g2": (files.identities["g2"][0], key)}
        )


def test_identity_key_must_match(files: Files) -> None:
    """A key that belongs to no certificate in the file is refused before connecting."""
    with pytest.raises(InputError, match="belongs to no certificate"):
        check_endpoint(
            *closed_port(),
            trust=files.both_ca,
            identities={"mixed": (files.identities["g2"][0], files.identities["g1"][1])},
        )


def test_needs_something_to_verify_against() -> None:
    """Without an environment or a trust store there is nothing to judge the chain by."""
    with pytest.raises(ValueError, match="NHS environment or a trust store"):
        check_endpoint("127.0.0.1", 443)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("spine.example.nhs.uk:443", ("spine.example.nhs.uk", 443)),
        ("127.0.0.1:8443", ("127.0.0.1", 8443)),
        ("[::1]:4443", ("::1", 4443)),
        ("mesh.example", ("mesh.example", 443)),
    ],
)
def test_parse_endpoint(text: str, expected: tuple[str, int]) -> None:
    """HOST:PORT, [v6]:PORT and a bare host (port 443) are read."""
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["host:0", "host:65536", "host:https", ":443", "a b:1"])
def test_parse_endpoint_refuses(text: str) -> None:
    """A missing host or a port outside 1..65535 is refused."""
    with pytest.raises(ValueError, match=r"HOST:PORT|port"):
        parse_endpoint(text)


def test_name_matching_by_cn_without_san(pki: GeneratedPki) -> None:
    """NHS endpoint certificates have no SAN: the CN is the name; with a SAN, only the SAN."""
    nhs_like = make_certificate(
        _name("spine.example.nhs.uk", ou="Devices"),
        rsa_key(),
        issuer=pki.g2.intermediate,
        ca=False,
    ).certificate
    assert name_matches(nhs_like, "SPINE.example.nhs.uk.")
    assert not name_matches(nhs_like, "other.example.nhs.uk")
    wildcard = make_certificate(
        _name("ignored", ou="Devices"),
        rsa_key(),
        issuer=pki.g2.intermediate,
        ca=False,
        dns_name="*.example.nhs.uk",
    ).certificate
    assert name_matches(wildcard, "a.example.nhs.uk")
    assert not name_matches(wildcard, "a.b.example.nhs.uk")
    assert not name_matches(wildcard, "ignored")


def _vec(data: bytes, width: int) -> bytes:
    return len(data).to_bytes(width, "big") + data


def test_certificate_message_parsing(pki: GeneratedPki) -> None:
    """The presented chain is read from TLS 1.2 and TLS 1.3 Certificate messages."""
    ders = [
        c.public_bytes(serialization.Encoding.DER)
        for c in (pki.server.certificate, pki.g2.intermediate.certificate)
    ]
    tls12 = _vec(b"".join(_vec(d, 3) for d in ders), 3)
    tls13 = _vec(b"", 1) + _vec(b"".join(_vec(d, 3) + _vec(b"", 2) for d in ders), 3)
    for body, is13 in ((tls12, False), (tls13, True)):
        assert certificates_from_message(b"\x0b" + _vec(body, 3), tls13=is13) == ders
    with pytest.raises(ValueError, match="truncated"):
        certificates_from_message(b"\x0b" + _vec(tls12, 3)[:-5], tls13=False)


def test_certificate_request_names(pki: GeneratedPki) -> None:
    """The CA names a CertificateRequest lists are read, in TLS 1.2 and in TLS 1.3."""
    names = [pki.g1.intermediate.certificate.subject, pki.g2.intermediate.certificate.subject]
    listed = _vec(b"".join(_vec(n.public_bytes(), 2) for n in names), 2)
    tls12 = _vec(b"\x01\x40", 1) + _vec(b"\x04\x01", 2) + listed
    extensions = b"\x00\x0d" + _vec(_vec(b"\x04\x01", 2), 2) + b"\x00\x2f" + _vec(listed, 2)
    tls13 = _vec(b"", 1) + _vec(extensions, 2)
    for body, is13 in ((tls12, False), (tls13, True)):
        assert issuers_from_certificate_request(b"\x0d" + _vec(body, 3), tls13=is13) == names


def test_certificate_request_signature_algorithms() -> None:
    """The signature algorithms a CertificateRequest allows are named, in TLS 1.2 and 1.3."""
    algorithms = b"\x04\x01\x08\x04\x0e\x01"
    tls12 = _vec(b"\x01\x40", 1) + _vec(algorithms, 2) + _vec(b"", 2)
    tls13 = _vec(b"", 1) + _vec(b"\x00\x0d" + _vec(_vec(algorithms, 2), 2), 2)
    for body, is13 in ((tls12, False), (tls13, True)):
        assert signature_algorithms_from_certificate_request(
            b"\x0d" + _vec(body, 3), tls13=is13
        ) == ["rsa_pkcs1_sha256", "rsa_pss_rsae_sha256", "0x0e01"]
    with pytest.raises(ValueError, match="CertificateRequest"):
        signature_algorithms_from_certificate_request(b"\x0b" + _vec(tls12, 3), tls13=False)


_APACHE_403 = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
    b"<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n"
    b"<p>You don't have permission to access this resource.</p>\n</body></html>\n"
)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_an_http_refusal_after_the_handshake_is_refused_in_the_servers_words(
    files: Files, version: ssl.TLSVersion
) -> None:
    """A server that takes the handshake and answers 403 refuses: never accepted, its title given."""
    with _server(
        files, files.both_ca, ssl.CERT_OPTIONAL, version, http_reply=_APACHE_403
    ) as address:
        report = _check(files, address)
        tls_only = _check(files, address, probe="tls")
    g2 = report.identities[1]
    assert (g2.outcome, g2.http_status, g2.server_said) == (
        Outcome.REFUSED,
        403,
        "403 Forbidden",
    )
    assert g2.certificate_sent is True
    assert "403 Forbidden" in g2.detail
    assert report.probe.outcome is Outcome.REFUSED
    assert report.client_certificate == "required"
    assert "g2 refused (HTTP 403)" in report.summary()
    assert not report.ok
    # The control: judged on TLS alone, the same server looks as if it accepted G2.
    assert tls_only.identities[1].outcome is Outcome.ACCEPTED


def test_a_close_before_any_reply_is_refused(files: Files) -> None:
    """A server that asks, takes the handshake, then closes without a word: refused, so said."""
    with _server(files, files.both_ca, ssl.CERT_OPTIONAL, http_reply=None) as address:
        report = _check(files, address)
    assert [r.outcome for r in report.identities] == [Outcome.REFUSED] * 2
    assert "closed the connection before any reply" in report.identities[1].detail
    assert report.identities[1].server_said == "(closed the connection)"


def test_a_server_that_speaks_no_http_is_judged_on_tls_and_says_so(files: Files) -> None:
    """A reply that is not HTTP: the TLS result decides, and the detail says it did."""
    with _server(files, files.g2_ca, http_reply=b"+OK POP3 ready\r\n") as address:
        report = _check(files, address)
    g1, g2 = report.identities
    assert g2.outcome is Outcome.ACCEPTED
    assert "speaks no HTTP" in g2.detail
    assert "judged on TLS alone" in g2.detail
    assert g2.server_said == "+OK POP3 ready.."
    assert g2.http_status is None
    assert (g1.outcome, g1.alert) == (Outcome.REFUSED, "unknown_ca")


def test_the_request_names_the_host_and_path_and_closes(files: Files) -> None:
    """The HTTP request is GET PATH with Host (port included off 443) and Connection: close."""
    seen: list[bytes] = []
    with _server(files, files.both_ca, seen=seen) as address:
        report = _check(files, address, path="/health?full=1")
    assert report.ok
    assert report.path == "/health?full=1"
    first = seen[0].split(b"\r\n")
    assert first[0] == b"GET /health?full=1 HTTP/1.1"
    assert f"Host: localhost:{address[1]}".encode() in first
    assert b"Connection: close" in first
    document = report.to_dict()
    assert (document["probe_mode"], document["path"]) == ("http", "/health?full=1")
    identity = document["identities"][1]  # type: ignore[index]
    assert identity["http_status"] == 200
    assert identity["certificate_sent"] is True


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"path": "no-slash"}, "must start with /"),
        ({"path": "/a b"}, "no spaces"),
        ({"probe": "smtp"}, "http or tls"),
        ({"tls_version": "1.1"}, "1.2 or 1.3"),
    ],
)
def test_bad_probe_options_are_refused_before_connecting(
    files: Files, options: dict[str, str], message: str
) -> None:
    """A bad path, probe or TLS version is a ValueError naming the rule; nothing is connected."""
    with pytest.raises(ValueError, match=message):
        _check(files, closed_port(), **options)


def test_tls_version_pins_the_connection(files: Files, g2_only_tls13: tuple[str, int]) -> None:
    """tls_version="1.2" makes every connection TLS 1.2, even to a server that prefers 1.3."""
    report = _check(files, g2_only_tls13, tls_version="1.2")
    assert {r.tls_version for r in report.identities if r.tls_version} == {"TLSv1.2"}


def test_a_complete_reply_on_a_connection_kept_open_is_not_waited_out(files: Files) -> None:
    """A server that answers with a Content-Length and keeps the connection: no settle wait."""
    held_open = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
    with _server(files, files.both_ca, http_reply=held_open, hold_open=True) as address:
        report = _check(files, address)
    assert [r.outcome for r in report.identities] == [Outcome.ACCEPTED] * 2
    assert all(r.elapsed < 2 for r in report.identities), [r.elapsed for r in report.identities]


def test_an_empty_certificate_message_with_a_request_context_is_not_sent(
    pki: GeneratedPki,
) -> None:
    """Our empty TLS 1.3 Certificate after post-handshake auth (32-byte context) is "not sent"."""
    der = pki.g2.client.certificate.public_bytes(serialization.Encoding.DER)
    context = bytes(range(32))  # OpenSSL's post-handshake request context is 32 bytes
    messages = {
        "tls13 empty, post-handshake": (_vec(context, 1) + _vec(b"", 3), 0x0304, False),
        "tls13 empty, in handshake": (_vec(b"", 1) + _vec(b"", 3), 0x0304, False),
        "tls12 empty": (_vec(b"", 3), 0x0303, False),
        "tls13 certificate, post-handshake": (
            _vec(context, 1) + _vec(_vec(der, 3) + _vec(b"", 2), 3),
            0x0304,
            True,
        ),
        "tls12 certificate": (_vec(_vec(der, 3), 3), 0x0303, True),
    }
    for label, (body, version, expected) in messages.items():
        observer = _Observer()
        observer.see("write", version, 22, 11, b"\x0b" + _vec(body, 3))
        assert observer.sent_certificate is expected, label


def _served_by(
    files: Files,
    reply: bytes,
    mode: ssl.VerifyMode = ssl.CERT_OPTIONAL,
    reply_delay: float = 0.0,
) -> EndpointReport:
    """Check a server that answers every GET with ``reply`` (by default: asks optionally)."""
    with _server(
        files,
        None if mode is ssl.CERT_NONE else files.both_ca,
        mode,
        http_reply=reply,
        reply_delay=reply_delay,
    ) as address:
        return _check(files, address)


_OK_PAGE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n", "401 Unauthorized"),
        (
            b"HTTP/1.1 302 Found\r\nLocation: https://localhost/login\r\nContent-Length: 0\r\n\r\n",
            "302 Found to https://localhost/login",
        ),
        (b"HTTP/1.1 421 Misdirected Request\r\nContent-Length: 0\r\n\r\n", "421 Misdirected"),
        (
            (
                b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
            ),
            "403 Forbidden",
        ),
    ],
    ids=["401", "302-to-login", "421", "103-then-403"],
)
def test_a_reply_that_serves_nothing_is_never_accepted(
    files: Files, reply: bytes, words: str
) -> None:
    """401, a redirect (to a login page), 421, or a 403 behind 103 Early Hints: refused, so said."""
    report = _served_by(files, reply)
    assert [r.outcome for r in report.identities] == [Outcome.REFUSED] * 2, report.summary()
    assert words in report.identities[1].detail
    assert not report.ok
    # The control: the same server answering 200 accepts both identities.
    control = _served_by(files, _OK_PAGE)
    assert [r.outcome for r in control.identities] == [Outcome.ACCEPTED] * 2
    assert control.ok


def test_an_http_refusal_from_a_server_that_never_asked_is_not_requested(files: Files) -> None:
    """A 403 from a server that sent no CertificateRequest judged no certificate: not-requested."""
    forbidden = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    report = _served_by(files, forbidden, mode=ssl.CERT_NONE)
    assert report.probe.outcome is Outcome.NOT_REQUESTED
    assert report.client_certificate == "not-requested"
    assert [r.outcome for r in report.identities] == [Outcome.NOT_REQUESTED] * 2
    assert "answered HTTP 403" in report.identities[1].detail
    # The control: the server that asks refuses with the same 403.
    asked = _served_by(files, forbidden)
    assert asked.client_certificate == "required"


def test_a_slow_refusal_is_waited_for(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 403 that comes after the settle time but within the timeout is still refused."""
    monkeypatch.setattr("truststore_builder._endpoint.SETTLE_SECONDS", 0.1)
    forbidden = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    report = _served_by(files, forbidden, reply_delay=0.5)
    assert [r.outcome for r in report.identities] == [Outcome.REFUSED] * 2, report.summary()
    assert report.identities[1].http_status == 403


def test_the_servers_words_cannot_drive_a_terminal(files: Files) -> None:
    """A page title or reason phrase holding ESC sequences is reported with dots in their place."""
    hostile = (
        b"HTTP/1.1 403 No\x1b[2J\r\nContent-Length: 40\r\n\r\n"
        b"<title>Go\x1b]0;pwned\x07 away</title>"
    )
    report = _served_by(files, hostile)
    g2 = report.identities[1]
    assert g2.outcome is Outcome.REFUSED
    assert "\x1b" not in g2.detail
    assert "\x1b" not in (g2.server_said or "")
    assert g2.server_said == "Go.]0;pwned. away"


def test_a_chunked_reply_on_a_connection_kept_open_is_not_waited_out(files: Files) -> None:
    """A chunked reply ends at its last chunk: no settle wait on a keep-alive connection."""
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n"
    )
    with _server(files, files.both_ca, http_reply=chunked, hold_open=True) as address:
        report = _check(files, address)
    assert [r.outcome for r in report.identities] == [Outcome.ACCEPTED] * 2
    assert all(r.elapsed < 2 for r in report.identities), [r.elapsed for r in report.identities]
