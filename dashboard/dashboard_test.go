package dashboard

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandlerServesAssets checks each file's content type and headers, and
// that nothing but the dashboard's own paths is answered.
func TestHandlerServesAssets(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/":                      "text/html; charset=utf-8",
		"/dashboard/app.js":      "text/javascript; charset=utf-8",
		"/dashboard/style.css":   "text/css; charset=utf-8",
		"/dashboard/favicon.svg": "image/svg+xml",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: HTTP %d", path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Content-Type"); got != want {
			t.Errorf("GET %s: Content-Type %q, want %q", path, got, want)
		}
		if rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, rec.Header())
		}
		if rec.Body.Len() == 0 {
			t.Errorf("GET %s: empty body", path)
		}
		// A revalidation with the ETag gets 304.
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
		rec2 := httptest.NewRecorder()
		h.ServeHTTP(rec2, req)
		if rec2.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: HTTP %d, want 304", path, rec2.Code)
		}
	}
	for _, path := range []string{"/index.html", "/dashboard/", "/dashboard/index.html", "/app.js", "/v1/elections", "/dashboard/../go.mod"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404", path, rec.Code)
		}
	}
}

// TestNoExternalURLs checks that the page loads nothing from elsewhere: no
// URL with a scheme or a host in any embedded file (the SVG namespace name
// aside, which is never fetched), and every src and href of the page a
// path on this origin.
func TestNoExternalURLs(t *testing.T) {
	urlRE := regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>)]*`)
	protoRel := regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*["']//|url\(\s*["']?//|@import`)
	allowed := map[string]bool{"http://www.w3.org/2000/svg": true}
	n := 0
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		for _, u := range urlRE.FindAllString(string(b), -1) {
			if !allowed[u] {
				t.Errorf("%s names an external URL: %s", path, u)
			}
		}
		if m := protoRel.FindString(string(b)); m != "" {
			t.Errorf("%s loads from another host or imports: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("%d embedded files, %d served: serve or remove the others", n, len(files))
	}
	page, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(string(page), -1)
	if len(refs) < 3 {
		t.Fatalf("the page has %d references, want its script, style sheet and icon", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "#") {
			continue
		}
		if _, ok := files[ref]; !ok && ref != "/" {
			t.Errorf("the page refers to %q, which the handler does not serve", ref)
		}
	}
}
