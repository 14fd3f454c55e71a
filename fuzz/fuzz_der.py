"""Fuzz the der loader: ``python fuzz/fuzz_der.py SEEDS/der -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("der")
