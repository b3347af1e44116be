#!/bin/busybox sh
# domU /init for the e2e environment. The test is chosen on the kernel
# command line with e2e=<test> (xl cfg `extra=`); results go to hvc0, which
# xenconsoled logs in dom0 (/var/log/xen/console/guest-<name>.log).
#   marker   print a marker, power off
#   ioreq    read the ioreq-probe's registers with busybox devmem, power off
#   blk      virtio-blk: write a pattern to /dev/vda, read it back, then idle
#            (dom0 checks the image and destroys the domain)
#   bench    blkbench on /dev/vda (virtio, xenfv) and /dev/xvdb (Xen PV):
#            a counting pass on vda between marker reads of the idle
#            transport at 0x2001000, then (after dom0 sends "go" on the
#            console) the timed pass on both disks and a full verify
#   modules  load every packed module (smoke test), power off
#   virtio   print the device tree's virtio@ nodes (E2E-DOMU-DT) and the
#            virtio devices found on them (E2E-DOMU-VIRTIO), read /dev/vda
#   shell    interactive shell on hvc0
/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

mode=marker
blk_bytes=1048576
bench_secs=3
for a in $(cat /proc/cmdline); do
    case $a in
    e2e=*) mode=${a#e2e=} ;;
    e2e_blk_bytes=*) blk_bytes=${a#e2e_blk_bytes=} ;;
    e2e_bench_secs=*) bench_secs=${a#e2e_bench_secs=} ;;
    esac
done

say() { echo "E2E-DOMU: $*"; }
off() { sync; poweroff -f; sleep 5; }
done_() { echo "E2E-DOMU-DONE $mode $*"; }

# load NAME: insmod NAME and its dependencies (lists made at image build time)
load() {
    local p n
    [ -f /etc/e2e/mod/$1 ] || { say "no module list for $1"; return 1; }
    for p in $(cat /etc/e2e/mod/$1); do
        n=$(basename "$p" .ko | tr - _)
        grep -q "^$n " /proc/modules && continue
        insmod "$p" || { say "insmod $p failed"; return 1; }
    done
}

say "init, mode $mode, uptime $(cut -d' ' -f1 /proc/uptime)"
case $mode in
marker)
    echo "E2E-DOMU-MARKER"
    done_ ok
    off
    ;;
virtio)
    for d in /proc/device-tree/virtio@*; do
        [ -d "$d" ] || continue
        echo "E2E-DOMU-DT $(basename $d) compatible=$(tr -d '\0' < $d/compatible)" \
            "interrupts=$(hexdump -v -e '4/1 "%02x" " "' $d/interrupts | xargs)" \
            "iommus=$([ -f $d/iommus ] && hexdump -v -e '4/1 "%02x" " "' $d/iommus | xargs || echo none)"
    done
    load virtio_mmio && load virtio_blk || { done_ FAIL modules; sleep 100000; }
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d/device" ] || continue
        echo "E2E-DOMU-VIRTIO $(basename $(readlink -f $d/..)) device=$(cat $d/device)"
    done
    if [ -b /dev/vda ] && head -c 4096 /dev/vda > /dev/null; then done_ ok; else done_ FAIL no-vda; fi
    sleep 100000
    ;;
ioreq)
    v=$(devmem 0x2000000 32)
    echo "E2E-DEVMEM 0x2000000 = $v"
    devmem 0x2000070 32 0x12345678
    w=$(devmem 0x2000070 32)
    echo "E2E-DEVMEM 0x2000070 = $w"
    done_ "$v $w"
    off
    ;;
blk)
    load virtio_mmio && load virtio_blk || { done_ FAIL modules; sleep 100000; }
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
    if [ ! -b /dev/vda ]; then
        say "no /dev/vda after 10 s"; cat /proc/partitions; dmesg | tail -20
        done_ FAIL no-vda
    else
        say "/dev/vda: $(cat /sys/block/vda/size) sectors"
        # The pattern: deterministic text, the same generator runs in dom0.
        yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" > /tmp/pat
        want=$(md5sum < /tmp/pat | cut -d' ' -f1)
        dd if=/tmp/pat of=/dev/vda bs=65536 conv=fsync 2>/dev/null || say "write failed"
        sync
        echo 3 > /proc/sys/vm/drop_caches
        got=$(head -c "$blk_bytes" /dev/vda | md5sum | cut -d' ' -f1)
        say "wrote md5 $want, read back md5 $got"
        if [ "$want" = "$got" ]; then done_ OK "$got"; else done_ FAIL mismatch; fi
    fi
    # Stay up: dom0 checks the image, then destroys us.
    while :; do sleep 1000; done
    ;;
bench)
    load virtio_mmio && load virtio_blk && load xen-blkfront ||
        { done_ FAIL modules; while :; do sleep 1000; done; }
    i=0
    while { [ ! -b /dev/vda ] || [ ! -b /dev/xvdb ]; } && [ $i -lt 300 ]; do
        usleep 100000; i=$((i + 1))
    done
    ok=OK
    if [ ! -b /dev/vda ] || [ ! -b /dev/xvdb ]; then
        say "no /dev/vda or /dev/xvdb after 30 s"; cat /proc/partitions; dmesg | tail -20
        ok=FAIL
    fi
    say "vda $(cat /sys/block/vda/size 2>/dev/null) sectors, xvdb $(cat /sys/block/xvdb/size 2>/dev/null) sectors"
    ev=0 ep=0
    # bb [-c] MODE DEV ARGS: one blkbench run; -c labels it BENCH-COUNT
    bb() {
        local tag=BENCH out x
        [ "$1" = -c ] && { tag=BENCH-COUNT; shift; }
        [ $ok = OK ] || return 1
        out=$(blkbench "$@" 2>&1) || { echo "$out"; say "blkbench $* failed"; ok=FAIL; return 1; }
        echo "$out" | sed "s/^BENCH /$tag /"
        x=$(echo "$out" | sed -n 's/.* extent=\([0-9]*\).*/\1/p')
        case $2 in
        /dev/vda) [ "${x:-0}" -gt $ev ] && ev=$x ;;
        /dev/xvdb) [ "${x:-0}" -gt $ep ] && ep=$x ;;
        esac
        return 0
    }
    mark() { devmem 0x2001000 32 > /dev/null; }
    mark
    bb -c randread /dev/vda 4096 -n64
    mark
    bb -c read /dev/vda 1048576 -n8
    mark
    bb -c write /dev/vda 1048576 -n8
    mark
    if [ $ok = OK ]; then
        echo "E2E-BENCH-COUNT-DONE"
        read -t 300 go
        say "dom0 says: ${go:-nothing in 300 s}"
        mark
        # A B B A per workload, half the time each: drift in the emulator's
        # speed over the run hits both disks alike.
        h=$(awk -v s=$bench_secs 'BEGIN { print s / 2 }')
        for w in "randread 4096" "read 1048576" "write 1048576"; do
            set -- $w
            bb $1 /dev/vda $2 $h
            bb $1 /dev/xvdb $2 $h
            bb $1 /dev/xvdb $2 $h
            bb $1 /dev/vda $2 $h
        done
        echo 3 > /proc/sys/vm/drop_caches
        [ $ok = OK ] && { blkbench verify /dev/vda $ev && blkbench verify /dev/xvdb $ep; } ||
            ok=FAIL
        sync
        echo "E2E-BENCH-EXTENT vda=$ev xvdb=$ep"
    fi
    done_ $ok
    while :; do sleep 1000; done
    ;;
modules)
    for m in /etc/e2e/mod/*; do load "$(basename "$m")"; done
    cut -d' ' -f1 /proc/modules | tr '\n' ' '; echo
    done_ ok
    off
    ;;
shell)
    exec setsid cttyhack sh
    ;;
*)
    say "unknown mode $mode"
    off
    ;;
esac
