package client

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// State is what the log's history says about who may sign what: enrolled
// devices and their keys, revocations, and which manufacturer published each
// firmware build. It is derived state: folding the log's entries in order with
// Apply rebuilds it from nothing, which is how the log server recovers after a
// restart and how an auditor re-checks the log independently.
//
// Check, CheckAuthority and Apply may be called concurrently. The checks see
// the entries applied so far; a caller that must not let a concurrent Apply
// change the answer between Check and sequencing (the log server) orders
// them itself.
type State struct {
	roots *TrustRoots

	mu              sync.RWMutex
	devices         map[string]*Device // by device key ID
	byDeviceID      map[string]string  // UDI.DeviceID -> device key ID
	revokedKeys     map[string]uint64  // device or manufacturer key ID -> revocation index
	revokedDevices  map[string]uint64  // UDI.DeviceID -> revocation index
	revokedFirmware map[string]uint64  // firmware digest -> revocation index
	firmware        map[string]string  // firmware digest -> manufacturer name
}

// Device is an enrolled device.
type Device struct {
	UDI          UDI
	Key          *PublicKey
	Manufacturer string
	// Enrollment is the log index of the device's enrollment entry.
	Enrollment uint64
}

// NewState returns the state of an empty log under the given trust roots.
func NewState(roots *TrustRoots) *State {
	return &State{
		roots:           roots,
		devices:         map[string]*Device{},
		byDeviceID:      map[string]string{},
		revokedKeys:     map[string]uint64{},
		revokedDevices:  map[string]uint64{},
		revokedFirmware: map[string]uint64{},
		firmware:        map[string]string{},
	}
}

// Roots returns the trust roots the state checks against.
func (s *State) Roots() *TrustRoots { return s.roots }

// Device returns the device enrolled with the given key ID, or nil.
func (s *State) Device(keyID string) *Device {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.devices[keyID]
}

// DeviceByUDI returns the device enrolled under u's DeviceID, or nil.
func (s *State) DeviceByUDI(u UDI) *Device {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.devices[s.byDeviceID[u.DeviceID()]]
}

// Check verifies an entry's signature and its signer's authority against the
// state: the checks the log makes before it accepts a submission. Errors wrap
// ErrUnknownKey, ErrBadSignature, ErrNotEnrolled, ErrRevoked, ErrUnauthorized
// or ErrConflict.
func (s *State) Check(e *Entry) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkLocked(e, true)
}

// CheckAuthority makes Check's checks but the signature checks: the caller
// has already verified, with VerifySignatures and the key the entry's key ID
// names, the envelope signature and, for an enrollment, the device's proof of
// possession. It lets a caller verify the signatures of many entries in
// parallel and judge authority, which depends on the entries before, in log
// order. For an entry whose signatures verify it returns what Check returns;
// for one whose signatures do not, call Check to learn which error Check
// gives (an authority failure it meets first, or ErrBadSignature).
func (s *State) CheckAuthority(e *Entry) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkLocked(e, false)
}

// VerifySignatures verifies an entry's signatures with signer, the key its
// signature's key ID names (a key ID is the SHA-256 of the key, so it names
// one key): the envelope signature and, for an enrollment, the device's
// proof of possession. It needs no state, so it may run in parallel for many
// entries; see CheckAuthority. Errors wrap ErrBadSignature.
func VerifySignatures(e *Entry, signer *PublicKey) error {
	if signer.ID() != e.SignerKeyID() {
		return fmt.Errorf("%w: not the key the signature names", ErrBadSignature)
	}
	if err := verifyEnvelope(e, signer); err != nil {
		return err
	}
	if e.Kind == KindEnrollment {
		return verifyPossession(e)
	}
	return nil
}

// verifyEnvelope verifies the envelope's signature under k.
func verifyEnvelope(e *Entry, k *PublicKey) error {
	if k.Verify(e.Envelope.PAE(), e.Envelope.Signatures[0].Sig) {
		return nil
	}
	if e.Kind == KindAttestation {
		return fmt.Errorf("%w: device signature", ErrBadSignature)
	}
	return fmt.Errorf("%w: manufacturer signature", ErrBadSignature)
}

// verifyPossession verifies an enrollment's proof of possession: the device
// key's signature over the UDI and the enrolling manufacturer's key ID.
func verifyPossession(e *Entry) error {
	pop, _ := base64.StdEncoding.DecodeString(e.Enrollment.ProofOfPossession)
	if !e.deviceKey.Verify(PossessionMessage(e.Enrollment.UDI, e.SignerKeyID()), pop) {
		return fmt.Errorf("%w: device proof of possession", ErrBadSignature)
	}
	return nil
}

// checkLocked holds the rules of Check. With verify it verifies the
// signatures where the rules meet them; without, it takes them as verified
// (CheckAuthority). Either way each rule is checked at the same point, so
// the two agree on every entry whose signatures verify.
func (s *State) checkLocked(e *Entry, verify bool) error {
	keyID := e.SignerKeyID()
	if e.Kind == KindAttestation {
		return s.checkAttestationLocked(e, keyID, verify)
	}
	m := s.roots.ManufacturerOf(keyID)
	if m == nil {
		if s.devices[keyID] != nil {
			return fmt.Errorf("%w: a device key may sign only attestations", ErrUnauthorized)
		}
		return fmt.Errorf("%w: not a trust-root manufacturer key", ErrUnknownKey)
	}
	if _, ok := s.revokedKeys[keyID]; ok {
		return fmt.Errorf("%w: manufacturer key", ErrRevoked)
	}
	if verify {
		if err := verifyEnvelope(e, m.key(keyID)); err != nil {
			return err
		}
	}
	switch e.Kind {
	case KindEnrollment:
		return s.checkEnrollmentLocked(e, m, verify)
	case KindSBOM:
		if owner, ok := s.firmware[e.FirmwareDigest()]; ok && owner != m.Name {
			return fmt.Errorf("%w: firmware published by another manufacturer", ErrConflict)
		}
	case KindRevocation:
		return s.checkRevocationLocked(e.Revocation.Target, e.udi, m)
	case KindFieldAction:
		return s.checkFieldActionLocked(e.FieldAction, m)
	}
	return nil
}

func (s *State) checkAttestationLocked(e *Entry, keyID string, verify bool) error {
	d := s.devices[keyID]
	if d == nil {
		if s.roots.ManufacturerOf(keyID) != nil {
			return fmt.Errorf("%w: attestations are signed by the device key", ErrUnauthorized)
		}
		return fmt.Errorf("%w: no enrollment binds this key", ErrNotEnrolled)
	}
	if _, ok := s.revokedKeys[keyID]; ok {
		return fmt.Errorf("%w: device key", ErrRevoked)
	}
	if _, ok := s.revokedDevices[d.UDI.DeviceID()]; ok {
		return fmt.Errorf("%w: device", ErrRevoked)
	}
	if verify {
		if err := verifyEnvelope(e, d.Key); err != nil {
			return err
		}
	}
	if e.udi.DeviceID() != d.UDI.DeviceID() {
		return fmt.Errorf("%w: the device key is enrolled for another UDI", ErrUnauthorized)
	}
	return nil
}

func (s *State) checkEnrollmentLocked(e *Entry, m *Manufacturer, verify bool) error {
	u, dk := e.udi, e.deviceKey
	if !m.Covers(u.DI) {
		return fmt.Errorf("%w: UDI-DI outside the manufacturer's prefixes", ErrUnauthorized)
	}
	if verify {
		if err := verifyPossession(e); err != nil {
			return err
		}
	}
	if s.roots.ManufacturerOf(dk.ID()) != nil {
		return fmt.Errorf("%w: device key is a manufacturer key", ErrConflict)
	}
	if _, ok := s.revokedKeys[dk.ID()]; ok {
		return fmt.Errorf("%w: device key", ErrRevoked)
	}
	if _, ok := s.revokedDevices[u.DeviceID()]; ok {
		return fmt.Errorf("%w: device", ErrRevoked)
	}
	if d := s.devices[dk.ID()]; d != nil {
		return fmt.Errorf("%w: device key already enrolled (index %d)", ErrConflict, d.Enrollment)
	}
	if id, ok := s.byDeviceID[u.DeviceID()]; ok {
		return fmt.Errorf("%w: UDI already enrolled (index %d)", ErrConflict, s.devices[id].Enrollment)
	}
	return nil
}

func (s *State) checkRevocationLocked(t RevocationTarget, u UDI, m *Manufacturer) error {
	switch t.Type {
	case TargetDeviceKey:
		d := s.devices[t.ID]
		if d == nil || d.Manufacturer != m.Name {
			return fmt.Errorf("%w: not a device key this manufacturer enrolled", ErrUnauthorized)
		}
	case TargetUDI:
		if !m.Covers(u.DI) {
			return fmt.Errorf("%w: UDI-DI outside the manufacturer's prefixes", ErrUnauthorized)
		}
	case TargetFirmware:
		if s.firmware[t.ID] != m.Name {
			return fmt.Errorf("%w: firmware not published by this manufacturer", ErrUnauthorized)
		}
	case TargetManufacturerKey:
		if s.roots.ManufacturerOf(t.ID) != m {
			return fmt.Errorf("%w: not a key of this manufacturer", ErrUnauthorized)
		}
	}
	return nil
}

func (s *State) checkFieldActionLocked(fa *FieldAction, m *Manufacturer) error {
	for _, di := range fa.Affected.UDIDIs {
		d, _ := ParseDI(di)
		if !m.Covers(d) {
			return fmt.Errorf("%w: affected UDI-DI outside the manufacturer's prefixes", ErrUnauthorized)
		}
	}
	digests := fa.Affected.Firmware
	if fa.Remedy != nil {
		digests = append(digests[:len(digests):len(digests)], fa.Remedy.Digest)
	}
	for _, d := range digests {
		if s.firmware[d] != m.Name {
			return fmt.Errorf("%w: firmware not published by this manufacturer", ErrUnauthorized)
		}
	}
	return nil
}

// Apply folds an accepted entry, at log index idx, into the state. Applying
// the same entry twice is harmless.
func (s *State) Apply(idx uint64, e *Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case KindEnrollment:
		m := s.roots.ManufacturerOf(e.SignerKeyID())
		name := ""
		if m != nil {
			name = m.Name
		}
		s.addDeviceLocked(&Device{UDI: e.udi, Key: e.deviceKey, Manufacturer: name, Enrollment: idx})
	case KindSBOM:
		if _, ok := s.firmware[e.FirmwareDigest()]; !ok {
			if m := s.roots.ManufacturerOf(e.SignerKeyID()); m != nil {
				s.firmware[e.FirmwareDigest()] = m.Name
			}
		}
	case KindRevocation:
		t := e.Revocation.Target
		switch t.Type {
		case TargetDeviceKey, TargetManufacturerKey:
			setOnce(s.revokedKeys, t.ID, idx)
		case TargetUDI:
			setOnce(s.revokedDevices, e.udi.DeviceID(), idx)
		case TargetFirmware:
			setOnce(s.revokedFirmware, t.ID, idx)
		}
	}
}

// addDeviceLocked records an enrolled device unless its key is enrolled
// already. A device ID stays bound to the first device enrolled under it.
func (s *State) addDeviceLocked(d *Device) {
	id := d.Key.ID()
	if s.devices[id] != nil {
		return
	}
	s.devices[id] = d
	if _, ok := s.byDeviceID[d.UDI.DeviceID()]; !ok {
		s.byDeviceID[d.UDI.DeviceID()] = id
	}
}

// FirmwareRevoked reports whether a firmware build has been revoked.
func (s *State) FirmwareRevoked(digest string) bool {
	_, ok := s.firmwareRevocation(digest)
	return ok
}

func setOnce(m map[string]uint64, k string, v uint64) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// firmwareRevocation returns the log index of the revocation of a firmware
// build, if it has one.
func (s *State) firmwareRevocation(digest string) (uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.revokedFirmware[digest]
	return idx, ok
}

// firmwareOwner returns the manufacturer that published a firmware build,
// or "".
func (s *State) firmwareOwner(digest string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.firmware[digest]
}

// deviceRevocation returns the log index of the first revocation of d's key
// or of its UDI, if there is one.
func (s *State) deviceRevocation(d *Device) (uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, kok := s.revokedKeys[d.Key.ID()]
	u, uok := s.revokedDevices[d.UDI.DeviceID()]
	switch {
	case kok && uok:
		return min(k, u), true
	case kok:
		return k, true
	}
	return u, uok
}

// deviceKeys returns the keys of the enrolled devices.
func (s *State) deviceKeys() []*PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]*PublicKey, 0, len(s.devices))
	for _, d := range s.devices {
		keys = append(keys, d.Key)
	}
	return keys
}

// deviceCount returns the number of enrolled devices.
func (s *State) deviceCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.devices)
}

// stateSnapshot is a State in JSON, as an audit persists it. Key IDs,
// firmware digests and device IDs (UDI.DeviceID) key the maps; Devices are
// in enrollment order.
type stateSnapshot struct {
	Devices         []deviceSnapshot  `json:"devices"`
	RevokedKeys     map[string]uint64 `json:"revokedKeys"`     // device or manufacturer key ID -> revocation index
	RevokedDevices  map[string]uint64 `json:"revokedDevices"`  // device ID -> revocation index
	RevokedFirmware map[string]uint64 `json:"revokedFirmware"` // firmware digest -> revocation index
	Firmware        map[string]string `json:"firmware"`        // firmware digest -> manufacturer name
}

// deviceSnapshot is an enrolled device in a stateSnapshot.
type deviceSnapshot struct {
	UDI          string `json:"udi"`
	Key          []byte `json:"key"` // DER SubjectPublicKeyInfo
	Manufacturer string `json:"manufacturer"`
	Enrollment   uint64 `json:"enrollment"`
}

// snapshot returns a copy of the state, to persist.
func (s *State) snapshot() *stateSnapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	snap := &stateSnapshot{
		Devices:         make([]deviceSnapshot, 0, len(s.devices)),
		RevokedKeys:     maps.Clone(s.revokedKeys),
		RevokedDevices:  maps.Clone(s.revokedDevices),
		RevokedFirmware: maps.Clone(s.revokedFirmware),
		Firmware:        maps.Clone(s.firmware),
	}
	for _, d := range s.devices {
		snap.Devices = append(snap.Devices, deviceSnapshot{UDI: d.UDI.String(), Key: d.Key.DER(), Manufacturer: d.Manufacturer, Enrollment: d.Enrollment})
	}
	slices.SortFunc(snap.Devices, func(a, b deviceSnapshot) int { return cmp.Compare(a.Enrollment, b.Enrollment) })
	return snap
}

// restoreState rebuilds the State a snapshot was taken of, under the trust
// roots it was taken under.
func restoreState(roots *TrustRoots, snap *stateSnapshot) (*State, error) {
	s := NewState(roots)
	devices := slices.Clone(snap.Devices)
	// In enrollment order, as Apply saw them: a device ID is bound to the
	// first device enrolled under it.
	slices.SortStableFunc(devices, func(a, b deviceSnapshot) int { return cmp.Compare(a.Enrollment, b.Enrollment) })
	for i, ds := range devices {
		k, err := ParsePublicKeyDER(ds.Key)
		if err != nil {
			return nil, fmt.Errorf("device %d: %w", i, err)
		}
		u, err := ParseUDI(ds.UDI)
		if err != nil {
			return nil, fmt.Errorf("device %d: %w", i, err)
		}
		if s.devices[k.ID()] != nil {
			return nil, fmt.Errorf("device %d: key listed twice", i)
		}
		s.addDeviceLocked(&Device{UDI: u, Key: k, Manufacturer: ds.Manufacturer, Enrollment: ds.Enrollment})
	}
	maps.Copy(s.revokedKeys, snap.RevokedKeys)
	maps.Copy(s.revokedDevices, snap.RevokedDevices)
	maps.Copy(s.revokedFirmware, snap.RevokedFirmware)
	maps.Copy(s.firmware, snap.Firmware)
	return s, nil
}
