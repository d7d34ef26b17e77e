package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"golang.org/x/sync/errgroup"
)

// sim is one run of the simulator.
type sim struct {
	dir   string
	seed  uint64
	fleet fleetFile
	mkeys []*client.PrivateKey
	// lcs are the log's frontends, which submissions go round-robin over.
	lcs  []*client.LogClient
	next atomic.Uint64
	// noWait submits without waiting for receipts (none are saved).
	noWait bool

	submitted, duplicates, skipped atomic.Int64
	// serverErrors counts the log's failures that were retried: 5xx answers
	// other than pushback, and failed requests. A healthy run has none.
	serverErrors atomic.Int64
	byKind       sync.Map // kind name -> *atomic.Int64
	// phase names what a scenario is doing, for the progress line.
	phase atomic.Pointer[string]
}

// build is one firmware build of a model.
type build struct {
	Manufacturer string      `json:"manufacturer"`
	Model        string      `json:"model"`
	Version      string      `json:"version"`
	Image        string      `json:"image"`
	Digest       string      `json:"digest"`
	SBOMFormat   string      `json:"sbomFormat"`
	Components   []component `json:"components"`
	SBOMIndex    uint64      `json:"sbomIndex"`
}

// plannedBuild is a build with what its SBOM envelope is made from: the
// manufacturer's position in the fleet and the components with their CPEs.
type plannedBuild struct {
	build
	mi    int
	comps []fwComponent
}

type component struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl"`
}

// truthDevice is a device as the ground truth records it.
type truthDevice struct {
	UDI          string             `json:"udi"`
	KeyID        string             `json:"keyId"`
	Manufacturer string             `json:"manufacturer"`
	Model        string             `json:"model"`
	Enrollment   uint64             `json:"enrollmentIndex"`
	Attestations []truthAttestation `json:"attestations"`
}

type truthAttestation struct {
	Seq      uint64 `json:"seq"`
	Index    uint64 `json:"index"`
	Firmware string `json:"firmware"`
	Version  string `json:"version"`
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("vigil-fleetsim run", flag.ContinueOnError)
	state := fs.String("state", "", "fleet directory made by init (required)")
	url := fs.String("url", "", "the log's base URL (required); several frontends' URLs, comma-separated, take submissions in turn")
	devices := fs.Int("devices", 0, "number of devices (required)")
	atts := fs.Int("attestations", 0, "attestations per device")
	seed := fs.Uint64("seed", 0, "seed of the run's choices (default: the fleet's seed)")
	conc := fs.Int("concurrency", 64, "devices simulated at once")
	noWait := fs.Bool("no-wait", false, "do not wait for receipts (none are saved): fills a log fast, e.g. for an audit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if *state == "" || *url == "" || *devices <= 0 || *atts < 0 || *conc <= 0 {
		fmt.Fprintln(fs.Output(), "vigil-fleetsim run: --state, --url and --devices > 0 are required")
		fs.Usage()
		return errUsage
	}
	s, err := loadSim(*state, *url, *seed, *conc)
	if err != nil {
		return err
	}
	for _, d := range []string{"envelopes", "receipts"} {
		if err := os.MkdirAll(filepath.Join(*state, d), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	s.noWait = *noWait
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return s.run(ctx, *devices, *atts, *conc)
}

func loadSim(dir, url string, seed uint64, conc int) (*sim, error) {
	s := &sim{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the fleet (run init first): %w", err)
	}
	if err := json.Unmarshal(b, &s.fleet); err != nil {
		return nil, fmt.Errorf("%s/fleet.json: %w", dir, err)
	}
	s.seed = s.fleet.Seed
	if seed != 0 {
		s.seed = seed
	}
	for _, m := range s.fleet.Manufacturers {
		kb, err := os.ReadFile(filepath.Join(dir, m.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("reading manufacturer key: %w", err)
		}
		k, err := client.ParsePrivateKeyPEM(kb)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.KeyFile, err)
		}
		s.mkeys = append(s.mkeys, k)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc * 2
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	for u := range strings.SplitSeq(url, ",") {
		if u = strings.TrimSpace(u); u == "" {
			return nil, fmt.Errorf("--url %q: an empty URL", url)
		}
		s.lcs = append(s.lcs, &client.LogClient{URL: u, HTTP: hc})
	}
	return s, nil
}

// lc returns the next frontend's client: each request goes to the next,
// so one device's entries and their receipts are spread over all of them.
func (s *sim) lc() *client.LogClient {
	return s.lcs[s.next.Add(1)%uint64(len(s.lcs))]
}

// modelRef names a model by its manufacturer's and its own position in
// the fleet.
type modelRef struct{ m, md int }

// models lists every model of every manufacturer, in fleet order: devices
// go round-robin over them.
func (s *sim) models() []modelRef {
	var models []modelRef
	for i, m := range s.fleet.Manufacturers {
		for j := range m.Models {
			models = append(models, modelRef{i, j})
		}
	}
	return models
}

func (s *sim) model(r modelRef) fleetModel { return s.fleet.Manufacturers[r.m].Models[r.md] }

func (s *sim) run(ctx context.Context, nDevices, nAtt, conc int) error {
	start := time.Now()
	stopProgress := s.progress(start)
	builds, err := s.publishBuilds(ctx)
	if err != nil {
		stopProgress()
		return err
	}
	models := s.models()
	truth := make([]truthDevice, nDevices)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i := 0; i < nDevices; i++ {
		ref := models[i%len(models)]
		g.Go(func() error {
			td, err := s.device(gctx, i, ref.m, ref.md, nAtt, builds)
			truth[i] = td
			return err
		})
	}
	err = g.Wait()
	stopProgress()
	if err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(s.dir, "ground-truth.json"), map[string]any{
		"seed": s.seed, "builds": builds, "devices": truth,
		"counts": map[string]int{"devices": nDevices, "attestationsPerDevice": nAtt, "builds": len(builds)},
	}); err != nil {
		return err
	}
	el := time.Since(start)
	n := s.submitted.Load()
	fmt.Printf("fleetsim: %d entries submitted (%d enrollments, %d sboms, %d attestations; %d duplicates), %d already had receipts, in %.1fs: %.0f entries/s; %d server errors retried\n",
		n, s.kind("enrollment"), s.kind("sbom"), s.kind("attestation"), s.duplicates.Load(), s.skipped.Load(), el.Seconds(), float64(n)/el.Seconds(), s.serverErrors.Load())
	return nil
}

func (s *sim) kind(k string) int64 {
	v, ok := s.byKind.Load(k)
	if !ok {
		return 0
	}
	return v.(*atomic.Int64).Load()
}

// progress prints a line every two seconds until stopped.
func (s *sim) progress(start time.Time) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := s.submitted.Load()
				rate := float64(n) / time.Since(start).Seconds()
				if p := s.phase.Load(); p != nil {
					fmt.Fprintf(os.Stderr, "fleetsim: %s: %d submitted, %.0f entries/s\n", *p, n, rate)
				} else {
					fmt.Fprintf(os.Stderr, "fleetsim: %d submitted, %d skipped, %.0f entries/s\n", n, s.skipped.Load(), rate)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// planBuild returns the build of version v of a model of manufacturer mi,
// with the components the seed picks for its image; its SBOM is not yet
// published.
func (s *sim) planBuild(mi int, md fleetModel, v string) plannedBuild {
	image := fmt.Sprintf("%s-%s.bin", md.Firmware, v)
	h := sha256.Sum256([]byte(image))
	comps := pickComponents(rand.New(rand.NewPCG(s.seed, uint64(h[0])<<8|uint64(h[1]))))
	b := plannedBuild{build: build{Manufacturer: s.fleet.Manufacturers[mi].Name, Model: md.Name, Version: v, Image: image,
		Digest: firmwareDigest(s.seed, image), SBOMFormat: md.Format}, mi: mi}
	b.setComponents(comps)
	return b
}

// setComponents sets the components the build's SBOM lists.
func (b *plannedBuild) setComponents(comps []fwComponent) {
	b.comps, b.Components = comps, nil
	for _, c := range comps {
		b.Components = append(b.Components, component{Name: c.name, Version: c.version, PURL: c.purl})
	}
}

// sbomEnvelope is the build's SBOM statement, signed by its manufacturer.
func (s *sim) sbomEnvelope(b *plannedBuild) ([]byte, error) {
	doc, err := buildSBOM(b.SBOMFormat, b.Image, b.Version, b.Digest, b.comps)
	if err != nil {
		return nil, err
	}
	pt := client.PredicateCycloneDX
	if b.SBOMFormat == "spdx" {
		pt = client.PredicateSPDX
	}
	env, _, err := signEnvelope(client.NewSBOMStatement(pt, doc, b.Image, b.Digest), s.mkeys[b.mi])
	return env, err
}

// publishBuilds submits an SBOM for every firmware build of every model.
func (s *sim) publishBuilds(ctx context.Context) ([]build, error) {
	var builds []build
	for i, m := range s.fleet.Manufacturers {
		for _, md := range m.Models {
			for _, v := range md.Versions {
				b := s.planBuild(i, md, v)
				idx, _, err := s.submitItem(ctx, "sbom-"+b.Image, "sbom", func() ([]byte, error) { return s.sbomEnvelope(&b) })
				if err != nil {
					return nil, err
				}
				b.SBOMIndex = idx
				builds = append(builds, b.build)
			}
		}
	}
	return builds, nil
}

// deviceUDI returns device i's UDI, of model md, and its serial number.
func deviceUDI(md fleetModel, i int) (udi, serial string) {
	serial = fmt.Sprintf("SIM%07d", i)
	return "(01)" + md.GTIN + "(21)" + serial, serial
}

// enrollmentEnvelope is device i's enrollment by manufacturer mi. It is the
// same bytes in every run of a seed: the manufacturer's Ed25519 signature
// and the device's proof of possession are deterministic.
func (s *sim) enrollmentEnvelope(i, mi int, md fleetModel, udi string, dk *client.PrivateKey) ([]byte, error) {
	mk := s.mkeys[mi]
	pop, err := possessionProof(s.seed, i, client.PossessionMessage(udi, mk.Public().ID()))
	if err != nil {
		return nil, err
	}
	st, err := client.NewStatement(client.PredicateEnrollment, &client.Enrollment{
		UDI: udi, DeviceKey: string(dk.Public().PEM()), Model: md.Name,
		Binding:           client.Binding{Type: "puf", Evidence: base64.StdEncoding.EncodeToString(derive(s.seed, "puf helper data", i, 32))},
		ProofOfPossession: base64.StdEncoding.EncodeToString(pop),
	})
	if err != nil {
		return nil, err
	}
	env, _, err := signEnvelope(st, mk)
	return env, err
}

// attestationEnvelope is an attestation of a device of model ref, signed
// by its key dk, and the hex SHA-256 of its payload: the prev of the
// attestation that follows it in the chain.
func (s *sim) attestationEnvelope(ref modelRef, dk *client.PrivateKey, udi string, seq uint64, prev string, t time.Time, fw client.Firmware) ([]byte, string, error) {
	m := ref.m*16 + ref.md
	st, err := client.NewStatement(client.PredicateAttestation, &client.Attestation{
		UDI: udi, Seq: seq, Prev: prev, Time: t,
		Firmware: fw, ConfigDigest: hex.EncodeToString(derive(s.seed, "config", m, 32)),
		Measurements: []client.Measurement{{Name: "bootloader", Digest: hex.EncodeToString(derive(s.seed, "bootloader", m, 32))}},
		Verdict:      "pass",
	})
	if err != nil {
		return nil, "", err
	}
	return signEnvelope(st, dk)
}

// device enrolls device i and sends its attestations, in order.
func (s *sim) device(ctx context.Context, i, mi, mdi, nAtt int, builds []build) (truthDevice, error) {
	m, md := s.fleet.Manufacturers[mi], s.fleet.Manufacturers[mi].Models[mdi]
	udi, serial := deviceUDI(md, i)
	td := truthDevice{UDI: udi, Manufacturer: m.Name, Model: md.Name}
	dk, err := deviceKey(s.seed, i)
	if err != nil {
		return td, err
	}
	td.KeyID = dk.Public().ID()
	td.Enrollment, _, err = s.submitItem(ctx, "enroll-"+serial, "enrollment", func() ([]byte, error) {
		return s.enrollmentEnvelope(i, mi, md, udi, dk)
	})
	if err != nil {
		return td, err
	}
	prev := ""
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	for seq := 0; seq < nAtt; seq++ {
		// Odd devices update to the model's newest build half-way.
		v := md.Versions[0]
		if i%2 == 1 && seq >= nAtt/2 {
			v = md.Versions[len(md.Versions)-1]
		}
		fw := client.Firmware{Version: v, Digest: firmwareDigest(s.seed, fmt.Sprintf("%s-%s.bin", md.Firmware, v))}
		name := fmt.Sprintf("attest-%s-%04d", serial, seq)
		idx, env, err := s.submitItem(ctx, name, "attestation", func() ([]byte, error) {
			env, _, err := s.attestationEnvelope(modelRef{mi, mdi}, dk, udi, uint64(seq), prev, base.Add(time.Duration(seq)*time.Hour), fw)
			return env, err
		})
		if err != nil {
			return td, err
		}
		// The envelope may be one an interrupted run saved: prev comes
		// from the bytes submitted.
		e, err := client.ParseEnvelope(env)
		if err != nil {
			return td, fmt.Errorf("%s: %w", name, err)
		}
		h := sha256.Sum256(e.Payload)
		prev = hex.EncodeToString(h[:])
		td.Attestations = append(td.Attestations, truthAttestation{Seq: uint64(seq), Index: idx, Firmware: fw.Digest, Version: v})
	}
	return td, nil
}

// signEnvelope signs a statement into a DSSE envelope and returns its JSON,
// newline-terminated, and the hex SHA-256 of its payload.
func signEnvelope(st *client.Statement, k *client.PrivateKey) ([]byte, string, error) {
	env, err := st.Sign(k)
	if err != nil {
		return nil, "", err
	}
	b, err := env.MarshalJSON()
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(env.Payload)
	return append(b, '\n'), hex.EncodeToString(h[:]), nil
}

// submitItem submits one saved-or-new envelope and saves its receipt,
// returning its index and the envelope's bytes. An item with a receipt is
// not submitted again; an item with a saved envelope is resubmitted with the
// same bytes, so an interrupted run leaves no duplicates in the log.
func (s *sim) submitItem(ctx context.Context, name, kind string, newEnvelope func() ([]byte, error)) (uint64, []byte, error) {
	envPath := filepath.Join(s.dir, "envelopes", name+".json")
	rcptPath := filepath.Join(s.dir, "receipts", name+".json")
	env, err := os.ReadFile(envPath)
	if errors.Is(err, os.ErrNotExist) {
		if env, err = newEnvelope(); err != nil {
			return 0, nil, fmt.Errorf("%s: %w", name, err)
		}
		err = writeAtomic(envPath, env)
	}
	if err != nil {
		return 0, nil, err
	}
	if rb, err := os.ReadFile(rcptPath); err == nil {
		b, err := client.ParseBundle(rb)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: saved receipt: %w", name, err)
		}
		p, err := client.ParseTLogProof([]byte(b.TLogProof))
		if err != nil {
			return 0, nil, fmt.Errorf("%s: saved receipt: %w", name, err)
		}
		s.skipped.Add(1)
		return p.Index, env, nil
	}
	sub, err := s.submit(ctx, kind, env)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", name, err)
	}
	if !s.noWait {
		if err := writeAtomic(rcptPath, sub.Raw); err != nil {
			return 0, nil, err
		}
	}
	return sub.Index, env, nil
}

// submit submits an envelope of the given kind (submitWithRetry) and counts
// it once it is in the log.
func (s *sim) submit(ctx context.Context, kind string, env []byte) (*client.Submission, error) {
	sub, err := s.submitWithRetry(ctx, env)
	if err != nil {
		return nil, err
	}
	s.submitted.Add(1)
	if sub.Duplicate {
		s.duplicates.Add(1)
	}
	c, _ := s.byKind.LoadOrStore(kind, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	return sub, nil
}

// submitWithRetry submits until the log answers with a bundle (with
// noWait, with an index): it waits out pushback and transient errors, and
// after a 202 polls for the bundle.
func (s *sim) submitWithRetry(ctx context.Context, env []byte) (*client.Submission, error) {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		sub, err := s.lc().Submit(ctx, env, !s.noWait)
		var ae *client.APIError
		switch {
		case err == nil && (sub.Bundle != nil || s.noWait):
			return sub, nil
		case err == nil:
			// Sequenced, not yet in a checkpoint: the bundle comes later.
			b, err := s.awaitBundle(ctx, sub.Index)
			if err != nil {
				return nil, err
			}
			raw, err := b.Marshal()
			if err != nil {
				return nil, err
			}
			return &client.Submission{Index: sub.Index, Duplicate: sub.Duplicate, Bundle: b, Raw: raw}, nil
		case errors.As(err, &ae) && ae.Status < 500:
			return nil, err // refused: retrying the same bytes cannot help
		case errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable && ae.RetryAfter > 0:
			backoff = ae.RetryAfter // pushback: the log asks for patience
		default:
			s.serverErrors.Add(1)
		}
		if attempt == 20 {
			return nil, fmt.Errorf("giving up after %d attempts: %w", attempt+1, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (s *sim) awaitBundle(ctx context.Context, index uint64) (*client.Bundle, error) {
	for {
		b, err := s.lc().Entry(ctx, index)
		if err == nil {
			return b, nil
		}
		if ae := (*client.APIError)(nil); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			s.serverErrors.Add(1) // not "no checkpoint covers it yet"
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("awaiting the bundle of %d: %w (last: %v)", index, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
