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


def test_an_import_summary_lists_every_file_and_keeps_the_failures_apart() -> None:
    from app.ui.common import import_summary
    from knowledge.studio import UploadResult

    done, failed = import_summary(
        [
            ("a.md", [UploadResult("a.md", "a", "published", 1)]),
            (
                "faq.csv",
                [
                    UploadResult("faq.csv", "faq-x", "draft", 2),
                    UploadResult("faq.csv", "faq-y", "error", message="too long"),
                ],
            ),
            ("b.md", None),  # the action failed: the database did not answer
            ("c.md", [UploadResult("c.md", "", "error", message="front matter is not valid YAML")]),
        ]
    )
    assert "a\\.md → `a`: published v1" in done and "faq-x`: draft v2" in done and "error" not in done
    assert "faq-y`: too long" in failed and "b\\.md: not imported" in failed
    assert "c\\.md: front matter" in failed


def _images(markdown: str) -> list[str]:
    found: list[str] = []
    for block in MarkdownIt().parse(markdown):
        found += [t.attrs["src"] for t in block.children or [] if t.type == "image"]
    return found


def test_an_answer_or_an_article_shows_no_picture() -> None:
    from app.ui.common import no_pictures

    text = (
        "Your order ships today ![](https://evil.example/pixel.png?q=order+4417).\n\n"
        "![logo][1] and \\![not a picture](a.png) and \\\\![escaped backslash](https://evil.example/b.png)\n\n"
        "[1]: https://evil.example/logo.png\n"
    )
    assert len(_images(text)) == 3
    shown = no_pictures(text)
    assert _images(shown) == []
    assert "Your order ships today" in shown and "not a picture" in shown
    assert no_pictures("Prices end in .99! [1]") == "Prices end in .99! [1]"
