"""The generic wcms records — a post to create, a created post — and the Protocol website connectors implement."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beffroi import HTML, ImageRef, OpenedDocument, PollResult


class NewPost(BaseModel):
    """A post to create on the website (the input of `wcms.create_post`)."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=500, description="the post's title, as plain text")
    content: str = Field("", description="the post's body, as HTML ({{ … }} values are HTML-escaped; "
                                         "|safe keeps one as is, e.g. {{ trigger.content_html|safe }})",
                         json_schema_extra=HTML)
    status: Literal["draft", "pending", "publish", "future"] = Field(
        "draft", description="draft (not visible), pending (waiting for review), publish (online now), "
                             "or future (online at `date`)")
    date: datetime | None = Field(
        None, description="publication date and time (needed for `future`); without a time zone it is the "
                          "site's local time")
    categories: list[str] = Field(default_factory=list, description="names of existing categories of the site")
    create_categories: bool = Field(
        False, description="create the categories the site does not have yet (needs an editor account); "
                           "otherwise an unknown category fails the step before anything is posted")
    excerpt: str | None = Field(None, description="a short summary shown in lists and feeds")
    images: list[ImageRef] = Field(
        default_factory=list, max_length=20,
        description="images from documents (handles or paths in Beffroi's documents folder), each with its alt "
                    "text: uploaded to the site's media library and shown at the end of the post")
    featured_image: ImageRef | None = Field(
        None, title="Featured image",
        description="an image from a document, with its alt text: uploaded and set as the post's featured image")

    @model_validator(mode="after")
    def _future_needs_a_date(self) -> NewPost:
        if self.status == "future" and self.date is None:
            raise PydanticCustomError("wcms_date", "status 'future' needs a date: when the post goes online")
        return self


class UploadedMedia(BaseModel):
    """An image the site holds in its media library."""

    id: int = Field(description="its id in the media library")
    url: str = Field(description="its address on the site")
    alt: str = Field("", description="its alt text")
    name: str = Field("", description="its file name")
    sha256: str = Field("", description="the SHA-256 of the bytes uploaded")
    document: dict[str, Any] | None = Field(None, description="the document's handle it came from")


class PublishedPost(BaseModel):
    """A post the website holds now (the output of `wcms.create_post`)."""

    id: int = Field(description="the post's id on the site (0 in a dry run: no post was created)")
    url: str = Field(description="the post's address (for a draft, its preview address; in a dry run, a "
                                 "placeholder under preview.invalid)")
    status: str = Field(description="its status on the site: draft, pending, publish or future")
    media: list[UploadedMedia] = Field(default_factory=list, description="the images uploaded with it: "
                                                                         "the featured image first, if any")
    featured_media: int | None = Field(None, description="the media id of its featured image, if any")


class WebsiteConnector(Protocol):
    """What a website connection type (WordPress today) implements for the wcms trigger and actions."""

    def recent_posts(self, limit: int, cursor: Any) -> PollResult:
        """The latest published posts as polled items, oldest first, and the next cursor."""

    def create_post(self, post: NewPost, featured_media: int | None = None) -> PublishedPost:
        """Create one post (with this featured image); never sends the creating request twice."""

    def upload_media(self, document: OpenedDocument, alt: str) -> UploadedMedia:
        """Upload an image to the site's media library, with its alt text."""

    def find_post(self, title: str, since: datetime) -> PublishedPost | None:
        """A post with exactly this title created or changed since `since`, if any."""
