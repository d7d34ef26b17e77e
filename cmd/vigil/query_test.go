package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
	"github.com/vigil-log/vigil/personality/index"
)

// TestQueryVerbs runs the proven query verbs against a real vigild with 3
// witnesses, filled by vigil-fleetsim, and checks their answers against the
// fleet's ground truth.
func TestQueryVerbs(t *testing.T) {
	skipShort(t)
	fleet := e2e.NewFleet(t)
	roots := filepath.Join(fleet, "trust-roots.json")
	w := e2e.StartWitnessedLog(t, roots)
	if out, errOut, code := e2e.Run(t, "vigil-fleetsim", "run", "--state", fleet, "--url", w.Log.URL, "--devices", "8", "--attestations", "3"); code != 0 {
		t.Fatalf("fleetsim: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(fleet, "ground-truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Builds []struct {
			Digest     string `json:"digest"`
			Components []struct {
				PURL string `json:"purl"`
			} `json:"components"`
		} `json:"builds"`
		Devices []struct {
			UDI          string `json:"udi"`
			Enrollment   uint64 `json:"enrollmentIndex"`
			Attestations []struct {
				Index    uint64 `json:"index"`
				Firmware string `json:"firmware"`
			} `json:"attestations"`
		} `json:"devices"`
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--policy", w.Policy, "--log", w.Log.URL, "--trust-roots", roots, "--state", t.TempDir()}
	d := truth.Devices[3]
	last := d.Attestations[len(d.Attestations)-1]

	// The index follows the log within a second or so; wait for the device.
	var out string
	for deadline := time.Now().Add(20 * time.Second); ; {
		var code int
		out, code = run(t, append(append([]string{"device", "show"}, flags...), d.UDI)...)
		if code == 0 && strings.Contains(out, fmt.Sprintf("latest attestation: index %d,", last.Index)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device show never answered with the latest attestation %d:\n%s", last.Index, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(out, fmt.Sprintf("enrolled at index %d", d.Enrollment)) || !strings.Contains(out, "status: active") || !strings.Contains(out, "proven under checkpoint") {
		t.Errorf("device show:\n%s", out)
	}
	out = mustRun(t, append(append([]string{"device", "history"}, flags...), d.UDI)...)
	if !strings.Contains(out, "unbroken from seq 0 to seq 2") {
		t.Errorf("device history:\n%s", out)
	}
	// fleetsim's device i attests seq k at 2026-01-01 + i minutes + k hours.
	out = mustRun(t, append(append([]string{"device", "at", "--time", "2026-01-01T01:30:00Z"}, flags...), d.UDI)...)
	if !strings.Contains(out, fmt.Sprintf("in force: index %d, seq 1,", d.Attestations[1].Index)) || !strings.Contains(out, "none came between them") {
		t.Errorf("device at:\n%s", out)
	}
	// The time bound comes from the first checkpoint the index recorded
	// over the entry, not from the latest.
	var bound, latest uint64
	if _, err := fmt.Sscanf(out[strings.Index(out, "(checkpoint size "):], "(checkpoint size %d)", &bound); err != nil {
		t.Fatalf("device at gives no bound's checkpoint:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[strings.Index(out, "proven under checkpoint "):], "proven under checkpoint e2e.vigil.local/log size %d", &latest); err != nil {
		t.Fatalf("device at gives no checkpoint:\n%s", out)
	}
	if bound <= d.Attestations[1].Index || bound > latest {
		t.Errorf("the time bound is from checkpoint size %d; want one including index %d, at most %d", bound, d.Attestations[1].Index, latest)
	}

	// Impact of an exact component version, against the truth.
	purl := truth.Builds[0].Components[0].PURL
	var wantBuilds, wantAffected []string
	for _, b := range truth.Builds {
		if slices.ContainsFunc(b.Components, func(c struct {
			PURL string `json:"purl"`
		}) bool {
			return c.PURL == purl
		}) {
			wantBuilds = append(wantBuilds, b.Digest)
		}
	}
	for _, d := range truth.Devices {
		if slices.Contains(wantBuilds, d.Attestations[len(d.Attestations)-1].Firmware) {
			wantAffected = append(wantAffected, d.UDI)
		}
	}
	slices.Sort(wantBuilds)
	slices.Sort(wantAffected)
	out = mustRun(t, append(append([]string{"impact", "--json"}, flags...), "--purl", purl)...)
	var im client.ProvenImpact
	if err := json.Unmarshal([]byte(out), &im); err != nil {
		t.Fatalf("impact --json: %v\n%s", err, out)
	}
	var gotBuilds, gotAffected []string
	for _, b := range im.Builds {
		gotBuilds = append(gotBuilds, b.Digest)
	}
	for _, d := range im.Affected {
		gotAffected = append(gotAffected, d.UDI)
	}
	if !slices.Equal(gotBuilds, wantBuilds) || !slices.Equal(gotAffected, wantAffected) || len(wantAffected) == 0 {
		t.Errorf("impact of %s: builds %v, affected %v; want %v, %v", purl, gotBuilds, gotAffected, wantBuilds, wantAffected)
	}
	out = mustRun(t, append([]string{"impact"}, append(flags, "--purl", purl)...)...)
	if !strings.Contains(out, fmt.Sprintf("%d builds, %d devices affected", len(wantBuilds), len(wantAffected))) {
		t.Errorf("impact:\n%s", out)
	}

	// The regulator's own audit builds the same index by the same fold: its
	// answer about the device equals the server's, item for item.
	state := flags[len(flags)-1]
	mustRun(t, "audit", "--policy", w.Policy, "--log", w.Log.URL, "--trust-roots", roots, "--state", state, "-q")
	local, err := index.Open(filepath.Join((&client.TrustStore{Dir: state}).LogDir("e2e.vigil.local/log"), "audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	mine, err := local.Device(context.Background(), d.UDI)
	if err != nil {
		t.Fatal(err)
	}
	var theirs client.DeviceInfo
	if err := (&client.LogClient{URL: w.Log.URL}).GetJSON(context.Background(), "/v1/devices/"+url.PathEscape(d.UDI), &theirs); err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(mine, &theirs); diff != "" {
		t.Errorf("the local audit's index and the log's disagree (-local +log):\n%s", diff)
	}

	wantFail(t, 1, []string{"not_found"}, append(append([]string{"field-action", "status"}, flags...), "FSCA-NONE")...)
	wantFail(t, 1, []string{"404"}, append(append([]string{"device", "show"}, flags...), "(01)00614141999996(21)NOSUCH")...)
	wantFail(t, 2, []string{"exactly one of --purl and --osv"}, append([]string{"impact"}, flags...)...)
}
