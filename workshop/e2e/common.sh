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
# The upstream track's QEMU 10.2 for arm64 (workshop/build-qemu.sh
# upstream-cross), for mode xenpvh-blk.
E2E_QEMU_UPSTREAM=${E2E_QEMU_UPSTREAM:-$TOP/work/build-upstream-cross/qemu-system-aarch64}

# Xen: Debian 12's source and tools, pinned to XEN_DEB_VERSION (lib.sh). The
# newer security revision (4.17.7+13) is listed by apt but its source is
# not served, and tools must match the hypervisor we build.
XEN_PKGS_PINNED="xen-utils-4.17 xenstore-utils libxenmisc4.17 libxencall1
    libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4
    libxentoollog1 libxenhypfs1 libxentoolcore1 libxendevicemodel1 libxen-dev"
# Runtime libraries of the tools (libgcc-s1: xl aborts in pthread_cancel
# without it) and the library pool the cross-built QEMU is served from.
RUNTIME_PKGS="libc6 libgcc-s1 libyajl2 libext2fs2 libcom-err2 libfdt1 libuuid1
    zlib1g libncurses6 libtinfo6"
QEMU_LIB_PKGS="libglib2.0-0 libpixman-1-0 libpng16-16 libpcre2-8-0 libffi8
    libmount1 libblkid1 libselinux1 libzstd1 libaio1 liburing2 libseccomp2"
OTHER_PKGS="busybox-static"
KERNEL_META=linux-image-arm64

# Kernel modules (names as in the .ko file, dependencies are added).
DOM0_MODULES="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc xen-blkback loop tun"
DOMU_MODULES="virtio_mmio virtio_blk virtio_net virtio_console virtio-gpu virtio-rng xen-blkfront"

# stage, info, need_pkgs, apt_update_once, have_deb_src, add_deb_src and
# XEN_DEB_VERSION come from the workshop's shared helpers.
# shellcheck source=../lib.sh
. "$TOP/workshop/lib.sh"
die() { printf 'e2e error: %s\n' "$*" >&2; exit 1; }

# arm64 packages are only downloaded and unpacked, never installed.
need_arm64_arch() {
    dpkg --print-foreign-architectures | grep -qx arm64 && return 0
    info "dpkg --add-architecture arm64"
    dpkg --add-architecture arm64
    _apt_updated=
    apt_update_once
}

# Short content hash of stdin.
hash16() { sha256sum | cut -c1-16; }
