"""``build``: an environment's trust stores (and a client's key stores), or a recipe's targets.

This module holds the parser and chooses between the two; :mod:`.build_stores` builds what the
options describe and :mod:`.progress` draws a recipe batch's progress.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from truststore_builder._cli.errors import UsageError
from truststore_builder._cli.options import (
    Parser,
    add_catalogue_option,
    add_common_options,
    add_password_options,
    comma_list,
)
from truststore_builder._cli.output import PROG, dump_json, out, out_line
from truststore_builder._cli.progress import TerminalProgress
from truststore_builder._model import (
    CLIENT_FILES,
    CLIENT_PRESETS,
    DEPLOYMENT_FILES,
    DeploymentFormat,
    Environment,
    Generation,
    StoreFormat,
)

#: The formats ``build --formats`` accepts, in the order files are written and reported: the
#: trust store formats, then the deployment outputs.
BUILD_FORMATS: tuple[StoreFormat | DeploymentFormat, ...] = (
    StoreFormat.PEM,
    StoreFormat.PKCS12,
    StoreFormat.JKS,
    StoreFormat.JCEKS,
    StoreFormat.PKCS7,
    StoreFormat.CAPATH,
    *DeploymentFormat,
)
DEFAULT_BUILD_FORMATS = "pem,p12,jks"

#: How ``--help`` shows the fields of a deployment file's name (``DEPLOYMENT_FILES``): an
#: option's default, or what the store puts there.
_FILE_NAME_FIELDS = {
    "name": "<k8s-name>",
    "stem": "mhs",
    "prefix": "chain-",
    "root": "<root alias>",
    "alias": "<alias>",
}


def _client_files_help() -> str:
    """Which client files each trust store format writes, from the table that decides it."""
    stores = [fmt for fmt in BUILD_FORMATS if isinstance(fmt, StoreFormat)]
    per_format = [
        f"{fmt}: {' and '.join(name for name, _ in CLIENT_FILES[fmt])}"
        for fmt in stores
        if fmt in CLIENT_FILES
    ]
    without = [str(fmt) for fmt in stores if fmt not in CLIENT_FILES]
    return f"{'; '.join(per_format)} ({' and '.join(without)} write none)"


def _deployment_files_help() -> str:
    """Which files each deployment output writes into --out, from the table that decides it."""
    per_format = []
    for fmt, files in DEPLOYMENT_FILES.items():
        names = " and ".join(
            pattern.format_map(_FILE_NAME_FIELDS) + (" (0600)" if private else "")
            for pattern, private in files
        )
        per_format.append(f"{fmt}: {names}")
    return "; ".join(per_format)


def _generations(text: str) -> list[str]:
    return comma_list(text, [g.value for g in Generation], "generation")


def _formats(text: str) -> list[str]:
    return comma_list(text, [f.value for f in BUILD_FORMATS], "format")


def _p12_profile(text: str) -> str:
    from truststore_builder._formats.pkcs12 import resolve_pkcs12_profile  # noqa: PLC0415 - start-up time: the PKCS#12 module

    try:
        resolve_pkcs12_profile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_parser(commands: argparse._SubParsersAction[Parser]) -> None:
    """Add the ``build`` subcommand to ``commands``."""
    build = commands.add_parser(
        "build",
        help="build an environment's trust stores (and a client's key stores) in several formats",
        description=(
            "Build the trust store of an NHS environment (its CAs valid today by default: G2 "
            "for prod, G1 and G2 for int and dep, G1 for dev and tra) and write "
            "it to DIR as truststore.pem, truststore.p12 and truststore.jks (and "
            "truststore.jceks, truststore.p7b, and capath/, OpenSSL's hashed CA directory, "
            "when asked). The options make a one-directory recipe, built as build --recipe "
            "builds: every file is read back and checked before any is written; an existing "
            "file is not replaced without --force, and one that already holds what the build "
            "makes (read with the given password: the same entries, keys and protection) is "
            "left untouched, with or without --force. Certificates asked for (--generations, --add, --certifi) "
            "that have expired are kept and named on stderr, or left out with --drop-expired."
        ),
        epilog=(
            "JKS and JCEKS need a password, and so do key stores: give one with --password-env "
            "or --password-file, or leave them out of --formats (Java's conventional "
            "'changeit' is never assumed). Without a password the PKCS#12 trust store is truly "
            "password-less (no integrity MAC), as Java 18+ reads its own cacerts."
        ),
    )
    add_common_options(build)
    _add_trust_options(build)
    _add_trust_rules(build)
    _add_output_options(build)
    _add_identity_options(build)
    _add_deployment_options(build)
    build.add_argument(
        "--force",
        action="store_true",
        help=(
            "replace existing files that hold something else, or that do not read with the "
            "given password (files that hold the same are left untouched either way)"
        ),
    )
    build.add_argument(
        "--json",
        action="store_true",
        help=(
            "print a JSON report: per file its path, format, entry count, SHA-256s, read-back, "
            "and whether it was left unchanged"
        ),
    )
    build.set_defaults(handler=_build)


def _add_trust_options(build: argparse.ArgumentParser) -> None:
    """What goes into the trust store: a recipe, or an environment and what else to trust."""
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
        choices=[e.value for e in Environment],
        help="the NHS environment: prod, or the PTL environments int, dep, dev and tra "
        "(required without --recipe)",
    )
    build.add_argument(
        "--generations",
        type=_generations,
        default=None,
        metavar="g1,g2",
        help=(
            "which NHS PKI generations to trust, whatever their validity (default: those "
            "valid at build time, naming on stderr what was left out; g1,g2 keeps prod's "
            "expired G1 with a warning)"
        ),
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
    add_password_options(
        build,
        "the password of the --add stores (PKCS#12, JKS, JCEKS; it also proves them unaltered)",
        option="add-password",
    )
    build.add_argument(
        "--certifi",
        action="store_true",
        help="also trust the public web roots of the certifi package (Mozilla's list)",
    )
    add_catalogue_option(build)


def _add_trust_rules(build: argparse.ArgumentParser) -> None:
    """Which certificates the trust store lets in: leaves, test-PKI impostors, expired ones."""
    build.add_argument(
        "--allow-leaf",
        action="store_true",
        help=(
            "let --add put end-entity (leaf) certificates in the trust store, to pin a peer "
            "itself (refused by default: a trust store holds the issuers of a peer's certificate)"
        ),
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


def _add_output_options(build: argparse.ArgumentParser) -> None:
    """Where the stores go, in which formats, under which password."""
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
        metavar="FORMAT,...",
        help=(
            f"the formats to write (default: {DEFAULT_BUILD_FORMATS}). pem, p12, jks, jceks, "
            "p7b and capath: the trust store (truststore.FORMAT, capath/), and with --cert and "
            f"--key the client's files of each format too: {_client_files_help()}. "
            "Deployment outputs (options below; k8s-tls-secret, env and pfx "
            f"need --cert and --key): {_deployment_files_help()}"
        ),
    )
    add_password_options(build, "the store password (also the key stores' password)")
    build.add_argument(
        "--preset",
        choices=list(CLIENT_PRESETS),
        metavar="CLIENT",
        help=(
            "write the files one client reads, instead of --formats' files: "
            + "; ".join(
                f"{name}: {', '.join(path for path, _, _ in preset.files)}"
                for name, preset in CLIENT_PRESETS.items()
            )
            + " (under --out; needs the client identity; key entry password = store "
            "password; see Clients in the docs)"
        ),
    )


def _add_identity_options(build: argparse.ArgumentParser) -> None:
    """The client's certificate and key, and how its key stores are written."""
    identity = build.add_argument_group(
        "client identity",
        "With --cert and --key (or --identity-from), build also writes the client's files "
        "for each of --formats: "
        "key stores (the key entry with its chain, plus the trusted CAs, in one file: what "
        "the MESH Java client reads; mode 0600), client-chain.pem (leaf first) and "
        "client-key.pem (mode 0600). The identity is checked first: key match, key strength, "
        "validity, clientAuth, a chain to the environment's G2 (or G1) root, and the "
        "environment.",
    )
    identity.add_argument(
        "--cert",
        type=Path,
        metavar="FILE",
        help="the client certificate (with --identity-from: the CA's reply, the renewed one)",
    )
    identity.add_argument("--key", type=Path, metavar="FILE", help="its private key (PEM or DER)")
    add_password_options(
        identity,
        "the password of an encrypted --key file (with --identity-from: of the old store's "
        "key entry, where it differs from the store's)",
        option="key-password",
    )
    identity.add_argument(
        "--identity-from",
        type=Path,
        metavar="OLD_STORE",
        help=(
            "renew in place: take the key entry of this PKCS#12, JKS or JCEKS key store instead "
            "of --key; it keeps its key, its alias and the store's trusted CAs, and --cert (the "
            "CA's reply to csr --from-store or keytool -certreq) replaces its certificate and "
            "chain, refused if it certifies another key"
        ),
    )
    add_password_options(
        identity,
        "the --identity-from store's password (default: the store password, --password-env "
        "or --password-file, as when a renewal keeps its password)",
        option="identity-from-password",
    )
    identity.add_argument(
        "--chain", type=Path, metavar="FILE", help="issuer certificates, if you have them"
    )
    identity.add_argument(
        "--alias",
        metavar="NAME",
        help=(
            "the key entry's alias (default: from the CN; with --identity-from: which key "
            "entry of the old store, when it holds more than one, and it keeps its alias)"
        ),
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
    add_password_options(
        identity,
        "a separate password for the JKS and JCEKS key entries (default: the store password)",
        option="jks-key-password",
    )
    identity.add_argument(
        "--encrypt-key-pem",
        action="store_true",
        help="encrypt client-key.pem with the store password (AES-256 PKCS#8; needs one)",
    )
    identity.add_argument(
        "--allow-g1",
        action="store_true",
        help="package a G1 client certificate (with a warning) instead of refusing it",
    )


def _add_deployment_options(build: argparse.ArgumentParser) -> None:
    """How the deployment outputs of --formats are written."""
    deployment = build.add_argument_group(
        "deployment outputs",
        "Files for Kubernetes, environment variables, gateways and Windows, written into --out "
        "with the stores, all or none; each is read back first. k8s-trust-bundle holds the "
        "PEM bundle, and with a store password also bundle.jks and bundle.p12 (the password "
        "in the <k8s-name>-password Secret); pfx is written with the store password.",
    )
    deployment.add_argument(
        "--order",
        choices=["root-first", "issuer-first"],
        help=(
            "the CAs' order in truststore.pem and in the PEM bundles of k8s-tls-secret, "
            "k8s-trust-bundle and env (default: root-first; env: issuer-first, as the MHS "
            "adaptor asks)"
        ),
    )
    deployment.add_argument(
        "--k8s-name",
        metavar="NAME",
        help="the Kubernetes object name of k8s-tls-secret and k8s-trust-bundle (default: nhs-ENV)",
    )
    deployment.add_argument(
        "--k8s-namespace",
        metavar="NAMESPACE",
        help="their namespace (default: none, left to kubectl -n)",
    )
    deployment.add_argument(
        "--env-stem",
        default="mhs",
        metavar="STEM",
        help="env's file names: STEM.env and STEM-env.sh (default: mhs)",
    )
    deployment.add_argument(
        "--env-variables",
        type=_variables,
        metavar="CERT,KEY,CA",
        help=(
            "env's three variable names (default: the MHS adaptor's MHS_SECRET_CLIENT_CERT, "
            "MHS_SECRET_CLIENT_KEY, MHS_SECRET_CA_CERTS)"
        ),
    )
    deployment.add_argument(
        "--env-client-chain",
        action="store_true",
        help="put the client's intermediates after its certificate in env's certificate value",
    )
    deployment.add_argument(
        "--chains-prefix",
        default="chain-",
        metavar="PREFIX",
        help="chains' file name prefix: PREFIX<root alias>.pem (default: chain-)",
    )
    deployment.add_argument(
        "--windows-ca-encoding",
        choices=["der", "pem"],
        default="der",
        help="windows-ca's files: der (.cer, the default) or pem (.crt)",
    )
    deployment.add_argument(
        "--pfx-profile",
        default="legacy",
        type=_p12_profile,
        metavar="PROFILE",
        help="pfx's PKCS#12 profile (default: legacy, for Windows Server 2016; as --p12-profile)",
    )
    deployment.add_argument(
        "--pfx-include-trusted",
        action="store_true",
        help="also put the trusted CAs in client.pfx (default: the client's chain only)",
    )


def _variables(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if len(names) != 3 or not all(names):  # noqa: PLR2004 - certificate, key, CAs
        msg = f"give three variable names, CERT,KEY,CA, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return names


def _build(args: argparse.Namespace) -> int:
    if args.recipe is not None:
        return _build_recipe(args)
    _require_env_and_out(args)
    if args.preset is not None and args.formats != _formats(DEFAULT_BUILD_FORMATS):
        msg = f"--preset {args.preset} decides the files itself: leave out --formats"
        raise UsageError(msg)
    # Here, not at the top: it loads the recipe machinery (tomllib, csv, concurrent.futures),
    # which the other subcommands do not need at start-up.
    from truststore_builder._cli.build_stores import build_stores  # noqa: PLC0415 - start-up time: the build's stores and their codecs

    return build_stores(args)


def _require_env_and_out(args: argparse.Namespace) -> None:
    """Without --recipe, --env and --out are required (argparse cannot say "unless")."""
    missing = [f"--{name}" for name in ("env", "out") if getattr(args, name) is None]
    if missing:
        msg = (
            f"the following arguments are required: {', '.join(missing)} (or --recipe FILE) "
            f"(see {PROG} build --help)"
        )
        raise UsageError(msg)


def _defaults_with_recipe(recipe: Path) -> argparse.Namespace:
    """What ``build --recipe RECIPE`` parses to: every other option at its default."""
    parser = Parser(prog=PROG)
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["build", "--recipe", str(recipe)])


def _build_recipe(args: argparse.Namespace) -> int:
    """``build --recipe FILE``: every target of the recipe, or none."""
    from truststore_builder._recipe_toml import load_recipe  # noqa: PLC0415 - start-up time: TOML, threads

    defaults = _defaults_with_recipe(args.recipe)
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
        dump_json(result.to_dict())
    else:
        for file in result.files:
            done = "unchanged" if file.unchanged else "wrote"
            out_line(f"{done} {file.path} ({file.format}, {file.description})")
        out(result.summary())
    return 0
