"""End to end: the engine and the bundled flows against a live portal in a real Chromium.

One browser for the module (async Playwright on one event loop), a fresh context per test.
"""

import os
import textwrap
import zipfile
from pathlib import Path

import pytest

from agent.cancel.rules import cancel_params, counts_toward_rate
from agent.errors import SessionError
from agent.flow import bind_params, load_flow
from agent.play import browser as browserlib
from agent.play import session
from agent.play.player import run_flow
from agent.play.secrets import Secrets, load_secrets
from mock_portal.testing import running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def secrets(data_home) -> Secrets:
    return load_secrets()


@pytest.fixture(scope="module")
def signed_in(loop, chromium, portal, secrets, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("signin")
    return loop.run_until_complete(
        session.ensure_session(chromium, portal=portal.url, secrets=secrets, run_dir=run_dir)
    )


@pytest.fixture(scope="module")
def own_portal():
    """A portal of this module's own, for faults and failed sign-ins the shared one must not see."""
    with running_portal(seed=2, orders=40) as started:
        yield started


class Runner:
    def __init__(self, loop, chromium, secrets, run_dir: Path):
        self.loop, self.chromium, self.secrets, self.run_dir = loop, chromium, secrets, run_dir
        self.contexts = []

    def page(self, storage: Path | None, portal_url: str, lang: str = "en"):
        async def make():
            context = await browserlib.new_context(self.chromium, storage_state=storage)
            await context.add_cookies([{"name": "lang", "value": lang, "url": portal_url}])
            self.contexts.append(context)
            return await context.new_page()

        return self.loop.run_until_complete(make())

    def sign_in(self, portal_url: str, run_dir: Path) -> Path:
        """The saved session of the demo seller on that portal (signing in when needed)."""
        return self.loop.run_until_complete(
            session.ensure_session(
                self.chromium, portal=portal_url, secrets=self.secrets, run_dir=run_dir
            )
        )

    def run(self, page, flow_ref, params, portal_url, trace=False):
        flow = load_flow(flow_ref) if isinstance(flow_ref, str | Path) else flow_ref
        return self.loop.run_until_complete(
            run_flow(
                page,
                flow,
                bind_params(flow, params),
                portal=portal_url,
                secrets=self.secrets,
                run_dir=self.run_dir,
                trace=trace,
            )
        )

    def close(self):
        for context in self.contexts:
            self.loop.run_until_complete(context.close())


@pytest.fixture
def runner(loop, chromium, secrets, tmp_path):
    created = Runner(loop, chromium, secrets, tmp_path / "run")
    yield created
    created.close()


def test_cancel_an_unshipped_order_in_english(runner, portal, signed_in, unshipped_orders):
    (order_id,) = unshipped_orders(1)
    page = runner.page(signed_in, portal.url)
    params = cancel_params(order_id, "No Inventory", "out of stock")
    result = runner.run(page, "cancel_order", params, portal.url)
    assert (result.outcome, result.ok, result.error) == ("cancelled", True, None)
    assert result.values["buyer_requested"] is False
    assert all(match["candidate"] == 0 for match in result.matches)
    assert counts_toward_rate(result.outcome, params["reason"], result.values["buyer_requested"])
    order = portal.order(order_id)
    assert (order["status"], order["cancel_reason"], order["cancelled_by"]) == (
        "Canceled",
        "NoInventory",
        "seller",
    )
    assert order["cancel_events"] == 1 and order["counts_toward_rate"] is True
    assert order["seller_memo"] == "out of stock"
    (memo_step,) = [step for step in load_flow("cancel_order").steps if step.kind == "fill"]
    assert memo_step.line in [match["line"] for match in result.matches]


def test_without_a_memo_the_memo_field_is_left_alone(runner, portal, signed_in, unshipped_orders):
    (order_id,) = unshipped_orders(1)
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, "cancel_order", cancel_params(order_id, "NoInventory"), portal.url)
    assert (result.outcome, result.ok) == ("cancelled", True)
    # The memo step's condition ({given: memo}) did not hold: it was not played at all.
    (memo_step,) = [step for step in load_flow("cancel_order").steps if step.kind == "fill"]
    assert memo_step.when == {"kind": "given", "value": "memo"}
    played = [match["line"] for match in result.matches]
    assert "submit the cancellation" in [match["step"] for match in result.matches]
    assert memo_step.line not in played, result.matches
    assert portal.order(order_id)["seller_memo"] is None


def test_cancel_in_chinese_with_the_same_flow(runner, portal, signed_in, unshipped_orders):
    (order_id,) = unshipped_orders(1)
    page = runner.page(signed_in, portal.url, lang="zh-CN")
    result = runner.run(page, "cancel_order", cancel_params(order_id, "定价错误"), portal.url)
    assert (result.outcome, result.ok) == ("cancelled", True)
    assert runner.loop.run_until_complete(page.get_attribute("html", "lang")) == "zh-CN"
    assert "已取消" in runner.loop.run_until_complete(page.inner_text("body"))
    order = portal.order(order_id)
    assert (order["status"], order["cancel_reason"]) == ("Canceled", "PricingError")


def test_officially_requested_order_records_the_flag_and_does_not_count(
    runner, portal, signed_in, unshipped_orders
):
    (order_id,) = unshipped_orders(1)
    portal.api_post("/mock/api/buyer-requests", {"order_id": order_id, "kind": "official"})
    page = runner.page(signed_in, portal.url)
    params = cancel_params(order_id, "BuyerCanceled")
    result = runner.run(page, "cancel_order", params, portal.url)
    assert result.outcome == "cancelled" and result.values["buyer_requested"] is True
    assert not counts_toward_rate(result.outcome, params["reason"], True)
    assert portal.order(order_id)["counts_toward_rate"] is False


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_running_again_is_safe_and_says_already_cancelled(
    runner, portal, signed_in, unshipped_orders, lang
):
    (order_id,) = unshipped_orders(1)
    page = runner.page(signed_in, portal.url, lang=lang)
    params = cancel_params(order_id, "GeneralAdjustment")
    assert runner.run(page, "cancel_order", params, portal.url).outcome == "cancelled"
    again = runner.run(page, "cancel_order", params, portal.url)
    assert (again.outcome, again.ok) == ("already_cancelled", True)
    # What the page shows, in its language; reconciling a crashed run reads either.
    shown = {"en": ("Seller", "General Adjustment"), "zh-CN": ("卖家", "一般调整")}[lang]
    assert (again.values["cancelled_by"], again.values["cancel_reason"]) == shown
    assert counts_toward_rate(again.outcome, params["reason"], None) is None
    assert portal.order(order_id)["cancel_events"] == 1


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_pending_and_shipped_orders_are_not_cancellable(
    runner, portal, signed_in, portal_cases, lang
):
    page = runner.page(signed_in, portal.url, lang=lang)
    for case in ("pending", "shipped"):
        order_id = portal_cases[case]
        before = portal.order(order_id)
        result = runner.run(page, "cancel_order", cancel_params(order_id), portal.url)
        assert (result.outcome, result.ok, result.error) == ("not_cancellable", False, None)
        assert portal.order(order_id)["status"] == before["status"]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_unknown_order_is_not_found(runner, portal, signed_in, lang):
    page = runner.page(signed_in, portal.url, lang=lang)
    result = runner.run(page, "cancel_order", cancel_params("999-0000000-0000000"), portal.url)
    assert (result.outcome, result.ok, result.error) == ("not_found", False, None)


def test_collect_cancel_requests_lists_official_requests_only(
    runner, portal, signed_in, portal_cases
):
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, "collect_cancel_requests", {}, portal.url)
    assert (result.outcome, result.ok) == ("collected", True)
    ids = result.values["order_ids"]
    assert portal_cases["flagged"] in ids and portal_cases["flagged_2"] in ids
    assert portal_cases["message_request"] not in ids
    official = {
        mail["order_id"]
        for mail in portal.mail(to="seller@example.com")
        if mail["kind"] == "buyer-request"
    }
    assert set(ids) == official and len(ids) == len(set(ids))


def write_flow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_missing_first_choice_falls_back_and_is_reported(runner, portal, signed_in, tmp_path):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - click: [{testid: no-such-tab}, {testid: tab-shipped}]
            name: open Shipped
        outcomes:
          shipped: {url: /orders-v3/shipped}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.ok) == ("shipped", True)
    assert result.matches == [
        {"step": "open Shipped", "line": 5, "candidate": 1, "spec": "testid=tab-shipped"}
    ]


def test_a_target_missing_from_a_loaded_page_is_a_final_selector_failure_with_evidence(
    runner, portal, signed_in, tmp_path
):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /home
          - click: {testid: never-there}
            timeout: 1500
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url, trace=True)
    # The page loaded and the button is simply not on it: waiting or retrying changes nothing.
    assert (result.outcome, result.ok, result.error_kind) == ("failed", False, "selector")
    assert not result.transient
    shot, trace = result.evidence
    assert shot.endswith(".png") and trace.endswith("-trace.zip")
    assert Path(shot).stat().st_size > 0 and Path(trace).stat().st_size > 0
    assert result.error == (
        f"step click (line 5): no element matched testid=never-there within 1500 ms "
        f"(evidence: {shot}, {trace})"
    )
    assert "\n" not in result.error


def test_secrets_typed_into_pages_never_show_in_results(runner, portal, signed_in, tmp_path):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - fill: {target: {testid: search-input}, value: '{{ password }}'}
          - click: {testid: search-submit}
          - extract: {target: {testid: search-summary}, as: summary}
          - click: {testid: no-button}
            timeout: 500
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url, trace=True)
    assert "***" in result.values["summary"]
    assert result.error_kind == "selector"
    (trace,) = [p for p in result.evidence if p.endswith(".zip")]
    with zipfile.ZipFile(trace) as archive:
        contents = [archive.read(name) for name in archive.namelist()]
    assert not any(b"demo-password" in data for data in contents)
    assert any(b"***" in data for data in contents)
    assert "demo-password" not in repr(result)


def test_a_saved_session_is_checked_over_http_and_an_ended_one_is_replaced(
    runner, own_portal, secrets, tmp_path
):
    def ensure():
        return runner.sign_in(own_portal.url, tmp_path)

    def works(path):
        return runner.loop.run_until_complete(
            session.session_works(runner.chromium, path, portal=own_portal.url)
        )

    storage = ensure()
    assert works(storage)
    # The portal ends the session on the check's own request: the check sees the redirect to
    # the sign-in page, and (the session being over) ensure_session signs in again and saves
    # a new state.
    own_portal.api_post(
        "/mock/api/faults", {"expire_session_every": 1, "methods": ["GET"], "paths": ["/home"]}
    )
    try:
        assert not works(storage)
    finally:
        own_portal.api_post("/mock/api/faults", {})
    before = storage.stat().st_mtime_ns
    assert ensure() == storage
    assert storage.stat().st_mtime_ns > before
    assert works(storage)


def test_an_expired_session_mid_run_signs_in_again_and_goes_on(
    runner, own_portal, secrets, tmp_path
):
    storage = runner.sign_in(own_portal.url, tmp_path)
    first_saved = storage.stat().st_mtime_ns
    orders = [
        o["order_id"]
        for o in own_portal.orders(status="Unshipped", seller="seller@example.com")
        if not o["buyer_requested"]
    ][:2]
    # Every second cancel POST finds its session expired: the second order's submit is lost
    # to the sign-in page, exactly when it hurts most.
    own_portal.api_post(
        "/mock/api/faults",
        {"expire_session_every": 2, "methods": ["POST"], "paths": ["/orders-v3/order/"]},
    )
    try:
        page = runner.page(storage, own_portal.url)
        results = [
            runner.run(page, "cancel_order", cancel_params(o, "NoInventory"), own_portal.url)
            for o in orders
        ]
        expired = own_portal.api_get("/mock/api/faults")["counters"]["expired"]
    finally:
        own_portal.api_post("/mock/api/faults", {})
    assert expired == 1
    assert [(r.outcome, r.error) for r in results] == [("cancelled", None)] * 2
    assert [own_portal.order(o)["cancel_events"] for o in orders] == [1, 1]
    assert storage.stat().st_mtime_ns > first_saved
    assert oct(storage.stat().st_mode & 0o777) == "0o600"


def test_a_target_behind_a_navigation_that_never_answers_is_a_transient_timeout(
    runner, own_portal, secrets, tmp_path
):
    storage = runner.sign_in(own_portal.url, tmp_path)
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /home
          - evaluate: location.assign('/orders-v3/')
          - click: {testid: tab-shipped}
            timeout: 1500
        """,
    )
    page = runner.page(storage, own_portal.url)
    own_portal.api_post(
        "/mock/api/faults", {"stall_every": 1, "stall_seconds": 4, "paths": ["/orders-v3/"]}
    )
    try:
        result = runner.run(page, path, {}, own_portal.url)
    finally:
        own_portal.api_post("/mock/api/faults", {})
    assert (result.outcome, result.error_kind) == ("failed", "timeout"), result.error
    assert result.transient


@pytest.mark.parametrize(
    ("faults", "kind", "retry_after"),
    [
        ({"error_every": 1, "paths": ["/orders-v3/"]}, "http_5xx", None),
        ({"burst_429": 50, "retry_after": 7, "paths": ["/orders-v3/"]}, "http_429", 7.0),
    ],
)
def test_error_pages_are_reported_as_transient(
    runner, own_portal, secrets, tmp_path, faults, kind, retry_after
):
    storage = runner.sign_in(own_portal.url, tmp_path)
    page = runner.page(storage, own_portal.url)
    # The page has played a row before, as a bulk worker's page has: the events of its second
    # run (the error page's status) reach that run.
    first = runner.run(page, "cancel_order", cancel_params("999-0000000-0000001"), own_portal.url)
    assert first.outcome == "not_found"
    own_portal.api_post("/mock/api/faults", faults)
    try:
        result = runner.run(
            page, "cancel_order", cancel_params("999-0000000-0000000"), own_portal.url
        )
    finally:
        own_portal.api_post("/mock/api/faults", {})
    assert (result.outcome, result.error_kind, result.retry_after) == ("failed", kind, retry_after)
    assert result.transient
    assert result.error.startswith("HTTP ")


def test_sign_in_in_chinese_saves_a_private_session(runner, own_portal, secrets):
    page = runner.page(None, own_portal.url, lang="zh-CN")
    context = page.context
    runner.loop.run_until_complete(
        session.sign_in(context, portal=own_portal.url, secrets=secrets, run_dir=runner.run_dir)
    )
    path = browserlib.storage_state_path(own_portal.url, secrets.email)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "seller@example.com" not in str(path)


def test_a_wrong_password_fails_with_the_portals_message(runner, own_portal):
    wrong = Secrets(
        email="seller@example.com", password="not-the-password", totp_secret="JBSWY3DPEHPK3PXP"
    )
    page = runner.page(None, own_portal.url)
    with pytest.raises(SessionError) as caught:
        runner.loop.run_until_complete(
            session.sign_in(
                page.context, portal=own_portal.url, secrets=wrong, run_dir=runner.run_dir
            )
        )
    assert str(caught.value) == f"signing in to {own_portal.url} failed: Your password is incorrect"
    assert "not-the-password" not in str(caught.value)
    assert not os.path.exists(runner.run_dir / "nothing")


def test_a_flow_can_run_another_and_use_what_it_extracted(runner, portal, signed_in, tmp_path):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - flow: collect_cancel_requests
          - goto: /orders-v3/search?q={{ order_ids[0] }}&qt=orderid
          - within:
              target: {css: 'tr[data-testid=order-row]'}
              steps:
                - extract: {target: {testid: order-link}, as: first}
        outcomes:
          flagged: {testid: cancel-requested-badge}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.error) == ("flagged", None)
    assert result.values["first"] == result.values["order_ids"][0]


def test_a_closed_page_is_a_failed_run_not_an_exception(runner, portal, signed_in):
    page = runner.page(signed_in, portal.url)
    runner.loop.run_until_complete(page.close())
    result = runner.run(page, "cancel_order", cancel_params("999-0000000-0000000"), portal.url)
    assert (result.outcome, result.ok, result.error_kind) == ("failed", False, "step")
    assert "closed" in result.error


def test_a_hidden_first_match_does_not_hide_a_visible_one(runner, portal, signed_in, tmp_path):
    # Two elements match the target; the first in the page is hidden. Waiting for the target,
    # checking it and reading it all go by the visible one.
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - evaluate: >-
              document.body.insertAdjacentHTML('afterbegin',
              '<p class="probe" hidden>hidden</p><p class="probe">shown</p>')
          - wait: {css: p.probe}
            timeout: 3000
          - expect: {css: p.probe}
            timeout: 3000
        outcomes:
          seen: {css: p.probe}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.ok, result.error) == ("seen", True, None)


def test_waits_last_until_the_page_changes_and_go_on_polling_for_the_rest(
    runner, portal, signed_in, tmp_path
):
    # The marker comes 1.5 s after the page loads; the condition then also needs another
    # element gone, which happens half a second later. The wait ends only when both hold.
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - evaluate: >-
              document.body.insertAdjacentHTML('afterbegin', '<p id="busy">busy</p>');
              setTimeout(() => document.body.insertAdjacentHTML('afterbegin',
              '<p id="ready">ready</p>'), 1500);
              setTimeout(() => document.getElementById('busy').remove(), 2000)
          - wait:
              all:
                - {css: '#ready'}
                - not: {css: '#busy'}
            timeout: 8000
          - extract: {target: {css: '#busy'}, as: busy_left, present: true}
        outcomes:
          ready: {css: '#ready'}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.ok, result.error) == ("ready", True, None)
    assert result.values["busy_left"] is False


def test_a_fill_on_a_select_chooses_the_option_by_value_or_label(
    runner, portal, signed_in, unshipped_orders, tmp_path
):
    # What importing Chrome's recording of a select's change gives: `change` says nothing
    # about the element, so it becomes a fill; Chrome's replay sets whatever element it is.
    (order_id,) = unshipped_orders(1)
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        params:
          order_id: {type: string}
        steps:
          - goto: /orders-v3/order/{{ order_id }}/cancel
          - fill: {target: [{label: Reason for cancellation, exact: true}], value: NoInventory}
          - expect: {target: {testid: cancel-reason}, value: NoInventory}
          - fill: {target: {testid: cancel-reason}, value: Pricing Error}
          - expect: {target: {testid: cancel-reason}, value: PricingError}
          - fill: {target: {testid: cancel-memo}, value: typed as ever}
          - expect: {target: {testid: cancel-memo}, value: typed as ever}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {"order_id": order_id}, portal.url)
    assert (result.outcome, result.ok, result.error) == ("completed", True, None)
    assert portal.order(order_id)["status"] == "Unshipped"  # chosen, never submitted


def test_a_fill_nothing_can_take_fails_with_playwrights_reason_once(
    runner, portal, signed_in, unshipped_orders, tmp_path
):
    (order_id,) = unshipped_orders(1)
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        params:
          order_id: {type: string}
        steps:
          - goto: /orders-v3/order/{{ order_id }}/cancel
          - fill: {target: {testid: cancel-submit}, value: x}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {"order_id": order_id}, portal.url)
    assert (result.outcome, result.error_kind) == ("failed", "step")
    reason = result.error.split(" (evidence: ")[0]
    assert reason.startswith("step fill (line 7): Element is not an <input>"), reason
    assert "Error:" not in result.error


def test_an_outcome_missing_from_a_loaded_page_is_a_final_selector_failure(
    runner, portal, signed_in, tmp_path
):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        timeout: 1500
        params:
          order_id: {type: string}
        steps:
          - goto: /orders-v3/order/{{ order_id }}
        outcomes:
          found: {testid: order-status}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {"order_id": "999-0000000-0000000"}, portal.url)
    # The portal answered "No orders found": waiting or retrying changes nothing.
    assert (result.outcome, result.error_kind) == ("failed", "selector"), result.error
    assert not result.transient
    assert result.error.startswith("no outcome (found) was reached within 1500 ms")


def test_an_outcome_behind_a_page_that_never_answers_is_a_transient_timeout(
    runner, own_portal, secrets, tmp_path
):
    storage = runner.sign_in(own_portal.url, tmp_path)
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        timeout: 1500
        steps:
          - goto: /home
          - evaluate: location.assign('/orders-v3/')
        outcomes:
          listed: {testid: tab-shipped}
        """,
    )
    page = runner.page(storage, own_portal.url)
    own_portal.api_post(
        "/mock/api/faults", {"stall_every": 1, "stall_seconds": 4, "paths": ["/orders-v3/"]}
    )
    try:
        result = runner.run(page, path, {}, own_portal.url)
    finally:
        own_portal.api_post("/mock/api/faults", {})
    assert (result.outcome, result.error_kind) == ("failed", "timeout"), result.error
    assert result.transient


def test_a_candidate_that_matches_several_elements_gives_way_to_one_that_matches_one(
    runner, portal, signed_in, tmp_path
):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - click: [{text: Canceled}, {testid: tab-canceled}]
            name: open Canceled
        outcomes:
          canceled: {url: /orders-v3/mfn/canceled}
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.ok, result.error) == ("canceled", True, None)
    assert result.matches == [
        {"step": "open Canceled", "line": 5, "candidate": 1, "spec": "testid=tab-canceled"}
    ]


def test_a_target_no_candidate_of_which_matches_one_element_fails_in_one_whole_line(
    runner, portal, signed_in, tmp_path
):
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /orders-v3/
          - click: [{text: Canceled}, {testid: no-such-tab}]
        """,
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {}, portal.url)
    assert (result.outcome, result.error_kind) == ("failed", "step")
    assert result.error.split(" (evidence: ")[0] == (
        "step click (line 5): text=Canceled matched 2 elements, testid=no-such-tab matched 0 "
        "elements; a target must match one element (add nth, has_text or a narrower candidate)"
    )


def test_error_lines_name_rendered_values_but_templates_of_secrets_as_written(
    runner, portal, signed_in, tmp_path
):
    page = runner.page(signed_in, portal.url)
    params = {"order_id": "112-0000001-0000001", "api_key": "k-secret-value"}
    said = {}
    for step in (
        "wait: {url: '/nothing/{{ order_id }}'}",
        "expect: {text: 'key {{ api_key | upper }} of {{ order_id }}'}",
        "click: {testid: 'x-{{ order_id }}-{{ password | upper }}'}",
        "click: [{testid: 'x-{{ order_id }}'}, {text: '{{ api_key }}'}]",
    ):
        path = write_flow(
            tmp_path,
            f"""\
            name: probe
            session: login
            params:
              order_id: {{type: string}}
              api_key: {{type: string, secret: true}}
            steps:
              - goto: /home
              - {step}
                timeout: 500
            """,
        )
        result = runner.run(page, path, params, portal.url)
        assert result.outcome == "failed"
        assert "K-SECRET-VALUE" not in result.error and "DEMO-PASSWORD" not in result.error
        said[step.split(":")[0]] = said.get(step.split(":")[0], []) + [
            result.error.split(" (evidence: ")[0]
        ]
    assert said == {
        "wait": [
            "step wait (line 8): timed out after 500 ms waiting for url /nothing/112-0000001-0000001"
        ],
        "expect": [
            "step expect (line 8): expected text=key {{ api_key | upper }} of {{ order_id }} within 500 ms"
        ],
        "click": [
            "step click (line 8): no element matched testid=x-{{ order_id }}-{{ password | upper }} "
            "within 500 ms",
            "step click (line 8): no element matched testid=x-112-0000001-0000001 or "
            "text={{ api_key }} within 500 ms",
        ],
    }


# An element found that never takes the step's action, on a page that has loaded: the page is
# not what the flow expects, and a retry would meet the same page (selector, final), told
# with the reason, after the step's own timeout and no later.
REFUSALS = """\
name: probe
session: login
timeout: 20000
params:
  order_id: {type: string}
steps:
  - goto: /orders-v3/order/{{ order_id }}/cancel
  - evaluate: "%s"
  - %s
    timeout: 1500
"""


@pytest.mark.parametrize(
    ("setup", "step", "said"),
    [
        (
            "document.querySelector('[data-testid=cancel-submit]').disabled = true",
            "click: {testid: cancel-submit}",
            "step click (line 9): testid=cancel-submit stayed disabled for 1500 ms",
        ),
        (
            "const cover = document.createElement('div'); cover.id = 'veil';"
            " cover.style.cssText = 'position:fixed;inset:0;z-index:9'; document.body.append(cover)",
            "click: {testid: cancel-submit}",
            'step click (line 9): testid=cancel-submit stayed covered by <div id="veil"> '
            "for 1500 ms",
        ),
        (
            "document.querySelector('[data-testid=cancel-memo]').readOnly = true",
            "fill: {target: {testid: cancel-memo}, value: x}",
            "step fill (line 9): testid=cancel-memo stayed read-only for 1500 ms",
        ),
        (
            "document.title = 'ready'",
            "select: {target: {testid: cancel-reason}, option: NoSuchReason}",
            "step select (line 9): no option 'NoSuchReason' in testid=cancel-reason within "
            "1500 ms (its options: ",
        ),
        (
            "document.title = 'ready'",
            "wait: {target: {testid: cancel-submit}, state: hidden}",
            "step wait (line 9): testid=cancel-submit was still visible after 1500 ms",
        ),
        (
            "document.title = 'ready'",
            "wait: {target: {testid: cancel-submit}, state: detached}",
            "step wait (line 9): testid=cancel-submit was still on the page after 1500 ms",
        ),
        (
            "const style = document.createElement('style'); style.textContent ="
            " '@keyframes sway { to { transform: translateX(40px) } }"
            " [data-testid=cancel-submit] { animation: sway 0.3s infinite linear }';"
            " document.head.append(style)",
            "click: {testid: cancel-submit}",
            # Nothing of ours to say: Playwright's line, and what its call log says.
            "step click (line 9): Timeout 1500ms exceeded (element is not stable)",
        ),
        (
            "document.querySelector('[data-testid=cancel-submit]').style.display = 'none'",
            "click: {testid: cancel-submit}",
            "step click (line 9): no visible element matched testid=cancel-submit within "
            "1500 ms (1 on the page, hidden)",
        ),
    ],
    ids=[
        "disabled",
        "covered",
        "read-only",
        "no-such-option",
        "never-hidden",
        "never-detached",
        "unstable",
        "hidden",
    ],
)
def test_an_element_that_never_takes_its_action_on_a_loaded_page_is_a_final_selector_failure(
    runner, portal, signed_in, unshipped_orders, tmp_path, setup, step, said
):
    (order_id,) = unshipped_orders(1)
    path = write_flow(tmp_path, REFUSALS % (setup.replace('"', '\\"'), step))
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {"order_id": order_id}, portal.url)
    assert (result.outcome, result.error_kind) == ("failed", "selector"), result.error
    assert not result.transient
    assert result.error.startswith(said), result.error
    # The step's own 1500 ms, and the look at why: far from the flow's 20 s.
    assert result.duration < 10, result.duration
    assert portal.order(order_id)["status"] == "Unshipped"


def test_a_missing_option_lists_the_selects_options(
    runner, portal, signed_in, unshipped_orders, tmp_path
):
    (order_id,) = unshipped_orders(1)
    path = write_flow(
        tmp_path,
        REFUSALS
        % ("document.title = 'ready'", "select: {target: {testid: cancel-reason}, option: Nope}"),
    )
    page = runner.page(signed_in, portal.url)
    result = runner.run(page, path, {"order_id": order_id}, portal.url)
    options = result.error.split("(its options: ")[1].split(")")[0]
    assert "'No Inventory'" in options and "'Buyer Canceled'" in options, result.error


def test_an_action_on_a_page_still_loading_stays_a_transient_timeout(
    runner, own_portal, secrets, tmp_path
):
    storage = runner.sign_in(own_portal.url, tmp_path)
    # The button is there but disabled, and the page is on its way to another that never
    # answers: the page did not load, so a retry may well help.
    path = write_flow(
        tmp_path,
        """\
        name: probe
        session: login
        steps:
          - goto: /home
          - evaluate: >-
              document.body.insertAdjacentHTML('beforeend',
              '<button data-testid=stuck disabled>Stuck</button>');
              setTimeout(() => location.assign('/orders-v3/'), 100)
          - click: {testid: stuck}
            timeout: 1500
        """,
    )
    page = runner.page(storage, own_portal.url)
    own_portal.api_post(
        "/mock/api/faults", {"stall_every": 1, "stall_seconds": 5, "paths": ["/orders-v3/"]}
    )
    try:
        result = runner.run(page, path, {}, own_portal.url)
    finally:
        own_portal.api_post("/mock/api/faults", {})
    assert (result.outcome, result.error_kind) == ("failed", "timeout"), result.error
    assert result.transient
