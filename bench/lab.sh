#!/bin/bash
# The benchmark lab: two network namespaces joined by a veth pair.
#
#   vgb-s (scanner)  vb0 198.18.0.1/24  ──veth──  vb1 198.18.0.2/24  vgb-t (target)
#
# Target 198.18.0.2: listeners on OPEN_PORTS (every other port closed: RST),
#   iptables DROP on DROP_PORTS (filtered).
# Sweep 198.19.0.0/16: every address is local to the target namespace
#   (an AnyIP "local" route), so port 80 answers SYN-ACK on all of them,
#   except 198.19.254.0/23 which is dropped: 65024 live hosts.
# Sink 198.18.64.0/18: routed to the target, dropped in raw PREROUTING;
#   the rule's packet counter is what the receiver saw.
#
# Sparse on-link /24 (its own pair, for the "sparse" case):
#
#   vgb-ps vp0 198.18.0.1/24  ──veth──  vp1 198.18.0.2, .77, .200 /24  vgb-pt
#
#   Only those three addresses of 198.18.0.0/24 exist (answer ARP). Listeners
#   on 22, 80, 443 (every address); 198.18.0.77 drops 80 and 3389;
#   198.18.0.200 answers 443 with a TCP reset and 25 with ICMP
#   admin-prohibited; every other port closed. The same layout as
#   crates/lab/src/sparse.rs.
#
# usage: bench/lab.sh up | down | count-sink | reset-sink | loss-on | loss-off
#                     | sparse-up | sparse-down
#
# VGB=prefix (default vgb) names the namespaces (prefix-s, prefix-t) and the
# /tmp files, so two labs can exist side by side.
set -euo pipefail

VGB=${VGB:-vgb}
S=$VGB-s
T=$VGB-t
PIDFILE=/tmp/$VGB-listeners.pid
PS=$VGB-ps
PT=$VGB-pt
SPARSE_PIDFILE=/tmp/$VGB-sparse-listeners.pid
OPEN_PORTS="22 80 443 3306 8080 31337 65535"
DROP_PORTS="25,7000:7004"

up() {
    down 2>/dev/null || true
    ip netns add $S
    ip netns add $T
    ip link add vb0 netns $S type veth peer name vb1 netns $T
    ip -n $S addr add 198.18.0.1/24 dev vb0
    ip -n $T addr add 198.18.0.2/24 dev vb1
    for ns in $S $T; do
        ip -n $ns link set lo up
    done
    ip -n $S link set vb0 up
    ip -n $T link set vb1 up
    ip -n $T route add local 198.19.0.0/16 dev lo
    ip -n $S route add 198.19.0.0/16 via 198.18.0.2
    ip -n $S route add 198.18.64.0/18 via 198.18.0.2
    ip netns exec $T sysctl -q -w net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 \
        net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=65536 net.ipv4.tcp_syncookies=2 \
        net.ipv4.ip_nonlocal_bind=1
    ip netns exec $T iptables -t raw -A PREROUTING -d 198.18.64.0/18 -j DROP
    ip netns exec $T iptables -A INPUT -d 198.19.254.0/23 -j DROP
    ip netns exec $T iptables -A INPUT -d 198.18.0.2 -p tcp -m multiport --dports $DROP_PORTS -j DROP
    listeners $T "$OPEN_PORTS" $PIDFILE
    # Everything else of the /15 (the memory test's targets) goes to the
    # target, which does not forward: silence.
    ip -n $S route add 198.18.0.0/15 via 198.18.0.2
}

# listeners NS "PORTS" PIDFILE: one python process holding every port of
# PORTS on every address of NS (accept + close).
listeners() {
    ip netns exec "$1" python3 - "$2" "$3" >/dev/null 2>&1 <<'EOF' &
import socket, selectors, sys, os
sel = selectors.DefaultSelector()
for p in sys.argv[1].split():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(p)))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open(sys.argv[2], "w").write(str(os.getpid()))
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
EOF
    for _ in $(seq 50); do
        [ -s "$3" ] && break
        sleep 0.1
    done
}

sparse_up() {
    sparse_down 2>/dev/null || true
    ip netns add $PS
    ip netns add $PT
    ip link add vp0 netns $PS type veth peer name vp1 netns $PT
    ip -n $PS addr add 198.18.0.1/24 dev vp0
    for a in 2 77 200; do
        ip -n $PT addr add 198.18.0.$a/24 dev vp1
    done
    for ns in $PS $PT; do
        ip -n $ns link set lo up
    done
    ip -n $PS link set vp0 up
    ip -n $PT link set vp1 up
    ip netns exec $PT sysctl -q -w net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0
    ip netns exec $PT iptables -A INPUT -i vp1 -d 198.18.0.77 -p tcp -m multiport --dports 80,3389 -j DROP
    ip netns exec $PT iptables -A INPUT -i vp1 -d 198.18.0.200 -p tcp --dport 25 -j REJECT --reject-with icmp-admin-prohibited
    ip netns exec $PT iptables -A INPUT -i vp1 -d 198.18.0.200 -p tcp --dport 443 -j REJECT --reject-with tcp-reset
    listeners $PT "22 80 443" $SPARSE_PIDFILE
}

sparse_down() {
    if [ -s $SPARSE_PIDFILE ]; then
        kill "$(cat $SPARSE_PIDFILE)" 2>/dev/null || true
        rm -f $SPARSE_PIDFILE
    fi
    ip netns del $PS 2>/dev/null || true
    ip netns del $PT 2>/dev/null || true
}

down() {
    if [ -s $PIDFILE ]; then
        kill "$(cat $PIDFILE)" 2>/dev/null || true
        rm -f $PIDFILE
    fi
    ip netns del $S 2>/dev/null || true
    ip netns del $T 2>/dev/null || true
}

# 5% random loss each way between scanner and 198.18.0.2 (on / off).
loss() {
    local op=$1
    ip netns exec $T iptables -$op INPUT -s 198.18.0.1 -d 198.18.0.2 -m statistic --mode random --probability 0.05 -j DROP
    ip netns exec $T iptables -$op OUTPUT -s 198.18.0.2 -d 198.18.0.1 -m statistic --mode random --probability 0.05 -j DROP
}

count_sink() {
    ip netns exec $T iptables -t raw -nvxL PREROUTING | awk '/198.18.64.0\/18/ {print $1; exit}'
}

reset_sink() {
    ip netns exec $T iptables -t raw -Z PREROUTING
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    count-sink) count_sink ;;
    reset-sink) reset_sink ;;
    loss-on) loss I ;;
    loss-off) loss D ;;
    sparse-up) sparse_up ;;
    sparse-down) sparse_down ;;
    *) echo "usage: $0 up|down|count-sink|reset-sink|loss-on|loss-off|sparse-up|sparse-down" >&2; exit 2 ;;
esac
