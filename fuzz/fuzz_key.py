"""Fuzz the key loader: ``python fuzz/fuzz_key.py SEEDS/key -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("key")
