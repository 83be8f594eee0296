"""Fit the efficiency constants of rules/catalogs/efficiency.yaml to the `use: fit` rows of
tests/calibration/measurements.yaml, and report every row (fit and held-out check) under them.

    .venv/bin/python bench/calibrate.py            # the errors under the shipped constants
    .venv/bin/python bench/calibrate.py --fit      # search constants minimising the largest error

The search is a coordinate descent on the largest relative error (plus a little of the median),
over the constants named in FREE; it prints the constants it found. The shipped values are
those it found, rounded: copy them into efficiency.yaml by hand, with their reasons.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from advisor.catalog.load import load_catalog  # noqa: E402
from advisor.catalog.models import ModelSpec  # noqa: E402
from advisor.perf.measured import predict  # noqa: E402

DATA = ROOT / "tests" / "calibration" / "measurements.yaml"
# (path into efficiency, applies to) -> constants the search may move
FREE = [
    ("weight_bandwidth_efficiency", ("fp16", "bf16")), ("weight_bandwidth_efficiency", ("fp8", "fp4")),
    ("kv_bandwidth_efficiency", None), ("compute_efficiency", ("fp16", "bf16", "int8", "int4")),
    ("compute_efficiency", ("fp8", "fp4")), ("decode_compute_factor", None),
    ("step_overhead.prefill_us_per_layer", None), ("step_overhead.decode_us_per_layer", None),
    ("allreduce.latency_us", None), ("allreduce.link_efficiency", None), ("allreduce.pcie_efficiency", None),
]


def load():
    data = yaml.safe_load(DATA.read_text())
    catalog = load_catalog()
    extra = {k: ModelSpec(id=k, **v) for k, v in data["models"].items()}
    return catalog, extra, data["measurements"]


def errors(eff, catalog, extra, rows):
    out = []
    for r in rows:
        model = extra.get(r["model"]) or catalog.model(r["model"])
        value = predict(catalog.gpu(r["gpu"]), model, eff, metric=r["metric"], precision=r["precision"], tp=r["tp"],
                        batch=r["batch"], prompt_tokens=r["prompt_tokens"], output_tokens=r["output_tokens"])
        out.append(value / r["value"] - 1)
    return out


def _get(eff, path, key):
    obj = eff
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj[key[0]].value if key else obj.value


def _set(eff, path, keys, value):
    """A copy of ``eff`` with the constant at ``path`` (for each of ``keys``) set to ``value``."""
    data = eff.model_dump()
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[part]
    target = node[parts[-1]]
    for k in (keys or (None,)):
        (target[k] if k else target)["value"] = value
    return type(eff).model_validate(data)


def score(errs):
    """The largest relative error, plus a little of the median: the acceptance bound (every row
    within 15%) is on the relative error, so the search balances +x% against -x%, not log ratios
    (which weigh an underestimate more than an overestimate of the same size)."""
    a = [abs(e) for e in errs]
    return max(a) + 0.3 * statistics.median(a)


def fit(eff, catalog, extra, rows):
    current = score(errors(eff, catalog, extra, rows))
    for _ in range(30):
        improved = False
        for path, keys in FREE:
            for factor in (0.96, 0.99, 1.01, 1.04):
                value = _get(eff, path, keys) * factor
                if "efficiency" in path or "factor" in path:
                    value = min(value, 1.0)
                trial = _set(eff, path, keys, value)
                s = score(errors(trial, catalog, extra, rows))
                if s < current - 1e-9:
                    eff, current, improved = trial, s, True
        if not improved:
            break
    return eff


def report(eff, catalog, extra, rows):
    for use in ("fit", "check"):
        chosen = [r for r in rows if r["use"] == use]
        errs = errors(eff, catalog, extra, chosen)
        print(f"\n{use} rows ({len(chosen)}):")
        for r, e in zip(chosen, errs):
            print(f"  {r['source']:<26} {r['gpu']:<10} {r['model']:<13} {r['precision']:<4} tp{r['tp']} b{r['batch']:<5} "
                  f"{r['prompt_tokens']}/{r['output_tokens']} {r['metric']:<28} {r['value']:>9} {e:+.1%}")
        a = [abs(e) for e in errs]
        print(f"  median |error| {statistics.median(a):.1%}, largest {max(a):.1%}, within 15%: {sum(x <= 0.15 for x in a)}/{len(a)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="search the constants on the fit rows")
    parser.add_argument("--markdown", action="store_true", help="a summary table by source, model family and use, for README")
    args = parser.parse_args()
    catalog, extra, rows = load()
    eff = catalog.efficiency
    if args.fit:
        eff = fit(eff, catalog, extra, [r for r in rows if r["use"] == "fit"])
        for path, keys in FREE:
            print(f"{path}{keys or ''}: {_get(eff, path, keys):.4g}")
    if args.markdown:
        print(summary(eff, catalog, extra, rows))
        return
    report(eff, catalog, extra, rows)


def summary(eff, catalog, extra, rows) -> str:
    """Median and largest |error| by group, as README's accuracy table."""
    def group(r):
        family = "Llama-2" if r["model"].startswith("llama-2") else "Llama-3.1" if r["model"].startswith("llama-3") else r["model"]
        return (r["use"], r["source"], family, r["metric"])
    groups: dict = {}
    for r, e in zip(rows, errors(eff, catalog, extra, rows)):
        groups.setdefault(group(r), []).append(abs(e))
    lines = ["| used to fit | source | model | metric | rows | median error | largest | within 15% |", "|---|---|---|---|---|---|---|---|"]
    for (use, source, family, metric), errs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "fit", kv[0][1], kv[0][2])):
        lines.append(f"| {'yes' if use == 'fit' else 'no'} | {source} | {family} | {metric} | {len(errs)} | {statistics.median(errs):.1%} | "
                     f"{max(errs):.1%} | {sum(x <= 0.15 for x in errs)}/{len(errs)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
