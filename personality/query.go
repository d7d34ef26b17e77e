package personality

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-log/vigil/client"
	"github.com/vigil-log/vigil/personality/index"
)

// Paging of GET /v1/devices/{udi}/attestations.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 1000
	// queryTimeout bounds one query.
	queryTimeout = 10 * time.Second
)

var (
	errNoIndex  = errors.New("this log serves no query index")
	errBadParam = errors.New("bad query parameter")
)

// handleQuery serves one query of the index: answer runs it, and its
// result, or its error, is the response.
func (p *Personality) handleQuery(answer func(ctx context.Context, r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.Index == nil {
			p.writeError(w, r, errNoIndex)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
		defer cancel()
		v, err := answer(ctx, r)
		if err != nil {
			p.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// queryRoutes adds the query API to mux.
func (p *Personality) queryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/devices/{udi}", p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
		return p.cfg.Index.Device(ctx, r.PathValue("udi"))
	}))
	mux.HandleFunc("GET /v1/devices/{udi}/attestations", p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
		from, err := uintParam(r, "from", 0)
		if err != nil {
			return nil, err
		}
		limit, err := uintParam(r, "limit", defaultHistoryLimit)
		if err != nil || limit == 0 || limit > maxHistoryLimit {
			return nil, errors.Join(errBadParam, errors.New("limit must be 1 to 1000"))
		}
		return p.cfg.Index.History(ctx, r.PathValue("udi"), from, int(limit))
	}))
	mux.HandleFunc("GET /v1/devices/{udi}/at", p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
		t, err := time.Parse(time.RFC3339, r.URL.Query().Get("time"))
		if err != nil {
			return nil, errors.Join(errBadParam, errors.New("time must be RFC 3339, e.g. 2026-09-21T14:00:00Z"))
		}
		return p.cfg.Index.At(ctx, r.PathValue("udi"), t)
	}))
	mux.HandleFunc("GET /v1/impact", p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
		q, err := impactQuery(r)
		if err != nil {
			return nil, err
		}
		q.PURL = r.URL.Query().Get("purl")
		if q.PURL == "" {
			return nil, errors.Join(errBadParam, errors.New("purl is required (or POST an OSV advisory)"))
		}
		return p.cfg.Index.Impact(ctx, q)
	}))
	mux.HandleFunc("POST /v1/impact", func(w http.ResponseWriter, r *http.Request) {
		p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
			q, err := impactQuery(r)
			if err != nil {
				return nil, err
			}
			body, err := p.readBody(w, r)
			if err != nil {
				return nil, err
			}
			if q.Advisory, err = client.ParseOSV(body); err != nil {
				return nil, err
			}
			return p.cfg.Index.Impact(ctx, q)
		})(w, r)
	})
	mux.HandleFunc("GET /v1/checkpoints/covering/{index}", func(w http.ResponseWriter, r *http.Request) {
		if p.cfg.Index == nil {
			p.writeError(w, r, errNoIndex)
			return
		}
		idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
		if err != nil {
			p.writeError(w, r, errInvalidIndex)
			return
		}
		raw, err := p.cfg.Index.CheckpointCovering(r.Context(), idx)
		if err != nil {
			p.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(raw)
	})
	mux.HandleFunc("GET /v1/field-actions/{id}", p.handleQuery(func(ctx context.Context, r *http.Request) (any, error) {
		pg, err := page(r)
		if err != nil {
			return nil, err
		}
		return p.cfg.Index.FieldAction(ctx, r.PathValue("id"), pg)
	}))
}

// page reads a list answer's limit and after parameters.
func page(r *http.Request) (index.Page, error) {
	limit, err := uintParam(r, "limit", index.DefaultLimit)
	if err != nil || limit == 0 || limit > index.MaxLimit {
		return index.Page{}, errors.Join(errBadParam, fmt.Errorf("limit must be 1 to %d", index.MaxLimit))
	}
	return index.Page{Limit: int(limit), After: r.URL.Query().Get("after")}, nil
}

// impactQuery reads an impact query's since and paging parameters.
func impactQuery(r *http.Request) (index.ImpactQuery, error) {
	var q index.ImpactQuery
	var err error
	if q.Page, err = page(r); err != nil {
		return q, err
	}
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, errors.Join(errBadParam, errors.New("since must be RFC 3339"))
		}
		q.Since = &t
	}
	return q, nil
}

// uintParam reads a decimal query parameter, def if absent.
func uintParam(r *http.Request, name string, def uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.Join(errBadParam, errors.New(name+" must be a decimal number"))
	}
	return v, nil
}
