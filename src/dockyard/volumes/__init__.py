"""Volumes: the ``local`` driver's named directories, with dockerd 20.10's semantics.

The on-disk tree is drawn in ``store.py``; ``record.py`` holds the records. This package mounts
only volumes created with mount options (``-o type=tmpfs -o device=tmpfs -o o=size=64m``, or
``-o type=none -o device=/srv/x -o o=bind``); a plain volume is a directory a container binds.

The API the container service uses (every method is thread-safe; names are as the user gave
them; container IDs are 64-hex strings)::

    store = VolumeStore(data_root / "volumes", syscalls)

    # container create
    volume = store.create("pgdata", reference=cid)   # -v pgdata:/x, --mount type=volume,src=...
                                                     # (exists already: returned as it is, and
                                                     # cid added to its users)
    volume = store.create("", reference=cid)         # anonymous: image VOLUME, -v /path;
                                                     # volume.name is 64 hex, .anonymous True
    store.use(name, cid)                             # --volumes-from: share another's volume
    store.copy_up(name, rootfs / "var/lib/x")        # unless volume-nocopy: image content in,
                                                     # only if the volume is empty (dockerd)
    # container start / stop (also on exit, and for each start of a restart policy)
    host_path = store.mount(name, cid)               # bind host_path at the destination
    store.unmount(name, cid)
    # container rm
    store.release(name, cid)                         # then, for rm -v, the anonymous ones:
    store.remove(name)                               # Conflict while another container uses it
    # daemon start, after the containers are recovered
    store.reconcile(containers=all_ids, running=running_ids)

``users(name)`` lists the containers referencing a volume (``docker volume rm`` refuses while
there is one: ``remove NAME: volume is in use - [IDs]``); ``in_use()`` counts them for every
volume; ``size(name)`` measures it for ``docker system df``. References and mount holders are
persisted in ``refs.json``, so a restarted daemon still refuses to remove a volume in use and
keeps a tmpfs volume mounted under a container that outlived it, until ``reconcile`` drops what
no container holds any more.
"""

from __future__ import annotations

from dockyard.volumes.record import Volume
from dockyard.volumes.store import VolumeStore

__all__ = ["Volume", "VolumeStore"]
