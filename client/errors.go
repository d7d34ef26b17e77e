package client

import "errors"

// The errors below classify why an envelope, a statement, a predicate or a
// leaf was refused. Every parser and check in this package wraps exactly one
// of them, so a server can map a refusal to a stable error code with
// errors.Is and a client can tell a malformed input from an unauthorized one.
// The wrapped detail text never repeats the caller's bytes.
var (
	// ErrMalformedJSON: the input is not valid JSON, has unknown or
	// duplicate fields, or has a field of the wrong type.
	ErrMalformedJSON = errors.New("malformed JSON")
	// ErrMalformedBase64: a field that must be standard base64 is not.
	ErrMalformedBase64 = errors.New("malformed base64")
	// ErrPayloadType: the DSSE payloadType is not the in-toto one.
	ErrPayloadType = errors.New("unsupported payload type")
	// ErrStatement: the payload is not a valid in-toto Statement v1.
	ErrStatement = errors.New("invalid in-toto statement")
	// ErrPredicateType: the statement's predicateType is not one of vigil's.
	ErrPredicateType = errors.New("unknown predicate type")
	// ErrPredicate: the predicate does not match its kind's schema.
	ErrPredicate = errors.New("invalid predicate")
	// ErrUDI: a UDI or UDI-DI is malformed or fails its check character.
	ErrUDI = errors.New("invalid UDI")
	// ErrKey: a public key is malformed or of an unsupported type.
	ErrKey = errors.New("invalid public key")
	// ErrSBOM: an SBOM predicate does not parse as CycloneDX or SPDX JSON.
	ErrSBOM = errors.New("invalid SBOM")
	// ErrSignatureCount: the envelope does not carry exactly one signature.
	ErrSignatureCount = errors.New("envelope must carry exactly one signature")
	// ErrLeafTooLarge: the canonical leaf would exceed 65,535 bytes.
	ErrLeafTooLarge = errors.New("leaf too large")
	// ErrLeaf: bytes read from the log are not a valid vigil leaf.
	ErrLeaf = errors.New("malformed leaf")
	// ErrUnknownKey: the signing key is neither a trust-root manufacturer
	// key nor an enrolled device key.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrBadSignature: the signature does not verify under the named key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrNotEnrolled: an attestation names a device that is not enrolled.
	ErrNotEnrolled = errors.New("device not enrolled")
	// ErrRevoked: the signing key, device or UDI has been revoked.
	ErrRevoked = errors.New("revoked")
	// ErrUnauthorized: the signer has no authority over the entry's subject
	// (a UDI-DI outside its prefixes, another manufacturer's firmware or
	// device, a device key signing for another UDI).
	ErrUnauthorized = errors.New("signer not authorized")
	// ErrConflict: the entry contradicts the log (a device key or UDI
	// already bound elsewhere, firmware published by another manufacturer).
	ErrConflict = errors.New("conflicts with the log")
)
