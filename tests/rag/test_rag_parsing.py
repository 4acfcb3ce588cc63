import pytest

from chatai.rag.parsing import ParseError, parse_document
from tests.rag.conftest import make_docx, make_encrypted_pdf, make_pdf, make_scanned_pdf


def test_parse_pdf_keeps_pages_as_sections():
    parsed = parse_document("guide.pdf", make_pdf([["Opening hours", "We open at 9."], ["Refunds take 5 days."]]))
    assert parsed.page_count == 2
    assert [b.section for b in parsed.blocks] == ["Page 1", "Page 2"]
    assert "We open at 9." in parsed.blocks[0].text
    assert "Refunds take 5 days." in parsed.blocks[1].text


def test_parse_pdf_encrypted_is_refused_clearly():
    with pytest.raises(ParseError) as err:
        parse_document("locked.pdf", make_encrypted_pdf())
    assert err.value.code == "encrypted" and "password" in err.value.message


def test_parse_pdf_without_text_layer_says_scanned():
    with pytest.raises(ParseError) as err:
        parse_document("scan.pdf", make_scanned_pdf())
    assert err.value.code == "no_text_layer"
    assert "scanned PDF with no text layer" in err.value.message and "OCR is not supported" in err.value.message


@pytest.mark.parametrize("data", [b"%PDF-1.4 garbage", b"not a pdf at all", make_pdf([["x"]])[:60]])
def test_parse_pdf_corrupt(data):
    with pytest.raises(ParseError) as err:
        parse_document("broken.pdf", data)
    assert err.value.code in ("corrupt", "empty")


def test_parse_docx_headings_become_sections_and_tables_rows():
    parsed = parse_document("manual.docx", make_docx())
    by_text = {b.text: b for b in parsed.blocks}
    assert by_text["We deliver across the city within two working days."].section == "Delivery"
    assert by_text["Plan: Basic; Price: 10 EUR"].section == "Delivery > Prices"
    assert by_text["Plan: Pro; Price: 25 EUR"].kind == "row"
    assert by_text["Returns are accepted within 30 days with a receipt."].section == "Returns"


def test_parse_docx_corrupt():
    with pytest.raises(ParseError) as err:
        parse_document("broken.docx", b"PK\x03\x04 this is not really a zip")
    assert err.value.code == "corrupt"


def test_parse_txt_paragraphs_and_cp1251():
    parsed = parse_document("notes.txt", "Первый абзац\nпродолжение.\n\nВторой абзац.".encode("cp1251"))
    assert [b.text for b in parsed.blocks] == ["Первый абзац продолжение.", "Второй абзац."]


def test_parse_txt_binary_is_corrupt():
    with pytest.raises(ParseError) as err:
        parse_document("notes.txt", b"\x00\x01\x02binary")
    assert err.value.code == "corrupt"


def test_parse_markdown_heading_path_and_lists():
    md = "# Guide\n\nIntro text.\n\n## Install\n\n- step one\n- step two\n\n```\n# not a heading\n```\n"
    parsed = parse_document("guide.md", md.encode())
    sections = {b.text: b.section for b in parsed.blocks}
    assert sections["Intro text."] == "Guide"
    assert sections["step one"] == "Guide > Install"
    assert sections["# not a heading"] == "Guide > Install"


def test_parse_html_strips_scripts_and_styles():
    html = ("<html><head><title>t</title><style>body{color:red}</style></head><body>"
            "<script>alert('x')</script><h1>Shop</h1><p>Open <b>daily</b> from 9.</p>"
            "<h2>Contact</h2><table><tr><td>Phone</td><td>123</td></tr></table></body></html>")
    parsed = parse_document("page.html", html.encode())
    texts = [b.text for b in parsed.blocks]
    assert "Open daily from 9." in texts
    assert not any("alert" in t or "color" in t for t in texts)
    assert {b.section for b in parsed.blocks} == {"Shop", "Shop > Contact"}


def test_parse_csv_with_question_answer_columns_is_qa():
    parsed = parse_document("faq.csv", b"Question;Answer\nDo you ship?;Yes, worldwide.\n")
    assert parsed.qa_pairs == [("Do you ship?", "Yes, worldwide.")]


def test_parse_csv_other_columns_become_rows():
    parsed = parse_document("prices.csv", b"item,price\ntea,3\ncoffee,4\n")
    assert [b.text for b in parsed.blocks] == ["item: tea; price: 3", "item: coffee; price: 4"]


def test_parse_csv_from_russian_excel_semicolons_with_commas_in_cells():
    """As Excel writes it in a Russian locale: ';'-separated, CRLF, commas inside cells and a quoted ';'.
    Python's sniffer gives up on it (and reading it with ',' garbled every row); the rows stay whole."""
    data = ("Услуга;Цена;Что входит\r\n"
            "Первичная консультация;800 руб.;\"Осмотр и план лечения; бесплатно, если лечение начато сразу\"\r\n"
            "Профессиональная гигиена;5500 руб.;Ультразвук, Air Flow, полировка и фторирование эмали\r\n"
            "Имплант под ключ;65000 рублей;Имплантат, абатмент и металлокерамическая коронка\r\n").encode()
    parsed = parse_document("prices.csv", data)
    assert [b.text for b in parsed.blocks][2] == ("Услуга: Имплант под ключ; Цена: 65000 рублей; "
                                                  "Что входит: Имплантат, абатмент и металлокерамическая коронка")
    assert len(parsed.blocks) == 3


def test_parse_html_skips_the_navigation_menu():
    html = "<body><nav><a>Главная</a> · <a>Контакты</a></nav><main><p>Мы работаем с 9 до 21.</p></main></body>"
    texts = [b.text for b in parse_document("site.html", html.encode()).blocks]
    assert texts == ["Мы работаем с 9 до 21."]


@pytest.mark.parametrize(("name", "data", "code"), [
    ("virus.exe", b"MZ", "unsupported_type"),
    ("README", b"hello", "unsupported_type"),
    ("empty.txt", b"", "empty"),
    ("blank.md", b"\n\n   \n", "empty"),
])
def test_parse_rejects(name, data, code):
    with pytest.raises(ParseError) as err:
        parse_document(name, data)
    assert err.value.code == code
