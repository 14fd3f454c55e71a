"""Fuzz the pkcs7 loader: ``python fuzz/fuzz_pkcs7.py SEEDS/pkcs7 -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("pkcs7")
