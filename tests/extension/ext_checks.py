"""What the extension tests read off a page: how each picture is marked and shown, and the overlay."""

from __future__ import annotations

import time

FLAGGED = "#medpic-overlay .medpic-badge:not(.medpic-note)"


def marks(page) -> dict[str, str]:
    """Each picture with an id: its data-medpic mark ("" when none)."""
    return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('[data-expected][id]')]"
                         ".map(e => [e.id, e.dataset.medpic || '']))")


def eventually(read, expected, timeout_s: float = 30) -> None:
    """Wait until ``read()`` gives ``expected``; fail with what it gives then."""
    deadline = time.monotonic() + timeout_s
    while (now := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert now == expected


def wait_marks(page, expected: dict[str, str], timeout_s: float = 30) -> None:
    """Wait until the pictures named in ``expected`` carry those marks."""
    eventually(lambda: {k: v for k, v in marks(page).items() if k in expected}, expected, timeout_s)


def blurred(page) -> dict[str, bool]:
    """Each picture with an id: whether it is drawn blurred."""
    return page.evaluate("() => Object.fromEntries([...document.querySelectorAll('[data-expected][id]')]"
                         ".map(e => [e.id, getComputedStyle(e).filter.includes('blur')]))")


def badged(page) -> list[str]:
    """What the flagged elements were expected to be (their data-expected), one per badge or veil."""
    return page.evaluate(f"""() => [...document.querySelectorAll('{FLAGGED}')]
        .map(b => document.querySelector(`[data-medpic-key="${{b.dataset.for}}"]`).dataset.expected)""")


def overlay_of(page, element_id: str):
    """The badge or veil of one picture."""
    key = page.get_attribute(f"#{element_id}", "data-medpic-key")
    return page.locator(f'#medpic-overlay [data-for="{key}"]')


def toolbar_count(worker, tab_id: int) -> str:
    return worker.evaluate("id => chrome.action.getBadgeText({tabId: id})", tab_id)


def stored_result(worker, tab_id: int):
    return worker.evaluate("async id => (await chrome.storage.session.get(medpicResultKey(id)))[medpicResultKey(id)]",
                           tab_id)
