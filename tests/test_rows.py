import io

import pytest

from agent.bulk.rows import InputError, read_param_rows
from agent.bulk.runs import bind_rows
from agent.cancel.orders import read_order_rows
from agent.flow import load_flow

A = "111-1111111-1111111"
B = "222-2222222-2222222"
C = "333-3333333-3333333"


def write(tmp_path, name, content, mode="w"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return str(path)


def messages(rowset):
    return [str(problem) for problem in rowset.problems]


def test_csv_with_order_id_reason_and_memo_columns(tmp_path):
    path = write(tmp_path, "orders.csv", f"order_id,reason,memo\n{A},No Inventory,out\n{B},,\n")
    rowset = read_order_rows([path], default_reason="PricingError")
    assert [row.params for row in rowset.rows] == [
        {"order_id": A, "reason": "NoInventory", "memo": "out"},
        {"order_id": B, "reason": "PricingError"},
    ]
    assert rowset.rows[1].line == 3 and rowset.problems == []


def test_amazon_report_column_tab_separated(tmp_path):
    path = write(
        tmp_path, "report.txt", f"purchase-date\tamazon-order-id\tsku\nx\t{A}\ts1\ny\t{B}\ts2\n"
    )
    assert read_order_rows([path]).keys == [A, B]


def test_first_column_only_without_a_header(tmp_path):
    # An unknown header is an error naming the columns, never a guess that column 0 is ids.
    with_header = write(tmp_path, "h.csv", f"id,who\n{A},x\n")
    without_header = write(tmp_path, "n.csv", f"{A},x\n{B},y\n")
    with pytest.raises(InputError, match=r"h.csv:1: no order id column \(columns: id, who\)"):
        read_order_rows([with_header])
    assert read_order_rows([without_header]).keys == [A, B]


def test_plain_text_one_id_per_line_with_blank_lines_and_comments(tmp_path):
    path = write(tmp_path, "ids.txt", f"{A}\n\n  \n# a note\n{B}\n")
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B] and rowset.rows[1].line == 5 and rowset.problems == []


def test_bom_and_windows_line_ends(tmp_path):
    path = write(
        tmp_path,
        "orders.csv",
        (f"\ufefforder_id,reason\r\n{A},BuyerCanceled\r\n{B},PricingError\r\n").encode(),
    )
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B]
    assert rowset.rows[0].params["reason"] == "BuyerCanceled"
    plain = write(tmp_path, "ids.txt", f"\ufeff{A}\r\n{B}\r\n".encode())
    assert read_order_rows([plain]).keys == [A, B]


def test_malformed_ids_are_reported_with_line_numbers_and_skipped(tmp_path):
    path = write(tmp_path, "orders.csv", f"order_id\n{A}\n12-34\n{B}x\n\n{C}\n")
    rowset = read_order_rows([path])
    assert rowset.keys == [A, C]
    assert messages(rowset) == [
        f"{path}:3: malformed order id '12-34'",
        f"{path}:4: malformed order id '{B}x'",
    ]


def test_duplicates_are_kept_once_and_reported_once(tmp_path):
    path = write(tmp_path, "ids.txt", f"{A}\n{B}\n{A}\n{A}\n")
    rowset = read_order_rows([path], ids=[B])
    assert rowset.keys == [A, B]
    assert messages(rowset) == [
        f"{path}:3: duplicate order id {A} (first on line 1)",
        f"argument:1: duplicate order id {B} (first on {path}:2)",
    ]


def test_unknown_reason(tmp_path):
    path = write(tmp_path, "orders.csv", f"order_id,reason\n{A},Because\n{B},买家取消\n")
    rowset = read_order_rows([path])
    assert rowset.keys == [B] and rowset.rows[0].params["reason"] == "BuyerCanceled"
    assert messages(rowset) == [f"{path}:2: unknown reason 'Because' for {A}"]
    with pytest.raises(InputError, match="--reason: unknown reason 'Nope'"):
        read_order_rows([path], default_reason="Nope")


def test_missing_id_and_overlong_memo(tmp_path):
    path = write(tmp_path, "orders.csv", f"order_id,memo\n,hello\n{A},{'m' * 1001}\n{B},ok\n")
    rowset = read_order_rows([path])
    assert rowset.keys == [B]
    assert messages(rowset) == [
        f"{path}:2: missing order id",
        f"{path}:3: memo for {A} is over 1000 characters",
    ]


def test_strict_mode_makes_any_bad_row_an_error(tmp_path):
    path = write(tmp_path, "orders.csv", f"order_id\n{A}\n12-34\n{A}\n")
    with pytest.raises(InputError) as error:
        read_order_rows([path], strict=True)
    assert str(error.value) == (
        f"{path}:3: malformed order id '12-34' (and 1 more problem) - strict mode stops on any bad row"
    )


def test_no_valid_row_is_an_error(tmp_path):
    path = write(tmp_path, "orders.csv", "order_id\n12-34\n")
    with pytest.raises(
        InputError, match=r"orders.csv: no valid order ids \(.*orders.csv:2: malformed"
    ):
        read_order_rows([path])
    empty = write(tmp_path, "empty.txt", "\n\n")
    with pytest.raises(InputError, match="empty.txt: no valid order ids"):
        read_order_rows([empty])


def test_stdin_and_arguments():
    rowset = read_order_rows(["-"], ids=[C], stdin=io.StringIO(f"{A}\n{B}\n"))
    assert rowset.keys == [A, B, C]
    assert rowset.rows[0].source == "<stdin>"
    bad = read_order_rows(ids=["nope", A])
    assert [str(p) for p in bad.problems] == ["argument:1: malformed order id 'nope'"]


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="missing.csv: no such file"):
        read_order_rows([str(tmp_path / "missing.csv")])
    with pytest.raises(InputError, match="is a directory"):
        read_order_rows([str(tmp_path)])
    binary = write(tmp_path, "binary.csv", b"order_id\n\x81\x00\xff\xfe\x81\n")
    with pytest.raises(InputError, match="binary.csv: not text in any encoding tried"):
        read_order_rows([binary])
    latin = write(tmp_path, "latin.csv", b"order_id\n\xe9\n")
    with pytest.raises(InputError, match="latin.csv: not UTF-8 text"):
        read_order_rows([latin], encoding="utf-8")


def test_generic_rows_bound_to_params(tmp_path):
    path = write(tmp_path, "rows.csv", "sku,price\nS1,10\n,5\nS1,12\nS2,\n")
    rowset = read_param_rows(path, key_column="sku", columns={"sku": 1, "price": 1})
    assert [(row.key, row.params, row.line) for row in rowset.rows] == [
        ("S1", {"sku": "S1", "price": "10"}, 2),
        ("S2", {"sku": "S2"}, 5),
    ]
    assert [str(p) for p in rowset.problems] == [
        f"{path}:3: missing sku",
        f"{path}:4: duplicate sku 'S1' (first on line 2)",
    ]
    with pytest.raises(InputError, match=r"rows.csv:1: no column 'id'"):
        read_param_rows(path, key_column="id")
    # A column that is no param (an export's extra one) is left out, and said so; strict mode
    # refuses it.
    rowset = read_param_rows(path, key_column="sku", columns={"sku": 1})
    assert [row.params for row in rowset.rows] == [{"sku": "S1"}, {"sku": "S2"}]
    assert rowset.notes == [f"{path}:1: columns that are no param of the flow are left out: price"]
    with pytest.raises(InputError, match=r"rows.csv:1: column 'price' is not a param of the flow"):
        read_param_rows(path, key_column="sku", columns={"sku": 1}, strict=True)


def test_generic_rows_under_a_title_with_headers_as_exports_write_them(tmp_path):
    # Seller Central's report names the column order-id; a spreadsheet, Order ID; a title
    # and a blank line sit above the header, as in a saved export.
    path = write(
        tmp_path,
        "rows.csv",
        "Orders to check,,\n,,\norder-id,Reason,Buyer Email\n112-0000001-0000001,NoInventory,a@b\n",
    )
    rowset = read_param_rows(path, key_column="order_id", columns={"order_id": 1, "reason": 1})
    assert [(row.key, row.params, row.line) for row in rowset.rows] == [
        ("112-0000001-0000001", {"order_id": "112-0000001-0000001", "reason": "NoInventory"}, 4)
    ]
    assert rowset.notes == [
        f"{path}:3: columns read as the params of the same name: "
        "'order-id' -> order_id, 'Reason' -> reason",
        f"{path}:3: columns that are no param of the flow are left out: Buyer Email",
    ]
    with pytest.raises(InputError, match=r"rows.csv:1: no column 'sku' \(columns: Orders to che"):
        read_param_rows(path, key_column="sku", columns={"sku": 1})


def test_the_key_column_may_be_a_column_that_is_no_param(tmp_path):
    path = write(tmp_path, "rows.csv", f"row,order_id\nr1,{A}\nr2,{B}\nr1,{C}\n")
    rowset = read_param_rows(path, key_column="row", columns={"order_id": 1}, strict=False)
    assert [(row.key, row.params) for row in rowset.rows] == [
        ("r1", {"order_id": A}),
        ("r2", {"order_id": B}),
    ]
    assert rowset.notes == []  # the key column is read, so not said to be left out
    assert messages(rowset) == [f"{path}:4: duplicate row 'r1' (first on line 2)"]


def test_the_key_may_be_named_as_the_file_or_the_flow_writes_it(tmp_path):
    path = write(tmp_path, "rows.csv", f"Order ID,SKU\n{A},s1\n{B},s2\n")
    by_header = read_param_rows(path, key_column="Order ID", columns={"order_id": 1})
    assert [(row.key, row.params) for row in by_header.rows] == [
        (A, {"order_id": A}),
        (B, {"order_id": B}),
    ]
    other = read_param_rows(path, key_column="sku", columns={"order_id": 1})
    assert [(row.key, row.params) for row in other.rows] == [
        ("s1", {"order_id": A}),
        ("s2", {"order_id": B}),
    ]


def test_json_rows_an_array_of_objects_or_one_object_per_line(tmp_path):
    columns = {"order_id": 1, "qty": 1, "gift": 1, "memo": 1}
    array = write(
        tmp_path,
        "rows.json",
        f'[\n  {{"order_id": "{A}", "qty": 2, "gift": true}},\n'
        f'  {{"order_id": "{B}", "memo": null, "extra": "x"}}\n]\n',
    )
    rowset = read_param_rows(array, key_column="order_id", columns=columns)
    assert [(row.key, row.params, row.line) for row in rowset.rows] == [
        (A, {"order_id": A, "qty": "2", "gift": "true"}, 2),
        (B, {"order_id": B}, 3),
    ]
    assert rowset.notes == [f"{array}:2: columns that are no param of the flow are left out: extra"]
    lines = write(tmp_path, "rows.jsonl", f'{{"order_id": "{A}"}}\n\n{{"order_id": "{A}"}}\n')
    rowset = read_param_rows(lines, key_column="order_id", columns=columns)
    assert [row.key for row in rowset.rows] == [A]
    assert messages(rowset) == [f"{lines}:3: duplicate order_id '{A}' (first on line 1)"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"order_id": "1"}, {"order_id": ', r"rows.json:1: not readable as JSON \(an array"),
        ('{"order_id": "1"}\n{"order_id": \n', r"rows.json:2: not readable as JSON"),
        ('{\n  "rows": []\n}\n', r"rows.json: one JSON object; rows are an array of objects"),
        ("[[1, 2], [3, 4]]", r"rows.json: JSON rows must be objects, one per row"),
    ],
)
def test_json_that_holds_no_rows_is_one_line_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, "rows.json", content)
    with pytest.raises(InputError, match=message):
        read_param_rows(path, key_column="order_id", columns={"order_id": 1})


def test_cancel_reads_a_json_list_by_its_columns(tmp_path):
    path = write(
        tmp_path,
        "orders.json",
        f'[{{"order_id": "{A}", "reason": "No Inventory"}}, {{"order_id": "{B}", "reason": "x"}}]',
    )
    rowset = read_order_rows([path], default_reason="BuyerCanceled")
    assert [row.params for row in rowset.rows] == [{"order_id": A, "reason": "NoInventory"}]
    assert len(rowset.problems) == 1 and "'x'" in messages(rowset)[0]
    # Ids in JSON of another shape are still found, as in any text.
    ids = write(tmp_path, "ids.json", f'{{"orders": ["{A}", "{B}"]}}')
    assert [row.key for row in read_order_rows([ids], default_reason="NoInventory").rows] == [A, B]


def test_a_row_that_breaks_a_params_pattern_is_skipped_or_stops_a_strict_run(tmp_path):
    flow_file = tmp_path / "status.yaml"
    flow_file.write_text(
        "name: status\n"
        "params:\n"
        "  order_id: {type: string, required: true, pattern: '^\\d{3}-\\d{7}-\\d{7}$'}\n"
        "steps:\n"
        "  - goto: /orders-v3/order/{{ order_id }}\n"
    )
    flow = load_flow(str(flow_file))
    path = write(tmp_path, "rows.csv", "order_id\n112-0000001-0000001\n1\n")
    rowset = bind_rows(flow, read_param_rows(path, key_column="order_id", columns=flow.params), {})
    assert [row.key for row in rowset.rows] == ["112-0000001-0000001"]
    assert [str(problem) for problem in rowset.problems] == [
        f"{path}:3: param order_id: '1' does not match ^\\d{{3}}-\\d{{7}}-\\d{{7}}$"
    ]
    with pytest.raises(InputError, match=r"rows.csv:3: param order_id: .* strict mode stops"):
        bind_rows(
            flow,
            read_param_rows(path, key_column="order_id", columns=flow.params),
            {},
            strict=True,
        )


def test_in_chinese_duplicates_and_encodings_read_without_stray_spaces_or_english(tmp_path):
    from agent.i18n import using

    path = write(tmp_path, "ids.txt", f"{A}\n{A}\n{B}\n")
    binary = write(tmp_path, "binary.csv", b"order_id\n\x81\x00\xff\xfe\x81\n")
    with using("zh-CN"):
        rowset = read_order_rows([path], ids=[B])
        shown = [
            problem.shown if hasattr(problem, "shown") else str(problem)
            for problem in rowset.problems
        ]
        with pytest.raises(InputError) as error:
            read_order_rows([binary])
    text = " ".join(shown)
    assert f"订单编号 {A} 重复（首次出现在第 1 行）" in text, text
    assert f"（首次出现在 {path}:3）" in text, text
    message = str(error.value)
    assert "GB18030/GBK（简体中文）" in message and "Windows-1252（西欧语言）" in message, message
    assert "(Chinese)" not in message and "(Western)" not in message
