# The dom0 initramfs part of mode driver-domain (sourced by build-images):
# xc-set-target (xc-set-target.c, against the arm64 libxen-dev/libxenmisc
# 4.17 of the probe's sysroot), the dom0 mode file and the driver
# domain's role file (/etc/e2e/modes/driver-domain.sh, dd-role.sh). The
# driver domain boots from a copy of dom0's own root (see
# mode-driver-domain.sh), so it has the same QEMU, tools and launcher.
# shellcheck shell=bash

DD_FILES="mode-driver-domain.sh:driver-domain.sh dd-role.sh:dd-role.sh"

build_dom0_dd() {
    local key gccv sr L misc st f
    gccv=$(aarch64-linux-gnu-gcc -dumpfullversion)
    key=$( (echo dom0-dd-recipe-2; echo "$gccv"; debkeys libxen-dev libxenmisc4.17 libc6
            cat "$E2E_DIR/xc-set-target.c"
            for f in $DD_FILES; do cat "$E2E_DIR/${f%%:*}"; done) | hash16)
    DOM0_DD=$PARTS/dom0-dd-$key.cpio.gz
    [ -f "$DOM0_DD" ] && return 0
    stage "dom0 initramfs: mode driver-domain (xc-set-target, mode files)"
    sr=$E2E_CACHE/sysroot-probe
    L=$sr/usr/lib/aarch64-linux-gnu
    [ -d "$L" ] || { rm -f "$PROBE_BIN"; build_probe; }
    misc=$(xtree libxenmisc4.17)/usr/lib/aarch64-linux-gnu
    st=$E2E_CACHE/stage/dom0-dd
    rm -rf "$st"
    mkdir -p "$st/usr/local/bin" "$st/etc/e2e/modes"
    aarch64-linux-gnu-gcc -O2 -Wall -Wextra -o "$st/usr/local/bin/xc-set-target" \
        -I"$sr/usr/include" "$E2E_DIR/xc-set-target.c" \
        -L"$misc" -L"$L" -Wl,-rpath-link="$L:$misc" -l:libxenctrl.so.4.17 -lxendevicemodel ||
        die "xc-set-target build failed"
    for f in $DD_FILES; do
        install -m 644 "$E2E_DIR/${f%%:*}" "$st/etc/e2e/modes/${f#*:}"
    done
    pack "$st" "$DOM0_DD"
    rm -rf "$st"
    ls -t "$PARTS"/dom0-dd-*.cpio.gz | tail -n +4 | xargs -r rm -f
}
