package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestReindex fills a log, lets vigild's follower index it, and rebuilds
// the index with vigild reindex, on each backend: on posix refused beside a
// running vigild; with vigild stopped, rebuilt from the log alone to the
// same answers.
func TestReindex(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
	for _, backend := range e2e.Backends {
		t.Run(backend, func(t *testing.T) { testReindex(t, backend) })
	}
}

func testReindex(t *testing.T, backend string) {
	fleet := e2e.NewFleet(t)
	roots := filepath.Join(fleet, "trust-roots.json")
	v := e2e.StartVigildOn(t, backend, filepath.Join(t.TempDir(), "data"), roots)
	if out, errOut, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", v.URL, "--devices", "20", "--attestations", "3", "--no-wait"); code != 0 {
		t.Fatalf("fleetsim: exit %d\n%s%s", code, out, errOut)
	}
	const entries = 20 + 8 + 60
	tb, err := os.ReadFile(filepath.Join(fleet, "ground-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Devices []struct {
			UDI string `json:"udi"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(tb, &truth); err != nil || len(truth.Devices) != 20 {
		t.Fatalf("ground truth: %v", err)
	}
	udi := truth.Devices[5].UDI
	answer := func() []byte {
		t.Helper()
		var last []byte
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			b, err := v.Get(context.Background(), "/v1/devices/"+url.PathEscape(udi))
			if err != nil {
				last = []byte(err.Error())
				continue
			}
			var info struct {
				TreeSize     uint64 `json:"treeSize"`
				Attestations int    `json:"attestations"`
			}
			if json.Unmarshal(b, &info) == nil && info.TreeSize == entries && info.Attestations == 3 {
				return b
			}
			last = b
		}
		t.Fatalf("the index never answered for all %d entries: %s", entries, last)
		return nil
	}
	before := answer()

	reindex := append([]string{"reindex", "--trust-roots", roots}, v.StorageArgs()...)
	if backend == "posix" {
		// On mysql, reindex would wait for the running vigild's lease.
		if _, errOut, code := e2e.Run(t, "vigild", reindex...); code == 0 || !strings.Contains(errOut, "in use") {
			t.Errorf("reindex beside a running vigild: exit %d\n%s", code, errOut)
		}
	}
	v.Stop()
	out, errOut, code := e2e.Run(t, "vigild", reindex...)
	if code != 0 || !strings.Contains(out, "index rebuilt: 88 entries, 20 devices, 8 firmware builds, 0 anomalies") {
		t.Fatalf("reindex: exit %d\n%s%s", code, out, errOut)
	}
	v.Start()
	if after := answer(); !bytes.Equal(before, after) {
		t.Errorf("answers before and after reindex differ:\n%s\n%s", before, after)
	}
	if backend != "posix" {
		return
	}
	if _, errOut, code := e2e.Run(t, "vigild", "reindex", "--data", t.TempDir(), "--trust-roots", roots); code == 0 || !strings.Contains(errOut, "not a vigil log") {
		t.Errorf("reindex of an empty directory: exit %d\n%s", code, errOut)
	}
}
