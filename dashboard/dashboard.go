// Package dashboard is the ledger's web page for people following a count:
// per contest, the live totals, shares, reporting progress and status; a
// feed of corrections and retractions with what each changed; a chart of
// each choice's share over time, with the entries where the lead changed
// and where a share crossed the 50% line ([Turn]); and the latest signed
// checkpoint with what the browser itself verified of it. A failed check
// takes over the page. docs/dashboard.md describes the page.
//
// For most uses, mount [Handler] at "GET /{$}" and "GET /dashboard/", and
// [Series] at "GET /v1/elections/{election}/series", as package api does.
//
// The page is one HTML file, one script and one style sheet, embedded in
// the binary: no framework, no build step, nothing fetched from elsewhere.
// It reads only the ledger's public HTTP API, so it shows nothing an API
// client could not see.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed assets
var assets embed.FS

// The files the handler serves, by URL path, and their types.
var files = map[string]struct{ name, contentType string }{
	"/":                      {"index.html", "text/html; charset=utf-8"},
	"/dashboard/app.js":      {"app.js", "text/javascript; charset=utf-8"},
	"/dashboard/style.css":   {"style.css", "text/css; charset=utf-8"},
	"/dashboard/favicon.svg": {"favicon.svg", "image/svg+xml"},
}

// ContentSecurityPolicy is sent with every file: the page may load and
// connect to its own origin only, and runs no inline script.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type file struct {
	data        []byte
	contentType string
	etag        string
}

// Handler serves the dashboard: the page at "/" and its script, style
// sheet and icon under "/dashboard/". Any other path is 404, so mounting
// it on more paths than those never hides an API route.
func Handler() http.Handler {
	served := make(map[string]file, len(files))
	for p, f := range files {
		data, err := fs.ReadFile(assets, path.Join("assets", f.name))
		if err != nil {
			panic(fmt.Sprintf("dashboard: embedded file %s is missing: %v", f.name, err)) // a build error
		}
		sum := sha256.Sum256(data)
		served[p] = file{data, f.contentType, `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidate every time: a new binary serves a new page.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	})
}
