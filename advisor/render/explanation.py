"""Explanations, audit records and replays as text; every text from input or the store ``safe``."""

from __future__ import annotations

from .decisions import decision_block, gpu_after
from .term import PLAIN
from .text import format_value, safe


# --- explanations -----------------------------------------------------------------------------


def explanation_text(expl, palette=PLAIN, recorded: bool = True) -> str:
    """An explanation for people. ``recorded``: the decision is in the audit store (``explain
    --id``); an explanation of a file decides again and records nothing, so it shows no id."""
    d = expl.decision
    rec = d.get("verdict") or d.get("recommendation") or {}
    general = d.get("general_answer") or {}
    decision = f"decision {safe(d['decision_id'])}" if recorded else "not recorded (explain decides again; `advisor run` records)"
    lines = [palette.bold(safe(d["scenario"])) + palette.dim(f"  ({safe(d['source'])}) · {decision}"),
             f"verdict: {palette.green(palette.bold(safe(rec.get('text', '(none)'))))}{_gpu_after(rec, palette)}  "
             + palette.dim(f"[{safe(rec.get('rule', '-'))}]")]
    if general:
        lines.append(f"general answer: {safe(general.get('text'))} [{safe(general.get('rule'))}]: "
                     f"{safe(rec.get('general_answer', 'holds'))}")
    lines += ["", palette.bold("derivation")]

    def walk(node, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{palette.cyan(safe(node.rule))} ({safe(node.ruleset)}) => {safe(node.result)}")
        for name, value, kind in node.facts:
            lines.append(f"{pad}    {safe(name)} = {safe(format_value(value))}  " + palette.dim(safe(kind)))
        for flag, sources in node.because:
            lines.append(f"{pad}    derived.{safe(flag)}  " + palette.dim("asserted by"))
            for child in sources:
                walk(child, depth + 3)

    for node in expl.tree:
        walk(node, 1)
    if expl.overridden:
        lines += ["", palette.bold("overridden (first hit: a higher rule won)")]
        lines += [f"  {safe(o['rule'])} ({safe(o['ruleset'])}) matched too; {safe(o['by'])} comes first" for o in expl.overridden]
    lines += ["", palette.bold("why not")]
    for w in expl.why_not:
        actual = "" if w["fact"] is None else f"; actual: {safe(format_value(w['actual']))}"
        lines.append(f"  {palette.yellow(safe(w['rule']))} ({safe(w['ruleset'])}): failed {safe(w['condition'])}{actual}")
    if expl.formulas:
        lines += ["", palette.bold("formulas")]
        lines += [f"  {safe(f['gpu']):<12} {safe(f['name'])}: {safe(f['formula'])}" for f in expl.formulas]
    if expl.notes:
        lines += [""] + [f"note: {safe(n)}" for n in expl.notes]
    return "\n".join(lines)


def record_text(record, decision, palette=PLAIN) -> str:
    head = [f"decision   {safe(record.decision_id)}", f"recorded   {safe(record.recorded_at)} (UTC)",
            f"advisor    {safe(record.advisor_version)} · rules {safe(record.rules_revision)}", "", ""]
    fired = ["", palette.bold("fired rules")] + [
        f"  {safe(f['order']):>2} {safe(f['rule'])} ({safe(f['ruleset'])}): "
        + (", ".join(f"{safe(k)}={safe(format_value(v))}" for k, v in f["matched"].items()) or "(always)")
        + (f" => asserts {', '.join(safe(a) for a in f['asserted'])}" if f["asserted"] else "") for f in record.decision["fired_rules"]]
    return "\n".join(head) + decision_block(decision, palette) + "\n".join(fired)


def replay_text(replay, palette=PLAIN) -> str:
    r = replay
    same = r["rules_revision"]["stored"] == r["rules_revision"]["current"]
    lines = [f"decision   {safe(r['decision_id'])} ({safe(r['scenario'])})",
             f"rules      {safe(r['rules_revision']['stored'][:12])} -> {safe(r['rules_revision']['current'][:12])}"
             + ("  (same revision)" if same else palette.yellow("  (the rules changed)"))]
    changed = r.get("rules_changed")
    if changed:
        for kind in ("modified", "added", "removed"):
            if changed[kind]:
                lines.append(f"           {kind}: {', '.join(safe(rule) for rule in changed[kind])}")
    elif not same:
        lines.append("           (the stored revision's rules are not in this store: rule-level changes unknown)")
    if not r["changes"]:
        lines.append(palette.green("unchanged: the current rules decide this input the same way"))
    for c in r["changes"]:
        lines.append(f"{palette.yellow('changed')}    {safe(c['what'])}: {safe(format_value(c['before']))} -> {safe(format_value(c['after']))}")
    if r["replayed"] is not None:
        now = r["replayed"]["verdict"]
        lines.append(f"now        {safe(now.get('text'))}{_gpu_after(now)}")
    return "\n".join(lines)


def _gpu_after(verdict: dict, palette=PLAIN) -> str:
    """`` -> GPU`` after a verdict's text, unless the text names it first."""
    gpu = gpu_after(verdict.get("text") or "", verdict.get("gpu") or "-")
    return f" -> {palette.bold(safe(gpu))}" if gpu else ""
