// Command ceiling is the upper bound the API benchmarks compare Roster
// with: a bare net/http server that answers each configured path with fixed
// JSON bytes (Roster's own answers, captured by the harness) and does no
// other work — no parameters, no session, no database, no log.
//
//	ceiling -addr 127.0.0.1:0 /v2/employee/read=read.json /v2/employee/list=list.json
//
// It prints "listening on http://ADDR" once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
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
			return fmt.Errorf("route %q: want /path=file", r)
		}
		body, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		length := strconv.Itoa(len(body))
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			// The same headers Roster sends with a JSON answer.
			h := w.Header()
			h["Content-Type"] = []string{"application/json; charset=utf-8"}
			h["Cache-Control"] = []string{"no-store"}
			h["X-Content-Type-Options"] = []string{"nosniff"}
			h["Content-Length"] = []string{length}
			io.Copy(io.Discard, r.Body) // a POSTed body is read, as Roster reads it
			w.Write(body)
		})
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.Serve(ln)
}
