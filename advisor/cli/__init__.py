"""The ``advisor`` command: a thin layer over the library; nothing imports it.

``main`` parses arguments (one builder per command group), ``commands`` holds one handler per
command, ``ask`` the guided session's loop and the figures it shows. A new command is a builder
entry in ``main`` and a handler in ``commands``.
"""

from .main import main

__all__ = ["main"]
