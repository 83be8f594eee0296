"""A team's situation as validated input: the scenario model, its files, and the questions of
the guided session.

May import: ``catalog``, the root modules and pydantic.
"""
