package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// loadKey reads a witness key as `vigil keygen --type witness` writes it: a
// note signer key, "PRIVATE+KEY+<name>+<hash>+<base64 key>", Ed25519. It
// returns a cosignature/v1 signer made from it and the matching
// cosignature/v1 verifier key (what keygen writes to FILE.pub), to print.
// A file that group or others may read is refused, as vigild refuses its log
// key: the key is the witness's whole identity.
func loadKey(path string) (note.Signer, string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading witness key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("witness key %s is readable by others (mode %#o): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading witness key: %w", err)
	}
	skey := strings.TrimSpace(string(b))
	// note.NewSigner checks the whole encoding, key hash included, which
	// the cosignature/v1 constructor does not.
	if _, err := note.NewSigner(skey); err != nil {
		return nil, "", fmt.Errorf("witness key %s is not a note signer key: %w", path, err)
	}
	signer, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		return nil, "", fmt.Errorf("witness key %s: %w", path, err)
	}
	vkey, err := cosignatureVKey(skey)
	if err != nil {
		return nil, "", fmt.Errorf("witness key %s: %w", path, err)
	}
	return signer, vkey, nil
}

// cosignatureVKey derives the cosignature/v1 verifier key of an Ed25519
// note signer key.
func cosignatureVKey(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5) // the base64 key may hold "+"
	if len(parts) != 5 {
		return "", errors.New("malformed key")
	}
	k, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 1 {
		return "", errors.New("not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	return fnote.VKeyToCosignatureV1(vkey)
}
