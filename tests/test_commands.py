"""The tests' command helpers: the slow-mark guard, passwords kept off command lines, errors."""

from __future__ import annotations

import os
import sys

import pytest

from tests.commands import (
    PASSWORD_VARIABLE,
    RunningTest,
    assert_marked_slow,
    keytool,
    openssl,
    run,
)

#: Printed by the child below; never on its command line.
SECRET = "Helper-Secret-4417"


def test_an_unmarked_test_that_runs_keytool_fails_before_the_jvm_starts() -> None:
    """This test is not marked slow: keytool() fails it, naming the test and the mark it needs."""
    assert RunningTest.slow is False
    with pytest.raises(
        pytest.fail.Exception, match=r"starts keytool .*mark it @pytest\.mark\.slow"
    ):
        keytool("-help")
    with pytest.raises(pytest.fail.Exception, match=r"test_commands\.py"):
        assert_marked_slow("nginx")


def test_a_slow_test_may_start_a_jvm_or_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the slow mark (as conftest records it), the guard lets the helper go on."""
    monkeypatch.setattr(RunningTest, "slow", True)
    assert_marked_slow("java")
    monkeypatch.setattr(RunningTest, "slow", None)  # outside pytest: a script, nox
    assert_marked_slow("java")


def test_a_password_reaches_the_child_through_its_environment_only() -> None:
    """The child reads the password from its environment; argv and this process never hold it."""
    code = f"import os, sys; print(os.environ[{PASSWORD_VARIABLE!r}]); print(sys.argv)"
    done = run(sys.executable, "-c", code, password=SECRET)
    assert done.returncode == 0, done.stderr
    printed, argv = done.stdout.splitlines()
    assert printed == SECRET
    assert SECRET not in argv
    assert PASSWORD_VARIABLE not in os.environ
    without = run(sys.executable, "-c", code)
    assert without.returncode != 0
    assert "KeyError" in without.stderr


def test_a_failing_openssl_shows_its_stderr() -> None:
    """openssl() fails the test with openssl's own complaint; a working call returns stdout."""
    with pytest.raises(AssertionError, match=r"openssl x509 failed: .*tsb-missing\.pem"):
        openssl("x509", "-in", "/nonexistent/tsb-missing.pem")
    assert openssl("version").startswith(b"OpenSSL")
