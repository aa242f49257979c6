"""The contact base's tables: contacts, lists, memberships and consent history (core's migrations 0003, 0004, 0012)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from beffroi import Base, utcnow


class ContactRow(Base):
    """A person in the built-in contact base, with their GDPR consent (when, from where)."""

    __tablename__ = "crm_contacts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(300))
    tags: Mapped[Any] = mapped_column(JSON, default=list)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    consent_source: Mapped[str | None] = mapped_column(String(200))
    custom: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_crm_contacts_created", "created_at", "id"),
                      Index("ix_crm_contacts_consent", "consent", "consent_at", "id"))  # filters and list counts


class ListRow(Base):
    """A mailing list (e.g. `press`)."""

    __tablename__ = "crm_lists"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipRow(Base):
    """A contact on a list: subscribed, or unsubscribed (kept, with its date, as proof)."""

    __tablename__ = "crm_memberships"
    list_id: Mapped[str] = mapped_column(ForeignKey("crm_lists.id", ondelete="CASCADE"), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str | None] = mapped_column(String(200))
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    # a contact's lists; a list's members by state (counted from the index alone)
    __table_args__ = (Index("ix_crm_memberships_contact", "contact_id", "subscribed", "list_id"),
                      Index("ix_crm_memberships_list_state", "list_id", "subscribed", "contact_id"))


class ConsentRow(Base):
    """One change of a contact's consent (given or withdrawn): when, from where, and the text the person agreed to.

    Appended when the consent changes, never edited; erased with the contact.
    """

    __tablename__ = "crm_consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("crm_contacts.id", ondelete="CASCADE"))
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_crm_consents_contact", "contact_id", "id"),)
