"""The registry server: a store, a guard, the application and the HTTP layer, wired from a
:class:`~dockyard.registry.config.Config`. It needs nothing else (no daemon).

At start the content store's crash leftovers are cleaned (resumable uploads are kept). A
janitor task closes upload writers left idle. ``close`` stops accepting, lets requests in
flight finish for a moment, and closes the writers so every session stays resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from dockyard.errors import InvalidArgument
from dockyard.registry.access import Policy
from dockyard.registry.app import Registry
from dockyard.registry.config import Config
from dockyard.registry.context import Context, Options
from dockyard.registry.guard import BasicGuard, Guard, OpenGuard, TokenGuard
from dockyard.registry.htpasswd import Htpasswd
from dockyard.registry.http import HttpServer
from dockyard.registry.storage import RegistryStore
from dockyard.registry.tokens import TokenAuthority, load_or_create_key
from dockyard.registry.uploads import Uploads

log = logging.getLogger(__name__)

JANITOR_PERIOD = 30.0


def build_guard(config: Config) -> Guard:
    auth = config.auth
    htpasswd = Htpasswd(auth.htpasswd) if auth.htpasswd is not None else None
    policy = Policy(auth.access)
    if auth.mode == "none":
        return OpenGuard()
    if auth.mode == "basic":
        if htpasswd is None:
            raise InvalidArgument("basic auth needs an htpasswd file")
        return BasicGuard(htpasswd, policy, auth.realm or "dockyard-registry")
    key = load_or_create_key(auth.token_key or config.root / "token.key")
    authority = TokenAuthority(key, auth.issuer, auth.service, auth.token_ttl)
    return TokenGuard(authority, policy, htpasswd, auth.realm)


def build_ssl(config: Config) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgument(f"cannot load tls certificate {config.tls_cert} and key "
                              f"{config.tls_key}: {exc}") from exc
    return context


class RegistryServer:
    """One registry on one address."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = RegistryStore(config.root)
        self.uploads = Uploads(self.store, config.max_upload_size, config.upload_idle)
        options = Options(read_only=config.read_only, delete_enabled=config.delete_enabled,
                          max_manifest_size=config.max_manifest_size)
        self.app = Registry(Context(self.store, self.uploads, options), build_guard(config))
        self._http = HttpServer(self.app, build_ssl(config))
        self._janitor: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        """Clean crash leftovers, listen; returns the bound address."""
        await asyncio.to_thread(self.store.content.recover)
        address = await self._http.start(self.config.host, self.config.port)
        self._janitor = asyncio.get_running_loop().create_task(self._tidy())
        log.info("registry listening on %s:%d (root %s)", *address, self.config.root)
        return address

    async def close(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        await self._http.close()
        await self.uploads.close()

    async def _tidy(self) -> None:
        while True:
            await asyncio.sleep(JANITOR_PERIOD)
            try:
                await self.uploads.reap()
            except Exception:
                log.exception("closing idle uploads failed")
