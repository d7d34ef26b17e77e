package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

func verify(args []string) error {
	flags := newFlags("verify", "--log-vkey FILE | --policy FILE, --trust-roots FILE [--envelope FILE | --envelope-dir DIR] [--log URL [--state DIR] [--audit-dir DIR]] BUNDLE...",
		`  vigil verify --log-vkey data/log.vkey --trust-roots trust-roots.json attestation.bundle.json
  # a directory of receipts, each beside the envelope it answers (same file name)
  vigil verify --log-vkey data/log.vkey --trust-roots fleet/trust-roots.json \
      --envelope-dir fleet/envelopes fleet/receipts/*.json

With --policy (a C2SP tlog-policy file naming the log and the witnesses), the
checkpoint must also carry cosignatures that satisfy the policy's quorum.

Checks, with no network: the checkpoint's log signature, the inclusion proof,
the entry's schema and signature, the signer's key in the trust roots, and for
an attestation the device's enrollment embedded in the bundle. An SBOM's
signed statement lives in a blob: supply it with --envelope or --envelope-dir
(the submitted envelopes, which are then also checked to be exactly the
entries proven) or let --log fetch it. Exit status 0 only if every bundle
holds.

With --log and --policy it also proves each bundle's checkpoint consistent
with the trusted state of that log (see 'vigil prove consistency'), and a
newer one becomes trusted; a contradiction stops with exit status 3 and a
fork-proof file. It then checks revocations: it brings the local audit of the
log up to date ('vigil audit', incremental: the first run replays the whole
log, later ones only what is new) and reports every revocation of the
entry's signer, device, enrolling manufacturer key or firmware. An entry the
log should have refused (its signer revoked before it, say) does not verify;
a revocation after the entry is reported, and the entry stays valid evidence
of what came before it.`)
	vkeyFile := flags.String("log-vkey", "", "the log's verifier key (note vkey), e.g. DIR/log.vkey")
	policyFile := flags.String("policy", "", "a C2SP tlog-policy file: the log and the witness quorum (instead of --log-vkey)")
	rootsFile := flags.String("trust-roots", "", "trust-roots file of the manufacturers to trust")
	envFile := flags.String("envelope", "", "the submitted envelope of a single BUNDLE")
	envDir := flags.String("envelope-dir", "", "directory of submitted envelopes, named as the bundles")
	logURL := flags.String("log", "", "the log's base URL: fetch SBOM blobs from it and, with --policy, prove consistency")
	stateDir := flags.String("state", "", "trusted-state directory, with --log and --policy (default: $XDG_STATE_HOME/vigil or ~/.local/state/vigil)")
	auditDir := flags.String("audit-dir", "", "the local audit's directory, with --log and --policy (default: the log's directory under --state, /audit)")
	quiet := flags.Bool("q", false, "print only failures and the summary")
	if err := parse(flags, args); err != nil {
		return err
	}
	if err := need(flags, "trust-roots"); err != nil {
		return err
	}
	if (*vkeyFile == "") == (*policyFile == "") {
		fmt.Fprintln(flags.Output(), "vigil verify: give exactly one of --log-vkey and --policy")
		flags.Usage()
		return errUsage
	}
	if flags.NArg() == 0 || *envFile != "" && (flags.NArg() != 1 || *envDir != "") {
		fmt.Fprintln(flags.Output(), "vigil verify: name one or more bundles (--envelope goes with exactly one)")
		flags.Usage()
		return errUsage
	}
	var trust client.VerifyOptions
	if *policyFile != "" {
		pb, err := os.ReadFile(*policyFile)
		if err != nil {
			return fmt.Errorf("reading policy: %w", err)
		}
		if trust.Policy, err = client.ParsePolicy(pb); err != nil {
			return fmt.Errorf("%s: %w", *policyFile, err)
		}
	} else {
		vb, err := os.ReadFile(*vkeyFile)
		if err != nil {
			return fmt.Errorf("reading log vkey: %w", err)
		}
		if trust.Log, err = note.NewVerifier(strings.TrimSpace(string(vb))); err != nil {
			return fmt.Errorf("%s: %w", *vkeyFile, err)
		}
	}
	rb, err := os.ReadFile(*rootsFile)
	if err != nil {
		return fmt.Errorf("reading trust roots: %w", err)
	}
	if trust.Roots, err = client.ParseTrustRoots(rb); err != nil {
		return fmt.Errorf("%s: %w", *rootsFile, err)
	}
	var rev *revocations
	if *logURL != "" && trust.Policy != nil {
		tiles, err := client.HTTPTiles(*logURL, nil)
		if err != nil {
			return err
		}
		dir := *stateDir
		if dir == "" {
			if dir, err = client.DefaultStateDir(); err != nil {
				return err
			}
		}
		conn := &logConn{
			tracker: &client.Tracker{Policy: trust.Policy, Tiles: tiles, Store: &client.TrustStore{Dir: dir}},
			api:     &client.LogClient{URL: *logURL},
			roots:   trust.Roots,
			url:     *logURL,
		}
		rev = &revocations{a: &auditor{conn: conn, dir: *auditDir, quiet: *quiet}}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := 0
	for _, name := range flags.Args() {
		env := *envFile
		if *envDir != "" {
			env = filepath.Join(*envDir, filepath.Base(name))
		}
		v, err := verifyOne(name, env, *envDir != "", trust, *logURL)
		var st *client.Standing
		if err == nil && rev != nil {
			st, err = rev.check(ctx, v)
		}
		var fe *client.ForkError
		if errors.As(err, &fe) {
			return err // a split view stops everything
		}
		if err != nil {
			failed++
			fmt.Printf("NOT VERIFIED %s: %v\n", name, err)
			continue
		}
		if *quiet {
			continue
		}
		fmt.Printf("verified %s: %s entry at index %d of %s (checkpoint size %d), signed by %s\n", name, v.Entry.Kind, v.Index, v.Checkpoint.Origin, v.Checkpoint.Size, v.Signer)
		if v.Enrollment != nil {
			fmt.Printf("  device key %s enrolled at index %d by %s\n", v.Entry.SignerKeyID(), v.Enrollment.Index, v.Enrollment.Signer)
		}
		if w := v.Witnessed; w != nil {
			if t, ok := w.Earliest(); ok {
				fmt.Printf("  cosigned by %d witnesses under the policy's quorum, the earliest at %s\n", len(w.Cosigned), t.UTC().Format(time.RFC3339))
			}
		}
		if st != nil {
			printStanding(v, st)
		}
	}
	if flags.NArg() > 1 || *quiet {
		fmt.Printf("%d of %d bundles verified\n", flags.NArg()-failed, flags.NArg())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d bundles did not verify", failed, flags.NArg())
	}
	return nil
}

// revocations checks verified bundles against the log's history: it proves
// each bundle's checkpoint consistent with the trusted state, and learns the
// revocations from the local audit, which it brings up to date once.
type revocations struct {
	a      *auditor
	report *client.AuditReport
}

// check proves v's checkpoint consistent with the trusted state and returns
// v's standing in the audit. An entry the log should have refused is an
// error.
func (r *revocations) check(ctx context.Context, v *client.Verified) (*client.Standing, error) {
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	_, err := r.a.conn.tracker.Accept(actx, v.SignedCheckpoint)
	cancel()
	if err != nil {
		return nil, err
	}
	if r.report == nil || r.report.Size < v.Checkpoint.Size {
		if _, r.report, err = r.a.round(ctx); err != nil {
			return nil, fmt.Errorf("checking revocations: %w", err)
		}
	}
	st, err := r.report.Standing(v)
	if err != nil {
		return nil, fmt.Errorf("checking revocations: %w", err)
	}
	if st.Refused() {
		var why []string
		for _, an := range st.Anomalies {
			why = append(why, an.Code+": "+an.Detail)
		}
		return nil, fmt.Errorf("the audit of the log finds that it should have refused this entry (%s)", strings.Join(why, "; "))
	}
	return st, nil
}

// printStanding prints what the audit knows of a verified entry.
func printStanding(v *client.Verified, st *client.Standing) {
	for _, an := range st.Anomalies {
		fmt.Printf("  anomaly %s: %s\n", an.Code, an.Detail)
	}
	if len(st.Revocations) == 0 {
		fmt.Printf("  no revocation of its signer, device or firmware in the log up to size %d (local audit)\n", st.Audited)
	}
	for _, rn := range st.Revocations {
		when := "after this entry, which stays valid evidence"
		if rn.Index < v.Index {
			when = "before this entry"
		}
		fmt.Printf("  REVOKED: %s %s at index %d, %s\n", rn.Target, rn.ID, rn.Index, when)
	}
}

// verifyOne verifies one bundle file. envFile, if not empty, is the envelope
// it should prove; optional says a missing envelope file is no error.
func verifyOne(name, envFile string, optional bool, trust client.VerifyOptions, logURL string) (*client.Verified, error) {
	bb, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading bundle: %w", err)
	}
	b, err := client.ParseBundle(bb)
	if err != nil {
		return nil, err
	}
	opts := trust
	var env *client.Envelope
	if envFile != "" {
		eb, err := os.ReadFile(envFile)
		switch {
		case err == nil:
			if env, err = client.ParseEnvelope(eb); err != nil {
				return nil, fmt.Errorf("%s: %w", envFile, err)
			}
			opts.Payload = env.Payload
		case optional && errors.Is(err, fs.ErrNotExist):
		default:
			return nil, fmt.Errorf("reading envelope: %w", err)
		}
	}
	if opts.Payload == nil && b.Blob != "" && b.Payload == nil && logURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if opts.Payload, err = (&client.LogClient{URL: logURL}).Blob(ctx, strings.TrimPrefix(b.Blob, "sha256:")); err != nil {
			return nil, err
		}
	}
	v, err := b.Verify(opts)
	if err != nil {
		return nil, err
	}
	if env != nil {
		if err := proves(v, env); err != nil {
			return nil, fmt.Errorf("%s: %w", envFile, err)
		}
	}
	return v, nil
}

// proves checks that a verified bundle proves the entry of env.
func proves(v *client.Verified, env *client.Envelope) error {
	e, err := client.NewEntry(env)
	if err != nil {
		return fmt.Errorf("the envelope: %w", err)
	}
	lb, err := e.Leaf().Marshal()
	if err != nil || !bytes.Equal(lb, v.Leaf) {
		return errors.New("the bundle proves another entry than the envelope")
	}
	return nil
}
