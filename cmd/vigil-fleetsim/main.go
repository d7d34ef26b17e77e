// Command vigil-fleetsim simulates a fleet of connected medical devices
// against a vigil log, deterministically from a seed.
//
// Usage:
//
//	vigil-fleetsim init --out DIR [--seed S]
//	vigil-fleetsim run  --state DIR --url URL --devices N --attestations K [--seed S] [--concurrency C]
//	vigil-fleetsim scenario --state DIR --url URL --devices N --attestations K [--seed S] [--concurrency C]
//	                        [--start 2026-01-01T00:00:00Z] [--force]
//
// init writes the manufacturers' keys (DIR/keys/), their trust-roots file
// (DIR/trust-roots.json, for vigild --trust-roots) and the fleet's plan
// (DIR/fleet.json). run publishes each model's firmware builds with a
// CycloneDX or SPDX SBOM of real components, enrolls N devices with per-device
// keys derived PUF-style from the seed, and sends K hash-chained attestations
// per device (half the fleet updates its firmware half-way), C devices at a
// time. Every envelope is saved under DIR/envelopes/ before it is submitted
// and its evidence bundle under DIR/receipts/ (same file name); a run that is
// interrupted and started again resubmits only what has no receipt, with the
// same bytes, so the log holds no duplicates. The last run's ground truth (every
// build, device and entry index) goes to DIR/ground-truth.json, and the last
// line printed gives the counts and entries per second.
//
// scenario plays a whole story against a fresh log and writes the answers
// a regulator's queries must give about it. Every model's builds are
// published with SBOMs; N devices are enrolled and send K daily
// hash-chained attestations (device times from --start), part of the fleet
// updating its firmware; an OSV advisory (DIR/advisory.osv.json) affects
// the openssl in some builds; a manufacturer issues a field action for one
// model with a later release as remedy, which about 60% of that model's
// online devices then attest; one device's UDI is revoked and its next
// attestation must be refused (403); a clone signs with another device's
// key on a chain of its own, forking it; and some devices of the
// advisory's models go offline or never attest. Submissions do not wait
// for receipts and nothing is saved per entry, so a scenario of 50,000
// devices and 19 attestations (a million entries) runs at the log's speed
// in bounded memory. The ground truth, computed from the indexes the log
// returned, goes to DIR/scenario-truth.json:
//
//	seed, counts           devices; entries accepted, in all and by kind
//	devices[]              every device: UDI, key ID, manufacturer, model, UDI-DI,
//	                       enrollmentIndex, status (active, revoked, field-action),
//	                       revocationIndex if revoked, latest (its chain's head:
//	                       seq, index, time, firmware, version; null if none)
//	histories[]            for about 20 probe devices, every accepted attestation
//	                       in log order, forks too
//	at[]                   probes "what was in force on UDI at time": the chain
//	                       attestation with the greatest device time <= time, and
//	                       the one with the least device time after it (or null)
//	impact                 the advisory file, since, an exact-version purl and the
//	                       builds whose SBOMs list it, the affected builds (an
//	                       SBOM component in the advisory's range), the affected
//	                       devices (chain head on an affected build, at or after
//	                       since), the unknown devices (of a UDI-DI that ever
//	                       attested an affected build, and silent since)
//	fieldAction            id, index, manufacturer, remedy, issued; population
//	                       (its UDI-DIs' devices, and those that attested a build
//	                       it names before it), corrected (first remedy
//	                       attestation after it), notCorrected
//	revoked, clone         the revoked device and revocation index, and that the
//	                       log refused its attestation; the cloned key and the
//	                       index of the first attestation that forks its chain
//
// A device's chain is followed as an audit does: an attestation whose seq is
// not above the head's is a fork and leaves the head; a gap still advances
// it. Lists are sorted (UDIs, digests). A scenario cannot be re-run against
// the same log (device signatures are randomized, so a replay would be new
// entries); it refuses a DIR that holds a truth already, unless --force.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "init":
		err = initCmd(os.Args[2:])
	case "run":
		err = runCmd(os.Args[2:])
	case "scenario":
		err = scenarioCmd(os.Args[2:])
	case "check":
		err = checkCmd(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "vigil-fleetsim: unknown verb %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "vigil-fleetsim %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func usage() {
	fmt.Fprint(os.Stderr, `vigil-fleetsim simulates a fleet of medical devices against a vigil log.

Usage:
  vigil-fleetsim init --out DIR [--seed S]
  vigil-fleetsim run --state DIR --url URL --devices N --attestations K [--seed S] [--concurrency C]
  vigil-fleetsim scenario --state DIR --url URL --devices N --attestations K [--seed S] [--concurrency C]
                          [--start 2026-01-01T00:00:00Z] [--force]
  vigil-fleetsim check --state DIR --url URL --policy FILE

run sends a plain fleet, with receipts. scenario plays a story (releases, an
advisory, a field action, a revocation, a cloned device, offline devices)
against a fresh log, without receipts, and writes the right answers to
DIR/scenario-truth.json; it cannot be re-run against the same log. check
asks the log every question of that truth, proves the answers and compares.

Example:
  vigil-fleetsim init --out fleet
  vigild --data data --origin example.com/vigil --trust-roots fleet/trust-roots.json &
  vigil-fleetsim run --state fleet --url http://127.0.0.1:8080 --devices 200 --attestations 5
or, against a fresh log instead of run:
  vigil-fleetsim scenario --state fleet --url http://127.0.0.1:8080 --devices 5000 --attestations 19

Run 'vigil-fleetsim VERB --help' for a verb's flags.
`)
}
