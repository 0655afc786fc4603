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
