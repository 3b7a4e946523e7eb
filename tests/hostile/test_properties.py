"""Property-based tests (hypothesis) of what reads hostile input: the validation boundary and
the normalisers, the usage-report CSV readers and the `$filter` parser. Whatever the input, they
answer or refuse with their own error, never with another exception."""

from __future__ import annotations

import codecs
import csv
import io
import string
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seatwise.errors import DataError
from seatwise.graph.reports import parse_csv, parse_csv_columns
from seatwise.sync import normalize, validate
from seatwise.web.api.edm import properties
from seatwise.web.api.filters import FilterError, check_names, parse_filter, predicate
from seatwise.web.api.users import UserRecord

pytestmark = pytest.mark.hostile

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples every run: CI never fails by chance
    suppress_health_check=[HealthCheck.too_slow],
)
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
guids = st.uuids().map(str)
user_keys = st.sampled_from(
    [*validate.USER_TEXT, *validate.USER_FLAGS, "assignedLicenses", "licenseAssignmentStates"]
)
users = st.fixed_dictionaries(
    {"id": guids | json_values},
    optional={
        **dict.fromkeys(validate.USER_TEXT, json_values),
        **{key: json_values | st.booleans() for key in validate.USER_FLAGS},
        "assignedLicenses": json_values
        | st.lists(
            st.fixed_dictionaries(
                {"skuId": guids | json_values},
                optional={"disabledPlans": st.lists(guids | json_values, max_size=3)},
            ),
            max_size=3,
        ),
        "licenseAssignmentStates": json_values
        | st.lists(
            st.fixed_dictionaries(
                {"skuId": guids | json_values},
                optional={
                    "state": st.sampled_from(sorted(validate.LICENSE_STATES)) | json_values,
                    "assignedByGroup": st.none() | guids | json_values,
                    "error": json_values,
                    "disabledPlans": st.lists(guids, max_size=3) | json_values,
                },
            ),
            max_size=3,
        ),
    },
)


@SETTINGS
@given(users)
def test_a_user_the_boundary_accepts_always_normalises(item: dict[str, Any]) -> None:
    if validate.user_problem(item) is not None:
        return
    row = normalize.user_row(1, item, TODAY)
    assert row["id"] == str(item["id"]).lower()
    # The fingerprint is that of the Graph facts (what earlier versions stored, so stored
    # users are not all rewritten after an upgrade).
    kept = ("tenant_pk", "id", "first_seen", "deleted_at", "fingerprint")
    facts = {k: v for k, v in row.items() if k not in kept}
    assert row["fingerprint"] == normalize.fingerprint(facts)
    for assignment in normalize.assignment_rows(1, item):
        assert assignment["user_id"] == row["id"] and assignment["sku_id"]


@SETTINGS
@given(json_values)
def test_the_boundary_judges_any_json_without_raising(value: Any) -> None:
    for check in (
        validate.user_problem,
        validate.sku_problem,
        validate.sign_in_problem,
        validate.mfa_problem,
        validate.sign_in_event_problem,
    ):
        problem = check(value)
        assert problem is None or (problem.field and problem.reason)
    if validate.sku_problem(value) is None:
        normalize.sku_rows(1, value, NOW)
    if validate.sign_in_problem(value) is None:
        normalize.sign_in_columns(value.get("signInActivity"))


@SETTINGS
@given(json_values)
def test_the_report_cell_parsers_never_raise(value: Any) -> None:
    assert normalize.parse_date(value) is None or isinstance(normalize.parse_date(value), date)
    assert normalize.parse_bool(value) in (None, True, False)
    parsed = normalize.parse_int(value) if not isinstance(value, float) else None
    assert parsed is None or isinstance(parsed, int)
    moment = normalize.parse_datetime(value)
    assert moment is None or moment.tzinfo is not None


@SETTINGS
@given(st.binary(max_size=400))
def test_the_csv_reader_answers_or_refuses_any_bytes(data: bytes) -> None:
    columns = ("Report Refresh Date", "User Principal Name", "Storage Used (Byte)")
    try:
        header, rows = parse_csv_columns(data, columns, cut=[0])
        for row in rows:
            assert len(row) == len(columns) and all(isinstance(c, str) for c in row)
        _, records = parse_csv(data)
        for record in records:
            assert set(record) <= set(header)
    except DataError as exc:
        assert str(exc).endswith(".") and "\n" not in str(exc)


cell_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r\n\ufeff"),
    max_size=12,
)


@SETTINGS
@given(
    st.lists(st.lists(cell_text, min_size=3, max_size=3), max_size=6),
    st.booleans(),
    st.permutations([0, 1, 2]),
)
def test_csv_rows_read_back_by_name_with_or_without_bom(
    rows: list[list[str]], bom: bool, order: list[int]
) -> None:
    header = ["Report Refresh Date", "User Principal Name", "Storage Used (Byte)"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header[i] for i in order])
    for row in rows:
        writer.writerow([row[i] for i in order])
    data = (codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode()
    cut = [0]
    _, parsed = parse_csv_columns(data, header, cut=cut)
    expected = [tuple(row) for row in rows if any(row)]
    assert [tuple(r) for r in parsed] == expected
    assert cut == [0]


@SETTINGS
@given(st.text(max_size=300))
def test_the_filter_parser_answers_or_refuses_any_text(text: str) -> None:
    try:
        parse_filter(text)
    except FilterError as exc:
        assert exc.status in (400, 501)


quoted = st.text(max_size=30).map(lambda s: "'" + s.replace("'", "''") + "'")


LITERAL_WORDS = frozenset({"true", "false", "null", "inf", "nan", "infinity", "not"})
PROPS = {prop.name: prop for prop in properties(UserRecord)[0]}
TEXT_NAMES = sorted(name for name, prop in PROPS.items() if prop.type == "Edm.String")


@SETTINGS
@given(
    st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]),
    quoted,
    st.sampled_from(["and", "or"]),
    st.sampled_from(TEXT_NAMES),
    st.text(max_size=20),
)
def test_filters_over_any_string_literal_parse_and_match_as_python_would(
    op: str, literal: str, joiner: str, name: str, value: str
) -> None:
    tree = parse_filter(f"{name} {op} {literal} {joiner} not ({name} eq {literal})")
    test = predicate(tree, PROPS)
    text = literal[1:-1].replace("''", "'")
    compare = {
        "eq": value == text,
        "ne": value != text,
        "gt": value > text,
        "ge": value >= text,
        "lt": value < text,
        "le": value <= text,
    }[op]
    expected = (compare and value != text) if joiner == "and" else (compare or value != text)
    assert test({name: value}) is expected


@SETTINGS
@given(st.text(alphabet=string.ascii_letters, min_size=1, max_size=12), quoted)
def test_filters_over_unknown_names_are_refused(name: str, literal: str) -> None:
    assume(name.lower() not in LITERAL_WORDS)  # `FALSE eq 'x'` compares two literals
    tree = parse_filter(f"{name} eq {literal}")
    if name in PROPS:
        check_names(tree, PROPS)
        return
    try:
        check_names(tree, PROPS)
    except FilterError as exc:
        assert exc.status == 400
    else:
        raise AssertionError(f"{name!r} was accepted")
