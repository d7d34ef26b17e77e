package client

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// StatementType is the _type of an in-toto Statement v1.
const StatementType = "https://in-toto.io/Statement/v1"

// Statement is an in-toto Statement v1 (https://github.com/in-toto/attestation
// spec/v1/statement.md). The predicate stays raw JSON: each kind decodes it.
//
// Written by hand rather than with the in-toto Go bindings: those are
// protobuf types that turn the predicate into a structpb.Struct, which loses
// integer precision and doubles the cost of a 16 MiB SBOM.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is an in-toto ResourceDescriptor naming what a statement is about.
type Subject struct {
	Name             string            `json:"name,omitempty"`
	URI              string            `json:"uri,omitempty"`
	Digest           map[string]string `json:"digest"`
	DownloadLocation string            `json:"downloadLocation,omitempty"`
	MediaType        string            `json:"mediaType,omitempty"`
	Annotations      json.RawMessage   `json:"annotations,omitempty"`
}

// digestLengths are the hex lengths of the digest algorithms vigil accepts.
var digestLengths = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

// ParseStatement decodes and checks an in-toto Statement v1: the type, at
// least one subject each with a known lowercase-hex digest, a predicate type,
// and a predicate that is a JSON object.
func ParseStatement(b []byte) (*Statement, error) {
	var s Statement
	if err := decodeStrict(b, &s); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if s.Type != StatementType {
		return nil, fmt.Errorf("%w: _type is not %s", ErrStatement, StatementType)
	}
	if len(s.Subject) == 0 {
		return nil, fmt.Errorf("%w: no subject", ErrStatement)
	}
	for i, sub := range s.Subject {
		if len(sub.Digest) == 0 {
			return nil, fmt.Errorf("%w: subject %d has no digest", ErrStatement, i)
		}
		for alg, v := range sub.Digest {
			if n, ok := digestLengths[alg]; !ok || len(v) != n || !isLowerHex(v) {
				return nil, fmt.Errorf("%w: subject %d has an unsupported or malformed digest", ErrStatement, i)
			}
		}
	}
	if s.PredicateType == "" {
		return nil, fmt.Errorf("%w: no predicateType", ErrStatement)
	}
	if len(s.Predicate) == 0 || s.Predicate[0] != '{' {
		return nil, fmt.Errorf("%w: predicate is not a JSON object", ErrStatement)
	}
	return &s, nil
}

// isLowerHex reports whether s is non-empty lowercase hex of even length.
func isLowerHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// isSHA256Hex reports whether s is a lowercase hex SHA-256 digest.
func isSHA256Hex(s string) bool { return len(s) == 64 && isLowerHex(s) }
