#!/usr/bin/env bash
# Installs banger on a fresh Debian 12 machine, as root, from this checkout:
# Debian packages, npm dependencies, the build (TypeScript and the static guest programs),
# `banger` on PATH, the default kernel and image; then runs a real sandbox command.
# Safe to run again: every step skips or refreshes what is already there.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run this as root (it installs Debian packages)" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

step "Debian packages"
packages=(
  qemu-system-x86 qemu-utils          # the VMM and qemu-img
  busybox-static kmod cpio            # initramfs contents, depmod
  mmdebstrap e2fsprogs                # image builds (mkfs.ext4 -d, debugfs)
  lz4 zstd xz-utils                   # kernel payloads
  musl-tools build-essential          # static guest programs; better-sqlite3 compiles from source
  bison flex bc dwarves libelf-dev libssl-dev   # `banger kernel build` (Firecracker-compatible kernel)
  xfsprogs                            # tests: reflink copies on a loop-mounted XFS
  python3 git ca-certificates
  openssh-client openssh-server socat dnsutils iproute2 nftables
  passt iptables                      # NAT out of the isolated namespace (pasta); tests: a DROP FORWARD policy
  dnsmasq-base                        # network tests: the documented .vm resolver wiring, a stand-in upstream
  docker-registry skopeo apache2-utils openssl   # OCI pull tests: a real registry, pushes, htpasswd, token certs
  systemd                             # system install tests: systemd-analyze verify of the units
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all present"
fi

step "npm dependencies"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("banger needs Node.js >= 20.19 (found "+process.version+")"); process.exit(1) }'
# better-sqlite3 compiles from source (its prebuilt binaries are on GitHub). node-gyp needs
# Node's headers: use the ones installed with Node rather than downloading them.
if [ -z "$(npm config get nodedir 2>/dev/null | grep -v '^undefined$')" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
npm ci --no-audit --no-fund

step "build"
npm run build

step "banger on PATH"
ln -sf "$PWD/dist/src/cli/banger.mjs" /usr/local/bin/banger
echo "/usr/local/bin/banger -> $PWD/dist/src/cli/banger.mjs"

step "default kernel"
if banger kernel show debian >/dev/null 2>&1; then
  echo "kernel debian already present"
else
  banger kernel pull debian
fi

step "default image"
if banger image show debian-bookworm >/dev/null 2>&1; then
  echo "image debian-bookworm already present"
else
  banger image build debian-bookworm
fi

step "Firecracker kernel"
# Firecracker boots only kernels with virtio, ext4 and vsock built in; `banger kernel build`
# makes one from Debian's linux-source-6.1 (about 10 minutes on 2 cores, cached afterwards).
# Built where Firecracker is installed, or when asked (CI sets BANGER_FIRECRACKER_KERNEL=1:
# the e2e suite boots it under QEMU).
if [ "${BANGER_FIRECRACKER_KERNEL:-}" = 1 ] || command -v firecracker >/dev/null 2>&1; then
  if banger kernel show firecracker-6.1 >/dev/null 2>&1; then
    echo "kernel firecracker-6.1 already present"
  else
    banger kernel build firecracker-6.1
  fi
else
  echo "skipped: firecracker is not installed (BANGER_FIRECRACKER_KERNEL=1 builds it anyway)"
fi

step "a first sandbox"
banger vm run --rm -- cat /etc/os-release
