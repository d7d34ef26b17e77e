package client

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
)

// Standing is what a full audit of a log says about one entry beyond what
// its evidence bundle proves: whether the log should have refused it, and
// the revocations that bear on it. A bundle verifies offline; revocations
// live in the log's history, and only a replay of all of it (Audit) knows
// every one: no index a server keeps can prove it left none out.
type Standing struct {
	// Audited is the size of the checkpoint the audit reached: the
	// revocations are those known up to it.
	Audited uint64
	// Anomalies are the anomalies the audit recorded at the entry's index.
	Anomalies []Anomaly
	// Revocations are the revocations of the entry's signer key, its
	// device (key and UDI), the key that enrolled that device and the
	// firmware it names, in log order.
	Revocations []RevocationNote
}

// RevocationNote is a revocation that bears on an entry.
type RevocationNote struct {
	// Target is what was revoked: "device key", "device", "manufacturer
	// key" or "firmware"; ID names it (a key ID, a UDI's device ID or a
	// firmware digest).
	Target string `json:"target"`
	ID     string `json:"id"`
	// Index is the revocation's log index.
	Index uint64 `json:"index"`
}

// Refused reports whether the log should have refused the entry: an anomaly
// of that sort was recorded at its index (a revoked signer, say).
func (s *Standing) Refused() bool {
	for i := range s.Anomalies {
		if s.Anomalies[i].ShouldHaveBeenRefused() {
			return true
		}
	}
	return false
}

// Standing returns what the audit knows of the verified entry v: the
// anomalies at its index and the revocations, before or after it, of what
// it depends on. A revocation after the entry leaves it valid evidence (the
// log's order proves it came first) but is news to whoever relies on it.
// The audit must have reached v's checkpoint, and v must come from a log
// consistent with the audited one (the Tracker's checks), so that the
// audited entry at v.Index is v's.
func (r *AuditReport) Standing(v *Verified) (*Standing, error) {
	switch {
	case r.index == nil:
		return nil, fmt.Errorf("the audit report has no local index")
	case r.Origin != v.Checkpoint.Origin:
		return nil, fmt.Errorf("the audit is of %q, the entry of %q", r.Origin, v.Checkpoint.Origin)
	case r.Size < v.Checkpoint.Size:
		return nil, fmt.Errorf("the audit reached size %d, short of the entry's checkpoint (size %d)", r.Size, v.Checkpoint.Size)
	}
	s := &Standing{Audited: r.Size}
	i := sort.Search(len(r.Anomalies), func(i int) bool { return r.Anomalies[i].Index >= v.Index })
	for ; i < len(r.Anomalies) && r.Anomalies[i].Index == v.Index; i++ {
		s.Anomalies = append(s.Anomalies, r.Anomalies[i])
	}
	st := r.index.state
	st.mu.RLock()
	defer st.mu.RUnlock()
	note := func(target, id string, m map[string]uint64) {
		if idx, ok := m[id]; ok && id != "" {
			s.Revocations = append(s.Revocations, RevocationNote{Target: target, ID: id, Index: idx})
		}
	}
	e := v.Entry
	signer := "manufacturer key"
	if e.Kind == KindAttestation {
		signer = "device key"
	}
	note(signer, e.SignerKeyID(), st.revokedKeys)
	switch e.Kind {
	case KindEnrollment:
		note("device key", e.deviceKey.ID(), st.revokedKeys)
		note("device", e.udi.DeviceID(), st.revokedDevices)
	case KindAttestation:
		note("device", e.udi.DeviceID(), st.revokedDevices)
		if v.Enrollment != nil {
			note("manufacturer key", v.Enrollment.Entry.SignerKeyID(), st.revokedKeys)
		}
		note("firmware", e.Attestation.Firmware.Digest, st.revokedFirmware)
	case KindSBOM:
		note("firmware", e.FirmwareDigest(), st.revokedFirmware)
	}
	slices.SortFunc(s.Revocations, func(a, b RevocationNote) int { return cmp.Compare(a.Index, b.Index) })
	return s, nil
}
