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
#   xenpvh-blk   the same with the upstream track's QEMU 10.2 (-M xenpvh),
#                started by the launcher for a plain xl create
#   stock-xl-blk launcher/xenfv-launcher starts xenfv for plain `xl create`s
#   lifecycle-stock, lifecycle-xl  create, reboot, shutdown, destroy and a
#                killed QEMU, stock xl + launcher or the series' xl (lifecycle.sh)
#   shell        interactive shell with the toolstack running
#   cmd          like shell, prints E2E-DOM0-SHELL-READY for `boot cmd`
# Options on the command line: e2e_domu_mem=MiB e2e_hs=script|dm
# e2e_blk_bytes=N e2e_xlv=-vvv e2e_dm=qemu|stub e2e_bench_secs=S
# e2e_bench_mib=M e2e_dmtrace=PATTERN[,PATTERN] (QEMU -trace, to /run/qemu.log
# or bench-blk's trace file)
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
hs=
dm=qemu
blk_bytes=1048576
bench_secs=3
bench_mib=32
dmtrace=
xlv=
for a in $(cat /proc/cmdline); do
    case $a in
    e2e=*) mode=${a#e2e=} ;;
    e2e_domu_mem=*) domu_mem=${a#*=} ;;
    e2e_hs=*) hs=${a#*=} ;;
    e2e_blk_bytes=*) blk_bytes=${a#*=} ;;
    e2e_xlv=*) xlv=${a#*=} ;;
    e2e_dm=*) dm=${a#*=} ;;
    e2e_bench_secs=*) bench_secs=${a#*=} ;;
    e2e_dmtrace=*) dmtrace=${a#*=} ;;
    e2e_bench_mib=*) bench_mib=${a#*=} ;;
    esac
done
# xenfv answers the backend handshake itself; the stub needs the script.
[ -n "$hs" ] || { [ $dm = stub ] && hs=script || hs=dm; }

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
    for f in /run/probe.log /run/handshake.log /run/qemu.log /run/launcher.log; do
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

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s for SECONDS of
# dom0 uptime (TCG makes a count of polls a poor clock)
wait_for() {
    local end
    end=$(awk -v u="$(up)" -v s="$1" 'BEGIN { printf "%d", u + s }')
    shift
    while :; do
        "$@" && return 0
        [ "$(up | cut -d. -f1)" -lt "$end" ] || return 1
        usleep 200000
    done
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

# mkcfg NAME TEST [DISK [DISK2]]: a domU with the shared kernel/initrd running TEST
mkcfg() {
    cat > /domu/$1.cfg <<EOF
name="$1"
kernel="/domu/Image"
ramdisk="/domu/initrd.gz"
extra="console=hvc0 rdinit=/init e2e=$2 e2e_blk_bytes=$blk_bytes e2e_bench_secs=$bench_secs"
memory=$domu_mem
vcpus=1
EOF
    if [ -n "${4:-}" ]; then
        echo "disk=['$3', '$4']" >> /domu/$1.cfg
    elif [ -n "${3:-}" ]; then
        echo "disk=['$3']" >> /domu/$1.cfg
    fi
}

guest_says() { grep -q "$2" "$CONSLOG/guest-$1.log" 2>/dev/null; }

# launcher_host: what a Debian host running launcher/xenfv-launcher has
# and this busybox root lacks: the user QEMU drops to (xenfv, as the
# package makes it) and a cgroup v2 hierarchy.
XENFV_UID=990
launcher_host() {
    [ -e /etc/passwd ] || echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
    [ -e /etc/group ] || echo 'root:x:0:' > /etc/group
    grep -q '^xenfv:' /etc/passwd ||
        echo "xenfv:x:$XENFV_UID:$XENFV_UID:xenfv device model:/nonexistent:/bin/false" >> /etc/passwd
    grep -q '^xenfv:' /etc/group || echo "xenfv:x:$XENFV_UID:" >> /etc/group
    [ -e /sys/fs/cgroup/cgroup.procs ] || mount -t cgroup2 cgroup2 /sys/fs/cgroup ||
        fail "cannot mount cgroup2"
}

# start_launcher: run /usr/sbin/xenfv-launcher with /etc/default's settings,
# its output in /run/launcher.log, until it watches; sets lpid
start_launcher() {
    /usr/sbin/xenfv-launcher > /run/launcher.log 2>&1 &
    lpid=$!
    wait_for 10 grep -q watching /run/launcher.log || fail "xenfv-launcher did not start"
}

# dm_confined PID DOMID: the launcher's QEMU for DOMID runs as xenfv, under
# its seccomp filter, chrooted, in a cgroup of its own (it drops to the
# user and the chroot once its machine is built: allow it that)
dm_confined() {
    local i=0 uid="" sec="" root="" cg=""
    while [ $i -lt 100 ]; do
        uid=$(awk '/^Uid:/ { print $2 }' /proc/$1/status 2>/dev/null)
        [ "$uid" = $XENFV_UID ] && break
        usleep 100000
        i=$((i + 1))
    done
    sec=$(awk '/^Seccomp:/ { print $2 }' /proc/$1/status 2>/dev/null)
    root=$(readlink /proc/$1/root)
    cg=$(cat /proc/$1/cgroup 2>/dev/null)
    say "QEMU of domain $2 (pid $1): uid $uid, seccomp mode $sec, root $root, cgroup ${cg#0::}"
    [ "$uid" = $XENFV_UID ] || fail "QEMU of domain $2 runs as uid $uid, not xenfv ($XENFV_UID)"
    [ "$sec" = 2 ] || fail "QEMU of domain $2: seccomp mode '$sec', not 2 (filter)"
    [ "$root" = /run/xenfv-launcher/$2/root ] || fail "QEMU of domain $2: root $root, not its chroot"
    [ "$cg" = "0::/xenfv/dm-$2" ] || fail "QEMU of domain $2: cgroup $cg, not xenfv/dm-$2"
}

make_disk() { dd if=/dev/zero of=/domu/disk.img bs=1M count=16 2>/dev/null || fail "disk image"; }

Q=/usr/local/bin/qemu-system-aarch64
QU=/usr/local/bin/qemu-system-aarch64-upstream
DM_EXTRA=""

# start_domu_dm IMAGE: xl create -p the domU, start its device model
# (xenfv, or virtio-blk-stub with e2e_dm=stub) serving IMAGE; sets domid,
# qpid. QEMU's output (with -d guest_errors) goes to /run/qemu.log.
#  libxl 4.17 blocks in `xl create` (even with -p) until the backend state
#  is exactly 2, and the domid is only known once it runs.
#  e2e_hs=dm (default with xenfv): a watcher starts the DM as soon as
#    libxl has written the backend (the domid is in its path); the DM
#    itself must write 2 within 10 s, and 6 when libxl writes 5 on destroy.
#  e2e_hs=script (default with the stub): xenfv-blk-handshake writes
#    1 -> 2 and later 5 -> 6; the DM is started after `xl create -p`
#    returns and finds state 2 already written.
start_domu_dm() {
    dm_img=$1
    case $hs in
    script)
        xenfv-blk-handshake -t 300 > /run/handshake.log 2>&1 &
        xl $xlv create -p /domu/domu.cfg || fail "xl create -p rc=$? (backend handshake?)"
        domid=$(xl domid domu)
        say "xl create -p returned, domid $domid; starting the device model"
        run_dm "$domid" &
        qpid=$!
        ;;
    dm)
        (
            n=0
            while [ $n -lt 300 ]; do
                d=$(xenstore-list /local/domain/0/backend/virtio_disk 2>/dev/null | head -n1)
                [ -n "$d" ] && run_dm "$d"
                usleep 100000
                n=$((n + 1))
            done
        ) &
        qpid=$!
        xl $xlv create -p /domu/domu.cfg || fail "xl create -p rc=$? (did the DM write backend state 2?)"
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
}

run_dm() {
    local t
    set -f
    for t in $(echo "$dmtrace" | tr , ' '); do DM_EXTRA="$DM_EXTRA -trace $t"; done
    [ $dm = stub ] && exec virtio-blk-stub -d "$1" -f "$dm_img" -m "$domu_mem" \
        > /run/qemu.log 2>&1
    # The disk (and where it goes) comes from libxl's Xenstore nodes.
    # shellcheck disable=SC2086
    exec $Q -M xenfv -accel xen -xen-domid "$1" -xen-attach -smp 1 -m "$domu_mem" \
        -nodefaults -display none -d guest_errors $DM_EXTRA > /run/qemu.log 2>&1
}

# destroy_domu_dm: xl destroy; the DM must be gone within 1 s of it
# returning, on its own. Sets destroy_s, dm_gone_s (from the start of xl
# destroy) and dm_after_s (from its return).
destroy_domu_dm() {
    local t0 t1 t2 tg="" n=0
    t0=$(up)
    xl $xlv destroy domu > /run/destroy.log 2>&1 &
    local xpid=$!
    # Watch both: the DM may go while xl destroy is still running.
    while alive $xpid; do
        [ -z "$tg" ] && ! alive $qpid && tg=$(up)
        usleep 20000
    done
    wait $xpid || { cat /run/destroy.log; fail "xl destroy failed"; }
    t1=$(up)
    while alive $qpid && [ $n -lt 20 ]; do usleep 50000; n=$((n + 1)); done
    t2=$(up)
    [ -n "$tg" ] || tg=$t2
    destroy_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
    dm_gone_s=$(awk "BEGIN { printf \"%.2f\", $tg - $t0 }")
    dm_after_s=$(awk "BEGIN { d = $tg - $t1; printf \"%.2f\", d < 0 ? 0 : d }")
    say "xl destroy took ${destroy_s} s; DM gone ${dm_gone_s} s after it started"
    sed 's/^/dom0 xl-destroy| /' /run/destroy.log
    for f in /run/handshake.log /run/qemu.log; do
        [ -f $f ] && sed "s|^|dom0 $(basename $f .log)\| |" $f
    done
    alive $qpid && fail "device model still running 1 s after xl destroy returned"
    [ -n "${dm_not_child:-}" ] && return 0
    wait $qpid 2>/dev/null
    say "device model exit status $?"
}

# bench_table: the guest's BENCH lines + xenfv's trace -> E2E-BENCH table.
bench_table() {
    local g=$CONSLOG/guest-domu.log
    tr -d '\r' < $g | grep -E '^(BENCH-COUNT|BENCH) ' > /run/bench-guest.txt
    awk -v trace=/run/qemu-trace.log -v stub=$([ $dm = stub ] && echo 1 || echo 0) '
    function kv(s, k,   r) { r = s; if (!match(r, k "=[^ ]*")) return ""; return substr(r, RSTART + length(k) + 1, RLENGTH - length(k) - 1) }
    BEGIN {
        seg = 0
        while ((getline l < trace) > 0) {
            if (l ~ /handle_ioreq / && l ~ /port=0x2001000 /) { seg++; continue }
            if (l ~ /handle_ioreq /) { io[seg]++; if (l ~ / dir=1 /) rd[seg]++; else wr[seg]++; if (l !~ / type=0 /) other[seg]++ }
            else if (l ~ /xen_arm_spi_set / && l ~ /level 1/) spi[seg]++
            else if (l ~ /virtio_blk_req_complete /) dmreq[seg]++
            else if (l ~ /xen_arm_ioreq_rejected /) rej[seg]++
            else if (l ~ /xen_remap_bucket /) remap[seg]++
        }
        nseg = seg
    }
    $1 == "BENCH-COUNT" { c++; cw[c] = $0; cm[c] = $2 }
    $1 == "BENCH" { k = $2 " " $3; ops[k] += kv($0, "ops"); byt[k] += kv($0, "bytes"); sec[k] += kv($0, "secs")
                    val[k] = ($2 == "randread") ? sprintf("%.1f", ops[k] / sec[k]) : sprintf("%.2f", byt[k] / sec[k] / 1e6) }
    END {
        printf "E2E-BENCH | %-22s | %12s | %12s | %8s\n", "QD1, O_DIRECT, TCG", "xenfv virtio", "Xen PV (blkback)", "xenfv/PV"
        n = split("randread:4 KiB random read IOPS,read:1 MiB seq read MB/s,write:1 MiB seq write MB/s", w, ",")
        ratios = ""
        for (i = 1; i <= n; i++) {
            split(w[i], p, ":"); a = val[p[1] " /dev/vda"]; b = val[p[1] " /dev/xvdb"]
            if (a == "" || b == "") { print "E2E-BENCH missing result for " p[1] > "/dev/stderr"; bad = 1; continue }
            r = (b > 0) ? a / b : 0
            printf "E2E-BENCH | %-22s | %12s | %12s | %8.2f\n", p[2], a, b, r
            ratios = ratios sprintf("%s%s %.2f", ratios == "" ? "" : ", ", p[1], r)
        }
        print ratios > "/run/bench-ratios"
        if (nseg == 0 && stub) exit bad
        if (nseg != 4) { printf "E2E-BENCH trace has %d markers, expected 4 (trace not off in time?)\n", nseg; bad = 1 }
        printf "E2E-BENCH | xenfv, counting pass | %4s %5s %5s | %7s %7s %7s | %5s %7s | %s\n", "ops", "g.req", "dmreq", "ioreqs", "ioreq/r", "rd+wr", "SPIs", "SPI/r", "mapcache remaps"
        for (s = 1; s <= 3; s++) {
            m = cm[s]; ops = kv(cw[s], "ops"); gr = kv(cw[s], "reqs"); q = (gr > 0) ? gr : 1
            printf "E2E-BENCH | %-20s | %4d %5d %5d | %7d %7.2f %3d+%-3d | %5d %7.2f | %d\n", m " bs=" kv(cw[s], "bs"), ops, gr, dmreq[s], io[s], io[s] / q, rd[s], wr[s], spi[s], spi[s] / q, remap[s] + 0
            if (rej[s]) printf "E2E-BENCH note: %s: %d ioreqs rejected by xenfv\n", m, rej[s]
            if (gr != dmreq[s]) printf "E2E-BENCH note: %s: guest block requests %d, DM completed %d\n", m, gr, dmreq[s]
        }
        exit bad
    }' /run/bench-guest.txt
}

echo "E2E-DOM0-MARKER mode=$mode uptime=$(up)"

# Modes in files of their own (those of the Xen series, build-images'
# xen-tools-part.sh): they end with pass, fail or skip.
[ -f /etc/e2e/modes/$mode.sh ] && . /etc/e2e/modes/$mode.sh
case $mode in lifecycle-*) . /etc/e2e/lifecycle.sh ;; esac

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
    # Needs the cross-built qemu-system-aarch64 with the xenfv machine
    # (work/build-cross/qemu-system-aarch64) in the image.
    # e2e_dm=stub runs the same test against virtio-blk-stub, a ~500-line
    # stand-in device model (not the product), to validate this harness.
    [ $dm = stub ] || [ -x $Q ] ||
        skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
    setup_xen
    make_disk
    mkcfg domu blk "$VDISK"
    start_domu_dm /domu/disk.img
    xl unpause domu || fail "xl unpause"
    wait_for 120 guest_says domu E2E-DOMU-DONE || fail "domU did not finish within 120 s"
    guest_says domu 'E2E-DOMU-DONE blk OK' || fail "in-guest virtio-blk test failed"
    say "guest: $(tr -d '\r' < $CONSLOG/guest-domu.log | grep -o 'virtio_blk unloaded and loaded again.*' | head -n1)"
    want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
    got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
    say "image md5 $got, expected $want"
    [ "$want" = "$got" ] || fail "disk image does not hold the guest's pattern"
    destroy_domu_dm
    got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
    [ "$want" = "$got" ] || fail "disk image changed after xl destroy (md5 $got)"
    pass "pattern round trip ok; xl destroy ${destroy_s} s; DM exited ${dm_gone_s} s after xl destroy started (${dm_after_s} s after it returned); image intact"
    ;;
xenpvh-blk)
    # The xenfv-blk round trip served by the upstream track's QEMU 10.2,
    # upstream's Arm machine xenpvh with patches-upstream/ (cross-built by
    # workshop/build-qemu.sh upstream-cross), for a plain `xl create` of
    # Debian's xl: launcher/xenfv-launcher with XENFV_MACHINE=xenpvh gives
    # QEMU the disk libxl declared as -drive/-device (xenpvh reads no
    # Xenstore), answers InitWait once QEMU runs, stops QEMU when the
    # disk is Closing and answers Closed. Confined as the launcher does it
    # (seccomp, chroot, user xenfv, a cgroup), not restricted.
    [ -x $QU ] || skip "no QEMU 10.2 in the image (workshop/build-qemu.sh upstream-cross)"
    setup_xen
    [ "$(command -v xl)" = /usr/lib/xen-4.17/bin/xl ] || fail "xl is $(command -v xl), not Debian's"
    mkdir -p /etc/default /etc/xen/xenfv
    launcher_host
    printf 'XENFV_QEMU=%s\nXENFV_MACHINE=xenpvh\nXENFV_RESTRICT=0\nXENFV_QEMU_ARGS="-d guest_errors"\n' \
        $QU > /etc/default/xenfv-launcher
    start_launcher
    ln -sf /var/log/xen/xenfv-domu.log /run/qemu.log
    make_disk
    mkcfg domu blk "$VDISK"
    t0=$(up)
    xl $xlv create /domu/domu.cfg || { sed 's/^/dom0 launcher| /' /run/launcher.log; fail "xl create rc=$? (no backend state 2 in 10 s?)"; }
    t1=$(up)
    domid=$(xl domid domu)
    qpid=$(cat /run/xenfv-launcher/$domid/pid 2>/dev/null) || fail "launcher has no pid for domain $domid"
    cmd=$(tr '\0' ' ' < /proc/$qpid/cmdline)
    say "domain $domid, xl create $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s; QEMU 10.2 pid $qpid: $cmd"
    echo "$cmd" | grep -q -- "-M xenpvh -xen-domid $domid -xen-attach -smp 1 -m $domu_mem -nodefaults -display none -drive if=none,id=vd[0-9]*,format=raw,file=/domu/disk.img -device virtio-blk-device,drive=vd[0-9]* " ||
        fail "QEMU 10.2's command line does not give it the disk libxl declared"
    dm_confined $qpid $domid
    dm_not_child=1
    wait_for 120 guest_says domu E2E-DOMU-DONE || fail "domU did not finish within 120 s"
    guest_says domu 'E2E-DOMU-DONE blk OK' || fail "in-guest virtio-blk test failed"
    say "guest: $(tr -d '\r' < $CONSLOG/guest-domu.log | grep -o 'virtio_blk unloaded and loaded again.*' | head -n1)"
    want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
    got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
    [ "$want" = "$got" ] || fail "disk image does not hold the guest's pattern (md5 $got, want $want)"
    destroy_domu_dm
    wait_for 15 eval '[ ! -d /run/xenfv-launcher/$domid ]' || fail "launcher did not forget domain $domid"
    grep -q "domain $domid (domu): QEMU (pid $qpid) stopped with status 0 .*its devices are Closed" /run/launcher.log ||
        { sed 's/^/dom0 launcher| /' /run/launcher.log; fail "the launcher did not stop QEMU 10.2 at Closing"; }
    got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
    [ "$want" = "$got" ] || fail "disk image changed after xl destroy (md5 $got)"
    alive $lpid || fail "launcher died"
    sed 's/^/dom0 launcher| /' /run/launcher.log
    pass "QEMU 10.2 -M xenpvh started by the launcher for a plain xl create ($(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s), the disk from libxl's nodes: pattern round trip and virtio_blk reload ok; xl destroy ${destroy_s} s, QEMU stopped at Closing; image intact"
    ;;
bench-blk)
    # The same QD1 workload (blkbench: 4 KiB random reads, 1 MiB sequential
    # reads and writes, O_DIRECT) on two disks of one domU in one boot:
    # /dev/vda, virtio-blk served by xenfv, and /dev/xvdb, a Xen PV disk
    # (backendtype=phy on a loop device, dom0's xen-blkback). Both images
    # are 32 MiB files on a tmpfs in dom0 filled with blkbench's pattern. First
    # a short counting pass on vda with xenfv's trace events on, delimited
    # by reads of the idle transport at 0x2001000; then trace off (HMP over
    # a pipe) and, once dom0 says go on the guest console, the timed pass
    # (each workload vda, xvdb, xvdb, vda for e2e_bench_secs / 2 each).
    # Fails only on broken I/O (errors, pattern mismatches), never on speed.
    [ $dm = stub ] || [ -x $Q ] ||
        skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
    setup_xen
    load loop
    load xen-blkback
    sz=$((bench_mib * 1048576))
    # Own tmpfs: the initramfs (with QEMU and its libraries) fills most of
    # the rootfs' default half of dom0's RAM.
    mkdir -p /bench
    mount -t tmpfs -o size=$((2 * bench_mib + 4))m tmpfs /bench || fail "tmpfs /bench"
    blkbench fill /bench/virtio.img $sz || fail "fill virtio image"
    blkbench fill /bench/pv.img $sz || fail "fill PV image"
    [ -b /dev/loop0 ] || mknod /dev/loop0 b 7 0
    losetup /dev/loop0 /bench/pv.img || fail "losetup /dev/loop0"
    mkcfg domu bench "$(echo "$VDISK" | sed 's|/domu/disk.img|/bench/virtio.img|')" \
        'format=raw,vdev=xvdb,backendtype=phy,script=/usr/local/bin/e2e-block,target=/dev/loop0'
    rm -f /run/qmon.in /run/qmon.out /run/qemu-trace.log
    mkfifo /run/qmon.in /run/qmon.out
    DM_EXTRA="-chardev pipe,id=mon0,path=/run/qmon -mon chardev=mon0,mode=readline
        -D /run/qemu-trace.log -trace handle_ioreq -trace xen_arm_spi_set
        -trace xen_arm_ioreq_rejected -trace virtio_blk_req_complete
        -trace xen_remap_bucket"
    start_domu_dm /bench/virtio.img
    cat /run/qmon.out > /run/qmon.log 2>&1 &
    xl unpause domu || fail "xl unpause"
    wait_for 120 eval 'guest_says domu "E2E-BENCH-COUNT-DONE\|E2E-DOMU-DONE"' ||
        fail "domU did not finish the counting pass within 120 s"
    guest_says domu E2E-BENCH-COUNT-DONE || fail "counting pass failed in the guest"
    # (the stub has neither monitor nor trace: only its I/O is measured)
    [ $dm = stub ] || echo 'trace-event * off' > /run/qmon.in
    : >> /run/qemu-trace.log
    # The trace is line-buffered: it stops growing once the events are off.
    n0=-1
    n1=$(wc -l < /run/qemu-trace.log)
    i=0
    while [ "$n0" != "$n1" ] && [ $i -lt 50 ]; do
        usleep 200000; n0=$n1; n1=$(wc -l < /run/qemu-trace.log); i=$((i + 1))
    done
    tty=$(xenstore-read /local/domain/$domid/console/tty) || fail "no console tty for domain $domid"
    say "trace off ($n1 lines); telling the guest to go on $tty"
    echo go > "$tty"
    wait_for $((bench_secs * 8 + 120)) guest_says domu E2E-DOMU-DONE ||
        fail "domU did not finish the benchmark"
    grep -E 'E2E-BENCH|BENCH |VERIFY' $CONSLOG/guest-domu.log | sed 's/^/domU| /'
    guest_says domu 'E2E-DOMU-DONE bench OK' || fail "benchmark I/O failed in the guest"
    ev=$(sed -n 's/.*E2E-BENCH-EXTENT vda=\([0-9]*\).*/\1/p' $CONSLOG/guest-domu.log | tail -n1)
    ep=$(sed -n 's/.*E2E-BENCH-EXTENT.*xvdb=\([0-9]*\).*/\1/p' $CONSLOG/guest-domu.log | tail -n1)
    destroy_domu_dm
    losetup -d /dev/loop0
    blkbench verify /bench/virtio.img "${ev:-0}" || fail "virtio image check after destroy"
    blkbench verify /bench/pv.img "${ep:-0}" || fail "PV image check after destroy"
    bench_table || fail "benchmark report"
    pass "I/O verified on both disks; xenfv/PV $(cat /run/bench-ratios); xl destroy ${destroy_s} s; DM exited ${dm_gone_s} s after xl destroy started"
    ;;
stock-xl-blk)
    # What a user of Debian 12's stock xl 4.17 does: run xenfv-launcher
    # (launcher/, started as its systemd unit does) and then plain `xl
    # create`s; the launcher starts xenfv as soon as libxl writes the
    # backend nodes, xenfv answers the handshake. Two guests one after the
    # other, each the xenfv-blk round trip, and between them a guest whose
    # QEMU fails (its conf file adds a bad option): its xl create must fail
    # and the launcher carry on. e2e_dm=stub: virtio-blk-stub through
    # stub-as-qemu instead of QEMU.
    [ $dm = stub ] || [ -x $Q ] ||
        skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
    setup_xen
    [ "$(command -v xl)" = /usr/lib/xen-4.17/bin/xl ] || fail "xl is $(command -v xl), not Debian's"
    mkdir -p /etc/default /etc/xen/xenfv
    launcher_host
    if [ $dm = stub ]; then
        # the stub knows none of QEMU's confinement options
        printf 'XENFV_QEMU=/usr/local/bin/stub-as-qemu\nXENFV_RESTRICT=0\nXENFV_SANDBOX=\nXENFV_CHROOT=0\nXENFV_USER=root\n' \
            > /etc/default/xenfv-launcher
        dmname=virtio-blk-stub
    else
        # the launcher's defaults: restricted, seccomp, chroot, user xenfv
        printf 'XENFV_QEMU=%s\nXENFV_QEMU_ARGS="-d guest_errors"\n' $Q > /etc/default/xenfv-launcher
        dmname=qemu-system-aarch64
    fi
    start_launcher
    say "launcher running (pid $lpid)"
    ln -sf /var/log/xen/xenfv-domu.log /run/qemu.log
    # Backend state changes with dom0 uptime, for the timings.
    xenstore-watch backend/virtio_disk | while read -r p; do
        case $p in */state) read -r u _ < /proc/uptime; echo "$u $p $(xenstore-read "$p" 2>/dev/null)" ;; esac
    done > /run/states.log 2>&1 &
    # ndm N: device model processes serving domain N
    ndm() {
        local f n=0
        for f in /proc/[0-9]*/cmdline; do
            tr '\0' ' ' < $f 2>/dev/null |
                grep -q -e "$dmname .*-xen-domid $1 " -e "$dmname -d $1 " && n=$((n + 1))
        done
        echo $n
    }
    want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
    dm_not_child=1
    res=""
    for k in 1 bad 2; do
        if [ $k = bad ]; then
            # per-guest settings are keyed by the domain's UUID
            mkcfg domubad blk "$VDISK"
            echo 'uuid="0e2e0bad-0000-4000-8000-000000000001"' >> /domu/domubad.cfg
            echo 'XENFV_QEMU_ARGS="-no-such-option"' > /etc/xen/xenfv/0e2e0bad-0000-4000-8000-000000000001.conf
            t0=$(up)
            xl $xlv create /domu/domubad.cfg > /run/xl-bad.log 2>&1 &&
                fail "xl create of a guest whose QEMU fails succeeded"
            t1=$(up)
            bad_s=$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")
            say "xl create of domubad failed as expected after $bad_s s"
            sed 's/^/dom0 xl-bad| /' /run/xl-bad.log | tail -n 5
            grep -q 'domain [0-9]* (domubad): QEMU (pid [0-9]*) failed' /run/launcher.log ||
                fail "launcher did not report the failed QEMU"
            xl list | grep -q domubad && fail "domubad still exists"
            alive $lpid || fail "launcher died after a failed QEMU"
            continue
        fi
        make_disk
        mkcfg domu blk "$VDISK"
        t0=$(up)
        xl $xlv create /domu/domu.cfg || fail "guest $k: xl create rc=$? (no backend state 2 in 10 s?)"
        t1=$(up)
        domid=$(xl domid domu)
        qpid=$(cat /run/xenfv-launcher/$domid/pid 2>/dev/null) || fail "guest $k: launcher has no pid for domain $domid"
        [ "$(ndm $domid)" = 1 ] || fail "guest $k: $(ndm $domid) device models for domain $domid"
        cmd=$(tr '\0' ' ' < /proc/$qpid/cmdline)
        say "guest $k: domain $domid, xl create $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s; DM pid $qpid: $cmd"
        [ $dm = stub ] || echo "$cmd" | grep -q -- "-xen-domid $domid -xen-attach -smp 1 -m $domu_mem -nodefaults" ||
            fail "guest $k: unexpected QEMU command line"
        [ $dm = stub ] || dm_confined $qpid $domid
        # backend state 1 (libxl), DM process start, state 2 (the DM)
        tq=$(awk '{ printf "%.2f", $22 / 100 }' /proc/$qpid/stat)   # USER_HZ
        ts1=$(grep " backend/virtio_disk/$domid/[0-9]*/state " /run/states.log | head -n1 | cut -d' ' -f1)
        ts2=$(grep " backend/virtio_disk/$domid/[0-9]*/state 2$" /run/states.log | head -n1 | cut -d' ' -f1)
        [ -n "$ts1" ] && [ -n "$ts2" ] || fail "guest $k: no backend state timeline"
        tim=$(awk "BEGIN { printf \"state 1 -> DM started %.2f s -> state 2 %.2f s (total %.2f of libxl's 10 s)\", $tq - $ts1, $ts2 - $tq, $ts2 - $ts1 }")
        say "guest $k: $tim"
        wait_for 120 guest_says domu E2E-DOMU-DONE || fail "guest $k: domU did not finish within 120 s"
        guest_says domu 'E2E-DOMU-DONE blk OK' || fail "guest $k: in-guest virtio-blk test failed"
        got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
        [ "$want" = "$got" ] || fail "guest $k: disk image does not hold the guest's pattern"
        # More events for a served guest start nothing.
        dev=$(xenstore-list backend/virtio_disk/$domid | head -n1)
        for i in 1 2 3; do xenstore-write backend/virtio_disk/$domid/$dev/e2e-poke $i; done
        xenstore-rm backend/virtio_disk/$domid/$dev/e2e-poke
        usleep 500000
        [ "$(ndm $domid)" = 1 ] && [ "$(grep -c "domain $domid (domu): started" /run/launcher.log)" = 1 ] ||
            fail "guest $k: a second device model after repeated events"
        destroy_domu_dm
        wait_for 15 eval '[ ! -d /run/xenfv-launcher/$domid ]' || fail "guest $k: launcher did not forget domain $domid"
        [ "$(ndm $domid)" = 0 ] || fail "guest $k: device model left"
        # a restricted QEMU is stopped by the launcher once its guest's
        # devices are Closing; the stub sees the guest go
        grep -q -e "domain $domid (domu): QEMU (pid $qpid) exited" \
                -e "domain $domid (domu): QEMU (pid $qpid) stopped with status 0 .*its devices are Closed" /run/launcher.log ||
            fail "guest $k: launcher did not see the DM exit cleanly"
        got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
        [ "$want" = "$got" ] || fail "guest $k: disk image changed after xl destroy"
        alive $lpid || fail "guest $k: launcher died"
        mv $CONSLOG/guest-domu.log $CONSLOG/guest-domu-$k.log
        res="$res; guest $k: $tim, xl destroy ${destroy_s} s, DM gone ${dm_gone_s} s after it started"
    done
    sed 's/^/dom0 launcher| /' /run/launcher.log
    sed 's/^/dom0 states| /' /run/states.log
    n=0
    for f in /proc/[0-9]*/cmdline; do grep -q "$dmname" $f 2>/dev/null && n=$((n + 1)); done
    [ $n = 0 ] || fail "$n device model processes left"
    alive $lpid || fail "launcher not running at the end"
    pass "launcher served 2 plain xl creates, a failing QEMU made xl create fail after $bad_s s$res"
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
