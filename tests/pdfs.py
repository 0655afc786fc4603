"""Real PDFs for import tests, written with fpdf2: a title, bold section headings and wrapped body text."""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF


class _Pdf(FPDF):
    """A4 with 20 mm margins; `footer_text` (if set) is printed with the page number at every page's foot."""

    footer_text: str | None = None

    def footer(self) -> None:
        if self.footer_text:
            self.set_y(-15)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, self.footer_text)
            self.set_x(-30)
            self.cell(0, 5, str(self.page_no()))


def _new_pdf(title: str, *, footer: str | None = None) -> _Pdf:
    pdf = _Pdf(format="A4")
    pdf.footer_text = footer
    if title:
        pdf.set_title(title)
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    return pdf


def write_pdf(
    path: Path,
    title: str,
    sections: list[tuple[str, str]],
    *,
    size_title: float = 20,
    size_heading: float = 14,
    size_body: float = 11,
    metadata_title: str = "",
    footer: str | None = None,
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """`title`, then each (heading, body) section; paragraphs in a body are separated by blank lines.

    Text must be Latin-1 (the built-in Helvetica). `metadata_title` sets the document's /Title, `footer` a
    running footer with page numbers; a password encrypts the file (RC4, as fpdf2 does by default).
    """
    pdf = _new_pdf(metadata_title, footer=footer)
    if user_password is not None or owner_password is not None:
        pdf.set_encryption(owner_password=owner_password or "owner", user_password=user_password)
    pdf.set_font("Helvetica", "B", size_title)
    pdf.multi_cell(0, size_title * 0.5, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(size_title * 0.3)
    for heading, body in sections:
        pdf.set_font("Helvetica", "B", size_heading)
        pdf.multi_cell(0, size_heading * 0.5, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font("Helvetica", "", size_body)
        for paragraph in body.split("\n\n"):
            pdf.multi_cell(0, size_body * 0.5, paragraph.strip(), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(size_body * 0.4)
        pdf.ln(2)
    pdf.output(str(path))
    return path


def write_blank_pdf(path: Path) -> Path:
    """A PDF with a drawn rectangle and no text at all, like a scan without OCR."""
    pdf = _new_pdf("")
    pdf.rect(30, 30, 100, 60, style="F")
    pdf.output(str(path))
    return path
