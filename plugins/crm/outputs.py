"""What the crm actions give later steps (`steps.<id>.…`): their output models, shown in the catalog."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

PREVIEW_ID = ""  # a dry run's id for a contact that does not exist yet: no id is made up before it is created


class ContactOutput(BaseModel):
    """The contact as it is after the step, with whether it was created and which fields changed."""

    id: str = Field(description="the contact's id (empty in a dry run when it would be created)")
    email: str = Field(description="email address, the contact's key")
    first_name: str | None = Field(description="first name")
    last_name: str | None = Field(description="last name")
    organisation: str | None = Field(description="organisation")
    tags: list[str] = Field(description="all the contact's tags")
    consent: bool = Field(description="true when the person agreed to receive messages")
    consent_at: str | None = Field(description="when the consent was recorded (ISO 8601)")
    consent_source: str | None = Field(description="where the consent was given")
    custom: dict[str, Any] = Field(description="other fields")
    created_at: str = Field(description="when the contact was created (ISO 8601)")
    updated_at: str = Field(description="when the contact last changed (ISO 8601)")
    created: bool = Field(description="true when this step created the contact")
    changed: list[str] = Field(description="the fields this step changed")


class AddedOutput(BaseModel):
    """The subscription of a contact to a list, after the step."""

    contact_id: str = Field(description="the contact's id (empty in a dry run when the contact does not exist yet)")
    email: str = Field(description="the contact's email address")
    list: Annotated[str, Field(description="the list's name")]  # Annotated: binds no class attribute `list`
    status: Literal["added", "already", "resubscribed", "unsubscribed"] = Field(
        description="added; already on the list; resubscribed; or unsubscribed: they had left it and stay off")
    subscribed: bool = Field(description="true when the contact is on the list now")


class RemovedOutput(BaseModel):
    """A contact taken off a list."""

    contact_id: str = Field(description="the contact's id (empty in a dry run when the contact does not exist yet)")
    email: str = Field(description="the contact's email address")
    list: Annotated[str, Field(description="the list's name")]  # Annotated: binds no class attribute `list`
    removed: bool = Field(description="false when they were not on the list (an unsubscription stays recorded)")
