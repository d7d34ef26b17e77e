package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

func verifyFork(args []string) error {
	fs := newFlags("verify-fork", "--log-vkey FILE | --policy FILE FORK-PROOF",
		`  vigil verify-fork --log-vkey log.vkey 1763712000000000000.json

Checks a fork-proof file written by vigil on seeing a split view: both
checkpoints carry a valid signature by the log's key, and they contradict
each other (same size with different roots, or a verified consistency proof
showing the larger tree's prefix differs from the smaller checkpoint). Needs
no network. Exit status 0 when the file proves the log forked.`)
	vkeyFile := fs.String("log-vkey", "", "the log's verifier key (note vkey)")
	policyFile := fs.String("policy", "", "a C2SP tlog-policy file naming the log (instead of --log-vkey)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*vkeyFile == "") == (*policyFile == "") || fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "vigil verify-fork: give one of --log-vkey and --policy, and one fork-proof file")
		fs.Usage()
		return errUsage
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fmt.Errorf("reading fork proof: %w", err)
	}
	f, err := client.ParseForkProof(b)
	if err != nil {
		return err
	}
	var logKey note.Verifier
	if *policyFile != "" {
		pb, err := os.ReadFile(*policyFile)
		if err != nil {
			return fmt.Errorf("reading policy: %w", err)
		}
		p, err := client.ParsePolicy(pb)
		if err != nil {
			return fmt.Errorf("%s: %w", *policyFile, err)
		}
		origin, _, _ := strings.Cut(f.Older, "\n")
		if logKey = p.LogVerifier(origin); logKey == nil {
			return fmt.Errorf("the policy names no log with origin %q", origin)
		}
	} else {
		vb, err := os.ReadFile(*vkeyFile)
		if err != nil {
			return fmt.Errorf("reading log vkey: %w", err)
		}
		if logKey, err = note.NewVerifier(strings.TrimSpace(string(vb))); err != nil {
			return fmt.Errorf("%s: %w", *vkeyFile, err)
		}
	}
	older, newer, err := f.Verify(logKey)
	if err != nil {
		return err
	}
	fmt.Printf("split view proven: %s signed size %d with root %x and size %d with root %x, which cannot both be true\n",
		older.Origin, older.Size, older.Hash, newer.Size, newer.Hash)
	return nil
}
