package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/vigil-log/vigil/client"
)

func submit(args []string) error {
	fs := newFlags("submit", "--log URL [--no-wait] [--out FILE] ENVELOPE",
		`  vigil submit --log http://127.0.0.1:8080 --out enrollment.bundle.json enrollment.dsse.json`)
	logURL := fs.String("log", "", "the log's base URL")
	out := fs.String("out", "", "file for the evidence bundle (default: standard output)")
	noWait := fs.Bool("no-wait", false, "return as soon as the entry has an index, without waiting for a checkpoint")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "log"); err != nil {
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
	lc := &client.LogClient{URL: *logURL}
	s, err := lc.Submit(ctx, env, !*noWait)
	if err != nil {
		return err
	}
	dup := ""
	if s.Duplicate {
		dup = " (already in the log)"
	}
	if s.Bundle == nil {
		fmt.Fprintf(os.Stderr, "sequenced at index %d%s; no checkpoint yet: fetch the bundle later from %s/v1/entries/%d\n", s.Index, dup, *logURL, s.Index)
		return nil
	}
	fmt.Fprintf(os.Stderr, "included at index %d%s\n", s.Index, dup)
	if *out == "" {
		_, err = os.Stdout.Write(s.Raw)
		return err
	}
	return os.WriteFile(*out, s.Raw, 0o644)
}
