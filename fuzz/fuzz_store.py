"""Fuzz the store loader: ``python fuzz/fuzz_store.py SEEDS/store -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("store")
