"""Uploaded files as articles: `knowledge.importers.parse_upload` for every format and every refusal."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, StreamObject

from knowledge.chunking import ArticleFormatError, chunk_article
from knowledge.importers import (
    MAX_UPLOAD_BYTES,
    SUPPORTED_SUFFIXES,
    Imported,
    ImportFormatError,
    parse_path,
    parse_upload,
)
from tests.pdfs import write_blank_pdf, write_pdf


def _one(filename: str, data: bytes | str, **kwargs: str) -> Imported:
    raw = data.encode() if isinstance(data, str) else data
    [imported] = parse_upload(filename, raw, **kwargs)
    return imported


def _sections(imported: Imported) -> dict[str, str]:
    return {chunk.section: chunk.text for chunk in chunk_article(imported.article)}


def _error(filename: str, data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ImportFormatError) as caught:
        parse_upload(filename, raw)
    assert str(caught.value).startswith(filename)
    return str(caught.value)


# Every format


def test_public_constants() -> None:
    assert SUPPORTED_SUFFIXES == (".md", ".markdown", ".html", ".htm", ".pdf", ".txt", ".csv")
    assert MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert issubclass(ImportFormatError, ArticleFormatError)


def test_unsupported_suffix_lists_the_supported_ones() -> None:
    message = _error("notes.docx", b"PK\x03\x04")
    assert "'.docx'" in message
    assert all(suffix in message for suffix in SUPPORTED_SUFFIXES)
    assert "without an extension" in _error("README", b"hello")


def test_file_over_the_limit_is_refused_with_the_limit() -> None:
    message = _error("huge.txt", b"a" * (MAX_UPLOAD_BYTES + 1))
    assert "10 MB" in message
    assert "split" in message


@pytest.mark.parametrize("suffix", SUPPORTED_SUFFIXES)
@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n "])
def test_empty_file_of_any_format(suffix: str, data: bytes) -> None:
    assert "is empty" in _error(f"article{suffix}", data)


@pytest.mark.parametrize("suffix", [".md", ".html", ".txt", ".csv"])
def test_nul_bytes_in_a_text_format_mean_a_binary_file(suffix: str) -> None:
    message = _error(f"article{suffix}", b"Title\n\x00\x01\x02 binary")
    assert "looks like a binary file" in message


def test_slug_defaults_to_the_file_stem_and_can_be_given() -> None:
    assert _one("Returns Policy (2026).txt", "Returns\n\nText.").article.slug == "returns-policy-2026"
    assert _one("returns.txt", "Returns\n\nText.", slug="custom").article.slug == "custom"


def test_parse_path_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "delivery-times.txt"
    path.write_text("Delivery times\n\nMost orders arrive in 3 days.\n", encoding="utf-8")
    [imported] = parse_path(path)
    assert imported.filename == "delivery-times.txt"
    assert imported.format == "text"
    assert imported.article.slug == "delivery-times"
    assert imported.article.extra == {"source_format": "text"}


def test_a_title_alone_is_not_an_article() -> None:
    assert "no article text" in _error("title-only.html", "<h1>Only a title</h1>")


# Markdown

MARKDOWN = """---
title: Returning an item
category: returns
updated: 2026-09-14
tags: [returns, refunds]
owner: support-ops
---

Brightwell accepts most items back within 30 days of delivery.

## Start a return

Open the order and choose Return items.

### Drop-off points

Take the parcel to any Parcel Point.
"""


def test_markdown_keeps_front_matter_and_sections() -> None:
    imported = _one("returns.md", MARKDOWN)
    article = imported.article
    assert (imported.format, article.slug, article.title) == ("markdown", "returns", "Returning an item")
    assert (article.category, article.updated, article.tags) == (
        "returns",
        "2026-09-14",
        ["returns", "refunds"],
    )
    assert article.extra == {"owner": "support-ops", "source_format": "markdown"}
    assert _sections(imported) == {
        "Overview": "Brightwell accepts most items back within 30 days of delivery.",
        "Start a return": "Open the order and choose Return items.",
        "Start a return › Drop-off points": "Take the parcel to any Parcel Point.",
    }
    assert imported.warnings == ()


def test_markdown_with_a_bom_and_the_markdown_suffix() -> None:
    imported = _one("guide.markdown", "\ufeff# Guide\n\nOne paragraph.\n".encode())
    assert imported.article.title == "Guide"
    assert imported.warnings == ("no headings found: one section",)


def test_markdown_pictures_are_left_out_with_their_alt_text_kept() -> None:
    text = (
        b"# Setting up\n\n## Pairing\n\nPress the button "
        b'![the pairing button](https://cdn.example/b.png "b") for 3 seconds.\n\n'
        b"![][diagram]\n\nA literal \\![not a picture] stays.\n\n"
        b"[diagram]: https://cdn.example/d.png\n"
    )
    imported = _one("setup.md", text)
    body = imported.article.body
    assert "Press the button the pairing button for 3 seconds." in body
    assert "cdn.example/b.png" not in body and "![" not in body.replace("\\![", "")
    assert "\\![not a picture] stays" in body
    assert imported.warnings == (
        "2 picture(s) left out, their alt text kept: the help center shows text, and a customer's page must "
        "not load images from the sites they name",
    )


def test_markdown_pictures_by_shortcut_after_an_escaped_backslash_or_over_lines_are_left_out_too() -> None:
    text = (
        b"# Guide\n\n## Parts\n\nThe ![logo] and \\\\![x](https://cdn.example/x.png) and ![two\nlines]"
        b"(https://cdn.example/y.png).\n\n[logo]: https://cdn.example/logo.png\n"
    )
    imported = _one("guide.md", text)
    body = imported.article.body
    assert "The logo and \\\\x and two lines." in body
    assert "x.png" not in body and "y.png" not in body and "![" not in body
    assert imported.warnings[0].startswith("3 picture(s) left out")


def test_markdown_errors_name_the_file() -> None:
    message = _error("untitled.md", "Just text, no heading.\n")
    assert message.startswith("untitled.md: no title")
    assert "title:" in message
    assert "not valid YAML" in _error("broken.md", "---\ntitle: [unclosed\n---\nText\n")


def test_markdown_must_be_utf8() -> None:
    message = _error("latin.md", "# Café\n\nCrème brûlée.\n".encode("cp1252"))
    assert "not valid UTF-8" in message
    assert "save it with UTF-8" in message


# HTML

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Returns | Brightwell Help</title>
<style>p { color: red }</style><script>var menu = "<p>Do not import</p>";</script></head>
<body>
<header><a href="/">Brightwell</a></header>
<nav><ul><li>Home</li><li>Orders</li></ul></nav>
<main><article>
<header><h1>Returning   an <em>item</em></h1></header>
<p>Brightwell accepts most items back within <strong>30 days</strong> of delivery.<br>Sale items
   too &amp; gifts.</p>
<h2>Start a return</h2>
<div>Open the <a href="https://example.com/orders">order page</a> and choose
<a href="/returns/new">Return items</a>, or <a href="mailto:help@example.com">email us</a>.</div>
<ol><li>Open the order</li><li><p>Choose the items</p></li>
<li>Print the label<ul><li>at home</li><li>at a Parcel Point</li></ul></li></ol>
<h3>Drop-off points</h3>
<table><tr><th>Carrier</th><th>Days</th></tr><tr><td>Parcel <b>Point</b></td><td>3</td></tr></table>
<h4>For developers</h4>
<p># This line is not a heading</p>
<pre><code>curl -X POST https://example.com/api/returns
  --data order=123</code></pre>
<h1>Refunds</h1>
<p>Refunds go back to the <i>original</i> payment method; see <code>Orders</code>.</p>
<aside>Related: Exchanges</aside>
<form><input name="q"><button>Search</button></form>
<noscript>Enable JavaScript</noscript>
<svg><text>Chart</text></svg>
</article></main>
<footer>Copyright Brightwell</footer>
</body></html>
"""


def test_html_becomes_sections() -> None:
    imported = _one("returns.html", HTML)
    assert imported.format == "html"
    assert imported.article.title == "Returning an item"
    assert imported.warnings == ()
    assert _sections(imported) == {
        "Overview": "Brightwell accepts most items back within **30 days** of delivery.\n"
        "Sale items too & gifts.",
        "Start a return": "Open the [order page](https://example.com/orders) and choose Return items, or "
        "[email us](mailto:help@example.com).\n\n"
        "1. Open the order\n2. Choose the items\n3. Print the label\n  - at home\n  - at a Parcel Point",
        "Start a return › Drop-off points": "Carrier | Days\nParcel **Point** | 3",
        "Start a return › Drop-off points › For developers": "\\# This line is not a heading\n\n"
        "```\ncurl -X POST https://example.com/api/returns\n  --data order=123\n```",
        "Refunds": "Refunds go back to the *original* payment method; see `Orders`.",
    }


def test_html_drops_page_chrome() -> None:
    body = _one("returns.html", HTML).article.body
    for dropped in ("Do not import", "color", "Home", "Brightwell Help", "Related", "Search", "JavaScript"):
        assert dropped not in body
    assert "Chart" not in body and "Copyright" not in body


def test_html_title_falls_back_to_title_tag_then_file_name() -> None:
    page = "<html><head><title>Gift cards</title></head><body><h2>Balance</h2><p>Check it.</p></body></html>"
    assert _one("gift.htm", page).article.title == "Gift cards"
    imported = _one("gift-cards_faq.html", "<p>Gift cards never expire.</p>")
    assert imported.article.title == "Gift cards faq"
    assert imported.warnings == (
        "no <h1> or <title>: the title 'Gift cards faq' comes from the file name",
        "no headings found: one section",
    )


def test_html_charset_from_meta_then_windows_1252() -> None:
    page = '<meta charset="iso-8859-1"><h1>Café</h1><p>Crème brûlée</p>'
    declared = _one("cafe.html", page.encode("latin-1"))
    assert (declared.article.title, declared.article.body) == ("Café", "Crème brûlée")
    assert not any("UTF-8" in warning for warning in declared.warnings)
    guessed = _one("cafe.html", "<h1>Café</h1><p>“Quoted” – price €5</p>".encode("cp1252"))
    assert guessed.article.body == "“Quoted” – price €5"
    assert any("read as Windows-1252" in warning for warning in guessed.warnings)


def test_html_with_only_chrome_has_no_text() -> None:
    message = _error("menu.html", "<nav><a href='/'>Home</a></nav><script>x()</script>")
    assert "no article text" in message


def test_html_unclosed_dropped_element_is_reported() -> None:
    imported = _one("broken.html", "<h1>Broken</h1><p>Kept.</p><aside>Related<p>Lost text</p>")
    assert imported.article.body == "Kept."
    assert any("<aside> element is never closed" in warning for warning in imported.warnings)


# PDF

LOREM = (
    "Brightwell accepts most unused items back within thirty days of delivery, and the refund goes back "
    "to the original payment method once the parcel reaches the warehouse and has been checked by staff."
)
PDF_SECTIONS = [
    ("Start a return", f"{LOREM} Returnstart alpha.\n\n{LOREM} Returnstart beta."),
    ("Drop-off points", " ".join([LOREM] * 12) + " Dropoff gamma."),
    ("Refunds to your original payment method", f"{LOREM} Refund delta.\n\n{LOREM} Refund epsilon."),
]


def _words(text: str) -> list[str]:
    return [word.strip(".,") for word in text.split()]


def test_pdf_round_trip_puts_each_body_in_its_section(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "returns-guide.pdf", "Returning an item", PDF_SECTIONS)
    [imported] = parse_path(path)
    article = imported.article
    assert imported.format == "pdf"
    assert article.title == "Returning an item"
    assert article.extra == {"source_format": "pdf", "pages": 2}
    assert imported.warnings == ()
    sections = _sections(imported)
    assert list(sections) == [heading for heading, _ in PDF_SECTIONS]
    for heading, body in PDF_SECTIONS:
        assert _words(sections[heading]) == _words(body)
    assert sections["Start a return"].count("\n\n") == 1  # two paragraphs, wrapped lines joined
    assert "\n" not in sections["Drop-off points"]
    assert sections["Refunds to your original payment method"].count("\n\n") == 1  # split by the page break


def test_pdf_sizes_are_relative_to_the_body_font(tmp_path: Path) -> None:
    sections = [("Small heading", "Body text in a tiny font. " * 20), ("Another", "More tiny text. " * 20)]
    path = write_pdf(
        tmp_path / "small.pdf", "Small title", sections, size_title=12, size_heading=10, size_body=8
    )
    imported = parse_path(path)[0]
    assert imported.article.title == "Small title"
    assert list(_sections(imported)) == ["Small heading", "Another"]


def test_pdf_subheadings_from_a_third_size(tmp_path: Path) -> None:
    path = tmp_path / "levels.pdf"
    pdf = FPDF()
    pdf.add_page()
    for size, style, text in [(24, "B", "Guide"), (16, "B", "Returns"), (13, "B", "Drop-off")]:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, f"Text under {text}. " * 12, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    imported = parse_path(path)[0]
    assert imported.article.title == "Guide"
    assert list(_sections(imported)) == ["Overview", "Returns", "Returns › Drop-off"]
    assert "## Returns\n" in imported.article.body and "### Drop-off\n" in imported.article.body


def test_pdf_metadata_title_wins_and_is_not_repeated(tmp_path: Path) -> None:
    same = write_pdf(
        tmp_path / "a.pdf", "Returning an item", PDF_SECTIONS[:1], metadata_title="Returning an item"
    )
    imported = parse_path(same)[0]
    assert imported.article.title == "Returning an item"
    assert list(_sections(imported)) == ["Start a return"]
    other = write_pdf(
        tmp_path / "b.pdf", "Returns at a glance", PDF_SECTIONS[:1], metadata_title="Returns policy"
    )
    imported = parse_path(other)[0]
    assert imported.article.title == "Returns policy"
    assert list(_sections(imported)) == ["Returns at a glance › Start a return"]


def test_pdf_file_name_metadata_title_is_ignored(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "c.pdf", "Real title", PDF_SECTIONS[:1], metadata_title="Microsoft Word - c.docx"
    )
    assert parse_path(path)[0].article.title == "Real title"


def test_pdf_running_footer_and_page_numbers_are_left_out(tmp_path: Path) -> None:
    long = [(f"Section {n}", " ".join([LOREM] * 10)) for n in range(1, 6)]
    path = write_pdf(tmp_path / "long.pdf", "Long guide", long, footer="Brightwell Help Center")
    imported = parse_path(path)[0]
    assert imported.article.extra["pages"] >= 3
    assert "Brightwell Help Center" not in imported.article.body
    pages = imported.article.extra["pages"]
    assert imported.warnings == (
        f"left out 'Brightwell Help Center 1', a header or footer repeated on {pages} pages",
    )
    for heading, body in long:  # one paragraph each, though sentences run over page breaks
        assert _words(_sections(imported)[heading]) == _words(body)
        assert "\n" not in _sections(imported)[heading]


def _varied(n: int) -> str:
    """A paragraph of its own for page n: no line of it repeats on another page."""
    words = LOREM.split()
    return " ".join(words[n:] + words[:n]) + f" That ends part {'ABCDEFGHIJ'[n - 1]} of the guide."


def test_pdf_numbered_headings_opening_each_page_are_kept(tmp_path: Path) -> None:
    """Headings "Step 1", "Step 2"... at the top of each page look alike once digits are masked, like
    "Page 1", "Page 2": but they are in a heading's size, so they are the article's, not furniture."""
    path = tmp_path / "steps.pdf"
    pdf = FPDF()
    pdf.set_font("Helvetica", "B", 20)
    for n in range(1, 5):
        pdf.add_page()
        if n == 1:
            pdf.multi_cell(0, 10, "Setting up the kettle", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 7, f"Step {n}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 5, _varied(n), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    imported = parse_path(path)[0]
    assert list(_sections(imported)) == ["Step 1", "Step 2", "Step 3", "Step 4"]
    assert imported.warnings == ()


def test_pdf_a_line_repeated_on_a_few_pages_of_many_is_not_furniture(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    pdf = FPDF()
    for n in range(1, 11):
        pdf.add_page()
        if n == 1:
            pdf.set_font("Helvetica", "B", 20)
            pdf.multi_cell(0, 10, "Notes on returns", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 11)
        if n in (2, 5, 8):
            pdf.multi_cell(0, 5, "Note: keep your receipt.", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 5, _varied(n), new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    imported = parse_path(path)[0]
    assert imported.article.body.count("Note: keep your receipt.") == 3
    assert not any("left out" in warning for warning in imported.warnings)


def test_pdf_without_headings_takes_the_first_line_as_title(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "flat.pdf", "Flat notes", [("Plain line", LOREM)], size_title=11, size_heading=11
    )
    imported = parse_path(path)[0]
    assert imported.article.title == "Flat notes"
    assert imported.article.body.startswith("Plain line")
    assert imported.warnings == ("no headings found: one section",)


def test_pdf_with_a_user_password_is_refused(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "secret.pdf", "Secret", PDF_SECTIONS[:1], user_password="hunter2")
    message = _error("secret.pdf", path.read_bytes())
    assert "password-protected" in message
    assert "export it without a password" in message


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "locked.pdf", "Locked", PDF_SECTIONS[:1], owner_password="owner-only")
    assert list(_sections(parse_path(path)[0])) == ["Start a return"]


def test_pdf_without_text_is_a_scan(tmp_path: Path) -> None:
    message = _error("scan.pdf", write_blank_pdf(tmp_path / "scan.pdf").read_bytes())
    assert "has no text layer (a scanned image?)" in message
    assert "OCR" in message


def test_pdf_pages_without_text_are_reported(tmp_path: Path) -> None:
    pdf = FPDF()
    for text in ("Price list", None, "Prices change every spring."):
        pdf.add_page()
        pdf.set_font("Helvetica", "", 11)
        if text:
            pdf.multi_cell(0, 5, text)
        else:
            pdf.rect(30, 30, 100, 60, style="F")
    pdf.output(str(tmp_path / "mixed.pdf"))
    imported = parse_path(tmp_path / "mixed.pdf")[0]
    assert (imported.article.title, imported.article.body) == ("Price list", "Prices change every spring.")
    assert imported.warnings[0] == "page(s) 2 have no text (scanned images?) and were not imported"


def test_pdf_damaged_or_not_a_pdf(tmp_path: Path) -> None:
    assert "is not a PDF" in _error("fake.pdf", b"Just some text pretending to be a PDF")
    message = _error("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage without xref\n")
    assert "is damaged and cannot be read as a PDF" in message


def _raw_pdf(operators: str) -> bytes:
    """One page whose content stream is `operators`, with Helvetica as /F1."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    content = StreamObject()
    content.set_data(operators.encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_font_size_scaled_by_text_and_graphics_matrices() -> None:
    data = _raw_pdf(
        "BT /F1 1 Tf 20 0 0 20 72 700 Tm (Scaled title) Tj ET\n"
        "BT /F1 1 Tf 14 0 0 14 72 660 Tm (Section one) Tj ET\n"
        "BT /F1 1 Tf 10 0 0 10 72 640 Tm (Body text of the first section that wraps) Tj ET\n"
        "BT /F1 1 Tf 10 0 0 10 72 628 Tm (onto a second line.) Tj ET\n"
        "q 2 0 0 2 0 0 cm BT /F1 7 Tf 36 290 Td (Section two) Tj ET Q\n"
        "BT /F1 10 Tf 72 560 Td (Second body text.) Tj ET\n"
    )
    imported = _one("raw.pdf", data)
    assert imported.article.title == "Scaled title"
    assert _sections(imported) == {
        "Section one": "Body text of the first section that wraps onto a second line.",
        "Section two": "Second body text.",
    }


def test_pdf_without_font_sizes_falls_back_to_one_section() -> None:
    imported = _one(
        "zero.pdf", _raw_pdf("BT /F1 0 Tf 72 700 Td (Notes) Tj ET BT /F1 0 Tf 72 680 Td (Body.) Tj ET")
    )
    assert (imported.article.title, imported.article.body) == ("Notes", "Body.")
    assert imported.warnings == (
        "font sizes could not be read: headings were not detected",
        "no headings found: one section",
    )


def test_pdf_import_is_deterministic(tmp_path: Path) -> None:
    data = write_pdf(tmp_path / "same.pdf", "Same", PDF_SECTIONS).read_bytes()
    assert parse_upload("same.pdf", data) == parse_upload("same.pdf", data)


# Plain text

TEXT = """Returning an item

Brightwell accepts most items back within 30 days.
This paragraph is hard-wrapped.

Start a return
--------------

Open the order and choose Return items.

SHIPPING COSTS
Return shipping is free in the UK.

Refunds:

Refunds take up to 5 working days.

You can pay with:
- card
- gift card
"""


def test_text_headings_from_underlines_caps_and_colons() -> None:
    imported = _one("returns.txt", TEXT)
    assert (imported.format, imported.article.title) == ("text", "Returning an item")
    assert imported.warnings == ()
    assert _sections(imported) == {
        "Overview": "Brightwell accepts most items back within 30 days.\nThis paragraph is hard-wrapped.",
        "Start a return": "Open the order and choose Return items.",
        "SHIPPING COSTS": "Return shipping is free in the UK.",
        "Refunds": "Refunds take up to 5 working days.\n\nYou can pay with:\n- card\n- gift card",
    }


def test_text_two_underline_styles_make_two_levels() -> None:
    text = "Guide\n=====\n\nReturns\n=======\n\nAbout returns.\n\nDrop-off\n--------\n\nAt a Parcel Point.\n"
    imported = _one("guide.txt", text)
    assert imported.article.title == "Guide"
    assert _sections(imported) == {"Returns": "About returns.", "Returns › Drop-off": "At a Parcel Point."}


def test_text_markdown_style_headings_are_kept() -> None:
    imported = _one("notes.txt", "# Notes\n\nIntro.\n\n## Part one\n\nText one.\n\n# Part two\n\nText two.\n")
    assert imported.article.title == "Notes"
    assert _sections(imported) == {"Overview": "Intro.", "Part one": "Text one.", "Part two": "Text two."}


def test_text_long_first_line_is_not_a_title() -> None:
    line = "This file starts straight away with a long paragraph " * 3
    imported = _one("delivery_notes.txt", f"{line}\n\nSecond paragraph.\n")
    assert imported.article.title == "Delivery notes"
    assert imported.article.body.startswith(line.strip())


def test_text_in_windows_1252_is_read_with_a_warning() -> None:
    imported = _one("cafe.txt", "Café menu\n\nCrème brûlée – €5\n".encode("cp1252"))
    assert imported.article.title == "Café menu"
    assert imported.article.body == "Crème brûlée – €5"
    assert any("read as Windows-1252" in warning for warning in imported.warnings)


def test_text_in_utf16_with_a_bom() -> None:
    imported = _one("notepad.txt", "Notepad\r\n\r\nSaved as Unicode.\r\n".encode("utf-16"))
    assert (imported.article.title, imported.article.body) == ("Notepad", "Saved as Unicode.")


# FAQ CSV


def test_faq_csv_one_section_per_question() -> None:
    data = (
        "question,answer\n"
        'How long do refunds take?,"Up to 5 days, usually 3."\n'
        'Can I exchange?,"Yes.\n\nIn store too."\n'
    )
    imported = _one("returns_faq.csv", data)
    article = imported.article
    assert (imported.format, article.slug, article.title, article.category) == (
        "faq_csv",
        "returns-faq",
        "Returns faq",
        "faq",
    )
    assert _sections(imported) == {
        "How long do refunds take?": "Up to 5 days, usually 3.",
        "Can I exchange?": "Yes.\n\nIn store too.",
    }
    assert imported.warnings == ()


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [
        (["Question", "Answer"], ";"),
        (["Q", "A"], "\t"),
        (["QUESTIONS", "Response"], ","),
        (["q", "answers"], ";"),
    ],
)
def test_faq_csv_delimiters_and_header_aliases(header: list[str], delimiter: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerows(
        [header, ["Do you ship abroad?", "Yes, to 30 countries."], ["Is it free?", "Over 50; else 5."]]
    )
    imported = _one("shipping.csv", out.getvalue())
    assert _sections(imported) == {
        "Do you ship abroad?": "Yes, to 30 countries.",
        "Is it free?": "Over 50; else 5.",
    }


def test_faq_csv_with_categories_gives_one_article_each() -> None:
    data = (
        "\ufeffCategory,Question,Answer\n"
        "Returns & refunds,How long do I have?,30 days.\n"
        "Shipping,Do you ship abroad?,Yes.\n"
        "Returns & refunds,Who pays postage?,We do.\n"
    )
    results = parse_upload("help-faq.csv", data.encode())
    assert [(r.article.slug, r.article.title, r.article.category) for r in results] == [
        ("help-faq-returns-refunds", "Help faq: Returns & refunds", "returns-refunds"),
        ("help-faq-shipping", "Help faq: Shipping", "shipping"),
    ]
    assert list(_sections(results[0])) == ["How long do I have?", "Who pays postage?"]
    assert _sections(results[1]) == {"Do you ship abroad?": "Yes."}


def test_faq_csv_delimiter_is_the_headers_not_the_answers() -> None:
    rows = "".join(f"Q{n}?;Pay by card, PayPal, gift card, or store credit, {n}.\n" for n in range(200))
    imported = _one("pay.csv", "question;answer\n" + rows)
    assert len(_sections(imported)) == 200
    assert _sections(imported)["Q7?"] == "Pay by card, PayPal, gift card, or store credit, 7."


def test_faq_csv_with_more_categories_than_articles_one_file_may_make() -> None:
    from knowledge.importers import MAX_CSV_ARTICLES

    rows = "".join(f"Topic {n},Question {n}?,Answer {n}.\n" for n in range(MAX_CSV_ARTICLES + 1))
    message = _error("faq.csv", "category,question,answer\n" + rows)
    assert message.startswith(f"faq.csv has {MAX_CSV_ARTICLES + 1} categories, and each becomes an article")
    assert len(parse_upload("faq.csv", ("category,question,answer\n" + rows.split("\n", 1)[1]).encode())) == (
        MAX_CSV_ARTICLES
    )


def test_faq_csv_title_column_and_blank_category() -> None:
    data = "question,answer,title,category\nQ1?,A1.,Returns FAQ,returns\nQ2?,A2.,,\n"
    results = parse_upload("faq.csv", data.encode())
    assert [(r.article.title, r.article.category) for r in results] == [
        ("Returns FAQ", "returns"),
        ("Faq: General", "general"),
    ]
    assert "row 3 has no category: they went to 'General'" in results[1].warnings


def test_faq_csv_missing_columns_names_the_columns_found() -> None:
    message = _error("faq.csv", "Frage,Antwort\nWo?,Hier.\n")
    assert "no 'question' or 'answer' column" in message
    assert "'Frage', 'Antwort'" in message
    assert "no 'answer' column" in _error("faq.csv", "question,reply\nWhere?,Here.\n")


def test_faq_csv_empty_cells_are_listed_by_row() -> None:
    data = "question,answer\nGood?,Yes.\n,Orphan answer.\nNo answer?,\n\nAlso no answer?,  \n"
    message = _error("faq.csv", data)
    assert "row 3 has no question" in message
    assert "rows 4, 6 have no answer" in message


def test_faq_csv_unquoted_delimiter_in_an_answer() -> None:
    message = _error("faq.csv", "question,answer\nWhich cards?,Visa, Mastercard, Amex\n")
    assert "row 2 has more cells than the header" in message
    assert "double quotes" in message


def test_faq_csv_warnings_for_duplicates_and_extra_columns() -> None:
    data = "id,question,answer,notes\n1,Where?,Here.,check\n2,where?,There.,\n"
    imported = _one("faq.csv", data)
    assert imported.warnings == (
        "columns left out (only question, answer, category and title are read): id, notes",
        "duplicate question 'where?' (rows 2 and 3)",
    )
    assert [c.anchor for c in chunk_article(imported.article)] == ["where", "where-2"]


def test_faq_csv_header_without_rows() -> None:
    assert "has column headers but no questions" in _error("faq.csv", "question,answer\n\n")


def test_a_pdf_with_only_page_numbers_is_refused_with_a_message(tmp_path: Path) -> None:
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    for number in range(1, 5):
        pdf.add_page()
        pdf.cell(0, 10, str(number))
    path = tmp_path / "numbers.pdf"
    pdf.output(str(path))
    with pytest.raises(ImportFormatError, match=r"^numbers\.pdf has only page numbers"):
        parse_upload("numbers.pdf", path.read_bytes())


def test_a_csv_of_delimiters_only_says_which_columns_are_missing() -> None:
    for data in (",,,\n", ";;\n;;\n"):
        assert "no 'question' or 'answer' column (columns found: none)" in _error("faq.csv", data)


def test_odd_list_starts_and_long_heading_lines_are_read() -> None:
    html = '<h1>Steps</h1><ol start="²"><li>One</li></ol><ol start="' + "9" * 5000 + '"><li>Two</li></ol>'
    assert "One" in _one("steps.html", html).article.body
    text = "Title\n\n## a" + " " * 50_000 + "x\n\nbody text\n"
    assert _one("long.txt", text).article.title == "Title"


def test_files_and_csv_categories_named_in_other_scripts_do_not_share_an_article() -> None:
    first, second = (
        _one("Оплата.md", "# Оплата\n\n## Как\n\nКартой."),
        _one("Доставка.md", "# Доставка\n\n## Когда\n\nЗавтра."),
    )
    assert first.article.slug != second.article.slug
    rows = "question,answer,category\nКак?,Картой.,Оплата\nКогда?,Завтра.,Доставка\n"
    assert len({i.article.slug for i in parse_upload("faq.csv", rows.encode())}) == 2


def test_html_nested_deeper_than_any_article_is_refused_not_expanded() -> None:
    for nested in ("<b>" * 5000 + "x", "<ul><li>x" * 5000):
        assert "nested over 200 deep" in _error("deep.html", f"<h1>Deep</h1>{nested}")


def test_a_pdf_with_more_pages_than_an_import_takes_is_refused_before_reading_them() -> None:
    writer = PdfWriter()
    for _ in range(301):
        writer.add_blank_page(width=200, height=200)
    data = io.BytesIO()
    writer.write(data)
    assert "has 301 pages; split it (at most 300 at once)" in _error("long.pdf", data.getvalue())


def test_a_pdf_is_read_no_further_than_the_text_an_import_can_hold(tmp_path: Path, monkeypatch) -> None:
    from knowledge import importers

    path = write_pdf(tmp_path / "big.pdf", "Big", [("Part", "A sentence of text. " * 40)] * 3)
    monkeypatch.setattr(importers, "MAX_PDF_CHARS", 500)
    assert "holds over 500 characters of text; split it" in _error("big.pdf", path.read_bytes())


def test_text_left_out_inside_the_article_is_named_in_a_warning() -> None:
    html = (
        "<article><h1>Returns</h1><h2>Rules</h2><p>Send it back within 30 days.</p>"
        "<aside><p>Important: opened software cannot be returned.</p></aside></article>"
        "<aside>Related links</aside>"
    )
    imported = _one("returns.html", html)
    assert "opened software" not in imported.article.body
    assert any("<aside> was left out" in w and "characters" in w for w in imported.warnings)


def test_a_declared_escape_codec_is_not_used_to_read_a_page() -> None:
    html = b'<meta charset="unicode_escape"><h1>Caf\xe9</h1><h2>Part</h2><p>Text \\ud800 here.</p>'
    imported = _one("page.html", html)
    assert imported.article.title == "Caf\u00e9" and "\\ud800" in imported.article.body
    assert any("Windows-1252" in w for w in imported.warnings)
