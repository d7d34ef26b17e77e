package client

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// Key algorithms accepted for manufacturer and device keys. Device secure
// elements are mostly P-256; Ed25519 suits software keys.
const (
	AlgEd25519 = "ed25519"
	AlgP256    = "p256"
)

// PublicKey is an Ed25519 or ECDSA P-256 public key, as found in PKIX/PEM
// files, trust roots and enrollment predicates.
//
// Its ID is the lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo;
// vigil puts it in the keyid field of DSSE signatures so a verifier can find
// the key without trying them all.
type PublicKey struct {
	key crypto.PublicKey
	der []byte
	id  string
}

// NewPublicKey wraps an *ecdsa.PublicKey on P-256 or an ed25519.PublicKey.
func NewPublicKey(k crypto.PublicKey) (*PublicKey, error) {
	switch k := k.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: Ed25519 key of wrong length", ErrKey)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key not on P-256", ErrKey)
		}
	default:
		return nil, fmt.Errorf("%w: key type %T not supported (want Ed25519 or ECDSA P-256)", ErrKey, k)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("%w: marshalling public key: %v", ErrKey, err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{key: k, der: der, id: hex.EncodeToString(sum[:])}, nil
}

// ParsePublicKeyPEM parses one "PUBLIC KEY" PEM block (PKIX). Text after the
// block is refused, so a file holding two keys is not silently half-read.
func ParsePublicKeyPEM(b []byte) (*PublicKey, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("%w: no PUBLIC KEY PEM block", ErrKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: trailing data after PEM block", ErrKey)
	}
	return ParsePublicKeyDER(block.Bytes)
}

// ParsePublicKeyDER parses a DER SubjectPublicKeyInfo.
func ParsePublicKeyDER(der []byte) (*PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKIX public key", ErrKey)
	}
	return NewPublicKey(k)
}

// ID returns the key's identifier: lowercase hex SHA-256 of its DER SPKI.
func (k *PublicKey) ID() string { return k.id }

// DER returns the key's DER SubjectPublicKeyInfo. The caller must not modify it.
func (k *PublicKey) DER() []byte { return k.der }

// PEM returns the key as a "PUBLIC KEY" PEM block.
func (k *PublicKey) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.der})
}

// Alg returns AlgEd25519 or AlgP256.
func (k *PublicKey) Alg() string {
	if _, ok := k.key.(ed25519.PublicKey); ok {
		return AlgEd25519
	}
	return AlgP256
}

// Verify reports whether sig is a valid signature of msg: plain Ed25519 over
// msg, or an ASN.1 DER ECDSA signature over SHA-256(msg) (the encoding cosign
// and the DSSE reference implementations use).
func (k *PublicKey) Verify(msg, sig []byte) bool {
	switch key := k.key.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(key, msg, sig)
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(key, h[:], sig)
	}
	return false
}

// PrivateKey is a manufacturer's or device's signing key.
type PrivateKey struct {
	signer crypto.Signer
	pub    *PublicKey
}

// NewPrivateKey wraps an ed25519.PrivateKey or a P-256 *ecdsa.PrivateKey.
func NewPrivateKey(s crypto.Signer) (*PrivateKey, error) {
	pub, err := NewPublicKey(s.Public())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{signer: s, pub: pub}, nil
}

// GenerateKey makes a new key of the given algorithm (AlgEd25519 or AlgP256).
func GenerateKey(alg string) (*PrivateKey, error) {
	switch alg {
	case AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating Ed25519 key: %w", err)
		}
		return NewPrivateKey(k)
	case AlgP256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating P-256 key: %w", err)
		}
		return NewPrivateKey(k)
	}
	return nil, fmt.Errorf("%w: unknown algorithm %q (want %s or %s)", ErrKey, alg, AlgEd25519, AlgP256)
}

// ParsePrivateKeyPEM parses a "PRIVATE KEY" (PKCS #8) PEM block.
func ParsePrivateKeyPEM(b []byte) (*PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PRIVATE KEY PEM block", ErrKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS #8 private key", ErrKey)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: private key cannot sign", ErrKey)
	}
	return NewPrivateKey(s)
}

// MarshalPEM returns the key as a "PRIVATE KEY" (PKCS #8) PEM block.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.signer)
	if err != nil {
		return nil, fmt.Errorf("marshalling private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Public returns the public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Sign signs msg in the form PublicKey.Verify accepts.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	// Dispatch on the key's algorithm, not the signer's concrete type: a
	// *ed25519.PrivateKey or an HSM-backed signer is an Ed25519 signer too.
	if k.pub.Alg() == AlgEd25519 {
		return k.signer.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	h := sha256.Sum256(msg)
	sig, err := k.signer.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return sig, nil
}
