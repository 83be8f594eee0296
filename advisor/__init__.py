"""advisor: a rule-based GPU procurement advisor for LLM inference.

The CLI (``advisor.cli``) is a thin layer over packages a user can import, from the bottom up:
``catalog`` (GPU and model data) -> ``perf`` (the numeric model) -> ``scenario`` (validated
input) and ``rules`` (the generic rule language and engine) -> ``decide`` (facts through the
rules into a decision) -> ``audit`` (the decision log) -> ``render`` (text, JSON, charts).
README's "Architecture" says what each may import; tests/test_architecture.py enforces it.
"""

__version__ = "0.1.0"
