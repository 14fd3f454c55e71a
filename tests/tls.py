"""A loopback mutual-TLS server and client built on Python's ``ssl``, for proving written files."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_TIMEOUT = 10.0


@contextlib.contextmanager
def mutual_tls_server(
    *, cert_chain: Path, key: Path, client_ca_file: Path
) -> Iterator[tuple[str, int]]:
    """Serve on 127.0.0.1 with CERT_REQUIRED, trusting ``client_ca_file``; reply b"ok" to each line.

    Yields:
        The (host, port) to connect to. Connections the server refuses are simply closed.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_chain, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=client_ca_file)
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
            with raw:
                raw.settimeout(_TIMEOUT)
                try:
                    with context.wrap_socket(raw, server_side=True) as tls:
                        if tls.recv(64):
                            tls.sendall(b"ok")
                except (ssl.SSLError, OSError):
                    continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[:2]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


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
