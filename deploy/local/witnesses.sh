# Sourced by run.sh and cluster.sh: starting local witnesses.

# wait_port waits until something listens on HOST:PORT, for 30 s at most.
wait_port() {
	for _ in $(seq 300); do
		(exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "${0##*/}: nothing listens on $1 after 30s" >&2
	exit 1
}

# start_witnesses DIR LOGVKEY starts a vigil-witness on loopback for each
# port in PORTS, with its key (made on first use, witness-N.local), state
# and log under DIR, and a logs/v0 list naming only the log LOGVKEY. It
# appends each witness's pid to pids and its line to policy (a C2SP
# tlog-policy being written), and returns once all of them listen.
start_witnesses() {
	local dir=$1 logvkey=$2 i n key
	mkdir -p "$dir"
	printf 'logs/v0\nvkey %s\nqpd 86400\ncontact local development\n' "$logvkey" >"$dir/logs.txt"
	for i in "${!PORTS[@]}"; do
		n=$((i + 1))
		key="$dir/w$n.key"
		[ -f "$key" ] || "$BIN/vigil" keygen --type witness --name "witness-$n.local" --out "$key" >/dev/null
		policy+="witness w$n $(cat "$key.pub") http://127.0.0.1:${PORTS[$i]}/"$'\n'
		"$BIN/vigil-witness" --listen "127.0.0.1:${PORTS[$i]}" --key "$key" --state "$dir/w$n" \
			--logs "$dir/logs.txt" 2>>"$dir/w$n.log" &
		pids+=($!)
		wait_port "127.0.0.1:${PORTS[$i]}"
	done
}
