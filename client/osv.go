package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/semver"
)

// This file reads vulnerability advisories in the [OSV schema] and matches
// them against the components of an SBOM by package URL.
//
// A server indexes every SBOM component under its PackageKey; an advisory
// names the keys it can match (Advisory.PackageKeys), so the candidates are
// an equality lookup, and Advisory.Match then decides on each candidate.
//
// [OSV schema]: https://ossf.github.io/osv-schema/

var (
	// ErrOSV: an advisory is not an OSV JSON document vigil can read.
	ErrOSV = errors.New("invalid OSV advisory")
	// ErrPURL: a string is not a valid package URL.
	ErrPURL = errors.New("invalid package URL")
)

// Bounds on one advisory. Real ones are a few KiB with a handful of
// affected entries; the largest in OSV.dev list thousands of versions, which
// the size bound alone limits.
const (
	maxOSVSize = 4 << 20
	// maxOSVItems bounds the affected entries and, separately, the events of
	// all ranges together.
	maxOSVItems = 10_000
)

// PackageKey normalizes a package URL and splits it into its key, the
// canonical "pkg:type/namespace/name" without version, qualifiers or
// subpath, and its version ("" if it has none).
//
// Normalization is the purl library's, the one SBOM.Contains uses:
// percent-decoding, a lowercase type and the per-type rules (lowercase
// github, deb or golang names; pypi's '_' as '-'). The key then
// percent-encodes each namespace segment and the name as the library's
// String does, so two package URLs have the same key exactly when Contains
// takes them for the same package: a server that indexes components by key
// answers a query purl the way Contains would. For every package URL whose
// namespace has no empty segment (one only a percent-encoded '/' can make)
// the key is itself a package URL with that key, except for types whose
// rules require a qualifier (julia).
//
// Errors wrap ErrPURL and do not repeat the input.
func PackageKey(purl string) (key, version string, err error) {
	k, ok := parsePURL(purl)
	if !ok {
		return "", "", fmt.Errorf("%w: not a package URL the purl library accepts", ErrPURL)
	}
	return k.key(), k.version, nil
}

// key renders the canonical key of k (see PackageKey). Namespace segments
// are split and encoded one by one, empty ones included, so that the
// rendering is one-to-one on (type, namespace, name).
func (k purlKey) key() string {
	var b strings.Builder
	b.Grow(len("pkg:/") + len(k.typ) + 3*(len(k.namespace)+len(k.name)))
	b.WriteString("pkg:")
	b.WriteString(k.typ)
	b.WriteByte('/')
	if k.namespace != "" {
		for seg := range strings.SplitSeq(k.namespace, "/") {
			purlSegment(&b, seg)
			b.WriteByte('/')
		}
	}
	purlSegment(&b, k.name)
	return b.String()
}

// purlSegment writes s percent-encoded as the purl library encodes a path
// segment: every byte but ASCII letters, digits and "-._~:" as %XX.
func purlSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
}

// Advisory is what vigil reads of an OSV advisory.
type Advisory struct {
	// ID is the advisory's id, such as "GHSA-xxxx-xxxx-xxxx". Never empty.
	ID string
	// Summary is the one-line summary, or "".
	Summary string
	// Aliases are the ids of the same vulnerability in other databases.
	Aliases []string
	// Modified, Published and Withdrawn are the advisory's times, zero when
	// it does not give them. A withdrawn advisory matches nothing.
	Modified, Published, Withdrawn time.Time
	// Affected lists the affected packages in document order.
	Affected []AffectedPackage
}

// AffectedPackage is one entry of an advisory's affected list: a package
// and the versions of it that are affected.
type AffectedPackage struct {
	// Ecosystem, Name and PURL are the package as the advisory gives it
	// (package.ecosystem, package.name, package.purl). PURL is "" only if
	// Ecosystem and Name are not.
	Ecosystem, Name, PURL string
	// Key is the package key (see PackageKey) that Match compares
	// components with: PURL's if given (its version, qualifiers and subpath
	// ignored), else derived from Ecosystem and Name (see ecosystemKey), else
	// "" when the ecosystem has no package URL type vigil knows. An entry
	// without a key matches nothing.
	Key string
	// Ranges are the affected ranges.
	Ranges []Range
	// Versions lists affected versions, compared with a component's version
	// as exact strings.
	Versions []string
}

// The range types of the OSV schema.
const (
	RangeSemver    = "SEMVER"
	RangeEcosystem = "ECOSYSTEM"
	RangeGit       = "GIT"
)

// Range is a range of affected versions: a timeline of events.
type Range struct {
	// Type is RangeSemver, RangeEcosystem or RangeGit. GIT ranges hold
	// commit hashes, which only the repository's commit graph orders:
	// Match ignores them (an advisory should then list the affected
	// versions too, as the OSV schema asks).
	Type string
	// Repo is the repository URL of a GIT range, or "".
	Repo string
	// Events are the range's events in document order; there is at least
	// one, and at least one of them is an introduced event.
	Events []Event
}

// EventKind is the kind of a range event.
type EventKind string

// The event kinds of the OSV schema.
const (
	// Introduced: versions from this one on are affected; "0" stands for
	// the start of time.
	Introduced EventKind = "introduced"
	// Fixed: versions from this one on are not affected.
	Fixed EventKind = "fixed"
	// LastAffected: versions after this one are not affected.
	LastAffected EventKind = "last_affected"
	// Limit: only versions before some limit are affected; a limit
	// containing "*" is infinity.
	Limit EventKind = "limit"
)

// Event is one event of a range.
type Event struct {
	Kind    EventKind
	Version string
}

// osvReadNames are the member names ParseOSV reads. encoding/json matches
// them case-insensitively, where the schema and other parsers do not;
// ParseOSV refuses variants of them, and repeated names (see scanJSON).
var osvReadNames = []string{
	"id", "summary", "aliases", "modified", "published", "withdrawn", "affected",
	"package", "ecosystem", "name", "purl", "ranges", "versions", "type", "repo", "events",
}

// osvDoc is the top level of an advisory; affected is decoded entry by
// entry so that its bound holds before anything is allocated for it.
type osvDoc struct {
	ID        string          `json:"id"`
	Summary   string          `json:"summary"`
	Aliases   []string        `json:"aliases"`
	Modified  string          `json:"modified"`
	Published string          `json:"published"`
	Withdrawn string          `json:"withdrawn"`
	Affected  json.RawMessage `json:"affected"`
}

// osvAffected is one affected entry; its ranges are decoded one by one.
type osvAffected struct {
	Package  *osvPackage     `json:"package"`
	Ranges   json.RawMessage `json:"ranges"`
	Versions []string        `json:"versions"`
}

// osvPackage is an affected entry's package.
type osvPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl"`
}

// osvRange is one range; its events are read token by token.
type osvRange struct {
	Type   string          `json:"type"`
	Repo   string          `json:"repo"`
	Events json.RawMessage `json:"events"`
}

// ParseOSV parses an OSV advisory (JSON, schema 1.x) and keeps what
// matching needs. Members it does not read (details, references, severity,
// database_specific and the like) may hold anything; the ones it reads must
// have the schema's types, and times must be RFC 3339.
//
// It refuses: more than 4 MiB; input that is not UTF-8 or not a JSON
// object; an object repeating a member name, or a member name that differs
// from one ParseOSV reads only in case (anywhere in the document, since
// encoding/json would match it); a missing id; an affected entry whose
// package has neither a purl nor an ecosystem and a name, or a purl the purl
// library refuses; a range of a type other than SEMVER, ECOSYSTEM and GIT;
// a range without events or without an introduced event (the schema
// requires one, and producers that omit it mean "from the start" where the
// schema's algorithm means "nothing"); an event with no key, several keys, a
// key other than introduced, fixed, last_affected and limit, or a value that
// is not a non-empty string; a SEMVER event that is not a semantic version
// (see semverCanonical; "0" and limits containing "*" excepted); and more
// than 10,000 affected entries, or events in all.
//
// Every error wraps ErrOSV and names the place ("affected[3].ranges[0]:
// event with several keys") without repeating the input.
func ParseOSV(b []byte) (*Advisory, error) {
	if len(b) > maxOSVSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrOSV, maxOSVSize>>20)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrOSV)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: not JSON", ErrOSV)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); t[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrOSV)
	}
	// scanJSON's errors wrap ErrSBOM; only whether it refuses matters here.
	if scanJSON(b, osvReadNames, 0) != nil {
		return nil, fmt.Errorf("%w: an object repeats a member name, or one differs from a name vigil reads only in case", ErrOSV)
	}
	var doc osvDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, osvError("", err)
	}
	if doc.ID == "" {
		return nil, fmt.Errorf("%w: no id", ErrOSV)
	}
	a := &Advisory{ID: doc.ID, Summary: doc.Summary, Aliases: doc.Aliases}
	for _, t := range []struct {
		name string
		s    string
		dst  *time.Time
	}{
		{"modified", doc.Modified, &a.Modified},
		{"published", doc.Published, &a.Published},
		{"withdrawn", doc.Withdrawn, &a.Withdrawn},
	} {
		if t.s == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339, t.s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not an RFC 3339 time", ErrOSV, t.name)
		}
		*t.dst = tm
	}
	events := 0
	err := osvArray(doc.Affected, "affected", func(i int, dec *json.Decoder) error {
		if i >= maxOSVItems {
			return fmt.Errorf("%w: more than %d affected entries", ErrOSV, maxOSVItems)
		}
		where := fmt.Sprintf("affected[%d]", i)
		var e osvAffected
		if err := dec.Decode(&e); err != nil {
			return osvError(where, err)
		}
		p, err := parseOSVAffected(where, &e, &events)
		if err != nil {
			return err
		}
		a.Affected = append(a.Affected, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// parseOSVAffected checks one affected entry and decodes its ranges,
// counting their events in *events.
func parseOSVAffected(where string, e *osvAffected, events *int) (AffectedPackage, error) {
	var p AffectedPackage
	if e.Package != nil {
		p.Ecosystem, p.Name, p.PURL = e.Package.Ecosystem, e.Package.Name, e.Package.PURL
	}
	switch {
	case p.PURL != "":
		key, _, err := PackageKey(p.PURL)
		if err != nil {
			return p, fmt.Errorf("%w: %s.package: purl is not a valid package URL", ErrOSV, where)
		}
		p.Key = key
	case p.Ecosystem != "" && p.Name != "":
		p.Key = ecosystemKey(p.Ecosystem, p.Name)
	default:
		return p, fmt.Errorf("%w: %s: package has neither a purl nor an ecosystem and a name", ErrOSV, where)
	}
	p.Versions = e.Versions
	err := osvArray(e.Ranges, where+".ranges", func(j int, dec *json.Decoder) error {
		where := fmt.Sprintf("%s.ranges[%d]", where, j)
		var r osvRange
		if err := dec.Decode(&r); err != nil {
			return osvError(where, err)
		}
		switch r.Type {
		case RangeSemver, RangeEcosystem, RangeGit:
		default:
			return fmt.Errorf("%w: %s: type is not SEMVER, ECOSYSTEM or GIT", ErrOSV, where)
		}
		rng := Range{Type: r.Type, Repo: r.Repo}
		err := osvArray(r.Events, where+".events", func(k int, dec *json.Decoder) error {
			if *events >= maxOSVItems {
				return fmt.Errorf("%w: more than %d events", ErrOSV, maxOSVItems)
			}
			*events++
			ev, err := decodeOSVEvent(fmt.Sprintf("%s.events[%d]", where, k), r.Type, dec)
			if err != nil {
				return err
			}
			rng.Events = append(rng.Events, ev)
			return nil
		})
		if err != nil {
			return err
		}
		if len(rng.Events) == 0 {
			return fmt.Errorf("%w: %s: no events", ErrOSV, where)
		}
		if !slices.ContainsFunc(rng.Events, func(e Event) bool { return e.Kind == Introduced }) {
			return fmt.Errorf("%w: %s: no introduced event", ErrOSV, where)
		}
		p.Ranges = append(p.Ranges, rng)
		return nil
	})
	return p, err
}

// decodeOSVEvent reads one event object token by token, so that an object
// with many members costs nothing before it is refused.
func decodeOSVEvent(where, rangeType string, dec *json.Decoder) (Event, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Event{}, fmt.Errorf("%w: %s: event is not an object", ErrOSV, where)
	}
	var ev Event
	for n := 0; dec.More(); n++ {
		if n > 0 {
			return Event{}, fmt.Errorf("%w: %s: event with several keys", ErrOSV, where)
		}
		tok, err := dec.Token()
		if err != nil {
			return Event{}, osvError(where, err)
		}
		name, _ := tok.(string) // a member name is always a string
		switch k := EventKind(name); k {
		case Introduced, Fixed, LastAffected, Limit:
			ev.Kind = k
		default:
			return Event{}, fmt.Errorf("%w: %s: event key is not introduced, fixed, last_affected or limit", ErrOSV, where)
		}
		tok, err = dec.Token()
		if err != nil {
			return Event{}, osvError(where, err)
		}
		v, ok := tok.(string)
		if !ok || v == "" {
			return Event{}, fmt.Errorf("%w: %s: event value is not a non-empty string", ErrOSV, where)
		}
		ev.Version = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Event{}, osvError(where, err)
	}
	if ev.Kind == "" {
		return Event{}, fmt.Errorf("%w: %s: event with no key", ErrOSV, where)
	}
	if rangeType == RangeSemver && !ev.special() {
		if _, ok := semverCanonical(ev.Version); !ok {
			return Event{}, fmt.Errorf("%w: %s: not a semantic version", ErrOSV, where)
		}
	}
	return ev, nil
}

// special reports whether e is introduced "0" (before every version) or a
// limit at infinity, which no version ordering compares.
func (e Event) special() bool {
	return e.Kind == Introduced && e.Version == "0" || e.Kind == Limit && strings.Contains(e.Version, "*")
}

// osvArray calls f for each element of the JSON array raw (part of a valid
// document), with dec positioned at the element; f must consume it. An
// absent member or null is an empty array.
func osvArray(raw json.RawMessage, where string, f func(i int, dec *json.Decoder) error) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%w: %s is not an array", ErrOSV, where)
	}
	for i := 0; dec.More(); i++ {
		if err := f(i, dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return osvError(where, err)
	}
	return nil
}

// osvError describes a decoding error at where without repeating the
// input. UnmarshalTypeError's Field is a path of the struct tags above,
// never a name from the input.
func osvError(where string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		switch {
		case te.Field == "":
			return fmt.Errorf("%w: %s has the wrong type", ErrOSV, where)
		case where != "":
			return fmt.Errorf("%w: %s: %s has the wrong type", ErrOSV, where, te.Field)
		}
		return fmt.Errorf("%w: %s has the wrong type", ErrOSV, te.Field)
	}
	if where == "" {
		return fmt.Errorf("%w: malformed JSON", ErrOSV)
	}
	return fmt.Errorf("%w: %s: malformed JSON", ErrOSV, where)
}

// osvEcosystems maps the OSV ecosystems vigil knows to package URL types,
// after the purl spec's types and OSV.dev's own mapping. split is how a name
// divides into namespace and name: at its last '/' (npm scopes, Go module
// paths, Packagist vendors) or its first ':' (Maven's groupId:artifactId).
// namespace is the fixed namespace of distribution packages.
var osvEcosystems = map[string]struct {
	typ, namespace string
	split          byte
}{
	"npm":       {typ: "npm", split: '/'},
	"PyPI":      {typ: "pypi"},
	"Go":        {typ: "golang", split: '/'},
	"Maven":     {typ: "maven", split: ':'},
	"crates.io": {typ: "cargo"},
	"RubyGems":  {typ: "gem"},
	"NuGet":     {typ: "nuget"},
	"Debian":    {typ: "deb", namespace: "debian"},
	"Alpine":    {typ: "apk", namespace: "alpine"},
	"Packagist": {typ: "composer", split: '/'},
	"Hex":       {typ: "hex"},
	"Pub":       {typ: "pub"},
}

// ecosystemKey derives the package key of an OSV package given only by
// ecosystem and name, or "" if there is none. The ecosystem's suffix after
// ':' ("Debian:12", "Alpine:v3.19", "Maven:<repository>") scopes a release
// or repository, which a key does not hold. Ecosystems outside
// osvEcosystems (Ubuntu, Red Hat, OSS-Fuzz, ...) have no key. Debian and
// Alpine advisories name source packages, so they match only components
// whose purl names the source package.
func ecosystemKey(ecosystem, name string) string {
	base, _, _ := strings.Cut(ecosystem, ":")
	e, ok := osvEcosystems[base]
	if !ok {
		return ""
	}
	k := purlKey{typ: e.typ, namespace: e.namespace, name: name}
	switch e.split {
	case '/':
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			k.namespace, k.name = name[:i], name[i+1:]
		}
	case ':':
		ns, n, ok := strings.Cut(name, ":")
		if !ok {
			return ""
		}
		k.namespace, k.name = ns, n
	}
	// Through the library, so that the name gets the same normalization as
	// a component's purl.
	key, _, err := PackageKey(k.key())
	if err != nil {
		return ""
	}
	return key
}

// PackageKeys returns the distinct package keys of a's affected entries, in
// order of first appearance: every component that Match can match has one
// of them as its PackageKey. A server selects candidate components by key
// and calls Match on each. A withdrawn advisory still lists its keys.
func (a *Advisory) PackageKeys() []string {
	var keys []string
	seen := make(map[string]bool)
	for _, p := range a.Affected {
		if p.Key != "" && !seen[p.Key] {
			seen[p.Key] = true
			keys = append(keys, p.Key)
		}
	}
	return keys
}

// AffectedMatch says why a component is affected.
type AffectedMatch struct {
	// Affected is the index in Advisory.Affected of the entry that matched.
	Affected int
	// Range is the index in that entry's Ranges of the range that holds the
	// version, or -1 if the entry's Versions lists it.
	Range int
	// Version is the component's version that was found affected.
	Version string
	// Introduced is the introduced event that opens the interval holding
	// Version, and End the fixed or last_affected event that closes it, or
	// the zero Event if none does. Both are zero when Range is -1.
	Introduced, End Event
}

// String describes m for a report: "introduced 3.0.0, fixed 3.0.8",
// "introduced 0" or "version 3.0.7 listed".
func (m AffectedMatch) String() string {
	if m.Range < 0 {
		return fmt.Sprintf("version %s listed", m.Version)
	}
	s := fmt.Sprintf("%s %s", m.Introduced.Kind, m.Introduced.Version)
	if m.End.Kind != "" {
		s += fmt.Sprintf(", %s %s", m.End.Kind, m.End.Version)
	}
	return s
}

// Match reports whether component c is affected by a, and why: the first
// affected entry, in document order, whose Key equals the PackageKey of
// c.PURL and which lists c's version in Versions or holds it in one of its
// ranges (under the OSV schema's evaluation algorithm; see Range).
//
// c's version is the version in c.PURL, else c.Version. A component without
// a purl, or whose purl is invalid, matches nothing (CPEs are not used); one
// without a version matches no range and no versions list, since a range
// says nothing about an unknown version. A withdrawn advisory matches
// nothing.
func (a *Advisory) Match(c Component) (AffectedMatch, bool) {
	if !a.Withdrawn.IsZero() || c.PURL == "" {
		return AffectedMatch{}, false
	}
	key, version, err := PackageKey(c.PURL)
	if err != nil {
		return AffectedMatch{}, false
	}
	if version == "" {
		version = c.Version
	}
	if version == "" {
		return AffectedMatch{}, false
	}
	for i, p := range a.Affected {
		if p.Key == "" || p.Key != key {
			continue
		}
		if slices.Contains(p.Versions, version) {
			return AffectedMatch{Affected: i, Range: -1, Version: version}, true
		}
		for j := range p.Ranges {
			if intro, end, ok := p.Ranges[j].contains(version); ok {
				return AffectedMatch{Affected: i, Range: j, Version: version, Introduced: intro, End: end}, true
			}
		}
	}
	return AffectedMatch{}, false
}

// contains reports whether version v lies in r, following the OSV schema's
// evaluation: if r has limit events, v must be below one of them; then,
// walking the other events sorted by version (introduced "0" first, ties in
// document order), an introduced event at or below v makes v affected, a
// fixed event at or below v and a last_affected event below v make it
// unaffected. It also returns the introduced event that made v affected
// and the fixed or last_affected event that follows it, if any.
//
// SEMVER ranges compare with semverCanonical and x/mod/semver; a v that
// is not a semantic version is in none. ECOSYSTEM ranges compare with
// compareEcosystemVersions. GIT ranges contain nothing here.
func (r *Range) contains(v string) (intro, end Event, ok bool) {
	var cmp func(a, b string) int
	switch r.Type {
	case RangeSemver:
		cv, ok := semverCanonical(v)
		if !ok {
			return Event{}, Event{}, false
		}
		v = cv
		cmp = func(a, b string) int {
			ca, _ := semverCanonical(a) // invalid only in a Range not from ParseOSV; then "" sorts first
			cb, _ := semverCanonical(b)
			return semver.Compare(ca, cb)
		}
	case RangeEcosystem:
		cmp = compareEcosystemVersions
	default:
		return Event{}, Event{}, false
	}
	var events []Event
	limited, belowLimit := false, false
	for _, e := range r.Events {
		if e.Kind != Limit {
			events = append(events, e)
			continue
		}
		limited = true
		if e.special() || cmp(v, e.Version) < 0 {
			belowLimit = true
		}
	}
	if limited && !belowLimit {
		return Event{}, Event{}, false
	}
	slices.SortStableFunc(events, func(a, b Event) int {
		switch as, bs := a.special(), b.special(); {
		case as && bs:
			return 0
		case as:
			return -1
		case bs:
			return 1
		}
		return cmp(a.Version, b.Version)
	})
	affected, at := false, -1
	for i, e := range events {
		switch {
		case e.Kind == Introduced && (e.special() || cmp(v, e.Version) >= 0):
			affected, at = true, i
		case e.Kind == Fixed && cmp(v, e.Version) >= 0,
			e.Kind == LastAffected && cmp(v, e.Version) > 0:
			affected = false
		}
	}
	if !affected {
		return Event{}, Event{}, false
	}
	for _, e := range events[at+1:] {
		if e.Kind == Fixed || e.Kind == LastAffected {
			end = e
			break
		}
	}
	return events[at], end, true
}

// semverCanonical returns v as x/mod/semver reads it: with a "v" prefix (a
// leading "v" or "V" is accepted, though the OSV schema has none) and the
// major.minor.patch core padded with ".0" ("1.2" is "v1.2.0", "1-rc.1" is
// "v1.0.0-rc.1"). It reports false if the result is not a semantic version.
func semverCanonical(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	if v[0] == 'v' || v[0] == 'V' {
		v = v[1:]
	}
	core, rest := v, ""
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		core, rest = v[:i], v[i:]
	}
	switch strings.Count(core, ".") {
	case 0:
		core += ".0.0"
	case 1:
		core += ".0"
	}
	v = "v" + core + rest
	if !semver.IsValid(v) {
		return "", false
	}
	return v, true
}

// compareEcosystemVersions orders two ECOSYSTEM versions, returning -1, 0
// or +1. No library orders every ecosystem's versions (PEP 440, Maven,
// dpkg, apk and RubyGems each have their own rules), so this is a generic
// order that agrees with them on the common shapes:
//
//   - A version splits at the separators '.', '-', '_', '+' and '~' and
//     between digits and other characters into pieces: runs of ASCII digits
//     (numeric) and runs of anything else (text). "1.0.0-rc1" is 1 0 0 rc 1.
//   - Pieces compare pairwise: numbers numerically, of any length, so 1.10 >
//     1.9 and 3.0.10 > 3.0.7; text bytewise.
//   - A text piece right after '+' is a build or revision ("+deb12u1",
//     "+build.5"); any other text piece ("-rc1", "~beta", "1.1.1w", ".Final")
//     is a pre-release. Pieces rank: pre-release < 0 < build < 1 < 2 < ...
//   - The shorter version continues as if with zeros, so 1.0 = 1.0.0,
//     1.0.0-rc1 < 1.0.0 < 1.0.0+build < 1.0.1, and 1.0~rc1 < 1.0.
//
// Equal versions may differ as strings ("1.0" and "1.00"). The limits:
// letter releases sort before their base (OpenSSL's 1.1.1w < 1.1.1, where
// OpenSSL puts it after; 1.1.1t < 1.1.1w holds); Maven qualifiers compare
// bytewise (5.0.0.RC1 after 5.0.0.Final, both before 5.0.0); dpkg epochs
// ("1:2.0") and apk's "_p" patch suffixes are not understood; case matters
// ("RC1" < "rc1"). Advisories in such ecosystems should list versions. It
// is a total preorder, so sorting with it is consistent.
func compareEcosystemVersions(a, b string) int {
	for {
		pa, ra := nextVersionPiece(a)
		pb, rb := nextVersionPiece(b)
		if pa.end && pb.end {
			return 0
		}
		if c := pa.compare(pb); c != 0 {
			return c
		}
		a, b = ra, rb
	}
}

// versionPiece is one piece of a version for compareEcosystemVersions.
type versionPiece struct {
	rank int    // 0 pre-release text, 1 zero (or the end), 2 build text, 3 non-zero number
	text string // the text, or the number without leading zeros
	end  bool   // past the last piece: compares as zero
}

// nextVersionPiece returns the first piece of s and what follows it.
func nextVersionPiece(s string) (versionPiece, string) {
	var sep byte
	for len(s) > 0 && strings.IndexByte(".-_+~", s[0]) >= 0 {
		sep = s[0]
		s = s[1:]
	}
	if s == "" {
		return versionPiece{rank: 1, end: true}, ""
	}
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	isNum := digit(s[0])
	n := 0
	for n < len(s) && strings.IndexByte(".-_+~", s[n]) < 0 && digit(s[n]) == isNum {
		n++
	}
	piece, rest := s[:n], s[n:]
	switch {
	case !isNum && sep == '+':
		return versionPiece{rank: 2, text: piece}, rest
	case !isNum:
		return versionPiece{rank: 0, text: piece}, rest
	}
	piece = strings.TrimLeft(piece, "0")
	if piece == "" {
		return versionPiece{rank: 1}, rest
	}
	return versionPiece{rank: 3, text: piece}, rest
}

// compare orders two pieces: by rank, then numbers by length and digits
// (neither has leading zeros), text bytewise.
func (p versionPiece) compare(q versionPiece) int {
	if c := p.rank - q.rank; c != 0 {
		return min(max(c, -1), 1)
	}
	if p.rank == 3 {
		if c := len(p.text) - len(q.text); c != 0 {
			return min(max(c, -1), 1)
		}
	}
	return strings.Compare(p.text, q.text)
}
