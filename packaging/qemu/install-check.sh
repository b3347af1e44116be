#!/bin/bash
# packaging/qemu/install-check.sh DEB: install the arm64 qemu-system-xen
# .deb on a fresh Debian 12 root with apt (its dependencies from this
# machine's apt sources), run the installed binary and purge it.
# This amd64 machine runs no arm64 maintainer scripts (no binfmt_misc), so
# the root is amd64 with arm64 as a foreign architecture: apt resolves and
# installs qemu-system-xen:arm64 and its arm64 libraries as on an arm64
# host (the package has no maintainer scripts), and the binary runs under
# qemu-aarch64-static. Checks: the install, -version, the xenfv machine and
# the xen accelerator, the virtio-mmio devices xenfv serves, seccomp
# compiled in (libseccomp linked, seccomp_load called; the filter itself
# needs a real arm64 kernel), lintian, and a purge that leaves
# no file. Ends with "N passed, N failed". Needs root.
set -uo pipefail
. "$(dirname "$0")/../../workshop/lib.sh"

deb=$(cd "$(dirname "${1:?usage: $0 QEMU-SYSTEM-XEN-ARM64.deb}")" && pwd)/$(basename "$1")
[ -f "$deb" ] || die "no $1"
passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

need_pkgs mmdebstrap qemu-user-static lintian binutils
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
version=$(dpkg-deb -f "$deb" Version)
bin=/usr/libexec/xen-qemu-system-aarch64

stage "install check: $(basename "$deb") on a fresh Debian 12 root"
srcs=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] && grep -qs bookworm "$f" && [[ $f != *xenfv-arm* ]] && srcs+=("$f")
done
# The commands inside the root write their results to /out; q runs the
# installed binary (stderr too) under qemu-user, with an exit status line.
cat > "$out/checks.sh" <<EOF
#!/bin/sh
q() { name=\$1; shift; /usr/local/bin/qemu-aarch64-static $bin "\$@" > /out/\$name 2>&1; echo "exit \$?" >> /out/\$name; }
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/$(basename "$deb") > /out/install.log 2>&1
echo "exit \$?" >> /out/install.log
dpkg-query -W -f='\${Status} \${Version}\n' qemu-system-xen:arm64 > /out/status 2>&1
q version -version
q machines -machine help
q accels -accel help
q devices -device help
q sandbox -M none -display none -nodefaults -S \
    -sandbox on,obsolete=deny,spawn=deny,resourcecontrol=deny
dpkg --purge qemu-system-xen > /out/purge.log 2>&1
echo "exit \$?" >> /out/purge.log
ls -d $bin /usr/share/doc/qemu-system-xen > /out/left 2>&1
true
EOF
chmod +x "$out/checks.sh"
# shellcheck disable=SC2016
mmdebstrap --quiet --variant=minbase --architectures=amd64,arm64 \
    --customize-hook='mkdir -p "$1/out" "$1/usr/local/bin"' \
    --customize-hook="copy-in $deb $out/checks.sh /tmp" \
    --customize-hook='copy-in /usr/bin/qemu-aarch64-static /usr/local/bin' \
    --customize-hook='chroot "$1" /tmp/checks.sh' \
    --customize-hook="sync-out /out $out/res" \
    bookworm /dev/null "${srcs[@]}" > "$out/mmdebstrap.log" 2>&1 ||
    { tail -20 "$out/mmdebstrap.log"; die "mmdebstrap failed"; }
r=$out/res

if grep -qx 'exit 0' "$r/install.log" && grep -qx "install ok installed $version" "$r/status"; then
    pass "apt-get install ./$(basename "$deb"): qemu-system-xen:arm64 $version installed"
    info "with: $(grep -o '^Setting up [^ ]*' "$r/install.log" | cut -d' ' -f3 | tr '\n' ' ')"
else
    tail -20 "$r/install.log"
    fail "apt-get install ./$(basename "$deb")"
fi
if grep -q "(Debian $version)" "$r/version"; then
    pass "$bin -version: $(head -n1 "$r/version")"
else
    fail "$bin -version: $(head -n3 "$r/version")"
fi
if grep -qE '^xenfv ' "$r/machines"; then
    pass "-machine help lists $(grep -E '^xenfv ' "$r/machines" | tr -s ' ')"
else
    fail "-machine help has no xenfv"
fi
if grep -qx 'xen' "$r/accels"; then
    pass "-accel help lists xen ($(grep -vE '^(Accelerators supported|exit)' "$r/accels" | tr '\n' ' '))"
else
    fail "-accel help has no xen: $(cat "$r/accels")"
fi
for d in virtio-blk-device virtio-net-device virtio-serial-device virtio-gpu-device virtio-rng-device; do
    if grep -q "name \"$d\"" "$r/devices"; then pass "-device $d"; else fail "no -device $d"; fi
done
# Seccomp: the binary links libseccomp and calls seccomp_load (the filter
# of softmmu/qemu-seccomp.c that -sandbox installs). QEMU registers the
# -sandbox option group only when the kernel accepts a seccomp filter (its
# TSYNC probe), which qemu-user does not emulate: there -sandbox is "no
# option group", and only a real arm64 host shows the filter working.
dpkg-deb -x "$deb" "$out/x"
needed=$(readelf -d "$out/x$bin")
syms=$(readelf --dyn-syms "$out/x$bin")
if grep -q 'NEEDED.*libseccomp\.so' <<<"$needed" && grep -qw 'seccomp_load' <<<"$syms"; then
    pass "seccomp built in: links $(grep -o 'libseccomp\.so[.0-9]*' <<<"$needed"), calls seccomp_load (qemu-user: $(head -n1 "$r/sandbox" | sed 's/.*: //'))"
else
    fail "seccomp: $bin does not link libseccomp or call seccomp_load"
fi
if grep -qx 'exit 0' "$r/purge.log" && ! grep -q '^/' "$r/left"; then
    pass "dpkg --purge qemu-system-xen leaves neither $bin nor its doc directory"
else
    fail "purge: $(cat "$r/purge.log" "$r/left" | tr '\n' ' ')"
fi
l=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -E '^[EW]: ')
if ! grep -q '^E: ' <<<"$l"; then
    pass "lintian: 0 errors, $(grep -c '^W: ' <<<"$l") warnings"
else
    fail "lintian: $(grep -c '^E: ' <<<"$l") errors"
fi
[ -n "$l" ] && sed 's/^/    | /' <<<"$l"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
