"""The files sellers really have: Excel's CSV in the code page of a Chinese, Japanese or Korean
Windows, "Unicode Text" (UTF-16, tab-separated), .xlsx workbooks, headers in three languages,
and order ids typed with full-width digits or pasted with invisible characters."""

import io

import openpyxl
import pytest

from agent.bulk.rows import InputError, read_in_english_too, read_param_rows, replayable_stdin
from agent.cancel.orders import normalize_order_id, read_order_rows
from agent.i18n import as_told, shown, using

A = "112-0000001-0000001"
B = "112-0000001-0000002"
C = "112-0000001-0000003"


def write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def messages(rowset):
    return [str(problem) for problem in rowset.problems]


# Encodings


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
    ],
)
def test_unicode_files_with_and_without_a_byte_order_mark(tmp_path, encoding, prefix):
    text = f"订单号\t取消原因\t备注\r\n{A}\t无库存\t缺货，抱歉\r\n{B}\t买家取消\t\r\n"
    path = write(tmp_path, "orders.txt", prefix + text.encode(encoding))
    rowset = read_order_rows([path])
    assert [row.params for row in rowset.rows] == [
        {"order_id": A, "reason": "NoInventory", "memo": "缺货，抱歉"},
        {"order_id": B, "reason": "BuyerCanceled"},
    ]
    assert rowset.notes == []


def test_excel_unicode_text_is_utf16_with_tabs(tmp_path):
    # What Excel's "Unicode Text (*.txt)" writes: UTF-16 LE with a BOM, tab-separated.
    text = f"Order ID\tReason\tMemo\r\n{A}\tNo Inventory\tcafé crème\r\n"
    path = write(tmp_path, "orders.txt", b"\xff\xfe" + text.encode("utf-16-le"))
    assert read_order_rows([path]).rows[0].params == {
        "order_id": A,
        "reason": "NoInventory",
        "memo": "café crème",
    }


def test_gbk_csv_from_chinese_excel_is_told_by_its_known_header(tmp_path):
    # These bytes are also valid CP949 and Windows-1252 (mojibake in both): the known header
    # names 订单号/取消原因/备注 are what tell GB18030 apart.
    data = f"订单号,取消原因,备注\r\n{A},无库存,客户要求\r\n".encode("gbk")
    for other in ("cp949", "cp1252"):
        data.decode(other)  # valid there too, so only the content can decide
    rowset = read_order_rows([write(tmp_path, "orders.csv", data)])
    assert rowset.rows[0].params == {"order_id": A, "reason": "NoInventory", "memo": "客户要求"}


def test_shift_jis_csv_from_japanese_excel_is_told_by_its_known_header(tmp_path):
    data = f"注文番号,キャンセル理由,メモ\r\n{A},No Inventory,在庫切れのため\r\n".encode("cp932")
    for other in ("gb18030", "cp949"):
        data.decode(other)
    rowset = read_order_rows([write(tmp_path, "orders.csv", data)])
    assert rowset.rows[0].params == {
        "order_id": A,
        "reason": "NoInventory",
        "memo": "在庫切れのため",
    }


def test_big5_and_euc_kr_headers(tmp_path):
    big5 = f"訂單編號,備註\r\n{A},客戶要求取消\r\n".encode("big5")
    assert read_order_rows([write(tmp_path, "tw.csv", big5)]).rows[0].params["memo"] == (
        "客戶要求取消"
    )
    korean = f"주문번호,메모\r\n{A},재고 없음\r\n".encode("euc_kr")
    assert read_order_rows([write(tmp_path, "kr.csv", korean)]).rows[0].params["memo"] == (
        "재고 없음"
    )


def test_ambiguous_legacy_text_is_refused_naming_the_encodings_tried(tmp_path):
    # An English header and a memo whose GBK bytes read as text in other code pages too:
    # nothing in the file tells which one is right, so the tool asks instead of guessing.
    data = f"order-id,memo\r\n{A},内容\r\n".encode("gbk")
    readings = [name for name in ("gb18030", "cp932", "cp949", "cp1252") if _decodes(data, name)]
    assert len(readings) > 1
    path = write(tmp_path, "orders.csv", data)
    with pytest.raises(InputError) as error:
        read_order_rows([path])
    message = str(error.value)
    assert message.startswith(f"{path}: cannot tell the text encoding")
    assert "reads as GB18030/GBK (Chinese) or EUC-KR (Korean)" in message
    for name in ("UTF-8", "UTF-16", "Big5", "Shift_JIS", "Windows-1252"):
        assert name in message
    assert "pass --encoding gb18030 or cp949" in message
    # Told the encoding, it reads it.
    assert read_order_rows([path], encoding="gbk").rows[0].params["memo"] == "内容"


def test_shift_jis_memo_under_an_english_header_is_never_read_as_mojibake(tmp_path):
    data = f"order-id,memo\r\n{A},在庫切れ\r\n".encode("cp932")
    assert _decodes(data, "gb18030") and _decodes(data, "cp949")
    path = write(tmp_path, "orders.csv", data)
    try:
        rowset = read_order_rows([path])
    except InputError as error:
        assert "cannot tell the text encoding" in str(error) and "--encoding" in str(error)
    else:
        assert rowset.rows[0].params["memo"] == "在庫切れ"
        assert rowset.notes and "--encoding" in rowset.notes[0]


def test_windows_1252_memo_is_read_and_the_guess_is_said(tmp_path):
    data = f"order-id,memo\r\n{A},Müller, bitte stornieren\r\n".encode("cp1252").replace(
        b"M\xfcller,", b'"M\xfcller,'
    )
    data = data.replace(b"stornieren\r\n", b'stornieren"\r\n')
    rowset = read_order_rows([write(tmp_path, "orders.csv", data)])
    assert rowset.rows[0].params["memo"] == "Müller, bitte stornieren"
    assert rowset.notes and "Windows-1252" in rowset.notes[0]


def test_an_explicit_encoding_that_does_not_fit_is_one_line(tmp_path):
    path = write(tmp_path, "orders.csv", f"order-id\n{A}\n".encode() + b"\x82\xa0\n")
    with pytest.raises(InputError, match=r"orders.csv: not UTF-8 text \(invalid start byte"):
        read_order_rows([path], encoding="utf-8")
    with pytest.raises(InputError, match="--encoding: unknown encoding 'klingon'"):
        read_order_rows([path], encoding="klingon")


def test_generic_rows_share_the_decoding(tmp_path):
    ambiguous = write(tmp_path, "rows.csv", "sku,query\r\nS1,内容\r\n".encode("gbk"))
    with pytest.raises(InputError, match="cannot tell the text encoding"):
        read_param_rows(ambiguous, key_column="sku")
    rowset = read_param_rows(ambiguous, key_column="sku", encoding="gbk")
    assert rowset.rows[0].params == {"sku": "S1", "query": "内容"}
    # Only GB18030 reads these bytes as ordinary text: read so, and said.
    plain = write(tmp_path, "plain.csv", "sku,query\r\nS1,缺货商品\r\n".encode("gbk"))
    rowset = read_param_rows(plain, key_column="sku")
    assert rowset.rows[0].params == {"sku": "S1", "query": "缺货商品"}
    assert rowset.notes == [
        f"{plain}: not UTF-8; read as GB18030/GBK (Chinese), the only encoding in which it is "
        "ordinary text (pass --encoding NAME if that is wrong)"
    ]


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# Headers


@pytest.mark.parametrize(
    "header",
    ["order-id", "amazon-order-id", "Order ID", "order_id", "OrderId", "ORDER-ID", "订单号",
     "订单编号", "亚马逊订单号", "注文番号"],
)  # fmt: skip
def test_the_order_id_column_is_found_by_name_in_any_position(tmp_path, header):
    text = f"sku,{header},buyer-email\nS1,{A},a@example.com\nS2,{B},b@example.com\n"
    rowset = read_order_rows([write(tmp_path, "orders.csv", text.encode())])
    assert rowset.keys == [A, B] and rowset.problems == []


@pytest.mark.parametrize(
    ("reason", "memo"), [("reason", "memo"), ("取消原因", "备注"), ("キャンセル理由", "メモ")]
)
def test_reason_and_memo_columns_in_three_languages(tmp_path, reason, memo):
    text = f"{memo},{reason},order-id\nhello,Pricing Error,{A}\n"
    rowset = read_order_rows([write(tmp_path, "orders.csv", text.encode())])
    assert rowset.rows[0].params == {"order_id": A, "reason": "PricingError", "memo": "hello"}


@pytest.mark.parametrize("first", ["sku", "buyer-email", "id"])
def test_a_file_without_an_order_id_column_is_an_error_naming_its_columns(tmp_path, first):
    text = f"{first},price\n{A},10\n"
    path = write(tmp_path, "orders.csv", text.encode())
    with pytest.raises(InputError) as error:
        read_order_rows([path])
    assert str(error.value).startswith(
        f"{path}:1: no order id column (columns: {first}, price); name it order-id"
    )


def test_a_headerless_file_whose_first_cell_is_an_id_uses_the_first_column(tmp_path):
    path = write(tmp_path, "n.csv", f"{A},x\n{B},y\n12-34,z\n".encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B]
    assert messages(rowset) == [f"{path}:3: malformed order id '12-34'"]


def test_a_one_column_list_may_have_a_known_header(tmp_path):
    path = write(tmp_path, "ids.txt", f"amazon-order-id\n{A}\n{B}\n".encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B] and rowset.problems == []


def test_an_unknown_reason_in_the_column_is_an_error_for_its_row_not_the_default(tmp_path):
    path = write(tmp_path, "orders.csv", f"订单号,取消原因\n{A},心情不好\n{B},\n".encode())
    rowset = read_order_rows([path], default_reason="NoInventory")
    assert [row.params for row in rowset.rows] == [{"order_id": B, "reason": "NoInventory"}]
    assert messages(rowset) == [f"{path}:2: unknown reason '心情不好' for {A}"]


# Excel workbooks


def workbook(tmp_path, name, rows, *, sheets=None):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Orders"
    for row in rows:
        sheet.append(row)
    for title, extra in (sheets or {}).items():
        other = book.create_sheet(title)
        for row in extra:
            other.append(row)
    path = tmp_path / name
    book.save(path)
    return str(path)


def test_xlsx_is_read_from_its_first_sheet(tmp_path):
    path = workbook(
        tmp_path,
        "orders.xlsx",
        [
            ["SKU", "Order ID", "取消原因", "备注"],
            ["S1", A, "无库存", "缺货"],
            [None, None, None, None],
            ["S3", B, None, 42],
        ],
        sheets={"Other": [["order-id"], [C]]},
    )
    rowset = read_order_rows([path], default_reason="BuyerCanceled")
    assert [(row.params, row.line) for row in rowset.rows] == [
        ({"order_id": A, "reason": "NoInventory", "memo": "缺货"}, 2),
        ({"order_id": B, "reason": "BuyerCanceled", "memo": "42"}, 4),
    ]
    assert read_order_rows([path], sheet="Other").keys == [C]
    with pytest.raises(InputError, match=r"orders.xlsx: no sheet 'Nope' \(sheets: Orders, Other\)"):
        read_order_rows([path], sheet="Nope")


def test_an_id_cell_excel_turned_into_a_number_is_reported(tmp_path):
    path = workbook(tmp_path, "orders.xlsx", [["order-id"], [A], [1.120000001e18], [11200]])
    rowset = read_order_rows([path])
    assert rowset.keys == [A]
    assert messages(rowset) == [
        f"{path}:3: order id cell is the number 1.120000001e+18, not an id like "
        "112-0000001-0000001 (format the column as Text in Excel and type the ids again)",
        f"{path}:4: order id cell is the number 11200, not an id like "
        "112-0000001-0000001 (format the column as Text in Excel and type the ids again)",
    ]


def test_generic_rows_from_xlsx(tmp_path):
    path = workbook(
        tmp_path,
        "rows.xlsx",
        [["sku", "price", "qty"], ["S1", 10.5, 3], ["S2", 7, 1.0], [1.2345678901234567e19, 1, 1]],
    )
    rowset = read_param_rows(path, key_column="sku", columns={"sku": 1, "price": 1, "qty": 1})
    assert [row.params for row in rowset.rows] == [
        {"sku": "S1", "price": "10.5", "qty": "3"},
        {"sku": "S2", "price": "7", "qty": "1"},
    ]
    assert messages(rowset) == [
        f"{path}:4: sku is the number 1.234567890123457e+19, too long for Excel to keep "
        "exactly (format the column as Text in Excel and type it again)"
    ]


def test_old_xls_and_broken_workbooks_are_one_line(tmp_path):
    xls = write(tmp_path, "orders.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InputError, match=r"orders.xls: an Excel 97-2003 workbook"):
        read_order_rows([xls])
    broken = write(tmp_path, "orders.xlsx", b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match=r"orders.xlsx: not a readable .xlsx workbook"):
        read_order_rows([broken])


def test_xlsx_on_stdin():
    book = openpyxl.Workbook()
    book.active.append(["order-id"])
    book.active.append([A])
    buffer = io.BytesIO()
    book.save(buffer)

    class Stdin(io.TextIOWrapper):
        pass

    stdin = Stdin(io.BytesIO(buffer.getvalue()))
    assert read_order_rows(["-"], stdin=stdin).keys == [A]


# Order ids


@pytest.mark.parametrize(
    "typed",
    [
        "１１２－００００００１－００００００１",  # full-width digits and hyphens
        "112‐0000001‑0000001",  # U+2010, U+2011
        "112–0000001—0000001",  # en and em dash
        "112−0000001―0000001",  # minus sign, horizontal bar
        "\u3000112-0000001-0000001\u3000",  # ideographic spaces
        "\ufeff112-0000001-0000001\u200b",  # BOM, zero-width space
        "\u00a0112-0000001-0000001\u200e",  # no-break space, left-to-right mark
        "112-\u200d0000001-0000001\u202c",
    ],
)
def test_order_ids_are_normalised(typed):
    assert normalize_order_id(typed) == A
    assert read_order_rows(ids=[typed]).keys == [A]


def test_an_id_that_still_does_not_match_is_shown_escaped_and_never_kept(tmp_path):
    text = f"order-id\n{A}\n112-0000001-000000\u200b2x\n１１２\u00a0\n{B}\n"
    path = write(tmp_path, "orders.csv", text.encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B]
    assert messages(rowset) == [
        f"{path}:3: malformed order id '112-0000001-000000\\u200b2x'",
        f"{path}:4: malformed order id '１１２\\xa0'",
    ]


def test_fixtures_read_as_documented():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "fixtures" / "orders"
    expected = {"orders-gbk.csv", "orders-sjis.csv", "orders-utf16.txt", "orders.xlsx"}
    assert expected <= {path.name for path in root.iterdir()}
    for name in expected:
        rowset = read_order_rows([str(root / name)])
        assert rowset.keys == [A, B], name
        assert rowset.problems == [] and rowset.notes == [], name


# Files as exports and other programs write them


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("header", ["order-id\tsku\tqty\r\n", "订单号\tsku\r\n", ""])
def test_utf16_without_a_byte_order_mark_even_when_all_ascii(tmp_path, codec, header):
    # ASCII in UTF-16 is valid UTF-8 too (a NUL after every character): never read it so.
    cells = "\tSKU-1\t1" if header.count("\t") == 2 else ("\tSKU-1" if header else "")
    text = header + f"{A}{cells}\r\n{B}{cells}\r\n"
    path = write(tmp_path, "orders.txt", text.encode(codec))
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B] and rowset.problems == []


def test_an_encoding_named_by_the_user_is_the_one_used(tmp_path):
    # Byte 0x81 is no character in Windows-1252, but every byte is one in Latin-1.
    path = write(tmp_path, "orders.csv", f"order-id,memo\n{A},Caf\x81e\n".encode("latin-1"))
    rowset = read_order_rows([path], encoding="latin-1")
    assert rowset.rows[0].params["memo"] == "Caf\x81e"
    # The usual case keeps Windows-1252's letters (what Excel writes for "ANSI").
    path = write(tmp_path, "euro.csv", f"order-id,memo\n{A},5 €\n".encode("cp1252"))
    assert read_order_rows([path], encoding="latin-1").rows[0].params["memo"] == "5 €"
    path = write(tmp_path, "gbk.csv", b"order-id,memo\n" + A.encode() + b",\xff\xff\n")
    with pytest.raises(InputError) as error:
        read_order_rows([path], encoding="gbk")
    assert str(error.value).startswith(f"{path}: not gbk text (")


@pytest.mark.parametrize("hint", ["sep=;", '"sep=;"', "sep=;;"])
def test_excels_separator_line_is_the_delimiter(tmp_path, hint):
    text = f"\ufeff{hint}\r\nOrder ID;Menge;Memo\r\n{A};1;a, b\r\n12-34;2;x\r\n"
    path = write(tmp_path, "orders.csv", text.encode())
    rowset = read_order_rows([path])
    assert [row.params for row in rowset.rows] == [{"order_id": A, "memo": "a, b"}]
    assert messages(rowset) == [f"{path}:4: malformed order id '12-34'"]


def test_a_header_under_a_title_and_notes_is_found(tmp_path):
    text = f"Orders export 2026-11-30\nSeller: ACME\n\norder-id,amount\n{A},10.00\n{B},3.50\n"
    path = write(tmp_path, "orders.csv", text.encode())
    rowset = read_order_rows([path])
    assert [(row.key, row.line) for row in rowset.rows] == [(A, 5), (B, 6)]
    book = workbook(tmp_path, "orders.xlsx", [["Unshipped orders"], [], ["订单号", "数量"], [C, 1]])
    assert [(row.key, row.line) for row in read_order_rows([book]).rows] == [(C, 4)]
    # Too far down (or absent), the error still names the first line.
    text = "title\n" * 12 + f"order-id\n{A}\n"
    path = write(tmp_path, "deep.csv", text.encode())
    with pytest.raises(InputError, match=r"deep.csv:1: no order id column \(columns: title\)"):
        read_order_rows([path])


def test_a_mistyped_id_on_the_first_line_is_a_bad_row_not_a_missing_header(tmp_path):
    path = write(tmp_path, "orders.csv", f"112-000000l-0000029,SKU\n{A},SKU\n".encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A]
    assert messages(rowset) == [f"{path}:1: malformed order id '112-000000l-0000029'"]


def test_an_order_on_several_lines_of_a_report_is_one_order(tmp_path):
    # Seller Central's order reports have a line per item: the id repeats on purpose.
    text = (
        "order-id\torder-item-id\tsku\tquantity-purchased\n"
        f"{A}\t111\tS1\t1\n{A}\t112\tS2\t2\n{B}\t113\tS1\t1\n{A}\t114\tS3\t1\n"
    )
    path = write(tmp_path, "report.txt", text.encode())
    rowset = read_order_rows([path], strict=True)
    assert [(row.key, row.line) for row in rowset.rows] == [(A, 2), (B, 4)]
    # Without an item column a repeated id is still a duplicate, and so is one of a report
    # whose lines ask for different reasons.
    path = write(tmp_path, "list.csv", f"order-id,qty\n{A},1\n{A},1\n".encode())
    assert messages(read_order_rows([path])) == [
        f"{path}:3: duplicate order id {A} (first on line 2)"
    ]
    path = write(
        tmp_path, "mixed.csv", f"order-id,sku,reason\n{A},S1,No Inventory\n{A},S2,\n".encode()
    )
    assert messages(read_order_rows([path], default_reason="BuyerCanceled")) == [
        f"{path}:3: duplicate order id {A} (first on line 2)"
    ]


def test_every_file_given_must_have_a_valid_row(tmp_path):
    good = write(tmp_path, "good.txt", f"{A}\n{B}\n".encode())
    empty = write(tmp_path, "empty.csv", b"")
    with pytest.raises(InputError, match=r"empty.csv: no valid order ids$"):
        read_order_rows([good, empty])
    bad = write(tmp_path, "bad.txt", b"12-34\n")
    with pytest.raises(InputError, match=r"bad.txt: no valid order ids \(.*bad.txt:1: malformed"):
        read_order_rows([good, bad])
    # A file whose orders are all in another file too has valid rows: only duplicates.
    again = write(tmp_path, "again.txt", f"{B}\n".encode())
    assert read_order_rows([good, again]).keys == [A, B]


def test_a_file_given_twice_is_read_once(tmp_path):
    path = write(tmp_path, "ids.txt", f"{A}\n{B}\n".encode())
    other = write(tmp_path, "more.txt", f"{C}\n".encode())
    rowset = read_order_rows([path, other, str(tmp_path / "." / "ids.txt")])
    assert rowset.keys == [A, B, C] and rowset.problems == []
    assert rowset.notes == [
        f"{tmp_path / '.' / 'ids.txt'}: given more than once (as {path}); read once"
    ]


def test_a_formula_without_a_saved_value_is_reported_not_dropped(tmp_path):
    # What programs (not Excel) write: the formula, no cached result.
    path = workbook(
        tmp_path,
        "orders.xlsx",
        [["order-id", "reason"], [A, None], ['="112-0000001-"&"0000002"', None], [C, "=B2"]],
    )
    rowset = read_order_rows([path])
    assert rowset.keys == [A]
    assert messages(rowset) == [
        f'{path}:3: order id cell holds the formula ="112-0000001-"&"0000002" but no value was '
        "saved with it (open the file in Excel and save it, or paste the values)",
        f"{path}:4: reason cell holds the formula =B2 but no value was saved with it (open the "
        "file in Excel and save it, or paste the values)",
    ]
    with pytest.raises(InputError, match="strict mode"):
        read_order_rows([path], strict=True)


def test_a_workbook_with_a_password_is_named_so(tmp_path):
    # Excel stores such a workbook as a compound file with an EncryptionInfo stream.
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64 + "EncryptionInfo".encode("utf-16-le")
    path = write(tmp_path, "orders.xlsx", data + b"\0" * 64)
    with pytest.raises(InputError, match=r"orders.xlsx: the workbook is protected with a password"):
        read_order_rows([path])


@pytest.mark.parametrize("title", ["原因", "理由", "Reason Code"])
def test_more_names_of_the_reason_column_are_read(tmp_path, title):
    path = write(
        tmp_path, "orders.csv", f"订单号,{title},备注\n{A},无库存,\n{B},FooBar,\n".encode()
    )
    rowset = read_order_rows([path], default_reason="BuyerCanceled")
    assert [row.params for row in rowset.rows] == [{"order_id": A, "reason": "NoInventory"}]
    assert messages(rowset) == [f"{path}:3: unknown reason 'FooBar' for {B}"]


@pytest.mark.parametrize("title", ["Why (reason)", "取消的原因说明", "Cancel Reason 2"])
def test_a_reason_column_that_is_not_read_stops_the_run(tmp_path, title):
    # Read or refused, never ignored: ignored, every order would go with the default reason.
    path = write(tmp_path, "orders.csv", f"order-id,{title}\n{A},No Inventory\n".encode())
    with pytest.raises(InputError) as error:
        read_order_rows([path], default_reason="BuyerCanceled")
    assert str(error.value).startswith(
        f"{path}:1: column '{title}' looks like a cancellation reason, but the reason is read "
        "from a column named reason or 取消原因; rename it"
    )
    path = write(tmp_path, "two.csv", f"order-id,reason,{title}\n{A},No Inventory,x\n".encode())
    with pytest.raises(InputError, match=r"取消原因 \(the file has one already\); rename"):
        read_order_rows([path])


def test_a_report_with_the_buyers_own_reason_is_read(tmp_path):
    # Seller Central's unshipped orders report: a line per item, and the buyer's request in
    # words of their own; those words are not a cancellation reason to send.
    header = (
        "order-id\torder-item-id\tpurchase-date\tsku\tquantity-purchased\t"
        "is-buyer-requested-cancellation\tbuyer-requested-cancel-reason\n"
    )
    text = (
        header
        + f"{A}\t111\t2026-11-28T10:00:00+00:00\tS1\t1\ttrue\tOrder Created By Mistake\n"
        + f"{A}\t112\t2026-11-28T10:00:00+00:00\tS2\t1\ttrue\tOrder Created By Mistake\n"
        + f"{B}\t113\t2026-11-29T08:30:00+00:00\tS1\t2\tfalse\t\n"
    )
    path = write(tmp_path, "UnshippedOrders.txt", text.encode())
    rowset = read_order_rows([path], default_reason="NoInventory", strict=True)
    assert [row.params for row in rowset.rows] == [
        {"order_id": A, "reason": "NoInventory"},
        {"order_id": B, "reason": "NoInventory"},
    ]
    assert rowset.problems == []


@pytest.mark.parametrize("title", ["return-reason", "买家取消原因", "Customer Reason", "返品理由"])
def test_someone_elses_reason_column_is_left_unread(tmp_path, title):
    path = write(
        tmp_path, "orders.csv", f"order-id,reason,{title}\n{A},No Inventory,Changed mind\n".encode()
    )
    rowset = read_order_rows([path], default_reason="BuyerCanceled")
    assert [row.params for row in rowset.rows] == [{"order_id": A, "reason": "NoInventory"}]


def test_an_erp_export_gives_the_marketplaces_order_id_not_its_own(tmp_path):
    # 店小秘-style: the ERP's own number first, the marketplace's beside it.
    text = f"订单号,平台订单号,店铺,取消原因\nXM240001,{A},US-1,无库存\nXM240002,{B},US-1,\n"
    path = write(tmp_path, "导出订单.csv", text.encode("gb18030"))
    rowset = read_order_rows([path], default_reason="BuyerCanceled", strict=True)
    assert [row.params for row in rowset.rows] == [
        {"order_id": A, "reason": "NoInventory"},
        {"order_id": B, "reason": "BuyerCanceled"},
    ]


# Orders named in emails and messages


def saved_email(
    subject: str, body: str, *, charset: str = "utf-8", html: str | None = None
) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "buyer@example.net"
    message["To"] = "seller@example.com"
    message["Subject"] = subject
    message.set_content(
        body, charset=charset, cte="quoted-printable" if charset != "utf-8" else None
    )
    if html is not None:
        message.add_alternative(html, subtype="html")
    message.add_attachment(f"{C}\n".encode(), maintype="text", subtype="plain", filename="old.txt")
    return bytes(message)


def test_the_order_named_in_a_saved_buyer_email_is_read(tmp_path):
    english = saved_email(
        f"Please cancel order {A}",
        f"Hi,\n\nI ordered by mistake. Order: {A}\nPhone +1 206-266-1000\n\nThanks, Alex\n",
    )
    chinese = saved_email(
        "取消订单",
        f"您好：\n\n请帮我取消订单 {B}，谢谢！\n订单号：１１２－００００００１－００００００１\n",
        charset="gb2312",
    )
    rowset = read_order_rows([write(tmp_path, "a.eml", english), write(tmp_path, "b.eml", chinese)])
    # The attachment's id is not the buyer's words; the id in the subject and body is one order.
    assert rowset.keys == [A, B] and rowset.problems == []
    # An email with only HTML, saved with a .txt name: told by its header fields.
    markup = saved_email(
        "Order update", "", html=f"<table><tr><td>Order</td><td>{B}</td></tr></table><p>Bye</p>"
    )
    text_only_html = markup.replace(b"Content-Type: text/plain", b"Content-Type: text/x-none")
    assert read_order_rows([write(tmp_path, "mail.txt", text_only_html)]).keys == [B]


def test_ids_in_a_pasted_message_are_read_and_its_other_lines_left_out(tmp_path):
    text = f"Hi team,\n\nPlease cancel {A} and {B} (buyer asked).\n12-34\n{C}\nThanks,\nSam\n"
    path = write(tmp_path, "paste.txt", text.encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A, B, C]
    assert messages(rowset) == [f"{path}:4: malformed order id '12-34'"]
    assert rowset.notes == [
        f"{path}: 3 lines with no order id in them were left out (lines 1, 6, 7)"
    ]
    # A table with a mistake stays a table: its error is not hidden by the reading as text.
    path = write(tmp_path, "orders.csv", f"sku,price\n{A},1\n".encode())
    with pytest.raises(InputError, match="no order id column"):
        read_order_rows([path])


def test_a_title_with_a_date_and_time_is_no_order_id(tmp_path):
    text = f"2026-11-30 12:00:00,export\norder-id,qty\n{A},1\n"
    path = write(tmp_path, "orders.csv", text.encode())
    rowset = read_order_rows([path])
    assert rowset.keys == [A] and rowset.problems == []


def test_a_report_cell_that_starts_with_a_quote_does_not_swallow_the_rows_after_it(tmp_path):
    # Seller Central's tab-separated reports are not quoted: a product name that starts with
    # a quote ("12" pot) made every later line part of that one cell, orders lost unsaid.
    report = write(
        tmp_path,
        "report.txt",
        (
            "order-id\tproduct-name\tsku\n"
            f'{A}\t"12 inch pot\tS1\n'
            f"{B}\tMug\tS2\n"
            f'{C}\tCup "deluxe"\tS3\n'
        ).encode(),
    )
    rowset = read_order_rows([report], default_reason="NoInventory")
    assert [row.key for row in rowset.rows] == [A, B, C]
    assert rowset.notes == [
        f"{report}:2: a cell starts with a quote that does not close; the file is read without "
        "quoting, as Seller Central writes its reports"
    ]
    # In a comma-separated file the quote may be meant: one line naming where it opens.
    listed = write(
        tmp_path,
        "orders.csv",
        f'order_id,memo\n{A},"12 inch pot\n{B},mug\n'.encode(),
    )
    with pytest.raises(InputError) as caught:
        read_order_rows([listed], default_reason="NoInventory")
    assert str(caught.value).startswith(
        f"{listed}:2: a quote opens a cell here and does not close where it should"
    )
    # A cell quoted as it should be keeps its line break (Excel writes a memo so).
    memo = write(tmp_path, "memo.csv", f'order_id,memo\n{A},"two\nlines"\n{B},x\n'.encode())
    rowset = read_order_rows([memo], default_reason="NoInventory")
    assert [row.params.get("memo") for row in rowset.rows] == ["two\nlines", "x"]
    assert rowset.notes == []


def test_rows_left_out_keep_their_english_beside_the_readers_language(tmp_path):
    path = write(tmp_path, "mixed.csv", f"order_id,reason\n{A},\nabc,\n{B},FooBar\n".encode())
    with using("zh-CN"):
        rowset = read_in_english_too(lambda: read_order_rows([path]))
        said = [shown(problem) for problem in rowset.problems]
    assert [str(problem) for problem in rowset.problems] == [
        f"{path}:3: malformed order id 'abc'",
        f"{path}:4: unknown reason 'FooBar' for {B}",
    ]
    assert said == [f"{path}:3: 订单编号格式有误 'abc'", f"{path}:4: {B} 的取消原因 'FooBar' 未知"]
    # An input that cannot be used at all: its error carries the English too.
    bad = write(tmp_path, "bad.csv", b"order_id\nabc\n")
    with using("zh-CN"), pytest.raises(InputError) as raised:
        read_in_english_too(lambda: read_order_rows([bad]))
    assert as_told(raised.value) == f"{bad}: no valid order ids ({bad}:2: malformed order id 'abc')"
    assert shown(raised.value).startswith(f"{bad}: 没有有效的订单编号")
    # From a pipe too: standard input is kept to be read again.
    piped = replayable_stdin(io.TextIOWrapper(io.BytesIO(b"order_id\nabc\n"), encoding="utf-8"))
    with using("zh-CN"), pytest.raises(InputError) as raised:
        read_in_english_too(lambda: read_order_rows(["-"], stdin=piped))
    assert as_told(raised.value) == "<stdin>: no valid order ids"
    assert shown(raised.value) == "<stdin>: 没有有效的订单编号"
