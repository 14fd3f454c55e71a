"""Fuzz the pkcs12 loader: ``python fuzz/fuzz_pkcs12.py SEEDS/pkcs12 -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("pkcs12")
