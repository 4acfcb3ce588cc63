from chatai.rag.chunking import chunk_blocks, estimate_tokens
from chatai.rag.parsing import Block


def test_chunks_never_cross_sections():
    blocks = [Block("Alpha text.", "A"), Block("Beta text.", "B"), Block("More beta.", "B")]
    chunks = chunk_blocks(blocks)
    assert [(c.section, c.text) for c in chunks] == [("A", "Alpha text."), ("B", "Beta text.\nMore beta.")]
    assert [c.position for c in chunks] == [0, 1]


def test_long_section_splits_at_paragraphs_with_overlap():
    paragraphs = [f"Paragraph {i} " + "word " * 40 + "end." for i in range(8)]
    chunks = chunk_blocks([Block(p, "S") for p in paragraphs], max_tokens=120, overlap_tokens=60)
    assert len(chunks) > 2
    assert all(c.token_count <= 120 for c in chunks)
    # Each chunk after the first starts with the previous chunk's last paragraph (the overlap).
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        assert cur.text.split("\n")[0] == prev.text.split("\n")[-1]
    # Every paragraph is somewhere.
    joined = "\n".join(c.text for c in chunks)
    assert all(p in joined for p in paragraphs)


def test_huge_paragraph_is_split_by_sentences_then_words():
    text = " ".join(f"Sentence number {i} is here." for i in range(100)) + " " + "x" * 5 + " y" * 400
    chunks = chunk_blocks([Block(text, "")], max_tokens=100, overlap_tokens=20)
    assert all(c.token_count <= 100 for c in chunks)
    assert "Sentence number 0 is here." in chunks[0].text


def test_table_rows_are_not_overlapped():
    rows = [Block(f"Plan: P{i}; Price: {i} EUR; Notes: " + "n " * 30, "Prices", "row") for i in range(10)]
    chunks = chunk_blocks(rows, max_tokens=100, overlap_tokens=40)
    seen = [line for c in chunks for line in c.text.split("\n")]
    assert len(seen) == len(set(seen)) == 10


def test_estimate_tokens():
    assert estimate_tokens("") == 0
    assert estimate_tokens("one two three") == 4
