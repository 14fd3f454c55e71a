"""The ``truststore-builder`` command line: a thin layer over the library.

Exit status: 0 on success, 1 when a check refuses the build, 2 for usage errors and input that
cannot be read. Errors go to stderr as one line that names the file and what is wrong; the
traceback only with ``--debug``. Passwords are read from an environment variable or a file,
never from the command line, and are never printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from truststore_builder._errors import (
    ALLOW_G1_REMEDY,
    OVERWRITE_REMEDY,
    CheckError,
    ExpiredCertificateWarning,
    InputError,
    MissingPasswordError,
    ReadBackError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
)
from truststore_builder._model import (
    Environment,
    Generation,
    StoreFormat,
    as_password_bytes,
    sha256_fingerprint,
)
from truststore_builder._report import (
    aligned_lines,
    diff_text,
    expiry_status,
    horizon_line,
    printable,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from truststore_builder._builders import TrustStoreBuilder
    from truststore_builder._diff import Horizon
    from truststore_builder._model import KeyStore, NhsCa, TrustedEntry, TrustStore

__all__ = ["build_parser", "main"]

PROG = "truststore-builder"

#: The formats ``build --formats`` accepts, in the order files are written and reported.
BUILD_FORMATS = (
    StoreFormat.PEM,
    StoreFormat.PKCS12,
    StoreFormat.JKS,
    StoreFormat.PKCS7,
    StoreFormat.CAPATH,
)
DEFAULT_BUILD_FORMATS = "pem,p12,jks"
#: The formats ``convert --to`` writes.
CONVERT_FORMATS = ("pem", "der", "p7b")
_CONVERT_SUFFIXES = {".pem": "pem", ".crt": "pem", ".der": "der", ".p7b": "p7b", ".p7c": "p7b"}
#: The name every ``build`` output file takes, before its format's suffix.
STORE_STEM = "truststore"


class UsageError(Exception):
    """A command line that cannot be carried out as written (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, raised rather than printed and exited."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with ``message`` and where to find help."""
        msg = f"{message} (see {self.prog} --help)"
        raise UsageError(msg)


# --- argument types -------------------------------------------------------------------------


def _comma_list(text: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not items:
        msg = f"no {what} given; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        msg = f"unknown {what} {','.join(unknown)}; choose from {','.join(allowed)}"
        raise argparse.ArgumentTypeError(msg)
    return list(dict.fromkeys(items))


def _generations(text: str) -> list[str]:
    return _comma_list(text, [g.value for g in Generation], "generation")


def _formats(text: str) -> list[str]:
    return _comma_list(text, [f.value for f in BUILD_FORMATS], "format")


def _p12_profile(text: str) -> str:
    from truststore_builder._formats.pkcs12 import resolve_pkcs12_profile  # noqa: PLC0415

    try:
        resolve_pkcs12_profile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# --- the parser -----------------------------------------------------------------------------


def _add_password_options(
    parser: argparse._ActionsContainer,
    what: str,
    *,
    option: str = "password",
) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{option}-env",
        metavar="VAR",
        help=f"read {what} from the environment variable VAR",
    )
    group.add_argument(
        f"--{option}-file",
        metavar="FILE",
        type=Path,
        help=f"read {what} from FILE (one trailing newline, LF or CRLF, is removed)",
    )


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's --debug must not reset one given before the subcommand.
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser (the CLI reference in the docs is generated from it).

    Returns:
        The parser for ``truststore-builder`` and its subcommands.
    """
    parser = _Parser(
        prog=PROG,
        description=(
            "Build the trust stores and key stores NHS systems need for the G1 to G2 PKI "
            "move: the NHS CAs of an environment, checked against pinned fingerprints, and a "
            "system's client certificate and key, checked, written as PEM, PKCS#12, JKS, "
            "PKCS#7 or an OpenSSL hashed directory."
        ),
        epilog=(
            "Exit status: 0 success, 1 a check refused the build, 2 a usage error or input "
            "that cannot be read."
        ),
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show program's version number and exit"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # nhs list
    nhs = commands.add_parser(
        "nhs",
        help="the NHS CA catalogue shipped with truststore_builder",
        description="The NHS CA catalogue shipped with truststore_builder.",
    )
    _add_common_options(nhs)
    nhs_commands = nhs.add_subparsers(dest="nhs_command", metavar="COMMAND", required=True)
    nhs_list = nhs_commands.add_parser(
        "list",
        help="list every NHS CA the catalogue knows",
        description=(
            "List every NHS CA the catalogue knows, in store order: its alias, name, "
            "environments, generation, role, purpose, pinned fingerprint, and whether its "
            "file is shipped (or only its fingerprint is pinned, so that a file you add is "
            "recognised)."
        ),
    )
    _add_common_options(nhs_list)
    nhs_list.add_argument(
        "--env",
        choices=[e.value for e in Environment],
        help="only the CAs of this environment",
    )
    nhs_list.add_argument("--json", action="store_true", help="print JSON instead of a table")
    nhs_list.set_defaults(handler=_nhs_list)

    # build
    build = commands.add_parser(
        "build",
        help="build an environment's trust stores (and a client's key stores) in several formats",
        description=(
            "Build the trust store of an NHS environment (G1 and G2 CAs by default) and write "
            "it to DIR as truststore.pem, truststore.p12 and truststore.jks (and "
            "truststore.p7b, and capath/, OpenSSL's hashed CA directory, when asked). Every "
            "file is read back and checked before any is "
            "written; an existing file is not replaced without --force. Certificates that "
            "have expired are kept and named on stderr, or left out with --drop-expired."
        ),
        epilog=(
            "JKS needs a password: give one with --password-env or --password-file, or leave "
            "jks out of --formats (Java's conventional 'changeit' is never assumed). "
            "Without a password the PKCS#12 file is truly password-less (no integrity MAC), "
            "as Java 18+ reads its own cacerts."
        ),
    )
    _add_common_options(build)
    build.add_argument(
        "--recipe",
        type=Path,
        metavar="FILE.toml",
        help=(
            "build every target a TOML recipe names, or none (see Recipes in the docs); "
            "takes only --force and --json besides"
        ),
    )
    build.add_argument(
        "--env",
        choices=["prod", "int", "dep"],
        help="the NHS environment: prod, or the PTL environments int and dep (required "
        "without --recipe)",
    )
    build.add_argument(
        "--generations",
        type=_generations,
        default=["g1", "g2"],
        metavar="g1,g2",
        help="which NHS PKI generations to trust (default: g1,g2, the transition store)",
    )
    build.add_argument(
        "--add",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help=(
            "also trust the CA certificates in FILE (PEM, DER, PKCS#7, a directory of them, or "
            "a PKCS#12, JKS or JCEKS store, with its password from --add-password-env or "
            "--add-password-file: without one a JKS store is read unchecked and a protected "
            "PKCS#12 not at all); repeatable"
        ),
    )
    _add_password_options(
        build,
        "the password of the --add stores (PKCS#12, JKS, JCEKS; it also proves them unaltered)",
        option="add-password",
    )
    build.add_argument(
        "--certifi",
        action="store_true",
        help="also trust the public web roots of the certifi package (Mozilla's list)",
    )
    build.add_argument(
        "--allow-test-pki-impostors",
        action="store_true",
        help=(
            "for test PKIs only: let --add CAs carry an NHS CA's subject without being the "
            "pinned certificate (refused by default; never named or aliased as the NHS CA)"
        ),
    )
    build.add_argument(
        "--drop-expired",
        action="store_true",
        help="leave out certificates that have expired, instead of keeping them with a warning",
    )
    build.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the directory to write (created if missing; required without --recipe)",
    )
    build.add_argument(
        "--formats",
        type=_formats,
        default=_formats(DEFAULT_BUILD_FORMATS),
        metavar="pem,p12,jks,p7b,capath",
        help=f"the files to write (default: {DEFAULT_BUILD_FORMATS})",
    )
    _add_password_options(build, "the store password (also the key stores' password)")
    _add_identity_options(build)
    build.add_argument("--force", action="store_true", help="replace existing files")
    build.add_argument(
        "--json",
        action="store_true",
        help="print a JSON report: per file its path, format, entry count, SHA-256s, read-back",
    )
    build.set_defaults(handler=_build)

    # convert
    convert = commands.add_parser(
        "convert",
        help="convert a certificate file between PEM, DER and PKCS#7",
        description=(
            "Convert any certificate file truststore_builder reads (PEM, DER, PKCS#7, a "
            "directory) to PEM, DER (exactly one certificate) or PKCS#7."
        ),
    )
    _add_common_options(convert)
    convert.add_argument("input", type=Path, metavar="INPUT", help="the file to read")
    convert.add_argument("output", type=Path, metavar="OUTPUT", help="the file to write")
    convert.add_argument(
        "--to",
        choices=CONVERT_FORMATS,
        help="the output format (default: from OUTPUT's suffix: .pem/.crt, .der, .p7b/.p7c)",
    )
    convert.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    convert.set_defaults(handler=_convert)

    # inspect
    inspect = commands.add_parser(
        "inspect",
        help="list the certificates in a trust store or certificate file",
        description=(
            "List the certificates in FILE (PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS), one line "
            "each: alias, subject, issuer, not-after, SHA-256, the NHS name and generation "
            "where the catalogue knows the certificate, and whether it has expired."
        ),
    )
    _add_common_options(inspect)
    inspect.add_argument("file", type=Path, metavar="FILE", help="the file to read")
    _add_password_options(inspect, "the password of a PKCS#12, JKS or JCEKS store")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inspect.add_argument(
        "--fail-within",
        metavar="DAYS",
        type=_days,
        help=(
            "exit 1 if any certificate expires within DAYS days (an expired one always "
            "counts), so that a deployment fails ahead of an expiry"
        ),
    )
    inspect.add_argument(
        "--at",
        metavar="ISO-8601",
        type=_timestamp,
        help="judge expiry at this time, e.g. 2026-01-31T12:00:00Z (default: now)",
    )
    inspect.set_defaults(handler=_inspect)

    _add_verify_parser(commands)
    _add_csr_parser(commands)
    _add_check_parser(commands)
    _add_diff_parser(commands)
    return parser


def _add_identity_options(build: argparse.ArgumentParser) -> None:
    identity = build.add_argument_group(
        "client identity",
        "With --cert and --key, build also writes the client's key stores: keystore.p12 and "
        "keystore.jks (the key entry with its chain, plus the trusted CAs, in one file: what "
        "the MESH Java client reads), client-chain.pem (leaf first) and client-key.pem "
        "(mode 0600). The identity is checked first: key match, key strength, validity, "
        "clientAuth, a chain to the environment's G2 (or G1) root, and the environment.",
    )
    identity.add_argument("--cert", type=Path, metavar="FILE", help="the client certificate")
    identity.add_argument("--key", type=Path, metavar="FILE", help="its private key (PEM or DER)")
    _add_password_options(
        identity, "the password of an encrypted --key file", option="key-password"
    )
    identity.add_argument(
        "--chain", type=Path, metavar="FILE", help="issuer certificates, if you have them"
    )
    identity.add_argument(
        "--alias", metavar="NAME", help="the key entry's alias (default: from the CN)"
    )
    identity.add_argument(
        "--p12-profile",
        default="modern",
        type=_p12_profile,
        metavar="PROFILE",
        help=(
            "PKCS#12 key store encryption: modern (AES-256, PBKDF2, SHA-256 MAC; the default) "
            "or legacy (3DES, SHA-1 MAC), or a consumer's name: java8, java11, java17, "
            "windows2016, windows2019, dotnet-framework, openssl3, ..."
        ),
    )
    _add_password_options(
        identity,
        "a separate password for the JKS key entry (default: the store password)",
        option="jks-key-password",
    )
    identity.add_argument(
        "--encrypt-key-pem",
        action="store_true",
        help="encrypt client-key.pem with the store password (AES-256 PKCS#8)",
    )
    identity.add_argument(
        "--allow-g1",
        action="store_true",
        help="package a G1 client certificate (with a warning) instead of refusing it",
    )


def _add_verify_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    verify = commands.add_parser(
        "verify",
        help="check that a client certificate chains to an environment or a trust store",
        description=(
            "Check a client certificate (and optionally its key) against every rule the "
            "library applies before packaging it: key match, key strength, validity at a "
            "time, clientAuth, a chain to a trusted root under the NHS chain policy, and the "
            "environment. Prints the chain found, the generation and expiry, and every "
            "failed rule."
        ),
        epilog="Exit status: 0 it verifies, 1 it does not, 2 unreadable input or usage.",
    )
    _add_common_options(verify)
    verify.add_argument("cert", type=Path, metavar="CERT", help="the certificate (or chain) file")
    target = verify.add_argument_group("what to verify against (one or both)")
    target.add_argument("--env", choices=["prod", "int", "dep"], help="an NHS environment")
    target.add_argument("--trust", type=Path, metavar="FILE", help="a trust store or CA file")
    _add_password_options(verify, "the --trust store's password")
    verify.add_argument("--key", type=Path, metavar="FILE", help="check this private key matches")
    _add_password_options(verify, "the --key file's password", option="key-password")
    verify.add_argument(
        "--at",
        metavar="ISO-8601",
        type=_timestamp,
        help="the validation time, e.g. 2026-01-31T12:00:00Z (default: now)",
    )
    verify.add_argument("--json", action="store_true", help="print a JSON report")
    verify.set_defaults(handler=_verify)


def _add_csr_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    csr = commands.add_parser(
        "csr",
        help="generate a key and a CN-only certificate signing request",
        description=(
            "Generate an RSA key and a certificate signing request whose subject is the CN "
            "alone, as NHS England asks (every other field, email included, blank). Give the "
            "CN, or let it be built from a MESH mailbox or a BaRS receiver's ODS code and "
            "organisation. The key file is written with mode 0600."
        ),
    )
    _add_common_options(csr)
    name = csr.add_mutually_exclusive_group(required=True)
    name.add_argument("--cn", metavar="FQDN", help="the endpoint's fully-qualified name")
    name.add_argument(
        "--mesh",
        metavar="MAILBOX.ODS",
        help="a MESH API client: CN <mailbox>.<ods>.api.mesh-client.nhs.uk",
    )
    name.add_argument(
        "--bars",
        metavar="ODS.ORGANISATION",
        help=(
            "a BaRS receiver: CN BaRS-<ODS>.<Organisation>.nhs.uk (prod) or "
            "BaRS-INT-<ODS>.<Supplier>.thirdparty.nhs.uk (--env int)"
        ),
    )
    csr.add_argument(
        "--env", choices=["prod", "int"], default="prod", help="for --bars (default: prod)"
    )
    csr.add_argument("--key-out", type=Path, required=True, metavar="FILE", help="the key file")
    csr.add_argument("--csr-out", type=Path, required=True, metavar="FILE", help="the CSR file")
    csr.add_argument(
        "--key-size", type=int, default=2048, metavar="BITS", help="RSA key size (default 2048)"
    )
    _add_password_options(csr, "a password to encrypt the key file with (default: unencrypted)")
    csr.add_argument("--force", action="store_true", help="replace existing files")
    csr.set_defaults(handler=_csr)


def _add_diff_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    diff = commands.add_parser(
        "diff",
        help="compare two stores: certificates added, removed and kept; key entries changed",
        description=(
            "Compare OLD and NEW (each PEM, DER, PKCS#7, PKCS#12, JKS or JCEKS, in any mix) "
            "before NEW replaces OLD. Certificates are matched by SHA-256 fingerprint and shown "
            "with alias, subject, NHS name and generation, and expiry; key entries are "
            "compared by alias, then by public key, and reported when their certificate, key "
            "or chain changed. Exit status: 0 the stores are equal, 1 they differ, 2 a usage "
            "error or a store that cannot be read."
        ),
    )
    _add_common_options(diff)
    diff.add_argument("old", type=Path, metavar="OLD", help="the store in use")
    diff.add_argument("new", type=Path, metavar="NEW", help="the store to replace it")
    _add_password_options(diff, "OLD's password", option="old-password")
    _add_password_options(diff, "NEW's password", option="new-password")
    diff.add_argument(
        "--all", action="store_true", help="also list the entries that did not change"
    )
    diff.add_argument(
        "--ignore-aliases",
        action="store_true",
        help="do not count a certificate's alias change as a difference",
    )
    diff.add_argument(
        "--at",
        metavar="ISO-8601",
        type=_timestamp,
        help="judge expiry at this time, e.g. 2026-01-31T12:00:00Z (default: now)",
    )
    diff.add_argument("--json", action="store_true", help="print JSON instead of text")
    diff.set_defaults(handler=_diff)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        msg = f"not a whole number of days, 0 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return days


def _timestamp(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"not an ISO-8601 time: {text!r} (e.g. 2026-01-31T12:00:00Z)"
        raise argparse.ArgumentTypeError(msg) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class _VersionAction(argparse.Action):
    """``--version``: look the version up only when asked (importlib.metadata is slow to load)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,  # noqa: ARG002
        values: object,  # noqa: ARG002
        option_string: str | None = None,  # noqa: ARG002
    ) -> None:
        """Print the version and exit, as argparse's own version action does."""
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("truststore-builder")
    except PackageNotFoundError:
        return "(not installed)"


# --- helpers ----------------------------------------------------------------------------------


def _say(stream: TextIO, kind: str, message: str) -> None:
    r"""Print ``message`` as one line: newlines inside it would break the one-line promise.

    Control characters (a certificate's subject can hold ESC or CR) are shown as escapes, and
    so are the surrogates a file name that is not UTF-8 arrives with (\udcff), which a
    stream might refuse.
    """
    text = printable(" ".join(message.split("\n")))  # a CR stays, to be shown escaped
    stream.write(f"{PROG}: {kind}: {text}\n")


def _password(args: argparse.Namespace) -> bytes | None:
    """The store password the options name, as bytes, or None when none was given.

    Raises:
        UsageError: The variable is unset or empty, or the file cannot be read or is empty.
    """
    return _secret(args.password_env, args.password_file, "password")


def _secret(variable: str | None, path: Path | None, option: str) -> bytes | None:
    """Read a secret from ``--<option>-env VAR`` or ``--<option>-file FILE``; None if neither.

    Messages name the option, never its value: a password typed where the variable's name or
    the file's path belongs must not be printed back.

    Raises:
        UsageError: The variable is unset or empty, or the file cannot be read or is empty.
        InvalidPasswordError: The secret holds a NUL character.
    """
    if variable is not None:
        name = f"--{option}-env"
        value = os.environ.get(variable)
        if value is None:
            msg = f"{name}: the environment variable it names is not set (its name is not shown)"
            raise UsageError(msg)
        if not value:
            msg = f"{name}: the environment variable it names is empty"
            raise UsageError(msg)
        return as_password_bytes(os.fsencode(value), f"{name}: the value of the variable it names")
    if path is not None:
        name = f"--{option}-file"
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"{name}: cannot read the file it names ({exc.strerror}; its path is not shown)"
            raise UsageError(msg) from None
        for ending in (b"\r\n", b"\n"):
            if data.endswith(ending):
                data = data[: -len(ending)]
                break
        if not data:
            msg = f"{name}: the file it names is empty"
            raise UsageError(msg)
        return as_password_bytes(data, f"{name}: the file it names")
    return None


def _out(text: str) -> None:
    """Write ``text`` to stdout, each line made printable: nothing it quotes drives the terminal."""
    sys.stdout.write("".join(printable(line) + "\n" for line in text.split("\n")))


def _dump_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _nhs_fields(nhs: NhsCa | None) -> dict[str, object]:
    if nhs is None:
        return {"nhs_name": None, "nhs_generation": None, "nhs_environments": None}
    return {
        "nhs_name": nhs.name,
        "nhs_generation": nhs.generation.value,
        "nhs_environments": [e.value for e in nhs.environments],
    }


def _date(when: dt.datetime) -> str:
    return f"{when:%Y-%m-%d}"


def _table(rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(aligned_lines(rows))


# --- nhs list ---------------------------------------------------------------------------------


def _nhs_list(args: argparse.Namespace) -> int:
    from truststore_builder._sources.nhs import nhs_catalogue  # noqa: PLC0415

    cas = [ca for ca in nhs_catalogue().cas if args.env is None or args.env in ca.environments]
    if args.json:
        _dump_json(
            [
                {
                    "slug": ca.slug,
                    "name": ca.name,
                    "environments": [e.value for e in ca.environments],
                    "generation": ca.generation.value,
                    "role": ca.role,
                    "purpose": ca.purpose,
                    "sha256": ca.sha256,
                    "sha1": ca.sha1,
                    "shipped": ca.file is not None,
                }
                for ca in cas
            ]
        )
        return 0
    rows = [("alias", "name", "environments", "gen", "role", "purpose", "file", "fingerprint")]
    rows.extend(
        (
            ca.slug,
            ca.name,
            ",".join(ca.environments),
            ca.generation.value,
            ca.role,
            ca.purpose,
            "shipped" if ca.file else "pinned only",
            f"sha256:{ca.sha256}" if ca.sha256 else f"sha1:{ca.sha1}",
        )
        for ca in cas
    )
    _out(_table(rows))
    return 0


# --- build ------------------------------------------------------------------------------------


def _expiry_line(entry: TrustedEntry, at: dt.datetime, *, kept: bool) -> str:
    """One line naming a certificate that is not valid at ``at``, and what became of it."""
    known = f"{entry.nhs.name}, {entry.nhs.generation}" if entry.nhs else entry.subject
    name = f"{entry.alias} ({known})"
    if at < entry.not_before:
        state = f"is not valid until {_date(entry.not_before)}"
    else:
        state = f"expired on {_date(entry.not_after)}"
    fate = (
        "kept in the store (--drop-expired leaves it out)" if kept else "left out (--drop-expired)"
    )
    return f"{name} {state}; {fate}"


def _trust_builder(args: argparse.Namespace) -> TrustStoreBuilder:
    """The trust store the build options describe (shared by trust and key stores)."""
    from truststore_builder._builders import TrustStoreBuilder  # noqa: PLC0415

    builder = TrustStoreBuilder().add_nhs(args.env, generations=args.generations)
    add_password = _secret(args.add_password_env, args.add_password_file, "add-password")
    for path in args.add:
        builder = builder.add_file(path, password=add_password)
    if args.certifi:
        builder = builder.add_certifi()
    if args.drop_expired:
        builder = builder.drop_expired()
    if args.allow_test_pki_impostors:
        builder = builder.allow_test_pki_impostors()
    return builder


def _build_store(args: argparse.Namespace) -> TrustStore:
    # The builder names all expired certificates in one warning; the command line names each
    # on its own line instead, from the store itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return _trust_builder(args).build()


_PASSWORDED = frozenset({StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.JCEKS})


def _read_back_from_disk(path: Path, fmt: StoreFormat, password: bytes | None) -> list[str]:
    """SHA-256s of the certificates in the file as written, read again from disk.

    Raises:
        ReadBackError: A PKCS#12 or JKS entry is not a trusted certificate entry.
    """
    from truststore_builder._sources.files import read_store  # noqa: PLC0415

    if fmt is StoreFormat.CAPATH:
        from truststore_builder._formats import capath  # noqa: PLC0415

        try:
            found = capath.check_capath_files(capath.read_capath_directory(path), str(path))
        except ValueError as exc:
            raise ReadBackError(str(exc), source=str(path)) from None
        return [sha256_fingerprint(certificate) for certificate in found]
    entries = read_store(path, password=password if fmt in _PASSWORDED else None)
    if fmt in _PASSWORDED and not all(entry.trusted for entry in entries):
        msg = f"{path}: an entry does not read back as a trusted certificate entry"
        raise ReadBackError(msg, source=str(path))
    return [sha256_fingerprint(entry.certificate) for entry in entries]


def _build_checks(args: argparse.Namespace, formats: Sequence[StoreFormat]) -> bytes | None:
    """Everything about the command line that can be refused before any certificate is read.

    Returns:
        The store password, or None.
    """
    password = _password(args)
    if StoreFormat.JKS in formats and password is None:
        msg = (
            "a JKS trust store needs a password and none was given: pass --password-env VAR "
            "or --password-file FILE, or leave jks out (--formats pem,p12); "
            "Java's 'changeit' is never assumed"
        )
        raise MissingPasswordError(msg)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        msg = f"{out}: --out must be a directory, and this is a file"
        raise UsageError(msg)
    return password


def _write_build(
    store: TrustStore,
    out: Path,
    targets: dict[Path, StoreFormat],
    password: bytes | None,
    client_files: Sequence[tuple[Path, bytes, bool]],
    *,
    force: bool,
) -> list[Path]:
    """Create ``out`` if needed and write every file, or none (and no new directory).

    Returns:
        The trust store files written (the client files are written with them).
    """
    from truststore_builder._writing import (  # noqa: PLC0415
        make_directories,
        remove_directories,
        serialize_capath,
        serialize_store,
        write_outputs,
    )

    # 0700 when it will hold the client's key; 0755 otherwise; whatever the umask.
    created = make_directories(out, private=any(private for _, _, private in client_files))
    try:
        planned = [
            (path, serialize_store(store, fmt, password), False)
            for path, fmt in targets.items()
            if fmt is not StoreFormat.CAPATH
        ]
        directories = [
            (path, serialize_capath(store))
            for path, fmt in targets.items()
            if fmt is StoreFormat.CAPATH
        ]
        write_outputs([*planned, *client_files], directories, overwrite=force)
    except BaseException:
        # Leave nothing behind: the directories were ours and nothing was written into them.
        remove_directories(created)
        raise
    return list(targets)


def _build_keystore(args: argparse.Namespace, password: bytes | None) -> KeyStore | None:
    """The checked client identity, when --cert and --key were given."""
    from truststore_builder._builders import KeyStoreBuilder  # noqa: PLC0415

    if args.cert is None and args.key is None:
        return None
    if args.cert is None or args.key is None:
        msg = "--cert and --key go together: give both to build the client's key stores"
        raise UsageError(msg)
    if password is None:
        msg = (
            "a key store needs a password and none was given (without one Java reads the key "
            "entry as an empty store): pass --password-env VAR or --password-file FILE"
        )
        raise MissingPasswordError(msg)
    builder = (
        KeyStoreBuilder()
        .with_truststore(_trust_builder(args))
        .with_identity(
            args.cert,
            args.key,
            key_password=_secret(args.key_password_env, args.key_password_file, "key-password"),
            chain=args.chain,
            alias=args.alias,
        )
        .allow_g1(args.allow_g1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return builder.build()


def _keystore_files(
    keystore: KeyStore, args: argparse.Namespace, formats: Sequence[StoreFormat], password: bytes
) -> list[tuple[Path, bytes, bool]]:
    """Serialise (and read back) every client file the formats call for; nothing is written."""
    from truststore_builder._writing import serialize_keystore  # noqa: PLC0415

    jks_key_password = _secret(
        args.jks_key_password_env, args.jks_key_password_file, "jks-key-password"
    )
    planned: list[tuple[Path, bytes, bool]] = []
    for fmt in formats:
        if fmt is StoreFormat.PEM:
            key_pem = keystore.key_pem(password if args.encrypt_key_pem else None)
            planned += [
                (args.out / "client-chain.pem", keystore.chain_pem(), False),
                (args.out / "client-key.pem", key_pem, True),
            ]
        elif fmt in (StoreFormat.PKCS12, StoreFormat.JKS):
            data = serialize_keystore(
                keystore,
                fmt,
                password,
                key_password=jks_key_password if fmt is StoreFormat.JKS else None,
                profile=args.p12_profile,
            )
            planned.append((args.out / f"keystore.{fmt.value}", data, True))
    return planned


def _build_recipe(args: argparse.Namespace) -> int:
    """``build --recipe FILE``: every target of the recipe, or none."""
    from truststore_builder._recipe import TerminalProgress, load_recipe  # noqa: PLC0415

    defaults = build_parser().parse_args(["build", "--recipe", str(args.recipe)])
    mixed = sorted(
        f"--{name.replace('_', '-')}"
        for name, value in vars(args).items()
        if name not in {"recipe", "force", "json", "debug", "handler"}
        and value != getattr(defaults, name, None)
    )
    if mixed:
        msg = f"--recipe takes its inputs and outputs from the recipe, not {', '.join(mixed)}"
        raise UsageError(msg)
    recipe = load_recipe(args.recipe)
    result = recipe.build(overwrite=args.force, progress=TerminalProgress.for_stream(sys.stderr))
    if args.json:
        _dump_json(result.as_dict())
    else:
        for file in result.files:
            _out(f"wrote {file.path} ({file.format}, {file.description})")
        _out(result.summary())
    return 0


def _require_env_and_out(args: argparse.Namespace) -> None:
    """Without --recipe, --env and --out are required (argparse cannot say "unless")."""
    missing = [f"--{name}" for name in ("env", "out") if getattr(args, name) is None]
    if missing:
        msg = (
            f"the following arguments are required: {', '.join(missing)} (or --recipe FILE) "
            f"(see {PROG} build --help)"
        )
        raise UsageError(msg)


def _build(args: argparse.Namespace) -> int:
    if args.recipe is not None:
        return _build_recipe(args)
    _require_env_and_out(args)
    return _build_stores(args)


def _build_stores(args: argparse.Namespace) -> int:
    formats = [StoreFormat(f) for f in args.formats]
    password = _build_checks(args, formats)
    keystore = _build_keystore(args, password)
    store = keystore.truststore if keystore is not None else _build_store(args)
    if not store.entries:
        msg = (
            f"no certificate is left in the {args.env} store "
            f"(generations {','.join(args.generations)}) after leaving out expired ones; "
            "nothing was written"
        )
        raise CheckError(msg)
    for entry in store.expired:
        _say(sys.stderr, "warning", _expiry_line(entry, store.validated_at, kept=True))
    for entry in store.dropped:
        _say(sys.stderr, "note", _expiry_line(entry, store.validated_at, kept=False))

    targets = {
        args.out / ("capath" if fmt is StoreFormat.CAPATH else f"{STORE_STEM}.{fmt.value}"): fmt
        for fmt in formats
    }
    client_files = (
        _keystore_files(keystore, args, formats, password)
        if keystore is not None and password is not None
        else []
    )
    written = _write_build(store, args.out, targets, password, client_files, force=args.force)

    expected = [entry.sha256 for entry in store.entries]
    report: list[dict[str, object]] = []
    for path in written:
        fmt = targets[path]
        found = _read_back_from_disk(path, fmt, password)
        # PKCS#7 is a SET OF certificates: its order is DER's, not ours; capath's is by hash.
        unordered = fmt in {StoreFormat.PKCS7, StoreFormat.CAPATH}
        ok = sorted(found) == sorted(expected) if unordered else found == expected
        report.append(
            {
                "path": str(path),
                "format": fmt.value,
                "entries": len(found),
                "sha256": found,
                "read_back_ok": ok,
            }
        )
    client = _client_report(keystore, client_files)
    if args.json:
        _dump_json(
            {
                "environment": args.env,
                "generations": args.generations,
                "client": client,
                "validated_at": store.validated_at.isoformat(),
                "files": report,
                "expired": [entry.alias for entry in store.expired],
                "dropped": [entry.alias for entry in store.dropped],
            }
        )
    else:
        for item in report:
            state = "read back ok" if item["read_back_ok"] else "READ BACK DIFFERS"
            count = item["entries"]
            _out(f"wrote {item['path']} ({item['format']}, {count} certificates, {state})")
        if client is not None:
            for path in client["files"]:  # type: ignore[attr-defined]
                _out(f"wrote {path} (client {client['alias']}, {client['subject']})")
    bad = [str(item["path"]) for item in report if not item["read_back_ok"]]
    if bad:
        msg = f"{', '.join(bad)}: the file on disk does not hold what was written"
        raise ReadBackError(msg, source=bad[0])
    return 0


def _client_report(
    keystore: KeyStore | None, client_files: Sequence[tuple[Path, bytes, bool]]
) -> dict[str, object] | None:
    if keystore is None:
        return None
    report = keystore.report
    return {
        "alias": keystore.alias,
        "subject": report.subject,
        "issuer": keystore.identity.certificate.issuer.rfc4514_string(),
        "generation": report.generation.value if report.generation else None,
        "not_after": keystore.identity.certificate.not_valid_after_utc.isoformat(),
        "chain": [c.subject.rfc4514_string() for c in keystore.chain],
        "files": [str(path) for path, _, _ in client_files],
    }


# --- check ------------------------------------------------------------------------------------


def _identity_option(text: str) -> tuple[str, Path, Path]:
    name, sep, files = text.partition("=")
    cert, comma, key = files.partition(",")
    if not (sep and comma and name.strip() and cert.strip() and key.strip()):
        msg = f"not NAME=CERT,KEY: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return name.strip(), Path(cert.strip()), Path(key.strip())


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        msg = f"not a positive number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_integer(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        msg = f"not a whole number of 1 or more: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _http_path(text: str) -> str:
    from truststore_builder._endpoint import check_http_path  # noqa: PLC0415

    try:
        return check_http_path(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_check_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    check = commands.add_parser(
        "check",
        help="check that a live endpoint presents a good chain and accepts G1/G2 identities",
        description=(
            "Connect to HOST:PORT over TLS: report the certificate chain the server presents "
            "(subjects, issuers, NHS generation, expiry, whether it verifies against the "
            "environment's G1+G2 CAs or --trust, whether its name matches) and whether it "
            "asks for a client certificate; then, for each --identity, whether the server "
            "accepts it: after each handshake it sends GET / (or --path) and reads the reply, "
            "so 'accepted' means the server saw that certificate and served the request, and "
            "'refused' gives the server's own words (a TLS alert, a close before any reply, "
            "nginx's 400, Apache's 403). 'not-sent': the server's request allows no signature "
            "algorithm the identity's key can make. The connection without a certificate, "
            "probed the same way, tells an optional client certificate from a required one. "
            "NHS England's Stage 1 test is one G1 and one G2 identity against each endpoint."
        ),
        epilog=(
            "Identity files are PEM: the certificate first (its chain may follow) and an "
            "unencrypted key (encrypted keys are not supported; key paths may be printed, "
            "key contents never). Exit status: 0 every endpoint's chain verifies, its name "
            "matches and every identity is accepted; 1 otherwise; 2 a usage error or an "
            "unreadable file."
        ),
    )
    _add_common_options(check)
    check.add_argument(
        "endpoint", nargs="?", metavar="HOST:PORT", help="the endpoint (port 443 if left out)"
    )
    target = check.add_mutually_exclusive_group()
    target.add_argument(
        "--env", choices=["prod", "int", "dep"], help="verify the server's chain against this"
    )
    target.add_argument(
        "--trust", type=Path, metavar="FILE", help="verify the server's chain against these CAs"
    )
    check.add_argument(
        "--identity",
        action="append",
        default=[],
        type=_identity_option,
        metavar="NAME=CERT,KEY",
        help="a client identity to try (e.g. g2=client-chain.pem,client-key.pem); repeatable",
    )
    check.add_argument(
        "--server-name",
        metavar="NAME",
        help="the name to send (SNI) and match the certificate to (default: HOST)",
    )
    check.add_argument(
        "--timeout",
        type=_positive_number,
        default=10.0,
        metavar="SECONDS",
        help="for each connection, from the TCP connect to the end of the reply (default: 10)",
    )
    check.add_argument(
        "--probe",
        choices=["http", "tls"],
        default="http",
        help=(
            "after the handshake: http sends GET PATH and judges the reply (default); tls "
            "judges the TLS exchange alone, for a server that speaks no HTTP"
        ),
    )
    check.add_argument(
        "--path",
        default="/",
        type=_http_path,
        metavar="PATH",
        help="the path of the HTTP request (default: /)",
    )
    check.add_argument(
        "--tls-version",
        choices=["1.2", "1.3"],
        help="connect with this TLS version only (default: either, as the server chooses)",
    )
    check.add_argument("--json", action="store_true", help="print a JSON report")
    check.add_argument(
        "--from-file",
        type=Path,
        metavar="FILE",
        help="check every HOST:PORT in FILE, one a line ('#' starts a comment)",
    )
    check.add_argument(
        "--concurrency",
        type=_positive_integer,
        default=8,
        metavar="N",
        help="how many endpoints are checked at once with --from-file (default: 8)",
    )
    check.set_defaults(handler=_check)


def _check_endpoints_of(args: argparse.Namespace) -> list[tuple[str, int]]:
    from truststore_builder._endpoint import parse_endpoint  # noqa: PLC0415

    lines: list[tuple[str, str]] = []
    if args.endpoint is not None:
        lines.append(("command line", args.endpoint))
    if args.from_file is not None:
        try:
            text = args.from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{args.from_file}: cannot read the endpoint list ({exc})"
            raise UsageError(msg) from None
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.split("#", 1)[0].strip()
            if entry:
                lines.append((f"{args.from_file}:{number}", entry))
    if not lines:
        msg = "give an endpoint HOST:PORT, or --from-file FILE"
        raise UsageError(msg)
    endpoints = []
    for where, entry in lines:
        try:
            endpoints.append(parse_endpoint(entry))
        except ValueError as exc:
            msg = f"{where}: {exc}"
            raise UsageError(msg) from None
    return endpoints


def _check(args: argparse.Namespace) -> int:
    from truststore_builder._endpoint import check_endpoints  # noqa: PLC0415

    if args.env is None and args.trust is None:
        msg = "give --env ENV or --trust FILE to verify the server's chain against"
        raise UsageError(msg)
    endpoints = _check_endpoints_of(args)
    names = [name for name, _, _ in args.identity]
    if len(set(names)) != len(names):
        msg = f"--identity names must be unique: {', '.join(names)}"
        raise UsageError(msg)
    reports = check_endpoints(
        endpoints,
        concurrency=args.concurrency,
        environment=args.env,
        trust=args.trust,
        identities=args.identity,
        server_name=args.server_name,
        timeout=args.timeout,
        probe=args.probe,
        path=args.path,
        tls_version=args.tls_version,
    )
    ok = all(report.ok for report in reports)
    if args.json:
        _dump_json({"ok": ok, "endpoints": [report.as_dict() for report in reports]})
        return 0 if ok else 1
    for report in reports:
        _out(report.summary())
        server = report.server
        if server is not None:
            for i, link in enumerate(server.presented):
                known = f" [{link.nhs.name}, {link.nhs.generation}]" if link.nhs else ""
                _out(
                    f"  presented[{i}] {link.subject}{known} "
                    f"(issuer {link.issuer}; expires {link.not_after:%Y-%m-%d})"
                )
            for failure in server.failures:
                _out(f"  FAILED {failure}")
        if report.requested_issuers:
            _out(f"  asks for certificates from: {'; '.join(report.requested_issuers)}")
        for result in (report.probe, *report.identities):
            label = result.name or "(no certificate)"
            _out(f"  {label}: {result.outcome.value}: {result.detail}")
    return 0 if ok else 1


# --- verify -----------------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    from truststore_builder._checks import verify_certificate  # noqa: PLC0415
    from truststore_builder._sources.nhs import nhs_catalogue  # noqa: PLC0415

    if args.env is None and args.trust is None:
        msg = "give --env ENV or --trust FILE (or both) to verify against"
        raise UsageError(msg)
    report = verify_certificate(
        args.cert,
        environment=args.env,
        trust=args.trust,
        trust_password=_password(args),
        key=args.key,
        key_password=_secret(args.key_password_env, args.key_password_file, "key-password"),
        at=args.at,
    )
    catalogue = nhs_catalogue()
    chain = []
    for certificate in report.chain:
        nhs = catalogue.recognise(certificate)
        lookalike = None if nhs else catalogue.claimed_by(certificate.subject)
        chain.append(
            {
                "subject": certificate.subject.rfc4514_string(),
                "not_after": certificate.not_valid_after_utc.isoformat(),
                "sha256": sha256_fingerprint(certificate),
                **_nhs_fields(nhs),
                "lookalike_of": lookalike.name if lookalike else None,
            }
        )
    failures = [
        {"rule": getattr(f, "rule", "identity"), "message": str(f)} for f in report.failures
    ]
    leaf = report.certificate
    if args.json:
        _dump_json(
            {
                "certificate": str(args.cert),
                "subject": report.subject,
                "verified": report.ok,
                "validated_at": report.validated_at.isoformat(),
                "generation": report.generation.value if report.generation else None,
                "issuer": report.issuer_nhs.name if report.issuer_nhs else None,
                "not_after": leaf.not_valid_after_utc.isoformat(),
                "chain": chain,
                "failures": failures,
            }
        )
    else:
        state = "verifies" if report.ok else "DOES NOT VERIFY"
        generation = report.generation.value if report.generation else "not NHS"
        _out(f"{args.cert}: {report.subject} {state} ({generation})")
        _out(f"  expires {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
        for i, link in enumerate(chain):
            known = f"  [{link['nhs_name']}, {link['nhs_generation']}]" if link["nhs_name"] else ""
            if link["lookalike_of"]:
                known = f"  [NOT the pinned {link['lookalike_of']}: sha256 {link['sha256']}]"
            _out(f"  chain[{i}] {link['subject']}{known}")
        for failure in failures:
            _out(f"  FAILED {failure['rule']}: {failure['message']}")
    return 0 if report.ok else 1


# --- csr --------------------------------------------------------------------------------------


def _csr(args: argparse.Namespace) -> int:
    from truststore_builder._csr import (  # noqa: PLC0415
        bars_common_name,
        check_common_name,
        generate_signing_request,
        mesh_client_common_name,
    )
    from truststore_builder._writing import write_files  # noqa: PLC0415

    try:
        if args.mesh is not None:
            mailbox, _, ods = args.mesh.partition(".")
            common_name = mesh_client_common_name(mailbox, ods)
        elif args.bars is not None:
            ods, _, organisation = args.bars.partition(".")
            common_name = bars_common_name(ods, organisation, environment=args.env)
        else:
            common_name = check_common_name(args.cn)
        request = generate_signing_request(common_name, key_size=args.key_size)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    planned = [
        (args.key_out, request.key_pem(_password(args)), True),
        (args.csr_out, request.csr_pem(), False),
    ]
    write_files(planned, overwrite=args.force)
    _out(f"wrote {args.key_out} (private key, mode 0600) and {args.csr_out} (CN={common_name})")
    return 0


# --- convert ----------------------------------------------------------------------------------


def _convert(args: argparse.Namespace) -> int:
    from truststore_builder._convert import convert  # noqa: PLC0415
    from truststore_builder._writing import write_atomically  # noqa: PLC0415

    output: Path = args.output
    to = args.to or _CONVERT_SUFFIXES.get(output.suffix.lower())
    if to is None:
        msg = (
            f"{output}: cannot tell the output format from the suffix {output.suffix!r}; "
            f"pass --to {'|'.join(CONVERT_FORMATS)}"
        )
        raise UsageError(msg)
    if output.exists() and not args.force:
        msg = f"{output}: already exists; pass --force to replace it"
        raise UsageError(msg)
    data = convert(args.input, to)
    write_atomically(output, data, overwrite=args.force)
    return 0


# --- inspect ----------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    from truststore_builder._checks import utc_now  # noqa: PLC0415
    from truststore_builder._diff import DEFAULT_WITHIN_DAYS, expiry_horizon  # noqa: PLC0415
    from truststore_builder._sources.files import read_store  # noqa: PLC0415
    from truststore_builder._sources.nhs import nhs_catalogue  # noqa: PLC0415

    password = _password(args)
    entries = read_store(args.file, password=password)
    catalogue = nhs_catalogue()
    now = args.at or utc_now()
    window = DEFAULT_WITHIN_DAYS if args.fail_within is None else args.fail_within
    horizon = expiry_horizon(entries, now, within_days=window, catalogue=catalogue)
    records = []
    for entry in entries:
        certificate = entry.certificate
        nhs = catalogue.recognise(certificate)
        not_before = certificate.not_valid_before_utc
        not_after = certificate.not_valid_after_utc
        records.append(
            {
                "alias": entry.alias,
                "subject": certificate.subject.rfc4514_string(),
                "issuer": certificate.issuer.rfc4514_string(),
                "not_before": not_before.isoformat(),
                "not_after": not_after.isoformat(),
                "sha256": sha256_fingerprint(certificate),
                **_nhs_fields(nhs),
                "trusted": entry.trusted,
                "expired": not (not_before <= now <= not_after),
                "status": expiry_status(not_before, not_after, now),
            }
        )
    if args.json:
        _dump_json(
            {"file": str(args.file), "entries": records, "expiry_horizon": horizon.to_dict()}
        )
        return _horizon_status(args.fail_within, horizon)
    rows = [("alias", "subject", "issuer", "not after", "sha256", "nhs", "status")]
    rows.extend(
        (
            str(record["alias"]) or "-",
            str(record["subject"]),
            str(record["issuer"]),
            str(record["not_after"])[:10],
            str(record["sha256"]),
            f"{record['nhs_name']} ({record['nhs_generation']})" if record["nhs_name"] else "-",
            str(record["status"]),
        )
        for record in records
    )
    _out(_table(rows))
    _out(horizon_line(horizon))
    return _horizon_status(args.fail_within, horizon)


def _horizon_status(fail_within: int | None, horizon: Horizon) -> int:
    """1 (with a line on stderr) when ``--fail-within`` was given and something expires within it."""
    if fail_within is None or horizon.ok:
        return 0
    names = ", ".join(
        f"{e.label} ({'expired' if e.expired else 'expires'} {_date(e.not_after)})"
        for e in horizon.within
    )
    count = len(horizon.within)
    _say(
        sys.stderr,
        "error",
        f"{count} {'certificate expires' if count == 1 else 'certificates expire'} within "
        f"{fail_within} days "
        f"(--fail-within): {names}",
    )
    return 1


# --- diff -------------------------------------------------------------------------------------


def _diff(args: argparse.Namespace) -> int:
    from truststore_builder._diff import diff_stores  # noqa: PLC0415

    old_password = _secret(args.old_password_env, args.old_password_file, "old-password")
    new_password = _secret(args.new_password_env, args.new_password_file, "new-password")
    result = diff_stores(
        args.old,
        args.new,
        old_password=old_password,
        new_password=new_password,
        at=args.at,
        compare_aliases=not args.ignore_aliases,
    )
    if args.json:
        _dump_json(result.to_dict())
    else:
        _out(diff_text(result, show_kept=args.all))
    return 0 if result.equal else 1


# --- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success, 1 a check refused, 2 a usage error or unreadable input.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that a parse error can show its traceback too.
    debug = "--debug" in arguments
    status = 2
    try:
        args = _parse(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        with warnings.catch_warnings():
            # The library's warnings (a file skipped in a directory, ...) as one line each.
            warnings.simplefilter("always", TruststoreBuilderWarning)
            warnings.showwarning = _show_warning
            status = handler(args)
    except SystemExit as exc:  # --help and --version
        status = exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        _report_error(exc, debug=debug)
    except TruststoreBuilderError as exc:
        _report_error(exc, debug=debug)
        status = exc.exit_status
    except OSError as exc:
        # A file the library did not wrap: name it, without a traceback.
        where = exc.filename if exc.filename is not None else "input"
        _report_error(InputError(f"{where}: {exc.strerror or exc}"), debug=debug, cause=exc)
    except KeyboardInterrupt:
        status = 130
    except Exception as exc:  # noqa: BLE001  (the one-line promise holds for bugs too)
        message = (
            f"internal error: {type(exc).__name__}: {exc} "
            "(please report it; run with --debug for the traceback)"
        )
        _report_error(RuntimeError(message), debug=debug, cause=exc)
    except BaseException as exc:
        # pyo3's PanicException (a Rust panic in cryptography) derives from BaseException, and
        # its text can hold a password's bytes: show neither it nor its traceback's last line.
        if type(exc).__name__ != "PanicException":
            raise
        if debug:
            traceback.print_tb(exc.__traceback__, file=sys.stderr)
        _say(
            sys.stderr,
            "error",
            "internal error: a library panicked (its message is not shown, as it may hold a "
            "secret; please report it)",
        )
    return status


def _parse(arguments: Sequence[str]) -> argparse.Namespace:
    """Parse the command line; unrecognised arguments are named without their values.

    argparse would print them all back, and a misspelt ``--pasword-env`` is followed by what
    may be a password: only what looks like an option is shown, up to any ``=``.

    Raises:
        UsageError: An argument is not recognised, or the parser refuses the command line.
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(arguments)
    if extras:
        shown = [
            f"{extra.split('=', 1)[0]}=(value not shown)" if "=" in extra else extra
            for extra in extras
            if extra.startswith("-")
        ]
        hidden = len(extras) - len(shown)
        parts = [f"unrecognized arguments: {' '.join(shown)}"] if shown else []
        if hidden:
            what = "more" if shown else f"unrecognized argument{'s' if hidden > 1 else ''},"
            parts.append(f"{hidden} {what} not shown (one may be a secret)")
        msg = f"{'; '.join(parts)} (see {parser.prog} --help)"
        raise UsageError(msg)
    return args


def _show_warning(  # noqa: PLR0917  (the signature of warnings.showwarning)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    del filename, lineno, line  # where it fired is not for the one-line form
    if issubclass(category, TruststoreBuilderWarning):
        _say(sys.stderr, "warning", str(message))
        return
    # Another library's warning (cryptography's about a certifi root with a negative serial
    # number, say): one line, once, not a source path and a code line per place it fired.
    text = f"{category.__name__}: {message}"
    if text not in _SHOWN_WARNINGS:
        _SHOWN_WARNINGS.add(text)
        _say(file or sys.stderr, "warning", text)


#: The other libraries' warnings already shown in this process.
_SHOWN_WARNINGS: set[str] = set()


def _report_error(exc: BaseException, *, debug: bool, cause: BaseException | None = None) -> None:
    if debug:
        traceback.print_exception(cause or exc, file=sys.stderr)
    text = str(exc)
    if isinstance(exc, TruststoreBuilderError) and exc.remedy in _CLI_REMEDIES:
        # The library names its Python argument (overwrite=True); here it is an option.
        text = f"{exc.problem}; {_CLI_REMEDIES[exc.remedy]}"
    _say(sys.stderr, "error", text)


#: Remedies in Python's terms, as the command line's options say them.
_CLI_REMEDIES = {
    OVERWRITE_REMEDY: "pass --force to replace it",
    ALLOW_G1_REMEDY: "add --allow-g1 to package it anyway (it then warns)",
}
