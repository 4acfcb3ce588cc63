"""The incremental reader of a streamed JSON object: the field's text comes out piece by piece, exactly as
json decodes it, wherever the pieces are cut."""

from __future__ import annotations

import json

import pytest

from chatai.rag.json_field_stream import JsonFieldStream

REPLY = {"answer_in_passages": True, "passages_used": [1, 3], "meta": {"a": [1, {"b": "}]"}]},
         "answer": 'Да, "бесплатно" от 3 000 ₽.\nTab\there, slash \\ / and 😀 emoji.'}


def read(raw: str, size: int) -> tuple[JsonFieldStream, list[str]]:
    reader = JsonFieldStream("answer")
    return reader, [reader.feed(raw[i:i + size]) for i in range(0, len(raw), size)]


@pytest.mark.parametrize("ensure_ascii", [True, False])  # \uXXXX escapes (surrogate pairs too) or raw text
@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 1000])
def test_any_cut_gives_the_same_text_and_values(size, ensure_ascii):
    raw = "```json\n" + json.dumps(REPLY, ensure_ascii=ensure_ascii, indent=1) + "\n```"  # a fenced reply
    reader, pieces = read(raw, size)
    assert "".join(pieces) == REPLY["answer"]
    assert reader.ok and reader.values == REPLY


def test_text_comes_out_before_the_object_ends():
    reader = JsonFieldStream("answer")
    assert reader.feed('{"answer_in_passages": false, "answer": "Hel') == "Hel"
    assert reader.values == {"answer_in_passages": False} and not reader.closed
    assert reader.feed('lo"') == "lo"
    assert reader.values["answer"] == "Hello" and not reader.ok
    reader.feed("}")
    assert reader.ok


@pytest.mark.parametrize("raw", [
    '{"answer": "cut off',
    '{"answer": "x",}',
    '{"answer": "x" "passages_used": [1]}',
    '{"answer": "bad \\q escape"}',
    '{"passages_used": [1}, "answer": "x"}',
    '{answer: "x"}',
    "I cannot answer that.",
])
def test_broken_or_unfinished_objects_are_not_ok(raw):
    reader, _ = read(raw, 4)
    assert not reader.ok


def test_the_first_of_duplicate_fields_counts_and_later_text_is_ignored():
    reader, pieces = read('{"answer": "one", "answer": "two"} trailing {"answer": "three"}', 3)
    assert "".join(pieces) == "one" and reader.values == {"answer": "one"} and reader.ok


def test_a_non_string_field_streams_nothing():
    reader, pieces = read('{"answer": null, "passages_used": []}', 2)
    assert pieces == [""] * len(pieces) and reader.values == {"answer": None, "passages_used": []} and reader.ok
