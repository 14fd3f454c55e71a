"""diff and the expiry horizon: stores compared by fingerprint across formats, key entries too."""

from __future__ import annotations

import base64
import datetime as dt
import json
import warnings
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization

from tests.commands import run_cli as run
from tests.pki import catalogue_for
from truststore_builder import Generation, KeyStoreBuilder, TrustStore, TrustStoreBuilder
from truststore_builder._diff import diff_stores, expiry_horizon

if TYPE_CHECKING:
    from pathlib import Path

    from tests.pki import GeneratedPki, Hierarchy
    from truststore_builder import KeyStore

PASSWORD = "Diff-store-pass-5521"
OLD_VAR = "TSB_TEST_DIFF_OLD"
NEW_VAR = "TSB_TEST_DIFF_NEW"
#: A fixed time for expiry judgements (prod G1 expired on 2024-06-04; INT Level 1C on 2029-11-11).
AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OLD_VAR, PASSWORD)
    monkeypatch.setenv(NEW_VAR, PASSWORD)


def nhs_store(env: str, generations: tuple[str, ...] = ("g1", "g2")) -> TrustStore:
    """The real NHS catalogue's store for ``env`` (prod's expired G1 warning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TrustStoreBuilder().add_nhs(env, generations).build()


def write(store: TrustStore, path: Path) -> Path:
    """Write ``store`` to ``path`` (format from the suffix; JKS and PKCS#12 with PASSWORD)."""
    password = None if path.suffix == ".pem" else PASSWORD
    return store.write(path, password=password)


def diff_cli(old: Path, new: Path, *extra: str) -> list[str]:
    """The diff command line with both passwords from the environment."""
    return [
        "diff",
        str(old),
        str(new),
        "--old-password-env",
        OLD_VAR,
        "--new-password-env",
        NEW_VAR,
        *extra,
    ]


def keystore(
    pki: GeneratedPki, hierarchy: Hierarchy, alias: str | None = "mesh-client"
) -> KeyStore:
    """A key store for a generated client, trusting the G1-like and G2-like CAs as NHS prod."""
    builder = (
        KeyStoreBuilder()
        .with_catalogue(catalogue_for(pki))
        .add_nhs("prod")
        .with_identity(hierarchy.client.certificate, hierarchy.client.key, alias=alias)
        .allow_g1()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return builder.build()


def write_keystore(store: KeyStore, path: Path) -> Path:
    """Write a key store as JKS or PKCS#12, by suffix."""
    data = store.to_jks(PASSWORD) if path.suffix == ".jks" else store.to_pkcs12(PASSWORD)
    path.write_bytes(data)
    return path


# --- trust stores -----------------------------------------------------------------------------


def test_identical_stores_are_equal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two JKS files of the same store diff as equal: exit 0, nothing added or removed."""
    store = nhs_store("int")
    old = write(store, tmp_path / "old.jks")
    new = write(store, tmp_path / "new.jks")
    status, out, _ = run(diff_cli(old, new), capsys)
    assert status == 0
    assert out.splitlines()[-1] == "stores are equal: 0 added, 0 removed, 4 kept"
    assert not [line for line in out.splitlines() if line[:2] in {"+ ", "- ", "~ "}]
    assert diff_stores(old, new, old_password=PASSWORD, new_password=PASSWORD).equal


def test_g1_only_against_g1_and_g2_adds_the_g2_cas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """G1-only JKS -> G1+G2 JKS: the two G2 CAs are added, named and dated; exit 1."""
    old = write(nhs_store("prod", ("g1",)), tmp_path / "g1.jks")
    new = write(nhs_store("prod"), tmp_path / "g1g2.jks")
    diff = diff_stores(old, new, old_password=PASSWORD, new_password=PASSWORD, at=AT)
    assert not diff.equal
    assert [e.alias for e in diff.added] == ["nhs-root-authority-g2", "nhs-authentication-g2"]
    assert {e.generation for e in diff.added} == {Generation.G2}
    assert diff.removed == ()
    assert [k.new.alias for k in diff.kept] == ["nhs-root-authority", "nhs-level-1c"]
    assert all(k.new.expired for k in diff.kept)
    status, out, _ = run(diff_cli(old, new), capsys)
    assert status == 1
    lines = out.splitlines()
    added = next(line for line in lines if "nhs-authentication-g2" in line)
    assert added.startswith("+ nhs-authentication-g2  CN=NHS Authentication G2")
    assert added.endswith("(NHS Authentication G2, g2)  not after 2032-09-15")
    assert lines[-1] == "stores differ: 2 added, 0 removed, 2 kept"
    reverse, out, _ = run(diff_cli(new, old), capsys)
    assert reverse == 1
    assert sum(line.startswith("- nhs-") for line in out.splitlines()) == 2


def test_same_certificates_under_other_aliases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same certificates, other aliases: kept and marked renamed (exit 1), equal with --ignore-aliases."""
    import jks  # noqa: PLC0415

    store = nhs_store("int")
    old = write(store, tmp_path / "ours.jks")
    renamed = jks.KeyStore.new(
        "jks",
        [
            jks.TrustedCertEntry.new(
                f"ca{i}", e.certificate.public_bytes(serialization.Encoding.DER)
            )
            for i, e in enumerate(store)
        ],
    )
    new = tmp_path / "keytool.jks"
    new.write_bytes(renamed.saves(PASSWORD))
    diff = diff_stores(old, new, old_password=PASSWORD, new_password=PASSWORD)
    assert (diff.added, diff.removed) == ((), ())
    assert len(diff.changed) == 4
    assert diff.changed[0].old.alias == "nhs-ptl-root-authority"
    assert diff.changed[0].new.alias == "ca0"
    status, out, _ = run(diff_cli(old, new), capsys)
    assert status == 1
    assert "~ ca0" in out
    assert "alias was nhs-ptl-root-authority" in out
    status, _, _ = run(diff_cli(old, new, "--ignore-aliases"), capsys)
    assert status == 0


def test_pem_and_jks_of_the_same_store_are_equal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PEM (aliases in its headers) against JKS of the same store: equal both ways; the object too."""
    store = nhs_store("dep")
    pem = write(store, tmp_path / "truststore.pem")
    jks_path = write(store, tmp_path / "truststore.jks")
    p12 = write(store, tmp_path / "truststore.p12")
    assert run(diff_cli(pem, jks_path), capsys)[0] == 0
    assert run(diff_cli(jks_path, pem), capsys)[0] == 0
    assert run(diff_cli(p12, jks_path), capsys)[0] == 0
    assert diff_stores(store, jks_path, new_password=PASSWORD).equal
    assert diff_stores(nhs_store("int"), pem)  # truthy: they differ (DEP Level 1C vs INT's)


def test_a_pem_alias_changed_by_hand_is_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PEM bundle whose '# Alias:' line was edited differs from the JKS in that alias only."""
    store = nhs_store("dep")
    jks_path = write(store, tmp_path / "truststore.jks")
    pem = write(store, tmp_path / "truststore.pem")
    pem.write_bytes(pem.read_bytes().replace(b"# Alias: nhs-dep-level-1c\n", b"# Alias: renamed\n"))
    diff = diff_stores(jks_path, pem, old_password=PASSWORD)
    assert [(k.old.alias, k.new.alias) for k in diff.changed] == [("nhs-dep-level-1c", "renamed")]
    assert run(diff_cli(jks_path, pem), capsys)[0] == 1
    # The control: aliases not counted, the two are equal.
    assert diff_stores(jks_path, pem, old_password=PASSWORD, compare_aliases=False).equal
    assert run(diff_cli(jks_path, pem, "--ignore-aliases"), capsys)[0] == 0


def test_json_output_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints one JSON document: equal flag, added entries with NHS names, kept entries."""
    old = write(nhs_store("prod", ("g1",)), tmp_path / "old.pem")
    new = write(nhs_store("prod"), tmp_path / "new.p12")
    status, out, _ = run(diff_cli(old, new, "--json", "--at", "2026-01-01T00:00:00Z"), capsys)
    assert status == 1
    document = json.loads(out)
    assert document["equal"] is False
    assert document["at"] == "2026-01-01T00:00:00+00:00"
    assert [e["nhs_name"] for e in document["added"]] == [
        "NHS Root Authority G2",
        "NHS Authentication G2",
    ]
    assert [e["nhs_generation"] for e in document["added"]] == ["g2", "g2"]
    assert document["removed"] == []
    assert {e["alias"] for e in document["kept"]} == {"nhs-root-authority", "nhs-level-1c"}
    assert all(e["expired"] for e in document["kept"])
    assert document["key_entries"] == []


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong password, a missing file, or a password option naming an unset variable: exit 2."""
    store = nhs_store("int")
    old = write(store, tmp_path / "old.jks")
    new = write(store, tmp_path / "new.p12")
    status, out, err = run(diff_cli(old, new), capsys)
    assert status == 0
    status, out, err = run(
        [
            "diff",
            str(old),
            str(new),
            "--old-password-env",
            "TSB_TEST_DIFF_WRONG",
            "--new-password-env",
            NEW_VAR,
        ],
        capsys,
    )
    assert status == 2
    assert "--old-password-env: the environment variable it names is not set" in err
    assert "TSB_TEST_DIFF_WRONG" not in err
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-the-password\n")
    status, out, err = run(
        [
            "diff",
            str(old),
            str(new),
            "--old-password-file",
            str(wrong),
            "--new-password-env",
            NEW_VAR,
        ],
        capsys,
    )
    assert status == 2
    assert out == ""
    assert str(old) in err
    assert PASSWORD not in err
    assert "not-the-password" not in err
    status, _, err = run(diff_cli(tmp_path / "missing.jks", new), capsys)
    assert status == 2
    assert "missing.jks" in err


# --- key stores -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jks", ".p12"])
def test_replaced_key_entry_is_reported(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    """G1 identity -> G2 identity under one alias: the key entry changed (certificate and key)."""
    old = write_keystore(keystore(pki, pki.g1), tmp_path / f"g1{suffix}")
    new = write_keystore(keystore(pki, pki.g2), tmp_path / f"g2{suffix}")
    diff = diff_stores(
        old, new, old_password=PASSWORD, new_password=PASSWORD, catalogue=catalogue_for(pki)
    )
    assert (diff.added, diff.removed, diff.changed) == ((), (), ())  # the same trusted CAs
    (change,) = diff.key_entries
    assert change.kind == "changed"
    assert change.alias == "mesh-client"
    assert change.certificate_changed
    assert change.key_changed
    assert change.chain_changed
    assert not change.alias_changed
    assert change.old is not None
    assert change.new is not None
    assert (change.old.generation, change.new.generation) == (Generation.G1, Generation.G2)
    assert not diff.equal
    status, out, _ = run(diff_cli(old, new), capsys)
    assert status == 1
    line = next(line for line in out.splitlines() if line.startswith("~ key entry"))
    assert line.startswith("~ key entry mesh-client: certificate changed, key changed")
    assert "client.test-g1.test" in line
    assert "client.test-g2.test" in line
    assert out.splitlines()[-1].endswith("key entries: 1 changed")


def test_key_entries_added_removed_and_renamed(pki: GeneratedPki, tmp_path: Path) -> None:
    """A lone key entry under a new alias pairs with the old one; trust store -> key store adds one."""
    g1 = write_keystore(keystore(pki, pki.g1, alias=None), tmp_path / "g1.jks")
    g2 = write_keystore(keystore(pki, pki.g2, alias=None), tmp_path / "g2.jks")
    (change,) = diff_stores(g1, g2, old_password=PASSWORD, new_password=PASSWORD).key_entries
    assert change.kind == "changed"
    assert change.alias_changed
    assert change.key_changed
    built = keystore(pki, pki.g2)
    trust_only = write(built.trust_store, tmp_path / "trust.pem")
    added = diff_stores(trust_only, built)
    assert [c.kind for c in added.key_entries] == ["added"]
    removed = diff_stores(built, trust_only)
    assert [c.kind for c in removed.key_entries] == ["removed"]
    assert (added.added, added.removed, removed.added, removed.removed) == ((), (), (), ())


def test_key_store_object_equals_its_file(pki: GeneratedPki, tmp_path: Path) -> None:
    """A KeyStore compared with the JKS and PKCS#12 written from it: equal, key entry unchanged."""
    built = keystore(pki, pki.g2)
    for suffix in (".jks", ".p12"):
        path = write_keystore(built, tmp_path / f"keystore{suffix}")
        diff = diff_stores(built, path, new_password=PASSWORD)
        assert diff.equal, str(diff)
        assert [c.kind for c in diff.key_entries] == ["unchanged"]


def test_no_key_material_in_diff_output(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """repr, str, JSON and the command line's output of a key store diff hold no private key."""
    old = write_keystore(keystore(pki, pki.g1), tmp_path / "g1.p12")
    new = write_keystore(keystore(pki, pki.g2), tmp_path / "g2.p12")
    diff = diff_stores(old, new, old_password=PASSWORD, new_password=PASSWORD)
    _, out, err = run(diff_cli(old, new, "--all"), capsys)
    _, json_out, _ = run(diff_cli(old, new, "--json"), capsys)
    secrets = [
        base64.b64encode(
            h.client.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).decode()[60:100]
        for h in (pki.g1, pki.g2)
    ]
    for text in (repr(diff), str(diff), json.dumps(diff.to_dict()), out, err, json_out):
        assert "PRIVATE" not in text
        assert PASSWORD not in text
        for secret in secrets:
            assert secret not in text


def test_key_store_without_its_password_exits_2(
    pki: GeneratedPki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JKS key store given without a password cannot have its key entry compared: exit 2."""
    path = write_keystore(keystore(pki, pki.g2), tmp_path / "keystore.jks")
    status, out, err = run(["diff", str(path), str(path)], capsys)
    assert status == 2
    assert out == ""
    assert "give its password" in err


# --- expiry horizon ---------------------------------------------------------------------------


def test_inspect_shows_the_horizon_and_prod_fails_any_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Prod G1+G2: the last line names the expired G1 CA; --fail-within 0 (any window) exits 1."""
    path = write(nhs_store("prod"), tmp_path / "prod.pem")
    status, out, _ = run(["inspect", str(path), "--at", "2026-01-01T00:00:00Z"], capsys)
    assert status == 0
    assert out.splitlines()[-1] == (
        "expires first: NHS Level 1C [alias nhs-level-1c] on 2024-06-04 (expired 575 days ago)"
    )
    status, out, err = run(["inspect", str(path), "--fail-within", "0"], capsys)
    assert status == 1
    assert "2 certificates expire within 0 days" in err
    assert "NHS Root Authority [alias nhs-root-authority] (expired 2024-06-04)" in err
    assert out.splitlines()[-1].startswith("expires first: NHS Level 1C [alias nhs-level-1c] on")


def test_inspect_shows_the_aliases_of_a_pem_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The inspect table and JSON show each PEM block's ``# Alias:``; a headerless PEM shows -."""
    store = nhs_store("int")
    path = write(store, tmp_path / "int.pem")
    status, out, _ = run(["inspect", str(path)], capsys)
    assert status == 0
    first_column = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert first_column == [entry.alias for entry in store]
    status, out, _ = run(["inspect", str(path), "--json"], capsys)
    assert [entry["alias"] for entry in json.loads(out)["entries"]] == [e.alias for e in store]
    plain = tmp_path / "plain.pem"
    plain.write_bytes(
        b"".join(e.certificate.public_bytes(serialization.Encoding.PEM) for e in store)
    )
    status, out, _ = run(["inspect", str(plain)], capsys)
    assert [line.split()[0] for line in out.splitlines()[1:-1]] == ["-"] * len(store)


def test_expires_first_says_the_same_whatever_the_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same store as PEM, JKS and PKCS#7 names its first expiry the same way: name, then alias."""
    store = nhs_store("int")
    common = ["--at", "2026-01-01T00:00:00Z", "--password-env", OLD_VAR]
    lines = {}
    for name in ("int.pem", "int.jks", "int.p7b"):
        status, out, _ = run(["inspect", str(write(store, tmp_path / name)), *common], capsys)
        assert status == 0
        lines[name] = out.splitlines()[-1]
    with_alias = (
        "expires first: NHS INT Level 1C [alias nhs-int-level-1c] on 2029-11-11 (in 1410 days)"
    )
    # PKCS#7 has no aliases: the name alone, never an alias in the name's place.
    assert lines == {
        "int.pem": with_alias,
        "int.jks": with_alias,
        "int.p7b": "expires first: NHS INT Level 1C on 2029-11-11 (in 1410 days)",
    }


def test_inspect_fail_within_on_the_int_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """INT: a small window passes; a window reaching past 2029-11-11 (INT Level 1C) fails."""
    path = write(nhs_store("int"), tmp_path / "int.jks")
    common = ["inspect", str(path), "--password-env", OLD_VAR, "--at", "2026-01-01T00:00:00Z"]
    status, out, err = run([*common, "--fail-within", "30"], capsys)
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == (
        "expires first: NHS INT Level 1C [alias nhs-int-level-1c] on 2029-11-11 (in 1410 days)"
    )
    status, out, err = run([*common, "--fail-within", "1410"], capsys)
    assert status == 0
    status, out, err = run([*common, "--fail-within", "1411"], capsys)
    assert status == 1
    assert "1 certificate expires within 1411 days" in err
    assert "NHS INT Level 1C [alias nhs-int-level-1c] (expires 2029-11-11)" in err
    status, _, err = run([*common, "--fail-within", "-3"], capsys)
    assert status == 2
    assert "--fail-within" in err


def test_inspect_json_has_the_expiry_horizon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inspect --json gives an expiry_horizon field naming the first expiry and the window's entries."""
    path = write(nhs_store("int"), tmp_path / "int.pem")
    status, out, _ = run(
        ["inspect", str(path), "--json", "--at", "2026-01-01T00:00:00Z", "--fail-within", "2000"],
        capsys,
    )
    assert status == 1
    horizon = json.loads(out)["expiry_horizon"]
    assert horizon["ok"] is False
    assert horizon["within_days"] == 2000
    assert horizon["first"]["name"] == "NHS INT Level 1C"
    assert horizon["first"]["days_left"] == 1410
    assert [e["name"] for e in horizon["within"]] == ["NHS INT Level 1C"]


def test_expiry_horizon_api() -> None:
    """expiry_horizon on a TrustStore: soonest first, expired entries counted as already past."""
    horizon = expiry_horizon(nhs_store("prod"), at=AT, within_days=365 * 7)
    assert horizon.first is not None
    assert horizon.first.expired
    assert horizon.first.days_left == -575
    assert [e.alias for e in horizon.within] == [
        "nhs-level-1c",
        "nhs-root-authority",
        "nhs-authentication-g2",
    ]
    assert not horizon.ok
    assert str(horizon).startswith(
        "expires first: NHS Level 1C [alias nhs-level-1c] on 2024-06-04 (expired "
    )
    int_horizon = expiry_horizon(nhs_store("int"), at=AT, within_days=0)
    assert int_horizon.ok
    assert int_horizon.within == ()
    assert expiry_horizon([], at=AT).first is None
    with pytest.raises(ValueError, match="0 or more"):
        expiry_horizon([], at=AT, within_days=-1)


def test_diff_shows_as_a_table_in_notebooks() -> None:
    """A diff's repr is one line, and its HTML is a table with the added G2 rows marked."""
    old = TrustStoreBuilder().add_nhs("int", generations=["g1"]).build()
    new = TrustStoreBuilder().add_nhs("int").build()
    diff = diff_stores(old, new)
    assert repr(diff) == "<StoreDiff differ: 2 added, 0 removed, 2 kept, 0 key entry changes>"
    html = diff._repr_html_()
    assert html.count("<tr") == 1 + 4  # header and one row per entry
    assert html.count("#16a34a") == 2  # the two added G2 CAs, tinted as added
    assert "NHS INT Authentication G2" in html
    assert "stores differ" in html


def test_diff_names_the_real_retired_g1_pair_and_says_it_can_go(
    shared_nhs_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An old store of the real G1 and G2 files against today's G2 store: G1 retired, fine to go."""
    old = tmp_path / "old.pem"
    old.write_bytes(
        b"".join(
            (shared_nhs_pki / name).read_bytes()
            for name in (
                "nhs-root-authority.pem",
                "nhs-level-1c.pem",
                "nhs-root-authority-g2.pem",
                "nhs-authentication-g2.pem",
            )
        )
    )
    new = write(nhs_store("prod", ("g2",)), tmp_path / "new.pem")
    diff = diff_stores(old, new, at=AT)
    assert [(e.alias or e.subject, e.retired is not None) for e in diff.removed] == [
        ("CN=NHS Root Authority,OU=CA,O=NHS", True),
        ("CN=NHS Level 1C,OU=CA,O=nhs", True),
    ]
    assert all(k.new.retired is None for k in diff.kept)  # G2 is not retired
    status, out, _ = run(diff_cli(old, new), capsys)
    assert status == 1
    removed = [line for line in out.splitlines() if line.startswith("- ")]
    assert len(removed) == 2
    assert all(line.endswith("retired CA: fine to remove") for line in removed)
    assert "can go" not in out  # the new store holds none
    # The other way round, the G1 pair is added: each is named, and said to be able to go.
    status, out, _ = run(diff_cli(new, old, "--json"), capsys)
    assert [e["retired"] for e in json.loads(out)["added"]] == [
        "NHS Root Authority",
        "NHS Level 1C",
    ]
    status, out, _ = run(diff_cli(new, old), capsys)
    lines = out.splitlines()
    assert lines[-3].startswith("retired, can go: NHS Root Authority: the prod G1 root")
    assert lines[-2].startswith("retired, can go: NHS Level 1C: the prod G1 intermediate")
    assert lines[-1] == "stores differ: 2 added, 0 removed, 2 kept"
