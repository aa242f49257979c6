"""`wcms.post_published`: a new post on the website, read from a feed, a WordPress site or a local folder."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from beffroi import PollResult, TriggerSpec

from . import feeds, folder
from .connectors import connect
from .event import PostEvent

SOURCES_HINT = ("give feed_url (an RSS or Atom feed), folder (a local folder of posts), "
                "or source: wordpress with the trigger's WordPress connection")


class PostPublishedConfig(BaseModel):
    """Where new posts are read from: one of a feed address, the trigger's WordPress connection, a local folder."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["feed", "wordpress", "folder"] | None = Field(
        None, description="where posts come from; guessed from feed_url or folder when left out; "
                          "`wordpress` reads the site of the trigger's connection")
    feed_url: str | None = Field(None, pattern=r"^https?://", description="address of an RSS 2.0 or Atom 1.0 feed")
    folder: str | None = Field(None, min_length=1,
                               description="a folder on the Beffroi server where each .json, .md or .html file "
                                           "is a post")
    limit: int = Field(20, ge=1, le=100, description="how many of the latest posts each poll looks at (WordPress)")

    @model_validator(mode="after")
    def _one_source(self) -> PostPublishedConfig:
        given = [name for name in ("feed_url", "folder") if getattr(self, name)]
        if len(given) > 1:
            raise PydanticCustomError("wcms_source", "give either feed_url or folder, not both")
        if self.source is None:
            if not given:
                raise PydanticCustomError("wcms_source", SOURCES_HINT)
            self.source = "feed" if given == ["feed_url"] else "folder"
        needed = {"feed": "feed_url", "folder": "folder"}.get(self.source)
        if given != ([needed] if needed else []):
            what = f"{needed} is needed" if needed and needed not in given else f"{given[0]} is not used"
            raise PydanticCustomError("wcms_source", "source {source}: {what}",
                                      {"source": self.source, "what": what})
        return self


def poll(config: PostPublishedConfig, cursor: Any, ctx: Any) -> PollResult:
    """The posts the source shows now, oldest first; the engine starts one run per post it has not seen."""
    if config.source == "feed":
        assert config.feed_url is not None  # PostPublishedConfig._one_source
        return feeds.poll(config.feed_url, cursor, ctx)
    if config.source == "folder":
        assert config.folder is not None  # PostPublishedConfig._one_source
        return folder.poll(config.folder, ctx)
    return connect(ctx, "wcms.post_published with source: wordpress").recent_posts(config.limit, cursor)


SPEC = TriggerSpec(
    key="wcms.post_published", title="New post on the website", kind="poll", config_model=PostPublishedConfig,
    event_model=PostEvent, connection_type="wcms", poll=poll,
    sample_event=PostEvent(
        id="https://www.ville.example/actualites/marche-de-noel", title="Marché de Noël sur la Grand-Place",
        url="https://www.ville.example/actualites/marche-de-noel",
        summary="Du 1er au 24 décembre, 60 chalets, une patinoire et des concerts chaque soir.",
        content_html="<p>Du 1er au 24 décembre, 60 chalets, une patinoire et des concerts chaque soir.</p>",
        published_at="2026-11-28T09:30:00+00:00", author="Service communication", categories=["agenda", "fêtes"],
        image_url="https://www.ville.example/media/marche-de-noel.jpg"),
    description="Starts a run for each new post of an RSS/Atom feed, a WordPress site or a local folder. "
                "The first poll only notes the posts already there.")
