#!/usr/bin/env bash
# Runs a local vigil cluster, all on loopback, as `make cluster` does: a
# MariaDB server (Debian's mariadb-server binaries, on its own data
# directory, not the system's service), three witnesses, and two vigild
# frontends of one log in that database, under a 2-of-3 witness policy.
# Either frontend takes submissions and answers queries; they share the log,
# its blobs and its query index. Stop it with Ctrl-C or SIGTERM: the
# frontends stop first (publishing what they sequenced), then the witnesses,
# then MariaDB.
#
# State lives under DATA (default ./data-cluster): DATA/mariadb, the log key
# (DATA/log.key, DATA/log.key.pub), DATA/witnesses (with each witness's log),
# and the logs of MariaDB and the frontends (DATA/*.log). A second start
# reuses it.
#
# Environment: BIN (default bin), DATA, FRONTENDS (127.0.0.1:8180
# 127.0.0.1:8190), WITNESS_PORTS (8181 8182 8183), DB_PORT (3316), ORIGIN,
# ROOTS (a trust-roots file).
set -euo pipefail
BIN=${BIN:-bin}
DATA=${DATA:-./data-cluster}
read -r -a FRONTENDS <<<"${FRONTENDS:-127.0.0.1:8180 127.0.0.1:8190}"
read -r -a PORTS <<<"${WITNESS_PORTS:-8181 8182 8183}"
DB_PORT=${DB_PORT:-3316}
ORIGIN=${ORIGIN:-cluster.vigil.local/log}
ROOTS=${ROOTS:-testdata/dev/trust-roots.json}

mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
if [ ! -x "$mariadbd" ] || ! command -v mariadb-install-db >/dev/null; then
	echo "cluster.sh: MariaDB is not installed (apt-get install mariadb-server; make test installs it)" >&2
	exit 1
fi
mkdir -p "$DATA"
DATA=$(cd "$DATA" && pwd)

dbpid=
pids=()
stop() {
	# Frontends first: they publish what they sequenced, which needs the
	# witnesses and the database.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[$i]}" 2>/dev/null || true
		wait "${pids[$i]}" 2>/dev/null || true
	done
	if [ -n "$dbpid" ]; then
		kill "$dbpid" 2>/dev/null || true
		wait "$dbpid" 2>/dev/null || true
	fi
}
trap stop EXIT
trap 'exit 143' TERM INT

. "$(dirname "$0")/witnesses.sh"

user=()
[ "$(id -u)" -ne 0 ] || user=(--user=root) # mariadbd refuses root otherwise
create=()
if [ ! -d "$DATA/mariadb/mysql" ]; then
	create=(--create) # a new database: its first frontend creates the log
	mariadb-install-db --no-defaults "${user[@]}" --datadir="$DATA/mariadb" \
		--auth-root-authentication-method=normal --skip-test-db >"$DATA/mariadb-install.log" 2>&1
fi
"$mariadbd" --no-defaults "${user[@]}" --datadir="$DATA/mariadb" --socket="$DATA/mariadb.sock" \
	--pid-file="$DATA/mariadb.pid" --log-error="$DATA/mariadb.log" --bind-address=127.0.0.1 \
	--port="$DB_PORT" --skip-name-resolve --max-connections=500 &
dbpid=$!
wait_port "127.0.0.1:$DB_PORT"
for _ in $(seq 100); do
	mariadb --no-defaults -uroot -h127.0.0.1 -P"$DB_PORT" -e 'CREATE DATABASE IF NOT EXISTS vigil' 2>/dev/null && break
	sleep 0.1
done
dsn="root@tcp(127.0.0.1:$DB_PORT)/vigil"
echo "cluster: MariaDB on 127.0.0.1:$DB_PORT, database vigil ($DATA/mariadb)"

# The witnesses must know the log's key before they start, and Tessera
# needs them up when it creates the log: the key comes first.
if [ ! -f "$DATA/log.key" ]; then
	"$BIN/vigil" keygen --type log --name "$ORIGIN" --out "$DATA/log.key" >/dev/null
fi
logvkey=$(cat "$DATA/log.key.pub")
policy="log $logvkey http://${FRONTENDS[0]}/"$'\n'
start_witnesses "$DATA/witnesses" "$logvkey"
members=$(printf 'w%s ' $(seq ${#PORTS[@]}))
quorum=$(((${#PORTS[@]} + 2) / 2))
policy+="group majority $quorum $members"$'\n'"quorum majority"$'\n'
printf '%s' "$policy" >"$DATA/witness-policy.txt"
echo "cluster: ${#PORTS[@]} witnesses up; the policy ($DATA/witness-policy.txt) needs $quorum of them"

for i in "${!FRONTENDS[@]}"; do
	"$BIN/vigild" --storage mysql --mysql-dsn "$dsn" --log-key "$DATA/log.key" --trust-roots "$ROOTS" \
		--listen "${FRONTENDS[$i]}" --witness-policy "$DATA/witness-policy.txt" --log-format text "${create[@]}" \
		2>>"$DATA/vigild-$((i + 1)).log" &
	pids+=($!)
	wait_port "${FRONTENDS[$i]}"
	echo "cluster: vigild frontend $((i + 1)) at http://${FRONTENDS[$i]} ($DATA/vigild-$((i + 1)).log)"
done
echo "cluster: up. Ctrl-C stops it."
# Waiting for any child lets a dying process end the cluster, and lets the
# TERM trap run at once.
wait -n "${pids[@]}" "$dbpid"
echo "cluster.sh: a process exited; stopping the cluster (see $DATA/*.log)" >&2
exit 1
