package fire

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"time"
)

// importSheet is a CSV of n rows, written by encoding/csv: every row an
// employee with a hardware key and a personnel number of its own, except
// every bad-th, whose e-mail address is not one.
func importSheet(t testing.TB, n, bad int) (data []byte, valid int) {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"First", "Last", "Email", "Key", "Number"})
	for i := 1; i <= n; i++ {
		email := fmt.Sprintf("p%d@example.com", i)
		if i%bad == 0 {
			email = "nobody"
		} else {
			valid++
		}
		w.Write([]string{fmt.Sprintf("First%d", i), "Last", email, fmt.Sprintf("HK-%d", i), fmt.Sprint(i)})
	}
	w.Flush()
	return buf.Bytes(), valid
}

var importHeaders = []string{"first_name", "last_name", "email", "hardware_key", "personnel_number"}

// parseSheet uploads a spreadsheet and gives its file_id.
func (c *client) parseSheet(ctx context.Context, data []byte) (string, error) {
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api+"/data/spreadsheet/parse", &buf)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r, err := c.do(req)
	if err != nil {
		return "", err
	}
	id, _ := r.body["file_id"].(string)
	if r.code() != 0 || id == "" {
		return "", fmt.Errorf("data/spreadsheet/parse = %s", r)
	}
	return id, nil
}

// importState is what the API says of an import and of the account's
// employees after it.
type importState struct {
	status                             string
	imported, failed, processed, count int
	keys                               map[string]int // hardware key → employees holding it
	failedRows                         int            // rows in download_failed's file
}

func readImport(ctx context.Context, c *client, id int64) (importState, error) {
	var s importState
	r, err := c.call(ctx, "employee/import/read", map[string]any{"process_id": id})
	if err != nil {
		return s, err
	}
	v, _ := r.body["value"].(map[string]any)
	pr, _ := v["progress"].(map[string]any)
	if v == nil || pr == nil {
		return s, fmt.Errorf("employee/import/read = %s", r)
	}
	s.status, _ = v["status"].(string)
	for _, f := range []struct {
		p   *int
		key string
	}{{&s.imported, "imported"}, {&s.failed, "failed"}, {&s.processed, "processed_lines"}} {
		n, _ := pr[f.key].(float64)
		*f.p = int(n)
	}
	return s, nil
}

// finalState reads a done import, the account's employees and the failed
// rows' file.
func finalState(ctx context.Context, c *client, id int64) (importState, error) {
	s, err := readImport(ctx, c, id)
	if err != nil {
		return s, err
	}
	r, err := c.call(ctx, "employee/list", map[string]any{})
	if err != nil {
		return s, err
	}
	list, _ := r.body["list"].([]any)
	n, _ := r.body["count"].(float64)
	s.count = int(n)
	s.keys = map[string]int{}
	for _, e := range list {
		k, _ := e.(map[string]any)["hardware_key"].(string)
		s.keys[k]++
	}
	f, err := c.call(ctx, "employee/import/download_failed", map[string]any{"process_id": id})
	if err != nil {
		return s, err
	}
	if s.failed > 0 && (f.status != 200 || !strings.HasPrefix(f.header.Get("Content-Type"), "text/tab-separated-values")) {
		return s, fmt.Errorf("download_failed = %s", f)
	}
	if f.status == 200 {
		s.failedRows = strings.Count(string(f.raw), "\n") - 1
	}
	return s, nil
}

// checkImport: the import is done, every valid row of n exists exactly
// once (by its hardware key), nothing else does, and the progress and the
// failed rows' file say so.
func checkImport(s importState, n, valid int) error {
	var problems []string
	if s.status != "done" {
		problems = append(problems, "status "+s.status)
	}
	if s.imported != valid || s.failed != n-valid || s.processed != n {
		problems = append(problems, fmt.Sprintf("progress %d imported, %d failed, %d lines; want %d, %d, %d",
			s.imported, s.failed, s.processed, valid, n-valid, n))
	}
	if s.count != valid || len(s.keys) != valid {
		problems = append(problems, fmt.Sprintf("the account counts %d employees and lists %d keys, want %d", s.count, len(s.keys), valid))
	}
	for k, times := range s.keys {
		if times != 1 {
			problems = append(problems, fmt.Sprintf("hardware key %s held by %d employees", k, times))
			break
		}
	}
	if s.failedRows != n-valid {
		problems = append(problems, fmt.Sprintf("the failed rows' file has %d rows, want %d", s.failedRows, n-valid))
	}
	if len(problems) > 0 {
		return fmt.Errorf("import: %s", strings.Join(problems, "; "))
	}
	return nil
}

// TestImportCrash SIGKILLs the node running an import at random moments,
// again and again, and restarts it: the import completes, every valid row
// exists exactly once, and the progress matches.
func TestImportCrash(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack) {
		ctx := t.Context()
		const rows, bad = 6000, 37
		data, valid := importSheet(t, rows, bad)
		flags := []string{"--import-lease", "500ms", "--import-poll", "50ms", "--import-batch", "100"}
		p := serve(t, st, flags...)
		c := newClient(p.API)
		if err := c.signIn(ctx); err != nil {
			t.Fatal(err)
		}
		file, err := c.parseSheet(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		id := int64(c.must(t, "employee/import/start", map[string]any{"filename": file, "headers": importHeaders}).body["id"].(float64))
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rnd := rand.New(rand.NewPCG(seed, 1))
		kills, resumed := 0, map[int]bool{}
		for ; kills < 30; kills++ {
			time.Sleep(time.Duration(50+rnd.IntN(400)) * time.Millisecond)
			s, err := readImport(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			if s.status == "done" {
				break
			}
			resumed[s.processed] = true
			p.Kill()
			p = serve(t, st, flags...)
			c.api = p.API
		}
		// Minutes, not seconds: a machine running other suites beside this
		// one has been seen to take over two.
		deadline := time.Now().Add(6 * time.Minute)
		var s importState
		for {
			if s, err = readImport(ctx, c, id); err != nil {
				t.Fatal(err)
			}
			if s.status == "done" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d kills the import is %s with %d lines processed, not done\nlog:\n%s", kills, s.status, s.processed, p.Stderr())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s, err = finalState(ctx, c, id); err != nil {
			t.Fatal(err)
		}
		if err := checkImport(s, rows, valid); err != nil {
			t.Errorf("after %d kills: %v\nlog:\n%s", kills, err, p.Stderr())
		}
		if kills < 2 {
			t.Errorf("the import finished after %d kills: too fast to test resuming; give it more rows", kills)
		}
		t.Logf("%s: %d rows imported across %d kills, resumed from %d distinct points", st.name, rows, kills, len(resumed))
	})
}

// TestImportCheckerCatches: checkImport finds a row created twice, a row
// missing, wrong progress and a short failed rows' file.
func TestImportCheckerCatches(t *testing.T) {
	good := importState{status: "done", imported: 2, failed: 1, processed: 3, count: 2, keys: map[string]int{"a": 1, "b": 1}, failedRows: 1}
	if err := checkImport(good, 3, 2); err != nil {
		t.Fatalf("a good import: %v", err)
	}
	for name, broken := range map[string]func(s *importState){
		"twice":       func(s *importState) { s.keys["a"], s.count = 2, 3 },
		"missing":     func(s *importState) { delete(s.keys, "b"); s.count = 1 },
		"progress":    func(s *importState) { s.imported = 3 },
		"failed file": func(s *importState) { s.failedRows = 0 },
		"not done":    func(s *importState) { s.status = "in_progress" },
	} {
		s := good
		s.keys = map[string]int{"a": 1, "b": 1}
		broken(&s)
		if err := checkImport(s, 3, 2); err == nil {
			t.Errorf("%s: checkImport found nothing wrong", name)
		}
	}
}

var claimedLine = regexp.MustCompile(`import claimed.* import=(\d+)`)

// TestImportTwoNodes: on one PostgreSQL, imports started on node A are
// each run by exactly one of the two nodes (claimed once, in either log),
// and both report the same finished progress.
func TestImportTwoNodes(t *testing.T) {
	st := postgresStack(t)
	ctx := t.Context()
	flags := []string{"--import-poll", "20ms", "--import-batch", "200"}
	a := serve(t, st, flags...)
	b := serve(t, st, flags...)
	ca, cb := newClient(a.API), newClient(b.API)
	if err := ca.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	cb.hash = ca.hash
	const rows = 1500
	var ids []int64
	var valid []int
	for i := range 3 {
		data, v := importSheet(t, rows, 11+i)
		// Each sheet has its own keys: one account holds them all.
		data = bytes.ReplaceAll(data, []byte("HK-"), fmt.Appendf(nil, "HK%d-", i))
		file, err := ca.parseSheet(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int64(ca.must(t, "employee/import/start", map[string]any{"filename": file, "headers": importHeaders}).body["id"].(float64)))
		valid = append(valid, v)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, id := range ids {
		for {
			s, err := readImport(ctx, cb, id)
			if err != nil {
				t.Fatal(err)
			}
			if s.status == "done" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	claims := map[string]int{}
	for _, log := range []string{a.Stderr(), b.Stderr()} {
		for _, m := range claimedLine.FindAllStringSubmatch(log, -1) {
			claims[m[1]]++
		}
	}
	total := 0
	for i, id := range ids {
		if n := claims[fmt.Sprint(id)]; n != 1 {
			t.Errorf("import %d claimed %d times, want once", id, n)
		}
		sa, err := readImport(ctx, ca, id)
		if err != nil {
			t.Fatal(err)
		}
		sb, _ := readImport(ctx, cb, id)
		if fmt.Sprint(sa) != fmt.Sprint(sb) {
			t.Errorf("import %d: node A says %+v, node B %+v", id, sa, sb)
		}
		if sa.status != "done" || sa.imported != valid[i] || sa.processed != rows {
			t.Errorf("import %d = %+v, want done with %d imported of %d", id, sa, valid[i], rows)
		}
		total += valid[i]
	}
	r := cb.must(t, "employee/list", map[string]any{"limit": 1})
	if n, _ := r.body["count"].(float64); int(n) != total {
		t.Errorf("the account has %v employees, want %d", n, total)
	}
	t.Logf("claims: %v", claims)
}
