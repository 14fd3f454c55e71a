"""The codec table and the one definition of a trust anchor (DESIGN.md, "Shape")."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import truststore_builder
from tests.pki import Issued, _name, make_certificate, rsa_key
from truststore_builder import StoreFormat, TrustStore, TrustStoreBuilder, sha256_fingerprint
from truststore_builder._formats.codec import Codec, DirectoryCodec
from truststore_builder._formats.registry import codec_for, directory_codec, file_codec
from truststore_builder._model import is_self_signed, trust_anchors

PASSWORD = b"Layers-pass-4417"
FILE_FORMATS = [f for f in StoreFormat if f is not StoreFormat.CAPATH]


@pytest.fixture(scope="module")
def store() -> TrustStore:
    """The INT G1+G2 trust store: four entries."""
    return TrustStoreBuilder().add_nhs("int").build()


@pytest.mark.parametrize("store_format", list(StoreFormat))
def test_every_format_has_its_codec(store_format: StoreFormat) -> None:
    """Every StoreFormat is one line of the table, and its codec says which format it is."""
    codec = codec_for(store_format)
    assert codec.store_format is store_format
    assert isinstance(codec, DirectoryCodec if store_format is StoreFormat.CAPATH else Codec)


@pytest.mark.parametrize("store_format", FILE_FORMATS)
def test_each_codec_knows_its_own_bytes_and_no_other_codec_claims_them(
    store: TrustStore, store_format: StoreFormat
) -> None:
    """Each codec's sniff matches what it wrote, and no other codec's sniff does."""
    data = file_codec(store_format).write(store.entries, PASSWORD)
    claimed = [f for f in FILE_FORMATS if file_codec(f).looks_like(data)]
    assert claimed == [store_format]


@pytest.mark.parametrize("store_format", FILE_FORMATS)
def test_each_codec_reads_back_and_reads_what_it_wrote(
    store: TrustStore, store_format: StoreFormat
) -> None:
    """What a codec wrote reads back (by its other reader) and reads as the same certificates."""
    codec = file_codec(store_format)
    data = codec.write(store.entries, PASSWORD)
    found = codec.read_back(data, PASSWORD, "<test>")
    assert sorted(map(sha256_fingerprint, found.certificates)) == sorted(
        map(sha256_fingerprint, store.certificates)
    )
    assert [e.certificate for e in codec.read(data, PASSWORD, "<test>")] == found.certificates
    # The negative control: the bytes of another store do not read back as this one.
    other = codec.write(store.entries[:1], PASSWORD)
    assert codec.read_back(other, PASSWORD, "<test>").certificates != found.certificates


def test_key_stores_are_only_p12_jks_and_jceks() -> None:
    """Only the formats that hold private keys write and read back key stores."""
    holding_keys = [f for f in FILE_FORMATS if file_codec(f).write_keystore is not None]
    assert holding_keys == [StoreFormat.PKCS12, StoreFormat.JKS, StoreFormat.JCEKS]
    assert all(file_codec(f).read_back_keystore is not None for f in holding_keys)


def test_a_directory_is_not_a_file_and_a_file_is_not_a_directory() -> None:
    """CApath has a directory codec; asking it for a file codec (or PEM for a directory) fails."""
    with pytest.raises(ValueError, match="directory of files"):
        file_codec(StoreFormat.CAPATH)
    with pytest.raises(ValueError, match="one file"):
        directory_codec(StoreFormat.PEM)
    assert directory_codec("capath").store_format is StoreFormat.CAPATH


def test_an_anchor_is_self_signed_by_signature_not_by_name() -> None:
    """A certificate naming itself as issuer, signed by another key, is no anchor."""
    root = make_certificate(_name("Layers Root"), rsa_key(), ca=True)
    intermediate = make_certificate(_name("Layers Intermediate"), rsa_key(), issuer=root, ca=True)
    # Its issuer name is its own subject, but another key signed it.
    signer = make_certificate(_name("Look-alike"), rsa_key(), ca=True)
    look_alike = make_certificate(
        _name("Look-alike"), rsa_key(), issuer=Issued(signer.certificate, signer.key), ca=True
    ).certificate
    assert look_alike.issuer == look_alike.subject  # what the name-only rule went by
    assert not is_self_signed(look_alike)

    anchors, others = trust_anchors([intermediate.certificate, look_alike, root.certificate])
    assert anchors == [root.certificate]
    assert others == [intermediate.certificate, look_alike]


def test_without_a_self_signed_certificate_every_trusted_one_is_an_anchor() -> None:
    """A store trusting only an intermediate verifies against it as the anchor."""
    root = make_certificate(_name("Layers Root"), rsa_key(), ca=True)
    intermediate = make_certificate(_name("Layers Intermediate"), rsa_key(), issuer=root, ca=True)
    assert trust_anchors([intermediate.certificate]) == ([intermediate.certificate], [])
    assert trust_anchors([]) == ([], [])


def _function_level_imports() -> dict[str, list[tuple[int, str, str]]]:
    """Per module of the package: each import inside a function (line, what it loads, text)."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    package = Path(truststore_builder.__file__).parent
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    loaded = node.names[0].name
                elif isinstance(node, ast.ImportFrom) and node.module:
                    loaded = node.module
                    submodule = f"{node.module}.{node.names[0].name}"
                    if importlib.util.find_spec(node.module.split(".")[0]) and _is_module(
                        submodule
                    ):
                        loaded = submodule
                else:
                    continue
                found.setdefault(module, []).append((node.lineno, loaded, lines[node.lineno - 1]))
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def test_every_function_level_import_saves_start_up_time_and_says_so() -> None:
    """An import inside a function loads what its module (as the program loads it) has not.

    A command-line module is loaded with the whole parser, as ``truststore-builder`` loads it;
    an import of something already loaded saves nothing and belongs at the top (issue 14).
    The negative control: ``truststore_builder._cli.parser`` loads ``truststore_builder``,
    so the package's own modules are in ``sys.modules`` there.
    """
    found = _function_level_imports()
    assert found, "no function-level import found: the walk is broken"
    probe = (
        "import importlib, json, sys\n"
        "importlib.import_module(sys.argv[1])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    wrong: list[str] = []

    def context(module: str) -> str:
        # The parser imports every subcommand's module: one probe serves them all.
        return (
            "truststore_builder._cli.parser"
            if module.startswith("truststore_builder._cli")
            else module
        )

    probes = {
        name: subprocess.Popen(
            [sys.executable, "-c", probe, name], stdout=subprocess.PIPE, text=True
        )
        for name in {context(module) for module in found}
    }
    loaded_by = {}
    for name, process in probes.items():
        stdout, _ = process.communicate()
        assert process.returncode == 0, name
        loaded_by[name] = set(json.loads(stdout))
    for module, imports in found.items():
        loaded = loaded_by[context(module)]
        assert "truststore_builder" in loaded, module
        for line, target, text in imports:
            if "start-up time" not in text:
                wrong.append(f"{module}:{line}: says not why ({text.strip()})")
            if target in loaded:
                wrong.append(f"{module}:{line}: {target} is loaded already")
    assert not wrong, "\n".join(wrong)
