"""K signed-in dashboard tabs (Playwright + Debian's chromium, as tests/e2e) on the owner's inbox, recording
every change of a dialog's preview line with the browser's clock.

One tab signs in through the sign-in page; the others are separate browser contexts started from its cookies
(one sign-in, K sessions of the app: each tab has its own Reflex state and its own WebSocket). In each tab a
MutationObserver notes (customer name, preview text, Date.now()) whenever a listed dialog's preview changes:
a question shows up as the preview, then the bot's reply replaces it. `arrivals` matches these against the
bench's questions and replies (wall-clock times from the fake Telegram, same machine, same clock).
"""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]

# Before the page's scripts: note when each WebSocket message arrives (our listener runs before socket.io's
# onmessage), so an arrival splits into the server's part (up to the message carrying it) and the browser's
# (applying it to the page). The last message before a change is taken as the one that carried it.
FRAME_CLOCK_JS = """(() => {
  const Original = window.WebSocket;
  window.__lastFrame = 0;
  function Patched(...args) {
    const ws = new Original(...args);
    ws.addEventListener('message', () => { window.__lastFrame = Date.now(); });
    return ws;
  }
  Patched.prototype = Original.prototype;
  Object.assign(Patched, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
  window.WebSocket = Patched;
})();"""

OBSERVER_JS = """() => {
  window.__events = [];
  window.__last = {};
  const scan = () => {
    const now = Date.now();
    for (const item of document.querySelectorAll('.dialog-item')) {
      const user = item.querySelector('.dialog-user')?.textContent || '';
      const preview = item.querySelector('.dialog-preview')?.textContent || '';
      if (window.__last[user] !== preview) {
        window.__last[user] = preview;
        window.__events.push([user, preview, now, window.__lastFrame || now]);
      }
    }
  };
  scan();
  if (!window.__observer) {
    window.__observer = new MutationObserver(scan);
    window.__observer.observe(document.body, {childList: true, subtree: true, characterData: true});
  }
}"""


class InboxWatchers:
    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.pages: list[Any] = []
        self.contexts: list[Any] = []
        self._pw: Any = None
        self._browser: Any = None

    async def start(self, k: int, email: str, password: str) -> InboxWatchers:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self._browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        first = await self._new_context()
        page = await first.new_page()
        await page.goto("/signin")
        await page.wait_for_selector("#hydrated", state="attached")
        await page.fill("#email", email)
        await page.fill("#password", password)
        await page.click("#submit")
        await page.wait_for_url("**/dashboard**")
        state = await first.storage_state()
        self.pages.append(page)
        for _ in range(k - 1):
            context = await self._new_context(storage_state=state)
            self.pages.append(await context.new_page())
        for page in self.pages:
            await page.goto("/dashboard/inbox")
            await page.wait_for_selector("#hydrated", state="attached")
            await page.wait_for_selector("#inbox-search", state="attached", timeout=60_000)
        return self

    async def _new_context(self, **kwargs: Any) -> Any:
        context = await self._browser.new_context(base_url=self.app_url, viewport={"width": 1280, "height": 900},
                                                  **kwargs)
        context.set_default_timeout(60_000)
        await context.add_init_script(FRAME_CLOCK_JS)
        self.contexts.append(context)
        return context

    async def reset(self) -> None:
        """Forget what was seen; what is listed now is the baseline."""
        for page in self.pages:
            await page.evaluate(OBSERVER_JS)

    async def events(self) -> list[list[tuple[str, str, float, float]]]:
        """Per tab: (customer name, preview, when the page changed, when the last WebSocket message before it
        arrived), browser clock in seconds, in order."""
        out = []
        for page in self.pages:
            try:
                raw = await page.evaluate("() => window.__events || []")
            except Exception:  # noqa: BLE001 - a crashed tab reports nothing; counted as no arrivals
                raw = []
            out.append([(u, p, t / 1000, f / 1000) for u, p, t, f in raw])
        return out

    async def close(self) -> None:
        for context in self.contexts:
            try:
                await context.close()
            except Exception:  # noqa: BLE001, S110 - closing after a failure
                pass
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()


def arrivals(events: list[tuple[str, str, float, float]], asks: list[dict[str, Any]]) -> dict[str, list[float]]:
    """For one tab: seconds from each question being sent to it showing in the list ("question"; of which
    until the WebSocket message that carried it, "question_server"), and from each reply reaching Telegram to
    it replacing the question there ("reply"). Asks whose dialog never showed are left out (counted by the
    caller as not seen)."""
    by_user: dict[str, list[tuple[str, float, float]]] = {}
    for user, preview, at, frame in events:
        by_user.setdefault(user, []).append((preview, at, frame))
    question_delays: list[float] = []
    server_delays: list[float] = []
    reply_delays: list[float] = []
    for ask in asks:
        seen = by_user.get(f"Customer {ask['chat_id']}", [])
        start = ask["pushed_wall"]
        shown = next(((p, at, frame) for p, at, frame in seen
                      if at >= start - 0.05 and p and ask["question"].startswith(p.rstrip("…")[:40])), None)
        if shown is None:
            continue
        question_delays.append(shown[1] - start)
        server_delays.append(max(0.0, min(shown[1], shown[2]) - start))
        if ask["status"] == "ok":
            reply = next((at for p, at, _ in seen if at >= shown[1] and not ask["question"].startswith(p[:40])),
                         None)
            if reply is not None:
                reply_delays.append(max(0.0, reply - ask["replied_wall"]))
    return {"question": question_delays, "question_server": server_delays, "reply": reply_delays}
