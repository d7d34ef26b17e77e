package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// APIError is a refusal from a vigil log's API: the HTTP status and the
// {"error", "detail"} body.
type APIError struct {
	Status int
	Code   string `json:"error"`
	Detail string `json:"detail"`
	// RetryAfter is the server's Retry-After on a 503, zero otherwise.
	RetryAfter time.Duration
}

// Error describes the refusal, with its status and code.
func (e *APIError) Error() string {
	return fmt.Sprintf("log refused (%d %s): %s", e.Status, e.Code, e.Detail)
}

// Is makes a 404 answer match fs.ErrNotExist.
func (e *APIError) Is(target error) bool {
	return target == fs.ErrNotExist && e.Status == http.StatusNotFound
}

// Submission is the log's answer to an accepted submission.
type Submission struct {
	// Index is the entry's log index.
	Index uint64
	// Duplicate is set when the log already held this exact entry.
	Duplicate bool
	// Bundle is the evidence bundle; nil when the log answered 202 (the
	// entry is sequenced but no checkpoint covers it yet).
	Bundle *Bundle
	// Raw is the response body.
	Raw []byte
}

// LogClient talks to a vigil log's HTTP API.
type LogClient struct {
	// URL is the log's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

func (c *LogClient) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *LogClient) url(path string) string { return strings.TrimSuffix(c.URL, "/") + path }

// Submit posts a DSSE envelope (JSON). With wait, the log answers once a
// checkpoint includes the entry, with its bundle; without, at once with the
// index. A refusal is an *APIError.
func (c *LogClient) Submit(ctx context.Context, envelopeJSON []byte, wait bool) (*Submission, error) {
	u := c.url("/v1/entries")
	if !wait {
		u += "?wait=false"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(envelopeJSON))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	body, resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	s := &Submission{Raw: body, Duplicate: resp.Header.Get("Vigil-Duplicate") == "true"}
	switch resp.StatusCode {
	case http.StatusAccepted:
		var a struct {
			Index uint64 `json:"index"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, fmt.Errorf("decoding 202 answer: %w", err)
		}
		s.Index = a.Index
		return s, nil
	case http.StatusOK, http.StatusCreated:
		if s.Bundle, err = ParseBundle(body); err != nil {
			return nil, fmt.Errorf("decoding the log's bundle: %w", err)
		}
		p, err := ParseTLogProof([]byte(s.Bundle.TLogProof))
		if err != nil {
			return nil, fmt.Errorf("decoding the log's bundle: %w", err)
		}
		s.Index = p.Index
		return s, nil
	}
	return nil, fmt.Errorf("unexpected status %d from the log", resp.StatusCode)
}

// Entry fetches the evidence bundle for the entry at index under the log's
// latest checkpoint.
func (c *LogClient) Entry(ctx context.Context, index uint64) (*Bundle, error) {
	b, err := c.get(ctx, "/v1/entries/"+strconv.FormatUint(index, 10))
	if err != nil {
		return nil, err
	}
	return ParseBundle(b)
}

// Lookup asks the log for the index of an envelope (JSON) it holds,
// without submitting it. The answer is a claim: prove it from tiles. A log
// that does not hold the entry answers an *APIError with status 404.
func (c *LogClient) Lookup(ctx context.Context, envelopeJSON []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/v1/lookup"), bytes.NewReader(envelopeJSON))
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	body, resp, err := c.do(req)
	if err != nil {
		return 0, err
	}
	var a struct {
		Index *uint64 `json:"index"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &a) != nil || a.Index == nil {
		return 0, fmt.Errorf("unexpected answer (status %d) to a lookup", resp.StatusCode)
	}
	return *a.Index, nil
}

// Blob fetches a blob by its hex SHA-256 and checks its digest.
func (c *LogClient) Blob(ctx context.Context, digest string) ([]byte, error) {
	b, err := c.ReadBlob(ctx, digest)
	if err != nil {
		return nil, err
	}
	if sha256Hex(b) != digest {
		return nil, fmt.Errorf("blob %s: the log served content with another digest", digest)
	}
	return b, nil
}

// ReadBlob fetches a blob by its hex SHA-256 without checking the digest,
// for a caller that checks it and records a mismatch as evidence (Audit).
// A blob the log does not have is an error matching fs.ErrNotExist.
func (c *LogClient) ReadBlob(ctx context.Context, digest string) ([]byte, error) {
	return c.get(ctx, "/v1/blobs/sha256/"+digest)
}

func (c *LogClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	body, resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unexpected status %d from the log", resp.StatusCode)
	}
	return body, nil
}

// maxResponse bounds what the client reads from a log: a bundle, or a 16 MiB blob.
const maxResponse = 17 << 20

// do sends req and reads the body; a 4xx or 5xx answer becomes an *APIError.
func (c *LogClient) do(req *http.Request) ([]byte, *http.Response, error) {
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("reading answer to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode >= 400 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(body, ae) != nil || ae.Code == "" {
			ae.Code, ae.Detail = "http_"+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(body))
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			ae.RetryAfter = time.Duration(s) * time.Second
		}
		return nil, resp, ae
	}
	return body, resp, nil
}
