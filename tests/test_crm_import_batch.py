"""A CSV import stores its rows in batches with the rules of upsert_contact and add_to_list: tags and custom fields
merged, blank cells ignored, consent recorded in the history when it changes, an address twice in the file merged,
and someone who left a list kept off it."""
from __future__ import annotations

from beffroi_plugins.crm import contacts, csv_import, lists
from beffroi_plugins.crm.book import BuiltinBook


def test_a_second_import_merges_and_never_resubscribes_someone_who_left(engine):
    contacts.upsert_contact(engine.db, "anne@example.org", first_name="Anne", tags=["press"], custom={"city": "Namur"})
    lists.add_to_list(engine.db, "anne@example.org", "press")
    contacts.unsubscribe(engine.db, contacts.find_contact(engine.db, "anne@example.org")["id"], "press")
    data = (b"email,first_name,last_name,tags,consent,consent_text,list,phone\n"
            b"ANNE@example.org,,Dubois,agenda,yes,Send me the news,press,081\n"
            b"bob@example.org,Bob,,a|b,no,,press,\n"
            b"bob@example.org,,Martin,c,yes,,press,082\n")
    report = csv_import.import_csv(engine.db, data, consent_source="form")
    assert (report["imported"], report["updated"], report["rejected"]) == (1, 2, [])
    anne = BuiltinBook().contact(engine.db, contacts.find_contact(engine.db, "anne@example.org")["id"])
    assert (anne["first_name"], anne["last_name"], anne["tags"]) == ("Anne", "Dubois", ["press", "agenda"])
    assert anne["custom"] == {"city": "Namur", "phone": "081"}
    assert [(m["list"], m["subscribed"]) for m in anne["lists"]] == [("press", False)]  # she left: she stays off
    assert [(c["given"], c["source"], c["text"]) for c in anne["consents"]] == [(True, "form", "Send me the news")]
    bob = BuiltinBook().contact(engine.db, contacts.find_contact(engine.db, "bob@example.org")["id"])
    assert (bob["first_name"], bob["last_name"], bob["tags"], bob["consent"]) == ("Bob", "Martin", ["a", "b", "c"],
                                                                                True)
    assert [(m["list"], m["subscribed"]) for m in bob["lists"]] == [("press", True)]
    assert [c["given"] for c in bob["consents"]] == [True]
    again = csv_import.import_csv(engine.db, data, consent_source="form")
    assert (again["imported"], again["updated"]) == (0, 3)
    assert len(BuiltinBook().contact(engine.db, anne["id"])["consents"]) == 1  # consent unchanged: no new entry


def test_a_row_the_database_refuses_is_reported_alone_and_the_others_are_stored(engine):
    long_tag = "t" * 101
    data = f"email,tags\nok@example.org,a\nbad@example.org,{long_tag}\nfine@example.org,b\n".encode()
    report = csv_import.import_csv(engine.db, data)
    assert report["imported"] == 2 and [r["line"] for r in report["rejected"]] == [3]
    assert contacts.find_contact(engine.db, "fine@example.org")["tags"] == ["b"]


def test_an_address_twice_in_a_batch_and_again_in_the_next_is_one_contact_its_later_rows_update(engine):
    fillers = [f"person.{n}@example.org,,,,press" for n in range(csv_import.CHUNK - 3)]
    data = "\n".join(["email,first_name,tags,consent,list",
                      "dup@example.org,Ann,a,yes,press",  # line 2, first batch: created
                      "DUP@example.org ,,b,no,press",  # line 3, same batch: updated (consent withdrawn)
                      "flip@example.org,,,no,",  # line 4: created without consent
                      *fillers,
                      "dup@example.org,Anne,c,yes,agenda",  # next batch: updated (consent given again), a new list
                      "flip@example.org,,,yes,press"]).encode()
    done = []
    report = csv_import.import_csv(engine.db, data, consent_source="form",
                                   progress=lambda lines, total: done.append((lines, total)))
    assert (report["imported"], report["updated"], report["rejected"]) == (csv_import.CHUNK - 1, 2 + 1, [])
    assert done == [(csv_import.CHUNK, csv_import.CHUNK + 2), (csv_import.CHUNK + 2, csv_import.CHUNK + 2)]
    book = BuiltinBook()
    dup = book.contact(engine.db, contacts.find_contact(engine.db, "dup@example.org")["id"])
    assert (dup["first_name"], dup["tags"], dup["consent"]) == ("Anne", ["a", "b", "c"], True)
    assert [(c["given"], c["source"]) for c in dup["consents"]] == [(True, "form"), (False, "form"), (True, "form")]
    assert [(m["list"], m["subscribed"]) for m in dup["lists"]] == [("agenda", True), ("press", True)]
    flip = book.contact(engine.db, contacts.find_contact(engine.db, "flip@example.org")["id"])
    assert [c["given"] for c in flip["consents"]] == [True] and [m["list"] for m in flip["lists"]] == ["press"]
    press = next(entry for entry in book.lists(engine.db) if entry["name"] == "press")
    assert press["members"]["subscribed"] == csv_import.CHUNK - 1  # dup once, flip, the fillers


def test_a_bad_tag_rejects_its_row_with_the_address_as_stored_and_the_batch_keeps_the_others(engine):
    data = f"email,tags,consent\nok@example.org,a,yes\nBad@Example.org,{'t' * 101},yes\nfine@example.org,b,\n".encode()
    report = csv_import.import_csv(engine.db, data)
    assert report["imported"] == 2
    assert report["rejected"] == [{"line": 3, "email": "bad@example.org",
                                   "reason": "a tag is longer than 100 characters"}]


def test_a_row_that_fails_only_once_merged_spoils_its_batch_which_is_then_stored_row_by_row(engine):
    contacts.upsert_contact(engine.db, "full@example.org", tags=[f"t{n}" for n in range(99)])
    data = b"email,tags,list\nok@example.org,a,press\nfull@example.org,x|y,press\nfine@example.org,b,press\n"
    report = csv_import.import_csv(engine.db, data)
    assert (report["imported"], report["updated"]) == (2, 0)
    assert report["rejected"] == [{"line": 3, "email": "full@example.org",
                                   "reason": "a contact has at most 100 tags"}]
    assert contacts.find_contact(engine.db, "fine@example.org")["tags"] == ["b"]
    assert len(contacts.find_contact(engine.db, "full@example.org")["tags"]) == 99
    assert [m["email"] for m in BuiltinBook().members(engine.db, "press").items] == ["fine@example.org",
                                                                                    "ok@example.org"]
