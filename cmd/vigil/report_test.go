package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	flog "github.com/transparency-dev/formats/log"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/e2e"
)

// TestReport is vigil report end to end, against a vigild whose checkpoints
// need 2 of 3 real witnesses: two devices enrolled and attesting, a field
// action with a remedy build (its SBOM published first) that one device then
// attests. It writes the device report and the field-action report, checks
// their evidence files verify offline with vigil verify, checks that a false
// answer or an unknown device writes nothing, and renders both pages in
// headless Chromium.
func TestReport(t *testing.T) {
	skipShort(t)
	began := time.Now()
	roots := e2e.ModuleFile(t, "testdata/dev/trust-roots.json")
	w := e2e.StartWitnessedLog(t, roots)
	t.Logf("log and 3 witnesses up in %v", time.Since(began).Round(time.Millisecond))
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	mkey, dkey := e2e.ModuleFile(t, "testdata/dev/manufacturer.key"), e2e.ModuleFile(t, "testdata/dev/device.key")
	mustRun(t, "keygen", "--type", "device", "--name", "pump-0002", "--out", p("device2.key"))

	const (
		udi1  = "(01)00614141999996(21)PUMP0001"
		udi2  = "(01)00614141999996(21)PUMP0002"
		fwOld = "9c29111fc64faa21caa71f17f869dbf420fac57b8fbc8f51a8cecf1fa1a30d4a" // testdata/dev/attestation.json's
		faID  = "FSCA-TEST-0001"
	)
	h := sha256.Sum256([]byte("pump-fw-4.2.2.bin (test image)"))
	fwNew := hex.EncodeToString(h[:])

	// Submit without waiting for a checkpoint: the log checks each entry
	// against those sequenced before it, and the index follows below.
	indexRE := regexp.MustCompile(`(?:sequenced|included) at index (\d+)`)
	submit := func(env string, want uint64) {
		t.Helper()
		out := mustRun(t, "submit", "--log", w.Log.URL, "--no-wait", p(env))
		m := indexRE.FindStringSubmatch(out)
		if m == nil || m[1] != strconv.FormatUint(want, 10) {
			t.Fatalf("submit %s: want index %d\n%s", env, want, out)
		}
	}
	writeJSON := func(name string, v any) string {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p(name)
	}
	// attest signs and submits an attestation and returns its payload
	// digest, the next one's prev.
	attest := func(name, key, udi string, seq uint64, prev, at string, fw client.Firmware, want uint64) string {
		t.Helper()
		tm, _ := time.Parse(time.RFC3339, at)
		pred := writeJSON(name+".json", client.Attestation{UDI: udi, Seq: seq, Prev: prev, Time: tm, Firmware: fw,
			ConfigDigest: "7540af2a228e5536b297e079386147387c86bc396b6893c9bc3fc70d6010cd42", Verdict: "pass"})
		mustRun(t, "sign", "--kind", "attestation", "--key", key, "--predicate", pred, "--out", p(name+".dsse.json"))
		submit(name+".dsse.json", want)
		b, err := os.ReadFile(p(name + ".dsse.json"))
		if err != nil {
			t.Fatal(err)
		}
		e, err := client.ParseEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		return e.PayloadDigest()
	}

	sbom := e2e.ModuleFile(t, "testdata/sbom/infusion-pump-fw-4.2.1.cdx.json")
	mustRun(t, "sign", "--kind", "sbom", "--key", mkey, "--predicate", sbom,
		"--firmware-name", "pump-fw-4.2.1.bin", "--firmware-digest", fwOld, "--out", p("sbom-old.dsse.json"))
	submit("sbom-old.dsse.json", 0)
	mustRun(t, "sign", "--kind", "sbom", "--key", mkey, "--predicate", sbom,
		"--firmware-name", "pump-fw-4.2.2.bin", "--firmware-digest", fwNew, "--out", p("sbom-new.dsse.json"))
	submit("sbom-new.dsse.json", 1)
	mustRun(t, "sign", "--kind", "enrollment", "--key", mkey, "--device-key", dkey,
		"--predicate", e2e.ModuleFile(t, "testdata/dev/enrollment.json"), "--out", p("enr1.dsse.json"))
	submit("enr1.dsse.json", 2)
	enr2 := writeJSON("enr2.json", map[string]any{"udi": udi2, "model": "Acme IP-300 infusion pump",
		"binding": map[string]string{"type": "secure-element", "evidence": "ZGV2ZWxvcG1lbnQgc2VjdXJlLWVsZW1lbnQgYXR0ZXN0YXRpb24="}})
	mustRun(t, "sign", "--kind", "enrollment", "--key", mkey, "--device-key", p("device2.key"), "--predicate", enr2, "--out", p("enr2.dsse.json"))
	submit("enr2.dsse.json", 3)
	old, remedy := client.Firmware{Version: "4.2.1", Digest: fwOld}, client.Firmware{Version: "4.2.2", Digest: fwNew}
	prev := attest("a1s0", dkey, udi1, 0, "", "2026-11-21T09:00:00Z", old, 4)
	attest("a2s0", p("device2.key"), udi2, 0, "", "2026-11-21T09:05:00Z", old, 5)
	prev = attest("a1s1", dkey, udi1, 1, prev, "2026-11-22T09:00:00Z", old, 6)
	// The reference carries markup: the page must show it, escaped.
	fa := writeJSON("fa.json", client.FieldAction{ID: faID, Title: "Acme IP-300: install firmware 4.2.2 (dose-rate rounding)",
		Issued: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), Affected: client.Affected{Firmware: []string{fwOld}}, Remedy: &remedy,
		References: []string{`FSN-2026-0001 <script>alert("x")</script>`}})
	mustRun(t, "sign", "--kind", "field-action", "--key", mkey, "--predicate", fa, "--out", p("fa.dsse.json"))
	submit("fa.dsse.json", 7)
	attest("a1s2", dkey, udi1, 2, prev, "2026-11-24T09:00:00Z", remedy, 8)

	// The query index follows the log's checkpoints: wait for the remedy.
	ctx := context.Background()
	for deadline := time.Now().Add(20 * time.Second); ; {
		var st client.FieldActionStatus
		b, err := w.Log.Get(ctx, "/v1/field-actions/"+url.PathEscape(faID))
		if err == nil && json.Unmarshal(b, &st) == nil && len(st.Corrected) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index never showed the remedy: %s, %v", b, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("9 entries submitted and indexed at %v", time.Since(began).Round(time.Millisecond))

	flags := []string{"--policy", w.Policy, "--log", w.Log.URL, "--trust-roots", roots, "--state", t.TempDir()}
	verify := func(files ...string) string {
		t.Helper()
		return mustRun(t, append([]string{"verify", "--policy", w.Policy, "--trust-roots", roots}, files...)...)
	}

	// The device report: the UDI before the flags.
	devDir := p("device-report")
	out := mustRun(t, append([]string{"report", "device", udi1, "--at", "2026-11-21T12:00:00Z", "--out", devDir}, flags...)...)
	if want := fmt.Sprintf("wrote %s and 5 evidence files in %s", filepath.Join(devDir, "report.html"), filepath.Join(devDir, "evidence")); !strings.Contains(out, want) {
		t.Errorf("report device: want %q\n%s", want, out)
	}
	for _, f := range []string{"enrollment-2.json", "attestation-4.json", "attestation-6.json", "attestation-8.json", "field-action-7.json"} {
		if _, err := os.Stat(filepath.Join(devDir, "evidence", f)); err != nil {
			t.Errorf("report device: %v", err)
		}
	}
	if out := verify(filepath.Join(devDir, "evidence", "attestation-4.json")); !strings.Contains(out, "enrolled at index 2") {
		t.Errorf("verify the attestation in force:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(devDir, "evidence", "*.json"))
	verify(files...)
	devHTML := readReport(t, devDir)
	for _, want := range []string{
		`<td id="status" data-status="active">`, `<td id="in-force" data-index="4">`, `<td id="next" data-index="6">`,
		`<td id="latest" data-index="8">`, `data-complete="true"`, "complete from seq 0 to seq 2", "none came between",
		`<tr class="element" data-index="2" data-kind="enrollment">`, "vigil verify --policy policy.txt --trust-roots trust-roots.json evidence/attestation-4.json",
	} {
		if !strings.Contains(devHTML, want) {
			t.Errorf("the device report lacks %q", want)
		}
	}
	// The same directory again: refused, before asking the log.
	wantFail(t, 1, []string{"already exists"}, append([]string{"report", "device", udi1, "--out", devDir}, flags...)...)
	// A device the log does not know: exit 1 and nothing written.
	none := p("no-report")
	wantFail(t, 1, []string{"404"}, append([]string{"report", "device", "(01)00614141999996(21)PUMP9999", "--out", none}, flags...)...)
	if _, err := os.Stat(filepath.Join(none, "report.html")); err == nil {
		t.Error("report device of an unknown device wrote a report")
	}

	// The field-action report: the ID after the flags.
	faDir := p("fa-report")
	out = mustRun(t, append(append([]string{"report", "field-action", "--out", faDir}, flags...), faID)...)
	if !strings.Contains(out, "and 2 evidence files in") {
		t.Errorf("report field-action:\n%s", out)
	}
	if out := verify(filepath.Join(faDir, "evidence", "attestation-8.json"), filepath.Join(faDir, "evidence", "field-action-7.json")); !strings.Contains(out, "enrolled at index 2") {
		t.Errorf("verify the remedy attestation:\n%s", out)
	}
	faHTML := readReport(t, faDir)
	for _, want := range []string{
		`<tr class="corrected" data-udi="` + udi1 + `" data-index="8">`, `<tr class="not-corrected" data-udi="` + udi2 + `">`,
		`<td id="status" data-corrected="1" data-not-corrected="1">`, `<td id="issuer">Acme Infusion Systems (development)</td>`,
		`FSN-2026-0001 &lt;script&gt;`, `<a href="evidence/attestation-8.json">`,
	} {
		if !strings.Contains(faHTML, want) {
			t.Errorf("the field-action report lacks %q", want)
		}
	}

	// A log that lies about a remedy (an entry before the action): the
	// answer is refused, and nothing is written.
	proxy := tamperingProxy(t, w.Log.URL, func(path string, v map[string]any) {
		if strings.HasPrefix(path, "/v1/field-actions/") {
			v["corrected"].([]any)[0].(map[string]any)["remedy"].(map[string]any)["index"] = 4
		}
	})
	lied := p("lied")
	wantFail(t, 1, []string{"answer is false"}, "report", "field-action", faID, "--out", lied,
		"--policy", w.Policy, "--log", proxy, "--trust-roots", roots, "--state", t.TempDir())
	if _, err := os.Stat(filepath.Join(lied, "report.html")); err == nil {
		t.Error("report field-action wrote a report from a false answer")
	}
	t.Logf("reports written and checked at %v", time.Since(began).Round(time.Millisecond))

	t.Run("chromium", func(t *testing.T) {
		bin := chromiumOrSkip(t)
		dom := chromium(t, bin, "--dump-dom", fileURL(t, filepath.Join(faDir, "report.html")))
		size := regexp.MustCompile(`<td id="checkpoint-size">(\d+)</td>`).FindStringSubmatch(dom)
		if size == nil {
			t.Fatalf("the rendered DOM has no checkpoint size:\n%s", dom)
		}
		if n, _ := strconv.Atoi(size[1]); n < 9 {
			t.Errorf("checkpoint size %d, want at least 9", n)
		}
		for _, want := range []string{
			`<tr class="corrected" data-udi="` + udi1 + `"`, `<tr class="not-corrected" data-udi="` + udi2 + `"`,
			`<td id="status" data-corrected="1" data-not-corrected="1">`, `<tr class="element" data-index="7" data-kind="field-action">`,
			`<tr class="element" data-index="8" data-kind="attestation">`, `<tr class="witness" data-name="w`,
		} {
			if !strings.Contains(dom, want) {
				t.Errorf("the rendered field-action report lacks %q", want)
			}
		}
		if strings.Contains(dom, "<script") {
			t.Error("the rendered field-action report has a script element")
		}
		dom = chromium(t, bin, "--dump-dom", fileURL(t, filepath.Join(devDir, "report.html")))
		for _, want := range []string{`<td id="status" data-status="active">`, `<td id="in-force" data-index="4">`, `<td id="checkpoint-size">`} {
			if !strings.Contains(dom, want) {
				t.Errorf("the rendered device report lacks %q", want)
			}
		}
		shot := filepath.Join(t.TempDir(), "report.png")
		chromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", fileURL(t, filepath.Join(faDir, "report.html")))
		checkScreenshot(t, shot, 1280, 2000)
	})
	t.Logf("done at %v", time.Since(began).Round(time.Millisecond))
}

// readReport reads a report's page and checks it is self-contained.
func readReport(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", " src=", "url(", "@import"} {
		if strings.Contains(s, bad) {
			t.Errorf("%s/report.html has %q: it must have no scripts and load nothing", dir, bad)
		}
	}
	if strings.Contains(s, os.TempDir()) {
		t.Errorf("%s/report.html names a local path", dir)
	}
	return s
}

// tamperingProxy serves the log at target, passing edit each query
// answer (JSON under /v1/ but for entries) to change.
func tamperingProxy(t *testing.T, target string, edit func(path string, v map[string]any)) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(r *http.Response) error {
		path := r.Request.URL.Path
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v1/entries") || strings.HasPrefix(path, "/v1/blobs") {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		var v map[string]any
		if json.Unmarshal(b, &v) == nil {
			edit(path, v)
			b, _ = json.Marshal(v)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// chromiumOrSkip returns Debian's chromium, or skips the test, or under CI
// (CI=true) fails it: CI must render the page.
func chromiumOrSkip(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err == nil {
		return bin
	}
	const how = "deploy/ci/install-test-deps.sh installs it (on Debian: apt-get install --no-install-recommends chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("chromium is not installed, and CI must render the report: %s", how)
	}
	t.Skipf("chromium is not installed, so the report is not rendered: %s", how)
	return ""
}

// chromium runs headless Chromium and returns its standard output.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// --no-sandbox: the tests may run as root, where Chromium's sandbox
	// refuses to start; the page is our own and loads nothing.
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--user-data-dir=" + t.TempDir()}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	t.Logf("chromium %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

func fileURL(t *testing.T, name string) string {
	t.Helper()
	abs, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
}

// checkScreenshot checks a PNG of the given size that shows more than a
// blank page.
func checkScreenshot(t *testing.T, name string, width, height int) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	st, _ := f.Stat()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), width, height)
	}
	colours := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if st.Size() < 20000 || len(colours) < 16 {
		t.Errorf("screenshot of %d bytes with %d colours: the page did not render", st.Size(), len(colours))
	}
	t.Logf("screenshot: %dx%d, %d bytes, %d colours sampled", b.Dx(), b.Dy(), st.Size(), len(colours))
}

// TestReportRender renders both pages from hand-built proven answers: the
// hooks a reader's tools find, the chain problems, and markup in the log's
// content escaped.
func TestReportRender(t *testing.T) {
	tm := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	checked := &client.Checked{
		Witnessed: &client.Witnessed{
			Checkpoint: &flog.Checkpoint{Origin: "example.org/log", Size: 42, Hash: bytes.Repeat([]byte{7}, 32)},
			Cosigned:   map[string]time.Time{"w2": tm("2026-11-25T10:00:02Z"), "w1": tm("2026-11-25T10:00:01Z")},
		},
		Raw: []byte("example.org/log\n42\nBwcH\n\n— example.org/log sig\n"),
	}
	ans := client.Answer{Checked: checked}
	fw := client.Firmware{Version: "4.2.1", Digest: strings.Repeat("ab", 32)}
	a := func(i, seq uint64, at string) *client.AttestationRef {
		return &client.AttestationRef{Index: i, Seq: seq, Time: tm(at), Firmware: fw, Head: true}
	}
	evil := `<b onmouseover="x()">`
	udi := "(01)00614141999996(21)PUMP0001"
	dev := &client.ProvenDevice{Answer: ans, DeviceInfo: &client.DeviceInfo{TreeSize: 42,
		DeviceRef: client.DeviceRef{UDI: udi, Enrollment: 2, Latest: a(30, 3, "2026-11-24T00:00:00Z")},
		KeyID:     strings.Repeat("cd", 32), Manufacturer: "Acme", Model: evil, Status: client.StatusFieldAction, Attestations: 3}}
	after := uint64(5)
	hist := &client.ProvenHistory{Answer: ans, History: &client.History{UDI: udi, Enrollment: 2,
		Attestations: []client.AttestationRef{*a(5, 0, "2026-11-20T00:00:00Z"), *a(9, 2, "2026-11-22T00:00:00Z"), *a(30, 3, "2026-11-24T00:00:00Z")}},
		Problems: []client.ChainProblem{{Code: client.AnomalyChainGap, Index: 9, After: &after, Missing: 1, Detail: "seq 2 follows seq 0: 1 attestations missing"}}}
	at := &client.ProvenAt{Answer: ans, AtAnswer: &client.AtAnswer{UDI: udi, Enrollment: 2, Next: a(5, 0, "2026-11-20T00:00:00Z")}, Adjacent: true}

	page := deviceReportPage(dev, hist, at, tm("2026-11-19T00:00:00Z"))
	html := renderForTest(t, page, checked)
	for _, want := range []string{
		`<td id="status" data-status="field-action">`, `<td id="in-force" class="warn">none`, `<td id="next" data-index="5">`,
		`data-complete="false"`, `<tr class="problem" data-code="` + client.AnomalyChainGap + `" data-index="9">`,
		`<td id="model">&lt;b onmouseover=&#34;x()&#34;&gt;</td>`, `<td id="checkpoint-size">42</td>`,
		`<td id="checkpoint-root" class="mono">` + "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=" + `</td>`,
		`<tr class="witness" data-name="w1"><td>w1</td><td>2026-11-25T10:00:01Z</td></tr>`, "First use:",
		`<tr class="element" data-index="2" data-kind="enrollment">`, `<tr class="element" data-index="5" data-kind="attestation"><td>next attestation</td>`,
		"vigil report device &#39;(01)00614141999996(21)PUMP0001&#39; --at 2026-11-19T00:00:00Z",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	if strings.Contains(html, evil) {
		t.Error("device page shows the model's markup unescaped")
	}

	fa := &client.ProvenFieldAction{Answer: ans, FieldActionStatus: &client.FieldActionStatus{TreeSize: 42, Index: 20, Manufacturer: "Acme",
		Action: client.FieldAction{ID: "FSCA-1", Title: evil, Issued: tm("2026-11-23T00:00:00Z"), Remedy: &client.Firmware{Version: "4.2.2", Digest: strings.Repeat("ef", 32)},
			Affected: client.Affected{Firmware: []string{fw.Digest}}},
		Corrected: []client.Correction{{UDI: udi, Enrollment: 2, Remedy: *a(30, 3, "2026-11-24T00:00:00Z")}},
		NotCorrected: []client.DeviceRef{{UDI: `(01)00614141999996(21)"><b>`, Enrollment: 3},
			{UDI: "(01)00614141999996(21)PUMP0003", Enrollment: 4, Latest: a(6, 0, "2026-11-20T00:00:00Z")}}}}
	page = fieldActionReportPage(fa)
	html = renderForTest(t, page, checked)
	for _, want := range []string{
		`<tr class="corrected" data-udi="` + udi + `" data-index="30">`,
		`<tr class="not-corrected" data-udi="(01)00614141999996(21)&#34;&gt;&lt;b&gt;">`,
		`<tr class="not-corrected" data-udi="(01)00614141999996(21)PUMP0003">`, "never attested",
		`<td id="status" data-corrected="1" data-not-corrected="2">`, `<a href="evidence/attestation-30.json">`,
		`<td id="action-title">&lt;b onmouseover=&#34;x()&#34;&gt;</td>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("field-action page lacks %q", want)
		}
	}
	if strings.Contains(html, "<b>") || strings.Contains(html, evil) {
		t.Error("field-action page shows the log's markup unescaped")
	}
}

// renderForTest fills in what finish and proveElements would, without a
// log: every element gets a file, as if proven under c.
func renderForTest(t *testing.T, p *reportPage, c *client.Checked) string {
	t.Helper()
	p.LogURL, p.Generated, p.Checkpoint = "https://log.example.org", time.Now(), reportCheckpointOf(c)
	p.PolicyFile, p.RootsFile = "policy.txt", "trust-roots.json"
	for _, e := range p.Elements {
		e.File = fmt.Sprintf("evidence/%s-%d.json", e.Kind, e.Index)
		e.Checked = fmt.Sprintf("included under checkpoint size %d: %s", c.Checkpoint.Size, e.what)
		if p.Action != nil {
			p.Action.Files[e.Index] = e.File
		}
		p.Written++
	}
	p.fillChecks()
	var b bytes.Buffer
	if err := renderReport(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
