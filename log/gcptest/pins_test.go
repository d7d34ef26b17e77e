package gcptest

import (
	"os"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// TestVersionPins fails when a dependency update moves the modules whose
// versions the GCP backend's tests were found to need (go.mod says why):
// a newer Spanner client hangs against the emulator, and a newer
// fake-gcs-server pulls in the client that made appends fail. go.mod lists
// every module the build selects, at the version it selects.
func TestVersionPins(t *testing.T) {
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range f.Require {
		got[r.Mod.Path] = r.Mod.Version
	}
	if v := got["cloud.google.com/go/spanner"]; v != "v1.87.0" {
		t.Errorf("cloud.google.com/go/spanner is %q, want v1.87.0 (Tessera v1.0.4's; see go.mod)", v)
	}
	if v := got["github.com/fsouza/fake-gcs-server"]; v == "" || semver.Compare(v, "v1.54.0") > 0 {
		t.Errorf("github.com/fsouza/fake-gcs-server is %q, want v1.54.0 or older (see go.mod)", v)
	}
}
