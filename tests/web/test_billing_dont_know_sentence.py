"""The billing page states that "don't know" replies are never charged (issue 20), in English and Russian."""

from __future__ import annotations

import chatai.chatai  # noqa: F401 - registers every page state on the tree
from chatai.web.i18n import text
from chatai.web.pages.billing import billing_content


def test_the_billing_page_says_dont_know_replies_are_free():
    rendered = str(billing_content().render())
    assert "billing-dont-know-free" in rendered and "billing_dont_know_free" in rendered
    assert text("en", "billing_dont_know_free") == (
        "Replies where the assistant says it does not know and passes the conversation to a person are never "
        "charged.")
    assert text("ru", "billing_dont_know_free").endswith("никогда не оплачиваются.")
