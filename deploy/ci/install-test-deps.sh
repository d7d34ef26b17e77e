#!/bin/sh
# Installs what vigil's tests need beyond Go, on Debian, as `make test` runs
# it first:
#   - chromium, in which the vigil report test renders its HTML page headless
#     (cmd/vigil/report_test.go);
#   - mariadb-server, whose binaries the MySQL backend's tests start on a
#     throwaway data directory on loopback (log/mysqltest). The package does
#     not start a service of its own here.
# The MySQL tests fail if MariaDB is missing. The report test fails under CI
# (CI=true) if chromium is missing, and skips elsewhere.
#
# The GCP backend's tests also want Google's Cloud Spanner emulator, from the
# google-cloud-cli-spanner-emulator package, which is in Google's apt
# repository, not Debian's: this script cannot install it, and says so
# loudly where it is missing. Its tests then fail under CI and skip
# elsewhere; the in-process half of the GCP suite runs either way
# (log/gcptest).
#
# Needs root, or sudo, to install. Where everything is present, or apt-get is
# not (not Debian), it does nothing.
set -eu

if ! command -v emulator_main >/dev/null 2>&1 &&
	! test -x /usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main &&
	! test -x /usr/share/google-cloud-sdk/bin/cloud_spanner_emulator/emulator_main &&
	[ -z "${VIGIL_TEST_SPANNER_EMULATOR:-}" ]; then
	echo "install-test-deps: WARNING: the Cloud Spanner emulator (google-cloud-cli-spanner-emulator) is not installed;" >&2
	echo "install-test-deps: WARNING: the GCP backend's emulator tests will fail under CI and be SKIPPED here." >&2
fi

missing=
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
{ command -v mariadbd >/dev/null 2>&1 || test -x /usr/sbin/mariadbd; } || missing="$missing mariadb-server"
if [ -z "$missing" ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install$missing yourself, or the tests that need them fail (the report test skips outside CI)" >&2
	exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
