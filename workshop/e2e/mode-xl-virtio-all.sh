# shellcheck shell=sh
# e2e mode xl-virtio-all (sourced by dom0-init.sh from /etc/e2e/modes/):
# issue 8's acceptance test, and all eleven transports busy at once from
# a 2-vCPU guest. A plain `xenfv-xl create` (the Xen series' xl) of a domU
# with 2 vCPUs, six virtio disks and `virtio = [ ... ]` two network
# devices, a console, an entropy source and a GPU, all served by the
# xenfv that libxl starts; every device is then used from inside the
# guest the way a user would (domu-init.sh mode virtio-all):
#   disk     1 MiB pattern written to /dev/vda, read back (md5), checked
#            in the image file in dom0, before and after destroy;
#   net      -nic tap (tun in dom0, 10.99.0.1 on the tap), guest eth0
#            10.99.0.2 with the MAC set here: ping dom0, 1 MiB of random
#            data each way with busybox nc, md5 on both ends;
#   console  -serial pipe:/run/xfv-con (virtio-serial + virtconsole):
#            the guest writes a token line to /dev/hvc1, dom0 reads it from
#            the pipe and answers another, which the guest reads from hvc1;
#   gpu      the guest finds /dev/dri/card0 and /dev/fb0, unbinds fbcon,
#            fills fb0 with four coloured quadrants; dom0 takes a
#            `screendump` over an HMP monitor on a pipe and compares the
#            whole PPM with the expected picture (md5; samples on mismatch).
#   storm    meanwhile disks 2-6 (1 MiB pattern rounds, read back), eth1
#            (pings of dom0's second tap) and the entropy source run
#            without pause, pinned to vCPU 0 or 1, until dom0 has its
#            screendump; the images hold each disk's last round, every
#            transport's SPI (33-43) took interrupts.
# Then `xenfv-xl destroy`: xenfv gone, no Xenstore nodes, the taps gone,
# the images intact.
XX=/usr/local/bin/xenfv-xl
[ -x $XX ] || skip "no xenfv-xl in the image (run workshop/build-xen-tools.sh, then build-images)"
[ -x $Q ] || skip "waiting for the xenfv binary: no cross-built qemu-system-aarch64 in the image"
setup_xen
load tun
[ -c /dev/net/tun ] || fail "no /dev/net/tun after loading tun"
make_disk
# 128 MiB runs out with the DRM stack and the test's files (OOM seen).
[ "$domu_mem" -ge 256 ] || domu_mem=256
TAP=xfvtap0
MAC=52:54:00:e2:e0:08
DOM0_IP=10.99.0.1
TAP1=xfvtap1
MAC1=52:54:00:e2:e0:09
DOM0_IP1=10.99.1.1
DMLOG=/var/log/xen/qemu-dm-domu.log
xa_fail() {
    for f in /run/xl-create.log /run/xl-destroy.log $DMLOG /run/xfv-con.log; do
        [ -f $f ] || continue
        echo "---- $f ----"
        tail -n 40 $f | sed 's/^/dom0| /'
    done
    echo "---- domU: E2E lines and device messages ----"
    tr -d '\r' < $CONSLOG/guest-domu.log 2>/dev/null |
        grep -E 'E2E|virtio|drm|fb0|hvc|eth0|Out of memory' | head -n 80 | sed 's/^/domU| /'
    fail "$@"
}
xs_is() {
    v=$(xenstore-read "$1" 2>/dev/null)
    [ "$v" = "$2" ] || xa_fail "$1 is '$v', expected '$2'"
}
# rep BYTES: stdin repeated (doubling) to exactly BYTES bytes on stdout
REP=/run/rep
rep() {
    cat > $REP.0
    while [ "$(wc -c < $REP.0)" -lt "$1" ]; do
        cat $REP.0 $REP.0 > $REP.1 && mv $REP.1 $REP.0
    done
    head -c "$1" $REP.0
    rm -f $REP.0
}
# gmark KEY: the value after KEY on the guest's last line with it
gmark() { tr -d '\r' < $CONSLOG/guest-domu.log | sed -n "s/.*$1 //p" | tail -n1; }

# The device model's chardevs: the virtio console and a human monitor.
rm -f /run/xfv-con.in /run/xfv-con.out /run/xfv-mon.in /run/xfv-mon.out
mkfifo /run/xfv-con.in /run/xfv-con.out /run/xfv-mon.in /run/xfv-mon.out
cat /run/xfv-con.out > /run/xfv-con.log 2>&1 &
cat /run/xfv-mon.out > /run/xfv-mon.log 2>&1 &
# guest -> dom0 data (the guest connects once its ping works). busybox nc
# half-closes when its stdin ends: a listener with stdin at EOF would end
# the connection before the data is through, hence the sleep.
sleep 600 | nc -l -p 5000 > /run/net-g2d 2>/run/nc-g2d.err &
ncg=$!
head -c 1048576 /dev/urandom > /run/net-d2g
d2g_md5=$(md5sum < /run/net-d2g | cut -d' ' -f1)

# e2e_dmtrace=PATTERN[,PATTERN]: -trace options for xenfv (its log: $DMLOG)
targs=""
for t in $(echo "$dmtrace" | tr , ' '); do targs="$targs \"-trace\", \"$t\","; done
# disks 2-6 (xvdb-xvdf, the guest's vdb-vdf): 4 MiB each
disks="'$VDISK'"
for n in 2 3 4 5 6; do
    dd if=/dev/zero of=/domu/disk$n.img bs=1M count=4 2>/dev/null || fail "disk image $n"
    l=$(echo abcdef | cut -c$n)
    disks="$disks, '$(echo "$VDISK" | sed "s/vdev=xvda/vdev=xvd$l/; s|/domu/disk.img|/domu/disk$n.img|")'"
done
mkcfg domu virtio-all
sed -i 's/^vcpus=1$/vcpus=2/' /domu/domu.cfg
cat >> /domu/domu.cfg <<CFG
disk = [ $disks ]
virtio = [ "type=virtio,device1, transport=mmio",
           "type=virtio,device1, transport=mmio",
           "type=virtio,device3, transport=mmio",
           "type=virtio,device4, transport=mmio",
           "type=virtio,device10, transport=mmio" ]
virtio_dm = 1
device_model_override = "$Q"
device_model_args = [ "-d", "guest_errors",$targs
    "-nic", "tap,ifname=$TAP,script=no,downscript=no,model=virtio-net-device,mac=$MAC",
    "-nic", "tap,ifname=$TAP1,script=no,downscript=no,model=virtio-net-device,mac=$MAC1",
    "-serial", "pipe:/run/xfv-con",
    "-chardev", "pipe,id=e2emon,path=/run/xfv-mon", "-mon", "chardev=e2emon,mode=readline" ]
CFG
sed 's/^/dom0 cfg| /' /domu/domu.cfg

t0=$(up)
$XX -vvv create /domu/domu.cfg > /run/xl-create.log 2>&1 || xa_fail "xenfv-xl create rc=$?"
t1=$(up)
create_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
domid=$($XX domid domu) || xa_fail "no domain domu"
dmpid=$(xenstore-read /local/domain/$domid/image/device-model-pid) || xa_fail "no device-model-pid"
alive $dmpid || xa_fail "device model $dmpid is not running"
say "xenfv-xl create returned in $create_s s, domid $domid, device model pid $dmpid"
tq=$(awk '{ printf "%.2f", $22 / 100 }' /proc/$dmpid/stat)   # USER_HZ
say "device model started $(awk "BEGIN { printf \"%.2f\", $tq - $t0 }") s after xl create: $(tr '\0' ' ' < /proc/$dmpid/cmdline)"
xs_is /local/domain/0/device-model/$domid/state running
case " $(tr '\0' ' ' < /proc/$dmpid/cmdline) " in
*" -smp 2 "*) ;;
*) xa_fail "device model not started with -smp 2" ;;
esac
n=0
for dev in 51712 51728 51744 51760 51776 51792; do
    xs_is /local/domain/0/backend/virtio_disk/$domid/$dev/base $((0x2000000 + n * 0x200))
    xs_is /local/domain/0/backend/virtio_disk/$domid/$dev/irq $((33 + n))
    xs_is /local/domain/0/backend/virtio_disk/$domid/$dev/state 2
    n=$((n + 1))
done
n=0
for t in "virtio,device1 0x2000c00 39" "virtio,device1 0x2000e00 40" "virtio,device3 0x2001000 41" \
         "virtio,device4 0x2001200 42" "virtio,device10 0x2001400 43"; do
    set -- $t
    B=/local/domain/0/backend/virtio/$domid/$n
    xs_is $B/type "$1"
    xs_is $B/base "$2"
    xs_is $B/irq "$3"
    xs_is $B/state 2
    n=$((n + 1))
done
say "Xenstore: disks 0x2000000-0x2000a00, nets 0x2000c00 0x2000e00, console 0x2001000, rng 0x2001200, gpu 0x2001400; all in InitWait"

# expect_ppm W H: the guest's four quadrants as the PPM screendump writes
expect_ppm() {
    local hw=$(($1 / 2))
    printf 'P6\n%d %d\n255\n' "$1" "$2"
    { printf '\360\200\020' | rep $((hw * 3)); printf '\020\360\200' | rep $((($1 - hw) * 3)); } > /run/ppm-row0
    { printf '\200\020\360' | rep $((hw * 3)); printf '\040\100\140' | rep $((($1 - hw) * 3)); } > /run/ppm-row1
    rep $(($1 * 3 * ($2 / 2))) < /run/ppm-row0
    rep $(($1 * 3 * ($2 - $2 / 2))) < /run/ppm-row1
    rm -f /run/ppm-row0 /run/ppm-row1
}
# (rep's scratch file is per process)
( REP=/run/rep-bg; expect_ppm 1280 800 > /run/expect.ppm ) &
ppmjob=$!

# net, dom0 side: xenfv created the tap
[ -d /sys/class/net/$TAP ] || xa_fail "no $TAP in dom0 after xl create"
ip addr add $DOM0_IP/24 dev $TAP && ip link set $TAP up || xa_fail "configuring $TAP"
[ -d /sys/class/net/$TAP1 ] || xa_fail "no $TAP1 in dom0 after xl create"
ip addr add $DOM0_IP1/24 dev $TAP1 && ip link set $TAP1 up || xa_fail "configuring $TAP1"
say "$TAP up with $DOM0_IP, $TAP1 with $DOM0_IP1"

wait_for 120 guest_says domu E2E-DOMU-DISK || xa_fail "guest: no disk result within 120 s"
guest_says domu 'E2E-DOMU-DISK OK' || xa_fail "guest: disk pattern round trip failed"
want=$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)
got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
[ "$want" = "$got" ] || xa_fail "disk image md5 $got, expected the guest's pattern $want"
say "disk: guest round trip and image md5 $got"

wait_for 90 guest_says domu 'E2E-DOMU-NET-LISTENING\|E2E-DOMU-NET FAIL' || xa_fail "guest: no network within 90 s"
guest_says domu 'E2E-DOMU-NET FAIL' && xa_fail "guest: network: $(gmark 'E2E-DOMU-NET FAIL')"
gmac=$(gmark E2E-DOMU-NET-MAC)
[ "$gmac" = $MAC ] || xa_fail "guest eth0 MAC '$gmac', expected $MAC"
ping_l=$(gmark E2E-DOMU-PING)
case $ping_l in *" 3 packets received"*) ;; *) xa_fail "guest ping of dom0: '$ping_l'" ;; esac
wait_for 30 eval '! alive $ncg' || xa_fail "dom0 nc listener still running"
g2d_sent=$(gmark E2E-DOMU-NET-SENT)
g2d_got="md5=$(md5sum < /run/net-g2d | cut -d' ' -f1) bytes=$(wc -c < /run/net-g2d)"
[ "$g2d_sent" = "$g2d_got" ] || xa_fail "guest -> dom0: guest sent $g2d_sent, dom0 got $g2d_got"
nc $(gmark E2E-DOMU-NET-LISTENING) < /run/net-d2g || xa_fail "dom0 -> guest nc rc=$?"
wait_for 60 guest_says domu E2E-DOMU-NET-RECEIVED || xa_fail "guest: dom0 -> guest data not received"
d2g_got=$(gmark E2E-DOMU-NET-RECEIVED)
[ "$d2g_got" = "md5=$d2g_md5 bytes=1048576" ] ||
    xa_fail "dom0 -> guest: dom0 sent md5=$d2g_md5 bytes=1048576, guest got $d2g_got"
neigh=$(ip neigh show dev $TAP 2>/dev/null | head -n1)
say "net: guest MAC $gmac; $ping_l; 1 MiB each way, md5 equal; dom0 neighbour: $neigh"

wait_for 60 guest_says domu 'E2E-DOMU-VCON-WRITTEN\|E2E-DOMU-VCON FAIL' || xa_fail "guest: no console step"
guest_says domu 'E2E-DOMU-VCON FAIL' && xa_fail "guest: console: $(gmark 'E2E-DOMU-VCON FAIL')"
tok=$(gmark E2E-DOMU-VCON-WRITTEN)
wait_for 10 grep -q "E2E-VCON-FROM-GUEST $tok" /run/xfv-con.log ||
    xa_fail "the guest's line (token $tok) did not reach the -serial pipe"
tok2=$(head -c 8 /dev/urandom | md5sum | cut -c1-12)
echo "E2E-VCON-FROM-DOM0 $tok2" > /run/xfv-con.in
wait_for 30 guest_says domu E2E-DOMU-VCON-GOT || xa_fail "guest read nothing from /dev/hvc1"
vgot=$(gmark E2E-DOMU-VCON-GOT)
[ "$vgot" = "E2E-VCON-FROM-DOM0 $tok2" ] || xa_fail "guest read '$vgot' from hvc1, dom0 sent token $tok2"
vdev=$(gmark E2E-DOMU-VCON-DEV | cut -d" " -f1)
say "console: guest -> dom0 token $tok via $vdev, dom0 -> guest token $tok2"

# gpu: the guest filled fb0 (E2E-DOMU-FB-WRITTEN W H stride); compare a
# screendump with the picture it drew (made while the guest works, for
# virtio-gpu's default 1280x800; again if the guest's size differs).
wait_for 120 guest_says domu 'E2E-DOMU-FB-WRITTEN\|E2E-DOMU-FB FAIL' || xa_fail "guest: no framebuffer step"
set -- $(gmark E2E-DOMU-FB-WRITTEN)
W=$1 H=$2
[ -n "$W" ] && [ -n "$H" ] || xa_fail "guest: no framebuffer geometry"
wait $ppmjob
[ "$(head -c 20 /run/expect.ppm | sed -n 2p)" = "$W $H" ] || expect_ppm $W $H > /run/expect.ppm
want=$(md5sum < /run/expect.ppm | cut -d' ' -f1)
size=$(wc -c < /run/expect.ppm)
i=0 got=""
while [ $i -lt 15 ]; do
    rm -f /run/shot.ppm
    echo "screendump /run/shot.ppm" > /run/xfv-mon.in
    j=0
    while [ "$(wc -c < /run/shot.ppm 2>/dev/null)" != "$size" ] && [ $j -lt 50 ]; do usleep 100000; j=$((j + 1)); done
    got=$(md5sum < /run/shot.ppm 2>/dev/null | cut -d' ' -f1)
    [ "$got" = "$want" ] && break
    usleep 500000
    i=$((i + 1))
done
# px X Y: the screendump's RGB at (X, Y)
hdr=$((size - W * H * 3))
px() { dd if=/run/shot.ppm bs=1 skip=$((hdr + ($2 * W + $1) * 3)) count=3 2>/dev/null | hexdump -v -e '3/1 "%02x"'; }
samples="TL $(px $((W / 4)) $((H / 4))) TR $(px $((3 * W / 4)) $((H / 4))) BL $(px $((W / 4)) $((3 * H / 4))) BR $(px $((3 * W / 4)) $((3 * H / 4)))"
if [ "$got" != "$want" ]; then
    head -c 20 /run/shot.ppm 2>/dev/null | hexdump -C | sed 's/^/dom0 ppm| /'
    if [ -f /run/shot.ppm ]; then
        cmp -l /run/shot.ppm /run/expect.ppm 2>/dev/null | awk -v w=$((W * 3)) -v h=$hdr '
            { r = int(($1 - 1 - h) / w); n++; if (!(r in rows)) { rows[r] = 1; nr++; if (first == "") first = r; last = r } }
            END { printf "E2E-DOM0: screendump: %d bytes differ, in %d rows, first row %s, last row %s\n", n, nr, first, last
                  print first > "/run/ppm-badrow" }'
        # the framebuffer's 4 KiB pages (1024 pixels) that differ
        cmp -l /run/shot.ppm /run/expect.ppm 2>/dev/null | awk -v h=$hdr '
            { p = int(int(($1 - 1 - h) / 3) / 1024); if (!(p in s)) { s[p] = 1; l = l " " p } }
            END { print "E2E-DOM0: screendump: fb pages that differ:" l }'
        if [ -n "$dmtrace" ]; then
            echo "---- $DMLOG, filtered ----"
            awk '/virtio_gpu_cmd_res_back_attach/ { att = 1; print NR ": " $0; next }
                 /virtio_gpu_cmd/ { att = 0; print NR ": " $0; next }
                 /handle_ioreq/ { if ($0 ~ /type=8 /) print NR ": " $0; next }
                 /xen_map_cache_return/ { next }
                 /xen_map_cache / { if (att) print NR ": " $0; next }
                 { print NR ": " $0 }' $DMLOG | sed 's/^/dom0 dmlog| /'
        fi
        r=$(cat /run/ppm-badrow)
        [ -n "$r" ] && say "row $r: x=0 $(px 0 $r) x=$((W / 4)) $(px $((W / 4)) $r) x=$((3 * W / 4)) $(px $((3 * W / 4)) $r) x=$((W - 1)) $(px $((W - 1)) $r)"
    fi
    xa_fail "screendump ($(wc -c < /run/shot.ppm 2>/dev/null) bytes, md5 $got) is not the guest's picture (md5 $want); samples $samples"
fi
say "gpu: screendump ${W}x${H} equals the guest's pattern (all $((W * H)) pixels; $samples)"
# the storm ends when dom0 says so
echo "E2E-STOP" > /run/xfv-con.in
wait_for 60 guest_says domu E2E-DOMU-DONE || xa_fail "guest did not finish within 60 s"
grep -E 'E2E-DOMU' $CONSLOG/guest-domu.log | sed 's/^/domU| /'
guest_says domu 'E2E-DOMU-DONE virtio-all ok' || xa_fail "in-guest checks failed"
for v in "2000000.virtio device=0x0002" "2000200.virtio device=0x0002" \
         "2000400.virtio device=0x0002" "2000600.virtio device=0x0002" \
         "2000800.virtio device=0x0002" "2000a00.virtio device=0x0002" \
         "2000c00.virtio device=0x0001" "2000e00.virtio device=0x0001" \
         "2001000.virtio device=0x0003" "2001200.virtio device=0x0004" \
         "2001400.virtio device=0x0010"; do
    guest_says domu "E2E-DOMU-VIRTIO $v" || xa_fail "guest: no $v"
done

[ "$(gmark E2E-DOMU-CPUS)" = 2 ] || xa_fail "guest has $(gmark E2E-DOMU-CPUS) CPUs, not 2"
# storm: each disk's last round is in its image; both vCPUs took part
cpus=""
for n in 2 3 4 5 6; do
    r=$(gmark "E2E-DOMU-STORM-DISK$n OK" | sed -n 's/^rounds=\([0-9]*\) .*/\1/p')
    [ -n "$r" ] || xa_fail "guest: disk $n: $(gmark "E2E-DOMU-STORM-DISK$n")"
    want=$(yes "E2E-DISK-$n-ROUND-$r" | head -c 1048576 | md5sum | cut -d' ' -f1)
    got=$(head -c 1048576 /domu/disk$n.img | md5sum | cut -d' ' -f1)
    [ "$want" = "$got" ] || xa_fail "disk $n image: md5 $got, not the guest's round $r ($want)"
    cpus="$cpus $(gmark "E2E-DOMU-STORM-DISK$n OK" | sed -n 's/.* cpu=//p')"
done
rng=$(gmark "E2E-DOMU-STORM-RNG OK")
case $rng in bytes=*) ;; *) xa_fail "guest: entropy source: '$rng'" ;; esac
net1=$(gmark E2E-DOMU-STORM-NET1)
p1=$(echo "$net1" | sed -n 's/^pings=\([0-9]*\)\/.*/\1/p')
[ "${p1:-0}" -ge 5 ] || xa_fail "guest eth1: '$net1'"
echo "$net1" | grep -q "mac=$MAC1 " || xa_fail "guest eth1 MAC: '$net1'"
cpus="$cpus $(echo "$rng" | sed -n 's/.* cpu=//p') $(echo "$net1" | sed -n 's/.* cpu=//p')"
case " $cpus " in *" 0 "*) ;; *) xa_fail "no storm job ran on vCPU 0:$cpus" ;; esac
case " $cpus " in *" 1 "*) ;; *) xa_fail "no storm job ran on vCPU 1:$cpus" ;; esac
# every transport's SPI took interrupts (the guest's /proc/interrupts
# names an SPI by its number, 33-43)
irqs=$(tr -d '\r' < $CONSLOG/guest-domu.log |
       awk '{ for (i = 1; i < NF; i++) if ($i == "E2E-DOMU-IRQ") { if ($(i + 2) > 0) print $(i + 3); break } }' |
       sort -un | xargs)
[ "$irqs" = "33 34 35 36 37 38 39 40 41 42 43" ] ||
    xa_fail "interrupts on SPIs '$irqs', expected each of 33-43"
say "storm: disks 2-6 last rounds in their images, eth1 $net1, rng $rng; vCPUs of the jobs:$cpus; interrupts on SPIs $irqs"

t2=$(up)
$XX destroy domu > /run/xl-destroy.log 2>&1 || xa_fail "xenfv-xl destroy rc=$?"
t3=$(up)
destroy_s=$(awk "BEGIN { printf \"%.2f\", $t3 - $t2 }")
wait_for 2 eval '! alive $dmpid' || xa_fail "device model still running 2 s after xl destroy"
for p in /local/domain/0/backend/virtio/$domid /local/domain/0/backend/virtio_disk/$domid \
         /local/domain/0/device-model/$domid /libxl/$domid /local/domain/$domid; do
    xenstore-exists $p 2>/dev/null && xa_fail "$p left behind after destroy"
done
n=0
for f in /proc/[0-9]*/cmdline; do grep -q qemu-system $f 2>/dev/null && n=$((n + 1)); done
[ $n = 0 ] || xa_fail "$n qemu processes left after destroy"
[ -d /sys/class/net/$TAP ] && xa_fail "$TAP still exists after destroy"
[ -d /sys/class/net/$TAP1 ] && xa_fail "$TAP1 still exists after destroy"
got=$(head -c "$blk_bytes" /domu/disk.img | md5sum | cut -d' ' -f1)
[ "$(yes E2E-XENFV-BLK-PATTERN-0123456789 | head -c "$blk_bytes" | md5sum | cut -d' ' -f1)" = "$got" ] ||
    xa_fail "disk image changed after destroy (md5 $got)"
say "destroy $destroy_s s: xenfv gone, nodes gone, $TAP gone, image intact"
pass "plain xenfv-xl create ($create_s s) of a 2-vCPU guest started xenfv -smp 2 for 6 disks+2 nets+console+rng+gpu on all 11 transports; storm on disks 2-6, eth1 and rng from both vCPUs, interrupts on all 11 SPIs; disk: 1 MiB pattern round trip + image md5; net: MAC $MAC, ping 3/3, 1 MiB each way md5 ok (nc); console: $vdev token both ways; gpu: /dev/dri/card0 + fb0 ${W}x${H}, screendump = guest's pattern (all pixels); destroy $destroy_s s, no qemu, no nodes, taps gone, image intact"
