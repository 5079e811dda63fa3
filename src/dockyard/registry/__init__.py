"""An OCI distribution registry (distribution-spec v1.1), standalone from the daemon.

Layout of the package (each module's docstring says more):

* :mod:`~dockyard.registry.routes` the API's paths, for the server and for clients;
* :mod:`~dockyard.registry.names`, :mod:`~dockyard.registry.errcode` names, tags, digests and
  the spec's error codes;
* :mod:`~dockyard.registry.storage` repositories as link records over one content store;
  :mod:`~dockyard.registry.manifests` what a pushed manifest must satisfy;
  :mod:`~dockyard.registry.uploads` upload sessions; :mod:`~dockyard.registry.gc` collection;
* :mod:`~dockyard.registry.access`, :mod:`~dockyard.registry.htpasswd`,
  :mod:`~dockyard.registry.tokens`, :mod:`~dockyard.registry.guard` who may do what;
* :mod:`~dockyard.registry.http` a lean HTTP/1.1 server; :mod:`~dockyard.registry.app` and
  :mod:`~dockyard.registry.handlers` the API; :mod:`~dockyard.registry.server` the wiring;
  :mod:`~dockyard.registry.main` the ``dockyard registry serve|gc`` command.

Importing the package imports none of these, so clients can use :mod:`routes` cheaply.
"""
