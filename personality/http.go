package personality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-log/vigil/client"
	vlog "github.com/vigil-log/vigil/log"
	"github.com/vigil-log/vigil/personality/index"
)

// Error codes of the submission API. Every refusal answers with a JSON body
// {"error": CODE, "detail": TEXT}; the code is stable, the detail is for
// people. The set is fixed: clients may switch on it.
const (
	CodeMalformedJSON   = "malformed_json"           // 400: not JSON, unknown field, wrong type
	CodeMalformedBase64 = "malformed_base64"         // 400: payload or signature not base64
	CodePayloadType     = "unsupported_payload_type" // 400: not application/vnd.in-toto+json
	CodeSignatureCount  = "bad_signature_count"      // 400: not exactly one signature with a keyid
	CodeStatement       = "invalid_statement"        // 400: not an in-toto Statement v1
	CodePredicateType   = "unknown_predicate_type"   // 400: not a vigil, CycloneDX or SPDX predicate
	CodePredicate       = "invalid_predicate"        // 400: predicate does not match its schema
	CodeUDI             = "invalid_udi"              // 400: malformed UDI or bad check character
	CodeKey             = "invalid_key"              // 400: malformed or unsupported public key
	CodeSBOM            = "invalid_sbom"             // 400: SBOM does not parse as CycloneDX or SPDX
	CodeInvalidIndex    = "invalid_index"            // 400: entry index is not a decimal number
	CodeBadQuery        = "bad_query"                // 400: a query's UDI, package URL, time or paging is malformed
	CodeAdvisory        = "invalid_advisory"         // 400: the body is not an OSV advisory
	CodeUnknownKey      = "unknown_key"              // 403: signer is no trust root and no enrolled device
	CodeBadSignature    = "bad_signature"            // 403: signature or proof of possession does not verify
	CodeNotEnrolled     = "device_not_enrolled"      // 403: attestation by a key no enrollment binds
	CodeRevoked         = "revoked"                  // 403: signer, device or UDI revoked
	CodeUnauthorized    = "unauthorized"             // 403: signer has no authority over the subject
	CodeNotFound        = "not_found"                // 404: no such entry or blob
	CodeConflict        = "conflict"                 // 409: contradicts the log (key or UDI already bound)
	CodeBodyTooLarge    = "body_too_large"           // 413: body over the limit (16 MiB)
	CodeLeafTooLarge    = "leaf_too_large"           // 413: a non-SBOM entry too large for a leaf
	CodeNoIndex         = "no_index"                 // 501: the server keeps no query index
	CodePushback        = "pushback"                 // 503: log overloaded; retry after Retry-After
	CodeInternal        = "internal"                 // 500: the server failed; nothing was appended
)

// errorCodes maps the errors callers branch on to codes and statuses.
var errorCodes = []struct {
	err    error
	code   string
	status int
}{
	{client.ErrMalformedJSON, CodeMalformedJSON, http.StatusBadRequest},
	{client.ErrMalformedBase64, CodeMalformedBase64, http.StatusBadRequest},
	{client.ErrPayloadType, CodePayloadType, http.StatusBadRequest},
	{client.ErrSignatureCount, CodeSignatureCount, http.StatusBadRequest},
	{client.ErrStatement, CodeStatement, http.StatusBadRequest},
	{client.ErrPredicateType, CodePredicateType, http.StatusBadRequest},
	{client.ErrUDI, CodeUDI, http.StatusBadRequest},
	{client.ErrKey, CodeKey, http.StatusBadRequest},
	{client.ErrSBOM, CodeSBOM, http.StatusBadRequest},
	{client.ErrPredicate, CodePredicate, http.StatusBadRequest},
	{errInvalidIndex, CodeInvalidIndex, http.StatusBadRequest},
	{errBadParam, CodeBadQuery, http.StatusBadRequest},
	{index.ErrBadQuery, CodeBadQuery, http.StatusBadRequest},
	{client.ErrPURL, CodeBadQuery, http.StatusBadRequest},
	{client.ErrOSV, CodeAdvisory, http.StatusBadRequest},
	{client.ErrUnknownKey, CodeUnknownKey, http.StatusForbidden},
	{client.ErrBadSignature, CodeBadSignature, http.StatusForbidden},
	{client.ErrNotEnrolled, CodeNotEnrolled, http.StatusForbidden},
	{client.ErrRevoked, CodeRevoked, http.StatusForbidden},
	{client.ErrUnauthorized, CodeUnauthorized, http.StatusForbidden},
	{vlog.ErrNotFound, CodeNotFound, http.StatusNotFound},
	{fs.ErrNotExist, CodeNotFound, http.StatusNotFound},
	{index.ErrNotFound, CodeNotFound, http.StatusNotFound},
	{errNoIndex, CodeNoIndex, http.StatusNotImplemented},
	{client.ErrConflict, CodeConflict, http.StatusConflict},
	{errBodyTooLarge, CodeBodyTooLarge, http.StatusRequestEntityTooLarge},
	{client.ErrLeafTooLarge, CodeLeafTooLarge, http.StatusRequestEntityTooLarge},
	{vlog.ErrPushback, CodePushback, http.StatusServiceUnavailable},
}

var (
	errInvalidIndex = errors.New("entry index must be a decimal number")
	errBodyTooLarge = errors.New("request body too large")
)

// classify maps an error to its code and HTTP status: the one place the
// personality decides how a failure looks on the wire.
func classify(err error) (code string, status int) {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code, c.status
		}
	}
	return CodeInternal, http.StatusInternalServerError
}

// apiError is the JSON body of every refusal.
type apiError struct {
	Error  string `json:"error"`
	Detail string `json:"detail"`
}

func (p *Personality) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, status := classify(err)
	detail := err.Error()
	switch status {
	case http.StatusInternalServerError:
		p.logger.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err)
		detail = "internal error"
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	default:
		p.logger.DebugContext(r.Context(), "request refused", "path", r.URL.Path, "code", code, "err", err)
	}
	writeJSON(w, status, apiError{Error: code, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Accepted is the body of a 202 answer: the entry has a durable index but no
// evidence bundle yet; GET Location later for the bundle.
type Accepted struct {
	Index uint64 `json:"index"`
}

// Handler serves the submission API:
//
//	POST /v1/entries            submit a DSSE envelope (JSON). Answers
//	                            201 with the evidence bundle once a published
//	                            checkpoint includes the entry; 200 with the
//	                            original bundle and "Vigil-Duplicate: true" for
//	                            an identical resubmission; with ?wait=false,
//	                            or when no checkpoint comes within the wait
//	                            timeout, 202 with {"index": N} and Location.
//	GET  /v1/entries/{index}    the evidence bundle of an entry under the
//	                            latest checkpoint.
//	POST /v1/lookup             find a DSSE envelope (JSON) in the log
//	                            without submitting it: 200 with {"index": N},
//	                            or 404. A client proves the answer itself.
//	GET  /v1/blobs/sha256/{hex} a blob (an SBOM statement).
//
// and, with an index (Config.Index), the query API, whose answers are
// claims a client proves (see client.DeviceInfo and the others):
//
//	GET  /v1/devices/{udi}                         a device: enrollment, key, status, latest attestation
//	GET  /v1/devices/{udi}/attestations?from=SEQ&limit=N   its attestations from seq SEQ (N up to 1000, default 100)
//	GET  /v1/devices/{udi}/at?time=RFC3339         the attestation in force at a time, and the next
//	GET  /v1/impact?purl=PURL[&since=RFC3339]      builds whose SBOM has the package, devices running them
//	POST /v1/impact[?since=RFC3339]                the same for an OSV advisory (the body)
//	GET  /v1/field-actions/{id}                    a field action's population, corrected or not
//	GET  /v1/checkpoints/covering/{index}          the first checkpoint the index saw that includes an entry,
//	                                               as signed and cosigned: its cosignatures bound when the entry was logged
//
// Impact and field-action answers list devices by UDI, limit= (default
// 10,000, at most 50,000) a page, from after= a UDI; "more" in an answer is
// the after= of the next page.
func (p *Personality) Handler() http.Handler {
	mux := http.NewServeMux()
	p.queryRoutes(mux)
	mux.HandleFunc("POST /v1/entries", p.handleSubmit)
	mux.HandleFunc("GET /v1/entries/{index}", p.handleGetEntry)
	mux.HandleFunc("POST /v1/lookup", p.handleLookup)
	mux.HandleFunc("GET /v1/blobs/sha256/{digest}", p.handleGetBlob)
	return mux
}

func (p *Personality) handleSubmit(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	kind := "unknown"
	result := "rejected"
	var turn, sequenced time.Duration
	defer func() {
		p.metrics.submissions.WithLabelValues(kind, result).Inc()
		// Past its turn and its wait, an answer may outlive the server's
		// write timeout and be lost: say where the time went.
		if total := time.Since(start); total > p.cfg.TurnTimeout+p.cfg.WaitTimeout {
			p.logger.WarnContext(r.Context(), "slow submission", "kind", kind, "result", result, "turn_after", turn, "sequenced_after", sequenced, "total", total)
		}
	}()

	body, err := p.readBody(w, r)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	s, err := p.submit(r.Context(), body)
	if s != nil {
		kind = s.entry.Kind.String()
		if !s.turn.IsZero() {
			turn = s.turn.Sub(start)
		}
	}
	if err != nil {
		if errors.Is(err, vlog.ErrPushback) {
			result = "pushback"
		}
		p.writeError(w, r, err)
		return
	}
	result = "accepted"
	sequenced = time.Since(start)
	if s.dup {
		result = "duplicate"
		w.Header().Set("Vigil-Duplicate", "true")
	}
	p.metrics.latency.WithLabelValues("sequenced").Observe(time.Since(start).Seconds())
	w.Header().Set("Location", "/v1/entries/"+strconv.FormatUint(s.index, 10))
	if r.URL.Query().Get("wait") == "false" {
		writeJSON(w, http.StatusAccepted, Accepted{Index: s.index})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.WaitTimeout)
	defer cancel()
	rcpt, err := p.cfg.Log.Prove(ctx, s.index, s.leaf)
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		// The client went away; its entry is sequenced all the same.
		p.logger.DebugContext(r.Context(), "submitter left before its receipt", "index", s.index)
		return
	case ctx.Err() != nil:
		writeJSON(w, http.StatusAccepted, Accepted{Index: s.index})
		return
	default:
		p.writeError(w, r, err)
		return
	}
	b, err := p.bundle(r.Context(), s.entry.Kind, s.entry.SignerKeyID(), s.leaf, rcpt)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	p.metrics.latency.WithLabelValues("receipt").Observe(time.Since(start).Seconds())
	status := http.StatusCreated
	if s.dup {
		status = http.StatusOK
	}
	writeJSON(w, status, b)
}

// readBody reads a request body up to the configured limit.
func (p *Personality) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%w: limit is %d bytes", errBodyTooLarge, p.cfg.MaxBodyBytes)
		}
		return nil, fmt.Errorf("%w: reading body: %v", client.ErrMalformedJSON, err)
	}
	return body, nil
}

func (p *Personality) handleLookup(w http.ResponseWriter, r *http.Request) {
	body, err := p.readBody(w, r)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	e, err := client.ParseEntry(body)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	leaf, err := e.Leaf().Marshal()
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	idx, found, err := p.cfg.Log.Lookup(r.Context(), leaf)
	switch {
	case err != nil:
		p.writeError(w, r, err)
	case !found:
		p.writeError(w, r, fmt.Errorf("%w: the log holds no such entry", vlog.ErrNotFound))
	default:
		writeJSON(w, http.StatusOK, Accepted{Index: idx})
	}
}

func (p *Personality) handleGetEntry(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		p.writeError(w, r, errInvalidIndex)
		return
	}
	cp, err := p.cfg.Log.Checkpoint(r.Context())
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	rcpt, leaf, err := p.cfg.Log.ProveUnder(r.Context(), idx, cp)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	l, err := client.ParseLeaf(leaf)
	if err != nil {
		p.writeError(w, r, fmt.Errorf("decoding entry %d from the log: %v", idx, err))
		return
	}
	b, err := p.bundle(r.Context(), l.Kind, l.Signature.KeyID, leaf, rcpt)
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (p *Personality) handleGetBlob(w http.ResponseWriter, r *http.Request) {
	b, err := p.cfg.Blobs.Get(r.Context(), r.PathValue("digest"))
	if err != nil {
		p.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", client.PayloadTypeInToto)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}
