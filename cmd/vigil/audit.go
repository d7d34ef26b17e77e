package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/personality/index"
)

// errAnomalies is returned when an audit completed and found anomalies.
var errAnomalies = errors.New("the audit found anomalies")

// auditFlags are the flags audit and monitor share beyond the log's.
type auditFlags struct {
	log     *logFlags
	dir     *string
	asJSON  *bool
	workers *int
}

func addAuditFlags(fs *flag.FlagSet) *auditFlags {
	return &auditFlags{
		log:     addLogFlags(fs, true),
		dir:     fs.String("audit-dir", "", "directory of the audit's state and local index (default: the log's directory under --state, /audit)"),
		asJSON:  fs.Bool("json", false, "print the report as JSON"),
		workers: fs.Int("workers", 0, "concurrent fetches and signature checks (default: twice the number of CPUs)"),
	}
}

// auditor runs audits of one log for the audit and monitor verbs.
type auditor struct {
	conn    *logConn
	dir     string // the audit's directory; "" for the log's under the trusted state
	workers int    // 0 for the default
	quiet   bool   // no progress display
}

// round updates the trusted checkpoint and audits the log up to it.
func (a *auditor) round(ctx context.Context) (*client.Checked, *client.AuditReport, error) {
	c, err := a.conn.tracker.Update(ctx)
	if err != nil {
		return nil, nil, err
	}
	dir := a.dir
	if dir == "" {
		dir = filepath.Join(a.conn.tracker.Store.LogDir(c.Checkpoint.Origin), "audit")
	}
	// The local index: the same fold, into the same database, as the log
	// server's query index, so its answers can be set against the log's.
	x, err := index.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	defer x.Close()
	p := newProgress(os.Stderr, a.quiet)
	r, err := client.Audit(ctx, client.AuditConfig{
		Index:    x,
		Tiles:    a.conn.tracker.Tiles,
		Blob:     a.conn.api.ReadBlob,
		Roots:    a.conn.roots,
		Dir:      dir,
		Workers:  a.workers,
		Progress: p.update,
	}, c.Checkpoint)
	p.done()
	if err != nil {
		return nil, nil, fmt.Errorf("auditing %s up to size %d: %w", c.Checkpoint.Origin, c.Checkpoint.Size, err)
	}
	return c, r, nil
}

func audit(args []string) error {
	fs := newFlags("audit", "--policy FILE --trust-roots FILE [--log URL] [--state DIR] [--audit-dir DIR] [--json]",
		`  vigil audit --policy policy.txt --trust-roots trust-roots.json
  vigil audit --policy policy.txt --trust-roots trust-roots.json --json > audit.json

The regulator's independent replay of the whole log. It updates the trusted
checkpoint (policy-verified, consistency proven from tiles), then fetches
every entry bundle and hash tile, recomputes the root and checks it against
that checkpoint, re-verifies every entry's signatures and authority exactly as
the log should have, follows every device's attestation chain, and keeps a
local index: the audit's state, and in --audit-dir/index.db the same SQLite
index, built by the same fold, that vigild answers its query API from.

It is resumable (interrupt it and run it again: it continues where it
stopped) and incremental (a later run reads only the new entries; the
compact range it keeps proves the new checkpoint extends what it audited).

The report lists anomalies: entries the log should have refused (bad
signature, unknown or revoked signer, no authority, a device key enrolled
under two UDIs, malformed, a missing blob), broken, gapped or forked device
chains (a cloned device), and attestations reporting revoked or unknown
firmware. A corrupt tile or entry bundle is named by its path and first bad
index. Exit status: 0 for a clean log, 1 for anomalies or a log that does not
match its checkpoint, 3 for a split view.`)
	af := addAuditFlags(fs)
	quiet := fs.Bool("q", false, "no progress display")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	conn, err := af.log.open()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &auditor{conn: conn, dir: *af.dir, workers: *af.workers, quiet: *quiet}
	_, r, err := a.round(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; run again to continue where it stopped (%w)", err)
		}
		return err
	}
	if err := writeReport(os.Stdout, r, *af.asJSON); err != nil {
		return err
	}
	if len(r.Anomalies) > 0 {
		return fmt.Errorf("%w: %d", errAnomalies, len(r.Anomalies))
	}
	return nil
}

func writeReport(w io.Writer, r *client.AuditReport, asJSON bool) error {
	if !asJSON {
		return r.WriteText(w)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// progress shows an audit's progress on a terminal (a line rewritten in
// place) or, when stderr is not one, a line every ten seconds.
type progress struct {
	w        io.Writer
	off, tty bool
	last     time.Time
	shown    bool
}

func newProgress(f *os.File, off bool) *progress {
	st, err := f.Stat()
	return &progress{w: f, off: off, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(s client.AuditProgress) {
	if p.off || !p.tty && time.Since(p.last) < 10*time.Second {
		return
	}
	p.last = time.Now()
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 && s.Done > s.Before {
		rate = float64(s.Done-s.Before) / secs
	}
	eta := "?"
	switch {
	case s.Done >= s.Total:
		eta = "0s"
	case rate > 0:
		eta = (time.Duration(float64(s.Total-s.Done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if s.Total > 0 {
		pct = 100 * float64(s.Done) / float64(s.Total)
	}
	line := fmt.Sprintf("audit: %d / %d entries (%.1f%%), %.1f MB read, %.0f entries/s, ETA %s", s.Done, s.Total, pct, float64(s.Bytes)/1e6, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
