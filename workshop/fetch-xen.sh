#!/bin/bash
# Lay out Debian 12's Xen source (XEN_DEB_VERSION, lib.sh) in work/xen as a
# git repository: commit 1 is the orig tarball (tag orig), commit 2 the
# source as `apt-get source xen` unpacks it, Debian's patches applied and
# debian/ included (tag pristine). The companion toolstack series
# (patches-xen/) is based on pristine. Downloads are cached (lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

stage "fetch Xen source (Debian $XEN_DEB_VERSION)"
need_pkgs dpkg-dev xz-utils git
if [ -d "$XEN_SRC/.git" ] &&
   [ "$(git -C "$XEN_SRC" config xenfv.debian-version || true)" = "$XEN_DEB_VERSION" ] &&
   git -C "$XEN_SRC" rev-parse -q --verify pristine >/dev/null; then
    info "work/xen already holds Debian $XEN_DEB_VERSION"
    exit 0
fi
dsc=$(xen_source_dsc)
orig=$(ls "$(dirname "$dsc")"/xen_"${XEN_DEB_VERSION%-*}".orig.tar.* | head -n1)
tmp=$WORK/xen.tmp
rm -rf "$XEN_SRC" "$tmp"
mkdir -p "$tmp/orig"
tar -xf "$orig" -C "$tmp/orig" --strip-components=1
git -C "$tmp/orig" init -q -b master
git -C "$tmp/orig" config core.autocrlf false
git -C "$tmp/orig" add -A -f
git_fixed -C "$tmp/orig" commit -q -m "Xen 4.17 (Debian orig tarball $(basename "$orig"))"
git -C "$tmp/orig" tag orig

dpkg-source -q -x "$dsc" "$tmp/deb" >/dev/null
mv "$tmp/orig/.git" "$tmp/deb/.git"
rm -rf "$tmp/deb/.pc"
git -C "$tmp/deb" add -A -f
git_fixed -C "$tmp/deb" commit -q -m "Debian xen $XEN_DEB_VERSION (debian/ and its patches applied)"
git -C "$tmp/deb" tag pristine
git -C "$tmp/deb" config xenfv.debian-version "$XEN_DEB_VERSION"
mv "$tmp/deb" "$XEN_SRC"
rm -rf "$tmp"
info "work/xen: orig + Debian $XEN_DEB_VERSION (tag pristine)"
