"""Running programs from the tests: keytool, openssl and the like, and our own command line.

Every external command runs with no stdin (a password prompt cannot hang), its output captured,
in the C.UTF-8 locale (the JVM decodes its arguments, and so ``-storepass``, by locale) and
under a timeout. A password goes to the child through :data:`PASSWORD_VARIABLE` in the
child's environment only, never on its command line or in an assertion message.

A test that starts a JVM or a server must be marked ``slow`` (so that ``-m "not slow"`` stays a
quick loop): :func:`assert_marked_slow` fails one that is not, and the helpers here and in
``tests/servers.py``, ``tests/java_client.py``, ``tests/mesh.py`` and ``tests/consumers/``
call it before they start one. conftest.py tells it which test is running.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from truststore_builder._cli import main

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The environment variable that carries a password to keytool (``-storepass:env``) or openssl
#: (``-passin env:``).
PASSWORD_VARIABLE = "TSB_TEST_STORE_PASSWORD"
#: Long enough for a cold JVM on a loaded 2-core machine.
TIMEOUT_SECONDS = 120
_UTF8_LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

#: Programs that start a JVM or a server (seconds each): a test that runs one is slow.
SLOW_PROGRAMS = frozenset({"keytool", "java", "javac", "jarsigner", "nginx", "apache2", "haproxy"})


class RunningTest:
    """The test pytest is running, as far as :func:`assert_marked_slow` needs to know.

    ``slow`` is None outside a test (a helper run as a script, or by nox).
    """

    name: str = ""
    slow: bool | None = None


def assert_marked_slow(what: str) -> None:
    """Fail the running test if it starts ``what`` (a JVM or a server) without the slow mark."""
    if RunningTest.slow is False:
        pytest.fail(
            f"{RunningTest.name} starts {what} (a JVM or a server): mark it @pytest.mark.slow",
            pytrace=False,
        )


def run(
    *command: str | Path, password: str | None = None, data: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its text output; its exit status is the caller's to check.

    Args:
        command: The program and its arguments.
        password: Put in the child's :data:`PASSWORD_VARIABLE` (the command names the variable).
        data: The command's standard input (none by default, so a prompt cannot hang).
    """
    program = Path(command[0]).name
    if program in SLOW_PROGRAMS:
        assert_marked_slow(program)
    env = {**os.environ, **_UTF8_LOCALE}
    if password is not None:
        env[PASSWORD_VARIABLE] = password
    return subprocess.run(
        [str(part) for part in command],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )


def keytool(
    *arguments: str | Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run JDK 17's keytool (see :func:`run`)."""
    return run("keytool", *arguments, password=password)


def keytool_list(path: Path, store_type: str, password: str | None) -> str:
    """``keytool -list`` of a store as JDK 17 sees it; fails the test when keytool fails."""
    arguments: list[str | Path] = ["-list", "-keystore", path, "-storetype", store_type]
    if password is not None:
        arguments += ["-storepass:env", PASSWORD_VARIABLE]
    done = keytool(*arguments, password=password)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def openssl(*arguments: str | Path, data: bytes | None = None) -> bytes:
    """Run openssl on bytes and return its standard output; fails the test when openssl fails."""
    done = subprocess.run(
        ["openssl", *(str(argument) for argument in arguments)],
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        check=False,
        timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, f"openssl {arguments[0]} failed: {done.stderr!r}"
    return done.stdout


def openssl_with_password(
    *arguments: str | Path, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run openssl, any password through the environment (``-passin env:``), output as text."""
    if password is None:
        return run("openssl", *arguments)
    return run("openssl", *arguments, "-passin", f"env:{PASSWORD_VARIABLE}", password=password)


def run_cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line in-process; return its status, stdout and stderr."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err
