package client

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"testing"
)

func fxDER(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("x509.MarshalPKIXPublicKey(%T) = %v", pub, err)
	}
	return der
}

func fxPEM(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestKeySignVerify(t *testing.T) {
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	for _, alg := range []string{AlgEd25519, AlgP256} {
		t.Run(alg, func(t *testing.T) {
			k := fxNewKey(t, alg)
			pub := k.Public()
			if got := pub.Alg(); got != alg {
				t.Errorf("Alg() = %q, want %q", got, alg)
			}
			sig, err := k.Sign(msg)
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}
			if !pub.Verify(msg, sig) {
				t.Errorf("Verify(msg, Sign(msg)) = false, want true")
			}
			tampered := append([]byte(nil), sig...)
			tampered[len(tampered)/2] ^= 1
			if pub.Verify(msg, tampered) {
				t.Errorf("Verify(msg, tampered signature) = true, want false")
			}
			if pub.Verify(append(msg, '!'), sig) {
				t.Errorf("Verify(other message, sig) = true, want false")
			}
			if fxNewKey(t, alg).Public().Verify(msg, sig) {
				t.Errorf("Verify under another key = true, want false")
			}
			if pub.Verify(msg, nil) {
				t.Errorf("Verify(msg, nil) = true, want false")
			}
		})
	}
}

// TestKeySignatureEncoding pins the signature encodings other DSSE tools
// expect: plain Ed25519 over the message, ASN.1 ECDSA over its SHA-256.
func TestKeySignatureEncoding(t *testing.T) {
	msg := []byte("message")
	ed, err := ParsePrivateKeyPEM(fxMarshalPEM(t, fxSeededKey(t, AlgEd25519, "ed")))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ed.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	edPub, err := x509.ParsePKIXPublicKey(ed.Public().DER())
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(edPub.(ed25519.PublicKey), msg, sig) {
		t.Errorf("Ed25519 signature does not verify with ed25519.Verify")
	}

	p := fxSeededKey(t, AlgP256, "p256")
	sig, err = p.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	pPub, err := x509.ParsePKIXPublicKey(p.Public().DER())
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pPub.(*ecdsa.PublicKey), h[:], sig) {
		t.Errorf("P-256 signature does not verify with ecdsa.VerifyASN1 over SHA-256(msg)")
	}
}

func fxMarshalPEM(t testing.TB, k *PrivateKey) []byte {
	t.Helper()
	b, err := k.MarshalPEM()
	if err != nil {
		t.Fatalf("MarshalPEM = %v", err)
	}
	return b
}

func TestKeyID(t *testing.T) {
	for _, alg := range []string{AlgEd25519, AlgP256} {
		k := fxNewKey(t, alg).Public()
		sum := sha256.Sum256(k.DER())
		if got, want := k.ID(), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: ID() = %s, want hex SHA-256 of the DER %s", alg, got, want)
		}
		if !isSHA256Hex(k.ID()) {
			t.Errorf("%s: ID() = %q is not lower-case hex SHA-256", alg, k.ID())
		}
		std, err := x509.ParsePKIXPublicKey(k.DER())
		if err != nil {
			t.Fatalf("%s: DER() does not parse: %v", alg, err)
		}
		if !bytes.Equal(fxDER(t, std), k.DER()) {
			t.Errorf("%s: DER() is not the PKIX encoding of the key", alg)
		}
	}
	// A fixed key, so that a change to the ID's definition shows: the
	// Ed25519 key of the all-zero seed (RFC 8032 public key 3b6a27bc...),
	// whose SPKI is 302a300506032b6570032100 followed by the 32 key bytes.
	ed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public()
	k, err := NewPublicKey(ed)
	if err != nil {
		t.Fatal(err)
	}
	const want = "339e2ff917630507b6a423b5ce084e285d1fa65d93b3e27a6195d3bbebc9ae23"
	if got := k.ID(); got != want {
		t.Errorf("ID() of the all-zero-seed Ed25519 key = %s, want %s", got, want)
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	ed := fxNewKey(t, AlgEd25519).Public()
	p256 := fxNewKey(t, AlgP256).Public()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     []byte
		wantID string
		want   error
	}{
		{"Ed25519", ed.PEM(), ed.ID(), nil},
		{"P-256", p256.PEM(), p256.ID(), nil},
		{"trailing newlines", append(ed.PEM(), "\n\n"...), ed.ID(), nil},
		{"P-384", fxPEM(t, "PUBLIC KEY", fxDER(t, p384.Public())), "", ErrKey},
		{"RSA", fxPEM(t, "PUBLIC KEY", fxDER(t, rsaKey.Public())), "", ErrKey},
		{"two keys", append(ed.PEM(), p256.PEM()...), "", ErrKey},
		{"trailing text", append(ed.PEM(), "comment\n"...), "", ErrKey},
		{"private key block", fxMarshalPEM(t, fxNewKey(t, AlgEd25519)), "", ErrKey},
		{"RSA PUBLIC KEY block", fxPEM(t, "RSA PUBLIC KEY", ed.DER()), "", ErrKey},
		{"bad DER", fxPEM(t, "PUBLIC KEY", []byte("not DER")), "", ErrKey},
		{"DER, not PEM", ed.DER(), "", ErrKey},
		{"empty", nil, "", ErrKey},
		{"truncated", ed.PEM()[:40], "", ErrKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePublicKeyPEM(tc.in)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("ParsePublicKeyPEM(%q) = %v, want %v", tc.in, err, tc.want)
			}
			if err == nil && k.ID() != tc.wantID {
				t.Errorf("ParsePublicKeyPEM(%q).ID() = %s, want %s", tc.in, k.ID(), tc.wantID)
			}
		})
	}
}

func TestNewPublicKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		key     crypto.PublicKey
		wantAlg string
		want    error
	}{
		{"Ed25519", edPub, AlgEd25519, nil},
		{"P-256", &p256.PublicKey, AlgP256, nil},
		{"P-384", &p384.PublicKey, "", ErrKey},
		{"short Ed25519", edPub[:31], "", ErrKey},
		{"Ed25519 private key", edPriv, "", ErrKey},
		{"ECDSA by value", p256.PublicKey, "", ErrKey},
		{"nil", nil, "", ErrKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewPublicKey(tc.key)
			if !errors.Is(err, tc.want) || (err != nil) != (tc.want != nil) {
				t.Fatalf("NewPublicKey(%T) = %v, want %v", tc.key, err, tc.want)
			}
			if err == nil && k.Alg() != tc.wantAlg {
				t.Errorf("NewPublicKey(%T).Alg() = %q, want %q", tc.key, k.Alg(), tc.wantAlg)
			}
		})
	}
	if _, err := NewPrivateKey(p384); !errors.Is(err, ErrKey) {
		t.Errorf("NewPrivateKey(P-384) = %v, want %v", err, ErrKey)
	}
}

func TestPrivateKeyPEM(t *testing.T) {
	for _, alg := range []string{AlgEd25519, AlgP256} {
		t.Run(alg, func(t *testing.T) {
			k := fxNewKey(t, alg)
			b := fxMarshalPEM(t, k)
			got, err := ParsePrivateKeyPEM(b)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM(MarshalPEM()) = %v", err)
			}
			if got.Public().ID() != k.Public().ID() {
				t.Errorf("ParsePrivateKeyPEM(MarshalPEM()).Public().ID() = %s, want %s", got.Public().ID(), k.Public().ID())
			}
			sig, err := got.Sign([]byte("m"))
			if err != nil || !k.Public().Verify([]byte("m"), sig) {
				t.Errorf("the re-read key's signature does not verify under the original public key (err %v)", err)
			}
		})
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"public key", fxNewKey(t, AlgEd25519).Public().PEM()},
		{"bad DER", fxPEM(t, "PRIVATE KEY", []byte("junk"))},
		{"P-384", fxPEM(t, "PRIVATE KEY", p384DER)},
	} {
		if _, err := ParsePrivateKeyPEM(tc.in); !errors.Is(err, ErrKey) {
			t.Errorf("ParsePrivateKeyPEM(%s) = %v, want %v", tc.name, err, ErrKey)
		}
	}
}

// TestPrivateKeyEd25519Pointer checks that an Ed25519 key handed over as a
// pointer (which is also a crypto.Signer) signs as Ed25519, not as ECDSA.
func TestPrivateKeyEd25519Pointer(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewPrivateKey(&priv)
	if err != nil {
		t.Fatalf("NewPrivateKey(*ed25519.PrivateKey) = %v", err)
	}
	sig, err := k.Sign([]byte("m"))
	if err != nil {
		t.Fatalf("Sign = %v", err)
	}
	if !k.Public().Verify([]byte("m"), sig) {
		t.Errorf("signature by a *ed25519.PrivateKey does not verify")
	}
}

func TestGenerateKeyUnknownAlg(t *testing.T) {
	for _, alg := range []string{"", "p384", "Ed25519", "rsa"} {
		if _, err := GenerateKey(alg); !errors.Is(err, ErrKey) {
			t.Errorf("GenerateKey(%q) = %v, want %v", alg, err, ErrKey)
		}
	}
}
