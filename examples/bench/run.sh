#!/usr/bin/env bash
# Measures the guard against plain reverse_proxy in one Caddy, on loopback:
# throughput at saturation (wrk) and p99 latency at a fixed rate of half the
# plain throughput (vegeta), in interleaved rounds. Prints per-round figures,
# then medians and spreads.
#
#   examples/bench/run.sh [rounds] [seconds-per-run]     (default 5 rounds of 10 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${1:-7}"
DUR="${2:-8}"
CONNS="${CONNS:-64}"

# With two or more cores, Caddy gets core 0 and the load generator core 1,
# so neither steals the other's CPU and the ratio reflects Caddy's own cost
# per request.
SERVER_CPU=() CLIENT_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	SERVER_CPU=(taskset -c 0) CLIENT_CPU=(taskset -c 1)
fi

export PATH="$PATH:$(go env GOPATH)/bin"
if ! command -v wrk >/dev/null; then
	apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if ! command -v vegeta >/dev/null; then
	go install github.com/tsenart/vegeta/v12@v12.13.0
fi
[ -x ./caddy ] || ./xcaddy.sh build

BENCH_DATA="$(mktemp -d)"
export BENCH_DATA
"${SERVER_CPU[@]}" ./caddy run --config examples/bench/Caddyfile --adapter caddyfile >"$BENCH_DATA.log" 2>&1 &
CADDY_PID=$!
trap 'kill $CADDY_PID 2>/dev/null; wait $CADDY_PID 2>/dev/null; rm -rf "$BENCH_DATA" "$BENCH_DATA.key" "$BENCH_DATA.log"' EXIT
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:8481/ && break; sleep 0.2; done

TOKEN="$(go run ./examples/bench/gettoken -issuer http://127.0.0.1:8484)"
PLAIN=http://127.0.0.1:8482/
GUARDED=http://127.0.0.1:8483/
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" $GUARDED)" = 200 ] || { echo "guarded site refused the token" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' $GUARDED)" = 401 ] || { echo "guarded site let a request without token through" >&2; exit 1; }

# Both sites get the very same requests, token included: the plain proxy
# forwards it, the guard checks and strips it.
rps() { # url
	"${CLIENT_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DUR}s" -H "$AUTH" "$1" |
		awk '/Non-2xx/ {bad=1} /Requests\/sec/ {r=$2} END {if (bad) print "ERR"; else print r}'
}
p99ms() { # rate url
	printf 'GET %s\n%s\n' "$2" "$AUTH" | "${CLIENT_CPU[@]}" vegeta attack -rate="$1/s" -duration="${DUR}s" -connections="$CONNS" -max-connections="$CONNS" | vegeta report -type=json |
		python3 -c 'import json,sys; r=json.load(sys.stdin); ok=r["status_codes"].get("200",0)==r["requests"]; print("%.3f" % (r["latencies"]["99th"]/1e6) if ok else "ERR")'
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2}'; }
spread() { sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s–%s", lo, hi}'; }

AUTH="Authorization: Bearer $TOKEN"
echo "warming up…"
DUR=3 rps "$PLAIN" >/dev/null
DUR=3 rps "$GUARDED" >/dev/null

echo "== saturation: wrk -t1 -c$CONNS -d${DUR}s, $ROUNDS interleaved rounds${SERVER_CPU:+ (Caddy on CPU 0, load on CPU 1)}"
: >"$BENCH_DATA/ratios"; : >"$BENCH_DATA/plain"; : >"$BENCH_DATA/guarded"
for i in $(seq "$ROUNDS"); do
	if [ $((i % 2)) = 1 ]; then p=$(rps "$PLAIN"); g=$(rps "$GUARDED"); else g=$(rps "$GUARDED"); p=$(rps "$PLAIN"); fi
	[ "$p" = ERR ] || [ "$g" = ERR ] && { echo "round $i: non-2xx answers" >&2; exit 1; }
	r=$(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.4f", g/p}')
	echo "round $i: plain $p req/s, guarded $g req/s, ratio $r"
	echo "$p" >>"$BENCH_DATA/plain"; echo "$g" >>"$BENCH_DATA/guarded"; echo "$r" >>"$BENCH_DATA/ratios"
done
PLAIN_MED=$(median <"$BENCH_DATA/plain")
RATE=$(awk -v p="$PLAIN_MED" 'BEGIN {printf "%d", p/2}')

echo "== fixed rate: vegeta at $RATE req/s (half the plain median), ${DUR}s, $ROUNDS interleaved rounds"
: >"$BENCH_DATA/lratios"
for i in $(seq "$ROUNDS"); do
	if [ $((i % 2)) = 1 ]; then p=$(p99ms "$RATE" "$PLAIN"); g=$(p99ms "$RATE" "$GUARDED"); else g=$(p99ms "$RATE" "$GUARDED"); p=$(p99ms "$RATE" "$PLAIN"); fi
	[ "$p" = ERR ] || [ "$g" = ERR ] && { echo "round $i: non-200 answers" >&2; exit 1; }
	r=$(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.4f", g/p}')
	echo "round $i: p99 plain $p ms, guarded $g ms, ratio $r"
	echo "$r" >>"$BENCH_DATA/lratios"
done

echo
echo "throughput ratio guarded/plain: median $(median <"$BENCH_DATA/ratios") (rounds $(spread <"$BENCH_DATA/ratios")); plain median $PLAIN_MED req/s, guarded median $(median <"$BENCH_DATA/guarded") req/s"
echo "p99 ratio guarded/plain at $RATE req/s: median $(median <"$BENCH_DATA/lratios") (rounds $(spread <"$BENCH_DATA/lratios"))"
