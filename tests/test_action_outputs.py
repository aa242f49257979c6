"""Every registered action gives, in a dry run, an output of the same shape as in a real run.

A later step reads an earlier step's output (`steps.announce.results[0].url`); a dry run is only useful if it
can. Each action runs in a small recipe, once as a dry run and once for real, against embedded defaults (the
outbox, the built-in contact base and metrics) and local servers; both outputs must validate against the
action's output model and carry the same model fields. A new action without an entry in `samples` fails here.
"""
from __future__ import annotations

from beffroi import outbox
from beffroi_plugins.crm import contacts

from .approval_helpers import ANA as APPROVER
from .approval_helpers import settled
from .helpers import recipe
from .servers.http_base import PNG, CountingServer
from .servers.wordpress import WordPressServer

EVENT = {"title": "Marché de Noël", "url": "https://www.ville.example/noel"}


def samples(api_url: str) -> dict[str, dict]:
    """For each action key, its step in the recipe (besides `id` and `uses`)."""
    return {
        "data.set": {"with": {"title": "{{ trigger.title }}", "n": 2}},
        "flow.delay": {"with": {"duration": "10ms"}},
        "flow.approve": {"with": {"message": "Check the dates"}},
        "http.request": {"with": {"method": "POST", "url": f"{api_url}/hook", "json": {"t": "{{ trigger.title }}"}}},
        "smms.publish": {"with": {"text": "{{ trigger.title }} {{ trigger.url }}",
                                  "images": [{"path": "Communiqués/affiche.png", "alt": "Affiche du marché"}]}},
        "email.send": {"with": {"to": "ann@presse.example", "subject": "{{ trigger.title }}", "text": "Bonjour",
                                "attachments": [{"path": "Communiqués/noel.md"}]}},
        "email.send_campaign": {"with": {"list": "press", "subject": "{{ trigger.title }}",
                                         "text": "Bonjour [[ contact.first_name ]]",
                                         "attachments": [{"path": "Communiqués/noel.md"}]}},
        "crm.upsert_contact": {"with": {"email": "nina@ville.example", "first_name": "Nina", "consent": True}},
        "crm.add_to_list": {"with": {"email": "ann@presse.example", "list": "agenda"}},
        "crm.remove_from_list": {"with": {"email": "ann@presse.example", "list": "leaving"}},
        "wcms.create_post": {"connection": "city-blog", "with": {
            "title": "{{ trigger.title }}", "content": "<p>Dès samedi.</p>",
            "featured_image": {"path": "Communiqués/affiche.png", "alt": "Affiche du marché"}}},
        "analytics.track_event": {"with": {"name": "post_published", "url": "{{ trigger.url }}"}},
        "analytics.report": {"with": {"days": 7, "language": "fr"}},
        "ecm.get": {"with": {"path": "Communiqués/noel.md"}},
        "ecm.extract_text": {"with": {"path": "Communiqués/noel.md"}},
        "ecm.move": {"with": {"path": "Communiqués/a-publier.md", "to_folder": "Publié"}},
        "ecm.upload": {"with": {"path": "Brouillons/{{ trigger.title }}.md", "content": "# {{ trigger.title }}"}},
        "mcms.publish_item": {"with": {"title": "{{ trigger.title }}", "text": "Dès samedi.",
                                       "url": "{{ trigger.url }}"}},
        "mcms.push": {"with": {"title": "{{ trigger.title }}", "body": "Dès samedi.", "url": "{{ trigger.url }}"}},
    }


def fields_present(model, output: dict) -> set[str]:
    """The output's keys that are fields of the model (all its keys when the model takes any field)."""
    if model.model_config.get("extra") == "allow":
        return set(output)
    return {field.alias or name for name, field in model.model_fields.items()} & set(output)


def test_every_action_previews_an_output_of_the_shape_of_its_run(make_engine):
    with CountingServer() as api, WordPressServer() as site:
        engine = make_engine(allowed_networks=["127.0.0.0/8"])
        engine.users.create(APPROVER, "a long enough password", role="approver")
        engine.connections.save("city-blog", "wordpress", {"base_url": site.url + "/", "username": "comms",
                                                           "application_password": "abcd EFGH 1234 ijkl MNOP 5678"})
        contacts.upsert_contact(engine.db, "ann@presse.example", first_name="Ann", consent=True)
        for name in ("press", "leaving"):
            contacts.add_to_list(engine.db, "ann@presse.example", name, "test")
        documents = engine.settings.data_dir / "documents" / "Communiqués"  # the ecm plugin's built-in folder
        documents.mkdir(parents=True)
        for name in ("noel.md", "a-publier.md"):
            (documents / name).write_text("# Marché de Noël\n\nDès samedi.", encoding="utf-8")
        (documents / "affiche.png").write_bytes(PNG)  # an image for the steps that attach one
        table = samples(api.url)
        assert set(engine.registry.actions) == set(table), "every registered action needs an entry in samples()"

        for key, spec in sorted(engine.registry.actions.items()):
            model = spec.output_model
            assert model is not None, f"{key} has no output_model"
            undescribed = [name for name, field in model.model_fields.items() if not field.description]
            assert model.__doc__ and not undescribed, f"{key}: the catalog shows the docstring and each description"
            data = recipe({"id": "act", "uses": key, **table[key]}, name=key.replace(".", "-").replace("_", "-"))
            sent_before = (sum(api.counts.values()), len(site.requests), outbox.items(engine.db)[1])
            dry = engine.run_recipe(engine.validate(data), EVENT, dry_run=True)
            assert dry["status"] == "succeeded", (key, dry)
            assert (sum(api.counts.values()), len(site.requests), outbox.items(engine.db)[1]) == sent_before, \
                f"the dry run of {key} sent something"
            real = engine.run_recipe(engine.validate(data), EVENT)
            if key == "flow.approve":  # it holds the run until someone approves
                assert real["status"] == "waiting", real
                [request] = engine.approvals.of_run(real["id"])
                engine.decide_approval(request["id"], by=APPROVER, role="approver", decision="approve")
                real = settled(engine, real["id"])
            assert real["status"] == "succeeded", (key, real)

            preview, output = dry["steps"][0]["output"], real["steps"][0]["output"]
            model.model_validate(output)
            model.model_validate(preview)
            assert fields_present(model, preview) == fields_present(model, output), key

        # the real runs did reach the servers: the dry runs' silence above is not for want of listening
        assert api.count("POST", "/hook") == 1 and len(site.hits("POST", "posts")) == 1
