package main

import (
	"crypto/rand"
	"fmt"
	"os"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/vigil-log/vigil/client"
	"golang.org/x/mod/sumdb/note"
)

func keygen(args []string) error {
	fs := newFlags("keygen", "--type log|witness|manufacturer|device --name NAME --out FILE [--alg ed25519|p256]",
		`  vigil keygen --type manufacturer --name "Acme Infusion" --out acme.key
  # writes acme.key (mode 0600) and acme.key.pub (PEM public key)
  vigil keygen --type log --name example.com/vigil --out log.key
  # writes log.key and log.key.pub (the note verifier key, "vkey")
  vigil keygen --type witness --name witness.example.org --out witness.key
  # writes witness.key and witness.key.pub (a cosignature/v1 vkey, type 0x04)`)
	typ := fs.String("type", "", "key type: log, witness, manufacturer or device")
	name := fs.String("name", "", "key name: the origin of a log, the name of a witness, a label for other keys")
	out := fs.String("out", "", "private key file to write (mode 0600); the public key goes to FILE.pub")
	alg := fs.String("alg", "", "manufacturer and device keys: ed25519 or p256 (default ed25519 for manufacturers, p256 for devices, as in secure elements)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "type", "name", "out"); err != nil {
		return err
	}
	var priv, pub []byte
	switch *typ {
	case "log", "witness":
		if *alg != "" {
			fmt.Fprintln(fs.Output(), "vigil keygen: log and witness keys are always Ed25519 note keys; drop --alg")
			return errUsage
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, *name)
		if err != nil {
			return fmt.Errorf("generating key: %w", err)
		}
		if *typ == "witness" {
			// Witnesses cosign with C2SP tlog-cosignature (cosignature/v1),
			// whose verifier keys are of type 0x04, as Tessera's witness
			// policy and the tlog-witness protocol require.
			if vkey, err = fnote.VKeyToCosignatureV1(vkey); err != nil {
				return fmt.Errorf("making the cosignature key: %w", err)
			}
		}
		priv, pub = []byte(skey+"\n"), []byte(vkey+"\n")
	case "manufacturer", "device":
		a := *alg
		if a == "" {
			a = map[string]string{"manufacturer": client.AlgEd25519, "device": client.AlgP256}[*typ]
		}
		k, err := client.GenerateKey(a)
		if err != nil {
			return err
		}
		if priv, err = k.MarshalPEM(); err != nil {
			return err
		}
		pub = k.Public().PEM()
	default:
		fmt.Fprintf(fs.Output(), "vigil keygen: --type must be log, witness, manufacturer or device\n")
		return errUsage
	}
	if err := writeNew(*out, priv, 0o600); err != nil {
		return err
	}
	if err := writeNew(*out+".pub", pub, 0o644); err != nil {
		// Leave no private key whose public half was never written: it
		// would only block the next attempt.
		os.Remove(*out)
		return err
	}
	fmt.Printf("wrote %s and %s.pub\n", *out, *out)
	return nil
}

// writeNew writes a file that must not exist yet, so a key is never
// overwritten by accident.
func writeNew(name string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
