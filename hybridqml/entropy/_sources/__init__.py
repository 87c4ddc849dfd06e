"""Entropy sources: the :class:`~hybridqml.entropy.EntropySource` contract and the built-ins.

* ``_sources.base``: the contract, source kinds, read-size limits;
* ``_sources.local``: ``OSSource``, ``PRNGSource`` (entries ``os``,
  ``prng``);
* ``_sources.hadamard``: ``AerHadamardSource`` on Aer, fake or real IBM
  devices (entries ``aer``, ``fake_<device>``);
* ``_sources.qrng``: ``QRNGSource`` for HTTP QRNG services (entry ``qrng``).

Each module declares its :class:`~hybridqml.entropy.SourceEntry` objects, listed as entry points
of the group ``hybridqml.entropy_sources`` in ``pyproject.toml`` (the way any other package adds
a source).
"""
