"""Check a live endpoint: the chain it presents, and whether it accepts each client identity.

:func:`check_endpoint` connects once without a client certificate (the probe), then once per
client identity, and returns an :class:`EndpointReport`: the server's chain judged under the
NHS chain policy, and the :class:`Outcome` of each connection. :func:`check_endpoints` checks
many endpoints at once. This module imports Python's ``ssl``, sockets and a thread pool, which
is why it is not imported by ``import truststore_builder``.
"""

from __future__ import annotations

from truststore_builder._endpoint import (
    CertificateExpiry,
    EndpointReport,
    HandshakeResult,
    Outcome,
    PresentedCertificate,
    Probe,
    ServerChainReport,
    check_endpoint,
    check_endpoints,
)

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
]
