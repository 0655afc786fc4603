"""Citations as shown to the customer: the numbered reference and the quoted passage block."""

from __future__ import annotations

from typing import Any

from agent.state import Citation


def citation_for(n: int, passage: dict[str, Any], quote: str) -> Citation:
    meta = passage.get("metadata") or {}
    return Citation(
        n=n,
        chunk_id=passage["id"],
        article=str(meta.get("article", "")),
        version=int(meta.get("version", 0)),
        version_id=int(meta.get("version_id", 0)),
        title=passage.get("title") or "",
        section=passage.get("section") or "",
        anchor=str(meta.get("anchor", "")),
        quote=quote,
    )


def quote_block(n: int, passage: dict[str, Any], quote: str) -> str:
    """A quoted passage as shown to the customer: its heading, the citation number, the quote."""
    heading = passage.get("title") or ""
    if passage.get("section") and passage["section"] != "Overview":
        heading = f"{heading} › {passage['section']}"
    body = "\n".join(f"> {line}" for line in quote.splitlines())
    return f"**{heading}** [{n}]\n\n{body}"
