"""What a backend author needs: :func:`check_backend`, the backend conformance suite.

Example:
    >>> from hybridqml.testing import check_backend
    >>> check_backend("aer", checks=["values"]).ran
    ('values',)
"""

from hybridqml.testing.conformance import check_backend

__all__ = ["check_backend"]
