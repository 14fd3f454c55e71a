"""Updating the NHS catalogue from CA certificates downloaded from NHS England.

>>> from truststore_builder import nhs_catalogue
>>> from truststore_builder.catalogue import propose_catalogue_update
>>> update = propose_catalogue_update(
...     [nhs_catalogue().directory / "nhs-int-authentication-g2.pem"]
... )
>>> update.summary()
'0 added, 1 unchanged, 0 expired (left out), 0 refused'

:func:`propose_catalogue_update` judges each certificate (a CA that chains by signature to a
pinned NHS root is added with its issuer's generation and environments; a root only with the
pin you give; a CA not valid now is left out with a warning; anything else is refused) and
returns a :class:`CatalogueUpdate`, which shows itself as a table. :func:`write_catalogue`
writes it as a user catalogue directory that
``TrustStoreBuilder().with_catalogue(load_nhs_catalogue(DIR))`` and ``--catalogue DIR`` use.
The shipped catalogue is never modified. See the catalogue guide.
"""

from __future__ import annotations

from truststore_builder._catalogue_update import (
    CatalogueChange,
    CatalogueChangeKind,
    CatalogueUpdate,
    propose_catalogue_update,
    write_catalogue,
)

__all__ = [
    "CatalogueChange",
    "CatalogueChangeKind",
    "CatalogueUpdate",
    "propose_catalogue_update",
    "write_catalogue",
]
