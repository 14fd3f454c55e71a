"""The public API's shape, and the old names that warn for one release.

The core at the top, diff/endpoint/recipe in their own modules, one spelling of trust store,
``at=`` keyword-only, ``to_dict``, and a ``write()`` that makes its directories.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest

import truststore_builder
from tests.pki import catalogue_for
from truststore_builder import KeyStoreBuilder, OutputError, TrustStoreBuilder, nhs_catalogue
from truststore_builder import _writing as writing
from truststore_builder.endpoint import (
    EndpointReport,
    HandshakeResult,
    Outcome,
    PresentedCertificate,
)
from truststore_builder.recipe import BuildResult

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

    from tests.pki import GeneratedPki

ROOT = Path(__file__).resolve().parent.parent
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PUBLIC_MODULES = ("diff", "endpoint", "recipe")
#: Named after the package (truststore_builder), not after a trust store: they keep its spelling.
PACKAGE_NAMED = {"TruststoreBuilderError", "TruststoreBuilderWarning"}
#: The old spellings, kept one release with a DeprecationWarning.
DEPRECATED = {"KeyStore.truststore", "KeyStoreBuilder.with_truststore"}


def _modules() -> list[ModuleType]:
    return [truststore_builder] + [
        importlib.import_module(f"truststore_builder.{name}") for name in PUBLIC_MODULES
    ]


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every public function, class (its constructor) and method, with a qualified name."""
    for module in _modules():
        for name in module.__all__:
            value = getattr(module, name)
            if not callable(value):
                continue
            yield f"{module.__name__}.{name}", value
            if inspect.isclass(value) and not issubclass(value, BaseException):
                for member, attribute in vars(value).items():
                    function = getattr(attribute, "__func__", attribute)
                    if isinstance(attribute, property):
                        function = attribute.fget
                    if not member.startswith("_") and inspect.isfunction(function):
                        yield f"{module.__name__}.{name}.{member}", function


def _positional_at(function: Callable[..., Any]) -> bool:
    """Whether ``function`` takes a parameter named ``at`` other than by keyword only."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return "at" in parameters and parameters["at"].kind is not inspect.Parameter.KEYWORD_ONLY


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet) and return what it printed."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def test_import_loads_no_ssl_toml_or_pyjks() -> None:
    """`import truststore_builder` loads neither ssl, tomllib, pyjks nor the diff/endpoint/recipe code.

    Nor the recipe's thread pool (concurrent.futures) or the PKCS#12 module (issue 14).
    """
    heavy = (
        "ssl",
        "tomllib",
        "jks",
        "concurrent.futures",
        "truststore_builder._formats.pkcs12",
        "truststore_builder._diff",
        "truststore_builder._endpoint",
        "truststore_builder._recipe",
        "truststore_builder._recipe_build",
        "truststore_builder._recipe_toml",
    )
    probe = f"import sys; IMPORT; print(sorted(set(sys.modules) & {set(heavy)!r}))"
    assert _run(probe.replace("IMPORT", "import truststore_builder")) == "[]\n"
    # The check sees them when they are loaded: the public modules bring them in.
    both = (
        "import truststore_builder.endpoint, truststore_builder.recipe, "
        "truststore_builder._formats.pkcs12"
    )
    loaded = _run(probe.replace("IMPORT", both))
    assert {
        "ssl",
        "tomllib",
        "concurrent.futures",
        "truststore_builder._endpoint",
        "truststore_builder._formats.pkcs12",
    } <= set(eval(loaded))  # noqa: S307


def test_public_modules_are_reachable_as_attributes() -> None:
    """`tb.diff.diff_stores` works after `import truststore_builder as tb`, without a warning."""
    out = _run(
        "import warnings; warnings.simplefilter('error')\n"
        "import truststore_builder as tb\n"
        "print(tb.diff.diff_stores.__name__, tb.recipe.load_recipe.__name__, "
        "tb.endpoint.check_endpoint.__name__)"
    )
    assert out == "diff_stores load_recipe check_endpoint\n"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_moved_name_warns_and_is_the_new_one(module_name: str) -> None:
    """Each old top-level name gives the object its new module exports, warning with the new home."""
    module = importlib.import_module(f"truststore_builder.{module_name}")
    assert module.__all__ == sorted(module.__all__)
    assert module.__all__, module_name
    # The one-release table of old names holds names the module exports, sorted; a name
    # added to the module since (never top-level) has no old name.
    moved = truststore_builder._MOVED[module_name]  # noqa: SLF001
    assert list(moved) == sorted(moved)
    assert set(moved) <= set(module.__all__)
    for name in set(module.__all__) - set(moved):
        assert not hasattr(truststore_builder, name)
    for name in moved:
        assert name not in truststore_builder.__all__
        new_home = re.escape(f"truststore_builder.{module_name}.{name}")
        with pytest.warns(
            DeprecationWarning, match=f"truststore_builder.{name} is deprecated.*{new_home}"
        ):
            old = getattr(truststore_builder, name)
        assert old is getattr(module, name)


def test_the_deprecation_warning_points_at_the_importing_line() -> None:
    """`from truststore_builder import Recipe` warns at the caller's own line, not inside the package."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from truststore_builder import Recipe  # noqa: F401, PLC0415
    # Python's import looks the name up twice (hasattr, then getattr): both point here.
    assert {Path(w.filename) for w in caught} == {Path(__file__)}
    assert {w.category for w in caught} == {DeprecationWarning}


def test_a_name_that_never_existed_is_an_attribute_error_without_a_warning() -> None:
    """An unknown name raises AttributeError and warns nothing (only moved names warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
            _ = truststore_builder.NoSuchThing
        # A current name is no alias: it warns nothing.
        assert truststore_builder.TrustStoreBuilder is TrustStoreBuilder


def test_top_level_all_is_sorted_and_every_name_resolves() -> None:
    """The top's __all__ is sorted, each name is there without a warning, and none repeats below."""
    names = truststore_builder.__all__
    assert names == sorted(names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for module in _modules():
            for name in module.__all__:
                assert getattr(module, name) is not None
    below = [
        name
        for name in PUBLIC_MODULES
        for name in importlib.import_module(f"truststore_builder.{name}").__all__
    ]
    assert len(below) == len(set(below))
    assert not set(below) & set(names)


def test_at_is_keyword_only_in_every_public_callable() -> None:
    """Every public function, constructor and method taking ``at`` takes it by keyword only."""
    checked = dict(_public_callables())
    assert "truststore_builder.diff.expiry_horizon" in checked
    offenders = [
        name
        for name, function in checked.items()
        if _positional_at(function) and not (function.__doc__ or "").startswith("Deprecated")
    ]
    assert offenders == []
    # The check does find a positional ``at``.
    assert _positional_at(lambda at: at)
    assert not _positional_at(lambda *, at: at)


def _names_with_trust_store_spelled_otherwise() -> list[str]:
    found = []
    for qualified, function in _public_callables():
        short = qualified.removeprefix("truststore_builder.")
        short = short.split(".", 1)[1] if short.split(".", 1)[0] in PUBLIC_MODULES else short
        words = [short]
        cls = function if inspect.isclass(function) else None
        if cls is not None and attrs.has(cls):
            # ``alias`` (the __init__ argument's name) is attrs 22.2's; before it, attrs made it the
            # field's name without its leading underscores, which is what alias defaults to.
            words += [
                f"{short}.{getattr(field, 'alias', None) or field.name.lstrip('_')}"
                for field in attrs.fields(cls)
            ]
        words += [
            f"{short}({parameter})" for parameter in _parameters(function) if parameter != "self"
        ]
        # "TrustStore" and "trust_store" are the spelling; "truststore" and "Truststore" are not.
        found += [w for w in words if re.search("[Tt]ruststore", w)]
    return found


def _parameters(function: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return []


def test_trust_store_is_spelled_one_way_in_every_public_name() -> None:
    """No public name, attribute or argument spells trust store as one word, old aliases aside."""
    found = {name.split("(")[0] for name in _names_with_trust_store_spelled_otherwise()}
    assert found - PACKAGE_NAMED - DEPRECATED == set()
    assert found >= DEPRECATED  # the search does find the one-word spelling


def test_old_trust_store_spellings_warn_and_still_work(pki: GeneratedPki, tmp_path: Path) -> None:
    """KeyStore.truststore and KeyStoreBuilder.with_truststore warn, and do what the new names do."""
    (tmp_path / "client.pem").write_bytes(pki.g2.client.cert_pem())
    (tmp_path / "key.pem").write_bytes(pki.g2.client.key_pem())
    trust = TrustStoreBuilder().add_certificates(
        [pki.g2.root.certificate, pki.g2.intermediate.certificate]
    )
    with pytest.warns(
        DeprecationWarning, match=r"with_truststore\(\) is deprecated.*with_trust_store\(\)"
    ):
        builder = KeyStoreBuilder().with_truststore(trust)
    keystore = builder.with_identity(tmp_path / "client.pem", tmp_path / "key.pem").build()
    with pytest.warns(DeprecationWarning, match="KeyStore.truststore is deprecated.*trust_store"):
        old = keystore.truststore
    assert old is keystore.trust_store
    assert len(keystore.trust_store) == 2


def _handshake() -> HandshakeResult:
    return HandshakeResult(name="g2", outcome=Outcome.ACCEPTED, detail="served the request")


def test_to_dict_everywhere_and_as_dict_warns() -> None:
    """Every public type with a dict form has to_dict; the old as_dict warns and gives the same."""
    certificate = nhs_catalogue().certificates["nhs-int-authentication-g2"]
    presented = PresentedCertificate(certificate=certificate)
    report = EndpointReport(
        host="example.nhs.uk",
        port=443,
        server_name="example.nhs.uk",
        checked_at=AT,
        probe=_handshake(),
        server=None,
        identities=(_handshake(),),
    )
    result = BuildResult(files=(), rows=0, workers=1, seconds=0.5, validated_at=AT)
    for value in (_handshake(), report, result):
        with pytest.warns(DeprecationWarning, match=r"as_dict\(\) is deprecated.*to_dict\(\)"):
            old = value.as_dict()
        assert old == value.to_dict()
    with pytest.warns(DeprecationWarning, match="to_dict"):
        old = presented.as_dict(AT)
    assert old == presented.to_dict(at=AT)
    assert presented.to_dict(at=AT)["expired"] is False
    later = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    assert presented.to_dict(at=later)["expired"] is True
    for module in _modules():
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and hasattr(value, "as_dict"):
                assert hasattr(value, "to_dict"), name


def _readme_python() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    (block,) = blocks
    return block


def test_readme_snippet_runs_in_an_empty_directory(
    pki: GeneratedPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README.md's Python example writes stores/int/... in a fresh directory, creating stores/int."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "our-partner-ca.pem").write_bytes(pki.foreign.root.cert_pem())
    exec(_readme_python(), {"jks_password": "a JKS password"})  # noqa: S102
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "our-partner-ca.pem",
        "stores/int/truststore.jks",
        "stores/int/truststore.pem",
    ]
    assert (tmp_path / "stores").stat().st_mode & 0o777 == 0o755


def test_keystore_write_creates_private_parents_and_returns_paths(
    pki: GeneratedPki, tmp_path: Path
) -> None:
    """KeyStore.write into a missing directory creates it 0700 (it holds the key), and lists the files."""
    (tmp_path / "client.pem").write_bytes(pki.g2.client.cert_pem())
    (tmp_path / "key.pem").write_bytes(pki.g2.client.key_pem())
    keystore = (
        KeyStoreBuilder()
        .with_catalogue(catalogue_for(pki))
        .add_trusted_certificates([pki.g2.root.certificate, pki.g2.intermediate.certificate])
        .with_identity(tmp_path / "client.pem", tmp_path / "key.pem")
        .build()
    )
    out = tmp_path / "new" / "client"
    paths = keystore.write(out, password="Store-pass-7731", formats=("p12", "pem"))
    assert paths == [
        out / "keystore.p12",
        out / "client-chain.pem",
        out / "client-key.pem",
        out / "truststore.pem",
    ]
    assert all(path.is_file() for path in paths)
    assert out.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


def test_a_failed_write_removes_the_directories_it_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the second file cannot be staged, no file and no new directory is left behind."""
    planned = [
        (tmp_path / "new" / "a" / "one.pem", b"one", False),
        (tmp_path / "new" / "b" / "two.pem", b"two", False),
    ]
    real_stage = writing._stage  # noqa: SLF001

    def failing_stage(path: Path, data: bytes, *, private: bool) -> Path:
        if path.name == "two.pem":
            msg = f"{path}: cannot write it (No space left on device)"
            raise OutputError(msg, source=str(path))
        return real_stage(path, data, private=private)

    monkeypatch.setattr(writing, "_stage", failing_stage)
    with pytest.raises(OutputError, match="No space left"):
        writing.write_files(planned)
    assert list(tmp_path.iterdir()) == []
    # A parent that cannot be made (a file is in the way) also leaves nothing new behind.
    (tmp_path / "file").write_bytes(b"")
    blocked = [planned[0], (tmp_path / "file" / "sub" / "two.pem", b"two", False)]
    with pytest.raises(OutputError, match="cannot create the directory"):
        writing.write_files(blocked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    # The positive control: the same set, nothing failing, is written with its directories.
    monkeypatch.setattr(writing, "_stage", real_stage)
    assert writing.write_files(planned) == [path for path, _, _ in planned]
    assert (tmp_path / "new" / "b" / "two.pem").read_bytes() == b"two"
