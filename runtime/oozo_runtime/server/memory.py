"""glibc's heap, kept small in a long-running server (Linux with glibc; elsewhere a no-op).

- Arenas: glibc gives every thread that allocates its own heap arena (up to 8 per core), and
  each keeps the memory it once held. The query pool's threads, asyncio's and ONNX Runtime's
  allocate briefly per query; two arenas serve them without contention worth measuring.
- Trim: loading an index parses JSON, a numpy archive and a 90 MB ONNX graph; what is freed
  afterwards stays in the heap until malloc_trim hands it back to the kernel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas(arenas: int = ARENAS) -> None:
    """Call before the server starts threads: arenas made earlier stay."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, arenas)


def trim() -> None:
    """Return the heap's free pages to the kernel."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
