#!/usr/bin/env bash
# Machine setup: Mesa's lavapipe (CPU Vulkan) >= 25 from Debian backports, which Dawn (the `webgpu` package) needs to run WGSL without a GPU.
# Idempotent: a fast no-op once installed. Runs as root with no stdin (CI). Mesa 22 (bookworm's own) is refused by Dawn.
set -euo pipefail

want=25
say() { echo "provision-lavapipe: $*"; }
version() { dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null | awk '$1 == "installed" { print $2 }'; }
provisioned() {
  local v
  v=$(version mesa-vulkan-drivers)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$want" && [ -n "$(version libvulkan1)" ]
}

if provisioned; then
  say "already provisioned: mesa-vulkan-drivers $(version mesa-vulkan-drivers), libvulkan1 $(version libvulkan1); nothing to do"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "must run as root to install packages" >&2; exit 1; }

start=$SECONDS
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
backports="$codename-backports"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null; }
# "SUITE URI" for each configured apt suite (deb822 .sources and one-line sources.list alike).
suites=$(apt-get indextargets --no-release-info --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | sort -u)

if grep -q "^$backports " <<<"$suites"; then
  say "apt suite $backports already configured"
else
  # The same mirror as the release's own suite.
  mirror=$(awk -v s="$codename" '$1 == s { print $2; exit }' <<<"$suites")
  mirror=${mirror:-http://deb.debian.org/debian/}
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$mirror" "$backports"
    if [ -f "$keyring" ]; then printf 'Signed-By: %s\n' "$keyring"; fi
  } >"/etc/apt/sources.list.d/$backports.sources"
  say "added apt suite $backports from $mirror (/etc/apt/sources.list.d/$backports.sources)"
fi

say "apt-get update"
apt_get update >/dev/null
say "installing mesa-vulkan-drivers and libvulkan1 from $backports"
apt_get install -t "$backports" --no-install-recommends mesa-vulkan-drivers libvulkan1

provisioned || { say "mesa-vulkan-drivers >= $want did not install (have '$(version mesa-vulkan-drivers)')" >&2; exit 1; }
say "installed mesa-vulkan-drivers $(version mesa-vulkan-drivers), libvulkan1 $(version libvulkan1) in $((SECONDS - start)) s"
