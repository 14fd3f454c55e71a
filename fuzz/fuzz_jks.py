"""Fuzz the jks loader: ``python fuzz/fuzz_jks.py SEEDS/jks -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("jks")
