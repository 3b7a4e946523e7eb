"""Table and CSV cells: Yes/No, joined lists, and spreadsheet formulas defused in CSV."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from seatwise.cells import cell, csv_cell


def test_csv_cells_defuse_spreadsheet_formulas_but_not_numbers() -> None:
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell(-3) == "-3" and csv_cell(None) == "" and csv_cell(True) == "Yes"
    assert csv_cell("ann@example.com") == "ann@example.com"
    assert cell("=1+1") == "=1+1"  # tables on a terminal show the text as it is


def test_csv_cells_defuse_whitespace_line_breaks_and_full_width_signs() -> None:
    for text in (
        " =1+1",
        "\u00a0\u3000+cmd",
        "\n=cmd",
        "\r\n@SUM(A1)",
        'note\n  =HYPERLINK("x")',
        "\uff1d1+1",
        "\uff0bcmd",
        "\uff0d2",
        "\uff20SUM(A1)",
        "  \uff1dx",
    ):
        assert csv_cell(text) == "'" + text, repr(text)
    for text in ("plain", "a - b", "ann@example.com", "x\ny", "3 = 3"):
        assert csv_cell(text) == text, repr(text)


SIGNS = "=+-@\uff1d\uff0b\uff0d\uff20"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from([*SIGNS, " ", "\t", "\r", "\n", "\u3000", "a", "1"])))
def test_no_defused_cell_can_start_a_formula(text: str) -> None:
    out = csv_cell(text)
    if out != text:
        assert out == "'" + text
        return
    assert not text.startswith(("\t", "\r", "\n"))
    for line in text.splitlines():
        assert line.lstrip()[:1] not in SIGNS or not line.strip()
