"""Run one fuzz target under atheris: ``python fuzz/fuzz_<loader>.py [libFuzzer options]``."""

from __future__ import annotations

import sys

import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

with atheris.instrument_imports():
    import targets


def main(name: str) -> None:
    """Fuzz the loader ``name`` of :data:`targets.TARGETS` with libFuzzer's arguments."""
    atheris.Setup(sys.argv, lambda data: targets.run_one(name, data))
    atheris.Fuzz()
