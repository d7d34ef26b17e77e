package personality

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/log/logtest"
	"github.com/vigil-log/vigil/personality/index"
	"golang.org/x/mod/sumdb/note"
)

// GTINs under the two test manufacturers' GS1 company prefixes.
const (
	acmeGTIN = "00614141999996" // prefix 0614141
	betaGTIN = "00012345000058" // prefix 0012345
)

func udi(gtin, serial string) string { return "(01)" + gtin + "(21)" + serial }

// fixture is a personality on a real log, with two manufacturers.
type fixture struct {
	t        *testing.T
	log      *vlog.Log
	verifier note.Verifier
	p        *Personality
	srv      *httptest.Server
	roots    *client.TrustRoots
	acme     *client.PrivateKey
	beta     *client.PrivateKey
	beta2    *client.PrivateKey // a second Beta key
	blobsDir string
	index    *index.Index // the query index start gives the personality, if any
	logVKey  string       // the log's verifier key
}

func mustKey(t testing.TB, alg string) *client.PrivateKey {
	t.Helper()
	k, err := client.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, acme: mustKey(t, client.AlgEd25519), beta: mustKey(t, client.AlgP256), beta2: mustKey(t, client.AlgEd25519)}
	rootsJSON, err := json.Marshal(map[string]any{"manufacturers": []any{
		map[string]any{"name": "Acme", "udiPrefixes": []string{"gs1:0614141"}, "keys": []string{string(f.acme.Public().PEM())}},
		map[string]any{"name": "Beta", "udiPrefixes": []string{"gs1:0012345"}, "keys": []string{string(f.beta.Public().PEM()), string(f.beta2.Public().PEM())}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if f.roots, err = client.ParseTrustRoots(rootsJSON); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, logtest.Origin)
	if err != nil {
		t.Fatal(err)
	}
	f.log, f.verifier = logtest.NewWithKey(t, skey)
	f.logVKey = vkey
	f.blobsDir = t.TempDir()
	f.start()
	return f
}

// start builds the personality over the fixture's log and blob directory.
func (f *fixture) start() {
	f.t.Helper()
	blobs, err := NewBlobStore(f.blobsDir)
	if err != nil {
		f.t.Fatal(err)
	}
	f.p, err = New(context.Background(), Config{
		Log: f.log, Blobs: blobs, Roots: f.roots, Index: f.index, WaitTimeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{f.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if f.srv != nil {
		f.srv.Close()
	}
	f.srv = httptest.NewServer(f.p.Handler())
	f.t.Cleanup(f.srv.Close)
}

// testWriter sends log lines to t.Logf.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(b, "\n"))
	return len(b), nil
}

// device is a simulated device: its key and UDI.
type device struct {
	key *client.PrivateKey
	udi string
}

func newDevice(t testing.TB, gtin, serial string) *device {
	return &device{key: mustKey(t, client.AlgP256), udi: udi(gtin, serial)}
}

func (f *fixture) sign(st *client.Statement, k *client.PrivateKey) []byte {
	f.t.Helper()
	return rawStatement(f.t, st, k)
}

func (f *fixture) statement(predicateType string, p any) *client.Statement {
	f.t.Helper()
	return newStatement(f.t, predicateType, p)
}

// newStatement builds the statement of one of vigil's own predicates.
func newStatement(t testing.TB, predicateType string, p any) *client.Statement {
	t.Helper()
	st, err := client.NewStatement(predicateType, p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (f *fixture) enrollment(d *device, mfr *client.PrivateKey) *client.Enrollment {
	f.t.Helper()
	return enrollment(f.t, d, mfr)
}

func enrollment(t testing.TB, d *device, mfr *client.PrivateKey) *client.Enrollment {
	t.Helper()
	pop, err := d.key.Sign(client.PossessionMessage(d.udi, mfr.Public().ID()))
	if err != nil {
		t.Fatal(err)
	}
	return &client.Enrollment{
		UDI: d.udi, DeviceKey: string(d.key.Public().PEM()), Model: "IP-300",
		Binding:           client.Binding{Type: "secure-element", Evidence: base64.StdEncoding.EncodeToString([]byte("se-evidence"))},
		ProofOfPossession: base64.StdEncoding.EncodeToString(pop),
	}
}

func (f *fixture) enroll(d *device, mfr *client.PrivateKey) []byte {
	return f.sign(f.statement(client.PredicateEnrollment, f.enrollment(d, mfr)), mfr)
}

const fwDigest = "5d41402abc4b2a76b9719d911017c592ae4a5e2a7c1e0b3b1a3c8d4e5f6a7b8c"

func attestation(d *device, seq uint64, prev string) *client.Attestation {
	return &client.Attestation{
		UDI: d.udi, Seq: seq, Prev: prev, Time: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
		Firmware:     client.Firmware{Version: "4.2.1", Digest: fwDigest},
		ConfigDigest: strings.Repeat("ab", 32), Verdict: "pass",
	}
}

func (f *fixture) attest(d *device, seq uint64) []byte {
	prev := ""
	if seq > 0 {
		prev = strings.Repeat("cd", 32)
	}
	return f.sign(f.statement(client.PredicateAttestation, attestation(d, seq, prev)), d.key)
}

func (f *fixture) revoke(target client.RevocationTarget, mfr *client.PrivateKey) []byte {
	return f.sign(f.statement(client.PredicateRevocation, &client.Revocation{Target: target, Reason: "key compromise", Effective: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}), mfr)
}

func readSBOM(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/sbom/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) sbom(digest string, mfr *client.PrivateKey) []byte {
	return f.sign(client.NewSBOMStatement(client.PredicateCycloneDX, readSBOM(f.t, "infusion-pump-fw-4.2.1.cdx.json"), "pump-fw-4.2.1.bin", digest), mfr)
}

// post submits a body and returns the status and the decoded error body.
func (f *fixture) post(body []byte, query string) (int, apiError, []byte) {
	f.t.Helper()
	return postURL(f.t, f.srv.URL, body, query)
}

// postURL submits an envelope to the server at url.
func postURL(t testing.TB, url string, body []byte, query string) (int, apiError, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/entries"+query, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, apiError{}, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ae apiError
	_ = json.Unmarshal(b, &ae)
	return resp.StatusCode, ae, b
}

// mustAccept submits and requires a 201 with a bundle that verifies.
func (f *fixture) mustAccept(body []byte) *client.Verified {
	f.t.Helper()
	status, ae, b := f.post(body, "")
	if status != http.StatusCreated {
		f.t.Fatalf("submission = %d %+v, want 201", status, ae)
	}
	bu, err := client.ParseBundle(b)
	if err != nil {
		f.t.Fatalf("ParseBundle: %v", err)
	}
	var payload []byte
	if bu.Blob != "" {
		env, err := client.ParseEnvelope(body)
		if err != nil {
			f.t.Fatal(err)
		}
		payload = env.Payload
	}
	v, err := bu.Verify(client.VerifyOptions{Log: f.verifier, Roots: f.roots, Payload: payload})
	if err != nil {
		f.t.Fatalf("Verify(bundle) = %v", err)
	}
	return v
}

func (f *fixture) size() uint64 {
	f.t.Helper()
	n, err := f.log.IntegratedSize(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// mutate decodes a JSON object, lets fn change it, and encodes it again.
func mutate(t testing.TB, b []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawEnvelope signs an arbitrary payload with k, bypassing every check.
func rawEnvelope(t testing.TB, payloadType string, payload []byte, k *client.PrivateKey) []byte {
	t.Helper()
	env, err := client.SignEnvelope(payloadType, payload, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawStatement signs a statement given as a JSON-able value.
func rawStatement(t testing.TB, st any, k *client.PrivateKey) []byte {
	t.Helper()
	p, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return rawEnvelope(t, client.PayloadTypeInToto, p, k)
}

// predicateStatement wraps a predicate (any JSON value) in a valid statement.
func predicateStatement(predicateType string, subjectName, digest string, predicate any) map[string]any {
	return map[string]any{
		"_type":         client.StatementType,
		"subject":       []any{map[string]any{"name": subjectName, "digest": map[string]any{"sha256": digest}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	}
}

// toMap turns a predicate struct into a JSON object to edit.
func toMap(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// History the refusals are judged against.
	enrolled := newDevice(t, acmeGTIN, "A1")
	f.mustAccept(f.enroll(enrolled, f.acme))
	revoked := newDevice(t, acmeGTIN, "R1")
	f.mustAccept(f.enroll(revoked, f.acme))
	f.mustAccept(f.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: revoked.key.Public().ID()}, f.acme))
	betaDev := newDevice(t, betaGTIN, "B1")
	f.mustAccept(f.enroll(betaDev, f.beta))
	f.mustAccept(f.revoke(client.RevocationTarget{Type: client.TargetManufacturerKey, ID: f.beta2.Public().ID()}, f.beta))
	acmeFW := strings.Repeat("11", 32)
	f.mustAccept(f.sbom(acmeFW, f.acme))
	stranger := mustKey(t, client.AlgEd25519)
	fresh := newDevice(t, acmeGTIN, "F1")
	enrollFresh := f.enrollment(fresh, f.acme)
	freshSubject := udi(acmeGTIN, "F1")
	freshKeyID := fresh.key.Public().ID()

	goodEnrollment := f.enroll(fresh, f.acme)
	goodAttestation := f.attest(enrolled, 0)

	enrollWith := func(edit func(m map[string]any)) []byte {
		m := toMap(t, enrollFresh)
		edit(m)
		return rawStatement(t, predicateStatement(client.PredicateEnrollment, freshSubject, freshKeyID, m), f.acme)
	}
	attestWith := func(edit func(m map[string]any)) []byte {
		m := toMap(t, attestation(enrolled, 0, ""))
		edit(m)
		return rawStatement(t, predicateStatement(client.PredicateAttestation, enrolled.udi, fwDigest, m), enrolled.key)
	}
	p384PEM := "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEGtYVS1SnWlQHm1nmY9fF3lHG4OXCRpbTxqH3SxbzLcEN3jIPK4GMOPmcRIoXfoqgOUTnW8XTBYMn1N0oR8qN3NcFJcH/JjF6Oe8xFRnSByEjBtNGkzi7xmYOXvqffhK/\n-----END PUBLIC KEY-----\n"
	hugeRefs := make([]string, 80)
	for i := range hugeRefs {
		hugeRefs[i] = strings.Repeat("r", 1000)
	}

	tests := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"empty body", nil, 400, CodeMalformedJSON},
		{"not JSON", []byte("hello"), 400, CodeMalformedJSON},
		{"JSON array", []byte("[]"), 400, CodeMalformedJSON},
		{"unknown envelope field", mutate(t, goodEnrollment, func(m map[string]any) { m["extra"] = 1 }), 400, CodeMalformedJSON},
		{"trailing data", append(append([]byte{}, goodEnrollment...), []byte("{}")...), 400, CodeMalformedJSON},
		{"payload is a number", mutate(t, goodEnrollment, func(m map[string]any) { m["payload"] = 7 }), 400, CodeMalformedJSON},
		{"payload not base64", mutate(t, goodEnrollment, func(m map[string]any) { m["payload"] = "%%%" }), 400, CodeMalformedBase64},
		{"signature not base64", mutate(t, goodEnrollment, func(m map[string]any) {
			m["signatures"].([]any)[0].(map[string]any)["sig"] = "!!"
		}), 400, CodeMalformedBase64},
		{"wrong payload type", mutate(t, goodEnrollment, func(m map[string]any) { m["payloadType"] = "text/plain" }), 400, CodePayloadType},
		{"no signature", mutate(t, goodEnrollment, func(m map[string]any) { m["signatures"] = []any{} }), 400, CodeSignatureCount},
		{"two signatures", mutate(t, goodEnrollment, func(m map[string]any) {
			s := m["signatures"].([]any)
			m["signatures"] = append(s, s[0])
		}), 400, CodeSignatureCount},
		{"no keyid", mutate(t, goodEnrollment, func(m map[string]any) { m["signatures"].([]any)[0].(map[string]any)["keyid"] = "" }), 400, CodeSignatureCount},
		{"keyid not hex", mutate(t, goodEnrollment, func(m map[string]any) {
			m["signatures"].([]any)[0].(map[string]any)["keyid"] = strings.Repeat("z", 64)
		}), 400, CodeSignatureCount},
		{"payload not JSON", rawEnvelope(t, client.PayloadTypeInToto, []byte("not json"), f.acme), 400, CodeMalformedJSON},
		{"statement v0.1", rawStatement(t, func() map[string]any {
			m := predicateStatement(client.PredicateEnrollment, freshSubject, freshKeyID, toMap(t, enrollFresh))
			m["_type"] = "https://in-toto.io/Statement/v0.1"
			return m
		}(), f.acme), 400, CodeStatement},
		{"statement without subject", rawStatement(t, func() map[string]any {
			m := predicateStatement(client.PredicateEnrollment, freshSubject, freshKeyID, toMap(t, enrollFresh))
			m["subject"] = []any{}
			return m
		}(), f.acme), 400, CodeStatement},
		{"subject digest not hex", rawStatement(t, predicateStatement(client.PredicateEnrollment, freshSubject, "XYZ", toMap(t, enrollFresh)), f.acme), 400, CodeStatement},
		{"predicate not an object", rawStatement(t, predicateStatement(client.PredicateEnrollment, freshSubject, freshKeyID, "text"), f.acme), 400, CodeStatement},
		{"unknown predicate type", rawStatement(t, predicateStatement("https://example.com/other/v1", freshSubject, freshKeyID, toMap(t, enrollFresh)), f.acme), 400, CodePredicateType},
		{"UDI check digit wrong", enrollWith(func(m map[string]any) { m["udi"] = udi("00614141999997", "F1") }), 400, CodeUDI},
		{"UDI without serial", enrollWith(func(m map[string]any) { m["udi"] = "(01)" + acmeGTIN }), 400, CodeUDI},
		{"device key not PEM", enrollWith(func(m map[string]any) { m["deviceKey"] = "not a key" }), 400, CodeKey},
		{"device key on P-384", enrollWith(func(m map[string]any) { m["deviceKey"] = p384PEM }), 400, CodeKey},
		{"enrollment without model", enrollWith(func(m map[string]any) { m["model"] = "" }), 400, CodePredicate},
		{"unknown binding type", enrollWith(func(m map[string]any) { m["binding"].(map[string]any)["type"] = "magic" }), 400, CodePredicate},
		{"binding evidence not base64", enrollWith(func(m map[string]any) { m["binding"].(map[string]any)["evidence"] = "***" }), 400, CodePredicate},
		{"unknown predicate field", enrollWith(func(m map[string]any) { m["color"] = "blue" }), 400, CodeMalformedJSON},
		{"subject names another device", rawStatement(t, predicateStatement(client.PredicateEnrollment, udi(acmeGTIN, "OTHER"), freshKeyID, toMap(t, enrollFresh)), f.acme), 400, CodePredicate},
		{"attestation seq 0 with prev", attestWith(func(m map[string]any) { m["prev"] = strings.Repeat("ef", 32) }), 400, CodePredicate},
		{"attestation seq 1 without prev", attestWith(func(m map[string]any) { m["seq"] = 1 }), 400, CodePredicate},
		{"attestation verdict unknown word", attestWith(func(m map[string]any) { m["verdict"] = "great" }), 400, CodePredicate},
		{"attestation without time", attestWith(func(m map[string]any) { delete(m, "time") }), 400, CodePredicate},
		{"attestation bad firmware digest", attestWith(func(m map[string]any) { m["firmware"].(map[string]any)["digest"] = "abc" }), 400, CodePredicate},
		{"revocation of unknown target type", rawStatement(t, predicateStatement(client.PredicateRevocation, "x", fwDigest, map[string]any{
			"target": map[string]any{"type": "planet", "id": fwDigest}, "reason": "r", "effective": "2026-11-01T00:00:00Z"}), f.acme), 400, CodePredicate},
		{"field action naming nothing", rawStatement(t, predicateStatement(client.PredicateFieldAction, "FSCA-1", fwDigest, map[string]any{
			"id": "FSCA-1", "title": "t", "issued": "2026-11-01T00:00:00Z", "affected": map[string]any{}}), f.acme), 400, CodePredicate},
		{"field action with a bad UDI-DI", rawStatement(t, predicateStatement(client.PredicateFieldAction, "FSCA-1", fwDigest, map[string]any{
			"id": "FSCA-1", "title": "t", "issued": "2026-11-01T00:00:00Z", "affected": map[string]any{"udiDIs": []string{"(01)00614141999990"}}}), f.acme), 400, CodeUDI},
		{"SBOM that is not an SBOM", rawStatement(t, predicateStatement(client.PredicateCycloneDX, "fw.bin", fwDigest, map[string]any{"hello": "world"}), f.acme), 400, CodeSBOM},
		{"SPDX SBOM without spdxVersion", rawStatement(t, predicateStatement(client.PredicateSPDX, "fw.bin", fwDigest, map[string]any{"SPDXID": "SPDXRef-DOCUMENT", "name": "x"}), f.acme), 400, CodeSBOM},
		{"signed by an unknown key", f.enroll(fresh, stranger), 403, CodeUnknownKey},
		{"signature does not verify", mutate(t, goodEnrollment, func(m map[string]any) {
			s := m["signatures"].([]any)[0].(map[string]any)
			sig, _ := base64.StdEncoding.DecodeString(s["sig"].(string))
			sig[0] ^= 1
			s["sig"] = base64.StdEncoding.EncodeToString(sig)
		}), 403, CodeBadSignature},
		{"proof of possession by another key", enrollWith(func(m map[string]any) {
			other := mustKey(t, client.AlgP256)
			pop, _ := other.Sign(client.PossessionMessage(fresh.udi, f.acme.Public().ID()))
			m["proofOfPossession"] = base64.StdEncoding.EncodeToString(pop)
		}), 403, CodeBadSignature},
		{"manufacturer outside its UDI-DI prefix", f.enroll(newDevice(t, betaGTIN, "X1"), f.acme), 403, CodeUnauthorized},
		{"attestation by a device never enrolled", f.attest(newDevice(t, acmeGTIN, "N1"), 0), 403, CodeNotEnrolled},
		{"attestation signed by the manufacturer", f.sign(f.statement(client.PredicateAttestation, attestation(enrolled, 0, "")), f.acme), 403, CodeUnauthorized},
		{"attestation by a revoked device", f.attest(revoked, 0), 403, CodeRevoked},
		{"attestation naming another device's UDI", f.sign(f.statement(client.PredicateAttestation, attestation(&device{udi: udi(acmeGTIN, "Z9")}, 0, "")), enrolled.key), 403, CodeUnauthorized},
		{"enrollment by a revoked manufacturer key", f.enroll(newDevice(t, betaGTIN, "B2"), f.beta2), 403, CodeRevoked},
		{"revoking another manufacturer's device", f.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: betaDev.key.Public().ID()}, f.acme), 403, CodeUnauthorized},
		{"field action on another manufacturer's firmware", f.sign(f.statement(client.PredicateFieldAction, &client.FieldAction{
			ID: "FSCA-2", Title: "t", Issued: time.Now().UTC(), Affected: client.Affected{Firmware: []string{acmeFW}}}), f.beta), 403, CodeUnauthorized},
		{"device key enrolled again for another UDI", f.sign(f.statement(client.PredicateEnrollment, f.enrollment(&device{key: enrolled.key, udi: udi(acmeGTIN, "A2")}, f.acme)), f.acme), 409, CodeConflict},
		{"UDI enrolled again with another key", f.enroll(&device{key: mustKey(t, client.AlgP256), udi: enrolled.udi}, f.acme), 409, CodeConflict},
		{"SBOM for another manufacturer's firmware", f.sbom(acmeFW, f.beta), 409, CodeConflict},
		{"leaf over 65,535 bytes", f.sign(f.statement(client.PredicateFieldAction, &client.FieldAction{
			ID: "FSCA-3", Title: "t", Issued: time.Now().UTC(), Affected: client.Affected{Firmware: []string{acmeFW}}, References: hugeRefs}), f.acme), 413, CodeLeafTooLarge},
		{"body over 16 MiB", bytes.Repeat([]byte(" "), 16<<20+1), 413, CodeBodyTooLarge},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d refusal cases; the issue asks for at least 40", len(tests))
	}
	before := f.size()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, ae, body := f.post(tc.body, "")
			if status != tc.status || ae.Error != tc.code {
				t.Errorf("POST = %d %q, want %d %q (body %s)", status, ae.Error, tc.status, tc.code, body)
			}
			if ae.Detail == "" {
				t.Errorf("refusal without detail: %s", body)
			}
		})
	}
	// Nothing refused reached the log, even after a batch interval.
	time.Sleep(200 * time.Millisecond)
	if after := f.size(); after != before {
		t.Errorf("tree size went from %d to %d after refusals", before, after)
	}
	// The valid submissions the refusals were cut from are accepted.
	f.mustAccept(goodEnrollment)
	f.mustAccept(goodAttestation)
	_ = ctx
}

func TestDuplicateAndWait(t *testing.T) {
	f := newFixture(t)
	d := newDevice(t, acmeGTIN, "D1")
	enr := f.enroll(d, f.acme)
	v := f.mustAccept(enr)
	status, _, _ := f.post(enr, "")
	if status != http.StatusOK {
		t.Errorf("identical resubmission = %d, want 200", status)
	}
	// Different JSON spacing and base64 alphabet: the same leaf, the same index.
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, enr, "", "   "); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(f.srv.URL+"/v1/entries", "application/json", &pretty)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Vigil-Duplicate") != "true" {
		t.Errorf("re-indented resubmission = %d duplicate=%q, want 200 true", resp.StatusCode, resp.Header.Get("Vigil-Duplicate"))
	}
	status, _, body := f.post(f.attest(d, 0), "?wait=false")
	var a Accepted
	if err := json.Unmarshal(body, &a); status != http.StatusAccepted || err != nil || a.Index != v.Index+1 {
		t.Errorf("?wait=false = %d %s, want 202 with index %d", status, body, v.Index+1)
	}
	if f.size() != v.Index+2 {
		t.Errorf("tree size %d, want %d: a duplicate made a second leaf", f.size(), v.Index+2)
	}
	// The entry's bundle can be fetched, with the enrollment embedded.
	var bu *client.Bundle
	for i := 0; i < 50 && bu == nil; i++ {
		bu, _ = (&client.LogClient{URL: f.srv.URL}).Entry(context.Background(), a.Index)
		time.Sleep(20 * time.Millisecond)
	}
	if bu == nil {
		t.Fatal("GET /v1/entries/N never answered with a bundle")
	}
	got, err := bu.Verify(client.VerifyOptions{Log: f.verifier, Roots: f.roots})
	if err != nil || got.Enrollment == nil || got.Enrollment.Index != v.Index {
		t.Errorf("GET bundle Verify = %+v, %v; want the attestation with its enrollment at %d", got, err, v.Index)
	}
}

func TestGetErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/entries/abc", 400, CodeInvalidIndex},
		{"/v1/entries/99", 404, CodeNotFound},
		{"/v1/blobs/sha256/" + strings.Repeat("0", 64), 404, CodeNotFound},
		{"/v1/blobs/sha256/short", 404, CodeNotFound},
	} {
		resp, err := http.Get(f.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var ae apiError
		_ = json.NewDecoder(resp.Body).Decode(&ae)
		resp.Body.Close()
		if resp.StatusCode != tc.status || ae.Error != tc.code {
			t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, ae.Error, tc.status, tc.code)
		}
	}
}

// TestStateRebuiltFromLog restarts the personality over the same log and
// blobs: enrollments, revocations and firmware ownership come back from the
// log alone.
func TestStateRebuiltFromLog(t *testing.T) {
	f := newFixture(t)
	d := newDevice(t, acmeGTIN, "S1")
	f.mustAccept(f.enroll(d, f.acme))
	r := newDevice(t, acmeGTIN, "S2")
	f.mustAccept(f.enroll(r, f.acme))
	f.mustAccept(f.revoke(client.RevocationTarget{Type: client.TargetUDI, ID: r.udi}, f.acme))
	fw := strings.Repeat("22", 32)
	v := f.mustAccept(f.sbom(fw, f.acme))
	if v.Entry.Kind != client.KindSBOM {
		t.Fatalf("kind %v", v.Entry.Kind)
	}
	f.start()
	f.mustAccept(f.attest(d, 0))
	for _, tc := range []struct {
		name string
		body []byte
		code string
	}{
		{"revoked UDI still revoked", f.attest(r, 0), CodeRevoked},
		{"enrolled key still bound", f.enroll(&device{key: d.key, udi: udi(acmeGTIN, "S3")}, f.acme), CodeConflict},
		{"firmware still owned", f.sbom(fw, f.beta), CodeConflict},
	} {
		if _, ae, _ := f.post(tc.body, ""); ae.Error != tc.code {
			t.Errorf("%s: got %q, want %q", tc.name, ae.Error, tc.code)
		}
	}
}

func TestClassifyIsTotal(t *testing.T) {
	for _, c := range errorCodes {
		code, status := classify(fmt.Errorf("wrapped: %w", c.err))
		if code != c.code || status != c.status {
			t.Errorf("classify(%v) = %s %d, want %s %d", c.err, code, status, c.code, c.status)
		}
	}
	if code, status := classify(fmt.Errorf("disk on fire")); code != CodeInternal || status != 500 {
		t.Errorf("classify(unknown) = %s %d, want internal 500", code, status)
	}
}

// TestLargeSBOM submits an SBOM far larger than a leaf: its statement goes
// to the blob store, the leaf commits to its digest, the blob is served, and
// the bundle verifies with it.
func TestLargeSBOM(t *testing.T) {
	f := newFixture(t)
	// A CycloneDX document of some 9 MiB: a firmware with 60,000 components.
	var comps strings.Builder
	for i := range 60000 {
		if i > 0 {
			comps.WriteString(",")
		}
		fmt.Fprintf(&comps, `{"type":"library","bom-ref":"c%d","name":"component-%d","version":"1.%d.0","purl":"pkg:generic/component-%d@1.%d.0","description":"%s"}`, i, i, i%50, i, i%50, strings.Repeat("x", 40))
	}
	doc := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"metadata":{"component":{"type":"firmware","name":"big-fw","version":"9.9.9"}},"components":[` + comps.String() + `]}`)
	fw := strings.Repeat("33", 32)
	env := f.sign(client.NewSBOMStatement(client.PredicateCycloneDX, doc, "big-fw.bin", fw), f.acme)
	if len(env) < 9<<20 || len(env) > 16<<20 {
		t.Fatalf("envelope of %d bytes; want between 9 and 16 MiB", len(env))
	}
	v := f.mustAccept(env)
	if v.Entry.SBOM == nil || len(v.Entry.SBOM.Components) != 60000 || !v.Entry.SBOM.Contains("pkg:generic/component-59999@1.49.0") {
		t.Fatalf("the verified SBOM does not list its components")
	}
	if len(v.Leaf) > 200 {
		t.Errorf("the leaf of a blob entry is %d bytes; it should carry a digest, not the SBOM", len(v.Leaf))
	}
	blob, err := (&client.LogClient{URL: f.srv.URL}).Blob(context.Background(), v.Entry.PayloadDigest())
	if err != nil {
		t.Fatalf("fetching the blob: %v", err)
	}
	e, err := client.ParseEnvelope(env)
	if err != nil || !bytes.Equal(blob, e.Payload) {
		t.Errorf("the blob served is not the signed statement")
	}
}

// TestMissingBlob: a blob the log commits to but the store has lost stops
// the personality from rebuilding its state, naming the blob, rather than
// letting it judge submissions against a history it cannot read. Evidence
// bundles need only the blob's digest and are still served.
func TestMissingBlob(t *testing.T) {
	f := newFixture(t)
	v := f.mustAccept(f.sbom(strings.Repeat("44", 32), f.acme))
	d := v.Entry.PayloadDigest()
	if err := os.Remove(filepath.Join(f.blobsDir, "sha256", d[:2], d)); err != nil {
		t.Fatal(err)
	}
	if _, err := (&client.LogClient{URL: f.srv.URL}).Entry(context.Background(), v.Index); err != nil {
		t.Errorf("GET entry with a lost blob = %v; the bundle needs only the digest", err)
	}
	blobs, err := NewBlobStore(f.blobsDir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), Config{Log: f.log, Blobs: blobs, Roots: f.roots})
	if err == nil || !strings.Contains(err.Error(), "sha256:"+d) || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New over a log whose blob is lost = %v; want a failure naming the blob, not a not-found", err)
	}
}

// TestConcurrentAdmission checks that admission keeps log order under
// concurrency: of many simultaneous enrollments of one key only one wins,
// and no attestation racing its device's revocation lands after it in the
// log, where the log's own history would forbid it.
func TestConcurrentAdmission(t *testing.T) {
	f := newFixture(t)
	key := mustKey(t, client.AlgP256)
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _ = f.post(f.enroll(&device{key: key, udi: udi(acmeGTIN, fmt.Sprintf("C%02d", i))}, f.acme), "?wait=false")
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusAccepted:
			won++
		case http.StatusConflict:
		default:
			t.Errorf("concurrent enrollment answered %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d of 20 concurrent enrollments of one key were accepted, want 1", won)
	}

	d := newDevice(t, acmeGTIN, "RACE")
	f.mustAccept(f.enroll(d, f.acme))
	atts := make([][]byte, 60)
	for i := range atts {
		atts[i] = f.attest(d, uint64(i))
	}
	rev := f.revoke(client.RevocationTarget{Type: client.TargetDeviceKey, ID: d.key.Public().ID()}, f.acme)
	for i, a := range atts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == len(atts)/2 {
				if s, ae, _ := f.post(rev, "?wait=false"); s != http.StatusAccepted {
					t.Errorf("revocation = %d %v", s, ae)
				}
			}
			if s, ae, _ := f.post(a, "?wait=false"); s != http.StatusAccepted && ae.Error != CodeRevoked {
				t.Errorf("attestation = %d %v, want 202 or revoked", s, ae)
			}
		}()
	}
	wg.Wait()
	f.attestedBeforeRevocation(d)
}

// attestedBeforeRevocation replays the log and fails the test unless the
// log holds d's revocation and every attestation of d precedes it.
func (f *fixture) attestedBeforeRevocation(d *device) {
	f.t.Helper()
	ctx := context.Background()
	revokedAt := int64(-1)
	err := f.log.Leaves(ctx, 0, f.size(), func(i uint64, leaf []byte) error {
		e, err := f.p.entryOf(ctx, leaf)
		if err != nil {
			return err
		}
		switch {
		case e.Kind == client.KindRevocation && e.Revocation.Target.ID == d.key.Public().ID():
			revokedAt = int64(i)
		case e.Kind == client.KindAttestation && e.SignerKeyID() == d.key.Public().ID() && revokedAt >= 0:
			f.t.Errorf("attestation at %d follows the device's revocation at %d", i, revokedAt)
		}
		return nil
	})
	if err != nil || revokedAt < 0 {
		f.t.Fatalf("replaying the log: %v (revocation at %d)", err, revokedAt)
	}
}
