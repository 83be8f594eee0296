"""The guided session's questions as typed data (as copier declares them), and answers -> scenario.

Each ``Question`` names the scenario field it fills, its help text, its default, when it is
asked (``when``, on the answers so far) and how an answer is checked; the loop that asks them
is in the CLI (``advisor.cli.ask``). What an answer implies for others (FP8 weights make a
pre-filled precision moot; "another size" means params_b) is settled here, in ``settle``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional

from pydantic import ValidationError

from ..catalog.load import Catalog
from ..catalog.precisions import PRECISIONS
from ..defaults import DEFAULT_BATCH, DEFAULT_MODEL, DEFAULT_OUTPUT_TOKENS, DEFAULT_PROMPT_TOKENS, DEFAULT_PRECISION, SEED_PAIR
from ..errors import echo
from .spec import Context, Scenario, WorkloadSpec

QuestionKind = Literal["confirm", "select", "number", "integer"]
Answers = dict  # dotted field name -> value; "_"-prefixed names steer the session only

KEEP_WORKLOAD, KEEP_PRICES = "_keep_workload", "_keep_prices"
PRICED = SEED_PAIR
OTHER_SIZE = "(another size)"
UNSET = "(not set)"


@dataclass(frozen=True)
class Question:
    name: str  # dotted scenario field, e.g. "context.utilization"
    kind: QuestionKind
    message: Any  # text, or a function of (answers, catalog) when it shows figures
    help: str
    default: Any = None  # a value, or a function of (answers, catalog)
    choices: tuple = ()  # for select: (value, label) pairs
    when: Callable[[Answers], bool] = lambda a: True
    optional: bool = False  # an empty answer leaves the field unset
    percent: bool = False  # "55%" is accepted as 0.55

    def default_value(self, answers: Answers, catalog: Catalog):
        return self.default(answers, catalog) if callable(self.default) else self.default

    def message_for(self, answers: Answers, catalog: Catalog) -> str:
        return self.message(answers, catalog) if callable(self.message) else self.message


_SECTIONS = {"context": Context, "workload": WorkloadSpec}


def parse_number(text: str, question: Question):
    """Text as typed -> a number in the field's type and range, or ValueError with the reason.

    The range is checked by the scenario model itself, so answers and files obey the same limits.
    """
    cleaned = text.strip().replace(",", "").replace("_", "").replace("$", "")
    scale = 1.0
    if question.percent and cleaned.endswith("%"):
        cleaned, scale = cleaned[:-1].strip(), 0.01
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise ValueError(f"{echo(text.strip())} is not a number") from None
    if question.kind == "integer":
        if not value.is_integer():
            raise ValueError("a whole number, please")
        value = int(value)
    section, key = question.name.split(".", 1)
    model = _SECTIONS.get(section)
    try:
        if model is not None:
            model.model_validate({key: value})
        else:
            Scenario.model_validate({"prices": {key: value}})
    except ValidationError as exc:
        raise ValueError(_first_message(exc)) from None
    return value


def _first_message(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    problem = (err.get("ctx") or {}).get("error")
    return str(problem) if problem is not None else err["msg"]


# --- the questions, in the order asked ---------------------------------------------------------------


def provisional(answers: Answers, catalog: Catalog) -> Optional[Scenario]:
    """The scenario the answers so far describe (defaults elsewhere), or None if not yet valid."""
    try:
        return Scenario.model_validate(to_scenario(answers, catalog, name="provisional"))
    except ValidationError:
        return None


def _workload_summary(answers: Answers, catalog: Catalog) -> str:
    s = provisional(answers, catalog)
    w = s.workload if s else WorkloadSpec()
    model = w.model or (f"{w.params_b:g}B params" if w.params_b else DEFAULT_MODEL)
    extra = "".join([f" · {w.tokens_per_day:,.0f} tokens/day" if w.tokens_per_day else "",
                     f" · <= {w.max_ms_per_token:g} ms/token" if w.max_ms_per_token else ""])
    precision = s.precision if s else DEFAULT_PRECISION
    return f"{model} · {precision} · batch {w.batch} · {w.prompt_tokens} prompt / {w.output_tokens} output tokens{extra}"


def _prices_summary(answers: Answers, catalog: Catalog) -> str:
    cells = []
    for gpu in PRICED:
        given = answers.get(f"prices.{gpu}")
        cells.append(f"{gpu} ${given:.2f}/h" if given else f"{gpu} ${catalog.gpu(gpu).price.usd_per_hour:.2f}/h "
                     f"(catalog, {catalog.gpu(gpu).price.observed})")
    return ", ".join(cells)


def questions(catalog: Catalog) -> list[Question]:
    fresh = lambda a: bool(a.get("context.starting_fresh"))  # noqa: E731
    custom_workload = lambda a: a.get(KEEP_WORKLOAD) is False  # noqa: E731
    model_choices = tuple((m.id, f"{m.id}  ({m.params / 1e9:.1f}B)") for m in catalog.models.values()) + ((OTHER_SIZE, OTHER_SIZE),)
    return [
        Question("context.have_a100_fleet", "confirm", "Do you already run an A100 fleet?",
                 "An existing fleet is checked first: is it well used before anything new is bought?", False),
        Question("context.utilization", "number", "How busy is that fleet (share of paid GPU-hours doing work)?",
                 "0.55 or 55%. Below 0.7 the seed says: optimize A100 usage before upgrading.", 0.6,
                 when=lambda a: bool(a.get("context.have_a100_fleet")), percent=True),
        Question("context.starting_fresh", "confirm", "Is this a new deployment (nothing existing to reuse)?",
                 "New deployments with budget for H100 get H100: the better investment for the future.",
                 lambda a, c: not a.get("context.have_a100_fleet")),
        Question("context.monthly_budget_usd", "number", "Monthly GPU budget in USD? (Enter to skip)",
                 "Compared with the monthly cost of the H100 deployment your workload needs.", None, when=fresh, optional=True),
        Question("context.can_afford_h100", "confirm", "Can you afford H100s for this deployment?",
                 "Without a budget figure, your own judgement decides the seed's first branch.", True,
                 when=lambda a: fresh(a) and a.get("context.monthly_budget_usd") is None),
        Question("context.can_use_spot", "confirm", "Can you run on spot / preemptible capacity?",
                 "With spot: H100 spot when available, A100 as the fallback.", False),
        Question("context.using_fp8", "confirm", "Will you serve with FP8 weights?",
                 "FP8 runs natively on H100; A100 has no FP8 and would serve at FP16.", False),
        Question("context.optimize_for", "select", "What matters most?",
                 "Each priority is one of the seed's decision factors.", None,
                 choices=((UNSET, "no single priority"), ("latency", "latency (per-token speed, P99)"),
                          ("cost_per_token", "cost per token"), ("throughput_per_gpu", "throughput per GPU"),
                          ("availability", "availability (getting GPUs at all)"))),
        Question("context.stage", "select", "Which stage is this for?",
                 "The seed's default: A100 for experiments, H100 for production.", None,
                 choices=((UNSET, "not sure / both"), ("production", "production"), ("experimentation", "experimentation"))),
        Question("context.h100_wait_weeks", "number", "Weeks until you could get H100 capacity? (Enter to skip)",
                 "Long H100 waits (8 weeks or more) make A100's availability an advantage.", None, optional=True),
        Question(KEEP_WORKLOAD, "confirm", lambda a, c: f"Keep this workload: {_workload_summary(a, c)}?",
                 "The workload sets memory, GPUs per deployment and cost per token.", True),
        Question("workload.model", "select", "Which model?", "Sizes and shapes from the models' config.json.",
                 lambda a, c: a.get("workload.model") or (OTHER_SIZE if a.get("workload.params_b") else DEFAULT_MODEL),
                 choices=model_choices, when=custom_workload),
        Question("workload.params_b", "number", "Model size in billions of parameters?", "Shapes are scaled from the nearest Llama.",
                 70.0, when=lambda a: custom_workload(a) and a.get("workload.model") == OTHER_SIZE),
        Question("workload.precision", "select", "Weight precision?", "Fewer bytes per weight: less memory, faster decode.",
                 DEFAULT_PRECISION, choices=tuple((p, p) for p in PRECISIONS),
                 when=lambda a: custom_workload(a) and not a.get("context.using_fp8")),
        Question("workload.batch", "integer", "Concurrent sequences per deployment (batch)?",
                 "Batching shares each weight read across sequences: the biggest lever on cost per token.", DEFAULT_BATCH,
                 when=custom_workload),
        Question("workload.prompt_tokens", "integer", "Prompt tokens per request?", "Long prompts make prefill (compute) weigh more.",
                 DEFAULT_PROMPT_TOKENS, when=custom_workload),
        Question("workload.output_tokens", "integer", "Output tokens per request?", "Decode (memory bandwidth) dominates long outputs.",
                 DEFAULT_OUTPUT_TOKENS, when=custom_workload),
        Question("workload.tokens_per_day", "number", "Generated tokens per day? (Enter to skip)",
                 "Sizes replicas and utilization from your traffic; 50,000,000 or 5e7.", None, when=custom_workload, optional=True),
        Question("workload.max_ms_per_token", "number", "Latency target in ms per generated token? (Enter to skip)",
                 "GPUs that miss it lose the latency advantage.", None, when=custom_workload, optional=True),
        Question(KEEP_PRICES, "confirm", lambda a, c: f"Keep these prices: {_prices_summary(a, c)}?",
                 "Prices go stale: use yours if you have a quote.", True),
        *[Question(f"prices.{gpu}", "number", f"{gpu} price in USD per GPU-hour?", "On-demand or your negotiated rate.",
                   lambda a, c, g=gpu: c.gpu(g).price.usd_per_hour, when=lambda a: a.get(KEEP_PRICES) is False) for gpu in PRICED],
    ]


# --- turning answers into a scenario ----------------------------------------------------------------


def from_scenario(s: Scenario) -> Answers:
    """Answers pre-filled from a saved scenario (``--from``)."""
    answers: Answers = {}
    for section in ("context", "workload"):
        for key, value in getattr(s, section).model_dump(exclude_unset=True, by_alias=True).items():
            answers[f"{section}.{key}"] = value
    for gpu, price in s.prices.items():
        answers[f"prices.{gpu}"] = price
    return answers


def settle(answers: Answers) -> Answers:
    """The answers with what one implies for another applied: FP8 weights make a pre-filled
    precision moot, "another size" stands for params_b, and a catalog model for itself."""
    settled = dict(answers)
    if settled.get("context.using_fp8"):
        settled.pop("workload.precision", None)
    if settled.get("workload.model") == OTHER_SIZE:
        settled.pop("workload.model")
    elif settled.get("workload.model"):
        settled.pop("workload.params_b", None)
    return settled


def to_scenario(answers: Answers, catalog: Catalog, name: str) -> dict:
    """The scenario file's data: only the fields answered (the rest keep their documented defaults)."""
    data: dict = {"name": name}
    for dotted, value in settle(answers).items():
        if dotted.startswith("_") or value is None or value == OTHER_SIZE:
            continue
        section, key = dotted.split(".", 1)
        data.setdefault(section, {})[key] = value
    return data


