package client_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"log"
	"time"

	"github.com/vigil-log/vigil/client"
)

// ExampleParseLeaf follows one entry from submission to the log and back: a
// manufacturer signs a revocation, the log turns the envelope into its
// canonical leaf, and a verifier reading the log parses the leaf, rebuilds
// the signed envelope from it and checks the signature.
func ExampleParseLeaf() {
	// A manufacturer key. Real keys come from GenerateKey or
	// ParsePrivateKeyPEM; this one is derived from a fixed seed so that the
	// output below does not change.
	seed := sha256.Sum256([]byte("example manufacturer"))
	mfr, err := client.NewPrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		log.Fatal(err)
	}

	// The manufacturer withdraws a device, signing an in-toto statement
	// into a DSSE envelope.
	st, err := client.NewStatement(client.PredicateRevocation, &client.Revocation{
		Target:    client.RevocationTarget{Type: client.TargetUDI, ID: "(01)00614141999996(21)SN-0001"},
		Reason:    "device reported stolen",
		Effective: time.Date(2025, 3, 4, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	env, err := st.Sign(mfr)
	if err != nil {
		log.Fatal(err)
	}
	envJSON, err := env.MarshalJSON()
	if err != nil {
		log.Fatal(err)
	}

	// The log checks the submission and stores its leaf.
	e, err := client.ParseEntry(envJSON)
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := e.Leaf().Marshal()
	if err != nil {
		log.Fatal(err)
	}

	// A verifier reads the leaf back from the log.
	l, err := client.ParseLeaf(leaf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("kind:", l.Kind)
	fmt.Println("payload in a blob:", l.InBlob())
	fmt.Println("signed by the manufacturer key:", l.Signature.KeyID == mfr.Public().ID())

	// An inline leaf holds the whole envelope; a blob leaf (an SBOM) needs
	// the blob, fetched by l.BlobDigest().
	rebuilt, err := l.Envelope(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signature verifies:", mfr.Public().Verify(rebuilt.PAE(), rebuilt.Signatures[0].Sig))
	again, err := client.NewEntry(rebuilt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked device:", again.UDI())
	// Output:
	// kind: revocation
	// payload in a blob: false
	// signed by the manufacturer key: true
	// signature verifies: true
	// revoked device: (01)00614141999996(21)SN-0001
}
