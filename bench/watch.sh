#!/usr/bin/env bash
# vigie watch beside scanlogd (issue 13): one attack and benign matrix on the
# sweep lab (`vigie-lab sweep`: namespaces vigie-sw-scanner 198.18.0.1 /
# fd00:18::1 on v0 and vigie-sw-target 198.18.0.2 / fd00:18::2 on v1; the
# target answers the routed 198.19.0.0/16, 198.18.0.3 drops everything).
#
# For every case, in the target namespace: `vigie watch -i v1 -oJ FILE` and
# scanlogd (Debian package). scanlogd has no options and logs only through
# syslog(3), after forking and chrooting to /run/scanlogd/empty; it is run in
# a private mount namespace (unshare -m) whose /dev/log and
# /run/scanlogd/empty/dev/log are bind mounts of a datagram socket that a
# small python listener of this script reads (nothing of the host's /dev or
# /run is touched). Then the case runs in the scanner namespace, both
# watchers stop, and the table says what each reported.
#
# Then a benign matrix (false alerts), and a random-source SYN flood
# (hping3, inside the lab only) with an nmap -sS scan in the middle: peak RSS
# (VmHWM) of both watchers and whether the scan is still reported.
#
# Usage (root): sudo bench/watch.sh
#   VIGIE=... VIGIE_LAB=...   use these binaries (default: build them)
#   ONLY=attacks|benign|flood run one part
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in nmap masscan zmap hping3 scanlogd python3; do
    command -v "$pkg" >/dev/null || [ -x "/usr/sbin/$pkg" ] || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -q "${need[@]}" >/dev/null
fi
dir="${CARGO_TARGET_DIR:-target}"
if [ -z "${VIGIE:-}" ]; then
    cargo build --release -q --bin vigie
    VIGIE="$(realpath "$dir")/release/vigie"
fi
if [ -z "${VIGIE_LAB:-}" ]; then
    cargo build --release -q -p vigie-lab
    VIGIE_LAB="$(realpath "$dir")/release/vigie-lab"
fi
VIGIE=$(readlink -f "$VIGIE")
SCANLOGD=$(command -v scanlogd || echo /usr/sbin/scanlogd)
ONLY=${ONLY:-attacks,benign,flood}
S=vigie-sw-scanner
T=vigie-sw-target
SCANNER_V4=198.18.0.1
SCANNER_V6=fd00:18::1
TARGET_V4=198.18.0.2
TARGET_V6=fd00:18::2
OUT=$(mktemp -d /tmp/vigie-watch-bench.XXXXXX)
chmod 755 "$OUT"

LAB_PID=
WATCH_PID=
SLD_PID=
LISTEN_PID=
SERVER_PID=
stop_pid() { # pid: SIGTERM, wait up to 3 s, then SIGKILL
    local p=$1
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 30); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
}
cleanup() {
    stop_pid "$WATCH_PID"
    stop_pid "$SLD_PID"
    stop_pid "$LISTEN_PID"
    stop_pid "$SERVER_PID"
    if [ -n "$LAB_PID" ]; then
        stop_pid "$LAB_PID"
        wait "$LAB_PID" 2>/dev/null || true
    fi
    # Whatever is still in the lab (a killed run), and the namespaces.
    if ip netns list | grep -q "^vigie-sw-"; then "$VIGIE_LAB" down >/dev/null || true; fi
}
trap cleanup EXIT

if ip netns list | grep -q "^vigie-sw-"; then
    echo "watch: a sweep lab is already up (run: $VIGIE_LAB down)" >&2
    exit 1
fi
"$VIGIE_LAB" sweep >"$OUT/lab.out" 2>&1 &
LAB_PID=$!
for _ in $(seq 300); do
    grep -q "is up" "$OUT/lab.out" && break
    kill -0 "$LAB_PID" 2>/dev/null || { cat "$OUT/lab.out" >&2; exit 1; }
    sleep 0.1
done
grep -q "is up" "$OUT/lab.out" || { echo "watch: the lab did not come up" >&2; exit 1; }
MAC=$(ip netns exec "$T" cat /sys/class/net/v1/address)
# Neighbours resolved once, so no case pays (or is seen) for it.
ip netns exec "$S" "$VIGIE" -sn -n -PE --disable-arp-ping "$TARGET_V4" >/dev/null
ip netns exec "$S" "$VIGIE" -sn -n -6 -PE "$TARGET_V6" >/dev/null || true

cat >"$OUT/listen.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(65536).decode(errors="replace").rstrip("\n") + "\n")
EOF

N=0
# Starts both watchers for case $N.
start_watchers() {
    N=$((N + 1))
    local sock="$OUT/$N.sock"
    : >"$OUT/$N.syslog"
    python3 "$OUT/listen.py" "$sock" "$OUT/$N.syslog" &
    LISTEN_PID=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
    chmod 666 "$sock"
    ip netns exec "$T" unshare -m --propagation private sh -c '
        mount -t tmpfs tmpfs /run &&
        mkdir -p /run/scanlogd/empty/dev && : >/run/scanlogd/empty/dev/log &&
        mount --bind "$1" /run/scanlogd/empty/dev/log &&
        mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && : >/dev/log &&
        mount --bind "$1" /dev/log && exec "$2"' sh "$sock" "$SCANLOGD"
    # scanlogd forked into the background: its pid is the one in the target
    # namespace named scanlogd.
    SLD_PID=
    for _ in $(seq 50); do
        for p in $(ip netns pids "$T"); do
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = scanlogd ] && SLD_PID=$p
        done
        [ -n "$SLD_PID" ] && break
        sleep 0.05
    done
    [ -n "$SLD_PID" ] || { echo "watch: scanlogd did not start" >&2; exit 1; }
    : >"$OUT/$N.err"
    ip netns exec "$T" "$VIGIE" watch -i v1 -oJ "$OUT/$N.jsonl" >"$OUT/$N.out" 2>"$OUT/$N.err" &
    WATCH_PID=$!
    for _ in $(seq 100); do
        grep -q watching "$OUT/$N.err" && break
        kill -0 "$WATCH_PID" 2>/dev/null || { cat "$OUT/$N.err" >&2; exit 1; }
        sleep 0.05
    done
    sleep 0.2
}

# Peak RSS in kB of both watchers (before they stop).
peaks() {
    local w s
    w=$(awk '/VmHWM/ {print $2}' "/proc/$WATCH_PID/status")
    s=$(awk '/VmHWM/ {print $2}' "/proc/$SLD_PID/status")
    echo "$w $s"
}

stop_watchers() {
    sleep 2 # the last frames, and scanlogd's 3 s window partly
    stop_pid "$WATCH_PID"
    wait "$WATCH_PID" 2>/dev/null || echo "watch: vigie watch exited $? (case $N)" >&2
    WATCH_PID=
    stop_pid "$SLD_PID"
    SLD_PID=
    sleep 0.2
    stop_pid "$LISTEN_PID"
    wait "$LISTEN_PID" 2>/dev/null || true
    LISTEN_PID=
}

# Runs a command in the scanner namespace (masscan: 15 s then SIGINT).
in_scanner() {
    local limit=90
    [ "$1" = masscan ] && limit=15
    ip netns exec "$S" timeout -s INT -k 3 "$limit" "$@" >>"$OUT/$N.scan" 2>&1 || true
}

# One row: what vigie and scanlogd reported for case $N, from src/group.
report() { # name
    python3 - "$1" "$OUT/$N.jsonl" "$OUT/$N.syslog" "$SCANNER_V4" "$SCANNER_V6" <<'EOF'
import json, re, sys
name, jf, sf, v4, v6 = sys.argv[1:]
alerts = [json.loads(l) for l in open(jf) if l.strip()] if __import__("os").path.exists(jf) else []
mine = [a for a in alerts if a["src"] in (v4, v6) or v4 in a.get("group", []) or v6 in a.get("group", [])]
if mine:
    a = mine[0]
    kinds = []
    for b in mine:
        if b["kind"] not in kinds:
            kinds.append(b["kind"])
    grp = f" (group of {len(a['group'])}, {a['group_kind']})" if a.get("group") else ""
    v = f"yes | {', '.join(kinds)}{grp} | {a['tool'] or '—'} | {a['probes']}"
else:
    v = "**no** | — | — | —"
lines = [l for l in open(sf) if "scanlogd:" in l and " to " in l]
if lines:
    m = re.search(r"scanlogd: (.*?) @", lines[0])
    msg = m.group(1) if m else lines[0].strip()
    flags = re.search(r", ([A-Za-z?]{8})(,|$)", msg)
    s = f"yes ({len(lines)} line{'s' if len(lines) > 1 else ''}; flags {flags.group(1) if flags else '?'})"
else:
    s = "**no**"
print(f"| {name} | {v} | {s} |")
EOF
}

P="-p 1-200"
NM="-n -Pn -T4 --max-retries 0"
attack() { # name, program, args...
    local name=$1
    shift
    start_watchers
    echo "\$ $*" >"$OUT/$N.scan"
    in_scanner "$@"
    stop_watchers
    report "$name" | tee -a "$OUT/rows.md"
}

if [[ $ONLY == *attacks* ]]; then
    echo "| attack | vigie | kinds | tool | probes to alert | scanlogd |" >>"$OUT/rows.md"
    echo "|---|---|---|---|---|---|" >>"$OUT/rows.md"
    # shellcheck disable=SC2086
    {
        attack "nmap -sS" nmap -sS $P $NM $TARGET_V4
        attack "nmap -sT" nmap -sT $P $NM $TARGET_V4
        attack "nmap -sF" nmap -sF $P $NM $TARGET_V4
        attack "nmap -sN" nmap -sN $P $NM $TARGET_V4
        attack "nmap -sX" nmap -sX $P $NM $TARGET_V4
        attack "nmap -sA" nmap -sA $P $NM $TARGET_V4
        attack "nmap -sW" nmap -sW $P $NM $TARGET_V4
        attack "nmap -sM" nmap -sM $P $NM $TARGET_V4
        attack "nmap -sU -p 1-100" nmap -sU -p 1-100 $NM $TARGET_V4
        attack "nmap -6 -sS" nmap -6 -sS $P $NM $TARGET_V6
        attack "nmap -sS --scan-delay 1s -p 1-12" nmap -sS --scan-delay 1s -p 1-12 $NM $TARGET_V4
        attack "nmap -sS -T2 -p 1-20" nmap -sS -T2 -p 1-20 -n -Pn --max-retries 0 $TARGET_V4
        attack "nmap -sS -f" nmap -sS -f $P $NM $TARGET_V4
        attack "nmap -sS -D 198.18.0.50,198.18.0.51,ME" nmap -sS $P $NM -D 198.18.0.50,198.18.0.51,ME $TARGET_V4
        attack "nmap -sS dropped ports (198.18.0.3)" nmap -sS $P $NM 198.18.0.3
        attack "nmap -sn 198.19.0.0/26" nmap -sn -n -T4 --max-retries 0 198.19.0.0/26
        attack "nmap -sn -PR 198.18.0.0/24" nmap -sn -PR -n 198.18.0.0/24
        attack "masscan -p1-200" masscan -p1-200 --rate 2000 --wait 1 --interface v0 --router-mac "$MAC" $TARGET_V4
        attack "zmap -p 80 198.19.0.0/24" zmap -q -p 80 -i v0 -G "$MAC" -b /dev/null -c 1 -o /dev/null -r 2000 198.19.0.0/24
        attack "vigie -sS" "$VIGIE" -sS $P -n -Pn $TARGET_V4
    }
fi

if [[ $ONLY == *benign* ]]; then
    # Servers in the target: HTTP-like on 8000-8002, SSH-like on 2222 (a
    # banner, then an echo).
    ip netns exec "$T" python3 -c '
import socket, threading
def serve(p, ssh):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", p)); s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=conn, args=(c, ssh), daemon=True).start()
def conn(c, ssh):
    if ssh:
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        while (d := c.recv(4096)):
            c.sendall(d)
    else:
        c.recv(1000); c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    c.close()
for p in (8000, 8001, 8002):
    threading.Thread(target=serve, args=(p, False), daemon=True).start()
threading.Thread(target=serve, args=(2222, True), daemon=True).start()
threading.Event().wait()' &
    SERVER_PID=$!
    sleep 0.5
    echo >>"$OUT/rows.md"
    echo "| benign case | vigie alerts | scanlogd alerts |" >>"$OUT/rows.md"
    echo "|---|---|---|" >>"$OUT/rows.md"
    benign() { # name, python code
        start_watchers
        in_scanner python3 -c "$2"
        stop_watchers
        local v s
        v=$(grep -c . "$OUT/$N.jsonl" 2>/dev/null || true)
        s=$(grep -c 'scanlogd: .* to ' "$OUT/$N.syslog" || true)
        echo "| $1 | ${v:-0} | ${s:-0} |" >>"$OUT/rows.md"
    }
    benign "web client: 20 fetches of http://198.18.0.2:8000/ and [fd00:18::2]:8000 (urllib)" '
import urllib.request, time
for i in range(10):
    for h in ("198.18.0.2", "[fd00:18::2]"):
        urllib.request.urlopen(f"http://{h}:8000/", timeout=2).read()
    time.sleep(0.2)'
    benign "monitor: 3 open ports (8000-8002) every 0.5 s for 10 s" '
import socket, time
for i in range(20):
    for p in (8000, 8001, 8002):
        s = socket.create_connection(("198.18.0.2", p), timeout=2); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); s.recv(100); s.close()
    time.sleep(0.5)'
    benign "20 retries to one closed port (9)" '
import socket
for i in range(20):
    try: socket.create_connection(("198.18.0.2", 9), timeout=1)
    except OSError: pass'
    benign "DNS-like: 20 datagrams to 53, each from a new socket" '
import socket, time
for i in range(20):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01", ("198.18.0.2", 53))
    s.close(); time.sleep(0.05)'
    benign "SSH-like: one connection to 2222, banner then 20 echoes over 10 s" '
import socket, time
s = socket.create_connection(("198.18.0.2", 2222), timeout=2); s.recv(100)
s.sendall(b"SSH-2.0-OpenSSH_9.2p1\r\n"); s.recv(100)
for i in range(20):
    s.sendall(b"x" * 48); s.recv(100); time.sleep(0.5)
s.close()'
    stop_pid "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
fi

if [[ $ONLY == *flood* ]]; then
    start_watchers
    echo "\$ hping3 -S --flood --rand-source -p 80 $TARGET_V4 (5 s); nmap -sS $P $NM $TARGET_V4 after 1.5 s" >"$OUT/$N.scan"
    ip netns exec "$S" timeout -s INT -k 2 5 hping3 -q -S --flood --rand-source -p 80 "$TARGET_V4" \
        >>"$OUT/$N.hping" 2>&1 &
    FLOOD=$!
    sleep 1.5
    # shellcheck disable=SC2086
    in_scanner nmap -sS $P $NM $TARGET_V4
    wait "$FLOOD" || true
    sleep 1
    read -r WHWM SHWM < <(peaks)
    stop_watchers
    FLOOD_ALERTS=$(grep -c . "$OUT/$N.jsonl" 2>/dev/null || true)
    FLOOD_SLD=$(grep -c 'scanlogd: .* to ' "$OUT/$N.syslog" || true)
    echo >>"$OUT/rows.md"
    echo "| under a 5 s random-source SYN flood | vigie watch | scanlogd |" >>"$OUT/rows.md"
    echo "|---|---|---|" >>"$OUT/rows.md"
    echo "| peak RSS (VmHWM) | $((WHWM / 1024)) MB ($WHWM kB) | $((SHWM / 1024)) MB ($SHWM kB) |" >>"$OUT/rows.md"
    report "nmap -sS during the flood: vigie kind / tool / probes" >"$OUT/flood.row"
    python3 - "$OUT/flood.row" "$FLOOD_ALERTS" "$FLOOD_SLD" >>"$OUT/rows.md" <<'EOF'
import sys
cells = [c.strip() for c in open(sys.argv[1]).read().strip().strip("|").split("|")]
print(f"| nmap -sS during the flood reported | {cells[1]}: {cells[2]}, {cells[3]}, {cells[4]} probes | {cells[5]} |")
print(f"| alerts in all | {sys.argv[2] or 0} | {sys.argv[3] or 0} |")
EOF
    grep -E 'packets (transmitted|tramitted)' "$OUT/$N.hping" || tail -3 "$OUT/$N.hping"
fi

echo
echo "watch bench: $(date -u +%FT%TZ), $(nproc) cores, head $(git rev-parse --short HEAD 2>/dev/null || echo '?'), raw files in $OUT"
cat "$OUT/rows.md"
