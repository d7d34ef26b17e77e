// Package serve holds what vigil's server commands (vigild, vigil-witness)
// share: their log output and their HTTP serving with a graceful shutdown.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LogFlags registers --log-level and --log-format on fs and returns the
// function that builds the logger they describe, once fs is parsed.
func LogFlags(fs *flag.FlagSet) func() (*slog.Logger, error) {
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "json", "json (one object per line) or text (for people)")
	return func() (*slog.Logger, error) { return newLogger(*level, *format) }
}

// newLogger returns the slog logger of a server command, writing to stderr
// at level ("debug", "info", "warn" or "error") in format ("json": one
// object per line, or "text": for people).
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, errors.New("--log-format must be json or text")
}

// NewMux returns a registry holding the build-info, Go and process
// collectors, and a mux already serving it on GET /metrics and a GET
// /healthz that answers 200; the command adds its own routes.
func NewMux() (*prometheus.Registry, *http.ServeMux) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewBuildInfoCollector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return reg, mux
}

// Server is what Run needs besides the listener and the handler.
type Server struct {
	// Base is the context requests run under. It must outlive the stop
	// signal, so that requests in flight finish during the shutdown.
	Base context.Context
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds waiting for requests in flight after stop.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// Run serves h on ln until stop ends, then stops taking requests and waits
// up to ShutdownTimeout for those in flight. Headers must arrive within 5 s,
// so a client that never finishes them does not hold a connection.
func (s Server) Run(stop context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return s.Base },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-stop.Done():
	}
	s.Logger.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		s.Logger.Warn("HTTP shutdown", "err", err)
	}
	return nil
}
