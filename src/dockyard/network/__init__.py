"""Bridge networks for containers: links, addresses, firewall rules, published ports, DNS.

Layer L2: imports only errors, oci, sys, mount and itself. :class:`manager.Networks` is the
entry point the services use; the modules below it each own one concern:

- ``netlink``: a small rtnetlink client (links, addresses, routes) on the stdlib socket module;
- ``netns``: a netlink socket inside a container's namespace, made in a short-lived thread;
- ``bridge``: bridge devices, veth pairs made directly in the container's namespace, subnets;
- ``ipam``: persistent per-network address books;
- ``nft`` and ``firewall``: dockyard's own nftables table through libnftables;
- ``ports``: ``-p`` specs, the Engine API's port bindings and host-port reservations;
- ``dns`` and ``dnsmsg``: the embedded DNS server of user-defined networks;
- ``store`` and ``jsonfile``: network and endpoint records, written atomically;
- ``reconcile``: what a crash leaves behind, found and removed.
"""
