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

This module holds :class:`Recipe`; its parts are values in ``_recipe_parts``, reading a
recipe file is ``_recipe_toml``, its checks ``_recipe_checks`` and its build ``_recipe_build``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from truststore_builder._recipe_build import _build
from truststore_builder._recipe_checks import _check_recipe
from truststore_builder._recipe_parts import (
    BatchRow,
    BuildResult,
    PasswordRef,
    RecipeBatch,
    RecipeIdentity,
    RecipePreset,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
    WrittenFile,
    _presets,
    _targets,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable


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
]


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
