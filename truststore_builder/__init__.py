"""Build the trust stores and key stores NHS systems need for the G1 to G2 PKI move.

>>> from truststore_builder import TrustStoreBuilder
>>> store = TrustStoreBuilder().add_nhs("int").build()
>>> [entry.alias for entry in store]
['nhs-ptl-root-authority', 'nhs-int-level-1c', 'nhs-ptl-root-authority-g2', 'nhs-int-authentication-g2']

The core is here: builders, stores and their entries, identities, the NHS catalogue, errors,
reading and converting certificates. Comparing stores, checking a live endpoint and recipes
have their own modules, loaded only when imported: :mod:`truststore_builder.diff`,
:mod:`truststore_builder.endpoint` and :mod:`truststore_builder.recipe`.
"""

from __future__ import annotations

import importlib
from typing import Any

from truststore_builder._builders import KeyStoreBuilder, TrustStoreBuilder, alias_for
from truststore_builder._convert import convert
from truststore_builder._csr import (
    SigningRequest,
    bars_common_name,
    generate_signing_request,
    mesh_client_common_name,
)
from truststore_builder._deprecation import warn_deprecated
from truststore_builder._errors import (
    BatchError,
    CatalogueUpdateError,
    CertificateNotValidError,
    CertificateUsageError,
    ChainError,
    CheckError,
    EnvironmentMismatchError,
    ExpiredCertificateWarning,
    G1IdentityWarning,
    GenerationError,
    IdentityEnvironmentError,
    IdentityError,
    InputError,
    InvalidPasswordError,
    IssuerKeyUsageError,
    JksIntegrityNotCheckedWarning,
    KeyMismatchError,
    MalformedInputError,
    MissingPasswordError,
    NhsImpostorError,
    NoCertificatesError,
    NonAlphanumericPasswordWarning,
    NotACertificateAuthorityError,
    OutputError,
    OutputExistsError,
    PasswordMapError,
    PinMismatchError,
    ReadBackError,
    RecipeError,
    ReplyKeyMismatchError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
    UnknownFormatError,
    WeakKeyError,
    WrongPasswordError,
)
from truststore_builder._formats.capath import openssl_certificate_hash, openssl_subject_hash
from truststore_builder._formats.pem import der_to_pem, pem_to_der
from truststore_builder._model import (
    Environment,
    Generation,
    Identity,
    IdentityReport,
    NhsCa,
    StoreEntry,
    StoreFormat,
    TrustedEntry,
    sha256_fingerprint,
)
from truststore_builder._sources.files import load_certificates, read_store
from truststore_builder._sources.nhs import NhsCatalogue, load_nhs_catalogue, nhs_catalogue
from truststore_builder._stores import KeyStore, TrustStore
from truststore_builder._verify import verify_certificate

# Moved to truststore_builder.diff, .endpoint and .recipe (which import ssl, sockets, thread
# pools and TOML, kept out of `import truststore_builder`); the old names work, with a
# DeprecationWarning, for one release.
_MOVED = {
    "diff": (
        "DiffEntry",
        "Horizon",
        "HorizonEntry",
        "KeptEntry",
        "KeyEntry",
        "KeyEntryChange",
        "StoreDiff",
        "diff_stores",
        "expiry_horizon",
    ),
    "endpoint": (
        "EndpointReport",
        "HandshakeResult",
        "Outcome",
        "PresentedCertificate",
        "Probe",
        "ServerChainReport",
        "check_endpoint",
        "check_endpoints",
    ),
    "recipe": (
        "BatchRow",
        "BuildResult",
        "PasswordRef",
        "Recipe",
        "RecipeBatch",
        "RecipeIdentity",
        "RecipeTarget",
        "RecipeTrust",
        "TargetFormat",
        "WrittenFile",
        "load_recipe",
    ),
}
_MOVED_TO = {name: module for module, names in _MOVED.items() for name in names}


__all__ = [
    "BatchError",
    "CatalogueUpdateError",
    "CertificateNotValidError",
    "CertificateUsageError",
    "ChainError",
    "CheckError",
    "Environment",
    "EnvironmentMismatchError",
    "ExpiredCertificateWarning",
    "G1IdentityWarning",
    "Generation",
    "GenerationError",
    "Identity",
    "IdentityEnvironmentError",
    "IdentityError",
    "IdentityReport",
    "InputError",
    "InvalidPasswordError",
    "IssuerKeyUsageError",
    "JksIntegrityNotCheckedWarning",
    "KeyMismatchError",
    "KeyStore",
    "KeyStoreBuilder",
    "MalformedInputError",
    "MissingPasswordError",
    "NhsCa",
    "NhsCatalogue",
    "NhsImpostorError",
    "NoCertificatesError",
    "NonAlphanumericPasswordWarning",
    "NotACertificateAuthorityError",
    "OutputError",
    "OutputExistsError",
    "PasswordMapError",
    "PinMismatchError",
    "ReadBackError",
    "RecipeError",
    "ReplyKeyMismatchError",
    "SigningRequest",
    "StoreEntry",
    "StoreFormat",
    "TrustStore",
    "TrustStoreBuilder",
    "TrustedEntry",
    "TruststoreBuilderError",
    "TruststoreBuilderWarning",
    "UnknownFormatError",
    "WeakKeyError",
    "WrongPasswordError",
    "alias_for",
    "bars_common_name",
    "convert",
    "der_to_pem",
    "generate_signing_request",
    "load_certificates",
    "load_nhs_catalogue",
    "mesh_client_common_name",
    "nhs_catalogue",
    "openssl_certificate_hash",
    "openssl_subject_hash",
    "pem_to_der",
    "read_store",
    "sha256_fingerprint",
    "verify_certificate",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the moved name is
    """A public submodule, imported on first use; or a moved name: warn, then give it."""
    if name in _MOVED or name == "catalogue":  # `tb.diff.diff_stores(...)` after `import ... as tb`
        return importlib.import_module(f"{__name__}.{name}")
    module = _MOVED_TO.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    new_home = f"{__name__}.{module}"
    warn_deprecated(f"{__name__}.{name}", f"{new_home}.{name}")
    return getattr(importlib.import_module(new_home), name)
