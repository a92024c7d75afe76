"""Conditions answered in one round trip: a tree of bare targets (any, all, not) on the page
is one locator count. Each answer is held to the item-by-item evaluation (the one a scope
that is not the page gets), on real pages in Chromium, and the round trips are counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import flow as flowlib
from agent.play import player
from agent.play.secrets import Secrets

ROW = {"role": "row", "name": "{{ order_id }}"}
CANCELED_CELL = {"role": "cell", "name": "/^Canceled/"}
CANCEL_BUTTON = {"role": "button", "name": "Cancel order"}
NO_RESULTS = {"text": "No orders found"}
STATUS = {"label": "Status"}

CONDITIONS = {
    "row": ROW,
    "any": {"any": [NO_RESULTS, ROW]},
    "all": {"all": [ROW, CANCELED_CELL]},
    "not": {"not": CANCEL_BUTTON},
    "all with not": {"all": [{"any": [ROW, STATUS]}, {"not": CANCEL_BUTTON}]},
    "any of all": {"any": [NO_RESULTS, {"all": [ROW, CANCELED_CELL]}]},
    "not of all": {"not": {"all": [ROW, CANCELED_CELL]}},
    "nested any": {"any": [{"any": [NO_RESULTS, STATUS]}, {"not": ROW}]},
    "with a text check": {"any": [NO_RESULTS, {"target": STATUS, "text": "/^Canceled/"}]},
}

PAGES = {
    "cancellable": """<table><tr><td>112-1</td><td>Unshipped</td>
        <td><button>Cancel order</button></td></tr></table>""",
    "cancelled": "<table><tr><td>112-1</td><td>Canceled</td></tr></table>",
    "other order": "<table><tr><td>112-2</td><td>Canceled</td></tr></table>",
    "hidden row": """<table hidden><tr><td>112-1</td><td>Canceled</td></tr></table>
        <button>Cancel order</button>""",
    "nothing": "<p>No orders found</p>",
    "details": """<label for=s>Status</label><output id=s>Canceled</output>
        <button style="display:none">Cancel order</button>""",
}


def condition_of(raw: dict) -> dict:
    flow = flowlib.load_flow_data(
        {"name": "conditions", "params": {"order_id": {}}, "steps": [{"expect": raw}]}
    )
    return flow.steps[0].args["condition"]


@pytest.fixture(scope="module")
def page(chromium, loop):
    page = loop.run_until_complete(chromium.new_page())
    yield page
    loop.run_until_complete(page.close())


def runner_for(page, tmp_path: Path) -> player._Runner:
    flow = flowlib.load_flow_data({"name": "conditions", "steps": [{"goto": "/"}]})
    secrets = Secrets(email="e@example.com", password="p", totp_secret="JBSWY3DPEHPK3PXP")
    return player._Runner(
        page, flow, {}, portal="http://127.0.0.1:1", secrets=secrets, run_dir=tmp_path, trace=False
    )


@pytest.mark.parametrize("shown", list(PAGES))
def test_the_page_answers_as_item_by_item(page, loop, tmp_path, shown):
    loop.run_until_complete(page.set_content(PAGES[shown]))
    runner = runner_for(page, tmp_path)
    ctx = {"order_id": "112-1"}
    body = page.locator("body")  # a scope that is not the page: asked item by item
    answers = {}
    for name, raw in CONDITIONS.items():
        condition = condition_of(raw)
        combined = loop.run_until_complete(runner.holds(page, condition, ctx))
        one_by_one = loop.run_until_complete(runner.holds(body, condition, ctx))
        assert combined == one_by_one, (shown, name)
        answers[name] = combined
    # The pages tell the conditions apart, so the comparison above says something.
    if shown == "cancelled":
        assert answers["all"] and answers["not"] and not answers["not of all"]
    if shown == "cancellable":
        assert not answers["all"] and not answers["not"] and not answers["all with not"]
    if shown == "hidden row":
        assert not answers["row"] and answers["not of all"]


def test_a_tree_of_bare_targets_is_one_round_trip(page, loop, tmp_path, round_trips):
    loop.run_until_complete(page.set_content(PAGES["cancellable"]))
    runner = runner_for(page, tmp_path)
    ctx = {"order_id": "112-1"}
    round_trips.clear()
    for name in ("all with not", "any of all", "not of all", "nested any"):
        round_trips.clear()
        loop.run_until_complete(runner.holds(page, condition_of(CONDITIONS[name]), ctx))
        assert round_trips == ["queryCount"], name
    # A text check is read from its element: one more round trip for it alone.
    round_trips.clear()
    loop.run_until_complete(runner.holds(page, condition_of(CONDITIONS["with a text check"]), ctx))
    assert round_trips == ["queryCount", "queryCount"]


def test_a_guard_that_finds_nothing_looks_once(page, loop, tmp_path, round_trips):
    """The bundled flow's first guard, on a cancellable order's search result: none of its
    three outcomes holds, answered in two round trips (its one text check apart)."""
    flow = flowlib.load_flow("cancel_order")
    guard = next(step for step in flow.steps if step.kind == "outcome")
    loop.run_until_complete(
        page.set_content(
            """<table><tr data-testid=order-row data-order-id="112-0000001-0000001">
            <td>112-0000001-0000001</td><td data-testid=order-status>Unshipped</td>
            <td><button>Cancel order</button></td></tr></table>"""
        )
    )
    runner = runner_for(page, tmp_path)
    ctx = {"order_id": "112-0000001-0000001"}
    round_trips.clear()
    assert loop.run_until_complete(runner.run_step(page, guard, ctx, flow)) is True
    assert round_trips == ["queryCount", "queryCount"]
