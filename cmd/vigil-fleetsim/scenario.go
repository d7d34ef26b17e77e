package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/sync/errgroup"
)

// truthFile and advisoryFile are the scenario's outputs, in DIR.
const (
	truthFile    = "scenario-truth.json"
	advisoryFile = "advisory.osv.json"
)

func scenarioCmd(args []string) error {
	fs := flag.NewFlagSet("vigil-fleetsim scenario", flag.ContinueOnError)
	state := fs.String("state", "", "fleet directory made by init (required)")
	url := fs.String("url", "", "the log's base URL (required); several frontends' URLs, comma-separated, take submissions in turn")
	devices := fs.Int("devices", 0, "number of devices, at least 4 per model (required)")
	atts := fs.Int("attestations", 0, "attestations per device, one a day, at least 4 (required)")
	seed := fs.Uint64("seed", 0, "seed of the story's choices (default: the fleet's seed)")
	// The log sequences submissions in batches (vigild --batch-max-age,
	// 50ms by default): with c submissions in flight, at most c are
	// sequenced per batch, so c must be in the hundreds to reach the log's
	// speed.
	conc := fs.Int("concurrency", 512, "submissions in flight at once")
	startFlag := fs.String("start", "2026-01-01T00:00:00Z", "device time of the story's first day, RFC 3339")
	force := fs.Bool("force", false, "overwrite the truth of an earlier scenario in DIR")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: vigil-fleetsim scenario --state DIR --url URL --devices N --attestations K [flags]

Plays a deterministic story against a fresh log: firmware releases with SBOMs,
N enrolled devices sending K daily hash-chained attestations, an OSV advisory
(DIR/`+advisoryFile+`), a field action with its remedy, a revoked device whose
next attestation the log must refuse, a cloned device key, and devices that go
offline. Submissions do not wait for receipts. The answers to a regulator's
questions about the story, computed from the indexes the log returned, go to
DIR/`+truthFile+`.

A scenario runs once against a log: the devices' P-256 signatures are
randomized, so the same story played again would be new entries with new
indexes. The command refuses to start if DIR/`+truthFile+` exists, unless
--force; point --force at a fresh log.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	start, terr := time.Parse(time.RFC3339, *startFlag)
	if *state == "" || *url == "" || *devices <= 0 || *atts < 4 || *conc <= 0 || terr != nil {
		fmt.Fprintln(fs.Output(), "vigil-fleetsim scenario: --state, --url, --devices > 0, --attestations >= 4 and an RFC 3339 --start are required")
		fs.Usage()
		return errUsage
	}
	truthPath := filepath.Join(*state, truthFile)
	if _, err := os.Stat(truthPath); err == nil && !*force {
		return fmt.Errorf("%s exists: a scenario has been played from this fleet already, and cannot be played again against the same log (use --force, against a fresh log)", truthPath)
	}
	s, err := loadSim(*state, *url, *seed, *conc)
	if err != nil {
		return err
	}
	s.noWait = true
	sc, err := newScenario(s, *devices, *atts, *conc, start.UTC())
	if err != nil {
		return err
	}
	// A truth left by an earlier scenario would describe another log.
	if err := os.Remove(truthPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	truth, err := sc.play(ctx)
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(*state, advisoryFile), sc.osv()); err != nil {
		return err
	}
	if err := writeJSON(truthPath, truth); err != nil {
		return err
	}
	el := time.Since(began)
	k := truth.Counts.ByKind
	fmt.Printf("fleetsim scenario: %d entries (%d sboms, %d enrollments, %d attestations, %d revocation, %d field action) in %.1fs: %.0f entries/s; %d server errors retried; truth in %s\n",
		truth.Counts.Entries, k["sbom"], k["enrollment"], k["attestation"], k["revocation"], k["field-action"],
		el.Seconds(), float64(truth.Counts.Entries)/el.Seconds(), s.serverErrors.Load(), truthPath)
	return nil
}

// scenario is one story, planned from the seed and played against a log.
//
// The story, in device time (one attestation a day per device, from
// --start, each device at its own time of day):
//
//   - day 0: every model's fleet builds are published with SBOMs; devices
//     are enrolled (round-robin over the models) and attest daily.
//   - dUpdate: every other device of each model moves to the model's
//     newest fleet build.
//   - dOff: a few devices of the models the advisory affects go offline;
//     one device of each such model but the field action's never attests
//     at all.
//   - dRev: a manufacturer revokes one device's UDI; the device's next
//     attestation is refused. From then on another device's key is also
//     used by a clone, whose own chain (seq 1, 2, ... with a prev that does
//     not link) forks the device's.
//   - dFA: every model gets a later release (SBOMs published); the
//     manufacturer of the first model issues a field action naming that
//     model's UDI-DI and fleet builds, with the later release as remedy.
//     About 60% of the online devices of that model install it over the
//     following days; about a third of the other models' devices install
//     their model's later release.
//   - since (the last day): devices that did not attest by then are in an
//     unknown state.
//
// The advisory (OSV) affects the openssl versions in the fleet builds of
// every other model (the first, third, ...); later releases and the other
// models' builds carry a fixed openssl or none.
//
// Each day is a round: every device sends that day's attestation, at most
// conc at once, and the next day starts when all are in the log; the
// revocation, the releases and the field action go in between. So each
// device's attestations reach the log in order, and the truth follows each
// chain as it goes (deviceFold), keeping whole histories only for ~20
// probe devices.
type scenario struct {
	*sim
	n, k, conc int
	start      time.Time
	models     []modelRef
	initial    [][]plannedBuild // per model (index in models): its fleet builds
	later      []plannedBuild   // per model: its later release
	adv        *advisory
	rules      foldRules
	devs       []*simDevice
	probes     []string

	dUpdate, dOff, dRev, dClone, dFA int
	since                            time.Time
	faModel                          int // index in models
	revoked, clone                   *simDevice

	// What happened.
	revIndex uint64
	refused  bool
	fa       scFieldAction
}

// simDevice is a device of the story.
type simDevice struct {
	truthDeviceInput
	i     int
	model int // index in scenario.models
	key   *client.PrivateKey
	prev  string // payload digest of the device's last accepted attestation

	// The device's part in the story, in days; -1 for never.
	updateDay int // moves to the model's newest fleet build
	laterDay  int // moves to the model's later release (the remedy, for the field action's model)
	stopDay   int // sends nothing from this day on (k: attests to the end)
	// cloned: from dClone on, a clone sends its own chain with the key.
	cloned    bool
	clonePrev string
	cloneSeq  uint64
}

// scenarioStream seeds the story's random choices apart from other uses
// of the seed.
const scenarioStream = 0x5ce4a210

func newScenario(s *sim, n, k, conc int, start time.Time) (*scenario, error) {
	sc := &scenario{sim: s, n: n, k: k, conc: conc, start: start, models: s.models()}
	nm := len(sc.models)
	if nm < 2 {
		return nil, errors.New("the fleet needs at least two models for a scenario")
	}
	if n < 4*nm {
		return nil, fmt.Errorf("--devices must be at least %d (4 per model) for the story's roles", 4*nm)
	}
	if end := start.Add(time.Duration(k+1) * 24 * time.Hour); end.After(time.Now()) {
		return nil, fmt.Errorf("the story would end at %s, in the future: start earlier or attest less", end.Format(time.RFC3339))
	}
	sc.dUpdate = max(1, k/4)
	sc.dOff = max(1, k/3)
	sc.dRev = max(2, k/2)
	sc.dClone = sc.dRev
	sc.dFA = k - max(1, k/3)
	sc.since = start.Add(time.Duration(k-1) * 24 * time.Hour)
	if err := sc.planBuilds(); err != nil {
		return nil, err
	}
	if err := sc.planDevices(); err != nil {
		return nil, err
	}
	return sc, nil
}

// planBuilds plans every model's fleet builds and later release, with the
// advisory's component set as the story needs, and the advisory.
func (sc *scenario) planBuilds() error {
	var openssl []fwComponent
	for _, row := range componentCatalogue {
		if row[0].name == "openssl" {
			openssl = row
		}
	}
	if len(openssl) < 3 {
		return errors.New("the component catalogue lacks openssl in three versions")
	}
	vulnerable, fixed := openssl[:len(openssl)-1], openssl[len(openssl)-1]
	sc.adv = &advisory{
		ID: fmt.Sprintf("VIGIL-SIM-%d-0001", sc.start.Year()), Name: "openssl", PURL: purlBase(fixed.purl),
		Introduced: "3.0.0", Fixed: fixed.version, ExactPURL: vulnerable[len(vulnerable)-1].purl, File: advisoryFile,
	}
	for _, c := range vulnerable {
		sc.adv.Versions = append(sc.adv.Versions, c.version)
	}
	sc.rules = foldRules{advisory: map[string]bool{}, faFirmware: map[string]bool{}}
	sc.faModel = 0
	for m, ref := range sc.models {
		md := sc.model(ref)
		var bs []plannedBuild
		for vi, v := range md.Versions {
			b := sc.planBuild(ref.m, md, v)
			// Models 0, 2, ... ship a vulnerable openssl (the newer one
			// from their second build on); the others none at first, then
			// the fixed one.
			var c *fwComponent
			switch {
			case m%2 == 0 && vi == 0:
				c = &vulnerable[0]
			case m%2 == 0:
				c = &vulnerable[len(vulnerable)-1]
			case vi > 0:
				c = &fixed
			}
			b.setComponents(withComponent(b.comps, "openssl", c))
			bs = append(bs, b)
		}
		sc.initial = append(sc.initial, bs)
		l := sc.planBuild(ref.m, md, nextVersion(md.Versions[len(md.Versions)-1]))
		l.setComponents(withComponent(l.comps, "openssl", &fixed))
		sc.later = append(sc.later, l)
	}
	for m := range sc.models {
		for _, b := range append(slices.Clone(sc.initial[m]), sc.later[m]) {
			if sc.adv.affectsBuild(&b.build) {
				sc.rules.advisory[b.Digest] = true
			}
		}
	}
	for _, b := range sc.initial[sc.faModel] {
		sc.rules.faFirmware[b.Digest] = true
	}
	sc.rules.remedy = sc.later[sc.faModel].Digest
	return nil
}

// withComponent returns comps without the component called name, plus c if
// it is not nil, in catalogue order.
func withComponent(comps []fwComponent, name string, c *fwComponent) []fwComponent {
	out := slices.DeleteFunc(slices.Clone(comps), func(x fwComponent) bool { return x.name == name })
	if c == nil {
		return out
	}
	out = append(out, *c)
	pos := func(x fwComponent) int {
		return slices.IndexFunc(componentCatalogue, func(row []fwComponent) bool { return row[0].name == x.name })
	}
	slices.SortStableFunc(out, func(a, b fwComponent) int { return cmp.Compare(pos(a), pos(b)) })
	return out
}

// nextVersion is the version after v: its last number plus one.
func nextVersion(v string) string {
	i := strings.LastIndexByte(v, '.') + 1
	if n, err := strconv.Atoi(v[i:]); err == nil {
		return v[:i] + strconv.Itoa(n+1)
	}
	return v + ".1"
}

// planDevices gives every device its identity and its part in the story,
// and picks the probe devices.
func (sc *scenario) planDevices() error {
	nm := len(sc.models)
	perModel := make([][]*simDevice, nm)
	for i := range sc.n {
		m := i % nm
		ref := sc.models[m]
		md := sc.model(ref)
		raw, _ := deviceUDI(md, i)
		u, err := client.ParseUDI(raw)
		if err != nil {
			return fmt.Errorf("device %d: %w", i, err)
		}
		d := &simDevice{i: i, model: m, updateDay: -1, laterDay: -1, stopDay: sc.k}
		d.truthDeviceInput = truthDeviceInput{UDI: u.String(), Manufacturer: sc.fleet.Manufacturers[ref.m].Name,
			Model: md.Name, UDIDI: u.DI.String(), Fold: &deviceFold{}}
		sc.devs = append(sc.devs, d)
		perModel[m] = append(perModel[m], d)
	}
	rng := rand.New(rand.NewPCG(sc.seed, scenarioStream))
	laterDay := func(pos int) int { return sc.dFA + pos%(sc.k-sc.dFA) }
	var probes []*simDevice
	firstOdd, cloneModel := 1, 1
	if nm > 3 {
		cloneModel = 3
	}
	for m, ds := range perModel {
		perm := slices.Clone(ds)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		for pos, d := range perm {
			if pos%2 == 1 {
				d.updateDay = sc.dUpdate
			}
		}
		nOff := max(1, len(perm)/20)
		switch {
		case m == sc.faModel:
			// A few offline; of the rest, about 60% install the remedy.
			off, online := perm[:nOff], perm[nOff:]
			for _, d := range off {
				d.stopDay = sc.dOff
			}
			nFixed := min(max(1, int(math.Round(0.6*float64(len(online))))), len(online)-1)
			for j, d := range online[:nFixed] {
				d.laterDay = laterDay(j)
			}
			probes = append(probes, first(online[:nFixed], 3)...)
			probes = append(probes, first(online[nFixed:], 3)...)
			probes = append(probes, first(off, 2)...)
		case m%2 == 0:
			// One never attests, a few go offline, a third update.
			perm[0].stopDay = 0
			off, rest := perm[1:1+nOff], perm[1+nOff:]
			for _, d := range off {
				d.stopDay = sc.dOff
			}
			var updated, plain []*simDevice
			for pos, d := range rest {
				if pos%3 == 0 {
					d.laterDay = laterDay(pos)
					updated = append(updated, d)
				} else {
					plain = append(plain, d)
				}
			}
			probes = append(probes, perm[0])
			probes = append(probes, first(off, 2)...)
			probes = append(probes, first(updated, 2)...)
			probes = append(probes, first(plain, 1)...)
		default:
			rest := perm
			if m == firstOdd {
				sc.revoked, rest = rest[0], rest[1:]
				probes = append(probes, sc.revoked)
			}
			if m == cloneModel {
				sc.clone, rest = rest[0], rest[1:]
				sc.clone.cloned = true
				probes = append(probes, sc.clone)
			}
			for pos, d := range rest {
				if pos%3 == 0 {
					d.laterDay = laterDay(pos)
				}
			}
			probes = append(probes, first(rest, 2)...)
		}
	}
	for _, d := range probes {
		d.Fold.keep = true
		sc.probes = append(sc.probes, d.UDI)
	}
	slices.Sort(sc.probes)
	return nil
}

func first(ds []*simDevice, n int) []*simDevice { return ds[:min(n, len(ds))] }

// deviceTime is device i's clock on a day of the story: each device
// attests at its own time of day, within the first twelve hours.
func (sc *scenario) deviceTime(i, day int) time.Time {
	return sc.start.Add(time.Duration(day)*24*time.Hour + time.Duration(i%43200)*time.Second)
}

func (sc *scenario) day(day int) time.Time { return sc.start.Add(time.Duration(day) * 24 * time.Hour) }

// firmwareOn is the build device d runs on a day.
func (sc *scenario) firmwareOn(d *simDevice, day int) *plannedBuild {
	bs := sc.initial[d.model]
	switch {
	case d.laterDay >= 0 && day >= d.laterDay:
		return &sc.later[d.model]
	case d.updateDay >= 0 && day >= d.updateDay:
		return &bs[len(bs)-1]
	}
	return &bs[0]
}

func (sc *scenario) setPhase(format string, a ...any) {
	p := fmt.Sprintf(format, a...)
	sc.phase.Store(&p)
}

// play tells the story and returns its truth.
func (sc *scenario) play(ctx context.Context) (*scTruth, error) {
	stop := sc.progress(time.Now())
	defer stop()
	sc.setPhase("publishing builds")
	var published []build
	for m := range sc.models {
		for j := range sc.initial[m] {
			if err := sc.publish(ctx, &sc.initial[m][j]); err != nil {
				return nil, err
			}
			published = append(published, sc.initial[m][j].build)
		}
	}
	sc.setPhase("enrolling %d devices", sc.n)
	if err := sc.forEachDevice(ctx, sc.enroll); err != nil {
		return nil, err
	}
	for day := range sc.k {
		if day == sc.dRev {
			if err := sc.revoke(ctx); err != nil {
				return nil, err
			}
		}
		if day == sc.dFA {
			sc.setPhase("later releases and the field action")
			for m := range sc.models {
				if err := sc.publish(ctx, &sc.later[m]); err != nil {
					return nil, err
				}
				published = append(published, sc.later[m].build)
			}
			if err := sc.fieldAction(ctx); err != nil {
				return nil, err
			}
		}
		sc.setPhase("day %d of %d", day+1, sc.k)
		if err := sc.forEachDevice(ctx, func(ctx context.Context, d *simDevice) error { return sc.attest(ctx, d, day) }); err != nil {
			return nil, err
		}
	}
	if !sc.refused {
		fmt.Fprintf(os.Stderr, "fleetsim: warning: the log accepted an attestation of %s after revoking it\n", sc.revoked.UDI)
	}
	facts := &storyFacts{
		Seed: sc.seed, ByKind: map[string]uint64{}, Builds: published, Probes: sc.probes,
		Advisory: sc.adv, Since: sc.since, FA: sc.fa, FAUDIDIs: []string{sc.devsOf(sc.faModel)[0].UDIDI},
		RevokedUDI: sc.revoked.UDI, RevocationIndex: sc.revIndex, RefusedAfterRevo: sc.refused, CloneUDI: sc.clone.UDI,
	}
	for _, k := range []client.Kind{client.KindEnrollment, client.KindSBOM, client.KindAttestation, client.KindRevocation, client.KindFieldAction} {
		facts.ByKind[k.String()] = uint64(sc.kind(k.String()))
	}
	for _, d := range sc.devs {
		facts.Devices = append(facts.Devices, &d.truthDeviceInput)
	}
	return computeTruth(facts)
}

func (sc *scenario) devsOf(m int) []*simDevice {
	var out []*simDevice
	for _, d := range sc.devs {
		if d.model == m {
			out = append(out, d)
		}
	}
	return out
}

// forEachDevice runs f for every device, conc at once.
func (sc *scenario) forEachDevice(ctx context.Context, f func(context.Context, *simDevice) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sc.conc)
	for _, d := range sc.devs {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return f(gctx, d) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// publish submits a build's SBOM and records its index.
func (sc *scenario) publish(ctx context.Context, b *plannedBuild) error {
	env, err := sc.sbomEnvelope(b)
	if err != nil {
		return fmt.Errorf("SBOM of %s: %w", b.Image, err)
	}
	sub, err := sc.submit(ctx, "sbom", env)
	if err != nil {
		return fmt.Errorf("SBOM of %s: %w", b.Image, err)
	}
	b.SBOMIndex = sub.Index
	return nil
}

func (sc *scenario) enroll(ctx context.Context, d *simDevice) error {
	ref := sc.models[d.model]
	k, err := deviceKey(sc.seed, d.i)
	if err != nil {
		return err
	}
	d.key, d.KeyID = k, k.Public().ID()
	env, err := sc.enrollmentEnvelope(d.i, ref.m, sc.model(ref), d.UDI, k)
	if err != nil {
		return fmt.Errorf("enrollment of %s: %w", d.UDI, err)
	}
	sub, err := sc.submit(ctx, "enrollment", env)
	if err != nil {
		return fmt.Errorf("enrollment of %s: %w", d.UDI, err)
	}
	d.Enrollment = sub.Index
	return nil
}

// attest sends device d's attestation of a day, and the clone's if d is
// cloned; the revoked device's first attestation after its revocation must
// be refused.
func (sc *scenario) attest(ctx context.Context, d *simDevice, day int) error {
	if day >= d.stopDay || d == sc.revoked && day > sc.dRev {
		return nil
	}
	ref := sc.models[d.model]
	b := sc.firmwareOn(d, day)
	fw := client.Firmware{Version: b.Version, Digest: b.Digest}
	t := sc.deviceTime(d.i, day)
	env, digest, err := sc.attestationEnvelope(ref, d.key, d.UDI, uint64(day), d.prev, t, fw)
	if err != nil {
		return fmt.Errorf("attestation %d of %s: %w", day, d.UDI, err)
	}
	sub, err := sc.submit(ctx, "attestation", env)
	if d == sc.revoked && day == sc.dRev {
		// The log's answer to a revoked signer: 403 with code "revoked".
		if ae := (*client.APIError)(nil); errors.As(err, &ae) && ae.Status == http.StatusForbidden && ae.Code == "revoked" {
			sc.refused = true
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("attestation %d of %s: %w", day, d.UDI, err)
	}
	d.prev = digest
	if err := d.Fold.add(scAtt{Seq: uint64(day), Index: sub.Index, Time: t, Firmware: fw.Digest, Version: fw.Version}, &sc.rules); err != nil {
		return fmt.Errorf("%s: %w", d.UDI, err)
	}
	if !d.cloned || day < sc.dClone {
		return nil
	}
	// The clone runs the model's first build, an hour after the device,
	// on a chain of its own that starts at seq 1 from a prev the device's
	// chain never had.
	if d.clonePrev == "" {
		d.clonePrev = fmt.Sprintf("%x", derive(sc.seed, "clone prev", d.i, 32))
		d.cloneSeq = 1
	}
	b = &sc.initial[d.model][0]
	fw = client.Firmware{Version: b.Version, Digest: b.Digest}
	t = t.Add(time.Hour)
	env, digest, err = sc.attestationEnvelope(ref, d.key, d.UDI, d.cloneSeq, d.clonePrev, t, fw)
	if err != nil {
		return fmt.Errorf("clone attestation %d of %s: %w", d.cloneSeq, d.UDI, err)
	}
	if sub, err = sc.submit(ctx, "attestation", env); err != nil {
		return fmt.Errorf("clone attestation %d of %s: %w", d.cloneSeq, d.UDI, err)
	}
	if err := d.Fold.add(scAtt{Seq: d.cloneSeq, Index: sub.Index, Time: t, Firmware: fw.Digest, Version: fw.Version}, &sc.rules); err != nil {
		return fmt.Errorf("%s: %w", d.UDI, err)
	}
	d.clonePrev, d.cloneSeq = digest, d.cloneSeq+1
	return nil
}

// revoke has the revoked device's manufacturer revoke its UDI.
func (sc *scenario) revoke(ctx context.Context) error {
	d := sc.revoked
	sc.setPhase("revoking %s", d.UDI)
	st, err := client.NewStatement(client.PredicateRevocation, &client.Revocation{
		Target:    client.RevocationTarget{Type: client.TargetUDI, ID: d.UDI},
		Reason:    "device reported stolen; its key may be in other hands",
		Effective: sc.day(sc.dRev),
	})
	if err != nil {
		return err
	}
	env, _, err := signEnvelope(st, sc.mkeys[sc.models[d.model].m])
	if err != nil {
		return err
	}
	sub, err := sc.submit(ctx, "revocation", env)
	if err != nil {
		return fmt.Errorf("revocation of %s: %w", d.UDI, err)
	}
	sc.revIndex = sub.Index
	return nil
}

// fieldAction has the first model's manufacturer issue the field action;
// the later releases' SBOMs are in the log by then.
func (sc *scenario) fieldAction(ctx context.Context) error {
	ref := sc.models[sc.faModel]
	md, remedy := sc.model(ref), &sc.later[sc.faModel]
	var buggy []string
	for _, b := range sc.initial[sc.faModel] {
		buggy = append(buggy, b.Digest)
	}
	slices.Sort(buggy)
	fa := &client.FieldAction{
		ID:       fmt.Sprintf("FSCA-SIM-%d-0001", sc.start.Year()),
		Title:    fmt.Sprintf("%s: install firmware %s (%s)", md.Name, remedy.Version, sc.adv.ID),
		Issued:   sc.day(sc.dFA),
		Affected: client.Affected{Firmware: buggy, UDIDIs: []string{sc.devsOf(sc.faModel)[0].UDIDI}},
		Remedy:   &client.Firmware{Version: remedy.Version, Digest: remedy.Digest},
		References: []string{sc.adv.ID, "EU MDR Article 89 (field safety corrective action)",
			"21 CFR 806 (corrections and removals)"},
	}
	st, err := client.NewStatement(client.PredicateFieldAction, fa)
	if err != nil {
		return err
	}
	env, _, err := signEnvelope(st, sc.mkeys[ref.m])
	if err != nil {
		return err
	}
	sub, err := sc.submit(ctx, "field-action", env)
	if err != nil {
		return fmt.Errorf("field action %s: %w", fa.ID, err)
	}
	idx := sub.Index
	// No attestation is in flight: the next day's start after this.
	sc.rules.faIndex = &idx
	sc.fa = scFieldAction{ID: fa.ID, Index: idx, Manufacturer: sc.fleet.Manufacturers[ref.m].Name, Remedy: remedy.Digest, Issued: fa.Issued}
	return nil
}

// osv is the story's advisory as an OSV record (ossf.github.io/osv-schema).
// OSV has no ecosystem for C libraries outside a package manager; the
// record names ConanCenter's openssl package, while its purl is the one
// the SBOMs use. It lists the affected versions as well as the range.
func (sc *scenario) osv() any {
	type event struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	}
	a := sc.adv
	published := sc.day(sc.dFA - 1)
	return map[string]any{
		"schema_version": "1.6.0",
		"id":             a.ID,
		"modified":       published,
		"published":      published,
		"summary":        fmt.Sprintf("Simulated vulnerability in %s before %s", a.Name, a.Fixed),
		"details":        fmt.Sprintf("A simulated advisory written by vigil-fleetsim: %s %s up to %s is affected, %s is fixed.", a.Name, a.Introduced, a.Versions[len(a.Versions)-1], a.Fixed),
		"affected": []any{map[string]any{
			"package":  map[string]string{"ecosystem": "ConanCenter", "name": a.Name, "purl": a.PURL},
			"ranges":   []any{map[string]any{"type": "ECOSYSTEM", "events": []event{{Introduced: a.Introduced}, {Fixed: a.Fixed}}}},
			"versions": a.Versions,
		}},
		"references":        []any{map[string]string{"type": "ADVISORY", "url": "https://fleetsim.vigil.example/advisories/" + a.ID}},
		"database_specific": map[string]any{"source": "vigil-fleetsim", "seed": sc.seed},
	}
}
