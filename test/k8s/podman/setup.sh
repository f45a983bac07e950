#!/usr/bin/env bash
# Prepares this machine for test/k8s/images.test.ts, which builds the services' images from
# services/Dockerfile with podman and runs them. No registry is reachable here, so the Dockerfile's base image
# node:24-bookworm-slim is replaced by a stand-in built offline: Debian bookworm (debootstrap from
# Debian's package mirror) plus Node.js 24 from the npm registry (the `node` package's binary,
# already in node_modules) and npm from the npm registry. Everything is reused when present.
#
# The host's quirks live here and in the files this writes, never in the Dockerfile:
#   - crun fails on this host's mixed cgroup setup: runtime "runc";
#   - runc may not raise limits: nofile at the host's hard limit, nproc 32768;
#   - outgoing HTTPS goes through an intercepting proxy: `npm ci` inside a build needs the host
#     network and the host's CA bundle, mounted for the build only (see images.test.ts).
set -euo pipefail
cd "$(dirname "$0")/../../.."

BASE_IMAGE=docker.io/library/node:24-bookworm-slim
NPM_VERSION=11.19.1
# Where test/k8s/images.test.ts looks (toolsDir() of packages/local-stack).
STATE_DIR=$(realpath -m "${SIGNUP_FLOW_TOOLS_DIR:-.tools}")/podman
say() { printf '[podman setup] %s\n' "$*"; }

missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: podman runc debootstrap (missing: ${missing[*]})"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends podman runc debootstrap uidmap fuse-overlayfs
fi

mkdir -p "$STATE_DIR"
hard_nofile=$(ulimit -Hn)
cat >"$STATE_DIR/containers.conf" <<CONF
# Written by test/k8s/podman/setup.sh for this host; CONTAINERS_CONF points podman here.
[containers]
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=32768:32768"]

[engine]
runtime = "runc"
CONF
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$STATE_DIR/npmrc"
export CONTAINERS_CONF="$STATE_DIR/containers.conf"

if podman image exists "$BASE_IMAGE"; then
  say "stand-in $BASE_IMAGE already built"
  exit 0
fi

node_binary=node_modules/node/bin/node
if ! "$node_binary" --version 2>/dev/null | grep -q '^v24\.'; then
  say "no Node.js 24 binary at $node_binary: run npm ci first" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
say "debootstrap bookworm (minbase) from $mirror (about a minute)"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

say "adding Node.js $("$node_binary" --version) and npm $NPM_VERSION"
install -m 0755 "$node_binary" "$work/rootfs/usr/local/bin/node"
(cd "$work" && npm pack "npm@$NPM_VERSION" --silent >/dev/null)
mkdir -p "$work/rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
  "$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man"

say "importing the root filesystem as $BASE_IMAGE"
tar -C "$work/rootfs" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' - "$BASE_IMAGE" >/dev/null
podman run --rm "$BASE_IMAGE" node --version >/dev/null
say "built $BASE_IMAGE"
