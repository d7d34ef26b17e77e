package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"golang.org/x/mod/sumdb/note"
)

// The runs here are small (20 devices x 3 attestations: 8 SBOMs, 20
// enrollments and 60 attestations, 88 entries) so that the package runs in
// well under a minute.
const (
	nDevices = 20
	nAtt     = 3
	nBuilds  = 8 // two builds of each of the catalogue's four models
	nEntries = nBuilds + nDevices*(1+nAtt)
)

// runArgs are the arguments of a run of the test's size.
func runArgs(fleet, url string, extra ...string) []string {
	return append([]string{"run", "--state", fleet, "--url", url, "--devices", strconv.Itoa(nDevices), "--attestations", strconv.Itoa(nAtt)}, extra...)
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: end-to-end")
	}
}

// initFleet runs init into a fresh directory and returns it.
func initFleet(t *testing.T) string {
	t.Helper()
	fleet := filepath.Join(t.TempDir(), "fleet")
	if stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", "init", "--out", fleet); code != 0 {
		t.Fatalf("fleetsim init: exit %d\n%s%s", code, stdout, stderr)
	}
	return fleet
}

// startRun starts a run of the simulator, writing its output to out.
func startRun(t *testing.T, fleet, url string, out *bytes.Buffer, extra ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(filepath.Join(e2e.Build(t), "vigil-fleetsim"), runArgs(fleet, url, extra...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func files(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type groundTruth struct {
	Seed    uint64        `json:"seed"`
	Builds  []build       `json:"builds"`
	Devices []truthDevice `json:"devices"`
}

func readGroundTruth(t *testing.T, fleet string) *groundTruth {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fleet, "ground-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gt groundTruth
	if err := json.Unmarshal(b, &gt); err != nil {
		t.Fatalf("ground-truth.json: %v", err)
	}
	return &gt
}

func TestInit(t *testing.T) {
	skipShort(t)
	fleet := initFleet(t)
	var ff fleetFile
	b, err := os.ReadFile(filepath.Join(fleet, "fleet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ff); err != nil {
		t.Fatalf("fleet.json: %v", err)
	}
	rb, err := os.ReadFile(filepath.Join(fleet, "trust-roots.json"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		t.Fatalf("trust-roots.json: %v", err)
	}
	if len(ff.Manufacturers) == 0 || len(roots.Manufacturers) != len(ff.Manufacturers) {
		t.Fatalf("fleet.json has %d manufacturers, trust-roots.json %d", len(ff.Manufacturers), len(roots.Manufacturers))
	}
	keys := map[string][]byte{}
	for _, m := range ff.Manufacturers {
		name := filepath.Join(fleet, m.KeyFile)
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", m.KeyFile, fi.Mode().Perm())
		}
		kb, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		k, err := client.ParsePrivateKeyPEM(kb)
		if err != nil {
			t.Fatalf("%s: %v", m.KeyFile, err)
		}
		if tm := roots.ManufacturerOf(k.Public().ID()); tm == nil || tm.Name != m.Name {
			t.Errorf("%s is not %q's key in trust-roots.json", m.KeyFile, m.Name)
		}
		keys[name] = kb
	}
	// init refuses a directory that already holds a fleet, and changes nothing.
	stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", "init", "--out", fleet, "--seed", "2")
	if code != 1 || !strings.Contains(stderr, "already holds a fleet") {
		t.Errorf("second init: exit %d, want 1 and \"already holds a fleet\"\n%s%s", code, stdout, stderr)
	}
	for name, want := range keys {
		if got, _ := os.ReadFile(name); !bytes.Equal(got, want) {
			t.Errorf("second init changed %s", filepath.Base(name))
		}
	}
	if got, _ := os.ReadFile(filepath.Join(fleet, "fleet.json")); !bytes.Equal(got, b) {
		t.Errorf("second init changed fleet.json")
	}
}

var alreadyRE = regexp.MustCompile(`(\d+) entries submitted .*, (\d+) already had receipts`)

// TestInterruptAndResume stops a run with SIGINT once it has some receipts
// and starts it again: the second run submits only what has no receipt, and
// the log ends up holding each envelope exactly once.
func TestInterruptAndResume(t *testing.T) {
	skipShort(t)
	t.Parallel()
	fleet := initFleet(t)
	v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), filepath.Join(fleet, "trust-roots.json"))

	// A low concurrency keeps the first run busy long enough to be interrupted.
	var out1 bytes.Buffer
	sim := startRun(t, fleet, v.URL, &out1, "--concurrency", "4")
	deadline := time.Now().Add(30 * time.Second)
	for len(files(t, fleet, "receipts/*.json")) < nBuilds+10 {
		if time.Now().After(deadline) {
			sim.Process.Kill()
			sim.Wait()
			t.Fatalf("no receipts after 30s\n%s", out1.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sim.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := sim.Wait(); err == nil {
		t.Fatalf("the interrupted run exited 0: it finished before the interrupt, or ignored it\n%s", out1.String())
	}
	had := len(files(t, fleet, "receipts/*.json"))
	if had >= nEntries {
		t.Fatalf("the interrupted run saved all %d receipts", had)
	}
	t.Logf("interrupted with %d of %d receipts", had, nEntries)

	stdout, stderr, code := e2e.Run(t, "vigil-fleetsim", runArgs(fleet, v.URL)...)
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s%s", code, stdout, stderr)
	}
	lines := e2e.Lines(stdout)
	last := lines[len(lines)-1]
	t.Log(last)
	m := alreadyRE.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("second run's last line %q gives no counts", last)
	}
	submitted, skipped := atoi(t, m[1]), atoi(t, m[2])
	if skipped == 0 || skipped != had {
		t.Errorf("second run: %d already had receipts, want the %d the first run saved", skipped, had)
	}
	if submitted+skipped != nEntries {
		t.Errorf("second run: %d submitted + %d skipped, want %d entries", submitted, skipped, nEntries)
	}
	envs := files(t, fleet, "envelopes/*.json")
	if len(envs) != nEntries || len(files(t, fleet, "receipts/*.json")) != nEntries {
		t.Errorf("%d envelopes and %d receipts, want %d of each", len(envs), len(files(t, fleet, "receipts/*.json")), nEntries)
	}

	// The log holds each envelope once: its size is the number of envelopes.
	vkey, err := os.ReadFile(filepath.Join(v.Data, "log.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	cpRaw, err := v.Get(context.Background(), "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := client.VerifyCheckpoint(cpRaw, lv)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != uint64(len(envs)) {
		t.Errorf("log size %d, want %d: one entry per envelope, no duplicates", cp.Size, len(envs))
	}

	// The ground truth accounts for every entry of the log, once.
	gt := readGroundTruth(t, fleet)
	if len(gt.Devices) != nDevices || len(gt.Builds) != nBuilds {
		t.Fatalf("ground truth has %d devices and %d builds, want %d and %d", len(gt.Devices), len(gt.Builds), nDevices, nBuilds)
	}
	seen := map[uint64]string{}
	index := func(i uint64, what string) {
		if i >= cp.Size {
			t.Errorf("%s: index %d is outside the log (size %d)", what, i, cp.Size)
		}
		if seen[i] != "" {
			t.Errorf("%s and %s have the same index %d", seen[i], what, i)
		}
		seen[i] = what
	}
	for _, b := range gt.Builds {
		index(b.SBOMIndex, "SBOM of "+b.Image)
	}
	for _, d := range gt.Devices {
		index(d.Enrollment, "enrollment of "+d.UDI)
		if len(d.Attestations) != nAtt {
			t.Errorf("%s has %d attestations, want %d", d.UDI, len(d.Attestations), nAtt)
		}
		for j, a := range d.Attestations {
			index(a.Index, fmt.Sprintf("attestation %d of %s", a.Seq, d.UDI))
			if a.Seq != uint64(j) || a.Index <= d.Enrollment {
				t.Errorf("%s: attestation %d has seq %d at index %d (enrollment at %d)", d.UDI, j, a.Seq, a.Index, d.Enrollment)
			}
		}
	}
	if uint64(len(seen)) != cp.Size {
		t.Errorf("ground truth names %d distinct entries, the log holds %d", len(seen), cp.Size)
	}

	// Every receipt, old or new, proves exactly its saved envelope.
	args := append([]string{"verify", "-q", "--log-vkey", filepath.Join(v.Data, "log.vkey"),
		"--trust-roots", filepath.Join(fleet, "trust-roots.json"), "--envelope-dir", filepath.Join(fleet, "envelopes")},
		files(t, fleet, "receipts/*.json")...)
	if vout, verr, code := e2e.Run(t, "vigil", args...); code != 0 || !strings.Contains(vout, fmt.Sprintf("%d of %d bundles verified", nEntries, nEntries)) {
		t.Errorf("vigil verify of the receipts: exit %d\n%s%s", code, vout, verr)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSameSeedSameFleet runs the same seed in two fresh fleets against two
// fresh logs. The manufacturers' Ed25519 signatures and the devices'
// proofs of possession are deterministic, so SBOM and enrollment envelopes
// are the same bytes; attestations are randomized ECDSA signatures by the
// devices, so for them the builds and device keys must match instead.
func TestSameSeedSameFleet(t *testing.T) {
	skipShort(t)
	t.Parallel()
	var fleets [2]string
	var sims [2]*exec.Cmd
	var outs [2]bytes.Buffer
	for i := range fleets {
		fleets[i] = initFleet(t)
		v := e2e.StartVigild(t, filepath.Join(t.TempDir(), "data"), filepath.Join(fleets[i], "trust-roots.json"))
		sims[i] = startRun(t, fleets[i], v.URL, &outs[i], "--seed", "7")
	}
	for i, sim := range sims {
		if err := sim.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, outs[i].String())
		}
	}
	for _, pattern := range []string{"sbom-*.json", "enroll-*.json"} {
		a := files(t, filepath.Join(fleets[0], "envelopes"), pattern)
		if want := map[string]int{"sbom-*.json": nBuilds, "enroll-*.json": nDevices}[pattern]; len(a) != want {
			t.Fatalf("%d envelopes %s, want %d", len(a), pattern, want)
		}
		for _, name := range a {
			b1, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			b2, err := os.ReadFile(filepath.Join(fleets[1], "envelopes", filepath.Base(name)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b1, b2) {
				t.Errorf("envelopes/%s differs between two runs of the same seed", filepath.Base(name))
			}
		}
	}
	gt1, gt2 := readGroundTruth(t, fleets[0]), readGroundTruth(t, fleets[1])
	if gt1.Seed != 7 || gt2.Seed != 7 {
		t.Errorf("ground truths record seeds %d and %d, want 7", gt1.Seed, gt2.Seed)
	}
	if diff := cmp.Diff(gt1.Builds, gt2.Builds); diff != "" {
		t.Errorf("builds differ between two runs of the same seed (-first +second):\n%s", diff)
	}
	// Devices run concurrently, so their entries' indices differ; everything
	// else about them is the seed's.
	withoutIndices := func(ds []truthDevice) []truthDevice {
		out := make([]truthDevice, len(ds))
		for i, d := range ds {
			d.Enrollment = 0
			d.Attestations = append([]truthAttestation(nil), d.Attestations...)
			for j := range d.Attestations {
				d.Attestations[j].Index = 0
			}
			out[i] = d
		}
		return out
	}
	if diff := cmp.Diff(withoutIndices(gt1.Devices), withoutIndices(gt2.Devices)); diff != "" {
		t.Errorf("devices differ between two runs of the same seed (-first +second):\n%s", diff)
	}
	if len(gt1.Devices) != nDevices || gt1.Devices[0].KeyID == "" || gt1.Devices[0].KeyID == gt1.Devices[1].KeyID {
		t.Errorf("ground truth devices lack distinct key IDs: %+v", gt1.Devices[:min(2, len(gt1.Devices))])
	}
}
