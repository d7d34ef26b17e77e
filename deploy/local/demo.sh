#!/usr/bin/env bash
# make demo: plays vigil-fleetsim's scenario on a small fleet against a local
# log with two witnesses (deploy/local/run.sh, on loopback), checks every
# answer against the scenario's ground truth, and prints the three
# regulator answers, each proven by the client: what firmware a device ran at
# a time, which devices an advisory affects, and which devices a field
# action has corrected. Everything lives in a temporary directory, removed
# at the end (KEEP=1 keeps it).
#
# Environment: BIN (default bin), DEVICES (120), DAYS (10), LISTEN
# (127.0.0.1:8090), WITNESS_PORTS (8091 8092).
set -euo pipefail
BIN=${BIN:-bin}
DEVICES=${DEVICES:-120}
DAYS=${DAYS:-10}
LISTEN=${LISTEN:-127.0.0.1:8090}
export WITNESS_PORTS=${WITNESS_PORTS:-8091 8092}
work=$(mktemp -d)
runpid=
cleanup() {
	rc=$?
	if [ -n "$runpid" ]; then
		kill "$runpid" 2>/dev/null || true
		wait "$runpid" 2>/dev/null || true
	fi
	if [ -n "${KEEP:-}" ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
	exit "$rc"
}
trap cleanup EXIT

"$BIN/vigil-fleetsim" init --out "$work/fleet" >/dev/null
BIN=$BIN DATA="$work/data" LISTEN=$LISTEN ORIGIN=demo.vigil.local/log ROOTS="$work/fleet/trust-roots.json" \
	deploy/local/run.sh >"$work/log.txt" 2>&1 &
runpid=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/${LISTEN%:*}/${LISTEN#*:}") 2>/dev/null && break
	sleep 0.1
done
echo "demo: a local log at http://$LISTEN with two witnesses; playing the scenario ($DEVICES devices, $DAYS days)"
"$BIN/vigil-fleetsim" scenario --state "$work/fleet" --url "http://$LISTEN" --devices "$DEVICES" --attestations "$DAYS" 2>"$work/scenario.err" || { cat "$work/scenario.err" >&2; exit 1; }
policy="$work/data/witness-policy.txt"
echo
"$BIN/vigil-fleetsim" check --state "$work/fleet" --url "http://$LISTEN" --policy "$policy"
# shellcheck disable=SC1091
. "$work/fleet/questions.env"
flags=(--policy "$policy" --trust-roots "$work/fleet/trust-roots.json" --state "$work/trust")
echo
echo "== 1. What firmware was on $DEVICE at $AT?"
echo "\$ vigil device at --time $AT '$DEVICE'"
"$BIN/vigil" device at "${flags[@]}" --time "$AT" "$DEVICE"
echo
echo "== 2. Which devices does the advisory affect (not heard from since $SINCE: unknown)?"
echo "\$ vigil impact --osv advisory.osv.json --since $SINCE"
"$BIN/vigil" impact "${flags[@]}" --osv "$ADVISORY" --since "$SINCE"
echo
echo "== 3. Which devices under field action $FIELD_ACTION have been corrected?"
echo "\$ vigil field-action status $FIELD_ACTION"
"$BIN/vigil" field-action status "${flags[@]}" "$FIELD_ACTION"
echo
echo "== And the cloned device's history, walked along its hash chain:"
echo "\$ vigil device history '$CLONE'"
"$BIN/vigil" device history "${flags[@]}" "$CLONE" 2>&1 | tail -n 5 || true
