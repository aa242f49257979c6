"""The ecm tool type (documents): triggers `ecm.document_added` / `_changed`, actions to get, upload, move a
document and extract its text; `folder` and `webdav` connection types, Beffroi's own documents folder by default."""
from beffroi import ActionSpec, ConnectionSpec, DocumentSource, ServiceSpec, TriggerSpec, hookimpl

from . import connectors, extract, get, move, source, trigger, upload


@hookimpl
def register_connections() -> list[ConnectionSpec]:
    """Document store connection types (a folder on the server, a WebDAV server)."""
    return connectors.CONNECTION_TYPES


@hookimpl
def register_triggers() -> list[TriggerSpec]:
    """A document added to, or changed in, a folder."""
    return [trigger.ADDED, trigger.CHANGED]


@hookimpl
def register_actions() -> list[ActionSpec]:
    """Get, upload, move a document; extract its text."""
    return [get.SPEC, upload.SPEC, move.SPEC, extract.SPEC]


@hookimpl
def register_services() -> list[ServiceSpec]:
    """Documents read by their handle, for the other plugins (images of posts, attachments of e-mails)."""
    return [ServiceSpec(protocol=DocumentSource, provider=source.EcmDocuments())]
