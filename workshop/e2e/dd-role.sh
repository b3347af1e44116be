# shellcheck shell=sh
# The driver domain `dd` of e2e mode driver-domain (mode-driver-domain.sh
# in dom0 creates it from a copy of dom0's root with e2e=dd-role; sourced
# by dom0-init.sh from /etc/e2e/modes/dd-role.sh). It serves a guest's
# virtio disk (/dd/disk.img) with a restricted xenfv started by the
# product launcher, and talks to dom0 through its own Xenstore home
# (data/e2e/*):
#   dd writes  data/e2e/state = ready          launcher watching
#              data/e2e/md5/<tag> = MD5         answer to data/e2e/ask
#              data/e2e/gone/<guest> = SUMMARY  the guest's QEMU is gone
#              data/e2e/log/* (for dom0's report)
#   dom0 writes data/e2e/target/<guest> = ok|fail: ... (xc-set-target done)
#              data/e2e/ask = <tag>                md5 of the image, please
# dd-qemu (XENFV_QEMU) waits for target/<guest> before it starts QEMU.
# A restricted xenfv cannot use Xenstore once the guest runs, so this role
# also answers the backend's Closing (5 -> 6) and then removes the guest's
# backend directory (xl devd's part in a driver domain); the launcher then
# stops the QEMU (XENFV_STOP_GRACE).
for m in xen-privcmd xenfs xen-evtchn xen-gntdev; do load $m; done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
me=$(xenstore-read domid) || fail "Xenstore does not answer in the driver domain"
say "driver domain $me up"
mkdir -p /dd
dd if=/dev/zero of=/dd/disk.img bs=1M count=16 2>/dev/null || fail "disk image"
cat > /usr/local/bin/dd-qemu <<'WRAP'
#!/bin/sh
# XENFV_QEMU in the driver domain: QEMU starts once dom0 has made this
# domain the guest's device-model target (data/e2e/target/<guest>).
d="" p=""
for a in "$@"; do [ "$p" = -xen-domid ] && d=$a; p=$a; done
i=0 v=""
while [ $i -lt 80 ]; do
    v=$(xenstore-read data/e2e/target/$d 2>/dev/null)
    case $v in ok|fail*) break ;; esac
    usleep 100000
    i=$((i + 1))
done
echo "dd-qemu: [$(cut -d' ' -f1 /proc/uptime)] target of domain $d: '$v' after $i polls"
[ "$v" = ok ] || exit 1
exec /usr/local/bin/qemu-system-aarch64 "$@"
WRAP
chmod 755 /usr/local/bin/dd-qemu
mkdir -p /etc/default
cat > /etc/default/xenfv-launcher <<CONF
XENFV_QEMU=/usr/local/bin/dd-qemu
XENFV_QEMU_ARGS="-d guest_errors -xen-domid-restrict"
# a driver domain cannot read the guest's cpu/ and memory/static-max
XENFV_VCPUS=1
XENFV_MEMORY=$domu_mem
XENFV_TICK=1
XENFV_STOP_GRACE=1
CONF
/usr/sbin/xenfv-launcher > /run/launcher.log 2>&1 &
lpid=$!
wait_for 20 grep -q watching /run/launcher.log || fail "xenfv-launcher did not start"
xenstore-write data/e2e/state ready || fail "cannot write data/e2e/state"
say "launcher running (pid $lpid); ready"

BE=backend/virtio_disk
while :; do
    # dom0 asks for the image's md5
    tag=$(xenstore-read data/e2e/ask 2>/dev/null) && [ -n "$tag" ] && {
        xenstore-rm data/e2e/ask
        xenstore-write data/e2e/md5/$tag "$(head -c "$blk_bytes" /dd/disk.img | md5sum | cut -d' ' -f1)"
    }
    for g in $(xenstore-list $BE 2>/dev/null); do
        for dev in $(xenstore-list $BE/$g 2>/dev/null); do
            st=$(xenstore-read $BE/$g/$dev/state 2>/dev/null)
            if [ "$st" = 5 ]; then
                xenstore-write $BE/$g/$dev/state 6
                t5=$(up)
                say "guest $g device $dev: Closing answered with Closed"
                eval "closed_$g=$t5"
            fi
        done
        eval "c=\${closed_$g:-}"
        # the guest's devices all closed and libxl done (online 0): remove
        if [ -n "$c" ] && ! xenstore-ls $BE/$g 2>/dev/null | grep -q 'state = "[1-5]"' &&
            ! xenstore-ls $BE/$g 2>/dev/null | grep -q 'online = "1"'; then
            xenstore-rm $BE/$g
            eval "rm_$g=$(up)"
            say "guest $g: backend directory removed"
        fi
    done
    # report a served guest whose QEMU the launcher has stopped and forgotten
    for r in /run/xenfv-launcher/*/; do :; done
    for v in $(set | sed -n 's/^rm_\([0-9]*\)=.*/\1/p'); do
        eval "t=\$rm_$v c=\$closed_$v"
        [ -n "$t" ] || continue
        [ -d /run/xenfv-launcher/$v ] && continue
        n=0
        for f in /proc/[0-9]*/cmdline; do
            tr '\0' ' ' < $f 2>/dev/null | grep -q "qemu-system-aarch64 .*-xen-domid $v " && n=$((n + 1))
        done
        [ $n = 0 ] || continue
        now=$(up)
        s=$(awk "BEGIN { printf \"Closing answered -> nodes removed %.2f s -> QEMU gone and forgotten by the launcher %.2f s\", $t - $c, $now - $t }")
        say "guest $v: $s"
        sed 's/^/dd launcher| /' /run/launcher.log
        for f in /var/log/xen/qemu-dm-*.log; do sed "s|^|dd $(basename $f)\| |" $f; done
        xenstore-write data/e2e/gone/$v "$s; launcher: $(grep -c "domain $v.*exited\|domain $v.*SIGTERM" /run/launcher.log) exit/stop lines"
        eval "rm_$v="
    done
    alive $lpid || fail "launcher died"
    usleep 200000
done
