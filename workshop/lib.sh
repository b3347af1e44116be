# Shared helpers for the workshop scripts (sourced, not run).
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${XENFV_WORK:-$TOP/work}
CACHE=${XENFV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenfv-arm}
QEMU_SRC=$WORK/qemu
QEMU_UPSTREAM_SRC=$WORK/qemu-upstream
XEN_SRC=$WORK/xen
export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache}

# shellcheck source=qemu-base.conf
. "$TOP/workshop/qemu-base.conf"

# Debian 12's Xen, pinned: its source is the one the archive still serves,
# and dom0 in the e2e image runs its tools and libraries.
XEN_DEB_VERSION=4.17.5+72-g01140da4e8-1

# Debian's Xen source package (.dsc + tarballs), downloaded once and shared
# by workshop/fetch-xen.sh (work/xen) and the e2e hypervisor build.
XEN_SRC_CACHE=$CACHE/e2e/src

# apt_source_download DIR SOURCE=VERSION: download a Debian source package
# into DIR, its messages on stderr; the caller checks that its files came
# (apt-get's status is lost in the filter of its root-download notice).
apt_source_download() {
    (cd "$1" && apt-get source -qq --download-only "$2" 2>&1 |
        grep -v 'Download is performed unsandboxed' >&2 || true)
}

# Print the path of Debian's xen_$XEN_DEB_VERSION.dsc, downloading it first
# when it is not cached (deb-src entries are derived when missing).
xen_source_dsc() {
    local dsc=$XEN_SRC_CACHE/xen_$XEN_DEB_VERSION.dsc
    if [ ! -f "$dsc" ]; then
        mkdir -p "$XEN_SRC_CACHE"
        have_deb_src || add_deb_src >&2
        apt_source_download "$XEN_SRC_CACHE" "xen=$XEN_DEB_VERSION"
        [ -f "$dsc" ] ||
            die "apt-get source xen=$XEN_DEB_VERSION failed (deb-src entries? apt-get update?)"
    fi
    echo "$dsc"
}

# Mirrors: the QEMU paths below these top-level directories are files the
# series adds; everything else in this repository is our own tooling.
MIRROR_ROOTS="hw include tests docs"

_t0=${_t0:-$(date +%s)}
export _t0

stage() {
    printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - _t0 ))" "$*"
}

info() {
    printf '    %s\n' "$*"
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Install Debian packages that are missing (root only; CI and developers
# run as root here). Quiet when everything is present.
need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    info "installing: ${missing[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null ||
        die "apt-get install ${missing[*]} failed"
}

apt_update_once() {
    [ -n "${_apt_updated:-}" ] && return 0
    apt-get update -qq || die "apt-get update failed"
    _apt_updated=1
}

have_deb_src() {
    grep -qsE '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm[[:space:]]' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk 'BEGIN { RS = "" } /(^|\n)Types:[^\n]*deb-src/ && /(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ { f = 1 }
             END { exit !f }' "$f" && return 0
    done
    return 1
}

# Derive deb-src entries from the machine's own bookworm deb entries, so
# that no mirror is ever named by us.
add_deb_src() {
    local tmp f list=/etc/apt/sources.list.d/xenfv-arm-deb-src
    tmp=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] && [ "${f%.sources}" != "$list" ] || continue
        # Stanzas are separated by blank lines; keep the bookworm deb ones.
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:([^\n]* )?deb( |\n|$)/ && /(^|\n)Suites:[^\n]*bookworm/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, "");
                 print }' "$f" >> "$tmp"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] && [ "${f%.list}" != "$list" ] || continue
        sed -nE 's/^[[:space:]]*deb[[:space:]]+(.*bookworm.*)$/deb-src \1/p' "$f" \
            >> "$tmp"
    done
    [ -s "$tmp" ] || die "no bookworm apt source found to derive deb-src from"
    if grep -q '^deb-src ' "$tmp"; then
        grep '^deb-src ' "$tmp" > "$list.list"
        grep -v '^deb-src ' "$tmp" > "$list.sources" || true
    else
        mv "$tmp" "$list.sources"
    fi
    rm -f "$tmp"
    info "added deb-src entries derived from the existing apt sources"
    _apt_updated=
    apt_update_once
}

# add_derived_suite TYPE SUITE: an apt entry of TYPE (deb, deb-src) for
# SUITE of the machine's own Debian archive (the one its bookworm entry
# names), in /etc/apt/sources.list.d/xenfv-arm-<SUITE>-<TYPE>; no mirror
# is named by us. Installed packages do not change: unstable is added for
# sources only, and apt takes nothing from backports unless asked.
add_derived_suite() {
    local type=$1 suite=$2 base=/etc/apt/sources.list.d/xenfv-arm-$2-$1 f tmp
    [ -e "$base.sources" ] || [ -e "$base.list" ] && return 0
    tmp=$(mktemp)
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] && [[ $f != */xenfv-arm-* ]] || continue
        awk -v t="$type" -v s="$suite" 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:([^\n]* )?deb( |\n|$)/ && /(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: " t)
                 sub(/(^|\n)Suites:[^\n]*/, "\nSuites: " s)
                 sub(/^\n/, ""); print; exit }' "$f" >> "$tmp"
        [ -s "$tmp" ] && break
    done
    if [ -s "$tmp" ]; then
        mv "$tmp" "$base.sources"
    else
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -e "$f" ] && [[ $f != */xenfv-arm-* ]] || continue
            sed -nE "s/^[[:space:]]*deb[[:space:]]+((\[[^]]*\][[:space:]]+)?[^[:space:]]+)[[:space:]]+bookworm[[:space:]]+(.*)\$/$type \1 $suite \3/p" \
                "$f" | head -n1 >> "$tmp"
            [ -s "$tmp" ] && break
        done
        [ -s "$tmp" ] || { rm -f "$tmp"; die "no bookworm apt source found to derive a $suite entry from"; }
        mv "$tmp" "$base.list"
    fi
    chmod 644 "$base".*
    info "added a $type entry for $suite, derived from the existing apt sources"
    _apt_updated=
    apt_update_once
}

# upstream_meson: Debian's meson $MESON_DEB_VERSION (bookworm-backports;
# QEMU 10.2 needs >= 1.5, bookworm has 1.0) unpacked under $CACHE/tools,
# not installed: the 7.2 builds keep bookworm's. Exports PYTHONPATH so
# that QEMU's configure (its venv sees system packages) finds it.
upstream_meson() {
    # shellcheck source=qemu-upstream.conf
    . "$TOP/workshop/qemu-upstream.conf"
    local dir=$CACHE/tools deb root
    deb=meson_${MESON_DEB_VERSION/:/%3a}_all.deb
    root=$dir/meson-$MESON_DEB_VERSION
    if [ ! -f "$root/.unpacked" ]; then
        mkdir -p "$dir"
        if [ ! -f "$dir/$deb" ]; then
            add_derived_suite deb "$MESON_DEB_SUITE"
            (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root \
                "meson=$MESON_DEB_VERSION") ||
                die "apt-get download meson=$MESON_DEB_VERSION ($MESON_DEB_SUITE) failed"
        fi
        rm -rf "$root"
        dpkg-deb -x "$dir/$deb" "$root"
        touch "$root/.unpacked"
    fi
    export PYTHONPATH=$root/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}
}

# arm64_sysroot NAME "PKGS": unpack the arm64 packages PKGS (libxen* pinned
# to XEN_DEB_VERSION) into $CACHE/NAME, once per package set; sets SYSROOT
# and SYSROOT_KEY. arm64 -dev packages cannot be co-installed with the
# host's amd64 ones (libxen-dev, libfdt-dev), hence a sysroot.
arm64_sysroot() {
    local root=$CACHE/$1 pkgs=$2 debs=$CACHE/debs-arm64 stamp key
    key=$(echo "$pkgs $XEN_DEB_VERSION" | tr -s ' \n' ' ' | sha256sum | cut -c1-16)
    stamp=$root/.stamp-$key
    [ -f "$stamp" ] && { SYSROOT=$root; SYSROOT_KEY=$key; return; }
    stage "arm64 sysroot ($1)"
    need_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        _apt_updated=
        apt_update_once
    fi
    mkdir -p "$debs"
    local p spec pat d files=()
    for p in $pkgs; do
        spec=$p:arm64
        pat="${p}_*_arm64.deb"
        # Link against the Xen libraries dom0 runs in the e2e image.
        case $p in
        libxen*) spec+="=$XEN_DEB_VERSION"; pat="${p}_${XEN_DEB_VERSION}_arm64.deb" ;;
        esac
        # shellcheck disable=SC2086
        if ! ls "$debs"/$pat >/dev/null 2>&1; then
            (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "$spec") ||
                die "apt-get download $spec failed"
        fi
        # shellcheck disable=SC2086
        files+=("$(ls -t "$debs"/$pat | head -n1)")
    done
    rm -rf "$root"
    mkdir -p "$root"
    for d in "${files[@]}"; do
        dpkg-deb -x "$d" "$root"
    done
    # Absolute .so links point into the host: point them into the sysroot.
    find "$root" -type l -lname '/*' | while read -r l; do
        ln -sfn "$root$(readlink "$l")" "$l"
    done
    touch "$stamp"
    SYSROOT=$root
    SYSROOT_KEY=$key
}

# arm64_cross_wrappers BINDIR: aarch64-linux-gnu-gcc/g++ wrappers in BINDIR
# (prepended to PATH) that run ccache and add $SYSROOT's library dirs
# (meson's find_library() ignores --extra-ldflags, and the cross gcc
# ignores LIBRARY_PATH).
arm64_cross_wrappers() {
    local bin=$1 tool
    mkdir -p "$bin"
    for tool in gcc g++; do
        cat > "$bin/aarch64-linux-gnu-$tool.tmp" <<EOF
#!/bin/sh
exec ccache /usr/bin/aarch64-linux-gnu-$tool \\
    -B$SYSROOT/usr/lib/aarch64-linux-gnu/ -B$SYSROOT/lib/aarch64-linux-gnu/ "\$@"
EOF
        chmod +x "$bin/aarch64-linux-gnu-$tool.tmp"
        mv "$bin/aarch64-linux-gnu-$tool.tmp" "$bin/aarch64-linux-gnu-$tool"
    done
    PATH=$bin:$PATH
}

# Deterministic identity for the commits we create in work/qemu, so the base
# commit is the same on every machine. It is no person: workshop/series
# export refuses to sign patches with it.
WORKSHOP_NAME="xenfv-arm workshop"
WORKSHOP_EMAIL="workshop@xenfv-arm.invalid"
git_fixed() {
    GIT_AUTHOR_NAME=$WORKSHOP_NAME GIT_AUTHOR_EMAIL=$WORKSHOP_EMAIL \
    GIT_COMMITTER_NAME=$WORKSHOP_NAME GIT_COMMITTER_EMAIL=$WORKSHOP_EMAIL \
    GIT_AUTHOR_DATE="2022-12-14T00:00:00Z" GIT_COMMITTER_DATE="2022-12-14T00:00:00Z" \
        git "$@"
}
