"""Build the trust stores and key stores NHS systems need for the G1 to G2 PKI move.

>>> from truststore_builder import TrustStoreBuilder
>>> store = TrustStoreBuilder().add_nhs("int").build()
>>> [entry.alias for entry in store]
['nhs-ptl-root-authority', 'nhs-int-level-1c', 'nhs-ptl-root-authority-g2', 'nhs-int-authentication-g2']
"""

from __future__ import annotations

from truststore_builder._errors import (
    CheckError,
    EnvironmentMismatchError,
    ExpiredCertificateWarning,
    InputError,
    MalformedInputError,
    MissingPasswordError,
    NoCertificatesError,
    NotACertificateAuthorityError,
    OutputError,
    OutputExistsError,
    PinMismatchError,
    ReadBackError,
    TruststoreBuilderError,
    TruststoreBuilderWarning,
    UnknownFormatError,
    WrongPasswordError,
)
from truststore_builder._model import (
    Environment,
    Generation,
    NhsCa,
    StoreEntry,
    StoreFormat,
    TrustedEntry,
    TrustStore,
    sha256_fingerprint,
)
from truststore_builder._sources.nhs import NhsCatalogue, load_nhs_catalogue, nhs_catalogue

__all__ = [
    "CheckError",
    "Environment",
    "EnvironmentMismatchError",
    "ExpiredCertificateWarning",
    "Generation",
    "InputError",
    "MalformedInputError",
    "MissingPasswordError",
    "NhsCa",
    "NhsCatalogue",
    "NoCertificatesError",
    "NotACertificateAuthorityError",
    "OutputError",
    "OutputExistsError",
    "PinMismatchError",
    "ReadBackError",
    "StoreEntry",
    "StoreFormat",
    "TrustStore",
    "TrustedEntry",
    "TruststoreBuilderError",
    "TruststoreBuilderWarning",
    "UnknownFormatError",
    "WrongPasswordError",
    "load_nhs_catalogue",
    "nhs_catalogue",
    "sha256_fingerprint",
]
