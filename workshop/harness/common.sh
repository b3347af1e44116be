# Shared by run-tests, fuzz and bench (sourced): install the build
# dependencies, build the harness into work/build-harness, and set SIM,
# FAKEDM and LIBDIR.
# shellcheck shell=bash
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/work/build-harness

harness_build() {
    local missing=() pkg
    while read -r pkg; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done < "$HERE/deps.txt"
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}"
        apt-get install -y -qq "${missing[@]}" >/dev/null || {
            echo "cannot install ${missing[*]}" >&2
            exit 2
        }
    fi
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$ROOT" >/dev/null || exit 2
    fi
    ninja -C "$BUILD" -j2 >"$BUILD/harness-build.log" 2>&1 || {
        grep -E 'error|FAILED' "$BUILD/harness-build.log" | head -20
        echo "harness build failed ($BUILD/harness-build.log)" >&2
        exit 2
    }
    SIM=$BUILD/workshop/harness/sim/xenfv-sim
    FAKEDM=$BUILD/workshop/harness/fakedm/xenfv-fakedm
    LIBDIR=$BUILD/workshop/harness/lib
}

# has_xenfv BINARY: is it a QEMU with the xenfv machine?
has_xenfv() {
    [ -x "$1" ] && "$1" -M help 2>/dev/null | grep -qw xenfv
}
