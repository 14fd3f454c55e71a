"""Fuzz the pem loader: ``python fuzz/fuzz_pem.py SEEDS/pem -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("pem")
