// Command vigil-fleetsim simulates a fleet of connected medical devices
// against a vigil log, deterministically from a seed.
//
// Usage:
//
//	vigil-fleetsim init --out DIR [--seed S]
//	vigil-fleetsim run  --state DIR --url URL --devices N --attestations K [--seed S] [--concurrency C]
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

Example:
  vigil-fleetsim init --out fleet
  vigild --data data --origin example.com/vigil --trust-roots fleet/trust-roots.json &
  vigil-fleetsim run --state fleet --url http://127.0.0.1:8080 --devices 200 --attestations 5

Run 'vigil-fleetsim VERB --help' for a verb's flags.
`)
}
