"""The decision log, kept apart from deciding (as OPA keeps its decision log apart from policy):
``store`` records and reads decisions; ``replay`` decides a recorded input again and says what
changed.

May import: ``decide``, ``rules`` and the root modules.
"""
