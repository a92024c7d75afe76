"""How errors become one line."""

import pytest

from agent.errors import one_line


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
