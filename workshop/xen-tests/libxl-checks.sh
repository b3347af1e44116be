#!/bin/bash
# libxenlight of the Xen series, checked without Xen: its ABI and unit
# tests of its internals.
#
# ABI. The series' libxenlight.so.4.17 and libxlutil.so.4.17 keep Debian's
# sonames, so every program built against Debian 12's libxen-dev (libvirt's
# Xen driver, for one) must keep working with them. abidiff needs the
# libraries' DWARF, and Debian's are stripped (their -dbgsym packages live
# in an archive the workshop does not reach). So the reference is Debian's
# source (work/xen's tag pristine) built with the same recipe
# (workshop/build-xen-tools.sh) plus debug_symbols=y, and
#   1. abidiff, symbols only: Debian's arm64 libraries against stripped
#      copies of that build export the same symbols (the reference is
#      Debian's ABI);
#   2. abidiff with DWARF, the reference against the series (work/xen's
#      build, work/build-xen-tools, which has debug info): no function or
#      variable removed or changed, no
#      type they use changed; added functions and types are fine;
#   3. a program built against Debian's libxl.h (abi-4.17-caller.c) runs
#      with the series' library (qemu-aarch64): its libxl_domain_config is
#      neither overrun nor given members it cannot know.
# Unit tests (libxl-unit.c): static functions of the series' libxl_arm.c
# and libxl_virtio.c and libxl's internal decisions, linked with the
# series' libxenlight.a and run with the dry-run shim's Xenstore.
#
# The reference's debug build lives in work/xen-abi/base (a clone sharing
# work/xen's objects; XENFV_ABI_SERIES=COMMIT builds that commit of the
# series in work/xen-abi/series-other) and is cached like any
# build-xen-tools.sh build.
# Ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

[ -d "$XEN_SRC/.git" ] || die "no Xen tree: run workshop/series --xen apply first"
need_pkgs abigail-tools binutils-aarch64-linux-gnu gcc-aarch64-linux-gnu \
    qemu-user-static
ABI=$WORK/xen-abi
LIBS="libxenlight.so.4.17.0 libxlutil.so.4.17.0"
passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# debug_build NAME COMMIT: the arm64 tools of COMMIT with debug info, in
# $ABI/NAME/build-xen-tools/out. The marker file (untracked, so part of
# build-xen-tools.sh's cache key) keeps them apart from the builds without.
# The build tree must be COMMIT's too (the unit tests use it).
debug_build() {
    local dir=$ABI/$1 commit
    commit=$(git -C "$XEN_SRC" rev-parse --verify "$2^{commit}") || return 1
    if [ ! -d "$dir/xen/.git" ]; then
        rm -rf "$dir/xen"
        mkdir -p "$dir"
        git clone -q --shared --no-checkout "$XEN_SRC" "$dir/xen" || return 1
    fi
    git -C "$dir/xen" checkout -q -f --detach "$commit" || return 1
    git -C "$dir/xen" clean -q -fdx
    echo "debug_symbols=y (workshop/xen-tests/libxl-checks.sh)" > "$dir/xen/abi-debug-build.txt"
    XENFV_XEN_BUILD_TREE=1 debug_symbols=y XENFV_WORK=$dir "$TOP/workshop/build-xen-tools.sh" \
        > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; return 1; }
    info "$1: $(cat "$dir/build-xen-tools/out/SOURCE")"
}

debug_build base pristine || die "debug build of pristine failed ($ABI/base/build.log)"
BASE=$ABI/base/build-xen-tools/out
if [ -n "${XENFV_ABI_SERIES:-}" ]; then
    debug_build series-other "$XENFV_ABI_SERIES" ||
        die "debug build of $XENFV_ABI_SERIES failed ($ABI/series-other/build.log)"
    NEW=$ABI/series-other/build-xen-tools/out
    SRC=$ABI/series-other/build-xen-tools/src
else
    # work/xen as it is, with its build tree (the unit tests compile
    # against it; a cached build alone does not have it)
    XENFV_XEN_BUILD_TREE=1 "$TOP/workshop/build-xen-tools.sh" > "$ABI/series.log" 2>&1 ||
        { tail -20 "$ABI/series.log"; die "build of work/xen failed"; }
    NEW=$WORK/build-xen-tools/out
    SRC=$WORK/build-xen-tools/src
fi

# Debian's runtime (as test-xl-parse.sh), with the series' libraries.
arm64_sysroot sysroot-arm64-xl-run "libc6 libgcc-s1 libxenmisc4.17 libxencall1
    libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoollog1
    libxenhypfs1 libxentoolcore1 libxendevicemodel1 libyajl2 libfdt1 libuuid1
    zlib1g libext2fs2 libcom-err2 libncurses6 libtinfo6"
DEBIAN_LIBS=$SYSROOT/usr/lib/aarch64-linux-gnu

stage "ABI: abidiff"
# The ABI is libxl.h's and libxlutil.h's: functions and variables named
# libxl_* (not libxl__*) and xlu_*. libxenlight also exports some of its
# internals (device_type_tbl, the COLO/Remus callbacks), whose types are
# only in libxl_internal.h: no program can use them.
SUPPR=$ABI/public-api.suppr
cat > "$SUPPR" <<'SUPPR'
[suppress_function]
  name_not_regexp = ^(libxl_|xlu_)
[suppress_function]
  name_regexp = ^libxl__
[suppress_variable]
  name_not_regexp = ^(libxl_|xlu_)
[suppress_variable]
  name_regexp = ^libxl__
SUPPR
for lib in $LIBS; do
    if [ "$(aarch64-linux-gnu-readelf -S "$BASE/$lib" | grep -c '\.debug_info')" = 0 ]; then
        fail "ABI: $lib of pristine has no debug info"
        continue
    fi
    # Without DWARF abidiff compares symbols only and would pass changed types.
    if [ "$(aarch64-linux-gnu-readelf -S "$NEW/$lib" | grep -c '\.debug_info')" = 0 ]; then
        fail "ABI: $lib of the series has no debug info"
        continue
    fi
    # 1. The reference exports what Debian's library exports.
    aarch64-linux-gnu-strip -o "$ABI/$lib.stripped" "$BASE/$lib"
    out=$(abidiff "$DEBIAN_LIBS/$lib" "$ABI/$lib.stripped" 2>&1)
    rc=$?
    if [ $rc = 0 ]; then
        pass "ABI: $lib built from Debian's source exports Debian's symbols (abidiff rc 0)"
    else
        fail "ABI: $lib built from Debian's source differs from Debian's (abidiff rc $rc)"
        echo "$out" | head -40 | sed 's/^/    | /'
    fi
    # 2. The series against the reference, with types.
    out=$(abidiff --no-added-syms --suppressions "$SUPPR" "$BASE/$lib" "$NEW/$lib" 2>&1)
    rc=$?
    echo "$out" > "$ABI/$lib.abidiff"
    abidiff "$BASE/$lib" "$NEW/$lib" > "$ABI/$lib.abidiff-all" 2>&1
    info "abidiff, public API: $(grep -E '^(Functions|Variables) changes summary' <<<"$out" | tr '\n' ' ')"
    info "abidiff, everything exported: $(grep -E '^(Functions|Variables) changes summary' "$ABI/$lib.abidiff-all" | tr '\n' ' ')"
    added=$(abidiff --suppressions "$SUPPR" "$BASE/$lib" "$NEW/$lib" 2>/dev/null |
            sed -n 's/^Functions changes summary: .*, \([0-9]*\) Added .*$/\1/p')
    if [ $rc = 0 ]; then
        pass "ABI: $lib of the series is compatible with 4.17's (abidiff rc 0: nothing removed or changed; ${added:-0} functions added)"
    else
        fail "ABI: $lib of the series changes 4.17's ABI (abidiff rc $rc$( [ $((rc & 8)) = 0 ] || echo ", incompatible"); see $ABI/$lib.abidiff)"
        echo "$out" | head -60 | sed 's/^/    | /'
    fi
done

ROOT=$ABI/run-root
rm -rf "$ROOT"
mkdir -p "$ROOT"
cp -a "$SYSROOT"/. "$ROOT"/
rm -f "$ROOT"/.stamp-*
cp "$NEW/libxenlight.so.4.17.0" "$NEW/libxlutil.so.4.17.0" "$ROOT/usr/lib/aarch64-linux-gnu/"
mkdir -p "$ROOT/dev/xen" "$ROOT/etc/xen"
touch "$ROOT/dev/xen/privcmd" "$ROOT/etc/xen/xl.conf"
aarch64-linux-gnu-gcc -shared -fPIC -O2 -Wall -I"$SRC/tools/include" \
    -o "$ROOT/shim.so" "$TOP/workshop/xen-tests/xl-dryrun-shim.c" || die "shim build failed"
# run NAME: ROOT/NAME under qemu-aarch64 with the shim; PASS/FAIL lines counted
run() {
    local out rc
    out=$(cd "$ROOT" && qemu-aarch64-static -L "$ROOT" -E LD_PRELOAD=/shim.so "./$1" 2>&1)
    rc=$?
    echo "$out" | grep -v -E '^(PASS|FAIL) ' | sed 's/^/    | /'
    passed=$((passed + $(echo "$out" | grep -c '^PASS ')))
    failed=$((failed + $(echo "$out" | grep -c '^FAIL ')))
    echo "$out" | grep -E '^(PASS|FAIL) '
    if [ $rc != 0 ] && ! echo "$out" | grep -q '^FAIL '; then
        fail "$1 exited with status $rc"
    fi
}

# 3. A 4.17 program (Debian's headers) with the series' library.
stage "ABI: a program built against Debian's libxl.h"
DEV=$ABI/debian-dev
if [ ! -f "$DEV/.done-$XEN_DEB_VERSION" ]; then
    deb=$CACHE/debs-arm64/libxen-dev_${XEN_DEB_VERSION}_arm64.deb
    [ -f "$deb" ] || (cd "$CACHE/debs-arm64" &&
        apt-get download -qq -o APT::Sandbox::User=root "libxen-dev:arm64=$XEN_DEB_VERSION") ||
        die "apt-get download libxen-dev:arm64=$XEN_DEB_VERSION failed"
    rm -rf "$DEV"
    mkdir -p "$DEV"
    dpkg-deb -x "$deb" "$DEV"
    touch "$DEV/.done-$XEN_DEB_VERSION"
fi
arm64_sysroot sysroot-arm64-xen "libyajl-dev libyajl2 uuid-dev libuuid1 zlib1g-dev zlib1g
    libfdt-dev libfdt1 libncurses-dev libncurses6 libncursesw6 libtinfo6"
if aarch64-linux-gnu-gcc -O2 -Wall -I"$DEV/usr/include" -idirafter "$SYSROOT/usr/include" \
       -o "$ROOT/abi-4.17-caller" "$TOP/workshop/xen-tests/abi-4.17-caller.c" \
       "$NEW/libxenlight.so.4.17.0" "$SRC/tools/libs/toollog/libxentoollog.so" \
       -Wl,--unresolved-symbols=ignore-in-shared-libs > "$ABI/caller-build.log" 2>&1; then
    run abi-4.17-caller
else
    fail "ABI: abi-4.17-caller does not build ($ABI/caller-build.log)"
    sed 's/^/    | /' "$ABI/caller-build.log" | head -20
fi

# Unit tests, against the series' build tree.
stage "unit tests of libxl internals"
L=$SRC/tools/libs
if aarch64-linux-gnu-gcc -std=gnu99 -O2 -g -fno-strict-aliasing -Wall -Wno-unused-function \
       -D__XEN_TOOLS__ -D_LARGEFILE_SOURCE -D_LARGEFILE64_SOURCE \
       -D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
       -include "$SRC/tools/config.h" -I"$L/light" -I"$SRC/tools/include" \
       -idirafter "$SYSROOT/usr/include" \
       -o "$ROOT/libxl-unit" "$TOP/workshop/xen-tests/libxl-unit.c" "$L/light/libxenlight.a" \
       -L"$SYSROOT/usr/lib/aarch64-linux-gnu" \
       $(for d in toollog evtchn toolcore ctrl store hypfs guest call foreignmemory devicemodel gnttab; do
             echo "-L$L/$d -Wl,-rpath-link=$L/$d"; done) \
       -lxenguest -lxenctrl -lxenstore -lxenhypfs -lxenevtchn -lxentoolcore -lxentoollog \
       -lyajl -luuid -lfdt -lrt -lpthread \
       -Wl,--unresolved-symbols=ignore-in-shared-libs > "$ABI/unit-build.log" 2>&1; then
    run libxl-unit
else
    fail "libxl-unit does not build against the series ($ABI/unit-build.log)"
    grep -E 'error' "$ABI/unit-build.log" | head -20 | sed 's/^/    | /'
fi

echo "$passed passed, $failed failed"
[ $failed = 0 ]
