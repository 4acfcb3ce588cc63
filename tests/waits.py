"""How long a test waits for something that must happen.

Generous on purpose: a wait ends as soon as its condition holds, so only a broken run ever waits this long,
and a machine busy with other work (2 shared cores, a whole suite or another engineer's benchmark beside)
is slow, not broken. A test never passes or fails by how fast something happened; timings are bench/'s.
"""

PATIENCE = 60.0  # seconds: polling helpers (tests/bots/conftest.wait_for, the fakes' wait_sent/await_sent)
PATIENCE_MS = int(PATIENCE * 1000)  # Playwright: expect() (5 s by default), actions and locator waits
