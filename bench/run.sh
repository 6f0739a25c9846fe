#!/bin/bash
# One command: install the other scanners, build vigie, build the lab, run
# every case REPEAT times (default 3), print medians, ratios, accuracy.
#   sudo bench/run.sh            # everything
#   ONLY=syn,sweep bench/run.sh  # some cases: syn sweep connect sink rate loss sparse memory version history evasion
#   ONLY=sparse REPEAT=1 bench/run.sh  # one case, one run
#   ONLY=version REPEAT_UDP=1 bench/run.sh  # -sV beside nmap -sV on `vigie-lab services`
#                                           # (its daemons: the apt list in .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in nmap masscan zmap iptables python3; do
    command -v "$pkg" >/dev/null || need+=("$pkg")
done
# The history case's PostgreSQL server (initdb and pg_ctl are not on PATH).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    apt-get install -y -q "${need[@]}" >/dev/null
fi
if ! command -v rustscan >/dev/null && [ ! -x "$HOME/.cargo/bin/rustscan" ]; then
    cargo install rustscan --locked >/dev/null 2>&1 || echo "bench: cargo install rustscan failed; running without RustScan" >&2
fi
export RUSTSCAN="${RUSTSCAN:-$(command -v rustscan || echo "$HOME/.cargo/bin/rustscan")}"
cargo build --release -q --bin vigie
cargo build --release -q -p vigie-lab
dir="${CARGO_TARGET_DIR:-target}"
export VIGIE="$(realpath "$dir")/release/vigie"
export VIGIE_LAB="$(realpath "$dir")/release/vigie-lab"
trap 'bench/lab.sh down; bench/lab.sh sparse-down' EXIT
bench/lab.sh up
echo "bench: $(date -u +%FT%TZ), $(nproc) cores, REPEAT=${REPEAT:-3}, head $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
python3 bench/bench.py
