"""Fuzz the recipe loader: ``python fuzz/fuzz_recipe.py SEEDS/recipe -max_total_time=60``."""

from __future__ import annotations

import harness

if __name__ == "__main__":
    harness.main("recipe")
