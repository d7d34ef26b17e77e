#!/bin/sh
# Checks the deployment files in deploy/ as far as this machine can, with no
# network but the Go module proxy: `make lint` runs it from the repository's
# root. deploy/README.md says what each check covers and what stays untested.
#
# A check whose tool is missing is skipped with the reason; any other
# failure fails the script. The Go checkers live in their own modules under
# deploy/ci/ (own go.mod, so vigil's does not carry their dependencies).
set -eu

cd "$(dirname "$0")/../.."
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "deploy lint: FAIL: $*"; failed=1; }
skip() { echo "deploy lint: skipped: $*"; }

# The server binaries, for their flags and as the units' ExecStart targets.
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/bin/" ./cmd/vigild ./cmd/vigil-witness

# --- Flags: every --flag the deployment files pass exists in the binary. ---
flags_of() { # the flags a Go binary's --help lists
	"$tmp/bin/$1" --help 2>&1 | sed -n 's/^  -\([a-z0-9-]*\).*/\1/p' | sort -u || true
}
used_flags() { # the --flags in files, comment lines left out
	grep -hv '^[[:space:]]*#' "$@" | grep -o -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | sort -u
}
check_flags() { # binary, files...
	bin=$1
	shift
	have=$(flags_of "$bin")
	for f in $(used_flags "$@"); do
		echo "$have" | grep -qx -- "$f" || fail "$bin has no --$f, which deploy/ uses"
	done
}
check_flags vigild deploy/systemd/vigild.service deploy/systemd/vigild-mysql.conf \
	deploy/systemd/vigild.env deploy/k8s/deployment.yaml
check_flags vigil-witness deploy/systemd/vigil-witness.service deploy/systemd/vigil-witness.env
echo "deploy lint: flags checked against vigild and vigil-witness --help"

# --- systemd: verify the units (and the MySQL drop-in), and measure them. ---
# verify needs each ExecStart binary to exist, so the copies point at the
# binaries built above; SYSTEMD_UNIT_PATH makes it find the drop-in.
# `security --threshold` fails when a unit's exposure rises above the level
# measured when it was written (deploy/README.md).
SECURITY_THRESHOLD=11 # tenths: 11 is the exposure of 1.1 measured
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$tmp/units" "$tmp/mysql/vigild.service.d"
	for u in vigild.service vigil-witness.service; do
		sed "s#/usr/local/bin/#$tmp/bin/#g" "deploy/systemd/$u" >"$tmp/units/$u"
	done
	cp "$tmp/units/vigild.service" "$tmp/mysql/"
	sed "s#/usr/local/bin/#$tmp/bin/#g" deploy/systemd/vigild-mysql.conf >"$tmp/mysql/vigild.service.d/mysql.conf"
	for set in "units vigild.service vigil-witness.service" "mysql vigild.service"; do
		# shellcheck disable=SC2086 # $set is split on purpose
		set -- $set
		dir=$1
		shift
		# systemd-analyze verify exits 0 on unknown keys; any output is a finding.
		if out=$(SYSTEMD_UNIT_PATH="$tmp/$dir:" systemd-analyze verify "$@" 2>&1) && [ -z "$out" ]; then
			echo "deploy lint: systemd-analyze verify ($dir): $* ok"
		else
			echo "$out" | sed "s#$tmp/##g"
			fail "systemd-analyze verify ($dir): $*"
		fi
		for u in "$@"; do
			if out=$(SYSTEMD_UNIT_PATH="$tmp/$dir:" systemd-analyze security --offline=true \
				--threshold="$SECURITY_THRESHOLD" "$u" 2>&1); then
				echo "deploy lint: systemd-analyze security ($dir): $(echo "$out" | grep 'Overall exposure' | sed 's/^→ //')"
			else
				echo "$out" | grep -E '✗|Overall' | sed "s#$tmp/##g"
				fail "systemd-analyze security ($dir) $u: exposure above $SECURITY_THRESHOLD tenths"
			fi
		done
	done
else
	skip "systemd units: no systemd-analyze (Debian package systemd)"
fi

# --- The units' command lines, run without systemd (posix storage). ---
# Each ExecStart is expanded as systemd would with the example env files
# (%S the state root, %d the credentials directory, ${VAR} one argument,
# $VAR split), with /etc/vigil and /usr/local/bin moved into $tmp, and run:
# a witness and a log that needs its cosignature, both must answer /healthz
# and exit 0 on SIGTERM. Not the sandbox: that needs systemd as PID 1.
exec_start() { # the ExecStart= command of a unit file, continuations joined
	sed -n '/^ExecStart=./,/[^\\]$/p' "$1" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' -e 's/^ExecStart=//' |
		sed "s#%S#$tmp/state#g; s#%d#$tmp/creds#g; s#/etc/vigil/#$tmp/etc/#g; s#/usr/local/bin/#$tmp/bin/#g"
}
run_unit() { # name, unit file, env file: starts the unit's command in the background
	(
		set -a
		# shellcheck disable=SC1090 # an env file given as an argument
		. "$3"
		# Loopback ports unlikely to be in use; the eval below expands these.
		# shellcheck disable=SC2034
		VIGILD_LISTEN=127.0.0.1:$log_port VIGIL_WITNESS_LISTEN=127.0.0.1:$witness_port
		eval "set -- $(exec_start "$2")"
		exec "$@"
	) >"$tmp/$1.log" 2>&1 &
	echo $! >"$tmp/$1.pid"
}
healthy() { # port: waits up to 10s for /healthz
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		"$tmp/bin/vigil-probe" "127.0.0.1:$1" 2>/dev/null && return 0
		sleep 0.5
	done
	return 1
}
stop_unit() { # name: SIGTERM, and the exit status must be 0
	kill -TERM "$(cat "$tmp/$1.pid")" 2>/dev/null || true
	wait "$(cat "$tmp/$1.pid")"
}
if command -v curl >/dev/null 2>&1; then
	cat >"$tmp/bin/vigil-probe" <<-'EOF'
		#!/bin/sh
		curl -fsS -o /dev/null --max-time 2 "http://$1/healthz"
	EOF
	chmod +x "$tmp/bin/vigil-probe"
	CGO_ENABLED=0 $GO build -trimpath -o "$tmp/bin/" ./cmd/vigil
	log_port=$((20000 + $$ % 20000)) witness_port=$((20001 + $$ % 20000))
	mkdir -p "$tmp/etc" "$tmp/creds" "$tmp/state/vigild" "$tmp/state/vigil-witness"
	# What an operator puts in /etc/vigil and, for posix, the log key made
	# ahead in the state directory (deploy/README.md, first start).
	"$tmp/bin/vigil" keygen --type log --name deploy-lint.invalid/log --out "$tmp/state/vigild/log.key" >/dev/null
	mv "$tmp/state/vigild/log.key.pub" "$tmp/state/vigild/log.vkey"
	"$tmp/bin/vigil" keygen --type witness --name w.deploy-lint.invalid --out "$tmp/creds/witness.key" >/dev/null
	chmod 0400 "$tmp/creds/witness.key" # as systemd hands over a credential
	vkey=$(cat "$tmp/state/vigild/log.vkey")
	printf 'logs/v0\nvkey %s\nqpd 86400\ncontact deploy lint\n' "$vkey" >"$tmp/etc/witness-logs.txt"
	printf 'log %s\nwitness w %s http://127.0.0.1:%s/\nquorum w\n' "$vkey" "$(cat "$tmp/creds/witness.key.pub")" "$witness_port" >"$tmp/etc/witness-policy.txt"
	cp testdata/dev/trust-roots.json "$tmp/etc/trust-roots.json"
	sed 's#^VIGILD_ORIGIN=.*#VIGILD_ORIGIN=deploy-lint.invalid/log#' deploy/systemd/vigild.env >"$tmp/etc/vigild.env"
	run_unit witness deploy/systemd/vigil-witness.service deploy/systemd/vigil-witness.env
	if healthy "$witness_port"; then
		run_unit vigild deploy/systemd/vigild.service "$tmp/etc/vigild.env"
		# The log is created at the first start: a checkpoint the witness cosigned.
		if healthy "$log_port" && curl -fsS --max-time 5 "http://127.0.0.1:$log_port/checkpoint" | grep -q '^— w.deploy-lint.invalid '; then
			echo "deploy lint: the units' command lines: witness and log up, checkpoint cosigned"
		else
			sed "s#$tmp/##g" "$tmp/vigild.log"
			fail "vigild.service's command line did not serve a witnessed log"
		fi
		stop_unit vigild || fail "vigild.service's command line: nonzero exit on SIGTERM"
	else
		sed "s#$tmp/##g" "$tmp/witness.log"
		fail "vigil-witness.service's command line did not start"
	fi
	stop_unit witness || fail "vigil-witness.service's command line: nonzero exit on SIGTERM"
else
	skip "the units' command lines: no curl (Debian package curl)"
fi

# --- Container image: BuildKit's parser and lint, and vigil's rules. ---
(cd deploy/ci/containercheck && $GO run . ../../container/Containerfile) || fail "deploy/container/Containerfile"
skip "container build: the base images come from registries this machine cannot reach"

# --- Kubernetes: strict decoding into k8s.io/api types, kustomize, sandbox. ---
(cd deploy/ci/k8scheck && $GO run . ../../k8s) || fail "deploy/k8s"

# --- Terraform: syntax, formatting and references; terraform fmt if present. ---
(cd deploy/ci/tfcheck && $GO run . ../../terraform) || fail "deploy/terraform"
if command -v terraform >/dev/null 2>&1; then
	# No CLI configuration is needed to format; an absent one only warns.
	if TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -no-color deploy/terraform; then
		echo "deploy lint: terraform fmt -check ok"
	else
		fail "terraform fmt -check: run terraform fmt -recursive deploy/terraform"
	fi
else
	skip "terraform fmt -check: no terraform (not a Debian package; tfcheck covered formatting)"
fi
skip "terraform validate/plan: need the google provider from the Terraform registry, which this machine cannot reach"

# --- The checkers' own tests: each must catch the faults it claims to. ---
for m in containercheck k8scheck tfcheck; do
	(cd "deploy/ci/$m" && $GO test ./...) >"$tmp/test.out" 2>&1 || { cat "$tmp/test.out"; fail "deploy/ci/$m tests"; }
done
echo "deploy lint: checker tests ok"

# --- This script, if shellcheck (Debian package shellcheck) is here. ---
if command -v shellcheck >/dev/null 2>&1; then
	shellcheck deploy/ci/lint-deploy.sh || fail "shellcheck deploy/ci/lint-deploy.sh"
else
	skip "shellcheck of deploy/ci/lint-deploy.sh: no shellcheck (Debian package shellcheck)"
fi

if [ "$failed" -ne 0 ]; then
	echo "deploy lint: failed"
	exit 1
fi
echo "deploy lint: ok"
