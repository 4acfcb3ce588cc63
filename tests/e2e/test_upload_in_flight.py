"""An upload in flight, held there by throttling the browser's upload speed (DevTools network emulation): the
browser asks before the tab is left, and a second drop is refused in words (Reflex's upload zone ignored it
without a word). Once sent, the file is stored and named as received."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from tests.e2e.conftest import create_assistant, open_page, sign_up

SLOW_UPLOAD_BYTES_PER_S = 32 * 1024


def test_an_upload_in_flight_warns_before_leaving_and_refuses_a_second_drop(page, tmp_path):
    sign_up(page, f"upload-{uuid.uuid4().hex[:8]}@example.com")
    create_assistant(page, "Upload helper")
    open_page(page, "/dashboard/knowledge")
    page.click("#tab-documents")  # a click: browsers show the leave dialog only to a page a person used
    slow = tmp_path / "long-menu.txt"
    slow.write_text("We bake rye, wheat and spelt bread every morning.\n" * 8000)  # ~400 KB: ~12 s at 32 KB/s
    second = tmp_path / "hours.txt"
    second.write_text("We open at seven and close at three.\n")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": SLOW_UPLOAD_BYTES_PER_S})
    upload = page.locator("#kb_upload input[type=file]")
    with page.expect_request(lambda request: "/_upload" in request.url):
        upload.set_input_files([str(slow)])

    upload.set_input_files([str(second)])  # dropped while the first is still being sent
    expect(page.locator(".upload-error")).to_contain_text("The previous upload is still being sent")

    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)  # leaving: the browser asks, and staying keeps the upload going
    page.wait_for_function("() => true")  # a round trip: the dialog has been handled
    assert asked == ["beforeunload"] and not page.is_closed()

    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    expect(page.locator("#upload-received")).to_contain_text("long-menu.txt")
    row = page.locator(".document-row", has_text="long-menu.txt")
    expect(row.locator(".document-received")).to_contain_text("Received 20")
    expect(page.locator(".document-row", has_text="hours.txt")).to_have_count(0)  # refused, not half-taken
