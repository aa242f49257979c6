"""The plugin manager of one engine: built-ins, entry points (each load isolated), and the registry."""
from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .specs import ActionSpec, ConnectionSpec, ServiceSpec, TriggerSpec

log = logging.getLogger("beffroi.plugins")

ENTRY_POINT_GROUP = "beffroi"

# Built-in plugins are data, registered explicitly (no import-time side effects).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "beffroi_plugins.builtins", "beffroi_plugins.wcms", "beffroi_plugins.smms", "beffroi_plugins.email",
    "beffroi_plugins.crm", "beffroi_plugins.analytics",
)


class RegistryError(Exception):
    """Two plugins claim the same key, or a plugin returned something that is not a spec."""


@dataclass
class PluginInfo:
    """One loaded plugin: its name, distribution version and what it registered."""

    name: str
    version: str | None = None
    builtin: bool = False
    triggers: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    connection_types: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)


@dataclass
class LoadFailure:
    """A plugin that could not be loaded; the rest of the engine still works."""

    name: str
    error: str


@dataclass
class Registry:
    """Everything the plugins registered, keyed, with the plugin that owns each key."""

    actions: dict[str, ActionSpec] = field(default_factory=dict)
    triggers: dict[str, TriggerSpec] = field(default_factory=dict)
    connection_types: dict[str, ConnectionSpec] = field(default_factory=dict)
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[LoadFailure] = field(default_factory=list)

    def add(self, kind: str, spec: Any, plugin: str) -> None:
        """Add one spec; a key already owned by another plugin is an error naming both."""
        table = getattr(self, kind)
        owner = self.owners.get((kind, spec.key))
        if owner is not None:
            raise RegistryError(
                f"{kind[:-1].replace('_', ' ')} {spec.key!r} is registered by both {owner!r} and {plugin!r}"
            )
        table[spec.key] = spec
        self.owners[(kind, spec.key)] = plugin


_HOOKS = (
    ("register_connections", "connection_types", ConnectionSpec),
    ("register_triggers", "triggers", TriggerSpec),
    ("register_actions", "actions", ActionSpec),
    ("register_services", "services", ServiceSpec),
)
_KINDS = ("actions", "triggers", "connection_types", "services", "owners")


def _records(result: Any, hook_name: str, spec_type: type, name: str) -> list[Any]:
    """The specs one register hook returned, or a RegistryError saying what it returned instead."""
    if result is None:
        return []
    if isinstance(result, (Mapping, str, bytes, BaseModel)) or not isinstance(result, Iterable):
        raise RegistryError(f"plugin {name!r}: {hook_name}() returned a {type(result).__name__}; it must return a list "
                            f"of {spec_type.__name__} records or yield them one by one")
    records = list(result)
    for spec in records:
        if not isinstance(spec, spec_type):
            raise RegistryError(f"plugin {name!r}: {hook_name}() returned a {type(spec).__name__}, "
                                f"not a {spec_type.__name__}")
    return records


def _collect(pm: pluggy.PluginManager, plugin: object, name: str) -> list[tuple[str, Any]]:
    """Call the register hooks of one plugin only (whatever its functions are named), and check what they return."""
    found: list[tuple[str, Any]] = []
    for hook_name, kind, spec_type in _HOOKS:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin is plugin:
                found.extend((kind, spec) for spec in _records(impl.function(), hook_name, spec_type, name))
    return found


class PluginHost:
    """Owns one pluggy manager; loads built-ins, extra plugins and entry points, then builds the registry."""

    def __init__(self, *, extra_plugins: list[Any] | None = None, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager("beffroi")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        for module_name in BUILTIN_PLUGINS:
            self._load(lambda m=module_name: importlib.import_module(m), module_name.rsplit(".", 1)[-1], None, True)
        for plugin in extra_plugins or ():
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._load(lambda p=plugin: p, name, None, False)
        if load_entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                version = ep.dist.version if ep.dist else None
                self._load(ep.load, ep.name, version, False)

    def _load(self, loader, name: str, version: str | None, builtin: bool) -> None:
        """Load and register one plugin; any failure is recorded and the plugin left out entirely."""
        try:
            plugin = loader()
            try:
                self.pm.register(plugin, name=name)
                self.pm.check_pending()
                found = _collect(self.pm, plugin, name)
                staged = Registry(**{k: dict(getattr(self.registry, k)) for k in _KINDS})
                for kind, spec in found:
                    staged.add(kind, spec, name)
            except Exception:
                # pluggy < 1.7 may fail half-way through register(); drop whatever part of this plugin got in,
                # but never a plugin loaded earlier under the same name or as the same object.
                if self.pm.get_plugin(name) is plugin and name not in self.registry.plugins:
                    self.pm.unregister(name=name)
                raise
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
            message = f"{type(exc).__name__}: {exc}"
            log.error("plugin %s failed to load: %s", name, message)
            self.registry.failures.append(LoadFailure(name=name, error=message))
            return
        for kind in _KINDS:
            setattr(self.registry, kind, getattr(staged, kind))
        info = PluginInfo(name=name, version=version, builtin=builtin)
        for kind, spec in found:
            getattr(info, kind).append(spec.key)
        self.registry.plugins[name] = info

    def routers(self) -> list[Any]:
        """The API routers every loaded plugin provides (a plugin whose hook fails is logged and skipped)."""
        found = []
        for impl in self.pm.hook.register_routers.get_hookimpls():
            try:
                found.extend(impl.function() or ())
            except Exception:
                log.exception("plugin %s failed in register_routers", impl.plugin_name)
        return found

    def track_event(self, event: dict) -> None:
        """Tell every plugin about a life-cycle event; a failing observer is logged, never fatal."""
        for impl in self.pm.hook.track_event.get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                impl.function(**{arg: event for arg in impl.argnames})  # pluggy lets an impl omit `event`
            except Exception:
                log.exception("plugin %s failed in track_event", impl.plugin_name)
