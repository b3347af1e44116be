# shellcheck shell=sh
# e2e mode driver-domain (sourced by dom0-init.sh from /etc/e2e/modes/;
# boot passes Xen xsm=dummy for it): issue 8, a driver domain serving a
# guest's disk with a restricted device model, Debian's stock xl only.
#  1. dom0 copies its own root (QEMU, libraries, xenstore-utils, the
#     launcher, modules; without /domu) into an uncompressed initrd and
#     creates the driver domain `dd` from it (driver_domain=1, the same
#     Debian kernel, e2e=dd-role: dd-role.sh). dd makes /dd/disk.img and
#     runs xenfv-launcher with XENFV_QEMU_ARGS=-xen-domid-restrict.
#  2. A watcher in dom0 sees libxl write dd's backend/virtio_disk/<guest>
#     and runs xc-set-target dd <guest> (XEN_DOMCTL_set_target: without it
#     dd may not run an ioreq server for the guest), then tells dd's QEMU
#     wrapper through dd's Xenstore home.
#  3. `xl create` (no -p) of a guest (e2e=blk) with
#     disk = [ '...,backendtype=standalone,specification=virtio,backend=dd,target=/dd/disk.img' ]
#     The guest's kernel (no CONFIG_XEN_VIRTIO) probes the device after
#     the deferred-probe timeout and uses guest physical addresses; xenfv
#     maps them by foreign mapping, allowed because dd is the target.
#  4. The guest's pattern round trip on /dev/vda; dd's md5 of the image;
#     `xl destroy` of the guest; dd answers Closing, removes the backend,
#     the launcher stops QEMU; the image again; `xl destroy dd`; nothing
#     left.
[ -x $Q ] || skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
setup_xen
xl dmesg | grep -iE 'xsm|silo|flask' | sed 's/^/dom0 xen| /'
xl dmesg | grep -q 'Initialising XSM SILO' && fail "Xen runs XSM SILO (boot did not pass xsm=dummy)"

# The guest writes and reads back 3 MiB: past the first MiB of the image,
# where a file size limit on the device model would cut writes.
[ "$blk_bytes" -ge 3145728 ] || blk_bytes=3145728

# 1. the driver domain
t0=$(up)
(cd / && find . -xdev \( -path ./domu -o -path ./usr/lib/xenfv-xl \) -prune -o -print |
    cpio -o -H newc > /run/dd-initrd.cpio 2>/dev/null) || fail "packing the driver domain's initrd"
say "dd initrd: $(wc -c < /run/dd-initrd.cpio) bytes in $(awk "BEGIN { printf \"%.1f\", $(up) - $t0 }") s"
cat > /domu/dd.cfg <<EOF2
name="dd"
kernel="/domu/Image"
ramdisk="/run/dd-initrd.cpio"
extra="console=hvc0 rdinit=/init e2e=dd-role e2e_domu_mem=$domu_mem e2e_blk_bytes=$blk_bytes"
memory=320
vcpus=1
driver_domain=1
EOF2
xl $xlv create /domu/dd.cfg || fail "xl create dd rc=$?"
ddid=$(xl domid dd) || fail "no domid for dd"
rm -f /run/dd-initrd.cpio
DDH=/local/domain/$ddid
ddsays() { [ "$(xenstore-read $DDH/data/e2e/state 2>/dev/null)" = ready ]; }
wait_for 120 ddsays || fail "driver domain not ready within 120 s"
say "driver domain $ddid ready ($(awk "BEGIN { printf \"%.1f\", $(up) - $t0 }") s after dom0 started packing)"

# 2. the target watcher
(
    n=0
    while [ $n -lt 600 ]; do
        for g in $(xenstore-list $DDH/backend/virtio_disk 2>/dev/null); do
            [ -e /run/target-$g ] && continue
            : > /run/target-$g
            tg=$(up)
            if out=$(xc-set-target $ddid $g 2>&1); then
                # what dd's privcmd reads when it loads (libxl writes it
                # for a stub domain too)
                xenstore-write $DDH/target $g
                xenstore-write $DDH/data/e2e/target/$g ok
            else
                xenstore-write $DDH/data/e2e/target/$g "fail: $out"
            fi
            echo "[$tg -> $(up)] $out"
        done
        usleep 100000
        n=$((n + 1))
    done
) > /run/target.log 2>&1 &
twatch=$!
xenstore-watch $DDH/backend/virtio_disk | while read -r p; do
    case $p in */state) echo "$(up) $p $(xenstore-read "$p" 2>/dev/null)" ;; esac
done > /run/states.log 2>&1 &

# 3. the guest
DDDISK='format=raw,vdev=xvda,backendtype=standalone,specification=virtio,backend=dd,target=/dd/disk.img'
cat > /domu/domu.cfg <<EOF2
name="domu"
kernel="/domu/Image"
ramdisk="/domu/initrd.gz"
extra="console=hvc0 rdinit=/init e2e=blk e2e_blk_bytes=$blk_bytes e2e_vda_wait=60"
memory=$domu_mem
vcpus=1
disk=['$DDDISK']
EOF2
t0=$(up)
xl $xlv create /domu/domu.cfg > /run/xl-create.log 2>&1 || {
    sed 's/^/dom0 xl-create| /' /run/xl-create.log
    sed 's/^/dom0 target| /' /run/target.log
    sed 's/^/dom0 states| /' /run/states.log
    # is dd alive? (xl debug-keys: its vCPU state and registers in Xen's log)
    xenstore-ls $DDH/data 2>&1 | sed 's/^/dom0 dd-data| /'
    xl vcpu-list dd 2>&1 | sed 's/^/dom0 vcpu-list| /'
    xl debug-keys q
    xl debug-keys 0
    xl dmesg | tail -n 80 | sed 's/^/dom0 xen| /'
    fail "xl create of the guest rc=$? (no InitWait from dd within 10 s?)"
}
t1=$(up)
domid=$(xl domid domu)
create_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
say "guest domain $domid: xl create $create_s s"
sed 's/^/dom0 target| /' /run/target.log
grep -q 'is now the device-model domain' /run/target.log || fail "xc-set-target failed"
wait_for 150 guest_says domu E2E-DOMU-DONE || fail "guest did not finish within 150 s"
t2=$(up)
tr -d '\r' < $CONSLOG/guest-domu.log | grep -iE 'E2E|virtio|iommu|defer|vda' | sed 's/^/domU| /'
guest_says domu 'E2E-DOMU-DONE blk OK' || fail "in-guest virtio-blk test failed"
guest_s=$(awk "BEGIN { printf \"%.1f\", $t2 - $t1 }")
# The guest kernel (no CONFIG_XEN_VIRTIO) finds no driver for the
# /xen_iommu its disk points to and probes it only after the
# deferred-probe timeout, then with plain guest physical addresses.
gk() { tr -d '\r' < $CONSLOG/guest-domu.log | sed -n "s/^\[ *\([0-9.]*\)\] .*$1.*/\1/p" | head -n1; }
tdefer=$(gk 'deferred probe timeout')
tvda=$(gk 'virtio_blk virtio0: \[vda\]')
tinit=$(tr -d '\r' < $CONSLOG/guest-domu.log | sed -n 's/.*E2E-DOMU: init, mode blk, uptime \([0-9.]*\).*/\1/p' | head -n1)
[ -n "$tdefer" ] || fail "the guest did not report a deferred probe timeout for its virtio disk"
guest_t="guest: init at ${tinit:-?} s, virtio-mmio probe deferred until ${tdefer} s (timeout), vda at ${tvda:-?} s of its uptime"
say "$guest_t"
# backend state 1 -> 2 (libxl's 10 s)
ts1=$(grep "/$domid/[0-9]*/state 1$" /run/states.log | head -n1 | cut -d' ' -f1)
ts2=$(grep "/$domid/[0-9]*/state 2$" /run/states.log | head -n1 | cut -d' ' -f1)
tt=$(sed -n 's/^\[\([0-9.]*\) -> \([0-9.]*\)\] domain.*/\1 \2/p' /run/target.log | head -n1)
hs_t=$(awk -v a="$ts1" -v b="$ts2" -v t="$tt" 'BEGIN { split(t, x, " "); printf "state 1 -> target set %.2f s (xc-set-target %.2f s) -> state 2 %.2f s, total %.2f s of libxl 10 s", x[2] - a, x[2] - x[1], b - x[2], b - a }')
say "$hs_t"
want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
# ask_md5 TAG: dd's md5 of its image
ask_md5() {
    xenstore-write $DDH/data/e2e/ask $1
    wait_for 20 xenstore-read $DDH/data/e2e/md5/$1 > /dev/null 2>&1 || fail "dd did not answer md5 $1"
    xenstore-read $DDH/data/e2e/md5/$1
}
got=$(ask_md5 served)
say "image in dd: md5 $got, expected $want"
[ "$got" = "$want" ] || fail "the image in dd does not hold the guest's pattern"

# 4. teardown
t0=$(up)
xl $xlv destroy domu > /run/destroy.log 2>&1 || { cat /run/destroy.log; fail "xl destroy failed"; }
t1=$(up)
destroy_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
say "xl destroy of the guest: $destroy_s s"
gone() { xenstore-read $DDH/data/e2e/gone/$domid > /dev/null 2>&1; }
wait_for 30 gone || fail "dd did not report the guest's QEMU gone within 30 s"
t2=$(up)
dmgone=$(xenstore-read $DDH/data/e2e/gone/$domid)
say "dd: $dmgone (reported $(awk "BEGIN { printf \"%.2f\", $t2 - $t0 }") s after xl destroy started)"
sed 's/^/dom0 states| /' /run/states.log
# dd's side: wrapper, launcher, QEMU's log
tr -d '\r' < $CONSLOG/guest-dd.log | grep -E 'E2E-DOM0|dd launcher|dd xenfv-' | sed 's/^/dd| /'
ddlog() { tr -d '\r' < $CONSLOG/guest-dd.log | grep -q -- "$1"; }
ddlog "dd-qemu .*-xen-domid $domid .*-xen-domid-restrict" || fail "dd's QEMU did not run with -xen-domid-restrict"
ddlog "domain $domid: its devices are closing; stopping its QEMU" &&
    ddlog "domain $domid (domain $domid): QEMU (pid [0-9]*) stopped with status 0 .*its devices are Closed" ||
    fail "the launcher in dd did not stop the restricted QEMU at Closing and answer Closed"
set -- $(xenstore-read $DDH/data/e2e/mem/$domid)
[ "${1:-0}" = 1 ] || fail "xenfv in dd did not mark the disk as using grants (iommu_platform)"
nremap=${2:-0} ngrant=${3:-0}
[ $nremap -gt 0 ] || fail "xenfv in dd made no foreign mapping of the guest's RAM"
[ $ngrant = 0 ] || fail "xenfv in dd mapped grants of a guest without grant DMA"
mem_t="xenfv: iommu_platform on, $nremap foreign-mapped buckets, $ngrant grant maps"
say "$mem_t"
xl list | sed 's/^/dom0 xl-list| /'
xenstore-exists $DDH/backend/virtio_disk/$domid && fail "backend nodes of the guest left in dd"
xenstore-exists /local/domain/$domid && fail "the guest's Xenstore home left"
got=$(ask_md5 destroyed)
[ "$got" = "$want" ] || fail "the image in dd changed after xl destroy (md5 $got)"
# The guest stays a dying domain while its device-model domain lives
# (the target reference): xl destroy dd releases it.
zombie=$(xl list | awk -v d=$domid '$2 == d' | wc -l)
t0=$(up)
xl destroy dd || fail "xl destroy dd"
t1=$(up)
left() { [ "$(xl list | tail -n +2 | grep -vc '^Domain-0 ')" = 0 ]; }
wait_for 30 left || { xl list; fail "domains left after xl destroy dd"; }
dd_t=$(awk -v a=$t0 -v b=$t1 -v c=$(up) 'BEGIN { printf "xl destroy dd %.2f s, only Domain-0 listed %.2f s after it started", b - a, c - a }')
say "$dd_t"
n=0
for f in /proc/[0-9]*/cmdline; do grep -q qemu-system-aarch64 $f 2>/dev/null && n=$((n + 1)); done
[ $n = 0 ] || fail "$n QEMU processes in dom0"
kill $twatch 2>/dev/null
pass "driver domain $ddid served guest $domid with a restricted xenfv: xl create $create_s s ($hs_t); $guest_t; $mem_t; round trip done $guest_s s after xl create; xl destroy $destroy_s s; $dmgone; guest still listed after destroy while dd lived: $zombie; $dd_t, no QEMU in dom0"
