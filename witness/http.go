package witness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// requestTimeout bounds how long an add-checkpoint request waits for its
// log's lock. Once the witness has the lock it finishes storing the
// checkpoint whatever the client does.
const requestTimeout = 10 * time.Second

// Handler returns the witness's HTTP API, with the same prefix for
// submission and monitoring:
//
//	POST /add-checkpoint         c2sp.org/tlog-witness add-checkpoint
//	GET  /<origin hash>/checkpoint  the latest cosigned checkpoint of a log
//
// The origin hash is the lowercase hex SHA-256 of the log's origin line.
// The handler reads at most [MaxRequestSize] bytes of a body.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	mux.HandleFunc("GET /{hash}/checkpoint", w.serveCheckpoint)
	return mux
}

func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	var (
		origin string
		size   uint64
		line   []byte
	)
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = malformed("body too large")
		} else {
			err = malformed("reading the body failed")
		}
	} else {
		var req *AddCheckpointRequest
		var cp *checkpoint
		if req, cp, err = parseAddCheckpoint(body); err == nil {
			origin, size = cp.origin, cp.size
			line, err = w.addCheckpoint(ctx, req, cp)
		}
	}
	code := writeAddCheckpoint(rw, line, err)
	w.m.requests.WithLabelValues("add-checkpoint", strconv.Itoa(code)).Inc()
	w.m.duration.Observe(time.Since(start).Seconds())

	level, msg := slog.LevelDebug, "add-checkpoint refused"
	switch {
	case err == nil:
		msg = "checkpoint cosigned"
	case code >= 500:
		level, msg = slog.LevelError, "add-checkpoint failed"
	}
	if w.logger.Enabled(ctx, level) {
		attrs := []any{"code", code}
		if _, known := w.logs[origin]; known {
			// Only configured origins: a request's origin is attacker text.
			attrs = append(attrs, "origin", origin, "size", size)
		}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		w.logger.Log(ctx, level, msg, attrs...)
	}
}

// writeAddCheckpoint answers an add-checkpoint request: the cosignature
// line, or the status and body for err. It returns the status.
//
// This is the one place that maps the witness's errors to HTTP statuses:
//
//	*conflictError   409, Content-Type text/x.tlog.size, "<size>\n"
//	ErrMalformed     400 (also for an old size larger than the checkpoint's)
//	errUnknownLog    404
//	errUnverified    403
//	errInconsistent  422 (a bad proof, and a fork; see addCheckpointLocked)
//	errUnavailable   503 with Retry-After (closing, or the log's lock is busy)
//	anything else    500
func writeAddCheckpoint(rw http.ResponseWriter, line []byte, err error) int {
	h := rw.Header()
	if err == nil {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		rw.WriteHeader(http.StatusOK)
		_, _ = rw.Write(line)
		return http.StatusOK
	}
	var conflict *conflictError
	if errors.As(err, &conflict) {
		h.Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		_, _ = fmt.Fprintf(rw, "%d\n", conflict.size)
		return http.StatusConflict
	}
	code, msg := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, ErrMalformed):
		code, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, errUnknownLog):
		code, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, errUnverified):
		code, msg = http.StatusForbidden, err.Error()
	case errors.Is(err, errInconsistent):
		code, msg = http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, errUnavailable):
		code, msg = http.StatusServiceUnavailable, errUnavailable.Error()
		h.Set("Retry-After", "1")
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(code)
	_, _ = io.WriteString(rw, msg+"\n")
	return code
}

// serveCheckpoint serves the latest cosigned checkpoint of a log: its note
// text, the log signatures the witness verified and the witness's
// cosignature, as stored.
func (w *Witness) serveCheckpoint(rw http.ResponseWriter, r *http.Request) {
	var c *cosigned
	if l := w.byHash[r.PathValue("hash")]; l != nil {
		c = l.cur.Load()
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	if c == nil {
		w.m.requests.WithLabelValues("checkpoint", "404").Inc()
		rw.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(rw, "no cosigned checkpoint for this log\n")
		return
	}
	rw.Header().Set("Cache-Control", "no-cache")
	w.m.requests.WithLabelValues("checkpoint", "200").Inc()
	_, _ = rw.Write(c.note)
}
