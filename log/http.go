package log

import (
	"errors"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/transparency-dev/tessera/api/layout"
)

// Cache-Control values of the tlog-tiles read API: full tiles and bundles
// never change; partial ones are replaced as the tree grows; the checkpoint
// changes with every publication.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=5"
	cacheCheckpoint = "no-cache"
)

// Handler serves the C2SP tlog-tiles read API from the log's storage:
//
//	GET /checkpoint
//	GET /tile/<L>/<N>[.p/<W>]
//	GET /tile/entries/<N>[.p/<W>]
//
// Reading through Tessera's LogReader rather than the file system keeps the
// handler the same on every storage backend, and never exposes .state.
func (l *Log) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := l.reader.ReadCheckpoint(r.Context())
		l.serve(w, r, cp, err, "text/plain; charset=utf-8", cacheCheckpoint)
	})
	mux.HandleFunc("GET /tile/entries/{path...}", func(w http.ResponseWriter, r *http.Request) {
		idx, p, err := layout.ParseTileIndexPartial(r.PathValue("path"))
		if err != nil {
			http.Error(w, "malformed entry bundle path", http.StatusBadRequest)
			return
		}
		b, err := l.reader.ReadEntryBundle(r.Context(), idx, p)
		l.serve(w, r, b, err, "application/octet-stream", cacheFor(p))
	})
	mux.HandleFunc("GET /tile/{level}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		level, idx, p, err := layout.ParseTileLevelIndexPartial(r.PathValue("level"), r.PathValue("path"))
		if err != nil {
			http.Error(w, "malformed tile path", http.StatusBadRequest)
			return
		}
		b, err := l.reader.ReadTile(r.Context(), level, idx, p)
		l.serve(w, r, b, err, "application/octet-stream", cacheFor(p))
	})
	return mux
}

func cacheFor(partial uint8) string {
	if partial == 0 {
		return cacheImmutable
	}
	return cachePartial
}

func (l *Log) serve(w http.ResponseWriter, r *http.Request, b []byte, err error, contentType, cache string) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		l.logger.WarnContext(r.Context(), "reading from storage", "path", r.URL.Path, "err", err)
		http.Error(w, "storage error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
