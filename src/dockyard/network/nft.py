"""libnftables (``libnftables.so.1``) through ctypes: nft commands run in-process.

One :meth:`Nftables.run` is one call of ``nft_run_cmd_from_buffer``: the whole text is parsed,
then sent to the kernel as one netlink batch, which the kernel applies atomically (all of it or
none). Output and errors are buffered in the context and returned or raised.

Debian's ``python3-nftables`` wraps the same library, but it is installed for the system
interpreter only, so the few calls are bound here (``<nftables/libnftables.h>``, nftables 1.0).
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import threading
from typing import Any

from dockyard.errors import SystemCallError, Unsupported

log = logging.getLogger(__name__)

_OUTPUT_HANDLE = 1 << 3
_OUTPUT_JSON = 1 << 4
_OUTPUT_ECHO = 1 << 5
_OUTPUT_STATELESS = 1 << 2
_OUTPUT_NUMERIC_ALL = (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10)


def _load(name: str) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise Unsupported(f"nftables library {name} not found (install libnftables1)") from exc
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


class NftError(SystemCallError):
    """libnftables refused a batch; ``text`` is its error output (names the command and line)."""

    def __init__(self, what: str, text: str, code: int) -> None:
        super().__init__("nft_run_cmd_from_buffer", code or errno.EINVAL,
                         f"{what}: {text.strip()}" if text.strip() else what)
        self.text = text


class Nftables:
    """One libnftables context (thread-safe: calls are serialised on a lock)."""

    def __init__(self, library: str = "libnftables.so.1") -> None:
        self._lib = _load(library)
        self._lock = threading.Lock()
        self._ctx = self._lib.nft_ctx_new(0)
        if not self._ctx:
            raise SystemCallError("nft_ctx_new", ctypes.get_errno() or errno.ENOMEM, "nftables")
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)

    def close(self) -> None:
        with self._lock:
            if self._ctx:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None

    def run(self, commands: str, what: str = "nftables batch", *, output: int = 0) -> str:
        """Run ``commands`` (nft syntax, one batch); the output text. NftError on refusal."""
        with self._lock:
            self._lib.nft_ctx_output_set_flags(self._ctx, output)
            log.debug("nft: %s", commands)
            code = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if code != 0:
            raise NftError(what, err, errno.EINVAL)
        return out

    def json(self, commands: str, what: str = "nftables listing") -> list[dict[str, Any]]:
        """A listing as the ``nftables`` JSON objects (handles included, numeric, stateless)."""
        text = self.run(commands, what,
                        output=_OUTPUT_JSON | _OUTPUT_HANDLE | _OUTPUT_STATELESS
                        | _OUTPUT_NUMERIC_ALL)
        if not text.strip():
            return []
        items = json.loads(text).get("nftables", [])
        return [item for item in items if isinstance(item, dict)]

    def text(self, commands: str) -> str:
        """A listing in nft's text form without counters (for comparisons)."""
        return self.run(commands, "nftables listing", output=_OUTPUT_STATELESS)
