"""The deployment policy file: loading, caching, and a clear PolicyError for every kind of mistake."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from core.policy import (
    DEFAULT_POLICY_FILE,
    KNOWN_RISK_TOPICS,
    NEVER_KINDS,
    Policy,
    PolicyError,
    load_policy,
    lower_literals,
)

MINIMAL = {
    "brand": {"company": "Acme Kitchens", "names": ["Acme"]},
    "topics": {
        "refuse": [
            {
                "name": "weapons",
                "patterns": ["build (?:a|an) (?:bomb|gun)"],
                "reply": "I can't help with that.",
            }
        ],
        "offtopic_reply": "I can only help with Acme orders.",
    },
}


def _write(tmp_path: Path, data: object, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _error(tmp_path: Path, data: object) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(_write(tmp_path, data))
    return str(caught.value)


def test_shipped_demo_policy_loads_every_section():
    policy = load_policy()
    assert policy.brand.company == "Brightwell Home"
    assert "Brightwell Plus" in policy.brand.product_lines
    assert policy.competitor_policy == "no_mention"
    assert {"legal_advice", "medical_advice", "financial_advice", "weapons_violence", "illegal_activity"} <= {
        t.name for t in policy.topics.refuse
    }
    assert {"sexual_content", "hate"} <= {t.name for t in policy.topics.refuse}
    assert set(policy.risk.handoff_topics) == KNOWN_RISK_TOPICS
    assert "refund" in policy.commitments.allowed
    assert "legally_binding" in policy.commitments.never
    assert policy.tone.profanity and policy.tone.insults and policy.tone.disparagement


def test_none_means_the_shipped_file():
    assert load_policy(None) is load_policy(DEFAULT_POLICY_FILE)


def test_minimal_file_gets_safe_defaults_for_missing_sections(tmp_path):
    policy = load_policy(_write(tmp_path, MINIMAL))
    assert policy.competitor_policy == "no_mention"
    assert policy.commitments.is_never("legally_binding")
    assert not policy.commitments.is_never("refund")
    assert policy.tone.profanity


def test_policy_is_cached_until_the_file_changes(tmp_path):
    path = _write(tmp_path, MINIMAL)
    first = load_policy(path)
    assert load_policy(path) is first
    changed = {**MINIMAL, "version": 2}
    path.write_text(yaml.safe_dump(changed), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_policy(path)
    assert second is not first
    assert second.version == 2


def test_missing_file_is_a_policy_error_naming_it(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(PolicyError, match=r"nowhere\.yaml"):
        load_policy(path)


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    message = _error(tmp_path, "brand:\n  company: Acme\n topics: [\n")
    assert "policy.yaml" in message
    assert "line" in message


def test_a_file_that_is_not_a_mapping_is_rejected(tmp_path):
    assert "mapping" in _error(tmp_path, "- just\n- a list\n")


def test_misspelt_key_names_the_field_instead_of_switching_a_rail_off(tmp_path):
    message = _error(tmp_path, {**MINIMAL, "competitor_polcy": "no_disparage"})
    assert "competitor_polcy" in message
    assert "policy.yaml" in message


def test_invalid_regex_names_the_topic_field(tmp_path):
    bad = {**MINIMAL, "topics": {**MINIMAL["topics"], "refuse": [{**MINIMAL["topics"]["refuse"][0]}]}}
    bad["topics"]["refuse"][0]["patterns"] = ["build (a bomb"]
    message = _error(tmp_path, bad)
    assert "topics.refuse.0.patterns" in message
    assert "build (a bomb" in message


def test_unknown_commitment_kind_is_rejected(tmp_path):
    message = _error(tmp_path, {**MINIMAL, "commitments": {"never": ["legaly_binding"]}})
    assert "commitments.never" in message


def test_a_kind_cannot_be_both_allowed_and_never(tmp_path):
    message = _error(tmp_path, {**MINIMAL, "commitments": {"allowed": ["refund"], "never": ["refund"]}})
    assert "refund" in message
    assert "both" in message


def test_unknown_risk_topic_is_rejected_with_the_known_ones(tmp_path):
    message = _error(tmp_path, {**MINIMAL, "risk": {"handoff_topics": ["bereavment"]}})
    assert "bereavment" in message
    assert "bereavement" in message


def test_topic_names_must_be_unique_and_snake_case(tmp_path):
    topic = MINIMAL["topics"]["refuse"][0]
    twice = {**MINIMAL, "topics": {**MINIMAL["topics"], "refuse": [topic, topic]}}
    assert "used twice" in _error(tmp_path, twice)
    spaced = {**MINIMAL, "topics": {**MINIMAL["topics"], "refuse": [{**topic, "name": "Weapons Talk"}]}}
    assert "snake_case" in _error(tmp_path, spaced)


def test_invalid_never_phrase_is_rejected(tmp_path):
    message = _error(tmp_path, {**MINIMAL, "commitments": {"never_phrases": ["no (takesies"]}})
    assert "commitments.never_phrases" in message


def test_never_by_default_kinds_stay_blocked_when_a_file_lists_neither(tmp_path):
    policy = load_policy(_write(tmp_path, {**MINIMAL, "commitments": {"allowed": ["refund"], "never": []}}))
    assert all(policy.commitments.is_never(kind) for kind in NEVER_KINDS)
    assert not policy.commitments.is_never("money_amount")


def test_a_deployment_may_allow_a_never_by_default_kind(tmp_path):
    policy = load_policy(_write(tmp_path, {**MINIMAL, "commitments": {"allowed": ["compensation"]}}))
    assert not policy.commitments.is_never("compensation")


def test_topic_patterns_match_lower_cased_text_as_whole_words():
    topic = Policy.model_validate(MINIMAL).topics.refuse[0]
    assert topic.matcher.search("how do i build a bomb")
    assert not topic.matcher.search("rebuild a bombshell")


def test_known_risk_topics_are_the_handoff_triggers_topics():
    from handoff.triggers.topics import TOPICS

    assert set(TOPICS) == KNOWN_RISK_TOPICS


def test_lower_literals_keeps_escapes_and_group_names():
    lowered = lower_literals(r"(?P<Kind>CA\$)\W(?P=Kind)\S")
    assert lowered == r"(?P<Kind>ca\$)\W(?P=Kind)\S"
    assert re.compile(lowered).search("ca$!ca$x")
