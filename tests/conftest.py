"""Shared fixtures: the generated test PKI (once per session) and the shared NHS reference data."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.commands import RunningTest
from tests.pki import GeneratedPki, make_test_pki


def pytest_sessionstart(session: pytest.Session) -> None:  # noqa: ARG001 - pytest's hook
    """A run stopped with SIGTERM still stops the servers and JVMs it started.

    By default SIGTERM ends the interpreter at once, so no fixture's ``finally`` runs and every
    nginx, Apache, Tomcat and HAProxy a fixture started keeps its port; as SystemExit it unwinds
    through the fixtures like a failure does.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

REPO = Path(__file__).resolve().parent.parent
BUNDLES = REPO / "bundles"
#: ../shared/nhs-pki beside the checkout (present on developer machines and in CI).
SHARED_NHS_PKI = REPO.parent / "shared" / "nhs-pki"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Tell tests/commands.py which test runs (fixtures included), so a JVM needs the slow mark."""
    del nextitem
    RunningTest.name = item.nodeid
    RunningTest.slow = item.get_closest_marker("slow") is not None
    try:
        return (yield)
    finally:
        RunningTest.name, RunningTest.slow = "", None


@pytest.fixture(scope="session")
def pki() -> GeneratedPki:
    """The generated G1-like, G2-like and foreign hierarchies, plus a localhost server."""
    return make_test_pki()


@pytest.fixture
def shared_nhs_pki() -> Path:
    """../shared/nhs-pki, or a clean skip where the checkout has no ../shared beside it."""
    if not SHARED_NHS_PKI.is_dir():
        pytest.skip("../shared/nhs-pki is not beside this checkout")
    return SHARED_NHS_PKI


@pytest.fixture(scope="module")
def api_server() -> Iterator[str]:
    """A loopback Kubernetes API server that only answers discovery, for kubectl apply --dry-run."""
    from tests.deployment_consumers import discovery_api_server  # noqa: PLC0415 - the kubernetes client loads slowly

    with discovery_api_server() as url:
        yield url
