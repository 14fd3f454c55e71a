"""Run ``tests/java/TlsClient.java`` (Java 17, single-file source launch) from pytest.

Passwords travel in environment variables only, never on the command line. Outcomes, by the
client's exit code: 0 ``ACCEPTED <reply>``, 3 ``REFUSED ...`` (the server refused us), 4
``KEYSTORE-ERROR ...`` (a store would not load, or its key would not decrypt), 5
``CONNECT-ERROR ...``, 6 ``UNTRUSTED-SERVER ...`` (we refused the server), 2 usage, 1 other.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.commands import assert_marked_slow

TLS_CLIENT = Path(__file__).resolve().parent / "java" / "TlsClient.java"
#: Generous: a source launch compiles in memory first (1 to 5 s on a busy two-core machine).
TIMEOUT_SECONDS = 60.0
#: Quicker start for a short-lived client; they change nothing it proves.
_FAST_START = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

EXIT_ACCEPTED = 0
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_KEYSTORE_ERROR = 4
EXIT_CONNECT_ERROR = 5
EXIT_UNTRUSTED_SERVER = 6

# Names of environment variables, not passwords.
_KEYSTORE_PASSWORD_VAR = "TSB_JAVA_KEYSTORE_PASSWORD"
_KEY_PASSWORD_VAR = "TSB_JAVA_KEY_PASSWORD"
_TRUSTSTORE_PASSWORD_VAR = "TSB_JAVA_TRUSTSTORE_PASSWORD"


def java_available() -> bool:
    """True when a ``java`` launcher is on PATH."""
    return shutil.which("java") is not None


@functools.cache
def _compiled_classes() -> Path | None:
    """Compile the client once per process into a temporary directory (None without javac).

    A source launch (``java TlsClient.java``) compiles on every run, over a second each time;
    running the compiled class starts in a fraction of that.
    """
    javac = shutil.which("javac")
    if javac is None:
        return None
    classes = Path(tempfile.mkdtemp(prefix="tsb-tlsclient-"))
    atexit.register(shutil.rmtree, classes, ignore_errors=True)
    subprocess.run(
        [javac, "-d", str(classes), str(TLS_CLIENT)],
        check=True,
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
    )
    return classes


def _run(
    arguments: list[str],
    *,
    passwords: dict[str, str | None],
    java_options: tuple[str, ...] = (),
    source_launch: bool = False,
) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {_KEYSTORE_PASSWORD_VAR, _KEY_PASSWORD_VAR, _TRUSTSTORE_PASSWORD_VAR}
    }
    env.update({name: value for name, value in passwords.items() if value is not None})
    assert_marked_slow("java")
    classes = None if source_launch else _compiled_classes()
    program = [str(TLS_CLIENT)] if classes is None else ["-cp", str(classes), TLS_CLIENT.stem]
    return subprocess.run(
        ["java", *_FAST_START, *java_options, *program, *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


def run_java_client(
    host: str,
    port: int | str,
    *,
    keystore: Path,
    keystore_type: str,
    keystore_password: str,
    truststore: Path,
    truststore_type: str,
    truststore_password: str | None = None,
    key_password: str | None = None,
    tls13: bool = True,
    list_only: bool = False,
    server_name: str | None = "localhost",
    java_options: tuple[str, ...] = (),
    source_launch: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run the Java TLS client against ``host:port`` (or only list the stores).

    Args:
        host: where to connect (``"-"`` with ``list_only``).
        port: the port (``"-"`` with ``list_only``).
        keystore: the key store presenting the client certificate.
        keystore_type: ``"JKS"`` or ``"PKCS12"``.
        keystore_password: the store password (passed through the environment).
        truststore: the trust store that must accept the server's certificate.
        truststore_type: ``"JKS"``, ``"PKCS12"`` or ``"PEM"``.
        truststore_password: its password; None loads it without an integrity check.
        key_password: the key entry's password when it differs from the store password.
        tls13: True forces TLS 1.3, False forces TLS 1.2 (``-Djdk.tls.client.protocols``).
        list_only: print the stores' aliases and kinds instead of connecting.
        server_name: the name the server certificate is checked against (HTTPS endpoint
            identification); None checks it against ``host``. The test server's certificate
            names ``localhost`` while it listens on 127.0.0.1.
        java_options: more JVM options, placed before the source file or class.
        source_launch: run it as ``java tests/java/TlsClient.java`` (compiled in memory on
            each run) rather than from the classes compiled once per process.

    Returns:
        The finished process: ``stdout`` holds the one-line outcome (or the listing),
        ``stderr`` the progress lines (``INFO handshake protocol=...``).
    """
    arguments = [
        host,
        str(port),
        "--keystore",
        str(keystore),
        "--keystore-type",
        keystore_type,
        "--keystore-password-env",
        _KEYSTORE_PASSWORD_VAR,
        "--truststore",
        str(truststore),
        "--truststore-type",
        truststore_type,
    ]
    if truststore_password is not None:
        arguments += ["--truststore-password-env", _TRUSTSTORE_PASSWORD_VAR]
    if key_password is not None:
        arguments += ["--key-password-env", _KEY_PASSWORD_VAR]
    if server_name is not None:
        arguments += ["--server-name", server_name]
    if list_only:
        arguments.append("--list")
    protocol = "TLSv1.3" if tls13 else "TLSv1.2"
    return _run(
        arguments,
        passwords={
            _KEYSTORE_PASSWORD_VAR: keystore_password,
            _KEY_PASSWORD_VAR: key_password,
            _TRUSTSTORE_PASSWORD_VAR: truststore_password,
        },
        java_options=(f"-Djdk.tls.client.protocols={protocol}", *java_options),
        source_launch=source_launch,
    )


def java_list_lines(
    store: Path, store_type: str, password: str | None, *, key_password: str | None = None
) -> list[list[str]]:
    """Java's view of one store: one list of tab-separated fields per alias.

    Fields: store label, alias, kind, then ``key=value`` extras (``chain=N``, ``key=RSA`` or
    ``key=UNRECOVERABLE`` for key entries, ``subject=...``). JKS and PKCS12 stores are listed
    as a key store (so key entries are tried with the password), PEM as a trust store.

    Raises:
        AssertionError: when Java cannot list the store; the message carries its output.
    """
    if store_type.upper() == "PEM":
        arguments = ["-", "-", "--truststore", str(store), "--truststore-type", "PEM"]
        if password is not None:
            arguments += ["--truststore-password-env", _TRUSTSTORE_PASSWORD_VAR]
    else:
        arguments = ["-", "-", "--keystore", str(store), "--keystore-type", store_type]
        if password is not None:
            arguments += ["--keystore-password-env", _KEYSTORE_PASSWORD_VAR]
        if key_password is not None:
            arguments += ["--key-password-env", _KEY_PASSWORD_VAR]
    result = _run(
        [*arguments, "--list"],
        passwords={
            _KEYSTORE_PASSWORD_VAR: password,
            _TRUSTSTORE_PASSWORD_VAR: password,
            _KEY_PASSWORD_VAR: key_password,
        },
    )
    if result.returncode != EXIT_ACCEPTED:
        msg = f"java --list failed ({result.returncode}): {result.stdout}{result.stderr}"
        raise AssertionError(msg)
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def java_lists(store: Path, store_type: str, password: str | None) -> dict[str, str]:
    """Java's view of one store: alias -> ``PrivateKeyEntry`` / ``trustedCertEntry``.

    An empty dict means Java sees an empty store (as it does with a PKCS#12 whose bags are
    encrypted when it is loaded without a password).
    """
    return {fields[1]: fields[2] for fields in java_list_lines(store, store_type, password)}


def outcome(result: subprocess.CompletedProcess[str]) -> str:
    """The first word of the client's one-line verdict (``ACCEPTED``, ``REFUSED``, ...)."""
    words = result.stdout.split()
    return words[0] if words else ""
