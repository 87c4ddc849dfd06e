"""The ``hybridqml`` command: :func:`main` dispatches to subcommand groups.

* :mod:`~hybridqml.cli.main` -- the top-level parser and error handling;
* :mod:`~hybridqml.cli.train` -- ``hybridqml train <workflow>`` and ``hybridqml demo``, generated
  from :mod:`hybridqml.workflows.registry`;
* :mod:`~hybridqml.cli.entropy` -- ``hybridqml entropy sample|test``, over the registered
  entropy sources, its flags generated from :class:`hybridqml.entropy.EntropySettings`.
"""

from hybridqml.cli.main import COMMAND_GROUPS, build_parser, main

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]
