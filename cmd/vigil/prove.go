package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/vigil-log/vigil/client"
)

func prove(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "inclusion":
			return proveInclusion(args[1:])
		case "consistency":
			return proveConsistency(args[1:])
		}
	}
	fmt.Fprint(os.Stderr, `Usage: vigil prove inclusion|consistency [flags]

  inclusion    build, from the log's tiles, the verified evidence bundle of
               an entry given by index, by its envelope or by a receipt
  consistency  prove the log's current checkpoint consistent with the
               trusted one (or with a given checkpoint file)

Run 'vigil prove inclusion --help' or 'vigil prove consistency --help'.
`)
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return nil
	}
	return errUsage
}

func proveInclusion(args []string) error {
	fs := newFlags("prove inclusion", "--policy FILE --trust-roots FILE [--log URL] [--state DIR] (--index N | --envelope FILE | --receipt FILE) [--out FILE]",
		`  vigil prove inclusion --policy policy.txt --trust-roots trust-roots.json \
      --envelope pump-0001.attestation-0.dsse.json --out evidence.json

Updates the trusted checkpoint (policy-verified, consistency proven from
tiles), reads the entry and its inclusion proof from the log's tiles, and
prints the evidence bundle once it verifies: for an attestation with the
device's enrollment proven the same way, for an SBOM with its signed
statement embedded. The bundle then verifies offline with 'vigil verify'.
The log's API is asked only where to look (the index of an envelope or of
an enrollment); every answer is proven, not trusted.`)
	lf := addLogFlags(fs, true)
	index := fs.String("index", "", "the entry's index")
	envFile := fs.String("envelope", "", "the entry's envelope (DSSE JSON) as submitted")
	receipt := fs.String("receipt", "", "an evidence bundle of the entry, to prove again under the current checkpoint")
	out := fs.String("out", "", "file for the bundle (default: standard output)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	given := 0
	for _, s := range []string{*index, *envFile, *receipt} {
		if s != "" {
			given++
		}
	}
	if given != 1 || fs.NArg() != 0 {
		fmt.Fprintln(fs.Output(), "vigil prove inclusion: give exactly one of --index, --envelope and --receipt")
		fs.Usage()
		return errUsage
	}
	conn, err := lf.open()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var idx uint64
	var wantLeaf []byte
	switch {
	case *index != "":
		if idx, err = strconv.ParseUint(*index, 10, 64); err != nil {
			fmt.Fprintln(fs.Output(), "vigil prove inclusion: --index is not a decimal number")
			return errUsage
		}
	case *envFile != "":
		eb, err := os.ReadFile(*envFile)
		if err != nil {
			return fmt.Errorf("reading envelope: %w", err)
		}
		e, err := client.ParseEntry(eb)
		if err != nil {
			return fmt.Errorf("%s: %w", *envFile, err)
		}
		if wantLeaf, err = e.Leaf().Marshal(); err != nil {
			return fmt.Errorf("%s: %w", *envFile, err)
		}
		if idx, err = conn.api.Lookup(ctx, eb); err != nil {
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Status == 404 {
				return fmt.Errorf("the log says it does not hold %s", *envFile)
			}
			return err
		}
	default:
		bb, err := os.ReadFile(*receipt)
		if err != nil {
			return fmt.Errorf("reading receipt: %w", err)
		}
		b, err := client.ParseBundle(bb)
		if err != nil {
			return fmt.Errorf("%s: %w", *receipt, err)
		}
		p, err := client.ParseTLogProof([]byte(b.TLogProof))
		if err != nil {
			return fmt.Errorf("%s: %w", *receipt, err)
		}
		idx, wantLeaf = p.Index, p.Extra
	}
	c, err := conn.tracker.Update(ctx)
	if err != nil {
		return err
	}
	b, v, err := conn.tracker.Prove(ctx, c, idx, conn.api, conn.roots)
	if err != nil {
		return err
	}
	if wantLeaf != nil && string(wantLeaf) != string(v.Leaf) {
		return fmt.Errorf("entry %d of the log is not the entry asked about", idx)
	}
	fmt.Fprintf(os.Stderr, "proven: %s entry at index %d of %s under checkpoint size %d, signed by %s\n", v.Entry.Kind, v.Index, v.Checkpoint.Origin, v.Checkpoint.Size, v.Signer)
	bb, err := b.Marshal()
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(bb)
		return err
	}
	return os.WriteFile(*out, bb, 0o644)
}

func proveConsistency(args []string) error {
	fs := newFlags("prove consistency", "--policy FILE [--log URL] [--state DIR] [--from CHECKPOINT]",
		`  vigil prove consistency --policy policy.txt
  vigil prove consistency --policy policy.txt --from checkpoint-2026-10-01.txt

Fetches the log's checkpoint, verifies it under the policy (log signature and
witness quorum), builds the consistency proof from the trusted checkpoint to
it from the log's tiles, verifies it and makes it the trusted checkpoint. With
--from, the given signed checkpoint is also proven consistent with it.

A checkpoint that contradicts the trusted one is a split view: the command
stops with exit status 3 and writes a fork-proof file (both signed
checkpoints and the proof) that anyone can check with 'vigil verify-fork'. A
log that serves an older checkpoint than the trusted one is refused.`)
	lf := addLogFlags(fs, false)
	from := fs.String("from", "", "a signed checkpoint file to prove consistent with the log's current one")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	conn, err := lf.open()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := conn.tracker.Update(ctx)
	if err != nil {
		return err
	}
	switch {
	case c.Trusted == nil:
		fmt.Printf("first use: trusting %s at size %d (witnessed by %d of the policy's witnesses)\n", c.Checkpoint.Origin, c.Checkpoint.Size, len(c.Cosigned))
	case c.Trusted.Size == c.Checkpoint.Size:
		fmt.Printf("%s: unchanged at size %d\n", c.Checkpoint.Origin, c.Checkpoint.Size)
	default:
		fmt.Printf("%s: consistent, size %d -> %d\n", c.Checkpoint.Origin, c.Trusted.Size, c.Checkpoint.Size)
	}
	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			return fmt.Errorf("reading checkpoint: %w", err)
		}
		f, err := conn.tracker.Accept(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
		fmt.Printf("%s: consistent, size %d -> %d\n", *from, f.Checkpoint.Size, c.Checkpoint.Size)
	}
	return nil
}
