package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// importSection measures employee/import: 100,000 rows (20,000 with
// --quick) from a CSV, from start until the import reports done, against
// the same rows (the same employees, derived columns and all) through a
// plain multi-row INSERT into the store (bench/seed -import-floor: the
// physical floor, no checks, one writer), on SQLite and PostgreSQL. Beside
// it, the most heap the server has in use while it imports a tenth of the
// rows and all of them (sampled from /metrics as the import is polled):
// the import reads the file a batch at a time, so it should not grow with
// the file (the parse collects its garbage, the file and its TSV, before
// it answers).
func importSection(ctx context.Context, cfg *config, rep *report) error {
	n := 100_000
	if cfg.quick {
		n = 20_000
	}
	seed := func(args ...string) ([]byte, error) {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(cfg.bin, "seed"), args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("seed %v: %v: %s", args, err, errb.String())
		}
		return out.Bytes(), nil
	}
	csvs := map[int][]byte{}
	for _, rows := range []int{n / 10, n} {
		b, err := seed("-import-csv", fmt.Sprint(rows))
		if err != nil {
			return err
		}
		csvs[rows] = b
	}
	type backend struct {
		name string
		db   func(tag string) (string, error) // a fresh database
	}
	var schemas []string
	defer func() {
		for _, s := range schemas {
			if _, err := seed("-db", cfg.pg, "-drop-schema", s); err != nil {
				logf("  dropping schema %s: %v", s, err)
			}
		}
	}()
	backends := []backend{{"SQLite", func(tag string) (string, error) {
		return "sqlite:" + filepath.Join(cfg.work, "import-"+tag, "roster.db"), nil
	}}}
	if cfg.pg != "" {
		backends = append(backends, backend{"PostgreSQL", func(tag string) (string, error) {
			schema := fmt.Sprintf("roster_import_%d_%s", os.Getpid(), strings.ReplaceAll(tag, "-", "_"))
			sep := "?"
			if strings.Contains(cfg.pg, "?") {
				sep = "&"
			}
			db := cfg.pg + sep + "search_path=" + schema
			if _, err := seed("-db", db, "-create-schema", schema, "-migrate-only"); err != nil {
				return "", err
			}
			schemas = append(schemas, schema)
			return db, nil
		}})
	}
	for _, b := range backends {
		// floor times the same rows by plain multi-row INSERT into a
		// fresh database.
		floor := func(tag string) (float64, error) {
			db, err := b.db(tag)
			if err != nil {
				return 0, err
			}
			if strings.HasPrefix(db, "sqlite:") {
				os.MkdirAll(filepath.Dir(strings.TrimPrefix(db, "sqlite:")), 0o755)
			}
			out, err := seed("-db", db, "-import-floor", fmt.Sprint(n))
			if err != nil {
				return 0, err
			}
			var f struct{ Seconds float64 }
			err = json.Unmarshal(out, &f)
			return f.Seconds, err
		}
		// Each round times the floor and imports both sizes, into fresh
		// databases: times move with the machine, and the heap's peak with
		// when the collector ran, so one run is noise (1.14–1.31× on
		// PostgreSQL in three single runs); the medians are reported.
		var floors, imports, times, small, large, heapRatios []float64
		for round := range cfg.rounds {
			secs, err := floor(fmt.Sprintf("floor-%s-r%d", strings.ToLower(b.name), round))
			if err != nil {
				if round == 0 && b.name == "PostgreSQL" {
					logf("  PostgreSQL unavailable, SQLite only: %v", err)
					rep.note("import: PostgreSQL was not reachable; SQLite only")
					break
				}
				return err
			}
			floors = append(floors, secs)
			logf("  %s round %d: floor (multi-row INSERT) %.2fs", b.name, round+1, secs)
			heaps := map[int]int64{}
			for _, rows := range []int{n / 10, n} {
				tag := fmt.Sprintf("%s-%d-r%d", strings.ToLower(b.name), rows, round)
				db, err := b.db(tag)
				if err != nil {
					return err
				}
				took, heap, err := timeImport(ctx, cfg, tag, db, csvs[rows])
				if err != nil {
					return fmt.Errorf("%s, %d rows: %w", b.name, rows, err)
				}
				heaps[rows] = heap
				if rows == n {
					imports = append(imports, took)
					times = append(times, took/secs)
				}
				logf("  %s round %d: %d rows imported in %.2fs, at most %.1f MiB of heap in use meanwhile", b.name, round+1, rows, took, float64(heap)/(1<<20))
			}
			small, large = append(small, float64(heaps[n/10])), append(large, float64(heaps[n]))
			heapRatios = append(heapRatios, float64(heaps[n])/float64(heaps[n/10]))
		}
		if len(floors) == 0 {
			continue
		}
		rep.add(row{Section: "import", Measure: fmt.Sprintf("%s: %d-row CSV import, start to done ÷ the same rows by plain multi-row INSERT", b.name, n),
			Roster: fmt.Sprintf("%.2f s", median(imports)), Baseline: fmt.Sprintf("%.2f s", median(floors)),
			Value: median(times), Rounds: times, Target: 3, Lower: true})
		rep.add(row{Section: "import", Measure: fmt.Sprintf("%s: most heap in use while importing %d rows ÷ while importing %d (medians of the rounds)", b.name, n, n/10),
			Roster: fmt.Sprintf("%.1f MiB", median(large)/(1<<20)), Baseline: fmt.Sprintf("%.1f MiB", median(small)/(1<<20)),
			Value: median(heapRatios), Rounds: heapRatios, Target: 1.25, Lower: true})
	}
	return nil
}

// timeImport starts a server on db, parses the CSV, resets the server's
// peak memory, starts the import and waits until it is done: the seconds
// from start to done and the most heap in use over the second half of
// the rows, as /metrics reports it at each poll.
func timeImport(ctx context.Context, cfg *config, tag, db string, data []byte) (float64, int64, error) {
	rows := bytes.Count(data, []byte("\n")) - 1
	dir := filepath.Join(cfg.work, "import-srv-"+tag)
	rs, err := startRoster(ctx, cfg, "import-"+tag, dir, db)
	if err != nil {
		return 0, 0, err
	}
	defer rs.stop()
	c := newClient(rs.url)
	if err := c.signIn(); err != nil {
		return 0, 0, err
	}
	file, err := c.parseSheet(data)
	if err != nil {
		return 0, 0, err
	}
	header, _, _ := bytes.Cut(data, []byte("\n"))
	headers, _ := json.Marshal(strings.Split(string(header), ","))
	start := time.Now()
	var heap int64
	b, err := c.call("employee/import/start", url.Values{"filename": {file}, "headers": {string(headers)}})
	if err != nil {
		return 0, 0, err
	}
	var started struct{ ID int64 }
	if err := json.Unmarshal(b, &started); err != nil {
		return 0, 0, err
	}
	for {
		h, err := heapInUse(rs.url)
		if err != nil {
			return 0, 0, err
		}
		b, err := c.call("employee/import/read", url.Values{"process_id": {fmt.Sprint(started.ID)}})
		if err != nil {
			return 0, 0, err
		}
		var v struct {
			Value struct {
				Status   string
				Progress struct {
					Imported, Failed int
					Processed        int `json:"processed_lines"`
				}
			}
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return 0, 0, err
		}
		// Over the second half of the rows: before, the heap may still
		// hold the garbage of the sign-in (argon2id's 19 MiB) and of the
		// parse, until the first collection after them.
		if 2*v.Value.Progress.Processed >= rows {
			heap = max(heap, h)
		}
		if v.Value.Status == "done" {
			secs := time.Since(start).Seconds()
			if v.Value.Progress.Failed > 0 {
				return 0, 0, fmt.Errorf("%d rows failed: %s", v.Value.Progress.Failed, b)
			}
			return secs, heap, nil
		}
		if time.Since(start) > 10*time.Minute || ctx.Err() != nil {
			return 0, 0, fmt.Errorf("import not done: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heapInUse reads go_memstats_heap_inuse_bytes from the server's /metrics.
func heapInUse(base string) (int64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_heap_inuse_bytes "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("no go_memstats_heap_inuse_bytes in /metrics: %v", sc.Err())
}

// parseSheet uploads a CSV with a header row to data/spreadsheet/parse
// and gives its file_id.
func (c *client) parseSheet(data []byte) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("hash", c.hash)
	mw.WriteField("parse_header", "true")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="people.csv"`)
	h.Set("Content-Type", "text/csv")
	w, _ := mw.CreatePart(h)
	w.Write(data)
	mw.Close()
	resp, err := c.http.Post(c.base+"/data/spreadsheet/parse", mw.FormDataContentType(), &buf)
	if err != nil {
		return "", err
	}
	b, err := answer("data/spreadsheet/parse", resp)
	if err != nil {
		return "", err
	}
	var v struct {
		FileID string `json:"file_id"`
	}
	err = json.Unmarshal(b, &v)
	return v.FileID, err
}
