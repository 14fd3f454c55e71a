"""The table of format codecs: one line per format, and the one lookup every caller uses.

Serialising a store, reading it back and checking a written file all find their format's
code here, never by switching on the format themselves. Adding a format is one module that
defines a ``CODEC`` (see :mod:`~truststore_builder._formats.codec`) and one line below.
"""

from __future__ import annotations

import importlib

from truststore_builder._formats.codec import Codec, DirectoryCodec
from truststore_builder._model import StoreFormat

__all__ = ["codec_for", "directory_codec", "file_codec"]

#: Each format's codec, as ``module:attribute``. The modules load on first use: the PKCS#12
#: and JKS codecs cost tens of milliseconds that ``import truststore_builder`` need not pay.
_CODECS: dict[StoreFormat, str] = {
    StoreFormat.PEM: "truststore_builder._formats.pem:CODEC",
    StoreFormat.PKCS12: "truststore_builder._formats.pkcs12:CODEC",
    StoreFormat.JKS: "truststore_builder._formats.jks:CODEC",
    StoreFormat.JCEKS: "truststore_builder._formats.jks:JCEKS_CODEC",
    StoreFormat.PKCS7: "truststore_builder._formats.pkcs7:CODEC",
    StoreFormat.CAPATH: "truststore_builder._formats.capath:CODEC",
}


def codec_for(store_format: StoreFormat | str) -> Codec | DirectoryCodec:
    """The codec of ``store_format`` (a file format's :class:`Codec`, or CApath's).

    Raises:
        ValueError: Not a format we write.
    """
    module, _, name = _CODECS[StoreFormat(store_format)].partition(":")
    # A function-level import for start-up time (see _CODECS).
    codec: Codec | DirectoryCodec = getattr(importlib.import_module(module), name)
    return codec


def file_codec(store_format: StoreFormat | str) -> Codec:
    """The codec of a format that is one file.

    Raises:
        ValueError: ``capath``, a directory of files, or not a format we write.
    """
    codec = codec_for(store_format)
    if codec.directory:
        msg = "a capath store is a directory of files, not one file: use to_capath() or write()"
        raise ValueError(msg)
    assert isinstance(codec, Codec)
    return codec


def directory_codec(store_format: StoreFormat | str) -> DirectoryCodec:
    """The codec of a format that is a directory of files (``capath``).

    Raises:
        ValueError: A format that is one file, or not a format we write.
    """
    codec = codec_for(store_format)
    if not isinstance(codec, DirectoryCodec):
        msg = f"a {codec.store_format.value} store is one file, not a directory"
        raise ValueError(msg)  # noqa: TRY004 - a wrong format, as codec_for's ValueError
    return codec
