"""`seatwise skus import FILE`: refresh the product and service-plan names from a newer copy of
Microsoft's table (DESIGN §8, docs/licenses.md). Takes Microsoft's CSV as downloaded, or the
shipped layout (the product file and its service-plan file). The table is checked whole before
anything is stored; bad input is one sentence and exit 5, and the previous table stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seatwise.errors import DataError

__all__ = ["app", "import_"]

app = typer.Typer(help="Product (SKU) and service-plan names.", no_args_is_help=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command("import")
def import_(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Microsoft's CSV (Product_Display_Name,String_Id,GUID,...), or the product "
            "file and its service-plan file.",
            show_default=False,
        ),
    ],
) -> None:
    """Store a newer copy of Microsoft's product and service-plan table in the data directory;
    it replaces the shipped names from now on (SKU names shown by seatwise licenses change
    at the next license-info sync)."""
    from seatwise import skus as catalog
    from seatwise.config import load_settings

    if len(files) > 2:
        raise DataError("Give Microsoft's CSV, or the product file and its service-plan file.")
    contents: dict[str, bytes] = {}
    for path in files:
        try:
            contents[path.name] = path.read_bytes()
        except OSError as exc:
            raise DataError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    settings = load_settings()
    table = catalog.import_table(contents, settings.data_dir)
    catalog.use_data_dir(settings.data_dir)
    plans = {p.plan_id for items in table.plans.values() for p in items}
    err.print(
        f"Imported {len(table.products)} products and {len(plans)} service plans into "
        f"{settings.data_dir / catalog.IMPORTED_SKUS}.",
        markup=False,
    )
