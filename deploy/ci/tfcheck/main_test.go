package main

import (
	"strings"
	"testing"
)

// TestGood checks the module the checker exists for.
func TestGood(t *testing.T) {
	problems, _ := check("../../terraform")
	for _, p := range problems {
		t.Error(p)
	}
}

// TestBad checks that each fault planted in testdata/bad is found.
func TestBad(t *testing.T) {
	problems, _ := check("testdata/bad")
	got := strings.Join(problems, "\n")
	for _, want := range []string{
		"main.tf: not formatted",
		"var.projct is not declared",
		"google_spanner_instance.missing is not declared",
		"local.nothing is not declared",
		`variable "region" is not used`,
		`variable "untyped" has no type`,
		`variable "untyped" has no description`,
		`provider "aws" of aws_s3_bucket is not in required_providers`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem mentions %q; problems:\n%s", want, got)
		}
	}
	if strings.Contains(got, "labels") {
		t.Errorf("ignore_changes' attribute names taken for references:\n%s", got)
	}
}

// TestSyntax checks that a parse error is reported.
func TestSyntax(t *testing.T) {
	problems, _ := check("testdata/syntax")
	if got := strings.Join(problems, "\n"); !strings.Contains(got, "Unclosed configuration block") {
		t.Errorf("problems do not report the unclosed block:\n%s", got)
	}
}
