package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// MaxLeafSize is the largest leaf a C2SP tlog-tiles entry bundle can carry:
// entries are prefixed by a big-endian uint16 length.
const MaxLeafSize = 1<<16 - 1

// leafMagic opens every vigil leaf: "vgl" and the encoding version.
var leafMagic = []byte{'v', 'g', 'l', 1}

// Payload storage modes in a leaf.
const (
	payloadInline = 0
	payloadBlob   = 1
)

// Leaf is vigil's log entry: the content of one accepted DSSE envelope in a
// deterministic binary form. It is built from the decoded envelope, so two
// envelopes that differ only in JSON spacing or base64 alphabet give the same
// leaf, and so the same log index.
//
// Encoding (version 1), in the TLS presentation language of RFC 8446 §3 and
// built with cryptobyte:
//
//	struct {
//	    opaque magic[4] = "vgl" 0x01;
//	    uint8  kind;                      // Kind: 1 enrollment ... 5 field-action
//	    uint8  mode;                      // 0: payload inline, 1: payload in a blob
//	    opaque payload_type<1..255>;      // DSSE payloadType
//	    select (mode) {
//	        case 0: opaque payload<1..2^16-1>;
//	        case 1: opaque payload_sha256[32]; uint32 payload_size;
//	    };
//	    uint8  signature_count;           // 1 in version 1
//	    struct {
//	        opaque key_id[32];            // SHA-256 of the signer's PKIX key
//	        opaque sig<1..255>;
//	    } signatures[signature_count];
//	} Leaf;
//
// An SBOM's payload always goes in a blob (content-addressed by the SHA-256 of
// the payload, i.e. of the signed in-toto statement); every other kind is
// inline, and is refused if the leaf would exceed MaxLeafSize. The blob holds
// the payload rather than the envelope JSON because the payload is what is
// signed and is byte-exact, while the envelope's JSON framing is not
// canonical; leaf plus blob rebuild the envelope exactly.
type Leaf struct {
	Kind        Kind
	PayloadType string
	// Payload is the DSSE payload when inline, nil when in a blob.
	Payload []byte
	// PayloadSHA256 and PayloadSize describe the payload in both modes.
	PayloadSHA256 [32]byte
	PayloadSize   uint32
	Signature     Signature
}

// InBlob reports whether the payload is stored in a blob, not in the leaf.
func (l *Leaf) InBlob() bool { return l.Payload == nil }

// BlobDigest returns the hex SHA-256 naming the payload's blob.
func (l *Leaf) BlobDigest() string { return hex.EncodeToString(l.PayloadSHA256[:]) }

// Leaf returns the entry's canonical leaf.
func (e *Entry) Leaf() *Leaf {
	l := &Leaf{
		Kind:          e.Kind,
		PayloadType:   e.Envelope.PayloadType,
		PayloadSHA256: sha256.Sum256(e.Envelope.Payload),
		PayloadSize:   uint32(len(e.Envelope.Payload)),
		Signature:     e.Envelope.Signatures[0],
	}
	if e.Kind != KindSBOM {
		l.Payload = e.Envelope.Payload
	}
	return l
}

// Marshal encodes the leaf. It fails with ErrLeafTooLarge if the result
// would exceed MaxLeafSize.
func (l *Leaf) Marshal() ([]byte, error) {
	keyID, err := hex.DecodeString(l.Signature.KeyID)
	if err != nil || len(keyID) != sha256.Size {
		return nil, fmt.Errorf("%w: key ID is not a hex SHA-256", ErrLeaf)
	}
	if len(l.Payload) > MaxLeafSize {
		return nil, fmt.Errorf("%w: payload of %d bytes", ErrLeafTooLarge, len(l.Payload))
	}
	var b cryptobyte.Builder
	b.AddBytes(leafMagic)
	b.AddUint8(uint8(l.Kind))
	if l.InBlob() {
		b.AddUint8(payloadBlob)
	} else {
		b.AddUint8(payloadInline)
	}
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(l.PayloadType)) })
	if l.InBlob() {
		b.AddBytes(l.PayloadSHA256[:])
		b.AddUint32(l.PayloadSize)
	} else {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(l.Payload) })
	}
	b.AddUint8(1)
	b.AddBytes(keyID)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(l.Signature.Sig) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLeafTooLarge, err)
	}
	if len(out) > MaxLeafSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrLeafTooLarge, len(out), MaxLeafSize)
	}
	return out, nil
}

// ParseLeaf decodes a leaf. It checks the encoding, not the content: rebuild
// the envelope with Envelope and check it with NewEntry.
func ParseLeaf(b []byte) (*Leaf, error) {
	if len(b) > MaxLeafSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrLeaf, MaxLeafSize)
	}
	s := cryptobyte.String(b)
	var magic, pt, keyID, sig []byte
	var kind, mode, nsig uint8
	l := &Leaf{}
	if !s.ReadBytes(&magic, len(leafMagic)) || !bytes.Equal(magic, leafMagic) {
		return nil, fmt.Errorf("%w: not a vigil v1 leaf", ErrLeaf)
	}
	if !s.ReadUint8(&kind) || !s.ReadUint8(&mode) || !s.ReadUint8LengthPrefixed((*cryptobyte.String)(&pt)) || len(pt) == 0 {
		return nil, fmt.Errorf("%w: truncated header", ErrLeaf)
	}
	if _, ok := kindNames[Kind(kind)]; !ok {
		return nil, fmt.Errorf("%w: unknown kind %d", ErrLeaf, kind)
	}
	l.Kind, l.PayloadType = Kind(kind), string(pt)
	switch mode {
	case payloadInline:
		var p []byte
		if !s.ReadUint16LengthPrefixed((*cryptobyte.String)(&p)) || len(p) == 0 {
			return nil, fmt.Errorf("%w: truncated payload", ErrLeaf)
		}
		l.Payload, l.PayloadSHA256, l.PayloadSize = p, sha256.Sum256(p), uint32(len(p))
	case payloadBlob:
		var d []byte
		if !s.ReadBytes(&d, sha256.Size) || !s.ReadUint32(&l.PayloadSize) || l.PayloadSize == 0 {
			return nil, fmt.Errorf("%w: truncated blob reference", ErrLeaf)
		}
		copy(l.PayloadSHA256[:], d)
	default:
		return nil, fmt.Errorf("%w: unknown payload mode %d", ErrLeaf, mode)
	}
	if !s.ReadUint8(&nsig) || nsig != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrLeaf)
	}
	if !s.ReadBytes(&keyID, sha256.Size) || !s.ReadUint8LengthPrefixed((*cryptobyte.String)(&sig)) || len(sig) == 0 {
		return nil, fmt.Errorf("%w: truncated signature", ErrLeaf)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: trailing bytes", ErrLeaf)
	}
	l.Signature = Signature{KeyID: hex.EncodeToString(keyID), Sig: sig}
	return l, nil
}

// Envelope rebuilds the DSSE envelope the leaf was made from. For a blob
// leaf, payload must be the blob's content; it is checked against the digest.
// For an inline leaf, payload is ignored and may be nil.
func (l *Leaf) Envelope(payload []byte) (*Envelope, error) {
	if !l.InBlob() {
		payload = l.Payload
	} else if uint32(len(payload)) != l.PayloadSize || sha256.Sum256(payload) != l.PayloadSHA256 {
		return nil, fmt.Errorf("%w: blob does not match the leaf's digest", ErrLeaf)
	}
	return &Envelope{PayloadType: l.PayloadType, Payload: payload, Signatures: []Signature{l.Signature}}, nil
}
