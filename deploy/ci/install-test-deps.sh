#!/bin/sh
# Installs what vigil's tests need beyond Go, on Debian, as `make test` runs
# it first: chromium, in which the vigil report test renders its HTML page
# headless (cmd/vigil/report_test.go). Under CI (CI=true) that test fails if
# chromium is missing; elsewhere it skips.
#
# Needs root, or sudo, to install. Where chromium is present, or apt-get is
# not (not Debian), it does nothing.
set -eu

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install chromium yourself, or the report rendering test is skipped (and fails under CI)" >&2
	exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
