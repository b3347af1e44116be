#!/bin/bash
# packaging/xen/build.sh [OUT]: the arm64 hypervisor package of Debian's
# xen source ($XEN_DEB_VERSION of workshop/lib.sh) with apply.sh's
# overlay, xen-hypervisor-4.17-arm64_<version>+xenfv1_arm64.deb (and its
# -dbg), cross-built here the Debian way:
#   dpkg-buildpackage -aarm64 -Pcross,nocheck,pkg.xen.hypervisoronly -B
# Its build dependencies under that profile are native tools only
# (debhelper, dh-exec, dh-python, flex, bison, python3, the arm64 cross
# compiler); they are installed with apt when missing.  The result is
# cached by its inputs (the overlay, the Xen version, the changelog's
# packager and date, the compiler) under ~/.cache/xenfv-arm/packages/;
# OUT (default work/packages/xen) gets the .debs, .buildinfo, .changes
# and build.log.  Prints the build's time (or "cached") and the .deb's
# size.
set -euo pipefail
. "$(dirname "$0")/../../workshop/lib.sh"

OUT=${1:-$WORK/packages/xen}
PROFILES=cross,nocheck,pkg.xen.hypervisoronly
HERE=$TOP/packaging/xen

need_pkgs dpkg-dev debhelper dh-exec dh-python file lsb-release flex bison \
    python3-dev patch gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
packager=${XENFV_PACKAGER:-"$(git -C "$TOP" config user.name) <$(git -C "$TOP" config user.email)>"}
key=$( (echo xen-package-1 "$XEN_DEB_VERSION" "$packager"
        git -C "$TOP" log -1 --format=%cd -- packaging/xen
        cat "$HERE/debian.diff" "$HERE/changelog.entry" "$HERE/apply.sh" "$HERE/build.sh"
        aarch64-linux-gnu-gcc -dumpfullversion; dpkg-query -W debhelper) | sha256sum | cut -c1-16)
cached=$CACHE/packages/xen-$key
if [ ! -f "$cached/.done" ]; then
    dsc=$(xen_source_dsc)
    rm -rf "$cached"
    mkdir -p "$cached/src"
    dpkg-source -q -x "$dsc" "$cached/src/xen" > "$cached/unpack.log" 2>&1 ||
        { cat "$cached/unpack.log"; die "cannot unpack $dsc"; }
    XENFV_PACKAGER=$packager "$HERE/apply.sh" "$cached/src/xen" >/dev/null
    t0=$(date +%s)
    (cd "$cached/src/xen" && dpkg-checkbuilddeps -aarm64 -P"$PROFILES" &&
        DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)} \
        nice -n 10 dpkg-buildpackage -aarm64 -P"$PROFILES" -B -us -uc) \
        > "$cached/build.log" 2>&1 ||
        { tail -30 "$cached/build.log"; die "the xen package does not build ($cached/build.log)"; }
    mv "$cached"/src/*.deb "$cached"/src/*.buildinfo "$cached"/src/*.changes "$cached/"
    rm -rf "$cached/src"
    echo $(( $(date +%s) - t0 )) > "$cached/build-seconds"
    touch "$cached/.done"
    how="dpkg-buildpackage: $(cat "$cached/build-seconds") s"
else
    how="cached (built in $(cat "$cached/build-seconds") s)"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cp -p "$cached"/*.deb "$cached"/*.buildinfo "$cached"/*.changes "$cached/build.log" "$OUT/"
deb=$(ls "$OUT"/xen-hypervisor-*-arm64_*_arm64.deb)
info "$(basename "$deb"): $how, $(du -k "$deb" | cut -f1) KiB"
