"""Orders of a trust bundle: root-first (the store's own), issuer-first, and one chain per root.

A trust store keeps NHS CAs root-first (each root before the intermediates it issued, see
:class:`TrustStore`) and sorts other certificates by subject; :func:`root_first` makes the
whole bundle root-first. Some consumers want the opposite: NHS England's MHS adaptor asks for
"endpoint issuing subCA certificate, root CA certificate", and a gateway such as Azure
Application Gateway wants each root with its intermediates in a file of its own. Which
certificate issued which is decided by signature (:func:`issuer_path`), never by name alone.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from cryptography import x509

from truststore_builder._model import is_issued_by, issuer_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from truststore_builder._model import TrustedEntry

__all__ = ["BundleOrder", "chains_by_root", "issuer_first", "ordered", "paths_to_top", "root_first"]


class BundleOrder(enum.StrEnum):
    """The order certificates are written in a bundle."""

    #: Each root before the intermediates it issued (the default): the store's order, with a
    #: certificate moved after its issuers where the store sorted it before them.
    ROOT_FIRST = "root-first"
    #: Each certificate before the one that issued it: intermediate, then its root.
    ISSUER_FIRST = "issuer-first"


def paths_to_top(entries: Sequence[TrustedEntry]) -> list[list[TrustedEntry]]:
    """For each entry, its path up through the other entries to the highest one that issued it.

    Returns:
        One path per entry, in the entries' order: the entry first, its issuer next, up to a
        self-signed root or the highest issuer the entries hold.
    """
    by_certificate = {id(entry.certificate): entry for entry in entries}
    candidates = [entry.certificate for entry in entries]
    paths = []
    for entry in entries:
        path, _missing = issuer_path(entry.certificate, candidates)
        paths.append([by_certificate[id(certificate)] for certificate in path])
    return paths


def issuer_first(entries: Sequence[TrustedEntry]) -> tuple[TrustedEntry, ...]:
    """The entries ordered so that each comes before the entry that issued it.

    Entries are grouped by the top of their path (a root, or the highest issuer present), the
    groups in the order their tops have in ``entries``; in a group the deepest certificates come
    first, and certificates of one depth keep their order in ``entries``. A store holding the
    G1 and G2 hierarchies, root-first ``[root G1, level 1C, root G2, authentication G2]``,
    becomes ``[level 1C, root G1, authentication G2, root G2]``.
    """
    paths = paths_to_top(entries)
    position = {id(entry): index for index, entry in enumerate(entries)}

    def key(path: list[TrustedEntry]) -> tuple[int, int, int]:
        return (position[id(path[-1])], -len(path), position[id(path[0])])

    return tuple(path[0] for path in sorted(paths, key=key))


def root_first(entries: Sequence[TrustedEntry]) -> tuple[TrustedEntry, ...]:
    """The entries' own order, except that each comes after the entries that issued it.

    A store keeps NHS CAs root-first already (catalogue order), and they stay as they are;
    other certificates are sorted by subject, which can put an intermediate ("Authentication")
    before its root ("Root Authority"): each such entry goes after its issuers.
    """
    # Already root-first when no certificate that could have issued an entry (by name, which
    # every issuer shares) comes after it: then no signature needs checking. A self-issued
    # entry whose key identifiers name no other key counts as a root where it stands (an order
    # only, not a trust decision): a store of many same-named roots needs no signature walk.
    subjects = [entry.certificate.subject for entry in entries]
    issuers = [entry.certificate.issuer for entry in entries]
    last_with_subject = {subject: index for index, subject in enumerate(subjects)}
    if all(
        last_with_subject.get(issuer, index) <= index
        or (issuer == subjects[index] and _no_other_issuer_key(entries[index].certificate))
        for index, issuer in enumerate(issuers)
    ):
        return tuple(entries)
    placed: dict[int, TrustedEntry] = {}
    for path in paths_to_top(entries):
        for entry in reversed(path):
            placed.setdefault(id(entry), entry)
    return tuple(placed.values())


def _no_other_issuer_key(certificate: x509.Certificate) -> bool:
    """Whether a self-issued certificate's authority key identifier names no key but its own."""
    try:
        authority = certificate.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        return True
    except ValueError:
        return False
    if authority is None:
        return True
    try:
        own = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return authority == own.digest


def ordered(entries: Sequence[TrustedEntry], order: BundleOrder | str) -> tuple[TrustedEntry, ...]:
    """The entries in ``order``: :func:`root_first` or :func:`issuer_first`.

    Raises:
        ValueError: An order that is neither ``root-first`` nor ``issuer-first``.
    """
    if BundleOrder(order) is BundleOrder.ISSUER_FIRST:
        return issuer_first(entries)
    return root_first(entries)


def chains_by_root(entries: Sequence[TrustedEntry]) -> dict[str, tuple[TrustedEntry, ...]]:
    """Each self-signed root with every entry it issued, directly or not: one chain per root.

    Returns:
        The root's alias to its chain, issuer-first (intermediates, deepest first, then the
        root), roots in the entries' order. Entries that chain to no root among ``entries``
        belong to no chain.
    """
    chains: dict[int, list[TrustedEntry]] = {}
    position = {id(entry): index for index, entry in enumerate(entries)}
    for path in paths_to_top(entries):
        top = path[-1]
        if is_issued_by(top.certificate, top.certificate):
            chains.setdefault(position[id(top)], []).append(path[0])
    return {entries[index].alias: issuer_first(chains[index]) for index in sorted(chains)}
