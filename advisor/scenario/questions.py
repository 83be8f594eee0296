"""The guided session's questions as typed data (as copier declares them), and answers -> scenario.

Each ``Question`` names the scenario field it fills, its help text, its default, when it is
asked (``when``, on the answers so far) and how an answer is checked (by the scenario model
itself, so "$20k" or "70%" reads as in a file); the loop that asks them, and goes back, is in the
CLI (``advisor.cli.session``). What an answer implies for others (FP8 weights make a pre-filled
precision moot; "another size" means params_b; the load stated one way drops the other) is
settled here, in ``settle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from pydantic import ValidationError

from ..catalog.load import Catalog
from ..catalog.precisions import PRECISIONS
from ..defaults import (A100, DEFAULT_MODEL, DEFAULT_OUTPUT_TOKENS, DEFAULT_PEAK_TO_AVERAGE, DEFAULT_PRECISION, DEFAULT_PROMPT_TOKENS,
                        DEFAULT_TPOT_MS, DEFAULT_TTFT_MS, SEED_PAIR)
from .spec import Context, Scenario, WorkloadSpec

QuestionKind = Literal["confirm", "select", "number", "integer"]
Answers = dict  # dotted field name -> value; "_"-prefixed names steer the session only

KEEP_PRICES, LOAD_AS = "_keep_prices", "_load_as"
LOAD_FIELDS = ("workload.requests_per_s", "workload.tokens_per_day")
PRICED = SEED_PAIR
OTHER_SIZE = "(another size)"
UNSET = "(not set)"
ANY_GPU, SEED_PAIR_ONLY = "(any)", tuple(SEED_PAIR)


@dataclass(frozen=True)
class Question:
    name: str  # dotted scenario field, e.g. "context.utilization"
    kind: QuestionKind
    message: Any  # text, or a function of (answers, catalog) when it shows figures
    help: str
    default: Any = None  # a value, or a function of (answers, catalog)
    choices: Any = ()  # for select: (value, label) pairs, or a function of (answers, catalog) giving them
    when: Callable[[Answers], bool] = lambda a: True
    optional: bool = False  # an empty answer leaves the field unset

    def default_value(self, answers: Answers, catalog: Catalog):
        return self.default(answers, catalog) if callable(self.default) else self.default

    def message_for(self, answers: Answers, catalog: Catalog) -> str:
        return self.message(answers, catalog) if callable(self.message) else self.message

    def choices_for(self, answers: Answers, catalog: Catalog) -> list:
        return list(self.choices(answers, catalog) if callable(self.choices) else self.choices)


_SECTIONS = {"context": Context, "workload": WorkloadSpec}


def parse_number(text: str, question: Question):
    """Text as typed -> a number in the field's type and range, or ValueError with the reason.

    The field itself reads it (``$4``, ``70%``, ``20k``, ``25ms``: see ``advisor.amounts``) and
    checks its range, so answers, flags and files obey the same notation and limits.
    """
    section, key = question.name.split(".", 1)
    model = _SECTIONS.get(section)
    try:
        if model is not None:
            value = getattr(model.model_validate({key: text.strip()}), key)
        else:
            value = getattr(Scenario.model_validate({section: {key: text.strip()}}), section)[key]
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


def _prices_summary(answers: Answers, catalog: Catalog) -> str:
    cells = []
    for gpu in PRICED:
        given = answers.get(f"prices.{gpu}")
        cells.append(f"{gpu} ${given:.2f}/h" if given else f"{gpu} ${catalog.gpu(gpu).price.usd_per_hour:.2f}/h "
                     f"(catalog, {catalog.gpu(gpu).price.observed})")
    return ", ".join(cells)


def _load_as(answers: Answers, catalog: Catalog) -> str:
    return ("workload.requests_per_s" if answers.get("workload.requests_per_s") is not None
            else "workload.tokens_per_day" if answers.get("workload.tokens_per_day") is not None else UNSET)


def _precisions(answers: Answers, catalog: Catalog) -> list:
    """FP8 is the question before this one: offered again only to keep a --from file's fp8."""
    return [(p, p) for p in PRECISIONS if p != "fp8" or answers.get("workload.precision") == "fp8"]


def _gpu_scope(answers: Answers, catalog: Catalog) -> list:
    scope = [(ANY_GPU, "any GPU of the catalog"), (SEED_PAIR_ONLY, "only A100 and H100 (the seed's pair)")]
    given = answers.get("context.gpus")
    if given not in (None, ANY_GPU) and tuple(given) != SEED_PAIR_ONLY:
        scope.append((tuple(given), f"as the file says: {', '.join(given)}"))
    return scope


def questions(catalog: Catalog) -> list[Question]:
    """The workload and its load first (every figure shown later is for this load), then the team:
    the fleet, the budget, priorities, the timeline, spot, the GPUs and prices to weigh."""
    fleet = lambda a: bool(a.get("context.have_a100_fleet"))  # noqa: E731
    load_stated = lambda a: a.get(LOAD_AS) in LOAD_FIELDS  # noqa: E731
    spot = lambda a: bool(a.get("context.can_use_spot"))  # noqa: E731
    model_choices = tuple((m.id, f"{m.id}  ({m.params / 1e9:.1f}B)") for m in catalog.models.values()) + ((OTHER_SIZE, OTHER_SIZE),)
    gpu_choices = tuple((g.id, f"{g.id}  ({g.name})") for g in catalog.gpus.values())
    h100_spot = catalog.gpu(SEED_PAIR[1]).spot_price
    return [
        Question("workload.model", "select", "Which model will you serve?", "Sizes and shapes from the models' config.json.",
                 lambda a, c: a.get("workload.model") or (OTHER_SIZE if a.get("workload.params_b") else DEFAULT_MODEL),
                 choices=model_choices),
        Question("workload.params_b", "number", "Model size in billions of parameters?", "Shapes are scaled from the nearest Llama.",
                 70.0, when=lambda a: a.get("workload.model") == OTHER_SIZE),
        Question("context.using_fp8", "confirm", "Will you serve with FP8 weights?",
                 "FP8 needs FP8 tensor cores (H100, H200, B200, L40S, MI300X); A100 would serve 8-bit as INT8 weight-only.", False),
        Question("workload.precision", "select", "Weight precision?", "Fewer bytes per weight: less memory, faster decode.",
                 DEFAULT_PRECISION, choices=_precisions, when=lambda a: not a.get("context.using_fp8")),
        Question("workload.prompt_tokens", "integer", "Average prompt length, in tokens?",
                 "Long prompts make prefill (compute) weigh more; 2k is 2,000.", DEFAULT_PROMPT_TOKENS),
        Question("workload.output_tokens", "integer", "Average output tokens per request?",
                 "Decode (memory bandwidth) dominates long outputs.", DEFAULT_OUTPUT_TOKENS),
        Question(LOAD_AS, "select", "How do you know the load?", "The load sizes every plan: replicas, GPUs and the monthly bill.",
                 _load_as, choices=(("workload.requests_per_s", "requests per second"),
                                    ("workload.tokens_per_day", "generated tokens a day"),
                                    (UNSET, "not known yet: plan for what one A100 replica carries"))),
        Question("workload.requests_per_s", "number", "Average requests per second?", "5, 5 req/s or 18k/h.", 5.0,
                 when=lambda a: a.get(LOAD_AS) == "workload.requests_per_s"),
        Question("workload.tokens_per_day", "number", "Generated tokens a day?", "300M, 3e8 or 300,000,000.", 3e8,
                 when=lambda a: a.get(LOAD_AS) == "workload.tokens_per_day"),
        Question("workload.peak_to_average", "number", "How much higher is the peak than the average (2 = twice)?",
                 "Plans carry the peak, within the headroom.", DEFAULT_PEAK_TO_AVERAGE, when=load_stated),
        Question("workload.tpot_ms", "number", "Target time per output token (TPOT), in ms?",
                 "Per-token latency as users feel it; 50 ms is 20 tokens a second.", DEFAULT_TPOT_MS),
        Question("workload.ttft_ms", "number", "Target time to first token (TTFT), in ms?",
                 "The wait before the first token, queueing and prefill; 2 s is 2000.", DEFAULT_TTFT_MS),
        Question("context.have_a100_fleet", "confirm", "Do you already run a GPU fleet (A100s, say) for this?",
                 "An existing fleet is checked first: is it well used before anything new is bought?", False),
        Question("context.fleet_gpu", "select", "Which GPU is the fleet?", "Its catalog entry gives its price and speed.", A100,
                 choices=gpu_choices, when=fleet),
        Question("context.fleet_gpus", "integer", "How many GPUs in the fleet? (Enter to skip)",
                 "With the utilization, the load it carries today and what that load would cost elsewhere.", None,
                 when=fleet, optional=True),
        Question("context.utilization", "number", "How busy is the fleet (share of paid GPU-hours doing work)?",
                 "0.55 or 55%. Below 70% the seed says: optimize A100 usage before upgrading.", 0.6, when=fleet),
        Question("context.starting_fresh", "confirm", "Is this a new deployment (nothing existing to reuse)?",
                 "New deployments with budget for H100 get H100 in the seed: the better investment for the future.",
                 lambda a, c: not fleet(a)),
        Question("context.monthly_budget_usd", "number", "Monthly GPU budget in USD? (Enter to skip)",
                 "$20k or 20000; every plan is checked against it.", None, optional=True),
        Question("context.can_afford_h100", "confirm", "Can you afford H100s for this deployment?",
                 "Without a budget figure, your own judgement decides the seed's first branch.", True,
                 when=lambda a: bool(a.get("context.starting_fresh")) and a.get("context.monthly_budget_usd") is None),
        Question("context.optimize_for", "select", "What matters most?",
                 "Each priority is one of the seed's decision factors.", None,
                 choices=((UNSET, "no single priority"), ("latency", "latency (per-token speed, P99)"),
                          ("cost_per_token", "cost per token"), ("throughput_per_gpu", "throughput per GPU"),
                          ("availability", "availability (getting GPUs at all)"))),
        Question("context.stage", "select", "Which stage is this for?",
                 "The seed's default: A100 for experiments, H100 for production.", None,
                 choices=((UNSET, "not sure / both"), ("production", "production"), ("experimentation", "experimentation"))),
        Question("context.h100_wait_weeks", "number", "Weeks until you could get H100 capacity? (Enter to skip)",
                 "26, 26 weeks or 6 months. Long H100 waits make A100's availability an advantage.", None, optional=True),
        Question("context.needed_in_weeks", "number", "Weeks until you need the capacity? (Enter to skip)",
                 "0 is now. An H100 wait past this date overturns an H100 answer.", None, optional=True,
                 when=lambda a: a.get("context.h100_wait_weeks") is not None),
        Question("context.can_use_spot", "confirm", "Can you run on spot / preemptible capacity?",
                 "With spot, the seed mixes H100 spot when available with an A100 fallback.", False),
        Question(f"spot_prices.{SEED_PAIR[1]}", "number", "H100 spot price in USD per GPU-hour?",
                 f"The catalog's: ${h100_spot.usd_per_hour:.2f}/h ({h100_spot.observed})." if h100_spot else "Your provider's spot rate.",
                 lambda a, c: h100_spot.usd_per_hour if h100_spot else None, when=spot),
        Question("context.spot_availability", "number", "Share of hours H100 spot capacity is there? (Enter to skip)",
                 "70% or 0.7; without it the mix cannot be costed.", None, when=spot, optional=True),
        Question("context.gpus", "select", "Which GPUs may the verdict choose?",
                 "The seed's pair is planned either way, for the general answer.", ANY_GPU, choices=_gpu_scope),
        Question(KEEP_PRICES, "confirm", lambda a, c: f"Keep these prices: {_prices_summary(a, c)}?",
                 "Prices go stale: use yours if you have a quote.", True),
        *[Question(f"prices.{gpu}", "number", f"{gpu} price in USD per GPU-hour?", "On-demand or your negotiated rate; $3.95 or 3.95.",
                   lambda a, c, g=gpu: c.gpu(g).price.usd_per_hour, when=lambda a: a.get(KEEP_PRICES) is False) for gpu in PRICED],
    ]


# --- turning answers into a scenario ----------------------------------------------------------------


def from_scenario(s: Scenario) -> Answers:
    """Answers pre-filled from a saved scenario (``--from``): every field it sets or leaves at the
    model's default, so that Enter through the questions decides it the same way (a question's own
    default, such as "a new deployment unless there is a fleet", never replaces the file's)."""
    answers: Answers = {}
    for section in ("context", "workload"):
        for key, value in getattr(s, section).model_dump(exclude_none=True, by_alias=True).items():
            answers[f"{section}.{key}"] = value
    for table in ("prices", "spot_prices"):
        for gpu, price in getattr(s, table).items():
            answers[f"{table}.{gpu}"] = price
    if s.context.gpus is not None:
        answers["context.gpus"] = tuple(s.context.gpus)
    return answers


def settle(answers: Answers) -> Answers:
    """The answers with what one implies for another applied: FP8 weights make a pre-filled
    precision moot, "another size" stands for params_b, and a catalog model for itself."""
    settled = dict(answers)
    if LOAD_AS in settled:  # the load stated one way drops the other; "not known" drops both and the peak
        load = settled[LOAD_AS]
        for stated in LOAD_FIELDS:
            if stated != load:
                settled.pop(stated, None)
        if load not in LOAD_FIELDS:
            settled.pop("workload.peak_to_average", None)
    if settled.get("context.gpus") == ANY_GPU:
        settled.pop("context.gpus")
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
        data.setdefault(section, {})[key] = list(value) if isinstance(value, tuple) else value
    return data


