#!/usr/bin/env bash
# make demo-cluster: brings up the local cluster (deploy/local/cluster.sh:
# MariaDB, three witnesses, two vigild frontends of one log, all on
# loopback) in a temporary directory, plays vigil-fleetsim's scenario with
# its submissions alternating between the two frontends, proves every
# answer of each frontend against the scenario's ground truth, replays the
# whole log with the regulator's independent audit, and stops the cluster.
# KEEP=1 keeps the directory.
#
# Environment: BIN (default bin), DEVICES (120), DAYS (10), and cluster.sh's
# FRONTENDS, WITNESS_PORTS, DB_PORT (defaults here: 127.0.0.1:8280
# 127.0.0.1:8290; 8281 8282 8283; 3326).
set -euo pipefail
BIN=${BIN:-bin}
DEVICES=${DEVICES:-120}
DAYS=${DAYS:-10}
export FRONTENDS=${FRONTENDS:-127.0.0.1:8280 127.0.0.1:8290}
export WITNESS_PORTS=${WITNESS_PORTS:-8281 8282 8283}
export DB_PORT=${DB_PORT:-3326}
read -r -a fe <<<"$FRONTENDS"
work=$(mktemp -d)
clusterpid=
cleanup() {
	rc=$?
	if [ -n "$clusterpid" ]; then
		kill "$clusterpid" 2>/dev/null || true
		wait "$clusterpid" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ]; then tail -n 20 "$work"/cluster/*.log "$work"/cluster/witnesses/*.log "$work/cluster.txt" >&2 2>/dev/null || true; fi
	if [ -n "${KEEP:-}" ]; then echo "demo-cluster: kept $work"; else rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$BIN/vigil-fleetsim" init --out "$work/fleet" >/dev/null
BIN=$BIN DATA="$work/cluster" ORIGIN=cluster-demo.vigil.local/log ROOTS="$work/fleet/trust-roots.json" \
	deploy/local/cluster.sh >"$work/cluster.txt" 2>&1 &
clusterpid=$!
for _ in $(seq 600); do
	grep -q "cluster: up" "$work/cluster.txt" 2>/dev/null && break
	kill -0 "$clusterpid" 2>/dev/null || { cat "$work/cluster.txt" >&2; exit 1; }
	sleep 0.1
done
grep -q "cluster: up" "$work/cluster.txt" || { echo "demo-cluster: the cluster did not come up in 60s" >&2; exit 1; }
cat "$work/cluster.txt"
urls="http://${fe[0]},http://${fe[1]}"
echo
echo "demo-cluster: playing the scenario ($DEVICES devices, $DAYS days), submissions alternating between both frontends"
"$BIN/vigil-fleetsim" scenario --state "$work/fleet" --url "$urls" --devices "$DEVICES" --attestations "$DAYS" 2>"$work/scenario.err" ||
	{ cat "$work/scenario.err" >&2; exit 1; }
policy="$work/cluster/witness-policy.txt"
for f in "${fe[@]}"; do
	echo
	echo "== every answer of the frontend at http://$f, proven, against the ground truth"
	"$BIN/vigil-fleetsim" check --state "$work/fleet" --url "http://$f" --policy "$policy" --wait 60s
done
echo
echo "== the regulator's independent audit of the whole log (the scenario's cloned device shows as chain forks)"
# Exit 1 means anomalies, which the clone makes; none may be an entry the
# log should have refused, whichever frontend admitted it.
rc=0
"$BIN/vigil" audit -q --log "http://${fe[1]}" --policy "$policy" --trust-roots "$work/fleet/trust-roots.json" \
	--state "$work/trust" >"$work/audit.txt" 2>&1 || rc=$?
cat "$work/audit.txt"
if [ "$rc" -gt 1 ] || ! grep -q "(0 entries the log should have refused)" "$work/audit.txt"; then
	echo "demo-cluster: the audit found what it must not" >&2
	exit 1
fi
