package client

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// NewStatement returns the in-toto statement for one of vigil's own
// predicates (enrollment, attestation, revocation, field action), with the
// subject each kind defines:
//
//   - enrollment: the UDI, digest = the device key's ID;
//   - attestation: the UDI, digest = the firmware image digest;
//   - revocation: the target type, digest = the target ID for key and
//     firmware targets, SHA-256 of the UDI text for a UDI target;
//   - field action: the action's ID, digest = SHA-256 of the predicate.
//
// SBOM statements name a firmware image the predicate does not identify:
// build them with NewSBOMStatement.
func NewStatement(predicateType string, predicate any) (*Statement, error) {
	raw, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("encoding predicate: %w", err)
	}
	var sub Subject
	switch p := predicate.(type) {
	case *Enrollment:
		u, err := ParseUDI(p.UDI)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKeyPEM([]byte(p.DeviceKey))
		if err != nil {
			return nil, err
		}
		sub = Subject{Name: u.String(), Digest: map[string]string{"sha256": k.ID()}}
	case *Attestation:
		u, err := ParseUDI(p.UDI)
		if err != nil {
			return nil, err
		}
		sub = Subject{Name: u.String(), Digest: map[string]string{"sha256": p.Firmware.Digest}}
	case *Revocation:
		d := p.Target.ID
		if p.Target.Type == TargetUDI {
			d = sha256Hex([]byte(p.Target.ID))
		}
		sub = Subject{Name: p.Target.Type, Digest: map[string]string{"sha256": d}}
	case *FieldAction:
		sub = Subject{Name: p.ID, Digest: map[string]string{"sha256": sha256Hex(raw)}}
	default:
		return nil, fmt.Errorf("%w: %T is not a vigil predicate", ErrPredicateType, predicate)
	}
	return &Statement{Type: StatementType, Subject: []Subject{sub}, PredicateType: predicateType, Predicate: raw}, nil
}

// NewSBOMStatement returns the statement binding an SBOM document (CycloneDX
// or SPDX JSON, with its predicate type) to a firmware image.
func NewSBOMStatement(predicateType string, sbom []byte, firmwareName, firmwareSHA256 string) *Statement {
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: firmwareName, Digest: map[string]string{"sha256": firmwareSHA256}}},
		PredicateType: predicateType,
		Predicate:     sbom,
	}
}

// Sign encodes the statement and signs it into a DSSE envelope.
func (s *Statement) Sign(k *PrivateKey) (*Envelope, error) {
	payload, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	return SignEnvelope(PayloadTypeInToto, payload, k)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
