package client

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answerSeeds are query answers as a log sends them, and malformed ones.
var answerSeeds = []string{
	`{"treeSize": 38, "udi": "(01)00614141999996(21)A000", "enrollment": 5, "latest": {"index": 30, "seq": 3, "time": "2026-09-05T08:00:00Z", "firmware": {"version": "4.2.2", "digest": "b2"}, "head": true}, "keyId": "ab", "manufacturer": "Acme", "model": "IP-300", "status": "active", "attestations": 4}`,
	`{"treeSize": 38, "udi": "x", "enrollment": 5, "attestations": [{"index": 9, "seq": 0, "time": "2026-09-01T08:00:00Z", "firmware": {"version": "1", "digest": "a"}, "head": true}], "nextSeq": 1}`,
	`{"treeSize": 38, "builds": [{"digest": "a1", "name": "fw", "version": "1", "manufacturer": "Acme", "sbom": 2, "components": [{"Name": "openssl", "Version": "3.0.7", "PURL": "pkg:generic/openssl@3.0.7", "CPE": ""}]}], "affected": [], "unknown": [], "more": "(01)x"}`,
	`{"treeSize": 38, "index": 31, "manufacturer": "Acme", "action": {"id": "FSCA-1", "title": "t", "issued": "2026-09-04T08:00:00Z", "affected": {}}, "corrected": [], "notCorrected": []}`,
	`{"treeSize": 1, "extra": true}`,
	`{"treeSize": "38"}`,
	`[]`,
	``,
}

// FuzzDecodeAnswer decodes arbitrary bytes as each query answer: it never
// panics, refuses only with ErrFalseAnswer, and what it accepts survives a
// round trip.
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range answerSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, newV := range []func() any{
			func() any { return new(DeviceInfo) }, func() any { return new(History) }, func() any { return new(AtAnswer) },
			func() any { return new(Impact) }, func() any { return new(FieldActionStatus) },
		} {
			v := newV()
			if err := decodeAnswer(b, v); err != nil {
				if !errors.Is(err, ErrFalseAnswer) {
					t.Fatalf("decodeAnswer(%T) = %v, not ErrFalseAnswer", v, err)
				}
				continue
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("re-encoding %T: %v", v, err)
			}
			w := newV()
			if err := decodeAnswer(again, w); err != nil || !cmp.Equal(v, w) {
				t.Fatalf("%T does not survive a round trip: %v\n%s", v, err, cmp.Diff(v, w))
			}
		}
	})
}

// TestDecodeAnswer checks that malformed answers are refused as false.
func TestDecodeAnswer(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"device", answerSeeds[0], true},
		{"unknown field", `{"treeSize": 1, "extra": true}`, false},
		{"wrong type", `{"treeSize": "38"}`, false},
		{"not an object", `[]`, false},
		{"empty", ``, false},
		{"trailing data", `{"treeSize": 1} {}`, false},
	} {
		var v DeviceInfo
		err := decodeAnswer([]byte(tc.in), &v)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrFalseAnswer) {
			t.Errorf("decodeAnswer(%s) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
