package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file computes a scenario's ground truth (DIR/scenario-truth.json):
// the answers a regulator's queries must give about the story the scenario
// told. It is computed from what the log accepted (the indexes it
// returned), never from what the story meant to do.

// scTruth is DIR/scenario-truth.json. Every list is sorted: devices,
// histories, probes and UDI lists by UDI (probes then by time), digests and
// builds by digest.
type scTruth struct {
	Seed        uint64        `json:"seed"`
	Counts      scCounts      `json:"counts"`
	Devices     []scDevice    `json:"devices"`
	Histories   []scHistory   `json:"histories"`
	At          []scAt        `json:"at"`
	Impact      scImpact      `json:"impact"`
	FieldAction scFieldAction `json:"fieldAction"`
	Revoked     scRevoked     `json:"revoked"`
	Clone       scClone       `json:"clone"`
}

type scCounts struct {
	Devices int               `json:"devices"`
	Entries uint64            `json:"entries"` // every entry the log accepted
	ByKind  map[string]uint64 `json:"byKind"`
}

// Device status values.
const (
	statusActive      = "active"
	statusRevoked     = "revoked"      // the device's UDI or key is revoked
	statusFieldAction = "field-action" // in the field action's population, not corrected
)

type scDevice struct {
	UDI             string  `json:"udi"`
	KeyID           string  `json:"keyId"`
	Manufacturer    string  `json:"manufacturer"`
	Model           string  `json:"model"`
	UDIDI           string  `json:"udiDI"`
	EnrollmentIndex uint64  `json:"enrollmentIndex"`
	Status          string  `json:"status"`
	RevocationIndex *uint64 `json:"revocationIndex,omitempty"`
	// Latest is the head of the device's chain; null if it never attested.
	Latest *scAtt `json:"latest"`
}

// scAtt is one accepted attestation.
type scAtt struct {
	Seq      uint64    `json:"seq"`
	Index    uint64    `json:"index"`
	Time     time.Time `json:"time"`
	Firmware string    `json:"firmware"`
	Version  string    `json:"version"`
	// fork is set when the attestation did not advance the chain's head.
	fork bool
}

type scHistory struct {
	UDI          string  `json:"udi"`
	Attestations []scAtt `json:"attestations"` // every accepted one, forks too, in log order
}

// scAt is a probe of "what was in force on device UDI at Time".
type scAt struct {
	UDI     string    `json:"udi"`
	Time    time.Time `json:"time"`
	InForce *scRef    `json:"inForce"` // the chain attestation with the greatest device time <= Time
	Next    *scRef    `json:"next"`    // the chain attestation with the least device time > Time
}

type scRef struct {
	Seq   uint64 `json:"seq"`
	Index uint64 `json:"index"`
}

type scImpact struct {
	Advisory        string            `json:"advisory"` // file name, in DIR
	Since           time.Time         `json:"since"`
	PURL            string            `json:"purl"` // an exact-version package URL
	PURLBuilds      []string          `json:"purlBuilds"`
	AffectedBuilds  []scAffectedBuild `json:"affectedBuilds"`
	AffectedDevices []string          `json:"affectedDevices"`
	UnknownDevices  []string          `json:"unknownDevices"`
}

type scAffectedBuild struct {
	Digest    string `json:"digest"`
	Version   string `json:"version"`
	SBOMIndex uint64 `json:"sbomIndex"`
}

type scFieldAction struct {
	ID           string        `json:"id"`
	Index        uint64        `json:"index"`
	Manufacturer string        `json:"manufacturer"`
	Remedy       string        `json:"remedy"`
	Issued       time.Time     `json:"issued"`
	Population   []string      `json:"population"`
	Corrected    []scCorrected `json:"corrected"`
	NotCorrected []string      `json:"notCorrected"`
}

type scCorrected struct {
	UDI   string `json:"udi"`
	Index uint64 `json:"index"`
}

type scRevoked struct {
	UDI             string `json:"udi"`
	KeyID           string `json:"keyId"`
	RevocationIndex uint64 `json:"revocationIndex"`
	// RefusedAfterRevocation records that the log refused (403) the
	// attestation the device sent after its revocation.
	RefusedAfterRevocation bool `json:"refusedAfterRevocation"`
}

type scClone struct {
	UDI            string `json:"udi"`
	KeyID          string `json:"keyId"`
	FirstForkIndex uint64 `json:"firstForkIndex"`
}

// advisory is the story's OSV advisory: one package, one range.
type advisory struct {
	ID         string
	Name       string // the component's name in SBOMs
	PURL       string // without version
	Introduced string // first affected version
	Fixed      string // first fixed version
	Versions   []string
	ExactPURL  string // a package URL with version, for an exact-version query
	File       string // file name in DIR
}

// affects reports whether the advisory's range holds version v.
func (a *advisory) affects(v string) bool {
	return compareVersions(v, a.Introduced) >= 0 && compareVersions(v, a.Fixed) < 0
}

// affectsBuild reports whether a build's SBOM lists a component the
// advisory affects: same package URL (without version), version in range.
func (a *advisory) affectsBuild(b *build) bool {
	for _, c := range b.Components {
		if purlBase(c.PURL) == a.PURL && a.affects(c.Version) {
			return true
		}
	}
	return false
}

// purlBase is a package URL without its version.
func purlBase(purl string) string {
	base, _, _ := strings.Cut(purl, "@")
	return base
}

// compareVersions orders dotted versions part by part, numerically where
// both parts are numbers: enough for the catalogue's versions.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		if i >= len(pa) {
			return -1
		}
		if i >= len(pb) {
			return 1
		}
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		c := 0
		if ea == nil && eb == nil {
			c = cmp.Compare(na, nb)
		} else {
			c = strings.Compare(pa[i], pb[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// foldRules are the firmware sets a device's fold watches for; the
// advisory's and the field action's builds are known before any device
// attests.
type foldRules struct {
	advisory   map[string]bool // digests of builds the advisory affects
	faFirmware map[string]bool // the field action's Affected.Firmware
	remedy     string          // the field action's remedy digest
	// faIndex is the field action's index, nil until the log holds it.
	// The scenario sets it while no attestation is in flight.
	faIndex *uint64
}

// deviceFold follows one device's accepted attestations in log order, as
// an audit does (client.Audit), and keeps what the truth needs of them, so
// a million attestations need no more memory than their devices.
type deviceFold struct {
	head      *scAtt // the chain's head
	last      uint64 // index of the last attestation folded
	count     int
	firstFork *uint64
	// advisory: the device ever attested a build the advisory affects.
	advisory bool
	// faFirst: least index of an attestation of a build the field action
	// names.
	faFirst *uint64
	// remedy: index of the first attestation of the remedy build after the
	// field action.
	remedy *uint64
	// keep keeps every attestation in history (probe devices only).
	keep    bool
	history []scAtt
}

// add folds an accepted attestation. A device's attestations must come in
// log order: the scenario sends each only once the one before has its
// index.
func (f *deviceFold) add(a scAtt, r *foldRules) error {
	if f.count > 0 && a.Index <= f.last {
		return fmt.Errorf("attestation %d folded after %d: not in log order", a.Index, f.last)
	}
	f.last = a.Index
	f.count++
	// A seq not above the head's is a fork (a clone, or a forked history)
	// and leaves the head where it is; a gap or a wrong prev still
	// advances it.
	if f.head != nil && a.Seq <= f.head.Seq {
		a.fork = true
		if f.firstFork == nil {
			f.firstFork = &a.Index
		}
	} else {
		h := a
		f.head = &h
	}
	if r.advisory[a.Firmware] {
		f.advisory = true
	}
	if r.faFirmware[a.Firmware] && (f.faFirst == nil || a.Index < *f.faFirst) {
		f.faFirst = &a.Index
	}
	if a.Firmware == r.remedy && r.faIndex != nil && a.Index > *r.faIndex && f.remedy == nil {
		f.remedy = &a.Index
	}
	if f.keep {
		f.history = append(f.history, a)
	}
	return nil
}

// chain returns the history's attestations that advanced the head.
func (f *deviceFold) chain() []scAtt {
	var out []scAtt
	for _, a := range f.history {
		if !a.fork {
			out = append(out, a)
		}
	}
	return out
}

// truthDeviceInput is a device as the truth needs it.
type truthDeviceInput struct {
	UDI, KeyID, Manufacturer, Model, UDIDI string
	Enrollment                             uint64
	Fold                                   *deviceFold
}

// storyFacts is what a scenario recorded: the truth is a function of it.
type storyFacts struct {
	Seed    uint64
	ByKind  map[string]uint64 // entries the log accepted, by kind
	Builds  []build           // every published build, with its SBOM's index
	Devices []*truthDeviceInput
	// Probes are the UDIs whose histories and "at" probes the truth lists;
	// their folds keep their histories.
	Probes   []string
	Advisory *advisory
	Since    time.Time
	// The field action: its ID, Index, Manufacturer, Remedy and Issued,
	// and the UDI-DIs it names.
	FA       scFieldAction
	FAUDIDIs []string
	// The revocation: the revoked device's UDI, the revocation's index and
	// whether the log refused the attestation sent after it.
	RevokedUDI       string
	RevocationIndex  uint64
	RefusedAfterRevo bool
	CloneUDI         string
}

// computeTruth derives the ground truth from the story's facts.
func computeTruth(st *storyFacts) (*scTruth, error) {
	t := &scTruth{Seed: st.Seed, Counts: scCounts{Devices: len(st.Devices), ByKind: maps.Clone(st.ByKind)}}
	for _, n := range st.ByKind {
		t.Counts.Entries += n
	}
	byUDI := map[string]*truthDeviceInput{}
	for _, d := range st.Devices {
		byUDI[d.UDI] = d
	}

	// Impact of the advisory.
	adv := st.Advisory
	affected := map[string]bool{}
	t.Impact = scImpact{Advisory: adv.File, Since: st.Since, PURL: adv.ExactPURL, PURLBuilds: []string{}, AffectedBuilds: []scAffectedBuild{}}
	for i := range st.Builds {
		b := &st.Builds[i]
		if slices.ContainsFunc(b.Components, func(c component) bool { return c.PURL == adv.ExactPURL }) {
			t.Impact.PURLBuilds = append(t.Impact.PURLBuilds, b.Digest)
		}
		if adv.affectsBuild(b) {
			affected[b.Digest] = true
			t.Impact.AffectedBuilds = append(t.Impact.AffectedBuilds, scAffectedBuild{Digest: b.Digest, Version: b.Version, SBOMIndex: b.SBOMIndex})
		}
	}
	slices.Sort(t.Impact.PURLBuilds)
	t.Impact.PURLBuilds = slices.Compact(t.Impact.PURLBuilds)
	slices.SortFunc(t.Impact.AffectedBuilds, func(a, b scAffectedBuild) int { return strings.Compare(a.Digest, b.Digest) })
	affectedModels := map[string]bool{}
	for _, d := range st.Devices {
		if d.Fold.advisory {
			affectedModels[d.UDIDI] = true
		}
	}
	t.Impact.AffectedDevices, t.Impact.UnknownDevices = []string{}, []string{}
	for _, d := range st.Devices {
		h := d.Fold.head
		if h != nil && affected[h.Firmware] && !h.Time.Before(st.Since) {
			t.Impact.AffectedDevices = append(t.Impact.AffectedDevices, d.UDI)
		}
		if affectedModels[d.UDIDI] && (h == nil || h.Time.Before(st.Since)) {
			t.Impact.UnknownDevices = append(t.Impact.UnknownDevices, d.UDI)
		}
	}

	// The field action.
	fa := st.FA
	fa.Population, fa.Corrected, fa.NotCorrected = []string{}, []scCorrected{}, []string{}
	inPopulation, corrected := map[string]bool{}, map[string]bool{}
	for _, d := range st.Devices {
		f := d.Fold
		if !slices.Contains(st.FAUDIDIs, d.UDIDI) && (f.faFirst == nil || *f.faFirst >= fa.Index) {
			continue
		}
		inPopulation[d.UDI] = true
		fa.Population = append(fa.Population, d.UDI)
		if f.remedy != nil && *f.remedy > fa.Index {
			corrected[d.UDI] = true
			fa.Corrected = append(fa.Corrected, scCorrected{UDI: d.UDI, Index: *f.remedy})
		} else {
			fa.NotCorrected = append(fa.NotCorrected, d.UDI)
		}
	}
	t.FieldAction = fa

	// Devices.
	rev := byUDI[st.RevokedUDI]
	if rev == nil {
		return nil, fmt.Errorf("the revoked device %s is not in the story", st.RevokedUDI)
	}
	t.Revoked = scRevoked{UDI: rev.UDI, KeyID: rev.KeyID, RevocationIndex: st.RevocationIndex, RefusedAfterRevocation: st.RefusedAfterRevo}
	for _, d := range st.Devices {
		sd := scDevice{UDI: d.UDI, KeyID: d.KeyID, Manufacturer: d.Manufacturer, Model: d.Model, UDIDI: d.UDIDI,
			EnrollmentIndex: d.Enrollment, Status: statusActive}
		if h := d.Fold.head; h != nil {
			l := *h
			sd.Latest = &l
		}
		switch {
		case d.UDI == rev.UDI || d.KeyID == rev.KeyID:
			sd.Status = statusRevoked
			ri := st.RevocationIndex
			sd.RevocationIndex = &ri
		case inPopulation[d.UDI] && !corrected[d.UDI]:
			sd.Status = statusFieldAction
		}
		t.Devices = append(t.Devices, sd)
	}

	clone := byUDI[st.CloneUDI]
	if clone == nil || clone.Fold.firstFork == nil {
		return nil, fmt.Errorf("the cloned device %s has no fork in the log", st.CloneUDI)
	}
	t.Clone = scClone{UDI: clone.UDI, KeyID: clone.KeyID, FirstForkIndex: *clone.Fold.firstFork}

	// Probe devices: histories and "at" probes.
	t.Histories, t.At = []scHistory{}, []scAt{}
	for _, udi := range st.Probes {
		d := byUDI[udi]
		if d == nil || !d.Fold.keep {
			return nil, fmt.Errorf("probe device %s kept no history", udi)
		}
		t.Histories = append(t.Histories, scHistory{UDI: udi, Attestations: append([]scAtt{}, d.Fold.history...)})
		t.At = append(t.At, atProbes(udi, d.Fold, st.Since)...)
	}

	slices.SortFunc(t.Devices, func(a, b scDevice) int { return strings.Compare(a.UDI, b.UDI) })
	slices.SortFunc(t.Histories, func(a, b scHistory) int { return strings.Compare(a.UDI, b.UDI) })
	slices.SortFunc(t.At, func(a, b scAt) int { return cmp.Or(strings.Compare(a.UDI, b.UDI), a.Time.Compare(b.Time)) })
	slices.Sort(t.Impact.AffectedDevices)
	slices.Sort(t.Impact.UnknownDevices)
	slices.Sort(t.FieldAction.Population)
	slices.Sort(t.FieldAction.NotCorrected)
	slices.SortFunc(t.FieldAction.Corrected, func(a, b scCorrected) int { return strings.Compare(a.UDI, b.UDI) })
	return t, nil
}

// atProbes picks times to ask about a probe device: before its first
// attestation, exactly at the first, between the first two, exactly at a
// middle one, at each fork's device time, and after the last; and answers
// them from the chain (forks excluded). A device that never attested gets
// one probe, at since, answered with nulls.
func atProbes(udi string, f *deviceFold, since time.Time) []scAt {
	chain := f.chain()
	var times []time.Time
	if len(chain) == 0 {
		times = append(times, since)
	} else {
		first, last := chain[0].Time, chain[len(chain)-1].Time
		times = append(times, first.Add(-time.Hour), first, chain[len(chain)/2].Time, last.Add(time.Hour))
		if len(chain) > 1 {
			times = append(times, first.Add(chain[1].Time.Sub(first)/2))
		}
	}
	for _, a := range f.history {
		if a.fork {
			times = append(times, a.Time)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	times = slices.CompactFunc(times, time.Time.Equal)
	out := make([]scAt, 0, len(times))
	for _, at := range times {
		p := scAt{UDI: udi, Time: at}
		var in, next *scAtt
		for i := range chain {
			a := &chain[i]
			if !a.Time.After(at) {
				if in == nil || a.Time.After(in.Time) || a.Time.Equal(in.Time) && a.Index > in.Index {
					in = a
				}
			} else if next == nil || a.Time.Before(next.Time) || a.Time.Equal(next.Time) && a.Index < next.Index {
				next = a
			}
		}
		if in != nil {
			p.InForce = &scRef{Seq: in.Seq, Index: in.Index}
		}
		if next != nil {
			p.Next = &scRef{Seq: next.Seq, Index: next.Index}
		}
		out = append(out, p)
	}
	return out
}
