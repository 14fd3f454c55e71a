"""The programs that consume deployment outputs, for the tests that prove them.

kubectl (``kubectl create ... --dry-run=client`` and ``kubectl apply --dry-run=client``
against a loopback API server that only answers discovery), the Kubernetes API's own models
(the ``kubernetes`` client), and bash sourcing an environment file in a clean environment.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kubernetes.client import ApiClient

from tests.commands import PASSWORD_VARIABLE, run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def as_model(document: dict[str, Any], model: str) -> Any:
    """Deserialise into the API's model, and prove nothing was dropped or retyped on the way.

    The client's models (pydantic) validate every field's type as the API response would be;
    serialising the model again gives back only the fields the API knows, so equality with the
    document means every key is one the API defines (a misspelt ``binarydata`` would vanish).
    """
    client = ApiClient()
    obj = client.deserialize(json.dumps(document), model, "application/json")
    assert client.sanitize_for_serialization(obj) == document  # type: ignore[no-untyped-call]
    return obj


def kubectl(*arguments: str | Path) -> dict[str, Any]:
    """What ``kubectl ARGUMENTS --dry-run=client -o json`` makes (``create secret tls``, ...)."""
    done = run("kubectl", *arguments, "--dry-run=client", "-o", "json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


class DiscoveryOnlyApi(http.server.BaseHTTPRequestHandler):
    """An API server that knows Secrets and ConfigMaps exist, and holds none of them.

    Enough for ``kubectl apply --dry-run=client``: kubectl discovers the resource types, asks
    for the object (404: it does not exist yet), and prints what it would create, as it read
    it from the file. Nothing is ever stored.
    """

    _RESOURCES: dict[str, object] = {  # noqa: RUF012 - read-only
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "v1",
        "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
             "verbs": ["create", "get", "list", "patch", "update", "delete"]}
            for plural, kind in (("secrets", "Secret"), ("configmaps", "ConfigMap"))
        ],
    }  # fmt: skip

    def do_GET(self) -> None:
        """Discovery documents, and 404 for any object."""
        path = self.path.split("?")[0]
        status, body = (
            200,
            {
                "/api": {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [],
                },
                "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
                "/api/v1": self._RESOURCES,
            }.get(path, {}),
        )
        if not body:
            status = 404
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_arguments: object) -> None:
        """Quiet."""


def kubectl_apply(api_server: str, manifest: Path) -> dict[str, Any]:
    """What ``kubectl apply --dry-run=client -f manifest`` would create, as kubectl read it.

    ``--validate=false``: the schema check needs the server's OpenAPI document, which the
    kubernetes client's models stand in for (:func:`as_model`).
    """
    done = subprocess.run(
        ["kubectl", "--server", api_server, "apply", "--dry-run=client", "--validate=false",
         "-f", str(manifest), "-o", "json"],
        env={"PATH": os.environ["PATH"], "HOME": str(manifest.parent)},
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    document["metadata"].pop("annotations")  # kubectl's last-applied-configuration
    return document


def source_in_bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run bash in ``tmp_path`` with a clean environment (nothing of ours leaks in)."""
    return subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@contextmanager
def discovery_api_server() -> Iterator[str]:
    """A loopback :class:`DiscoveryOnlyApi` server's URL, shut down on leaving."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DiscoveryOnlyApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def pfx_info(path: Path, password: str, *, legacy: bool = True) -> subprocess.CompletedProcess[str]:
    """``openssl pkcs12 [-legacy] -info -nodes`` on a PFX, the password through the environment.

    Its stdout holds the certificates and key as PEM, its stderr the algorithms (``MAC: sha1``).
    """
    return run(
        "openssl", "pkcs12", *(["-legacy"] if legacy else []), "-info", "-in", path, "-nodes",
        "-passin", f"env:{PASSWORD_VARIABLE}", password=password,
    )  # fmt: skip
