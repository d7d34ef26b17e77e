package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/vigil-log/vigil/client"
	"golang.org/x/sync/errgroup"
)

// reportMaxBundles caps the evidence files one report writes; the page says
// how to make any other with vigil prove inclusion.
const reportMaxBundles = 200

// reportVerifyLines caps the per-file verify commands the page lists.
const reportVerifyLines = 10

// reportParallel bounds the bundles proven at once.
const reportParallel = 8

//go:embed report.html.tmpl
var reportHTML string

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"utc": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(reportHTML))

// report is vigil report: for a device at a time, or for a field action, a
// page a regulator can file (the proven answer, what was checked for each
// entry it rests on, the checkpoint and its witnesses) and beside it one
// evidence bundle per entry, each of which 'vigil verify' checks offline.
// Nothing on the page is the log's unproven word: every item comes from a
// client.Querier answer, and every bundle is built from tiles and verified
// before anything is written. A false answer writes nothing.
func report(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "device":
			return reportDevice(args[1:])
		case "field-action":
			return reportFieldAction(args[1:])
		}
	}
	fmt.Fprint(os.Stderr, `Usage: vigil report device|field-action [flags]

  device        the attestation of a device in force at a time, the next one,
                its latest, and whether its history is complete
  field-action  a field action and which devices of its population have
                attested its remedy

Each writes DIR/report.html, one self-contained page, and DIR/evidence/, an
evidence bundle per entry the page relies on. Run 'vigil report device --help'
or 'vigil report field-action --help'.
`)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return nil
	}
	return errUsage
}

// reportFlags are the flags both reports share.
type reportFlags struct {
	lf      *logFlags
	out     *string
	timeout *time.Duration
}

func addReportFlags(fs *flag.FlagSet) *reportFlags {
	return &reportFlags{
		lf:      addLogFlags(fs, true),
		out:     fs.String("out", "", "directory for report.html and evidence/ (required; created if need be, must not hold a report)"),
		timeout: fs.Duration("timeout", 5*time.Minute, "give up after this long"),
	}
}

func reportDevice(args []string) error {
	fs := newFlags("report device", "UDI --policy FILE --trust-roots FILE [--log URL] [--state DIR] [--at TIME] --out DIR",
		`  vigil report device '(01)00614141999996(21)PUMP0001' --at 2026-11-21T12:00:00Z \
      --policy policy.txt --trust-roots trust-roots.json --out pump-0001-report

Asks the log which attestation of the device was in force at TIME, the next
one, its latest, its status and its whole history, and proves every answer
(client.Querier): each entry included under the trusted checkpoint, its
signatures verified, its leaf matching the question. Then writes
DIR/report.html and an evidence bundle for the enrollment, the attestation in
force, the next, the latest, and any revocation or field action naming the
device, each verifiable offline with 'vigil verify'. A false answer fails
with exit status 1 and writes nothing.`)
	rf := addReportFlags(fs)
	atFlag := fs.String("at", "", "the time asked about, RFC 3339 (default: now)")
	udi, err := parsePositional(fs, args, "UDI")
	if err != nil {
		return err
	}
	at := time.Now().UTC().Truncate(time.Second)
	if *atFlag != "" {
		if at, err = time.Parse(time.RFC3339, *atFlag); err != nil {
			fmt.Fprintln(fs.Output(), "vigil report device: --at must be RFC 3339, e.g. 2026-11-21T12:00:00Z")
			return errUsage
		}
	}
	conn, ctx, cancel, err := rf.start(fs)
	if err != nil {
		return err
	}
	defer cancel()
	q := &client.Querier{Tracker: conn.tracker, API: conn.api, Roots: conn.roots}
	dev, err := q.Device(ctx, udi)
	if err != nil {
		return fmt.Errorf("asking for device %s: %w", udi, err)
	}
	hist, err := q.History(ctx, udi)
	if err != nil {
		return fmt.Errorf("asking for the history of %s: %w", udi, err)
	}
	pat, err := q.At(ctx, udi, at)
	if err != nil {
		return fmt.Errorf("asking for %s at %s: %w", udi, at.Format(time.RFC3339), err)
	}
	if hist.Enrollment != dev.Enrollment || pat.Enrollment != dev.Enrollment {
		return fmt.Errorf("%w: its answers name different enrollments of %s (%d, %d, %d)", client.ErrFalseAnswer, udi, dev.Enrollment, hist.Enrollment, pat.Enrollment)
	}
	page := deviceReportPage(dev, hist, pat, at)
	return rf.finish(ctx, conn, page, []client.Answer{dev.Answer, hist.Answer, pat.Answer})
}

func reportFieldAction(args []string) error {
	fs := newFlags("report field-action", "ID --policy FILE --trust-roots FILE [--log URL] [--state DIR] --out DIR",
		`  vigil report field-action FSCA-2026-0042 \
      --policy policy.txt --trust-roots trust-roots.json --out fsca-2026-0042-report

Asks the log for the field action's status and proves the answer
(client.Querier): the action's entry, signed by a trust-root manufacturer;
each corrected device's enrollment and first attestation of the remedy build
after the action; each other device's enrollment and latest attestation.
Then writes DIR/report.html and an evidence bundle for the action and for
each corrected device's remedy attestation (at most 200; 'vigil prove
inclusion --index N' makes any other). A false answer fails with exit
status 1 and writes nothing.`)
	rf := addReportFlags(fs)
	id, err := parsePositional(fs, args, "field action ID")
	if err != nil {
		return err
	}
	conn, ctx, cancel, err := rf.start(fs)
	if err != nil {
		return err
	}
	defer cancel()
	q := &client.Querier{Tracker: conn.tracker, API: conn.api, Roots: conn.roots}
	fa, err := q.FieldAction(ctx, id)
	if err != nil {
		return fmt.Errorf("asking for field action %s: %w", id, err)
	}
	page := fieldActionReportPage(fa)
	return rf.finish(ctx, conn, page, []client.Answer{fa.Answer})
}

// parsePositional parses args, which hold one positional argument before,
// between or after the flags, and returns it.
func parsePositional(fs *flag.FlagSet, args []string, what string) (string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintf(fs.Output(), "%s: name one %s\n", fs.Name(), what)
		fs.Usage()
		return "", errUsage
	}
	return pos[0], nil
}

// start checks --out, opens the log and returns the run's context.
func (rf *reportFlags) start(fs *flag.FlagSet) (*logConn, context.Context, context.CancelFunc, error) {
	if err := need(fs, "out"); err != nil {
		return nil, nil, nil, err
	}
	// Refuse early, before asking the log, rather than mix two reports.
	for _, n := range []string{"report.html", "evidence"} {
		if _, err := os.Lstat(filepath.Join(*rf.out, n)); err == nil {
			return nil, nil, nil, fmt.Errorf("%s already exists: give --out a new or empty directory", filepath.Join(*rf.out, n))
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fmt.Errorf("checking --out: %w", err)
		}
	}
	conn, err := rf.lf.open()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *rf.timeout)
	return conn, ctx, cancel, nil
}

// finish proves the page's elements under the largest checkpoint the
// answers were proven under, fills in the checkpoint, the commands and the
// regulatory notes, renders the page and only then writes the evidence
// files and the page (the page last: its presence means a whole report).
func (rf *reportFlags) finish(ctx context.Context, conn *logConn, page *reportPage, answers []client.Answer) error {
	c := answers[0].Checked
	for _, a := range answers[1:] {
		if a.Checked.Checkpoint.Size > c.Checkpoint.Size {
			c = a.Checked
		}
	}
	page.LogURL = conn.url
	page.Generated = time.Now().UTC().Truncate(time.Second)
	page.Checkpoint = reportCheckpointOf(c)
	page.Trusted = answers[0].Checked.Trusted
	for _, a := range answers {
		if s := a.Checked.Checkpoint.Size; s != c.Checkpoint.Size && !slices.Contains(page.AnswerSizes, s) {
			page.AnswerSizes = append(page.AnswerSizes, s)
		}
	}
	if err := proveElements(ctx, conn, c, page); err != nil {
		return err
	}
	page.PolicyFile, page.RootsFile = filepath.Base(*rf.lf.policy), filepath.Base(*rf.lf.roots)
	var err error
	if page.PolicyDigest, err = fileDigest(*rf.lf.policy); err != nil {
		return err
	}
	if page.RootsDigest, err = fileDigest(*rf.lf.roots); err != nil {
		return err
	}
	page.fillChecks()
	var html bytes.Buffer
	if err := renderReport(&html, page); err != nil {
		return err
	}

	evidence := filepath.Join(*rf.out, "evidence")
	if err := os.MkdirAll(evidence, 0o755); err != nil {
		return fmt.Errorf("creating the evidence directory: %w", err)
	}
	for _, e := range page.Elements {
		if e.bundle == nil {
			continue
		}
		if err := writeNew(filepath.Join(*rf.out, filepath.FromSlash(e.File)), e.bundle, 0o644); err != nil {
			return err
		}
	}
	out := filepath.Join(*rf.out, "report.html")
	if err := writeNew(out, html.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s and %d evidence files in %s\n", out, page.Written, evidence)
	return nil
}

func fileDigest(name string) (string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// reportPage is what report.html.tmpl renders. Every value in it has been
// proven, or is a fact of this run (the time, the files given).
type reportPage struct {
	Kind     string // "device" or "field-action"
	Title    string
	Question string

	Device *reportDevicePart
	Action *reportActionPart

	// Elements are the entries the page relies on, in the order the
	// answer names them; the first reportMaxBundles get evidence files.
	Elements []*reportElement
	// Written counts the evidence files; Unwritten the elements without one.
	Written, Unwritten int
	Limit              int

	LogURL     string
	Generated  time.Time
	Checkpoint reportCheckpoint
	// Trusted is the checkpoint this client trusted before the run, nil
	// on first use.
	Trusted *flog.Checkpoint
	// AnswerSizes are the sizes of the other checkpoints some answers were
	// proven under, when the log grew during the run.
	AnswerSizes []uint64

	PolicyFile, PolicyDigest string
	RootsFile, RootsDigest   string

	Supports []reportClause
	Commands []reportCommand
}

// reportDevicePart is the answer about a device at a time.
type reportDevicePart struct {
	*client.DeviceInfo
	At       time.Time
	InForce  *client.AttestationRef
	Next     *client.AttestationRef
	LoggedBy *time.Time
	Adjacent bool
	// History: the attestations proven along the hash chain, the chain's
	// problems and, without problems, its summary.
	Attestations int
	Problems     []client.ChainProblem
	Chain        string
}

// StatusText says what the device's status means.
func (d *reportDevicePart) StatusText() string {
	switch d.Status {
	case client.StatusActive:
		return "active: enrolled, not revoked, and not awaiting the remedy of any field action"
	case client.StatusRevoked:
		return "REVOKED: its key or UDI is revoked (see the revocations below)"
	case client.StatusFieldAction:
		return "UNDER FIELD ACTION: in the population of a field action whose remedy it has not attested"
	}
	return d.Status
}

// reportActionPart is the answer about a field action.
type reportActionPart struct {
	*client.FieldActionStatus
	// Files maps a corrected device's remedy index to its evidence file.
	Files map[uint64]string
}

// File returns the evidence file of the entry at index, or "".
func (a *reportActionPart) File(index uint64) string { return a.Files[index] }

// reportElement is one entry the page relies on.
type reportElement struct {
	Role  string
	Index uint64
	Kind  string
	// Checked says what was checked; File (relative to the report, with
	// forward slashes) and Digest (its SHA-256) name its evidence bundle,
	// "" when none was written.
	Checked string
	File    string
	Digest  string

	what   string                    // what the leaf says, as the question needs it
	expect func(*client.Entry) error // re-checks the bundle's entry against the answer
	bundle []byte
	size   uint64 // the checkpoint size it was proven under
}

type reportCheckpoint struct {
	Origin    string
	Size      uint64
	Root      string // base64
	Raw       string
	Witnesses []reportWitness
}

type reportWitness struct {
	Name     string
	Cosigned time.Time
}

// reportClause maps the evidence to one requirement.
type reportClause struct {
	Ref, Title, Text string
}

type reportCommand struct {
	Comment, Line string
}

func reportCheckpointOf(c *client.Checked) reportCheckpoint {
	rc := reportCheckpoint{
		Origin: c.Checkpoint.Origin, Size: c.Checkpoint.Size,
		Root: base64.StdEncoding.EncodeToString(c.Checkpoint.Hash), Raw: string(c.Raw),
	}
	for name, t := range c.Cosigned {
		rc.Witnesses = append(rc.Witnesses, reportWitness{Name: name, Cosigned: t.UTC()})
	}
	slices.SortFunc(rc.Witnesses, func(a, b reportWitness) int { return strings.Compare(a.Name, b.Name) })
	return rc
}

// add adds an element, or a role to the element already at index.
func (p *reportPage) add(role string, index uint64, kind client.Kind, what string, expect func(*client.Entry) error) {
	for _, e := range p.Elements {
		if e.Index == index {
			e.Role += "; " + role
			return
		}
	}
	p.Elements = append(p.Elements, &reportElement{Role: role, Index: index, Kind: kind.String(), what: what, expect: func(e *client.Entry) error {
		if e.Kind != kind {
			return fmt.Errorf("a %s entry, not a %s", e.Kind, kind)
		}
		return expect(e)
	}})
}

// expectAttestation checks that an entry is the attestation a names, by the
// device whose device ID is deviceID.
func expectAttestation(a client.AttestationRef, deviceID string) func(*client.Entry) error {
	return func(e *client.Entry) error {
		at := e.Attestation
		if e.UDI().DeviceID() != deviceID || at.Seq != a.Seq || !at.Time.Equal(a.Time) || at.Firmware != a.Firmware {
			return errors.New("not the attestation the answer describes")
		}
		return nil
	}
}

func attestationWhat(udi string, a *client.AttestationRef) string {
	return fmt.Sprintf("an attestation by %s, seq %d, device time %s, firmware %s (%s)",
		udi, a.Seq, a.Time.UTC().Format(time.RFC3339), a.Firmware.Version, a.Firmware.Digest)
}

func deviceReportPage(dev *client.ProvenDevice, hist *client.ProvenHistory, at *client.ProvenAt, t time.Time) *reportPage {
	udi := dev.UDI
	p := &reportPage{
		Kind:     "device",
		Title:    fmt.Sprintf("Evidence report: device %s at %s", udi, t.UTC().Format(time.RFC3339)),
		Question: fmt.Sprintf("Which attestation of device %s was in force at %s, which came next, what is its status, and is its attestation history complete?", udi, t.UTC().Format(time.RFC3339)),
		Limit:    reportMaxBundles,
		Device: &reportDevicePart{
			DeviceInfo: dev.DeviceInfo, At: t.UTC(), InForce: at.InForce, Next: at.Next, LoggedBy: at.LoggedBy,
			Adjacent: at.Adjacent, Attestations: len(hist.Attestations), Problems: hist.Problems,
		},
	}
	d := p.Device
	switch n := len(hist.Attestations); {
	case n == 0:
		d.Chain = "no attestations: the device has not attested"
	case len(hist.Problems) == 0:
		d.Chain = fmt.Sprintf("complete from seq 0 to seq %d (%d attestations, each naming the one before)", hist.Attestations[n-1].Seq, n)
	default:
		d.Chain = fmt.Sprintf("NOT complete: %d problems along the hash chain (below)", len(hist.Problems))
	}
	deviceID := client.DeviceIDOf(udi)
	keyID := dev.KeyID
	p.add("enrollment", dev.Enrollment, client.KindEnrollment, fmt.Sprintf("the enrollment of %s by %s, device key %s", udi, dev.Manufacturer, keyID),
		func(e *client.Entry) error {
			if e.UDI().DeviceID() != deviceID || e.DeviceKey().ID() != keyID {
				return errors.New("not the enrollment of the device")
			}
			return nil
		})
	if a := at.InForce; a != nil {
		p.add("attestation in force at "+t.UTC().Format(time.RFC3339), a.Index, client.KindAttestation, attestationWhat(udi, a), expectAttestation(*a, deviceID))
	}
	if a := at.Next; a != nil {
		p.add("next attestation", a.Index, client.KindAttestation, attestationWhat(udi, a), expectAttestation(*a, deviceID))
	}
	if a := dev.Latest; a != nil {
		p.add("latest attestation", a.Index, client.KindAttestation, attestationWhat(udi, a), expectAttestation(*a, deviceID))
	}
	for _, r := range dev.Revocations {
		p.add("revocation", r, client.KindRevocation, "a revocation of the device or its key", func(*client.Entry) error { return nil })
	}
	for _, fa := range dev.FieldActions {
		p.add("field action "+fa.ID, fa.Index, client.KindFieldAction, "field action "+fa.ID, func(e *client.Entry) error {
			if e.FieldAction.ID != fa.ID {
				return fmt.Errorf("not field action %q", fa.ID)
			}
			return nil
		})
	}
	p.Supports = deviceClauses(udi)
	return p
}

func fieldActionReportPage(fa *client.ProvenFieldAction) *reportPage {
	id := fa.Action.ID
	p := &reportPage{
		Kind:     "field-action",
		Title:    "Evidence report: field action " + id,
		Question: fmt.Sprintf("Which devices in the population of field action %s have installed its remedy, as the devices themselves attested?", id),
		Limit:    reportMaxBundles,
		Action:   &reportActionPart{FieldActionStatus: fa.FieldActionStatus, Files: map[uint64]string{}},
	}
	p.add("field action "+id, fa.Index, client.KindFieldAction, fmt.Sprintf("field action %s, issued by %s", id, fa.Manufacturer), func(e *client.Entry) error {
		if e.FieldAction.ID != id {
			return fmt.Errorf("not field action %q", id)
		}
		return nil
	})
	for _, c := range fa.Corrected {
		what := attestationWhat(c.UDI, &c.Remedy) + ", the remedy build, after the action"
		p.add("remedy attestation of "+c.UDI, c.Remedy.Index, client.KindAttestation, what, expectAttestation(c.Remedy, client.DeviceIDOf(c.UDI)))
	}
	p.Supports = fieldActionClauses(id, fa.Index)
	return p
}

// proveElements builds and verifies, under c, the evidence bundle of each
// of the first reportMaxBundles elements, and checks that its entry is the
// one the answer named.
func proveElements(ctx context.Context, conn *logConn, c *client.Checked, p *reportPage) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(reportParallel)
	for i, e := range p.Elements {
		if i >= reportMaxBundles {
			e.size = c.Checkpoint.Size
			p.Unwritten++
			continue
		}
		p.Written++
		g.Go(func() error {
			b, v, err := conn.tracker.Prove(gctx, c, e.Index, conn.api, conn.roots)
			if err != nil {
				return fmt.Errorf("proving entry %d (%s): %w", e.Index, e.Role, err)
			}
			if err := e.expect(v.Entry); err != nil {
				return fmt.Errorf("%w: entry %d: %v", client.ErrFalseAnswer, e.Index, err)
			}
			if e.bundle, err = b.Marshal(); err != nil {
				return err
			}
			e.size = v.Checkpoint.Size
			e.File = fmt.Sprintf("evidence/%s-%d.json", e.Kind, e.Index)
			h := sha256.Sum256(e.bundle)
			e.Digest = hex.EncodeToString(h[:])
			e.Checked = fmt.Sprintf("included under checkpoint size %d, signature verified (signed by %s), leaf matches the question: %s",
				e.size, v.Signer, e.what)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, e := range p.Elements[min(len(p.Elements), reportMaxBundles):] {
		e.Checked = fmt.Sprintf("included under checkpoint size %d, signature verified, leaf matches the question: %s (proven by the query; no evidence file written)",
			e.size, e.what)
	}
	if p.Action != nil {
		for _, e := range p.Elements {
			if e.File != "" {
				p.Action.Files[e.Index] = e.File
			}
		}
	}
	return nil
}

// fillChecks writes the commands that check the report.
func (p *reportPage) fillChecks() {
	pol, roots, log := shellQuote(p.PolicyFile), shellQuote(p.RootsFile), shellQuote(p.LogURL)
	p.Commands = []reportCommand{
		{"Check that the policy and trust roots are the ones this report was made with:", "sha256sum " + pol + " " + roots},
		{"Verify every evidence file offline (no network): checkpoint signature and witness quorum, inclusion proof, entry signature, enrollment chain:",
			"vigil verify --policy " + pol + " --trust-roots " + roots + " evidence/*.json"},
	}
	// One command per file, but not hundreds of lines: past a few, the
	// table above names every file and the command is the same.
	for i, e := range p.Elements {
		if e.File == "" {
			continue
		}
		if i == reportVerifyLines {
			p.Commands = append(p.Commands, reportCommand{"", "# ... and likewise for each other file in the table above"})
			break
		}
		p.Commands = append(p.Commands, reportCommand{"", "vigil verify --policy " + pol + " --trust-roots " + roots + " " + e.File})
	}
	p.Commands = append(p.Commands,
		reportCommand{"Make the evidence bundle of any other entry, from the log's tiles, under its current checkpoint:",
			"vigil prove inclusion --policy " + pol + " --trust-roots " + roots + " --log " + log + " --index N --out entry-N.json"},
		reportCommand{"Prove that the log's current checkpoint extends the one above (no history rewritten):",
			"vigil prove consistency --policy " + pol + " --log " + log},
		reportCommand{"Replay the whole log (every entry, signature and device chain) to find anything an answer left out:",
			"vigil audit --policy " + pol + " --trust-roots " + roots + " --log " + log},
	)
	if p.Kind == "device" {
		p.Commands = append(p.Commands, reportCommand{"Ask again, proving every answer, and compare:",
			"vigil report device " + shellQuote(p.Device.UDI) + " --at " + p.Device.At.Format(time.RFC3339) +
				" --policy " + pol + " --trust-roots " + roots + " --log " + log + " --out another-report"})
	} else {
		p.Commands = append(p.Commands, reportCommand{"Ask again, proving every answer, and compare:",
			"vigil report field-action " + shellQuote(p.Action.Action.ID) + " --policy " + pol + " --trust-roots " + roots + " --log " + log + " --out another-report"})
	}
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// deviceClauses says, one honest sentence each, what a device report does
// and does not show for each requirement it bears on.
func deviceClauses(udi string) []reportClause {
	return []reportClause{
		{"ISO 13485:2016 7.5.9", "Traceability",
			"The enrollment binds " + udi + " to a hardware-rooted key and every attestation is signed by that key, so the firmware reported at the time asked is traceable to this serialised device; it shows what the device reported about itself, not what was physically installed or by whom."},
		{"ISO 13485:2016 8.2.1", "Feedback",
			"The attestation history is production and post-production data from the device itself, dated by the device and bounded by witnesses; it is an input to the feedback process, not evidence that the process reviewed it."},
		{"ISO 13485:2016 8.5.2", "Corrective action",
			"Where a correction was a firmware change, the attestations before and after the time asked show whether and when this device reported the corrected build; they do not show the investigation of the cause or that the action was effective."},
		{"EU MDR Article 27", "Unique Device Identification system",
			"The device is named throughout by the UDI (UDI-DI and serial) its manufacturer enrolled under a trust-root key covering that UDI-DI; the log does not check the UDI against EUDAMED or the device's label."},
		{"EU MDR Article 87", "Reporting of serious incidents and field safety corrective actions",
			"The dated, witnessed device data here can accompany a vigilance report to a competent authority; this page is not such a report and says nothing about whether an incident was serious."},
		{"EU MDR Article 95", "Devices presenting an unacceptable risk: corrective action, withdrawal, recall",
			"If an authority requires corrective action on this device, the page shows the firmware it reported before and after the time asked; it does not show the device's location or that it was withdrawn or recalled."},
		{"21 CFR Part 806", "Reports of corrections and removals",
			"The history shows whether this device reported a corrected build, which can support the records of 806.20 or a report under 806.10; it is not a report to FDA and covers only what the device attested."},
	}
}

// fieldActionClauses is deviceClauses for a field-action report.
func fieldActionClauses(id string, index uint64) []reportClause {
	return []reportClause{
		{"ISO 13485:2016 7.5.9", "Traceability",
			"Each device of the population is named by its UDI with the log index of its enrollment, and each correction by the attestation reporting the remedy build, so the correction is traceable device by device; devices the log does not know are not covered."},
		{"ISO 13485:2016 8.2.1", "Feedback",
			"The corrected and not-corrected lists come from the devices' own signed reports and can feed post-market feedback; they include no complaints or other feedback sources."},
		{"ISO 13485:2016 8.5.2", "Corrective action",
			"The tables show which devices reported running the remedy build after the action, evidence that the correction was implemented there; they do not show the root cause, the justification of the action or its effectiveness."},
		{"EU MDR Article 27", "Unique Device Identification system",
			"Devices are listed by their enrolled UDIs and the population is stated by UDI-DI and firmware digest as the manufacturer signed it; the log does not check UDIs against EUDAMED."},
		{"EU MDR Article 87", "Reporting of serious incidents and field safety corrective actions",
			fmt.Sprintf("The log proves the manufacturer published field action %s at log index %d with the stated issue date, and the tables give its implementation status; this page is neither the FSCA report to the competent authority nor the field safety notice.", id, index)},
		{"EU MDR Article 95", "Devices presenting an unacceptable risk: corrective action, withdrawal, recall",
			"If the action answers an authority's requirement of corrective action, the tables show which devices reported the correction; a device withdrawn, recalled or simply offline is indistinguishable here from one not corrected."},
		{"21 CFR Part 806", "Reports of corrections and removals",
			"The tables can support the records of 806.20 or a report of a correction under 806.10, by UDI; they cover only corrections made by firmware and reported by the device, not removals, and are not a report to FDA."},
	}
}

// renderReport writes the page.
func renderReport(w io.Writer, p *reportPage) error {
	if err := reportTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	return nil
}
