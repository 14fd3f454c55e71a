"""NHS England's MESH sandbox and MESH client, for proving client files end to end.

``mesh_sandbox`` serves ``mesh-sandbox`` under uvicorn in a subprocess on a loopback port, with
TLS and client certificates required; ``mesh_round_trip`` drives ``mesh_client.MeshClient``
through handshake, send, list, retrieve, read and acknowledge using only PEM files.

The sandbox is configured through its environment (see ``mesh_sandbox.common.EnvConfig``):
``AUTH_MODE=full`` (any value but ``none``/``canned`` checks the NHSMESH token's HMAC),
``STORE_MODE=memory`` (mailboxes and workflows from the package's canned ``mailboxes.jsonl`` and
``workflows.jsonl``, but none of its canned messages, so every inbox starts empty) and
``SHARED_KEY=TestKey``. Its canned mailboxes include ``X26ABC1``, ``X26ABC2`` and ``X26ABC3``,
each with the password ``password``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING

from mesh_client import MeshClient

from tests.commands import assert_marked_slow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Mailboxes the sandbox's canned data defines (store/data/mailboxes.jsonl).
MAILBOX_1 = "X26ABC1"
MAILBOX_2 = "X26ABC2"
#: The password of every canned mailbox.
MAILBOX_PASSWORD = "password"
#: The HMAC key the sandbox is started with; the client must sign its tokens with the same one.
SHARED_KEY = "TestKey"
#: A workflow the canned data lets X26ABC1 send to X26ABC1, X26ABC2 and X26ABC3.
WORKFLOW_ID = "TEST_WORKFLOW2"

_STARTUP_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_CLIENT_TIMEOUT = 30.0
_LISTENING = re.compile(r"Uvicorn running on https://127\.0\.0\.1:(\d+)")


class MeshSandboxError(RuntimeError):
    """The sandbox did not start, or stopped before it said where it listens."""


def sandbox_environment(store_dir: Path) -> dict[str, str]:
    """The environment variables the sandbox reads, on top of this process's environment."""
    return {
        **os.environ,
        "ENV": "local",
        "AUTH_MODE": "full",
        "STORE_MODE": "memory",
        "SHARED_KEY": SHARED_KEY,
        "MAILBOXES_DATA_DIR": str(store_dir),
    }


def sandbox_command(*, server_cert: Path, server_key: Path, client_ca_file: Path) -> list[str]:
    """The uvicorn command line: loopback, an ephemeral port, TLS, CERT_REQUIRED (2)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "mesh_sandbox.api:app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--workers",
        "1",
        "--no-use-colors",
        "--log-level",
        "info",
        "--ssl-certfile",
        str(server_cert),
        "--ssl-keyfile",
        str(server_key),
        "--ssl-ca-certs",
        str(client_ca_file),
        "--ssl-cert-reqs",
        "2",
    ]


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    """Read uvicorn's log until it names its port; fail if it exits or takes too long."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if match := _LISTENING.search(text):
            return int(match.group(1))
        if process.poll() is not None:
            msg = f"mesh-sandbox exited with status {process.returncode}:\n{text}"
            raise MeshSandboxError(msg)
        time.sleep(0.05)
    msg = f"mesh-sandbox did not start within {_STARTUP_TIMEOUT} s:\n{log.read_text()}"
    raise MeshSandboxError(msg)


def _wait_until_answering(port: int) -> None:
    """Wait until the port accepts TCP connections (uvicorn logs just after it listens)."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def mesh_sandbox(
    *, server_cert: Path, server_key: Path, client_ca_file: Path, tmp_path: Path
) -> Iterator[str]:
    """Serve mesh-sandbox over mutual TLS on loopback until the block ends.

    Args:
        server_cert: the server's certificate chain, leaf first, for ``localhost``.
        server_key: the server's private key.
        client_ca_file: the CAs whose clients the server accepts (CERT_REQUIRED).
        tmp_path: a directory for the server's log (``mesh-sandbox.log``) and store.

    Yields:
        The base URL, ``https://localhost:PORT`` (the name the server certificate carries).
    """
    assert_marked_slow("mesh-sandbox")
    log = tmp_path / "mesh-sandbox.log"
    store_dir = tmp_path / "mesh-store"
    store_dir.mkdir(exist_ok=True)
    command = sandbox_command(
        server_cert=server_cert, server_key=server_key, client_ca_file=client_ca_file
    )
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=sandbox_environment(store_dir),
            cwd=tmp_path,
        )
    try:
        port = _wait_for_port(process, log)
        _wait_until_answering(port)
        yield f"https://localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT)


def sandbox_client(
    url: str, mailbox: str, *, client_cert: Path, client_key: Path, server_ca: Path
) -> MeshClient:
    """A MeshClient for a sandbox mailbox that authenticates with the given PEM files only.

    No retries (a refused certificate fails at once) and a bounded timeout.
    """
    return MeshClient(
        url,
        mailbox,
        MAILBOX_PASSWORD,
        shared_key=SHARED_KEY.encode(),
        cert=(str(client_cert), str(client_key)),
        verify=str(server_ca),
        max_retries=0,
        timeout=_CLIENT_TIMEOUT,
    )


def inbox(
    url: str, mailbox: str, *, client_cert: Path, client_key: Path, server_ca: Path
) -> list[str]:
    """The ids of the messages waiting in ``mailbox``'s inbox."""
    with contextlib.closing(
        sandbox_client(
            url, mailbox, client_cert=client_cert, client_key=client_key, server_ca=server_ca
        )
    ) as client:
        return client.list_messages()


def mesh_round_trip(
    url: str,
    *,
    client_cert: Path,
    client_key: Path,
    server_ca: Path,
    sender: str,
    recipient: str,
) -> None:
    """Handshake, send, list, retrieve, read back and acknowledge one message; check it is gone.

    Raises:
        requests.exceptions.RequestException: the connection or an API call failed (an
            ``SSLError`` or ``ConnectionError`` when the server refuses the certificate).
        mesh_client.MeshError: the sandbox refused the message.
        AssertionError: the message did not arrive intact, or was still there once acknowledged.
    """
    files = {"client_cert": client_cert, "client_key": client_key, "server_ca": server_ca}
    payload = f"truststore_builder MESH round trip {uuid.uuid4().hex}\n".encode()
    with contextlib.closing(sandbox_client(url, sender, **files)) as outgoing:
        outgoing.handshake()  # type: ignore[no-untyped-call]  # mesh_client leaves it unannotated
        message_id = outgoing.send_message(
            recipient, payload, workflow_id=WORKFLOW_ID, subject="round trip"
        )
    with contextlib.closing(sandbox_client(url, recipient, **files)) as incoming:
        incoming.handshake()  # type: ignore[no-untyped-call]  # mesh_client leaves it unannotated
        waiting = incoming.list_messages()
        if message_id not in waiting:
            msg = f"message {message_id} not in {recipient}'s inbox: {waiting}"
            raise AssertionError(msg)
        # Not ``with``: Message.__exit__ acknowledges by itself; this acknowledges explicitly.
        message = incoming.retrieve_message(message_id)
        try:
            received = message.read()
        finally:
            message.close()  # type: ignore[no-untyped-call]
        if received != payload:
            msg = f"message {message_id} read back as {received!r}, sent {payload!r}"
            raise AssertionError(msg)
        incoming.acknowledge_message(message_id)
        left = incoming.list_messages()
        if left:
            msg = f"{recipient}'s inbox still holds {left} after acknowledging {message_id}"
            raise AssertionError(msg)
