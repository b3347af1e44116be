#!/bin/busybox sh
# dom0 /init for the e2e environment (workshop/e2e/boot passes e2e=<mode>).
# Every test ends with exactly one line
#   E2E-RESULT PASS|FAIL|SKIP <mode>[: reason]
# and then powers off (Xen then powers the emulated machine off).
# Modes:
#   marker       print a marker, power off (no Xen tools)
#   xl           start xenstored/xenconsoled, `xl info`
#   domu         xl create a plain domU, wait for its marker in xenconsoled's log
#   ioreq-probe  ioreq-probe serves the MMIO of a standalone virtio disk
#   xenfv-blk    the cross-built QEMU (-M xenfv) serves virtio-blk to a domU
#   shell        interactive shell with the toolstack running
#   cmd          like shell, prints E2E-DOM0-SHELL-READY for `boot cmd`
# Options on the command line: e2e_domu_mem=MiB e2e_hs=script|dm
# e2e_blk_bytes=N e2e_xlv=-vvv e2e_dm=qemu|stub
/bin/busybox mkdir -p /proc /sys /dev /run /tmp /var /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
[ -e /var/run ] || ln -s /run /var/run
mkdir -p /run/xen /run/xenstored /var/lib/xen /var/lib/xenstored /var/log/xen/console /etc/xen
[ -e /etc/xen/xl.conf ] || : > /etc/xen/xl.conf

mode=marker
domu_mem=128
hs=script
dm=qemu
blk_bytes=1048576
xlv=
for a in $(cat /proc/cmdline); do
    case $a in
    e2e=*) mode=${a#e2e=} ;;
    e2e_domu_mem=*) domu_mem=${a#*=} ;;
    e2e_hs=*) hs=${a#*=} ;;
    e2e_blk_bytes=*) blk_bytes=${a#*=} ;;
    e2e_xlv=*) xlv=${a#*=} ;;
    e2e_dm=*) dm=${a#*=} ;;
    esac
done

VDISK='format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=/domu/disk.img'
CONSLOG=/var/log/xen/console

up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "E2E-DOM0: [$(up)] $*"; }
finish() {
    sync
    echo "E2E-RESULT $*"
    poweroff -f
    sleep 10
}
pass() { finish "PASS $mode${1:+: $*}"; }
skip() { finish "SKIP $mode: $*"; }
fail() {
    say "FAIL: $*"
    dump_logs
    finish "FAIL $mode: $*"
}

dump_logs() {
    local f
    for f in $CONSLOG/guest-*.log; do
        [ -f "$f" ] || continue
        echo "---- domU console ($f), last 60 lines ----"
        tail -n 60 "$f" | sed 's/^/domU| /'
    done
    for f in /run/probe.log /run/handshake.log /run/qemu.log; do
        [ -f "$f" ] || continue
        echo "---- $f, last 40 lines ----"
        tail -n 40 "$f" | sed 's/^/dom0| /'
    done
    [ -S /run/xenstored/socket ] || [ -e /proc/xen/xenbus ] || return 0
    echo "---- xl list ----"
    xl list 2>&1 | sed 's/^/dom0| /'
}

# load NAME: insmod NAME and its dependencies (lists made at image build time)
load() {
    local p n
    [ -f /etc/e2e/mod/$1 ] || fail "no module list for $1"
    for p in $(cat /etc/e2e/mod/$1); do
        n=$(basename "$p" .ko | tr - _)
        grep -q "^$n " /proc/modules && continue
        insmod "$p" || fail "insmod $p"
    done
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s
wait_for() {
    local n=$(($1 * 5))
    shift
    while [ $n -gt 0 ]; do
        "$@" && return 0
        usleep 200000
        n=$((n - 1))
    done
    return 1
}

alive() { [ -d /proc/$1 ] && ! grep -q '^State:[[:space:]]*Z' /proc/$1/status 2>/dev/null; }

# Start the toolstack the way Debian's /etc/init.d/xen does.
setup_xen() {
    local m
    for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do load $m; done
    mkdir -p /proc/xen
    mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
    grep -q control_d /proc/xen/capabilities || fail "not the control domain"
    XENSTORED_ROOTDIR=/run/xenstored xenstored --pid-file /run/xenstore.pid ||
        fail "xenstored"
    wait_for 10 xenstore-read -s / >/dev/null 2>&1 || fail "xenstored does not answer"
    xen-init-dom0 >/run/xen-init-dom0.log 2>&1 || fail "xen-init-dom0"
    xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=$CONSLOG ||
        fail "xenconsoled"
    say "toolstack up"
}

# mkcfg NAME TEST [DISK]: a domU with the shared kernel/initrd running TEST
mkcfg() {
    cat > /domu/$1.cfg <<EOF
name="$1"
kernel="/domu/Image"
ramdisk="/domu/initrd.gz"
extra="console=hvc0 rdinit=/init e2e=$2 e2e_blk_bytes=$blk_bytes"
memory=$domu_mem
vcpus=1
EOF
    [ -z "${3:-}" ] || echo "disk=['$3']" >> /domu/$1.cfg
}

guest_says() { grep -q "$2" "$CONSLOG/guest-$1.log" 2>/dev/null; }

make_disk() { dd if=/dev/zero of=/domu/disk.img bs=1M count=16 2>/dev/null || fail "disk image"; }

echo "E2E-DOM0-MARKER mode=$mode uptime=$(up)"

case $mode in
marker)
    pass
    ;;
xl)
    setup_xen
    xl info > /run/xlinfo 2>&1 || { cat /run/xlinfo; fail "xl info rc=$?"; }
    sed 's/^/xl-info| /' /run/xlinfo
    grep -q '^xen_version *: 4\.17' /run/xlinfo || fail "xl info: no xen_version 4.17"
    pass "$(grep -E '^(xen_version|nr_cpus|free_memory)' /run/xlinfo | tr -s ' ' | tr '\n' ' ')"
    ;;
domu)
    setup_xen
    mkcfg domu marker
    xl $xlv create /domu/domu.cfg || fail "xl create rc=$?"
    say "xl create returned"
    wait_for 90 guest_says domu E2E-DOMU-MARKER || fail "no domU marker within 90 s"
    say "domU marker seen"
    pass
    ;;
ioreq-probe)
    setup_xen
    make_disk
    ioreq-probe -t 150 > /run/probe.log 2>&1 &
    probe=$!
    mkcfg domu ioreq "$VDISK"
    xl $xlv create -p /domu/domu.cfg || fail "xl create -p rc=$? (backend handshake?)"
    say "xl create -p returned, domid $(xl domid domu)"
    xl unpause domu || fail "xl unpause"
    wait_for 90 guest_says domu E2E-DOMU-DONE || fail "domU did not finish within 90 s"
    say "domU done; waiting for the probe"
    wait_for 30 eval '! alive $probe' || fail "ioreq-probe still running 30 s after the domU finished"
    wait $probe
    rc=$?
    sed 's/^/dom0| /' /run/probe.log
    grep 'E2E-DEVMEM' $CONSLOG/guest-domu.log | sed 's/^/domU| /'
    [ $rc -eq 0 ] || fail "ioreq-probe rc=$rc"
    guest_says domu 'E2E-DEVMEM 0x2000000 = 0x74726976' ||
        fail "guest devmem did not read the served 0x74726976"
    guest_says domu 'E2E-DEVMEM 0x2000070 = 0x12345678' ||
        fail "guest devmem write/read-back through the probe failed"
    grep -q 'set_irq_level([0-9]*, 33, 1) = 0' /run/probe.log || fail "set_irq_level(33) != 0"
    pass "devmem 0x2000000 = 0x74726976, set_irq_level(33,1) = 0, handshake 1->2, 5->6"
    ;;
xenfv-blk)
    # WAITING FOR THE BINARY: needs the cross-built qemu-system-aarch64 with
    # the xenfv machine (work/build-cross/qemu-system-aarch64) in the image.
    # e2e_dm=stub runs the same test against virtio-blk-stub, a ~400-line
    # stand-in device model (not the product), to validate this harness.
    Q=/usr/local/bin/qemu-system-aarch64
    [ $dm = stub ] || [ -x $Q ] ||
        skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
    setup_xen
    make_disk
    mkcfg domu blk "$VDISK"
    # libxl 4.17 blocks in `xl create` (even with -p) until the backend
    # state is exactly 2, and the domid is only known once it runs.
    #  e2e_hs=script (default): xenfv-blk-handshake writes 1 -> 2 and later
    #    5 -> 6; QEMU is started after `xl create -p` returns and finds
    #    state 2 already written.
    #  e2e_hs=dm: a watcher starts QEMU as soon as libxl has written the
    #    backend (the domid is in its path); QEMU itself must write 2 within
    #    10 s, and 6 when libxl writes 5 on destroy.
    dm() {
        [ $dm = stub ] && exec virtio-blk-stub -d "$1" -f /domu/disk.img -m "$domu_mem" \
            > /run/qemu.log 2>&1
        exec $Q -M xenfv -accel xen -xen-domid "$1" -xen-attach -smp 1 -m "$domu_mem" \
            -nodefaults -display none \
            -drive if=none,id=d0,file=/domu/disk.img,format=raw \
            -device virtio-blk-device,drive=d0 > /run/qemu.log 2>&1
    }
    case $hs in
    script)
        xenfv-blk-handshake -t 150 > /run/handshake.log 2>&1 &
        xl $xlv create -p /domu/domu.cfg || fail "xl create -p rc=$? (backend handshake?)"
        domid=$(xl domid domu)
        say "xl create -p returned, domid $domid; starting the device model"
        dm "$domid" &
        qpid=$!
        ;;
    dm)
        (
            n=0
            while [ $n -lt 300 ]; do
                d=$(xenstore-list /local/domain/0/backend/virtio_disk 2>/dev/null | head -n1)
                [ -n "$d" ] && dm "$d"
                usleep 100000
                n=$((n + 1))
            done
        ) &
        qpid=$!
        xl $xlv create -p /domu/domu.cfg || fail "xl create -p rc=$? (did QEMU write backend state 2?)"
        domid=$(xl domid domu)
        say "xl create -p returned, domid $domid (device model started by the watcher)"
        ;;
    *) fail "unknown e2e_hs=$hs" ;;
    esac
    dmstate() { [ "$(xenstore-read /local/domain/0/device-model/$domid/state 2>/dev/null)" = running ]; }
    if wait_for 20 eval 'dmstate || ! alive $qpid'; then :; fi
    alive $qpid || fail "device model exited at start-up"
    dmstate && say "device model state: running" ||
        say "device model wrote no device-model/$domid/state=running in 20 s; unpausing anyway"
    xl unpause domu || fail "xl unpause"
    wait_for 120 guest_says domu E2E-DOMU-DONE || fail "domU did not finish within 120 s"
    guest_says domu 'E2E-DOMU-DONE blk OK' || fail "in-guest virtio-blk test failed"
    want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
    got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
    say "image md5 $got, expected $want"
    [ "$want" = "$got" ] || fail "disk image does not hold the guest's pattern"
    t0=$(up)
    xl $xlv destroy domu || fail "xl destroy rc=$?"
    t1=$(up)
    n=0
    while alive $qpid && [ $n -lt 20 ]; do usleep 50000; n=$((n + 1)); done
    t2=$(up)
    dt=$(awk "BEGIN { printf \"%.2f\", $t2 - $t1 }")
    say "xl destroy took $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
    for f in /run/handshake.log /run/qemu.log; do
        [ -f $f ] && sed "s|^|dom0 $(basename $f .log)\| |" $f
    done
    alive $qpid && fail "device model still running ${dt} s after xl destroy"
    pass "pattern round trip ok, DM exited ${dt} s after xl destroy"
    ;;
shell|cmd)
    setup_xen
    echo "E2E-DOM0-SHELL-READY"
    exec setsid cttyhack sh
    ;;
*)
    fail "unknown mode"
    ;;
esac
