"""The API's response models are its public contract: they copy the service views field by field on purpose,
so a field added to a view reaches no client until it is added here. This test catches drift both ways."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel

from agent.desk import TicketView
from app.api import schemas
from handoff.queue import QueueItem
from knowledge.studio import ArticleSummary, VersionView

PAIRS: list[tuple[type[BaseModel], type, set[str]]] = [
    (schemas.QueueItemOut, QueueItem, set()),
    (schemas.TicketOut, TicketView, set()),
    (schemas.ArticleOut, ArticleSummary, set()),
    # Review internals stay in the studio: who reviewed a quarantined version, their note, and where an
    # imported text came from.
    (schemas.VersionOut, VersionView, {"review_note", "reviewed_by", "provenance"}),
]


@pytest.mark.parametrize(("out", "view", "private"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_response_models_follow_their_views(out: type[BaseModel], view: type, private: set[str]) -> None:
    view_fields = {f.name for f in dataclasses.fields(view)}
    out_fields = set(out.model_fields)
    assert out_fields - view_fields == set(), "the API names a field its view no longer has"
    assert view_fields - out_fields == private, "a view field is neither exposed nor listed as private"
