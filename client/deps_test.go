package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the import rules of the design:
// client imports nothing of ours, nor Tessera's root package or its storage
// drivers, even indirectly (Tessera's client and api packages, the verifying
// side, are allowed); witness imports only client of ours, under the same
// rule for Tessera; personality reaches storage only through log, never
// importing a driver itself. It asks the go command, as Tessera's storage
// tests do.
func TestDependencyDirection(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: runs the go command")
	}
	const (
		mod            = "github.com/vigil-log/vigil/"
		tesseraRoot    = "github.com/transparency-dev/tessera"
		tesseraStorage = "github.com/transparency-dev/tessera/storage"
	)
	deps := []string{"list", "-deps"}
	imports := []string{"list", "-f", `{{join .Imports "\n"}}`}
	rules := []struct {
		pkg       string
		list      []string
		forbidden []string
	}{
		{"./", deps, []string{mod + "log", mod + "personality", mod + "witness", mod + "cmd", tesseraRoot, tesseraStorage}},
		{"../witness/...", deps, []string{mod + "log", mod + "personality", mod + "cmd", tesseraRoot, tesseraStorage}},
		{"../personality/...", imports, []string{tesseraRoot, tesseraStorage, mod + "cmd", mod + "witness"}},
		{"../log/...", deps, []string{mod + "personality", mod + "witness", mod + "cmd"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", append(r.list, r.pkg)...).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") {
				continue // the directory has no Go package yet
			}
			t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range r.forbidden {
				// The Tessera root forbids only itself; other entries
				// forbid their subpackages too.
				if dep == f || f != tesseraRoot && strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s, which the design forbids", r.pkg, dep)
				}
			}
		}
	}
}
