#!/bin/bash
# Cross-build for arm64 the toolstack pieces the Xen series changes:
# libxenlight.so.4.17, libxlutil.so.4.17 and xl, from work/xen (branch
# xenfv: Debian's xen source + patches-xen/, see workshop/series --xen).
# Only these three replace Debian's files in dom0; every other Xen library
# and tool stays Debian's (same source and configure options as Debian's
# build, so the sonames and the libraries they link are the same).
#
# Build tree: work/build-xen-tools (an rsync'd copy of work/xen, so make
# and ccache rebuild only what changed); output: work/build-xen-tools/out/
# {xl,libxenlight.so.4.17.0,libxlutil.so.4.17.0,SOURCE}. A build of the
# same tree (committed or not) is taken from $CACHE/xen-tools/<key>/.
#
# `build-xen-tools.sh x86` instead builds the same natively for x86_64 in
# work/build-xen-tools-x86, only to prove the series builds there too (it
# changes libxl_x86.c); nothing is published.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KIND=${1:-arm64}
case $KIND in
arm64) BUILD=$WORK/build-xen-tools ;;
x86) BUILD=$WORK/build-xen-tools-x86 ;;
*) die "unknown kind $KIND (arm64, x86)" ;;
esac
OUT=$BUILD/out
SRCCOPY=$BUILD/src
# What tools/configure needs for arm64, nothing more (no lzma/bzip2/zstd:
# only libxenguest would use them, and dom0 keeps Debian's).
SYSROOT_PKGS="libyajl-dev libyajl2 uuid-dev libuuid1 zlib1g-dev zlib1g
    libfdt-dev libfdt1 libncurses-dev libncurses6 libncursesw6 libtinfo6"
RECIPE=xen-tools-recipe-1
MAKE_J=${XENFV_JOBS:-2}

[ -d "$XEN_SRC/.git" ] || die "no Xen tree: run workshop/series --xen apply first"
need_pkgs make autoconf autotools-dev python3 acpica-tools bison flex pkg-config \
    ccache rsync file
if [ $KIND = arm64 ]; then
    need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu
    arm64_sysroot sysroot-arm64-xen "$SYSROOT_PKGS"
    arm64_cross_wrappers "$BUILD/bin"
else
    need_pkgs gcc libc6-dev python3-dev libyajl-dev uuid-dev zlib1g-dev libncurses-dev
    SYSROOT_KEY=native
fi
export PATH=/usr/lib/ccache:$PATH
ccache --max-size=8G >/dev/null

# Key: the tree's content (HEAD plus any uncommitted change), the recipe
# (this script) and the cross compiler.
tree_key() {
    (cd "$XEN_SRC" && git rev-parse HEAD^{tree} && git diff HEAD --binary &&
     git ls-files --others --exclude-standard -z | xargs -0r sha256sum)
    sha256sum < "$0"
    aarch64-linux-gnu-gcc -dumpfullversion
    echo "$RECIPE $SYSROOT_KEY"
}
key=$(tree_key | sha256sum | cut -c1-16)
cached=$CACHE/xen-tools/$key
ARTEFACTS="xl libxenlight.so.4.17.0 libxlutil.so.4.17.0"

publish() {
    mkdir -p "$OUT"
    local f
    for f in $ARTEFACTS; do
        cmp -s "$cached/$f" "$OUT/$f" || cp "$cached/$f" "$OUT/$f"
    done
    cp "$cached/SOURCE" "$OUT/SOURCE"
    info "out: $OUT ($(cat "$OUT/SOURCE"))"
}

# A cached build publishes the artefacts only. Callers that compile against
# the build tree (xen-tests/libxl-checks.sh) set XENFV_XEN_BUILD_TREE=1: they
# get the tree built when it is not this key's ($BUILD/src.key).
if [ $KIND = arm64 ] && [ -f "$cached/.done" ] &&
   { [ -z "${XENFV_XEN_BUILD_TREE:-}" ] ||
     [ "$(cat "$BUILD/src.key" 2>/dev/null)" = "$key" ]; }; then
    stage "xen tools: cached build $key"
    publish
    exit 0
fi

stage "xen tools: sync work/xen to $SRCCOPY"
mkdir -p "$SRCCOPY"
rm -f "$BUILD/src.key"
# -c: unchanged files keep their mtime, so make rebuilds only what changed.
rsync -rlpc --exclude=/.git "$XEN_SRC/" "$SRCCOPY/"

if [ $KIND = arm64 ]; then
    MK=(make -C "$SRCCOPY" XEN_TARGET_ARCH=arm64 XEN_COMPILE_ARCH=x86_64
        CROSS_COMPILE=aarch64-linux-gnu- CC=aarch64-linux-gnu-gcc
        LD=aarch64-linux-gnu-ld
        EXTRA_CFLAGS_XEN_TOOLS="-idirafter $SYSROOT/usr/include"
        PREPEND_LDFLAGS_XEN_TOOLS="-L$SYSROOT/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$SYSROOT/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$SYSROOT/lib/aarch64-linux-gnu"
        WGET=/bin/false GIT=/bin/false
        # DWARF for abidiff (xen-tests/libxl-checks.sh); dom0 gets
        # stripped copies.
        debug_symbols=y)
else
    MK=(make -C "$SRCCOPY" XEN_TARGET_ARCH=x86_64 WGET=/bin/false GIT=/bin/false)
fi

# Debian's configure options (debian/rules), minus what only matters for
# the parts we do not build.
if [ $KIND = arm64 ]; then
    CONF_OPTS=(--host=aarch64-linux-gnu --build=x86_64-linux-gnu
        --libdir=/usr/lib/aarch64-linux-gnu
        --with-libexec-libdir-suffix=/aarch64-linux-gnu)
else
    CONF_OPTS=(--libdir=/usr/lib/x86_64-linux-gnu
        --with-libexec-libdir-suffix=/x86_64-linux-gnu)
fi
CONF_OPTS+=(--prefix=/usr --includedir=/usr/include
    --mandir=/usr/share/man --infodir=/usr/share/info
    --sysconfdir=/etc --localstatedir=/var
    --with-libexec-leaf-dir=xen-4.17
    --disable-stubdom --disable-docs --disable-xen
    --disable-qemu-traditional --disable-rombios
    --with-system-qemu=/usr/libexec/xen-qemu-system-i386
    --disable-ocamltools --disable-golang --disable-xsmpolicy
    --disable-seabios --disable-ovmf --disable-ipxe --disable-monitors
    --disable-pvshim)
conf_stamp=$( (printf '%s\n' "${CONF_OPTS[@]}" "$SYSROOT_KEY"
               cat "$SRCCOPY/configure.ac" "$SRCCOPY/tools/configure.ac" "$SRCCOPY"/m4/*.m4) |
             sha256sum | cut -c1-16)
if [ "$(cat "$BUILD/.conf-stamp" 2>/dev/null)" != "$conf_stamp" ] ||
   [ ! -f "$SRCCOPY/config/Tools.mk" ]; then
    stage "xen tools: configure ($KIND)"
    # Debian deletes config.{sub,guess} and the configure scripts: take
    # them from autotools-dev and autoconf, as debian/rules does.
    cp /usr/share/misc/config.sub /usr/share/misc/config.guess "$SRCCOPY/"
    (cd "$SRCCOPY" && ./autogen.sh) > "$BUILD/configure.log" 2>&1 ||
        { tail -20 "$BUILD/configure.log"; die "autogen.sh failed"; }
    if [ $KIND = arm64 ]; then
        (cd "$SRCCOPY" &&
         PKG_CONFIG_LIBDIR=$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig \
         PKG_CONFIG_SYSROOT_DIR=$SYSROOT \
         CPPFLAGS="-idirafter $SYSROOT/usr/include" \
         LDFLAGS="-L$SYSROOT/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$SYSROOT/usr/lib/aarch64-linux-gnu -Wl,-rpath-link=$SYSROOT/lib/aarch64-linux-gnu" \
         ./configure "${CONF_OPTS[@]}")
    else
        (cd "$SRCCOPY" && ./configure "${CONF_OPTS[@]}")
    fi >> "$BUILD/configure.log" 2>&1 ||
        { tail -30 "$BUILD/configure.log"; die "configure failed ($BUILD/configure.log)"; }
    echo "$conf_stamp" > "$BUILD/.conf-stamp"
fi

stage "xen tools: make (libs, xl) -j$MAKE_J"
log=$BUILD/make.log
{
    nice -n 10 "${MK[@]}" -C tools/include -j"$MAKE_J" &&
    nice -n 10 "${MK[@]}" -C tools/libs -j"$MAKE_J" &&
    nice -n 10 "${MK[@]}" -C tools/xl -j"$MAKE_J"
} > "$log" 2>&1 || {
    grep -E -A3 ': (error|warning):|undefined reference|\*\*\*' "$log" | head -40
    die "build failed ($log)"
}
[ $KIND = arm64 ] && echo "$key" > "$BUILD/src.key"

if [ $KIND = x86 ]; then
    [ -f "$SRCCOPY/tools/libs/light/libxenlight.so.4.17.0" ] && [ -x "$SRCCOPY/tools/xl/xl" ] ||
        die "x86 build produced no libxenlight/xl"
    info "x86_64 build ok ($(git -C "$XEN_SRC" describe --always --dirty))"
    exit 0
fi

rm -rf "$cached.tmp"
mkdir -p "$cached.tmp"
cp "$SRCCOPY/tools/xl/xl" "$SRCCOPY/tools/libs/light/libxenlight.so.4.17.0" \
    "$SRCCOPY/tools/libs/util/libxlutil.so.4.17.0" "$cached.tmp/"
for f in $ARTEFACTS; do
    file -b "$cached.tmp/$f" | grep -q 'ARM aarch64' || die "$f is not an arm64 binary"
done
aarch64-linux-gnu-readelf -d "$cached.tmp/libxenlight.so.4.17.0" | grep -q 'SONAME.*\[libxenlight.so.4.17\]' ||
    die "libxenlight's soname is not libxenlight.so.4.17"
echo "xen $XEN_DEB_VERSION + $(git -C "$XEN_SRC" rev-list --count pristine..HEAD) patches ($(git -C "$XEN_SRC" describe --always --dirty)); key $key" \
    > "$cached.tmp/SOURCE"
touch "$cached.tmp/.done"
rm -rf "$cached"
mv "$cached.tmp" "$cached"
# Keep the newest few builds.
ls -dt "$CACHE"/xen-tools/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
publish
info "ccache: $(ccache -s 2>/dev/null | grep -iE 'hits:' | head -1 | tr -s ' ')"
