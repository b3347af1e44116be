# The dom0 initramfs part with the Xen series' toolstack (sourced by
# build-images): the cross-built xl, libxenlight and libxlutil of
# workshop/build-xen-tools.sh under /usr/lib/xenfv-xl, run as `xenfv-xl`
# (a wrapper that puts them first on the library path), so that Debian's
# xl and every mode using it stay as they are. The e2e modes of the Xen
# series (mode-*.sh, /etc/e2e/modes/ in dom0) come with it.
# shellcheck shell=bash

E2E_XEN_TOOLS=${E2E_XEN_TOOLS:-$TOP/work/build-xen-tools/out}
XEN_TOOLS_MODES="mode-xl-virtio.sh mode-xl-virtio-all.sh"

XEN_TOOLS_NOTE=""
build_dom0_xl() {
    local f have=1 key st pool n unresolved=""
    if [ "$WITH_XEN_TOOLS" = 0 ]; then
        XEN_TOOLS_NOTE="left out (--no-xen-tools)"
        have=0
    fi
    for f in xl libxenlight.so.4.17.0 libxlutil.so.4.17.0; do
        if [ $have = 1 ] && [ ! -f "$E2E_XEN_TOOLS/$f" ]; then
            XEN_TOOLS_NOTE="absent: $E2E_XEN_TOOLS/$f does not exist (workshop/build-xen-tools.sh)"
            have=0
        fi
    done
    [ $have = 0 ] || XEN_TOOLS_NOTE="included: $(cat "$E2E_XEN_TOOLS/SOURCE" 2>/dev/null || echo "$E2E_XEN_TOOLS")"
    # The modes always come, so that they can say why they skip.
    key=$( (echo dom0-xl-recipe-1 $have
            if [ $have = 1 ]; then
                cat "$E2E_XEN_TOOLS/SOURCE" 2>/dev/null
                for f in xl libxenlight.so.4.17.0 libxlutil.so.4.17.0; do
                    sha256sum < "$E2E_XEN_TOOLS/$f"
                done
            fi
            for f in $XEN_TOOLS_MODES; do cat "$E2E_DIR/$f"; done) | hash16)
    DOM0_XL=$PARTS/dom0-xl-$key.cpio.gz
    [ -f "$DOM0_XL" ] && return 0
    stage "dom0 initramfs: the Xen series' modes and xl, libxenlight, libxlutil (xenfv-xl)"
    st=$E2E_CACHE/stage/dom0-xl
    rm -rf "$st"
    mkdir -p "$st/etc/e2e/modes"
    for f in $XEN_TOOLS_MODES; do
        install -m 644 "$E2E_DIR/$f" "$st/etc/e2e/modes/${f#mode-}"
    done
    if [ $have = 1 ]; then
        mkdir -p "$st/usr/lib/xenfv-xl" "$st/usr/local/bin"
        aarch64-linux-gnu-strip -o "$st/usr/lib/xenfv-xl/xl" "$E2E_XEN_TOOLS/xl"
        aarch64-linux-gnu-strip -o "$st/usr/lib/xenfv-xl/libxenlight.so.4.17" \
            "$E2E_XEN_TOOLS/libxenlight.so.4.17.0"
        aarch64-linux-gnu-strip -o "$st/usr/lib/xenfv-xl/libxlutil.so.4.17" \
            "$E2E_XEN_TOOLS/libxlutil.so.4.17.0"
        cat > "$st/usr/local/bin/xenfv-xl" <<'WRAP'
#!/bin/sh
# xl of the Xen series (libxenlight/libxlutil from /usr/lib/xenfv-xl)
LD_LIBRARY_PATH=/usr/lib/xenfv-xl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec /usr/lib/xenfv-xl/xl "$@"
WRAP
        chmod 755 "$st/usr/local/bin/xenfv-xl"
        # Everything else they need is Debian's, in the base part.
        pool=$E2E_CACHE/stage/xlpool
        rm -rf "$pool"
        mkdir -p "$pool"
        for f in $XEN_PKGS_PINNED $RUNTIME_PKGS; do
            [ "$f" = libxen-dev ] && continue
            copy_pkg "$pool" "$f"
        done
        cp "$st"/usr/lib/xenfv-xl/*.so.* "$pool/usr/lib/aarch64-linux-gnu/"
        for f in "$st"/usr/lib/xenfv-xl/*; do
            for n in $(needed_of "$f"); do
                lib_in "$pool" "$n" || unresolved+=" $n(${f#"$st"})"
            done
        done
        rm -rf "$pool"
        [ -z "$unresolved" ] || die "xenfv-xl: unresolved shared libraries:$unresolved"
    fi
    pack "$st" "$DOM0_XL"
    rm -rf "$st"
    ls -t "$PARTS"/dom0-xl-*.cpio.gz | tail -n +4 | xargs -r rm -f
    info "xl part: $(stat -c %s "$DOM0_XL") bytes"
}
