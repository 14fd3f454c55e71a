"""Check a live endpoint: the chain it presents, and whether it accepts each client identity.

The check makes one connection without a client certificate (the *probe*), then one mutual TLS
connection per client identity. Every connection verifies nothing at the ``ssl`` layer
(``CERT_NONE``): the server's chain is captured as presented and judged afterwards, under the
NHS chain policy, against the environment's G1+G2 store or a given trust file.

What the server does is read from the TLS messages themselves, through the message callback
of Python's ``ssl`` module (``SSLContext._msg_callback``, present since Python 3.8): whether a
CertificateRequest arrives (which CA names and signature algorithms it lists), whether our
Certificate message carried a certificate, the server's Certificate message with the whole
presented chain, the alert that refuses a connection, and the NewSessionTicket with which a
TLS 1.3 server confirms that it has accepted the client's Finished.

Many servers complete the handshake with a certificate they do not trust and refuse at the
HTTP layer (nginx's ``ssl_verify_client``, Apache's ``SSLVerifyClient`` in a ``<Location>``).
So by default (``probe="http"``) each connection then sends ``GET PATH`` with ``Host`` and
``Connection: close`` and reads the status line and a bounded part of the reply. With
``probe="tls"``, or when the server answers with something that is not HTTP, the verdict
rests on the TLS exchange alone, and the detail says so.

Outcomes of a connection (:class:`Outcome`):

- ``not-requested``: the server never sent a CertificateRequest (in the handshake or, on a
  renegotiation, in reply to the request): it did not judge a certificate, whatever it
  answered.
- ``accepted``: the server saw this identity's certificate (or, on the probe, none) and
  served the request: an HTTP status other than a refusal, a redirect or 421. Judged on TLS
  alone: a TLS 1.2 handshake completed, or, in TLS 1.3, a session ticket or data came after
  the client's Finished, or the server stayed quiet for the settle time without refusing.
- ``refused``: the server refused: an alert (``unknown_ca``, ``certificate_required``, ...), a
  reset or a close before any reply, or an HTTP refusal (400, 401, 403, 495, 496) or a reply
  that serves nothing (a redirect, 421), in the server's own words.
- ``not-sent``: the server asked for a certificate but allows no signature algorithm this
  identity's key can make, so none was sent; the detail names the algorithms it allows.
- ``connection-failed``: the name does not resolve, the port refuses or is unreachable, or
  the TLS handshake fails before any client certificate is asked for (no common protocol
  version, say).
- ``timeout``: the TCP connection or the TLS handshake took longer than the timeout.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import enum
import ipaddress
import os
import re
import select
import socket
import ssl
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from truststore_builder._builders import TrustStoreBuilder
from truststore_builder._checks import _short, days_left, nhs_issuer, utc_now
from truststore_builder._deprecation import renamed_method, warn_deprecated
from truststore_builder._errors import ExpiredCertificateWarning, InputError, MissingPasswordError
from truststore_builder._formats import keys
from truststore_builder._formats.asn1 import BIT_STRING, SEQUENCE, encode_tlv
from truststore_builder._formats.openmetrics import MetricFamily, Sample
from truststore_builder._model import (
    Environment,
    Generation,
    NhsCa,
    is_self_signed,
    sha256_fingerprint,
    spki_der,
    trust_anchors,
)
from truststore_builder._sources import files
from truststore_builder._sources.nhs import NhsCatalogue, nhs_catalogue
from truststore_builder._stores import TrustStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = [
    "CertificateExpiry",
    "EndpointReport",
    "HandshakeResult",
    "Outcome",
    "PresentedCertificate",
    "Probe",
    "ServerChainReport",
    "check_endpoint",
    "check_endpoints",
    "check_http_path",
    "endpoint_metrics",
    "parse_endpoint",
]

StrPath = str | os.PathLike[str]
_AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]

#: How long a TLS 1.3 connection waits, after its handshake, for the server to refuse the
#: certificate when the server sends neither a session ticket nor data (capped by the timeout).
SETTLE_SECONDS = 3.0

_HANDSHAKE = 22
_ALERT = 21
_CERTIFICATE = 11
_CERTIFICATE_REQUEST = 13
_NEW_SESSION_TICKET = 4
_TLS13 = 0x0304
_CERTIFICATE_AUTHORITIES = 47
_SIGNATURE_ALGORITHMS = 13

#: How much of an HTTP reply is read: the status line, the headers and the start of the page.
REPLY_LIMIT = 16384

#: HTTP statuses with which servers refuse a client certificate after the handshake: 400
#: (nginx: "No required SSL certificate was sent", "The SSL certificate error"), 401 (an
#: application that did not authenticate the client by its certificate), 403 (Apache's
#: SSLVerifyClient in a location, and SSLRequire), 495 and 496 (nginx's own codes, logged).
REFUSING_STATUSES = frozenset({400, 401, 403, 495, 496})

#: HTTP statuses that serve nothing, so prove nothing about the certificate: a redirect (to a
#: login page, say) and 421 Misdirected Request. They are not "accepted".
NOT_SERVING_STATUSES = frozenset({*range(300, 400), 421})

#: TLS SignatureScheme names (RFC 8446 4.2.3) for the detail of a certificate not sent.
_SIGNATURE_SCHEMES = {
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0401: "rsa_pkcs1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
}


class Outcome(enum.StrEnum):
    """How one connection to an endpoint ended (see the module documentation)."""

    NOT_REQUESTED = "not-requested"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    NOT_SENT = "not-sent"
    CONNECTION_FAILED = "connection-failed"
    TIMEOUT = "timeout"


class Probe(enum.StrEnum):
    """What each connection does after the TLS handshake (see the module documentation)."""

    HTTP = "http"
    TLS = "tls"


@attrs.frozen
class HandshakeResult:
    """One connection: with a client identity, or the probe without one.

    Attributes:
        name: The identity's name (``g1``, ``g2``, ...), or None for the probe.
        outcome: How it ended.
        detail: One human sentence on why.
        stage: Where it ended: ``resolve``, ``connect``, ``handshake``, ``first-read`` (after
            the handshake: the HTTP request's reply, or the server's first word), or None when
            it was not tried.
        alert: The TLS alert that ended it (``unknown_ca``, ``certificate_required``, ...).
        tls_version: ``TLSv1.3``, ``TLSv1.2``, ... when the handshake got that far.
        certificate_requested: Whether the server sent a CertificateRequest (None: unknown).
        certificate_sent: Whether a client certificate was sent (None: unknown).
        signature_algorithms: The signature algorithms the server's CertificateRequest allows.
        http_status: The HTTP status of the reply, when the server answered in HTTP.
        server_said: The server's own words: the title of its HTTP reply (nginx's "400 The SSL
            certificate error"), else its status line, or the start of a reply in no HTTP.
        certificate_path: The identity's certificate file (its key file is never reported).
        subject: The identity certificate's subject.
        issuer: The identity certificate's issuer.
        generation: The NHS generation of the identity's issuer, where the catalogue knows it.
        not_after: The identity certificate's expiry.
        elapsed: Seconds the connection took.
    """

    name: str | None
    outcome: Outcome
    detail: str
    stage: str | None = None
    alert: str | None = None
    tls_version: str | None = None
    certificate_requested: bool | None = None
    certificate_sent: bool | None = None
    signature_algorithms: tuple[str, ...] = ()
    http_status: int | None = None
    server_said: str | None = None
    certificate_path: str | None = None
    subject: str | None = None
    issuer: str | None = None
    generation: Generation | None = None
    not_after: dt.datetime | None = None
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "stage": self.stage,
            "alert": self.alert,
            "tls_version": self.tls_version,
            "certificate_requested": self.certificate_requested,
            "certificate_sent": self.certificate_sent,
            "signature_algorithms": list(self.signature_algorithms),
            "http_status": self.http_status,
            "server_said": self.server_said,
            "certificate": self.certificate_path,
            "subject": self.subject,
            "issuer": self.issuer,
            "generation": self.generation.value if self.generation else None,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "elapsed": round(self.elapsed, 3),
        }

    as_dict = renamed_method(to_dict, "as_dict")


@attrs.frozen
class PresentedCertificate:
    """One certificate the server presented (or one the chain was completed with).

    Attributes:
        certificate: The certificate.
        nhs: The NHS catalogue's record of it, when it is an NHS CA.
        issued_by: The NHS CA whose key signed it (by signature, named by its pin), if any.
    """

    certificate: x509.Certificate = attrs.field(repr=False)
    nhs: NhsCa | None = None
    issued_by: NhsCa | None = None

    @property
    def subject(self) -> str:
        """The subject, RFC 4514."""
        return self.certificate.subject.rfc4514_string()

    @property
    def issuer(self) -> str:
        """The issuer, RFC 4514."""
        return self.certificate.issuer.rfc4514_string()

    @property
    def not_after(self) -> dt.datetime:
        """The end of the validity period, UTC."""
        return self.certificate.not_valid_after_utc

    def to_dict(self, *, at: dt.datetime | None = None) -> dict[str, object]:
        """A JSON-ready dictionary; ``expired`` is judged at ``at`` (default: now)."""
        cert = self.certificate
        at = at or dt.datetime.now(dt.UTC)
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": self.not_after.isoformat(),
            "expired": not (cert.not_valid_before_utc <= at <= cert.not_valid_after_utc),
            "sha256": sha256_fingerprint(cert),
            "days_left": days_left(self.not_after, at),
            "nhs_name": self.nhs.name if self.nhs else None,
            "nhs_generation": self.nhs.generation.value if self.nhs else None,
            "issuer_nhs_name": self.issued_by.name if self.issued_by else None,
        }

    def as_dict(self, at: dt.datetime) -> dict[str, object]:
        """Deprecated: use :meth:`to_dict` with ``at=`` (this name goes in the next release)."""
        warn_deprecated("PresentedCertificate.as_dict(at)", "PresentedCertificate.to_dict(at=at)")
        return self.to_dict(at=at)


@attrs.frozen
class CertificateExpiry:
    """When one certificate the server presented expires, judged when the check ran.

    Attributes:
        index: Its place in what the server sent (0: the server's own certificate).
        position: ``leaf`` (index 0), ``root`` (a self-signed CA the server sent too) or
            ``intermediate``.
        certificate: The certificate, with its NHS names.
        not_after: The end of its validity, UTC.
        days_left: Whole days from the check to ``not_after``; once expired, minus the
            whole days since (0 on the day it expired).
        expired: Whether ``not_after`` lies before the check.
    """

    index: int
    position: str
    certificate: PresentedCertificate = attrs.field(repr=False)
    not_after: dt.datetime
    days_left: int
    expired: bool

    @property
    def label(self) -> str:
        """``presented[1] NHS Authentication G2``: its place, then its NHS name or subject."""
        named = self.certificate.nhs.name if self.certificate.nhs else self.certificate.subject
        return f"presented[{self.index}] {named}"

    @property
    def when(self) -> str:
        """``2027-01-31 (in 55 days)``, or ``2026-12-01 (expired 6 days ago)``."""
        days = abs(self.days_left)
        plural = "day" if days == 1 else "days"
        ago = f"expired {days} {plural} ago" if self.expired else f"in {days} {plural}"
        return f"{self.not_after:%Y-%m-%d} ({ago})"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        nhs = self.certificate.nhs
        return {
            "index": self.index,
            "position": self.position,
            "subject": self.certificate.subject,
            "nhs_name": nhs.name if nhs else None,
            "not_after": self.not_after.isoformat(),
            "days_left": self.days_left,
            "expired": self.expired,
        }


@attrs.frozen
class ServerChainReport:
    """The chain the server presented, and how it fares against the trust store.

    Attributes:
        presented: The certificates as the server sent them, leaf first.
        chain: The verified path, leaf to trust anchor (empty when it does not verify).
        verified: Whether the chain verifies under the NHS policy (SAN optional, serverAuth).
        server_name: The name it was checked against.
        name_matches: Whether the leaf is issued to ``server_name`` (subjectAltName, or the CN
            when there is no subjectAltName, as on NHS endpoint certificates).
        generation: The NHS generation of the leaf's issuer, where the catalogue knows it.
        failures: Why it does not verify, or why the name does not match.
    """

    presented: tuple[PresentedCertificate, ...]
    chain: tuple[PresentedCertificate, ...]
    verified: bool
    server_name: str
    name_matches: bool
    generation: Generation | None
    failures: tuple[str, ...] = ()

    @property
    def leaf(self) -> PresentedCertificate:
        """The server's own certificate."""
        return self.presented[0]


@attrs.frozen
class EndpointReport:
    """Everything one endpoint check found.

    Attributes:
        host: The host connected to.
        port: The port.
        server_name: The name sent as SNI and matched against the certificate.
        checked_at: When the check ran (chain validity is judged at this time).
        probe: The connection without a client certificate.
        server: The server's chain, when a certificate was seen.
        requested_issuers: The CA names listed in the server's CertificateRequest (many
            servers list none).
        identities: One result per client identity, in the order given.
        probe_mode: What each connection did after the handshake (:class:`Probe`).
        path: The path of the HTTP request (with ``Probe.HTTP``).
        environment: The NHS environment whose CAs the chain was judged against (None with
            a trust file or store alone).
    """

    host: str
    port: int
    server_name: str
    checked_at: dt.datetime
    probe: HandshakeResult
    server: ServerChainReport | None
    requested_issuers: tuple[str, ...] = ()
    identities: tuple[HandshakeResult, ...] = ()
    probe_mode: Probe = Probe.HTTP
    path: str = "/"
    environment: Environment | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` (IPv6 literals in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def client_certificate(self) -> str | None:
        """Whether the server asks for a client certificate without one given.

        ``not-requested``, ``optional`` (served the request without one), ``required``
        (refused without one: an alert, a close, or an HTTP refusal), or None when the probe
        could not tell.
        """
        return {
            Outcome.NOT_REQUESTED: "not-requested",
            Outcome.ACCEPTED: "optional",
            Outcome.REFUSED: "required",
        }.get(self.probe.outcome)

    @property
    def ok(self) -> bool:
        """The chain verifies, the name matches, and every identity given is accepted."""
        return (
            self.server is not None
            and self.server.verified
            and self.server.name_matches
            and all(result.outcome is Outcome.ACCEPTED for result in self.identities)
        )

    @property
    def expiries(self) -> tuple[CertificateExpiry, ...]:
        """When each certificate the server presented expires, in the order it sent them."""
        if self.server is None:
            return ()
        at = self.checked_at
        return tuple(
            CertificateExpiry(
                index=i,
                position=_position(i, link.certificate),
                certificate=link,
                not_after=link.not_after,
                days_left=days_left(link.not_after, at),
                expired=link.not_after < at,
            )
            for i, link in enumerate(self.server.presented)
        )

    @property
    def earliest_expiry(self) -> CertificateExpiry | None:
        """The presented certificate that expires first (the leaf on a tie), or None."""
        return min(self.expiries, key=lambda e: (e.not_after, e.index), default=None)

    def expiring_within(self, days: int) -> tuple[CertificateExpiry, ...]:
        """The presented certificates that expire within ``days`` days of the check, soonest first.

        An expired one always counts. The window is the one ``inspect --fail-within`` uses:
        ``not_after`` before the check's time plus ``days`` days.

        Raises:
            ValueError: ``days`` is negative.
        """
        if days < 0:
            msg = f"days must be 0 or more, not {days}"
            raise ValueError(msg)
        limit = self.checked_at + dt.timedelta(days=days)
        within = [e for e in self.expiries if e.not_after < limit]
        return tuple(sorted(within, key=lambda e: (e.not_after, e.index)))

    def summary(self) -> str:
        """One line: the chain, the client-certificate request, each identity, OK or FAIL."""
        parts = [self.address]
        if self.server is None:
            parts.append(f"{self.probe.outcome.value} ({self.probe.detail})")
        else:
            server = self.server
            state = "verifies" if server.verified else "DOES NOT VERIFY"
            generation = server.generation.value if server.generation else "not NHS"
            name = (
                "name matches" if server.name_matches else f"NAME MISMATCH ({server.server_name})"
            )
            expiry = f"expires {server.leaf.not_after:%Y-%m-%d}"
            parts.append(f"chain {state} ({generation}, {expiry}), {name}")
            parts.append(f"client certificate {self.client_certificate or 'unknown'}")
        if self.probe_mode is Probe.TLS:
            parts.append("judged on TLS alone")
        for result in self.identities:
            how = (
                f" ({result.alert})"
                if result.alert
                else f" (HTTP {result.http_status})"
                if result.outcome is Outcome.REFUSED and result.http_status
                else ""
            )
            parts.append(f"{result.name} {result.outcome.value}{how}")
        parts.append("OK" if self.ok else "FAIL")
        return "; ".join(parts)

    def to_dict(self, *, within_days: int | None = None) -> dict[str, object]:
        """A JSON-ready dictionary of the whole report.

        ``expiry`` holds the leaf's and the earliest presented certificate's expiry; with
        ``within_days``, also every presented certificate that expires within that many days
        and whether there are none (``ok``).
        """
        server: dict[str, object] | None = None
        if self.server is not None:
            at = self.checked_at
            server = {
                "verified": self.server.verified,
                "name_matches": self.server.name_matches,
                "generation": self.server.generation.value if self.server.generation else None,
                "presented": [c.to_dict(at=at) for c in self.server.presented],
                "chain": [c.to_dict(at=at) for c in self.server.chain],
                "failures": list(self.server.failures),
            }
        return {
            "endpoint": self.address,
            "host": self.host,
            "port": self.port,
            "server_name": self.server_name,
            "environment": self.environment.value if self.environment else None,
            "checked_at": self.checked_at.isoformat(),
            "ok": self.ok,
            "client_certificate": self.client_certificate,
            "probe_mode": self.probe_mode.value,
            "path": self.path if self.probe_mode is Probe.HTTP else None,
            "requested_issuers": list(self.requested_issuers),
            "server": server,
            "probe": self.probe.to_dict(),
            "identities": [result.to_dict() for result in self.identities],
            "expiry": self._expiry_dict(within_days),
        }

    as_dict = renamed_method(to_dict, "as_dict")

    def _expiry_dict(self, within_days: int | None) -> dict[str, object] | None:
        expiries = self.expiries
        if not expiries:
            return None
        earliest = self.earliest_expiry
        expiry: dict[str, object] = {
            "leaf": expiries[0].to_dict(),
            "earliest": earliest.to_dict() if earliest else None,
            "within_days": within_days,
        }
        if within_days is not None:
            within = self.expiring_within(within_days)
            expiry.update(ok=not within, within=[e.to_dict() for e in within])
        return expiry


def _position(index: int, certificate: x509.Certificate) -> str:
    """``leaf`` for the server's own certificate, ``root`` for a self-signed CA, else ``intermediate``."""
    if index == 0:
        return "leaf"
    return "root" if is_self_signed(certificate) else "intermediate"


# --- endpoints ----------------------------------------------------------------------------------


def parse_endpoint(text: str, default_port: int = 443) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[v6]:PORT``; ``HOST`` alone takes ``default_port``).

    Raises:
        ValueError: No host, or a port that is not a number from 1 to 65535.
    """
    text = text.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^\s:\[\]]+)(?::(\S+))?", text)
    if match is None:
        msg = f"not HOST:PORT: {text!r}"
        raise ValueError(msg)
    host = match.group(1) or match.group(3)
    port_text = match.group(2) or match.group(4)
    if port_text is None:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:  # noqa: PLR2004
        msg = f"not a port number in {text!r}: {port_text!r}"
        raise ValueError(msg)
    return host, int(port_text)


def check_http_path(path: str) -> str:
    """Return ``path`` if it can go in the HTTP request line: ``/`` then visible ASCII.

    Raises:
        ValueError: It does not start with ``/``, or holds a space or a control character.
    """
    if not re.fullmatch(r"/[\x21-\x7e]*", path):
        msg = f"the HTTP path must start with / and hold no spaces or control characters: {path!r}"
        raise ValueError(msg)
    return path


# --- identities ---------------------------------------------------------------------------------


@attrs.frozen
class _Identity:
    name: str
    certificate_path: str
    key_path: str = attrs.field(repr=False)
    certificate: x509.Certificate = attrs.field(repr=False)
    chain: tuple[x509.Certificate, ...] = attrs.field(repr=False)


def _load_identity(name: str, certificate: StrPath, key: StrPath) -> _Identity:
    """Read and check one identity's files (PEM, key unencrypted) before connecting anywhere."""
    cert_source, key_source = os.fspath(certificate), os.fspath(key)
    certificates = files.load_certificates(certificate)
    data = files.read_input(key)
    try:
        private_key = keys.load_private_key(data, None, key_source)
    except MissingPasswordError:
        msg = (
            f"{key_source}: identity {name}'s private key is encrypted; the endpoint check "
            "reads unencrypted PEM keys only (decrypt a copy, mode 0600)"
        )
        raise InputError(msg, source=key_source) from None
    for path, content in ((cert_source, files.read_input(certificate)), (key_source, data)):
        if b"-----BEGIN" not in content:
            msg = f"{path}: identity {name}: the endpoint check reads PEM files only"
            raise InputError(msg, source=path)
    spki = spki_der(private_key)
    leaf = next((c for c in certificates if spki_der(c) == spki), None)
    if leaf is None:
        msg = f"{key_source}: identity {name}: the private key belongs to no certificate in {cert_source}"
        raise InputError(msg, source=key_source)
    if leaf is not certificates[0]:
        msg = f"{cert_source}: identity {name}: the certificate the key belongs to must come first"
        raise InputError(msg, source=cert_source)
    return _Identity(name, cert_source, key_source, leaf, tuple(certificates[1:]))


def _identity_list(
    identities: Mapping[str, tuple[StrPath, StrPath]] | Iterable[tuple[str, StrPath, StrPath]],
) -> list[_Identity]:
    items = (
        [(name, *pair) for name, pair in identities.items()]
        if hasattr(identities, "items")
        else list(identities)
    )
    names = [item[0] for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        msg = f"identity names must be unique: {', '.join(duplicates)}"
        raise ValueError(msg)
    return [_load_identity(name, cert, key) for name, cert, key in items]


def _refuse_password() -> str:
    msg = "encrypted identity keys are not supported by the endpoint check"
    raise InputError(msg)


# --- one connection -----------------------------------------------------------------------------


class _Observer:
    """Collects what the TLS message callback sees on one connection."""

    def __init__(self) -> None:
        self.certificate_request: bytes | None = None
        self.request_version = 0
        self.server_certificate: bytes | None = None
        self.certificate_version = 0
        self.sent_certificate = False
        self.alert: int | None = None
        self.ticket = False

    def see(
        self, direction: str, version: int, content_type: int, msg_type: int, data: bytes
    ) -> None:
        """Take in one TLS message (as the message callback gives it) this connection sent or read."""
        if content_type == _ALERT and direction == "read" and self.alert is None:
            self.alert = msg_type
        if content_type != _HANDSHAKE:
            return
        if direction == "write":
            if msg_type == _CERTIFICATE:
                self.sent_certificate = self.sent_certificate or _carries_certificate(data, version)
            return
        if msg_type == _CERTIFICATE_REQUEST:
            self.certificate_request, self.request_version = data, version
        elif msg_type == _CERTIFICATE and self.server_certificate is None:
            self.server_certificate, self.certificate_version = data, version
        elif msg_type == _NEW_SESSION_TICKET:
            self.ticket = True


_OBSERVABLE = hasattr(ssl.SSLContext, "_msg_callback")


def _carries_certificate(message: bytes, version: int) -> bool:
    """Whether a Certificate message we wrote holds a certificate, not the empty list.

    Its length alone does not tell: in TLS 1.3 post-handshake authentication the empty message
    still carries the server's request context (32 bytes from OpenSSL).
    """
    for tls13 in (version == _TLS13, version != _TLS13):
        try:
            return bool(certificates_from_message(message, tls13=tls13))
        except ValueError:
            continue
    return False


#: RFC 8446 alerts that ssl.AlertDescription does not name.
_TLS13_ALERTS = {
    109: "missing_extension",
    116: "certificate_required",
    120: "no_application_protocol",
}


def _alert_name(code: int | None, error: BaseException | None = None) -> str | None:
    if code is not None:
        if code in _TLS13_ALERTS:
            return _TLS13_ALERTS[code]
        try:
            return ssl.AlertDescription(code).name.removeprefix("ALERT_DESCRIPTION_").lower()
        except ValueError:
            return f"alert {code}"
    reason = getattr(error, "reason", None) or ""
    match = re.search(r"ALERT_([A-Z_]+)$", reason)
    return match.group(1).lower() if match else None


@attrs.frozen
class _Attempt:
    result: HandshakeResult
    server_chain: tuple[x509.Certificate, ...] = ()
    requested_issuers: tuple[str, ...] = ()


_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class _Observers:
    """The message callback of every context: each connection's messages go to its observer.

    A context (with its identity's certificate and key loaded, a millisecond or two) serves
    every connection of a check, so the callback finds the observer by the connection.
    """

    def __init__(self) -> None:
        self._by_connection: dict[int, _Observer] = {}

    def __call__(  # noqa: PLR0917  (the signature ssl calls)
        self,
        conn: object,
        direction: str,
        version: int,
        content_type: int,
        msg_type: int,
        data: bytes,
    ) -> None:
        observer = self._by_connection.get(id(conn))
        if observer is None:
            return
        # An exception escaping the callback would break the handshake it observes.
        with contextlib.suppress(Exception):
            observer.see(direction, int(version), int(content_type), int(msg_type), bytes(data))

    @contextlib.contextmanager
    def watching(self, connection: ssl.SSLSocket, observer: _Observer) -> Iterator[None]:
        """Send ``connection``'s messages to ``observer`` while the block runs."""
        self._by_connection[id(connection)] = observer
        try:
            yield
        finally:
            del self._by_connection[id(connection)]


_OBSERVERS = _Observers()


def _context(identity: _Identity | None, tls_version: str | None) -> ssl.SSLContext:
    """A client context for one identity (or none), shared by every connection of a check.

    Clients resume no TLS session unless told (``SSLSocket.session``): each connection makes
    a full handshake, so each is asked for its certificate afresh.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The chain is captured as presented and judged afterwards under the NHS policy.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if tls_version is not None:
        context.minimum_version = context.maximum_version = _TLS_VERSIONS[tls_version]
    # Offer TLS 1.3 post-handshake authentication, as curl and urllib3 do: Apache asks for the
    # certificate of a <Location> that way, after the request.
    context.post_handshake_auth = True
    if identity is not None:
        context.load_cert_chain(identity.certificate_path, identity.key_path, _refuse_password)
    if _OBSERVABLE:
        context._msg_callback = _OBSERVERS  # type: ignore[attr-defined]  # noqa: SLF001
    return context


@attrs.frozen
class _Connection:
    """What one connection is to do: where, as whom, and how it probes after the handshake."""

    address: tuple[str, int]
    server_name: str
    timeout: float
    probe: Probe = Probe.HTTP
    path: str = "/"
    tls_version: str | None = None

    @property
    def host_header(self) -> str:
        """The Host header: the server name, with the port unless it is 443."""
        name = f"[{self.server_name}]" if ":" in self.server_name else self.server_name
        port = self.address[1]
        return name if port == 443 else f"{name}:{port}"  # noqa: PLR2004


def _attempt(
    connection: _Connection,
    identity: _Identity | None,
    catalogue: NhsCatalogue,
    context: ssl.SSLContext,
) -> _Attempt:
    """Connect once (with ``identity`` and its ``context``, or none for the probe) and classify how it ended."""
    started = time.monotonic()
    observer = _Observer()
    timeout = connection.timeout
    fields: dict[str, object] = {"name": identity.name if identity else None}
    if identity is not None:
        fields.update(
            certificate_path=identity.certificate_path,
            subject=identity.certificate.subject.rfc4514_string(),
            issuer=identity.certificate.issuer.rfc4514_string(),
            generation=_issuer_generation(identity.certificate, identity.chain, catalogue),
            not_after=identity.certificate.not_valid_after_utc,
        )

    def done(outcome: Outcome, detail: str, alert: str | None = None, **more: object) -> _Attempt:
        requested = observer.certificate_request is not None if _OBSERVABLE else None
        sent = observer.sent_certificate if _OBSERVABLE and identity is not None else None
        algorithms = _parse_signature_algorithms(observer)
        if requested and identity is not None and not sent and outcome is not Outcome.TIMEOUT:
            # Never "accepted" (nor "refused") for a certificate the server never saw.
            outcome, alert = Outcome.NOT_SENT, None
            detail = (
                f"not sent: the server's request allows no signature algorithm this "
                f"{_key_kind(identity.certificate)} key can make "
                f"({', '.join(algorithms) or 'none listed'})"
            )
        result = HandshakeResult(
            outcome=outcome,
            detail=detail,
            certificate_requested=requested,
            certificate_sent=sent,
            signature_algorithms=algorithms,
            alert=alert,
            elapsed=time.monotonic() - started,
            **fields,  # type: ignore[arg-type]
            **more,  # type: ignore[arg-type]
        )
        return _Attempt(
            result, _parse_certificate_message(observer), _parse_requested_issuers(observer)
        )

    host, port = connection.address
    if host.lower().rstrip(".").endswith(".invalid") or host.lower() == "invalid":
        # RFC 6761: resolvers must answer .invalid negatively themselves; never ask the network.
        return done(
            Outcome.CONNECTION_FAILED,
            f"{host} does not resolve (.invalid names never do)",
            stage="resolve",
        )
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return done(Outcome.CONNECTION_FAILED, f"{host} does not resolve: {exc}", stage="resolve")
    deadline = started + timeout
    try:
        raw = _connect(addresses, deadline)
    except TimeoutError:
        return done(Outcome.TIMEOUT, f"no TCP connection within {timeout:g} s", stage="connect")
    except OSError as exc:
        return done(
            Outcome.CONNECTION_FAILED,
            f"TCP connection failed: {exc.strerror or exc}",
            stage="connect",
        )
    server_name = connection.server_name
    sni = None if _is_ip(server_name) else server_name
    with raw:
        raw.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            tls = context.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
        except (ssl.SSLError, OSError) as exc:
            return done(*_ended(exc, observer, identity, "handshake"), stage="handshake")
        with _OBSERVERS.watching(tls, observer):
            return _exchange(tls, connection, observer, identity, deadline, fields, done)


def _exchange(  # noqa: PLR0917  (the rest of _attempt, over the wrapped socket)
    tls: ssl.SSLSocket,
    connection: _Connection,
    observer: _Observer,
    identity: _Identity | None,
    deadline: float,
    fields: dict[str, object],
    done: Callable[..., _Attempt],
) -> _Attempt:
    """The handshake and what follows it, on a connection whose messages ``observer`` sees."""
    timeout = connection.timeout
    with tls:
        try:
            tls.do_handshake()
        except TimeoutError:
            return done(
                Outcome.TIMEOUT,
                f"the TLS handshake did not finish within {timeout:g} s",
                stage="handshake",
            )
        except (ssl.SSLError, OSError) as exc:
            return done(*_ended(exc, observer, identity, "handshake"), stage="handshake")
        version = tls.version()
        fields["tls_version"] = version
        settle = min(SETTLE_SECONDS, max(timeout, 0.1))
        if connection.probe is Probe.HTTP:
            outcome, detail, alert, more = _http_exchange(
                tls, connection, observer, identity, deadline, settle
            )
            return done(outcome, detail, alert, stage="first-read", **more)
        if _OBSERVABLE and observer.certificate_request is None:
            return done(
                Outcome.NOT_REQUESTED,
                "the server did not ask for a client certificate",
                stage="handshake",
            )
        if version != "TLSv1.3":
            what = "the certificate" if identity else "no certificate"
            return done(
                Outcome.ACCEPTED,
                f"the server completed the {version} handshake with {what} (judged on TLS alone)",
                stage="handshake",
            )
        return done(*_first_read(tls, observer, identity, settle), stage="first-read")


def _connect(addresses: Sequence[_AddressInfo], deadline: float) -> socket.socket:
    last: OSError = OSError("no address to connect to")
    for family, kind, proto, _, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise last


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _ended(
    exc: BaseException, observer: _Observer, identity: _Identity | None, stage: str
) -> tuple[Outcome, str, str | None]:
    """Classify a connection the server ended: refused, or a failure before any request."""
    alert = _alert_name(observer.alert, exc)
    if isinstance(exc, ssl.SSLZeroReturnError | ssl.SSLEOFError) or (
        isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError) and exc.errno is None
    ):
        how = "closed the connection"
    elif isinstance(exc, ConnectionResetError):
        how = "reset the connection"
    elif isinstance(exc, BrokenPipeError):
        how = "closed the connection"
    elif alert is not None:
        how = f"sent the alert {alert}"
    else:
        how = f"ended the connection ({exc})"
    asked = observer.certificate_request is not None or not _OBSERVABLE
    if asked or observer.sent_certificate:
        what = "the certificate" if identity else "the connection without a client certificate"
        when = (
            "in the handshake" if stage == "handshake" else "after the handshake, on the first read"
        )
        return Outcome.REFUSED, f"the server refused {what}: it {how} {when}", alert
    return (
        Outcome.CONNECTION_FAILED,
        f"the TLS handshake failed before any client certificate was asked for: the server {how}",
        alert,
    )


def _first_read(
    tls: ssl.SSLSocket, observer: _Observer, identity: _Identity | None, settle: float
) -> tuple[Outcome, str, str | None]:
    """TLS 1.3: wait for the server's first word after our Finished: a ticket, data or a refusal."""
    what = "the certificate" if identity else "no certificate"
    deadline = time.monotonic() + settle
    tls.setblocking(False)  # noqa: FBT003
    while True:
        try:
            data = tls.recv(1)
        except ssl.SSLWantReadError:
            if observer.ticket:
                return (
                    Outcome.ACCEPTED,
                    f"the server sent a session ticket after the TLS 1.3 handshake with {what}",
                    None,
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return (
                    Outcome.ACCEPTED,
                    f"the server did not refuse {what} within {settle:g} s of the TLS 1.3 handshake",
                    None,
                )
            select.select([tls], [], [], remaining)
            continue
        except (ssl.SSLError, OSError) as exc:
            return _ended(exc, observer, identity, "first-read")
        if data:
            return Outcome.ACCEPTED, f"the server sent data after the handshake with {what}", None
        return _ended(ssl.SSLEOFError(), observer, identity, "first-read")


def _key_kind(certificate: x509.Certificate) -> str:
    """``RSA-2048``, ``EC secp256r1``, ...: the key, as a reader of the detail needs it."""
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removeprefix("_")


_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})(?: ([^\r\n]*))?")
_TITLE = re.compile(rb"<title>([^<]{1,200})</title>", re.IGNORECASE)


_LOCATION = re.compile(rb"\r\nlocation:[ \t]*([^\r\n]*)", re.IGNORECASE)
_INTERIM = re.compile(rb"HTTP/\d(?:\.\d)? 1\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n")


def _printable(text: str) -> str:
    """``text`` with every character a terminal might act on (ESC, ...) shown as a dot."""
    return "".join(ch if ch.isprintable() else "." for ch in text)


def _final_response(reply: bytes) -> bytes:
    """The reply without the interim 1xx responses (103 Early Hints, ...) that may precede it."""
    while (interim := _INTERIM.match(reply)) is not None:
        reply = reply[interim.end() :]
    return reply


def _server_words(reply: bytes, status: int | None, reason: str) -> str:
    """What the server said: its page's title, else its status line; or the start of a reply.

    A hostile server chooses these bytes, so nothing a terminal would act on is passed on.
    """
    if status is None:
        return _printable(reply[:60].decode("ascii", "replace"))
    title = _TITLE.search(reply)
    if title is not None:
        return _printable(" ".join(title.group(1).decode("utf-8", "replace").split()))
    return f"{status} {reason}".strip()


def _read_reply(
    tls: ssl.SSLSocket, deadline: float, settle: float
) -> tuple[bytes, BaseException | None, bool]:
    """Read up to REPLY_LIMIT bytes until the server closes, goes quiet, or time's up.

    The first byte is waited for until the deadline (an application may take its time to
    refuse); once the reply has begun, ``settle`` seconds of quiet end it.

    Returns:
        What was read; the exception that ended the reading if the server ended it abruptly
        (an alert, a reset), else None; and whether the server closed the connection.
    """
    reply = b""
    while len(reply) < REPLY_LIMIT:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        tls.settimeout(min(settle, remaining) if reply else remaining)
        try:
            data = tls.recv(REPLY_LIMIT - len(reply))
        except TimeoutError:
            break
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return reply, None, True
        except (ssl.SSLError, OSError) as exc:
            return reply, exc, True
        if not data:
            return reply, None, True
        reply += data
        if _reply_complete(reply):
            # A server that keeps the connection open despite "Connection: close" has said
            # all it will: no need to wait for its silence.
            break
    return reply, None, False


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)


_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)


def _reply_complete(reply: bytes) -> bool:
    """Whether an HTTP reply's headers and all its body have arrived.

    The body's end is known by its Content-Length, or by the last chunk of a chunked body.
    """
    head, separator, body = _final_response(reply).partition(b"\r\n\r\n")
    if not separator:
        return False
    if _CHUNKED.search(head) is not None:
        # Ending early on a chunk that only looks last costs nothing: the status is in.
        return body.endswith(b"0\r\n\r\n")
    length = _CONTENT_LENGTH.search(head + b"\r\n")
    return length is not None and len(body) >= int(length.group(1))


def _http_exchange(  # noqa: PLR0911, PLR0917  (one decision table; a connection's state)
    tls: ssl.SSLSocket,
    connection: _Connection,
    observer: _Observer,
    identity: _Identity | None,
    deadline: float,
    settle: float,
) -> tuple[Outcome, str, str | None, dict[str, object]]:
    """Send ``GET PATH`` and judge the reply: served, refused in HTTP, or no HTTP at all.

    The server may ask for a certificate only now (a renegotiation for a ``<Location>``), so
    whether it asked at all is read after the reply.
    """
    what = "the certificate" if identity else "no certificate"
    request = (
        f"GET {connection.path} HTTP/1.1\r\nHost: {connection.host_header}\r\n"
        "User-Agent: truststore-builder\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    send_error: BaseException | None = None
    try:
        tls.settimeout(max(deadline - time.monotonic(), 0.001))
        tls.sendall(request)
    except TimeoutError:
        pass
    except (ssl.SSLError, OSError) as exc:
        # The server may have refused already (a TLS 1.3 alert after our Finished): read it.
        send_error = exc
    reply, error, closed = _read_reply(tls, deadline, settle)
    error = error or (send_error if not reply else None)
    asked = observer.certificate_request is not None or not _OBSERVABLE
    if not reply:
        if error is not None:
            return (*_ended(error, observer, identity, "first-read"), {})
        if asked and closed:
            return (
                Outcome.REFUSED,
                (
                    f"the server refused {what}: it closed the connection before any reply "
                    "to the HTTP request"
                ),
                None,
                {"server_said": "(closed the connection)"},
            )
        why = (
            "the server closed the connection without replying to the HTTP request"
            if closed
            else f"no reply to the HTTP request within {connection.timeout:g} s"
        )
        return (*_judged_on_tls(observer, identity, why), {})
    reply = _final_response(reply)
    status_line = _STATUS_LINE.match(reply)
    if status_line is None:
        said = _server_words(reply, None, "")
        why = f"the server speaks no HTTP (it answered {said!r})"
        return (*_judged_on_tls(observer, identity, why), {"server_said": said})
    status = int(status_line.group(1))
    reason = _printable((status_line.group(2) or b"").decode("latin-1").strip())
    said = _server_words(reply, status, reason)
    more: dict[str, object] = {"http_status": status, "server_said": said}
    if not asked:
        # No CertificateRequest, so no certificate: whatever the status, none was judged.
        return (
            Outcome.NOT_REQUESTED,
            f"the server did not ask for a client certificate and answered HTTP {status}",
            None,
            more,
        )
    if status in REFUSING_STATUSES:
        return (
            Outcome.REFUSED,
            f"the server refused {what} in HTTP: {said if said.startswith(str(status)) else f'{status} {said}'}",
            None,
            more,
        )
    if status in NOT_SERVING_STATUSES:
        location = _LOCATION.search(reply.partition(b"\r\n\r\n")[0])
        where = (
            f" to {_printable(location.group(1).decode('latin-1').strip()[:200])}"
            if location
            else ""
        )
        return (
            Outcome.REFUSED,
            (
                f"the server did not serve the request with {what}: HTTP {status} {reason}"
                f"{where}; a reply that serves nothing proves no acceptance (give --path a "
                "page the server serves)"
            ),
            None,
            more,
        )
    return (
        Outcome.ACCEPTED,
        f"the server served the request with {what}: HTTP {status} {reason}".rstrip(),
        None,
        more,
    )


def _judged_on_tls(
    observer: _Observer, identity: _Identity | None, why: str
) -> tuple[Outcome, str, str | None]:
    """The verdict when HTTP tells nothing: the server asked, took the handshake, did not refuse."""
    if _OBSERVABLE and observer.certificate_request is None:
        return (
            Outcome.NOT_REQUESTED,
            f"the server did not ask for a client certificate ({why})",
            None,
        )
    what = "the certificate" if identity else "no certificate"
    return (
        Outcome.ACCEPTED,
        f"the server completed the handshake with {what} and did not refuse it; {why}: judged on TLS alone",
        None,
    )


# --- what the messages say ----------------------------------------------------------------------


def _vector(data: bytes, offset: int, width: int) -> tuple[bytes, int]:
    length = int.from_bytes(data[offset : offset + width], "big")
    start = offset + width
    if start + length > len(data) or len(data[offset:start]) != width:
        msg = "truncated"
        raise ValueError(msg)
    return data[start : start + length], start + length


def certificates_from_message(message: bytes, *, tls13: bool) -> list[bytes]:
    """The DER certificates in a TLS Certificate handshake message (with its 4-byte header).

    Raises:
        ValueError: The message is truncated or not a Certificate message.
    """
    if not message or message[0] != _CERTIFICATE:
        msg = "not a Certificate message"
        raise ValueError(msg)
    body, _ = _vector(message, 1, 3)
    offset = 0
    if tls13:
        _, offset = _vector(body, 0, 1)
    entries, _ = _vector(body, offset, 3)
    found: list[bytes] = []
    position = 0
    while position < len(entries):
        der, position = _vector(entries, position, 3)
        if tls13:
            _, position = _vector(entries, position, 2)
        found.append(der)
    return found


def _certificate_request_fields(message: bytes, *, tls13: bool) -> tuple[bytes, bytes]:
    """The encoded CA names and signature algorithms of a CertificateRequest message.

    TLS 1.2 carries both in the message body; TLS 1.3 in the extensions
    ``certificate_authorities`` and ``signature_algorithms``.

    Raises:
        ValueError: The message is truncated or not a CertificateRequest.
    """
    if not message or message[0] != _CERTIFICATE_REQUEST:
        msg = "not a CertificateRequest message"
        raise ValueError(msg)
    body, _ = _vector(message, 1, 3)
    _, offset = _vector(body, 0, 1)
    if not tls13:
        algorithms, offset = _vector(body, offset, 2)
        names, _ = _vector(body, offset, 2)
        return names, algorithms
    extensions, _ = _vector(body, offset, 2)
    position, names, algorithms = 0, b"", b""
    while position < len(extensions):
        kind = int.from_bytes(extensions[position : position + 2], "big")
        value, position = _vector(extensions, position + 2, 2)
        if kind == _CERTIFICATE_AUTHORITIES:
            names, _ = _vector(value, 0, 2)
        elif kind == _SIGNATURE_ALGORITHMS:
            algorithms, _ = _vector(value, 0, 2)
    return names, algorithms


def issuers_from_certificate_request(message: bytes, *, tls13: bool) -> list[x509.Name]:
    """The CA names in a TLS CertificateRequest message (with its 4-byte header).

    TLS 1.2 lists them in ``certificate_authorities``; TLS 1.3 in the extension of that name.

    Raises:
        ValueError: The message is truncated or not a CertificateRequest.
    """
    names, _ = _certificate_request_fields(message, tls13=tls13)
    found: list[x509.Name] = []
    position = 0
    while position < len(names):
        der, position = _vector(names, position, 2)
        found.append(_name_from_der(der))
    return found


def signature_algorithms_from_certificate_request(message: bytes, *, tls13: bool) -> list[str]:
    """The signature algorithms a CertificateRequest allows, by their TLS names.

    An algorithm without a name here is given as hex (``0x0e01``).

    Raises:
        ValueError: The message is truncated or not a CertificateRequest.
    """
    _, algorithms = _certificate_request_fields(message, tls13=tls13)
    if len(algorithms) % 2:
        msg = "truncated"
        raise ValueError(msg)
    codes = [int.from_bytes(algorithms[i : i + 2], "big") for i in range(0, len(algorithms), 2)]
    return [_SIGNATURE_SCHEMES.get(code, f"0x{code:04x}") for code in codes]


#: sha256WithRSAEncryption, NULL parameters: a placeholder algorithm for the wrapper below.
_ALGORITHM = encode_tlv(SEQUENCE, bytes.fromhex("06092a864886f70d01010b0500"))
_UTC_TIME = 0x17


def _name_from_der(der: bytes) -> x509.Name:
    """Parse a DER Name: cryptography reads one only inside a structure, so wrap it in a CRL."""
    tbs = encode_tlv(SEQUENCE, _ALGORITHM + der + encode_tlv(_UTC_TIME, b"250101000000Z"))
    crl = encode_tlv(SEQUENCE, tbs + _ALGORITHM + encode_tlv(BIT_STRING, b"\x00\x00"))
    return x509.load_der_x509_crl(crl).issuer


def _parse_certificate_message(observer: _Observer) -> tuple[x509.Certificate, ...]:
    message = observer.server_certificate
    if message is None:
        return ()
    for tls13 in (observer.certificate_version == _TLS13, observer.certificate_version != _TLS13):
        try:
            return tuple(
                x509.load_der_x509_certificate(der)
                for der in certificates_from_message(message, tls13=tls13)
            )
        except ValueError:
            continue
    return ()


def _parse_requested_issuers(observer: _Observer) -> tuple[str, ...]:
    message = observer.certificate_request
    if message is None:
        return ()
    for tls13 in (observer.request_version == _TLS13, observer.request_version != _TLS13):
        try:
            names = issuers_from_certificate_request(message, tls13=tls13)
        except ValueError:
            continue
        return tuple(name.rfc4514_string() for name in names)
    return ()


def _parse_signature_algorithms(observer: _Observer) -> tuple[str, ...]:
    message = observer.certificate_request
    if message is None:
        return ()
    try:
        tls13 = observer.request_version == _TLS13
        return tuple(signature_algorithms_from_certificate_request(message, tls13=tls13))
    except ValueError:
        return ()


# --- the server's chain -------------------------------------------------------------------------


def _server_auth(policy: object, certificate: x509.Certificate, extension: object) -> None:
    """The EE extended-key-usage rule for a server: serverAuth (or anyExtendedKeyUsage)."""
    del policy, certificate
    if extension is None:
        return
    usages = list(extension)  # type: ignore[call-overload]
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages and (
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages
    ):
        msg = "the certificate lacks serverAuth in its extendedKeyUsage"
        raise ValueError(msg)


def _server_chain(
    presented: Sequence[x509.Certificate],
    trusted: Sequence[x509.Certificate],
    server_name: str,
    at: dt.datetime,
    catalogue: NhsCatalogue,
) -> ServerChainReport:
    """Judge the presented chain: the NHS chain policy with serverAuth; the name by SAN or CN."""
    leaf = presented[0]
    anchors, others = trust_anchors(trusted)
    intermediates = [*presented[1:], *others]
    failures: list[str] = []
    chain: tuple[x509.Certificate, ...] = ()
    if not anchors:
        failures.append("the trust store is empty")
    else:
        ca_policy = ExtensionPolicy.webpki_defaults_ca().require_present(
            x509.BasicConstraints, Criticality.AGNOSTIC, None
        )
        # The NHS policy of _checks.nhs_client_verifier, for a server: SAN optional (NHS
        # endpoint certificates carry none), serverAuth instead of clientAuth.
        ee_policy = (
            ExtensionPolicy.webpki_defaults_ee()
            .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _server_auth)
        )
        verifier = (
            PolicyBuilder()
            .store(Store(anchors))
            .time(at)
            .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
            .build_client_verifier()
        )
        try:
            chain = tuple(verifier.verify(leaf, intermediates).chain)
        except VerificationError as exc:
            failures.append(f"the chain does not verify: {_short(exc)}")
    matches = name_matches(leaf, server_name)
    if not matches:
        failures.append(f"the certificate is not issued to {server_name} ({_names_of(leaf)})")
    candidates = [*presented[1:], *trusted]
    issuers = {id(c): nhs_issuer(c, candidates, catalogue) for c in (*presented, *chain)}

    def link(certificate: x509.Certificate) -> PresentedCertificate:
        return PresentedCertificate(
            certificate, catalogue.recognise(certificate), issuers[id(certificate)]
        )

    leaf_issuer = issuers[id(leaf)]
    return ServerChainReport(
        presented=tuple(link(c) for c in presented),
        chain=tuple(link(c) for c in chain),
        verified=bool(chain),
        server_name=server_name,
        name_matches=matches,
        generation=leaf_issuer.generation if leaf_issuer is not None else None,
        failures=tuple(failures),
    )


def _issuer_generation(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate], catalogue: NhsCatalogue
) -> Generation | None:
    """The generation of the NHS CA whose key signed ``certificate`` (recognised by its pin)."""
    nhs = nhs_issuer(certificate, candidates, catalogue)
    return nhs.generation if nhs is not None else None


def _names_of(certificate: x509.Certificate) -> str:
    dns, _ = _san(certificate)
    if dns is not None:
        return "subjectAltName " + ", ".join(dns) if dns else "an empty subjectAltName"
    cns = [str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return "CN " + ", ".join(cns) if cns else "no name"


def _san(certificate: x509.Certificate) -> tuple[list[str] | None, list[str]]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None, []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return san.get_values_for_type(x509.DNSName), ips


def name_matches(certificate: x509.Certificate, name: str) -> bool:
    """Whether ``certificate`` is issued to ``name``.

    The subjectAltName decides when there is one (RFC 6125); without one, as on NHS endpoint
    certificates, the CN. A wildcard stands for exactly one whole leftmost label.
    """
    wanted = name.lower().rstrip(".")
    dns, ips = _san(certificate)
    if _is_ip(wanted):
        return ipaddress.ip_address(wanted) in {ipaddress.ip_address(ip) for ip in ips}
    if dns is None:
        dns = [
            str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return any(_dns_match(pattern.lower().rstrip("."), wanted) for pattern in dns)


def _dns_match(pattern: str, name: str) -> bool:
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    first, _, rest = name.partition(".")
    return bool(first) and rest == pattern[2:] and "." in rest


# --- the check ----------------------------------------------------------------------------------


def _trusted(
    environment: Environment | str | None,
    trust: StrPath | TrustStore | None,
    at: dt.datetime,
    catalogue: NhsCatalogue,
) -> list[x509.Certificate]:

    if environment is None and trust is None:
        msg = "give an NHS environment or a trust store to check the server's chain against"
        raise ValueError(msg)
    certificates: list[x509.Certificate] = []
    # A look-alike of an NHS CA is judged by signature and called by its own subject here.
    builder = (
        TrustStoreBuilder().with_catalogue(catalogue).at(at).allow_leaf().allow_test_pki_impostors()
    )
    if environment is not None:
        # Both generations, expired or not: an expired CA shows in the chain verdict.
        builder = builder.add_nhs(environment, tuple(Generation))
    if isinstance(trust, TrustStore):
        certificates += trust.certificates
    elif trust is not None:
        builder = builder.add_file(trust)
    if builder.environments or not isinstance(trust, TrustStore):
        with warnings.catch_warnings():
            # An expired CA shows in the chain verdict, not as a store warning.
            warnings.simplefilter("ignore", ExpiredCertificateWarning)
            certificates += builder.build().certificates
    return certificates


def check_endpoint(
    host: str,
    port: int,
    *,
    environment: Environment | str | None = None,
    trust: StrPath | TrustStore | None = None,
    identities: Mapping[str, tuple[StrPath, StrPath]] | Iterable[tuple[str, StrPath, StrPath]] = (),
    server_name: str | None = None,
    timeout: float = 10.0,
    catalogue: NhsCatalogue | None = None,
    probe: Probe | str = Probe.HTTP,
    path: str = "/",
    tls_version: str | None = None,
) -> EndpointReport:
    """Check a live TLS endpoint: the chain it presents and each client identity's fate.

    One connection is made without a client certificate, then one per identity; after each
    handshake an HTTP request shows whether the server serves it (``probe="http"``), or the
    TLS exchange alone is judged (``probe="tls"``). See the module documentation for what each
    :class:`Outcome` means.

    Args:
        host: The host name or IP address.
        port: The TCP port.
        environment: Judge the server's chain against this NHS environment's G1+G2 CAs.
        trust: Or against the CAs in this file (any format we read) or :class:`TrustStore`.
        identities: Client identities to try, ``{name: (certificate, key)}`` or
            ``[(name, certificate, key), ...]``: PEM files, the certificate file leaf first
            (its chain may follow), the key unencrypted.
        server_name: The name to send as SNI and match the certificate against (default:
            ``host``).
        timeout: Seconds allowed for each connection, from the TCP connect to the end of the
            HTTP reply.
        catalogue: The NHS catalogue to take the environment's CAs from and recognise CAs
            with (default: the shipped one; e.g. ``load_nhs_catalogue(DIR)``).
        probe: ``http`` (the default): after the handshake send ``GET path`` and judge the
            reply; ``tls``: judge the TLS exchange alone, for a server that speaks no HTTP.
        path: The path of the HTTP request (``/`` by default).
        tls_version: ``1.2`` or ``1.3`` to make every connection use that version only
            (default: either, as the server chooses).

    Returns:
        The report.

    Raises:
        ValueError: Neither an environment nor a trust store, a bad port, timeout, probe,
            path or TLS version, or duplicate identity names.
        InputError: A trust or identity file cannot be read, an identity key is encrypted or
            belongs to no certificate in its file.
    """
    _check_port(port)
    run = _prepare_run(
        environment=environment,
        trust=trust,
        identities=identities,
        server_name=server_name,
        timeout=timeout,
        catalogue=catalogue,
        probe=probe,
        path=path,
        tls_version=tls_version,
    )
    return _check_one(host, port, run)


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:  # noqa: PLR2004
        msg = f"not a port number: {port}"
        raise ValueError(msg)


@attrs.frozen
class _Run:
    """What every endpoint of one check shares, read and checked once (keys load slowly)."""

    trusted: tuple[x509.Certificate, ...] = attrs.field(repr=False)
    identities: tuple[_Identity, ...]
    catalogue: NhsCatalogue = attrs.field(repr=False)
    server_name: str | None
    timeout: float
    probe: Probe
    path: str
    tls_version: str | None
    environment: Environment | None
    #: A client context per identity name (None: the probe's, without a certificate).
    contexts: Mapping[str | None, ssl.SSLContext] = attrs.field(repr=False)


def _prepare_run(
    *,
    environment: Environment | str | None = None,
    trust: StrPath | TrustStore | None = None,
    identities: Mapping[str, tuple[StrPath, StrPath]] | Iterable[tuple[str, StrPath, StrPath]] = (),
    server_name: str | None = None,
    timeout: float = 10.0,
    catalogue: NhsCatalogue | None = None,
    probe: Probe | str = Probe.HTTP,
    path: str = "/",
    tls_version: str | None = None,
) -> _Run:
    """Check the options, build the trust store and load the identities, before connecting."""
    if timeout <= 0:
        msg = f"the timeout must be positive, not {timeout}"
        raise ValueError(msg)
    try:
        probe = Probe(probe)
    except ValueError:
        msg = f"the probe is http or tls, not {probe!r}"
        raise ValueError(msg) from None
    check_http_path(path)
    if tls_version is not None and tls_version not in _TLS_VERSIONS:
        msg = f"the TLS version is 1.2 or 1.3, not {tls_version!r}"
        raise ValueError(msg)
    loaded = tuple(_identity_list(identities))
    contexts: dict[str | None, ssl.SSLContext] = {None: _context(None, tls_version)}
    contexts.update({identity.name: _context(identity, tls_version) for identity in loaded})
    chosen = catalogue or nhs_catalogue()
    return _Run(
        trusted=tuple(_trusted(environment, trust, utc_now(), chosen)),
        identities=loaded,
        catalogue=chosen,
        server_name=server_name,
        timeout=timeout,
        probe=probe,
        path=path,
        tls_version=tls_version,
        environment=Environment(environment) if environment is not None else None,
        contexts=contexts,
    )


def _check_one(host: str, port: int, run: _Run) -> EndpointReport:
    """Check one endpoint with what :func:`_prepare_run` made."""
    catalogue = run.catalogue
    at = utc_now()
    name = run.server_name or host
    connection = _Connection((host, port), name, run.timeout, run.probe, run.path, run.tls_version)
    first = _attempt(connection, None, catalogue, run.contexts[None])
    attempts = [first]
    results: list[HandshakeResult] = []
    unreachable = first.result.stage in {"resolve", "connect"} or (
        first.result.outcome is Outcome.TIMEOUT
    )
    for identity in run.identities:
        if unreachable:
            results.append(
                attrs.evolve(
                    first.result,
                    name=identity.name,
                    detail=f"not tried: {first.result.detail}",
                    stage=None,
                    certificate_path=identity.certificate_path,
                    subject=identity.certificate.subject.rfc4514_string(),
                    issuer=identity.certificate.issuer.rfc4514_string(),
                    generation=_issuer_generation(identity.certificate, identity.chain, catalogue),
                    not_after=identity.certificate.not_valid_after_utc,
                    elapsed=0.0,
                )
            )
            continue
        attempt = _attempt(connection, identity, catalogue, run.contexts[identity.name])
        attempts.append(attempt)
        results.append(attempt.result)
    presented = next((a.server_chain for a in attempts if a.server_chain), ())
    issuers = next((a.requested_issuers for a in attempts if a.requested_issuers), ())
    server = _server_chain(presented, run.trusted, name, at, catalogue) if presented else None
    return EndpointReport(
        host=host,
        port=port,
        server_name=name,
        checked_at=at,
        probe=first.result,
        server=server,
        requested_issuers=issuers,
        identities=tuple(results),
        probe_mode=run.probe,
        path=run.path,
        environment=run.environment,
    )


def check_endpoints(
    endpoints: Iterable[tuple[str, int]],
    *,
    concurrency: int = 8,
    **options: object,
) -> list[EndpointReport]:
    """Check many endpoints, at most ``concurrency`` at once; reports in the order given.

    Args:
        endpoints: ``(host, port)`` pairs.
        concurrency: How many endpoints are checked at once.
        **options: Passed to :func:`check_endpoint` for every endpoint.

    Returns:
        One report per endpoint.

    Raises:
        ValueError: ``concurrency`` below 1, or a bad option.
    """
    if concurrency < 1:
        msg = f"concurrency must be at least 1, not {concurrency}"
        raise ValueError(msg)
    endpoints = list(endpoints)
    for _, port in endpoints:
        _check_port(port)
    # The trust store and the identities are the same for every endpoint: read them once
    # (loading an RSA key checks it, tens of milliseconds each).
    run = _prepare_run(**options)  # type: ignore[arg-type]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(concurrency, max(len(endpoints), 1)),
        thread_name_prefix="truststore-builder-check",
    ) as pool:
        futures = [pool.submit(_check_one, host, port, run) for host, port in endpoints]
        return [future.result() for future in futures]


# --- metrics ------------------------------------------------------------------------------------

#: The prefix of every metric :func:`endpoint_metrics` gives.
METRIC_PREFIX = "truststore_builder_endpoint"


def endpoint_metrics(reports: Iterable[EndpointReport]) -> list[MetricFamily]:
    """The reports as metric families for a monitoring system (node exporter's textfile).

    - ``truststore_builder_endpoint_up{endpoint}``: 1 when the server was reached and
      presented its certificate, else 0.
    - ``truststore_builder_endpoint_chain_ok{endpoint}``: 1 when its chain verifies and its
      name matches.
    - ``truststore_builder_endpoint_certificate_expiry_timestamp_seconds{endpoint, index,
      position, subject, nhs_ca, generation, environment}``: each presented certificate's
      end of validity, in Unix seconds; ``nhs_ca`` and ``generation`` name the NHS CA whose key
      signed it (empty when none did), ``environment`` the one the check judged against
      (empty with a trust file).
    - ``truststore_builder_endpoint_identity_accepted{endpoint, identity, outcome}``: 1 when
      the identity was accepted, else 0, with the outcome.
    - ``truststore_builder_endpoint_check_timestamp_seconds{endpoint}``: when it was checked.

    An endpoint reported twice is counted once, by its first report.
    """
    # One sample per endpoint and label set: an endpoint listed twice counts once (the first).
    unique: dict[str, EndpointReport] = {}
    for report in reports:
        unique.setdefault(report.address, report)
    up, chain_ok, expiry, accepted, checked = [], [], [], [], []
    for report in unique.values():
        endpoint = {"endpoint": report.address}
        up.append(Sample(endpoint, 1 if report.server is not None else 0))
        server = report.server
        chain_ok.append(
            Sample(endpoint, 1 if server and server.verified and server.name_matches else 0)
        )
        environment = report.environment.value if report.environment else ""
        for item in report.expiries:
            issuer = item.certificate.issued_by
            labels = {
                **endpoint,
                "index": str(item.index),
                "position": item.position,
                "subject": item.certificate.subject,
                "nhs_ca": issuer.name if issuer else "",
                "generation": issuer.generation.value if issuer else "",
                "environment": environment,
            }
            expiry.append(Sample(labels, item.not_after.timestamp()))
        for result in report.identities:
            labels = {**endpoint, "identity": result.name or "", "outcome": result.outcome.value}
            accepted.append(Sample(labels, 1 if result.outcome is Outcome.ACCEPTED else 0))
        checked.append(Sample(endpoint, report.checked_at.timestamp()))
    prefix = METRIC_PREFIX
    return [
        MetricFamily(
            f"{prefix}_up",
            "1 when the endpoint was reached and presented its certificate, else 0.",
            samples=tuple(up),
        ),
        MetricFamily(
            f"{prefix}_chain_ok",
            "1 when the presented chain verifies and is issued to the name checked, else 0.",
            samples=tuple(chain_ok),
        ),
        MetricFamily(
            f"{prefix}_certificate_expiry_timestamp_seconds",
            "When each certificate the endpoint presented expires (not after), Unix time.",
            unit="seconds",
            samples=tuple(expiry),
        ),
        MetricFamily(
            f"{prefix}_identity_accepted",
            "1 when the endpoint accepted this client identity, else 0 (outcome says how it ended).",
            samples=tuple(accepted),
        ),
        MetricFamily(
            f"{prefix}_check_timestamp_seconds",
            "When the endpoint was checked, Unix time.",
            unit="seconds",
            samples=tuple(checked),
        ),
    ]
