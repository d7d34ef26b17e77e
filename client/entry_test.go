package client

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Fixtures shared by the tests of this package. Manufacturer "Acme" owns the
// GS1 company prefix 0614141, "Other" owns 4006381.
const (
	fxAcmePrefix  = "gs1:0614141"
	fxOtherPrefix = "gs1:4006381"
	fxGTIN        = "00614141999996"
	fxDI          = "(01)" + fxGTIN
	fxUDI         = fxDI + "(21)SN-0001"
	fxUDI2        = fxDI + "(21)SN-0002"
	fxOtherDI     = "(01)04006381333931"
	fxOtherUDI    = fxOtherDI + "(21)SN-0001"
)

var (
	fxTime         = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	fxFirmwareA    = sha256Hex([]byte("infusion pump firmware 4.2.1"))
	fxFirmwareB    = sha256Hex([]byte("infusion pump firmware 4.2.2"))
	fxConfigDigest = sha256Hex([]byte("configuration baseline 7"))
	fxZeroKeyID    = strings.Repeat("0", 64)
)

// fxCycloneDX is a small valid CycloneDX 1.5 SBOM.
const fxCycloneDX = `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,` +
	`"metadata":{"component":{"type":"firmware","name":"pump-fw","version":"4.2.1"}},` +
	`"components":[{"type":"library","name":"zlib","version":"1.3.1","purl":"pkg:generic/zlib@1.3.1"}]}`

// fxNewKey generates a fresh key of the given algorithm.
func fxNewKey(t testing.TB, alg string) *PrivateKey {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q) = %v", alg, err)
	}
	return k
}

// fxSeededKey returns a key derived from seed, for outputs that must not change
// from run to run (examples, seed corpora). Ed25519 signatures by it are
// deterministic too; ECDSA ones are not.
func fxSeededKey(t testing.TB, alg, seed string) *PrivateKey {
	t.Helper()
	s := sha256.Sum256([]byte(seed))
	var (
		k   *PrivateKey
		err error
	)
	switch alg {
	case AlgEd25519:
		k, err = NewPrivateKey(ed25519.NewKeyFromSeed(s[:]))
	case AlgP256:
		var ek *ecdsa.PrivateKey
		if ek, err = ecdsa.ParseRawPrivateKey(elliptic.P256(), s[:]); err == nil {
			k, err = NewPrivateKey(ek)
		}
	default:
		err = fmt.Errorf("unknown algorithm %q", alg)
	}
	if err != nil {
		t.Fatalf("fxSeededKey(%q, %q): %v", alg, seed, err)
	}
	return k
}

func fxJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%T): %v", v, err)
	}
	return b
}

// fxEnrollment returns a valid enrollment of dev under udi, with a proof of
// possession naming the manufacturer key mfr.
func fxEnrollment(t testing.TB, udi string, dev, mfr *PrivateKey) *Enrollment {
	t.Helper()
	pop, err := dev.Sign(PossessionMessage(udi, mfr.Public().ID()))
	if err != nil {
		t.Fatalf("signing proof of possession: %v", err)
	}
	return &Enrollment{
		UDI:               udi,
		DeviceKey:         string(dev.Public().PEM()),
		Model:             "Acme IP-300 infusion pump",
		Binding:           Binding{Type: "secure-element", Evidence: base64.StdEncoding.EncodeToString([]byte("secure element attestation"))},
		ProofOfPossession: base64.StdEncoding.EncodeToString(pop),
	}
}

// fxAttestation returns a valid first attestation of the device udi.
func fxAttestation(udi string) *Attestation {
	return &Attestation{
		UDI:          udi,
		Time:         fxTime,
		Firmware:     Firmware{Version: "4.2.1", Digest: fxFirmwareA},
		ConfigDigest: fxConfigDigest,
		Measurements: []Measurement{{Name: "bootloader", Digest: sha256Hex([]byte("bootloader"))}},
		Verdict:      "pass",
	}
}

func fxRevocation(typ, id string) *Revocation {
	return &Revocation{Target: RevocationTarget{Type: typ, ID: id}, Reason: "key compromise", Effective: fxTime}
}

func fxFieldAction(firmware ...string) *FieldAction {
	return &FieldAction{ID: "FSCA-2025-001", Title: "Dosing error in 4.2.1", Issued: fxTime, Affected: Affected{Firmware: firmware}}
}

// fxPredicateType returns the predicate type of one of vigil's predicates.
func fxPredicateType(t testing.TB, pred any) string {
	t.Helper()
	switch pred.(type) {
	case *Enrollment:
		return PredicateEnrollment
	case *Attestation:
		return PredicateAttestation
	case *Revocation:
		return PredicateRevocation
	case *FieldAction:
		return PredicateFieldAction
	}
	t.Fatalf("fxPredicateType(%T): not a vigil predicate", pred)
	return ""
}

// fxSignedJSON returns the DSSE envelope JSON of a vigil predicate signed by k.
func fxSignedJSON(t testing.TB, pred any, k *PrivateKey) []byte {
	t.Helper()
	st, err := NewStatement(fxPredicateType(t, pred), pred)
	if err != nil {
		t.Fatalf("NewStatement(%T) = %v", pred, err)
	}
	return fxSignStatement(t, st, k)
}

func fxSignStatement(t testing.TB, st *Statement, k *PrivateKey) []byte {
	t.Helper()
	env, err := st.Sign(k)
	if err != nil {
		t.Fatalf("Statement.Sign = %v", err)
	}
	b, err := env.MarshalJSON()
	if err != nil {
		t.Fatalf("Envelope.MarshalJSON = %v", err)
	}
	return b
}

// fxSignedEntry signs a vigil predicate with k and parses it with ParseEntry.
func fxSignedEntry(t testing.TB, pred any, k *PrivateKey) *Entry {
	t.Helper()
	return fxParseEntry(t, fxSignedJSON(t, pred, k))
}

func fxParseEntry(t testing.TB, envJSON []byte) *Entry {
	t.Helper()
	e, err := ParseEntry(envJSON)
	if err != nil {
		t.Fatalf("ParseEntry(%.200q) = %v", envJSON, err)
	}
	return e
}

// fxSBOMDocument returns a CycloneDX SBOM from the repository's test data, or
// fxCycloneDX if there is none.
func fxSBOMDocument(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sbom", "infusion-pump-fw-4.2.1.cdx.json"))
	if err != nil {
		return []byte(fxCycloneDX)
	}
	return b
}

// fxSBOMJSON returns the envelope JSON of an SBOM of the firmware image with
// the given digest, signed by k.
func fxSBOMJSON(t testing.TB, doc []byte, firmware string, k *PrivateKey) []byte {
	t.Helper()
	return fxSignStatement(t, NewSBOMStatement(PredicateCycloneDX, doc, "infusion-pump-fw-4.2.1.bin", firmware), k)
}

// fxMutated builds the statement of a vigil predicate p, lets mut change p or
// the statement, and returns the statement JSON. The predicate is encoded
// after mut unless mut set st.Predicate itself; the subject is the one p had
// before mut.
func fxMutated[P any](t testing.TB, predType string, p P, mut func(P, *Statement)) []byte {
	t.Helper()
	st, err := NewStatement(predType, p)
	if err != nil {
		t.Fatalf("NewStatement(%T) = %v", p, err)
	}
	st.Predicate = nil
	orig := slices.Clone(st.Subject)
	for i := range orig {
		orig[i].Digest = maps.Clone(orig[i].Digest)
	}
	if mut != nil {
		mut(p, st)
	}
	// A field action's subject digests its whole predicate: a mutation of the
	// predicate alone keeps the subject it implies, so the test reaches the
	// check it aims at rather than the subject check.
	if predType == PredicateFieldAction && reflect.DeepEqual(st.Subject, orig) {
		if fresh, err := NewStatement(predType, p); err == nil {
			st.Subject = fresh.Subject
		}
	}
	if st.Predicate == nil {
		st.Predicate = fxJSON(t, p)
	}
	return fxJSON(t, st)
}

// fxWithField returns p's JSON with one member set to the raw JSON v
// (or removed when v is ""), for inputs the Go types cannot express.
func fxWithField(t testing.TB, p any, name, v string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fxJSON(t, p), &m); err != nil {
		t.Fatal(err)
	}
	if v == "" {
		delete(m, name)
	} else {
		m[name] = json.RawMessage(v)
	}
	return fxJSON(t, m)
}

func TestNewEntryPredicates(t *testing.T) {
	mfr := fxNewKey(t, AlgEd25519)
	dev := fxNewKey(t, AlgP256)
	other := fxNewKey(t, AlgEd25519)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p384PEM := fxPEM(t, "PUBLIC KEY", fxDER(t, p384.Public()))

	enr := func(mut func(*Enrollment, *Statement)) []byte {
		return fxMutated(t, PredicateEnrollment, fxEnrollment(t, fxUDI, dev, mfr), mut)
	}
	att := func(mut func(*Attestation, *Statement)) []byte {
		return fxMutated(t, PredicateAttestation, fxAttestation(fxUDI), mut)
	}
	// rev gives the statement a well-formed subject even when the target ID
	// is not, so that the predicate's own check is what refuses it.
	rev := func(typ, id string, mut func(*Revocation, *Statement)) []byte {
		return fxMutated(t, PredicateRevocation, fxRevocation(typ, id), func(p *Revocation, st *Statement) {
			if d := st.Subject[0].Digest["sha256"]; !isSHA256Hex(d) {
				st.Subject[0].Digest["sha256"] = sha256Hex([]byte(d))
			}
			if mut != nil {
				mut(p, st)
			}
		})
	}
	fa := func(mut func(*FieldAction, *Statement)) []byte {
		return fxMutated(t, PredicateFieldAction, fxFieldAction(fxFirmwareA), mut)
	}
	sbom := func(mut func(*Statement)) []byte {
		st := NewSBOMStatement(PredicateCycloneDX, []byte(fxCycloneDX), "pump-fw.bin", fxFirmwareA)
		if mut != nil {
			mut(st)
		}
		return fxJSON(t, st)
	}
	measurements := func(n int) []Measurement {
		ms := make([]Measurement, n)
		for i := range ms {
			ms[i] = Measurement{Name: fmt.Sprintf("pcr%d", i), Digest: fxConfigDigest}
		}
		return ms
	}
	long := strings.Repeat("x", maxText+1)

	tests := []struct {
		name     string
		payload  []byte
		wantKind Kind
		want     error
	}{
		// Enrollment.
		{"enrollment", enr(nil), KindEnrollment, nil},
		{"enrollment/UDI in non-canonical order", fxMutated(t, PredicateEnrollment, fxEnrollment(t, fxDI+"(21)SN-0001(10)LOT42", dev, mfr), nil), KindEnrollment, nil},
		{"enrollment/Ed25519 device key", fxMutated(t, PredicateEnrollment, fxEnrollment(t, fxUDI, fxNewKey(t, AlgEd25519), mfr), nil), KindEnrollment, nil},
		{"enrollment/unknown field", enr(func(p *Enrollment, st *Statement) {
			st.Predicate = fxWithField(t, p, "color", `"red"`)
		}), 0, ErrMalformedJSON},
		{"enrollment/wrong field type", enr(func(p *Enrollment, st *Statement) {
			st.Predicate = fxWithField(t, p, "model", `42`)
		}), 0, ErrMalformedJSON},
		{"enrollment/bad UDI check digit", enr(func(p *Enrollment, _ *Statement) { p.UDI = "(01)00614141999995(21)SN-0001" }), 0, ErrUDI},
		{"enrollment/UDI without serial", enr(func(p *Enrollment, _ *Statement) { p.UDI = fxDI }), 0, ErrUDI},
		{"enrollment/no UDI", enr(func(p *Enrollment, _ *Statement) { p.UDI = "" }), 0, ErrUDI},
		{"enrollment/bad PEM", enr(func(p *Enrollment, _ *Statement) { p.DeviceKey = "not a key" }), 0, ErrKey},
		{"enrollment/PEM with trailing key", enr(func(p *Enrollment, _ *Statement) { p.DeviceKey += string(other.Public().PEM()) }), 0, ErrKey},
		{"enrollment/P-384 device key", enr(func(p *Enrollment, _ *Statement) { p.DeviceKey = string(p384PEM) }), 0, ErrKey},
		{"enrollment/missing model", enr(func(p *Enrollment, _ *Statement) { p.Model = "" }), 0, ErrPredicate},
		{"enrollment/model too long", enr(func(p *Enrollment, _ *Statement) { p.Model = long }), 0, ErrPredicate},
		{"enrollment/binding type puf", enr(func(p *Enrollment, _ *Statement) { p.Binding.Type = "puf" }), KindEnrollment, nil},
		{"enrollment/binding type tpm", enr(func(p *Enrollment, _ *Statement) { p.Binding.Type = "tpm" }), KindEnrollment, nil},
		{"enrollment/bad binding type", enr(func(p *Enrollment, _ *Statement) { p.Binding.Type = "hsm" }), 0, ErrPredicate},
		{"enrollment/binding type in upper case", enr(func(p *Enrollment, _ *Statement) { p.Binding.Type = "TPM" }), 0, ErrPredicate},
		{"enrollment/no binding type", enr(func(p *Enrollment, _ *Statement) { p.Binding.Type = "" }), 0, ErrPredicate},
		{"enrollment/bad base64 evidence", enr(func(p *Enrollment, _ *Statement) { p.Binding.Evidence = "!!!!" }), 0, ErrPredicate},
		{"enrollment/URL base64 evidence", enr(func(p *Enrollment, _ *Statement) { p.Binding.Evidence = "-_-_" }), 0, ErrPredicate},
		{"enrollment/empty evidence", enr(func(p *Enrollment, _ *Statement) { p.Binding.Evidence = "" }), 0, ErrPredicate},
		{"enrollment/evidence too large", enr(func(p *Enrollment, _ *Statement) {
			p.Binding.Evidence = base64.StdEncoding.EncodeToString(make([]byte, 8193))
		}), 0, ErrPredicate},
		{"enrollment/largest evidence", enr(func(p *Enrollment, _ *Statement) {
			p.Binding.Evidence = base64.StdEncoding.EncodeToString(make([]byte, 8192))
		}), KindEnrollment, nil},
		{"enrollment/bad base64 proof", enr(func(p *Enrollment, _ *Statement) { p.ProofOfPossession = "%%%%" }), 0, ErrPredicate},
		{"enrollment/no proof", enr(func(p *Enrollment, _ *Statement) { p.ProofOfPossession = "" }), 0, ErrPredicate},
		{"enrollment/proof too long", enr(func(p *Enrollment, _ *Statement) {
			p.ProofOfPossession = base64.StdEncoding.EncodeToString(make([]byte, maxSigSize+1))
		}), 0, ErrPredicate},
		{"enrollment/subject names another UDI", enr(func(_ *Enrollment, st *Statement) { st.Subject[0].Name = fxUDI2 }), 0, ErrPredicate},
		{"enrollment/subject names the UDI non-canonically", enr(func(_ *Enrollment, st *Statement) { st.Subject[0].Name = "(01)00614141999996(21)SN-0001 " }), 0, ErrPredicate},
		{"enrollment/subject digest is another key", enr(func(_ *Enrollment, st *Statement) {
			st.Subject[0].Digest = map[string]string{"sha256": other.Public().ID()}
		}), 0, ErrPredicate},
		{"enrollment/subject has sha512 only", enr(func(_ *Enrollment, st *Statement) {
			st.Subject[0].Digest = map[string]string{"sha512": strings.Repeat("ab", 64)}
		}), 0, ErrPredicate},
		{"enrollment/two subjects", enr(func(_ *Enrollment, st *Statement) { st.Subject = append(st.Subject, st.Subject[0]) }), 0, ErrPredicate},

		// Attestation.
		{"attestation", att(nil), KindAttestation, nil},
		{"attestation/later in the chain", att(func(p *Attestation, _ *Statement) { p.Seq, p.Prev = 5, fxConfigDigest }), KindAttestation, nil},
		{"attestation/no measurements", att(func(p *Attestation, _ *Statement) { p.Measurements = nil }), KindAttestation, nil},
		{"attestation/verdict fail", att(func(p *Attestation, _ *Statement) { p.Verdict = "fail" }), KindAttestation, nil},
		{"attestation/verdict unknown", att(func(p *Attestation, _ *Statement) { p.Verdict = "unknown" }), KindAttestation, nil},
		{"attestation/64 measurements", att(func(p *Attestation, _ *Statement) { p.Measurements = measurements(64) }), KindAttestation, nil},
		{"attestation/unknown field", att(func(p *Attestation, st *Statement) {
			st.Predicate = fxWithField(t, p, "battery", `97`)
		}), 0, ErrMalformedJSON},
		{"attestation/negative seq", att(func(p *Attestation, st *Statement) {
			st.Predicate = fxWithField(t, p, "seq", `-1`)
		}), 0, ErrMalformedJSON},
		{"attestation/time not RFC 3339", att(func(p *Attestation, st *Statement) {
			st.Predicate = fxWithField(t, p, "time", `"yesterday"`)
		}), 0, ErrMalformedJSON},
		{"attestation/bad UDI", att(func(p *Attestation, _ *Statement) { p.UDI = "(01)00614141999996" }), 0, ErrUDI},
		{"attestation/seq 0 with prev", att(func(p *Attestation, _ *Statement) { p.Prev = fxConfigDigest }), 0, ErrPredicate},
		{"attestation/seq 1 without prev", att(func(p *Attestation, _ *Statement) { p.Seq = 1 }), 0, ErrPredicate},
		{"attestation/prev in upper case", att(func(p *Attestation, _ *Statement) { p.Seq, p.Prev = 1, strings.ToUpper(fxConfigDigest) }), 0, ErrPredicate},
		{"attestation/prev too short", att(func(p *Attestation, _ *Statement) { p.Seq, p.Prev = 1, fxConfigDigest[:62] }), 0, ErrPredicate},
		{"attestation/zero time", att(func(p *Attestation, _ *Statement) { p.Time = time.Time{} }), 0, ErrPredicate},
		{"attestation/no time", att(func(p *Attestation, st *Statement) {
			st.Predicate = fxWithField(t, p, "time", "")
		}), 0, ErrPredicate},
		{"attestation/bad firmware digest", att(func(p *Attestation, _ *Statement) { p.Firmware.Digest = "sha256:" + fxFirmwareA }), 0, ErrPredicate},
		{"attestation/no firmware version", att(func(p *Attestation, _ *Statement) { p.Firmware.Version = "" }), 0, ErrPredicate},
		{"attestation/bad config digest", att(func(p *Attestation, _ *Statement) { p.ConfigDigest = "00" }), 0, ErrPredicate},
		{"attestation/bad measurement digest", att(func(p *Attestation, _ *Statement) { p.Measurements[0].Digest = "zz" }), 0, ErrPredicate},
		{"attestation/measurement without name", att(func(p *Attestation, _ *Statement) { p.Measurements[0].Name = "" }), 0, ErrPredicate},
		{"attestation/65 measurements", att(func(p *Attestation, _ *Statement) { p.Measurements = measurements(65) }), 0, ErrPredicate},
		{"attestation/bad verdict", att(func(p *Attestation, _ *Statement) { p.Verdict = "ok" }), 0, ErrPredicate},
		{"attestation/no verdict", att(func(p *Attestation, _ *Statement) { p.Verdict = "" }), 0, ErrPredicate},
		{"attestation/subject names another UDI", att(func(_ *Attestation, st *Statement) { st.Subject[0].Name = fxUDI2 }), 0, ErrPredicate},
		{"attestation/subject digest is other firmware", att(func(_ *Attestation, st *Statement) {
			st.Subject[0].Digest["sha256"] = fxFirmwareB
		}), 0, ErrPredicate},
		{"attestation/two subjects", att(func(_ *Attestation, st *Statement) { st.Subject = append(st.Subject, st.Subject[0]) }), 0, ErrPredicate},

		// Revocation.
		{"revocation/device key", rev(TargetDeviceKey, dev.Public().ID(), nil), KindRevocation, nil},
		{"revocation/UDI", rev(TargetUDI, fxUDI, nil), KindRevocation, nil},
		{"revocation/firmware", rev(TargetFirmware, fxFirmwareA, nil), KindRevocation, nil},
		{"revocation/manufacturer key", rev(TargetManufacturerKey, mfr.Public().ID(), nil), KindRevocation, nil},
		{"revocation/device key with bad id", rev(TargetDeviceKey, "device-17", nil), 0, ErrPredicate},
		{"revocation/subject names another key", rev(TargetDeviceKey, fxFirmwareA, func(_ *Revocation, st *Statement) { st.Subject[0].Digest["sha256"] = fxFirmwareB }), 0, ErrPredicate},
		{"revocation/subject names another type", rev(TargetDeviceKey, fxFirmwareA, func(_ *Revocation, st *Statement) { st.Subject[0].Name = TargetFirmware }), 0, ErrPredicate},
		{"field action/subject digests another predicate", fa(func(_ *FieldAction, st *Statement) { st.Subject[0].Digest["sha256"] = fxFirmwareB }), 0, ErrPredicate},
		{"field action/subject names another action", fa(func(_ *FieldAction, st *Statement) { st.Subject[0].Name = "FSCA-OTHER" }), 0, ErrPredicate},
		{"revocation/device key with upper-case id", rev(TargetDeviceKey, strings.ToUpper(dev.Public().ID()), nil), 0, ErrPredicate},
		{"revocation/UDI with bad id", rev(TargetUDI, fxDI, nil), 0, ErrUDI},
		{"revocation/firmware with bad id", rev(TargetFirmware, fxFirmwareA[:63], nil), 0, ErrPredicate},
		{"revocation/manufacturer key with bad id", rev(TargetManufacturerKey, "", nil), 0, ErrPredicate},
		{"revocation/unknown target type", rev("model", fxFirmwareA, nil), 0, ErrPredicate},
		{"revocation/no reason", rev(TargetFirmware, fxFirmwareA, func(p *Revocation, _ *Statement) { p.Reason = "" }), 0, ErrPredicate},
		{"revocation/reason too long", rev(TargetFirmware, fxFirmwareA, func(p *Revocation, _ *Statement) { p.Reason = long }), 0, ErrPredicate},
		{"revocation/no effective time", rev(TargetFirmware, fxFirmwareA, func(p *Revocation, _ *Statement) { p.Effective = time.Time{} }), 0, ErrPredicate},
		{"revocation/unknown field", rev(TargetFirmware, fxFirmwareA, func(p *Revocation, st *Statement) {
			st.Predicate = fxWithField(t, p, "note", `"x"`)
		}), 0, ErrMalformedJSON},

		// Field action.
		{"field action/firmware", fa(nil), KindFieldAction, nil},
		{"field action/UDI-DI only", fa(func(p *FieldAction, _ *Statement) { p.Affected = Affected{UDIDIs: []string{fxDI}} }), KindFieldAction, nil},
		{"field action/remedy and references", fa(func(p *FieldAction, _ *Statement) {
			p.Remedy = &Firmware{Version: "4.2.2", Digest: fxFirmwareB}
			p.References = []string{"https://example.com/fsca/2025-001"}
		}), KindFieldAction, nil},
		{"field action/nothing affected", fa(func(p *FieldAction, _ *Statement) { p.Affected = Affected{} }), 0, ErrPredicate},
		{"field action/empty lists", fa(func(p *FieldAction, _ *Statement) { p.Affected = Affected{Firmware: []string{}, UDIDIs: []string{}} }), 0, ErrPredicate},
		{"field action/bad firmware digest", fa(func(p *FieldAction, _ *Statement) { p.Affected.Firmware = []string{"v4.2.1"} }), 0, ErrPredicate},
		{"field action/bad DI", fa(func(p *FieldAction, _ *Statement) { p.Affected.UDIDIs = []string{"(01)00614141999995"} }), 0, ErrUDI},
		{"field action/DI with serial", fa(func(p *FieldAction, _ *Statement) { p.Affected.UDIDIs = []string{fxUDI} }), 0, ErrUDI},
		{"field action/bad remedy digest", fa(func(p *FieldAction, _ *Statement) { p.Remedy = &Firmware{Version: "4.2.2"} }), 0, ErrPredicate},
		{"field action/no id", fa(func(p *FieldAction, _ *Statement) { p.ID = "" }), 0, ErrPredicate},
		{"field action/no title", fa(func(p *FieldAction, _ *Statement) { p.Title = "" }), 0, ErrPredicate},
		{"field action/no issue time", fa(func(p *FieldAction, _ *Statement) { p.Issued = time.Time{} }), 0, ErrPredicate},
		{"field action/empty reference", fa(func(p *FieldAction, _ *Statement) { p.References = []string{""} }), 0, ErrPredicate},
		{"field action/too many items", fa(func(p *FieldAction, _ *Statement) {
			for len(p.Affected.Firmware) <= 1024 {
				p.Affected.Firmware = append(p.Affected.Firmware, fxFirmwareA)
			}
		}), 0, ErrPredicate},

		// SBOM.
		{"sbom", sbom(nil), KindSBOM, nil},
		{"sbom/versioned predicate type", sbom(func(st *Statement) { st.PredicateType = PredicateCycloneDX + "/v1.5" }), KindSBOM, nil},
		{"sbom/two subjects", sbom(func(st *Statement) { st.Subject = append(st.Subject, st.Subject[0]) }), 0, ErrPredicate},
		{"sbom/unnamed subject", sbom(func(st *Statement) { st.Subject[0].Name = "" }), 0, ErrPredicate},
		{"sbom/subject without sha256", sbom(func(st *Statement) {
			st.Subject[0].Digest = map[string]string{"sha384": strings.Repeat("ab", 48)}
		}), 0, ErrPredicate},
		{"sbom/not CycloneDX", sbom(func(st *Statement) { st.Predicate = json.RawMessage(`{"hello":"world"}`) }), 0, ErrSBOM},

		// Statement.
		{"unknown predicate type", sbom(func(st *Statement) { st.PredicateType = "https://slsa.dev/provenance/v1" }), 0, ErrPredicateType},
		{"vigil predicate type of another version", enr(func(_ *Enrollment, st *Statement) { st.PredicateType = "https://vigil.dev/enrollment/v2" }), 0, ErrPredicateType},
		{"wrong statement type", enr(func(_ *Enrollment, st *Statement) { st.Type = "https://in-toto.io/Statement/v0.1" }), 0, ErrStatement},
		{"not JSON", []byte("enrollment"), 0, ErrMalformedJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := SignEnvelope(PayloadTypeInToto, tc.payload, mfr)
			if err != nil {
				t.Fatal(err)
			}
			e, err := NewEntry(env)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("NewEntry(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if err != nil {
				return
			}
			if e.Kind != tc.wantKind {
				t.Errorf("NewEntry(%s).Kind = %v, want %v", tc.name, e.Kind, tc.wantKind)
			}
			set := map[Kind]bool{
				KindEnrollment:  e.Enrollment != nil,
				KindAttestation: e.Attestation != nil,
				KindRevocation:  e.Revocation != nil,
				KindFieldAction: e.FieldAction != nil,
				KindSBOM:        e.SBOM != nil,
			}
			for k, ok := range set {
				if ok != (k == e.Kind) {
					t.Errorf("NewEntry(%s): predicate of kind %v set = %v, want %v", tc.name, k, ok, k == e.Kind)
				}
			}
		})
	}
}

func TestNewEntryEnvelope(t *testing.T) {
	mfr := fxNewKey(t, AlgEd25519)
	dev := fxNewKey(t, AlgP256)
	payload := fxMutated(t, PredicateEnrollment, fxEnrollment(t, fxUDI, dev, mfr), nil)
	good := func(mut func(*Envelope)) *Envelope {
		env, err := SignEnvelope(PayloadTypeInToto, payload, mfr)
		if err != nil {
			t.Fatal(err)
		}
		if mut != nil {
			mut(env)
		}
		return env
	}
	sig := good(nil).Signatures[0]
	tests := []struct {
		name string
		env  *Envelope
		want error
	}{
		{"valid", good(nil), nil},
		{"wrong payload type", good(func(e *Envelope) { e.PayloadType = "application/json" }), ErrPayloadType},
		{"empty payload type", good(func(e *Envelope) { e.PayloadType = "" }), ErrPayloadType},
		{"no signature", good(func(e *Envelope) { e.Signatures = nil }), ErrSignatureCount},
		{"two signatures", good(func(e *Envelope) { e.Signatures = append(e.Signatures, sig) }), ErrSignatureCount},
		{"missing keyid", good(func(e *Envelope) { e.Signatures[0].KeyID = "" }), ErrSignatureCount},
		{"short keyid", good(func(e *Envelope) { e.Signatures[0].KeyID = sig.KeyID[:16] }), ErrSignatureCount},
		{"upper-case keyid", good(func(e *Envelope) { e.Signatures[0].KeyID = strings.ToUpper(sig.KeyID) }), ErrSignatureCount},
		{"empty signature", good(func(e *Envelope) { e.Signatures[0].Sig = nil }), ErrSignatureCount},
		{"signature too long", good(func(e *Envelope) { e.Signatures[0].Sig = make([]byte, maxSigSize+1) }), ErrSignatureCount},
		{"payload not a statement", good(func(e *Envelope) { e.Payload = []byte(`{"_type":"x"}`) }), ErrStatement},
		{"empty payload", good(func(e *Envelope) { e.Payload = nil }), ErrMalformedJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEntry(tc.env)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Errorf("NewEntry(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestEntryAccessors(t *testing.T) {
	mfr := fxNewKey(t, AlgEd25519)
	dev := fxNewKey(t, AlgP256)
	enrollment := fxSignedEntry(t, fxEnrollment(t, fxDI+"(10)LOT42(21)SN-0001", dev, mfr), mfr)
	attestation := fxSignedEntry(t, fxAttestation(fxUDI), dev)
	udiRevocation := fxSignedEntry(t, fxRevocation(TargetUDI, fxUDI), mfr)
	keyRevocation := fxSignedEntry(t, fxRevocation(TargetDeviceKey, dev.Public().ID()), mfr)
	sbomEnv := fxSBOMJSON(t, []byte(fxCycloneDX), fxFirmwareB, mfr)
	sbom := fxParseEntry(t, sbomEnv)

	wantUDI, err := ParseUDI(fxUDI)
	if err != nil {
		t.Fatal(err)
	}
	wantLotUDI := wantUDI
	wantLotUDI.Lot = "LOT42"
	type view struct {
		Kind           Kind
		Signer         string
		UDI            UDI
		DeviceKeyID    string
		FirmwareDigest string
	}
	keyID := func(k *PublicKey) string {
		if k == nil {
			return ""
		}
		return k.ID()
	}
	tests := []struct {
		name string
		e    *Entry
		want view
	}{
		{"enrollment", enrollment, view{KindEnrollment, mfr.Public().ID(), wantLotUDI, dev.Public().ID(), ""}},
		{"attestation", attestation, view{KindAttestation, dev.Public().ID(), wantUDI, "", ""}},
		{"UDI revocation", udiRevocation, view{KindRevocation, mfr.Public().ID(), wantUDI, "", ""}},
		{"device key revocation", keyRevocation, view{KindRevocation, mfr.Public().ID(), UDI{}, "", ""}},
		{"sbom", sbom, view{KindSBOM, mfr.Public().ID(), UDI{}, "", fxFirmwareB}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := view{tc.e.Kind, tc.e.SignerKeyID(), tc.e.UDI(), keyID(tc.e.DeviceKey()), tc.e.FirmwareDigest()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("entry accessors (-want +got):\n%s", diff)
			}
			if got, want := tc.e.PayloadDigest(), sha256Hex(tc.e.Envelope.Payload); got != want {
				t.Errorf("PayloadDigest() = %s, want %s", got, want)
			}
		})
	}
	if diff := cmp.Diff(fxEnrollment(t, fxDI+"(10)LOT42(21)SN-0001", dev, mfr).Binding, enrollment.Enrollment.Binding); diff != "" {
		t.Errorf("enrollment binding (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fxAttestation(fxUDI), attestation.Attestation); diff != "" {
		t.Errorf("decoded attestation (-want +got):\n%s", diff)
	}
	if got, want := sbom.SBOM.Name, "pump-fw"; got != want {
		t.Errorf("SBOM.Name = %q, want %q", got, want)
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		kind          Kind
		name          string
		predicateType string
	}{
		{KindEnrollment, "enrollment", PredicateEnrollment},
		{KindSBOM, "sbom", PredicateCycloneDX},
		{KindAttestation, "attestation", PredicateAttestation},
		{KindRevocation, "revocation", PredicateRevocation},
		{KindFieldAction, "field-action", PredicateFieldAction},
	}
	for _, tc := range tests {
		if got := tc.kind.String(); got != tc.name {
			t.Errorf("Kind(%d).String() = %q, want %q", tc.kind, got, tc.name)
		}
		if got, err := ParseKind(tc.name); got != tc.kind || err != nil {
			t.Errorf("ParseKind(%q) = %v, %v, want %v, nil", tc.name, got, err, tc.kind)
		}
		if got, err := KindOf(tc.predicateType); got != tc.kind || err != nil {
			t.Errorf("KindOf(%q) = %v, %v, want %v, nil", tc.predicateType, got, err, tc.kind)
		}
	}
	if got, want := Kind(9).String(), "kind(9)"; got != want {
		t.Errorf("Kind(9).String() = %q, want %q", got, want)
	}
	for _, s := range []string{"", "Enrollment", "kind(9)", "field_action"} {
		if k, err := ParseKind(s); err == nil {
			t.Errorf("ParseKind(%q) = %v, nil, want an error", s, k)
		}
	}
	for _, s := range []string{"", "https://vigil.dev/enrollment", "https://vigil.dev/enrollment/v1/", "https://in-toto.io/Statement/v1", "https://cyclonedx.org/bom/vX"} {
		if k, err := KindOf(s); !errors.Is(err, ErrPredicateType) {
			t.Errorf("KindOf(%q) = %v, %v, want %v", s, k, err, ErrPredicateType)
		}
	}
}
