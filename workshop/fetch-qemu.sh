#!/bin/bash
# Fetch Debian 12's QEMU 7.2 source and lay it out in work/qemu as a git
# repository: commit 1 is the pristine orig tarball, commit 2 is Debian's
# patch series applied (tag debian-base). Downloads are cached in $CACHE.
# With --upstream: the upstream track's base (workshop/qemu-upstream.conf,
# Debian's 10.2 from unstable) in work/qemu-upstream, cached apart.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC_CACHE=$CACHE/src
if [ "${1:-}" = --upstream ]; then
    # shellcheck source=qemu-upstream.conf
    . "$TOP/workshop/qemu-upstream.conf"
    QEMU_SRC=$QEMU_UPSTREAM_SRC
    SRC_CACHE=$CACHE/src-upstream
fi

download() {
    local dir=$SRC_CACHE
    mkdir -p "$dir"
    if [ -f "$dir/$QEMU_ORIG_TARBALL" ] && ls "$dir"/qemu_*.dsc >/dev/null 2>&1; then
        info "using cached source in $dir"
        return
    fi
    if [ -n "${QEMU_DEB_SUITE:-}" ]; then
        add_derived_suite deb-src "$QEMU_DEB_SUITE"
        apt_source_download "$dir" "$QEMU_DEB_SOURCE=$QEMU_DEB_VERSION"
        ls "$dir"/qemu_*.dsc >/dev/null 2>&1 ||
            die "apt-get source $QEMU_DEB_SOURCE=$QEMU_DEB_VERSION from $QEMU_DEB_SUITE failed"
        return
    fi
    have_deb_src || add_deb_src
    cd "$dir"
    if ! apt-get source -qq --download-only "$QEMU_DEB_SOURCE=$QEMU_DEB_VERSION" \
            >/dev/null 2>&1; then
        info "revision $QEMU_DEB_VERSION is no longer served; taking the newest bookworm one"
        apt-get source -qq --download-only -t bookworm "$QEMU_DEB_SOURCE" >/dev/null ||
            die "apt-get source $QEMU_DEB_SOURCE failed"
    fi
    cd - >/dev/null
}

unpack() {
    local dir=$SRC_CACHE dsc ver tmp
    dsc=$(ls -t "$dir"/qemu_*.dsc | head -n1)
    ver=$(sed -n 's/^Version: //p' "$dsc")
    echo "$QEMU_ORIG_SHA256  $dir/$QEMU_ORIG_TARBALL" | sha256sum -c --quiet - ||
        die "$QEMU_ORIG_TARBALL does not match the pinned sha256; remove $dir and retry"
    if [ -d "$QEMU_SRC/.git" ] &&
       [ "$(git -C "$QEMU_SRC" config xenfv.debian-version || true)" = "$ver" ] &&
       git -C "$QEMU_SRC" rev-parse -q --verify debian-base >/dev/null; then
        info "${QEMU_SRC#"$TOP/"} already holds Debian $ver"
        return
    fi
    [ "$ver" = "$QEMU_DEB_VERSION" ] ||
        info "note: Debian revision $ver differs from the recorded $QEMU_DEB_VERSION"
    rm -rf "$QEMU_SRC" "$WORK/qemu.tmp"
    mkdir -p "$WORK/qemu.tmp"
    tmp=$WORK/qemu.tmp

    # Commit 1: the orig tarball exactly as Debian ships it.
    mkdir "$tmp/orig"
    tar -xJf "$dir/$QEMU_ORIG_TARBALL" -C "$tmp/orig" --strip-components=1
    git -C "$tmp/orig" init -q -b master
    git -C "$tmp/orig" config core.autocrlf false
    git -C "$tmp/orig" add -A -f
    git_fixed -C "$tmp/orig" commit -q -m "QEMU $QEMU_VERSION_NAME (Debian orig tarball $QEMU_ORIG_TARBALL)"
    git -C "$tmp/orig" tag pristine

    # Commit 2: Debian's patches (7.2.x stable fixes and build fixes).
    dpkg-source -q -x "$dsc" "$tmp/deb" >/dev/null
    mv "$tmp/orig/.git" "$tmp/deb/.git"
    rm -rf "$tmp/deb/debian" "$tmp/deb/.pc"
    git -C "$tmp/deb" add -A -f
    git_fixed -C "$tmp/deb" commit -q -m "Debian $QEMU_DEB_SOURCE $ver patches applied"
    git -C "$tmp/deb" tag debian-base
    git -C "$tmp/deb" config xenfv.debian-version "$ver"
    mv "$tmp/deb" "$QEMU_SRC"
    rm -rf "$tmp"
    info "${QEMU_SRC#"$TOP/"}: pristine + Debian $ver (tag debian-base)"
}

stage "fetch QEMU source (Debian $QEMU_DEB_VERSION)"
need_pkgs dpkg-dev xz-utils git
download
unpack
