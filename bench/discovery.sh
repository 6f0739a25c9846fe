#!/usr/bin/env bash
# Ping sweep of a /16: vigie -sn against nmap -sn and zmap's ICMP echo module.
#
# Builds its own pair of namespaces (vgd-s, vgd-t): the target answers for
# 198.19.0.0/16 (a local route on lo) with the same per-/25 iptables classes
# as crates/lab/src/sweep.rs (3/8 down, 1/8 each SYN-443 only, echo only,
# ACK-80 only, and open). Each tool runs REPEAT times; prints median wall
# time, the ratio to vigie, and how many hosts each found (truth: 32768 up
# for the default probes; zmap sends only ICMP echo, so 16384 answer it).
#
# Usage (root): VIGIE=target/release/vigie REPEAT=3 bench/discovery.sh
set -euo pipefail

VIGIE=${VIGIE:-target/release/vigie}
VIGIE=$(readlink -f "$VIGIE")
REPEAT=${REPEAT:-3}
S=vgd-s
T=vgd-t
OUT=$(mktemp -d /tmp/vigie-discovery-bench.XXXXXX)

command -v nmap >/dev/null || apt-get install -y -qq nmap >/dev/null
command -v zmap >/dev/null || { apt-get update -qq && apt-get install -y -qq zmap >/dev/null; }

cleanup() {
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$T" 2>/dev/null || true
}
trap cleanup EXIT
cleanup

ip netns add "$S"
ip netns add "$T"
ip link add v0 netns "$S" type veth peer name v1 netns "$T"
ip -n "$S" addr add 198.18.0.1/24 dev v0
ip -n "$T" addr add 198.18.0.2/24 dev v1
for ns in "$S" "$T"; do ip -n "$ns" link set lo up; done
ip -n "$S" link set v0 up
ip -n "$T" link set v1 up
ip -n "$T" route add local 198.19.0.0/16 dev lo
ip -n "$S" route add 198.19.0.0/16 via 198.18.0.2
ip netns exec "$T" sysctl -q -w net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 \
    net.ipv4.icmp_msgs_burst=1000000 net.ipv4.tcp_max_syn_backlog=65536
{
    echo '*filter'
    echo ':INPUT ACCEPT [0:0]'
    for c in SW_DOWN SW_SYN443 SW_ECHO SW_ACK80; do echo ":$c - [0:0]"; done
    echo '-A SW_DOWN -j DROP'
    echo '-A SW_SYN443 -p tcp --dport 443 -j ACCEPT'
    echo '-A SW_SYN443 -j DROP'
    echo '-A SW_ECHO -p icmp --icmp-type echo-request -j ACCEPT'
    echo '-A SW_ECHO -j DROP'
    echo '-A SW_ACK80 -p tcp --dport 80 --tcp-flags ALL ACK -j ACCEPT'
    echo '-A SW_ACK80 -j DROP'
    for b in $(seq 0 511); do
        case $((b % 8)) in
            3) chain=SW_SYN443 ;;
            4) chain=SW_ECHO ;;
            5) chain=SW_ACK80 ;;
            6) continue ;;
            *) chain=SW_DOWN ;;
        esac
        echo "-A INPUT -d 198.19.$((b / 2)).$(((b % 2) * 128))/25 -j $chain"
    done
    echo COMMIT
} | ip netns exec "$T" iptables-restore
# A listener on 443 so the SYN-443 class answers SYN-ACK.
ip netns exec "$T" python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 443)); s.listen(4096); time.sleep(100000)' &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null || true; cleanup' EXIT
sleep 0.5
GW_MAC=$(ip netns exec "$T" cat /sys/class/net/v1/address)
# Resolve the gateway once so no tool pays for it.
ip netns exec "$S" "$VIGIE" -sn -n -PE --disable-arp-ping 198.18.0.2 >/dev/null

declare -A TIMES COUNT
run_tool() { # name, count-command, command...
    local name=$1 counter=$2
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    ip netns exec "$S" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
    t1=$(date +%s.%N)
    TIMES[$name]+="$(echo "$t1 - $t0" | bc) "
    COUNT[$name]=$($counter "$OUT/$name.out")
}
count_vigie() { grep -c '"status":"up"' "$1" || true; }
count_nmap() { grep -c 'Host is up' "$1" || true; }
count_zmap() { grep -c . "$1" || true; }

for _ in $(seq "$REPEAT"); do
    run_tool vigie count_vigie "$VIGIE" -sn -n -oJ - 198.19.0.0/16
    run_tool nmap count_nmap nmap -sn -n -T4 198.19.0.0/16
    run_tool zmap count_zmap zmap -q -b /dev/null -M icmp_echoscan -i v0 -G "$GW_MAC" -S 198.18.0.1 \
        -r 1000000 -c 1 -o - 198.19.0.0/16
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
V=$(echo "${TIMES[vigie]}" | median)
printf '%-6s %10s %10s %8s   (/16 = 65536 addresses, %s runs each)\n' tool median_s ratio hosts_up "$REPEAT"
for tool in vigie nmap zmap; do
    M=$(echo "${TIMES[$tool]}" | median)
    printf '%-6s %10.2f %10.2f %8s\n' "$tool" "$M" "$(echo "$M / $V" | bc -l)" "${COUNT[$tool]}"
done
echo "truth: 32768 up to the default probes (vigie, nmap); 16384 answer ICMP echo (zmap)"
