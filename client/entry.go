package client

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// Kind is an entry kind. Its numeric value is part of the leaf encoding.
type Kind uint8

// The five entry kinds of vigil's evidence model.
const (
	KindEnrollment  Kind = 1
	KindSBOM        Kind = 2
	KindAttestation Kind = 3
	KindRevocation  Kind = 4
	KindFieldAction Kind = 5
)

// Predicate types of vigil's own entry kinds (SBOMs use the standard
// CycloneDX and SPDX ones, PredicateCycloneDX and PredicateSPDX).
const (
	PredicateEnrollment  = "https://vigil.dev/enrollment/v1"
	PredicateAttestation = "https://vigil.dev/attestation/v1"
	PredicateRevocation  = "https://vigil.dev/revocation/v1"
	PredicateFieldAction = "https://vigil.dev/field-action/v1"
)

var kindNames = map[Kind]string{
	KindEnrollment:  "enrollment",
	KindSBOM:        "sbom",
	KindAttestation: "attestation",
	KindRevocation:  "revocation",
	KindFieldAction: "field-action",
}

// String returns the kind's name: enrollment, sbom, attestation, revocation
// or field-action.
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for k, n := range kindNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown entry kind %q", s)
}

// KindOf returns the kind a predicate type belongs to.
func KindOf(predicateType string) (Kind, error) {
	switch predicateType {
	case PredicateEnrollment:
		return KindEnrollment, nil
	case PredicateAttestation:
		return KindAttestation, nil
	case PredicateRevocation:
		return KindRevocation, nil
	case PredicateFieldAction:
		return KindFieldAction, nil
	}
	if IsSBOMPredicate(predicateType) {
		return KindSBOM, nil
	}
	return 0, fmt.Errorf("%w: not a vigil, CycloneDX or SPDX predicate", ErrPredicateType)
}

// Enrollment binds a device (its UDI) to a hardware-rooted device key. It is
// signed by the manufacturer, whose trust-root UDI prefixes must cover the UDI.
type Enrollment struct {
	// UDI is the device's UDI in human-readable form, with its serial.
	UDI string `json:"udi"`
	// DeviceKey is the device's public key, PKIX PEM (Ed25519 or P-256).
	DeviceKey string `json:"deviceKey"`
	// Model is the device model's name, free text.
	Model string `json:"model"`
	// Binding is the evidence that the key lives in the device's hardware.
	Binding Binding `json:"binding"`
	// ProofOfPossession is the device key's signature (base64) over
	// PossessionMessage(UDI, manufacturer key ID).
	ProofOfPossession string `json:"proofOfPossession"`
}

// Binding is the manufacturer's evidence that a device key is hardware-rooted.
// vigil records it; it cannot check vendor-specific PUF or secure-element
// evidence itself.
type Binding struct {
	// Type is "puf", "secure-element" or "tpm".
	Type string `json:"type"`
	// Evidence is the vendor's binding evidence, base64.
	Evidence string `json:"evidence"`
}

// PossessionMessage is what a device key signs to prove, at enrollment, that
// the device holds it: it names the UDI and the enrolling manufacturer's key,
// so a proof cannot be replayed for another device or manufacturer.
func PossessionMessage(udi, manufacturerKeyID string) []byte {
	return []byte("vigil enrollment proof of possession v1\n" + udi + "\n" + manufacturerKeyID + "\n")
}

// Attestation is a device's signed report of its own state. Attestations of
// one device form a hash chain: Seq counts up from 0 and Prev is the SHA-256
// of the previous attestation's statement (the DSSE payload).
type Attestation struct {
	UDI          string        `json:"udi"`
	Seq          uint64        `json:"seq"`
	Prev         string        `json:"prev"` // hex SHA-256 of the previous payload; empty when Seq is 0
	Time         time.Time     `json:"time"` // the device's clock, RFC 3339
	Firmware     Firmware      `json:"firmware"`
	ConfigDigest string        `json:"configDigest"` // hex SHA-256 of the configuration baseline
	Measurements []Measurement `json:"measurements,omitempty"`
	Verdict      string        `json:"verdict"` // "pass", "fail" or "unknown"
}

// Firmware names a firmware build by its image digest.
type Firmware struct {
	Version string `json:"version"`
	Digest  string `json:"digest"` // hex SHA-256 of the firmware image
}

// Measurement is one runtime measurement (a PCR-like register).
type Measurement struct {
	Name   string `json:"name"`
	Digest string `json:"digest"` // hex SHA-256
}

// Revocation withdraws a device key, a device (UDI), a firmware build or a
// manufacturer key. It takes effect at its position in the log; Effective
// records when the manufacturer says it became true.
type Revocation struct {
	Target    RevocationTarget `json:"target"`
	Reason    string           `json:"reason"`
	Effective time.Time        `json:"effective"`
}

// Revocation target types.
const (
	TargetDeviceKey       = "device-key"       // ID: PublicKey.ID of a device key
	TargetUDI             = "udi"              // ID: a UDI with serial
	TargetFirmware        = "firmware"         // ID: hex SHA-256 of a firmware image
	TargetManufacturerKey = "manufacturer-key" // ID: PublicKey.ID of a manufacturer key
)

// RevocationTarget names what a revocation withdraws.
type RevocationTarget struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// FieldAction is a field safety corrective action (FSCA, recall).
type FieldAction struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Issued     time.Time `json:"issued"`
	Affected   Affected  `json:"affected"`
	Remedy     *Firmware `json:"remedy,omitempty"`
	References []string  `json:"references,omitempty"`
}

// Affected is a field action's population: firmware builds and device models.
type Affected struct {
	Firmware []string `json:"firmware,omitempty"` // hex SHA-256 image digests
	UDIDIs   []string `json:"udiDIs,omitempty"`   // UDI-DIs in human-readable form
}

// Entry is a decoded, schema-checked submission. Its signature and the
// signer's authority are not checked here: see State.Check.
type Entry struct {
	Kind      Kind
	Envelope  *Envelope
	Statement *Statement
	// Exactly one of the following is set, according to Kind.
	Enrollment  *Enrollment
	SBOM        *SBOM
	Attestation *Attestation
	Revocation  *Revocation
	FieldAction *FieldAction

	// Parsed forms of identifiers in the predicate.
	udi       UDI        // enrollment, attestation, UDI revocation
	deviceKey *PublicKey // enrollment
}

// ParseEntry decodes a DSSE envelope (JSON) and checks it as a vigil entry.
func ParseEntry(envelopeJSON []byte) (*Entry, error) {
	env, err := ParseEnvelope(envelopeJSON)
	if err != nil {
		return nil, err
	}
	return NewEntry(env)
}

// NewEntry checks a decoded envelope as a vigil entry: the payload type, one
// signature with a key ID, an in-toto statement, a known predicate type and a
// predicate that matches its kind's schema.
func NewEntry(env *Envelope) (*Entry, error) {
	if env.PayloadType != PayloadTypeInToto {
		return nil, fmt.Errorf("%w: want %s", ErrPayloadType, PayloadTypeInToto)
	}
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: found %d", ErrSignatureCount, len(env.Signatures))
	}
	if s := env.Signatures[0]; !isSHA256Hex(s.KeyID) || len(s.Sig) == 0 || len(s.Sig) > maxSigSize {
		return nil, fmt.Errorf("%w: signature needs a keyid (hex SHA-256 of the signer's PKIX key) and 1 to %d bytes of signature", ErrSignatureCount, maxSigSize)
	}
	st, err := ParseStatement(env.Payload)
	if err != nil {
		return nil, err
	}
	kind, err := KindOf(st.PredicateType)
	if err != nil {
		return nil, err
	}
	e := &Entry{Kind: kind, Envelope: env, Statement: st}
	switch kind {
	case KindEnrollment:
		err = e.checkEnrollment()
	case KindSBOM:
		err = e.checkSBOM()
	case KindAttestation:
		err = e.checkAttestation()
	case KindRevocation:
		err = e.checkRevocation()
	case KindFieldAction:
		err = e.checkFieldAction()
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// SignerKeyID returns the key ID of the envelope's one signature.
func (e *Entry) SignerKeyID() string { return e.Envelope.Signatures[0].KeyID }

// PayloadDigest returns the hex SHA-256 of the DSSE payload: the value the
// next attestation's Prev names, and the address of an SBOM blob.
func (e *Entry) PayloadDigest() string {
	h := sha256.Sum256(e.Envelope.Payload)
	return hex.EncodeToString(h[:])
}

// UDI returns the parsed UDI of an enrollment, an attestation or a UDI
// revocation, and the zero UDI otherwise.
func (e *Entry) UDI() UDI { return e.udi }

// DeviceKey returns the device key of an enrollment, nil otherwise.
func (e *Entry) DeviceKey() *PublicKey { return e.deviceKey }

// FirmwareDigest returns the hex SHA-256 digest of the firmware image an SBOM
// describes (its first subject's sha256 digest), or "" for other kinds.
func (e *Entry) FirmwareDigest() string {
	if e.Kind != KindSBOM {
		return ""
	}
	return e.Statement.Subject[0].Digest["sha256"]
}

// maxSigSize bounds a signature: an Ed25519 signature is 64 bytes, a DER
// ECDSA P-256 one at most 72.
const maxSigSize = 128

// maxText bounds free-text predicate fields (model, reason, title, ...).
const maxText = 1024

func predicateErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrPredicate}, a...)...)
}

func checkText(field, s string, required bool) error {
	if required && s == "" {
		return predicateErr("%s is required", field)
	}
	if len(s) > maxText {
		return predicateErr("%s longer than %d bytes", field, maxText)
	}
	return nil
}

func (e *Entry) checkEnrollment() error {
	var p Enrollment
	if err := decodeStrict(e.Statement.Predicate, &p); err != nil {
		return fmt.Errorf("enrollment predicate: %w", err)
	}
	u, err := ParseUDI(p.UDI)
	if err != nil {
		return err
	}
	k, err := ParsePublicKeyPEM([]byte(p.DeviceKey))
	if err != nil {
		return err
	}
	if err := checkText("model", p.Model, true); err != nil {
		return err
	}
	switch p.Binding.Type {
	case "puf", "secure-element", "tpm":
	default:
		return predicateErr("binding.type must be puf, secure-element or tpm")
	}
	if ev, err := base64.StdEncoding.DecodeString(p.Binding.Evidence); err != nil || len(ev) == 0 || len(ev) > 8192 {
		return predicateErr("binding.evidence must be 1 to 8192 bytes, standard base64")
	}
	if pop, err := base64.StdEncoding.DecodeString(p.ProofOfPossession); err != nil || len(pop) == 0 || len(pop) > maxSigSize {
		return predicateErr("proofOfPossession must be a signature in standard base64")
	}
	if !e.oneSubject(u.String(), k.ID()) {
		return predicateErr("the one subject must be named by the UDI with the device key ID as its sha256 digest")
	}
	e.Enrollment, e.udi, e.deviceKey = &p, u, k
	return nil
}

func (e *Entry) checkSBOM() error {
	sub := e.Statement.Subject[0]
	if len(e.Statement.Subject) != 1 || !isSHA256Hex(sub.Digest["sha256"]) || sub.Name == "" {
		return predicateErr("an SBOM statement has one subject: the firmware image, named, with a sha256 digest")
	}
	s, err := ParseSBOM(e.Statement.PredicateType, e.Statement.Predicate)
	if err != nil {
		return err
	}
	e.SBOM = s
	return nil
}

func (e *Entry) checkAttestation() error {
	var p Attestation
	if err := decodeStrict(e.Statement.Predicate, &p); err != nil {
		return fmt.Errorf("attestation predicate: %w", err)
	}
	u, err := ParseUDI(p.UDI)
	if err != nil {
		return err
	}
	switch {
	case p.Seq == 0 && p.Prev != "":
		return predicateErr("prev must be empty for seq 0")
	case p.Seq > 0 && !isSHA256Hex(p.Prev):
		return predicateErr("prev must be the hex SHA-256 of the previous attestation")
	case p.Time.IsZero():
		return predicateErr("time is required")
	case !isSHA256Hex(p.Firmware.Digest):
		return predicateErr("firmware.digest must be a hex SHA-256")
	case !isSHA256Hex(p.ConfigDigest):
		return predicateErr("configDigest must be a hex SHA-256")
	case len(p.Measurements) > 64:
		return predicateErr("at most 64 measurements")
	}
	if err := checkText("firmware.version", p.Firmware.Version, true); err != nil {
		return err
	}
	for _, m := range p.Measurements {
		if err := checkText("measurement name", m.Name, true); err != nil {
			return err
		}
		if !isSHA256Hex(m.Digest) {
			return predicateErr("measurement digest must be a hex SHA-256")
		}
	}
	switch p.Verdict {
	case "pass", "fail", "unknown":
	default:
		return predicateErr("verdict must be pass, fail or unknown")
	}
	if !e.oneSubject(u.String(), p.Firmware.Digest) {
		return predicateErr("the one subject must be named by the UDI with the firmware digest as its sha256 digest")
	}
	e.Attestation, e.udi = &p, u
	return nil
}

func (e *Entry) checkRevocation() error {
	var p Revocation
	if err := decodeStrict(e.Statement.Predicate, &p); err != nil {
		return fmt.Errorf("revocation predicate: %w", err)
	}
	switch p.Target.Type {
	case TargetDeviceKey, TargetManufacturerKey, TargetFirmware:
		if !isSHA256Hex(p.Target.ID) {
			return predicateErr("target.id must be a hex SHA-256 for this target type")
		}
	case TargetUDI:
		u, err := ParseUDI(p.Target.ID)
		if err != nil {
			return err
		}
		e.udi = u
	default:
		return predicateErr("target.type must be device-key, udi, firmware or manufacturer-key")
	}
	if err := checkText("reason", p.Reason, true); err != nil {
		return err
	}
	if p.Effective.IsZero() {
		return predicateErr("effective is required")
	}
	d := p.Target.ID
	if p.Target.Type == TargetUDI {
		d = sha256Hex([]byte(p.Target.ID))
	}
	if !e.oneSubject(p.Target.Type, d) {
		return predicateErr("the one subject must be named by the target type with the target's digest")
	}
	e.Revocation = &p
	return nil
}

func (e *Entry) checkFieldAction() error {
	var p FieldAction
	if err := decodeStrict(e.Statement.Predicate, &p); err != nil {
		return fmt.Errorf("field action predicate: %w", err)
	}
	if err := checkText("id", p.ID, true); err != nil {
		return err
	}
	if err := checkText("title", p.Title, true); err != nil {
		return err
	}
	if p.Issued.IsZero() {
		return predicateErr("issued is required")
	}
	if len(p.Affected.Firmware)+len(p.Affected.UDIDIs) == 0 {
		return predicateErr("affected names no firmware and no UDI-DI")
	}
	if len(p.Affected.Firmware)+len(p.Affected.UDIDIs)+len(p.References) > 1024 {
		return predicateErr("more than 1024 affected items and references")
	}
	for _, d := range p.Affected.Firmware {
		if !isSHA256Hex(d) {
			return predicateErr("affected.firmware entries must be hex SHA-256 digests")
		}
	}
	for _, di := range p.Affected.UDIDIs {
		if _, err := ParseDI(di); err != nil {
			return err
		}
	}
	if p.Remedy != nil && !isSHA256Hex(p.Remedy.Digest) {
		return predicateErr("remedy.digest must be a hex SHA-256")
	}
	for _, r := range p.References {
		if err := checkText("reference", r, true); err != nil {
			return err
		}
	}
	if !e.oneSubject(p.ID, sha256Hex(e.Statement.Predicate)) {
		return predicateErr("the one subject must be named by the action's id with the SHA-256 of the predicate as it appears in the statement")
	}
	e.FieldAction = &p
	return nil
}

// oneSubject reports whether the statement has exactly one subject, with
// the given name and sha256 digest: what other in-toto tools read as the
// statement's target must be what vigil reads in the predicate.
func (e *Entry) oneSubject(name, sha256Digest string) bool {
	sub := e.Statement.Subject
	return len(sub) == 1 && sub[0].Name == name && sub[0].Digest["sha256"] == sha256Digest
}
