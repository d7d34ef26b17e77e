package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/vigil-log/vigil/client"
)

// fleetFile is DIR/fleet.json: what init decided and run follows.
type fleetFile struct {
	Seed          uint64              `json:"seed"`
	Manufacturers []fleetManufacturer `json:"manufacturers"`
}

type fleetManufacturer struct {
	Name      string       `json:"name"`
	GS1Prefix string       `json:"gs1Prefix"`
	KeyFile   string       `json:"keyFile"` // relative to DIR
	Models    []fleetModel `json:"models"`
}

type fleetModel struct {
	Name     string   `json:"name"`
	GTIN     string   `json:"gtin"`
	Firmware string   `json:"firmware"` // image name stem
	Versions []string `json:"versions"` // oldest first
	Format   string   `json:"sbomFormat"`
}

// catalogueOfMakers is the simulated market: manufacturers, their GS1
// company prefixes and models. Prefixes are from GS1's example range.
var catalogueOfMakers = []fleetManufacturer{
	{Name: "Acme Infusion Systems", GS1Prefix: "0614141", Models: []fleetModel{
		{Name: "IP-300 infusion pump", Firmware: "ip300-fw", Versions: []string{"4.1.0", "4.2.1"}, Format: "cyclonedx"},
		{Name: "IP-500 syringe pump", Firmware: "ip500-fw", Versions: []string{"2.0.3", "2.1.0"}, Format: "spdx"},
	}},
	{Name: "Beacon Diagnostics", GS1Prefix: "0850001", Models: []fleetModel{
		{Name: "GM-2 continuous glucose monitor", Firmware: "gm2-fw", Versions: []string{"1.8.2", "1.9.0"}, Format: "spdx"},
		{Name: "CT-64 imaging console", Firmware: "ct64-sw", Versions: []string{"11.4", "11.5"}, Format: "cyclonedx"},
	}},
}

func initCmd(args []string) error {
	fs := flag.NewFlagSet("vigil-fleetsim init", flag.ContinueOnError)
	out := fs.String("out", "", "directory to create (required)")
	seed := fs.Uint64("seed", 1, "seed of every key and choice")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if *out == "" {
		fmt.Fprintln(fs.Output(), "vigil-fleetsim init: --out is required")
		fs.Usage()
		return errUsage
	}
	if _, err := os.Stat(filepath.Join(*out, "fleet.json")); err == nil {
		return fmt.Errorf("%s already holds a fleet", *out)
	}
	if err := os.MkdirAll(filepath.Join(*out, "keys"), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", *out, err)
	}
	ff := fleetFile{Seed: *seed}
	var roots []map[string]any
	for i, m := range catalogueOfMakers {
		k, err := manufacturerKey(*seed, i)
		if err != nil {
			return err
		}
		m.KeyFile = filepath.Join("keys", fmt.Sprintf("manufacturer-%d.key", i))
		pemKey, err := k.MarshalPEM()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, m.KeyFile), pemKey, 0o600); err != nil {
			return fmt.Errorf("writing key: %w", err)
		}
		models := make([]fleetModel, len(m.Models))
		for j, md := range m.Models {
			// GTIN-14: indicator 0, company prefix, item reference, check digit.
			md.GTIN, err = client.CompleteGTIN(fmt.Sprintf("0%s%0*d", m.GS1Prefix, 12-len(m.GS1Prefix), j+1))
			if err != nil {
				return err
			}
			models[j] = md
		}
		m.Models = models
		ff.Manufacturers = append(ff.Manufacturers, m)
		roots = append(roots, map[string]any{"name": m.Name, "udiPrefixes": []string{"gs1:" + m.GS1Prefix}, "keys": []string{string(k.Public().PEM())}})
	}
	if err := writeJSON(filepath.Join(*out, "trust-roots.json"), map[string]any{"manufacturers": roots}); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(*out, "fleet.json"), ff); err != nil {
		return err
	}
	fmt.Printf("wrote %s/fleet.json, %s/trust-roots.json and %d manufacturer keys\n", *out, *out, len(ff.Manufacturers))
	return nil
}

// derive returns n bytes derived from the seed for a purpose and a number:
// the simulator's stand-in for a device's physically unclonable function.
func derive(seed uint64, purpose string, i int, n int) []byte {
	var s [16]byte
	binary.BigEndian.PutUint64(s[:8], seed)
	binary.BigEndian.PutUint64(s[8:], uint64(i))
	b, err := hkdf.Key(sha256.New, s[:], nil, "vigil-fleetsim "+purpose, n)
	if err != nil {
		panic(err) // only for n beyond HKDF's limit, which no caller asks
	}
	return b
}

func manufacturerKey(seed uint64, i int) (*client.PrivateKey, error) {
	return client.NewPrivateKey(ed25519.NewKeyFromSeed(derive(seed, "manufacturer", i, ed25519.SeedSize)))
}

// deviceKey is device i's P-256 key, as a secure element would derive it
// from its PUF response: deterministic per device and seed.
func deviceKey(seed uint64, i int) (*client.PrivateKey, error) {
	return client.NewPrivateKey(deviceECDSAKey(seed, i))
}

func deviceECDSAKey(seed uint64, i int) *ecdsa.PrivateKey {
	for ctr := 0; ; ctr++ {
		// A 32-byte string is a valid P-256 scalar unless it is zero or
		// at least the group order (odds about 2^-32); then derive again.
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), derive(seed, fmt.Sprintf("device key %d", ctr), i, 32))
		if err == nil {
			return k
		}
	}
}

// possessionProof is device i's signature of msg in the form
// client.PrivateKey.Sign makes (ASN.1 ECDSA over SHA-256), but deterministic
// (RFC 6979) rather than randomized, so that an enrollment, which carries
// it, is the same bytes in every run of a seed.
func possessionProof(seed uint64, i int, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return deviceECDSAKey(seed, i).Sign(nil, h[:], crypto.SHA256)
}

// firmwareDigest stands in for the SHA-256 of a build's image.
func firmwareDigest(seed uint64, image string) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%s", seed, image))
	return hex.EncodeToString(h[:])
}

func writeJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(name, append(b, '\n'))
}

// writeAtomic writes a file whole or not at all, readable by all
// (renameio: a temporary file, fsynced, renamed over name). A simulator
// needs no directory fsync: a process killed mid-run loses no rename.
func writeAtomic(name string, b []byte) error {
	if err := renameio.WriteFile(name, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
