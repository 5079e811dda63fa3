#!/usr/bin/env bash
# Builds the Debian bookworm "slim" rootfs tarball used by the benchmarks:
#   mmdebstrap --variant=minbase with debuerreotype-style slim excludes (dpkg path-exclude:
#   docs except copyright files, man, info, groff, linda, lintian overrides, locale).
# Usage: make-debian-slim.sh OUT.tar        (as root; downloads packages over the host network)
#
# SOURCE_DATE_EPOCH makes the tar reproducible for an unchanged archive. The host's deb822 sources
# file is passed as the source, so mmdebstrap copies it into the chroot verbatim and writes no
# mirror name of its own. The tar is written next to OUT and renamed into place when complete.
set -euo pipefail

out=${1:?usage: make-debian-slim.sh OUT.tar}
suite=${SUITE:-bookworm}
sources=${SOURCES:-/etc/apt/sources.list.d/debian.sources}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1747699200}

slim_opts=(
  # Same paths as debuerreotype's .slimify-excludes; copyright files are kept (.slimify-includes).
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/groff/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/linda/*'
  --dpkgopt='path-exclude=/usr/share/lintian/overrides/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/man/*'
)

mkdir -p "$(dirname "$out")"
partial="$out.partial"
trap 'rm -f "$partial"' EXIT
mmdebstrap --quiet --variant=minbase --format=tar "${slim_opts[@]}" \
  "$suite" "$partial" "$sources"
mv -f "$partial" "$out"
trap - EXIT
echo "make-debian-slim: $out ($(stat -c %s "$out") bytes, sha256 $(sha256sum "$out" | cut -c1-16)...)"
