"""The decision path's fast paths held to the plain code they stand for (issue 14): a decision's
JSON put together from pieces against ``json.dumps``; the planner's cached levels against
``plan_gpu``; what figures and records keep with a request's plans against a fresh advisor
deciding in another order; JSON scenario files read by the JSON parser against the YAML reader,
values and every message with its file:line; YAML values built by ``yamlio._plain`` against
PyYAML's constructor."""

from __future__ import annotations

import gc
import json
import random
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from advisor import yamlio
from advisor.audit import codec
from advisor.decide import batch, jsontext
from advisor.decide import facts as factmod
from advisor.decide.actions import Actions, filled
from advisor.decide.decision import Advisor
from advisor.plan.planner import Planner, plan_gpu
from advisor.plan.request import PlanRequest, Targets, Traffic
from advisor.scenario import files
from conftest import REPO, bench_module


MIX = bench_module("scenarios")


def mix(count: int, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    return [MIX.scenario(rng, i) for i in range(count)]


def decided(advisor: Advisor, data: list[dict]) -> list:
    loaded = [files.from_data(d, "mix.yaml", d["name"]) for d in data]
    assert all(l.error is None for l in loaded), [l.error for l in loaded if l.error]
    return [advisor.decide(l.scenario, l.source, l.raw) for l in loaded]


def without_identity(text: str) -> str:
    return re.sub(r'"decision_id": "[^"]+"', '"decision_id": ""', text)


@pytest.fixture(scope="module")
def advisor():
    return Advisor()


@pytest.fixture(scope="module")
def mix_decisions(advisor):
    shipped = [l for p in sorted((REPO / "scenarios").rglob("*.yaml")) for l in files.parse(str(p), p.read_bytes()) if not l.error]
    return [advisor.decide(l.scenario, l.source, l.raw) for l in shipped] + decided(advisor, mix(300))


# --- JSON text -------------------------------------------------------------------------------------


def test_a_decisions_text_is_what_json_dumps_writes(mix_decisions):
    for d in mix_decisions:
        plain = json.dumps(d.to_json(), allow_nan=False, ensure_ascii=False, separators=(", ", ": "))
        assert d.json_text() == plain, d.scenario


def test_the_audit_stores_input_and_facts_texts_are_the_codecs(mix_decisions):
    for d in mix_decisions:
        assert d.part_text("input") == codec.json_text(d.input)
        assert d.part_text("facts") == codec.json_text(d.facts)


def test_no_nan_or_infinity_gets_into_a_decisions_text(mix_decisions):
    with pytest.raises(ValueError):
        jsontext.PlanRecord({"feasible": True, "monthly_cost_usd": float("nan")})
    body = mix_decisions[0].to_json()
    for key in ("facts", "input", "notes"):
        broken = {**body, key: {"x": float("inf")}}
        with pytest.raises(ValueError):
            jsontext.decision_text(broken)


# --- the planner's cached levels and what is kept with the plans -------------------------------------


def test_cached_plans_are_the_plans_worked_out_afresh(catalog):
    planner = Planner(catalog)
    model = catalog.model("llama-3-70b")
    requests = [PlanRequest(model, "fp16", traffic=Traffic(rps), prices=prices, targets=targets)
                for rps in (None, 2.0, 35.0) for targets in (Targets(), Targets(tpot_ms=30, ttft_ms=500))
                for prices in ((), (("h100-80gb", 2.5),), (("a100-80gb", 1.5), ("h100-80gb", 4.0)))]
    for request in requests + requests[::-1]:  # each asked twice: worked out, then from the caches
        fresh = {gpu_id: plan_gpu(catalog, gpu, request) for gpu_id, gpu in catalog.gpus.items()}
        assert planner.plan_all(request) == fresh, request


def test_a_decision_does_not_depend_on_the_scenarios_decided_before_it(mix_decisions):
    data = mix(300)
    forward = [without_identity(d.json_text()) for d in mix_decisions[-300:]]
    backward = [without_identity(d.json_text()) for d in decided(Advisor(), data[::-1])][::-1]
    assert forward == backward


def test_items_remembered_from_earlier_decisions_are_the_items_filled_afresh(mix_decisions, monkeypatch):
    data = mix(300)
    remembered = [without_identity(d.json_text()) for d in mix_decisions[-300:]]
    fresh = Advisor()
    monkeypatch.setattr(fresh.actions, "item", filled)
    assert [without_identity(d.json_text()) for d in decided(fresh, data)] == remembered


def test_an_item_is_remembered_apart_for_values_that_are_equal_but_print_differently():
    actions = Actions()
    spec = {"id": "x", "text": "{a} {b:.0f}"}
    texts = [actions.item("r", "finding", spec, values).text
             for values in ({"a": 1, "b": 0.0}, {"a": 1.0, "b": 0.0}, {"a": True, "b": 0.0}, {"a": 1, "b": -0.0}, {"a": 1, "b": 0.0})]
    assert texts == ["1 0", "1.0 0", "True 0", "1 -0", "1 0"]
    assert len(actions._made) == 4


def test_items_made_from_actions_are_forgotten_past_the_bound():
    actions = Actions(kept=3)
    for n in range(10):
        assert actions.item("r", "finding", {"id": "x", "text": "{n}"}, {"n": n}).text == str(n)
        assert len(actions._made) <= 3


def test_validating_the_facts_a_stage_reads_keeps_them_in_the_fact_tables_order(advisor):
    for data in mix(40, seed=5):
        loaded = files.from_data(data, "mix.yaml", data["name"])
        values = factmod.build(loaded.scenario, advisor.catalog).values
        stage = advisor.engines[0]
        whole = stage.validate(values)
        read = stage.validate(values, only=stage.reads)
        assert read == {name: whole[name] for name in advisor.schema if name in stage.reads and name in whole}
        assert list(read) == [name for name in advisor.schema if name in read]


def test_deciding_a_batch_leaves_no_reference_cycles_behind(advisor, tmp_path):
    """What lets a batch run the cyclic collector rarely (batch.settle_heap): a decision's garbage,
    a bad scenario's included, goes by reference counts alone."""
    good = mix(40, seed=3)
    bad = [{**good[0], "name": "bad-utilization", "context": {**good[0]["context"], "utilization": 7}},
           {**good[1], "name": "bad-model", "workload": {"model": "gpt-9"}}, {**good[2], "name": "bad-price", "prices": {"tpu-v9": 1}},
           {**good[3], "name": "bad-key", "contxt": {}}, "not a mapping"]
    path = tmp_path / "batch.yaml"
    path.write_text("scenarios:\n" + "".join(f"  - {json.dumps(item)}\n" for item in good + bad)
                    + "  - {name: twice, name: again, context: {starting_fresh: true}}\n  - {context: *nowhere}\n")
    list(batch.run_one(advisor, str(path)))  # the caches filled: what stays is not garbage
    gc.collect()
    gc.disable()
    try:
        results = list(batch.run_one(advisor, str(path)))
        for r in results:
            if not isinstance(r, batch.Failure):
                codec.rows_of(r)
        del results, r
        assert gc.collect() == 0
    finally:
        gc.enable()


# --- JSON scenario files: JSON is YAML ------------------------------------------------------------------


def _as_yaml(monkeypatch):
    monkeypatch.setattr(yamlio, "_json_document", lambda raw, keep_duplicates: None)


def _read(source: str, raw: bytes, advisor=None) -> list[tuple]:
    """Each scenario read: its name, its error, its values; with ``advisor``, the error deciding it
    gives (an unknown model is found then, and its message names the line too)."""
    read = [(l.name, l.error, l.scenario.model_dump() if l.scenario else None, l.raw) for l in files.stream(source, raw)]
    if advisor is None:
        return read
    results = [batch.decide_loaded(advisor, l) for l in files.stream(source, raw)]
    return read + [r.message for r in results if isinstance(r, batch.Failure)]


def _both(monkeypatch, text: str, source: str = "batch.json", advisor=None) -> tuple[list, list]:
    fast = _read(source, text.encode(), advisor)
    with monkeypatch.context() as m:
        _as_yaml(m)
        slow = _read(source, text.encode(), advisor)
    return fast, slow


def test_json_files_of_the_benchmark_mix_read_as_yaml_reads_them(monkeypatch):
    text = json.dumps({"scenarios": mix(200)}, indent=1)
    fast, slow = _both(monkeypatch, text)
    assert fast == slow
    assert all(error is None for _name, error, _s, _raw in fast)
    assert yamlio._json_document(text.encode(), True) is not None  # the fast path was taken


ODD_BUT_EQUAL = [  # documents both readers read, and read alike
    '{"name": "one", "context": {"utilization": 1e-1, "have_a100_fleet": true}, "prices": {"h100-80gb": 2.5E+0}}',
    '{"context": {"utilization": 0.5, "have_a100_fleet": true, "stage": "\\u0070roduction"}, "workload": {"tokens_per_day": 2e9}}',
    '[{"name": "a", "context": {}}, {"name": "b/\\/c", "context": {"starting_fresh": false}}]',
    '{"x": 1, "scenarios": [{"context": {}}]}',
    '{"scenarios": {"context": {}}}',
    '{"scenarios": []}',
    '{"scenarios": [{"context": {}}], "extra": 1}',
    '{"scenarios": [{"name": "é", "context": {"monthly_budget_usd": 12345678901234567890}}]}',
    '  \n{"scenarios": [1, "two", null, {"context": {"utilization": -0.0}}]}\n',
    '{"name": null, "context": null}',
]


@pytest.mark.parametrize("text", ODD_BUT_EQUAL)
def test_what_the_json_reader_takes_it_reads_as_yaml_does(monkeypatch, text):
    fast, slow = _both(monkeypatch, text)
    assert fast == slow


NOT_FOR_THE_FAST_PATH = [  # read by YAML, which says what and where
    '{"scenarios": [{"context": {}}], "scenarios": []}',  # a duplicate key
    '{"context": {"utilization": NaN}}',  # not JSON
    '{"context": {\t"utilization": 0.5}}',  # a tab
    '{"context": {"utilization": 0.5}} {"x": 1}',  # a second document
    '{"context"\n: {}}',  # a key's colon on the next line
    '{"name": "\\ud800"}',  # half a character
    "[" * 60 + "]" * 60,  # deeper than the fast path goes
]


@pytest.mark.parametrize("text", NOT_FOR_THE_FAST_PATH)
def test_what_the_json_reader_might_read_otherwise_is_left_to_yaml(monkeypatch, text):
    assert yamlio._json_document(text.encode(), True) is None
    fast, slow = _both(monkeypatch, text)
    assert fast == slow


INVALID = [  # (the file, the line its message names)
    ('{"scenarios": [\n  {"name": "a", "context": {}},\n  {"name": "b",\n   "context": {"utilization": 1.5, "have_a100_fleet": true}}\n]}\n', 4),
    ('{\n "name": "one",\n "context": {\n  "stage": "production",\n  "colour": "blue"\n }\n}\n', 5),
    ('{\n "context": {},\n "workload": {\n  "model": "no-such-model"\n }\n}\n', 4),
    ('{\n "context": {},\n "prices": {\n  "h100-80gb": "cheap"\n }\n}\n', 4),
    ('{"scenarios": [\n {"context": {}},\n 7\n]}\n', None),
]


@pytest.mark.parametrize("text,line", INVALID)
def test_a_json_files_problems_are_reported_as_yaml_reports_them_with_file_and_line(monkeypatch, advisor, text, line):
    assert yamlio._json_document(text.encode(), True) is not None
    fast, slow = _both(monkeypatch, text, "team/batch.json", advisor)
    assert fast == slow
    errors = [item if isinstance(item, str) else item[1] for item in fast]
    errors = [error for error in errors if error]
    assert errors
    if line is not None:
        assert any(error.startswith(f"team/batch.json:{line}: ") for error in errors), errors


# --- YAML values built without PyYAML's constructor (yamlio._plain) -------------------------------------


def _typed(value):
    """A value with the type of every part spelled out: 1, 1.0 and True are equal in Python, not here."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def _constructed(monkeypatch, text: str, **options):
    """(data, lines, duplicates) or the error as ``yamlio.load`` gives them; and the same with every
    value left to PyYAML's constructor."""
    def read():
        try:
            doc = yamlio.load(text, want_lines=True, **options)
        except yamlio.YamlError as exc:
            return ("error", exc.message, exc.line)
        return _typed(doc.data), doc.all_lines(), [(d.message, d.line, d.path) for d in doc.duplicates]

    fast = read()
    with monkeypatch.context() as m:
        m.setattr(yamlio, "_plain", lambda node: (_ for _ in ()).throw(yamlio._NotPlain()))
        slow = read()
    return fast, slow


def test_every_shipped_yaml_file_builds_as_the_constructor_builds_it(monkeypatch):
    shipped = sorted(p for folder in ("rules", "scenarios") for p in (REPO / folder).rglob("*.y*ml"))
    assert len(shipped) > 20
    for path in shipped:
        fast, slow = _constructed(monkeypatch, path.read_text())
        assert fast == slow, path


PLAIN_OR_NOT = [  # scalars of every plain kind, and what _plain leaves to the constructor
    "a: 1\nb: 1.0\nc: true\nd: yes\ne: ~\nf: null\ng: text\nh: '1'\ni: 1_000\nj: 1e3\nk: .inf\nl: -.Inf\nm: .nan\nn: 0x10\no: 010\np: 1:30",
    "- [1, 2.5, false, Off, '', \"x\\ty\"]\n- {}\n- []\n- {1: one, 2.5: two, true: three, null: four}",
    "base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}",  # a merge key, through an alias
    "a: {<<: {x: 1}, x: 2}",  # a merge key without one
    "a: 1\na: 2",  # a duplicate key
    "? [1, 2]\n: x",  # an unhashable key
    "when: 2024-01-31\nt: !!str 12\nf: !!float 1_0\ni: !!int '7'\nb: !!bool 'y'\ns: !!set {a, b}",
    "o: !!omap [a: 1, b: 2]\nbin: !!binary aGk=\nn: !!null ''",
    "i: !!int 1.5\nf: !!float abc",  # numbers the loader refuses
    "x: !custom 1",
]


@pytest.mark.parametrize("text", PLAIN_OR_NOT)
def test_what_plain_builds_or_leaves_is_what_the_constructor_gives(monkeypatch, text):
    for keep in (False, True):
        fast, slow = _constructed(monkeypatch, text, keep_duplicates=keep)
        assert fast == slow


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
_data = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), inner,
                                                                                         max_size=4), max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(data=_data, flow=st.booleans())
def test_any_plain_data_builds_as_the_constructor_builds_it(data, flow):
    text = yaml.dump(data, Dumper=yaml.SafeDumper, default_flow_style=flow, allow_unicode=True)
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = _constructed(monkeypatch, text)
    assert fast == slow


def test_resolved_scalar_tags_are_kept_for_short_texts_only_and_at_most_so_many():
    doc = yamlio.load("long: " + "9" * 1000 + "\n" + "".join(f"k{i}: {i}\n" for i in range(yamlio._SCALAR_TAGS_KEPT + 10)))
    assert doc.data["long"] == int("9" * 1000) and doc.data["k4100"] == 4100  # read as numbers, remembered or not
    assert 0 < len(yamlio._SCALAR_TAGS) <= yamlio._SCALAR_TAGS_KEPT
    assert all(len(text) <= yamlio._SCALAR_TAG_TEXT for text, _implicit in yamlio._SCALAR_TAGS)
