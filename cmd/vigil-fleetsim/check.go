package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vigil-log/vigil/client"
	"golang.org/x/sync/errgroup"
)

// checkCmd asks the log's query API every question of a scenario's ground
// truth, proves the answers with client.Querier, and compares them with the
// truth.
func checkCmd(args []string) error {
	fs := flag.NewFlagSet("vigil-fleetsim check", flag.ContinueOnError)
	state := fs.String("state", "", "fleet directory a scenario ran in (required)")
	logURL := fs.String("url", "", "the log's base URL (required)")
	policyFile := fs.String("policy", "", "C2SP tlog-policy file of the log and its witnesses (required)")
	trustDir := fs.String("trust-dir", "", "the client's trusted-state directory (default: DIR/trust)")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the log's index to cover the scenario")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: vigil-fleetsim check --state DIR --url URL --policy FILE

Asks the log every question of the scenario's ground truth
(DIR/scenario-truth.json) and compares the answers with it: the impact of
the advisory and of the exact package URL, the field action's corrected and
uncorrected devices, the state-at-time probes and the probe devices'
histories, proven with vigil's client (client.Querier), and every device's
status and latest attestation as the index states them. It prints each
answer's size and time, writes DIR/questions.env (the questions, for
scripts such as make demo), and exits 1 on any difference.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if *state == "" || *logURL == "" || *policyFile == "" {
		fs.Usage()
		return errUsage
	}
	if *trustDir == "" {
		*trustDir = filepath.Join(*state, "trust")
	}
	var truth scTruth
	b, err := os.ReadFile(filepath.Join(*state, "scenario-truth.json"))
	if err != nil {
		return fmt.Errorf("reading the truth (run scenario first): %w", err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		return fmt.Errorf("scenario-truth.json: %w", err)
	}
	q, err := newQuerier(*state, *logURL, *policyFile, *trustDir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := waitForIndex(ctx, q.API, truth.Devices[0].UDI, truth.Counts.Entries, *wait); err != nil {
		return err
	}
	c := &checker{q: q, truth: &truth, dir: *state}
	for _, step := range []func(context.Context) error{c.impact, c.fieldAction, c.at, c.histories, c.devices} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	if err := c.writeQuestions(); err != nil {
		return err
	}
	if len(c.diffs) > 0 {
		for _, d := range c.diffs[:min(len(c.diffs), 20)] {
			fmt.Println("DIFFERS:", d)
		}
		return fmt.Errorf("%d answers differ from the ground truth", len(c.diffs))
	}
	fmt.Println("check: every answer equals the ground truth")
	return nil
}

// newQuerier reads the policy and the fleet's trust roots.
func newQuerier(dir, logURL, policyFile, trustDir string) (*client.Querier, error) {
	pb, err := os.ReadFile(policyFile)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	policy, err := client.ParsePolicy(pb)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", policyFile, err)
	}
	rb, err := os.ReadFile(filepath.Join(dir, "trust-roots.json"))
	if err != nil {
		return nil, fmt.Errorf("reading trust roots: %w", err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		return nil, err
	}
	tiles, err := client.HTTPTiles(logURL, nil)
	if err != nil {
		return nil, err
	}
	return &client.Querier{
		Tracker: &client.Tracker{Policy: policy, Tiles: tiles, Store: &client.TrustStore{Dir: trustDir}},
		API:     &client.LogClient{URL: logURL},
		Roots:   roots,
	}, nil
}

// waitForIndex waits until the log's index covers entries.
func waitForIndex(ctx context.Context, api *client.LogClient, udi string, entries uint64, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var info client.DeviceInfo
		err := api.GetJSON(ctx, "/v1/devices/"+url.PathEscape(udi), &info)
		if err == nil && info.TreeSize >= entries {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the log's index did not cover the scenario's %d entries within %s (last: size %d, %v)", entries, wait, info.TreeSize, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checker compares answers with the truth and collects the differences.
type checker struct {
	q     *client.Querier
	truth *scTruth
	dir   string

	mu    sync.Mutex
	diffs []string
}

func (c *checker) differs(what string, want, got any) {
	if d := gocmp.Diff(want, got, cmpopts.IgnoreUnexported(scAtt{})); d != "" {
		c.mu.Lock()
		c.diffs = append(c.diffs, fmt.Sprintf("%s (-truth +log):\n%s", what, d))
		c.mu.Unlock()
	}
}

// timed runs f and prints how long it took.
func timed(what string, f func() (string, error)) error {
	start := time.Now()
	summary, err := f()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	fmt.Printf("check: %-34s %-40s proven in %s\n", what, summary, time.Since(start).Round(time.Millisecond))
	return nil
}

func udisOf(refs []client.DeviceRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.UDI)
	}
	return out
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (c *checker) impact(ctx context.Context) error {
	t := c.truth.Impact
	adv, err := os.ReadFile(filepath.Join(c.dir, t.Advisory))
	if err != nil {
		return fmt.Errorf("reading the advisory: %w", err)
	}
	if err := timed("impact of the advisory", func() (string, error) {
		im, err := c.q.Impact(ctx, "", adv, &t.Since)
		if err != nil {
			return "", err
		}
		var want, got []string
		for _, b := range t.AffectedBuilds {
			want = append(want, b.Digest)
		}
		for _, b := range im.Builds {
			got = append(got, b.Digest)
		}
		c.differs("impact: affected builds", orEmpty(want), orEmpty(got))
		c.differs("impact: affected devices", orEmpty(t.AffectedDevices), udisOf(im.Affected))
		c.differs("impact: unknown devices", orEmpty(t.UnknownDevices), udisOf(im.Unknown))
		return fmt.Sprintf("%d builds, %d affected, %d unknown", len(im.Builds), len(im.Affected), len(im.Unknown)), nil
	}); err != nil {
		return err
	}
	return timed("impact of "+t.PURL, func() (string, error) {
		im, err := c.q.Impact(ctx, t.PURL, nil, nil)
		if err != nil {
			return "", err
		}
		var got []string
		for _, b := range im.Builds {
			got = append(got, b.Digest)
		}
		c.differs("impact of the purl: builds", orEmpty(t.PURLBuilds), orEmpty(got))
		return fmt.Sprintf("%d builds, %d devices", len(im.Builds), len(im.Affected)), nil
	})
}

func (c *checker) fieldAction(ctx context.Context) error {
	t := c.truth.FieldAction
	return timed("field action "+t.ID, func() (string, error) {
		st, err := c.q.FieldAction(ctx, t.ID)
		if err != nil {
			return "", err
		}
		var got []scCorrected
		for _, x := range st.Corrected {
			got = append(got, scCorrected{UDI: x.UDI, Index: x.Remedy.Index})
		}
		c.differs("field action: index", t.Index, st.Index)
		c.differs("field action: corrected", t.Corrected, got)
		c.differs("field action: not corrected", orEmpty(t.NotCorrected), udisOf(st.NotCorrected))
		return fmt.Sprintf("%d corrected, %d not", len(st.Corrected), len(st.NotCorrected)), nil
	})
}

func (c *checker) at(ctx context.Context) error {
	return timed(fmt.Sprintf("%d state-at-time probes", len(c.truth.At)), func() (string, error) {
		ref := func(a *client.AttestationRef) *scRef {
			if a == nil {
				return nil
			}
			return &scRef{Seq: a.Seq, Index: a.Index}
		}
		for _, p := range c.truth.At {
			a, err := c.q.At(ctx, p.UDI, p.Time)
			if err != nil {
				return "", fmt.Errorf("%s at %s: %w", p.UDI, p.Time.Format(time.RFC3339), err)
			}
			what := fmt.Sprintf("%s at %s", p.UDI, p.Time.Format(time.RFC3339))
			c.differs(what+": in force", p.InForce, ref(a.InForce))
			c.differs(what+": next", p.Next, ref(a.Next))
		}
		return "all proven", nil
	})
}

func (c *checker) histories(ctx context.Context) error {
	return timed(fmt.Sprintf("%d device histories", len(c.truth.Histories)), func() (string, error) {
		forks := 0
		for _, h := range c.truth.Histories {
			got, err := c.q.History(ctx, h.UDI)
			if err != nil {
				return "", fmt.Errorf("%s: %w", h.UDI, err)
			}
			var idx []uint64
			for _, a := range got.Attestations {
				idx = append(idx, a.Index)
			}
			slices.Sort(idx) // the truth lists log order; the index, chain order
			var want []uint64
			for _, a := range h.Attestations {
				want = append(want, a.Index)
			}
			c.differs(h.UDI+": history", want, idx)
			for _, p := range got.Problems {
				if p.Code == client.AnomalyChainFork {
					forks++
				}
			}
			if h.UDI == c.truth.Clone.UDI {
				i := slices.IndexFunc(got.Problems, func(p client.ChainProblem) bool { return p.Code == client.AnomalyChainFork })
				if i < 0 {
					c.differs("clone: its history shows no fork", c.truth.Clone.FirstForkIndex, nil)
				}
			}
		}
		return fmt.Sprintf("%d forks found along the chains", forks), nil
	})
}

// devices compares every device's status and latest attestation, as the
// index states them, and proves the revoked and cloned devices' answers.
func (c *checker) devices(ctx context.Context) error {
	return timed(fmt.Sprintf("%d devices' status", len(c.truth.Devices)), func() (string, error) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for _, d := range c.truth.Devices {
			g.Go(func() error {
				var info client.DeviceInfo
				if err := c.q.API.GetJSON(gctx, "/v1/devices/"+url.PathEscape(d.UDI), &info); err != nil {
					return fmt.Errorf("%s: %w", d.UDI, err)
				}
				var latest *scAtt
				if l := info.Latest; l != nil {
					latest = &scAtt{Seq: l.Seq, Index: l.Index, Time: l.Time, Firmware: l.Firmware.Digest, Version: l.Firmware.Version}
				}
				c.differs(d.UDI, []any{d.Status, d.EnrollmentIndex, d.KeyID, d.Latest}, []any{info.Status, info.Enrollment, info.KeyID, latest})
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
		rev, err := c.q.Device(ctx, c.truth.Revoked.UDI)
		if err != nil {
			return "", err
		}
		if rev.Status != client.StatusRevoked || !slices.Contains(rev.Revocations, c.truth.Revoked.RevocationIndex) {
			c.differs("the revoked device", c.truth.Revoked.RevocationIndex, rev.Revocations)
		}
		return "revoked device proven", nil
	})
}

// writeQuestions writes DIR/questions.env: the scenario's questions as
// shell variables.
func (c *checker) writeQuestions() error {
	t := c.truth
	probe := t.At[0]
	for _, p := range t.At {
		if p.InForce != nil && p.Next != nil {
			probe = p
			break
		}
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	env := fmt.Sprintf("DEVICE=%s\nAT=%s\nADVISORY=%s\nSINCE=%s\nFIELD_ACTION=%s\nCLONE=%s\n",
		q(probe.UDI), q(probe.Time.UTC().Format(time.RFC3339)), q(filepath.Join(c.dir, t.Impact.Advisory)),
		q(t.Impact.Since.UTC().Format(time.RFC3339)), q(t.FieldAction.ID), q(t.Clone.UDI))
	return os.WriteFile(filepath.Join(c.dir, "questions.env"), []byte(env), 0o644)
}
