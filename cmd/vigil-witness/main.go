// Command vigil-witness is an independent C2SP tlog-witness: it cosigns the
// checkpoints of the logs in its list that are consistent with the ones it
// cosigned before, and keeps its state in a directory. See package
// github.com/vigil-log/vigil/witness for the protocol, the formats and the
// state directory.
//
// Usage:
//
//	vigil-witness --key FILE --logs FILE --state DIR [--listen 127.0.0.1:8081]
//	              [--follow URL]... [--follow-interval 10s]
//
// Flags:
//
//	--key FILE      the witness's key, a note signer key as `vigil keygen
//	                --type witness` writes it (mode 0600; refused if group or
//	                others may read it). Its name is the witness's name; its
//	                cosignature/v1 verifier key (FILE.pub) is what logs and
//	                clients configure.
//	--logs FILE     the logs to witness, in the witness network's logs/v0
//	                format (go doc github.com/vigil-log/vigil/witness ParseLogs)
//	--state DIR     the state directory, created on first start; locked while
//	                the witness runs
//	--listen ADDR   the address to serve HTTP on (default 127.0.0.1:8081)
//	--follow URL    pull mode, repeatable: poll the C2SP tlog-tiles log at
//	                URL, build the consistency proof from its tiles, and
//	                cosign its new checkpoints, for logs that do not push
//	--follow-interval  how often to poll a followed log (default 10s)
//	--log-level     debug, info, warn or error (default info); every request
//	                is logged at debug
//	--log-format    json (default) or text
//	--shutdown-timeout  how long SIGTERM waits for requests in flight (10s)
//
// It serves, on --listen:
//
//	POST /add-checkpoint             c2sp.org/tlog-witness add-checkpoint
//	GET  /<origin hash>/checkpoint   the latest cosigned checkpoint of a log
//	GET  /metrics                    Prometheus metrics
//	GET  /healthz                    200 when serving
//
// Metrics: witness_requests_total{endpoint,code},
// witness_add_checkpoint_duration_seconds, witness_forks_detected_total (must
// stay 0: each is proof that a log forked, kept under DIR/evidence),
// go_build_info, and the Go and process collectors.
//
// Logs go to stderr through log/slog, JSON lines by default. The
// "vigil-witness serving" line gives the URL, the witness's name and its
// cosignature/v1 vkey. A fork is logged at level error. On SIGINT or SIGTERM
// it stops taking requests, finishes those in flight and releases the state
// directory. A cosignature is only sent once the checkpoint it covers is
// durable, so kill -9 at any moment loses nothing a log was told.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigil-log/vigil/cmd/internal/serve"
	"github.com/vigil-log/vigil/witness"
)

func main() {
	var (
		keyFile      = flag.String("key", "", "the witness's note signer key, as 'vigil keygen --type witness' writes it (required, mode 0600)")
		logsFile     = flag.String("logs", "", "the logs to witness, a logs/v0 list (required)")
		stateDir     = flag.String("state", "", "state directory, created on first start (required)")
		listen       = flag.String("listen", "127.0.0.1:8081", "address to serve HTTP on")
		shutdownWait = flag.Duration("shutdown-timeout", 10*time.Second, "how long shutdown waits for requests in flight")
		newLogger    = serve.LogFlags(flag.CommandLine)
		followEvery  = flag.Duration("follow-interval", 10*time.Second, "how often to poll each --follow log")
		follow       []string
	)
	flag.Func("follow", "pull mode (repeatable): poll the tlog-tiles log at this URL and cosign its growth", func(u string) error {
		follow = append(follow, u)
		return nil
	})
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `vigil-witness runs a C2SP tlog-witness.

Usage:
  vigil-witness --key FILE --logs FILE --state DIR [flags]

Example:
  vigil keygen --type witness --name witness.example.org --out witness.key
  vigil-witness --key witness.key --logs logs.txt --state ./witness-state

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "vigil-witness: unexpected arguments %q (see --help)\n", flag.Args())
		os.Exit(2)
	}
	logger, err := newLogger()
	if err != nil {
		fmt.Fprintf(os.Stderr, "vigil-witness: %v\n", err)
		os.Exit(2)
	}
	cfg := config{key: *keyFile, logs: *logsFile, state: *stateDir, listen: *listen, shutdownTimeout: *shutdownWait,
		follow: follow, followEvery: *followEvery}
	if err := run(cfg, logger); err != nil {
		logger.Error("vigil-witness stopped", "err", err)
		os.Exit(1)
	}
}

type config struct {
	key, logs, state, listen string
	shutdownTimeout          time.Duration
	follow                   []string
	followEvery              time.Duration
}

func run(cfg config, logger *slog.Logger) error {
	if cfg.key == "" || cfg.logs == "" || cfg.state == "" {
		return errors.New("--key, --logs and --state are required (see --help)")
	}
	// rootCtx outlives the signal: requests in flight when it arrives still
	// finish during http.Server.Shutdown.
	rootCtx, cancelRoot := context.WithCancel(context.Background())
	defer cancelRoot()
	ctx, stop := signal.NotifyContext(rootCtx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	signer, vkey, err := loadKey(cfg.key)
	if err != nil {
		return err
	}
	lb, err := os.ReadFile(cfg.logs)
	if err != nil {
		return fmt.Errorf("reading logs list: %w", err)
	}
	logs, err := witness.ParseLogs(lb)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.logs, err)
	}

	reg, mux := serve.NewMux()
	w, err := witness.New(witness.Config{
		Signer: signer, Logs: logs, StateDir: cfg.state, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer w.Close()

	mux.Handle("/", w.Handler())

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	logger.InfoContext(ctx, "vigil-witness serving", "url", "http://"+ln.Addr().String(), "name", signer.Name(), "vkey", vkey, "logs", len(logs))
	for _, u := range cfg.follow {
		go func() {
			if err := w.Follow(ctx, u, cfg.followEvery); err != nil {
				logger.Error("cannot follow a log", "url", u, "err", err)
			}
		}()
	}
	err = serve.Server{
		Base: rootCtx, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		ShutdownTimeout: cfg.shutdownTimeout, Logger: logger,
	}.Run(ctx, ln, http.MaxBytesHandler(mux, witness.MaxRequestSize))
	if err != nil {
		return err
	}
	return w.Close()
}
