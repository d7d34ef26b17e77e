package client

import (
	"fmt"
)

// TrustRoots are the manufacturers a log accepts and the keys they sign with.
// They are configuration, not log content: the log operator publishes them,
// and a verifier supplies its own copy.
//
// File format (JSON, unknown fields refused):
//
//	{
//	  "manufacturers": [
//	    {
//	      "name": "Acme Infusion Systems",
//	      "udiPrefixes": ["gs1:0614141", "hibcc:A123"],
//	      "keys": ["-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA...\n-----END PUBLIC KEY-----\n"]
//	    }
//	  ]
//	}
//
// A manufacturer may enroll only devices whose UDI-DI falls under one of its
// prefixes (see UDIPrefix). Names and keys are unique across the file.
type TrustRoots struct {
	Manufacturers []*Manufacturer
	byKey         map[string]*Manufacturer
}

// Manufacturer is one trust-root manufacturer.
type Manufacturer struct {
	Name        string
	UDIPrefixes []UDIPrefix
	Keys        []*PublicKey
}

type trustRootsFile struct {
	Manufacturers []manufacturerJSON `json:"manufacturers"`
}

type manufacturerJSON struct {
	Name        string   `json:"name"`
	UDIPrefixes []string `json:"udiPrefixes"`
	Keys        []string `json:"keys"`
}

// ParseTrustRoots decodes and checks a trust-roots file.
func ParseTrustRoots(b []byte) (*TrustRoots, error) {
	var f trustRootsFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("trust roots: %w", err)
	}
	tr := &TrustRoots{byKey: map[string]*Manufacturer{}}
	names := map[string]bool{}
	for i, fm := range f.Manufacturers {
		if fm.Name == "" || len(fm.Name) > maxText {
			return nil, fmt.Errorf("trust roots: manufacturer %d: name must be 1 to %d bytes", i, maxText)
		}
		if names[fm.Name] {
			return nil, fmt.Errorf("trust roots: manufacturer %d: duplicate name", i)
		}
		names[fm.Name] = true
		if len(fm.Keys) == 0 {
			return nil, fmt.Errorf("trust roots: manufacturer %d: no keys", i)
		}
		m := &Manufacturer{Name: fm.Name}
		for _, p := range fm.UDIPrefixes {
			up, err := ParseUDIPrefix(p)
			if err != nil {
				return nil, fmt.Errorf("trust roots: manufacturer %d: %w", i, err)
			}
			m.UDIPrefixes = append(m.UDIPrefixes, up)
		}
		for j, pemKey := range fm.Keys {
			k, err := ParsePublicKeyPEM([]byte(pemKey))
			if err != nil {
				return nil, fmt.Errorf("trust roots: manufacturer %d key %d: %w", i, j, err)
			}
			if tr.byKey[k.ID()] != nil {
				return nil, fmt.Errorf("trust roots: manufacturer %d key %d: key listed twice", i, j)
			}
			tr.byKey[k.ID()] = m
			m.Keys = append(m.Keys, k)
		}
		tr.Manufacturers = append(tr.Manufacturers, m)
	}
	return tr, nil
}

// Marshal encodes the trust roots in the file format ParseTrustRoots reads.
func (tr *TrustRoots) Marshal() ([]byte, error) {
	var f trustRootsFile
	for _, m := range tr.Manufacturers {
		fm := manufacturerJSON{Name: m.Name, UDIPrefixes: []string{}}
		for _, p := range m.UDIPrefixes {
			fm.UDIPrefixes = append(fm.UDIPrefixes, p.String())
		}
		for _, k := range m.Keys {
			fm.Keys = append(fm.Keys, string(k.PEM()))
		}
		f.Manufacturers = append(f.Manufacturers, fm)
	}
	return marshalIndent(f)
}

// ManufacturerOf returns the manufacturer owning a key ID, or nil.
func (tr *TrustRoots) ManufacturerOf(keyID string) *Manufacturer { return tr.byKey[keyID] }

// key returns the manufacturer key with the given ID, or nil.
func (m *Manufacturer) key(id string) *PublicKey {
	for _, k := range m.Keys {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

// Covers reports whether one of the manufacturer's UDI prefixes covers d.
func (m *Manufacturer) Covers(d DI) bool {
	for _, p := range m.UDIPrefixes {
		if p.Matches(d) {
			return true
		}
	}
	return false
}
