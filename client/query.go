package client

import "time"

// The answers of a log's query API (GET /v1/devices/..., /v1/impact,
// /v1/field-actions/...). Each is the server's claim, as of the first
// TreeSize entries of the log: every item names the log index of the entry
// that backs it, so a client can prove it included and re-check its leaf
// against the question before it believes it.

// AttestationRef is one attestation in an answer.
type AttestationRef struct {
	// Index is the attestation's log index.
	Index uint64 `json:"index"`
	// Seq, Time and Firmware are as the device signed them; Time is the
	// device's claim.
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Firmware Firmware  `json:"firmware"`
	// Head is false for an attestation that did not advance its device's
	// chain (a fork, such as a cloned device's).
	Head bool `json:"head"`
}

// DeviceRef names a device in an answer by its UDI and the log index of its
// enrollment, with its latest attestation (the head of its chain) if any.
type DeviceRef struct {
	UDI        string          `json:"udi"`
	Enrollment uint64          `json:"enrollment"`
	Latest     *AttestationRef `json:"latest,omitempty"`
}

// Device status values.
const (
	StatusActive      = "active"
	StatusRevoked     = "revoked"
	StatusFieldAction = "field-action" // under a field action it has not attested the remedy of
)

// DeviceInfo answers GET /v1/devices/{udi}.
type DeviceInfo struct {
	TreeSize uint64 `json:"treeSize"`
	DeviceRef
	KeyID        string `json:"keyId"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	// Status is StatusActive, StatusRevoked or StatusFieldAction.
	Status string `json:"status"`
	// Revocations are the log indexes of the revocations of its key or UDI.
	Revocations []uint64 `json:"revocations,omitempty"`
	// FieldActions are the field actions whose population it is in, and
	// whether it has attested each one's remedy.
	FieldActions []FieldActionRef `json:"fieldActions,omitempty"`
	// Attestations counts its attestations in the index.
	Attestations uint64 `json:"attestations"`
}

// FieldActionRef is a field action as it bears on one device.
type FieldActionRef struct {
	ID        string `json:"id"`
	Index     uint64 `json:"index"`
	Corrected bool   `json:"corrected"`
}

// History answers GET /v1/devices/{udi}/attestations: a device's
// attestations in seq order (then log order), from a seq on.
type History struct {
	TreeSize     uint64           `json:"treeSize"`
	UDI          string           `json:"udi"`
	Enrollment   uint64           `json:"enrollment"`
	Attestations []AttestationRef `json:"attestations"`
	// NextSeq, if set, is the from= of the next page.
	NextSeq *uint64 `json:"nextSeq,omitempty"`
}

// AtAnswer answers GET /v1/devices/{udi}/at?time=T: the attestation in
// force at T (the head attestation with the latest device time at or before
// T) and the next one after it.
type AtAnswer struct {
	TreeSize   uint64          `json:"treeSize"`
	UDI        string          `json:"udi"`
	Enrollment uint64          `json:"enrollment"`
	Time       time.Time       `json:"time"`
	InForce    *AttestationRef `json:"inForce,omitempty"`
	Next       *AttestationRef `json:"next,omitempty"`
}

// ImpactBuild is a firmware build an impact query finds affected.
type ImpactBuild struct {
	Digest       string `json:"digest"`
	Name         string `json:"name"`
	Version      string `json:"version"`
	Manufacturer string `json:"manufacturer"`
	// SBOM is the log index of the build's SBOM, whose blob lists the
	// components.
	SBOM uint64 `json:"sbom"`
	// Components are the SBOM's components that match the query.
	Components []Component `json:"components"`
}

// Impact answers GET /v1/impact?purl=P[&since=T] and POST /v1/impact (an
// OSV advisory): the builds whose SBOM has an affected component; the
// devices whose latest attestation reports one of them (and, with since, is
// at or after since); and the devices of the models that ran an affected
// build whose latest attestation is older than since, or that never
// attested: their state is unknown.
type Impact struct {
	TreeSize uint64        `json:"treeSize"`
	PURL     string        `json:"purl,omitempty"`
	Advisory string        `json:"advisory,omitempty"`
	Since    *time.Time    `json:"since,omitempty"`
	Builds   []ImpactBuild `json:"builds"`
	Affected []DeviceRef   `json:"affected"`
	Unknown  []DeviceRef   `json:"unknown"`
	// More, if set, is the after= of the next page: the lists, sorted by
	// UDI, hold together at most limit= devices (default 10,000) a page.
	More string `json:"more,omitempty"`
}

// FieldActionStatus answers GET /v1/field-actions/{id}: the action (its
// latest entry with that ID), its population (devices of an affected UDI-DI,
// or that attested an affected build before the action), and which of them
// attested the remedy build after the action, with the first such
// attestation.
type FieldActionStatus struct {
	TreeSize     uint64       `json:"treeSize"`
	Index        uint64       `json:"index"`
	Manufacturer string       `json:"manufacturer"`
	Action       FieldAction  `json:"action"`
	Corrected    []Correction `json:"corrected"`
	NotCorrected []DeviceRef  `json:"notCorrected"`
	// More, if set, is the after= of the next page, as in Impact.
	More string `json:"more,omitempty"`
}

// Correction is a device that attested a field action's remedy build after
// the action: Remedy is its first such attestation.
type Correction struct {
	UDI        string         `json:"udi"`
	Enrollment uint64         `json:"enrollment"`
	Remedy     AttestationRef `json:"remedy"`
}
