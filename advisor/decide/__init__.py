"""Where figures meet rules: a scenario's facts computed, decided by the rule book, explained.

May import: ``rules``, ``scenario``, ``plan``, ``perf``, ``catalog`` and the root modules.
Modules: ``facts`` (this product's fact table and values), ``records`` (the typed parts of a
decision), ``decision`` (Advisor, Decision), ``explain`` (derivation and why-not, as data),
``batch`` (many scenarios, in parallel).
"""
