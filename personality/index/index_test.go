package index

import (
	"context"
	"testing"
)

// TestOpenRelative opens an index under a relative directory, as vigild
// does with --data data: the SQLite URI must name the file, not a host.
func TestOpenRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	x, err := Open("data/index")
	if err != nil {
		t.Fatalf("Open(relative) = %v", err)
	}
	defer x.Close()
	if n, err := x.Size(context.Background()); err != nil || n != 0 {
		t.Errorf("Size of a new index = %d, %v; want 0", n, err)
	}
}
