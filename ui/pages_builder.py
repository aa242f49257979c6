"""The builder: a new recipe (blank or from an example), its trigger and steps as forms over the person's draft,
each change posted as the whole form (POST → redirect → GET) and announced; save through the engine's validation.

Every builder action posts the whole form, which updates the draft first: nothing typed is lost, with or without
JavaScript. The YAML tab (builder_yaml) edits the same draft.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from . import builder_form, builder_model, builder_view, builder_yaml, catalog, i18n, references
from .routes import FieldProblem
from .web import FLASHES, N_, Refused, Visitor, check_form, redirect, render, role

router = APIRouter(include_in_schema=False)
FLASHES.update({
    "draft-discarded": N_("The draft is discarded: the recipe is as it was last saved."),
    "yaml-applied": N_("The draft is updated from the YAML. Save the recipe when it is ready."),
})
HINT_EXAMPLES = {"condition": "'agenda' in trigger.categories", "list": "{{ trigger.images }}",
                 "more": "text: Hello {{ trigger.name }}"}
NEW_STEP = "choose"  # the catalog's chooser posts this action (with `at` and `uses`)


class Posted(dict):
    """A posted form: text fields by name (the last value), and every value of a name (`getlist`)."""

    def __init__(self, form: Any):
        super().__init__((k, v) for k, v in form.multi_items() if isinstance(v, str))
        self._all: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                self._all.setdefault(key, []).append(value)

    def getlist(self, key: str) -> list[str]:
        """Every value posted under `key` (ticked boxes of one name)."""
        return self._all.get(key, [])


async def posted(request: Request, seen: Visitor) -> Posted:
    """The posted form, once its CSRF token is checked."""
    form = Posted(await request.form())
    check_form(seen, form)
    return form


def edit_address(name: str, **query: Any) -> str:
    """The builder's address, with what was just done (announced and focused on the page)."""
    shown = {k: v for k, v in query.items() if v is not None and v != ""}
    return f"/recipes/{name}/edit" + (f"?{urlencode(shown)}" if shown else "")


def _user_id(seen: Visitor) -> str:
    assert seen.user is not None
    return seen.user.id


def _draft(seen: Visitor, name: str) -> Any:
    """The person's draft of the recipe (or a copy of the stored one); a 404 page when there is neither."""
    try:
        return seen.engine.draft_of(name, _user_id(seen))
    except LookupError:
        raise Refused(404, seen.gettext("There is no recipe with this name.")) from None


# -- a new recipe ---------------------------------------------------------------------------------------------
@router.get("/recipes/new")
def new_page(seen: Visitor = Depends(role("editor"))):
    """Start a recipe: its name and title, blank or from an example; the person's unsaved new recipes."""
    return _new_form(seen)


def _new_form(seen: Visitor, status: int = 200, errors: list[FieldProblem] | None = None,
              values: dict[str, str] | None = None):
    found = builder_model.examples(seen.engine.settings.recipes_dir)
    drafts = [{"name": d.recipe_name, "title": d.definition.get("title") or d.recipe_name,
               "when": i18n.when(d.updated_at, seen.language, seen.engine.settings.timezone)}
              for d in seen.engine.drafts.of_person(_user_id(seen), new_only=True)]
    return render(seen, "builder_new.html", status, examples=found, drafts=drafts, errors=errors or [],
                  values=values or {"start": "blank"})


@router.post("/recipes/new")
async def create(request: Request, seen: Visitor = Depends(role("editor"))):
    """Check the name as the recipe format requires and that it is free, then open the builder on a new draft."""
    form = await posted(request, seen)
    return await run_in_threadpool(_create, seen, form)


def _create(seen: Visitor, form: Posted):
    name, title, start = form.get("name", "").strip(), form.get("title", "").strip(), form.get("start", "blank")
    example = next((e for e in builder_model.examples(seen.engine.settings.recipes_dir) if e.key == start), None)
    definition = builder_model.from_example(example, name, title) if example else builder_model.blank(name, title)
    problems = []
    if not name:
        problems.append(FieldProblem("name", seen.gettext("Enter a name for the recipe.")))
    elif _name_problem(seen, definition):
        problems.append(FieldProblem("name", seen.gettext(
            "The name may hold only lowercase letters (a to z, without accents), digits and hyphens, up to 100 "
            "characters, and starts with a letter or a digit: for example blog-to-social.")))
    elif _stored(seen, name):
        problems.append(FieldProblem("name", seen.gettext("A recipe named %(name)s already exists. Choose another "
                                                          "name, or edit that recipe.", name=name)))
    elif seen.engine.drafts.get(name, _user_id(seen)) is not None:
        problems.append(FieldProblem("name", seen.gettext("You already have an unsaved recipe named %(name)s: open "
                                                          "it from the list below, or choose another name.",
                                                          name=name)))
    if start != "blank" and example is None:
        problems.append(FieldProblem("start-blank", seen.gettext("Choose a blank recipe or one of the examples.")))
    if problems:
        return _new_form(seen, 400, problems, {"name": name, "title": title, "start": start})
    seen.engine.drafts.put(name, _user_id(seen), definition, None)
    return redirect(seen, edit_address(name, done="created"))


def _name_problem(seen: Visitor, definition: dict[str, Any]) -> bool:
    """True when the engine's validation finds a problem with the name (the recipe format's own rule)."""
    try:
        seen.engine.validate(definition)
    except ValueError as exc:
        return any(getattr(p, "loc", None) == "name" for p in getattr(exc, "problems", []))
    return False


def _stored(seen: Visitor, name: str) -> bool:
    try:
        seen.engine.recipes.get_row(name)
    except LookupError:
        return False
    return True


# -- the builder ----------------------------------------------------------------------------------------------
@router.get("/recipes/{name}/edit")
def edit(name: str, done: str = "", at: str = "", step: str = "", version: str = "",
         seen: Visitor = Depends(role("editor"))):
    """The builder on the person's draft (or the stored recipe), with what was just done announced."""
    draft = _draft(seen, name)
    return builder_page(seen, name, draft, done=done, at=_number(at), step=step[:100], version=_number(version))


def _index(text: str) -> int | None:
    """A step index posted by a button (`move-up:3`, -1 for "at the top"), or None."""
    return int(text) if re.fullmatch(r"-?\d{1,6}", text) else None


def _number(text: str) -> int | None:
    """A whole number of the address ('' or anything else: None)."""
    return int(text) if text.isdigit() and len(text) < 7 else None


def builder_page(seen: Visitor, name: str, draft: Any, status: int = 200, problems: list[Any] | None = None,
                 errors: list[FieldProblem] | None = None, overrides: dict[str, str] | None = None, **done: Any):
    """The builder page for a draft, with the engine's problems beside their fields."""
    engine = seen.engine
    definition = draft.definition
    stored = engine.connections.types()
    trigger = builder_view.trigger_card(definition, engine.registry, stored, seen.language, overrides or {})
    steps = builder_view.step_cards(definition, engine.registry, stored, seen.language, overrides or {})
    known = builder_view.known_fields(trigger, steps)
    placed = builder_view.place(problems or [], known, [trigger, *steps], catalog.field_gettext(seen.language))
    placed = _steps_needed(seen, placed) + list(errors or [])
    for card in steps:
        card.advanced_open = card.advanced_open or any(
            p.field.startswith(tuple(f"{card.loc}.{key}" for key in builder_view.ADVANCED)) for p in placed)
    announce, focus = _announcement(seen, steps, trigger, **done)
    return render(seen, "builder_edit.html", status, name=name, recipe=definition, trigger=trigger, steps=steps,
                  errors=placed, announce=announce, focus=focus, tab="builder", hint_examples=HINT_EXAMPLES,
                  window_open=any(p.field.startswith("window") for p in placed),
                  **_top(seen, draft))


@router.get("/recipes/{name}/edit/data")
def data(name: str, step: str = "", fragment: str = "", seen: Visitor = Depends(role("editor"))):
    """What step `step` of the person's draft can insert (the trigger's data, the earlier steps' outputs): a page
    of its own (the step card's panel without JavaScript), or with `fragment=1` the list alone, which insert.js
    shows in the panel."""
    definition = _draft(seen, name).definition
    steps = builder_model.steps_of(definition)
    index = _number(step)
    if index is None or index >= len(steps):
        raise Refused(404, seen.gettext("This recipe has no such step."))
    found = references.references(seen.engine, definition, index, seen.language, last_run=_last_run(seen, name))
    card = steps[index] if isinstance(steps[index], dict) else {}
    label = card.get("title") or card.get("id") or card.get("uses") or ""
    return render(seen, "_builder_data_list.html" if fragment else "builder_data.html", name=name, index=index,
                  position=index + 1, label=label, references=found, panel=f"steps[{index}]-insert")


def _last_run(seen: Visitor, name: str) -> dict[str, Any] | None:
    """The recipe's last successful run (its outputs are the data-insert panel's examples), or None."""
    runs = seen.engine.runs.newest("succeeded", 1, recipe=name)
    return seen.engine.runs.detail(runs[0]["id"]) if runs else None


def _top(seen: Visitor, draft: Any) -> dict[str, Any]:
    """What the top of both tabs says about the draft: when it was kept, whether a version was saved since."""
    return {"draft": draft, "conflict": draft.base_version is not None
            and draft.latest_version not in (None, draft.base_version),
            "resumed_at": i18n.when(draft.updated_at, seen.language, seen.engine.settings.timezone)
            if draft.updated_at is not None else ""}


def _steps_needed(seen: Visitor, placed: list[FieldProblem]) -> list[FieldProblem]:
    """The engine's "at least 1 item" for `steps`, said plainly."""
    return [FieldProblem("steps", seen.gettext("Add at least one step: a recipe needs a trigger and at least one "
                                               "step."))
            if p.field == "steps" and "at least 1 item" in p.text else p for p in placed]


def _announcement(seen: Visitor, steps: list[Any], trigger: Any, done: str = "", at: int | None = None,
                  step: str = "", version: int | None = None) -> tuple[str, str]:
    """What the live region says after an action, and the id of the heading that gets the focus."""
    card = steps[at] if at is not None and 0 <= at < len(steps) else None
    label = card.data.get("id") or card.title if card is not None else step
    if done == "moved" and card is not None:
        return seen.gettext("Step “%(step)s” moved to position %(position)d.", step=label,
                            position=card.position), card.loc
    if done == "added" and card is not None:
        return seen.gettext("Step “%(step)s” added at position %(position)d.", step=label,
                            position=card.position), card.loc
    if done == "deleted":
        focus = card.loc if card is not None else (steps[-1].loc if steps else "steps")
        return seen.gettext("Step “%(step)s” deleted.", step=step), focus
    if done == "trigger":
        return seen.gettext("The recipe now starts with: %(trigger)s.", trigger=trigger.title), "trigger"
    if done == "kept":
        return seen.gettext("The draft is kept. Save the recipe when it is ready."), ""
    if done == "created":
        return seen.gettext("The draft of the recipe is created. Choose its trigger and add its steps."), ""
    if done == "saved" and version is not None:
        return seen.gettext("Saved as version %(version)d.", version=version), ""
    return "", ""


@router.post("/recipes/{name}/edit")
async def act(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """One builder action on the whole form: keep, save, add, move, delete, choose, discard, connect."""
    form = await posted(request, seen)
    return await run_in_threadpool(_act, seen, name, form)


def _act(seen: Visitor, name: str, form: Posted) -> Response:
    engine, user_id = seen.engine, _user_id(seen)
    draft = _draft(seen, name)
    action = form.get("action", "keep")
    if action == "discard":
        engine.drafts.discard(name, user_id)
        if not _stored(seen, name):
            return redirect(seen, "/recipes/new", "draft-discarded")
        return redirect(seen, edit_address(name), "draft-discarded")
    if action == NEW_STEP:
        return _choose(seen, name, draft, form)
    definition, typed = builder_form.read(form, draft.definition, engine.registry,
                                          catalog.field_gettext(seen.language))
    definition["name"] = name
    draft = replace(engine.drafts.put(name, user_id, definition, draft.base_version),
                    latest_version=draft.latest_version)
    verb, _, argument = action.partition(":")
    index = _index(argument)
    if verb == "autosave":
        return Response(status_code=204)
    unread = {p.field: builder_form.text(form, p.field) for p in typed if p.field.endswith(".more")}
    if unread:  # YAML that cannot be read is not in the draft: shown again as typed, to fix first
        return builder_page(seen, name, draft, 400, errors=typed, overrides=unread)
    if verb == "save":
        return _save(seen, name, draft, typed)
    if verb in ("move-up", "move-down") and index is not None:
        moved = builder_model.move_step(definition, index, -1 if verb == "move-up" else 1)
        if moved is not None:
            engine.drafts.put(name, user_id, moved[0], draft.base_version)
            return redirect(seen, edit_address(name, done="moved", at=moved[1]))
    if verb == "delete" and index is not None:
        deleted = builder_model.delete_step(definition, index)
        if deleted is not None:
            engine.drafts.put(name, user_id, deleted[0], draft.base_version)
            left = builder_model.steps_of(deleted[0])
            return redirect(seen, edit_address(name, done="deleted", step=builder_model.step_id(deleted[1], index),
                                               at=min(index, len(left) - 1) if left else None))
    if verb == "add" and index is not None:
        return redirect(seen, f"/recipes/{name}/edit/choose?at={index}")
    if verb == "data" and index is not None and 0 <= index < len(builder_model.steps_of(definition)):
        return redirect(seen, f"/recipes/{name}/edit/data?step={index}")
    if verb == "trigger":
        return redirect(seen, f"/recipes/{name}/edit/choose?at=trigger")
    if verb == "yaml":
        return redirect(seen, f"/recipes/{name}/edit/yaml")
    if verb == "connect" and argument in engine.registry.connection_types and seen.user and seen.user.can("admin"):
        back = quote(f"/recipes/{name}/edit", safe="")
        return redirect(seen, f"/connections/new?type={quote(argument, safe='')}&next={back}")
    return redirect(seen, edit_address(name, done="kept"))


def _choose(seen: Visitor, name: str, draft: Any, form: Posted) -> Response:
    """The catalog's choice: a new step below step `at` (-1: at the top), or the trigger (`at=trigger`)."""
    uses, at = form.get("uses", ""), form.get("at", "")
    registry, definition = seen.engine.registry, draft.definition
    if at == "trigger" and uses in registry.triggers:
        changed = builder_model.choose_trigger(definition, uses)
        seen.engine.drafts.put(name, _user_id(seen), changed, draft.base_version)
        return redirect(seen, edit_address(name, done="trigger"))
    after = _index(at)
    if after is not None and uses in registry.actions:
        changed, index = builder_model.insert_step(definition, after, uses)
        seen.engine.drafts.put(name, _user_id(seen), changed, draft.base_version)
        return redirect(seen, edit_address(name, done="added", at=index))
    raise Refused(404, seen.gettext("There is no such step or trigger to choose. Go back to the builder and try "
                                    "again."))


def _save(seen: Visitor, name: str, draft: Any, typed: list[FieldProblem]) -> Response:
    """Save the draft as the recipe's next version; its problems beside their fields (400) when it is refused."""
    assert seen.user is not None
    try:
        _, version = seen.engine.save_draft(name, seen.user.id, author=seen.user.email)
    except FileExistsError:
        taken = FieldProblem("recipe", seen.gettext("A recipe named %(name)s was created meanwhile by someone else: "
                                                    "this draft cannot replace it.", name=name))
        return builder_page(seen, name, draft, 409, errors=[taken])
    except ValueError as exc:
        problems = getattr(exc, "problems", None)
        if problems is None:
            raise
        shown = _without_repeats(typed, problems)
        return builder_page(seen, name, draft, 400, problems=shown, errors=typed)
    return redirect(seen, edit_address(name, done="saved", version=version))


def _without_repeats(typed: list[FieldProblem], problems: list[Any]) -> list[Any]:
    """The engine's problems, less those of fields whose typed text could not be converted (said already)."""
    fields = {p.field for p in typed}
    return [p for p in problems if str(p.loc) not in fields]


# -- the YAML tab ---------------------------------------------------------------------------------------------
@router.get("/recipes/{name}/edit/yaml")
def yaml_tab(name: str, seen: Visitor = Depends(role("editor"))):
    """The same draft as YAML, for IT."""
    draft = _draft(seen, name)
    return _yaml_page(seen, name, draft, builder_yaml.dump(draft.definition))


def _yaml_page(seen: Visitor, name: str, draft: Any, text: str, status: int = 200,
               errors: list[FieldProblem] | None = None):
    return render(seen, "builder_yaml.html", status, name=name, text=text, errors=errors or [], tab="yaml",
                  recipe=draft.definition, announce="", **_top(seen, draft))


@router.post("/recipes/{name}/edit/yaml")
async def yaml_post(name: str, request: Request, seen: Visitor = Depends(role("editor"))):
    """Replace the draft with the YAML text (kept as typed when it has problems, each with its line), or save it."""
    form = await posted(request, seen)
    return await run_in_threadpool(_yaml_post, seen, name, form)


def _yaml_post(seen: Visitor, name: str, form: Posted) -> Response:
    draft = _draft(seen, name)
    text = builder_form.text(form, "yaml")
    data, mistake = builder_yaml.parse(text)
    if mistake is not None:
        where = seen.gettext("Line %(line)d, column %(column)d: ", line=mistake.line, column=mistake.column) \
            if mistake.line else ""
        problem = seen.gettext("The YAML cannot be read. %(where)s%(problem)s.", where=where, problem=mistake.problem)
        return _yaml_page(seen, name, draft, text, 400, [FieldProblem("yaml", problem)])
    if not isinstance(data, dict):
        return _yaml_page(seen, name, draft, text, 400, [FieldProblem("yaml", seen.gettext(
            "A recipe is a mapping with name, title, trigger and steps."))])
    if data.get("name", name) != name:
        return _yaml_page(seen, name, draft, text, 400, [FieldProblem("yaml", seen.gettext(
            "Line %(line)d: the name of this recipe is %(name)s. To use another name, start a new recipe.",
            line=builder_yaml.line_of(text, "name"), name=name))])
    data["name"] = name
    engine, user_id = seen.engine, _user_id(seen)
    draft = replace(engine.drafts.put(name, user_id, data, draft.base_version), latest_version=draft.latest_version)
    try:
        if form.get("action") == "save":
            _, version = engine.save_draft(name, user_id, author=seen.user.email if seen.user else None)
            return redirect(seen, edit_address(name, done="saved", version=version))
        engine.validate(engine.recipes.keep_secret(name, data))
    except FileExistsError:
        return _yaml_page(seen, name, draft, text, 409, [FieldProblem("yaml", seen.gettext(
            "A recipe named %(name)s was created meanwhile by someone else: this draft cannot replace it.",
            name=name))])
    except ValueError as exc:
        problems = getattr(exc, "problems", None)
        if problems is None:
            raise
        return _yaml_page(seen, name, draft, text, 400, [_located(seen, text, p) for p in problems])
    return redirect(seen, f"/recipes/{name}/edit/yaml", "yaml-applied")


def _located(seen: Visitor, text: str, problem: Any) -> FieldProblem:
    """A validation problem with the line of the YAML where its place is written: "Line 12 (steps[1].id): …"."""
    line = builder_yaml.line_of(text, str(problem.loc))
    where = seen.gettext("Line %(line)d", line=line) if line else ""
    place = " ".join(part for part in (where, f"({problem.loc})" if problem.loc else "") if part)
    return FieldProblem("yaml", f"{place}: {problem.message}" if place else str(problem.message))
