"""Reading a recipe file: TOML tables and CSV/TOML batch tables into recipe values, checked."""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, cast

import attrs

from truststore_builder._errors import (
    InputError,
    RecipeError,
)
from truststore_builder._model import (
    CLIENT_PRESETS,
    Environment,
    Generation,
)
from truststore_builder._recipe import Recipe
from truststore_builder._recipe_checks import _check_recipe, _not_taken
from truststore_builder._recipe_parts import (
    _FLAG_FIELDS,
    _OPTION_FIELDS,
    _TARGET_OPTIONS,
    BatchRow,
    PasswordRef,
    RecipeBatch,
    RecipeIdentity,
    RecipePreset,
    RecipeTarget,
    RecipeTrust,
    TargetFormat,
    _fail,
)
from truststore_builder._sources.files import read_input

if TYPE_CHECKING:
    from collections.abc import Iterator


__all__ = ["load_recipe"]


# --- reading a recipe file ------------------------------------------------------------------


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Read and check a TOML recipe (and its batch table); nothing is built or written.

    Args:
        path: The recipe file. Relative paths in it are relative to its directory.

    Returns:
        The recipe.

    Raises:
        RecipeError: The file cannot be read, is not TOML, or has an unknown key, a value of
            the wrong type, an inline password, an unknown format or a missing file; the
            message names the file and the key's path.
    """
    source = os.fspath(path)
    try:
        raw = read_input(path, what="recipe")
    except InputError as exc:
        raise RecipeError(str(exc), path=source) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{source}: not valid TOML: {exc}"
        raise RecipeError(msg, path=source) from None
    except UnicodeDecodeError as exc:
        msg = f"{source}: not valid TOML: not UTF-8 (byte {exc.start})"
        raise RecipeError(msg, path=source) from None
    except ValueError as exc:  # an integer of more digits than Python converts, say
        msg = f"{source}: not valid TOML: {exc}"
        raise RecipeError(msg, path=source) from None
    except RecursionError:
        msg = f"{source}: not valid TOML: nested too deeply"
        raise RecipeError(msg, path=source) from None
    recipe = _parse(_Table(source, "", Path(path).parent, data))
    _check_recipe(recipe)
    return recipe


_TOML_TYPES = {
    str: "a string",
    bool: "true or false",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "a table",
    dt.datetime: "a date-time",
    dt.date: "a date",
    dt.time: "a time",
}


def _kind(value: object) -> str:
    for kind, name in _TOML_TYPES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


@attrs.define
class _Table:
    """A TOML table being read: it knows its key path and refuses keys nobody took."""

    source: str
    prefix: str
    base: Path
    data: Mapping[str, object]
    taken: set[str] = attrs.field(factory=set)

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, message: str) -> NoReturn:
        _fail(self.source, self.key(name), message)

    def _get(self, name: str, kind: type, expected: str, *, required: bool) -> object:
        self.taken.add(name)
        if name not in self.data:
            if required:
                self.fail(name, f"missing; expected {expected}")
            return None
        value = self.data[name]
        # bool is an int in Python; TOML's true is not a number.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(name, f"expected {expected}, not {_kind(value)}")
        return value

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = cast("str | None", self._get(name, str, "a string", required=required))
        if value == "":
            self.fail(name, "is empty")
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self._get(name, bool, "true or false", required=False)
        return default if value is None else bool(value)

    def optional_flag(self, name: str) -> bool | None:
        value = self._get(name, bool, "true or false", required=False)
        return None if value is None else bool(value)

    def texts(self, name: str, *, required: bool = False) -> tuple[str, ...] | None:
        value = self._get(name, list, "a list of strings", required=required)
        if value is None:
            return None
        items = tuple(cast("list[object]", value))
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{name}[{i}]", f"expected a string, not {_kind(item)}")
        return cast("tuple[str, ...]", items)

    def path(self, name: str, *, required: bool = False) -> Path | None:
        value = self.text(name, required=required)
        return None if value is None else self.base / value

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        value = self._get(name, dict, "a table", required=required)
        if value is None:
            return None
        return _Table(self.source, self.key(name), self.base, cast("dict[str, object]", value))

    def tables(self, name: str) -> list[_Table] | None:
        value = self._get(name, list, "an array of tables ([[...]])", required=False)
        if value is None:
            return None
        tables = []
        for i, item in enumerate(cast("list[object]", value)):
            if not isinstance(item, dict):
                self.fail(f"{name}[{i}]", f"expected a table, not {_kind(item)}")
            tables.append(_Table(self.source, self.key(f"{name}[{i}]"), self.base, item))
        return tables

    def password(self, stem: str) -> PasswordRef | None:
        """``<stem>_env`` or ``<stem>_file``; an inline ``<stem>`` is refused, never echoed."""
        if stem in self.data:
            self.taken.add(stem)
            self.fail(
                stem,
                "a password is never written in a recipe (recipes are reviewed and kept in "
                f"version control): name an environment variable with {stem}_env, or a file "
                f"with {stem}_file",
            )
        env = self.text(f"{stem}_env")
        file = self.path(f"{stem}_file")
        if env is not None and file is not None:
            self.fail(f"{stem}_env", f"give {stem}_env or {stem}_file, not both")
        if env is not None:
            return PasswordRef(env=env)
        if file is not None:
            return PasswordRef(file=file)
        return None

    def finish(self) -> None:
        """Refuse the keys no reader asked for, suggesting the one probably meant."""
        for name in self.data:
            if name not in self.taken:
                known = sorted(self.taken)
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
                self.fail(name, f"unknown key; {hint}")


def _parse(top: _Table) -> Recipe:
    trust_table = top.table("trust", required=True)
    assert trust_table is not None  # required=True
    trust = _parse_trust(trust_table)
    identity_table = top.table("identity")
    identity = _parse_identity(identity_table) if identity_table else None
    targets = tuple(_parse_target(table) for table in top.tables("targets") or [])
    batch_table = top.table("batch")
    batch = _parse_batch(batch_table) if batch_table else None
    presets = tuple(_parse_preset(table) for table in top.tables("presets") or [])
    top.finish()
    return Recipe(
        trust=trust,
        targets=targets,
        identity=identity,
        batch=batch,
        source=top.source,
        presets=presets,
    )


def _parse_preset(table: _Table) -> RecipePreset:
    name = table.text("name", required=True)
    assert name is not None  # required=True
    if name not in CLIENT_PRESETS:
        table.fail(
            "name", f"unknown client preset {name!r}; use one of {', '.join(CLIENT_PRESETS)}"
        )
    directory = table.path("directory", required=True)
    assert directory is not None  # required=True
    preset = RecipePreset(
        name=name,
        directory=directory,
        password=table.password("password"),
        profile=table.text("profile"),
    )
    table.finish()
    return preset


def _parse_trust(table: _Table) -> RecipeTrust:
    environments = table.texts("environments", required=True) or ()
    known_environments = [e.value for e in Environment]
    for i, value in enumerate(environments):
        if value not in known_environments:
            table.fail(
                f"environments[{i}]",
                f"unknown environment {value!r}; use {', '.join(known_environments)}",
            )
    if not environments:
        table.fail(
            "environments", f"name at least one environment: {', '.join(known_environments)}"
        )
    generations = table.texts("generations")
    for i, value in enumerate(generations or ()):
        if value not in {g.value for g in Generation}:
            table.fail(f"generations[{i}]", f"unknown generation {value!r}; use g1 or g2")
    if generations is not None and not generations:
        table.fail("generations", "name at least one generation: g1, g2")
    add = table.texts("add") or ()
    trust = RecipeTrust(
        environments=environments,
        generations=generations,
        add=[table.base / value for value in add],
        add_password=table.password("add_password"),
        certifi=table.flag("certifi", default=False),
        drop_expired=table.flag("drop_expired", default=False),
        allow_leaf=table.flag("allow_leaf", default=False),
        allow_test_pki_impostors=table.flag("allow_test_pki_impostors", default=False),
        catalogue=table.path("catalogue"),
    )
    table.finish()
    return trust


def _parse_identity(table: _Table) -> RecipeIdentity:
    from_store = table.path("from_store")
    cert = table.path("cert", required=from_store is None)
    key = table.path("key", required=from_store is None)
    store_password = table.password("from_store_password")
    if from_store is not None:
        if key is not None:
            table.fail("key", "give key or from_store, not both: from_store keeps the store's key")
        if store_password is None:
            table.fail(
                "from_store_password_env",
                "missing; name the old store's password with from_store_password_env or "
                "from_store_password_file",
            )
    elif store_password is not None:
        table.fail("from_store_password_env", "only an identity with from_store takes it")
    identity = RecipeIdentity(
        cert=cert,
        key=key,
        key_password=table.password("key_password"),
        chain=table.path("chain"),
        alias=table.text("alias"),
        allow_g1=table.flag("allow_g1", default=False),
        from_store=from_store,
        from_store_password=store_password,
    )
    table.finish()
    return identity


def _parse_target(table: _Table) -> RecipeTarget:
    name = table.text("format", required=True)
    try:
        target_format = TargetFormat(cast("str", name))
    except ValueError:
        known = ", ".join(f.value for f in TargetFormat)
        table.fail("format", f"unknown format {name!r}; use one of {known}")
    path = table.text("path", required=True)
    assert path is not None  # required=True
    taken = _TARGET_OPTIONS.get(target_format, frozenset())
    for option in _OPTION_FIELDS:
        if option in table.data and option not in taken:
            table.taken.add(option)
            table.fail(option, _not_taken(target_format, option))
    options: dict[str, object] = {
        option: table.optional_flag(option) if option in _FLAG_FIELDS else table.text(option)
        for option in _OPTION_FIELDS
    }
    target = RecipeTarget(
        format=target_format,
        path=table.base / path,
        password=table.password("password"),
        key_password=table.password("key_password"),
        **options,  # type: ignore[arg-type]
    )
    # Options a format does not take are refused in _check_recipe, which also checks
    # recipes made in Python.
    table.finish()
    return target


_ROW_REQUIRED = ("name", "cert", "key")
_ROW_OPTIONAL = ("alias", "chain", "key_password_env", "key_password_file")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _parse_batch(table: _Table) -> RecipeBatch:
    csv_path = table.path("table", required=True)
    assert csv_path is not None  # required=True
    targets = tuple(_parse_target(t) for t in table.tables("targets") or [])
    if not targets:
        table.fail("targets", "missing; a batch needs at least one [[batch.targets]] table")
    allow_g1 = table.flag("allow_g1", default=False)
    table.finish()
    rows = _read_table(table.source, table.key("table"), csv_path)
    return RecipeBatch(rows=rows, targets=targets, table=csv_path, allow_g1=allow_g1)


def _table_text(source: str, key_path: str, path: Path) -> str:
    """A batch table's text (UTF-8, a byte order mark allowed), or a RecipeError naming it."""
    if not path.exists():
        _fail(source, key_path, f"no such file: {path}")
    try:
        return read_input(path, what="batch table").decode("utf-8-sig")
    except InputError as exc:
        _fail(source, key_path, str(exc))
    except UnicodeDecodeError:
        _fail(source, key_path, f"cannot read {path} (not UTF-8 text)")


def _read_table(source: str, key_path: str, path: Path) -> tuple[BatchRow, ...]:
    """The rows of a batch CSV; its relative paths are relative to its own directory."""
    reader = csv.DictReader(_table_text(source, key_path, path).splitlines())
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as exc:
        _fail(
            source, key_path, f"{path.name} line {reader.line_num + 1}: not a readable CSV ({exc})"
        )
    missing = [c for c in _ROW_REQUIRED if c not in columns]
    if missing:
        _fail(source, key_path, f"{path.name} has no column {', '.join(missing)} (the header row)")
    unknown = [c for c in columns if c not in _ROW_REQUIRED + _ROW_OPTIONAL]
    if unknown:
        known = ", ".join(_ROW_REQUIRED + _ROW_OPTIONAL)
        _fail(source, key_path, f"{path.name}: unknown column {', '.join(unknown)}; known: {known}")
    reader.fieldnames = columns
    rows: list[BatchRow] = []
    seen: dict[str, int] = {}
    for record in _csv_records(reader, source, key_path, path):
        line = reader.line_num
        if None in record:
            _fail(source, key_path, f"{path.name} line {line}: more cells than columns")
        cells = {k: (v or "").strip() for k, v in record.items()}
        row = _table_row(source, key_path, path, line, cells)
        if row.name.casefold() in seen:
            _fail(
                source,
                f"{key_path}[{row.name}].name",
                f"{path.name} line {line}: the name is already used on line "
                f"{seen[row.name.casefold()]}",
            )
        seen[row.name.casefold()] = line
        rows.append(row)
    if not rows:
        _fail(source, key_path, f"{path.name} has a header but no rows")
    return tuple(rows)


def _csv_records(
    reader: csv.DictReader[str], source: str, key_path: str, path: Path
) -> Iterator[dict[str, str]]:
    """The table's records; a CSV error (a field over the size limit, say) is a RecipeError."""
    try:
        yield from reader
    except csv.Error as exc:
        _fail(
            source, key_path, f"{path.name} line {reader.line_num + 1}: not a readable CSV ({exc})"
        )


def _table_row(
    source: str, key_path: str, path: Path, line: int, cells: Mapping[str, str]
) -> BatchRow:
    name = cells["name"]
    where = f"{key_path}[{name}]"
    if not _NAME.fullmatch(name):
        _fail(
            source,
            f"{where}.name" if name else key_path,
            f"{path.name} line {line}: a row name is letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit (it becomes part of a file name), not {name!r}",
        )
    for column in ("cert", "key"):
        if not cells[column]:
            _fail(source, f"{where}.{column}", f"{path.name} line {line}: the cell is empty")
    env, file = cells.get("key_password_env"), cells.get("key_password_file")
    if env and file:
        _fail(
            source,
            f"{where}.key_password_env",
            f"{path.name} line {line}: give key_password_env or key_password_file, not both",
        )
    base = path.parent
    key_password = PasswordRef(env=env) if env else PasswordRef(file=base / file) if file else None
    chain = cells.get("chain")
    return BatchRow(
        name=name,
        cert=base / cells["cert"],
        key=base / cells["key"],
        key_password=key_password,
        chain=base / chain if chain else None,
        alias=cells.get("alias") or None,
        line=line,
    )
