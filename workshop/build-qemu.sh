#!/bin/bash
# Configure and build QEMU from work/qemu.
#   build-qemu.sh xen     qemu-system-aarch64 + qemu-system-x86_64 with Xen
#                         (x86_64 proves the x86 Xen code still builds),
#                         plus the xenfv qtests when the tree has them
#   build-qemu.sh noxen   qemu-system-aarch64 with --disable-xen
#   build-qemu.sh cross   qemu-system-aarch64 for arm64 hosts (the artefact
#                         that runs in dom0, with seccomp for -sandbox),
#                         against an arm64 sysroot
#   build-qemu.sh asan    qemu-system-aarch64 with Xen, ASan + UBSan
#                         (--enable-sanitizers), for the harness's fuzz mode
#   build-qemu.sh upstream
#                         the upstream track (work/qemu-upstream, QEMU 10.2,
#                         meson from bookworm-backports): qemu-system-x86_64
#                         with Xen, whose Xen code the series changes too
#                         (10.2 builds aarch64 with Xen, hence xenpvh, only
#                         on aarch64 hosts: see upstream-cross)
#   build-qemu.sh upstream-cross
#                         the upstream track for arm64 hosts, where xenpvh
#                         is built: qemu-system-aarch64 and the xenpvh qtest
#                         (run under qemu-aarch64-static)
# Build directories are work/build-<kind>; ccache keeps rebuilds cheap.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kind=${1:-xen}
shift || true
targets=("$@")
BUILD=$WORK/build-$kind

COMMON_OPTS=(
    --with-git-submodules=ignore --meson=meson
    --without-default-features --disable-docs --disable-install-blobs
    --enable-fdt=system --enable-png --enable-vnc
)

host_deps() {
    need_pkgs build-essential ninja-build meson ccache pkg-config python3 \
        flex bison libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev \
        libpng-dev libxen-dev
}

# arm64 -dev packages cannot be co-installed with the host's amd64 ones
# (libxen-dev, libfdt-dev), so unpack them into a sysroot instead.
SYSROOT_PKGS="libxen-dev libxenmisc4.17 libxencall1 libxenevtchn1
    libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoollog1
    libxenhypfs1 libxentoolcore1 libxendevicemodel1 libyajl2
    libglib2.0-dev libglib2.0-0 libpixman-1-dev libpixman-1-0 zlib1g-dev
    zlib1g libfdt-dev libfdt1 libpcre2-dev libpcre2-8-0 libpcre2-16-0
    libpcre2-32-0 libpcre2-posix3 libffi-dev libffi8 libmount-dev libmount1
    libblkid-dev libblkid1 libselinux1-dev libselinux1 libsepol-dev libsepol2
    uuid-dev libuuid1 libpng-dev libpng16-16 libseccomp-dev libseccomp2"

sysroot() {
    arm64_sysroot sysroot-arm64 "$SYSROOT_PKGS"
}

cross_wrappers() {
    arm64_cross_wrappers "$WORK/cross-bin"
}

# cross_setup: the arm64 sysroot, compiler wrappers and pkg-config for an
# arm64 host build; sets CROSS_FLAGS, configure's flags for the sysroot.
cross_setup() {
    local ldirs
    sysroot
    cross_wrappers
    export PKG_CONFIG=pkg-config
    export PKG_CONFIG_LIBDIR=$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig
    export PKG_CONFIG_SYSROOT_DIR=$SYSROOT
    ldirs="-L$SYSROOT/usr/lib/aarch64-linux-gnu -L$SYSROOT/lib/aarch64-linux-gnu"
    ldirs+=" -Wl,-rpath-link=$SYSROOT/usr/lib/aarch64-linux-gnu"
    ldirs+=" -Wl,-rpath-link=$SYSROOT/lib/aarch64-linux-gnu"
    CROSS_FLAGS=(--extra-cflags="-I$SYSROOT/usr/include" --extra-ldflags="$ldirs")
}

configure() {
    local opts=("$@") stamp
    stamp=$(printf '%s\n' "${opts[@]}" ${SYSROOT_KEY:+"$SYSROOT_KEY"} | sha256sum | cut -c1-16)
    if [ -f "$BUILD/build.ninja" ] && [ "$(cat "$BUILD/.xenfv-opts" 2>/dev/null)" = "$stamp" ]; then
        return
    fi
    rm -rf "$BUILD"
    mkdir -p "$BUILD"
    (cd "$BUILD" && "$QEMU_SRC/configure" "${opts[@]}" > configure.log 2>&1) || {
        tail -30 "$BUILD/configure.log"
        die "configure failed ($BUILD/configure.log)"
    }
    echo "$stamp" > "$BUILD/.xenfv-opts"
}

if [[ $kind == upstream* ]]; then
    QEMU_SRC=$QEMU_UPSTREAM_SRC
    # QEMU 10.2 needs meson >= 1.5 and no longer takes --meson: its
    # configure finds Debian's meson 1.7 from backports on PYTHONPATH.
    upstream_meson
    COMMON_OPTS=(
        --disable-download
        --without-default-features --disable-docs --disable-install-blobs
        --enable-fdt=system --enable-pixman --enable-png --enable-vnc
    )
fi

series_cmd=workshop/series
[[ $kind != upstream* ]] || series_cmd+=" --upstream"
[ -d "$QEMU_SRC/.git" ] || die "no QEMU tree: run $series_cmd apply first"
host_deps
export PATH=/usr/lib/ccache:$PATH
ccache --max-size=8G >/dev/null

case $kind in
xen)
    stage "build: Xen, aarch64 + x86_64"
    configure "${COMMON_OPTS[@]}" --enable-xen --enable-xen-pci-passthrough \
        --target-list=aarch64-softmmu,x86_64-softmmu
    [ ${#targets[@]} -gt 0 ] || targets=(qemu-system-aarch64 qemu-system-x86_64)
    ;;
noxen)
    stage "build: without Xen, aarch64"
    configure "${COMMON_OPTS[@]}" --disable-xen --target-list=aarch64-softmmu
    [ ${#targets[@]} -gt 0 ] || targets=(qemu-system-aarch64)
    ;;
asan)
    stage "build: Xen, aarch64, ASan + UBSan"
    configure "${COMMON_OPTS[@]}" --enable-xen --enable-xen-pci-passthrough \
        --enable-sanitizers --target-list=aarch64-softmmu
    [ ${#targets[@]} -gt 0 ] || targets=(qemu-system-aarch64)
    ;;
cross)
    cross_setup
    stage "build: cross for arm64 hosts, aarch64 with Xen"
    configure "${COMMON_OPTS[@]}" --cross-prefix=aarch64-linux-gnu- \
        --enable-xen --target-list=aarch64-softmmu --disable-tools \
        --enable-seccomp "${CROSS_FLAGS[@]}"
    [ ${#targets[@]} -gt 0 ] || targets=(qemu-system-aarch64)
    ;;
upstream)
    stage "build: upstream track (QEMU 10.2), Xen, x86_64"
    configure "${COMMON_OPTS[@]}" --enable-xen --target-list=x86_64-softmmu
    [ ${#targets[@]} -gt 0 ] || targets=(qemu-system-x86_64)
    ;;
upstream-cross)
    cross_setup
    stage "build: upstream track (QEMU 10.2) cross for arm64 hosts, aarch64 with Xen, no TCG"
    # xenpvh needs no TCG (Xen runs the guest, qtest tests it), and
    # without TCG the build leaves out Arm's translator and the boards
    # that need it: a third of the build.
    configure "${COMMON_OPTS[@]}" --cross-prefix=aarch64-linux-gnu- \
        --enable-xen --disable-tcg --target-list=aarch64-softmmu \
        --disable-tools --enable-seccomp "${CROSS_FLAGS[@]}"
    # Where the arm64 libraries are, for running its programs under
    # qemu-aarch64-static (workshop/test upstream)
    echo "SYSROOT=$SYSROOT" > "$BUILD/.xenfv-sysroot"
    if [ ${#targets[@]} -eq 0 ]; then
        targets=(qemu-system-aarch64)
        # A tree without the series has no xenpvh qtest yet.
        [ ! -f "$QEMU_SRC/tests/qtest/xenpvh-test.c" ] ||
            targets+=(tests/qtest/xenpvh-test)
    fi
    ;;
*)
    die "unknown build kind '$kind' (xen, noxen, asan, cross, upstream, upstream-cross)"
    ;;
esac

info "ninja ${targets[*]} in $BUILD"
ninja -k 10 -j "$(nproc)" -C "$BUILD" "${targets[@]}" > "$BUILD/ninja.log" 2>&1 || {
    grep -E 'error:|FAILED|undefined reference|multiple definition' "$BUILD/ninja.log" | head -40
    die "build failed ($BUILD/ninja.log)"
}
info "$(grep -c '^\[' "$BUILD/ninja.log" || true) steps; ccache: $(ccache -s 2>/dev/null | grep -iE 'hits:' | head -1 | tr -s ' ')"
