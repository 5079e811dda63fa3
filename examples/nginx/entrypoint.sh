#!/bin/sh
# Point nginx's resolver at the container's DNS server (a user network's embedded DNS), so the
# app's address is looked up per request and nginx starts even before the app does.
set -eu
ns=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf 2>/dev/null || true)
case "$ns" in
*:*) ns="[$ns]" ;;
esac
echo "resolver ${ns:-127.0.0.11} valid=10s ipv6=off;" > /etc/nginx/resolver.conf
exec "$@"
