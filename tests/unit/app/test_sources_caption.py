"""The chat page's Sources line: one link per citation, to its passage page, and no other."""

from __future__ import annotations

from markdown_it import MarkdownIt

from app.ui.common import sources_caption


def _links(markdown: str) -> list[str]:
    tokens = MarkdownIt().parseInline(markdown)
    return [t.attrs["href"] for tok in tokens for t in tok.children or [] if t.type == "link_open"]


def test_a_title_cannot_plant_a_link_of_its_own() -> None:
    citation = {
        "n": 1,
        "title": "Refunds](https://evil.example/login) [",
        "section": "![x](https://evil.example/pixel.png)",
        "chunk_id": "refunds#overview-0123456789",
        "version_id": 3,
    }
    caption = sources_caption([citation])
    links = _links(caption)
    assert len(links) == 1 and "evil.example" not in links[0] and links[0].startswith("source")
    assert "Refunds" in caption
