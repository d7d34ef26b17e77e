package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-log/vigil/client"
)

// errIncomplete is returned when a proven device history has gaps, breaks
// or forks.
var errIncomplete = errors.New("the device's history is not one unbroken chain")

// queryFlags are the flags of the verbs that ask the query API.
type queryFlags struct {
	log     *logFlags
	asJSON  *bool
	timeout *time.Duration
}

func addQueryFlags(fs *flag.FlagSet) *queryFlags {
	return &queryFlags{
		log:     addLogFlags(fs, true),
		asJSON:  fs.Bool("json", false, "print the proven answer as JSON"),
		timeout: fs.Duration("timeout", 2*time.Minute, "give up after this long"),
	}
}

// querier opens the log and returns a Querier over it.
func (f *queryFlags) querier() (*client.Querier, context.Context, context.CancelFunc, error) {
	conn, err := f.log.open()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
	return &client.Querier{Tracker: conn.tracker, API: conn.api, Roots: conn.roots}, ctx, cancel, nil
}

// printJSON prints v indented.
func printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(b, '\n'))
	return err
}

const queryNote = `
Every item of the answer is proven: its entry is included, by a proof built
from the log's tiles, under the trusted checkpoint (policy-verified,
consistent with what this client trusted before), its signatures verify,
and its leaf says what the answer claims. What no answer can prove is that
nothing was left out; 'vigil audit' replays the whole log for that.`

func device(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(os.Stderr, `Usage: vigil device show|history|at [flags] UDI

  show     the device: enrollment, key, status, latest attestation
  history  its attestations from seq 0, walked along the hash chain: gaps,
           breaks and forks (a cloned device) are reported, and exit 1
  at       the attestation in force at --time, and the next one

Run 'vigil device VERB --help' for the flags.
`)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags("device "+sub, "--policy FILE --trust-roots FILE [--log URL] [--json] UDI",
		`  vigil device `+sub+` --policy policy.txt --trust-roots trust-roots.json '(01)00614141999996(21)PUMP0001'`+queryNote)
	qf := addQueryFlags(fs)
	var at *string
	if sub == "at" {
		at = fs.String("time", "", "the time asked about, RFC 3339 (required), e.g. 2026-09-21T14:00:00Z")
	}
	switch sub {
	case "show", "history", "at":
	default:
		fmt.Fprintf(os.Stderr, "vigil device: unknown verb %q (show, history or at)\n", sub)
		return errUsage
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "vigil device "+sub+": name one UDI")
		fs.Usage()
		return errUsage
	}
	var t time.Time
	if at != nil {
		var err error
		if t, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintln(fs.Output(), "vigil device at: --time must be RFC 3339, e.g. 2026-09-21T14:00:00Z")
			return errUsage
		}
	}
	q, ctx, cancel, err := qf.querier()
	if err != nil {
		return err
	}
	defer cancel()
	udi := fs.Arg(0)
	switch sub {
	case "show":
		d, err := q.Device(ctx, udi)
		if err != nil {
			return err
		}
		if *qf.asJSON {
			return printJSON(d)
		}
		printDevice(os.Stdout, d)
		return nil
	case "history":
		h, err := q.History(ctx, udi)
		if err != nil {
			return err
		}
		if *qf.asJSON {
			if err := printJSON(h); err != nil {
				return err
			}
		} else {
			printHistory(os.Stdout, h)
		}
		if len(h.Problems) > 0 {
			return fmt.Errorf("%w: %d problems", errIncomplete, len(h.Problems))
		}
		return nil
	default:
		a, err := q.At(ctx, udi, t)
		if err != nil {
			return err
		}
		if *qf.asJSON {
			return printJSON(a)
		}
		printAt(os.Stdout, a)
		return nil
	}
}

// provenUnder describes the checkpoint an answer is proven under.
func provenUnder(a client.Answer) string {
	c := a.Checked.Checkpoint
	s := fmt.Sprintf("proven under checkpoint %s size %d", c.Origin, c.Size)
	if t, ok := a.Checked.Earliest(); ok {
		s += fmt.Sprintf(", cosigned by %d witnesses, the earliest at %s", len(a.Checked.Cosigned), t.UTC().Format(time.RFC3339))
	}
	return s
}

// attestationLine describes an attestation.
func attestationLine(a *client.AttestationRef) string {
	if a == nil {
		return "none"
	}
	return fmt.Sprintf("index %d, seq %d, device time %s, firmware %s (%s)", a.Index, a.Seq, a.Time.UTC().Format(time.RFC3339), a.Firmware.Version, short(a.Firmware.Digest))
}

// short abbreviates a hex digest.
func short(d string) string {
	if len(d) > 12 {
		return d[:12] + "…"
	}
	return d
}

func printDevice(w io.Writer, d *client.ProvenDevice) {
	fmt.Fprintf(w, "device %s\n", d.UDI)
	fmt.Fprintf(w, "  enrolled at index %d by %s, model %q, device key %s\n", d.Enrollment, d.Manufacturer, d.Model, d.KeyID)
	status := d.Status
	if len(d.Revocations) > 0 {
		status += fmt.Sprintf(" (revocation at index %v)", d.Revocations)
	}
	fmt.Fprintf(w, "  status: %s\n", status)
	for _, fa := range d.FieldActions {
		state := "remedy not attested"
		if fa.Corrected {
			state = "remedy attested"
		}
		fmt.Fprintf(w, "  field action %s (index %d): %s\n", fa.ID, fa.Index, state)
	}
	fmt.Fprintf(w, "  latest attestation: %s\n", attestationLine(d.Latest))
	fmt.Fprintf(w, "  attestations: %d\n", d.Attestations)
	fmt.Fprintf(w, "%s\n", provenUnder(d.Answer))
}

func printHistory(w io.Writer, h *client.ProvenHistory) {
	fmt.Fprintf(w, "history of %s (enrolled at index %d): %d attestations\n", h.UDI, h.Enrollment, len(h.Attestations))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tINDEX\tDEVICE TIME\tFIRMWARE\tCHAIN")
	for _, a := range h.Attestations {
		chain := "head"
		if !a.Head {
			chain = "fork"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s (%s)\t%s\n", a.Seq, a.Index, a.Time.UTC().Format(time.RFC3339), a.Firmware.Version, short(a.Firmware.Digest), chain)
	}
	tw.Flush()
	if len(h.Problems) == 0 {
		last := uint64(0)
		if n := len(h.Attestations); n > 0 {
			last = h.Attestations[n-1].Seq
		}
		fmt.Fprintf(w, "the chain is unbroken from seq 0 to seq %d (a withheld tail only a full audit would show)\n", last)
	}
	for _, p := range h.Problems {
		fmt.Fprintf(w, "%s at index %d: %s\n", strings.ToUpper(p.Code), p.Index, p.Detail)
	}
	fmt.Fprintf(w, "%s\n", provenUnder(h.Answer))
}

func printAt(w io.Writer, a *client.ProvenAt) {
	fmt.Fprintf(w, "device %s at %s\n", a.UDI, a.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  in force: %s\n", attestationLine(a.InForce))
	if a.LoggedBy != nil {
		fmt.Fprintf(w, "    the device claims %s; the witnesses put its logging no later than %s (checkpoint size %d)\n",
			a.InForce.Time.UTC().Format(time.RFC3339), a.LoggedBy.UTC().Format(time.RFC3339), a.LoggedUnder)
	}
	fmt.Fprintf(w, "  next:     %s\n", attestationLine(a.Next))
	switch {
	case a.Adjacent:
		fmt.Fprintln(w, "  the next attestation links to the one in force: none came between them")
	case a.Next != nil:
		fmt.Fprintln(w, "  the next attestation does not link to the one in force: see 'vigil device history'")
	}
	fmt.Fprintf(w, "%s\n", provenUnder(a.Answer))
}

func impact(args []string) error {
	fs := newFlags("impact", "--policy FILE --trust-roots FILE (--purl PURL | --osv FILE) [--since RFC3339] [--json]",
		`  vigil impact --policy policy.txt --trust-roots trust-roots.json --purl pkg:generic/openssl@3.0.7
  vigil impact --policy policy.txt --trust-roots trust-roots.json --osv advisory.osv.json --since 2026-10-01T00:00:00Z

Which firmware builds contain an affected component, which devices run
them (their latest attestation reports one), and which devices of the
models that ran them have not reported since --since (unknown state). A
--purl with a version matches that version exactly; without, any version.
--osv takes an OSV advisory (JSON) and its version ranges.`+queryNote)
	qf := addQueryFlags(fs)
	purl := fs.String("purl", "", "package URL of the affected component")
	osv := fs.String("osv", "", "OSV advisory file (JSON)")
	sinceFlag := fs.String("since", "", "devices whose latest attestation is older than this (RFC 3339) are of unknown state")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*purl == "") == (*osv == "") || fs.NArg() != 0 {
		fmt.Fprintln(fs.Output(), "vigil impact: give exactly one of --purl and --osv")
		fs.Usage()
		return errUsage
	}
	var since *time.Time
	if *sinceFlag != "" {
		t, err := time.Parse(time.RFC3339, *sinceFlag)
		if err != nil {
			fmt.Fprintln(fs.Output(), "vigil impact: --since must be RFC 3339")
			return errUsage
		}
		since = &t
	}
	var adv []byte
	if *osv != "" {
		var err error
		if adv, err = os.ReadFile(*osv); err != nil {
			return fmt.Errorf("reading the advisory: %w", err)
		}
	}
	q, ctx, cancel, err := qf.querier()
	if err != nil {
		return err
	}
	defer cancel()
	im, err := q.Impact(ctx, *purl, adv, since)
	if err != nil {
		return err
	}
	if *qf.asJSON {
		return printJSON(im)
	}
	w := os.Stdout
	what := im.PURL
	if im.Advisory != "" {
		what = "advisory " + im.Advisory
	}
	fmt.Fprintf(w, "impact of %s: %d builds, %d devices affected, %d of unknown state\n", what, len(im.Builds), len(im.Affected), len(im.Unknown))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tVERSION\tMANUFACTURER\tSBOM INDEX\tCOMPONENTS")
	for _, b := range im.Builds {
		var cs []string
		for _, c := range b.Components {
			cs = append(cs, c.Name+" "+c.Version)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%d\t%s\n", short(b.Digest), b.Name, b.Version, b.Manufacturer, b.SBOM, strings.Join(cs, ", "))
	}
	tw.Flush()
	printDevices(w, "affected", im.Affected)
	printDevices(w, "unknown state", im.Unknown)
	fmt.Fprintf(w, "%s\n", provenUnder(im.Answer))
	return nil
}

// printDevices prints a table of devices with their latest attestations.
func printDevices(w io.Writer, title string, ds []client.DeviceRef) {
	if len(ds) == 0 {
		fmt.Fprintf(w, "%s: none\n", title)
		return
	}
	fmt.Fprintf(w, "%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UDI\tENROLLED\tLATEST\tDEVICE TIME\tFIRMWARE")
	for _, d := range ds {
		if d.Latest == nil {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\n", d.UDI, d.Enrollment)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", d.UDI, d.Enrollment, d.Latest.Index, d.Latest.Time.UTC().Format(time.RFC3339), d.Latest.Firmware.Version)
	}
	tw.Flush()
}

func fieldAction(args []string) error {
	if len(args) == 0 || args[0] != "status" {
		fmt.Fprint(os.Stderr, "Usage: vigil field-action status [flags] ID\n\nRun 'vigil field-action status --help' for the flags.\n")
		return errUsage
	}
	fs := newFlags("field-action status", "--policy FILE --trust-roots FILE [--log URL] [--json] ID",
		`  vigil field-action status --policy policy.txt --trust-roots trust-roots.json FSCA-2026-0042

A field safety corrective action's population (devices of an affected UDI-DI,
or that ran an affected build before the action), which of them attested
the remedy build after the action (with that attestation), and which not.`+queryNote)
	qf := addQueryFlags(fs)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "vigil field-action status: name one field action ID")
		fs.Usage()
		return errUsage
	}
	q, ctx, cancel, err := qf.querier()
	if err != nil {
		return err
	}
	defer cancel()
	st, err := q.FieldAction(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *qf.asJSON {
		return printJSON(st)
	}
	w := os.Stdout
	a := st.Action
	fmt.Fprintf(w, "field action %s: %q, issued %s by %s (index %d)\n", a.ID, a.Title, a.Issued.UTC().Format(time.RFC3339), st.Manufacturer, st.Index)
	if a.Remedy != nil {
		fmt.Fprintf(w, "remedy: firmware %s (%s)\n", a.Remedy.Version, short(a.Remedy.Digest))
	}
	n := len(st.Corrected) + len(st.NotCorrected)
	fmt.Fprintf(w, "population: %d devices; corrected: %d; not corrected: %d\n", n, len(st.Corrected), len(st.NotCorrected))
	if len(st.Corrected) > 0 {
		fmt.Fprintln(w, "corrected (attested the remedy after the action):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UDI\tENROLLED\tREMEDY ATTESTATION\tSEQ\tDEVICE TIME")
		for _, c := range st.Corrected {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", c.UDI, c.Enrollment, c.Remedy.Index, c.Remedy.Seq, c.Remedy.Time.UTC().Format(time.RFC3339))
		}
		tw.Flush()
	}
	printDevices(w, "not corrected", st.NotCorrected)
	fmt.Fprintf(w, "%s\n", provenUnder(st.Answer))
	return nil
}
