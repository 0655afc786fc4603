"""Settings refuse combinations that would make the ladder unsafe or its guarantees false."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config import Settings


def test_fault_injection_is_refused_in_production():
    with pytest.raises(ValidationError, match="CHAOS_ENABLED"):
        Settings(env="prod", chaos_enabled=True)
    assert Settings(env="dev", chaos_enabled=True).chaos_enabled


def test_one_model_may_not_take_longer_than_the_whole_turn_budget():
    with pytest.raises(ValidationError, match="LLM_MODEL_TIMEOUT_S"):
        Settings(llm_timeout_s=5.0, llm_model_timeout_s=8.0)


def test_models_and_their_options_read_from_json_environment_values(monkeypatch):
    monkeypatch.setenv("LLM_MODELS", '["openai:gpt-4.1-mini", "ollama:llama3.2"]')
    monkeypatch.setenv("LLM_OPTIONS", '{"ollama:llama3.2": {"base_url": "http://127.0.0.1:11434"}}')
    monkeypatch.setenv("LLM_PRICES", '{"openai:gpt-4.1-mini": [0.4, 1.6]}')
    s = Settings()
    assert s.llm_models == ["openai:gpt-4.1-mini", "ollama:llama3.2"]
    assert s.llm_options["ollama:llama3.2"]["base_url"] == "http://127.0.0.1:11434"
    assert s.llm_prices["openai:gpt-4.1-mini"] == (0.4, 1.6)
    assert s.spool_path.name == "pending.jsonl" and s.spool_path.parent.parent == s.data_dir


def test_sla_minutes_must_name_every_priority_band():
    with pytest.raises(ValueError, match="missing: high, normal"):
        Settings(handoff_sla_minutes={"urgent": 5})
    with pytest.raises(ValueError, match="positive"):
        Settings(handoff_sla_minutes={"urgent": 5, "high": 0, "normal": 60})
