package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
)

func monitor(args []string) error {
	fs := newFlags("monitor", "--policy FILE --trust-roots FILE [--log URL] [--state DIR] [--interval D] [--webhook URL] [--once]",
		`  vigil monitor --policy policy.txt --trust-roots trust-roots.json --interval 1m \
      --webhook https://alerts.example.org/vigil

'vigil audit' in a loop: each round updates the trusted checkpoint (with a
consistency proof), audits the new entries, prints each new anomaly (one line,
or one JSON object per line with --json) and posts the round's new anomalies
to the webhook as JSON:

  {"origin": "...", "size": N, "anomalies": [{"code": "chain_fork", ...}]}

It also gossips: it fetches each policy witness's view of the log
(GET <witness URL>/<hex sha256(origin)>/checkpoint) and proves it consistent
with its own. A split view, seen by either road, stops the monitor with exit
status 3 and a fork-proof file. Other failures (the log or a witness
unreachable, a rollback, a log that does not match its checkpoint) are
reported and retried next round.`)
	af := addAuditFlags(fs)
	interval := fs.Duration("interval", time.Minute, "time between rounds")
	webhook := fs.String("webhook", "", "URL to POST new anomalies to (JSON)")
	once := fs.Bool("once", false, "run one round and exit (status as for audit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *interval <= 0 {
		fs.Usage()
		return errUsage
	}
	conn, err := af.log.open()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &monitorLoop{a: &auditor{conn: conn, dir: *af.dir, workers: *af.workers, quiet: true}, webhook: *webhook, asJSON: *af.asJSON, hc: &http.Client{Timeout: 30 * time.Second}}
	for {
		err := m.round(ctx)
		if errors.As(err, new(*client.ForkError)) {
			return err
		}
		if *once {
			return err
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "vigil monitor: %v\n", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// monitorLoop is the state of a running monitor.
type monitorLoop struct {
	a       *auditor
	webhook string
	asJSON  bool
	hc      *http.Client
	started bool
}

// round audits up to the log's latest checkpoint, reports new anomalies and
// gossips with the witnesses.
func (m *monitorLoop) round(ctx context.Context) error {
	c, r, err := m.a.round(ctx)
	if err != nil {
		return err
	}
	// The report holds every anomaly found in the audit directory, sorted
	// by index; the new ones are those at or past the size audited before.
	var fresh []client.Anomaly
	for _, an := range r.Anomalies {
		if an.Index >= r.Entries-r.New {
			fresh = append(fresh, an)
		}
	}
	if !m.started {
		// The first round reports everything the directory holds.
		fresh, m.started = r.Anomalies, true
	}
	fmt.Printf("%s %s: size %d (+%d entries), root verified, %d new anomalies\n", time.Now().UTC().Format(time.RFC3339), r.Origin, r.Size, r.New, len(fresh))
	for _, an := range fresh {
		if m.asJSON {
			b, _ := json.Marshal(an)
			fmt.Println(string(b))
		} else {
			fmt.Printf("  ANOMALY %s at index %d %s: %s\n", an.Code, an.Index, an.UDI, an.Detail)
		}
	}
	var errs []error
	if len(fresh) > 0 && m.webhook != "" {
		if err := m.post(ctx, r, fresh); err != nil {
			errs = append(errs, err)
		}
	}
	gerr := m.gossip(ctx, c)
	if errors.As(gerr, new(*client.ForkError)) {
		return gerr
	}
	errs = append(errs, gerr)
	if len(r.Anomalies) > 0 {
		errs = append(errs, fmt.Errorf("%w: %d", errAnomalies, len(r.Anomalies)))
	}
	return errors.Join(errs...)
}

func (m *monitorLoop) post(ctx context.Context, r *client.AuditReport, fresh []client.Anomaly) error {
	b, err := json.Marshal(struct {
		Origin    string           `json:"origin"`
		Size      uint64           `json:"size"`
		Anomalies []client.Anomaly `json:"anomalies"`
	}{r.Origin, r.Size, fresh})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.webhook, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: status %d", resp.StatusCode)
	}
	return nil
}

// gossip compares each policy witness's latest cosigned checkpoint of the
// log with the trusted one.
func (m *monitorLoop) gossip(ctx context.Context, c *client.Checked) error {
	h := sha256.Sum256([]byte(c.Checkpoint.Origin))
	var errs []error
	for _, w := range m.a.conn.tracker.Policy.Witnesses {
		if w.URL == "" {
			continue
		}
		u := strings.TrimSuffix(w.URL, "/") + "/" + hex.EncodeToString(h[:]) + "/checkpoint"
		raw, err := m.fetch(ctx, u)
		if err != nil {
			errs = append(errs, fmt.Errorf("witness %s: %w", w.Name, err))
			continue
		}
		cp, err := m.a.conn.tracker.Gossip(ctx, raw)
		if errors.As(err, new(*client.ForkError)) {
			return fmt.Errorf("witness %s's view: %w", w.Name, err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("witness %s: %w", w.Name, err))
			continue
		}
		fmt.Printf("  witness %s: size %d, consistent\n", w.Name, cp.Size)
	}
	return errors.Join(errs...)
}

func (m *monitorLoop) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<16))
}
