// Command ceiling is the upper bound the API benchmarks compare Roster
// with: a bare net/http server that answers each configured path with fixed
// JSON bytes (Roster's own answers, captured by the harness) and does no
// other work — no parameters, no session, no database, no log — on an
// http.Server with roster serve's timeouts and header limit. A route may
// name another content type, for the static-file floor: a stored avatar's
// bytes with an avatar's headers, from memory.
//
//	ceiling -addr 127.0.0.1:0 /v2/employee/read=read.json /v2/employee/list=list.json
//	ceiling /v2/static/employee/avatars/x.jpg=x.jpg=image/jpeg
//	ceiling /r128.webp=r.webp=image/webp=r.headers
//
// A fourth part names a file of "Name: value" lines (Roster's own answer's
// headers, captured by the harness), sent instead of the avatar headers.
//
// It prints "listening on http://ADDR" once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"strings"

	"roster/internal/httpserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	pprofAddr := flag.String("pprof-addr", "", "serve net/http/pprof on this address too, to compare profiles with Roster's")
	flag.Parse()
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			os.Exit(1)
		}
		fmt.Printf("pprof on http://%s\n", ln.Addr())
		go http.Serve(ln, nil) // the default mux, where net/http/pprof registers
	}
	if err := run(*addr, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(addr string, routes []string) error {
	mux := http.NewServeMux()
	for _, r := range routes {
		path, file, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("route %q: want /path=file[=content-type]", r)
		}
		file, ctype, static := strings.Cut(file, "=")
		ctype, headerFile, exact := strings.Cut(ctype, "=")
		body, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		// The same headers Roster sends with a JSON answer, or with an avatar.
		header := http.Header{
			"Content-Type":           {"application/json; charset=utf-8"},
			"Cache-Control":          {"no-store"},
			"X-Content-Type-Options": {"nosniff"},
			"Content-Length":         {strconv.Itoa(len(body))},
		}
		if static {
			header["Content-Type"] = []string{ctype}
			header["Cache-Control"] = []string{"public, max-age=31536000, immutable"}
			header["Content-Security-Policy"] = []string{"default-src 'none'; sandbox"}
		}
		if exact {
			if header, err = readHeader(headerFile); err != nil {
				return err
			}
			header.Set("Content-Type", ctype)
			header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k, v := range header {
				h[k] = v
			}
			io.Copy(io.Discard, r.Body) // a POSTed body is read, as Roster reads it
			w.Write(body)
		})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	// net/http as roster serve configures it: a server that strangers reach
	// needs its timeouts (each request re-arms the read and write deadlines),
	// so what a comparison measures is what Roster's handler adds.
	return httpserver.New(mux, nil).Serve(ln)
}

// readHeader reads a file of "Name: value" lines.
func readHeader(file string) (http.Header, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not Name: value", file, line)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h, nil
}
