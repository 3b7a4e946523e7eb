"""`$filter` and `$orderby` of the OData v4 grammar over an entity set's records.

`odata-query` parses a `$filter` into a syntax tree; here that tree becomes either a Python
predicate over records (`predicate`) or, for collections read from SQL, a SQLAlchemy condition
over a column map (`SqlFilter`). Both check every name against the entity type, compare values of
the property's Edm type (dates, timestamps, decimals written as text included) and follow
OData's null rules: `eq null` matches nulls, `ne` matches them too, orderings never do. Whatever
the grammar has and this does not (arithmetic, `cast`, `isof`, durations) answers 501.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser
from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, true

from seatwise.web.api.edm import Property, properties

__all__ = [
    "MAX_FILTER",
    "FilterError",
    "SqlFilter",
    "Unsupported",
    "check_names",
    "order_records",
    "parse_filter",
    "parse_orderby",
    "predicate",
    "sql_date_range",
]

MAX_FILTER = 8000  # characters; Power Query's folded `or` chains stay far below
_MAX_DEPTH = 200


class FilterError(ValueError):
    """The query option is not valid OData, or names what the entity type does not have."""

    status = 400


class Unsupported(FilterError):
    """Valid OData that this service does not implement."""

    status = 501


def _depth(node: ast._Node) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        for value in vars(current).values():
            items = value if isinstance(value, list) else [value]
            stack.extend((v, level + 1) for v in items if isinstance(v, ast._Node))
    return deepest


def parse_filter(text: str) -> ast._Node:
    """The syntax tree of a `$filter`; FilterError (400) when it cannot be read."""
    if len(text) > MAX_FILTER:
        raise FilterError(f"$filter is longer than {MAX_FILTER} characters.")
    try:
        tree: ast._Node | None = ODataParser().parse(ODataLexer().tokenize(text))
    except ODataException as exc:
        raise FilterError(f"$filter could not be read: {exc}") from None
    except (RecursionError, IndexError, ValueError, TypeError) as exc:
        raise FilterError(f"$filter could not be read ({type(exc).__name__}).") from None
    if tree is None:
        raise FilterError("$filter is empty.")
    if _depth(tree) > _MAX_DEPTH:
        raise FilterError(f"$filter nests deeper than {_MAX_DEPTH} levels.")
    return tree


def _names(tree: ast._Node) -> set[str]:
    """The property names a tree uses (not functions, lambda variables or their paths)."""
    found: set[str] = set()
    variables: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Identifier):
            found.add(".".join((*node.namespace, node.name)))
            continue
        if isinstance(node, ast.Call):
            stack.extend(node.args)
            continue
        if isinstance(node, ast.Attribute):
            stack.append(node.owner)
            continue
        if isinstance(node, ast.Lambda):
            variables.add(node.identifier.name)
            stack.append(node.expression)
            continue
        for value in vars(node).values():
            items = value if isinstance(value, list) else [value]
            stack.extend(v for v in items if isinstance(v, ast._Node))
    return found - variables


def check_names(tree: ast._Node, props: Mapping[str, Property]) -> None:
    """FilterError (400) when `tree` names a property the entity type does not have: an
    expression over unknown names is a client's mistake before it is an unsupported feature."""
    unknown = sorted(_names(tree) - set(props))
    if unknown:
        raise FilterError(f"$filter cannot use {unknown[0]!r}; properties: {', '.join(props)}.")


def parse_orderby(text: str, props: Mapping[str, Property]) -> list[tuple[str, bool]]:
    """`$orderby` as (property, descending) pairs: primitive properties, `asc` or `desc`."""
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise FilterError(f"$orderby items are `property [asc|desc]`, not {part.strip()!r}.")
        name, direction = words[0], (words[1].lower() if len(words) == 2 else "asc")
        if direction not in ("asc", "desc"):
            raise FilterError(f"$orderby direction is asc or desc, not {words[1]!r}.")
        if "(" in name or "/" in name:
            inner = name.rpartition("(")[2].partition(")")[0].partition("/")[0].strip()
            kind = Unsupported if inner in props else FilterError
            raise kind(f"$orderby takes property names, not expressions ({name!r}).")
        prop = props.get(name)
        if prop is None:
            raise FilterError(f"Cannot order by {name!r}; properties: {', '.join(props)}.")
        if prop.collection or prop.model is not None:
            raise FilterError(f"Cannot order by {name!r}: it is not a single value.")
        keys.append((name, direction == "desc"))
    return keys


# --- values ----------------------------------------------------------------------------------


def _as_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    return value


def _from_text(kind: str, value: Any) -> Any:
    """A record's value (as JSON has it) as a comparable Python value of Edm type `kind`."""
    if value is None or not isinstance(value, str):
        return value
    try:
        if kind == "Edm.Date":
            return date.fromisoformat(value[:10])
        if kind == "Edm.DateTimeOffset":
            return _as_datetime(datetime.fromisoformat(value))
        if kind == "Edm.Decimal":
            return Decimal(value)
    except (ValueError, InvalidOperation):
        return None
    return value


def _literal(node: ast._Literal) -> Any:
    if isinstance(node, ast.Null):
        return None
    if isinstance(node, ast.Float):
        return Decimal(node.val)
    if isinstance(node, ast.DateTime):
        return _as_datetime(node.py_val)
    if isinstance(node, ast.GUID):
        return node.val
    if isinstance(node, ast.List):
        return [_literal(v) for v in node.val]
    if isinstance(node, ast.Integer | ast.Boolean | ast.String | ast.Date):
        return node.py_val
    raise Unsupported(f"$filter literals of type {type(node).__name__} are not supported.")


_NUMBERS = ("Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Decimal")


def _fits(kind: str, value: Any) -> bool:
    """Whether literal `value` may be compared with a property of Edm type `kind`."""
    if value is None:
        return True
    if kind == "Edm.Boolean":
        return isinstance(value, bool)
    if kind in _NUMBERS:
        return isinstance(value, int | Decimal) and not isinstance(value, bool)
    if kind in ("Edm.Date", "Edm.DateTimeOffset"):
        return isinstance(value, date)
    return isinstance(value, str)


def _literal_for(kind: str, node: ast._Literal, name: str) -> Any:
    value = _literal(node)
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not _fits(kind, item):
            shown = kind.removeprefix("Edm.").removeprefix("seatwise.")
            raise FilterError(f"$filter compares {name} (a {shown}) with {item!r}.")
    if kind == "Edm.DateTimeOffset":
        return [_as_datetime(v) for v in value] if isinstance(value, list) else _as_datetime(value)
    if kind == "Edm.Date" and isinstance(value, datetime):
        return value.date()
    return value


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_FLIP: dict[type, type] = {
    ast.Lt: ast.Gt,
    ast.LtE: ast.GtE,
    ast.Gt: ast.Lt,
    ast.GtE: ast.LtE,
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
}
_STRING_FUNCTIONS = ("contains", "startswith", "endswith")
_TEXT_FUNCTIONS = ("tolower", "toupper", "trim")
_DATE_PARTS = ("year", "month", "day")


def _name(node: ast._Node) -> str | None:
    if isinstance(node, ast.Identifier) and not node.namespace:
        return node.name
    return None


def _operands(node: ast.Compare) -> tuple[ast._Node, type, ast._Node]:
    """(expression, comparator, literal), the literal moved to the right."""
    if isinstance(node.left, ast._Literal) and not isinstance(node.right, ast._Literal):
        return node.right, _FLIP.get(type(node.comparator), type(node.comparator)), node.left
    return node.left, type(node.comparator), node.right


def _bool_chain(node: ast.BoolOp) -> list[ast._Node]:
    """The operands of a chain of the same boolean operator (`a or b or c`), flattened."""
    kind = type(node.op)
    found: list[ast._Node] = []
    stack: list[ast._Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BoolOp) and isinstance(current.op, kind):
            stack += [current.right, current.left]
        else:
            found.append(current)
    return found


# --- Python predicates -----------------------------------------------------------------------

Value = Callable[[Mapping[str, Any], dict[str, Any]], Any]


class _Python:
    """Compiles a tree into functions of (record, lambda variables)."""

    def __init__(self, props: Mapping[str, Property]) -> None:
        self.props = props
        self.scopes: dict[str, Mapping[str, Property]] = {}

    def condition(self, node: ast._Node) -> Value:
        fn, kind = self.value(node)
        if kind != "Edm.Boolean":
            raise FilterError("$filter must be a condition (true or false).")
        return fn

    def value(self, node: ast._Node) -> tuple[Value, str]:
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(n) for n in _bool_chain(node)]
            if isinstance(node.op, ast.And):
                return (lambda r, v: all(p(r, v) for p in parts)), "Edm.Boolean"
            return (lambda r, v: any(p(r, v) for p in parts)), "Edm.Boolean"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.condition(node.operand)
            return (lambda r, v: not inner(r, v)), "Edm.Boolean"
        if isinstance(node, ast.Compare):
            return self.compare(node), "Edm.Boolean"
        if isinstance(node, ast.Identifier | ast.Attribute):
            return self.member(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.CollectionLambda):
            return self.lambda_(node), "Edm.Boolean"
        if isinstance(node, ast._Literal):
            value = _literal(node)
            return (lambda _r, _v: value), _literal_kind(node)
        raise Unsupported(f"$filter does not support {type(node).__name__} expressions.")

    def member(self, node: ast._Node) -> tuple[Value, str]:
        if isinstance(node, ast.Attribute):
            owner = _name(node.owner)
            scope = self.scopes.get(owner or "")
            if owner is None or scope is None or node.attr not in scope:
                raise FilterError(f"$filter cannot use the path {_path(node)!r}.")
            attr, kind = node.attr, scope[node.attr].type

            def item(_r: Mapping[str, Any], v: dict[str, Any]) -> Any:
                return _from_text(kind, (v[owner] or {}).get(attr))

            return item, kind
        name = _name(node)
        prop = self.props.get(name or "")
        if name is None or prop is None:
            raise FilterError(f"$filter cannot use {name!r}; properties: {', '.join(self.props)}.")
        if prop.collection or prop.model is not None:
            raise FilterError(f"$filter compares single values; {name} is not one.")
        kind = prop.type if not prop.members else "Edm.String"
        return (lambda r, _v: _from_text(kind, r.get(name))), kind

    def compare(self, node: ast.Compare) -> Value:
        left, op, right = _operands(node)
        if isinstance(node.comparator, ast.In):
            fn, kind = self.value(node.left)
            if not isinstance(node.right, ast.List):
                raise FilterError("$filter `in` takes a list: name in ('a','b').")
            values = _literal_for(kind, node.right, _path(node.left))
            return lambda r, v: fn(r, v) in values
        if not isinstance(right, ast._Literal):
            self.value(left), self.value(right)  # unknown names are a 400 first
            raise Unsupported("$filter compares a property with a literal value.")
        fn, kind = self.value(left)
        wanted = _literal_for(kind, right, _path(left))
        check = _COMPARE[op]
        if wanted is None:
            if op not in (ast.Eq, ast.NotEq):
                return lambda _r, _v: False
            return lambda r, v: check(fn(r, v), None)

        def compare(r: Mapping[str, Any], v: dict[str, Any]) -> bool:
            got = fn(r, v)
            if got is None:
                return op is ast.NotEq
            if kind == "Edm.DateTimeOffset":
                got = _as_datetime(got)
            return bool(check(got, wanted))

        return compare

    def call(self, node: ast.Call) -> tuple[Value, str]:
        name = node.func.name.lower()
        args = [self.value(a) for a in node.args]
        if name in _STRING_FUNCTIONS:
            (text, k1), (part, k2) = args
            if k1 != "Edm.String" or k2 != "Edm.String":
                raise FilterError(f"$filter {name}() takes two texts.")
            method = {"contains": "__contains__", "startswith": "startswith"}.get(name, "endswith")

            def test(r: Mapping[str, Any], v: dict[str, Any]) -> bool:
                a, b = text(r, v), part(r, v)
                return a is not None and b is not None and bool(getattr(a, method)(b))

            return test, "Edm.Boolean"
        if name in _TEXT_FUNCTIONS:
            ((text, kind),) = args
            if kind != "Edm.String":
                raise FilterError(f"$filter {name}() takes a text.")
            method = {"tolower": "lower", "toupper": "upper"}.get(name, "strip")

            def change(r: Mapping[str, Any], v: dict[str, Any]) -> Any:
                got = text(r, v)
                return None if got is None else getattr(got, method)()

            return change, "Edm.String"
        if name == "length":
            ((text, _),) = args
            return (lambda r, v: None if (t := text(r, v)) is None else len(t)), "Edm.Int32"
        if name in _DATE_PARTS:
            ((day, kind),) = args
            if kind not in ("Edm.Date", "Edm.DateTimeOffset"):
                raise FilterError(f"$filter {name}() takes a date.")

            def part_of(r: Mapping[str, Any], v: dict[str, Any]) -> Any:
                got = day(r, v)
                return None if got is None else getattr(got, name)

            return part_of, "Edm.Int32"
        raise Unsupported(f"$filter function {name}() is not supported.")

    def lambda_(self, node: ast.CollectionLambda) -> Value:
        name = _name(node.owner)
        prop = self.props.get(name or "")
        if name is None or prop is None or not prop.collection:
            raise FilterError(f"$filter any()/all() apply to collections; {name!r} is not one.")
        if node.lambda_ is None:
            if isinstance(node.operator, ast.All):
                raise FilterError("$filter all() needs a condition.")
            return lambda r, _v: bool(r.get(name))
        variable = node.lambda_.identifier.name
        if prop.model is not None:
            self.scopes[variable] = {p.name: p for p in properties(prop.model)[0]}
        else:
            raise Unsupported(f"$filter lambdas over {name} are not supported.")
        try:
            inner = self.condition(node.lambda_.expression)
        finally:
            self.scopes.pop(variable, None)
        every = isinstance(node.operator, ast.All)

        def test(r: Mapping[str, Any], v: dict[str, Any]) -> bool:
            items = r.get(name) or []
            found = (inner(r, {**v, variable: item}) for item in items)
            return all(found) if every else any(found)

        return test


def _literal_kind(node: ast._Literal) -> str:
    return {
        ast.String: "Edm.String",
        ast.Integer: "Edm.Int32",
        ast.Float: "Edm.Decimal",
        ast.Boolean: "Edm.Boolean",
        ast.Date: "Edm.Date",
        ast.DateTime: "Edm.DateTimeOffset",
    }.get(type(node), "Edm.String")


def _path(node: ast._Node) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_path(node.owner)}/{node.attr}"
    if isinstance(node, ast.Identifier):
        return node.name
    if isinstance(node, ast.Call):
        return f"{node.func.name}(...)"
    return type(node).__name__


def predicate(
    tree: ast._Node, props: Mapping[str, Property]
) -> Callable[[Mapping[str, Any]], bool]:
    """A test of records (JSON-ready dicts of the entity type with `props`) for `tree`."""
    test = _Python(props).condition(tree)
    return lambda record: bool(test(record, {}))


def order_records(
    records: Sequence[dict[str, Any]],
    keys: Sequence[tuple[str, bool]],
    props: Mapping[str, Property],
) -> list[dict[str, Any]]:
    """`records` sorted by (property, descending) `keys` in turn, nulls last either way, ties
    kept in their order (stable)."""
    ordered = list(records)
    for name, descending in reversed(keys):
        kind = props[name].type
        present = [r for r in ordered if r.get(name) is not None]
        absent = [r for r in ordered if r.get(name) is None]
        present.sort(key=lambda r: _from_text(kind, r[name]), reverse=descending)
        ordered = present + absent
    return ordered


# --- SQL -------------------------------------------------------------------------------------


class SqlFilter:
    """Translates a tree into a SQLAlchemy condition over `columns` (property → expression).

    `special` handles properties with their own rules (a comparison becomes another condition):
    called with (comparator, literal value) it returns the condition, or None for "unsupported".
    `collections` maps a collection property to a function making `EXISTS` of its items from
    (variable name) → (item columns, correlated select).
    """

    def __init__(
        self,
        props: Mapping[str, Property],
        columns: Mapping[str, Any],
        dialect: str,
        special: Mapping[str, Callable[[type, Any], ColumnElement[bool] | None]] | None = None,
        collections: Mapping[str, tuple[Mapping[str, Any], Callable[[Any], Any]]] | None = None,
    ) -> None:
        self.props = props
        self.columns = columns
        self.dialect = dialect
        self.special = special or {}
        self.collections = collections or {}
        self.scopes: dict[str, tuple[Mapping[str, Property], Mapping[str, Any]]] = {}

    def condition(self, node: ast._Node) -> ColumnElement[bool]:
        """The SQL condition of a boolean expression."""
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(n) for n in _bool_chain(node)]
            return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.condition(node.operand))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call) and node.func.name.lower() in _STRING_FUNCTIONS:
            return self.text_test(node)
        if isinstance(node, ast.CollectionLambda):
            return self.lambda_(node)
        if isinstance(node, ast.Identifier | ast.Attribute):
            expr, kind, nullable = self.member(node)
            if kind != "Edm.Boolean":
                raise FilterError("$filter must be a condition (true or false).")
            return and_(expr.is_not(None), expr == true()) if nullable else expr == true()
        if isinstance(node, ast.Boolean):
            return true() if node.py_val else false()
        if isinstance(node, ast._Literal):
            raise FilterError("$filter must be a condition (true or false).")
        raise Unsupported(f"$filter does not support {type(node).__name__} expressions here.")

    def member(self, node: ast._Node) -> tuple[Any, str, bool]:
        """(expression, Edm type, nullable) of a property or a lambda variable's property."""
        if isinstance(node, ast.Attribute):
            owner = _name(node.owner)
            scope = self.scopes.get(owner or "")
            if owner is None or scope is None or node.attr not in scope[0]:
                raise FilterError(f"$filter cannot use the path {_path(node)!r}.")
            if node.attr not in scope[1]:
                raise Unsupported(f"$filter cannot use {_path(node)} on this collection.")
            item = scope[0][node.attr]
            return scope[1][node.attr], item.type, item.nullable
        name = _name(node)
        prop = self.props.get(name or "")
        if name is None or prop is None:
            raise FilterError(f"$filter cannot use {name!r}; properties: {', '.join(self.props)}.")
        if prop.collection or prop.model is not None:
            raise FilterError(f"$filter compares single values; {name} is not one.")
        if name not in self.columns:
            raise Unsupported(f"$filter cannot use {name} here; filter on another property.")
        return self.columns[name], prop.type, prop.nullable

    def value(self, node: ast._Node) -> tuple[Any, str, bool]:
        """(expression, Edm type, nullable) of a property or a function of one."""
        if isinstance(node, ast.Call):
            name = node.func.name.lower()
            if name in _TEXT_FUNCTIONS and len(node.args) == 1:
                expr, kind, nullable = self.value(node.args[0])
                if kind != "Edm.String":
                    raise FilterError(f"$filter {name}() takes a text.")
                fn = {"tolower": func.lower, "toupper": func.upper}.get(name, func.trim)
                return fn(expr), kind, nullable
            if name == "length" and len(node.args) == 1:
                expr, kind, nullable = self.value(node.args[0])
                return func.length(expr), "Edm.Int32", nullable
            if name in _DATE_PARTS and len(node.args) == 1:
                expr, kind, nullable = self.value(node.args[0])
                if kind not in ("Edm.Date", "Edm.DateTimeOffset"):
                    raise FilterError(f"$filter {name}() takes a date.")
                return func.extract(name, expr), "Edm.Int32", nullable
            raise Unsupported(f"$filter function {name}() is not supported here.")
        if isinstance(node, ast.Identifier | ast.Attribute):
            return self.member(node)
        raise Unsupported(f"$filter does not support {type(node).__name__} expressions here.")

    def compare(self, node: ast.Compare) -> ColumnElement[bool]:
        if isinstance(node.comparator, ast.In):
            if not isinstance(node.right, ast.List):
                raise FilterError("$filter `in` takes a list: name in ('a','b').")
            expr, kind, nullable = self.value(node.left)
            values = _literal_for(kind, node.right, _path(node.left))
            known = [v for v in values if v is not None]
            found = expr.in_(known) if known else false()
            return or_(found, expr.is_(None)) if None in values else found
        left, op, right = _operands(node)
        if not isinstance(right, ast._Literal):
            raise Unsupported("$filter compares a property with a literal value.")
        name = _name(left)
        if name in self.special:
            prop = self.props[name or ""]
            made = self.special[name or ""](op, _literal_for(prop.type, right, name or ""))
            if made is None:
                raise Unsupported(f"$filter cannot compare {name} that way.")
            return made
        expr, kind, nullable = self.value(left)
        wanted = _literal_for(kind, right, _path(left))
        if wanted is None:
            if op is ast.Eq:
                null: ColumnElement[bool] = expr.is_(None)
                return null
            if op is ast.NotEq:
                present: ColumnElement[bool] = expr.is_not(None)
                return present
            return false()
        compared: ColumnElement[bool] = _COMPARE[op](expr, wanted)
        if not nullable:
            return compared
        if op is ast.NotEq:
            return or_(expr.is_(None), compared)
        return and_(expr.is_not(None), compared)

    def text_test(self, node: ast.Call) -> ColumnElement[bool]:
        name = node.func.name.lower()
        if len(node.args) != 2 or not isinstance(node.args[1], ast.String):
            raise Unsupported(f"$filter {name}() takes a property and a text literal here.")
        expr, kind, _ = self.value(node.args[0])
        if kind != "Edm.String":
            raise FilterError(f"$filter {name}() takes a text.")
        part = node.args[1].py_val
        size = len(part)
        # Case-sensitive on both databases (SQLite's LIKE ignores case, PostgreSQL's does not).
        if name == "startswith":
            return and_(expr.is_not(None), func.substr(expr, 1, size) == part)
        if name == "endswith":
            if size == 0:
                present: ColumnElement[bool] = expr.is_not(None)
                return present
            tail = func.substr(expr, -size) if self.dialect == "sqlite" else func.right(expr, size)
            return and_(expr.is_not(None), tail == part)
        position = func.instr(expr, part) if self.dialect == "sqlite" else func.strpos(expr, part)
        return and_(expr.is_not(None), position > 0)

    def lambda_(self, node: ast.CollectionLambda) -> ColumnElement[bool]:
        name = _name(node.owner)
        prop = self.props.get(name or "")
        if name is None or prop is None or not prop.collection:
            raise FilterError(f"$filter any()/all() apply to collections; {name!r} is not one.")
        if name not in self.collections or prop.model is None:
            raise Unsupported(f"$filter any() over {name} is not supported.")
        columns, correlated = self.collections[name]
        if isinstance(node.operator, ast.All):
            raise Unsupported("$filter all() is not supported here; use not any(...).")
        if node.lambda_ is None:
            return exists(correlated(true()))
        variable = node.lambda_.identifier.name
        self.scopes[variable] = ({p.name: p for p in properties(prop.model)[0]}, columns)
        try:
            inner = self.condition(node.lambda_.expression)
        finally:
            self.scopes.pop(variable, None)
        return exists(correlated(inner))


def sql_date_range(column: Any, op: type, day: Any) -> ColumnElement[bool] | None:
    """A timestamp `column` compared by its date with `day`, as a range of timestamps (so the
    same SQL runs on SQLite and PostgreSQL)."""
    if day is None:
        return (
            column.is_(None)
            if op is ast.Eq
            else column.is_not(None)
            if op is ast.NotEq
            else false()
        )
    if isinstance(day, datetime):
        return None
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    made: dict[type, ColumnElement[bool]] = {
        ast.Eq: and_(column >= start, column < end),
        ast.NotEq: or_(column.is_(None), column < start, column >= end),
        ast.Lt: column < start,
        ast.LtE: column < end,
        ast.Gt: column >= end,
        ast.GtE: column >= start,
    }
    return made.get(op)
