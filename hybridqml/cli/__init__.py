"""The ``hybridqml`` command: :func:`main` dispatches to subcommand groups.

* ``_main`` -- the top-level parser and error handling;
* ``_train`` -- ``hybridqml train <workflow>`` and ``hybridqml demo``, generated
  from ``hybridqml.workflows._registry``;
* ``_entropy`` -- ``hybridqml entropy sample|test``, over the registered
  entropy sources, its flags generated from :class:`hybridqml.entropy.EntropySettings`.
"""

from hybridqml.cli._main import COMMAND_GROUPS, build_parser, main

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]
