"""How errors become one line."""

import pytest

from agent.errors import held_back, one_line


@pytest.mark.parametrize(
    "raw, line",
    [
        (
            "Locator.fill: Error: Element is not an <input>, <textarea>, <select> or "
            "[contenteditable]\nCall log:\n  - waiting for get_by_test_id('x')\n",
            "Element is not an <input>, <textarea>, <select> or [contenteditable]",
        ),
        (
            "Page.goto: net::ERR_CONNECTION_REFUSED at http://x/",
            "net::ERR_CONNECTION_REFUSED at http://x/",
        ),
        ("Error: Error: twice said", "twice said"),
        ("\x1b[31mLocator.click: Timeout 1000ms exceeded.\x1b[0m", "Timeout 1000ms exceeded."),
        (
            "no element matched testid=x within 1000 ms",
            "no element matched testid=x within 1000 ms",
        ),
    ],
)
def test_playwrights_prefixes_and_call_log_are_left_out(raw, line):
    assert one_line(raw) == line


@pytest.mark.parametrize(
    "raw, reason",
    [
        (
            "Locator.click: Timeout 1500ms exceeded.\nCall log:\n  - attempting click action\n"
            "    2 × waiting for element to be visible, enabled and stable\n"
            "      - element is not stable\n    - retrying click action\n"
            "      - element is not visible\n",
            "element is not visible",  # the last one said
        ),
        (
            "Locator.click: Timeout 1000ms exceeded.\nCall log:\n"
            '  - <div class="veil"></div> intercepts pointer events\n',
            '<div class="veil"></div> intercepts pointer events',
        ),
        ("Locator.click: Timeout 1000ms exceeded.\nCall log:\n  - waiting for x\n", None),
    ],
)
def test_what_held_an_action_back_is_read_from_playwrights_call_log(raw, reason):
    assert held_back(raw) == reason
