"""Checks of a recipe that need no certificate: options, identities, templates, input files."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING, cast

from truststore_builder._chains import BundleOrder
from truststore_builder._formats.pkcs12 import resolve_pkcs12_profile
from truststore_builder._model import (
    CLIENT_PRESETS,
    Environment,
)
from truststore_builder._recipe_parts import (
    _KEY_PASSWORD_ALLOWED,
    _OPTION_FIELDS,
    _PASSWORD_ALLOWED,
    _PASSWORD_REQUIRED,
    _TARGET_OPTIONS,
    BatchRow,
    PasswordRef,
    RecipeBatch,
    RecipeIdentity,
    RecipePreset,
    RecipeTarget,
    TargetFormat,
    _fail,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from truststore_builder._recipe import Recipe


# --- checks that need no certificate ----------------------------------------------------------


def _row_key(row: BatchRow) -> str:
    return f"batch.table[{row.name}]"


def _check_file(source: str, key_path: str, path: Path, what: str = "file") -> None:
    if not path.exists():
        _fail(source, key_path, f"no such {what}: {path}")


def _check_password_file(source: str, key_path: str, password: PasswordRef | None) -> None:
    """Refuse a password file that does not exist, without its path: a password may be there."""
    if password is not None and password.file is not None and not password.file.exists():
        _fail(source, key_path, "the file it names does not exist (its path is not shown)")


def _not_taken(fmt: TargetFormat, option: str) -> str:
    """Why ``option`` is refused for a ``fmt`` target, naming the formats that take it."""
    takers = [str(f) for f, options in _TARGET_OPTIONS.items() if option in options]
    return f"a {fmt} target does not take {option} (only {', '.join(takers)} targets do)"


def _check_target(source: str, key_path: str, target: RecipeTarget, *, batch: bool) -> None:
    fmt = target.format
    taken = _TARGET_OPTIONS.get(fmt, frozenset())
    for option in _OPTION_FIELDS:
        if option not in taken and getattr(target, option) is not None:
            _fail(source, f"{key_path}.{option}", _not_taken(fmt, option))
    if fmt.deployment is not None:
        _check_deployment_target(source, key_path, target)
    if target.password is not None and fmt not in _PASSWORD_ALLOWED:
        _fail(source, f"{key_path}.password_env", f"a {fmt} file has no password")
    if target.password is None and fmt in _PASSWORD_REQUIRED:
        _fail(
            source,
            f"{key_path}.password_env",
            f"missing; a {fmt} target needs a password: name it with password_env or "
            "password_file (Java's 'changeit' is never assumed)",
        )
    if target.key_password is not None and fmt not in _KEY_PASSWORD_ALLOWED:
        _fail(
            source,
            f"{key_path}.key_password_env",
            "only keystore-jks and keystore-jceks targets take a separate key password "
            "(a PKCS#12 key store has one password)",
        )
    if target.profile is not None:
        _check_profile(source, key_path, target)
    if batch:
        _check_batch_target(source, key_path, target)
    for password, stem in ((target.password, "password"), (target.key_password, "key_password")):
        _check_password_file(source, f"{key_path}.{stem}_file", password)


def _check_profile(source: str, key_path: str, target: RecipeTarget) -> None:
    try:
        resolve_pkcs12_profile(cast("str", target.profile))
    except ValueError as exc:
        _fail(source, f"{key_path}.profile", str(exc))


def _check_deployment_target(source: str, key_path: str, target: RecipeTarget) -> None:
    """A deployment output's options, as far as they can be checked without a certificate."""
    from truststore_builder._formats import envfile, kubernetes  # noqa: PLC0415 - start-up time: deployment only

    fmt = target.format
    checks: list[tuple[str, str | None, Callable[[str], object]]] = [
        ("order", target.order, BundleOrder),
        ("encoding", target.encoding, _encoding),
        ("namespace", target.namespace, kubernetes.check_namespace),
        ("stem", target.stem, _plain_file_name),
        ("prefix", target.prefix, _plain_file_name),
    ]
    if fmt in {TargetFormat.K8S_TLS_SECRET, TargetFormat.K8S_TRUST_BUNDLE}:
        if target.name is None:
            _fail(source, f"{key_path}.name", f"missing; a {fmt} target names its object")
        checks.append(("name", target.name, kubernetes.check_object_name))
    checks += [
        (option, getattr(target, option), kubernetes.check_data_key)
        for option in ("pem_key", "jks_key", "pkcs12_key")
    ]
    checks += [
        (option, getattr(target, option), envfile.check_variable_name)
        for option in ("cert_variable", "key_variable", "ca_variable")
    ]
    for option, value, check in checks:
        if value is None:
            continue
        try:
            check(value)
        except ValueError as exc:
            _fail(source, f"{key_path}.{option}", str(exc))
    if fmt is TargetFormat.K8S_TRUST_BUNDLE:
        binary = target.jks_key is not None or target.pkcs12_key is not None
        if binary and target.password is None:
            _fail(
                source,
                f"{key_path}.password_env",
                "missing; a JKS or PKCS#12 store in the ConfigMap needs a password (it goes in "
                "a Secret of its own): name it with password_env or password_file",
            )
        if not binary and target.password is not None:
            _fail(
                source,
                f"{key_path}.password_env",
                "a k8s-trust-bundle takes a password only with jks_key or pkcs12_key",
            )


def _encoding(value: str) -> str:
    if value not in {"der", "pem"}:
        msg = f"unknown encoding {value!r}; use der or pem"
        raise ValueError(msg)
    return value


def _plain_file_name(value: str) -> str:
    if "/" in value or "\\" in value or value.startswith(".") or not value.isprintable():
        msg = (
            f"{value!r} must be part of a plain file name (no '/', not hidden, no control "
            "character)"
        )
        raise ValueError(msg)
    return value


def _check_batch_target(source: str, key_path: str, target: RecipeTarget) -> None:
    if target.format.deployment is not None:
        _fail(
            source,
            f"{key_path}.format",
            f"a batch writes key stores and client files, and {target.format} is a deployment "
            "output: put it in [[targets]] with an [identity]",
        )
    if not target.format.needs_identity:
        _fail(
            source,
            f"{key_path}.format",
            f"a batch target writes each row's identity, and {target.format} is a trust store: "
            "use keystore-p12, keystore-jks, keystore-jceks, client-chain-pem or "
            "client-key-pem, and put trust store targets in [[targets]]",
        )
    try:
        references = [
            (field, spec, conversion)
            for _, field, spec, conversion in string.Formatter().parse(str(target.path))
            if field is not None
        ]
    except ValueError:  # a lone { or }
        references = []
    # Only a plain {name}: a format spec ({name:>1500000000}) or a conversion would let a recipe
    # ask for gigabytes of padding, and an attribute ({name.x}) would fail only when writing.
    if not references or any(ref != ("name", "", None) for ref in references):
        _fail(
            source,
            f"{key_path}.path",
            "a batch target's path uses {name} (the row's name), plain and nothing else, so "
            f"that every row writes its own file: {target.path}",
        )


def _check_inputs(source: str, key_path: str, item: RecipeIdentity | BatchRow) -> None:
    if isinstance(item, RecipeIdentity) and item.from_store is not None:
        _check_file(source, f"{key_path}.from_store", item.from_store, "key store")
        _check_password_file(
            source, f"{key_path}.from_store_password_file", item.from_store_password
        )
    if item.cert is not None:
        _check_file(source, f"{key_path}.cert", item.cert)
    if item.key is not None:
        _check_file(source, f"{key_path}.key", item.key)
    if item.chain is not None:
        _check_file(source, f"{key_path}.chain", item.chain)
    _check_password_file(source, f"{key_path}.key_password_file", item.key_password)


def _check_recipe(recipe: Recipe) -> None:
    source = recipe.source
    if not recipe.trust.environments:
        _fail(
            source,
            "trust.environments",
            f"name at least one environment: {', '.join(e.value for e in Environment)}",
        )
    for i, path in enumerate(recipe.trust.add):
        _check_file(source, f"trust.add[{i}]", path, "file or directory")
    _check_password_file(source, "trust.add_password_file", recipe.trust.add_password)
    if recipe.identity is not None:
        _check_inputs(source, "identity", recipe.identity)
    for i, target in enumerate(recipe.targets):
        _check_target(source, f"targets[{i}]", target, batch=False)
        if target.format.needs_identity and recipe.identity is None:
            _fail(
                source,
                f"targets[{i}].format",
                f"a {target.format} target needs an [identity] table (cert and key)",
            )
    for i, preset in enumerate(recipe.presets):
        _check_preset(source, f"presets[{i}]", preset, has_identity=recipe.identity is not None)
    _check_batch(source, recipe.batch)
    if not recipe.targets and not recipe.presets and not (recipe.batch and recipe.batch.targets):
        _fail(
            source,
            "targets",
            "missing; a recipe writes at least one [[targets]] file (or [[presets]] files)",
        )


def _check_batch(source: str, batch: RecipeBatch | None) -> None:
    if batch is None:
        return
    for i, target in enumerate(batch.targets):
        _check_target(source, f"batch.targets[{i}]", target, batch=True)
    for row in batch.rows:
        _check_inputs(source, _row_key(row), row)


def _check_preset(source: str, key_path: str, preset: RecipePreset, *, has_identity: bool) -> None:
    """A preset's identity, password and profile, in the preset's own keys."""
    spec = CLIENT_PRESETS[preset.name]
    if not has_identity:
        _fail(
            source,
            f"{key_path}.name",
            f"the {preset.name} preset writes the client's key; it needs an [identity] table",
        )
    if preset.password is not None and not spec.takes_password:
        _fail(
            source,
            f"{key_path}.password_env",
            f"the {preset.name} files take no password (the key file is written unencrypted, "
            "mode 0600, as the client reads it)",
        )
    if preset.password is None and spec.takes_password:
        _fail(
            source,
            f"{key_path}.password_env",
            f"missing; the {preset.name} key store needs a password (its key entry's is the "
            "same): name it with password_env or password_file",
        )
    _check_password_file(source, f"{key_path}.password_file", preset.password)
    if preset.profile is not None:
        if not any(t.format is TargetFormat.KEYSTORE_PKCS12 for t in preset.targets()):
            _fail(source, f"{key_path}.profile", f"the {preset.name} preset writes no PKCS#12")
        for target in preset.targets():
            if target.format is TargetFormat.KEYSTORE_PKCS12:
                _check_profile(source, key_path, target)
