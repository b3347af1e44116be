# Shared by run-tests, fuzz and bench (sourced): install the build
# dependencies, build the harness into work/build-harness, and set SIM,
# FAKEDM and LIBDIR.
# shellcheck shell=bash
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/work/build-harness

# install_missing PKG...: apt-get install those not installed.
install_missing() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "installing ${missing[*]}"
    apt-get install -y -qq "${missing[@]}" >/dev/null || {
        echo "cannot install ${missing[*]}" >&2
        exit 2
    }
}

# meson_build DIR [MESON-SETUP-ARGS...]: configure (once) and build the
# harness in DIR; on failure show the errors and exit.
meson_build() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$@" "$dir" "$ROOT" >/dev/null || exit 2
    fi
    ninja -C "$dir" -j2 >"$dir/harness-build.log" 2>&1 || {
        grep -E 'error|FAILED' "$dir/harness-build.log" | head -20
        echo "harness build failed ($dir/harness-build.log)" >&2
        exit 2
    }
}

harness_build() {
    local deps
    mapfile -t deps < "$HERE/deps.txt"
    install_missing "${deps[@]}"
    meson_build "$BUILD"
    SIM=$BUILD/workshop/harness/sim/xenfv-sim
    FAKEDM=$BUILD/workshop/harness/fakedm/xenfv-fakedm
    LIBDIR=$BUILD/workshop/harness/lib
}

# harness_build_arm64 SYSROOT: build the stand-in libraries for an arm64
# device model (run under qemu-user) into work/build-harness-arm64,
# against the Xen headers and libc of SYSROOT (an arm64 Debian 12 root, as
# workshop/build-qemu.sh makes for its cross builds); sets LIBDIR_ARM64.
harness_build_arm64() {
    local sysroot=$1 build=$ROOT/work/build-harness-arm64 cross
    install_missing gcc-aarch64-linux-gnu
    cross=$ROOT/work/harness-arm64.cross
    mkdir -p "$ROOT/work"
    cat > "$cross.tmp" <<EOF
[binaries]
c = 'aarch64-linux-gnu-gcc'
ar = 'aarch64-linux-gnu-ar'
strip = 'aarch64-linux-gnu-strip'

[built-in options]
c_args = ['-I$sysroot/usr/include']
c_link_args = ['-L$sysroot/usr/lib/aarch64-linux-gnu', '-L$sysroot/lib/aarch64-linux-gnu']

[host_machine]
system = 'linux'
cpu_family = 'aarch64'
cpu = 'aarch64'
endian = 'little'
EOF
    # Another sysroot is another build
    if ! cmp -s "$cross.tmp" "$cross"; then
        mv "$cross.tmp" "$cross"
        rm -rf "$build"
    fi
    rm -f "$cross.tmp"
    meson_build "$build" --cross-file "$cross"
    LIBDIR_ARM64=$build/workshop/harness/lib
}

# has_machine BINARY [MACHINE]: is it a QEMU with MACHINE (xenfv)?
has_machine() {
    [ -x "$1" ] && "$1" -M help 2>/dev/null | grep -qw "${2:-xenfv}"
}
