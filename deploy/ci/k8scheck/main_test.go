package main

import (
	"strings"
	"testing"
)

// TestGood checks the manifests the checker exists for.
func TestGood(t *testing.T) {
	c := &checker{}
	c.run("../../k8s")
	for _, p := range c.problems {
		t.Error(p)
	}
}

// TestBad checks that each fault planted in testdata/bad is found.
func TestBad(t *testing.T) {
	c := &checker{}
	c.run("testdata/bad")
	got := strings.Join(c.problems, "\n")
	for _, want := range []string{
		`unknown field "targtPort"`,                        // strict decoding
		`name: a lowercase RFC 1123 subdomain`,             // ConfigMap "Bad_Name"
		`policy/v1beta1/PodDisruptionBudget is not a kind`, // unknown kind
		`resources does not list pdb.yaml`,
		`want at least 2 replicas`,
		`serviceAccountName "web" is not in the manifests`,
		`want capabilities: drop [ALL], add none`,
		`want seccompProfile RuntimeDefault`,
		`want cpu and memory requests`,
		`want a readinessProbe on GET /healthz`,
		`want a livenessProbe on GET /healthz`,
		`volumeMount "cache" names no volume`,
		`refers to $(BUCKET), which env does not define`,
		`targetPort "web" is no container port`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem mentions %q; problems:\n%s", want, got)
		}
	}
}
