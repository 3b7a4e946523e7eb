"""Friendly names of Microsoft 365 products and service plans, from Microsoft's published table
"Product names and service plan identifiers for licensing" (graph-facts §9.1), shipped as data in
`seatwise/data/` (`m365-skus.csv`: one row per product; `m365-sku-service-plans.csv`: one row per
product and included service plan). Unknown SKUs fall back to the part number. Product names
change and repeat, so everything keys on the skuId GUID.

`seatwise skus import FILE` stores a newer copy of the table in the data directory
(`skus.csv` and `sku-service-plans.csv`, the shipped layout), which then takes the shipped one's
place; `use_data_dir` says where that is (the workspace calls it with `Settings.data_dir`).

Both tables are read lazily, on first use, and kept: a command that shows no product name reads
neither, and product names alone never read the 5,800-row service-plan table.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple, TypeVar

from seatwise.errors import DataError

__all__ = [
    "IMPORTED_PLANS",
    "IMPORTED_SKUS",
    "PLAN_COLUMNS",
    "PRODUCTS",
    "SKU_COLUMNS",
    "Plan",
    "Table",
    "import_table",
    "parse_table",
    "plan_name",
    "plans",
    "product_name",
    "products",
    "use_data_dir",
]

# The shipped layout (also what an import stores in the data directory).
SKU_COLUMNS = ("sku_id", "sku_part_number", "product_name")
PLAN_COLUMNS = (
    "sku_id",
    "sku_part_number",
    "service_plan_id",
    "service_plan_name",
    "service_plan_friendly_name",
)
# Microsoft's downloadable CSV: one row per product and service plan.
MICROSOFT_COLUMNS = (
    "Product_Display_Name",
    "String_Id",
    "GUID",
    "Service_Plan_Name",
    "Service_Plan_Id",
    "Service_Plans_Included_Friendly_Names",
)
SHIPPED_SKUS = "m365-skus.csv"
SHIPPED_PLANS = "m365-sku-service-plans.csv"
IMPORTED_SKUS = "skus.csv"
IMPORTED_PLANS = "sku-service-plans.csv"

T = TypeVar("T")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Plan(NamedTuple):
    """A service plan included in a product: its GUID, string id and friendly name."""

    plan_id: str
    name: str
    friendly_name: str


@dataclass(frozen=True)
class Table:
    """The whole reference table: skuId → (part number, product name), and each product's plans."""

    products: dict[str, tuple[str, str]]
    plans: dict[str, tuple[Plan, ...]]


# Where an imported table is kept; None: the shipped table only.
_data_dir: Path | None = None
_lock = threading.Lock()
# (source key, value) per table part: the source key changes when an import replaces the files.
_cache: dict[str, tuple[object, object]] = {}


def use_data_dir(path: Path | None) -> None:
    """Read an imported table from `path` (the data directory) when there is one there."""
    global _data_dir
    _data_dir = path


def _imported() -> tuple[Path, Path] | None:
    if _data_dir is None:
        return None
    found = (_data_dir / IMPORTED_SKUS, _data_dir / IMPORTED_PLANS)
    return found if found[0].is_file() and found[1].is_file() else None


def _source_key(path: Path | None) -> object:
    if path is None:
        return "shipped"
    try:
        stat = path.stat()
    except OSError:
        return "shipped"
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _read_shipped(name: str) -> str:
    return resources.files("seatwise.data").joinpath(name).read_text(encoding="utf-8")


def _load(part: str, shipped: str, index: int, parse: Callable[[str], T]) -> T:
    imported = _imported()
    path = imported[index] if imported else None
    key = _source_key(path)
    kept = _cache.get(part)
    if kept is not None and kept[0] == key:
        return kept[1]  # type: ignore[return-value]
    with _lock:
        kept = _cache.get(part)
        if kept is not None and kept[0] == key:
            return kept[1]  # type: ignore[return-value]
        text = None
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None  # a damaged import: fall back to the shipped table
        try:
            value = parse(text if text is not None else _read_shipped(shipped))
        except DataError:
            value = parse(_read_shipped(shipped))
        _cache[part] = (key, value)
        return value


def _products_of(text: str) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for row in _rows(text, SKU_COLUMNS):
        found[row[0]] = (row[1], row[2])
    return found


def _plans_of(text: str) -> dict[str, tuple[Plan, ...]]:
    found: dict[str, list[Plan]] = {}
    for sku_id, _part, plan_id, name, friendly in _rows(text, PLAN_COLUMNS):
        found.setdefault(sku_id, []).append(Plan(plan_id, name, friendly))
    return {sku_id: tuple(items) for sku_id, items in found.items()}


def _rows(text: str, columns: Sequence[str]) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != tuple(columns):
        raise DataError("The stored product table has an unexpected header.")
    for row in reader:
        if len(row) == len(columns):
            yield row


def products() -> dict[str, tuple[str, str]]:
    """skuId (lower case) → (skuPartNumber, product name), for every product in the table."""
    return _load("products", SHIPPED_SKUS, 0, _products_of)


def plans() -> dict[str, tuple[Plan, ...]]:
    """skuId (lower case) → the service plans the product includes (read on first use)."""
    return _load("plans", SHIPPED_PLANS, 1, _plans_of)


class _Products(Mapping[str, tuple[str, str]]):
    """`products()` as a read-only mapping that reads the table only when first looked into."""

    def __getitem__(self, key: str) -> tuple[str, str]:
        return products()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(products())

    def __len__(self) -> int:
        return len(products())

    def get(self, key: str, default: object = None) -> tuple[str, str] | None:  # type: ignore[override]
        found = products().get(key)
        return found if found is not None else default  # type: ignore[return-value]


# skuId -> (skuPartNumber, product name)
PRODUCTS: Mapping[str, tuple[str, str]] = _Products()


def product_name(sku_id: str, part_number: str | None = None) -> str:
    """The product's display name, or its part number when the SKU is not in the table."""
    known = products().get(sku_id.lower())
    if known is not None:
        return known[1]
    return part_number or sku_id


def _plan_names() -> dict[str, str]:
    """GUID and string id (case-folded) → friendly name of every service plan in the table."""
    table = plans()
    kept = _cache.get("plan names")
    if kept is not None and kept[0] is table:
        return kept[1]  # type: ignore[return-value]
    names: dict[str, str] = {}
    for items in table.values():
        for plan in items:
            names.setdefault(plan.plan_id, plan.friendly_name)
            names.setdefault(plan.name.casefold(), plan.friendly_name)
    _cache["plan names"] = (table, names)
    return names


def plan_name(plan: str) -> str:
    """A service plan's friendly name, by its GUID or string id; the text given when unknown."""
    names = _plan_names()
    return names.get(plan.strip().lower()) or names.get(plan.strip().casefold()) or plan


# Import of a newer copy of Microsoft's table.


def _clean(value: str) -> str:
    """A cell without surrounding whitespace (non-breaking spaces included) and runs of spaces."""
    return " ".join(value.replace("\u00a0", " ").replace("\u200b", "").split())


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{where} is not UTF-8 text; save it as CSV UTF-8 and try again.") from None


def _header(text: str, where: str) -> tuple[list[str], list[list[str]]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise DataError(f"{where} is not a readable CSV file ({exc}).") from None
    if not rows:
        raise DataError(f"{where} is empty.")
    return [_clean(h) for h in rows[0]], rows[1:]


def _guid(value: str, what: str, where: str, line: int) -> str:
    found = _clean(value).lower()
    if not _GUID.match(found):
        raise DataError(f"{where} line {line}: {what} {value!r} is not a GUID.")
    return found


def _columns(header: list[str], wanted: Sequence[str], where: str) -> list[int]:
    missing = [c for c in wanted if c not in header]
    if missing:
        raise DataError(
            f"{where} lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}."
        )
    return [header.index(c) for c in wanted]


def _cells(row: list[str], at: list[int]) -> list[str] | None:
    if not any(cell.strip() for cell in row):
        return None
    return [_clean(row[i]) if i < len(row) else "" for i in at]


def _microsoft(rows: list[list[str]], at: list[int], where: str) -> Table:
    products: dict[str, tuple[str, str]] = {}
    plans: dict[str, dict[str, Plan]] = {}
    for line, row in enumerate(rows, 2):
        cells = _cells(row, at)
        if cells is None:
            continue
        name, part, sku, plan_name_, plan_id, friendly = cells
        sku_id = _guid(sku, "GUID", where, line)
        if not part or not name:
            raise DataError(f"{where} line {line}: the product has no String_Id or name.")
        products.setdefault(sku_id, (part, name))
        if plan_id:
            pid = _guid(plan_id, "Service_Plan_Id", where, line)
            plans.setdefault(sku_id, {}).setdefault(
                pid, Plan(pid, plan_name_ or pid, friendly or plan_name_ or pid)
            )
    return Table(products, {k: tuple(v.values()) for k, v in plans.items()})


def _shipped_products(
    rows: list[list[str]], at: list[int], where: str
) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for line, row in enumerate(rows, 2):
        cells = _cells(row, at)
        if cells is None:
            continue
        sku_id = _guid(cells[0], "sku_id", where, line)
        if not cells[1] or not cells[2]:
            raise DataError(f"{where} line {line}: the product has no part number or name.")
        found[sku_id] = (cells[1], cells[2])
    return found


def _shipped_plans(rows: list[list[str]], at: list[int], where: str) -> dict[str, tuple[Plan, ...]]:
    found: dict[str, dict[str, Plan]] = {}
    for line, row in enumerate(rows, 2):
        cells = _cells(row, at)
        if cells is None:
            continue
        sku_id = _guid(cells[0], "sku_id", where, line)
        pid = _guid(cells[2], "service_plan_id", where, line)
        found.setdefault(sku_id, {}).setdefault(
            pid, Plan(pid, cells[3] or pid, cells[4] or cells[3] or pid)
        )
    return {k: tuple(v.values()) for k, v in found.items()}


def parse_table(files: Mapping[str, bytes]) -> Table:
    """The table in `files` (name → content): Microsoft's downloadable CSV alone, or the shipped
    layout's product file with its service-plan file. `DataError` (one sentence) for anything
    else: not UTF-8, columns missing, a value that is not a GUID, no product at all."""
    microsoft: Table | None = None
    products: dict[str, tuple[str, str]] | None = None
    plans: dict[str, tuple[Plan, ...]] | None = None
    for where, data in files.items():
        header, rows = _header(_decode(data, where), where)
        if "GUID" in header or "String_Id" in header or "Product_Display_Name" in header:
            microsoft = _microsoft(rows, _columns(header, MICROSOFT_COLUMNS, where), where)
        elif "service_plan_id" in header or "service_plan_name" in header:
            plans = _shipped_plans(rows, _columns(header, PLAN_COLUMNS, where), where)
        elif "sku_id" in header or "product_name" in header:
            products = _shipped_products(rows, _columns(header, SKU_COLUMNS, where), where)
        else:
            raise DataError(
                f"{where} is neither Microsoft's CSV (columns {', '.join(MICROSOFT_COLUMNS)}) "
                f"nor seatwise's product table (columns {', '.join(SKU_COLUMNS)})."
            )
    if microsoft is not None:
        table = microsoft
    elif products is not None and plans is not None:
        table = Table(products, plans)
    elif products is not None:
        raise DataError(
            f"The service-plan file ({SHIPPED_PLANS}, columns {', '.join(PLAN_COLUMNS)}) is "
            "needed with the product file."
        )
    else:
        raise DataError(f"The product file ({SHIPPED_SKUS}) is needed with the service plans.")
    if not table.products:
        raise DataError("The file holds no product.")
    return table


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8", newline="")
    os.replace(temporary, path)


def import_table(files: Mapping[str, bytes], data_dir: Path) -> Table:
    """Check the table in `files` (see `parse_table`) and store it in `data_dir`, where it
    takes the shipped table's place; nothing is written when it is refused."""
    table = parse_table(files)
    product_rows = sorted(
        ((sku_id, part, name) for sku_id, (part, name) in table.products.items()),
        key=lambda r: (r[1].casefold(), r[0]),
    )
    plan_rows = [
        (sku_id, table.products[sku_id][0], p.plan_id, p.name, p.friendly_name)
        for sku_id, _part, _name in product_rows
        for p in table.plans.get(sku_id, ())
    ]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # The service plans first: the product file marks a complete import.
        _replace(data_dir / IMPORTED_PLANS, _csv_text(PLAN_COLUMNS, plan_rows))
        _replace(data_dir / IMPORTED_SKUS, _csv_text(SKU_COLUMNS, product_rows))
    except OSError as exc:
        raise DataError(f"Cannot store the product table in {data_dir}: {exc.strerror}.") from None
    _cache.clear()
    return table
