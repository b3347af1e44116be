#!/bin/bash
# packaging/xen/apply.sh SRC: turn an unpacked Debian 12 xen source
# (dpkg-source -x / apt-get source, $XEN_DEB_VERSION of workshop/lib.sh)
# into the xenfv-arm xen source, version ...+xenfv1:
#   - debian.diff (control, rules, xen-kconfig.arm64) with patch -p1, no
#     fuzz: the arm64 hypervisor with CONFIG_IOREQ_SERVER, and the build
#     profile pkg.xen.hypervisoronly;
#   - a debian/changelog entry from changelog.entry.
# The changelog's packager is XENFV_PACKAGER="Name <address>", else
# git config user.name/user.email of this repository (a placeholder
# identity until a person packages it); its date is the last commit
# of packaging/xen.
# Then, in SRC:
#   dpkg-buildpackage -aarm64 -Pcross,nocheck,pkg.xen.hypervisoronly -B -us -uc
set -euo pipefail

SUFFIX=+xenfv1          # bump (+xenfv2 ...) whenever the overlay changes
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BASE_VERSION=$(sed -n 's/^XEN_DEB_VERSION=//p' "$TOP/workshop/lib.sh")

die() { echo "apply.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 UNPACKED-XEN-SOURCE-DIR"
SRC=$(cd "$1" && pwd) || die "no directory $1"
[ -f "$SRC/debian/changelog" ] && [ -f "$SRC/debian/xen-kconfig" ] ||
    die "$SRC is not an unpacked Debian xen source"
for t in dpkg-parsechangelog patch; do
    command -v $t >/dev/null || die "$t is missing (apt-get install dpkg-dev patch)"
done

src_name=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Source)
version=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
[ "$src_name" = xen ] || die "$SRC is the source of $src_name, not xen"
case $version in
*+xenfv*) die "$SRC is already $version: start from Debian's source" ;;
esac
[ "$version" = "$BASE_VERSION" ] ||
    echo "apply.sh: warning: $SRC is xen $version, the overlay was made for $BASE_VERSION; trying" >&2

packager=${XENFV_PACKAGER:-"$(git -C "$TOP" config user.name || true) <$(git -C "$TOP" config user.email || true)>"}
[[ $packager =~ ^[^\<\>]+\ \<[^\<\>@]+@[^\<\>]+\>$ ]] ||
    die "packager \"$packager\" is not \"Name <address>\" (XENFV_PACKAGER, or git config user.name/user.email)"
date=$(cd "$TOP" && LC_ALL=C TZ=UTC git log -1 --date='format-local:%a, %d %b %Y %H:%M:%S +0000' \
    --format=%cd -- packaging/xen 2>/dev/null || true)
[ -n "$date" ] || date=$(LC_ALL=C date -R)

patch -d "$SRC" -p1 -F 0 -N --dry-run --quiet < "$HERE/debian.diff" >/dev/null ||
    die "debian.diff does not apply to $SRC (xen $version)"
patch -d "$SRC" -p1 -F 0 -N --no-backup-if-mismatch --quiet < "$HERE/debian.diff"
chmod 755 "$SRC/debian/rules"

new_version=$version$SUFFIX
{
    sed -e "s|@VERSION@|$new_version|" -e "s|@PACKAGER@|$packager|" \
        -e "s|@DATE@|$date|" "$HERE/changelog.entry"
    echo
    cat "$SRC/debian/changelog"
} > "$SRC/debian/changelog.new"
mv "$SRC/debian/changelog.new" "$SRC/debian/changelog"
[ "$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)" = "$new_version" ] ||
    die "the new changelog entry does not parse"

echo "$SRC: xen $new_version"
echo "build: cd $SRC && dpkg-buildpackage -aarm64 -Pcross,nocheck,pkg.xen.hypervisoronly -B -us -uc"
