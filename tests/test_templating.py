"""Tests for beffroi.templating: the hardened Jinja2 sandbox."""

import tracemalloc
from datetime import UTC, datetime

import pytest

from beffroi.templating import TemplateError, Templater

CTX = {
    "trigger": {"title": "Fête", "items": [1, 2], "categories": ["agenda"], "n": 3},
    "steps": {"announce": {"results": [{"url": "https://x"}]}},
    "run": {"id": 7},
    "item": None,
}


@pytest.fixture(scope="module")
def t():
    return Templater(filters={"utm": lambda url, campaign: f"{url}?utm_campaign={campaign}"})


def fails(t, source, fragment, context=CTX):
    """Render must raise a TemplateError whose one-line message contains fragment."""
    with pytest.raises(TemplateError) as info:
        t.render(source, context)
    message = str(info.value)
    assert fragment in message and "\n" not in message and "Traceback" not in message
    return message


# -- security: every case is an error, never text, never a value -------------------------

@pytest.mark.parametrize(
    "source, fragment",
    [
        ("{{ ''.__class__ }}", "access to attribute '__class__' of 'str' object is unsafe"),
        ("{{ ''.__class__.__mro__ }}", "'__class__'"),
        ("text {{ ''.__class__ }}", "'__class__'"),
        ("{{ ''['__class__'] }}", "'__class__'"),
        ("{{ lipsum.__globals__ }}", "unknown variable 'lipsum'"),
        ("{{ cycler.__init__.__globals__ }}", "unknown variable 'cycler'"),
        ("{{ joiner }}", "unknown variable 'joiner'"),
        ("{{ namespace() }}", "unknown variable 'namespace'"),
        ("{{ '{0.__class__}'.format(1) }}", "access to attribute '__class__' of 'int' object is unsafe"),
        ("{{ ('a'|attr('format'))('{0.__class__}') }}", "unknown filter 'attr'"),
        ("{{ 'a' * 10**8 }}", "string repetition would exceed 100000 characters"),
        ("{{ 10**10**8 }}", "power of a power"),
        ("{{ 10**(10**8) }}", "'**' result would exceed 1000 digits"),
        ("{{ 2**10000 }}", "'**' result would exceed 1000 digits"),
        ("{{ unknown_variable }}", "unknown variable 'unknown_variable'"),
        ("{{ range(10**9)|list }}", "range() is limited to 10000 items"),
        ("{{ now().__class__ }}", "unsafe"),
        ("{{ trigger.items|map(attribute='__class__')|list }}", "unsafe"),
    ],
)
def test_escapes_and_bombs_are_refused(t, source, fragment):
    fails(t, source, fragment)


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a'|center(10**9) }}",
        "{{ 'a'|indent(10**9, true) }}",
        "{{ range(10000)|join('x' * 100000) }}",
        "{{ 'abc'|replace('', 'x' * 100000) }}",
        "{{ 'a'.ljust(10**9) }}",  # padding methods are not whitelisted
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ dict.fromkeys(range(10000), 'x' * 100000) }}",
        "{{ '%999999999s' % 1 }}",
        "{{ '%*s' % (10**9, 1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ '{:{}}'.format(1, 10**9) }}",
        "{{ [range(10000)|list] * 10000 }}",  # shared references would explode when serialized
        "{{ range(10000)|map('center', 100000)|list|length }}",  # per-render work budget
        "{{ [[1]]|batch(10000, range(10000)|list)|list }}",
        "{{ [[1], [2]]|sum(start=[]) }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(5) %}{{ 'x' * 100000 }}{% endfor %}",
        "{% set a = 'x' * 100000 %}{{ a ~ a }}",
        "{% set a = 'x' * 100000 %}{{ a + a }}",
        "{{ 'x' * 60000 }}{{ 'y' * 60000 }}",
        "{% include 'other' %}",
    ],
)
def test_resource_exhaustion_is_refused(t, source):
    with pytest.raises(TemplateError):
        t.render(source, CTX)


# A text of 100,000 characters, then lists holding it ten times over, a hundred times over: little memory, yet
# their text would take 10 MB (1 GB for D); every way of turning them into text, or returning them, is refused.
_BIG = ("{% set a = 'x' * 100000 %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
        "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{% set d = {'k': [c, c, c, c, c, c, c, c, c, c]} %}")


@pytest.mark.parametrize("source, message", [
    (_BIG + "{{ c|string|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ c|tojson|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ d|join(',')|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ c|upper|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ c|replace('x', 'y')|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ c|map('string')|list|length }}", "this template builds values larger than 16 MiB in all"),
    (_BIG + "{{ ('%s' % [c])|length }}", "'%' result would exceed 100000 characters"),
    (_BIG + "{{ ('%(v)s' % {'v': d})|length }}", "'%' result would exceed 100000 characters"),
    (_BIG + "{{ '{}'.format(c)|length }}", "format result would exceed 100000 characters"),
    (_BIG + "{{ ('%(v)s' * 20000) % {'v': a} }}", "'%' result would exceed 100000 characters"),
    (_BIG + "{{ ('%s' % {'v': c})|length }}", "'%' result would exceed 100000 characters"),  # the whole mapping
    (_BIG + "{{ ('{0}' * 20000).format(a) }}", "format result would exceed 100000 characters"),
    ("{{ range(2000)|list|tojson(indent=20000)|length }}", "tojson indent must be between 0 and 16"),
    # a loop repeats one literal text in a captured block: a list of references, until joined
    ("{% set x %}{% for i in range(9000) %}{% for j in 'abcdefghij' %}" + "x" * 1000 + "{% endfor %}{% endfor %}"
     "{% endset %}{{ x|length }}", "text of a block or macro would exceed 100000 characters"),
    ("{% macro m() %}{% for i in range(9000) %}{% for j in 'abcdefghij' %}" + "x" * 1000 + "{% endfor %}"
     "{% endfor %}{% endmacro %}{{ m()|length }}", "text of a block or macro would exceed 100000 characters"),
    (_BIG + "{{ (c ~ '')|length }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "text: {{ c }}", "this template builds a value larger than 16 MiB"),
    (_BIG + "{{ d }}", "this template builds a value larger than 16 MiB"),  # the runner would serialize it
    ("{{ [range(10000)|list] * 10000 }}", "this template builds a value larger than 16 MiB"),
    ("{% for i in range(1000) %}{% set s = range(10000)|list|string %}{% endfor %}",
     "this template builds values larger than 16 MiB in all"),
    ("{% for i in range(10000) %}{% set x = ('x ' * 50000).split() %}{% endfor %}",
     "this template builds values larger than 16 MiB in all"),
    ("{% for i in range(10) %}{% set x = ['ab' * 50000] %}{% set x = [x, x, x, x, x, x, x, x, x, x] %}"
     "{% set x = [x, x, x, x, x, x, x, x, x, x] %}{{ x|tojson|length }}{% endfor %}",
     "this template builds a value larger than 16 MiB"),
    ("{% for s in range(10000)|map('string') %}{% for c in range(100) %}{% endfor %}{% endfor %}",
     "this template repeats its loops or calls more than 100,000 times"),
    ("{% for i in range(10000) %}{% set x = [i] * 10000 %}{% endfor %}",
     "this template builds values larger than 16 MiB in all"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
     "this template repeats its loops or calls more than 100,000 times"),
])
def test_no_template_allocates_more_than_its_memory_budget(t, source, message):
    tracemalloc.start()
    try:
        assert fails(t, source, message) == message
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_calls_count_like_loop_iterations(t):
    # no loop at all, yet 2**40 calls
    bomb = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    fails(t, bomb, "this template repeats its loops or calls more than 100,000 times")


def test_ordinary_templates_fit_in_the_budget(t):
    items = [{"title": f"Post {i}", "url": f"https://example.org/{i}", "tags": ["a", "b"]} for i in range(2000)]
    context = {"trigger": {"items": items, "title": "x" * 50000}}
    assert len(t.render("{{ trigger['items']|tojson }}", {"trigger": {"items": items[:500]}})) > 30000
    assert len(t.render("{{ trigger['items'] }}", context)) == 2000  # a large payload passed through as is
    assert t.render("{{ trigger['items']|map(attribute='title')|join(', ')|length }}", context) == 20888
    assert t.render("{% for p in trigger['items'] %}{{ p.title|upper }}{% endfor %}", context).endswith("POST 1999")
    assert t.render("{{ (trigger.title ~ '!')|length }}", context) == 50001
    assert t.render("{{ '{} and {}'.format(trigger['items'][0].tags, 1) }}", context) == "['a', 'b'] and 1"
    assert t.render("{% macro f(n) %}{{ n }}{% endmacro %}{% for i in range(1000) %}{{ f(i) }}{% endfor %}",
                    {}).endswith("999")


def test_a_budget_error_names_the_field_and_says_what_limit_was_hit(t):
    with pytest.raises(TemplateError) as info:
        t.render({"subject": "ok", "body": _BIG + "{{ c|tojson }}"}, CTX, "steps[1].with")
    assert str(info.value).endswith(": this template builds a value larger than 16 MiB")
    assert str(info.value).startswith("steps[1].with.body: {% set a = 'x' * 100000 %}")


def test_the_fields_of_one_render_share_its_budget(t):
    spend = "{{ ('x' * 100000)|list|length }}"  # 100,000 one-character texts: about 6 MB while they last
    assert t.render({"a": spend, "b": spend}, CTX) == {"a": 100000, "b": 100000}
    with pytest.raises(TemplateError) as info:
        t.render({"a": spend, "b": spend, "c": spend}, CTX, "steps[0].with")
    assert str(info.value) == f"steps[0].with.c: {spend}: this template builds values larger than 16 MiB in all"


HOSTILE = {"trigger": {"name": "<img src=x onerror=alert(1)>", "intro": "<h1>Bienvenue</h1>", "tags": ["<a>", "b"]}}


def test_html_fields_escape_their_values_and_other_fields_stay_raw(t):
    value = {"html": "<p>{{ trigger.name }}</p>", "text": "{{ trigger.name }}", "more": ["<i>{{ trigger.name }}</i>"]}
    assert t.render(value, HOSTILE, html={"html", "more"}) == {
        "html": "<p>&lt;img src=x onerror=alert(1)&gt;</p>", "text": "<img src=x onerror=alert(1)>",
        "more": ["<i>&lt;img src=x onerror=alert(1)&gt;</i>"]}
    assert t.render("{{ trigger.name }}", HOSTILE) == "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("source, html", [
    ("{{ trigger.name }}", "&lt;img src=x onerror=alert(1)&gt;"),  # text, not the value: HTML is always text
    ("{{ trigger.intro|safe }}{{ trigger.name|upper }}", "<h1>Bienvenue</h1>&lt;IMG SRC=X ONERROR=ALERT(1)&gt;"),
    ("{{ trigger.intro|safe ~ trigger.name }}", "<h1>Bienvenue</h1>&lt;img src=x onerror=alert(1)&gt;"),
    ("{{ trigger.tags|join('<br>'|safe) }}|{{ trigger.tags|join('<br>') }}", "&lt;a&gt;<br>b|&lt;a&gt;&lt;br&gt;b"),
    ("{{ '<b>%s</b>' % trigger.name }}", "&lt;b&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/b&gt;"),
    ("{{ trigger.tags }}", "[&#39;&lt;a&gt;&#39;, &#39;b&#39;]"),
    ("{% macro em(v) %}<em>{{ v }}</em>{% endmacro %}{{ em(trigger.name) }}",
     "<em>&lt;img src=x onerror=alert(1)&gt;</em>"),
])
def test_render_html_escapes_every_value_unless_marked_safe(t, source, html):
    assert t.render_html(source, HOSTILE) == html


def test_output_cap_message():
    small = Templater(max_output=10)
    assert fails(small, "{{ 'abcdef' }}{{ 'ghijkl' }}", "") == "template output exceeds 10 characters"
    fails(small, "{{ trigger.title * 5 }}", "would exceed 10 characters")


def test_function_values_are_refused(t):
    fails(t, "{{ now }}", "function")
    fails(t, "at {{ now }}", "function")


def test_undefined_never_leaks(t):
    fails(t, "{{ trigger.missing }}", "trigger has no field 'missing'")
    fails(t, "{{ [trigger.missing] }}", "missing")
    fails(t, "x {{ [trigger.missing] }}", "missing")
    fails(t, "{{ 'a' ~ trigger.missing }}", "missing")
    assert t.render("{{ trigger.missing | default('none') }}", CTX) == "none"
    assert t.render("{{ trigger.missing is defined }}", CTX) is False


@pytest.mark.parametrize("source, message", [
    ("{{ trigger.x }}", "trigger has no field 'x'; it has: categories, items, n, title"),
    ("Hi {{ trigger['x'] | upper }}!", "trigger has no field 'x'; it has: categories, items, n, title"),
    ("{{ trigger.x.y + 1 }}", "trigger has no field 'x'; it has: categories, items, n, title"),
    ("{{ steps.announce.results[0].url }}", "steps.announce.results[0] has no field 'url'; it has: id, status"),
    ("{{ steps.announce.results[3].url }}", "steps.announce.results has 1 item; [3] is out of range"),
    ("{{ trigger['items'][2] }}", "trigger.items has 2 items; [2] is out of range"),
    ("{{ steps.announce.results.url }}",
     "steps.announce.results is a list, not a record with fields: it has no field 'url' (pick an item, e.g. [0])"),
    ("{{ trigger.title.url }}", "trigger.title is a text, not a record with fields: it has no field 'url'"),
    ("{{ steps.maybe.url }}", "steps.maybe has no output (the step was skipped or failed): it has no field 'url'"),
    ("{% for r in steps.announce.results %}{{ r.link }}{% endfor %}", "r has no field 'link'; it has: id, status"),
    ("{{ run.many.k99 }}", "run.many has no field 'k99'; it has: k00, k01, k02, k03, k04, k05, k06, k07, k08, k09 "
                           "and 2 more"),
])
def test_a_missing_value_names_its_path_and_what_exists(t, source, message):
    context = {**CTX, "steps": {"announce": {"results": [{"status": "ok", "id": 1}]}, "maybe": None},
               "run": {"many": {f"k{i:02}": i for i in range(12)}}}
    assert fails(t, source, message, context) == message


def test_a_render_with_its_location_names_the_field_and_quotes_the_template(t):
    value = {"name": "x", "properties": {"url": "{{ trigger.title }}", "toot": "{{ steps.announce.results[0].url }}"}}
    context = {**CTX, "steps": {"announce": {"results": [{"id": 1}]}}}
    with pytest.raises(TemplateError) as info:
        t.render(value, context, "steps[2].with")
    assert str(info.value) == ("steps[2].with.properties.toot: {{ steps.announce.results[0].url }}: "
                               "steps.announce.results[0] has no field 'url'; it has: id")
    long = "A long text " * 10 + "{{ trigger.title }} and {{ trigger.link }}"
    with pytest.raises(TemplateError) as info:
        t.render({"body": [long]}, CTX, "steps[0].with")
    assert str(info.value).startswith("steps[0].with.body[0]: {{ trigger.link }}: trigger has no field 'link'")
    with pytest.raises(TemplateError) as info:
        t.evaluate("'x' in trigger.tags", CTX, "steps[1].if")
    assert str(info.value).startswith("steps[1].if: 'x' in trigger.tags: trigger has no field 'tags'; it has: ")
    assert t.render(value, CTX, "steps[2].with") == {"name": "x", "properties": {"url": "Fête", "toot": "https://x"}}


def test_syntax_error_message(t):
    message = fails(t, "{{ x", "template syntax error: unexpected end of template")
    assert message.endswith("(line 1)")


# -- behaviour ----------------------------------------------------------------------------

def test_native_values(t):
    assert t.render("{{ trigger.items }}", {"trigger": {"items": [1, 2]}}) == [1, 2]
    assert t.render("{{ 3 }}", {}) == 3
    assert t.render("{{ item }}", CTX) is None
    assert t.render("n={{ 3 }}", {}) == "n=3"
    assert t.render("{{ run }}", CTX) == {"id": 7}
    assert t.render("  {{ run.id }} ", CTX) == 7
    assert t.render("{{ range(3) }}", {}) == [0, 1, 2]
    assert t.render("{{ trigger.items|select('odd') }}", CTX) == [1]
    assert type(t.render("{{ 'é'|tojson }}", {})) is str


def test_several_expressions_render_text(t):
    assert t.render("{{ run.id }} and {{ run.id }}", CTX) == "7 and 7"
    assert t.render("{{ run.id }}{{ run.id }}", CTX) == "77"
    assert t.render("{% if run.id %}yes{% endif %}", CTX) == "yes"


def test_recursive_render_and_fast_path(t):
    value = {"{{ key }}": ["{{ run.id }}", "x {{ run.id }}", 4, None], "plain": "no template", "n": 1.5}
    assert t.render(value, CTX) == {"{{ key }}": [7, "x 7", 4, None], "plain": "no template", "n": 1.5}
    text = "just text with { braces }"
    assert t.render(text, {}) is text


def test_dict_access(t):
    assert t.render("{{ trigger.title }}", CTX) == "Fête"
    assert t.render("{{ trigger['title'] }}", CTX) == "Fête"
    assert t.render("{{ {'values': 1}.values }}", {}) == 1  # keys win over dict methods
    assert t.render("{{ run.keys()|list }}", CTX) == ["id"]


def test_globals(t):
    now = t.render("{{ now() }}", {})
    assert isinstance(now, datetime) and now.tzinfo is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    assert t.render("{{ dict(a=1) }}", {}) == {"a": 1}
    assert t.render("{{ range(2, 5)|list }}", {}) == [2, 3, 4]


def test_safe_operations_still_work(t):
    assert t.render("{{ 'ab' * 3 }}", {}) == "ababab"
    assert t.render("{{ 2 ** 10 }}", {}) == 1024
    assert t.render("{{ [1] + [2] }}", {}) == [1, 2]
    assert t.render("{{ '%05d' % 3 }}", {}) == "00003"
    assert t.render("{{ '{:>4}|{}'.format('a', run.id) }}", CTX) == "   a|7"
    assert t.render("{{ 'a,b'.split(',') }}", {}) == ["a", "b"]
    assert t.render("{% for i in trigger['items'] %}{{ i }};{% endfor %}", CTX) == "1;2;"


def test_evaluate(t):
    assert t.evaluate("'agenda' in trigger.categories", CTX) is True
    assert t.evaluate("{{ trigger.n > 2 }}", CTX) is True
    assert t.evaluate("trigger.n > 5", CTX) is False
    assert t.evaluate(True, CTX) is True
    with pytest.raises(TemplateError, match="unknown variable 'nope'"):
        t.evaluate("nope", CTX)
    with pytest.raises(TemplateError, match="single expression"):
        t.evaluate("{{ 1 }} {{ 2 }}", CTX)


def test_check_reports_locations(t):
    errors = t.check({"subject": "{{ x", "body": ["ok", "{{ y|nope }}"], "n": 3}, "steps[1].with")
    assert [loc for loc, _ in errors] == ["steps[1].with.subject", "steps[1].with.body[1]"]
    assert errors[0][1].startswith("template syntax error: unexpected end of template")
    assert errors[1][1] == "template syntax error: unknown filter 'nope' (line 1)"
    assert t.check("{% if false %}{{ y|attr('x') }}{% endif %}", "v") == [
        ("v", "template syntax error: unknown filter 'attr' (line 1)")
    ]
    assert t.check({"ok": "{{ trigger.title|upper }}"}, "w") == []
    assert t.check_expression("trigger.n >", "if") and t.check_expression("trigger.n > 1", "if") == []


def test_step_references(t):
    assert t.step_references("{{ steps.announce.results[0].url }}") == {"announce"}
    value = {"a": ["{{ steps['x'] }} {{ step.y }}"], "b": "{% for s in steps.feed.items %}{% endfor %}", "c": 1}
    assert t.step_references(value) == {"x", "feed"}
    assert t.step_references_in_expression("steps.a.ok and steps['b']") == {"a", "b"}
    assert t.step_references_in_expression("{{ steps.c }}") == {"c"}
    assert t.step_references("{{ broken") == set()


def test_filters(t):
    assert t.render("{{ 'abcdefghijklmnopqrstuvwxyz'|truncate(10) }}", {}) == "abcdefg..."
    assert t.render("{{ '<b>Hi</b> there'|striptags }}", {}) == "Hi there"
    assert t.render("{{ 'a b&c'|urlencode }}", {}) == "a%20b%26c"
    assert t.render("{{ 'Fête de la Musique — 2024 !'|slugify }}", {}) == "fete-de-la-musique-2024"
    assert t.render("{{ '2024-06-21T18:30:00+02:00'|date('%d/%m/%Y %H:%M') }}", {}) == "21/06/2024 18:30"
    assert t.render("{{ '2024-06-21T18:30:00Z'|datetimeformat }}", {}) == "2024-06-21 18:30"
    assert t.render("{{ '2024-06-21T18:30:00'|isoformat }}", {}) == "2024-06-21T18:30:00"
    assert t.render("{{ 'https://a'|utm('news') }}", {}) == "https://a?utm_campaign=news"
    assert t.render("{{ '2026-12-18T19:00:00+01:00'|add_days(-1)|date('%Y-%m-%dT10:00') }}", {}) == "2026-12-17T10:00"
    assert t.render("{{ '2026-12-31'|add_days(1)|isoformat }}", {}) == "2027-01-01T00:00:00"
    assert t.render("{{ trigger['items']|map('string')|join(', ') }}", CTX) == "1, 2"
    assert t.render("{{ 'aaa bbb'|wordwrap(3, wrapstring='|') }}", {}) == "aaa|bbb"
    assert t.render("{{ [1, 2, 3]|batch(2)|list }}", {}) == [[1, 2], [3]]
    assert t.render("{{ [1, 2]|sum }}", {}) == 3
    assert t.render("{{ 'x'|center(5) }}", {}) == "  x  "
    with pytest.raises(TemplateError, match="unknown filter 'nope'"):
        t.render("{{ 1|nope }}", {})
    fails(t, "{{ 'soon'|date }}", "not an ISO-8601 date")
    fails(t, "{{ '2026-12-18'|add_days('two') }}", "add_days needs a number of days")



def test_utm_filter_keeps_existing_parameters():
    t = Templater()
    ctx = {"trigger": {"url": "https://www.example.org/news/fete?lang=fr&utm_source=old#top"},
           "run": {"recipe": "blog"}}
    url = t.render("{{ trigger.url | utm(source='mastodon', medium='social', campaign=run.recipe) }}", ctx)
    assert url == "https://www.example.org/news/fete?lang=fr&utm_source=mastodon&utm_medium=social&utm_campaign=blog#top"
    assert t.render("{{ 'https://x.example/' | utm(source='newsletter') }}", {}) == "https://x.example/?utm_source=newsletter"
