#!/usr/bin/env bash
# UDP scan: `nmap -sU -T4` against `vigie -sU` on the same lab and ports,
# time and accuracy side by side.
#
# Two identical labs are built (namespaces vgu-ns/vgu-nt for nmap, vgu-vs/
# vgu-vt for vigie; PREFIX=... changes "vgu") and both scans run AT THE SAME
# TIME, each against its own target: the ICMP rate limit is kept per target
# namespace, so neither scan eats the other's budget, and wall time halves.
#
# Target 198.18.0.2 / fd00:18::2, kernel defaults (ICMP rate limit ON):
#   dnsmasq on 53; UDP echo on 7,161,500,31337,40000; a responder answering
#   DNS with a wrong transaction id on 5353 (truth: open — any datagram from
#   the probed port answers the probe, as nmap reads it);
#   DROP 69,111,137,4500,7000-7004; REJECT icmp-admin-prohibited 135,9002;
#   every other port closed (ICMP port unreachable, rate-limited).
# Ports: 1-1000,4500,5353,7000-7004,9002,31337,40000 (1010).
#
# Usage (root): VIGIE=target/release/vigie [FAMILY=4|6] [REPEAT=1] [PREFIX=vgu] bench/udp.sh
# Prints per run and the median: wall time, ports right / wrong, and the
# ratio nmap time / vigie time.
set -euo pipefail

VIGIE=$(readlink -f "${VIGIE:-target/release/vigie}")
FAMILY=${FAMILY:-4}
REPEAT=${REPEAT:-1}
# Namespace prefix, so two benches (e.g. IPv4 and IPv6) can run at once.
P=${PREFIX:-vgu}
PORTS="1-1000,4500,5353,7000-7004,9002,31337,40000"
OUT=$(mktemp -d /tmp/vigie-udp-bench.XXXXXX)
command -v nmap >/dev/null || apt-get install -y -qq nmap >/dev/null
command -v dnsmasq >/dev/null || apt-get install -y -qq dnsmasq-base >/dev/null

if [ "$FAMILY" = 6 ]; then TARGET=fd00:18::2; FAM=-6; else TARGET=198.18.0.2; FAM=; fi

lab_down() { # prefix
    for ns in "$1s" "$1t"; do
        if [ -f "$OUT/$ns.pids" ]; then xargs -r kill <"$OUT/$ns.pids" 2>/dev/null || true; fi
        ip netns del "$ns" 2>/dev/null || true
    done
}

lab_up() { # prefix
    local S="$1s" T="$1t"
    lab_down "$1"
    ip netns add "$S"; ip netns add "$T"
    for ns in "$S" "$T"; do
        ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.accept_ra=0
    done
    ip link add "${1}0" netns "$S" type veth peer name "${1}1" netns "$T"
    ip -n "$S" addr add 198.18.0.1/24 dev "${1}0"; ip -n "$S" addr add fd00:18::1/64 dev "${1}0" nodad
    ip -n "$T" addr add 198.18.0.2/24 dev "${1}1"; ip -n "$T" addr add fd00:18::2/64 dev "${1}1" nodad
    for ns in "$S" "$T"; do ip -n "$ns" link set lo up; done
    ip -n "$S" link set "${1}0" up; ip -n "$T" link set "${1}1" up
    for ipt in iptables ip6tables; do
        if [ $ipt = iptables ]; then rej=icmp-admin-prohibited; else rej=icmp6-adm-prohibited; fi
        ip netns exec "$T" $ipt -A INPUT -p udp -m multiport --dports 69,111,137,4500,7000:7004 -j DROP
        ip netns exec "$T" $ipt -A INPUT -p udp -m multiport --dports 135,9002 -j REJECT --reject-with $rej
    done
    ip netns exec "$T" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --bind-interfaces --except-interface=lo --pid-file= --user=root --port=53 \
        --listen-address=198.18.0.2,fd00:18::2 >/dev/null 2>&1 &
    echo $! >>"$OUT/$T.pids"
    ip netns exec "$T" python3 - >/dev/null 2>&1 <<'EOF' &
import selectors, socket
sel = selectors.DefaultSelector()
for port, liar in [(7, 0), (161, 0), (500, 0), (31337, 0), (40000, 0), (5353, 1)]:
    for fam, addr in [(socket.AF_INET, "198.18.0.2"), (socket.AF_INET6, "fd00:18::2")]:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((addr, port))
        sel.register(s, selectors.EVENT_READ, liar)
while True:
    for key, _ in sel.select():
        data, peer = key.fileobj.recvfrom(2048)
        if key.data:  # DNS answer with the wrong transaction id
            data = bytearray(data.ljust(12, b"\0"))
            data[0:2] = ((int.from_bytes(data[0:2], "big") + 1) & 0xffff).to_bytes(2, "big")
            data[2] |= 0x80
        key.fileobj.sendto(bytes(data), peer)
EOF
    echo $! >>"$OUT/$T.pids"
    sleep 1
}

cleanup() { lab_down $P-n; lab_down $P-v; }
trap cleanup EXIT

score() { # tool file -> "right wrong"
    python3 - "$1" "$2" "$PORTS" <<'EOF'
import json, re, sys
tool, path, spec = sys.argv[1:4]
ports = []
for part in spec.split(","):
    a, _, b = part.partition("-")
    ports += range(int(a), int(b or a) + 1)
def truth(p):
    if p in (69, 111, 137, 4500) or 7000 <= p <= 7004: return "open|filtered"
    if p in (135, 9002): return "filtered"
    if p in (53, 5353, 7, 161, 500, 31337, 40000): return "open"
    return "closed"
got = {}
text = open(path).read()
if tool == "vigie":
    for line in text.splitlines():
        v = json.loads(line)
        if v.get("type") == "host":
            for p in v["ports"]:
                got[p["port"]] = p["state"]
else:
    state = None
    for tag in re.findall(r"<[^>]+>", text):
        m = re.match(r'<extraports state="([^"]+)"', tag)
        if m: state = m.group(1)
        m = re.search(r'<extrareasons [^>]*ports="([^"]+)"', tag)
        if m:
            for part in m.group(1).split(","):
                a, _, b = part.partition("-")
                for p in range(int(a), int(b or a) + 1): got[p] = state
    for m in re.finditer(r'<port protocol="udp" portid="(\d+)"><state state="([^"]+)"', text):
        got[int(m.group(1))] = m.group(2)
right = sum(1 for p in ports if got.get(p) == truth(p))
print(right, len(ports) - right)
EOF
}

lab_up $P-n
lab_up $P-v
echo "UDP bench: $PORTS (1010 ports) on IPv$FAMILY, ICMP rate limit at kernel defaults; nmap and vigie run concurrently, each on its own lab"
printf "%-6s %-5s %10s %7s %7s\n" run tool seconds right wrong
for i in $(seq 1 "$REPEAT"); do
    (
        s=$(date +%s.%N)
        ip netns exec $P-ns nmap -sU -T4 -n -Pn $FAM -p "U:$PORTS" -oX "$OUT/nmap$i.xml" "$TARGET" >/dev/null
        echo "$(echo "$(date +%s.%N) - $s" | bc)" >"$OUT/nmap$i.time"
    ) &
    nmap_pid=$!
    (
        s=$(date +%s.%N)
        ip netns exec $P-vs "$VIGIE" -sU -n -Pn $FAM -p "U:$PORTS" -oJ "$OUT/vigie$i.jsonl" "$TARGET" >"$OUT/vigie$i.out"
        echo "$(echo "$(date +%s.%N) - $s" | bc)" >"$OUT/vigie$i.time"
    ) &
    vigie_pid=$!
    # Not a bare `wait`: the labs' services are background jobs too.
    wait $nmap_pid $vigie_pid
    for tool in nmap vigie; do
        f="$OUT/$tool$i.xml"; [ $tool = vigie ] && f="$OUT/vigie$i.jsonl"
        read -r right wrong < <(score $tool "$f")
        printf "%-6s %-5s %10.1f %7s %7s\n" "$i" $tool "$(cat "$OUT/$tool$i.time")" "$right" "$wrong"
        echo "$(cat "$OUT/$tool$i.time") $right $wrong" >>"$OUT/$tool.runs"
    done
    # Let both targets' ICMP budgets refill before the next run.
    sleep 7
done
med() { sort -n "$OUT/$1.runs" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
read -r nt nr nw < <(med nmap)
read -r vt vr vw < <(med vigie)
echo "median: nmap ${nt}s ${nr} right ${nw} wrong | vigie ${vt}s ${vr} right ${vw} wrong | nmap/vigie time $(echo "scale=2; $nt / $vt" | bc)"
echo "outputs in $OUT"
