"""The portal's emails follow its language, as a marketplace writes in its own: a zh-CN portal
(DEFAULT_LANG, `portal serve --lang zh-CN`) sends Chinese emails, an English one English."""

import pytest

from mock_portal import create_app, db, mail, orders
from mock_portal.reasons import REASONS

DEMO = "seller@example.com"


def portal_conn(tmp_path, lang):
    path = tmp_path / f"portal-{lang}.db"
    create_app({"DATABASE": str(path), "ORDERS": 60, "TESTING": True, "DEFAULT_LANG": lang})
    return db.connect(str(path))


def unshipped(conn):
    sid = orders.seller_id_for(conn, DEMO)
    found = conn.execute(
        "SELECT id FROM orders WHERE status = 'Unshipped' AND buyer_request_kind IS NULL"
        " AND seller_id = ? ORDER BY id LIMIT 2",
        (sid,),
    ).fetchall()
    return sid, [row["id"] for row in found]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_cancellation_and_request_emails_are_in_the_portals_language(tmp_path, lang):
    conn = portal_conn(tmp_path, lang)
    try:
        assert mail.portal_lang(conn) == lang
        sid, (first, second) = unshipped(conn)
        orders.request_cancellation(conn, order_id=first, kind="official", reason="")
        (request,) = mail.list_mail(conn, order_id=first, kind="buyer-request")
        result = orders.cancel_order(conn, seller_id=sid, order_id=second, reason="NoInventory")
        assert result.outcome == "cancelled"
        seller_copy, buyer_copy = sorted(
            mail.list_mail(conn, order_id=second, kind="cancellation"),
            key=lambda item: item["to"] != DEMO,
        )
        buyer = orders.get_order(conn, None, first)["buyer_name"]
    finally:
        conn.close()
    if lang == "zh-CN":
        assert request["subject"] == f"亚马逊买家 {buyer} 的订单取消请求（订单：{first}）"
        assert "买家的原因：（未提供）" in request["body"]
        assert seller_copy["subject"] == f"订单 {second} 已取消"
        assert seller_copy["body"].startswith(f"订单 {second} 已由卖家取消。")
        assert f"取消原因：{REASONS['NoInventory']['zh-CN']}" in seller_copy["body"]
        assert "此次取消会计入您的订单取消率。" in seller_copy["body"]
        assert buyer_copy["subject"] == f"您的订单 {second} 已取消"
        assert "款项将退还给您" in buyer_copy["body"]
        everything = request["body"] + seller_copy["body"] + buyer_copy["body"]
        assert "canceled" not in everything and "Reason" not in everything
    else:
        assert request["subject"] == (
            f"Order cancellation request from Amazon customer {buyer} (Order: {first})"
        )
        assert seller_copy["subject"] == f"Order {second} was canceled"
        assert seller_copy["body"].startswith(f"Order {second} was canceled by the seller.")
        assert "Reason: No Inventory" in seller_copy["body"]
        assert buyer_copy["subject"] == f"Your order {second} has been canceled"


def test_the_auto_cancel_sweep_writes_in_the_portals_language_too(tmp_path):
    conn = portal_conn(tmp_path, "zh-CN")
    try:
        db.set_meta(conn, "clock_offset_seconds", 400 * 86400)
        swept = orders.run_sweep(conn)
        assert swept
        auto = mail.list_mail(conn, kind="auto-cancellation")
    finally:
        conn.close()
    assert auto
    seller_copies = [item for item in auto if item["to"] == DEMO]
    assert all(item["subject"].endswith("已被自动取消") for item in seller_copies)
    bodies = " ".join(item["body"] for item in seller_copies)
    # Not shipped in time, or (Pending orders) not paid in time: the marketplace's reasons.
    assert "取消原因：未在自动取消期限前发货" in bodies and "取消原因：付款待处理时间过长" in bodies
