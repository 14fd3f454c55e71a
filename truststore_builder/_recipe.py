"""Recipes: one reviewable TOML file naming every store a deployment needs, built all or none.

A recipe says what goes in (the NHS environments and generations, extra CA files, the client
identity) and what comes out (targets: a format and a path each). Passwords are named, never
written: ``password_env`` (an environment variable) or ``password_file`` (a file, one trailing
newline removed). Every relative path is relative to the file it is written in: the recipe's
directory for the recipe, the table's directory for a batch table.

.. code-block:: toml

    [trust]
    environments = ["int"]            # prod | int | dep | dev | tra; one or more (required)
    generations = ["g1", "g2"]        # default: those valid at build time (prod: g2)
    add = ["partner-ca.pem"]          # extra CA files (any format add_file reads)
    add_password_env = "OLD_STORE_PASSWORD"    # or add_password_file: a protected add store's
    certifi = false                   # also trust Mozilla's public roots
    drop_expired = false              # leave out expired CAs instead of warning
    allow_leaf = false                # trust an end-entity certificate given in add
    allow_test_pki_impostors = false  # test PKIs only: add CAs carrying an NHS CA's name
    catalogue = "nhs-catalogue"       # a user NHS catalogue (nhs update --out) instead of the shipped one

    [identity]                        # optional: one client key store
    cert = "client.pem"
    key = "client-key.pem"
    key_password_env = "CLIENT_KEY_PASSWORD"   # or key_password_file; only if encrypted
    chain = "chain.pem"               # optional issuer certificates
    alias = "mesh-client"             # default: from the certificate's CN
    allow_g1 = false
    # Renewing in place instead of key: the old key store's key entry keeps its key, alias
    # and trusted CAs; cert (the CA's reply) replaces its certificate, refused if it
    # certifies another key. Its password: from_store_password_env or _file (required).
    # from_store = "old/mesh.keystore"
    # from_store_password_env = "OLD_KEYSTORE_PASSWORD"

    [[targets]]                       # one table per file written
    format = "keystore-jks"
    path = "out/meshclient.jks"
    password_env = "MESH_KEYSTORE_PASSWORD"    # or password_file

    [batch]                           # optional: one key store per row of a CSV table
    table = "mailboxes.csv"           # columns: name, cert, key; optional alias, chain,
                                      # key_password_env, key_password_file
    allow_g1 = false
    [[batch.targets]]                 # paths must use {name}, the row's name
    format = "keystore-p12"
    path = "out/{name}.p12"
    password_env = "MESH_KEYSTORE_PASSWORD"

Target formats: ``pem``, ``p12``, ``jks``, ``jceks`` and ``p7b`` write the trust store, and
``capath`` writes it as OpenSSL's hashed CA directory; ``keystore-p12``, ``keystore-jks`` and
``keystore-jceks`` write the client's key entry with its chain and the trusted CAs;
``client-chain-pem`` writes the chain a client presents (leaf first) and ``client-key-pem`` its
private key (encrypted when a password is named). Key stores and key files are created with
mode 0600. The deployment outputs ``k8s-tls-secret``, ``k8s-trust-bundle``, ``env``,
``chains``, ``windows-ca`` and ``pfx`` write their files (``DEPLOYMENT_FILES``) into the
directory ``path`` names, with options of their own (``name``, ``namespace``, ``order``,
``stem``, ...: see :class:`RecipeTarget`).

Errors name the recipe file and the key, never a password option's value:
``recipe.toml: targets[2].password_env: the environment variable it names is not set (its name
is not shown)``. List indexes count from 0, as in ``jq``; batch rows are named
by their ``name`` (``batch.table[mbx03].key``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import datetime as dt
import difflib
import enum
import functools
import hashlib
import os
import re
import string
import time
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

import attrs

from truststore_builder import _checks
from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder
from truststore_builder._chains import BundleOrder, ordered
from truststore_builder._deprecation import renamed_method
from truststore_builder._errors import (
    ALLOW_G1_REMEDY,
    ALLOW_IMPOSTORS_REMEDY,
    ALLOW_LEAF_REMEDY,
    OVERWRITE_REMEDY,
    BatchError,
    CheckError,
    ExpiredCertificateWarning,
    G1IdentityWarning,
    InputError,
    NonAlphanumericPasswordWarning,
    OutputExistsError,
    RecipeError,
    TruststoreBuilderError,
)
from truststore_builder._existing import compare_existing, compare_existing_directory
from truststore_builder._formats.pkcs12 import resolve_pkcs12_profile
from truststore_builder._model import (
    CLIENT_PRESETS,
    DEPLOYMENT_FILES,
    DeploymentFormat,
    Environment,
    Generation,
    StoreFormat,
)
from truststore_builder._sources.files import read_input, read_named_password
from truststore_builder._sources.nhs import load_nhs_catalogue
from truststore_builder._stores import (
    KeyStore,
    TrustStore,
    serialize_capath,
    serialize_keystore,
    serialize_store,
)
from truststore_builder._writing import (
    StagedFiles,
    check_destinations,
    make_directories,
    remove_directories,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from truststore_builder._model import TrustedEntry

__all__ = [
    "BatchRow",
    "BuildResult",
    "PasswordRef",
    "Recipe",
    "RecipeBatch",
    "RecipeIdentity",
    "RecipePreset",
    "RecipeTarget",
    "RecipeTrust",
    "TargetFormat",
    "WrittenFile",
    "load_recipe",
]


class TargetFormat(enum.StrEnum):
    """What a recipe target writes: the trust store, a client key store, or a client PEM file."""

    PEM = "pem"
    PKCS12 = "p12"
    JKS = "jks"
    JCEKS = "jceks"
    PKCS7 = "p7b"
    CAPATH = "capath"
    KEYSTORE_PKCS12 = "keystore-p12"
    KEYSTORE_JKS = "keystore-jks"
    KEYSTORE_JCEKS = "keystore-jceks"
    CLIENT_CHAIN_PEM = "client-chain-pem"
    CLIENT_KEY_PEM = "client-key-pem"
    K8S_TLS_SECRET = DeploymentFormat.K8S_TLS_SECRET.value
    K8S_TRUST_BUNDLE = DeploymentFormat.K8S_TRUST_BUNDLE.value
    ENV = DeploymentFormat.ENV.value
    CHAINS = DeploymentFormat.CHAINS.value
    WINDOWS_CA = DeploymentFormat.WINDOWS_CA.value
    PFX = DeploymentFormat.PFX.value

    @property
    def deployment(self) -> DeploymentFormat | None:
        """The deployment output it writes (its ``path`` is then a directory), or None."""
        return DeploymentFormat(self.value) if self.value in _DEPLOYMENT_VALUES else None

    @property
    def needs_identity(self) -> bool:
        """Whether the target holds the client identity (a key store, client file or output)."""
        deployment = self.deployment
        if deployment is not None:
            return deployment.needs_identity
        return self not in _TRUST_FORMATS

    @property
    def is_keystore(self) -> bool:
        """Whether the target is a key store (``keystore-*``)."""
        return self in _KEYSTORE_FORMATS

    @property
    def takes_key_password(self) -> bool:
        """Whether the target takes a key entry password of its own (a JKS or JCEKS key store)."""
        return self in _KEY_PASSWORD_ALLOWED

    @property
    def needs_password(self) -> bool:
        """Whether the target cannot be written without a password (JKS, JCEKS, key stores)."""
        return self in _PASSWORD_REQUIRED

    @property
    def private(self) -> bool:
        """Whether the file (or a file of the output) holds a private key or password (0600)."""
        deployment = self.deployment
        if deployment is not None:
            return any(private for _, private in DEPLOYMENT_FILES[deployment])
        return self in _KEYSTORE_FORMATS or self is TargetFormat.CLIENT_KEY_PEM


_TRUST_FORMATS: Mapping[TargetFormat, StoreFormat] = {
    TargetFormat.PEM: StoreFormat.PEM,
    TargetFormat.PKCS12: StoreFormat.PKCS12,
    TargetFormat.JKS: StoreFormat.JKS,
    TargetFormat.JCEKS: StoreFormat.JCEKS,
    TargetFormat.PKCS7: StoreFormat.PKCS7,
    TargetFormat.CAPATH: StoreFormat.CAPATH,
}
_KEYSTORE_FORMATS: Mapping[TargetFormat, StoreFormat] = {
    TargetFormat.KEYSTORE_PKCS12: StoreFormat.PKCS12,
    TargetFormat.KEYSTORE_JKS: StoreFormat.JKS,
    TargetFormat.KEYSTORE_JCEKS: StoreFormat.JCEKS,
}
_DEPLOYMENT_VALUES = frozenset(d.value for d in DeploymentFormat)
_PASSWORD_REQUIRED = frozenset(
    {TargetFormat.JKS, TargetFormat.JCEKS, TargetFormat.PFX, *_KEYSTORE_FORMATS}
)
_PASSWORD_ALLOWED = _PASSWORD_REQUIRED | {
    TargetFormat.PKCS12,
    TargetFormat.CLIENT_KEY_PEM,
    TargetFormat.K8S_TRUST_BUNDLE,
}
_KEY_PASSWORD_ALLOWED = frozenset({TargetFormat.KEYSTORE_JKS, TargetFormat.KEYSTORE_JCEKS})

#: The options (``RecipeTarget`` fields, TOML keys) each format takes besides ``format``,
#: ``path`` and its passwords; any other set is refused.
_TARGET_OPTIONS: Mapping[TargetFormat, frozenset[str]] = {
    TargetFormat.PEM: frozenset({"order"}),
    TargetFormat.KEYSTORE_PKCS12: frozenset({"profile", "alias", "include_trusted"}),
    TargetFormat.KEYSTORE_JKS: frozenset({"alias", "include_trusted"}),
    TargetFormat.KEYSTORE_JCEKS: frozenset({"alias", "include_trusted"}),
    TargetFormat.K8S_TLS_SECRET: frozenset({"name", "namespace", "order"}),
    TargetFormat.K8S_TRUST_BUNDLE: frozenset(
        {"name", "namespace", "order", "pem_key", "jks_key", "pkcs12_key"}
    ),
    TargetFormat.ENV: frozenset(
        {"stem", "cert_variable", "key_variable", "ca_variable", "client_chain", "order"}
    ),
    TargetFormat.CHAINS: frozenset({"prefix"}),
    TargetFormat.WINDOWS_CA: frozenset({"encoding"}),
    TargetFormat.PFX: frozenset({"profile", "include_trusted"}),
}
#: The options named in ``_TARGET_OPTIONS``, in the order the TOML reader takes them.
_OPTION_FIELDS = (
    "profile", "alias", "include_trusted", "order", "name", "namespace", "pem_key", "jks_key",
    "pkcs12_key", "stem", "cert_variable", "key_variable", "ca_variable", "client_chain",
    "prefix", "encoding",
)  # fmt: skip
_FLAG_FIELDS = frozenset({"include_trusted", "client_chain"})


# --- the recipe as values -------------------------------------------------------------------


def _tuple_of_paths(values: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    return tuple(Path(value) for value in values)


def _optional_path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def _unique_paths(values: Iterable[str | os.PathLike[str]]) -> tuple[Path, ...]:
    # A name listed twice adds nothing; building once per repeat made long lists quadratic.
    return tuple(dict.fromkeys(Path(value) for value in values))


def _environments(values: Iterable[Environment | str]) -> tuple[Environment, ...]:
    return tuple(dict.fromkeys(Environment(value) for value in values))


def _generations(values: Iterable[Generation | str]) -> tuple[Generation, ...]:
    return tuple(dict.fromkeys(Generation(value) for value in values))


def _rows(values: Iterable[BatchRow]) -> tuple[BatchRow, ...]:
    return tuple(values)


def _targets(values: Iterable[RecipeTarget]) -> tuple[RecipeTarget, ...]:
    return tuple(values)


def _presets(values: Iterable[RecipePreset]) -> tuple[RecipePreset, ...]:
    return tuple(values)


def _exactly_one(instance: PasswordRef, _: attrs.Attribute[str | None], __: str | None) -> None:
    if (instance.env is None) == (instance.file is None):
        msg = "a PasswordRef names exactly one of env (a variable) or file (a path)"
        raise ValueError(msg)


@attrs.frozen
class PasswordRef:
    """Where a password is read from when the recipe is built: never the password itself.

    Attributes:
        env: An environment variable's name.
        file: A file holding the password (one trailing newline, LF or CRLF, is removed).
    """

    env: str | None = attrs.field(default=None, validator=_exactly_one)
    file: Path | None = attrs.field(default=None, converter=_optional_path)

    def __repr__(self) -> str:
        """Which kind of reference, not the variable's name or the file's path.

        A password typed where the name or path belongs must not be shown back (as the
        command line and recipe errors do not show them).
        """
        return "PasswordRef(env=<not shown>)" if self.env else "PasswordRef(file=<not shown>)"

    def __str__(self) -> str:
        """``an environment variable`` or ``a file``: the name or path is not shown."""
        return "an environment variable" if self.env else "a file"


@attrs.frozen
class RecipeTrust:
    """The ``[trust]`` table: which CAs every store in the recipe trusts.

    Attributes:
        environments: The NHS environments (``prod``, ``int``, ``dep``, ``dev``, ``tra``);
            at least one. A repeated one counts once, as does a repeated generation or ``add``
            path.
        generations: ``g1``, ``g2`` or both, whatever their validity; None (the default) for
            the CAs valid at build time (see ``TrustStoreBuilder.add_nhs``).
        add: Extra CA files or directories, in any format the loaders read.
        add_password: Where the password of the ``add`` stores (PKCS#12, JKS, JCEKS) is: a
            protected PKCS#12 is read only with it, and it proves a JKS store unaltered.
        certifi: Also trust the public web roots of the certifi package.
        drop_expired: Leave expired CAs out instead of keeping them with a warning.
        allow_leaf: Trust an end-entity (leaf) certificate given in ``add`` (refused by
            default: a trust store holds the issuers of a peer's certificate).
        allow_test_pki_impostors: For test PKIs only: let ``add`` CAs carry an NHS CA's
            subject without being the pinned certificate (never named as the NHS CA).
        catalogue: A user NHS catalogue directory (as ``nhs update --out`` writes it) to take
            the environments' CAs from and recognise NHS CAs by; None for the shipped one.
    """

    environments: tuple[Environment, ...] = attrs.field(converter=_environments)
    generations: tuple[Generation, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_generations)
    )
    add: tuple[Path, ...] = attrs.field(default=(), converter=_unique_paths)
    add_password: PasswordRef | None = None
    certifi: bool = False
    drop_expired: bool = False
    allow_leaf: bool = False
    allow_test_pki_impostors: bool = False
    catalogue: Path | None = attrs.field(default=None, converter=_optional_path)


def _key_or_store(
    instance: RecipeIdentity, _: attrs.Attribute[Path | None], __: Path | None
) -> None:
    if (instance.key is None) == (instance.from_store is None):
        msg = "a RecipeIdentity takes its key from key (a file) or from_store (a key store), one"
        raise ValueError(msg)
    if instance.from_store is None and instance.cert is None:
        msg = "a RecipeIdentity with a key file needs its certificate (cert)"
        raise ValueError(msg)
    if instance.from_store is not None and instance.from_store_password is None:
        msg = "a RecipeIdentity from_store needs from_store_password (where the password is)"
        raise ValueError(msg)


@attrs.frozen
class RecipeIdentity:
    """The ``[identity]`` table: one client certificate and its private key.

    The key comes from a key file (``key``) or from an existing key store's key entry
    (``from_store``: renewing in place). From a store, the entry keeps its key and its alias,
    the store's trusted CAs stay trusted (in every file the recipe writes), and ``cert``, when
    given, is the CA's reply that replaces the entry's certificate: one that certifies another
    key is refused (:class:`~truststore_builder.ReplyKeyMismatchError`), nothing written.

    Attributes:
        cert: The client certificate (it may hold its chain too); with ``from_store``, the
            CA's reply (optional: without it the entry keeps its certificate).
        key: The private key file (PEM or DER, PKCS#1, SEC1 or PKCS#8).
        key_password: Where the key file's password is, when the key is encrypted; with
            ``from_store``, the key entry's password where it differs from the store's.
        chain: A file of issuer certificates, if any.
        alias: The key entry's alias (default: from the certificate's CN); with
            ``from_store``, which key entry to take, when the store holds more than one.
        allow_g1: Package a G1 client certificate (with a warning) instead of refusing it.
        from_store: An existing PKCS#12, JKS or JCEKS key store to take the key entry from.
        from_store_password: Where that store's password is.
    """

    cert: Path | None = attrs.field(converter=_optional_path)
    key: Path | None = attrs.field(default=None, converter=_optional_path, validator=_key_or_store)
    key_password: PasswordRef | None = None
    chain: Path | None = attrs.field(default=None, converter=_optional_path)
    alias: str | None = None
    allow_g1: bool = False
    from_store: Path | None = attrs.field(default=None, converter=_optional_path, kw_only=True)
    from_store_password: PasswordRef | None = attrs.field(default=None, kw_only=True)


@attrs.frozen
class RecipeTarget:
    """One file to write: a ``[[targets]]`` (or ``[[batch.targets]]``) table.

    A deployment output (``k8s-tls-secret``, ``k8s-trust-bundle``, ``env``, ``chains``,
    ``windows-ca``, ``pfx``) writes its files, named as ``DEPLOYMENT_FILES`` names them, into
    the directory ``path`` (created if missing; it may hold other files).

    Attributes:
        format: What to write (see :class:`TargetFormat`).
        path: Where (a directory for ``capath`` and the deployment outputs); in a batch, a
            template that uses ``{name}``.
        password: The store password (required for JKS, JCEKS, key stores and ``pfx``, and
            for a ``k8s-trust-bundle`` holding a JKS or PKCS#12 store; optional for a ``p12``
            trust store and a ``client-key-pem``, which it encrypts).
        key_password: A JKS or JCEKS key entry's own password (default: the store password).
        profile: A ``keystore-p12``'s PKCS#12 profile (default ``modern``), or a ``pfx``'s
            (default ``legacy``).
        alias: A key store's key entry alias, instead of the identity's.
        include_trusted: Whether a key store also holds the trusted CAs (default yes; for a
            ``pfx``, no).
        order: ``root-first`` or ``issuer-first``: the CAs' order in a ``pem`` trust store
            and in the PEM bundle of a ``k8s-*`` or ``env`` output (default ``root-first``;
            ``env``: ``issuer-first``, as the MHS adaptor asks).
        name: A ``k8s-*`` output's object name (required for them).
        namespace: A ``k8s-*`` output's namespace (default: none, left to ``kubectl -n``).
        pem_key: A ``k8s-trust-bundle``'s key of its PEM bundle (default ``trust-bundle.pem``).
        jks_key: A ``k8s-trust-bundle``'s key of a JKS trust store (default: no JKS).
        pkcs12_key: A ``k8s-trust-bundle``'s key of a PKCS#12 trust store (default: none).
        stem: An ``env`` output's file stem (default ``mhs``: ``mhs.env``, ``mhs-env.sh``).
        cert_variable: An ``env`` output's certificate variable (``MHS_SECRET_CLIENT_CERT``).
        key_variable: Its private key variable (``MHS_SECRET_CLIENT_KEY``).
        ca_variable: Its CA certificates variable (``MHS_SECRET_CA_CERTS``).
        client_chain: Whether an ``env`` certificate value has the client's intermediates
            after it (default no: the certificate alone).
        prefix: A ``chains`` output's file name prefix (default ``chain-``).
        encoding: A ``windows-ca`` output's encoding: ``der`` (``.cer``, the default) or
            ``pem`` (``.crt``).
    """

    format: TargetFormat = attrs.field(converter=TargetFormat)
    path: Path = attrs.field(converter=Path)
    password: PasswordRef | None = None
    key_password: PasswordRef | None = None
    profile: str | None = None
    alias: str | None = None
    include_trusted: bool | None = None
    order: str | None = None
    name: str | None = None
    namespace: str | None = None
    pem_key: str | None = None
    jks_key: str | None = None
    pkcs12_key: str | None = None
    stem: str | None = None
    cert_variable: str | None = None
    key_variable: str | None = None
    ca_variable: str | None = None
    client_chain: bool | None = None
    prefix: str | None = None
    encoding: str | None = None


def _known_preset(_instance: object, _attribute: object, value: str) -> None:
    if value not in CLIENT_PRESETS:
        msg = f"unknown client preset {value!r}; use one of {', '.join(CLIENT_PRESETS)}"
        raise ValueError(msg)


@attrs.frozen
class RecipePreset:
    """A ``[[presets]]`` table: the files one client reads, written under ``directory``.

    Attributes:
        name: The client preset (``mesh-java``, ``mesh-java-p12``, ``tkw``, ``mesh-python``;
            see ``CLIENT_PRESETS``). Each needs the ``[identity]``.
        directory: Where its files go (their paths under it are the preset's).
        password: The store password (required by the key store presets; their key entry's
            password is the same); ``mesh-python`` takes none.
        profile: A PKCS#12 key store's profile (``mesh-java-p12``; default ``modern``).
    """

    name: str = attrs.field(validator=_known_preset)
    directory: Path = attrs.field(converter=Path)
    password: PasswordRef | None = None
    profile: str | None = None

    def targets(self) -> tuple[RecipeTarget, ...]:
        """The preset's files as targets, with its password (the key entry's too)."""
        preset = CLIENT_PRESETS[self.name]
        return tuple(
            RecipeTarget(
                format=holds,
                path=self.directory / path,
                password=self.password if preset.takes_password else None,
                profile=self.profile if holds == TargetFormat.KEYSTORE_PKCS12 else None,
                include_trusted=include_trusted,
            )
            for path, holds, include_trusted in preset.files
        )


@attrs.frozen
class BatchRow:
    """One row of a batch table: a named client identity.

    Attributes:
        name: The row's name, used in target paths as ``{name}`` (a mailbox, an endpoint).
        cert: The client certificate.
        key: Its private key file.
        key_password: Where the key file's password is, when the key is encrypted.
        chain: A file of issuer certificates, if any.
        alias: The key entry's alias (default: from the certificate's CN).
        line: The row's line in the table, when read from one.
    """

    name: str
    cert: Path = attrs.field(converter=Path)
    key: Path = attrs.field(converter=Path)
    key_password: PasswordRef | None = None
    chain: Path | None = attrs.field(default=None, converter=_optional_path)
    alias: str | None = None
    line: int | None = None


@attrs.frozen
class RecipeBatch:
    """The ``[batch]`` table: one set of key store targets per row of identities.

    Attributes:
        rows: The identities, in table order.
        targets: The files written per row; each path uses ``{name}``.
        table: The CSV file the rows were read from, when they were.
        allow_g1: Package G1 client certificates (with a warning) instead of refusing them.
    """

    rows: tuple[BatchRow, ...] = attrs.field(converter=_rows)
    targets: tuple[RecipeTarget, ...] = attrs.field(converter=_targets)
    table: Path | None = attrs.field(default=None, converter=_optional_path)
    allow_g1: bool = False


@attrs.frozen
class WrittenFile:
    """One file a recipe wrote.

    Attributes:
        path: Where.
        format: What.
        target: The target's key path in the recipe (``targets[1]``, ``batch.targets[0]``).
        row: The batch row's name, for a batch target.
        description: What it holds, in words (``key store mesh-client, 2 in chain, 6 CAs``).
        sha256: SHA-256 of the bytes written, lower-case hex (for a ``capath`` directory, of
            each file's name, a NUL and its bytes, in name order).
        private: Whether it holds a private key (mode 0600).
        certificates: The SHA-256 fingerprints of the trusted CA certificates it holds, in
            store order (none for a client chain or key file).
        unchanged: The file was already there holding what the build made (read with the
            build's password: the same entries, keys, chains and protection), so it was left
            untouched: same bytes, same inode, same modification time. ``sha256`` is then
            that of the file on disk.
    """

    path: Path
    format: TargetFormat
    target: str
    row: str | None
    description: str
    sha256: str
    private: bool
    certificates: tuple[str, ...] = ()
    unchanged: bool = False


@attrs.frozen
class BuildResult:
    """What :meth:`Recipe.build` wrote.

    Attributes:
        files: Every file written, in recipe order (targets, then each batch row's).
        rows: The number of batch rows.
        workers: The processes the batch was built with (1: in this process).
        seconds: Wall-clock time of the whole build.
        validated_at: The time certificates were judged at.
        trust_store: The checked trust store every target trusts (its ``expired`` and
            ``dropped`` name what expiry did).
        keystore: The checked ``[identity]`` key store, when the recipe has one.
    """

    files: tuple[WrittenFile, ...]
    rows: int
    workers: int
    seconds: float
    validated_at: dt.datetime
    trust_store: TrustStore | None = None
    keystore: KeyStore | None = None

    @property
    def written(self) -> tuple[Path, ...]:
        """The paths of every file the build made, in order (those left unchanged too)."""
        return tuple(file.path for file in self.files)

    def summary(self) -> str:
        """One line: how many files, from targets and from batch rows, and how long it took."""
        batch = sum(1 for file in self.files if file.row is not None)
        kept = sum(1 for file in self.files if file.unchanged)
        parts = [f"wrote {len(self.files)} file{'s' if len(self.files) != 1 else ''}"]
        if kept:
            parts = [f"wrote {len(self.files) - kept}, left {kept} unchanged, of {len(self.files)}"]
            parts[0] += f" file{'s' if len(self.files) != 1 else ''}"
        if self.rows:
            parts.append(
                f"({len(self.files) - batch} from targets, {batch} from {self.rows} batch "
                f"row{'s' if self.rows != 1 else ''}, {self.workers} "
                f"worker{'s' if self.workers != 1 else ''})"
            )
        parts.append(f"in {self.seconds:.1f} s")
        return " ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready report (no secret is in it)."""
        return {
            "files": [
                {
                    "path": str(file.path),
                    "format": file.format.value,
                    "target": file.target,
                    "row": file.row,
                    "description": file.description,
                    "sha256": file.sha256,
                    "private": file.private,
                    "certificates": list(file.certificates),
                    "unchanged": file.unchanged,
                }
                for file in self.files
            ],
            "rows": self.rows,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "validated_at": self.validated_at.isoformat(),
        }

    as_dict = renamed_method(to_dict, "as_dict")


@attrs.frozen
class Recipe:
    """A deployment's stores as one value: what goes in, what comes out, built all or none.

    Load one with :func:`load_recipe`, or make one in Python; change it with
    ``attrs.evolve``. Passwords are held as :class:`PasswordRef` references only.

    Attributes:
        trust: The CAs every store trusts.
        targets: The files to write from the trust store and the identity.
        identity: The client identity, if the recipe has one.
        presets: Client presets: each writes the files one client reads (see
            :class:`RecipePreset`).
        batch: One set of key stores per row of identities, if the recipe has a batch.
        source: The recipe file (``<recipe>`` for one made in Python): errors name it and
            the key. Empty: errors name neither, for a caller whose inputs are not recipe keys
            (the command line's ``build`` makes a recipe of its options; its errors name them).
    """

    trust: RecipeTrust
    targets: tuple[RecipeTarget, ...] = attrs.field(default=(), converter=_targets)
    identity: RecipeIdentity | None = None
    batch: RecipeBatch | None = None
    source: str = "<recipe>"
    presets: tuple[RecipePreset, ...] = attrs.field(default=(), converter=_presets, kw_only=True)

    def check(self) -> None:
        """Check what needs no certificate read: options, templates, and that inputs exist.

        Formats against their options, the identity a target needs, batch path templates,
        and that every input file exists.

        Raises:
            RecipeError: The first problem, named by its key path.
        """
        _check_recipe(self)

    def build(
        self,
        *,
        overwrite: bool = False,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
        at: dt.datetime | None = None,
    ) -> BuildResult:
        """Check and serialise every target (and every batch row), then write them all.

        Nothing is written until every password is read, every certificate checked and every
        file serialised and read back; a failure leaves every existing file untouched and
        creates none.

        Args:
            overwrite: Replace existing files (without it an existing file is an error).
            progress: Called as ``progress(done, total)`` after each batch row.
            workers: Processes for the batch (default: the CPUs this process may use). Key
                store serialisation holds the GIL, so rows run in separate processes.
            at: Judge validity at this (timezone-aware) time instead of now.

        Returns:
            The files written.

        Raises:
            RecipeError: A key is wrong, a file is missing, a password is not set.
            BatchError: One or more batch rows failed (each is in ``failures``).
            CheckError: A check refused the trust store or the identity.
            InputError: A certificate or key cannot be read.
            OutputExistsError: A target exists and ``overwrite`` is false.
        """
        return _build(self, overwrite=overwrite, progress=progress, workers=workers, at=at)


# --- reading a recipe file ------------------------------------------------------------------


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and check a TOML recipe (and its batch table); nothing is built or written.

    Args:
        path: The recipe file. Relative paths in it are relative to its directory.

    Returns:
        The recipe.

    Raises:
        RecipeError: The file cannot be read, is not TOML, or has an unknown key, a value of
            the wrong type, an inline password, an unknown format or a missing file; the
            message names the file and the key's path.
    """
    source = os.fspath(path)
    try:
        raw = read_input(path, what="recipe")
    except InputError as exc:
        raise RecipeError(str(exc), path=source) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{source}: not valid TOML: {exc}"
        raise RecipeError(msg, path=source) from None
    except UnicodeDecodeError as exc:
        msg = f"{source}: not valid TOML: not UTF-8 (byte {exc.start})"
        raise RecipeError(msg, path=source) from None
    except ValueError as exc:  # an integer of more digits than Python converts, say
        msg = f"{source}: not valid TOML: {exc}"
        raise RecipeError(msg, path=source) from None
    except RecursionError:
        msg = f"{source}: not valid TOML: nested too deeply"
        raise RecipeError(msg, path=source) from None
    recipe = _parse(_Table(source, "", Path(path).parent, data))
    _check_recipe(recipe)
    return recipe


def _context(source: str, key_path: str = "") -> str:
    """Where in a recipe: its file and the key; nothing for a recipe without source."""
    if not source:
        return ""
    return f"{source}: {key_path}" if key_path else source


def _fail(source: str, key_path: str, message: str) -> NoReturn:
    where = _context(source, key_path)
    text = f"{where}: {message}" if where else message
    raise RecipeError(text, path=source, key_path=key_path or None)


_TOML_TYPES = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "a table",
    dt.datetime: "a date-time",
    dt.date: "a date",
    dt.time: "a time",
}


def _kind(value: object) -> str:
    for kind, name in _TOML_TYPES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


@attrs.define
class _Table:
    """A TOML table being read: it knows its key path and refuses keys nobody took."""

    source: str
    prefix: str
    base: Path
    data: Mapping[str, object]
    taken: set[str] = attrs.field(factory=set)

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> NoReturn:
        _fail(self.source, self.key(name), message)

    def _get(self, name: str, kind: type, expected: str, *, required: bool) -> object:
        self.taken.add(name)
        if name not in self.data:
            if required:
                self.fail(name, f"missing; expected {expected}")
            return None
        value = self.data[name]
        # bool is an int in Python; TOML's true is not a number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(name, f"expected {expected}, not {_kind(value)}")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = cast("str | None", self._get(name, str, "a string", required=required))
        if value == "":
            self.fail(name, "is empty")
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self._get(name, bool, "true or false", required=False)
        return default if value is None else bool(value)

    def optional_flag(self, name: str) -> bool | None:
        value = self._get(name, bool, "true or false", required=False)
        return None if value is None else bool(value)

    def texts(self, name: str, *, required: bool = False) -> tuple[str, ...] | None:
        value = self._get(name, list, "a list of strings", required=required)
        if value is None:
            return None
        items = tuple(cast("list[object]", value))
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{name}[{i}]", f"expected a string, not {_kind(item)}")
        return cast("tuple[str, ...]", items)

    def path(self, name: str, *, required: bool = False) -> Path | None:
        value = self.text(name, required=required)
        return None if value is None else self.base / value

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        value = self._get(name, dict, "a table", required=required)
        if value is None:
            return None
        return _Table(self.source, self.key(name), self.base, cast("dict[str, object]", value))

    def tables(self, name: str) -> list[_Table] | None:
        value = self._get(name, list, "an array of tables ([[...]])", required=False)
        if value is None:
            return None
        tables = []
        for i, item in enumerate(cast("list[object]", value)):
            if not isinstance(item, dict):
                self.fail(f"{name}[{i}]", f"expected a table, not {_kind(item)}")
            tables.append(_Table(self.source, self.key(f"{name}[{i}]"), self.base, item))
        return tables

    def password(self, stem: str) -> PasswordRef | None:
        """``<stem>_env`` or ``<stem>_file``; an inline ``<stem>`` is refused, never echoed."""
        if stem in self.data:
            self.taken.add(stem)
            self.fail(
                stem,
                "a password is never written in a recipe (recipes are reviewed and kept in "
                f"version control): name an environment variable with {stem}_env, or a file "
                f"with {stem}_file",
            )
        env = self.text(f"{stem}_env")
        file = self.path(f"{stem}_file")
        if env is not None and file is not None:
            self.fail(f"{stem}_env", f"give {stem}_env or {stem}_file, not both")
        if env is not None:
            return PasswordRef(env=env)
        if file is not None:
            return PasswordRef(file=file)
        return None

    def finish(self) -> None:
        """Refuse the keys no reader asked for, suggesting the one probably meant."""
        for name in self.data:
            if name not in self.taken:
                known = sorted(self.taken)
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
                self.fail(name, f"unknown key; {hint}")


def _parse(top: _Table) -> Recipe:
    trust_table = top.table("trust", required=True)
    assert trust_table is not None  # required=True
    trust = _parse_trust(trust_table)
    identity_table = top.table("identity")
    identity = _parse_identity(identity_table) if identity_table else None
    targets = tuple(_parse_target(table) for table in top.tables("targets") or [])
    batch_table = top.table("batch")
    batch = _parse_batch(batch_table) if batch_table else None
    presets = tuple(_parse_preset(table) for table in top.tables("presets") or [])
    top.finish()
    return Recipe(
        trust=trust,
        targets=targets,
        identity=identity,
        batch=batch,
        source=top.source,
        presets=presets,
    )


def _parse_preset(table: _Table) -> RecipePreset:
    name = table.text("name", required=True)
    assert name is not None  # required=True
    if name not in CLIENT_PRESETS:
        table.fail(
            "name", f"unknown client preset {name!r}; use one of {', '.join(CLIENT_PRESETS)}"
        )
    directory = table.path("directory", required=True)
    assert directory is not None  # required=True
    preset = RecipePreset(
        name=name,
        directory=directory,
        password=table.password("password"),
        profile=table.text("profile"),
    )
    table.finish()
    return preset


def _parse_trust(table: _Table) -> RecipeTrust:
    environments = table.texts("environments", required=True) or ()
    known_environments = [e.value for e in Environment]
    for i, value in enumerate(environments):
        if value not in known_environments:
            table.fail(
                f"environments[{i}]",
                f"unknown environment {value!r}; use {', '.join(known_environments)}",
            )
    if not environments:
        table.fail(
            "environments", f"name at least one environment: {', '.join(known_environments)}"
        )
    generations = table.texts("generations")
    for i, value in enumerate(generations or ()):
        if value not in {g.value for g in Generation}:
            table.fail(f"generations[{i}]", f"unknown generation {value!r}; use g1 or g2")
    if generations is not None and not generations:
        table.fail("generations", "name at least one generation: g1, g2")
    add = table.texts("add") or ()
    trust = RecipeTrust(
        environments=environments,
        generations=generations,
        add=[table.base / value for value in add],
        add_password=table.password("add_password"),
        certifi=table.flag("certifi", default=False),
        drop_expired=table.flag("drop_expired", default=False),
        allow_leaf=table.flag("allow_leaf", default=False),
        allow_test_pki_impostors=table.flag("allow_test_pki_impostors", default=False),
        catalogue=table.path("catalogue"),
    )
    table.finish()
    return trust


def _parse_identity(table: _Table) -> RecipeIdentity:
    from_store = table.path("from_store")
    cert = table.path("cert", required=from_store is None)
    key = table.path("key", required=from_store is None)
    store_password = table.password("from_store_password")
    if from_store is not None:
        if key is not None:
            table.fail("key", "give key or from_store, not both: from_store keeps the store's key")
        if store_password is None:
            table.fail(
                "from_store_password_env",
                "missing; name the old store's password with from_store_password_env or "
                "from_store_password_file",
            )
    elif store_password is not None:
        table.fail("from_store_password_env", "only an identity with from_store takes it")
    identity = RecipeIdentity(
        cert=cert,
        key=key,
        key_password=table.password("key_password"),
        chain=table.path("chain"),
        alias=table.text("alias"),
        allow_g1=table.flag("allow_g1", default=False),
        from_store=from_store,
        from_store_password=store_password,
    )
    table.finish()
    return identity


def _parse_target(table: _Table) -> RecipeTarget:
    name = table.text("format", required=True)
    try:
        target_format = TargetFormat(cast("str", name))
    except ValueError:
        known = ", ".join(f.value for f in TargetFormat)
        table.fail("format", f"unknown format {name!r}; use one of {known}")
    path = table.text("path", required=True)
    assert path is not None  # required=True
    taken = _TARGET_OPTIONS.get(target_format, frozenset())
    for option in _OPTION_FIELDS:
        if option in table.data and option not in taken:
            table.taken.add(option)
            table.fail(option, _not_taken(target_format, option))
    options: dict[str, object] = {
        option: table.optional_flag(option) if option in _FLAG_FIELDS else table.text(option)
        for option in _OPTION_FIELDS
    }
    target = RecipeTarget(
        format=target_format,
        path=table.base / path,
        password=table.password("password"),
        key_password=table.password("key_password"),
        **options,  # type: ignore[arg-type]
    )
    # Options a format does not take are refused in _check_recipe, which also checks
    # recipes made in Python.
    table.finish()
    return target


_ROW_REQUIRED = ("name", "cert", "key")
_ROW_OPTIONAL = ("alias", "chain", "key_password_env", "key_password_file")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _parse_batch(table: _Table) -> RecipeBatch:
    csv_path = table.path("table", required=True)
    assert csv_path is not None  # required=True
    targets = tuple(_parse_target(t) for t in table.tables("targets") or [])
    if not targets:
        table.fail("targets", "missing; a batch needs at least one [[batch.targets]] table")
    allow_g1 = table.flag("allow_g1", default=False)
    table.finish()
    rows = _read_table(table.source, table.key("table"), csv_path)
    return RecipeBatch(rows=rows, targets=targets, table=csv_path, allow_g1=allow_g1)


def _table_text(source: str, key_path: str, path: Path) -> str:
    """A batch table's text (UTF-8, a byte order mark allowed), or a RecipeError naming it."""
    if not path.exists():
        _fail(source, key_path, f"no such file: {path}")
    try:
        return read_input(path, what="batch table").decode("utf-8-sig")
    except InputError as exc:
        _fail(source, key_path, str(exc))
    except UnicodeDecodeError:
        _fail(source, key_path, f"cannot read {path} (not UTF-8 text)")


def _read_table(source: str, key_path: str, path: Path) -> tuple[BatchRow, ...]:
    """The rows of a batch CSV; its relative paths are relative to its own directory."""
    reader = csv.DictReader(_table_text(source, key_path, path).splitlines())
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as exc:
        _fail(
            source, key_path, f"{path.name} line {reader.line_num + 1}: not a readable CSV ({exc})"
        )
    missing = [c for c in _ROW_REQUIRED if c not in columns]
    if missing:
        _fail(source, key_path, f"{path.name} has no column {', '.join(missing)} (the header row)")
    unknown = [c for c in columns if c not in _ROW_REQUIRED + _ROW_OPTIONAL]
    if unknown:
        known = ", ".join(_ROW_REQUIRED + _ROW_OPTIONAL)
        _fail(source, key_path, f"{path.name}: unknown column {', '.join(unknown)}; known: {known}")
    reader.fieldnames = columns
    rows: list[BatchRow] = []
    seen: dict[str, int] = {}
    for record in _csv_records(reader, source, key_path, path):
        line = reader.line_num
        if None in record:
            _fail(source, key_path, f"{path.name} line {line}: more cells than columns")
        cells = {k: (v or "").strip() for k, v in record.items()}
        row = _table_row(source, key_path, path, line, cells)
        if row.name.casefold() in seen:
            _fail(
                source,
                f"{key_path}[{row.name}].name",
                f"{path.name} line {line}: the name is already used on line "
                f"{seen[row.name.casefold()]}",
            )
        seen[row.name.casefold()] = line
        rows.append(row)
    if not rows:
        _fail(source, key_path, f"{path.name} has a header but no rows")
    return tuple(rows)


def _csv_records(
    reader: csv.DictReader[str], source: str, key_path: str, path: Path
) -> Iterator[dict[str, str]]:
    """The table's records; a CSV error (a field over the size limit, say) is a RecipeError."""
    try:
        yield from reader
    except csv.Error as exc:
        _fail(
            source, key_path, f"{path.name} line {reader.line_num + 1}: not a readable CSV ({exc})"
        )


def _table_row(
    source: str, key_path: str, path: Path, line: int, cells: Mapping[str, str]
) -> BatchRow:
    name = cells["name"]
    where = f"{key_path}[{name}]"
    if not _NAME.fullmatch(name):
        _fail(
            source,
            f"{where}.name" if name else key_path,
            f"{path.name} line {line}: a row name is letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (it becomes part of a file name), not {name!r}",
        )
    for column in ("cert", "key"):
        if not cells[column]:
            _fail(source, f"{where}.{column}", f"{path.name} line {line}: the cell is empty")
    env, file = cells.get("key_password_env"), cells.get("key_password_file")
    if env and file:
        _fail(
            source,
            f"{where}.key_password_env",
            f"{path.name} line {line}: give key_password_env or key_password_file, not both",
        )
    base = path.parent
    key_password = PasswordRef(env=env) if env else PasswordRef(file=base / file) if file else None
    chain = cells.get("chain")
    return BatchRow(
        name=name,
        cert=base / cells["cert"],
        key=base / cells["key"],
        key_password=key_password,
        chain=base / chain if chain else None,
        alias=cells.get("alias") or None,
        line=line,
    )


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


# --- building ---------------------------------------------------------------------------------


class _Passwords:
    """The passwords a build reads: each reference once, however many keys name it."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._read: dict[PasswordRef, bytes] = {}

    def __repr__(self) -> str:
        return f"<_Passwords: {len(self._read)} read (not shown)>"

    def get(self, key_stem: str, ref: PasswordRef | None) -> bytes | None:
        """The password ``ref`` names (None for None); errors name ``key_stem``'s key."""
        if ref is None:
            return None
        if ref not in self._read:
            self._read[ref] = _read_password(self._source, key_stem, ref)
        return self._read[ref]


def _read_password(source: str, key_stem: str, ref: PasswordRef) -> bytes:
    """The password a reference names; the error names the key, never the value.

    Nor the variable's name or the file's path: a password written where either belongs must
    not be printed back.
    """

    def refuse(kind: str, problem: str) -> NoReturn:
        _fail(source, f"{key_stem}_{kind}", problem)

    password = read_named_password(ref.env, ref.file, refuse)
    assert password is not None  # PasswordRef names one of the two
    return password


@attrs.frozen
class _Output:
    """A target made concrete: its final path and its passwords (never shown)."""

    target: RecipeTarget
    key_path: str
    path: Path
    password: bytes | None = attrs.field(repr=False)
    key_password: bytes | None = attrs.field(repr=False)


@attrs.frozen
class _Planned:
    """A serialised file (or capath directory: file name to bytes) waiting to be written."""

    path: Path
    data: bytes | Mapping[str, bytes] = attrs.field(repr=False)
    file: WrittenFile
    #: What reads the file back to compare it with one already there (see _existing).
    store_format: StoreFormat | None = None
    password: bytes | None = attrs.field(default=None, repr=False)
    key_password: bytes | None = attrs.field(default=None, repr=False)


def _resolve_outputs(
    passwords: _Passwords, prefix: str, targets: Sequence[RecipeTarget], name: str | None
) -> tuple[_Output, ...]:
    outputs = []
    for i, target in enumerate(targets):
        key_path = f"{prefix}[{i}]"
        password = passwords.get(f"{key_path}.password", target.password)
        key_password = passwords.get(f"{key_path}.key_password", target.key_password)
        path = Path(str(target.path).format(name=name)) if name is not None else target.path
        outputs.append(_Output(target, key_path, path, password, key_password))
    return tuple(outputs)


def _preset_outputs(
    passwords: _Passwords, presets: Sequence[RecipePreset], source: str
) -> tuple[_Output, ...]:
    """Every preset's files, its password checked against the client's rules (never shown)."""
    outputs: list[_Output] = []
    for i, preset in enumerate(presets):
        key_path = f"presets[{i}]"
        # The preset's password first: an error names the preset's key, not a file's.
        password = passwords.get(f"{key_path}.password", preset.password)
        found = _resolve_outputs(passwords, f"{key_path}.files", preset.targets(), None)
        if (
            CLIENT_PRESETS[preset.name].alphanumeric_password
            and password is not None
            and not _ALPHANUMERIC.fullmatch(password)
        ):
            where = _context(source, key_path)
            msg = (
                f"{where}{': ' if where else ''}the {preset.name} password holds characters other than ASCII "
                "letters and digits (not shown); meshclient.cfg keeps it, and NHS England "
                "advises letters and digits only (a '£' breaks a file not saved as UTF-8)"
            )
            warnings.warn(msg, NonAlphanumericPasswordWarning, stacklevel=4)
        outputs += found
    return tuple(outputs)


_ALPHANUMERIC = re.compile(rb"[A-Za-z0-9]+")


@functools.lru_cache(maxsize=4)
def _trust_builder(trust: RecipeTrust, add_password: bytes | None) -> TrustStoreBuilder:
    """The trust builder a recipe's [trust] describes (cached: each batch worker reads it once).

    ``add_password`` is the one ``trust.add_password`` names, already read.
    """
    builder = TrustStoreBuilder()
    if trust.catalogue is not None:
        builder = builder.with_catalogue(load_nhs_catalogue(trust.catalogue))
    builder = builder.allow_leaf(trust.allow_leaf).allow_test_pki_impostors(
        trust.allow_test_pki_impostors
    )
    for environment in trust.environments:
        builder = builder.add_nhs(environment, trust.generations)
    for path in trust.add:
        builder = builder.add_file(path, password=add_password)
    if trust.certifi:
        builder = builder.add_certifi()
    if trust.drop_expired:
        builder = builder.drop_expired()
    return builder


#: Remedies a recipe words in its own keys (overwrite stays: build(overwrite=True), --force).
_RECIPE_REMEDIES = {
    ALLOW_G1_REMEDY: "set allow_g1 = true in the recipe to package it anyway (it then warns)",
    ALLOW_LEAF_REMEDY: "add its issuer instead, or set allow_leaf = true in [trust]",
    ALLOW_IMPOSTORS_REMEDY: (
        "a test PKI that imitates NHS names must be allowed explicitly: set "
        "allow_test_pki_impostors = true in [trust]"
    ),
}


def _in_context(exc: TruststoreBuilderError, where: str) -> TruststoreBuilderError:
    """The same error type, its message prefixed with where in the recipe it happened.

    Without ``where`` (a recipe without source) the error is the library's own, as it was.
    """
    if isinstance(exc, RecipeError) or not where:
        return exc
    # A remedy in Python's terms becomes the recipe's key where the recipe has one.
    remedy = _RECIPE_REMEDIES.get(exc.remedy, exc.remedy) if exc.remedy else None
    # A copy of the same type with its own fields (NhsImpostorError's nhs_name, ...), made
    # without its constructor, whose signature a subclass may change; then message and remedy.
    again = type(exc).__new__(type(exc))
    again.__dict__.update(exc.__dict__)
    TruststoreBuilderError.__init__(
        again, f"{where}: {exc.problem}", source=exc.source, remedy=remedy
    )
    again.__cause__ = exc
    return again


@attrs.frozen
class _OldStore:
    """An existing key store an identity is taken from, and its password (never shown)."""

    path: Path
    password: bytes = attrs.field(repr=False)


def _keystore(
    trust: TrustStoreBuilder,
    *,
    cert: Path | None,
    key: Path | None,
    key_password: bytes | None,
    chain: Path | None,
    alias: str | None,
    allow_g1: bool,
    at: dt.datetime,
    old_store: _OldStore | None = None,
) -> KeyStore:

    builder = KeyStoreBuilder().with_trust_store(trust)
    if old_store is not None:
        builder = builder.with_identity_from_store(
            old_store.path,
            password=old_store.password,
            alias=alias,
            key_password=key_password,
            certificate=cert,
            chain=chain,
        )
    else:
        assert cert is not None  # RecipeIdentity and BatchRow: a key file comes with its cert
        assert key is not None
        builder = builder.with_identity(
            cert, key, key_password=key_password, chain=chain, alias=alias
        )
    builder = builder.allow_g1(allow_g1).at(at)
    with warnings.catch_warnings():
        # The shared trust store already said which CAs have expired, once.
        warnings.simplefilter("ignore", ExpiredCertificateWarning)
        return builder.build()


def _serialize(
    output: _Output, store: TrustStore, keystore: KeyStore | None, row: str | None
) -> list[_Planned]:
    """Serialise one target (reading it back): its file, or its output's files; none written."""
    target = output.target
    fmt = target.format
    if fmt.deployment is not None:
        return _serialize_deployment(output, store, keystore)
    certificates: Sequence[TrustedEntry] = ()
    data: bytes | Mapping[str, bytes]
    if fmt is TargetFormat.PEM and target.order is not None:
        from truststore_builder._deployment import bundle_pem  # noqa: PLC0415 - start-up time: deployment only

        data = bundle_pem(store, target.order)
        description = f"trust store, {len(store)} CAs, {target.order}"
        certificates = ordered(store.entries, target.order)
    elif fmt is TargetFormat.CAPATH:
        data = serialize_capath(store)
        description = f"trust store, {len(store)} CAs, OpenSSL's hashed directory"
        certificates = store.entries
    elif not fmt.needs_identity:
        data = serialize_store(store, _TRUST_FORMATS[fmt], output.password)
        description = f"trust store, {len(store)} CAs"
        certificates = store.entries
    else:
        assert keystore is not None  # _check_recipe: identity targets have one
        if fmt.is_keystore:
            if target.alias is not None:
                keystore = _with_alias(keystore, target.alias, output.key_path)
            data = serialize_keystore(
                keystore,
                _KEYSTORE_FORMATS[fmt],
                output.password,
                key_password=output.key_password,
                profile=target.profile or "modern",
                include_trusted=target.include_trusted is not False,
            )
            certificates = (
                keystore.trust_store.entries if target.include_trusted is not False else ()
            )
            description = (
                f"key store {keystore.alias}, {len(keystore.chain)} in chain, "
                f"{len(certificates)} CAs"
            )
        elif fmt is TargetFormat.CLIENT_CHAIN_PEM:
            data = keystore.chain_pem()
            description = f"client chain of {keystore.alias}, leaf first"
        else:
            data = keystore.key_pem(output.password)
            encrypted = "encrypted" if output.password else "unencrypted"
            description = f"client key of {keystore.alias}, {encrypted}"
    file = WrittenFile(
        path=output.path,
        format=fmt,
        target=output.key_path,
        row=row,
        description=description,
        sha256=_sha256(data),
        private=fmt.private,
        certificates=tuple(entry.sha256 for entry in certificates),
    )
    store_format = _TRUST_FORMATS.get(fmt) or _KEYSTORE_FORMATS.get(fmt)
    return [_Planned(output.path, data, file, store_format, output.password, output.key_password)]


def _serialize_deployment(
    output: _Output, store: TrustStore, keystore: KeyStore | None
) -> list[_Planned]:
    """A deployment output's files under the target's directory, each read back already."""
    from truststore_builder import _deployment as deployment  # noqa: PLC0415 - start-up time: deployment only
    from truststore_builder._formats import envfile  # noqa: PLC0415 - start-up time: deployment only

    target = output.target
    fmt = target.format
    order = target.order or BundleOrder.ROOT_FIRST
    files: deployment.DeploymentFiles
    if fmt is TargetFormat.K8S_TLS_SECRET:
        assert keystore is not None  # _check_recipe: identity targets have one
        files = deployment.kubernetes_tls_secret(
            keystore, name=cast("str", target.name), namespace=target.namespace, order=order
        )
    elif fmt is TargetFormat.K8S_TRUST_BUNDLE:
        files = deployment.kubernetes_trust_bundle(
            store,
            name=cast("str", target.name),
            namespace=target.namespace,
            key=target.pem_key or "trust-bundle.pem",
            jks_key=target.jks_key,
            pkcs12_key=target.pkcs12_key,
            password=output.password,
            order=order,
        )
    elif fmt is TargetFormat.ENV:
        assert keystore is not None
        files = deployment.environment_files(
            keystore,
            stem=target.stem or "mhs",
            cert_variable=target.cert_variable or envfile.MHS_CERT_VARIABLE,
            key_variable=target.key_variable or envfile.MHS_KEY_VARIABLE,
            ca_variable=target.ca_variable or envfile.MHS_CA_VARIABLE,
            client_chain=bool(target.client_chain),
            order=target.order or BundleOrder.ISSUER_FIRST,
        )
    elif fmt is TargetFormat.CHAINS:
        files = deployment.chain_files(store, prefix=target.prefix or "chain-")
    elif fmt is TargetFormat.WINDOWS_CA:
        files = deployment.windows_ca_files(store, encoding=target.encoding or "der")
    else:
        assert keystore is not None
        assert output.password is not None  # _check_recipe: a pfx needs one
        files = deployment.windows_pfx(
            keystore,
            output.password,
            profile=target.profile or "legacy",
            include_trusted=bool(target.include_trusted),
        )
    planned = []
    for path, data, private in files.planned(output.path):
        name = path.relative_to(output.path).as_posix()
        file = WrittenFile(
            path=path,
            format=fmt,
            target=output.key_path,
            row=None,
            description=files.descriptions.get(name, str(fmt)),
            sha256=_sha256(data),
            private=private,
            certificates=files.certificates.get(name, ()),
        )
        # A PFX draws fresh salts at every build: compared by what it holds, as a key store.
        pfx = fmt is TargetFormat.PFX
        planned.append(
            _Planned(
                path,
                data,
                file,
                StoreFormat.PKCS12 if pfx else None,
                output.password if pfx else None,
            )
        )
    return planned


def _sha256(data: bytes | Mapping[str, bytes]) -> str:
    """SHA-256 of a file's bytes, or of a directory's file names and bytes in name order."""
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(data):
        digest.update(name.encode() + b"\0" + data[name])
    return digest.hexdigest()


def _with_alias(keystore: KeyStore, alias: str, key_path: str) -> KeyStore:
    alias = alias.lower()
    if alias in {entry.alias for entry in keystore.trust_store}:
        msg = f"{key_path}.alias: {alias!r} is already a trusted CA's alias in the store"
        raise CheckError(msg)
    return attrs.evolve(keystore, identity=attrs.evolve(keystore.identity, alias=alias))


# --- batch rows, in worker processes ----------------------------------------------------------


@attrs.frozen
class _RowJob:
    """Everything one batch row needs, picklable: references and already-read passwords."""

    trust: RecipeTrust
    row: BatchRow
    outputs: tuple[_Output, ...]
    allow_g1: bool
    at: dt.datetime
    key_password: bytes | None = attrs.field(repr=False)
    add_password: bytes | None = attrs.field(repr=False)


@attrs.frozen
class _RowOutcome:
    """A row's serialised files, or its error, and the warnings it raised."""

    name: str
    planned: tuple[_Planned, ...] = ()
    #: type, problem, source, remedy: an exception with keyword-only fields may not unpickle.
    error: tuple[type[TruststoreBuilderError], str, str | None, str | None] | None = None
    warned: tuple[tuple[type[Warning], str], ...] = ()


def _run_row(job: _RowJob) -> _RowOutcome:
    """Check one row's identity and serialise its targets (in a worker process)."""
    row = job.row
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            keystore = _keystore(
                _trust_builder(job.trust, job.add_password),
                cert=row.cert,
                key=row.key,
                key_password=job.key_password,
                chain=row.chain,
                alias=row.alias,
                allow_g1=job.allow_g1,
                at=job.at,
            )
            planned = []
            for output in job.outputs:
                try:
                    planned += _serialize(output, keystore.trust_store, keystore, row.name)
                except TruststoreBuilderError as exc:
                    raise _in_context(exc, output.key_path) from None
        except TruststoreBuilderError as exc:
            # Sent back as parts: an exception with keyword-only fields may not unpickle.
            error = (type(exc), exc.problem, exc.source, exc.remedy)
            return _RowOutcome(row.name, error=error)
    warned = tuple(
        (w.category, str(w.message)) for w in caught if issubclass(w.category, G1IdentityWarning)
    )
    return _RowOutcome(row.name, planned=tuple(planned), warned=warned)


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_batch(
    jobs: Sequence[_RowJob],
    workers: int,
    progress: Callable[[int, int], None] | None,
    ready: Callable[[Sequence[_Planned]], None],
) -> list[_RowOutcome]:
    """Run every row; ``ready`` gets each good row's files as soon as the row is done."""
    total = len(jobs)
    if progress:
        progress(0, total)
    results: dict[int, _RowOutcome] = {}

    def done(index: int, outcome: _RowOutcome) -> None:
        results[index] = outcome
        if outcome.error is None:
            ready(outcome.planned)
        if progress:
            progress(len(results), total)

    if workers <= 1:
        for index, job in enumerate(jobs):
            done(index, _run_row(job))
        return [results[i] for i in range(total)]
    pool = concurrent.futures.ProcessPoolExecutor(max_workers=workers)
    try:
        futures = {pool.submit(_run_row, job): i for i, job in enumerate(jobs)}
        for future in concurrent.futures.as_completed(futures):
            done(futures[future], future.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [results[i] for i in range(total)]


# --- the whole build --------------------------------------------------------------------------


def _build(
    recipe: Recipe,
    *,
    overwrite: bool,
    progress: Callable[[int, int], None] | None,
    workers: int | None,
    at: dt.datetime | None,
) -> BuildResult:

    started = time.perf_counter()
    source = recipe.source
    _check_recipe(recipe)
    when = _validation_time(at)

    # 1. Every password (each read once) and every destination, before any certificate is read.
    passwords = _Passwords(source)
    add_password = passwords.get("trust.add_password", recipe.trust.add_password)
    outputs = _resolve_outputs(passwords, "targets", recipe.targets, None)
    outputs += _preset_outputs(passwords, recipe.presets, source)
    jobs = _batch_jobs(recipe, when, passwords, add_password)
    every_output = [*outputs, *(o for job in jobs for o in job.outputs)]
    # Existing files are compared with what the build makes once it is made (step 3): one
    # that holds the same is left alone even without overwrite; another is refused then.
    _check_destinations(source, every_output, overwrite=True)

    # 2. The trust store and the identity: every check.
    store, keystore = _shared_stores(recipe, add_password, when, passwords)

    # 3. Serialise (and read back) every file, the batch's in worker processes. Each file is
    # staged (written to a hidden temporary, fsynced) as soon as it is ready, while the
    # workers go on; 4. all are given their names at the end, or none.

    used = max(1, min(workers or _available_cpus(), len(jobs)))
    planned: list[_Planned] = []
    unchanged: dict[Path, str] = {}
    with (
        _new_directories(every_output) as directories,
        StagedFiles(overwrite=overwrite) as staged,
    ):
        stage = functools.partial(
            _stage, staged, directories, source=source, overwrite=overwrite, unchanged=unchanged
        )
        for output in outputs:
            try:
                planned += _serialize(output, store, keystore, None)
            except TruststoreBuilderError as exc:
                raise _in_context(exc, _context(source, output.key_path)) from None
        stage(planned)
        if jobs:
            outcomes = _run_batch(jobs, used, progress, stage)
            planned += _batch_files(source, outcomes)
        _check_planned_paths(source, planned)
        staged.publish()
    return BuildResult(
        files=tuple(
            attrs.evolve(p.file, unchanged=True, sha256=unchanged[p.path])
            if p.path in unchanged
            else p.file
            for p in planned
        ),
        rows=len(jobs),
        workers=used if jobs else 0,
        seconds=time.perf_counter() - started,
        validated_at=when,
        trust_store=store,
        keystore=keystore,
    )


def _validation_time(at: dt.datetime | None) -> dt.datetime:
    """``at``, or now; a naive time is refused.

    Raises:
        ValueError: ``at`` has no time zone.
    """
    if at is not None and at.tzinfo is None:
        msg = "the validation time must be timezone-aware (e.g. datetime.now(UTC))"
        raise ValueError(msg)
    return at or _checks.utc_now()


def _stage(
    staged: StagedFiles,
    directories: _NewDirectories,
    files: Sequence[_Planned],
    *,
    source: str,
    overwrite: bool,
    unchanged: dict[Path, str],
) -> None:
    """Stage each serialised file (or capath directory) as soon as it is ready.

    A deployment output's subdirectories (``Root/``, ``CA/``) are made here, once its files
    are known; they go again, with the others, if the build fails. One already there that
    holds the same is not staged: ``unchanged`` gets its path and the SHA-256 of what is on
    disk. One that holds something else is refused without ``overwrite``.

    Raises:
        OutputExistsError: A destination holds something else and ``overwrite`` is false.
    """
    for file in files:
        directories.make(file.path.parent, private=file.file.private)
        if isinstance(file.data, bytes):
            existing = compare_existing(
                file.path,
                file.data,
                private=file.file.private,
                store_format=file.store_format,
                password=file.password,
                key_password=file.key_password,
                key_pem=file.file.format is TargetFormat.CLIENT_KEY_PEM,
            )
        else:
            existing = compare_existing_directory(file.path, file.data)
        if existing is not None and existing.same:
            unchanged[file.path] = existing.sha256
            continue
        if existing is not None and not overwrite:
            error = OutputExistsError(
                f"{file.path}: already exists and is not what this build makes ({existing.reason})",
                source=str(file.path),
                remedy=OVERWRITE_REMEDY,
            )
            raise _in_context(error, _context(source, f"{file.file.target}.path"))
        if isinstance(file.data, bytes):
            staged.stage(file.path, file.data, private=file.file.private)
        else:
            staged.stage_directory(file.path, file.data)


def _batch_jobs(
    recipe: Recipe, when: dt.datetime, passwords: _Passwords, add_password: bytes | None
) -> list[_RowJob]:
    """One job per batch row, its passwords read here (the workers never see the environment)."""
    batch = recipe.batch
    if batch is None:
        return []
    jobs = []
    for row in batch.rows:
        key_password = passwords.get(f"{_row_key(row)}.key_password", row.key_password)
        outputs = _resolve_outputs(passwords, "batch.targets", batch.targets, row.name)
        jobs.append(
            _RowJob(recipe.trust, row, outputs, batch.allow_g1, when, key_password, add_password)
        )
    return jobs


def _shared_stores(
    recipe: Recipe, add_password: bytes | None, when: dt.datetime, passwords: _Passwords
) -> tuple[TrustStore, KeyStore | None]:
    """The recipe's trust store, and its [identity] key store when it has one, all checked."""
    source = recipe.source
    identity = recipe.identity
    key_password = passwords.get(
        "identity.key_password", identity.key_password if identity else None
    )
    old_store = None
    if identity is not None and identity.from_store is not None:
        store_password = passwords.get("identity.from_store_password", identity.from_store_password)
        assert store_password is not None  # RecipeIdentity: from_store comes with its password
        old_store = _OldStore(identity.from_store, store_password)
    try:
        # The add files are read here, by the builder: their errors are the trust table's.
        trust = _trust_builder(recipe.trust, add_password)
        if old_store is not None:
            # The old store's trusted CAs stay trusted: in its key store and every trust store.
            trust = trust.add_file(old_store.path, password=old_store.password)
        store = trust.at(when).build()
    except TruststoreBuilderError as exc:
        from_old = old_store is not None and exc.source == str(old_store.path)
        where = "identity.from_store" if from_old else "trust"
        raise _in_context(exc, _context(source, where)) from None
    if not store.entries:
        where = _context(source, "trust")
        msg = (
            f"{where}{': ' if where else ''}no certificate is left in the store after leaving "
            "out expired ones; nothing was written"
        )
        raise CheckError(msg, source=source or None)
    if identity is None:
        return store, None
    try:
        keystore = _keystore(
            trust,
            cert=identity.cert,
            key=identity.key,
            key_password=key_password,
            chain=identity.chain,
            alias=identity.alias,
            allow_g1=identity.allow_g1,
            at=when,
            old_store=old_store,
        )
    except TruststoreBuilderError as exc:
        raise _in_context(exc, _context(source, "identity")) from None
    return store, keystore


def _batch_files(source: str, outcomes: Sequence[_RowOutcome]) -> list[_Planned]:
    """Every row's files; or, if any row failed, a BatchError naming every failed row."""
    failures: list[TruststoreBuilderError] = []
    planned: list[_Planned] = []
    for outcome in outcomes:
        if outcome.error is not None:
            kind, problem, error_source, remedy = outcome.error
            where = f"{source}: batch.table[{outcome.name}]"
            failures.append(_in_context(kind(problem, source=error_source, remedy=remedy), where))
        for category, message in outcome.warned:
            warnings.warn(f"batch.table[{outcome.name}]: {message}", category, stacklevel=4)
        planned.extend(outcome.planned)
    if failures:
        shown = "; ".join(str(f) for f in failures[:_FAILURES_SHOWN])
        hidden = len(failures) - _FAILURES_SHOWN
        more = f"; and {hidden} more" if hidden > 0 else ""
        msg = (
            f"{source}: batch: {len(failures)} of {len(outcomes)} rows failed, nothing was "
            f"written: {shown}{more}"
        )
        raise BatchError(msg, source=source, failures=tuple(failures), rows=len(outcomes))
    return planned


#: How many failed rows a BatchError's message names (``failures`` holds them all).
_FAILURES_SHOWN = 5


def _check_planned_paths(source: str, planned: Sequence[_Planned]) -> None:
    """Two targets (a deployment output's files among them) writing one file: refused."""
    seen: dict[Path, str] = {}
    for file in planned:
        resolved = Path(os.path.abspath(file.path))  # noqa: PTH100  (no symlink resolution)
        if resolved in seen and seen[resolved] != file.file.target:
            _fail(
                source,
                f"{file.file.target}.path",
                f"{file.path} is also written by {seen[resolved]}",
            )
        seen[resolved] = file.file.target


def _check_destinations(source: str, outputs: Sequence[_Output], *, overwrite: bool) -> None:
    """Two targets writing one file; then each destination as the writer will check it.

    A deployment output's directory may exist and hold other files; its files are known only
    once serialised, and are checked then (by :class:`StagedFiles`, before any is renamed).
    """
    seen: dict[Path, str] = {}
    for output in outputs:
        if output.target.format.deployment is not None:
            if output.path.exists() and not output.path.is_dir():
                _fail(
                    source,
                    f"{output.key_path}.path",
                    f"{output.path}: a {output.target.format} output is written into a "
                    "directory, and this is a file",
                )
            continue
        resolved = Path(os.path.abspath(output.path))  # noqa: PTH100  (no symlink resolution)
        if resolved in seen:
            _fail(
                source,
                f"{output.key_path}.path",
                f"{output.path} is also written by {seen[resolved]}",
            )
        seen[resolved] = output.key_path
        directory = output.target.format is TargetFormat.CAPATH
        try:
            check_destinations(
                [] if directory else [output.path],
                [output.path] if directory else [],
                overwrite=overwrite,
            )
        except OutputExistsError as exc:
            raise _in_context(exc, _context(source, f"{output.key_path}.path")) from None


class _NewDirectories:
    """The directories a build created, to remove again if it fails."""

    def __init__(self) -> None:
        self.created: list[Path] = []

    def make(self, directory: Path, *, private: bool) -> None:
        """Create ``directory`` and its missing parents (0700 if ``private``, else 0755)."""
        if not directory.is_dir():
            self.created += make_directories(directory, private=private)


@contextlib.contextmanager
def _new_directories(outputs: Iterable[_Output]) -> Iterator[_NewDirectories]:
    """Create the outputs' missing directories (and parents); remove them again on an exception.

    0755, or 0700 for a directory that will hold a private key, whatever the umask. A
    deployment output's directory is its ``path``; the others', ``path``'s parent.
    """
    private: dict[Path, bool] = {}
    for output in outputs:
        fmt = output.target.format
        directory = output.path if fmt.deployment is not None else output.path.parent
        private[directory] = private.get(directory, False) or fmt.private
    directories = _NewDirectories()
    try:
        for directory, holds_keys in private.items():
            directories.make(directory, private=holds_keys)
        yield directories
    except BaseException:
        remove_directories(directories.created)
        raise
