"""The decision log, kept apart from deciding (as OPA keeps its decision log apart from policy):
``store`` records and reads decisions (SQLite; only the standard library, so that reading is
cheap); ``codec`` is what a decision is stored as (the decision's text, compressed with the preset
``dictionary``); ``migrate`` upgrades stores written by older versions; ``view`` reads a stored
decision back as typed records without the engine; ``replay`` decides a recorded input again and
says what changed.

May import: ``decide``, ``rules`` and the root modules.
"""
