#!/usr/bin/env bash
# Runs a local vigil log with two witnesses and a 2-of-2 witness policy, all
# on loopback, as `make run` does. State lives under DATA (default ./data):
# the log in DATA itself, the witnesses under DATA/witnesses. Stop it with
# Ctrl-C; the witnesses stop with the log.
#
# Environment: BIN (default bin), DATA, LISTEN (the log, 127.0.0.1:8080),
# WITNESS_PORTS (8081 8082), ORIGIN, ROOTS (a trust-roots file).
set -euo pipefail
BIN=${BIN:-bin}
DATA=${DATA:-./data}
LISTEN=${LISTEN:-127.0.0.1:8080}
ORIGIN=${ORIGIN:-dev.vigil.local/log}
ROOTS=${ROOTS:-testdata/dev/trust-roots.json}
read -r -a PORTS <<<"${WITNESS_PORTS:-8081 8082}"

# The witnesses must know the log's key before they start, and Tessera needs
# them up when it creates the log, so the log key is made here first, in the
# layout vigild uses (DATA/log.key and DATA/log.vkey).
if [ ! -f "$DATA/log.key" ]; then
	if [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
		echo "run.sh: $DATA has content but no log.key: not a vigil log" >&2
		exit 1
	fi
	mkdir -p "$DATA"
	"$BIN/vigil" keygen --type log --name "$ORIGIN" --out "$DATA/log.key" >/dev/null
	mv "$DATA/log.key.pub" "$DATA/log.vkey"
fi
logvkey=$(cat "$DATA/log.vkey")
. "$(dirname "$0")/witnesses.sh"
policy="log $logvkey http://$LISTEN/"$'\n'
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT
start_witnesses "$DATA/witnesses" "$logvkey"
members=$(printf 'w%s ' $(seq ${#PORTS[@]}))
policy+="group all-witnesses all $members"$'\n'"quorum all-witnesses"$'\n'
printf '%s' "$policy" >"$DATA/witness-policy.txt"
echo "vigil: ${#PORTS[@]} witnesses up (logs in $DATA/witnesses/); policy $DATA/witness-policy.txt needs all of them."
# vigild runs in the background and the script waits for it, so that a
# SIGTERM to the script (make demo stopping it) stops vigild and the
# witnesses too, through the EXIT trap.
trap 'exit 143' TERM INT
"$BIN/vigild" --data "$DATA" --origin "$ORIGIN" --trust-roots "$ROOTS" --listen "$LISTEN" \
	--witness-policy "$DATA/witness-policy.txt" --log-format text &
pids+=($!)
wait "${pids[-1]}"
