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
#   life     lifecycle: check the previous boot's data, write this boot's,
#            then write and flush chunks until stopped (dom0 lifecycle-*)
#   modules  load every packed module (smoke test), power off
#   virtio   print the device tree's virtio@ nodes (E2E-DOMU-DT) and the
#            virtio devices found on them (E2E-DOMU-VIRTIO), read /dev/vda,
#            write 2 MiB at its 1 MiB offset and read them back
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
vda_wait=10
for a in $(cat /proc/cmdline); do
    case $a in
    e2e=*) mode=${a#e2e=} ;;
    e2e_blk_bytes=*) blk_bytes=${a#e2e_blk_bytes=} ;;
    e2e_bench_secs=*) bench_secs=${a#e2e_bench_secs=} ;;
    e2e_vda_wait=*) vda_wait=${a#e2e_vda_wait=} ;;
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
    ok=FAIL
    if [ -b /dev/vda ] && head -c 4096 /dev/vda > /dev/null; then
        # Past the first MiB of the image: a device model whose file size
        # limit is libxl's dm_restrict 256 KiB cannot write there.
        yes E2E-XENFV-VIRTIO-PAST-1MIB | head -c 2097152 > /tmp/pat
        want=$(md5sum < /tmp/pat | cut -d' ' -f1)
        dd if=/tmp/pat of=/dev/vda bs=64k seek=16 conv=fsync 2>/dev/null
        echo 3 > /proc/sys/vm/drop_caches
        got=$(dd if=/dev/vda bs=64k skip=16 count=32 2>/dev/null | md5sum | cut -d' ' -f1)
        echo "E2E-DOMU-VIRTIO-RW wrote $want read $got"
        [ "$want" = "$got" ] && ok=ok
    fi
    done_ $ok
    sleep 100000
    ;;
virtio-all)
    # dom0 mode xl-virtio-all (mode-xl-virtio-all.sh): all eleven
    # transports: disks vda-vdf, eth0, eth1, the console, an entropy
    # source and the GPU that xenfv serves; dom0 checks the other ends.
    # While vda, eth0, the console and the GPU are used in turn, the other
    # disks, eth1 and the entropy source are kept busy from both vCPUs.
    ok=ok
    bad() { echo "E2E-DOMU-$1 FAIL $2"; ok=FAIL; }
    for m in virtio_mmio virtio_blk virtio_net virtio_console virtio-gpu virtio-rng; do
        load $m || bad LOAD $m
    done
    i=0
    while { [ ! -b /dev/vdf ] || [ ! -e /sys/class/net/eth1 ] || [ ! -e /dev/fb0 ] ||
            [ ! -e /dev/dri/card0 ] || [ ! -c /dev/hwrng ] ||
            ! ls /sys/class/virtio-ports/ 2>/dev/null | grep -q .; } &&
          [ $i -lt 200 ]; do
        usleep 100000; i=$((i + 1))
    done
    for d in /sys/bus/virtio/devices/*; do
        [ -e "$d/device" ] && echo "E2E-DOMU-VIRTIO $(basename $(readlink -f $d/..)) device=$(cat $d/device)"
    done
    echo "E2E-DOMU-CPUS $(grep -c '^processor' /proc/cpuinfo)"
    # devof BASE: the disk on the transport at BASE (hex, no 0x)
    devof() {
        for b in /sys/block/vd*; do
            case $(readlink -f $b/device) in */$1.virtio/*) echo /dev/${b##*/}; return ;; esac
        done
        echo /dev/null
    }
    # storm jobs (scripts, so that $$ is the job and stat names its CPU):
    # each runs until /tmp/stop, pinned to CPU 0 or 1, and reports once
    rm -f /tmp/stop
    cat > /tmp/storm-disk <<'JOB'
# N DEV: write a round's 1 MiB pattern, flush, drop the device's cache,
# read it back; the image keeps the last round's
r=0
while [ $r = 0 ] || [ ! -e /tmp/stop ]; do
    r=$((r + 1))
    yes "E2E-DISK-$1-ROUND-$r" | head -c 1048576 > /tmp/pat$1
    dd if=/tmp/pat$1 of=$2 bs=65536 conv=fsync 2>/dev/null
    blockdev --flushbufs $2
    if [ "$(head -c 1048576 $2 | md5sum)" != "$(md5sum < /tmp/pat$1)" ]; then
        echo "E2E-DOMU-STORM-DISK$1 FAIL round $r"
        exit 1
    fi
    # busy, not flat out: under TCG the other steps must keep their pace
    usleep 200000
done
rm -f /tmp/pat$1
echo "E2E-DOMU-STORM-DISK$1 OK rounds=$r cpu=$(cut -d' ' -f39 /proc/$$/stat)"
JOB
    cat > /tmp/storm-rng <<'JOB'
b=0
while [ $b = 0 ] || [ ! -e /tmp/stop ]; do
    b=$((b + $(head -c 4096 /dev/hwrng | wc -c)))
    usleep 100000
done
echo "E2E-DOMU-STORM-RNG OK bytes=$b cpu=$(cut -d' ' -f39 /proc/$$/stat)"
JOB
    cat > /tmp/storm-net1 <<'JOB'
# dom0 is 10.99.1.1 on its second tap
ip addr add 10.99.1.2/24 dev eth1 && ip link set eth1 up || { echo "E2E-DOMU-STORM-NET1 FAIL ip config"; exit 1; }
n=0 t=0
while [ $t -lt 5 ] || [ ! -e /tmp/stop ]; do
    t=$((t + 1))
    ping -c 1 -W 2 10.99.1.1 > /dev/null 2>&1 && n=$((n + 1))
    [ $t -lt 600 ] || break
    usleep 300000
done
echo "E2E-DOMU-STORM-NET1 pings=$n/$t mac=$(cat /sys/class/net/eth1/address) cpu=$(cut -d' ' -f39 /proc/$$/stat)"
JOB
    storm=""
    for n in 2 3 4 5 6; do
        dev=$(devof $(printf '%x' $((0x2000000 + (n - 1) * 0x200))))
        echo "E2E-DOMU-STORM-DISK$n-DEV $dev"
        taskset $((n % 2 + 1)) sh /tmp/storm-disk $n $dev &
        storm="$storm $!"
    done
    taskset 1 sh /tmp/storm-rng &
    storm="$storm $!"
    taskset 2 sh /tmp/storm-net1 &
    storm="$storm $!"
    # disk: xenfv-blk's pattern round trip on the first transport's disk
    vda=$(devof 2000000)
    yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" > /tmp/pat
    want=$(md5sum < /tmp/pat | cut -d' ' -f1)
    dd if=/tmp/pat of=$vda bs=65536 conv=fsync 2>/dev/null
    blockdev --flushbufs $vda
    got=$(head -c "$blk_bytes" $vda 2>/dev/null | md5sum | cut -d' ' -f1)
    rm -f /tmp/pat
    if [ "$want" = "$got" ]; then echo "E2E-DOMU-DISK OK $got"; else bad DISK "wrote $want, read $got"; fi
    # net: dom0 is 10.99.0.1 on its tap
    echo "E2E-DOMU-NET-MAC $(cat /sys/class/net/eth0/address)"
    ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up || bad NET "ip config"
    # (stdin kept open: busybox nc half-closes when its stdin ends)
    sleep 1000 | nc -l -p 5001 > /tmp/from-dom0 &
    ncl=$!
    i=0
    until ping -c 1 -W 1 10.99.0.1 > /dev/null 2>&1 || [ $i -ge 40 ]; do i=$((i + 1)); done
    echo "E2E-DOMU-PING $(ping -c 3 -W 2 10.99.0.1 2>&1 | grep 'packets transmitted')"
    head -c 1048576 /dev/urandom > /tmp/to-dom0
    nc 10.99.0.1 5000 < /tmp/to-dom0 || bad NET "nc to dom0 rc=$?"
    echo "E2E-DOMU-NET-SENT md5=$(md5sum < /tmp/to-dom0 | cut -d' ' -f1) bytes=$(wc -c < /tmp/to-dom0)"
    rm -f /tmp/to-dom0
    echo "E2E-DOMU-NET-LISTENING 10.99.0.2 5001"
    i=0
    while kill -0 $ncl 2>/dev/null && [ $i -lt 600 ]; do usleep 100000; i=$((i + 1)); done
    echo "E2E-DOMU-NET-RECEIVED md5=$(md5sum < /tmp/from-dom0 | cut -d' ' -f1) bytes=$(wc -c < /tmp/from-dom0)"
    rm -f /tmp/from-dom0
    # console: hvc0 is Xen's console; the virtio console is the next hvc
    vdev=""
    for t in /sys/class/tty/hvc*; do
        [ "$(readlink -f $t/device 2>/dev/null | grep -c virtio)" = 1 ] && vdev=/dev/${t##*/}
    done
    [ -n "$vdev" ] || vdev=/dev/hvc1
    echo "E2E-DOMU-VCON-DEV $vdev ports=$(ls /sys/class/virtio-ports | xargs)"
    if exec 3<>$vdev && stty -F $vdev raw -echo; then
        tok=$(head -c 8 /dev/urandom | md5sum | cut -c1-12)
        echo "E2E-VCON-FROM-GUEST $tok" >&3
        echo "E2E-DOMU-VCON-WRITTEN $tok"
        line=""
        read -t 60 line <&3
        echo "E2E-DOMU-VCON-GOT $line"
        exec 3>&-
    else
        bad VCON "cannot open $vdev"
    fi
    # gpu: four coloured quadrants into fb0 (XRGB8888: B G R X in memory)
    for v in /sys/class/vtconsole/vtcon*; do
        grep -q 'frame buffer' $v/name 2>/dev/null && echo 0 > $v/bind
    done
    fb=/sys/class/graphics/fb0
    W=$(cut -d, -f1 $fb/virtual_size) H=$(cut -d, -f2 $fb/virtual_size)
    S=$(cat $fb/stride) bpp=$(cat $fb/bits_per_pixel)
    echo "E2E-DOMU-FB name=$(cat $fb/name) ${W}x${H} bpp=$bpp stride=$S dri=$(ls /dev/dri | xargs)"
    # rep BYTES: stdin repeated to exactly BYTES bytes
    rep() {
        cat > /tmp/rep.0
        while [ "$(wc -c < /tmp/rep.0)" -lt "$1" ]; do
            cat /tmp/rep.0 /tmp/rep.0 > /tmp/rep.1 && mv /tmp/rep.1 /tmp/rep.0
        done
        head -c "$1" /tmp/rep.0
        rm -f /tmp/rep.0
    }
    if [ "$bpp" = 32 ] && [ -c /dev/fb0 ]; then
        hw=$((W / 2))
        pad=$((S - W * 4))
        { printf '\020\200\360\000' | rep $((hw * 4)); printf '\200\360\020\000' | rep $(((W - hw) * 4))
          [ $pad -gt 0 ] && head -c $pad /dev/zero; } > /tmp/row0
        { printf '\360\020\200\000' | rep $((hw * 4)); printf '\140\100\040\000' | rep $(((W - hw) * 4))
          [ $pad -gt 0 ] && head -c $pad /dev/zero; } > /tmp/row1
        { rep $((S * (H / 2))) < /tmp/row0; rep $((S * (H - H / 2))) < /tmp/row1; } > /tmp/fbimg
        # One write(2) of the whole picture: Debian 12's kernel (6.1) loses
        # the damage of a write that stays within one line and ends at its
        # end (drm_fb_helper_memory_range_to_clip: x2 = 0), so 4 KiB writes
        # of 5120-byte lines left every fifth page out of the host's copy.
        dd if=/tmp/fbimg of=/dev/fb0 bs=$((S * H)) count=1 2>/dev/null || bad FB "write to /dev/fb0"
        rm -f /tmp/row0 /tmp/row1 /tmp/fbimg
        echo "E2E-DOMU-FB-WRITTEN $W $H $S"
    else
        bad FB "no 32 bpp /dev/fb0"
    fi
    # dom0 takes its screendump while the storm goes on; it ends when
    # dom0 says so (E2E-STOP on hvc1), or after 120 s
    if exec 3<>$vdev; then
        line=""
        read -t 120 line <&3
        exec 3>&-
        echo "E2E-DOMU-STOP-GOT $line"
    fi
    : > /tmp/stop
    for p in $storm; do wait $p || ok=FAIL; done
    # each transport's interrupt: linux irq, interrupts on all CPUs, SPI
    # (GIC INTID), name
    awk '/virtio/ { n = 0; k = 2
                    while ($k ~ /^[0-9]+$/) { n += $k; k++ }
                    print "E2E-DOMU-IRQ", $1, n, $(k + 1), $NF }' /proc/interrupts
    done_ $ok
    while :; do sleep 1000; done
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
    while [ ! -b /dev/vda ] && [ $i -lt $((vda_wait * 10)) ]; do usleep 100000; i=$((i + 1)); done
    if [ ! -b /dev/vda ]; then
        say "no /dev/vda after $vda_wait s"; cat /proc/partitions; dmesg | tail -20
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
        # The driver goes and comes back: the device is reset, found
        # again, and must give the data back.
        again=""
        if rmmod virtio_blk && [ ! -b /dev/vda ] && load virtio_blk; then
            i=0
            while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
            again=$(head -c "$blk_bytes" /dev/vda 2>/dev/null | md5sum | cut -d' ' -f1)
        fi
        say "virtio_blk unloaded and loaded again: read back md5 ${again:-none}"
        if [ "$want" != "$got" ]; then done_ FAIL mismatch
        elif [ "$want" != "$again" ]; then done_ FAIL after-reprobe
        else done_ OK "$got"; fi
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
life)
    # dom0 modes lifecycle-* (lifecycle.sh): the guest is rebooted, shut
    # down, destroyed and has its device model killed, always in the middle
    # of writes. Layout of /dev/vda (512-byte sectors, each holding its own
    # number and the boot's token, so a misplaced sector shows):
    #   sector 0            "E2E-LIFE <token> <md5 of the data region>"
    #   1 MiB .. 2 MiB      data region, written once per boot, one writer per vCPU
    #   4 MiB ..            128 KiB chunks written in a loop until the end,
    #                       each reported flushed (E2E-DOMU-FLUSHED k) after fsync
    # At boot the previous boot's header and data must read back intact.
    # xl shutdown/reboot reach this shell (pid 1) as busybox poweroff's
    # SIGUSR2 / reboot's SIGTERM; a trap only runs between commands, hence
    # `wait` below.
    trap 'sync; poweroff -f' USR1 USR2
    trap 'sync; reboot -f' TERM
    load virtio_mmio && load virtio_blk || { done_ FAIL modules; while :; do sleep 1000 & wait $!; done; }
    i=0
    while [ ! -b /dev/vda ] && [ $i -lt $((vda_wait * 10)) ]; do usleep 100000; i=$((i + 1)); done
    [ -b /dev/vda ] || { done_ FAIL no-vda; while :; do sleep 1000 & wait $!; done; }
    tok=$(head -c 6 /dev/urandom | md5sum | cut -c1-10)
    say "vda $(cat /sys/block/vda/size) sectors, $(grep -c ^processor /proc/cpuinfo) vCPUs, token $tok, up $(cut -d" " -f1 /proc/uptime)"
    # pat TOKEN FIRST N: sectors FIRST..FIRST+N-1 as they are written
    pat() { awk -v t="$1" -v s="$2" -v n="$3" \
        'BEGIN { for (i = s; i < s + n; i++) printf "%-511s\n", "E2E-LIFE " t " sector " i }'; }
    ok=OK
    set -- $(head -c 512 /dev/vda | tr -d '\0')
    if [ "${1:-}" = E2E-LIFE ]; then
        got=$(dd if=/dev/vda bs=1M skip=1 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
        if [ "$got" = "$3" ]; then say "previous boot $2: data intact"; echo "E2E-DOMU-PREV $2 ok"
        else echo "E2E-DOMU-PREV $2 BAD (md5 $got, header $3)"; ok=FAIL; fi
    else
        echo "E2E-DOMU-PREV none"
    fi
    # Two writers at once, 512 KiB each (both vCPUs busy with I/O).
    ( pat $tok 2048 1024 | dd of=/dev/vda bs=64k seek=16 conv=fsync 2>/dev/null ) &
    w1=$!
    ( pat $tok 3072 1024 | dd of=/dev/vda bs=64k seek=24 conv=fsync 2>/dev/null ) &
    w2=$!
    wait $w1 && wait $w2 || ok=FAIL
    echo 3 > /proc/sys/vm/drop_caches
    md=$(dd if=/dev/vda bs=1M skip=1 count=1 2>/dev/null | md5sum | cut -d' ' -f1)
    [ "$md" = "$(pat $tok 2048 2048 | md5sum | cut -d' ' -f1)" ] || { say "data region reads back wrong"; ok=FAIL; }
    printf '%-512s' "E2E-LIFE $tok $md" | dd of=/dev/vda conv=fsync,notrunc 2>/dev/null || ok=FAIL
    done_ $ok token=$tok md5=$md up=$(cut -d' ' -f1 /proc/uptime)
    (
        k=0
        while :; do
            pat "$tok-$k" $((8192 + (k % 240) * 256)) 256 |
                dd of=/dev/vda bs=64k seek=$((64 + (k % 240) * 2)) conv=fsync 2>/dev/null &&
                echo "E2E-DOMU-FLUSHED $tok $k"
            k=$((k + 1))
        done
    ) &
    while :; do sleep 1000 & wait $!; done
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
