package client

import (
	"encoding/base64"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stateFixture is a State under trust roots the test writes: Acme (GS1
// prefix 0614141, keys acme and acme2) and Other (4006381, key other),
// with device keys dev1 and dev2 and a key in no trust root, stranger.
type stateFixture struct {
	t                  testing.TB
	acme, acme2, other *PrivateKey
	dev1, dev2         *PrivateKey
	stranger           *PrivateKey
	roots              *TrustRoots
	st                 *State
	next               uint64
}

func newStateFixture(t testing.TB) *stateFixture {
	t.Helper()
	f := &stateFixture{
		t:        t,
		acme:     fxNewKey(t, AlgEd25519),
		acme2:    fxNewKey(t, AlgP256),
		other:    fxNewKey(t, AlgP256),
		dev1:     fxNewKey(t, AlgP256),
		dev2:     fxNewKey(t, AlgEd25519),
		stranger: fxNewKey(t, AlgEd25519),
	}
	roots, err := ParseTrustRoots(fxRootsJSON(t,
		fxManufacturer{Name: "Acme", Prefixes: []string{fxAcmePrefix}, Keys: []*PrivateKey{f.acme, f.acme2}},
		fxManufacturer{Name: "Other", Prefixes: []string{otherPrefixFor(t)}, Keys: []*PrivateKey{f.other}},
	))
	if err != nil {
		t.Fatalf("ParseTrustRoots = %v", err)
	}
	f.roots = roots
	f.st = NewState(roots)
	return f
}

// accept checks an envelope against the state, fails the test if it is
// refused, and applies it at the next index.
func (f *stateFixture) accept(envJSON []byte) *Entry {
	f.t.Helper()
	e := fxParseEntry(f.t, envJSON)
	if err := f.st.Check(e); err != nil {
		f.t.Fatalf("setup: Check(%v entry) = %v", e.Kind, err)
	}
	f.st.Apply(f.next, e)
	f.next++
	return e
}

func (f *stateFixture) enroll(udi string, dev, mfr *PrivateKey) []byte {
	return fxSignedJSON(f.t, fxEnrollment(f.t, udi, dev, mfr), mfr)
}

func (f *stateFixture) attest(udi string, dev *PrivateKey) []byte {
	return fxSignedJSON(f.t, fxAttestation(udi), dev)
}

func (f *stateFixture) revoke(typ, id string, k *PrivateKey) []byte {
	return fxSignedJSON(f.t, fxRevocation(typ, id), k)
}

func (f *stateFixture) sbom(firmware string, k *PrivateKey) []byte {
	return fxSBOMJSON(f.t, []byte(fxCycloneDX), firmware, k)
}

// fxTamper flips one bit of an envelope's signature.
func fxTamper(t testing.TB, envJSON []byte) []byte {
	t.Helper()
	env, err := ParseEnvelope(envJSON)
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Sig[len(env.Signatures[0].Sig)-1] ^= 1
	b, err := env.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStateCheck(t *testing.T) {
	type fx = stateFixture
	const udiLot = fxUDI + "(10)LOT42"
	tests := []struct {
		name  string
		setup func(f *fx)
		entry func(f *fx) []byte
		want  error
	}{
		// Enrollment.
		{"enrollment", nil, func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.acme) }, nil},
		{"enrollment by the manufacturer's second key", nil, func(f *fx) []byte { return f.enroll(fxUDI, f.dev2, f.acme2) }, nil},
		{"enrollment by another manufacturer in its prefix", nil, func(f *fx) []byte { return f.enroll(fxOtherUDI, f.dev1, f.other) }, nil},
		{"second device", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI2, f.dev2, f.acme) }, nil},
		{"same device key again", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI2, f.dev1, f.acme) }, ErrConflict},
		{"same enrollment again", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.acme) }, ErrConflict},
		{"same UDI with another key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI, f.dev2, f.acme) }, ErrConflict},
		{"same UDI with a lot and another key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(udiLot, f.dev2, f.acme) }, ErrConflict},
		{"same key enrolled by another manufacturer", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxOtherUDI, f.dev1, f.other) }, ErrConflict},
		{"UDI outside the prefixes", nil, func(f *fx) []byte { return f.enroll(fxOtherUDI, f.dev1, f.acme) }, ErrUnauthorized},
		{"proof of possession by another key", nil, func(f *fx) []byte {
			p := fxEnrollment(f.t, fxUDI, f.dev1, f.acme)
			p.ProofOfPossession = fxEnrollment(f.t, fxUDI, f.dev2, f.acme).ProofOfPossession
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrBadSignature},
		{"proof of possession for another manufacturer key", nil, func(f *fx) []byte {
			p := fxEnrollment(f.t, fxUDI, f.dev1, f.acme2)
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrBadSignature},
		{"proof of possession for another UDI", nil, func(f *fx) []byte {
			p := fxEnrollment(f.t, fxUDI, f.dev1, f.acme)
			p.ProofOfPossession = fxEnrollment(f.t, fxUDI2, f.dev1, f.acme).ProofOfPossession
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrBadSignature},
		{"proof of possession not a signature", nil, func(f *fx) []byte {
			p := fxEnrollment(f.t, fxUDI, f.dev1, f.acme)
			p.ProofOfPossession = base64.StdEncoding.EncodeToString([]byte("trust me"))
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrBadSignature},
		{"device key is a manufacturer key", nil, func(f *fx) []byte { return f.enroll(fxUDI, f.other, f.acme) }, ErrConflict},
		{"enrollment by an unknown key", nil, func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.stranger) }, ErrUnknownKey},
		{"enrollment with a tampered signature", nil, func(f *fx) []byte { return fxTamper(f.t, f.enroll(fxUDI, f.dev1, f.acme)) }, ErrBadSignature},
		{"enrollment signed by the key of another manufacturer", nil, func(f *fx) []byte {
			p := fxEnrollment(f.t, fxUDI, f.dev1, f.acme)
			st, err := NewStatement(PredicateEnrollment, p)
			if err != nil {
				f.t.Fatal(err)
			}
			env, err := st.Sign(f.acme)
			if err != nil {
				f.t.Fatal(err)
			}
			// Claim Other's key; the signature is Acme's.
			env.Signatures[0].KeyID = f.other.Public().ID()
			b, _ := env.MarshalJSON()
			return b
		}, ErrBadSignature},
		{"enrollment signed by a device key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI2, f.dev2, f.dev1) }, ErrUnauthorized},

		// Attestation.
		{"attestation", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, nil},
		{"attestation by an Ed25519 device key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev2, f.acme)) },
			func(f *fx) []byte { return f.attest(fxUDI, f.dev2) }, nil},
		{"attestation naming the lot", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.attest(udiLot, f.dev1) }, nil},
		{"attestation by an unenrolled key", nil, func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, ErrNotEnrolled},
		{"attestation by an unenrolled key of an enrolled UDI", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.attest(fxUDI, f.dev2) }, ErrNotEnrolled},
		{"attestation signed by the manufacturer", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.attest(fxUDI, f.acme) }, ErrUnauthorized},
		{"attestation for another UDI", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.enroll(fxUDI2, f.dev2, f.acme))
		}, func(f *fx) []byte { return f.attest(fxUDI2, f.dev1) }, ErrUnauthorized},
		{"attestation with a tampered signature", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return fxTamper(f.t, f.attest(fxUDI, f.dev1)) }, ErrBadSignature},
		{"attestation by a revoked device key", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.acme))
		}, func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, ErrRevoked},
		{"attestation of a revoked UDI", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.revoke(TargetUDI, fxUDI, f.acme))
		}, func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, ErrRevoked},
		{"attestation of a UDI revoked with its lot", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.revoke(TargetUDI, udiLot, f.acme))
		}, func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, ErrRevoked},
		{"attestation after another device's revocation", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.enroll(fxUDI2, f.dev2, f.acme))
			f.accept(f.revoke(TargetUDI, fxUDI2, f.acme))
		}, func(f *fx) []byte { return f.attest(fxUDI, f.dev1) }, nil},

		// Revoked keys and devices cannot come back.
		{"enrollment of a revoked UDI", func(f *fx) { f.accept(f.revoke(TargetUDI, fxUDI, f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.acme) }, ErrRevoked},
		{"enrollment of a revoked device key", func(f *fx) {
			f.accept(f.enroll(fxUDI, f.dev1, f.acme))
			f.accept(f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.acme))
		}, func(f *fx) []byte { return f.enroll(fxUDI2, f.dev1, f.acme) }, ErrRevoked},
		{"enrollment by a revoked manufacturer key", func(f *fx) { f.accept(f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.acme2) }, ErrRevoked},
		{"SBOM by a revoked manufacturer key", func(f *fx) { f.accept(f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme)) },
			func(f *fx) []byte { return f.sbom(fxFirmwareA, f.acme2) }, ErrRevoked},
		{"revocation by a revoked manufacturer key", func(f *fx) { f.accept(f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme2)) },
			func(f *fx) []byte { return f.revoke(TargetUDI, fxUDI, f.acme2) }, ErrRevoked},
		{"manufacturer's other key after a revocation", func(f *fx) { f.accept(f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme)) },
			func(f *fx) []byte { return f.enroll(fxUDI, f.dev1, f.acme) }, nil},

		// SBOM.
		{"SBOM", nil, func(f *fx) []byte { return f.sbom(fxFirmwareA, f.acme) }, nil},
		{"SBOM republished by its manufacturer's other key", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.acme)) },
			func(f *fx) []byte { return f.sbom(fxFirmwareA, f.acme2) }, nil},
		{"SBOM of firmware another manufacturer owns", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.other)) },
			func(f *fx) []byte { return f.sbom(fxFirmwareA, f.acme) }, ErrConflict},
		{"SBOM signed by a device key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.sbom(fxFirmwareA, f.dev1) }, ErrUnauthorized},
		{"SBOM by an unknown key", nil, func(f *fx) []byte { return f.sbom(fxFirmwareA, f.stranger) }, ErrUnknownKey},
		{"SBOM with a tampered signature", nil, func(f *fx) []byte { return fxTamper(f.t, f.sbom(fxFirmwareA, f.acme)) }, ErrBadSignature},

		// Field action.
		{"field action on own firmware", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.acme)) },
			func(f *fx) []byte { return fxSignedJSON(f.t, fxFieldAction(fxFirmwareA), f.acme2) }, nil},
		{"field action on unpublished firmware", nil,
			func(f *fx) []byte { return fxSignedJSON(f.t, fxFieldAction(fxFirmwareA), f.acme) }, ErrUnauthorized},
		{"field action on another manufacturer's firmware", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.other)) },
			func(f *fx) []byte { return fxSignedJSON(f.t, fxFieldAction(fxFirmwareA), f.acme) }, ErrUnauthorized},
		{"field action with an unpublished remedy", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.acme)) }, func(f *fx) []byte {
			p := fxFieldAction(fxFirmwareA)
			p.Remedy = &Firmware{Version: "4.2.2", Digest: fxFirmwareB}
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrUnauthorized},
		{"field action with a published remedy", func(f *fx) {
			f.accept(f.sbom(fxFirmwareA, f.acme))
			f.accept(f.sbom(fxFirmwareB, f.acme))
		}, func(f *fx) []byte {
			p := fxFieldAction(fxFirmwareA)
			p.Remedy = &Firmware{Version: "4.2.2", Digest: fxFirmwareB}
			return fxSignedJSON(f.t, p, f.acme)
		}, nil},
		{"field action on own UDI-DI", nil, func(f *fx) []byte {
			p := fxFieldAction()
			p.Affected.UDIDIs = []string{fxDI}
			return fxSignedJSON(f.t, p, f.acme)
		}, nil},
		{"field action on another manufacturer's UDI-DI", nil, func(f *fx) []byte {
			p := fxFieldAction()
			p.Affected.UDIDIs = []string{fxDI, fxOtherDI}
			return fxSignedJSON(f.t, p, f.acme)
		}, ErrUnauthorized},
		{"field action by an unknown key", nil,
			func(f *fx) []byte { return fxSignedJSON(f.t, fxFieldAction(fxFirmwareA), f.stranger) }, ErrUnknownKey},

		// Revocation.
		{"revocation of own device key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.acme2) }, nil},
		{"revocation of another manufacturer's device key", func(f *fx) { f.accept(f.enroll(fxOtherUDI, f.dev1, f.other)) },
			func(f *fx) []byte { return f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.acme) }, ErrUnauthorized},
		{"revocation of an unknown device key", nil,
			func(f *fx) []byte { return f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.acme) }, ErrUnauthorized},
		{"revocation of own UDI", nil, func(f *fx) []byte { return f.revoke(TargetUDI, fxUDI, f.acme) }, nil},
		{"revocation of another manufacturer's device", func(f *fx) { f.accept(f.enroll(fxOtherUDI, f.dev1, f.other)) },
			func(f *fx) []byte { return f.revoke(TargetUDI, fxOtherUDI, f.acme) }, ErrUnauthorized},
		{"revocation of own firmware", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.acme)) },
			func(f *fx) []byte { return f.revoke(TargetFirmware, fxFirmwareA, f.acme) }, nil},
		{"revocation of another manufacturer's firmware", func(f *fx) { f.accept(f.sbom(fxFirmwareA, f.other)) },
			func(f *fx) []byte { return f.revoke(TargetFirmware, fxFirmwareA, f.acme) }, ErrUnauthorized},
		{"revocation of unpublished firmware", nil,
			func(f *fx) []byte { return f.revoke(TargetFirmware, fxFirmwareA, f.acme) }, ErrUnauthorized},
		{"revocation of own other key", nil,
			func(f *fx) []byte { return f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme) }, nil},
		{"revocation of another manufacturer's key", nil,
			func(f *fx) []byte { return f.revoke(TargetManufacturerKey, f.other.Public().ID(), f.acme) }, ErrUnauthorized},
		{"revocation of a key in no trust root", nil,
			func(f *fx) []byte { return f.revoke(TargetManufacturerKey, f.stranger.Public().ID(), f.acme) }, ErrUnauthorized},
		{"revocation by a device key", func(f *fx) { f.accept(f.enroll(fxUDI, f.dev1, f.acme)) },
			func(f *fx) []byte { return f.revoke(TargetDeviceKey, f.dev1.Public().ID(), f.dev1) }, ErrUnauthorized},
		{"revocation with a tampered signature", nil,
			func(f *fx) []byte { return fxTamper(f.t, f.revoke(TargetUDI, fxUDI, f.acme)) }, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newStateFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			e := fxParseEntry(t, tc.entry(f))
			err := f.st.Check(e)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Errorf("Check(%s) = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

func TestStateApply(t *testing.T) {
	f := newStateFixture(t)
	if f.st.Roots() != f.roots {
		t.Errorf("Roots() is not the trust roots NewState was given")
	}
	enrollment := fxParseEntry(t, f.enroll(fxUDI+"(10)LOT42", f.dev1, f.acme2))
	if err := f.st.Check(enrollment); err != nil {
		t.Fatalf("Check(enrollment) = %v", err)
	}
	if d := f.st.Device(f.dev1.Public().ID()); d != nil {
		t.Fatalf("Device() before Apply = %+v, want nil", d)
	}
	f.st.Apply(7, enrollment)
	f.st.Apply(9, enrollment) // again, later: the first index stays

	type deviceView struct {
		UDI          string
		KeyID        string
		Manufacturer string
		Enrollment   uint64
	}
	view := func(d *Device) *deviceView {
		if d == nil {
			return nil
		}
		return &deviceView{d.UDI.String(), d.Key.ID(), d.Manufacturer, d.Enrollment}
	}
	want := &deviceView{fxDI + "(10)LOT42(21)SN-0001", f.dev1.Public().ID(), "Acme", 7} // canonical order
	if diff := cmp.Diff(want, view(f.st.Device(f.dev1.Public().ID()))); diff != "" {
		t.Errorf("Device() after Apply (-want +got):\n%s", diff)
	}
	u, err := ParseUDI(fxUDI)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, view(f.st.DeviceByUDI(u))); diff != "" {
		t.Errorf("DeviceByUDI(without lot) (-want +got):\n%s", diff)
	}
	u2, _ := ParseUDI(fxUDI2)
	if d := f.st.DeviceByUDI(u2); d != nil {
		t.Errorf("DeviceByUDI(unenrolled) = %+v, want nil", view(d))
	}
	if d := f.st.Device(f.dev2.Public().ID()); d != nil {
		t.Errorf("Device(unenrolled key) = %+v, want nil", view(d))
	}

	// Firmware ownership and revocation.
	f.next = 10
	f.accept(f.sbom(fxFirmwareA, f.acme))
	if f.st.FirmwareRevoked(fxFirmwareA) {
		t.Errorf("FirmwareRevoked before its revocation = true")
	}
	f.accept(f.revoke(TargetFirmware, fxFirmwareA, f.acme))
	if !f.st.FirmwareRevoked(fxFirmwareA) || f.st.FirmwareRevoked(fxFirmwareB) {
		t.Errorf("FirmwareRevoked(A, B) = %v, %v, want true, false", f.st.FirmwareRevoked(fxFirmwareA), f.st.FirmwareRevoked(fxFirmwareB))
	}
	// An SBOM applied without a trust-root signer gives no ownership.
	stray := fxParseEntry(t, f.sbom(fxFirmwareB, f.stranger))
	f.st.Apply(20, stray)
	if err := f.st.Check(fxParseEntry(t, fxSignedJSON(t, fxFieldAction(fxFirmwareB), f.acme))); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("field action on firmware whose only SBOM had an unknown signer: Check = %v, want %v", err, ErrUnauthorized)
	}
}

// TestStateReplay checks that State is derived state: applying a log's
// entries in order to a new State gives the same answers as the State that
// checked them.
func TestStateReplay(t *testing.T) {
	f := newStateFixture(t)
	var log []*Entry
	for _, env := range [][]byte{
		f.enroll(fxUDI, f.dev1, f.acme),
		f.enroll(fxUDI2, f.dev2, f.acme),
		f.sbom(fxFirmwareA, f.acme),
		f.revoke(TargetUDI, fxUDI2, f.acme),
		f.revoke(TargetManufacturerKey, f.acme2.Public().ID(), f.acme),
	} {
		log = append(log, f.accept(env))
	}
	replayed := NewState(f.roots)
	for i, e := range log {
		replayed.Apply(uint64(i), e)
	}
	probes := []struct {
		name string
		env  []byte
		want error
	}{
		{"attestation of a live device", f.attest(fxUDI, f.dev1), nil},
		{"attestation of a revoked device", f.attest(fxUDI2, f.dev2), ErrRevoked},
		{"enrollment by a revoked key", f.enroll("(01)00614141999996(21)SN-0003", fxNewKey(t, AlgEd25519), f.acme2), ErrRevoked},
		{"SBOM of owned firmware by another", f.sbom(fxFirmwareA, f.other), ErrConflict},
		{"enrollment of an enrolled key", f.enroll("(01)00614141999996(21)SN-0004", f.dev1, f.acme), ErrConflict},
		{"enrollment of a new device", f.enroll("(01)00614141999996(21)SN-0005", fxNewKey(t, AlgP256), f.acme), nil},
	}
	for _, p := range probes {
		e := fxParseEntry(t, p.env)
		for name, st := range map[string]*State{"checking": f.st, "replayed": replayed} {
			if err := st.Check(e); !errors.Is(err, p.want) || (err != nil) != (p.want != nil) {
				t.Errorf("%s state: Check(%s) = %v, want %v", name, p.name, err, p.want)
			}
		}
	}
}

// TestStateConcurrent runs Check and Apply at once; run it with -race.
func TestStateConcurrent(t *testing.T) {
	f := newStateFixture(t)
	f.accept(f.enroll(fxUDI, f.dev1, f.acme))
	att := fxParseEntry(t, f.attest(fxUDI, f.dev1))
	var enrollments []*Entry
	for i := 0; i < 20; i++ {
		udi := "(01)00614141999996(21)C" + string(rune('A'+i))
		enrollments = append(enrollments, fxParseEntry(t, f.enroll(udi, fxNewKey(t, AlgEd25519), f.acme)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := f.st.Check(att); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i, e := range enrollments {
		f.st.Apply(uint64(100+i), e)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Check(attestation) during Apply = %v, want nil", err)
	}
	for _, e := range enrollments {
		if f.st.Device(e.DeviceKey().ID()) == nil {
			t.Errorf("enrollment of %s not applied", e.UDI())
		}
	}
}
