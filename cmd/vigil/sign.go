package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"github.com/vigil-log/vigil/client"
)

func sign(args []string) error {
	fs := newFlags("sign", "--kind KIND --key FILE --predicate FILE --out FILE [kind flags]",
		`  # an enrollment: the manufacturer signs, the device key proves possession
  vigil sign --kind enrollment --key acme.key --device-key pump-0001.key \
      --predicate enrollment.json --out enrollment.dsse.json
  # an SBOM for a firmware image
  vigil sign --kind sbom --key acme.key --predicate fw-4.2.1.cdx.json \
      --firmware-name pump-fw-4.2.1.bin --firmware-digest $(sha256sum pump-fw-4.2.1.bin | cut -c1-64) \
      --out sbom.dsse.json

Predicate files are JSON in the schema of their kind (see the client package
documentation); an SBOM predicate is a CycloneDX or SPDX JSON document.`)
	kindName := fs.String("kind", "", "entry kind: enrollment, attestation, sbom, revocation or field-action")
	keyFile := fs.String("key", "", "signing key (PKCS #8 PEM): the manufacturer's, or the device's for an attestation")
	predFile := fs.String("predicate", "", "predicate file (JSON)")
	out := fs.String("out", "", "envelope file to write")
	devKey := fs.String("device-key", "", "enrollment: the device's private key; fills in deviceKey and proofOfPossession")
	fwName := fs.String("firmware-name", "", "sbom: the firmware image's name")
	fwDigest := fs.String("firmware-digest", "", "sbom: the firmware image's SHA-256, hex")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := need(fs, "kind", "key", "predicate", "out"); err != nil {
		return err
	}
	kind, err := client.ParseKind(*kindName)
	if err != nil {
		fmt.Fprintf(fs.Output(), "vigil sign: %v\n", err)
		return errUsage
	}
	key, err := readPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	pred, err := os.ReadFile(*predFile)
	if err != nil {
		return fmt.Errorf("reading predicate: %w", err)
	}
	var st *client.Statement
	switch kind {
	case client.KindSBOM:
		if *fwName == "" || *fwDigest == "" {
			fmt.Fprintln(fs.Output(), "vigil sign: an SBOM needs --firmware-name and --firmware-digest")
			return errUsage
		}
		pt, err := sbomPredicateType(pred)
		if err != nil {
			return err
		}
		st = client.NewSBOMStatement(pt, pred, *fwName, *fwDigest)
	case client.KindEnrollment:
		var p client.Enrollment
		if err := json.Unmarshal(pred, &p); err != nil {
			return fmt.Errorf("%s: %w", *predFile, err)
		}
		if *devKey != "" {
			dk, err := readPrivateKey(*devKey)
			if err != nil {
				return err
			}
			pop, err := dk.Sign(client.PossessionMessage(p.UDI, key.Public().ID()))
			if err != nil {
				return err
			}
			p.DeviceKey, p.ProofOfPossession = string(dk.Public().PEM()), base64.StdEncoding.EncodeToString(pop)
		}
		st, err = client.NewStatement(client.PredicateEnrollment, &p)
	case client.KindAttestation:
		var p client.Attestation
		if err = json.Unmarshal(pred, &p); err == nil {
			st, err = client.NewStatement(client.PredicateAttestation, &p)
		}
	case client.KindRevocation:
		var p client.Revocation
		if err = json.Unmarshal(pred, &p); err == nil {
			st, err = client.NewStatement(client.PredicateRevocation, &p)
		}
	case client.KindFieldAction:
		var p client.FieldAction
		if err = json.Unmarshal(pred, &p); err == nil {
			st, err = client.NewStatement(client.PredicateFieldAction, &p)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *predFile, err)
	}
	env, err := st.Sign(key)
	if err != nil {
		return err
	}
	// Check locally what the log will check first, so a mistake shows here.
	if _, err := client.NewEntry(env); err != nil {
		return fmt.Errorf("the signed entry would be refused: %w", err)
	}
	b, err := env.MarshalJSON()
	if err != nil {
		return err
	}
	if err := writeNew(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s entry signed by key %s\n", *out, kind, key.Public().ID())
	return nil
}

// sbomPredicateType tells a CycloneDX document from an SPDX one.
func sbomPredicateType(doc []byte) (string, error) {
	var probe struct {
		BOMFormat   string `json:"bomFormat"`
		SPDXVersion string `json:"spdxVersion"`
	}
	if err := json.NewDecoder(bytes.NewReader(doc)).Decode(&probe); err != nil {
		return "", fmt.Errorf("SBOM is not JSON: %w", err)
	}
	switch {
	case probe.BOMFormat == "CycloneDX":
		return client.PredicateCycloneDX, nil
	case probe.SPDXVersion != "":
		return client.PredicateSPDX, nil
	}
	return "", fmt.Errorf("SBOM is neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON")
}

func readPrivateKey(name string) (*client.PrivateKey, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	k, err := client.ParsePrivateKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}
