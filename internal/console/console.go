// Package console is Roster's web console: the employee module in the
// browser (employees with their avatars, departments, tags, the import
// from a spreadsheet, and for masters sub-users, security groups and API
// keys), as static files (vanilla HTML, CSS and JavaScript, no build
// step, nothing fetched from elsewhere) that use only the public API.
package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed static
var files embed.FS

// csp lets the console load only its own files, call only its own server,
// and show pictures from it (and blob: previews of a chosen file).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console under /console/, calling the API at apiBase
// (the server's base path), and its icon at /favicon.ico.
func Handler(apiBase string) http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	page := template.Must(template.ParseFS(static, "index.html"))
	var index bytes.Buffer
	if err := page.Execute(&index, struct{ API string }{apiBase}); err != nil {
		panic(err)
	}
	fileServer := http.StripPrefix("/console/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Files change with the binary: revalidate, never serve stale.
		h.Set("Cache-Control", "no-cache")
		switch r.URL.Path {
		case "/console":
			http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
		case "/favicon.ico":
			// Browsers ask the site's root for an icon whatever the page
			// says: the console's own, which they read by its content.
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/console/favicon.svg"
			fileServer.ServeHTTP(w, r2)
		case "/console/", "/console/index.html":
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index.Bytes()))
		default:
			fileServer.ServeHTTP(w, r)
		}
	})
}
