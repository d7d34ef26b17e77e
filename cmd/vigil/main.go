// Command vigil is the client of a vigil log, for manufacturers, regulators
// and auditors: it makes keys, signs and submits device evidence, and
// verifies evidence bundles offline.
//
// Usage:
//
//	vigil keygen --type log|witness|manufacturer|device --name NAME --out FILE
//	vigil sign   --kind KIND --key FILE --predicate FILE --out FILE
//	vigil submit --log URL [--no-wait] [--out FILE] ENVELOPE
//	vigil verify --log-vkey FILE --trust-roots FILE [--log URL] BUNDLE
//
// Run "vigil VERB --help" for a verb's flags and an example. Exit status is
// 0 on success, 1 when the command ran but the answer is no (a refused
// submission, a bundle that does not verify), 2 for bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
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
	switch {
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
		fmt.Fprintf(os.Stderr, "  %-7s %s\n", n, verbs[n].summary)
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
