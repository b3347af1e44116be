# shellcheck shell=sh
# e2e mode xl-virtio (sourced by dom0-init.sh from /etc/e2e/modes/): the
# Xen series' xl (xenfv-xl: patches-xen/ libxenlight and xl) creates a
# domU with a virtio disk and a `virtio = [ ... ]` device whose backend is
# dom0. libxl itself must start xenfv for them (device_model_override =
# the cross-built QEMU), wait for it and for both devices' InitWait, and
# let the guest run; the guest must find both devices where its device
# tree says; `xl destroy` must stop xenfv and remove the devices. Then a broken
# device model must make `xl create` fail and leave no domain or process
# behind.
#   The checks: xl -N shows the parsed device; the Xenstore layout of the
#   generic device (4.18's) and the states; the device model's command
#   line; the guest's device tree nodes and virtio devices (domu-init.sh
#   mode virtio); destroy time and that nothing is left behind.
# Option (boot --extra): e2e_dmrestrict=1 sets dm_restrict (user
# xen-qemuuser-shared is created): -xen-domid-restrict, -chroot, -runas.
XX=/usr/local/bin/xenfv-xl
[ -x $XX ] || skip "no xenfv-xl in the image (run workshop/build-xen-tools.sh, then build-images)"
[ -x $Q ] || skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
dmrestrict=0
grep -q 'e2e_dmrestrict=1' /proc/cmdline && dmrestrict=1
setup_xen
make_disk
mkcfg domu virtio "$VDISK"
cat >> /domu/domu.cfg <<CFG
virtio = [ "type=virtio,device4, transport=mmio" ]
virtio_dm = 1
device_model_override = "$Q"
device_model_args = [ "-d", "guest_errors" ]
CFG
if [ $dmrestrict = 1 ]; then
    echo 'dm_restrict = 1' >> /domu/domu.cfg
    grep -q '^xen-qemuuser-shared:' /etc/passwd 2>/dev/null ||
        echo 'xen-qemuuser-shared:x:993:993::/nonexistent:/bin/false' >> /etc/passwd
    grep -q '^xen-qemuuser-shared:' /etc/group 2>/dev/null ||
        echo 'xen-qemuuser-shared:x:993:' >> /etc/group
fi
DMLOG=/var/log/xen/qemu-dm-domu.log

xv_fail() {
    for f in /run/xl-create.log /run/xl-destroy.log $DMLOG; do
        [ -f $f ] || continue
        echo "---- $f ----"
        tail -n 60 $f | sed 's/^/dom0| /'
    done
    fail "$@"
}
# xs_is PATH VALUE
xs_is() {
    v=$(xenstore-read "$1" 2>/dev/null)
    [ "$v" = "$2" ] || xv_fail "$1 is '$v', expected '$2'"
}

$XX -N create /domu/domu.cfg > /run/xl-dry.json 2>&1 || { cat /run/xl-dry.json; xv_fail "xenfv-xl -N create"; }
grep -q '"type": "virtio,device4"' /run/xl-dry.json || { cat /run/xl-dry.json; xv_fail "xl -N: no virtio,device4"; }
say "xl -N parses the virtio device"

# Timeline of the creation, from Xenstore, polled every 0.1 s.
(
    seen=""
    while :; do
        d=$(xenstore-list /local/domain/0/backend/virtio_disk 2>/dev/null | head -n1)
        for k in "disk-node:xenstore-exists /local/domain/0/backend/virtio_disk/$d/51712" \
                 "dm-pid:xenstore-exists /local/domain/$d/image/device-model-pid" \
                 "dm-running:xenstore-read /local/domain/0/device-model/$d/state" \
                 "disk-initwait:xenstore-read /local/domain/0/backend/virtio_disk/$d/51712/state" \
                 "virtio-initwait:xenstore-read /local/domain/0/backend/virtio/$d/0/state" \
                 "console-tty:xenstore-read /local/domain/$d/console/tty"; do
            n=${k%%:*}
            case " $seen " in *" $n "*) continue ;; esac
            [ -n "$d" ] || continue
            v=$(${k#*:} 2>/dev/null) || continue
            case $n in *initwait) [ "$v" = 2 ] || continue ;; dm-running) [ "$v" = running ] || continue ;; esac
            seen="$seen $n"
            echo "$(up) $n" >> /run/xv-timeline
        done
        usleep 100000
    done
) &
tl=$!
t0=$(up)
echo "$t0 xl-create" > /run/xv-timeline
$XX -vvv create /domu/domu.cfg > /run/xl-create.log 2>&1 || xv_fail "xenfv-xl create rc=$?"
t1=$(up)
echo "$t1 xl-create-returned" >> /run/xv-timeline
kill $tl
sort -n /run/xv-timeline | awk -v t0=$t0 '{ printf "timeline: +%.2f s %s\n", $1 - t0, $2 }' | while read -r l; do say "$l"; done
domid=$($XX domid domu) || xv_fail "no domain domu"
create_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
say "xenfv-xl create returned in $create_s s, domid $domid"
grep -E 'Spawning device-model|^libxl: debug: libxl_dm.c.*:  ' /run/xl-create.log | sed 's/^/dom0 xl| /' | head -30
dmpid=$(xenstore-read /local/domain/$domid/image/device-model-pid) || xv_fail "no device-model-pid"
alive $dmpid || xv_fail "device model $dmpid is not running"
args=$(tr '\0' ' ' < /proc/$dmpid/cmdline)
say "device model: $args"
if [ $dmrestrict = 1 ]; then
    want="-xen-domid-restrict|-chroot /var/run/xen/qemu-root-$domid|-runas xen-qemuuser-shared"
    qmp="-chardev socket,id=libxl-cmd,fd="
else
    want=""
    qmp="-chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-$domid,server=on,wait=off"
fi
IFS='|'
for a in "-xen-domid $domid" "-xen-attach" "-no-shutdown" "-machine xenfv" "-accel xen" \
         "-m $domu_mem" "-smp 1" "-name domu" "-nodefaults" "-no-user-config" "-display none" \
         "-mon chardev=libxl-cmd,mode=control" "-d guest_errors" "$qmp" $want; do
    case " $args " in *" $a"*) ;; *) unset IFS; xv_fail "device model command line lacks '$a'" ;; esac
done
unset IFS
xs_is /local/domain/0/device-model/$domid/state running
B=/local/domain/0/backend/virtio/$domid/0
xs_is $B/base 0x2000200
xs_is $B/irq 34
xs_is $B/type virtio,device4
xs_is $B/transport mmio
xs_is $B/grant_usage 0
xs_is $B/frontend-id $domid
xs_is $B/online 1
xs_is $B/state 2
xs_is $B/frontend /local/domain/$domid/device/virtio/0
F=/local/domain/$domid/device/virtio/0
xs_is $F/backend-id 0
xs_is $F/backend $B
xs_is /local/domain/0/backend/virtio_disk/$domid/51712/state 2
say "Xenstore: device model running, virtio disk and virtio device in InitWait"

wait_for 120 guest_says domu E2E-DOMU-DONE || xv_fail "domU did not finish within 120 s"
grep -E 'E2E-DOMU' $CONSLOG/guest-domu.log | sed 's/^/domU| /'
guest_says domu 'E2E-DOMU-DONE virtio ok' || xv_fail "in-guest virtio check failed"
guest_says domu 'E2E-DOMU-DT virtio@2000000 compatible=virtio,mmio interrupts=00000000 00000001 00000f01' ||
    xv_fail "guest device tree: no virtio@2000000 with SPI 33 edge"
guest_says domu 'E2E-DOMU-DT virtio@2000200 compatible=virtio,mmio interrupts=00000000 00000002 00000f01' ||
    xv_fail "guest device tree: no virtio@2000200 with SPI 34 edge"
guest_says domu 'E2E-DOMU-VIRTIO 2000000.virtio device=0x0002' || xv_fail "guest: no virtio-blk at 0x2000000"
guest_says domu 'E2E-DOMU-VIRTIO 2000200.virtio device=0x0004' || xv_fail "guest: no virtio-rng at 0x2000200"
# The guest's 2 MiB at offset 1 MiB, on the image too
want=$(yes E2E-XENFV-VIRTIO-PAST-1MIB | head -c 2097152 | md5sum | cut -d' ' -f1)
got=$(dd if=/domu/disk.img bs=64k skip=16 count=32 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$want" = "$got" ] || xv_fail "image: the guest's write past the first MiB is not there (md5 $got)"

t2=$(up)
$XX destroy domu > /run/xl-destroy.log 2>&1 || xv_fail "xenfv-xl destroy rc=$?"
t3=$(up)
destroy_s=$(awk "BEGIN { printf \"%.2f\", $t3 - $t2 }")
wait_for 2 eval '! alive $dmpid' || xv_fail "device model still running after xl destroy"
for p in /local/domain/0/backend/virtio/$domid /local/domain/0/backend/virtio_disk/$domid \
         /local/domain/0/device-model/$domid /libxl/$domid; do
    xenstore-exists $p 2>/dev/null && xv_fail "$p left behind after destroy"
done
# A broken device model (it reports running, then neither serves QMP nor
# the devices): libxl must fail the creation, destroy the domain and stop
# the device model. (libxl's QMP query after the start is what fails
# first; the 10 s wait for InitWait is not reached.)
cat > /run/dm-no-initwait <<'DM'
#!/bin/sh
# -xen-domid N is the first argument pair
xenstore-write /local/domain/0/device-model/$2/state running
exec sleep 1000
DM
chmod 755 /run/dm-no-initwait
sed -e 's|^device_model_override = .*|device_model_override = "/run/dm-no-initwait"|' \
    -e '/^dm_restrict/d' /domu/domu.cfg > /domu/domu-bad.cfg
t4=$(up)
if $XX create /domu/domu-bad.cfg > /run/xl-create-bad.log 2>&1; then
    cat /run/xl-create-bad.log
    xv_fail "xl create succeeded with a broken device model"
fi
t5=$(up)
bad_s=$(awk "BEGIN { printf \"%.1f\", $t5 - $t4 }")
grep -E 'unable to|wanted state|virtio device model|error' /run/xl-create-bad.log | head -8 | sed 's/^/dom0 xl-bad| /'
$XX list 2>/dev/null | grep -q '^domu ' && xv_fail "domain left behind by the failed create"
ps -o pid,args | grep -v grep | grep -q 'sleep 1000' &&
    xv_fail "device model left running by the failed create"
say "a broken device model: xl create fails in $bad_s s, nothing left behind"

how=""
[ $dmrestrict = 1 ] && how=" with dm_restrict"
pass "libxl started xenfv$how (create $create_s s), Xenstore layout and InitWait ok, guest sees virtio-blk at 0x2000000 and virtio-rng at 0x2000200 (SPIs 33, 34), destroy $destroy_s s, xenfv gone; a broken DM fails xl create in $bad_s s, nothing left"
