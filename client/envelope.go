package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// PayloadTypeInToto is the DSSE payloadType of an in-toto statement, the
// only payload type vigil accepts.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// Envelope is a decoded DSSE envelope: the payload and signatures as bytes,
// not base64. The JSON form is dsse.Envelope.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one DSSE signature. KeyID is the signing key's PublicKey.ID.
type Signature struct {
	KeyID string
	Sig   []byte
}

// ParseEnvelope decodes a DSSE envelope in its JSON form. Unknown fields and
// trailing data are refused; payload and signatures may use standard or URL
// base64, as DSSE allows. It checks structure only, not signatures.
func ParseEnvelope(b []byte) (*Envelope, error) {
	var de dsse.Envelope
	if err := decodeStrict(b, &de); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	payload, err := de.DecodeB64Payload()
	if err != nil {
		return nil, fmt.Errorf("%w: envelope payload", ErrMalformedBase64)
	}
	e := &Envelope{PayloadType: de.PayloadType, Payload: payload}
	for _, s := range de.Signatures {
		sig, err := decodeB64(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("%w: envelope signature", ErrMalformedBase64)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return e, nil
}

// MarshalJSON encodes the envelope in DSSE's JSON form, with standard base64.
func (e *Envelope) MarshalJSON() ([]byte, error) {
	de := dsse.Envelope{
		PayloadType: e.PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(e.Payload),
		Signatures:  make([]dsse.Signature, 0, len(e.Signatures)),
	}
	for _, s := range e.Signatures {
		de.Signatures = append(de.Signatures, dsse.Signature{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	return json.Marshal(de)
}

// PAE returns the DSSE pre-authentication encoding: the bytes that are signed.
func (e *Envelope) PAE() []byte { return dsse.PAE(e.PayloadType, e.Payload) }

// SignEnvelope returns an envelope carrying payload, signed by k.
func SignEnvelope(payloadType string, payload []byte, k *PrivateKey) (*Envelope, error) {
	e := &Envelope{PayloadType: payloadType, Payload: payload}
	sig, err := k.Sign(e.PAE())
	if err != nil {
		return nil, fmt.Errorf("signing envelope: %w", err)
	}
	e.Signatures = []Signature{{KeyID: k.Public().ID(), Sig: sig}}
	return e, nil
}

// decodeB64 accepts standard or URL base64, padded, as DSSE does.
func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.URLEncoding.DecodeString(s)
	}
	return b, err
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data. Every error wraps ErrMalformedJSON.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s", ErrMalformedJSON, jsonProblem(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after JSON value", ErrMalformedJSON)
	}
	// encoding/json lets the last of two member names that match the same
	// field win, where other parsers keep the first or refuse: a signed
	// statement must not read one way here and another way elsewhere.
	if repeatsName(b) {
		return fmt.Errorf("%w: an object repeats a member name", ErrMalformedJSON)
	}
	return nil
}

// repeatsName reports whether an object in b, which is valid JSON, has two
// member names that encoding/json would match to the same field.
func repeatsName(b []byte) bool { return scanJSON(b, nil, 0) != nil }

// jsonProblem describes a decoding error without echoing the input: the
// standard library's messages quote field names and values it was given.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("wrong type for a field at byte %d (want %s)", e.Offset, e.Type)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "unexpected end of input"
	}
	return "unknown field or invalid value"
}
