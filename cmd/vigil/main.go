// Command vigil is the client of a vigil log, for manufacturers, regulators
// and auditors: it makes keys, signs and submits device evidence, proves
// inclusion and consistency from the log's tiles, keeps trusted state per
// log, and verifies evidence bundles offline.
//
// Usage:
//
//	vigil keygen --type log|witness|manufacturer|device --name NAME --out FILE
//	vigil sign   --kind KIND --key FILE --predicate FILE --out FILE
//	vigil submit --log URL | --policy FILE --trust-roots FILE [--no-wait] [--out FILE] ENVELOPE
//	vigil verify --log-vkey FILE | --policy FILE --trust-roots FILE [--log URL [--audit-dir DIR]] BUNDLE...
//	vigil prove inclusion   --policy FILE --trust-roots FILE (--index N | --envelope FILE | --receipt FILE)
//	vigil prove consistency --policy FILE [--from CHECKPOINT]
//	vigil verify-fork --log-vkey FILE | --policy FILE FORK-PROOF
//	vigil audit   --policy FILE --trust-roots FILE [--json]
//	vigil device show|history|at --policy FILE --trust-roots FILE [--time T] UDI
//	vigil impact  --policy FILE --trust-roots FILE (--purl PURL | --osv FILE) [--since T]
//	vigil field-action status --policy FILE --trust-roots FILE ID
//	vigil report device UDI|field-action ID --policy FILE --trust-roots FILE [--at TIME] --out DIR
//	vigil monitor --policy FILE --trust-roots FILE [--interval D] [--webhook URL]
//
// Verbs that talk to a log take --policy (a C2SP tlog-policy file: the log's
// key and the witness quorum), --log URL (default: the policy's log URL) and
// --state DIR, the trusted-state directory (default $XDG_STATE_HOME/vigil or
// ~/.local/state/vigil), which holds per log the latest verified checkpoint
// and any fork proofs.
//
// Run "vigil VERB --help" for a verb's flags and an example. Exit status is
// 0 on success, 1 when the command ran but the answer is no (a refused
// submission, a bundle that does not verify, a log that rolled back), 2 for
// bad usage, 3 when the log showed a split view (a fork proof was written).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/vigil-log/vigil/client"
)

// verb is one subcommand.
type verb struct {
	summary string
	run     func(args []string) error
}

var verbs = map[string]verb{
	"keygen": {"make a log, witness, manufacturer or device key", keygen},
	"sign":   {"build and sign an envelope of any entry kind", sign},
	"submit": {"submit an envelope to a log and save its evidence bundle", submit},
	"verify": {"verify an evidence bundle offline", verify},
	"prove":  {"prove inclusion or consistency from the log's tiles", prove},
	"audit":  {"replay the whole log: root, every signature, every device chain", audit},
	"device": {"a device's state, history or state at a time, proven", device},
	"impact": {"which builds and devices a vulnerable component affects, proven", impact},
	"report": {"write a self-contained HTML evidence report a regulator can file", report},

	"field-action": {"a field action's corrected and uncorrected devices, proven", fieldAction},

	"monitor": {"audit in a loop, report new anomalies, compare witnesses' views", monitor},

	"verify-fork": {"check a fork-proof file: the log signed a split view", verifyFork},
}

// errUsage marks a usage error; the flag set has printed the details.
var errUsage = errors.New("usage")

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	if os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage() // asked for: not a usage error, like a verb's --help
		return
	}
	v, ok := verbs[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "vigil: unknown verb %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	err := v.run(os.Args[2:])
	var fe *client.ForkError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(os.Stderr, "vigil %s: SPLIT VIEW: %v\n", os.Args[1], err)
		if fe.Saved != "" {
			fmt.Fprintf(os.Stderr, "  fork proof written to %s; check it with 'vigil verify-fork'\n", fe.Saved)
		}
		os.Exit(3)
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "vigil %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "vigil: the client of a vigil transparency log for medical-device evidence.\n\nUsage: vigil VERB [flags]\n\nVerbs:")
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, verbs[n].summary)
	}
	fmt.Fprint(os.Stderr, `
Example:
  vigil keygen --type manufacturer --name "Acme Infusion" --out acme.key
  vigil sign --kind enrollment --key acme.key --device-key pump-0001.key \
      --predicate enrollment.json --out enrollment.dsse.json
  vigil submit --log http://127.0.0.1:8080 --out enrollment.bundle.json enrollment.dsse.json
  vigil verify --log-vkey data/log.vkey --trust-roots trust-roots.json enrollment.bundle.json

Run 'vigil VERB --help' for a verb's flags and an example.
`)
}

// newFlags returns a flag set whose usage prints the verb's synopsis and
// example before its flags.
func newFlags(name, synopsis, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil %s %s\n\nExample:\n%s\n\nFlags:\n", name, synopsis, example)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping a flag error to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// need reports a usage error if any of the named string flags is empty.
func need(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			fmt.Fprintf(fs.Output(), "vigil %s: --%s is required\n", fs.Name()[len("vigil "):], n)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}
