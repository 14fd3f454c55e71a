"""Node.js (Debian ``nodejs``): ``tests/node/probe.js``, HTTPS with ``ca``, ``cert``/``key``, ``pfx``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.consumers.probes import run_line_probe

PROBE = Path(__file__).resolve().parent.parent / "node" / "probe.js"


def node() -> str:
    """The ``node`` launcher, or an AssertionError when Node.js is missing."""
    found = shutil.which("node")
    if found is None:
        msg = "node is missing: apt-get install nodejs"
        raise AssertionError(msg)
    return found


def node_version() -> str:
    """``node --version`` (``v20.20.2``)."""
    return subprocess.run([node(), "--version"], capture_output=True, text=True, check=True).stdout


def run_node_probe(requests: list[list[str]]) -> list[list[str]]:
    """Run the requests in one Node.js process; the answer to each, in order."""
    return run_line_probe([node(), str(PROBE)], requests, "Node.js")
