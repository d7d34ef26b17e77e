package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/package-url/packageurl-go"
	"strings"
	"unicode"
	"unicode/utf8"

	cyclonedx "github.com/CycloneDX/cyclonedx-go"
	"github.com/spdx/tools-golang/convert"
	spdxcommon "github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdx/v2/v2_2"
	"github.com/spdx/tools-golang/spdx/v2/v2_3"
)

// SBOM predicate types accepted in in-toto statements (the standard ones
// used by cosign, syft and in-toto). A statement may also name a version,
// as in "https://cyclonedx.org/bom/v1.5"; see IsSBOMPredicate.
const (
	PredicateCycloneDX = "https://cyclonedx.org/bom"
	PredicateSPDX      = "https://spdx.dev/Document"
)

// maxSBOMComponents bounds SBOM.Components. Real firmware SBOMs list
// hundreds to a few thousand; the bound keeps the index entry of one SBOM
// (and the work of Contains) small.
const maxSBOMComponents = 100_000

// IsSBOMPredicate reports whether t is an accepted SBOM predicate type:
// PredicateCycloneDX or PredicateSPDX, or either followed by "/v" and a
// dotted decimal version, e.g. "https://cyclonedx.org/bom/v1.5",
// "https://spdx.dev/Document/v2.3".
func IsSBOMPredicate(t string) bool {
	_, _, ok := sbomPredicate(t)
	return ok
}

// sbomPredicate splits an SBOM predicate type into its format ("cyclonedx"
// or "spdx") and the version it names, "" if none.
func sbomPredicate(t string) (format, version string, ok bool) {
	for _, p := range [...]struct{ base, format string }{
		{PredicateCycloneDX, "cyclonedx"},
		{PredicateSPDX, "spdx"},
	} {
		if t == p.base {
			return p.format, "", true
		}
		if v, found := strings.CutPrefix(t, p.base+"/v"); found && isDottedVersion(v) {
			return p.format, v, true
		}
	}
	return "", "", false
}

// isDottedVersion reports whether v is one or more runs of ASCII digits
// separated by single dots, such as "2" or "1.5".
func isDottedVersion(v string) bool {
	if v == "" || len(v) > 16 {
		return false
	}
	digits := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == '.' && digits > 0:
			digits = 0
		default:
			return false
		}
	}
	return digits > 0
}

// SBOM is what vigil extracts from an SBOM document for its index.
type SBOM struct {
	// Format is "cyclonedx" or "spdx".
	Format string
	// SpecVersion is the document's specification version: "1.5" for
	// CycloneDX, "SPDX-2.3" for SPDX.
	SpecVersion string
	// Name names the described firmware: CycloneDX metadata.component.name;
	// for SPDX the name of the package the document DESCRIBES (a
	// relationship or documentDescribes), else the document name.
	Name string
	// Version is the firmware's version: CycloneDX
	// metadata.component.version, or the SPDX described package's
	// versionInfo. Never empty.
	Version string
	// Components lists every component or package except the described
	// one, in document order. Nested CycloneDX components are flattened
	// depth-first, a parent before its children; the ones nested in
	// metadata.component come before the top-level list.
	Components []Component
}

// Component is one component of an SBOM, as the document states it.
type Component struct {
	// Name is the component's name. Never empty.
	Name string
	// Version is its version, or "" if the document gives none.
	Version string
	// PURL is its package URL (CycloneDX purl; the SPDX PACKAGE-MANAGER
	// external reference of type purl), or "".
	PURL string
	// CPE is its CPE name (CycloneDX cpe; the SPDX SECURITY external
	// reference of type cpe23Type, else cpe22Type), or "".
	CPE string
}

// ParseSBOM parses a predicate of the given SBOM predicate type with the
// CycloneDX or SPDX Go library (JSON only: CycloneDX 1.2 to 1.7, SPDX 2.2
// and 2.3) and extracts the described firmware and its components.
//
// Beyond what the libraries check, it refuses: input that is not UTF-8; a
// JSON object with two member names that encoding/json would match to the
// same field (a duplicate, or names differing only in case), or a member
// name it would match to one that vigil reads without being that name, since
// other parsers read those documents differently; a version in the
// predicate type that differs from the document's; a CycloneDX bomFormat
// other than "CycloneDX" or a missing specVersion; an SPDX document whose SPDXID is not
// SPDXRef-DOCUMENT, or with a malformed or repeated package SPDXID; no
// described firmware name or version; a component without a name; more than
// 100,000 components; and, before decoding, a document whose arrays would
// decode to more than 128 MiB of the libraries' structs (a real 16 MiB SBOM
// comes to about 40 MiB, but "components":[{},{},...] costs 400 bytes per
// three).
//
// Every error wraps ErrSBOM and none repeats the input. Decoding a real SBOM
// allocates roughly ten to fifteen times its size, so callers bound the
// input (vigil accepts SBOMs up to 16 MiB).
func ParseSBOM(predicateType string, predicate []byte) (*SBOM, error) {
	format, version, ok := sbomPredicate(predicateType)
	if !ok {
		return nil, fmt.Errorf("%w: predicate type is not CycloneDX or SPDX", ErrSBOM)
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD where other parsers
	// refuse the document; JSON (RFC 8259) must be UTF-8.
	if !utf8.Valid(predicate) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrSBOM)
	}
	// Before the libraries decode anything: they allocate a struct of up
	// to 500 bytes per array element, so "components":[{},{},...] would
	// turn 16 MiB into gigabytes.
	if err := scanJSON(predicate, sbomReadNames[format], maxSBOMDecodeEstimate); err != nil {
		return nil, err
	}
	var (
		s   *SBOM
		err error
	)
	switch format {
	case "cyclonedx":
		s, err = parseCycloneDX(predicate)
	default:
		s, err = parseSPDX(predicate)
	}
	if err != nil {
		return nil, err
	}
	if version != "" && version != strings.TrimPrefix(s.SpecVersion, "SPDX-") {
		return nil, fmt.Errorf("%w: the predicate type names another version than the document", ErrSBOM)
	}
	return s, nil
}

// sbomReadNames are the member names vigil's extraction depends on, per
// format. encoding/json matches member names to fields case-insensitively,
// where every other parser and the schemas do not: "Version" would be
// vigil's version and nobody else's. scanJSON refuses such
// variants of these names; variants of the others cannot change the index.
var sbomReadNames = map[string][]string{
	"cyclonedx": {"bomFormat", "specVersion", "metadata", "component", "components", "name", "version", "purl", "cpe"},
	"spdx": {
		"spdxVersion", "SPDXID", "name", "packages", "versionInfo", "externalRefs",
		"referenceCategory", "referenceType", "referenceLocator", "documentDescribes",
		"relationships", "spdxElementId", "relatedSpdxElement", "relationshipType",
	},
}

// errSBOMLibraryPanic stands for a panic inside a library's decoder.
var errSBOMLibraryPanic = errors.New("library panic")

// sbomDecode runs a library decoder and turns a panic into an error.
// tools-golang v0.5.7 dereferences a nil *Package when "packages" holds a
// null; any such bug on attacker-chosen input must cost a 400, not the
// server. Only library code runs under the recover, so the fuzz test still
// sees panics in ours.
func sbomDecode(decode func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errSBOMLibraryPanic
		}
	}()
	return decode()
}

// sbomDecodeProblem describes a library decoding error without repeating
// the input: library messages quote the values they refuse.
func sbomDecodeProblem(err error) string {
	switch {
	case errors.Is(err, errSBOMLibraryPanic):
		return "the library failed on this input"
	case errors.Is(err, cyclonedx.ErrInvalidSpecVersion):
		return "unsupported specVersion"
	}
	return jsonProblem(err)
}

// parseCycloneDX decodes a CycloneDX JSON document with the CycloneDX
// library and extracts the described firmware and its components.
func parseCycloneDX(predicate []byte) (*SBOM, error) {
	var bom cyclonedx.BOM
	// NewBOMDecoder is the library's entry point, and the one to keep if a
	// later version post-processes there. In v0.12.0 its JSON Decode is
	// io.ReadAll plus json.Unmarshal, not a stream: the copy of the input
	// is about a seventh of what decoding allocates.
	err := sbomDecode(func() error {
		return cyclonedx.NewBOMDecoder(bytes.NewReader(predicate), cyclonedx.BOMFileFormatJSON).Decode(&bom)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: decoding CycloneDX: %s", ErrSBOM, sbomDecodeProblem(err))
	}
	// The library takes any bomFormat, and a missing specVersion as zero.
	if bom.BOMFormat != cyclonedx.BOMFormat {
		return nil, fmt.Errorf("%w: bomFormat is not CycloneDX", ErrSBOM)
	}
	if bom.SpecVersion == 0 {
		return nil, fmt.Errorf("%w: CycloneDX document has no specVersion", ErrSBOM)
	}
	if bom.SpecVersion < cyclonedx.SpecVersion1_2 {
		return nil, fmt.Errorf("%w: CycloneDX has no JSON form before 1.2", ErrSBOM)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		return nil, fmt.Errorf("%w: CycloneDX metadata.component is missing: the firmware is not described", ErrSBOM)
	}
	fw := bom.Metadata.Component
	s := &SBOM{
		Format:      "cyclonedx",
		SpecVersion: bom.SpecVersion.String(),
		Name:        fw.Name,
		Version:     fw.Version,
	}
	if err := s.checkFirmware(); err != nil {
		return nil, err
	}
	if err := s.addCycloneDX(fw.Components); err != nil {
		return nil, err
	}
	if err := s.addCycloneDX(bom.Components); err != nil {
		return nil, err
	}
	return s, nil
}

// addCycloneDX appends comps and their nested components, depth-first.
// encoding/json bounds the nesting (10,000 levels), hence the recursion.
func (s *SBOM) addCycloneDX(comps *[]cyclonedx.Component) error {
	if comps == nil {
		return nil
	}
	for i := range *comps {
		c := &(*comps)[i]
		if err := s.add(Component{Name: c.Name, Version: c.Version, PURL: c.PackageURL, CPE: c.CPE}); err != nil {
			return err
		}
		if err := s.addCycloneDX(c.Components); err != nil {
			return err
		}
	}
	return nil
}

// add appends c after checking its name and the component bound.
func (s *SBOM) add(c Component) error {
	if len(s.Components) >= maxSBOMComponents {
		return fmt.Errorf("%w: more than %d components", ErrSBOM, maxSBOMComponents)
	}
	if strings.TrimSpace(c.Name) == "" {
		return fmt.Errorf("%w: component %d has no name", ErrSBOM, len(s.Components))
	}
	s.Components = append(s.Components, c)
	return nil
}

// checkFirmware checks that the described firmware has a name and version.
func (s *SBOM) checkFirmware() error {
	if strings.TrimSpace(s.Name) == "" {
		return fmt.Errorf("%w: the described firmware has no name", ErrSBOM)
	}
	if strings.TrimSpace(s.Version) == "" {
		return fmt.Errorf("%w: the described firmware has no version", ErrSBOM)
	}
	return nil
}

// parseSPDX decodes an SPDX 2.2 or 2.3 JSON document with the SPDX
// library's types and extracts the described package and the others.
//
// It does what tools-golang's json.Read does (read spdxVersion, decode into
// that version's Document, convert to the 2.3 model) without json.Read's
// costs: a copy of the whole input, and a first decode of all of it into
// map[string]any, which together double the memory a 16 MiB document
// takes. The fuzz test checks that both agree.
func parseSPDX(predicate []byte) (*SBOM, error) {
	var probe spdxHeader
	if err := json.Unmarshal(predicate, &probe); err != nil {
		return nil, fmt.Errorf("%w: decoding SPDX: %s", ErrSBOM, jsonProblem(err))
	}
	var doc v2_3.Document
	var err error
	switch probe.SPDXVersion {
	case "":
		return nil, fmt.Errorf("%w: SPDX document has no spdxVersion", ErrSBOM)
	case v2_3.Version:
		err = sbomDecode(func() error { return json.Unmarshal(predicate, &doc) })
	case v2_2.Version:
		err = sbomDecode(func() error {
			var old v2_2.Document
			if err := json.Unmarshal(predicate, &old); err != nil {
				return err
			}
			return convert.Document(&old, &doc)
		})
	default:
		return nil, fmt.Errorf("%w: spdxVersion is not SPDX-2.2 or SPDX-2.3", ErrSBOM)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decoding SPDX: %s", ErrSBOM, sbomDecodeProblem(err))
	}
	// The library leaves a missing SPDXID empty, and keeps identifiers as
	// they are written, JSON escapes included (it trims quotes instead of
	// decoding the string): "SPDXRef-f\u0077" stays apart from
	// "SPDXRef-fw", which other parsers take as equal. Package identifiers
	// must be idstrings, as the spec says, and relationships may not hold a
	// backslash: either way, the raw and the decoded forms are the same.
	switch {
	case doc.SPDXIdentifier == "":
		return nil, fmt.Errorf("%w: SPDX document has no SPDXID", ErrSBOM)
	case doc.SPDXIdentifier != "DOCUMENT":
		return nil, fmt.Errorf("%w: SPDX document SPDXID is not SPDXRef-DOCUMENT", ErrSBOM)
	}
	if len(doc.Packages) > maxSBOMComponents+1 {
		return nil, fmt.Errorf("%w: more than %d components", ErrSBOM, maxSBOMComponents)
	}
	byID := make(map[spdxcommon.ElementID]int, len(doc.Packages))
	for i, p := range doc.Packages {
		if p == nil || !isSPDXIDString(string(p.PackageSPDXIdentifier)) {
			return nil, fmt.Errorf("%w: SPDX package %d has a missing or malformed SPDXID", ErrSBOM, i)
		}
		if _, dup := byID[p.PackageSPDXIdentifier]; dup {
			return nil, fmt.Errorf("%w: SPDX package %d repeats an SPDXID", ErrSBOM, i)
		}
		byID[p.PackageSPDXIdentifier] = i
	}
	described := -1
	for _, r := range doc.Relationships {
		if r == nil {
			continue
		}
		if !isSPDXRef(r.RefA) || !isSPDXRef(r.RefB) {
			return nil, fmt.Errorf("%w: an SPDX relationship has an escaped element id", ErrSBOM)
		}
		if described >= 0 {
			continue
		}
		var target spdxcommon.DocElementID
		switch r.Relationship {
		case spdxcommon.TypeRelationshipDescribe:
			if !isLocalRef(r.RefA, doc.SPDXIdentifier) {
				continue
			}
			target = r.RefB
		case spdxcommon.TypeRelationshipDescribeBy:
			if !isLocalRef(r.RefB, doc.SPDXIdentifier) {
				continue
			}
			target = r.RefA
		default:
			continue
		}
		if i, ok := byID[target.ElementRefID]; ok && target.DocumentRefID == "" && target.SpecialID == "" {
			described = i
		}
	}
	s := &SBOM{Format: "spdx", SpecVersion: probe.SPDXVersion, Name: doc.DocumentName}
	if described >= 0 {
		s.Name = doc.Packages[described].PackageName
		s.Version = doc.Packages[described].PackageVersion
	}
	if err := s.checkFirmware(); err != nil {
		return nil, err
	}
	for i, p := range doc.Packages {
		if i == described {
			continue
		}
		c := Component{Name: p.PackageName, Version: p.PackageVersion}
		var cpe22 string
		for _, ref := range p.PackageExternalReferences {
			switch {
			case ref == nil:
			case ref.Category == spdxcommon.CategoryPackageManager && ref.RefType == spdxcommon.TypePackageManagerPURL:
				if c.PURL == "" {
					c.PURL = ref.Locator
				}
			case ref.Category == spdxcommon.CategorySecurity && ref.RefType == spdxcommon.TypeSecurityCPE23Type:
				if c.CPE == "" {
					c.CPE = ref.Locator
				}
			case ref.Category == spdxcommon.CategorySecurity && ref.RefType == spdxcommon.TypeSecurityCPE22Type:
				if cpe22 == "" {
					cpe22 = ref.Locator
				}
			}
		}
		if c.CPE == "" {
			c.CPE = cpe22
		}
		if err := s.add(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// spdxHeader is the one field parseSPDX reads before choosing a model.
type spdxHeader struct {
	SPDXVersion string `json:"spdxVersion"`
}

// isLocalRef reports whether ref names element id of this document.
func isLocalRef(ref spdxcommon.DocElementID, id spdxcommon.ElementID) bool {
	return ref.DocumentRefID == "" && ref.SpecialID == "" && ref.ElementRefID == id
}

// isSPDXRef reports whether ref holds no JSON escape (see parseSPDX): the
// library has already refused identifiers without their prefix.
func isSPDXRef(ref spdxcommon.DocElementID) bool {
	return !strings.Contains(string(ref.DocumentRefID), `\`) && !strings.Contains(string(ref.ElementRefID), `\`)
}

// isSPDXIDString reports whether s is an SPDX idstring: one or more ASCII
// letters, digits, '-' or '.' (the SPDX 2.3.1 JSON schema's package SPDXID
// pattern).
func isSPDXIDString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// maxSBOMDecodeEstimate bounds scanJSON's estimate of the memory the
// libraries' structs take for a document. A 16 MiB SBOM of real components
// comes to about 40 MiB; a bound of 128 MiB leaves room and keeps a hostile
// one from costing gigabytes.
const maxSBOMDecodeEstimate = 128 << 20

// sbomElementSizes are the sizes of the libraries' structs (with a pointer,
// where the slice holds pointers) that an object element of an array of the
// given member name decodes to: the largest over CycloneDX 1.2-1.7 and SPDX
// 2.2-2.3. Other arrays' object elements take at most
// sbomDefaultElementSize, and scalar elements sbomScalarElementSize.
var sbomElementSizes = []struct {
	name string
	size int
}{
	{"packages", 504},                                                                // SPDX Package
	{"components", 400}, {"ancestors", 400}, {"descendants", 400}, {"variants", 400}, // CycloneDX Component
	{"files", 320},
	{"vulnerabilities", 248},
	{"services", 200},
	{"workflows", 184}, {"snippets", 184},
	{"tasks", 168},
	{"chain", 160}, {"signers", 160}, {"workspaces", 160},
	{"annotations", 136}, {"relationships", 136},
}

const (
	sbomDefaultElementSize = 128
	sbomScalarElementSize  = 16
)

// scanJSON checks, in one pass over data, what encoding/json and the SBOM
// libraries let through or cannot bound (decodeStrict uses it for the first
// check alone):
//
//   - two member names of one object that encoding/json matches to the same
//     field (equal under bytes.EqualFold once unescaped): it lets the last
//     one win, so a document could show one version to vigil and another
//     to a parser that keeps the first;
//   - a member name that encoding/json matches to one of read without being
//     it;
//   - if budget > 0, an estimate of the memory the decoded structs take
//     (see sbomElementSizes) above budget.
//
// It runs before decoding, so data may not be JSON; then it may or may not
// refuse it, but it does not fail otherwise.
func scanJSON(data []byte, read []string, budget int) error {
	readNames := make([][]byte, len(read))
	for i, r := range read {
		readNames[i] = []byte(r)
	}
	// One frame per open object or array. An object's names point into
	// data; past a few, a map of folded names keeps the scan linear.
	type frame struct {
		object      bool
		expectName  bool   // object: the next string is a member name
		lastName    []byte // object: the last member name
		names       [][]byte
		folded      map[string]struct{}
		elemPending bool // array: the next value starts an element
		elemSize    int  // array: the estimated size of an object element
	}
	var stack []frame
	depth, estimate := 0, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if depth > 0 && stack[depth-1].elemPending && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ']' {
			f := &stack[depth-1]
			f.elemPending = false
			if c == '{' || c == '[' || c == 'n' { // null decodes to a zero struct
				estimate += f.elemSize
			} else {
				estimate += sbomScalarElementSize
			}
			if budget > 0 && estimate > budget {
				return fmt.Errorf("%w: the document would decode to more than %d MiB", ErrSBOM, budget>>20)
			}
		}
		switch c {
		case '{', '[':
			elemSize := sbomDefaultElementSize
			if c == '[' && depth > 0 && stack[depth-1].object {
				for _, e := range sbomElementSizes {
					if bytes.EqualFold(stack[depth-1].lastName, []byte(e.name)) {
						elemSize = e.size
						break
					}
				}
			}
			if depth == len(stack) {
				stack = append(stack, frame{})
			}
			f := &stack[depth]
			f.object, f.expectName, f.lastName = c == '{', c == '{', nil
			f.names, f.folded = f.names[:0], nil
			f.elemPending, f.elemSize = c == '[', elemSize
			depth++
		case '}', ']':
			if depth == 0 {
				return errMalformedMember
			}
			depth--
		case ',':
			if depth > 0 {
				f := &stack[depth-1]
				f.expectName = f.object
				f.elemPending = !f.object
			}
		case '"':
			start := i
			escaped, ascii := false, true
			for i++; i < len(data) && data[i] != '"'; i++ {
				switch {
				case data[i] == '\\':
					escaped = true
					i++
				case data[i] >= utf8.RuneSelf:
					ascii = false
				}
			}
			if i >= len(data) {
				return errMalformedMember
			}
			if depth == 0 || !stack[depth-1].expectName {
				continue
			}
			f := &stack[depth-1]
			f.expectName = false
			name := data[start+1 : i]
			if escaped {
				var s string
				if json.Unmarshal(data[start:i+1], &s) != nil {
					return errMalformedMember
				}
				name, ascii = []byte(s), false
			}
			f.lastName = name
			for _, r := range readNames {
				// Non-ASCII names may fold to ASCII ones of another length.
				if (!ascii || len(name) == len(r)) && bytes.EqualFold(name, r) && !bytes.Equal(name, r) {
					return fmt.Errorf("%w: a member name differs from %q only in case", ErrSBOM, r)
				}
			}
			if f.folded != nil {
				k := foldName(name)
				if _, dup := f.folded[k]; dup {
					return errDuplicateMember
				}
				f.folded[k] = struct{}{}
				continue
			}
			for _, n := range f.names {
				if bytes.EqualFold(n, name) {
					return errDuplicateMember
				}
			}
			f.names = append(f.names, name)
			if len(f.names) > 16 {
				f.folded = make(map[string]struct{}, 2*len(f.names))
				for _, n := range f.names {
					f.folded[foldName(n)] = struct{}{}
				}
			}
		}
	}
	return nil
}

// scanJSON's refusals of a repeated name, and of input that is not
// JSON after all.
var (
	errDuplicateMember = fmt.Errorf("%w: a JSON object repeats a member name", ErrSBOM)
	errMalformedMember = fmt.Errorf("%w: malformed JSON", ErrSBOM)
)

// foldName maps each rune of b to the smallest rune of its case-folding
// orbit, so that foldName(x) == foldName(y) exactly when
// bytes.EqualFold(x, y). Invalid UTF-8 becomes U+FFFD, as in EqualFold.
func foldName(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		sb.WriteRune(m)
	}
	return sb.String()
}

// Contains reports whether the SBOM lists a component whose package URL,
// ignoring qualifiers and subpath, equals purl's (type, namespace, name,
// version); the version is compared only if purl has one. Package URLs are
// compared after the purl spec's normalization (percent-decoding, lowercase
// type, and the case rules of types such as github, deb and pypi). It is
// false if purl is not a valid package URL.
func (s *SBOM) Contains(purl string) bool {
	want, ok := parsePURL(purl)
	if !ok {
		return false
	}
	for _, c := range s.Components {
		if c.PURL == "" {
			continue
		}
		got, ok := parsePURL(c.PURL)
		if !ok || got.typ != want.typ || got.namespace != want.namespace || got.name != want.name {
			continue
		}
		if want.version == "" || got.version == want.version {
			return true
		}
	}
	return false
}

// purlKey is the part of a package URL that Contains compares.
type purlKey struct {
	typ, namespace, name, version string
}

// parsePURL parses a package URL with the purl project's own library, which
// applies the spec's per-type normalization (lowercase names for github, deb
// and the like; pypi's '_' as '-'), and keeps what Contains compares.
func parsePURL(s string) (purlKey, bool) {
	p, err := packageurl.FromString(s)
	if err != nil {
		return purlKey{}, false
	}
	return purlKey{typ: p.Type, namespace: p.Namespace, name: p.Name, version: p.Version}, true
}
