#!/bin/bash
# Fetch Debian 12's QEMU 7.2 source and lay it out in work/qemu as a git
# repository: commit 1 is the pristine orig tarball, commit 2 is Debian's
# patch series applied (tag debian-base). Downloads are cached in $CACHE.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC_LIST=/etc/apt/sources.list.d/xenfv-arm-deb-src.sources

have_deb_src() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list && return 0
    grep -qsE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources
}

# Derive deb-src entries from the machine's own deb entries, so we never
# name a mirror ourselves.
add_deb_src() {
    local tmp
    tmp=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        # Stanzas are separated by blank lines; keep Debian ones of type deb.
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*bookworm/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, "");
                 print }' "$f" >> "$tmp"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        sed -nE 's/^[[:space:]]*deb[[:space:]]+(.*bookworm.*)$/deb-src \1/p' "$f" \
            >> "$tmp"
    done
    [ -s "$tmp" ] || die "no bookworm apt source found to derive deb-src from"
    if grep -q '^deb-src ' "$tmp"; then
        grep '^deb-src ' "$tmp" > "${SRC_LIST%.sources}.list"
        grep -v '^deb-src ' "$tmp" > "$SRC_LIST" || true
    else
        mv "$tmp" "$SRC_LIST"
    fi
    rm -f "$tmp"
    info "added deb-src entries derived from the existing apt sources"
    apt-get update -qq || die "apt-get update failed"
}

download() {
    local dir=$CACHE/src
    mkdir -p "$dir"
    if [ -f "$dir/$QEMU_ORIG_TARBALL" ] && ls "$dir"/qemu_*.dsc >/dev/null 2>&1; then
        info "using cached source in $dir"
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
    local dir=$CACHE/src dsc ver tmp
    dsc=$(ls -t "$dir"/qemu_*.dsc | head -n1)
    ver=$(sed -n 's/^Version: //p' "$dsc")
    echo "$QEMU_ORIG_SHA256  $dir/$QEMU_ORIG_TARBALL" | sha256sum -c --quiet - ||
        die "$QEMU_ORIG_TARBALL does not match the pinned sha256; remove $dir and retry"
    if [ -d "$QEMU_SRC/.git" ] &&
       [ "$(git -C "$QEMU_SRC" config xenfv.debian-version || true)" = "$ver" ] &&
       git -C "$QEMU_SRC" rev-parse -q --verify debian-base >/dev/null; then
        info "work/qemu already holds Debian $ver"
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
    git_fixed -C "$tmp/orig" commit -q -m "QEMU 7.2 (Debian orig tarball $QEMU_ORIG_TARBALL)"
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
    info "work/qemu: pristine + Debian $ver (tag debian-base)"
}

stage "fetch QEMU source (Debian $QEMU_DEB_VERSION)"
need_pkgs dpkg-dev xz-utils git
download
unpack
