"""Write helpers for the sync: bulk upserts, child-row replacement, soft deletes, runs, cursors.

None of them commits: the caller's `session_scope` is the transaction. They are built for 100k+
rows: dialect-specific `INSERT ... ON CONFLICT`, fed by executemany in chunks on SQLite (or,
for a caller preparing its next rows on another thread, one statement a chunk reading the rows
from one JSON parameter) and by COPY into a temporary table on PostgreSQL. Imports only
`store.schema` and `store.reads`.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Dialect,
    LargeBinary,
    Numeric,
    Table,
    Text,
    TypeDecorator,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.types import JSON

from seatwise.store.reads import raw_rows
from seatwise.store.schema import (
    RUN_STATUSES,
    TASKS,
    Base,
    SyncCursor,
    TaskRun,
    Tenant,
    UsageSnapshot,
    User,
)

__all__ = [
    "CHUNK_ROWS",
    "COPY_MIN_ROWS",
    "Changes",
    "bump_data_version",
    "finish_run",
    "get_cursor",
    "mark_missing_users_deleted",
    "mark_users_deleted",
    "prune_snapshots",
    "replace_children",
    "replace_rows",
    "replace_tuples",
    "set_cursor",
    "start_run",
    "update_rows",
    "differing_tuples",
    "json_rows",
    "upsert_changed_tuples",
    "upsert_rows",
    "upsert_tuples",
]

# Rows per executemany batch: big enough to amortise round trips, small enough for memory.
CHUNK_ROWS = 1000

# Rows per statement of a one-statement upsert (`_json_upsert`): a roster page's licence
# assignments (about 1,400) in one, since each statement makes the writing thread wait for
# Python's lock again; a few MB of JSON at most.
JSON_CHUNK_ROWS = 5000

# On PostgreSQL, fewer rows than this go by executemany: a temporary table would cost more.
COPY_MIN_ROWS = 100

# Columns that record when or by whom a row was written, not what it says: a change in them
# alone does not make an upsert rewrite a row (so an unchanged tenant stays unchanged).
BOOKKEEPING_COLUMNS = frozenset({"updated_at", "updated_by", "fetched_at"})

TableLike = Table | type[Base]
_Insert = TypeVar("_Insert", sqlite.Insert, postgresql.Insert)
Row = Mapping[str, Any]
Getter = Callable[[Any], Any]


class Changes(NamedTuple):
    """What a replacement did: rows inserted, rows updated in place, rows deleted."""

    inserted: int
    updated: int
    deleted: int

    @property
    def total(self) -> int:
        """Rows touched in any way; 0 means the table already said exactly this."""
        return self.inserted + self.updated + self.deleted


def _table(table: TableLike) -> Table:
    if isinstance(table, Table):
        return table
    found = table.__table__
    assert isinstance(found, Table)
    return found


def _chunks(rows: Sequence[Any], size: int = CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _rowcount(result: Result[Any]) -> int:
    # DML always returns a CursorResult; the Session's signature says only Result.
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def _binders(table: Table, columns: Sequence[str], dialect: Dialect) -> list[Any]:
    """Each column's bind processor for `dialect` (None when values pass through as they are)."""
    binders: list[Any] = []
    for column in columns:
        kind = table.c[column].type
        if dialect.name == "postgresql" and isinstance(kind, JSON):
            binders.append(_dump_json)  # COPY takes JSON as text
            continue
        bind: Any = kind.dialect_impl(dialect).bind_processor(dialect)
        if bind is not None and dialect.name == "sqlite":
            if isinstance(kind, JSON):
                bind = _memo_lists(bind)
            elif isinstance(kind, Date | Boolean):
                bind = _memo(bind)
        binders.append(bind)
    return binders


def _memo(bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`bind` remembering its answers: a sync binds a few hundred distinct dates a million times."""
    cache: dict[Any, Any] = {}

    def process(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = bind(value)
            return result

    return process


def _memo_lists(bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON binder that remembers the text of lists of strings (disabled plans, MFA methods)."""
    cache: dict[tuple[Any, ...], Any] = {}

    def process(value: Any) -> Any:
        if type(value) is not list:
            return bind(value)
        key = tuple(value)
        try:
            return cache[key]
        except KeyError:
            result = cache[key] = bind(value)
            return result
        except TypeError:  # unhashable items
            return bind(value)

    return process


def _dump_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _bound_rows(
    rows: Sequence[Any],
    getters: Sequence[Getter],
    binders: Sequence[Any],
    size: int = CHUNK_ROWS,
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows as tuples of driver-ready values (one per getter), `size` rows at a time."""
    for chunk in _chunks(rows, size):
        # Column by column with map(): several times faster than a generator per row.
        values = [
            list(map(get, chunk)) if bind is None else list(map(bind, map(get, chunk)))
            for get, bind in zip(getters, binders, strict=True)
        ]
        yield list(zip(*values, strict=True))


def _executemany(
    session: Session,
    stmt: UpdateBase,
    params: Mapping[str, tuple[Getter, Any]],
    rows: Sequence[Any],
    compiled: tuple[str, list[str]] | None = None,
) -> int:
    """Execute `stmt` once per row (SQLite), in chunks; return the rows it changed.

    `params` gives each bound parameter of `stmt` its (getter from a row, bind processor). The
    statement is compiled once (or given `compiled`, from `_positional`) and values go through
    the bind processors in a tight loop: about twice as fast on 100k rows as
    `session.execute(stmt, rows)`, which runs SQLAlchemy's general per-row parameter machinery.
    """
    connection = session.connection()
    if compiled is None:
        compiled = _positional(stmt, connection.dialect, tuple(params))
    if compiled is None:
        # Parameters of SQLAlchemy's own (Python-side column defaults): its general path.
        by_name = {name: get for name, (get, _) in params.items()}
        changed = 0
        for chunk in _chunks(rows):
            batch = [{n: get(row) for n, get in by_name.items()} for row in chunk]
            changed += _rowcount(session.execute(stmt, batch))
        return changed
    sql, order = compiled
    getters = [params[name][0] for name in order]
    binders = [params[name][1] for name in order]
    return sum(
        _rowcount(connection.exec_driver_sql(sql, chunk))
        for chunk in _bound_rows(rows, getters, binders)
    )


def _positional(
    stmt: UpdateBase, dialect: Dialect, names: tuple[str, ...]
) -> tuple[str, list[str]] | None:
    """`stmt` compiled with parameters `names`: its SQL and the parameters in positional order,
    or None when the dialect is not positional or the statement binds other parameters."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(names))
    order = list(compiled.positiontup or [])
    if not dialect.positional or sorted(order) != sorted(names):
        return None
    return str(compiled), order


@functools.lru_cache(maxsize=64)
def _sqlite_upsert(
    dialect: Dialect,
    target: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    update_columns: tuple[str, ...],
    compare_columns: tuple[str, ...],
    one_statement: bool,
) -> tuple[UpdateBase, tuple[str, list[str]] | None, str | None]:
    """An SQLite upsert of `columns`: the statement, its `_positional` SQL, and with
    `one_statement` the SQL of the same upsert from one JSON parameter (`_json_insert`), or
    None where the columns do not allow it. Built once for each shape: a sync writes the same
    few shapes page after page."""
    stmt = _on_conflict(sqlite.insert(target), target, key, update_columns, compare_columns)
    compiled = _positional(stmt, dialect, columns)
    json_sql = None
    if one_statement and _json_safe(target, columns):
        batch = _on_conflict(
            _json_insert(target, columns), target, key, update_columns, compare_columns
        )
        compiled_batch = batch.compile(dialect=dialect)
        # Python-side column defaults would add parameters of their own: then executemany.
        if list(compiled_batch.positiontup or []) == ["rows"]:
            json_sql = str(compiled_batch)
    return stmt, compiled, json_sql


# `->>` (JSON value as SQL value) came with SQLite 3.38.
_SQLITE_JSON_ARROW = sqlite3.sqlite_version_info >= (3, 38, 0)


def _json_safe(table: Table, columns: Sequence[str]) -> bool:
    """Whether `columns` bind to values that travel through JSON unchanged (text, integers,
    NULL), so `_json_upsert` stores exactly what executemany would. Not floats: SQLite's
    reading of a decimal may differ from Python's in the last bit."""
    if not _SQLITE_JSON_ARROW:
        return False
    for name in columns:
        kind: Any = table.c[name].type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl
        if isinstance(kind, Numeric | LargeBinary):
            return False
    return True


def _json_insert(table: Table, columns: Sequence[str]) -> sqlite.Insert:
    """`INSERT INTO table (columns) SELECT ...` of the rows of one JSON array of value arrays
    (`json_each` of the bound parameter `rows`)."""
    values: list[ColumnElement[Any]] = [
        literal_column(f"value ->> {i}") for i in range(len(columns))
    ]
    source = (
        select(*values)
        .select_from(func.json_each(bindparam("rows")))
        .where(true())  # SQLite needs a WHERE before an upsert's ON CONFLICT
    )
    return sqlite.insert(table).from_select(list(columns), source)


def _json_upsert(
    session: Session,
    sql: str,
    stmt: UpdateBase,
    columns: Sequence[str],
    params: Mapping[str, tuple[Getter, Any]],
    rows: Sequence[Any],
) -> int:
    """`sql` (`_json_insert` with its ON CONFLICT) once a chunk of `rows`, the chunk's bound
    values as one JSON array; a chunk that JSON cannot carry goes by executemany of `stmt`.
    Returns the rows written."""
    connection = session.connection()
    getters = [params[c][0] for c in columns]
    binders = [params[c][1] for c in columns]
    written = 0
    for chunk in _chunks(rows, JSON_CHUNK_ROWS):
        (bound,) = _bound_rows(chunk, getters, binders, JSON_CHUNK_ROWS)
        text = _json_text(bound)
        if text is None:  # the rows as given, bound there
            written += _executemany(session, stmt, params, chunk)
            continue
        written += _rowcount(connection.exec_driver_sql(sql, (text,)))
    return written


def _json_text(bound: list[tuple[Any, ...]]) -> str | None:
    """Bound rows as one JSON array, or None when a value would not come back from SQLite's
    JSON as it is (not text, an integer or NULL: bytes, text that is not UTF-8, an integer
    past 53 bits, which SQLite's JSON may read as a real number)."""
    try:
        return orjson.dumps(bound, option=orjson.OPT_STRICT_INTEGER).decode()
    except TypeError:  # orjson.JSONEncodeError
        return None


def json_rows(
    dialect: Dialect, table: TableLike, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> str | None:
    """The rows' values bound for SQLite as the one JSON array a one-statement upsert sends,
    made ahead (the roster makes it on the thread that prepares the next page, so the writing
    thread only executes); None where that upsert would not use it: another database, columns
    JSON cannot carry, more rows than one statement takes, a value JSON cannot carry. Give it
    to `upsert_tuples` or `replace_tuples` (`as_json`) with the same rows, in key order."""
    target = _table(table)
    if dialect.name != "sqlite" or not rows or len(rows) > JSON_CHUNK_ROWS:
        return None
    if not _json_safe(target, columns):
        return None
    binders = _binders(target, columns, dialect)
    getters = [itemgetter(i) for i in range(len(columns))]
    try:
        (bound,) = _bound_rows(rows, getters, binders, JSON_CHUNK_ROWS)
    except (TypeError, IndexError, ValueError):  # left to the upsert, which says what is wrong
        return None
    return _json_text(bound)


_staging_names = itertools.count(1)


def _staged(
    session: Session,
    table: Table,
    columns: list[str],
    rows: Sequence[Any],
    getters: Sequence[Getter],
) -> TableClause:
    """COPY `rows` into a new temporary table (PostgreSQL) and return it, for set-based DML.

    PostgreSQL runs an executemany as one statement per row, even pipelined; COPY into a
    temporary table and one `INSERT ... SELECT` is 3-5x faster. The table goes at commit.
    """
    import psycopg  # only PostgreSQL needs the driver itself

    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    name = f"seatwise_incoming_{next(_staging_names)}"
    listed = ", ".join(quote(c) for c in columns)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS "
        f"SELECT {listed} FROM {quote(table.name)} WITH NO DATA"
    )
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    binders = _binders(table, columns, dialect)
    with driver.cursor() as cursor, cursor.copy(f"COPY {name} ({listed}) FROM STDIN") as copy:
        for chunk in _bound_rows(rows, getters, binders):
            for values in chunk:
                copy.write_row(values)
    return sql_table(name, *(sql_column(c, table.c[c].type) for c in columns))


def _on_conflict(
    stmt: _Insert,
    table: Table,
    key: Sequence[str],
    update_columns: Sequence[str],
    compare_columns: Sequence[str],
) -> _Insert:
    targets = [table.c[k] for k in key]
    if not update_columns:
        return stmt.on_conflict_do_nothing(index_elements=targets)
    excluded = stmt.excluded
    changed = [_differs(table, c, excluded[c]) for c in compare_columns]
    return stmt.on_conflict_do_update(
        index_elements=targets,
        set_={c: excluded[c] for c in update_columns},
        where=or_(*changed) if changed else None,
    )


def _differs(table: Table, column: str, incoming: ColumnElement[Any]) -> ColumnElement[bool]:
    current: ColumnElement[Any] = table.c[column]
    if isinstance(current.type, JSON):
        # PostgreSQL's json type has no equality operator; compare the serialised text.
        return cast(current, Text).is_distinct_from(cast(incoming, Text))
    return current.is_distinct_from(incoming)


def _columns_of(rows: Sequence[Row], table: Table, required: Iterable[str]) -> list[str]:
    columns = list(rows[0])
    _check_columns(columns, table, required)
    first = rows[0].keys()
    if any(row.keys() != first for row in rows):
        raise ValueError(f"rows for {table.name} must all have the same columns")
    return columns


def _check_columns(columns: Sequence[str], table: Table, required: Iterable[str]) -> None:
    names = set(columns)
    unknown = names - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(sorted(unknown))}")
    missing = set(required) - names
    if missing:
        raise ValueError(f"rows for {table.name} lack key column(s) {', '.join(sorted(missing))}")


def _in_key_order(rows: Sequence[Any], key_of: Getter) -> Sequence[Any]:
    """The rows sorted by key, keeping only the last of rows with the same key.

    One statement may not touch a row twice; and B-tree indexes fill several times faster in
    key order than in the random order of GUIDs (100k+ rows no longer fit SQLite's cache).
    """
    keys = list(map(key_of, rows))
    try:
        if all(map(operator.lt, keys, itertools.islice(keys, 1, None))):
            return rows  # already in order, no key twice (what the roster gives)
        order = sorted(range(len(rows)), key=keys.__getitem__)  # stable: duplicates keep order
    except TypeError:  # keys that do not sort: dedupe only
        return list(dict(zip(keys, rows, strict=True)).values())
    last = len(order) - 1
    return [rows[i] for n, i in enumerate(order) if n == last or keys[i] != keys[order[n + 1]]]


def upsert_rows(
    session: Session,
    table: TableLike,
    rows: Sequence[Row],
    key: tuple[str, ...],
    update_columns: Sequence[str] | None = None,
    compare_columns: Sequence[str] | None = None,
) -> int:
    """Insert `rows`, or update the existing row with the same `key`; return rows written.

    Every row must have the same columns; of rows with the same key the last wins.
    `update_columns` (default: every non-key column given) are overwritten on conflict, but
    only when one of `compare_columns` differs (default: the update columns except bookkeeping
    ones like `updated_at`), so upserting identical data writes nothing and returns 0. An
    empty `update_columns` means insert-or-ignore. Rows are written in key order. SQLite:
    executemany in chunks of `CHUNK_ROWS`; PostgreSQL: COPY into a temporary table, then one
    `INSERT ... SELECT`.
    """
    if not rows:
        return 0
    target = _table(table)
    columns = _columns_of(rows, target, key)
    getters = {c: itemgetter(c) for c in columns}
    key_of = itemgetter(*key)
    return _upsert(
        session, target, columns, getters, key_of, rows, key, update_columns, compare_columns
    )


def upsert_tuples(
    session: Session,
    table: TableLike,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: tuple[str, ...],
    update_columns: Sequence[str] | None = None,
    compare_columns: Sequence[str] | None = None,
    *,
    one_statement: bool = False,
    as_json: str | None = None,
) -> int:
    """`upsert_rows` for rows given as tuples of values in `columns` order.

    A tuple takes a third of the memory of the same row as a dict, which counts for the
    hundreds of thousands of activity rows of a large tenant. With `one_statement`, SQLite
    gets each chunk as one JSON parameter of one statement (`_json_upsert`): the driver then
    holds Python's GIL once a chunk instead of once a row, so another thread (the roster's,
    preparing the next page) runs while SQLite writes. It costs SQLite more work, so it is for
    callers that have such a thread; `as_json` is the rows' `json_rows`, used when the rows
    are in key order without a key twice.
    """
    if not rows:
        return 0
    target = _table(table)
    _check_columns(columns, target, key)
    width = len(columns)
    if set(map(len, rows)) != {width}:
        raise ValueError(f"rows for {target.name} must all have {width} values")
    getters = {c: itemgetter(i) for i, c in enumerate(columns)}
    key_of = itemgetter(*(list(columns).index(k) for k in key))
    return _upsert(
        session,
        target,
        list(columns),
        getters,
        key_of,
        rows,
        key,
        update_columns,
        compare_columns,
        one_statement=one_statement,
        as_json=as_json,
    )


def upsert_changed_tuples(
    session: Session,
    table: TableLike,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: tuple[str, ...],
    scope: Sequence[ColumnElement[bool]],
) -> int:
    """`upsert_tuples` of only the rows that differ from the stored rows `scope` selects
    (`differing_tuples`); returns rows written."""
    changed = differing_tuples(session, table, columns, rows, key, scope)
    return upsert_tuples(session, table, columns, changed, key)


def differing_tuples(
    session: Session,
    table: TableLike,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key: tuple[str, ...],
    scope: Sequence[ColumnElement[bool]],
    stored_only: bool = False,
) -> list[Sequence[Any]]:
    """The rows (tuples in `columns` order) that differ from the stored rows `scope` selects
    (a tenant's slice of the table holding every stored row of these keys), compared as the
    driver stores them: for a slice that changes little, far cheaper than letting the
    database compare every row. Rows with no stored row differ, unless `stored_only`."""
    if not rows:
        return []
    target = _table(table)
    _check_columns(columns, target, key)
    query = select(*(target.c[c] for c in columns)).where(*scope)
    raw = raw_rows(session.connection(), query)  # as stored, no result processing
    if not raw:
        return [] if stored_only else list(rows)
    key_of = itemgetter(*(list(columns).index(k) for k in key))
    stored = {key_of(row): tuple(row) for row in raw}
    del raw
    dialect = session.get_bind().dialect
    binders = _binders(target, columns, dialect)
    if dialect.name == "postgresql":  # the driver gives JSON decoded: compare it so
        binders = [
            None if isinstance(target.c[c].type, JSON) else bind
            for c, bind in zip(columns, binders, strict=True)
        ]
    getters = [itemgetter(i) for i in range(len(columns))]
    changed: list[Sequence[Any]] = []
    position = 0
    for chunk in _bound_rows(rows, getters, binders):
        for i, values in enumerate(chunk):
            old = stored.get(key_of(values))
            if old != values and (old is not None or not stored_only):
                changed.append(rows[position + i])
        position += len(chunk)
    return changed


def _upsert(
    session: Session,
    target: Table,
    columns: list[str],
    getters: Mapping[str, Getter],
    key_of: Getter,
    rows: Sequence[Any],
    key: tuple[str, ...],
    update_columns: Sequence[str] | None,
    compare_columns: Sequence[str] | None,
    *,
    one_statement: bool = False,
    as_json: str | None = None,
) -> int:
    if update_columns is None:
        update_columns = [c for c in columns if c not in key]
    if compare_columns is None:
        compare_columns = [c for c in update_columns if c not in BOOKKEEPING_COLUMNS]
    ordered = _in_key_order(rows, key_of)
    presorted, rows = ordered is rows, ordered
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(rows) < COPY_MIN_ROWS:
        few = postgresql.insert(target).execution_options(preserve_rowcount=True)
        few = _on_conflict(few, target, key, update_columns, compare_columns)
        params = [{c: getters[c](row) for c in columns} for row in rows]
        return _rowcount(session.execute(few, params))
    if dialect.name == "postgresql":
        staged = _staged(session, target, columns, rows, [getters[c] for c in columns])
        source = select(*(staged.c[c] for c in columns))
        pg_stmt = postgresql.insert(target).from_select(columns, source)
        pg_stmt = _on_conflict(pg_stmt, target, key, update_columns, compare_columns)
        # SQLAlchemy drops an INSERT's rowcount unless asked to keep it.
        return _rowcount(session.execute(pg_stmt.execution_options(preserve_rowcount=True)))
    if dialect.name == "sqlite":
        stmt, compiled, json_sql = _sqlite_upsert(
            dialect,
            target,
            tuple(columns),
            tuple(key),
            tuple(update_columns),
            tuple(compare_columns),
            one_statement,
        )
        binders = _binders(target, columns, dialect)
        by_column = {c: (getters[c], bind) for c, bind in zip(columns, binders, strict=True)}
        if json_sql is not None and as_json is not None and presorted:
            return _rowcount(session.connection().exec_driver_sql(json_sql, (as_json,)))
        if json_sql is not None:
            return _json_upsert(session, json_sql, stmt, columns, by_column, rows)
        return _executemany(session, stmt, by_column, rows, compiled)
    raise ValueError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect.name}")


def update_rows(
    session: Session,
    table: TableLike,
    tenant_pk: int,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> int:
    """Set `columns` of existing rows: each row is (`key` value, then `columns` values), for
    the tenant's row with that key. Rows are written in key order; returns rows updated.

    No comparison: the caller sends only rows that changed.
    """
    if not rows:
        return 0
    target = _table(table)
    _check_columns([key, *columns], target, ())
    rows = sorted(rows, key=itemgetter(0))
    getters = {c: itemgetter(i) for i, c in enumerate([key, *columns])}
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        listed = [key, *columns]
        staged = _staged(session, target, listed, rows, [getters[c] for c in listed])
        stmt = (
            sql_update(target)
            .where(target.c.tenant_pk == tenant_pk, target.c[key] == staged.c[key])
            .values({c: staged.c[c] for c in columns})
        )
        return _rowcount(session.execute(stmt))
    stmt = (
        sql_update(target)
        .where(target.c.tenant_pk == bindparam("k_tenant"), target.c[key] == bindparam("k_key"))
        .values({c: bindparam(f"v_{c}") for c in columns})
    )
    if dialect.name != "sqlite":
        params = [
            {
                "k_tenant": tenant_pk,
                "k_key": row[0],
                **{f"v_{c}": row[i + 1] for i, c in enumerate(columns)},
            }
            for row in rows
        ]
        return _rowcount(session.execute(stmt, params))
    binders = dict(zip([key, *columns], _binders(target, [key, *columns], dialect), strict=True))
    by_param: dict[str, tuple[Getter, Any]] = {
        "k_tenant": (lambda _: tenant_pk, None),
        "k_key": (getters[key], binders[key]),
    }
    by_param.update({f"v_{c}": (getters[c], binders[c]) for c in columns})
    return _executemany(session, stmt, by_param, rows)


def _delete_keys(
    session: Session, table: Table, key: list[str], keys: list[tuple[Any, ...]]
) -> None:
    """Delete the rows with these primary keys."""
    if not keys:
        return
    rows = [dict(zip(key, values, strict=True)) for values in keys]
    if session.get_bind().dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        getters = [itemgetter(k) for k in key]
        staged = _staged(session, table, key, rows, getters)
        session.execute(delete(table).where(*(table.c[k] == staged.c[k] for k in key)))
        return
    stmt = delete(table).where(*(table.c[k] == bindparam(f"k_{k}") for k in key))
    for chunk in _chunks(rows):
        session.execute(stmt, [{f"k_{k}": row[k] for k in key} for row in chunk])


def _existing(
    session: Session,
    table: Table,
    tenant_pk: int,
    columns: Sequence[str],
    users: set[str] | None,
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The tenant's stored rows (of `users` only, when given) as value tuples in `columns`
    order, keyed by primary key."""
    key = [list(columns).index(c.name) for c in table.primary_key.columns]
    query = select(*(table.c[c] for c in columns)).where(table.c.tenant_pk == tenant_pk)
    if users is not None and len(users) <= CHUNK_ROWS:
        query = query.where(table.c.user_id.in_(_id_list(session, users)))
    rows = [tuple(row) for row in session.execute(query).all()]
    if users is not None:
        user = list(columns).index("user_id")
        rows = [row for row in rows if row[user] in users]
    return {tuple(row[i] for i in key): row for row in rows}


def _id_list(session: Session, ids: Collection[str]) -> Any:
    """`ids` for an `IN`: on SQLite one JSON parameter read by `json_each` (a thousand bound
    parameters cost SQLAlchemy milliseconds to expand on every call; JSON is built into SQLite
    from 3.38), elsewhere the list."""
    if session.get_bind().dialect.name != "sqlite" or not _SQLITE_JSON_ARROW:
        return list(ids)
    listed = func.json_each(orjson.dumps(sorted(ids)).decode()).table_valued("value")
    return select(listed.c.value)


def replace_rows(
    session: Session,
    table: TableLike,
    tenant_pk: int,
    rows: Sequence[Row],
    user_ids: Iterable[str] | None = None,
    touched: list[tuple[Any, ...]] | None = None,
) -> Changes:
    """Make a tenant's rows of `table` exactly `rows` (only those of `user_ids`, when given).

    Rows are diffed by primary key against what is stored: new ones are inserted, changed ones
    updated, absent ones deleted, identical ones left alone, so an unchanged tenant changes
    nothing. Every row must carry the whole primary key (and `tenant_pk` must equal the one
    given); columns not given are neither compared nor written. The primary keys of the rows
    written and deleted are added to `touched` when given.
    """
    target = _table(table)
    key = [c.name for c in target.primary_key.columns]
    columns = _columns_of(rows, target, key) if rows else key
    values_of = _values(columns)
    return replace_tuples(
        session, target, tenant_pk, columns, list(map(values_of, rows)), user_ids, touched
    )


def replace_tuples(
    session: Session,
    table: TableLike,
    tenant_pk: int,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    user_ids: Iterable[str] | None = None,
    touched: list[tuple[Any, ...]] | None = None,
    *,
    one_statement: bool = False,
    holders: Collection[str] | None = None,
    as_json: str | None = None,
) -> Changes:
    """`replace_rows` for rows given as tuples of values in `columns` order (which must hold
    the whole primary key); `one_statement` as for `upsert_tuples`. With `user_ids`, the
    caller may tell which of them can have stored rows (`holders`): the others' are not
    read (a first sync's users have none). `as_json` (the rows' `json_rows`) is sent as it is
    when every row is written."""
    target = _table(table)
    key = [c.name for c in target.primary_key.columns]
    _check_columns(columns, target, key)
    users = None if user_ids is None else set(user_ids)
    if users is not None and "user_id" not in target.c:
        raise ValueError(f"{target.name} has no user_id column to replace rows by user")
    width, tenant_at = len(columns), list(columns).index("tenant_pk")
    if rows and set(map(len, rows)) != {width}:
        raise ValueError(f"rows for {target.name} must all have {width} values")
    user_at = list(columns).index("user_id") if "user_id" in columns else None
    strangers = set(map(itemgetter(tenant_at), rows)) - {tenant_pk}
    if users is not None and user_at is not None:
        strangers |= set(map(itemgetter(user_at), rows)) - users
    if strangers:  # name the first row that is wrong
        for row in rows:
            if row[tenant_at] != tenant_pk:
                raise ValueError(f"a row for {target.name} belongs to tenant {row[tenant_at]}")
            if users is not None and user_at is not None and row[user_at] not in users:
                raise ValueError(f"a row for {target.name} names user {row[user_at]} not replaced")
    if users is not None and holders is not None:
        users = {user for user in users if user in holders}
    existing = _existing(session, target, tenant_pk, columns, users) if users != set() else {}
    key_of = _values(list(columns).index(k) for k in key)
    wanted: dict[tuple[Any, ...], tuple[Any, ...]] = {key_of(row): row for row in rows}
    writes: list[tuple[Any, ...]] = []
    inserted = updated = 0
    for pk, row in wanted.items():
        old = existing.get(pk)
        if old is None:
            inserted += 1
            writes.append(row)
        elif old != row:
            updated += 1
            writes.append(row)
    gone = [pk for pk in existing if pk not in wanted]
    _delete_keys(session, target, key, gone)
    if writes:
        update_columns = [c for c in columns if c not in key]
        upsert_tuples(
            session,
            target,
            columns,
            writes,
            tuple(key),
            update_columns,
            [],
            one_statement=one_statement,
            as_json=as_json if len(writes) == len(rows) else None,
        )
    if touched is not None:
        touched.extend(map(key_of, writes))
        touched.extend(gone)
    return Changes(inserted, updated, len(gone))


def _values(keys: Iterable[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A row's values at `keys` (a dict's names or a tuple's positions), always as a tuple
    (itemgetter gives one key's value bare)."""
    listed = list(keys)
    if len(listed) == 1:
        only = listed[0]
        return lambda row: (row[only],)
    return itemgetter(*listed)


def replace_children(
    session: Session, table: TableLike, tenant_pk: int, user_ids: Iterable[str], rows: Sequence[Row]
) -> Changes:
    """Make the rows of the given users exactly `rows` (assignments, activations, ...).

    Users in `user_ids` without rows lose all theirs; other users' rows are not touched.
    """
    return replace_rows(session, table, tenant_pk, rows, user_ids=user_ids)


def mark_missing_users_deleted(
    session: Session, tenant_pk: int, seen_ids: Collection[str], when: datetime
) -> int:
    """Set `deleted_at = when` on the tenant's live users not in `seen_ids`; return how many.

    Users are never hard-deleted; a user who reappears is revived by the next upsert that
    writes `deleted_at = None`.
    """
    users = _table(User)
    live = session.scalars(
        select(users.c.id).where(users.c.tenant_pk == tenant_pk, users.c.deleted_at.is_(None))
    ).all()
    seen = seen_ids if isinstance(seen_ids, set | frozenset) else set(seen_ids)
    missing = [user_id for user_id in live if user_id not in seen]
    for chunk in _chunks(missing):
        session.execute(
            sql_update(users)
            .where(users.c.tenant_pk == tenant_pk, users.c.id.in_(chunk))
            .values(deleted_at=when)
        )
    return len(missing)


def mark_users_deleted(
    session: Session, tenant_pk: int, user_ids: Collection[str], when: datetime
) -> int:
    """Set `deleted_at = when` on those of the tenant's live users in `user_ids`; how many."""
    users = _table(User)
    marked = 0
    for chunk in _chunks(sorted(set(user_ids))):
        marked += _rowcount(
            session.execute(
                sql_update(users)
                .where(
                    users.c.tenant_pk == tenant_pk,
                    users.c.id.in_(chunk),
                    users.c.deleted_at.is_(None),
                )
                .values(deleted_at=when)
            )
        )
    return marked


def prune_snapshots(
    session: Session,
    tenant_pk: int,
    keep_days: int,
    today: date,
    table: TableLike = UsageSnapshot,
) -> int:
    """Delete a tenant's daily snapshots older than the `keep_days` days ending `today`; return
    how many. `table` is any table with a `day` column: usage snapshots by default, or the
    licence history (`SkuSnapshot`).

    With `keep_days=90`, days `today - 89` through `today` are kept.
    """
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, not {keep_days}")
    snapshots = _table(table)
    if "day" not in snapshots.c:
        raise ValueError(f"{snapshots.name} has no day column to prune by")
    cutoff = today - timedelta(days=keep_days - 1)
    result = session.execute(
        delete(snapshots).where(snapshots.c.tenant_pk == tenant_pk, snapshots.c.day < cutoff)
    )
    return _rowcount(result)


def start_run(session: Session, tenant_pk: int, task: str, now: datetime) -> int:
    """Record that `task` (one of `schema.TASKS`) started for a tenant; return the run's pk.

    Commit it in its own unit of work, before the task's: if the task's transaction rolls
    back, the run must survive to be marked failed by `finish_run`.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; tasks are {', '.join(TASKS)}")
    run = TaskRun(
        tenant_pk=tenant_pk, task=task, started_at=now, status="running", counts={}, notes=[]
    )
    session.add(run)
    session.flush()
    return run.pk


def finish_run(
    session: Session,
    run_pk: int,
    status: str,
    counts: Mapping[str, int],
    notes: Sequence[str],
    error: str | None,
    now: datetime,
) -> None:
    """Record how a run ended: status, counts, notes for the user, error, duration."""
    if status not in RUN_STATUSES or status == "running":
        raise ValueError(f"a run finishes as succeeded or failed, not {status!r}")
    run = session.get(TaskRun, run_pk)
    if run is None:
        raise ValueError(f"there is no task run {run_pk}")
    run.status = status
    run.counts = dict(counts)
    run.notes = list(notes)
    run.error = error
    run.finished_at = now
    run.duration_s = max((now - run.started_at).total_seconds(), 0.0)
    session.flush()


def bump_data_version(session: Session, tenant_pk: int) -> None:
    """Move the tenant's data version on, in the caller's transaction: whatever any process
    kept from the tenant's data (API pages, recommendations) is stale once it commits."""
    session.execute(
        sql_update(Tenant)
        .where(Tenant.pk == tenant_pk)
        .values(data_version=Tenant.data_version + 1)
    )


def get_cursor(session: Session, tenant_pk: int, name: str) -> str | None:
    """The stored value of a sync cursor (delta link, watermark), or None when never set."""
    cursors = _table(SyncCursor)
    return session.scalar(
        select(cursors.c.value).where(cursors.c.tenant_pk == tenant_pk, cursors.c.name == name)
    )


def set_cursor(session: Session, tenant_pk: int, name: str, value: str, now: datetime) -> None:
    """Store a sync cursor, in the same transaction as the rows it produced."""
    row = {"tenant_pk": tenant_pk, "name": name, "value": value, "updated_at": now}
    upsert_rows(session, SyncCursor, [row], key=("tenant_pk", "name"))
