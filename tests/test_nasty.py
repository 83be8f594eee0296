"""Bad input of every kind: nasty files, fuzzed scenario documents and rule files.

Every one gets exit 1 (scenarios) or 2 (rules) with one clear line naming the file, never a
traceback or a hang, and the good scenarios in the same batch are still decided.
"""

import json
import re

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.rules import loader as rulelang
from advisor.scenario import files as scen
from advisor.decide.decision import Advisor
from advisor.errors import AdvisorError
from conftest import REPO, run_cli

GOOD = "name: good\ncontext: {can_use_spot: true}\n"


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    return "\n".join(lines) + "\n"


NASTY = {
    "binary.yaml": (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 50, "binary data, not YAML text"),
    "latin1.yaml": ("context: {stage: producción}\n".encode("latin-1"), "not UTF-8 text"),
    "empty.yaml": (b"", "empty file"),
    "bomb.yaml": (_billion_laughs().encode(), "expands to more than 200,000 values through aliases"),
    "deep.yaml": (b"[" * 5000 + b"]" * 5000, "exceeded maximum nesting depth"),  # libyaml's own limit
    "deep-block.yaml": (b"".join(b"  " * i + b"k:\n" for i in range(150)) + b"  " * 150 + b"v\n", "nesting deeper than 100 levels"),
    "duplicate.yaml": (b"context:\n  can_use_spot: true\n  can_use_spot: false\n", "duplicate key 'can_use_spot'"),
    "tabs.yaml": (b"context:\n\tcan_use_spot: true\n", "found character that cannot start any token (a tab: YAML indents with spaces)"),
    "scalar.yaml": (b"just a sentence\n", "expected a mapping with context:, got a string"),
    "python.yaml": (b"!!python/object/apply:os.system ['echo hacked']\n", "could not determine a constructor"),
    # issue 9: YAML 1.1 numbers are not silently converted; the hint says what was probably meant
    "base60.yaml": (b"workload: {batch: 1:30}\n", "workload.batch: Input should be a valid integer, got a string '1:30' "
                    "(1:30 is base-60 notation, which YAML 1.1 reads as 90: write the number in decimal)"),
    "hex.yaml": (b"workload: {batch: 0x10}\n", "got a string '0x10' (0x10 is hexadecimal notation for 16: write the number in decimal)"),
    "octal.yaml": (b"workload: {batch: 010}\n", "got a string '010' (010 has a leading zero (YAML 1.1 reads it as octal 8 and "
                   "YAML 1.2 as 10): write the number without it)"),
    # explicit tags PyYAML cannot construct: were "internal error ... ValueError"
    "float-tag.yaml": (b"workload: {batch: !!float abc}\n", ":1: 'abc' is not a number"),
    "bool-tag.yaml": (b"context: {can_use_spot: !!bool y}\n", ":1: 'y' is not a boolean (true or false)"),
    "bad-date.yaml": (b"context: {stage: 2020-99-99}\n", ":1: '2020-99-99' is not a valid date or time (month must be in 1..12)"),
    # issue 9: input echoed in a message is bounded; control characters never reach the terminal
    "huge-model.yaml": (b"workload: {model: " + b"x" * 5_000_000 + b"}\n",
                        "workload.model: unknown model '" + "x" * 59 + "…' (`advisor models` lists them)"),
    "escapes.yaml": (b'name: "\\e[2J\\nverdict     forged"\ncontext: {stage: prod}\n',
                     ":2: scenario \\x1b[2J\\nverdict     forged: context.stage: Input should be"),
    "undefined-alias.yaml": (b"scenarios:\n  - context: *nowhere\n", ":2: scenario undefined-alias[0]: found undefined alias"),
}


def _corpus(tmp_path):
    for name, (data, _) in NASTY.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "huge.yaml").write_bytes(b"# padding\n" * 5_000_000)  # 50 MB
    (tmp_path / "zz-good.yaml").write_text(GOOD)


def test_every_nasty_scenario_file_is_one_line_exit_1_and_the_good_one_is_decided(tmp_path):
    _corpus(tmp_path)
    proc = run_cli("run", str(tmp_path), "--format", "json", "--no-audit")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert [d["scenario"] for d in out["decisions"]] == ["good"]
    errors = {e["source"].rsplit("/", 1)[-1]: e["message"] for e in out["errors"]}
    assert set(errors) == set(NASTY) | {"huge.yaml"}
    for name, (_, expected) in NASTY.items():
        assert expected in errors[name] and errors[name].startswith(str(tmp_path / name)), (name, errors[name])
        assert "\x1b" not in errors[name], name
        for line in errors[name].splitlines():  # each problem one sentence of its own, naming the file
            assert line.startswith(str(tmp_path / name)) and len(line) < 400, (name, line)
    assert errors["huge.yaml"] == f"{tmp_path / 'huge.yaml'}: larger than 32 MB (split it into several files in one directory: `advisor run DIR` reads them all)"
    lines = proc.stderr.splitlines()
    assert len(lines) == sum(len(m.splitlines()) for m in errors.values()) + 1 and all(line.startswith("advisor: ") for line in lines)
    assert "Traceback" not in proc.stderr and "hacked" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(NASTY) + ["huge.yaml"])
def test_every_nasty_rule_file_is_one_line_exit_2(tmp_path, name):
    rules = tmp_path / "rules"
    rules.mkdir()
    data = NASTY[name][0] if name in NASTY else b"# padding\n" * 200_000
    (rules / name).write_bytes(data)
    check = run_cli("rules", "check", str(rules))
    assert check.returncode == 2 and "Traceback" not in check.stderr
    assert check.stderr.startswith(str(rules / name)), check.stderr
    run = run_cli("run", "--rules", str(rules), str(REPO / "scenarios" / "spot.yaml"), "--no-audit")
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1 and run.stdout == ""
    assert run.stderr.startswith(f"advisor: error: invalid rules: {rules / name}")


# --- fuzzing --------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["latency", "production", "fp8", "llama-2-70b", "h100-80gb", "0.5", "yes", "1e400", "NaN"]))
KEYS = st.sampled_from(["name", "context", "workload", "prices", "scenarios", "starting_fresh", "can_afford_h100",
                        "monthly_budget_usd", "have_a100_fleet", "utilization", "can_use_spot", "using_fp8",
                        "optimize_for", "stage", "h100_wait_weeks", "model", "params_b", "precision", "batch",
                        "prompt_tokens", "output_tokens", "tokens_per_day", "max_ms_per_token", "a100-80gb",
                        "h100-80gb", "ünïcödé", ""])
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(KEYS, inner, max_size=6)), max_leaves=25)


@pytest.fixture(scope="module")
def advisor():
    return Advisor()


def _decide_all(advisor, raw: bytes):
    """What `advisor run` does with one file's bytes: each scenario decided or a one-line error."""
    for loaded in scen.parse("fuzz.yaml", raw):
        if loaded.error:
            assert all(line.startswith("fuzz.yaml:") for line in loaded.error.splitlines()), loaded.error
            continue
        try:
            d = advisor.decide(loaded.scenario, "fuzz.yaml", loaded.raw)
        except AdvisorError as exc:
            assert exc.exit_code == 1 and all(line.startswith("fuzz.yaml:") for line in loaded.problem(exc).splitlines())
            continue
        json.loads(d.json_text())  # the record is valid JSON (no NaN, no infinity)
        assert d.general_answer.text and d.verdict.text


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_fuzzed_scenario_structures_are_decided_or_refused_in_one_line(advisor, doc):
    _decide_all(advisor, yaml.safe_dump(doc, allow_unicode=True).encode())
    _decide_all(advisor, yaml.safe_dump({"scenarios": [doc, {"context": {"can_use_spot": True}}]}).encode())


@settings(max_examples=200, deadline=None, database=None)
@given(entries=st.lists(documents, min_size=1, max_size=4))
def test_fuzzed_lists_read_entry_by_entry_equal_the_same_lists_read_whole(entries):
    raw = yaml.safe_dump({"scenarios": entries}, allow_unicode=True)
    streamed = [(x.name, x.error, x.raw) for x in scen.parse("f.yaml", raw.encode())]
    whole = [(x.name, x.error, x.raw) for x in scen.parse("f.yaml", ("--- !!map\n" + raw).encode())]  # a tagged root is read whole
    one_line_up = [(n, re.sub(r"^f\.yaml:(\d+)", lambda m: f"f.yaml:{int(m.group(1)) - 1}", e, flags=re.M) if e else e, r)
                   for n, e, r in whole]
    assert streamed == one_line_up


context_values = st.fixed_dictionaries({}, optional={
    "starting_fresh": scalars, "can_afford_h100": scalars, "monthly_budget_usd": scalars, "have_a100_fleet": scalars,
    "utilization": st.one_of(scalars, st.floats(0, 1)), "can_use_spot": scalars, "using_fp8": scalars,
    "optimize_for": scalars, "stage": scalars, "h100_wait_weeks": scalars})
workload_values = st.fixed_dictionaries({}, optional={
    "model": scalars, "params_b": st.one_of(scalars, st.floats(0.1, 2000)), "precision": st.sampled_from(["fp16", "fp8", "int4", "fp4"]),
    "batch": st.one_of(scalars, st.integers(1, 5000)), "prompt_tokens": st.one_of(scalars, st.integers(1, 10**6)),
    "output_tokens": st.one_of(scalars, st.integers(1, 10**6)), "tokens_per_day": st.one_of(scalars, st.floats(1, 1e16)),
    "max_ms_per_token": scalars})


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(context=context_values, workload=workload_values,
       prices=st.dictionaries(st.sampled_from(["a100-80gb", "h100-80gb", "h100", "tpu"]), scalars, max_size=2))
def test_fuzzed_values_in_a_valid_skeleton_are_decided_or_refused_in_one_line(advisor, context, workload, prices):
    _decide_all(advisor, yaml.safe_dump({"context": context, "workload": workload, "prices": prices}, allow_unicode=True).encode())


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=300))
def test_fuzzed_text_never_escapes_as_an_exception(text):
    for loaded in scen.parse("fuzz.yaml", text.encode("utf-8", "surrogatepass")):
        assert loaded.error is None or loaded.error.startswith("fuzz.yaml")


rule_bodies = st.fixed_dictionaries({"ruleset": st.one_of(st.just("fuzzed"), scalars), "hit_policy": st.one_of(st.sampled_from(["first", "collect"]), scalars)},
                                    optional={"order": scalars, "title": scalars, "source": scalars, "thresholds": documents,
                                              "rules": st.one_of(documents, st.lists(st.fixed_dictionaries(
                                                  {"id": st.one_of(st.just("r"), scalars)},
                                                  optional={"title": scalars, "source": scalars, "when": documents, "then": documents}),
                                                  max_size=3))})


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=rule_bodies)
def test_fuzzed_rule_files_are_problems_with_a_file_name_never_exceptions(advisor, tmp_path_factory, body):
    directory = tmp_path_factory.mktemp("rules")
    (directory / "10-fuzzed.yaml").write_text(yaml.safe_dump(body, allow_unicode=True))
    book, problems = rulelang.parse_directory(directory, advisor.schema)
    assert book is not None or problems
    assert all(str(p).startswith(str(directory / "10-fuzzed.yaml")) and "\n" not in p.message for p in problems)
