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
#   dom0 writes target = <guest> (for privcmd, as libxl does for a stub
#              domain) and data/e2e/target/<guest> = ok|fail: ... once
#              xc-set-target is done
#              data/e2e/ask = <tag>                md5 of the image, please
# dd-qemu (XENFV_QEMU) waits for target/<guest> before it starts QEMU.
# A restricted xenfv cannot use Xenstore once the guest runs: the launcher
# stops it when the guest's devices are Closing and answers Closed; this
# role then removes the guest's backend directory (xl devd's part in a
# driver domain).
# No xen-privcmd (nor xenfs, which needs it) yet: Debian's 6.1 privcmd,
# loaded in a domain other than dom0, reads the domain's Xenstore node
# `target` once, at load time, and then allows only device-model calls
# for that domain ("No target domain found, blocking all hypercalls"
# without it). dd-qemu loads it once dom0 has written the target.
# Xenstore works through /dev/xen/xenbus (built into the kernel).
for m in xen-evtchn xen-gntdev; do load $m; done
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
# privcmd takes its target domain from Xenstore when it loads (see above),
# but then refuses libxendevicemodel 4.17's probe of IOCTL_PRIVCMD_DM_OP
# (a dm_op for DOMID_INVALID: EPERM), which then falls back to plain
# hypercalls, which a restricted privcmd blocks: every dm_op fails with
# EPERM. So privcmd runs unrestricted here (allowed: no lockdown); Xen's
# check (dd is the guest's target) and QEMU's own -xen-domid-restrict
# (IOCTL_PRIVCMD_RESTRICT on its handles) remain.
if ! grep -q '^xen_privcmd ' /proc/modules; then
    for m in $(cat /etc/e2e/mod/xen-privcmd); do
        case $m in */xen-privcmd.ko) insmod $m unrestricted=1 || exit 1 ;; *) insmod $m || exit 1 ;; esac
    done
    echo "dd-qemu: xen-privcmd loaded; its target: $(xenstore-read target 2>&1); $(dmesg | grep -i privcmd | tail -n 1)"
fi
echo "dd-qemu: $(xc-set-target -q $d 2>&1)"
exec /usr/local/bin/qemu-system-aarch64 "$@"
WRAP
chmod 755 /usr/local/bin/dd-qemu
launcher_host
mkdir -p /etc/default
cat > /etc/default/xenfv-launcher <<CONF
XENFV_QEMU=/usr/local/bin/dd-qemu
# the trace shows how xenfv reaches the guest's memory: the disk is marked
# as using grants (backend not in dom0: iommu_platform=on), the guest
# (no grant DMA) gives physical addresses, served by foreign mappings;
# the launcher's defaults add -xen-domid-restrict, -sandbox, -chroot, -runas
XENFV_QEMU_ARGS="-d guest_errors -trace xen_virtio_backend -trace xen_remap_bucket -trace xen_grant_dma_map -trace xen_grant_dma_map_failed"
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
# dump: the launcher's and the QEMUs' logs on dd's console (dom0 has it)
dump() {
    sed 's/^/dd launcher| /' /run/launcher.log
    for f in /var/log/xen/xenfv-*.log; do [ -f $f ] && sed "s|^|dd $(basename $f)\| |" $f; done
}
while :; do
    # dom0 asks for the image's md5
    tag=$(xenstore-read data/e2e/ask 2>/dev/null) && [ -n "$tag" ] && {
        xenstore-rm data/e2e/ask
        xenstore-write data/e2e/md5/$tag "$(head -c "$blk_bytes" /dd/disk.img | md5sum | cut -d' ' -f1)"
    }
    for g in $(xenstore-list $BE 2>/dev/null); do
        for dev in $(xenstore-list $BE/$g 2>/dev/null); do
            st=$(xenstore-read $BE/$g/$dev/state 2>/dev/null)
            eval "o=\${seen_${g}_$dev:-}"
            [ "$o" = "$st" ] || { say "guest $g device $dev: state $st"; eval "seen_${g}_$dev=$st"; }
            if [ "$st" = 6 ] && [ "$(xenstore-read $BE/$g/$dev/online 2>/dev/null)" != 1 ]; then
                # Closed by the launcher once it stopped the QEMU
                eval "closed_$g=\${closed_$g:-$(up)}"
                # what xl devd does in a driver domain: libxl in dom0
                # waits for the device's backend directory to go
                xenstore-rm $BE/$g/$dev || say "xenstore-rm $BE/$g/$dev failed"
                eval "rm_$g=$(up)"
                say "guest $g device $dev: backend directory removed"
            fi
        done
    done
    # report a served guest whose QEMU the launcher has stopped and forgotten
    for v in $(set | sed -n 's/^rm_\([0-9]*\)=.[0-9].*/\1/p'); do
        eval "t=\$rm_$v c=\${closed_$v:-\$rm_$v}"
        [ -d /run/xenfv-launcher/$v ] && continue
        n=0
        for f in /proc/[0-9]*/cmdline; do
            tr '\0' ' ' < $f 2>/dev/null | grep -q "qemu-system-aarch64 .*-xen-domid $v " && n=$((n + 1))
        done
        [ $n = 0 ] || continue
        now=$(up)
        s=$(awk "BEGIN { printf \"Closed by the launcher -> device directory removed %.2f s -> QEMU forgotten by the launcher %.2f s\", $t - $c, $now - $t }")
        say "guest $v: $s"
        dump
        ql=/var/log/xen/xenfv-$v.log
        xenstore-write data/e2e/mem/$v "$(grep -c '^xen_virtio_backend .*grants 1$' $ql) $(grep -c '^xen_remap_bucket ' $ql) $(grep -c '^xen_grant_dma_map' $ql)"
        xenstore-write data/e2e/gone/$v "$s"
        eval "rm_$v="
    done
    alive $lpid || fail "launcher died"
    usleep 200000
done
