"""The one place that reads the environment. Everything else takes a `Settings`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; every field can be set by an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    log_level: str = "INFO"

    data_dir: Path = PROJECT_ROOT / "var"
    """Where the embedded stores live (SQLite files, Chroma, spool)."""
    database_url: str = ""
    """SQLAlchemy URL; empty means a SQLite file under `data_dir`."""
    checkpoint_url: str = ""
    """LangGraph checkpointer location; empty means a SQLite file under `data_dir`."""

    chroma_url: str = ""
    """A Chroma server (http://host:port); empty means an embedded PersistentClient under `data_dir`."""
    chroma_collection: str = "kb_chunks"
    kb_content_dir: Path = PROJECT_ROOT / "knowledge" / "content"

    llm_models: list[str] = Field(default_factory=list)
    """Ordered `provider:model` list, primary first; empty means the ladder starts at Minimal."""

    top_k: int = 5
    retrieval_candidates: int = 30
    """How many hits each retriever (dense, lexical) contributes before rank fusion."""
    answer_min_confidence: float = 0.45
    """Below this retrieval confidence the agent says it does not know instead of quoting."""
    max_message_chars: int = 4000
    """Longer customer messages are stored whole but truncated for processing."""
    quote_max_passages: int = 2

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'support.db'}"
        if not self.checkpoint_url:
            self.checkpoint_url = str(self.data_dir / "checkpoints.db")
        return self

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
