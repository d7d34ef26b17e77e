package main

import (
	"strings"
	"testing"
)

// TestGood checks the Containerfile the checker exists for.
func TestGood(t *testing.T) {
	problems, err := check("../../container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestBadMount checks that BuildKit's refusal of a RUN flag is reported.
func TestBadMount(t *testing.T) {
	problems, err := check("testdata/badmount.Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(problems, "\n"); !strings.Contains(got, `unsupported mount type "bogus"`) {
		t.Errorf("problems do not mention the bad mount:\n%s", got)
	}
}

// TestBad checks that each fault planted in testdata/bad.Containerfile is
// found.
func TestBad(t *testing.T) {
	problems, err := check("testdata/bad.Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	for _, want := range []string{
		"StageNameCasing",             // BuildKit's lint
		"FromAsCasing",                // BuildKit's lint
		"ConsistentInstructionCasing", // BuildKit's lint
		"JSONArgsRecommended",         // BuildKit's lint
		"FROM golang:1.26: name the registry",
		"no stage builds with CGO_ENABLED=0",
		"no `go build -trimpath`",
		"final stage FROM gcr.io/distroless/base-debian12",
		`final stage USER "nonroot": want a numeric non-root user`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem mentions %q; problems:\n%s", want, got)
		}
	}
}
