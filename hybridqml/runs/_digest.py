"""A content digest of a checkpoint payload: tensors by their bytes, plain values by ``repr``.

The checkpoint keeps its readable structure (``torch.load(path)["objects"]`` still works) and
carries the SHA-256 of its content under :data:`DIGEST_KEY`. The digest walks the payload in a
fixed order (mapping keys sorted by ``repr``), so it does not depend on how ``torch.save`` laid
the file out, and a loaded payload has the digest of the saved one unless a byte of its content
changed.

Example:
    >>> import torch
    >>> a = payload_digest({"w": torch.ones(2), "epoch": 3})
    >>> a == payload_digest({"epoch": 3, "w": torch.ones(2)})
    True
    >>> a == payload_digest({"w": torch.tensor([1.0, 1.0000001]), "epoch": 3})
    False
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import torch

__all__: list[str] = []  # internal to the checkpoint format: nothing for hybridqml.runs

DIGEST_KEY: Final[str] = "sha256"
"""Key of the content digest in a checkpoint payload."""


def payload_digest(payload: Any) -> str:
    """The SHA-256 (hex) of ``payload``'s content, :data:`DIGEST_KEY` at the top excluded."""
    digest = hashlib.sha256()
    if isinstance(payload, Mapping):
        payload = {k: v for k, v in payload.items() if k != DIGEST_KEY}
    _feed(digest, payload)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        digest.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode() + b"=")
            _feed(digest, value[key])
    elif isinstance(value, list | tuple):
        digest.update(f"{type(value).__name__[0]}{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"V{type(value).__name__}:{value!r};".encode())
