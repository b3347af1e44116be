# Shared helpers for workshop/e2e (sourced, not run).
# shellcheck shell=bash
#
# The e2e environment is project tooling, not part of the QEMU series: it
# boots Xen + dom0 + domU inside Debian's qemu-system-aarch64 (TCG) and
# runs tests there. Everything comes from Debian 12 packages except the
# hypervisor (rebuilt with CONFIG_IOREQ_SERVER=y) and the ioreq probe.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$E2E_DIR/../.." && pwd)
E2E_OUT=${E2E_OUT:-$TOP/work/e2e}
E2E_CACHE=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenfv-arm/e2e}
# The device model under test, cross-built for arm64 by workshop/build-qemu.sh cross.
E2E_QEMU_CROSS=${E2E_QEMU_CROSS:-$TOP/work/build-cross/qemu-system-aarch64}

# Xen: Debian 12's source and tools, pinned to the same revision. The newer
# security revision (4.17.7+13) is listed by apt but its source is not
# served, and tools must match the hypervisor we build.
XEN_DEB_VERSION=4.17.5+72-g01140da4e8-1
XEN_PKGS_PINNED="xen-utils-4.17 xenstore-utils libxenmisc4.17 libxencall1
    libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4
    libxentoollog1 libxenhypfs1 libxentoolcore1 libxendevicemodel1 libxen-dev"
# Runtime libraries of the tools (libgcc-s1: xl aborts in pthread_cancel
# without it) and the library pool the cross-built QEMU is served from.
RUNTIME_PKGS="libc6 libgcc-s1 libyajl2 libext2fs2 libcom-err2 libfdt1 libuuid1
    zlib1g libncurses6 libtinfo6"
QEMU_LIB_PKGS="libglib2.0-0 libpixman-1-0 libpng16-16 libpcre2-8-0 libffi8
    libmount1 libblkid1 libselinux1 libzstd1 libaio1 liburing2"
OTHER_PKGS="busybox-static"
KERNEL_META=linux-image-arm64

# Kernel modules (names as in the .ko file, dependencies are added).
DOM0_MODULES="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-blkback loop"
DOMU_MODULES="virtio_mmio virtio_blk virtio_net virtio_console virtio-gpu xen-blkfront"

_t0=${_t0:-$(date +%s)}
export _t0

stage() { printf '=== [%4ss] %s\n' "$(( $(date +%s) - _t0 ))" "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'e2e error: %s\n' "$*" >&2; exit 1; }

# Install missing host packages (we run as root).
need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    info "installing: ${missing[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

apt_update_once() {
    [ -n "${_apt_updated:-}" ] && return 0
    apt-get update -qq || die "apt-get update failed"
    _apt_updated=1
}

# arm64 packages are only downloaded and unpacked, never installed.
need_arm64_arch() {
    dpkg --print-foreign-architectures | grep -qx arm64 && return 0
    info "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    _apt_updated=
    apt_update_once
}

have_deb_src() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list && return 0
    grep -qsE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}

# Same approach as workshop/fetch-qemu.sh: derive deb-src entries from the
# machine's own bookworm deb entries, so no mirror is ever named here.
add_deb_src() {
    local tmp list=/etc/apt/sources.list.d/xenfv-arm-deb-src
    tmp=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*bookworm/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, "");
                 print }' "$f" >> "$tmp"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        sed -nE 's/^[[:space:]]*deb[[:space:]]+(.*bookworm.*)$/deb-src \1/p' "$f" >> "$tmp"
    done
    [ -s "$tmp" ] || die "no bookworm apt source found to derive deb-src from"
    if grep -q '^deb-src ' "$tmp"; then
        grep '^deb-src ' "$tmp" > "$list.list"
        grep -v '^deb-src ' "$tmp" > "$list.sources" || true
    else
        mv "$tmp" "$list.sources"
    fi
    rm -f "$tmp"
    info "added deb-src entries derived from the existing apt sources"
    _apt_updated=
    apt_update_once
}

# Short content hash of stdin.
hash16() { sha256sum | cut -c1-16; }
