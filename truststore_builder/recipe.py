"""Recipes: one reviewable TOML file naming every store a deployment needs, built all or none.

:func:`load_recipe` reads a recipe file into a :class:`Recipe`; :meth:`Recipe.build` checks
every input, serialises and reads back every target, then writes them all or none, and returns
a :class:`BuildResult`. The file's tables are described in the recipes guide; passwords are
named (:class:`PasswordRef`), never written. This module imports the TOML parser, which is why
it is not imported by ``import truststore_builder``.
"""

from __future__ import annotations

from truststore_builder._recipe import (
    BatchRow,
    BuildResult,
    PasswordRef,
    Recipe,
    RecipeBatch,
    RecipeIdentity,
    RecipePreset,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
    WrittenFile,
)
from truststore_builder._recipe_toml import load_recipe

__all__ = [
    "BatchRow",
    "BuildResult",
    "PasswordRef",
    "Recipe",
    "RecipeBatch",
    "RecipeIdentity",
    "RecipePreset",
    "RecipeTarget",
    "RecipeTrust",
    "TargetFormat",
    "WrittenFile",
    "load_recipe",
]
