"""The plugin manager of one engine: built-ins, entry points, a plugins folder (each load isolated), the registry."""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .messages import suggest
from .specs import ActionSpec, ConnectionSpec, ServiceSpec, TriggerSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

log = logging.getLogger("beffroi.plugins")

ENTRY_POINT_GROUP = "beffroi"

# Built-in plugins are data, registered explicitly (no import-time side effects).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "beffroi_plugins.builtins", "beffroi_plugins.wcms", "beffroi_plugins.smms", "beffroi_plugins.email",
    "beffroi_plugins.crm", "beffroi_plugins.analytics", "beffroi_plugins.ecm", "beffroi_plugins.mcms",
)


class RegistryError(Exception):
    """Two plugins claim the same key, or a plugin returned something that is not a spec."""


# Where a plugin comes from (PluginInfo.origin): listed in BUILTIN_PLUGINS, given to the engine as an object,
# an entry point of an installed distribution, or a module in BEFFROI_PLUGINS_DIR.
BUILTIN, EXTRA, ENTRY_POINT, PLUGINS_DIR = "builtin", "extra", "entry_point", "plugins_dir"


@dataclass
class PluginInfo:
    """One loaded plugin: its name, version, where it came from and what it registered.

    `source` says where, for a person: the module of a built-in, `dist==version (module)` of an entry point, the
    file or package folder in the plugins folder.
    """

    name: str
    version: str | None = None
    builtin: bool = False
    origin: str = EXTRA
    source: str = ""
    triggers: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    connection_types: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)


@dataclass
class LoadFailure:
    """A plugin that could not be loaded; the rest of the engine still works."""

    name: str
    error: str
    origin: str = EXTRA
    source: str = ""


@dataclass
class DisabledPlugin:
    """A plugin left out on purpose (BEFFROI_DISABLE_PLUGINS): never imported."""

    name: str
    origin: str
    source: str


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
    disabled: list[DisabledPlugin] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def listing(self) -> dict[str, list]:
        """The plugins, load failures, disabled plugins and warnings as JSON data (`beffroi plugins`, the API)."""
        return {"tool_types": self.tool_types(), "plugins": [asdict(p) for p in self.plugins.values()],
                "failures": [asdict(f) for f in self.failures],
                "disabled": [asdict(d) for d in self.disabled],
                "warnings": list(self.warnings)}

    def tool_types(self) -> list[str]:
        """The tool types the plugins cover (wcms, smms…): their actions' and triggers' key prefixes and their
        connection types' tool types, the built-in plugin's own (flow, data, http…) left out; sorted."""
        found = {spec.tool_type for spec in self.connection_types.values() if getattr(spec, "tool_type", None)}
        for kind in ("actions", "triggers"):
            found |= {key.split(".", 1)[0] for key in getattr(self, kind)
                      if "." in key and self.owners.get((kind, key)) != "builtins"}
        return sorted(found)

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


def _import_file(module_name: str, file: Path) -> Any:
    """Import a module (or a package, given its `__init__.py`) from a file under a module name of its own."""
    package = file.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(module_name, file, submodule_search_locations=[str(file.parent)]
                                                  if package else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic models and dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _line_in(exc: BaseException, where: Path) -> str | None:
    """`file, line N` of the innermost place in `where` (a file, or a package folder) that the failure passed."""
    root = where.resolve()

    def inside(filename: str | None) -> bool:
        if not filename:
            return False
        path = Path(filename).resolve()
        return path == root or root in path.parents

    if isinstance(exc, SyntaxError) and inside(exc.filename) and exc.lineno:
        return f"{exc.filename}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if inside(f.filename)]
    return f"{frames[-1].filename}, line {frames[-1].lineno}" if frames else None


class PluginHost:
    """Owns one pluggy manager; loads built-ins, extra plugins, entry points and a plugins folder (leaving out the
    disabled ones), then builds the registry."""

    def __init__(self, *, extra_plugins: list[Any] | None = None, load_entry_points: bool = True,
                 disabled: Iterable[str] = (), plugins_dir: str | Path | None = None):
        self.pm = pluggy.PluginManager("beffroi")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self._disabled = set(disabled)
        self._seen: list[str] = []  # every plugin name met, loaded or not
        for module_name in BUILTIN_PLUGINS:
            name = module_name.rsplit(".", 1)[-1]
            self._load(lambda m=module_name: importlib.import_module(m), name, None, BUILTIN, module_name)
        for plugin in extra_plugins or ():
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            self._load(lambda p=plugin: p, name, None, EXTRA, name)
        if load_entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                version = ep.dist.version if ep.dist else None
                where = f"{ep.dist.name}=={version} ({ep.value})" if ep.dist else ep.value
                self._load(ep.load, ep.name, version, ENTRY_POINT, where)
        if plugins_dir is not None:
            self._load_folder(Path(plugins_dir))
        for name in sorted(self._disabled - set(self._seen)):
            self.registry.warnings.append(f"BEFFROI_DISABLE_PLUGINS names {name!r}, which is no plugin here"
                                          f"{suggest(name, self._seen)}")

    def _load_folder(self, folder: Path) -> None:
        """Load every `*.py` module and package (a folder with `__init__.py`) of the plugins folder."""
        if not folder.is_dir():
            self.registry.failures.append(LoadFailure(name=str(folder), origin=PLUGINS_DIR, source=str(folder),
                                                      error=f"BEFFROI_PLUGINS_DIR: {folder} is not a folder"))
            return
        # a module name of its own per folder, so a plugin `crm.py` never shadows (or is shadowed by) another `crm`
        folder = folder.resolve()
        prefix = "beffroi_dir_" + hashlib.sha256(str(folder).encode()).hexdigest()[:10]
        for path in sorted(folder.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            if path.is_file() and path.suffix == ".py":
                name, file = path.stem, path
            elif path.is_dir() and (path / "__init__.py").is_file():
                name, file = path.name, path / "__init__.py"
            else:
                continue
            self._load(lambda n=f"{prefix}_{name}", f=file: _import_file(n, f), name, None, PLUGINS_DIR, str(path),
                       where=path)

    def _load(self, loader, name: str, version: str | None, origin: str, source: str, *,
              where: Path | None = None) -> None:
        """Load and register one plugin; any failure is recorded and the plugin left out entirely.

        `where`: the file or folder the plugin's code lies in, to name the line a failure comes from.
        """
        self._seen.append(name)
        if name in self._disabled:
            self.registry.disabled.append(DisabledPlugin(name=name, origin=origin, source=source))
            return
        try:
            plugin = loader()
            if version is None and origin == PLUGINS_DIR:
                version = getattr(plugin, "__version__", None)
            try:
                self.pm.register(plugin, name=name)
                self.pm.check_pending()
                found = _collect(self.pm, plugin, name)
                staged = Registry(actions=dict(self.registry.actions), triggers=dict(self.registry.triggers),
                                  connection_types=dict(self.registry.connection_types),
                                  services=dict(self.registry.services), owners=dict(self.registry.owners))
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
            if where is not None and (line := _line_in(exc, where)):
                if isinstance(exc, SyntaxError):  # its text repeats the file and line, without the folder
                    message = f"{type(exc).__name__}: {exc.msg}"
                message = f"{line}: {message}"
            log.error("plugin %s failed to load: %s", name, message)
            self.registry.failures.append(LoadFailure(name=name, error=message, origin=origin, source=source))
            return
        for kind in _KINDS:
            setattr(self.registry, kind, getattr(staged, kind))
        info = PluginInfo(name=name, version=version, builtin=origin == BUILTIN, origin=origin, source=source)
        for kind, spec in found:
            getattr(info, kind).append(spec.key)
        self.registry.plugins[name] = info

    def routers(self) -> list[APIRouter]:
        """The API routers every loaded plugin provides (a plugin whose hook fails is logged and skipped)."""
        found: list[APIRouter] = []
        for impl in self.pm.hook.register_routers.get_hookimpls():
            try:
                found.extend(cast("Iterable[APIRouter] | None", impl.function()) or ())  # hookspecs.register_routers
            except Exception:
                log.exception("plugin %s failed in register_routers", impl.plugin_name)
        return found

    def track_event(self, event: dict[str, Any]) -> None:
        """Tell every plugin about a life-cycle event; a failing observer is logged, never fatal."""
        for impl in self.pm.hook.track_event.get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                continue
            try:
                impl.function(**dict.fromkeys(impl.argnames, event))  # pluggy lets an impl omit `event`
            except Exception:
                log.exception("plugin %s failed in track_event", impl.plugin_name)
