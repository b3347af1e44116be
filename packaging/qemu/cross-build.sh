#!/bin/bash
# packaging/qemu/cross-build.sh [HOST_ARCH]: qemu-system-xen for arm64
# (default), cross-built on this amd64 machine the way a Debian cross buildd
# does it:
#   1. Debian's qemu source ($QEMU_DEB_VERSION, workshop/qemu-base.conf),
#      downloaded once into the workshop cache with apt-get source;
#   2. apply.sh, then dpkg-source -b: the source package
#      qemu_<version>+xenfv1.dsc;
#   3. in a fresh Debian 12 chroot (mmdebstrap --variant=buildd from this
#      machine's own apt sources, HOST_ARCH added as a foreign architecture,
#      crossbuild-essential-HOST_ARCH), that source unpacked,
#        apt-get build-dep -a HOST_ARCH -P cross,nocheck,pkg.qemu.xenonly
#        dpkg-buildpackage -aHOST_ARCH -Pcross,nocheck,pkg.qemu.xenonly -us -uc
#      (nice -n 10; DEB_BUILD_OPTIONS parallel=$(nproc) unless set).
#   4. install-check.sh on the .deb (a fresh root, apt-get install, the
#      binary run under qemu-user, purge).
# Results in work/packages/qemu/: the source package, the .debs, .buildinfo,
# .changes, build.log (dpkg-buildpackage's output) and build-deps.log. Prints
# the build's time, the .deb's size and file list, then the checks' results.
# XENFV_LIBXEN_VERSION=V builds against the Xen libraries of version V
# (apt pin in the chroot), e.g. $XEN_DEB_VERSION of workshop/lib.sh, the
# Xen of the e2e dom0: the package's Depends then accept that Xen; by default
# the newest Debian 12 Xen, like a Debian buildd (the Xen libraries' shlibs
# make the package depend on at least the version it was built with).
# The chroot is thrown away; a failed build leaves its log. Needs root.
set -euo pipefail
. "$(dirname "$0")/../../workshop/lib.sh"

HOST_ARCH=${1:-arm64}
PROFILES=cross,nocheck,pkg.qemu.xenonly
OUT=$WORK/packages/qemu
SRCDIR=$CACHE/src

need_pkgs mmdebstrap dpkg-dev patch

stage "qemu source $QEMU_DEB_VERSION"
dsc=$SRCDIR/${QEMU_DEB_SOURCE}_${QEMU_DEB_VERSION#*:}.dsc
if [ ! -f "$dsc" ] || [ ! -f "$SRCDIR/$QEMU_ORIG_TARBALL" ]; then
    have_deb_src || add_deb_src
    mkdir -p "$SRCDIR"
    (cd "$SRCDIR" && apt-get source -qq --download-only "$QEMU_DEB_SOURCE=$QEMU_DEB_VERSION" 2>&1 |
        grep -v 'Download is performed unsandboxed' || true)
    [ -f "$dsc" ] || die "apt-get source $QEMU_DEB_SOURCE=$QEMU_DEB_VERSION failed"
fi
echo "$QEMU_ORIG_SHA256  $SRCDIR/$QEMU_ORIG_TARBALL" | sha256sum -c --quiet - ||
    die "$QEMU_ORIG_TARBALL does not match the pinned sha256"

stage "source package (apply.sh)"
rm -rf "$OUT"
mkdir -p "$OUT/src"
dpkg-source -q -x "$dsc" "$OUT/src/qemu" >/dev/null
"$TOP/packaging/qemu/apply.sh" "$OUT/src/qemu" | sed 's/^/    /'
cp "$SRCDIR/$QEMU_ORIG_TARBALL" "$OUT/src/"
(cd "$OUT/src" && dpkg-source -q -b qemu >/dev/null)
new_dsc=$(ls "$OUT"/src/qemu_*+xenfv*.dsc)
rm -rf "$OUT/src/qemu"
info "$(basename "$new_dsc")"

stage "cross build for $HOST_ARCH in a fresh bookworm chroot"
srcs=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && grep -qs bookworm "$f" && [[ $f != *xenfv-arm* ]] && srcs+=("$f")
done
[ ${#srcs[@]} -gt 0 ] || die "no bookworm apt source on this machine"
opts=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
pin=/dev/null
if [ -n "${XENFV_LIBXEN_VERSION:-}" ]; then
    pin=$OUT/libxen.pref
    printf 'Package: libxen*:any\nPin: version %s\nPin-Priority: 1001\n' "$XENFV_LIBXEN_VERSION" > "$pin"
    info "Xen libraries pinned to $XENFV_LIBXEN_VERSION"
fi
t0=$(date +%s)
# The hooks run outside the chroot ($1 is its root); a failure of apt-get
# build-dep or dpkg-buildpackage is recorded in /out/FAILED so that the logs
# still come out.
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=buildd --architectures="amd64,$HOST_ARCH" \
    --include="crossbuild-essential-$HOST_ARCH" \
    --customize-hook='mkdir -p "$1/build" "$1/out"' \
    --customize-hook="upload $pin /etc/apt/preferences.d/libxen.pref" \
    --customize-hook="copy-in $(cd "$OUT/src" && echo "$OUT"/src/qemu_*) /build" \
    --customize-hook="chroot \"\$1\" sh -c 'cd /build && dpkg-source -q -x $(basename "$new_dsc") qemu >/dev/null'" \
    --customize-hook="chroot \"\$1\" sh -c 'cd /build && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -a $HOST_ARCH -P $PROFILES ./qemu > /out/build-deps.log 2>&1 || echo build-dep > /out/FAILED'" \
    --customize-hook="chroot \"\$1\" sh -c '[ -e /out/FAILED ] || { cd /build/qemu && s=\$(date +%s) && DEB_BUILD_OPTIONS=\"$opts\" nice -n 10 dpkg-buildpackage -a$HOST_ARCH -P$PROFILES -us -uc > /out/build.log 2>&1 && echo \$((\$(date +%s) - s)) > /out/build-seconds || echo dpkg-buildpackage > /out/FAILED; }; cp -p /build/*.deb /build/*.ddeb /build/*.changes /build/*.buildinfo /build/*.dsc /build/*.debian.tar.xz /out/ 2>/dev/null; true'" \
    --customize-hook="sync-out /out $OUT" \
    bookworm /dev/null "${srcs[@]}" > "$OUT/mmdebstrap.log" 2>&1 ||
    { tail -20 "$OUT/mmdebstrap.log"; die "mmdebstrap failed ($OUT/mmdebstrap.log)"; }
total=$(( $(date +%s) - t0 ))
if [ -e "$OUT/FAILED" ]; then
    case $(cat "$OUT/FAILED") in
    build-dep) tail -30 "$OUT/build-deps.log"; die "apt-get build-dep failed ($OUT/build-deps.log)" ;;
    *) tail -40 "$OUT/build.log"; die "dpkg-buildpackage failed ($OUT/build.log)" ;;
    esac
fi
deb=$(ls "$OUT"/qemu-system-xen_*_"$HOST_ARCH".deb)
info "dpkg-buildpackage: $(cat "$OUT/build-seconds") s; chroot, build-deps and build: $total s"
info "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, installed size $(dpkg-deb -f "$deb" Installed-Size) KiB"
info "Depends: $(dpkg-deb -f "$deb" Depends)"
dpkg-deb -c "$deb" | sed 's/^/    /'
"$TOP/packaging/qemu/install-check.sh" "$deb"
