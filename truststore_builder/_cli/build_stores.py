"""``build`` without ``--recipe``: the options make a one-target-directory recipe, which is built.

:func:`options_recipe` turns the options into a :class:`~truststore_builder._recipe.Recipe`
(a trust store target per format, and with ``--cert``/``--key`` the client's files: the
:data:`~truststore_builder._model.CLIENT_FILES` of each format); ``Recipe.build`` checks,
serialises, reads back and writes them, all or none, as it does for a recipe file; then the
result is printed as ``build`` always has.
"""

from __future__ import annotations

import re
import sys
import warnings
from typing import TYPE_CHECKING

from truststore_builder._cli.errors import UsageError, password_options
from truststore_builder._cli.output import dump_json, iso_date, out_line, say
from truststore_builder._errors import (
    ExpiredCertificateWarning,
    MissingPasswordError,
    RecipeError,
)
from truststore_builder._model import CLIENT_FILES, CLIENT_PRESETS, DeploymentFormat, StoreFormat
from truststore_builder._recipe import (
    PasswordRef,
    Recipe,
    RecipeIdentity,
    RecipePreset,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
)

if TYPE_CHECKING:
    import argparse
    import datetime as dt
    from collections.abc import Sequence
    from pathlib import Path

    from truststore_builder._model import TrustedEntry
    from truststore_builder._recipe import BuildResult
    from truststore_builder._stores import TrustStore

#: The name every ``build`` trust store file takes, before its format's suffix.
STORE_STEM = "truststore"


def build_stores(args: argparse.Namespace) -> int:
    """Build, check and write the stores the options describe; every file or none.

    Returns:
        The exit status (0; a refusal is raised).
    """
    recipe = options_recipe(args)
    try:
        # The builder names all expired certificates in one warning; the command line names
        # each on its own line instead, from the store itself.
        with (
            warnings.catch_warnings(),
            password_options(
                {
                    "add-password": args.add,
                    "key-password": [args.key],
                    "identity-from-password": [args.identity_from],
                }
            ),
        ):
            warnings.simplefilter("ignore", ExpiredCertificateWarning)
            result = recipe.build(overwrite=args.force)
    except RecipeError as exc:
        raise _in_options(exc) from None
    store = result.trust_store
    assert store is not None  # every build makes its trust store
    _say_expiry(store, args)
    _report(args, result)
    return 0


def options_recipe(args: argparse.Namespace) -> Recipe:
    """The recipe ``build``'s options describe: one target per file in ``--out``.

    Raises:
        UsageError: ``--cert`` without ``--key``, or ``--out`` is a file.
        MissingPasswordError: A file that needs the store password, and none was given.
    """
    directory: Path = args.out
    if directory.exists() and not directory.is_dir():
        msg = f"{directory}: --out must be a directory, and this is a file"
        raise UsageError(msg)
    password = _reference(args.password_env, args.password_file)
    identity = _identity(args, password)
    if args.preset is not None:
        return _preset_recipe(args, identity, password)
    formats = [StoreFormat(name) for name in args.formats if name in _STORE_FORMATS]
    outputs = [DeploymentFormat(name) for name in args.formats if name not in _STORE_FORMATS]
    needing = [str(fmt) for fmt in outputs if fmt.needs_identity]
    if needing and identity is None:
        msg = (
            f"--formats {','.join(needing)} holds the client identity: give its --cert and "
            "--key (or --identity-from), or leave it out of --formats"
        )
        raise UsageError(msg)
    targets = [
        RecipeTarget(
            format=TargetFormat(fmt.value),
            path=directory / ("capath" if fmt is StoreFormat.CAPATH else f"{STORE_STEM}.{fmt}"),
            password=password if fmt in _PASSWORDED else None,
            order=args.order if fmt is StoreFormat.PEM else None,
        )
        for fmt in formats
    ]
    if identity is not None:
        targets += _client_targets(args, formats, password)
    targets += [_deployment_target(args, fmt, password) for fmt in outputs]
    _require_password(targets, password, encrypt_key_pem=args.encrypt_key_pem)
    trust = _trust(args)
    # No source: the errors are the library's own, and name no recipe key.
    return Recipe(trust=trust, targets=targets, identity=identity, source="")


def _trust(args: argparse.Namespace) -> RecipeTrust:
    """The [trust] the options describe."""
    return RecipeTrust(
        environments=[args.env],
        generations=args.generations,
        add=args.add,
        add_password=_reference(args.add_password_env, args.add_password_file),
        certifi=args.certifi,
        drop_expired=args.drop_expired,
        allow_leaf=args.allow_leaf,
        allow_test_pki_impostors=args.allow_test_pki_impostors,
        catalogue=args.catalogue,
    )


#: The options a preset decides itself: the files and the key entry's password.
_PRESET_DECIDES = {
    "jks_key_password_env": "--jks-key-password-env",
    "jks_key_password_file": "--jks-key-password-file",
    "encrypt_key_pem": "--encrypt-key-pem",
}


def _preset_recipe(
    args: argparse.Namespace, identity: RecipeIdentity | None, password: PasswordRef | None
) -> Recipe:
    """``build --preset CLIENT``: the client's files under --out, and nothing else.

    Raises:
        UsageError: No identity, or an option the preset decides.
        MissingPasswordError: A key store preset without a password.
    """
    spec = CLIENT_PRESETS[args.preset]
    given = [option for name, option in _PRESET_DECIDES.items() if getattr(args, name)]
    if given:
        msg = (
            f"--preset {args.preset} decides the files and the key entry's password itself: "
            f"leave out {', '.join(given)}"
        )
        raise UsageError(msg)
    if identity is None:
        msg = (
            f"--preset {args.preset} writes the client's key: give --cert and --key, or "
            "--identity-from OLD_STORE"
        )
        raise UsageError(msg)
    if spec.takes_password and password is None:
        msg = (
            f"the {args.preset} key store needs a password and none was given: pass "
            "--password-env VAR or --password-file FILE (its key entry's password is the same)"
        )
        raise MissingPasswordError(msg)
    if not spec.takes_password and password is not None:
        msg = (
            f"the {args.preset} files take no password (its key file is written unencrypted, "
            "mode 0600, as the client reads it): leave out --password-env/--password-file"
        )
        raise UsageError(msg)
    preset = RecipePreset(
        name=args.preset,
        directory=args.out,
        password=password,
        profile=args.p12_profile if args.p12_profile != "modern" else None,
    )
    return Recipe(trust=_trust(args), identity=identity, source="", presets=[preset])


def _identity(args: argparse.Namespace, password: PasswordRef | None) -> RecipeIdentity | None:
    """The client identity the options name: --cert and --key, or --identity-from; or None.

    Raises:
        UsageError: --cert without --key (or the reverse), --key with --identity-from, or
            --identity-from without a password for it.
    """
    key_password = _reference(args.key_password_env, args.key_password_file)
    store_password = _reference(args.identity_from_password_env, args.identity_from_password_file)
    if args.identity_from is None:
        if store_password is not None:
            msg = "--identity-from-password-env/-file go with --identity-from"
            raise UsageError(msg)
        if (args.cert is None) != (args.key is None):
            msg = (
                "--cert and --key go together: give both to build the client's key stores "
                "(or --cert with --identity-from OLD_STORE, to take a renewed certificate in)"
            )
            raise UsageError(msg)
        if args.cert is None:
            return None
        return RecipeIdentity(
            cert=args.cert,
            key=args.key,
            key_password=key_password,
            chain=args.chain,
            alias=args.alias,
            allow_g1=args.allow_g1,
        )
    if args.key is not None:
        msg = "--identity-from takes the key from the old store: leave out --key"
        raise UsageError(msg)
    store_password = store_password or password
    if store_password is None:
        msg = (
            "--identity-from needs the old store's password: --identity-from-password-env "
            "or --identity-from-password-file (or the store password, --password-env or "
            "--password-file, when it is the same)"
        )
        raise MissingPasswordError(msg)
    return RecipeIdentity(
        cert=args.cert,
        key_password=key_password,
        chain=args.chain,
        alias=args.alias,
        allow_g1=args.allow_g1,
        from_store=args.identity_from,
        from_store_password=store_password,
    )


#: The trust store formats written with the store password when one is given.
_PASSWORDED = frozenset({StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.JCEKS})
_STORE_FORMATS = frozenset(fmt.value for fmt in StoreFormat)


def _deployment_target(
    args: argparse.Namespace, fmt: DeploymentFormat, password: PasswordRef | None
) -> RecipeTarget:
    """A deployment output's target: written into --out, its options from the options."""
    kind = TargetFormat(fmt.value)
    options: dict[str, object] = {}
    if fmt in {DeploymentFormat.K8S_TLS_SECRET, DeploymentFormat.K8S_TRUST_BUNDLE}:
        options = {
            "name": args.k8s_name or f"nhs-{args.env}",
            "namespace": args.k8s_namespace,
            "order": args.order,
        }
    if fmt is DeploymentFormat.K8S_TRUST_BUNDLE and password is not None:
        options |= {"jks_key": "bundle.jks", "pkcs12_key": "bundle.p12", "password": password}
    elif fmt is DeploymentFormat.ENV:
        cert, key, ca = args.env_variables or (None, None, None)
        options = {
            "stem": args.env_stem,
            "cert_variable": cert,
            "key_variable": key,
            "ca_variable": ca,
            "client_chain": args.env_client_chain or None,
            "order": args.order,
        }
    elif fmt is DeploymentFormat.CHAINS:
        options = {"prefix": args.chains_prefix}
    elif fmt is DeploymentFormat.WINDOWS_CA:
        options = {"encoding": args.windows_ca_encoding}
    elif fmt is DeploymentFormat.PFX:
        options = {
            "password": password,
            "profile": args.pfx_profile,
            "include_trusted": args.pfx_include_trusted,
        }
    return RecipeTarget(format=kind, path=args.out, **options)  # type: ignore[arg-type]


def _client_targets(
    args: argparse.Namespace, formats: Sequence[StoreFormat], password: PasswordRef | None
) -> list[RecipeTarget]:
    """The client's files, each format's :data:`CLIENT_FILES`, written beside the trust stores."""
    jks_key_password = _reference(args.jks_key_password_env, args.jks_key_password_file)
    targets = []
    for fmt in formats:
        for name, holds in CLIENT_FILES.get(fmt, ()):
            kind = TargetFormat(holds)
            if kind is TargetFormat.CLIENT_KEY_PEM:
                key_password = None
                secret = password if args.encrypt_key_pem else None
            else:
                secret = password if kind.is_keystore else None
                key_password = jks_key_password if kind.takes_key_password else None
            targets.append(
                RecipeTarget(
                    format=kind,
                    path=args.out / name,
                    password=secret,
                    key_password=key_password,
                    profile=args.p12_profile if kind is TargetFormat.KEYSTORE_PKCS12 else None,
                )
            )
    return targets


def _reference(variable: str | None, path: Path | None) -> PasswordRef | None:
    """Where ``--<option>-env VAR`` or ``--<option>-file FILE`` says a password is; or None."""
    if variable is not None:
        return PasswordRef(env=variable)
    if path is not None:
        return PasswordRef(file=path)
    return None


def _require_password(
    targets: Sequence[RecipeTarget], password: PasswordRef | None, *, encrypt_key_pem: bool
) -> None:
    """Refuse, in the options' words, files that need the store password when none was given.

    Raises:
        MissingPasswordError: A JKS or JCEKS trust store, a key store, or --encrypt-key-pem.
    """
    if password is not None:
        return
    give = "pass --password-env VAR or --password-file FILE"
    kinds = [target.format for target in targets]
    if any(kind.is_keystore for kind in kinds):
        msg = (
            "a key store needs a password and none was given (without one Java reads the key "
            f"entry as an empty store): {give}, or leave p12, jks and jceks out of --formats"
        )
    elif TargetFormat.PFX in kinds:
        msg = (
            f"pfx holds the client's private key and needs a password, and none was given: "
            f"{give}, or leave pfx out of --formats"
        )
    elif any(kind.needs_password for kind in kinds):
        msg = (
            f"a JKS or JCEKS trust store needs a password and none was given: {give}, "
            "or leave jks and jceks out (--formats pem,p12); Java's 'changeit' is never assumed"
        )
    elif encrypt_key_pem:
        msg = f"--encrypt-key-pem encrypts client-key.pem with the store password: {give}"
    else:
        return
    raise MissingPasswordError(msg)


#: Recipe keys as ``build``'s options name them (list indexes left out).
_OPTIONS = {
    "trust.add": "--add",
    "trust.add_password_env": "--add-password-env",
    "trust.add_password_file": "--add-password-file",
    "identity.cert": "--cert",
    "identity.key": "--key",
    "identity.from_store": "--identity-from",
    "identity.from_store_password_env": "--identity-from-password-env",
    "identity.from_store_password_file": "--identity-from-password-file",
    "identity.chain": "--chain",
    "identity.key_password_env": "--key-password-env",
    "identity.key_password_file": "--key-password-file",
    "targets.password_env": "--password-env",
    "targets.password_file": "--password-file",
    "targets.key_password_env": "--jks-key-password-env",
    "targets.key_password_file": "--jks-key-password-file",
    "targets.path": "--out",
    "presets.password_env": "--password-env",
    "presets.password_file": "--password-file",
    "targets.name": "--k8s-name",
    "targets.namespace": "--k8s-namespace",
    "targets.stem": "--env-stem",
    "targets.cert_variable": "--env-variables",
    "targets.key_variable": "--env-variables",
    "targets.ca_variable": "--env-variables",
    "targets.prefix": "--chains-prefix",
    "trust.catalogue": "--catalogue",
}


def _in_options(exc: RecipeError) -> RecipeError | UsageError:
    """A recipe's error about one of its keys, naming the option that key came from."""
    key = re.sub(r"\[\d+\]", "", exc.key_path or "")
    option = _OPTIONS.get(key)
    if option is None:
        return exc
    return UsageError(f"{option}: {exc}")


def _expiry_line(entry: TrustedEntry, at: dt.datetime, *, kept: bool) -> str:
    """One line naming a certificate that is not valid at ``at``, and what became of it."""
    known = f"{entry.nhs.name}, {entry.nhs.generation}" if entry.nhs else entry.subject
    name = f"{entry.alias} ({known})"
    if at < entry.not_before:
        state = f"is not valid until {iso_date(entry.not_before)}"
    else:
        state = f"expired on {iso_date(entry.not_after)}"
    fate = (
        "kept in the store (--drop-expired leaves it out)" if kept else "left out (--drop-expired)"
    )
    return f"{name} {state}; {fate}"


def _say_expiry(store: TrustStore, args: argparse.Namespace) -> None:
    """Name on stderr what has expired and was kept, and what was left out."""
    for entry in store.expired:
        say(sys.stderr, "warning", _expiry_line(entry, store.validated_at, kept=True))
    if args.drop_expired:
        for entry in store.dropped:
            say(sys.stderr, "note", _expiry_line(entry, store.validated_at, kept=False))
    elif store.dropped:
        say(sys.stderr, "info", _left_out_line(store.dropped, args.env, store.validated_at))


def _left_out_line(dropped: Sequence[TrustedEntry], env: str, at: dt.datetime) -> str:
    """The one line naming the NHS CAs a store was built without, because they are not valid."""
    names = ", ".join(
        f"{e.alias} ({e.nhs.name if e.nhs else e.subject}, "
        f"{'not valid until ' + iso_date(e.not_before) if at < e.not_before else 'expired ' + iso_date(e.not_after)})"
        for e in dropped
    )
    return (
        f"the {env} store holds the NHS CAs valid on {iso_date(at)}; left out: {names} "
        "(--generations g1,g2 asks for both generations whatever their validity)"
    )


def _report(args: argparse.Namespace, result: BuildResult) -> None:
    """What was written: a line per file, or the JSON report."""
    store = result.trust_store
    keystore = result.keystore
    assert store is not None
    stores = [
        file
        for file in result.files
        if not file.format.needs_identity and file.format.deployment is None
    ]
    outputs = [file for file in result.files if file.format.deployment is not None]
    client: dict[str, object] | None = None
    client_files = [
        str(file.path)
        for file in result.files
        if file.format.needs_identity and file.format.deployment is None
    ]
    if keystore is not None:
        client = {
            "alias": keystore.alias,
            "subject": keystore.report.subject,
            "issuer": keystore.identity.certificate.issuer.rfc4514_string(),
            "generation": keystore.report.generation.value if keystore.report.generation else None,
            "not_after": keystore.identity.certificate.not_valid_after_utc.isoformat(),
            "chain": [c.subject.rfc4514_string() for c in keystore.chain],
            "files": client_files,
            "unchanged": [
                str(file.path)
                for file in result.files
                if file.format.needs_identity and file.format.deployment is None and file.unchanged
            ],
        }
    if args.json:
        dump_json(
            {
                "environment": args.env,
                "generations": args.generations,
                "client": client,
                "validated_at": store.validated_at.isoformat(),
                "files": [
                    {
                        "path": str(file.path),
                        "format": file.format.value,
                        "entries": len(file.certificates),
                        "sha256": list(file.certificates),
                        # Every file was read back (by another implementation than its
                        # writer) before any was written: a difference is an error.
                        "read_back_ok": True,
                        "private": file.private,
                        # Already there, holding the same: left untouched (inode, mtime).
                        "unchanged": file.unchanged,
                    }
                    for file in [*stores, *outputs]
                ],
                "expired": [entry.alias for entry in store.expired],
                "dropped": [entry.alias for entry in store.dropped],
            }
        )
        return
    for file in stores:
        count = len(file.certificates)
        done = "unchanged" if file.unchanged else "wrote"
        out_line(f"{done} {file.path} ({file.format}, {count} certificates, read back ok)")
    if keystore is not None:
        for file in result.files:
            if file.format.needs_identity and file.format.deployment is None:
                done = "unchanged" if file.unchanged else "wrote"
                out_line(f"{done} {file.path} (client {keystore.alias}, {keystore.report.subject})")
    for file in outputs:
        private = ", mode 0600" if file.private else ""
        done = "unchanged" if file.unchanged else "wrote"
        out_line(f"{done} {file.path} ({file.format}: {file.description}{private}; read back ok)")
