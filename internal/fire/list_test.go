package fire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// The list suite: employee/list without a limit answers the whole account,
// however large. An account of 20,000 employees with long fields (about
// 5 KB each as JSON, some 95 MB a list) is listed by 16 clients at once:
// every answer must be whole and right, the server's memory must not grow
// with the answers, and it must go on answering meanwhile. Clients that
// stop reading such a list must not keep the other calls from the database.

const (
	bigEmployees   = 20_000
	bigListClients = 16
)

// bigEmployee is an employee whose fields are at or near their longest,
// with characters JSON writes as six bytes.
func bigEmployee(i int) roster.Employee {
	tags := make([]int64, 200)
	for j := range tags {
		tags[j] = int64(100_000 + i + j)
	}
	return roster.Employee{
		FirstName:           fmt.Sprintf("%06d", i) + strings.Repeat("<", roster.MaxNameLen-6),
		MiddleName:          strings.Repeat("é", roster.MaxNameLen),
		LastName:            strings.Repeat("🚚", roster.MaxNameLen),
		Email:               fmt.Sprintf("e%06d@", i) + strings.Repeat("x", roster.MaxEmailLen-20) + ".example.com",
		Phone:               fmt.Sprintf("49151%08d", i),
		DriverLicenseNumber: strings.Repeat("D", roster.MaxLicenseLen),
		DriverLicenseCats:   strings.Repeat("C", roster.MaxLicenseLen),
		// Hardware keys are unique in an account.
		HardwareKey:            new(fmt.Sprintf("%06d", i) + strings.Repeat(`"`, roster.MaxHardwareKeyLen-6)),
		DriverLicenseIssueDate: new("2020-02-29"),
		Location: &roster.Location{Lat: 52.5, Lng: 13.4, Address: strings.Repeat("&", roster.MaxAddressLen),
			Radius: roster.MaxRadius},
		PersonnelNumber: fmt.Sprintf("P%06d", i),
		SSN:             strings.Repeat("<", roster.MaxSSNLen),
		Tags:            tags,
	}
}

// seedBig adds n big employees to the admin's account straight into the
// stack's database, in one transaction, and returns their ids in order.
func seedBig(t *testing.T, st stack, n int) []int64 {
	t.Helper()
	ctx := t.Context()
	db, err := sqlstore.Open(ctx, st.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var raw *sql.DB
	if st.sqlite != "" {
		raw, err = sql.Open("sqlite", "file:"+st.sqlite+"?_pragma=busy_timeout(10000)")
	} else {
		raw, err = sql.Open("pgx", st.dbURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var account int64
	if err := raw.QueryRowContext(ctx, `SELECT id FROM users WHERE login = 'admin'`).Scan(&account); err != nil {
		t.Fatal(err)
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var stmt *sql.Stmt
	ids := make([]int64, 0, n)
	for i := range n {
		cols, vals, err := sqlstore.EmployeeRow(bigEmployee(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		if stmt == nil {
			marks := make([]string, len(cols)+1)
			for j := range marks {
				marks[j] = "$" + strconv.Itoa(j+1)
			}
			if stmt, err = tx.PrepareContext(ctx, `INSERT INTO employees (`+strings.Join(cols, ", ")+
				`, account_id) VALUES (`+strings.Join(marks, ", ")+`) RETURNING id`); err != nil {
				t.Fatal(err)
			}
		}
		var id int64
		if err := stmt.QueryRowContext(ctx, append(vals, account)...).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.RecountEmployees(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkList reads a whole employee/list answer and checks it is the list
// of want, in order, with its count: a success, every id once, nothing
// after the end.
func checkList(r io.Reader, want []int64) error {
	dec := json.NewDecoder(r)
	var err error
	expect := func(tok json.Token) {
		if err != nil {
			return
		}
		var got json.Token
		if got, err = dec.Token(); err == nil && got != tok {
			err = fmt.Errorf("token %v, want %v", got, tok)
		}
	}
	expect(json.Delim('{'))
	expect("success")
	expect(true)
	expect("list")
	expect(json.Delim('['))
	if err != nil {
		return fmt.Errorf("the answer does not start as a list: %w", err)
	}
	i := 0
	for dec.More() {
		var e struct {
			ID        *int64 `json:"id"`
			FirstName string `json:"first_name"`
		}
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("employee %d of the list: %w", i, err)
		}
		switch {
		case i >= len(want):
			return fmt.Errorf("more than the %d employees", len(want))
		case e.ID == nil || *e.ID != want[i] || e.FirstName == "":
			return fmt.Errorf("employee %d of the list is %+v, want id %d", i, e, want[i])
		}
		i++
	}
	if i != len(want) {
		return fmt.Errorf("%d employees, want %d", i, len(want))
	}
	expect(json.Delim(']'))
	expect("count")
	if err != nil {
		return fmt.Errorf("the list does not end with its count: %w", err)
	}
	var count int
	if err := dec.Decode(&count); err != nil || count != len(want) {
		return fmt.Errorf("count %d (%v), want %d", count, err, len(want))
	}
	expect(json.Delim('}'))
	if err != nil {
		return fmt.Errorf("the answer does not end after the count: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("something after the answer (%v)", err)
	}
	return nil
}

// listAnswer is one whole list as a client read it.
type listAnswer struct {
	sum     [sha256.Size]byte
	bytes   int64
	retries int // answers of 15 (all stream slots busy) before this one
	check   error
}

// bigList gets the unlimited employee/list, retrying after Retry-After
// while the server answers 15, and hashes the answer; with want it also
// checks it.
func bigList(ctx context.Context, c *client, want []int64) (listAnswer, error) {
	var a listAnswer
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.api+"/employee/list?hash="+c.hash, nil)
		if err != nil {
			return a, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return a, err
		}
		if resp.StatusCode == http.StatusOK {
			h := sha256.New()
			var r io.Reader = resp.Body
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			if want != nil {
				r = io.TeeReader(resp.Body, pw)
				go func() {
					err := checkList(pr, want)
					io.Copy(io.Discard, pr)
					done <- err
				}()
			}
			a.bytes, err = io.Copy(h, r)
			resp.Body.Close()
			pw.CloseWithError(err)
			if want != nil {
				a.check = <-done
			}
			copy(a.sum[:], h.Sum(nil))
			return a, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := reply{status: resp.StatusCode, raw: b}
		json.Unmarshal(b, &r.body)
		if r.code() != 15 {
			return a, fmt.Errorf("employee/list = %s", r)
		}
		a.retries++
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(time.Duration(max(wait, 1)) * time.Second):
		}
	}
}

func TestBigLists(t *testing.T) {
	for _, s := range stacks {
		// One stack at a time: each gets the whole machine.
		t.Run(s.name, func(t *testing.T) { testBigLists(t, s.make(t)) })
	}
}

func testBigLists(t *testing.T, st stack) {
	p := servePlain(t, st)
	start := time.Now()
	ids := seedBig(t, st, bigEmployees)
	t.Logf("%s: %d employees seeded in %v", st.name, len(ids), time.Since(start).Round(time.Millisecond))
	// The bound is the lists', from here: seeding takes what the machine
	// gives it.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	c := newClient(p.API)
	c.http.Timeout = 0 // the context bounds the lists
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := p.VM("VmHWM")

	// /healthz is called throughout, and must answer within a second.
	stopHealth := healthWatch(p.Base)

	start = time.Now()
	answers := make([]listAnswer, bigListClients)
	errs := make([]error, bigListClients)
	var lists sync.WaitGroup
	for i := range bigListClients {
		lists.Go(func() {
			var want []int64
			if i == 0 {
				want = ids // one answer is checked whole; the others must be the same bytes
			}
			answers[i], errs[i] = bigList(ctx, c, want)
		})
	}
	lists.Wait()
	elapsed := time.Since(start)
	slowest, healthErr := stopHealth()
	peak, _ := p.VM("VmHWM")

	retries := 0
	for i, a := range answers {
		retries += a.retries
		if errs[i] != nil {
			t.Errorf("list %d: %v", i, errs[i])
		} else if a.sum != answers[0].sum || a.bytes != answers[0].bytes {
			t.Errorf("list %d: %d bytes, not the %d bytes of list 0", i, a.bytes, answers[0].bytes)
		}
	}
	if err := answers[0].check; err != nil {
		t.Errorf("list 0: %v", err)
	}
	t.Logf("list suite %s: %d lists of %d employees (%d MB each) in %v, %d answers of 15 retried; "+
		"peak RSS %d MiB before, %d MiB after; slowest /healthz %v",
		st.name, bigListClients, len(ids), answers[0].bytes/1e6, elapsed.Round(time.Millisecond), retries,
		before>>10, peak>>10, slowest.Round(time.Millisecond))
	if healthErr != nil {
		t.Errorf("during the lists: %v", healthErr)
	}
	if err := checkPeak("16 unlimited lists", peak); err != nil {
		t.Error(err)
	}

	// Clients that send the list and never read it: more than there are
	// stream slots. Another call still answers at once; once they are cut
	// off, the whole list streams again.
	var stalled []net.Conn
	for range 4 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(p.Base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /v2/employee/list?hash=%s HTTP/1.1\r\nHost: roster\r\n\r\n", url.QueryEscape(c.hash))
		stalled = append(stalled, conn)
	}
	time.Sleep(500 * time.Millisecond) // they take the slots and fill the buffers
	t0 := time.Now()
	r, err := c.call(ctx, "employee/read", map[string]any{"employee_id": ids[len(ids)/2]})
	read := time.Since(t0)
	if err != nil || r.code() != 0 || read > time.Second {
		t.Errorf("employee/read beside %d stalled lists = %v, %v after %v; want an answer within 1s", len(stalled), r, err, read)
	}
	t0 = time.Now()
	a, err := bigList(ctx, c, ids)
	if err != nil || a.check != nil || a.sum != answers[0].sum {
		t.Errorf("employee/list after stalled lists = %v, %v (%d bytes); want the whole list again", err, a.check, a.bytes)
	}
	t.Logf("%s: beside %d stalled lists, employee/read answered in %v; the whole list again in %v after %d answers of 15",
		st.name, len(stalled), read.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), a.retries)
	if n := strings.Count(p.Stderr(), "did not read it in time"); n == 0 {
		t.Errorf("the log does not say the stalled lists were cut off:\n%.3000s", p.Stderr())
	}
	if !p.Alive() {
		t.Fatalf("the server died:\n%s", p.Stderr())
	}
}

// TestListCheckerCatches shows checkList failing on answers that are not
// the whole list.
func TestListCheckerCatches(t *testing.T) {
	want := []int64{4, 7, 9}
	good := `{"success":true,"list":[{"id":4,"first_name":"A"},{"id":7,"first_name":"B"},{"id":9,"first_name":"C"}],"count":3}`
	if err := checkList(strings.NewReader(good), want); err != nil {
		t.Fatalf("checkList(the whole list) = %v", err)
	}
	broken := map[string]string{
		"cut off":          good[:60],
		"cut off in a row": good[:len(good)-30],
		"one missing":      strings.Replace(good, `{"id":7,"first_name":"B"},`, "", 1),
		"one twice":        strings.Replace(good, `{"id":9,`, `{"id":7,`, 1),
		"one too many":     strings.Replace(good, `]`, `,{"id":10,"first_name":"D"}]`, 1),
		"wrong count":      strings.Replace(good, `"count":3`, `"count":20000`, 1),
		"no count":         strings.Replace(good, `,"count":3`, "", 1),
		"an error":         `{"success":false,"status":{"code":1,"description":"Database error"}}`,
		"garbage after":    good + `{"success":true}`,
		"empty row":        strings.Replace(good, `{"id":4,"first_name":"A"}`, `{}`, 1),
	}
	for name, b := range broken {
		if err := checkList(bytes.NewReader([]byte(b)), want); err == nil {
			t.Errorf("checkList(%s) = nil, want an error", name)
		}
	}
	if err := checkList(strings.NewReader(good), nil); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("checkList(3 employees, want none) = %v, want it reported", err)
	}
}
