"""The docs' commands work when followed in order, in one directory, as a newcomer would.

The README on its own (its Python example, then its command), and the guides in the order of
the docs' table of contents (quickstart, migration, client key stores): every ``build`` and
``inspect`` command in their ``sh`` blocks is run in that order through the command line's
``main()``, in one fresh directory. Commands that name a server, a file under ``/etc`` or the
certificate NHS England would send back (``check``, ``diff /etc/...``, ``csr``, ``verify``)
are left out; where a command builds with ``--cert client.pem``, the client certificate comes
from a test CA, so the test adds ``--add test-cas.pem`` to trust that CA, as the docs' own
Python example does (a renewal's ``reply.pem`` is made by that CA for the client's key).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.pki import make_certificate
from truststore_builder._cli import main

if TYPE_CHECKING:
    from tests.pki import GeneratedPki

ROOT = Path(__file__).resolve().parent.parent
GUIDES_IN_ORDER = ("quickstart.md", "migration.md", "clients.md")
RUN = {"build", "inspect"}
PASSWORD = "Docs-store-pass-3318"


def _commands_in(block: str) -> list[list[str]]:
    """The ``truststore-builder build|inspect`` commands of one sh block, in order."""
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        text = line.split("&&")[-1].split("#")[0].strip()
        words = shlex.split(text)
        if words[:1] != ["truststore-builder"] or words[1] not in RUN:
            continue
        if any(word.startswith("/etc/") for word in words):
            continue
        commands.append(words[1:])
    return commands


def documented_commands(page: Path) -> list[list[str]]:
    """Every ``truststore-builder build|inspect`` command of ``page``'s sh blocks, in order."""
    text = page.read_text(encoding="utf-8")
    return [
        c for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) for c in _commands_in(block)
    ]


@pytest.fixture
def newcomer(pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory holding what the docs assume a reader has: a client's files, a CA."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSB_STORE_PASSWORD", PASSWORD)
    chain, key = pki.g2.write_client(tmp_path, "client")
    chain.rename(tmp_path / "client.pem")
    key.rename(tmp_path / "client-key.pem")
    (tmp_path / "test-cas.pem").write_bytes(pki.g2.root.cert_pem() + pki.g2.intermediate.cert_pem())
    (tmp_path / "our-partner-ca.pem").write_bytes(pki.foreign.root.cert_pem())
    # The CA's reply to a renewal request: the client's key, a new certificate.
    renewed = make_certificate(
        pki.g2.client.certificate.subject, pki.g2.client.key, issuer=pki.g2.intermediate, ca=False
    )
    (tmp_path / "reply.pem").write_bytes(renewed.cert_pem())
    return tmp_path


def _run_in_order(commands: list[list[str]], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run each command; return the errors of those that failed (each with its command)."""
    failures = []
    for argv in commands:
        full = [*argv, "--add", "test-cas.pem"] if "--cert" in argv else argv
        status = main(full)
        err = capsys.readouterr().err
        if status != 0:
            failures.append(f"{shlex.join(argv)}: exit {status}: {err.strip()}")
    return failures


def test_the_guides_commands_run_in_order(
    newcomer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """quickstart, migration, then clients: every build and inspect succeeds, in one directory."""
    commands = [c for page in GUIDES_IN_ORDER for c in documented_commands(ROOT / "docs" / page)]
    assert len(commands) >= 6  # the extraction found the guides' commands
    assert _run_in_order(commands, capsys) == []
    assert (newcomer / "stores/int/truststore.jks").is_file()
    assert (newcomer / "stores/int-client/keystore.jks").is_file()
    assert (newcomer / "stores/mesh-x26ot001/keystore.jks").is_file()
    assert (newcomer / "MESH-APP-HOME/KEYSTORE/mesh.keystore").is_file()
    assert (newcomer / "stores/mesh-x26ot001-renewed/keystore.jks").is_file()


def test_a_second_build_into_the_same_directory_is_refused(
    newcomer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: the client guide's build into the quickstart's stores/int fails as 'already exists'."""
    quickstart = documented_commands(ROOT / "docs" / "quickstart.md")
    client = next(c for c in documented_commands(ROOT / "docs" / "clients.md") if "--cert" in c)
    into_quickstarts = [
        *client[: client.index("--out") + 1],
        "stores/int",
        *client[client.index("--out") + 2 :],
    ]
    failures = _run_in_order([*quickstart, into_quickstarts], capsys)
    assert len(failures) == 1
    assert "already exists" in failures[0]
    assert newcomer.is_dir()


def test_the_readme_runs_in_order(newcomer: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README.md's commands and its Python example, in the README's order, in one directory."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    ran = []
    for kind, block in re.findall(r"```(sh|python)\n(.*?)```", text, re.DOTALL):
        if kind == "python":
            exec(block, {"jks_password": PASSWORD})  # noqa: S102
            ran.append("python")
            continue
        commands = _commands_in(block)
        assert _run_in_order(commands, capsys) == []
        ran += [c[0] for c in commands]
    assert ran == ["build", "python", "build"]
    assert (newcomer / "stores/truststore.p12").is_file()
    assert (newcomer / "stores/int/truststore.pem").is_file()
    assert (newcomer / "stores/int-client/keystore.p12").is_file()


def test_the_deployment_pages_commands_run_in_order(
    newcomer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/deployment.md's build commands, in order, write the files the page names."""
    commands = documented_commands(ROOT / "docs" / "deployment.md")
    assert len(commands) == 3
    assert _run_in_order(commands, capsys) == []
    k8s = newcomer / "deploy" / "k8s"
    for name in ("mesh-client.secret.yaml", "mesh-client.configmap.yaml",
                 "mesh-client-password.secret.yaml", "truststore.pem"):  # fmt: skip
        assert (k8s / name).is_file(), name
    assert (newcomer / "deploy" / "mhs" / "mhs-env.sh").is_file()
    assert (newcomer / "deploy" / "windows" / "client.pfx").is_file()
    assert list((newcomer / "deploy" / "windows").glob("Root/*.cer"))
    assert list((newcomer / "deploy" / "windows").glob("chain-*.pem"))


def test_the_deployment_pages_recipe_builds(
    newcomer: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/deployment.md's recipe (trusting the test CA, as the commands do) builds every target."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    (recipe,) = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    trusting = recipe.replace(
        'environments = ["int"]\n', 'environments = ["int"]\nadd = ["test-cas.pem"]\n'
    )
    assert trusting != recipe
    (newcomer / "deploy.toml").write_text(trusting, encoding="utf-8")
    assert main(["build", "--recipe", "deploy.toml"]) == 0, capsys.readouterr().err
    for path in ("k8s/mesh-client.secret.yaml", "k8s/nhs-trust.configmap.yaml",
                 "k8s/nhs-trust-password.secret.yaml", "mhs/mhs.env", "windows/client.pfx"):  # fmt: skip
        assert (newcomer / "deploy" / path).is_file(), path
    assert list((newcomer / "deploy" / "gateway").glob("chain-*.pem"))
    # The control: built again, every file is in the way and nothing is replaced.
    assert main(["build", "--recipe", "deploy.toml"]) == 2
    assert "already exists" in capsys.readouterr().err
