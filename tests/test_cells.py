"""Table and CSV cells: Yes/No, joined lists, and spreadsheet formulas defused in CSV."""

from __future__ import annotations

from seatwise.cells import cell, csv_cell


def test_csv_cells_defuse_spreadsheet_formulas_but_not_numbers() -> None:
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-3) == "-3" and csv_cell(None) == "" and csv_cell(True) == "Yes"
    assert csv_cell("ann@example.com") == "ann@example.com"
    assert cell("=1+1") == "=1+1"  # tables on a terminal show the text as it is
