"""The one rule every CSV the connector writes follows for spreadsheet formulas."""

from __future__ import annotations

import pytest

from connector.csvsafe import formula_like, neutralise


@pytest.mark.parametrize("cell", ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "-", "=HYPERLINK(\"x\")"])
def test_a_formula_becomes_text(cell: str) -> None:
    assert formula_like(cell) and neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3.7", "-12", "12.5", "anna@example.com", "", "a=b"])
def test_numbers_and_plain_text_stay_as_they_are(cell: str) -> None:
    assert not formula_like(cell) and neutralise(cell) == cell
