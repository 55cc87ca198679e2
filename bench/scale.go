package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"roster/internal/roster"
)

// seeded is what bench/seed prints.
type seeded struct {
	BigAccount   int64   `json:"big_account"`
	SmallAccount int64   `json:"small_account"`
	BigIDs       []int64 `json:"big_ids"`
	SmallID      int64   `json:"small_id"`
	Employees    int     `json:"employees"`
	Seconds      float64 `json:"seconds"`
}

// scaleSection measures reads and pages in an account of many employees,
// among many accounts, on SQLite and PostgreSQL side by side.
func scaleSection(ctx context.Context, cfg *config, rep *report) error {
	keyBig, keySmall := randomKey(), randomKey()
	seed := func(db string, extra ...string) (seeded, error) {
		args := append([]string{"-db", db, "-big", fmt.Sprint(cfg.big), "-accounts", fmt.Sprint(cfg.accounts),
			"-per", "3", "-key-big", keyBig, "-key-small", keySmall}, extra...)
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(cfg.bin, "seed"), args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		var s seeded
		if err := cmd.Run(); err != nil {
			return s, fmt.Errorf("seed: %v: %s", err, errb.String())
		}
		err := json.Unmarshal(out.Bytes(), &s)
		return s, err
	}

	type backend struct {
		name string
		db   string
		s    seeded
		srv  *server
	}
	var backends []*backend
	sqliteDir := filepath.Join(cfg.work, "scale-sqlite")
	backends = append(backends, &backend{name: "SQLite", db: "sqlite:" + filepath.Join(sqliteDir, "roster.db")})
	if cfg.pg != "" {
		schema := fmt.Sprintf("roster_bench_%d_%d", os.Getpid(), time.Now().Unix())
		sep := "?"
		if strings.Contains(cfg.pg, "?") {
			sep = "&"
		}
		b := &backend{name: "PostgreSQL", db: cfg.pg + sep + "search_path=" + schema}
		defer func() {
			if len(backends) < 2 {
				return // never made
			}
			if out, err := exec.Command(filepath.Join(cfg.bin, "seed"), "-db", cfg.pg, "-drop-schema", schema).CombinedOutput(); err != nil {
				logf("  dropping schema %s: %v: %s", schema, err, out)
			}
		}()
		backends = append(backends, b)
		logf("  PostgreSQL schema %s (dropped at the end)", schema)
		// The seeder creates the schema before migrating into it.
		s, err := seed(b.db, "-create-schema", schema)
		if err != nil {
			// No PostgreSQL here: measure SQLite alone and say so.
			logf("  PostgreSQL unavailable, SQLite only: %v", err)
			rep.note("scale: PostgreSQL at %s was unavailable (%v); SQLite only", redactURL(cfg.pg), firstLine(err.Error()))
			backends = backends[:1]
		} else {
			b.s = s
		}
	}
	s, err := seed(backends[0].db)
	if err != nil {
		return err
	}
	backends[0].s = s
	for _, b := range backends {
		logf("  %s: seeded %d employees in %d+1 accounts in %.1f s", b.name, b.s.Employees, cfg.accounts, b.s.Seconds)
		b.srv, err = startRoster(ctx, cfg, "roster-scale-"+strings.ToLower(b.name), filepath.Join(cfg.work, "scale-"+strings.ToLower(b.name)), b.db)
		if err != nil {
			return err
		}
		defer b.srv.stop()
	}

	type query struct {
		name  string
		short string
		path  func(s seeded) string
		small bool
	}
	page := func(offset int) func(s seeded) string {
		return func(s seeded) string {
			return "/v2/employee/list?" + url.Values{"hash": {keyBig}, "limit": {"50"}, "offset": {fmt.Sprint(offset)}}.Encode()
		}
	}
	queries := []query{
		{"employee/read, big account", "read-big", func(s seeded) string {
			return "/v2/employee/read?" + url.Values{"hash": {keyBig}, "employee_id": {fmt.Sprint(s.BigIDs[1])}}.Encode()
		}, false},
		{"employee/list limit=50 offset=0, big account", "list-first", page(0), false},
		{fmt.Sprintf("employee/list limit=50 offset=%d, big account", cfg.big/2), "list-middle", page(cfg.big / 2), false},
		{fmt.Sprintf("employee/list limit=50 offset=%d, big account", cfg.big-50), "list-last", page(cfg.big - 50), false},
		{"employee/read, small account", "read-small", func(s seeded) string {
			return "/v2/employee/read?" + url.Values{"hash": {keySmall}, "employee_id": {fmt.Sprint(s.SmallID)}}.Encode()
		}, true},
		{"employee/list, small account (3 employees)", "list-small", func(s seeded) string {
			return "/v2/employee/list?" + url.Values{"hash": {keySmall}}.Encode()
		}, true},
	}
	d := max(2*time.Second, cfg.duration/2)
	const conns = 8
	results := map[string][]runs{} // backend → results per query, for the penalties below
	for _, q := range queries {
		var loads []load
		for _, b := range backends {
			u := b.srv.url + q.path(b.s)
			if _, _, err := get(u); err != nil {
				return fmt.Errorf("%s on %s: %w", q.name, b.name, err)
			}
			loads = append(loads, load{url: u, conns: conns, pid: b.srv.cmd.Process.Pid, pprof: b.srv.pprof,
				profile: filepath.Join(cfg.out, "scale-"+strings.ToLower(b.name)+"-"+q.short+".cpu.pprof")})
		}
		if len(loads) == 1 {
			loads = append(loads, loads[0]) // SQLite alone: compared with itself, to keep one code path
			loads[1].pprof = ""
		}
		p, err := alternateNamed(ctx, cfg, q.name, []string{"sqlite", "postgres"}, loads, d)
		if err != nil {
			return err
		}
		rep.raw["scale "+q.name] = p.results
		for i, b := range backends {
			results[b.name] = append(results[b.name], runs{results: [][]wrkResult{p.results[i]}})
		}
		desc := fmt.Sprintf("%s (%d employees in the big account, %d accounts, %d connections): SQLite ÷ PostgreSQL requests/s",
			q.name, cfg.big, cfg.accounts+1, conns)
		r := row{Section: "scale", Measure: desc,
			Roster: fmt.Sprintf("SQLite %s, p50 %s, p99 %s, %s", reqs(median(p.side(0, rps))), ms(median(p.side(0, p50))),
				ms(median(p.side(0, p99))), cpuPerReq(median(p.side(0, perCPU)))),
			Baseline: fmt.Sprintf("PostgreSQL %s, p50 %s, p99 %s, %s (server only)", reqs(median(p.side(1, rps))), ms(median(p.side(1, p50))),
				ms(median(p.side(1, p99))), cpuPerReq(median(p.side(1, perCPU)))),
			Value: median(p.ratios(rps)), Rounds: p.ratios(rps)}
		if len(backends) == 1 {
			// Nothing to compare with: the median latency instead.
			r.Measure = strings.Replace(desc, "SQLite ÷ PostgreSQL requests/s", "SQLite p50 latency", 1)
			r.Baseline = "PostgreSQL skipped"
			r.Value, r.Unit, r.Rounds = median(p.side(0, p50))/1e3, "ms", nil
		}
		rep.add(r)
	}
	// How much the size of the account costs, per database: the deepest
	// page against the first, and a read in the big account against one in
	// a small account. These runs were minutes apart, not side by side, so
	// SQLite's are compared by Roster's CPU per request, which the rest of
	// the machine disturbs far less; PostgreSQL's work is not in Roster's
	// CPU, so its rows compare requests/s and are rougher.
	for _, b := range backends {
		res := results[b.name]
		f, unit := perCPU, cpuPerReq
		what := "requests per CPU-second of Roster"
		if b.name != "SQLite" {
			f, unit, what = rps, reqs, "requests/s (runs minutes apart)"
		}
		first, deepest := median(res[1].side(0, f)), median(res[3].side(0, f))
		bigRead, smallRead := median(res[0].side(0, f)), median(res[4].side(0, f))
		rep.add(row{Section: "scale", Measure: fmt.Sprintf("%s: last page (offset %d) ÷ first page, %s", b.name, cfg.big-50, what),
			Roster: unit(deepest), Baseline: unit(first), Value: deepest / first})
		rep.add(row{Section: "scale", Measure: fmt.Sprintf("%s: read in the %d-employee account ÷ read in a 3-employee account, %s", b.name, cfg.big, what),
			Roster: unit(bigRead), Baseline: unit(smallRead), Value: bigRead / smallRead})
	}
	var targets []sortTarget
	for _, b := range backends {
		targets = append(targets, sortTarget{b.name, b.srv})
	}
	return sortCosts(ctx, cfg, rep, keyBig, targets)
}

// redactURL drops a password from a database URL before it is shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sortTarget is one database's server for sortCosts.
type sortTarget struct {
	name string
	srv  *server
}

// selectiveFilter matches 10 employees of a big account of n (first names
// Emp054320 to Emp054329 for 100,000, with their e-mail addresses and
// personnel numbers), in capitals: the filter folds case.
func selectiveFilter(n int) string { return fmt.Sprintf("EMP%05d", (n/2+4321)/10) }

// sortCosts measures, on each database, employee/list in the big account
// sorted by every key Roster accepts, each way, and with a selective
// filter, each against the plain first page (limit 50, no sort, no filter)
// in alternation on the same server: the cost of a request as a ratio to
// the plain page's. SQLite's ratio is Roster's CPU per request (the
// database runs inside it); PostgreSQL's is the plain page's requests/s
// over the other's, since the database's work is not in Roster's CPU.
func sortCosts(ctx context.Context, cfg *config, rep *report, key string, targets []sortTarget) error {
	list := func(extra url.Values) string {
		v := url.Values{"hash": {key}, "limit": {"50"}}
		for k, x := range extra {
			v[k] = x
		}
		return "/v2/employee/list?" + v.Encode()
	}
	type query struct{ name, path string }
	var queries []query
	for _, field := range slices.Sorted(maps.Keys(roster.EmployeeSortFields)) {
		for _, dir := range []string{"asc", "desc"} {
			queries = append(queries, query{"sort " + field + "=" + dir,
				list(url.Values{"sort": {`["` + field + "=" + dir + `"]`}})})
		}
	}
	filter := selectiveFilter(cfg.big)
	queries = append(queries, query{"filter " + filter + " (10 match)", list(url.Values{"filter": {filter}})})
	plain := list(nil)
	d := max(2*time.Second, cfg.duration/3)
	const conns = 8
	for _, t := range targets {
		// The filter must be as selective as it says.
		if body, _, err := get(t.srv.url + list(url.Values{"filter": {filter}})); err != nil {
			return err
		} else if n := countOf(body); n != 10 {
			return fmt.Errorf("%s: filter %s matches %d employees, want 10", t.name, filter, n)
		}
		for _, q := range queries {
			l := func(path string) load {
				return load{url: t.srv.url + path, conns: conns, pid: t.srv.cmd.Process.Pid}
			}
			name := t.name + " " + q.name
			p, err := alternateNamed(ctx, cfg, name, []string{"plain", "this"}, []load{l(plain), l(q.path)}, d)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rep.raw["scale "+name] = p.results
			var ratios []float64
			for i := range p.results[0] {
				a, b := p.results[0][i], p.results[1][i]
				if t.name == "SQLite" {
					ratios = append(ratios, perCPU(a)/perCPU(b))
				} else {
					ratios = append(ratios, a.rps()/b.rps())
				}
			}
			what := "CPU per request of Roster"
			if t.name != "SQLite" {
				what = "time per request (requests/s of the plain page ÷ this one's)"
			}
			rep.add(row{Section: "scale",
				Measure: fmt.Sprintf("%s: employee/list limit=50 %s ÷ the plain first page, %d-employee account, %d connections: %s",
					t.name, q.name, cfg.big, conns, what),
				Roster:   fmt.Sprintf("%s, %s, p50 %s", reqs(median(p.side(1, rps))), cpuPerReq(median(p.side(1, perCPU))), ms(median(p.side(1, p50)))),
				Baseline: fmt.Sprintf("plain %s, %s, p50 %s", reqs(median(p.side(0, rps))), cpuPerReq(median(p.side(0, perCPU))), ms(median(p.side(0, p50)))),
				Value:    median(ratios), Rounds: ratios, Target: 3, Lower: true})
		}
	}
	return nil
}

// countOf is the count of an employee/list answer, or -1.
func countOf(body []byte) int {
	var a struct {
		Count *int `json:"count"`
	}
	if json.Unmarshal(body, &a) != nil || a.Count == nil {
		return -1
	}
	return *a.Count
}
