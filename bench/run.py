"""Benchmarks: truststore_builder against the keytool and openssl commands people run today.

Run ``python bench/run.py`` (or ``nox -s bench``); ``--quick`` for a short run, ``--case`` to
pick cases. Each case runs the library and its anchor in the same run, alternating, and the
table gives medians and ratios; ``bench/results.json`` gets everything, with the machine.

Every subprocess runs with Python's bytecode cache on (in ``bench/.cache/pycache``), as an
installed wheel has it, and every command runs once untimed first to warm the caches.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
PASSWORD = "bench-Store-pw-1"  # noqa: S105 - a throwaway for throwaway stores
SCALE_SIZES = (1_000, 10_000, 100_000)

sys.path.insert(0, str(BENCH))
import _fixtures  # noqa: E402

# --- running things ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    env["BENCH_PW"] = PASSWORD
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _cli() -> list[str]:
    """The console script installed beside this interpreter, as a virtualenv's PATH finds it.

    Not ``shutil.which``: under pyenv that finds a shim, a bash script that costs tens of
    milliseconds before Python starts.
    """
    script = Path(sys.executable).parent / "truststore-builder"
    if script.is_file():
        return [str(script)]
    found = shutil.which("truststore-builder")
    return [found] if found else [sys.executable, "-m", "truststore_builder"]


def run(
    command: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Run a command to completion; return its wall-clock seconds. A failure stops the bench."""
    args = [str(part) for part in command]
    environment = {**_env(), **(env or {})}
    start = time.perf_counter()
    done = subprocess.run(args, env=environment, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        msg = f"failed ({done.returncode}): {' '.join(args)}"
        raise RuntimeError(msg)
    return elapsed


def output(command: Sequence[str | Path]) -> str:
    """A command's stdout (and stderr), stripped."""
    done = subprocess.run(
        [str(part) for part in command], env=_env(), capture_output=True, check=True
    )
    return (done.stdout + done.stderr).decode(errors="replace").strip()


@dataclass
class Contender:
    """One side of a comparison: a label, how to run it once, and how many times."""

    name: str
    role: str  # "library", "anchor" (the target's denominator) or "reference"
    once: Callable[[int], float]
    reps: int
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """The median of the timed runs."""
        return statistics.median(self.times)


def alternate(contenders: Sequence[Contender], *, warm: bool = True) -> None:
    """Run each contender its number of times, interleaved: L A R L A R L L ..."""
    if warm:
        for contender in contenders:
            contender.once(-1)
    for rep in range(max(c.reps for c in contenders)):
        for contender in contenders:
            if rep < contender.reps:
                contender.times.append(contender.once(rep))
                print(f"    {contender.name}: {contender.times[-1]:.3f} s", flush=True)


def summary(contenders: Sequence[Contender], *, target: float, note: str = "") -> dict[str, Any]:
    """Medians, and each anchor's (or reference's) median over the library's."""
    library = next(c for c in contenders if c.role == "library")
    rows = [
        {
            "name": c.name,
            "role": c.role,
            "reps": len(c.times),
            "times_s": [round(t, 4) for t in c.times],
            "median_s": round(c.median, 4),
            "ratio": None if c is library else round(c.median / library.median, 1),
        }
        for c in contenders
    ]
    anchor = next(c for c in contenders if c.role == "anchor")
    ratio = anchor.median / library.median
    return {
        "contenders": rows,
        "ratio": round(ratio, 1),
        "target": f">= {target:g}x",
        "met": ratio >= target,
        "note": note,
    }


# --- the cases -----------------------------------------------------------------------------------


def _public_roots_store_files(work: Path) -> tuple[Path, Path, int]:
    """The prod NHS + certifi certificates, one PEM per alias, and as one bundle."""
    from truststore_builder import TrustStoreBuilder  # noqa: PLC0415

    folder = work / "certs"
    folder.mkdir()
    bundle = work / "bundle.pem"
    # The expired G1 CAs, and a certifi root with a negative serial number, warn.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = TrustStoreBuilder().add_nhs("prod").add_certifi().build()
        for entry in store:
            (folder / f"{entry.alias}.pem").write_bytes(_fixtures.pem(entry.certificate))
        bundle.write_bytes(store.to_pem())
    return folder, bundle, len(store)


def _count_trusted(store: Path, storetype: str) -> int:
    listing = output(
        [
            "keytool",
            "-list",
            "-keystore",
            store,
            "-storetype",
            storetype,
            "-storepass:env",
            "BENCH_PW",
        ]
    )
    return listing.count("trustedCertEntry")


def case_truststore(
    work: Path, args: argparse.Namespace, storetype: str, fmt: str
) -> dict[str, Any]:
    """Cases 1 and 2: a ~150-certificate trust store, CLI vs a keytool loop (and openssl)."""
    certs, bundle, count = _public_roots_store_files(work)

    def library(rep: int) -> float:
        out = work / f"lib-{rep}"
        took = run(
            [
                *_cli(),
                "build",
                "--env",
                "prod",
                "--certifi",
                "--formats",
                fmt,
                "--password-env",
                "BENCH_PW",
                "--out",
                out,
            ]
        )
        if rep == 0:
            found = _count_trusted(out / f"truststore.{fmt}", storetype)
            assert found == count, (found, count)
        shutil.rmtree(out)
        return took

    def keytool(rep: int) -> float:
        store = work / f"keytool-{rep}.{fmt}"
        took = run(["bash", BENCH / "keytool_loop.sh", certs, store, storetype])
        if rep == 0:
            found = _count_trusted(store, storetype)
            assert found == count, (found, count)
        store.unlink()
        return took

    def openssl(rep: int) -> float:
        store = work / f"openssl-{rep}.p12"
        took = run(
            [
                "openssl",
                "pkcs12",
                "-export",
                "-nokeys",
                "-in",
                bundle,
                "-out",
                store,
                "-passout",
                "env:BENCH_PW",
            ]
        )
        store.unlink()
        return took

    contenders = [
        Contender(f"truststore-builder build --formats {fmt}", "library", library, args.reps),
        # The anchor is ~100 JVM starts: run it fewer times, and not once more to warm up.
        Contender(
            f"keytool -importcert loop ({count} processes)",
            "anchor",
            keytool,
            args.anchor_reps,
        ),
    ]
    if fmt == "p12":
        contenders.append(
            Contender("openssl pkcs12 -export -nokeys (reference)", "reference", openssl, args.reps)
        )
    library(-1)
    if fmt == "p12":
        openssl(-1)
    alternate(contenders, warm=False)
    note = (
        f"{count} certificates (certifi's roots and the prod NHS G1+G2 CAs); "
        f"keytool loop run {args.anchor_reps}x (one JVM per certificate)"
    )
    if fmt == "p12":
        note += "; openssl's file has no Java trusted-certificate attribute (Java reads no entry)"
    return summary(contenders, target=200, note=note)


def _job_inputs(work: Path) -> dict[str, Path]:
    from truststore_builder import nhs_catalogue  # noqa: PLC0415

    ca_key, ca = _fixtures.make_ca("Bench Supplier CA")
    key, certificate = _fixtures.make_client(
        ca_key, ca, "bench-client.example.nhs.uk", rsa_key=True
    )
    _fixtures.write_identity(work, "client", key, certificate)
    (work / "bench-ca.pem").write_bytes(_fixtures.pem(ca))
    bundle = b"".join(_fixtures.pem(c) for _, c in nhs_catalogue().select("prod"))
    (work / "nhs-prod.pem").write_bytes(bundle)
    return {
        "cert": work / "client.pem",
        "key": work / "client.key",
        "ca": work / "bench-ca.pem",
        "bundle": work / "nhs-prod.pem",
    }


def case_job(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Case 3: the whole prod G1+G2 job, CLI vs the openssl + keytool runbook."""
    files = _job_inputs(work)

    def library(rep: int) -> float:
        out = work / f"lib-{rep}"
        took = run(
            [
                *_cli(),
                "build",
                "--env",
                "prod",
                "--formats",
                "pem,p12,jks",
                "--password-env",
                "BENCH_PW",
                "--cert",
                files["cert"],
                "--key",
                files["key"],
                "--add",
                files["ca"],
                "--out",
                out,
            ]
        )
        if rep == 0:
            written = sorted(p.name for p in out.iterdir())
            print(f"    library wrote {', '.join(written)}")
        shutil.rmtree(out)
        return took

    def runbook(rep: int) -> float:
        out = work / f"runbook-{rep}"
        took = run(
            [
                "bash",
                BENCH / "runbook.sh",
                files["bundle"],
                files["ca"],
                files["cert"],
                files["key"],
                out,
            ]
        )
        if rep == 0:
            written = sorted(p.name for p in out.iterdir() if p.is_file())
            print(f"    runbook wrote {', '.join(written)}")
        shutil.rmtree(out)
        return took

    contenders = [
        Contender(
            "truststore-builder build (3 trust + 2 key stores)", "library", library, args.reps
        ),
        Contender(
            "openssl + keytool runbook (bench/runbook.sh)", "anchor", runbook, args.anchor_reps
        ),
    ]
    library(-1)
    alternate(contenders, warm=False)
    return summary(
        contenders,
        target=10,
        note=(
            "prod G1+G2 CAs plus a bench CA (--add); RSA-2048 client key; the runbook makes "
            "21 keytool calls and 2 openssl calls"
        ),
    )


_HEAVY_PROBE = (
    "import sys, truststore_builder; print(','.join(sorted(m for m in sys.modules if "
    "m == 'jks' or m.startswith(('jks.', 'truststore_builder._formats.jks', "
    "'truststore_builder._formats.pkcs12', 'cryptography.hazmat.primitives.serialization"
    ".pkcs7')))))"
)


def case_startup(_work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Case 4: import time, against importing cryptography.x509 (which the package needs)."""
    import site  # noqa: PLC0415

    import truststore_builder  # noqa: PLC0415

    python = sys.executable
    # "python -S" with the package's and site-packages' directories on PYTHONPATH: no .pth file
    # runs at start-up. An interpreter whose site runs a .pth that imports typing, pathlib,
    # certifi, ... pays for them on both sides and flatters the ratio; a fresh virtualenv
    # does not have them. The target is judged on this clean pair.
    package_root = str(Path(truststore_builder.__file__).resolve().parent.parent)
    clean = {"PYTHONPATH": os.pathsep.join([package_root, *site.getsitepackages()])}

    def importer(code: str, *flags: str) -> Callable[[int], float]:
        return lambda _rep: run([python, *flags, "-c", code], env=clean if flags else None)

    contenders = [
        Contender(
            "python -S -c 'import truststore_builder'",
            "library",
            importer("import truststore_builder", "-S"),
            args.startup_reps,
        ),
        Contender(
            "python -S -c 'import cryptography.x509'",
            "anchor",
            importer("import cryptography.x509", "-S"),
            args.startup_reps,
        ),
        Contender(
            "python -S -c 'pass' (reference)",
            "reference",
            importer("pass", "-S"),
            args.startup_reps,
        ),
        Contender(
            "python -c 'import truststore_builder' (site as installed)",
            "reference",
            importer("import truststore_builder"),
            args.startup_reps,
        ),
        Contender(
            "python -c 'import cryptography.x509' (site as installed)",
            "reference",
            importer("import cryptography.x509"),
            args.startup_reps,
        ),
    ]
    alternate(contenders)
    library, anchor = contenders[0].median, contenders[1].median
    heavy = output(
        [
            python,
            "-c",
            _HEAVY_PROBE,
        ]
    )
    ratio = library / anchor
    return {
        "contenders": [
            {
                "name": c.name,
                "role": c.role,
                "reps": len(c.times),
                "times_s": [round(t, 4) for t in c.times],
                "median_s": round(c.median, 4),
                "ratio": round(c.median / anchor, 2),
            }
            for c in contenders
        ],
        "ratio": round(ratio, 2),
        "target": "<= 1.5x (import truststore_builder over import cryptography.x509)",
        "met": ratio <= 1.5 and not heavy,  # noqa: PLR2004
        "heavy_modules_imported": heavy.split(",") if heavy else [],
        "ratio_site_as_installed": round(contenders[3].median / contenders[4].median, 2),
        "note": (
            "whole process, interpreter start included; bytecode cache warm; judged on the "
            "python -S pair (no .pth files run); contender ratios are over the -S anchor"
        ),
    }


def _batch_clients(count: int) -> Path:
    """``count`` client identities (EC P-256) under one CA, cached in bench/.cache."""
    from truststore_builder import nhs_catalogue  # noqa: PLC0415

    folder = CACHE / f"batch-{count}"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ca_key, ca = _fixtures.make_ca("Bench Batch CA")
    (folder / "ca.pem").write_bytes(_fixtures.pem(ca))
    trusted = [c for _, c in nhs_catalogue().select("prod")] + [ca]
    (folder / "trust.pem").write_bytes(b"".join(_fixtures.pem(c) for c in trusted))
    for i in range(count):
        key, certificate = _fixtures.make_client(ca_key, ca, f"client{i:04d}.bench.example")
        _fixtures.write_identity(folder, f"client-{i:04d}", key, certificate)
    (folder / "done").touch()
    return folder


_RECIPE = """\
[trust]
environments = ["prod"]
add = [{ca}]

[batch]
table = {table}
[[batch.targets]]
format = "keystore-p12"
path = {out}
password_env = "BENCH_PW"
"""

_RECIPE_BUILD = (
    "import sys; from truststore_builder.recipe import load_recipe; "
    "load_recipe(sys.argv[1]).build(workers=2)"
)


def case_batch(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Case 5: N client PKCS#12 key stores, one process on 2 cores vs an openssl loop."""
    clients = _batch_clients(args.batch)
    table = work / "clients.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "cert", "key"])
        for cert in sorted(clients.glob("client-*.pem")):
            writer.writerow([cert.stem, cert, cert.with_suffix(".key")])

    def recipe(rep: int) -> float:
        out = work / f"recipe-{rep}"
        recipe_file = work / f"recipe-{rep}.toml"
        recipe_file.write_text(
            _RECIPE.format(
                ca=json.dumps(str(clients / "ca.pem")),
                table=json.dumps(str(table)),
                out=json.dumps(str(out / "{name}.p12")),
            ),
            encoding="utf-8",
        )
        took = run([sys.executable, "-c", _RECIPE_BUILD, recipe_file])
        assert len(list(out.glob("*.p12"))) == args.batch
        shutil.rmtree(out)
        return took

    def library(*flags: str) -> Callable[[int], float]:
        def once(rep: int) -> float:
            out = work / f"lib-{rep}"
            took = run([sys.executable, BENCH / "_batch.py", clients, out, "2", *flags])
            assert len(list(out.glob("*.p12"))) == args.batch
            shutil.rmtree(out)
            return took

        return once

    def loop(iterations: str) -> Callable[[int], float]:
        def once(rep: int) -> float:
            out = work / f"openssl-{iterations}-{rep}"
            took = run(["bash", BENCH / "openssl_loop.sh", clients, out, iterations])
            shutil.rmtree(out)
            return took

        return once

    contenders = [
        Contender(
            f"library: recipe, CSV batch of {args.batch}, workers=2",
            "library",
            recipe,
            args.reps_slow,
        ),
        Contender(
            f"library: Python API, {args.batch} key stores, ProcessPoolExecutor(2)",
            "reference",
            library(),
            args.reps_slow,
        ),
        Contender(
            "encoder only, without the read-back check (no such mode in the library; what "
            "the check costs)",
            "reference",
            library("--no-read-back"),
            args.reps_slow,
        ),
        Contender(
            f"openssl pkcs12 -export loop, -iter 10000 ({args.batch} processes)",
            "anchor",
            loop("10000"),
            args.anchor_reps,
        ),
        Contender(
            "openssl pkcs12 -export loop, default -iter 2048 (reference)",
            "reference",
            loop("default"),
            args.anchor_reps,
        ),
    ]
    alternate(contenders, warm=False)
    return summary(
        contenders,
        target=5,
        note=(
            "modern profile (AES-256-CBC, PBKDF2-SHA256 and a SHA-256 MAC, 10,000 iterations "
            "each); each file holds the key, its chain and the 5 CAs (trusted entries for the "
            "library, -certfile for openssl); the library reads every file back before writing "
            "it. Driven through a recipe (load_recipe(...).build(workers=2), a CSV batch "
            "table), and through the Python API (KeyStoreBuilder, KeyStore.to_pkcs12 in a "
            "ProcessPoolExecutor(2), bench/_batch.py) as a reference"
        ),
    )


def _scale_file(count: int) -> Path:
    """``count`` generated CA certificates as one PEM file, cached in bench/.cache."""
    path = CACHE / f"scale-{count}.pem"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    chunk = max(1, count // 8)
    starts = range(0, count, chunk)
    with ProcessPoolExecutor(2) as pool:
        parts = pool.map(_fixtures.many_cas, [min(chunk, count - s) for s in starts], list(starts))
        data = b"".join(b"".join(part) for part in parts)
    partial = path.with_suffix(".tmp")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def case_scale(_work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Case 6: PEM and PKCS#12 trust stores from 1k, 10k, 100k certificates.

    Every size runs the same number of times, the sizes taking turns (1k, 10k, 100k, 1k, ...),
    so that the machine's load falls on all of them alike; each size's median run counts.
    """
    results: dict[str, Any] = {"runs": []}
    sources = {count: _scale_file(count) for count in args.scale}
    measured: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for _ in range(args.reps_slow):
        for count in args.scale:
            for fmt in ("pem", "p12"):
                text = output([sys.executable, BENCH / "_scale.py", sources[count], fmt])
                run_ = json.loads(text.splitlines()[-1])
                run_["library_s"] = round(run_["build_s"] + run_["serialize_s"], 3)
                measured.setdefault((count, fmt), []).append(run_)
    for (count, fmt), runs in measured.items():
        ordered = sorted(runs, key=lambda r: r["library_s"])
        median = ordered[len(ordered) // 2]
        median["reps"] = len(runs)
        median["library_s_all"] = [r["library_s"] for r in runs]
        median["maxrss_mib"] = max(r["maxrss_mib"] for r in runs)
        results["runs"].append(median)
        print(
            f"    {count:>7} {fmt}: build {median['build_s']:.2f} s, serialise+read-back "
            f"{median['serialize_s']:.2f} s ({median['library_s'] / count * 1e6:.0f} us per "
            f"certificate), peak RSS {median['maxrss_mib']:.0f} MiB",
            flush=True,
        )
    growth = {}
    for fmt in ("pem", "p12"):
        by_count = {
            r["certificates"]: r["library_s"] for r in results["runs"] if r["format"] == fmt
        }
        if SCALE_SIZES[1] in by_count and SCALE_SIZES[2] in by_count:
            growth[fmt] = round(by_count[SCALE_SIZES[2]] / by_count[SCALE_SIZES[1]], 1)
    peak = max((r["maxrss_mib"] for r in results["runs"]), default=0.0)
    results["growth_100k_over_10k"] = growth
    results["peak_rss_mib"] = round(peak, 1)
    results["target"] = "100k within 12x of 10k; peak RSS < 1024 MiB at 100k"
    results["met"] = bool(growth) and all(g <= 12 for g in growth.values()) and peak < 1024  # noqa: PLR2004
    results["note"] = (
        "times are the median run of each size (sizes taking turns) for build (add + "
        "de-duplicate + order + alias) and serialise "
        "(with the library's read-back check), excluding parsing the input PEM; every "
        "certificate shares one subject (every alias clashes) and a tenth are added twice"
    )
    return results


def _estate_stores(count: int) -> Path:
    """``count`` stores, a quarter each: PEM bundle, PKCS#12 and JKS trust stores, PKCS#12 key store.

    Each kind's bytes are made once and written ``count // 4`` times under other names (an
    estate's stores are mostly the same CAs); PKCS#12 and JKS have the password $BENCH_PW.
    Cached in bench/.cache.
    """
    from truststore_builder import TrustStoreBuilder  # noqa: PLC0415

    folder = CACHE / f"estate-{count}"
    if (folder / "stores" / ".done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    stores = folder / "stores"
    stores.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int_store = TrustStoreBuilder().add_nhs("int").build()
        prod_store = TrustStoreBuilder().add_nhs("prod").build()
    ca_key, ca = _fixtures.make_ca("Bench Estate CA")
    key, client = _fixtures.make_client(ca_key, ca, "estate.bench.example")
    _fixtures.write_identity(folder, "client", key, client)
    (folder / "ca.pem").write_bytes(_fixtures.pem(ca))
    keystore = folder / "keystore.p12"
    run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-in",
            folder / "client.pem",
            "-inkey",
            folder / "client.key",
            "-certfile",
            folder / "ca.pem",
            "-name",
            "client",
            "-out",
            keystore,
            "-passout",
            "env:BENCH_PW",
        ]
    )
    kinds = {
        "pem": int_store.to_pem(),
        "p12": prod_store.to_pkcs12(PASSWORD),
        "jks": int_store.to_jks(PASSWORD),
        "key.p12": keystore.read_bytes(),
    }
    for i in range(count):
        suffix, data = list(kinds.items())[i % len(kinds)]
        (stores / f"store-{i:04d}.{suffix}").write_bytes(data)
    (stores / ".done").touch()
    return folder


def case_estate(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """``inspect`` over an estate of stores vs a keytool -list + openssl x509 -enddate loop."""
    folder = _estate_stores(args.estate)
    stores = folder / "stores"
    password_map = work / "passwords.toml"
    password_map.write_text('[[store]]\nglob = "*"\npassword_env = "BENCH_PW"\n')

    def library(rep: int) -> float:
        report = work / f"estate-{rep}.json"
        took = run(
            [
                *_cli(),
                "inspect",
                stores,
                "--password-map",
                password_map,
                "--json-out",
                report,
                "--metrics",
                work / f"estate-{rep}.prom",
                "--force",
            ]
        )
        if rep <= 0:
            found = json.loads(report.read_text(encoding="utf-8"))
            assert len(found["stores"]) == args.estate, len(found["stores"])
            assert not found["unreadable"], found["unreadable"]
            certificates = sum(store["entries"] for store in found["stores"])
            expected["certificates"] = certificates
        return took

    def loop(rep: int) -> float:
        start = time.perf_counter()
        done = subprocess.run(
            ["bash", str(BENCH / "estate_loop.sh"), str(stores)],
            env=_env(),
            capture_output=True,
            check=True,
        )
        took = time.perf_counter() - start
        if rep == 0:
            lines = done.stdout.decode().count("notAfter=")
            assert lines == expected["certificates"], (lines, expected)
        return took

    expected: dict[str, int] = {}
    library(-1)
    contenders = [
        Contender(
            f"truststore-builder inspect, {args.estate} stores (JSON + metrics)",
            "library",
            library,
            args.reps,
        ),
        Contender(
            f"keytool -list -rfc + openssl x509 -enddate loop ({args.estate} stores)",
            "anchor",
            loop,
            args.anchor_reps,
        ),
    ]
    alternate(contenders, warm=False)
    return summary(
        contenders,
        target=50,
        note=(
            f"{args.estate} stores: PEM, PKCS#12 and JKS trust stores and PKCS#12 key stores, a "
            f"quarter each, every PKCS#12 and JKS password-protected; "
            f"{expected['certificates']} certificates"
        ),
    )


def case_endpoints(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Check N loopback endpoints (G1 and G2 identities each): --from-file vs an s_client loop."""
    import _endpoints  # noqa: PLC0415 - only this case starts servers

    count = args.endpoints
    files = _endpoints.write_material(work / "material")
    with _endpoints.nginx_endpoints(work, files, count) as endpoints:
        listing = work / "endpoints.txt"
        listing.write_text("".join(f"{e}\n" for e in endpoints), encoding="utf-8")
        identities = [
            "--identity",
            f"g1={files['g1_cert']},{files['g1_key']}",
            "--identity",
            f"g2={files['g2_cert']},{files['g2_key']}",
        ]

        def check(concurrency: int) -> Callable[[int], float]:
            def once(rep: int) -> float:
                report = work / f"check-{concurrency}-{rep}.json"
                command = [
                    *_cli(),
                    "check",
                    "--from-file",
                    listing,
                    "--concurrency",
                    str(concurrency),
                ]
                command += ["--trust", files["server_ca"], "--server-name", "localhost"]
                command += [*identities, "--json-out", report]
                took = run(command)  # exit 0: every chain verified, every identity accepted
                document = json.loads(report.read_text(encoding="utf-8"))
                assert len(document["endpoints"]) == count, "check missed endpoints"
                assert all(e["expiry"]["leaf"]["days_left"] > 0 for e in document["endpoints"])
                report.unlink()
                return took

            return once

        def s_client_loop(_rep: int) -> float:
            command = ["bash", BENCH / "s_client_loop.sh", listing, "localhost", files["server_ca"]]
            command += [files[k] for k in ("g1_cert", "g1_key", "g2_cert", "g2_key")]
            start = time.perf_counter()
            done = subprocess.run(
                [str(part) for part in command], env=_env(), capture_output=True, check=True
            )
            took = time.perf_counter() - start
            text = done.stdout.decode(errors="replace")
            # The same answers: every leaf's expiry, every identity served (HTTP 200).
            assert text.count("notAfter=") == count, text[-2000:]
            assert text.count("HTTP/1.1 200") == 2 * count, text[-2000:]
            return took

        contenders = [
            Contender(
                f"truststore-builder check --from-file ({count} endpoints) --concurrency 16",
                "library",
                check(16),
                args.reps,
            ),
            Contender(
                "openssl s_client loop (bench/s_client_loop.sh)",
                "anchor",
                s_client_loop,
                args.anchor_reps,
            ),
            Contender(
                "truststore-builder check --from-file --concurrency 1",
                "reference",
                check(1),
                args.anchor_reps,
            ),
        ]
        alternate(contenders)
    return summary(
        contenders,
        target=5,
        note=(
            f"{count} ports of one nginx (ssl_verify_client on, G1+G2 CAs) on loopback; per "
            "endpoint 3 connections on each side: the chain and the leaf's expiry, then a G1 "
            "and a G2 identity with an HTTP request (check: the probe without a certificate "
            "and one per identity); RSA-2048 server key"
        ),
    )


CASES: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "jks": lambda work, args: case_truststore(work, args, "JKS", "jks"),
    "p12": lambda work, args: case_truststore(work, args, "PKCS12", "p12"),
    "job": case_job,
    "startup": case_startup,
    "batch": case_batch,
    "scale": case_scale,
    "estate": case_estate,
    "endpoints": case_endpoints,
}


# --- the machine and the report -------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """Where the numbers came from."""
    import cryptography  # noqa: PLC0415

    cpu = "unknown"
    with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    java = output(["java", "-version"]).splitlines()[0]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "java": java,
        "openssl": output(["openssl", "version"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(results: dict[str, Any]) -> str:
    """The printed summary: one line per contender, and each case's verdict."""
    lines = [f"{'case':<8} {'contender':<62} {'reps':>4} {'median s':>9} {'ratio':>7}"]
    for name, result in results["cases"].items():
        if name == "scale":
            for run_ in result["runs"]:
                label = f"{run_['certificates']} certs -> {run_['format']}"
                lines.append(
                    f"{name:<8} {label:<62} {run_['reps']:>4} {run_['library_s']:>9.3f} "
                    f"{run_['maxrss_mib']:>5.0f}MiB"
                )
            verdict = f"growth 100k/10k {result['growth_100k_over_10k']}, peak {result['peak_rss_mib']} MiB"
        else:
            for row in result["contenders"]:
                ratio = "" if row["ratio"] is None else f"{row['ratio']}x"
                lines.append(
                    f"{name:<8} {row['name']:<62} {row['reps']:>4} {row['median_s']:>9.3f} "
                    f"{ratio:>7}"
                )
            verdict = f"ratio {result['ratio']}x"
        met = "MET" if result["met"] else "MISSED"
        lines.append(f"{'':<8} -> {verdict}; target {result['target']}: {met}")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The results as the Markdown tables of docs/benchmarks.md."""
    m = results["machine"]
    where = (
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['platform']}; Python {m['python']}, "
        f"cryptography {m['cryptography']}, {m['java']}, {m['openssl']}; {m['date']}; "
        f"load average {m['load_average_at_start'][0]} at the start, "
        f"{results.get('load_average_at_end', ['?'])[0]} at the end."
    )
    lines = [
        where,
        "",
        "| case | contender | runs | median (s) | anchor / library |",
        "|------|-----------|-----:|-----------:|-----------------:|",
    ]
    for name, result in results["cases"].items():
        if name == "scale":
            continue
        for row in result["contenders"]:
            ratio = "" if row["ratio"] is None else f"{row['ratio']}x"
            if name == "startup":
                ratio = f"{row['ratio']}x of cryptography.x509"
            lines.append(
                f"| {name} | {row['name']} | {row['reps']} | {row['median_s']:.3f} | {ratio} |"
            )
        met = "met" if result["met"] else "MISSED"
        lines.append(
            f"| {name} | **ratio {result['ratio']}x, target {result['target']}: {met}** | | | |"
        )
    scale = results["cases"].get("scale")
    if scale:
        lines += [
            "",
            "| certificates | format | build (s) | serialise + read-back (s) | total (s) | peak RSS (MiB) |",
            "|-------------:|--------|----------:|--------------------------:|----------:|---------------:|",
        ]
        lines.extend(
            f"| {r['certificates']:,} | {r['format']} | {r['build_s']:.2f} | "
            f"{r['serialize_s']:.2f} | {r['library_s']:.2f} | {r['maxrss_mib']:.0f} |"
            for r in scale["runs"]
        )
        lines.append("")
        lines.append(
            f"100k over 10k: {scale['growth_100k_over_10k']}; peak RSS {scale['peak_rss_mib']} "
            f"MiB; target {scale['target']}: {'met' if scale['met'] else '**missed**'}."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen cases, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes")
    parser.add_argument(
        "--case", action="append", choices=list(CASES), help="run only these (repeatable)"
    )
    parser.add_argument("--reps", type=int, help="repetitions of fast commands (default 5)")
    parser.add_argument("--anchor-reps", type=int, help="repetitions of slow anchors (default 2)")
    parser.add_argument("--batch", type=int, help="key stores in the batch case (default 1000)")
    parser.add_argument("--estate", type=int, help="stores in the estate case (default 1000)")
    parser.add_argument(
        "--endpoints", type=int, help="loopback endpoints in the endpoints case (default 200)"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results.json", help="the JSON file")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="JSON",
        help="print a results file as Markdown; run nothing",
    )
    args = parser.parse_args(argv)
    # A run stopped with SIGTERM still stops the servers it started (their finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    quick = args.quick
    args.reps = args.reps or (3 if quick else 5)
    args.anchor_reps = args.anchor_reps or (1 if quick else 2)
    args.reps_slow = 1 if quick else 3
    args.startup_reps = 11 if quick else 21
    args.batch = args.batch or (200 if quick else 1000)
    args.estate = args.estate or (100 if quick else 1000)
    args.endpoints = args.endpoints or (50 if quick else 200)
    args.scale = SCALE_SIZES[:2] if quick else SCALE_SIZES
    chosen = args.case or list(CASES)

    results: dict[str, Any] = {"machine": machine(), "quick": quick, "cases": {}}
    print(json.dumps(results["machine"], indent=2))
    CACHE.mkdir(exist_ok=True)
    for name in chosen:
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as work:
            results["cases"][name] = CASES[name](Path(work), args)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(table(results))
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
