# shellcheck shell=sh
# e2e modes lifecycle-stock and lifecycle-xl (sourced by dom0-init.sh): what
# an operator does to a guest over its life, on one route:
#   stock  Debian 12's xl, xenfv started by launcher/xenfv-launcher
#   xl     the Xen series' xl (xenfv-xl), xenfv started by libxl
# The guest (domu-init.sh mode life, 2 vCPUs, a 64 MiB disk) checks the
# previous boot's data, writes its own from both vCPUs, then writes and
# flushes 128 KiB chunks until it is stopped; so every step below hits it in
# the middle of writes:
#   1. xl create
#   2. xl reboot: the new domain comes back and reads the old one's data
#   3. xl shutdown -w, then the domain must be gone shortly after
#   4. xl create; xl shutdown -ww and at once xl create of the same name
#   5. xl destroy
#   6. QEMU killed with SIGKILL, then xl destroy
# After each removal: no device model left, nothing of the domain left in
# Xenstore (the whole tree against a snapshot taken before step 1), the
# image holds everything the guest reported flushed. Timings from
# Xenstore's backend state changes; xl's own logs must hold no error.
route=${mode#lifecycle-}
XX=/usr/local/bin/xenfv-xl
case $route in
stock) XL=xl ;;
xl) XL=$XX
    [ -x $XX ] || skip "no xenfv-xl in the image (run workshop/build-xen-tools.sh, then build-images)" ;;
*) fail "unknown route $route" ;;
esac
[ -x $Q ] || skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
setup_xen
[ $route = xl ] || [ "$(command -v xl)" = /usr/lib/xen-4.17/bin/xl ] || fail "xl is $(command -v xl), not Debian's"

IMG=/domu/life.img
CFG=/domu/life.cfg
CONS=$CONSLOG/guest-life.log
dd if=/dev/zero of=$IMG bs=1M seek=63 count=1 2>/dev/null || fail "disk image"
cat > $CFG <<EOF
name="life"
kernel="/domu/Image"
ramdisk="/domu/initrd.gz"
extra="console=hvc0 quiet rdinit=/init e2e=life"
memory=$domu_mem
vcpus=2
disk=['format=raw,vdev=xvda,backendtype=standalone,specification=virtio,target=$IMG']
EOF
if [ $route = stock ]; then
    # the launcher's defaults: restricted (it stops QEMU when the devices
    # close and answers for it), seccomp, chroot, user xenfv
    launcher_host
    mkdir -p /etc/default
    printf 'XENFV_QEMU=%s\nXENFV_QEMU_ARGS="-d guest_errors"\n' $Q > /etc/default/xenfv-launcher
    start_launcher
else
    cat >> $CFG <<EOF
virtio_dm = 1
device_model_override = "$Q"
device_model_args = [ "-d", "guest_errors" ]
EOF
fi
if [ $route = stock ]; then
    ln -sf /var/log/xen/xenfv-life.log /run/qemu.log
else
    ln -sf /var/log/xen/qemu-dm-life.log /run/qemu.log
fi

# The virtio devices' backend state changes with dom0 uptime:
# "<uptime> <kind>/<domid> <state>" (the console's backend is watched too).
xenstore-watch backend | while read -r p; do
    case $p in
    */virtio_disk/*/state|*/virtio/*/state)
        read -r u _ < /proc/uptime
        d=${p#*backend/}
        d=${d%/*/state}
        echo "$u $d $(xenstore-read "$p" 2>/dev/null || echo gone)"
        ;;
    esac
done > /run/states.log 2>&1 &

xs_paths() { xenstore-ls -f / 2>/dev/null | sed 's/ = .*//'; }
xs_paths > /run/xs-base
grep -q '^/local/domain/0/name$' /run/xs-base || fail "xenstore-ls -f / does not list the tree"
# xs_new: the paths Xenstore holds now that it did not before step 1, but
# for the parents of every guest's entries, once empty: /vm and /libxl
# (libxl's), device-model (xenfv's)
xs_new() {
    xs_paths | awk 'NR == FNR { base[$0]; next } !($0 in base)' /run/xs-base - |
        while read -r p; do
            case $p in
            /vm|/libxl|/local/domain/0/device-model)
                [ -z "$(xenstore-list "$p" 2>/dev/null)" ] && continue ;;
            esac
            echo "$p"
        done
}

# dms D: PIDs of the device models serving domain D
dms() {
    for f in /proc/[0-9]*/cmdline; do
        { tr '\0' ' ' < "$f"; } 2>/dev/null | grep -q -e "xenfv.* -xen-domid $1 " -e "-xen-domid $1 .*xenfv" &&
            { p=${f#/proc/}; echo "${p%/cmdline}"; }
    done
}
ndone() { n=$(grep -c 'E2E-DOMU-DONE life' $CONS 2>/dev/null); echo "${n:-0}"; }
nflushed() { n=$(grep -c "E2E-DOMU-FLUSHED $1 " $CONS 2>/dev/null); echo "${n:-0}"; }
# boot N: wait for the guest's Nth boot to finish its checks; sets tok, domid
boot() {
    want=$1
    wait_for 150 eval '[ "$(ndone)" -ge $want ]' || fail "boot $1: the guest did not finish within 150 s"
    l=$(grep 'E2E-DOMU-DONE life' $CONS | sed -n "${1}p")
    case $l in *' OK '*) ;; *) fail "boot $1: guest says: $l" ;; esac
    tok=$(echo "$l" | sed 's/.*token=\([0-9a-f]*\).*/\1/')
    domid=$(xl domid life) || fail "boot $1: no domain named life"
    eval "vm_$domid=\$(xenstore-read /local/domain/$domid/vm)" || fail "boot $1: no vm path"
    [ "$(dms $domid | wc -l)" = 1 ] || fail "boot $1: $(dms $domid | wc -l) device models for domain $domid"
    say "boot $1: domain $domid, token $tok"
}
# flushed TOKEN: the last chunk the boot with TOKEN reported flushed
flushed() { grep "E2E-DOMU-FLUSHED $1 " $CONS | tail -n 1 | tr -d '\r' | cut -d' ' -f3; }
writing() { want=$1; wait_for 60 eval '[ "$(nflushed $tok)" -ge $want ]' ||
                fail "boot of $tok: fewer than $1 chunks flushed in 60 s"; }
# pat TOKEN FIRST N: the guest's sectors (domu-init.sh mode life)
pat() { awk -v t="$1" -v s="$2" -v n="$3" \
    'BEGIN { for (i = s; i < s + n; i++) printf "%-511s\n", "E2E-LIFE " t " sector " i }'; }
# image_holds TOKEN K: the boot's header and data, and its chunk K if K is set
image_holds() {
    set -- "$1" "${2:-}" "$(head -c 512 $IMG | tr -d '\0')"
    case $3 in "E2E-LIFE $1 "*) ;; *) fail "image header is '$(echo $3 | cut -c1-60)', not boot $1's" ;; esac
    [ "$(dd if=$IMG bs=1M skip=1 count=1 2>/dev/null | md5sum | cut -d' ' -f1)" = \
      "$(pat "$1" 2048 2048 | md5sum | cut -d' ' -f1)" ] || fail "image: data region of boot $1 is wrong"
    [ -n "$2" ] || return 0
    [ "$(dd if=$IMG bs=128k skip=$((32 + $2 % 240)) count=1 2>/dev/null | md5sum | cut -d' ' -f1)" = \
      "$(pat "$1-$2" $((8192 + ($2 % 240) * 256)) 256 | md5sum | cut -d' ' -f1)" ] ||
        fail "image: chunk $2 that boot $1 reported flushed is not there"
}
# clean D [all]: domain D and its device model are gone and Xenstore holds
# nothing of D (its home, its backend and device-model directories, its
# /libxl and /vm entries); with "all" (no guest left) nothing at all that
# the snapshot taken before step 1 lacks.
clean() {
    gone=$1
    wait_for 15 eval '! xl list $gone > /dev/null 2>&1 && [ -z "$(dms $gone)" ]' ||
        fail "domain $1 or its device model still there 15 s on"
    leftre="^/local/domain/$1(/|\$)|^/local/domain/[0-9]+/(backend/[^/]+|device-model)/$1(/|\$)|^/libxl/$1(/|\$)"
    # xl reboot keeps the guest's UUID, hence its /vm entry, for the new domain
    eval "vm=\${vm_$1:-}"
    cur=$(xl domid life 2>/dev/null) && eval "curvm=\${vm_$cur:-}" || curvm=""
    [ -z "$vm" ] || [ "$vm" = "$curvm" ] || leftre="$leftre|^$vm(/|\$)"
    [ "${2:-}" = all ] && leftre=.
    # Give a dying QEMU's last writes (and the launcher's sweep) a moment.
    wait_for 10 eval '[ -z "$(xs_new | grep -E "$leftre")" ]' || {
        xs_new | grep -E "$leftre" | sed 's/^/dom0 left in Xenstore| /'
        lfail "after domain $1: Xenstore holds nodes it did not hold before the first guest"; }
    [ $route = xl ] || wait_for 15 eval '[ ! -d /run/xenfv-launcher/$gone ]' ||
        lfail "the launcher did not forget domain $1"
}
# st D STATE [LAST]: dom0 uptime of domain D's first (or last) backend state STATE
st() { awk -v d="$1" -v s="$2" -v l="${3:-}" '($2 == "virtio_disk/" d || $2 == "virtio/" d) && $3 == s { t = $1; if (!l) { print t; exit } } END { if (l && t != "") print t }' /run/states.log; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%.2f", b - a }'; }
# served D: sets sv to domain D's backend state 1 -> 2 time (libxl allows 10 s)
served() {
    sv=$(dt "$(st $1 1)" "$(st $1 2)")
    [ "$sv" != n/a ] || lfail "domain $1: no backend state 1 -> 2 seen"
}
# closed D T0: domain D's disk must have answered libxl's Closing before
# libxl's 10 s ran out (8 s, measured from where the watch saw Closing):
# Closed seen, or the nodes gone (libxl removes them as soon as it reads
# Closed, which the watch may then no longer read; without Closed it
# waits 10 s). Sets cl to the time from T0 to Closed (stock route).
closed() {
    local c6
    # The series' libxl stops the xenfv it started and removes the nodes
    # without the handshake.
    [ $route = stock ] || { cl="not asked (libxl stops the xenfv it started)"; return 0; }
    c6=$(st $1 6 last)
    [ -n "$c6" ] || c6=$(st $1 gone)
    [ -n "$c6" ] || lfail "domain $1: its disk never reached Closed (6) nor went"
    c5=$(dt "$(st $1 5)" "$c6")
    [ "$c5" = n/a ] || awk "BEGIN { exit !($c5 <= 8) }" ||
        lfail "domain $1: Closing -> Closed (or the nodes gone) took $c5 s"
    cl="Closed $(dt "$2" "$c6") s after the command"
}
# xl's errors; but for the one the series' libxl logs, truthfully, when the
# xenfv it started was killed before xl destroy (step 6)
xl_errors() {
    grep -i -H -e error -e unable /var/log/xen/xl-life.log* /run/life-xl-*.log 2>/dev/null |
        grep -v '^/run/life-xl-destroy2.log:.*libxl__kill_xs_path: Device Model already exited$' |
        sed 's/^/dom0 xl| /'
}
lfail() {
    [ $route = stock ] && sed 's/^/dom0 launcher| /' /run/launcher.log | tail -n 30
    tail -n 40 /run/states.log | sed 's/^/dom0 states| /'
    xl_errors
    fail "$@"
}
res=""

# 1. create
t0=$(up)
$XL $xlv create $CFG > /run/life-xl-create1.log 2>&1 || { cat /run/life-xl-create1.log; lfail "xl create rc=$?"; }
say "xl create returned after $(dt $t0 $(up)) s"
boot 1
d1=$domid
grep -q 'E2E-DOMU-PREV none' $CONS || fail "boot 1 found data of an earlier boot"
cmd=$(tr '\0' ' ' < /proc/$(dms $d1)/cmdline)
echo "$cmd" | grep -q -e '-smp 2 ' -e '-smp 2$' -e '-smp cpus=2' || fail "device model not started with -smp 2: $cmd"
served $d1
res="create: served $sv s after state 1"
writing 2

# 2. reboot, in the middle of writes
t0=$(up)
$XL $xlv reboot life > /run/life-xl-reboot.log 2>&1 || { cat /run/life-xl-reboot.log; lfail "xl reboot rc=$?"; }
boot 2
d2=$domid
[ "$d2" != "$d1" ] || lfail "xl reboot: still domain $d1"
t1=$(up)
grep -q "E2E-DOMU-PREV $(grep 'E2E-DOMU-DONE life' $CONS | sed -n 1p | sed 's/.*token=\([0-9a-f]*\).*/\1/') ok" $CONS ||
    lfail "reboot: the new domain did not read the old one's data back"
clean $d1
closed $d1 $t0
served $d2
res="$res; reboot: old disk $cl, new served $sv s after state 1, guest back after $(dt $t0 $t1) s"
writing 2

# 3. shutdown -w: xl returns at the shutdown; the domain goes once its
# disk answered Closed, not after libxl's 10 s wait for it (on the stock
# route that includes the restricted QEMU's exit: a few seconds under TCG)
t0=$(up)
$XL $xlv shutdown -w life > /run/life-xl-shutdown.log 2>&1 || { cat /run/life-xl-shutdown.log; lfail "xl shutdown -w rc=$?"; }
t1=$(up)
wait_for 10 eval '! xl list $d2 > /dev/null 2>&1' || lfail "domain $d2 still there 10 s after xl shutdown -w returned"
t2=$(up)
awk "BEGIN { exit !($t2 - $t1 <= 8) }" || lfail "domain $d2 went $(dt $t1 $t2) s after xl shutdown -w returned"
clean $d2 all
image_holds "$tok"
closed $d2 $t0
res="$res; shutdown -w: returned after $(dt $t0 $t1) s, disk $cl, domain gone $(dt $t1 $t2) s after xl returned"

# 4. create, then shutdown -ww and create again at once
$XL $xlv create $CFG > /run/life-xl-create2.log 2>&1 || { cat /run/life-xl-create2.log; lfail "xl create after shutdown rc=$?"; }
boot 3
d3=$domid
writing 2
t0=$(up)
$XL $xlv shutdown -ww life > /run/life-xl-shutdown2.log 2>&1 || lfail "xl shutdown -ww rc=$?"
t1=$(up)
$XL $xlv create $CFG > /run/life-xl-create3.log 2>&1 || { cat /run/life-xl-create3.log; lfail "xl create right after xl shutdown -ww rc=$?"; }
boot 4
d4=$domid
clean $d3
res="$res; shutdown -ww: $(dt $t0 $t1) s, re-created at once"
writing 3

# 5. destroy in the middle of writes: what was flushed is on the disk
k=$(flushed $tok)
t0=$(up)
$XL $xlv destroy life > /run/life-xl-destroy1.log 2>&1 || lfail "xl destroy rc=$?"
t1=$(up)
clean $d4 all
image_holds "$tok" "$k"
res="$res; destroy: $(dt $t0 $t1) s, chunk $k and all before on disk"

# 6. QEMU killed while the guest writes
$XL $xlv create $CFG > /run/life-xl-create4.log 2>&1 || lfail "xl create rc=$?"
boot 5
d5=$domid
writing 2
qpid=$(dms $d5)
kill -KILL $qpid
wait_for 5 eval '! alive $qpid' || lfail "QEMU $qpid survived SIGKILL"
if [ $route = stock ]; then
    wait_for 10 grep -q "domain $d5 (life): QEMU (pid $qpid) killed by signal 9" /run/launcher.log ||
        lfail "the launcher did not report the killed QEMU"
fi
k=$(flushed $tok)
n=$(nflushed $tok)
usleep 3000000
[ "$(nflushed $tok)" -le $((n + 1)) ] || lfail "the guest kept flushing with its device model killed"
t1=$(up)
$XL $xlv destroy life > /run/life-xl-destroy2.log 2>&1 || lfail "xl destroy after the kill rc=$?"
t2=$(up)
awk "BEGIN { exit !($t2 - $t1 <= 3) }" || lfail "xl destroy took $(dt $t1 $t2) s after the device model was killed"
clean $d5 all
image_holds "$tok" "$k"
res="$res; QEMU killed: guest's writes stopped at chunk $k, xl destroy $(dt $t1 $t2) s"

[ -z "$(xl_errors)" ] || { xl_errors; lfail "xl logged errors"; }
[ $route = xl ] || { alive $lpid || lfail "launcher died"; sed 's/^/dom0 launcher| /' /run/launcher.log; }
sed 's/^/dom0 states| /' /run/states.log
pass "route $route, 2 vCPUs: $res; nothing left in Xenstore, xl logged no error"
