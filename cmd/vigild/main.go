// Command vigild is the vigil log server: a C2SP tlog-tiles log on Tessera's
// POSIX, MySQL or GCP driver, with the personality that admits device
// evidence.
//
// Usage:
//
//	vigild --data DIR [--listen 127.0.0.1:8080] [--origin ORIGIN] --trust-roots FILE
//	       [--witness-policy FILE] [--checkpoint-interval 250ms] [--batch-max-age 50ms]
//	vigild --storage mysql --mysql-dsn DSN --log-key FILE --trust-roots FILE [...]
//	vigild --storage gcp --gcp-project P --spanner DB --gcs-bucket B --log-key FILE --trust-roots FILE [...]
//	vigild reindex (--data DIR | --storage mysql|gcp ... --log-key FILE) --trust-roots FILE
//
// With --storage mysql the log, its antispam index, the SBOM blobs, the
// query index and the index follower's state all live in the one database
// (DSN also from $VIGIL_MYSQL_DSN), and any number of vigild processes with
// the same DSN and --log-key are frontends of one log: each takes
// submissions, coordinating admission through the database, and answers
// queries from the shared index, which one of them at a time keeps up to
// date. The first frontend of a new log starts with --create, which creates
// it in an empty database; without it, vigild refuses a database with no
// log, and it always refuses one whose checkpoint the key does not verify.
//
// --storage gcp is the same on Google Cloud: Tessera's GCP driver sequences
// in the Cloud Spanner database (--spanner) and writes tiles, bundles and
// the checkpoint to the GCS bucket (--gcs-bucket), which also holds the SBOM
// blobs; the antispam index, the admission locks, the query index and the
// follower's state are in the Spanner database. Credentials are Google's
// Application Default Credentials; SPANNER_EMULATOR_HOST and
// STORAGE_EMULATOR_HOST point the clients at emulators.
//
// On posix, the first start with an empty (or missing) DIR creates the log: an
// Ed25519 note key in DIR/log.key (mode 0600) named --origin, its verifier key
// in DIR/log.vkey, and an empty tree. Later starts open that log, refuse a
// key readable by others, and never make a new log over an existing
// directory. DIR also holds the tree (DIR/tree), the antispam index
// (DIR/antispam), the SBOM blobs (DIR/blobs) and the query index (DIR/index:
// a SQLite database and the state of the audit that folds the log into it;
// derived state, rebuilt when missing or behind, or by vigild reindex).
//
// It serves, on --listen:
//
//	GET  /checkpoint, /tile/...          the C2SP tlog-tiles read API
//	POST /v1/entries                     submit a DSSE envelope
//	GET  /v1/entries/{index}             an entry's evidence bundle
//	GET  /v1/blobs/sha256/{hex}          an SBOM statement
//	GET  /v1/devices/{udi}[/attestations|/at]  the query API (see personality.Handler)
//	GET  /v1/impact, POST /v1/impact     which builds and devices a component affects
//	GET  /v1/field-actions/{id}          a field action's corrected devices
//	GET  /metrics                        Prometheus metrics
//	GET  /healthz                        200 when serving
//
// Metrics: personality_submissions_total{kind,result},
// personality_submission_duration_seconds{stage},
// personality_admission_transactions_total and
// personality_admission_ops_total (gcp only: the batches of lease
// transactions its frontends coordinate through), log_integrated_size,
// log_published_size, log_unpublished_entries,
// log_witness_request_duration_seconds{witness},
// log_witness_requests_total{witness,result},
// log_inclusion_self_check_failures_total (must stay 0),
// Tessera's OpenTelemetry metrics (tessera_*), go_build_info, and the Go and
// process collectors.
//
// Logs go to stderr through log/slog, Tessera's included: JSON lines by
// default, or text with --log-format text. The "vigild serving" line gives
// the URL, origin and vkey. On SIGINT or
// SIGTERM it stops accepting requests, lets Tessera integrate and publish
// everything it has sequenced, and exits; an entry that was answered with an
// index survives kill -9 too, since Tessera's POSIX driver makes it durable
// before the index is returned.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/cmd/internal/serve"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality"
	"github.com/vigil-log/vigil/personality/index"
	"k8s.io/klog/v2"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "reindex" {
		if err := reindex(os.Args[2:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return
			}
			fmt.Fprintf(os.Stderr, "vigild reindex: %v\n", err)
			os.Exit(1)
		}
		return
	}
	var (
		storage      = addStorageFlags(flag.CommandLine)
		listen       = flag.String("listen", "127.0.0.1:8080", "address to serve HTTP on")
		rootsFile    = flag.String("trust-roots", "", "trust-roots file: manufacturers, their keys and UDI prefixes (required)")
		policyFile   = flag.String("witness-policy", "", "C2SP tlog-policy file of witnesses whose cosignatures each checkpoint needs (optional)")
		cpInterval   = flag.Duration("checkpoint-interval", 0, "how often to publish a checkpoint while the tree grows (default 250ms on posix; on mysql and gcp the least Tessera allows, 1s and 1.2s)")
		batchAge     = flag.Duration("batch-max-age", 50*time.Millisecond, "longest a submission waits to be sequenced in a batch")
		batchSize    = flag.Uint("batch-max-size", 1024, "most entries sequenced in one batch")
		waitTimeout  = flag.Duration("wait-timeout", 10*time.Second, "how long a submission waits for a checkpoint before answering 202")
		shutdownWait = flag.Duration("shutdown-timeout", 30*time.Second, "how long shutdown may take to publish what is sequenced")
		newLogger    = serve.LogFlags(flag.CommandLine)
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `vigild runs a vigil transparency log.

Usage:
  vigild --data DIR --trust-roots FILE [--origin ORIGIN] [flags]
  vigild --storage mysql --mysql-dsn DSN --log-key FILE --trust-roots FILE [flags]
  vigild --storage gcp --gcp-project P --spanner DB --gcs-bucket B --log-key FILE --trust-roots FILE [flags]
  vigild reindex ...   (rebuild the query index; vigild reindex --help)

Example, first start (creates the log and DIR/log.vkey):
  vigild --data ./data --origin example.com/vigil --trust-roots trust-roots.json

Example, a frontend of a log in MariaDB (start as many as you like):
  vigil keygen --type log --name example.com/vigil --out log.key
  VIGIL_MYSQL_DSN='vigil:secret@tcp(db:3306)/vigil' vigild --storage mysql \
      --log-key log.key --trust-roots trust-roots.json --listen :8080 [--create, the first time]

Example, a frontend of a log in Cloud Spanner and GCS (as many as you like):
  vigild --storage gcp --gcp-project my-project --spanner instances/vigil/databases/vigil \
      --gcs-bucket my-project-vigil --log-key log.key --trust-roots trust-roots.json \
      --listen :8080 [--create, the first time]

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	logger, err := newLogger()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigild: %v\n", err)
		os.Exit(2)
	}
	klog.SetSlogLogger(logger)
	cfg := config{
		storage: storage, listen: *listen, roots: *rootsFile, policy: *policyFile,
		cpInterval: *cpInterval, batchAge: *batchAge, batchSize: *batchSize,
		waitTimeout: *waitTimeout, shutdownTimeout: *shutdownWait,
	}
	if err := run(cfg, logger); err != nil {
		logger.Error("vigild stopped", "err", err)
		os.Exit(1)
	}
}

type config struct {
	storage                      *storageFlags
	listen, roots, policy        string
	cpInterval, batchAge         time.Duration
	batchSize                    uint
	waitTimeout, shutdownTimeout time.Duration
}

func run(cfg config, logger *slog.Logger) error {
	if cfg.roots == "" {
		return errors.New("--trust-roots is required (see --help)")
	}
	// rootCtx outlives the signal: requests in flight when it arrives still
	// finish during http.Server.Shutdown. It ends last, after Tessera's.
	rootCtx, cancelRoot := context.WithCancel(context.Background())
	defer cancelRoot()
	ctx, stop := signal.NotifyContext(rootCtx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	rb, err := os.ReadFile(cfg.roots)
	if err != nil {
		return fmt.Errorf("reading trust roots: %w", err)
	}
	roots, err := client.ParseTrustRoots(rb)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.roots, err)
	}
	reg, mux := serve.NewMux()
	be, err := openBackend(ctx, cfg.storage, true, logger, reg)
	if err != nil {
		return err
	}
	defer be.close()
	if cfg.cpInterval == 0 {
		cfg.cpInterval = max(250*time.Millisecond, vlog.MinCheckpointInterval(be.storage))
	}

	stopOTel, err := vlog.BridgeOTel(reg)
	if err != nil {
		return err
	}
	defer stopOTel(context.Background())

	opts := tessera.NewAppendOptions().
		WithCheckpointInterval(cfg.cpInterval).
		WithBatching(cfg.batchSize, cfg.batchAge)
	var policy []byte
	if cfg.policy != "" {
		if policy, err = os.ReadFile(cfg.policy); err != nil {
			return fmt.Errorf("reading witness policy: %w", err)
		}
	}
	lcfg := vlog.Config{
		Storage: be.storage, Signer: be.signer, Verifier: be.verifier, Options: opts, WitnessPolicy: policy,
		Logger: logger, Registerer: reg,
	}
	open := vlog.Open
	if be.created {
		open = vlog.Create
	}
	lg, err := open(ctx, lcfg)
	if be.created && errors.Is(err, vlog.ErrExists) {
		// Another frontend of a shared database created it a moment ago.
		lg, err = vlog.Open(ctx, lcfg)
	}
	if err != nil {
		if errors.Is(err, vlog.ErrWitnessPolicy) {
			return fmt.Errorf("%s: %w", cfg.policy, err)
		}
		return err
	}
	logClosed := false
	closeLog := func() error {
		if logClosed {
			return nil
		}
		logClosed = true
		sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		return lg.Close(sctx)
	}
	defer closeLog()

	follower, err := index.NewFollower(ctx, be.follower(index.FollowerConfig{
		Tiles: lg.Tiles(), Roots: roots, Logger: logger.With("component", "index"),
	}))
	if err != nil {
		return err
	}
	defer follower.Close()
	p, err := personality.New(ctx, personality.Config{
		Log: lg, Blobs: be.blobs, Admission: be.admission, Roots: roots, Index: follower.Index(), WaitTimeout: cfg.waitTimeout,
		Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	go p.Follow(ctx, time.Second)
	go follower.Run(ctx)

	mux.Handle("/v1/", p.Handler())
	mux.Handle("/checkpoint", lg.Handler())
	mux.Handle("/tile/", lg.Handler())

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	logger.InfoContext(ctx, "vigild serving", "url", "http://"+ln.Addr().String(), "origin", be.signer.Name(), "vkey", be.vkey, "storage", be.storage.String(), "created", be.created)
	// Shutdown order (Tessera's NewAppender doc): stop taking requests, then
	// Tessera's shutdown, then the root context (deferred).
	// The write timeout leaves a submission its turn (personality's
	// TurnTimeout, 10 s), its sequencing and its wait for a checkpoint.
	err = serve.Server{
		Base: rootCtx, ReadTimeout: 60 * time.Second, WriteTimeout: cfg.waitTimeout + 30*time.Second,
		ShutdownTimeout: cfg.shutdownTimeout, Logger: logger,
	}.Run(ctx, ln, mux)
	if err != nil {
		return err
	}
	return closeLog()
}
