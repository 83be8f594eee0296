"""Money: cost per token, monthly cost, and the break-even price and utilization."""

from __future__ import annotations

from .checks import fraction, positive


def cost_per_million_tokens(hourly_usd: float, tokens_per_s: float, gpus: int = 1, utilization: float = 1.0) -> float:
    """USD per million generated tokens.

    cost = gpus x hourly price x 1e6 / (3600 x utilization x tokens/s)

    ``hourly_usd`` is per GPU; ``tokens_per_s`` is the whole deployment's throughput while busy;
    ``utilization`` is the share of paid hours it is busy. With one GPU at full utilization this
    is the seed's ``hourly_cost / (tokens_per_second x 3600) x 1_000_000``.
    """
    positive(hourly_usd=hourly_usd, tokens_per_s=tokens_per_s, gpus=gpus)
    fraction(utilization)
    return gpus * hourly_usd * 1e6 / (3600 * utilization * tokens_per_s)


def monthly_cost(hourly_usd: float, gpus: int, hours_per_month: float) -> float:
    """USD a month for keeping the deployment: gpus x hourly price x hours a month (730)."""
    return gpus * hourly_usd * hours_per_month


def break_even_price(base_price: float, base_gpus: int, base_tokens_per_s: float, gpus: int, tokens_per_s: float) -> float:
    """Per-GPU hourly price at which a deployment matches the baseline's cost per token.

    Equal cost: gpus x p / T = base_gpus x base_p / base_T   =>   p = base_p x (base_gpus / gpus) x (T / base_T)
    (the notes' p_A x R, with R the ratio of per-GPU throughput). Same utilization on both sides.
    """
    positive(base_price=base_price, base_gpus=base_gpus, base_tokens_per_s=base_tokens_per_s, gpus=gpus, tokens_per_s=tokens_per_s)
    return base_price * (base_gpus / gpus) * (tokens_per_s / base_tokens_per_s)


def break_even_utilization(
    base_price: float, base_gpus: int, base_tokens_per_s: float, price: float, gpus: int, tokens_per_s: float, utilization: float
) -> float:
    """Utilization the baseline needs to match a deployment running at ``utilization``.

    base_gpus x base_p / (u_b x base_T) = gpus x p / (u x T)   =>   u_b = u x base_gpus x base_p x T / (gpus x p x base_T)

    Above 1 means the baseline cannot match it at any utilization.
    """
    positive(base_price=base_price, base_gpus=base_gpus, base_tokens_per_s=base_tokens_per_s, price=price, gpus=gpus, tokens_per_s=tokens_per_s)
    fraction(utilization)
    return utilization * base_gpus * base_price * tokens_per_s / (gpus * price * base_tokens_per_s)
