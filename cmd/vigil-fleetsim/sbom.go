package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/uuid"
	spdxjson "github.com/spdx/tools-golang/json"
	spdxcommon "github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// fwComponent is one component in the simulator's catalogue: one version
// of an embedded software component, with its package URL and, where the
// NVD has a standard one, its CPE 2.3 name.
type fwComponent struct{ name, version, purl, cpe string }

// componentCatalogue lists real embedded components with several real
// versions each, oldest first. Neighbouring versions straddle real fixes
// (openssl 3.0.13/3.0.14, zlib 1.2.13/1.3.1, curl 8.5.0/8.6.0, ...), so a
// vulnerability advisory hits some simulated builds and not others.
var componentCatalogue = [][]fwComponent{
	catalogueVersions("linux", "pkg:generic/linux@%s", "cpe:2.3:o:linux:linux_kernel:%s:*:*:*:*:*:*:*", "5.15.148", "6.1.77", "6.6.16"),
	catalogueVersions("u-boot", "pkg:generic/u-boot@%s", "cpe:2.3:a:denx:u-boot:%s:*:*:*:*:*:*:*", "2023.10", "2024.01"),
	catalogueVersions("busybox", "pkg:generic/busybox@%s", "cpe:2.3:a:busybox:busybox:%s:*:*:*:*:*:*:*", "1.35.0", "1.36.1"),
	catalogueVersions("musl", "pkg:generic/musl@%s", "cpe:2.3:a:musl-libc:musl:%s:*:*:*:*:*:*:*", "1.2.3", "1.2.4"),
	catalogueVersions("newlib", "pkg:generic/newlib@%s", "", "4.3.0", "4.4.0"),
	catalogueVersions("openssl", "pkg:generic/openssl@%s", "cpe:2.3:a:openssl:openssl:%s:*:*:*:*:*:*:*", "3.0.12", "3.0.13", "3.0.14"),
	catalogueVersions("wolfssl", "pkg:github/wolfssl/wolfssl@v%s-stable", "cpe:2.3:a:wolfssl:wolfssl:%s:*:*:*:*:*:*:*", "5.6.4", "5.6.6"),
	catalogueVersions("mbedtls", "pkg:github/mbed-tls/mbedtls@v%s", "cpe:2.3:a:arm:mbed_tls:%s:*:*:*:*:*:*:*", "2.28.7", "3.5.2", "3.6.0"),
	catalogueVersions("zlib", "pkg:generic/zlib@%s", "cpe:2.3:a:zlib:zlib:%s:*:*:*:*:*:*:*", "1.2.13", "1.3", "1.3.1"),
	catalogueVersions("sqlite", "pkg:generic/sqlite@%s", "cpe:2.3:a:sqlite:sqlite:%s:*:*:*:*:*:*:*", "3.44.2", "3.45.1"),
	catalogueVersions("curl", "pkg:generic/curl@%s", "cpe:2.3:a:haxx:curl:%s:*:*:*:*:*:*:*", "8.4.0", "8.5.0", "8.6.0"),
	catalogueVersions("libxml2", "pkg:generic/libxml2@%s", "cpe:2.3:a:xmlsoft:libxml2:%s:*:*:*:*:*:*:*", "2.11.6", "2.12.5"),
	catalogueVersions("expat", "pkg:generic/expat@%s", "cpe:2.3:a:libexpat_project:libexpat:%s:*:*:*:*:*:*:*", "2.5.0", "2.6.0"),
	catalogueVersions("libpng", "pkg:generic/libpng@%s", "cpe:2.3:a:libpng:libpng:%s:*:*:*:*:*:*:*", "1.6.39", "1.6.40"),
	catalogueVersions("dropbear", "pkg:generic/dropbear@%s", "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:%s:*:*:*:*:*:*:*", "2022.83", "2024.84"),
	catalogueVersions("mosquitto", "pkg:generic/mosquitto@%s", "cpe:2.3:a:eclipse:mosquitto:%s:*:*:*:*:*:*:*", "2.0.17", "2.0.18"),
	catalogueVersions("FreeRTOS-Kernel", "pkg:github/freertos/freertos-kernel@V%s", "", "10.5.1", "10.6.2", "11.0.1"),
	catalogueVersions("zephyr", "pkg:github/zephyrproject-rtos/zephyr@v%s", "cpe:2.3:o:zephyrproject:zephyr:%s:*:*:*:*:*:*:*", "3.4.0", "3.5.0"),
	catalogueVersions("lwip", "pkg:generic/lwip@%s", "cpe:2.3:a:lwip_project:lwip:%s:*:*:*:*:*:*:*", "2.1.3", "2.2.0"),
	catalogueVersions("cJSON", "pkg:github/davegamble/cjson@v%s", "cpe:2.3:a:cjson_project:cjson:%s:*:*:*:*:*:*:*", "1.7.16", "1.7.17"),
	catalogueVersions("tinycbor", "pkg:github/intel/tinycbor@v%s", "", "0.5.4", "0.6.0"),
	catalogueVersions("mcuboot", "pkg:github/mcu-tools/mcuboot@v%s", "", "1.10.0", "2.0.0"),
	catalogueVersions("CMSIS_5", "pkg:github/arm-software/cmsis_5@%s", "", "5.8.0", "5.9.0"),
}

// catalogueVersions returns one fwComponent per version, filling the
// version into the purl and CPE patterns (no CPE if cpePattern is "").
func catalogueVersions(name, purlPattern, cpePattern string, versions ...string) []fwComponent {
	out := make([]fwComponent, 0, len(versions))
	for _, v := range versions {
		c := fwComponent{name: name, version: v, purl: fmt.Sprintf(purlPattern, v)}
		if cpePattern != "" {
			c.cpe = fmt.Sprintf(cpePattern, v)
		}
		out = append(out, c)
	}
	return out
}

// pickComponents deterministically picks 8-15 distinct components, one
// version each, from componentCatalogue using r, in catalogue order.
func pickComponents(r *rand.Rand) []fwComponent {
	n := 8 + r.IntN(8)
	picked := r.Perm(len(componentCatalogue))[:n]
	slices.Sort(picked)
	out := make([]fwComponent, 0, n)
	for _, i := range picked {
		versions := componentCatalogue[i]
		out = append(out, versions[r.IntN(len(versions))])
	}
	return out
}

// buildSBOM returns a deterministic SBOM document for firmware name at
// version, whose image has SHA-256 digest (lowercase hex), listing comps: a
// CycloneDX 1.5 JSON document if format is "cyclonedx", an SPDX 2.3 JSON
// document if it is "spdx". The document is built from the CycloneDX and
// SPDX libraries' types. Its timestamp and its serial number or document
// namespace derive from the digest, so identical inputs give identical
// bytes, and the submissions of a rerun are the same entries.
func buildSBOM(format, name, version, digest string, comps []fwComponent) ([]byte, error) {
	raw, err := hex.DecodeString(digest)
	if err != nil || len(raw) != 32 || digest != strings.ToLower(digest) {
		return nil, errors.New("building SBOM: digest is not lowercase hex SHA-256")
	}
	if name == "" || version == "" {
		return nil, errors.New("building SBOM: firmware name and version are required")
	}
	for i, c := range comps {
		if c.name == "" {
			return nil, fmt.Errorf("building SBOM: component %d has no name", i)
		}
	}
	// A name-based (v5) UUID and a time within 2024, both from the digest.
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://fleetsim.vigil.example/firmware/sha256/"+digest))
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).
		Add(time.Duration(binary.BigEndian.Uint32(raw)%(366*24*3600)) * time.Second).
		Format(time.RFC3339)
	fwPURL := "pkg:generic/" + url.PathEscape(name) + "@" + url.PathEscape(version)
	var buf bytes.Buffer
	switch format {
	case "cyclonedx":
		bom := sbomCycloneDX(name, version, digest, fwPURL, id, created, comps)
		err = cyclonedx.NewBOMEncoder(&buf, cyclonedx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false).Encode(bom)
	case "spdx":
		doc := sbomSPDX(name, version, digest, fwPURL, id, created, comps)
		err = spdxjson.Write(doc, &buf, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
	default:
		return nil, fmt.Errorf("building SBOM: unknown format %q", format)
	}
	if err != nil {
		return nil, fmt.Errorf("building %s SBOM: %w", format, err)
	}
	return buf.Bytes(), nil
}

// sbomCycloneDX builds buildSBOM's CycloneDX 1.5 document.
func sbomCycloneDX(name, version, digest, fwPURL string, id uuid.UUID, created string, comps []fwComponent) *cyclonedx.BOM {
	components := make([]cyclonedx.Component, 0, len(comps))
	refs := make([]string, 0, len(comps))
	for i, c := range comps {
		typ := cyclonedx.ComponentTypeLibrary
		if strings.HasPrefix(c.cpe, "cpe:2.3:o:") || c.name == "FreeRTOS-Kernel" {
			typ = cyclonedx.ComponentTypeOS
		}
		ref := fmt.Sprintf("component-%d-%s", i, c.name)
		components = append(components, cyclonedx.Component{
			BOMRef:     ref,
			Type:       typ,
			Name:       c.name,
			Version:    c.version,
			CPE:        c.cpe,
			PackageURL: c.purl,
		})
		refs = append(refs, ref)
	}
	return &cyclonedx.BOM{
		JSONSchema:   "http://cyclonedx.org/schema/bom-1.5.schema.json",
		BOMFormat:    cyclonedx.BOMFormat,
		SpecVersion:  cyclonedx.SpecVersion1_5,
		SerialNumber: id.URN(),
		Version:      1,
		Metadata: &cyclonedx.Metadata{
			Timestamp:  created,
			Lifecycles: &[]cyclonedx.Lifecycle{{Phase: cyclonedx.LifecyclePhaseBuild}},
			Tools: &cyclonedx.ToolsChoice{Components: &[]cyclonedx.Component{
				{Type: cyclonedx.ComponentTypeApplication, Name: "vigil-fleetsim"},
			}},
			Component: &cyclonedx.Component{
				BOMRef:     "firmware",
				Type:       cyclonedx.ComponentTypeFirmware,
				Name:       name,
				Version:    version,
				Hashes:     &[]cyclonedx.Hash{{Algorithm: cyclonedx.HashAlgoSHA256, Value: digest}},
				PackageURL: fwPURL,
			},
		},
		Components:   &components,
		Dependencies: &[]cyclonedx.Dependency{{Ref: "firmware", Dependencies: &refs}},
	}
}

// sbomSPDX builds buildSBOM's SPDX 2.3 document.
func sbomSPDX(name, version, digest, fwPURL string, id uuid.UUID, created string, comps []fwComponent) *v2_3.Document {
	const fwID = spdxcommon.ElementID("Package-firmware")
	packages := []*v2_3.Package{{
		PackageName:             name,
		PackageSPDXIdentifier:   fwID,
		PackageVersion:          version,
		PackageDownloadLocation: "NOASSERTION",
		PackageChecksums:        []spdxcommon.Checksum{{Algorithm: spdxcommon.SHA256, Value: digest}},
		PrimaryPackagePurpose:   "FIRMWARE",
		PackageExternalReferences: []*v2_3.PackageExternalReference{{
			Category: spdxcommon.CategoryPackageManager, RefType: spdxcommon.TypePackageManagerPURL, Locator: fwPURL,
		}},
	}}
	relationships := []*v2_3.Relationship{{
		RefA:         spdxcommon.MakeDocElementID("", "DOCUMENT"),
		RefB:         spdxcommon.MakeDocElementID("", string(fwID)),
		Relationship: spdxcommon.TypeRelationshipDescribe,
	}}
	for i, c := range comps {
		purpose := "LIBRARY"
		if strings.HasPrefix(c.cpe, "cpe:2.3:o:") || c.name == "FreeRTOS-Kernel" {
			purpose = "OPERATING_SYSTEM" // the spelling of the SPDX 2.3 JSON schema
		}
		p := &v2_3.Package{
			PackageName:             c.name,
			PackageSPDXIdentifier:   spdxcommon.ElementID(fmt.Sprintf("Package-%d-%s", i, sbomIDString(c.name))),
			PackageVersion:          c.version,
			PackageDownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose:   purpose,
		}
		if c.purl != "" {
			p.PackageExternalReferences = append(p.PackageExternalReferences, &v2_3.PackageExternalReference{
				Category: spdxcommon.CategoryPackageManager, RefType: spdxcommon.TypePackageManagerPURL, Locator: c.purl,
			})
		}
		if c.cpe != "" {
			p.PackageExternalReferences = append(p.PackageExternalReferences, &v2_3.PackageExternalReference{
				Category: spdxcommon.CategorySecurity, RefType: spdxcommon.TypeSecurityCPE23Type, Locator: c.cpe,
			})
		}
		packages = append(packages, p)
		relationships = append(relationships, &v2_3.Relationship{
			RefA:         spdxcommon.MakeDocElementID("", string(fwID)),
			RefB:         spdxcommon.MakeDocElementID("", string(p.PackageSPDXIdentifier)),
			Relationship: spdxcommon.TypeRelationshipContains,
		})
	}
	return &v2_3.Document{
		SPDXVersion:       v2_3.Version,
		DataLicense:       v2_3.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name + "-" + version,
		DocumentNamespace: "https://fleetsim.vigil.example/spdx/" + url.PathEscape(name+"-"+version) + "-" + id.String(),
		CreationInfo: &v2_3.CreationInfo{
			Creators: []spdxcommon.Creator{{Creator: "vigil-fleetsim", CreatorType: "Tool"}},
			Created:  created,
		},
		Packages:      packages,
		Relationships: relationships,
	}
}

// sbomIDString turns s into an SPDX idstring by replacing every character
// other than ASCII letters, digits, '.' and '-' with '-'.
func sbomIDString(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}
