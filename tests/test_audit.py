"""The audit log: saves and decisions are recorded, read newest first, filtered; nothing secret is kept."""
from __future__ import annotations

from datetime import timedelta

from beffroi.store.models import utcnow


def _recipe(name: str, enabled: bool = False) -> dict:
    return {"name": name, "enabled": enabled, "trigger": {"uses": "builtins.manual"},
            "steps": [{"id": "note", "uses": "data.set", "with": {"values": {"a": 1}}}]}


def test_recipe_saves_are_recorded_with_their_author_and_version(engine):
    engine.save_recipe(_recipe("weekly"), author="ana@example.org")
    engine.set_enabled("weekly", True, author="ben@example.org")
    copy = engine.duplicate_recipe("weekly", author="ana@example.org")
    engine.restore_version("weekly", 1, author="ana@example.org")
    entries = engine.audit.page(target_type="recipe")
    assert [(e.action, e.target, e.actor, e.detail.get("version")) for e in entries] == [
        ("recipe.restored", "weekly", "ana@example.org", 3),
        ("recipe.duplicated", copy, "ana@example.org", 1),
        ("recipe.enabled", "weekly", "ben@example.org", 2),
        ("recipe.saved", "weekly", "ana@example.org", 1),
    ]
    assert [e.action for e in engine.audit.page(action="recipe", actor="ben@example.org")] == ["recipe.enabled"]


def test_pages_are_keyset_and_filters_narrow(engine):
    ids = [engine.audit.record("ana@example.org", "contact.erased", "contact", f"c{i}") for i in range(5)]
    engine.audit.record(None, "approval.approved", "run", "r1", {"step": "approve"})
    first = engine.audit.page(limit=3)
    assert [e.target for e in first] == ["r1", "c4", "c3"] and first[0].actor == "system"
    assert [e.target for e in engine.audit.page(limit=3, before=first[-1].id)] == ["c2", "c1", "c0"]
    assert [e.id for e in engine.audit.page(action="contact")] == ids[::-1]
    assert engine.audit.page(action="contac") == []  # a family is a whole dotted prefix
    assert engine.audit.page(since=utcnow() + timedelta(minutes=1)) == []
    assert len(engine.audit.page(until=utcnow() + timedelta(minutes=1))) == 6


def test_a_connection_change_records_its_type_never_its_settings(engine):
    config = {"host": "127.0.0.1", "port": 2525, "from_address": "a@b.be", "username": "press",
              "password": "hunter2-secret"}
    assert engine.save_connection("press-smtp", "smtp", config, new=True, actor="ana@example.org") == []
    [entry] = engine.audit.page(target_type="connection")
    assert (entry.action, entry.target, entry.detail) == ("connection.created", "press-smtp", {"type": "smtp"})
    assert "hunter2" not in repr(entry)
