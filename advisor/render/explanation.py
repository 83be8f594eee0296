"""Explanations, audit records and replays as text."""

from __future__ import annotations

from .decisions import decision_block
from .term import PLAIN
from .text import format_value


# --- explanations -----------------------------------------------------------------------------


def explanation_text(expl, palette=PLAIN) -> str:
    d = expl.decision
    rec = d.get("verdict") or d.get("recommendation") or {}
    general = d.get("general_answer") or {}
    lines = [palette.bold(f"{d['scenario']}") + palette.dim(f"  ({d['source']}) · decision {d['decision_id']}"),
             f"verdict: {palette.green(palette.bold(rec.get('text', '(none)')))} -> {palette.bold(rec.get('gpu', '-'))}  "
             + palette.dim(f"[{rec.get('rule', '-')}]")]
    if general:
        lines.append(f"general answer: {general.get('text')} [{general.get('rule')}]: {rec.get('general_answer', 'holds')}")
    lines += ["", palette.bold("derivation")]

    def walk(node, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}{palette.cyan(node.rule)} ({node.ruleset}) => {node.result}")
        for name, value, kind in node.facts:
            lines.append(f"{pad}    {name} = {format_value(value)}  " + palette.dim(kind))
        for flag, sources in node.because:
            lines.append(f"{pad}    derived.{flag}  " + palette.dim("asserted by"))
            for child in sources:
                walk(child, depth + 3)

    for node in expl.tree:
        walk(node, 1)
    if expl.overridden:
        lines += ["", palette.bold("overridden (first hit: a higher rule won)")]
        lines += [f"  {o['rule']} ({o['ruleset']}) matched too; {o['by']} comes first" for o in expl.overridden]
    lines += ["", palette.bold("why not")]
    for w in expl.why_not:
        actual = "" if w["fact"] is None else f"; actual: {format_value(w['actual'])}"
        lines.append(f"  {palette.yellow(w['rule'])} ({w['ruleset']}): failed {w['condition']}{actual}")
    if expl.formulas:
        lines += ["", palette.bold("formulas")]
        lines += [f"  {f['gpu']:<12} {f['name']}: {f['formula']}" for f in expl.formulas]
    if expl.notes:
        lines += [""] + [f"note: {n}" for n in expl.notes]
    return "\n".join(lines)


def record_text(record, decision, palette=PLAIN) -> str:
    head = [f"decision   {record.decision_id}", f"recorded   {record.recorded_at} (UTC)",
            f"advisor    {record.advisor_version} · rules {record.rules_revision}", "", ""]
    fired = ["", palette.bold("fired rules")] + [
        f"  {f['order']:>2} {f['rule']} ({f['ruleset']}): "
        + (", ".join(f"{k}={format_value(v)}" for k, v in f["matched"].items()) or "(always)")
        + (f" => asserts {', '.join(f['asserted'])}" if f["asserted"] else "") for f in record.decision["fired_rules"]]
    return "\n".join(head) + decision_block(decision, palette) + "\n".join(fired)


def replay_text(replay, palette=PLAIN) -> str:
    r = replay
    same = r["rules_revision"]["stored"] == r["rules_revision"]["current"]
    lines = [f"decision   {r['decision_id']} ({r['scenario']})",
             f"rules      {r['rules_revision']['stored'][:12]} -> {r['rules_revision']['current'][:12]}"
             + ("  (same revision)" if same else palette.yellow("  (the rules changed)"))]
    changed = r.get("rules_changed")
    if changed:
        for kind in ("modified", "added", "removed"):
            if changed[kind]:
                lines.append(f"           {kind}: {', '.join(changed[kind])}")
    elif not same:
        lines.append("           (the stored revision's rules are not in this store: rule-level changes unknown)")
    if not r["changes"]:
        lines.append(palette.green("unchanged: the current rules decide this input the same way"))
    for c in r["changes"]:
        lines.append(f"{palette.yellow('changed')}    {c['what']}: {format_value(c['before'])} -> {format_value(c['after'])}")
    if r["replayed"] is not None:
        now = r["replayed"]["verdict"]
        lines.append(f"now        {now.get('text')} -> {now.get('gpu')}")
    return "\n".join(lines)
