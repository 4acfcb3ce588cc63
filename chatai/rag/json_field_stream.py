"""Read one streamed JSON object piece by piece: the text of one top-level string field comes out as it
arrives (so a structured LLM answer still streams to the user), the other top-level values are kept once
each is complete.

Only the top level is interpreted; nested values are captured whole and decoded with `json` when they end.
Anything before the first "{" (a chatty preamble, a ```json fence) and after the object's closing "}" is
ignored. Escapes are decoded across piece boundaries, \\uXXXX surrogate pairs included. A stream that breaks
the JSON grammar at the top level, or ends before the object closes, is reported by `ok` being False.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WHITESPACE = " \t\r\n"
_FIELD_SPECIAL = re.compile(r'["\\]')  # what ends a run of plain text inside the field's string


class JsonFieldStream:
    def __init__(self, field: str) -> None:
        self.field = field
        self.values: dict[str, Any] = {}  # top-level values complete so far (the field's too, once closed)
        self.closed = False  # the top-level object ended
        self.broken = False  # the top level broke the JSON grammar
        self.field_started = False
        self._state = "before"
        self._key: list[str] = []
        self._key_escape = False
        self._current_key = ""
        self._raw: list[str] = []  # a non-field value being captured
        self._raw_nest = 0
        self._raw_in_string = False
        self._raw_escape = False
        self._text: list[str] = []  # the field's decoded text
        self._escape: str | None = None  # inside the field: the escape read so far after a backslash
        self._high_surrogate: int | None = None

    @property
    def ok(self) -> bool:
        return self.closed and not self.broken

    def feed(self, piece: str) -> str:
        """Consume the next piece of the stream; return the field's newly decoded text ("" if none)."""
        out: list[str] = []
        i, end = 0, len(piece)
        while i < end and not (self.closed or self.broken):
            if self._state == "field_text" and self._escape is None:  # plain text runs go out in one slice
                special = _FIELD_SPECIAL.search(piece, i)
                stop = special.start() if special else end
                if stop > i:
                    self._emit(piece[i:stop], out)
                    i = stop
                    continue
            self._step(piece[i], out)
            i += 1
        if out:
            self._text.extend(out)
        return "".join(out)

    def _step(self, char: str, out: list[str]) -> None:  # noqa: C901, PLR0912 - one small state machine
        state = self._state
        if state == "before":
            if char == "{":
                self._state = "key_or_end"
        elif state in ("key_or_end", "key"):
            if char in _WHITESPACE:
                return
            if char == '"':
                self._key, self._key_escape, self._state = [], False, "key_text"
            elif char == "}" and state == "key_or_end":
                self.closed = True
            else:
                self.broken = True
        elif state == "key_text":
            if self._key_escape:
                self._key.append("\\" + char)
                self._key_escape = False
            elif char == "\\":
                self._key_escape = True
            elif char == '"':
                try:
                    self._current_key = json.loads('"' + "".join(self._key) + '"')
                except ValueError:
                    self.broken = True
                    return
                self._state = "colon"
            else:
                self._key.append(char)
        elif state == "colon":
            if char == ":":
                self._state = "value"
            elif char not in _WHITESPACE:
                self.broken = True
        elif state == "value":
            if char in _WHITESPACE:
                return
            if self._current_key == self.field and char == '"' and not self.field_started:
                self.field_started = True
                self._state = "field_text"
            else:
                self._raw, self._raw_nest, self._raw_in_string, self._raw_escape = [], 0, False, False
                self._state = "raw"
                self._step(char, out)
        elif state == "field_text":
            self._field_char(char, out)
        elif state == "raw":
            self._raw_char(char)
        elif state == "after_value":
            if char == ",":
                self._state = "key"
            elif char == "}":
                self.closed = True
            elif char not in _WHITESPACE:
                self.broken = True

    def _field_char(self, char: str, out: list[str]) -> None:
        if self._escape is not None:
            self._escape += char
            if self._escape[0] != "u":
                decoded = _SIMPLE_ESCAPES.get(self._escape)
                if decoded is None:
                    self.broken = True
                    return
                self._escape = None
                self._emit(decoded, out)
            elif len(self._escape) == 5:
                try:
                    unit = int(self._escape[1:], 16)
                except ValueError:
                    self.broken = True
                    return
                self._escape = None
                self._emit_unit(unit, out)
            return
        if char == "\\":
            self._escape = ""
        elif char == '"':
            self._flush_surrogate(out)
            self.values[self.field] = "".join(self._text) + "".join(out)
            self._state = "after_value"
        else:
            self._emit(char, out)

    def _emit_unit(self, unit: int, out: list[str]) -> None:
        if 0xD800 <= unit <= 0xDBFF:
            self._flush_surrogate(out)
            self._high_surrogate = unit
        elif 0xDC00 <= unit <= 0xDFFF and self._high_surrogate is not None:
            out.append(chr(0x10000 + ((self._high_surrogate - 0xD800) << 10) + (unit - 0xDC00)))
            self._high_surrogate = None
        else:
            self._emit(chr(unit) if not 0xD800 <= unit <= 0xDFFF else "\ufffd", out)

    def _emit(self, text: str, out: list[str]) -> None:
        self._flush_surrogate(out)
        out.append(text)

    def _flush_surrogate(self, out: list[str]) -> None:
        if self._high_surrogate is not None:  # a high surrogate with no low one after it
            out.append("\ufffd")
            self._high_surrogate = None

    def _raw_char(self, char: str) -> None:
        if self._raw_in_string:
            self._raw.append(char)
            if self._raw_escape:
                self._raw_escape = False
            elif char == "\\":
                self._raw_escape = True
            elif char == '"':
                self._raw_in_string = False
            return
        if self._raw_nest == 0 and char in ",}":
            try:
                value = json.loads("".join(self._raw))
            except ValueError:
                self.broken = True
                return
            self.values.setdefault(self._current_key, value)  # the first of duplicate keys counts
            if char == "}":
                self.closed = True
            else:
                self._state = "key"
            return
        self._raw.append(char)
        if char == '"':
            self._raw_in_string = True
        elif char in "{[":
            self._raw_nest += 1
        elif char in "}]":
            self._raw_nest -= 1
            if self._raw_nest < 0:
                self.broken = True
