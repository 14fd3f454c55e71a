"""The parts a recipe is made of: its trust, identity, targets, presets, batch rows and results.

Values only: reading a recipe file is in ``_recipe_toml``, checking one in
``_recipe_checks``, building one in ``_recipe_build``.
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import attrs

from truststore_builder._deprecation import renamed_method
from truststore_builder._errors import (
    RecipeError,
)
from truststore_builder._model import (
    CLIENT_PRESETS,
    DEPLOYMENT_FILES,
    DeploymentFormat,
    Environment,
    Generation,
    StoreFormat,
)
from truststore_builder._stores import (
    KeyStore,
    TrustStore,
)

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping


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


def _context(source: str, key_path: str = "") -> str:
    """Where in a recipe: its file and the key; nothing for a recipe without source."""
    if not source:
        return ""
    return f"{source}: {key_path}" if key_path else source


def _fail(source: str, key_path: str, message: str) -> NoReturn:
    where = _context(source, key_path)
    text = f"{where}: {message}" if where else message
    raise RecipeError(text, path=source, key_path=key_path or None)
