//go:build ignore

// gen writes the development fixtures in testdata/dev deterministically:
// keys derived from fixed seeds (for development and tests only; never use
// them for anything else), the trust-roots file naming the manufacturer, and
// sample enrollment and attestation predicates. Run it from the repository
// root with `make gen`; `make check-gen` (in CI) fails if the committed files
// differ from what it writes.
//
//	go run testdata/gen.go [-out DIR]
package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-log/vigil/client"
)

// seed derives 32 bytes for a fixture key from its name.
func seed(name string) []byte {
	h := sha256.Sum256([]byte("vigil development fixture, never for production: " + name))
	return h[:]
}

func main() {
	out := flag.String("out", "testdata/dev", "directory to write the fixtures into")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	mfr, err := client.NewPrivateKey(ed25519.NewKeyFromSeed(seed("manufacturer")))
	if err != nil {
		log.Fatal(err)
	}
	dk, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed("device"))
	if err != nil {
		log.Fatal(err)
	}
	dev, err := client.NewPrivateKey(dk)
	if err != nil {
		log.Fatal(err)
	}
	for name, k := range map[string]*client.PrivateKey{"manufacturer": mfr, "device": dev} {
		pemKey, err := k.MarshalPEM()
		if err != nil {
			log.Fatal(err)
		}
		write(*out, name+".key", pemKey, 0o600)
		write(*out, name+".key.pub", k.Public().PEM(), 0o644)
	}
	const udi = "(01)00614141999996(21)PUMP0001"
	writeJSON(*out, "trust-roots.json", map[string]any{"manufacturers": []any{map[string]any{
		"name": "Acme Infusion Systems (development)", "udiPrefixes": []string{"gs1:0614141"},
		"keys": []string{string(mfr.Public().PEM())},
	}}})
	writeJSON(*out, "enrollment.json", map[string]any{
		"udi": udi, "model": "Acme IP-300 infusion pump",
		"binding": map[string]any{"type": "secure-element", "evidence": "ZGV2ZWxvcG1lbnQgc2VjdXJlLWVsZW1lbnQgYXR0ZXN0YXRpb24="},
	})
	digest := func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	writeJSON(*out, "attestation.json", &client.Attestation{
		UDI: udi, Seq: 0, Time: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC),
		Firmware:     client.Firmware{Version: "4.2.1", Digest: digest("ip300-fw-4.2.1.bin")},
		ConfigDigest: digest("ip300 configuration baseline 7"),
		Measurements: []client.Measurement{{Name: "bootloader", Digest: digest("ip300 bootloader 2.3")}},
		Verdict:      "pass",
	})
}

func writeJSON(dir, name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	write(dir, name, append(b, '\n'), 0o644)
}

func write(dir, name string, b []byte, mode os.FileMode) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		log.Fatal(err)
	}
}
