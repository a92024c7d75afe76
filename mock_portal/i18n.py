"""The portal's two languages: every visible string by key, in English and Simplified Chinese.

The language comes from `?lang=` (remembered in the `lang` cookie), else the cookie, else the
app's DEFAULT_LANG. Templates call `_(key, **params)` (also spelled `t`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from flask import Flask, Response, abort, flash, g, request

from mock_portal.reasons import REASONS

LANGS = ("en", "zh-CN")
LANG_COOKIE = "lang"
LANG_COOKIE_DAYS = 365

STRINGS: dict[str, dict[str, str]] = {
    # layout and navigation
    "portal_name": {"en": "Seller Central", "zh-CN": "卖家平台"},
    "nav_orders": {"en": "Orders", "zh-CN": "订单"},
    "nav_performance": {"en": "Performance", "zh-CN": "绩效"},
    "nav_manage_orders": {"en": "Manage Orders", "zh-CN": "管理订单"},
    "nav_account_health": {"en": "Account Health", "zh-CN": "账户状况"},
    "nav_messages": {"en": "Messages", "zh-CN": "消息"},
    "nav_mail": {"en": "Mail", "zh-CN": "邮件"},
    "nav_signout": {"en": "Sign out", "zh-CN": "退出"},
    "language": {"en": "Language:", "zh-CN": "语言："},
    "footer_note": {
        "en": "Mock seller portal for testing. No real orders.",
        "zh-CN": "用于测试的模拟卖家平台。没有真实订单。",
    },
    "home_title": {"en": "Home", "zh-CN": "首页"},
    "home_welcome": {"en": "Welcome, {name}", "zh-CN": "欢迎，{name}"},
    "home_orders_text": {
        "en": "View, confirm and cancel your orders.",
        "zh-CN": "查看、确认和取消您的订单。",
    },
    "home_health_text": {
        "en": "Your Order Cancellation Rate and its target.",
        "zh-CN": "您的订单取消率及其目标。",
    },
    "home_messages_text": {"en": "Messages from buyers.", "zh-CN": "买家发来的消息。"},
    "home_mail_text": {
        "en": "Emails the marketplace sent you.",
        "zh-CN": "平台发送给您的电子邮件。",
    },
    # sign-in
    "signin_title": {"en": "Sign in", "zh-CN": "登录"},
    "signin_email": {"en": "Email", "zh-CN": "电子邮箱"},
    "signin_continue": {"en": "Continue", "zh-CN": "继续"},
    "signin_password": {"en": "Password", "zh-CN": "密码"},
    "signin_remember": {"en": "Keep me signed in", "zh-CN": "保持登录状态"},
    "signin_submit": {"en": "Sign in", "zh-CN": "登录"},
    "signin_change": {"en": "Change", "zh-CN": "更改"},
    "signin_problem": {"en": "There was a problem", "zh-CN": "出现问题"},
    "signin_unknown_email": {
        "en": "We cannot find an account with that email address",
        "zh-CN": "我们找不到使用该电子邮箱的账户",
    },
    "signin_wrong_password": {"en": "Your password is incorrect", "zh-CN": "您的密码不正确"},
    "signin_wrong_code": {
        "en": "The One Time Password (OTP) you entered is not valid. Please try again.",
        "zh-CN": "您输入的一次性密码 (OTP) 无效，请重试。",
    },
    "signin_locked": {
        "en": "Your account is temporarily locked after too many failed attempts. Try again later.",
        "zh-CN": "尝试失败次数过多，您的账户已被暂时锁定。请稍后重试。",
    },
    "signin_enter_email": {"en": "Enter your email address.", "zh-CN": "请输入您的电子邮箱。"},
    "signin_expired": {
        "en": "Your session has ended. Please sign in again.",
        "zh-CN": "您的会话已结束，请重新登录。",
    },
    "mfa_title": {"en": "Two-Step Verification", "zh-CN": "两步验证"},
    "mfa_intro": {
        "en": "Enter the One Time Password (OTP) from your authenticator app.",
        "zh-CN": "请输入身份验证器应用中的一次性密码 (OTP)。",
    },
    "mfa_code": {"en": "Enter OTP", "zh-CN": "输入一次性密码"},
    "mfa_remember": {
        "en": "Don't require OTP on this browser",
        "zh-CN": "在此浏览器上不再要求一次性密码",
    },
    "mfa_submit": {"en": "Sign in", "zh-CN": "登录"},
    # sign-in interstitials (faults) and the blocked page
    "captcha_heading": {
        "en": "Enter the characters you see below",
        "zh-CN": "请输入您在下方看到的字符",
    },
    "captcha_alt": {"en": "Visual CAPTCHA image", "zh-CN": "验证码图片"},
    "captcha_label": {"en": "Type characters", "zh-CN": "输入字符"},
    "captcha_wrong": {
        "en": "Enter the characters as they are given in the challenge.",
        "zh-CN": "请按图片中显示的内容输入字符。",
    },
    "cvf_title": {"en": "Authentication required", "zh-CN": "需要验证"},
    "cvf_intro": {
        "en": "For your security, we've sent a One Time Password (OTP) to {email}. Enter it below.",
        "zh-CN": "为了您的安全，我们已向 {email} 发送一次性密码 (OTP)。请在下方输入。",
    },
    "cvf_label": {"en": "Enter OTP", "zh-CN": "输入一次性密码"},
    "cvf_submit": {"en": "Submit code", "zh-CN": "提交验证码"},
    "cvf_wrong": {
        "en": "Invalid OTP. Please check your code and try again.",
        "zh-CN": "一次性密码无效。请检查后重试。",
    },
    "cvf_mail_subject": {"en": "Amazon Authentication", "zh-CN": "亚马逊身份验证"},
    "cvf_mail_body": {
        "en": "Your One Time Password (OTP) is: {code}\n\nDo not share it with anyone.",
        "zh-CN": "您的一次性密码 (OTP) 是：{code}\n\n请勿与任何人分享。",
    },
    "fixup_title": {"en": "Add mobile number", "zh-CN": "添加手机号码"},
    "fixup_intro": {
        "en": "Improve your account security by adding a mobile number.",
        "zh-CN": "添加手机号码以提高账户安全性。",
    },
    "fixup_phone": {"en": "Mobile number", "zh-CN": "手机号码"},
    "fixup_add": {"en": "Add mobile number", "zh-CN": "添加手机号码"},
    "fixup_skip": {"en": "Not now", "zh-CN": "以后再说"},
    "picker_title": {"en": "Select an account", "zh-CN": "选择账户"},
    "picker_submit": {"en": "Select account", "zh-CN": "选择账户"},
    "picker_choose": {"en": "Choose a marketplace.", "zh-CN": "请选择一个商城。"},
    "marketplace_US": {"en": "United States", "zh-CN": "美国"},
    "marketplace_CA": {"en": "Canada", "zh-CN": "加拿大"},
    "marketplace_MX": {"en": "Mexico", "zh-CN": "墨西哥"},
    "marketplace_BR": {"en": "Brazil", "zh-CN": "巴西"},
    "marketplace_UK": {"en": "United Kingdom", "zh-CN": "英国"},
    "blocked_title": {"en": "Automated access blocked", "zh-CN": "已阻止自动访问"},
    "blocked_text": {
        "en": "We detected automated access to Seller Central from this browser and have "
        "blocked it. Stop any automation now; a person may sign in again later.",
        "zh-CN": "我们检测到此浏览器对卖家平台的自动访问，并已将其阻止。请立即停止所有自动化操作；"
        "稍后可由本人重新登录。",
    },
    "signout_title": {"en": "Sign out", "zh-CN": "退出"},
    "signout_confirm": {
        "en": "Do you want to sign out?",
        "zh-CN": "您要退出登录吗？",
    },
    "signed_out": {"en": "You have signed out.", "zh-CN": "您已退出登录。"},
    # refusals
    "csrf_title": {"en": "Request refused", "zh-CN": "请求被拒绝"},
    "csrf_text": {
        "en": "This form has expired or did not come from this site. Nothing was changed. "
        "Go back, reload the page and try again.",
        "zh-CN": "此表单已过期或并非来自本网站。未做任何更改。请返回、刷新页面后重试。",
    },
    "bad_request_title": {"en": "Bad request", "zh-CN": "错误的请求"},
    "bad_request_text": {
        "en": "The request could not be understood. Nothing was changed.",
        "zh-CN": "无法理解该请求。未做任何更改。",
    },
    # orders
    "orders_title": {"en": "Manage Orders", "zh-CN": "管理订单"},
    "tab_pending": {"en": "Pending", "zh-CN": "待处理"},
    "tab_unshipped": {"en": "Unshipped", "zh-CN": "未发货"},
    "tab_canceled": {"en": "Canceled", "zh-CN": "已取消"},
    "tab_shipped": {"en": "Shipped", "zh-CN": "已发货"},
    "tab_all": {"en": "All", "zh-CN": "全部"},
    "search_by": {"en": "Search by", "zh-CN": "搜索方式"},
    "qt_orderid": {"en": "Order ID", "zh-CN": "订单编号"},
    "qt_buyer-email": {"en": "Buyer email", "zh-CN": "买家邮箱"},
    "qt_sku": {"en": "SKU", "zh-CN": "SKU"},
    "qt_asin": {"en": "ASIN", "zh-CN": "ASIN"},
    "search_orders": {"en": "Search orders", "zh-CN": "搜索订单"},
    "search_submit": {"en": "Search", "zh-CN": "搜索"},
    "search_results": {
        "en": "{total} results for “{q}”",
        "zh-CN": "“{q}”的搜索结果：{total} 个",
    },
    "no_results": {"en": "No orders found", "zh-CN": "未找到订单"},
    "orders_count": {
        "en": "Showing {first}-{last} of {total} orders",
        "zh-CN": "显示第 {first}-{last} 个订单，共 {total} 个",
    },
    "page_prev": {"en": "Previous", "zh-CN": "上一页"},
    "page_next": {"en": "Next", "zh-CN": "下一页"},
    "page_of": {"en": "Page {page} of {pages}", "zh-CN": "第 {page} 页，共 {pages} 页"},
    "col_order_date": {"en": "Order date", "zh-CN": "下单日期"},
    "col_order_details": {"en": "Order details", "zh-CN": "订单详情"},
    "col_buyer": {"en": "Buyer", "zh-CN": "买家"},
    "col_product": {"en": "Product", "zh-CN": "商品"},
    "col_ship_by": {"en": "Ship by / Deliver by", "zh-CN": "发货截止 / 送达截止"},
    "col_status": {"en": "Order status", "zh-CN": "订单状态"},
    "col_action": {"en": "Action", "zh-CN": "操作"},
    "qty": {"en": "Quantity", "zh-CN": "数量"},
    "price": {"en": "Price", "zh-CN": "价格"},
    "ship_by": {"en": "Ship by", "zh-CN": "发货截止"},
    "deliver_by": {"en": "Deliver by", "zh-CN": "送达截止"},
    "purchase_date": {"en": "Purchase date", "zh-CN": "下单日期"},
    "status_Pending": {"en": "Pending", "zh-CN": "待处理"},
    "status_Unshipped": {"en": "Unshipped", "zh-CN": "未发货"},
    "status_PartiallyShipped": {"en": "Partially shipped", "zh-CN": "部分发货"},
    "status_Shipped": {"en": "Shipped", "zh-CN": "已发货"},
    "status_Canceled": {"en": "Canceled", "zh-CN": "已取消"},
    "confirm_shipment": {"en": "Confirm shipment", "zh-CN": "确认发货"},
    "print_packing_slip": {"en": "Print packing slip", "zh-CN": "打印装箱单"},
    "cancel_order": {"en": "Cancel order", "zh-CN": "取消订单"},
    "cancel_requested_badge": {"en": "Cancellation requested", "zh-CN": "已请求取消"},
    "buyer_request_banner": {
        "en": "The buyer has requested that this order be canceled. Canceling this order "
        "will not affect your cancellation rate metric.",
        "zh-CN": "买家已请求取消此订单。取消此订单不会影响您的取消率指标。",
    },
    "buyer_reason": {"en": "Buyer's reason: {reason}", "zh-CN": "买家的原因：{reason}"},
    "shipment_confirmed": {
        "en": "Shipment of order {order_id} was confirmed.",
        "zh-CN": "订单 {order_id} 已确认发货。",
    },
    "not_shippable": {
        "en": "Order {order_id} cannot be confirmed as shipped.",
        "zh-CN": "订单 {order_id} 无法确认发货。",
    },
    # order details
    "order_id_heading": {"en": "Order ID: {order_id}", "zh-CN": "订单编号：{order_id}"},
    "order_summary": {"en": "Order summary", "zh-CN": "订单摘要"},
    "buyer_name": {"en": "Buyer name", "zh-CN": "买家姓名"},
    "buyer_email": {"en": "Buyer email", "zh-CN": "买家邮箱"},
    "status": {"en": "Status", "zh-CN": "状态"},
    "cancel_reason": {"en": "Cancellation reason", "zh-CN": "取消原因"},
    "cancelled_by": {"en": "Canceled by", "zh-CN": "取消方"},
    "by_seller": {"en": "Seller", "zh-CN": "卖家"},
    "by_buyer": {"en": "Buyer", "zh-CN": "买家"},
    "by_marketplace": {"en": "Marketplace", "zh-CN": "平台"},
    "items": {"en": "Items", "zh-CN": "商品"},
    "quantity_cancelled": {"en": "Canceled", "zh-CN": "已取消数量"},
    "history": {"en": "Order history", "zh-CN": "订单历史"},
    "history_at": {"en": "Time", "zh-CN": "时间"},
    "history_event": {"en": "Event", "zh-CN": "事件"},
    "history_detail": {"en": "Details", "zh-CN": "详情"},
    "back_to_orders": {"en": "Back to Manage Orders", "zh-CN": "返回管理订单"},
    "packing_slip_title": {"en": "Packing slip", "zh-CN": "装箱单"},
    "packing_slip_ship_to": {"en": "Ship to", "zh-CN": "收货人"},
    "print": {"en": "Print", "zh-CN": "打印"},
    # cancel
    "cancel_title": {"en": "Cancel order", "zh-CN": "取消订单"},
    "cancel_qty": {"en": "Quantity to cancel", "zh-CN": "取消数量"},
    "cancel_scope": {"en": "What to cancel", "zh-CN": "取消范围"},
    "cancel_scope_order": {"en": "Cancel entire order", "zh-CN": "取消整个订单"},
    "cancel_scope_items": {"en": "Cancel selected items", "zh-CN": "取消所选商品"},
    "cancel_reason_label": {"en": "Reason for cancellation", "zh-CN": "取消原因"},
    "cancel_reason_placeholder": {"en": "Select a reason", "zh-CN": "请选择原因"},
    "cancel_memo": {"en": "Seller memo (optional)", "zh-CN": "卖家备注（可选）"},
    "cancel_submit": {"en": "Submit", "zh-CN": "提交"},
    "cancel_confirmation": {
        "en": "Order {order_id} was canceled.",
        "zh-CN": "订单 {order_id} 已取消。",
    },
    "cancel_items_confirmation": {
        "en": "The selected items of order {order_id} were canceled.",
        "zh-CN": "订单 {order_id} 的所选商品已取消。",
    },
    "already_cancelled": {
        "en": "Order {order_id} was already canceled.",
        "zh-CN": "订单 {order_id} 已被取消。",
    },
    "not_cancellable": {
        "en": "This order can no longer be canceled.",
        "zh-CN": "此订单无法再取消。",
    },
    "error_reason": {"en": "Choose a reason for cancellation.", "zh-CN": "请选择取消原因。"},
    "error_memo": {
        "en": "The seller memo can be at most {max} characters.",
        "zh-CN": "卖家备注最多 {max} 个字符。",
    },
    "error_scope": {
        "en": "Choose whether to cancel the entire order or selected items.",
        "zh-CN": "请选择取消整个订单还是所选商品。",
    },
    "error_quantities": {
        "en": "Enter a whole number from 0 to the remaining quantity for each item, "
        "and more than 0 for at least one.",
        "zh-CN": "请为每件商品输入 0 到剩余数量之间的整数，且至少一件商品大于 0。",
    },
    "rate_note_flagged": {
        "en": "Reason Buyer Canceled on a buyer's official request does not count toward "
        "your Order Cancellation Rate; any other reason does.",
        "zh-CN": "针对买家正式请求以“买家取消”为原因取消，不计入您的订单取消率；其他原因均计入。",
    },
    "rate_note": {
        "en": "Seller cancellations count toward your Order Cancellation Rate.",
        "zh-CN": "卖家取消计入您的订单取消率。",
    },
    # account health
    "health_title": {"en": "Account Health", "zh-CN": "账户状况"},
    "ocr_title": {"en": "Order Cancellation Rate", "zh-CN": "订单取消率"},
    "ocr_target": {"en": "Target", "zh-CN": "目标"},
    "ocr_target_text": {"en": "under {target}", "zh-CN": "低于 {target}"},
    "ocr_status": {"en": "Status", "zh-CN": "状态"},
    "ocr_good": {"en": "Good", "zh-CN": "良好"},
    "ocr_at_risk": {"en": "At risk", "zh-CN": "有风险"},
    "ocr_window": {
        "en": "Over the last {days} days",
        "zh-CN": "过去 {days} 天",
    },
    "ocr_cancelled": {"en": "Cancellations counted", "zh-CN": "计入的取消"},
    "ocr_total": {"en": "Orders", "zh-CN": "订单总数"},
    "ocr_orders": {"en": "Orders counted", "zh-CN": "计入的订单"},
    "ocr_none": {"en": "No cancellations counted.", "zh-CN": "没有计入的取消。"},
    "cancelled_at": {"en": "Canceled at", "zh-CN": "取消时间"},
    # messages and mail
    "messages_title": {"en": "Buyer Messages", "zh-CN": "买家消息"},
    "messages_none": {"en": "No messages.", "zh-CN": "没有消息。"},
    "message_order": {"en": "Order", "zh-CN": "订单"},
    "message_from": {"en": "From", "zh-CN": "发件人"},
    "message_body": {"en": "Message", "zh-CN": "消息"},
    "message_time": {"en": "Time", "zh-CN": "时间"},
    "mail_title": {"en": "Mail", "zh-CN": "邮件"},
    "mailbox_title": {"en": "Mailbox of {address}", "zh-CN": "{address} 的邮箱"},
    "mail_none": {"en": "No emails.", "zh-CN": "没有邮件。"},
    "mail_subject": {"en": "Subject", "zh-CN": "主题"},
    "mail_from": {"en": "From", "zh-CN": "发件人"},
    "mail_to": {"en": "To", "zh-CN": "收件人"},
    "mail_time": {"en": "Time", "zh-CN": "时间"},
    "mail_order": {"en": "Order", "zh-CN": "订单"},
    "mail_back": {"en": "Back to the mailbox", "zh-CN": "返回邮箱"},
    "mail_not_found": {"en": "No such email.", "zh-CN": "没有这封邮件。"},
}

# Order history events as the domain records them.
STRINGS.update(
    {
        "event_ordered": {"en": "Order placed", "zh-CN": "已下单"},
        "event_shipped": {"en": "Shipped", "zh-CN": "已发货"},
        "event_cancelled": {"en": "Canceled", "zh-CN": "已取消"},
        "event_items_cancelled": {"en": "Items canceled", "zh-CN": "部分商品已取消"},
        "event_buyer_requested_cancellation": {
            "en": "Buyer requested cancellation",
            "zh-CN": "买家请求取消",
        },
        "event_buyer_message": {"en": "Buyer message", "zh-CN": "买家消息"},
    }
)

_REASON_KEYS = {f"reason_{code}": labels for code, labels in REASONS.items()}
STRINGS.update(_REASON_KEYS)
# Reasons the marketplace itself records (never offered on the Cancel order page).
STRINGS["reason_NotShippedInTime"] = {
    "en": "Not shipped by the auto-cancel deadline",
    "zh-CN": "未在自动取消截止时间前发货",
}
STRINGS["reason_PendingExpired"] = {
    "en": "Payment pending for too long",
    "zh-CN": "付款待处理时间过长",
}


def event_label(event: str) -> str:
    """A history event's label; an event without one shows as recorded."""
    key = f"event_{event}"
    return translate(key) if key in STRINGS else str(event)


def current_lang() -> str:
    """The language of the current request ("en" or "zh-CN")."""
    return getattr(g, "lang", None) or "en"


def translate(key: str, lang: str | None = None, **params: object) -> str:
    """The text of `key` in `lang` (default: the request's), with `{name}` params filled in.

    An unknown key gives the key itself, so a missing translation shows up on the page
    instead of breaking it."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang or current_lang()) or entry["en"]
    return text.format(**params) if params else text


def notify(key: str, testid: str, category: str = "success", **params: str) -> None:
    """Flash a message by key, so it is rendered in the language of the page that shows it."""
    flash((key, testid, params), category)


def query_is_utf8() -> bool:
    """Whether the raw query string is UTF-8. Werkzeug decodes it strictly on first use of
    `request.args`, so a raw non-UTF-8 byte (no browser sends one; a raw socket can) would be
    a 500 on any page unless it is refused first."""
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _choose_lang(default: str) -> str:
    wanted = request.args.get("lang") if query_is_utf8() else None
    if wanted in LANGS:
        return wanted
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGS:
        return cookie
    return default


def lang_switch_url(lang: str) -> str:
    """The current page's URL with `lang` set; only GET pages, so a POST result links to its page."""
    if not query_is_utf8():
        return f"{request.path}?{urlencode([('lang', lang)])}"
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def format_time(value: str | None) -> str:
    """An ISO 8601 UTC time as "2026-11-28 08:00 UTC"; the raw text when it cannot be parsed."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def init_app(app: Flask) -> None:
    default = app.config.get("DEFAULT_LANG") if app.config.get("DEFAULT_LANG") in LANGS else "en"

    @app.before_request
    def pick_language() -> None:
        g.lang = _choose_lang(default)
        if not query_is_utf8():
            abort(400)

    @app.after_request
    def remember_language(response: Response) -> Response:
        wanted = request.args.get("lang") if query_is_utf8() else None
        if wanted in LANGS and request.cookies.get(LANG_COOKIE) != wanted:
            response.set_cookie(
                LANG_COOKIE, wanted, max_age=LANG_COOKIE_DAYS * 86400, samesite="Lax"
            )
        return response

    app.jinja_env.globals.update(
        _=translate, t=translate, lang_switch_url=lang_switch_url, LANGS=LANGS
    )
    app.jinja_env.filters["portal_time"] = format_time
    app.jinja_env.filters["event_label"] = event_label

    @app.context_processor
    def language_context() -> dict[str, object]:
        return {"lang": current_lang()}
