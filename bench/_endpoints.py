"""Many loopback TLS endpoints for the endpoint-check bench: one nginx listening on N ports.

One nginx process (its workers as many as the CPUs) serves every port, each the way a
Stage 1 endpoint is configured: the server's chain, ``ssl_verify_client on`` trusting the
G1-like and G2-like test CAs, and ``200 ok`` for a client it accepts. One process with N
``listen`` lines costs the machine far less than N servers, so the timings measure the
clients. Loopback only, on ports free when chosen; the whole process group is stopped when
the block exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.append(str(Path(__file__).resolve().parent.parent))
from tests.pki import make_test_pki

if TYPE_CHECKING:
    from collections.abc import Iterator

HOST = "127.0.0.1"
NGINX = "/usr/sbin/nginx"
SERVER_NAME = "localhost"
_ATTEMPTS = 4


def write_material(directory: Path) -> dict[str, Path]:
    """The server's chain and key, the CA file clients verify it with, and G1/G2 identities."""
    pki = make_test_pki()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    files = {
        "server_chain": directory / "server-chain.pem",
        "server_key": directory / "server-key.pem",
        "server_ca": directory / "server-ca.pem",
        "client_cas": directory / "client-cas.pem",
    }
    files["server_chain"].write_bytes(pki.server.cert_pem() + pki.g2.intermediate.cert_pem())
    files["server_key"].write_bytes(pki.server.key_pem())
    files["server_ca"].write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    files["client_cas"].write_bytes(
        b"".join(
            h.cert_pem()
            for h in (pki.g1.root, pki.g1.intermediate, pki.g2.root, pki.g2.intermediate)
        )
    )
    files["server_key"].chmod(0o600)
    for name, hierarchy in (("g1", pki.g1), ("g2", pki.g2)):
        files[f"{name}_cert"], files[f"{name}_key"] = hierarchy.write_client(directory, name)
    return files


def _free_ports(count: int) -> list[int]:
    """``count`` loopback ports free right now, all held open at once so none repeats."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.create_server((HOST, 0))) for _ in range(count)]
        return [s.getsockname()[1] for s in sockets]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def nginx_endpoints(directory: Path, files: dict[str, Path], count: int) -> Iterator[list[str]]:
    """Run one nginx listening on ``count`` free loopback ports; yield their ``HOST:PORT``."""
    home = directory / "nginx"
    home.mkdir(parents=True, exist_ok=True)
    for attempt in range(_ATTEMPTS):
        ports = _free_ports(count)
        listens = "\n        ".join(f"listen {HOST}:{port} ssl;" for port in ports)
        user = "user www-data;" if os.geteuid() == 0 else ""
        conf = home / "nginx.conf"
        conf.write_text(
            f"""{user}
worker_processes auto;
worker_rlimit_nofile 4096;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {home}/client_body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    default_type text/plain;
    server {{
        {listens}
        server_name {SERVER_NAME};
        ssl_certificate {files["server_chain"]};
        ssl_certificate_key {files["server_key"]};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_client_certificate {files["client_cas"]};
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""",
            encoding="utf-8",
        )
        log = (home / "stdout.log").open("ab")
        process = subprocess.Popen(
            [NGINX, "-p", str(home), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            deadline = time.monotonic() + 15
            while process.poll() is None and time.monotonic() < deadline:
                if all(_accepts(port) for port in ports):
                    yield [f"{HOST}:{port}" for port in ports]
                    return
                time.sleep(0.1)
            text = (home / "error.log").read_text(errors="replace")
            if "Address already in use" in text and attempt < _ATTEMPTS - 1:
                continue  # another process took a port between choosing and binding
            msg = f"nginx did not listen on {count} ports: {text[-2000:]}"
            raise RuntimeError(msg)
        finally:
            _stop(process)
    msg = f"nginx found no free ports in {_ATTEMPTS} attempts"
    raise RuntimeError(msg)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop nginx's whole process group: SIGTERM, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return
