package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vigil-log/vigil/client"
)

func submit(args []string) error {
	fs := newFlags("submit", "(--log URL | --policy FILE --trust-roots FILE [--log URL] [--state DIR]) [--no-wait] [--out FILE] ENVELOPE",
		`  vigil submit --log http://127.0.0.1:8080 --out enrollment.bundle.json enrollment.dsse.json
  vigil submit --policy policy.txt --trust-roots trust-roots.json --out enrollment.bundle.json enrollment.dsse.json

Submits a signed envelope and, unless --no-wait, waits for its evidence
bundle. With --policy the bundle is verified before it is written (the
checkpoint's quorum, the inclusion proof, the entry and its signer, as
'vigil verify' does), and its checkpoint is proven consistent with the
trusted state of the log, which it advances; a contradiction stops with exit
status 3 and a fork-proof file.`)
	lf := addLogFlags(fs, true)
	out := fs.String("out", "", "file for the evidence bundle (default: standard output)")
	noWait := fs.Bool("no-wait", false, "return as soon as the entry has an index, without waiting for a checkpoint")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	var conn *logConn
	if *lf.policy != "" {
		var err error
		if conn, err = lf.open(); err != nil {
			return err
		}
	} else if err := need(fs, "log"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "vigil submit: name one envelope file")
		fs.Usage()
		return errUsage
	}
	env, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("reading envelope: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	lc := &client.LogClient{URL: *lf.log}
	if conn != nil {
		lc = conn.api
	}
	s, err := lc.Submit(ctx, env, !*noWait)
	if err != nil {
		return err
	}
	dup := ""
	if s.Duplicate {
		dup = " (already in the log)"
	}
	if s.Bundle == nil {
		fmt.Fprintf(os.Stderr, "sequenced at index %d%s; no checkpoint yet: fetch the bundle later from %s/v1/entries/%d\n", s.Index, dup, lc.URL, s.Index)
		return nil
	}
	if conn != nil {
		if err := checkReceipt(ctx, conn, s, env); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "included at index %d%s\n", s.Index, dup)
	if *out == "" {
		_, err = os.Stdout.Write(s.Raw)
		return err
	}
	return os.WriteFile(*out, s.Raw, 0o644)
}

// checkReceipt verifies a submission's evidence bundle under the policy,
// checks that it proves the envelope submitted, and proves its checkpoint
// consistent with the trusted state.
func checkReceipt(ctx context.Context, conn *logConn, s *client.Submission, envJSON []byte) error {
	env, err := client.ParseEnvelope(envJSON)
	if err != nil {
		return fmt.Errorf("the envelope submitted: %w", err)
	}
	v, err := s.Bundle.Verify(client.VerifyOptions{Policy: conn.tracker.Policy, Roots: conn.roots, Payload: env.Payload})
	if err != nil {
		return fmt.Errorf("the log's evidence bundle: %w", err)
	}
	if err := proves(v, env); err != nil {
		return fmt.Errorf("the log's evidence bundle: %w", err)
	}
	if _, err := conn.tracker.Accept(ctx, v.SignedCheckpoint); err != nil {
		return fmt.Errorf("the log's evidence bundle: %w", err)
	}
	return nil
}
