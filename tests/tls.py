"""A loopback mutual-TLS server and client built on Python's ``ssl``, for proving written files."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_TIMEOUT = 10.0
_HOLD_SECONDS = 5.0
_HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@contextlib.contextmanager
def mutual_tls_server(
    *, cert_chain: Path, key: Path, client_ca_file: Path
) -> Iterator[tuple[str, int]]:
    """Serve on 127.0.0.1 with CERT_REQUIRED, trusting ``client_ca_file``; reply b"ok" to each line.

    Yields:
        The (host, port) to connect to. Connections the server refuses are simply closed.
    """
    with configurable_tls_server(
        cert_chain=cert_chain,
        key=key,
        client_ca_file=client_ca_file,
        verify_mode=ssl.CERT_REQUIRED,
    ) as address:
        yield address


def client_is_accepted(
    address: tuple[str, int], *, server_ca: Path, cert_chain: Path, key: Path
) -> bool:
    """Connect with a client certificate; True when the server answers, False when it refuses.

    With TLS 1.3 a refused client certificate shows only after the handshake, on the first
    read, so the client always sends a line and waits for the answer.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=server_ca)
    context.load_cert_chain(cert_chain, key)
    try:
        with (
            socket.create_connection(address, timeout=_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            tls.sendall(b"ping\n")
            return tls.recv(64) == b"ok"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return False


@contextlib.contextmanager
def configurable_tls_server(
    *,
    cert_chain: Path,
    key: Path,
    client_ca_file: Path | None,
    verify_mode: ssl.VerifyMode,
    maximum_version: ssl.TLSVersion | None = None,
    http_reply: bytes | None = _HTTP_OK,
    seen: list[bytes] | None = None,
    hold_open: bool = False,
    reply_delay: float = 0.0,
) -> Iterator[tuple[str, int]]:
    """Serve TLS on 127.0.0.1 with any client-certificate mode; reply b"ok" to each line.

    A request starting ``GET`` (the endpoint check's HTTP probe) gets ``http_reply`` (by default
    ``HTTP/1.1 200 OK``; None closes the connection without a word), and is appended to
    ``seen`` when a list is given; with ``hold_open`` the server then keeps the connection
    open for a few seconds, as a keep-alive server would; ``reply_delay`` seconds pass before
    the reply, as with an application that takes its time.

    ``verify_mode`` is ``CERT_NONE`` (no client certificate requested), ``CERT_OPTIONAL`` or
    ``CERT_REQUIRED``, trusting ``client_ca_file``; ``maximum_version`` pins TLS 1.2, say.
    Each connection is served on its own thread, so a slow client holds up no other.

    Yields:
        The (host, port) to connect to.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_chain, key)
    context.verify_mode = verify_mode
    if client_ca_file is not None:
        context.load_verify_locations(cafile=client_ca_file)
    if maximum_version is not None:
        context.maximum_version = maximum_version

    def handle(raw: socket.socket) -> None:
        with raw:
            raw.settimeout(_TIMEOUT)
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    line = tls.recv(1024)
                    if line.startswith(b"GET "):
                        # The endpoint check's HTTP probe: a minimal HTTP server's answer.
                        if seen is not None:
                            seen.append(line)
                        time.sleep(reply_delay)
                        if http_reply is not None:
                            tls.sendall(http_reply)
                        if hold_open:
                            time.sleep(_HOLD_SECONDS)
                    elif line:
                        tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                return

    with _serving(handle) as address:
        yield address


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """Accept TCP connections on 127.0.0.1 and never say a word (a handshake that hangs).

    Yields:
        The (host, port) to connect to.
    """
    held: list[socket.socket] = []
    with _serving(held.append) as address:
        try:
            yield address
        finally:
            for raw in held:
                raw.close()


@contextlib.contextmanager
def _serving(handle: Callable[[socket.socket], None]) -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def closed_port() -> tuple[str, int]:
    """A loopback address where nothing listens (connections to it are refused)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[:2]  # type: ignore[no-any-return]
