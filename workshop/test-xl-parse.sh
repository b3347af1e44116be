#!/bin/bash
# The Xen series' xl parser without Xen: runs the cross-built xl
# (workshop/build-xen-tools.sh) under qemu-aarch64-static as
# `xl -N create CFG` (dry run: the parsed configuration as JSON) against
# Debian's arm64 Xen libraries, with a shim for the two calls a dry run
# makes to Xen (workshop/xen-tests/xl-dryrun-shim.c). Each case checks the
# JSON or the error. Ends with "N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"

OUT=$WORK/build-xen-tools/out
[ -x "$OUT/xl" ] || "$TOP/workshop/build-xen-tools.sh" >/dev/null || die "build-xen-tools.sh failed"
need_pkgs qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross python3
# Debian's runtime of xl (everything but libxenlight/libxlutil, which are ours).
arm64_sysroot sysroot-arm64-xl-run "libc6 libgcc-s1 libxenmisc4.17 libxencall1
    libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoollog1
    libxenhypfs1 libxentoolcore1 libxendevicemodel1 libyajl2 libfdt1 libuuid1
    zlib1g libext2fs2 libcom-err2 libncurses6 libtinfo6"
ROOT=$WORK/xl-parse-root
rm -rf "$ROOT"
mkdir -p "$ROOT"
cp -a "$SYSROOT"/. "$ROOT"/
rm -f "$ROOT"/.stamp-*
L=$ROOT/usr/lib/aarch64-linux-gnu
cp "$OUT/libxenlight.so.4.17.0" "$OUT/libxlutil.so.4.17.0" "$L/"
cp "$OUT/xl" "$ROOT/xl"
mkdir -p "$ROOT/dev/xen" "$ROOT/etc/xen" "$ROOT/cfg"
touch "$ROOT/dev/xen/privcmd" "$ROOT/etc/xen/xl.conf"
aarch64-linux-gnu-gcc -shared -fPIC -O2 -Wall -I"$WORK/build-xen-tools/src/tools/include" \
    -o "$ROOT/shim.so" "$TOP/workshop/xen-tests/xl-dryrun-shim.c" || die "shim build failed"

passed=0 failed=0
# xl_n NAME: xl -N create /cfg/NAME.cfg; output in $ROOT/NAME.out, status in $rc
xl_n() {
    (cd "$ROOT" && qemu-aarch64-static -L "$ROOT" -E LD_PRELOAD=/shim.so \
        ./xl -N create "/cfg/$1.cfg") > "$ROOT/$1.out" 2>&1
    rc=$?
}
result() {
    if [ "$1" = 0 ]; then echo "PASS $2"; passed=$((passed + 1))
    else echo "FAIL $2"; sed 's/^/    | /' "$ROOT/$3.out" | tail -20; failed=$((failed + 1)); fi
}
base='name="g"
kernel="/domu/Image"
memory=128
vcpus=1'
# case NAME 'virtio=... (config lines)' PYTHON-CHECK|ERROR-REGEX
ok_case() {
    printf '%s\n%s\n' "$base" "$2" > "$ROOT/cfg/$1.cfg"
    xl_n "$1"
    [ $rc = 0 ] && python3 -c "
import json, re, sys
t = open(sys.argv[1]).read()
d = json.loads(t[t.index('{'):])
sys.exit(0 if ($3) else 1)" "$ROOT/$1.out"
    result $? "xl -N: $1" "$1"
}
err_case() {
    printf '%s\n%s\n' "$base" "$2" > "$ROOT/cfg/$1.cfg"
    xl_n "$1"
    [ $rc != 0 ] && grep -qE "$3" "$ROOT/$1.out"
    result $? "xl -N: $1 (refused)" "$1"
}

ok_case syntax-4.18 'virtio = [ "type=virtio,device1, transport=mmio, backend=0", "type=virtio,device22,grant_usage=1", "backend=dom1,type=virtio,device10,grant_usage=0" ]' \
  "[v.get('type') for v in d['virtios']] == ['virtio,device1', 'virtio,device22', 'virtio,device10']
   and d['virtios'][0]['transport'] == 'mmio' and d['virtios'][0]['backend_domname'] == '0'
   and d['virtios'][1]['grant_usage'] == 'True' and 'transport' not in d['virtios'][1]
   and d['virtios'][2]['backend_domname'] == 'dom1' and d['virtios'][2]['grant_usage'] == 'False'
   and [v['devid'] for v in d['virtios']] == [0, 1, 2]"
ok_case with-virtio-disk "disk = [ 'format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=/x.img' ]
virtio = [ 'type=virtio,device4' ]" \
  "d['disks'][0]['specification'] == 'virtio' and d['virtios'][0]['type'] == 'virtio,device4'"
ok_case none "" "'virtios' not in d"
err_case unknown-key 'virtio = [ "type=virtio,device1, model=x" ]' 'Unknown string "model=x" in virtio spec'
err_case no-type 'virtio = [ "transport=mmio" ]' 'has no type'
err_case bad-transport 'virtio = [ "type=virtio,device1, transport=pci" ]' 'Unknown virtio transport "pci"'
err_case bad-grant-usage 'virtio = [ "type=virtio,device1, grant_usage=yes" ]' 'grant_usage must be 0 or 1'
# Spaces around a setting are not part of its value.
ok_case spaces 'virtio = [ " type=virtio,device4 ,transport=mmio , backend=0 ", "grant_usage=1 , type=virtio,device1 " ]' \
  "[v['type'] for v in d['virtios']] == ['virtio,device4', 'virtio,device1']
   and d['virtios'][0]['transport'] == 'mmio' and d['virtios'][0]['backend_domname'] == '0'
   and d['virtios'][1]['grant_usage'] == 'True'"
# The examples of Xen 4.18's xl.cfg(5), unchanged: I2C (virtio,device22),
# GPIO (virtio,device29), a generic device (virtio,device), backend by
# name, grant_usage as a number (0 false, any other true).
ok_case upstream-i2c 'virtio = [ "type=virtio,device22, transport=mmio" ]' \
  "d['virtios'][0]['type'] == 'virtio,device22' and d['virtios'][0]['transport'] == 'mmio'"
ok_case upstream-gpio 'virtio = [ "backend=0,type=virtio,device29,transport=mmio,grant_usage=1" ]' \
  "d['virtios'][0]['type'] == 'virtio,device29' and d['virtios'][0]['grant_usage'] == 'True'
   and d['virtios'][0]['backend_domname'] == '0'"
ok_case upstream-generic 'virtio = [ "type=virtio,device, backend=dom1, grant_usage=0" ]' \
  "d['virtios'][0]['type'] == 'virtio,device' and d['virtios'][0]['backend_domname'] == 'dom1'
   and d['virtios'][0]['grant_usage'] == 'False'"
ok_case grant-usage-numbers 'virtio = [ "type=virtio,device1, grant_usage=2", "type=virtio,device1, grant_usage=0x0" ]' \
  "[v['grant_usage'] for v in d['virtios']] == ['True', 'False']"
# The virtio device model only when the guest asks for it.
ok_case virtio-dm "disk = [ 'format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=/x.img' ]
virtio_dm = 1" "d['virtio_dm'] == 'True'"
ok_case virtio-dm-off "disk = [ 'format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=/x.img' ]
virtio_dm = 0" "d['virtio_dm'] == 'False'"
ok_case stock-no-virtio-dm "disk = [ 'format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=/x.img' ]
virtio = [ 'type=virtio,device4' ]" "'virtio_dm' not in d"

# ABI: every symbol Debian's libxenlight/libxlutil export is still there
# (same soname), so Debian's tools linking them keep working.
for lib in libxenlight.so.4.17.0 libxlutil.so.4.17.0; do
    syms() { aarch64-linux-gnu-nm -D --defined-only "$1" | awk '{ print $3 }' | sort -u; }
    missing=$(comm -23 <(syms "$SYSROOT/usr/lib/aarch64-linux-gnu/$lib") <(syms "$OUT/$lib"))
    added=$(comm -13 <(syms "$SYSROOT/usr/lib/aarch64-linux-gnu/$lib") <(syms "$OUT/$lib") | wc -l)
    soname() { aarch64-linux-gnu-readelf -d "$1" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p'; }
    if [ -z "$missing" ] &&
       [ "$(soname "$OUT/$lib")" = "$(soname "$SYSROOT/usr/lib/aarch64-linux-gnu/$lib")" ]; then
        echo "PASS ABI: $lib keeps Debian's soname and symbols ($added added)"
        passed=$((passed + 1))
    else
        echo "FAIL ABI: $lib: soname $(soname "$OUT/$lib"), missing:" $missing
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[ $failed = 0 ]
