"""Strings and files for people and machines; nothing here decides anything.

May import: every package but ``cli``; matplotlib only in ``charts``, imported when a chart is
asked for. Modules: ``text`` (tables, money, versioned JSON), ``tables`` (catalogs, estimates,
comparisons, rules, audit lists), ``decisions`` (decision blocks, streams, CSV, Markdown),
``explanation`` (explanations, records, replays), ``term`` (colour and progress on a terminal).
A new output format or chart goes here.
"""
