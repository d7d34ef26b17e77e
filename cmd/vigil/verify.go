package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

func verify(args []string) error {
	fs := newFlags("verify", "--log-vkey FILE --trust-roots FILE [--envelope FILE] [--log URL] BUNDLE",
		`  vigil verify --log-vkey data/log.vkey --trust-roots trust-roots.json attestation.bundle.json

Checks, with no network: the checkpoint's log signature, the inclusion proof,
the entry's schema and signature, the signer's key in the trust roots, and for
an attestation the device's enrollment embedded in the bundle. An SBOM's
signed statement lives in a blob: supply it with --envelope (the submitted
envelope) or let --log fetch it. Exit status 0 only if everything holds.`)
	vkeyFile := fs.String("log-vkey", "", "the log's verifier key (note vkey), e.g. DIR/log.vkey")
	rootsFile := fs.String("trust-roots", "", "trust-roots file of the manufacturers to trust")
	envFile := fs.String("envelope", "", "the submitted envelope: also checks that the bundle's entry is exactly it")
	logURL := fs.String("log", "", "fetch an SBOM's blob from this log")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "log-vkey", "trust-roots"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "vigil verify: name one bundle file")
		fs.Usage()
		return errUsage
	}
	vb, err := os.ReadFile(*vkeyFile)
	if err != nil {
		return fmt.Errorf("reading log vkey: %w", err)
	}
	lv, err := note.NewVerifier(strings.TrimSpace(string(vb)))
	if err != nil {
		return fmt.Errorf("%s: %w", *vkeyFile, err)
	}
	rb, err := os.ReadFile(*rootsFile)
	if err != nil {
		return fmt.Errorf("reading trust roots: %w", err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		return fmt.Errorf("%s: %w", *rootsFile, err)
	}
	bb, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("reading bundle: %w", err)
	}
	b, err := client.ParseBundle(bb)
	if err != nil {
		return err
	}
	opts := client.VerifyOptions{Log: lv, Roots: roots}
	var env *client.Envelope
	if *envFile != "" {
		eb, err := os.ReadFile(*envFile)
		if err != nil {
			return fmt.Errorf("reading envelope: %w", err)
		}
		if env, err = client.ParseEnvelope(eb); err != nil {
			return fmt.Errorf("%s: %w", *envFile, err)
		}
		opts.Payload = env.Payload
	} else if b.Blob != "" && b.Payload == nil && *logURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if opts.Payload, err = (&client.LogClient{URL: *logURL}).Blob(ctx, strings.TrimPrefix(b.Blob, "sha256:")); err != nil {
			return err
		}
	}
	v, err := b.Verify(opts)
	if err != nil {
		return fmt.Errorf("NOT VERIFIED: %w", err)
	}
	if env != nil {
		e, err := client.NewEntry(env)
		if err != nil {
			return fmt.Errorf("NOT VERIFIED: the envelope: %w", err)
		}
		lb, err := e.Leaf().Marshal()
		if err != nil || string(lb) != string(v.Leaf) {
			return fmt.Errorf("NOT VERIFIED: the bundle proves another entry than %s", *envFile)
		}
	}
	fmt.Printf("verified: %s entry at index %d of %s (checkpoint size %d)\n", v.Entry.Kind, v.Index, v.Checkpoint.Origin, v.Checkpoint.Size)
	fmt.Printf("  signed by: %s (key %s)\n", v.Signer, v.Entry.SignerKeyID())
	if v.Enrollment != nil {
		fmt.Printf("  device enrolled at index %d by %s\n", v.Enrollment.Index, v.Enrollment.Signer)
	}
	if env != nil {
		fmt.Printf("  the bundle proves exactly the envelope %s\n", *envFile)
	}
	return nil
}
