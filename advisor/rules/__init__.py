"""The rule language, generic: it knows facts by name and type, never GPUs.

May import: the root modules only; ``durable`` is imported by ``engine`` alone.
Modules: ``schema`` (fact types, the numbers rules may compare), ``language`` (YAML rule files
parsed into condition trees, templates, the rules revision), ``loader`` (files to a rule book,
every problem with its file:line), ``evaluator`` (the reference semantics), ``normal``
(conditions as boxes over the cells of each fact's domain), ``engine`` (durable-rules, contained),
``analysis`` (gaps, masked and unreachable rules, exactly), ``cases`` (the facts-in, rules-out
cases kept beside each ruleset).
A new rule goes into a YAML file under rules/policy/, with a case in its ``*.cases.yaml``.
"""
