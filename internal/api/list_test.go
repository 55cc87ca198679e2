package api

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"roster/internal/disk"
	"roster/internal/proctest"
	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// listFixture is a server on real SQLite whose master has n employees,
// seeded in one transaction, with its log kept for the test to read.
type listFixture struct {
	srv     *Server
	http    *httptest.Server
	db      *sqlstore.DB
	dbPath  string
	account int64
	hash    string
	log     *proctest.Buffer
}

// smallSendBuffer is a listener whose connections have a small kernel
// send buffer, so that a client that stops reading blocks the server's
// writes after kilobytes rather than megabytes.
type smallSendBuffer struct{ net.Listener }

func (l smallSendBuffer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

func newListFixture(t *testing.T, n int, limits *streamLimits) *listFixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	f := &listFixture{dbPath: filepath.Join(dir, "roster.db"), log: &proctest.Buffer{}}
	db, err := sqlstore.Open(ctx, "sqlite:"+f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db = db
	files, err := disk.Open(filepath.Join(dir, "files"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	f.srv = NewServer(slog.New(slog.NewTextHandler(f.log, nil)), db, files, Options{RateLimit: -1})
	if limits != nil {
		f.srv.streamLimits = *limits
	}
	f.http = httptest.NewUnstartedServer(f.srv)
	f.http.Listener = smallSendBuffer{f.http.Listener}
	f.http.Start()
	t.Cleanup(f.http.Close)

	hash, err := roster.HashPassword("password")
	if err != nil {
		t.Fatal(err)
	}
	if f.account, err = db.CreateMaster(ctx, "master", hash, time.Now()); err != nil {
		t.Fatal(err)
	}
	key, digest, err := roster.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	f.hash = key
	if err := db.CreateSession(ctx, f.account, digest, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var depts []int64
	for i := range 3 {
		d, err := db.CreateDepartment(ctx, f.account, roster.Department{Label: fmt.Sprint("D", i)})
		if err != nil {
			t.Fatal(err)
		}
		depts = append(depts, d)
	}
	raw := f.rawDB(t)
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e := listEmployee(i, depts)
		var label *string
		if e.DepartmentID != nil {
			label = ptr(fmt.Sprint("D", slices.Index(depts, *e.DepartmentID)))
		}
		cols, vals, err := sqlstore.EmployeeRow(e, label)
		if err != nil {
			t.Fatal(err)
		}
		marks := make([]string, len(vals)+1)
		for j := range marks {
			marks[j] = fmt.Sprint("$", j+1)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO employees (`+strings.Join(cols, ", ")+`, account_id) VALUES (`+
			strings.Join(marks, ", ")+`)`, append(vals, f.account)...); err != nil {
			t.Fatal(err)
		}
	}
	// Icons and uploaded avatars on some: the columns calls other than
	// create and update set.
	if _, err := tx.ExecContext(ctx, `UPDATE employees SET icon_id = id % 7 + 1 WHERE id % 5 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE employees SET avatar_file_name = printf('%032x.jpg', id) WHERE id % 3 = 0`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.RecountEmployees(ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

// rawDB opens the fixture's database file beside the store, for what no
// call does: bulk rows, and a row broken on purpose.
func (f *listFixture) rawDB(t *testing.T) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+f.dbPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// listEmployee is the i-th employee of a list fixture: names that repeat
// (ties broken by id), text that JSON escapes, several scripts, and nulls.
func listEmployee(i int, depts []int64) roster.Employee {
	first := []string{"Ann", "Änne", "Γιώργος", "李", "Zoë 🚚", `O"Brien`, "Bob <&>", "ann"}
	last := []string{"Lee", "Straße", "ΣΩΚΡΆΤΗΣ", `back\slash`, "Tab\there", "Line\nbreak", "Ng"}
	e := roster.Employee{
		FirstName:       first[i%len(first)],
		LastName:        last[i*3%len(last)],
		MiddleName:      strings.Repeat("é", i%5),
		Email:           fmt.Sprintf("e%d@example.com", i%50),
		Phone:           fmt.Sprintf("49151%08d", i*7919%1000),
		PersonnelNumber: fmt.Sprintf("P%d", i%40),
		Tags:            []int64{int64(i % 4), int64(i)},
	}
	if i%4 != 0 {
		e.TrackerID = ptr(int64(1000 + i))
	}
	if i%3 != 0 {
		e.DepartmentID = ptr(depts[i%len(depts)])
	}
	if i%2 == 0 {
		e.Location = &roster.Location{Lat: float64(i%90) + 0.5, Lng: -float64(i % 180), Address: "Straße " + fmt.Sprint(i%30)}
	}
	if i%6 == 0 {
		e.DriverLicenseValidTill = ptr(fmt.Sprintf("20%02d-01-31", 30+i%10))
		e.HardwareKey = ptr(fmt.Sprintf("key-%d", i)) // unique in an account
	}
	return e
}

func ptr[T any](v T) *T { return &v }

// buffered is the answer employee/list gives from one buffer, made by the
// store's AppendEmployees as every list was answered before streaming.
func (f *listFixture) buffered(t *testing.T, q roster.ListQuery) []byte {
	t.Helper()
	b, total, err := f.db.AppendEmployees(t.Context(), []byte(`{"success":true,"list":`), f.account, q)
	if err != nil {
		t.Fatal(err)
	}
	return appendCount(b, total)
}

// get makes a GET employee/list with the query parameters and returns the
// whole body.
func (f *listFixture) get(t *testing.T, params url.Values) (int, []byte, error) {
	t.Helper()
	params.Set("hash", f.hash)
	resp, err := http.Get(f.http.URL + "/v2/employee/list?" + params.Encode())
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestListStreamedSameAsBuffered: a list long enough to be streamed is,
// byte for byte, the answer the buffered path gives, in every request form
// and for sorts, filters, offsets without a limit and large limits.
func TestListStreamedSameAsBuffered(t *testing.T) {
	const n = 1500
	f := newListFixture(t, n, nil)
	tests := []struct {
		name   string
		params url.Values
		q      roster.ListQuery
		stream bool // the answer is long enough to be streamed
	}{
		{"everything", url.Values{}, roster.ListQuery{}, true},
		{"offset without limit", url.Values{"offset": {"123"}}, roster.ListQuery{Offset: 123}, true},
		{"offset near the end", url.Values{"offset": {"1450"}}, roster.ListQuery{Offset: 1450}, false},
		{"offset past the end", url.Values{"offset": {"5000"}}, roster.ListQuery{Offset: 5000}, false},
		{"limit over the threshold", url.Values{"limit": {"450"}, "offset": {"7"}}, roster.ListQuery{Limit: 450, Offset: 7}, true},
		{"limit at the threshold", url.Values{"limit": {"200"}}, roster.ListQuery{Limit: 200}, false},
		{"limit larger than the list", url.Values{"limit": {"100000"}}, roster.ListQuery{Limit: 100000}, true},
		{"sorted by name, desc", url.Values{"sort": {`["last_name=desc","first_name"]`}},
			roster.ListQuery{Sort: []roster.SortKey{{Field: "last_name", Desc: true}, {Field: "first_name"}}}, true},
		{"sorted by a nullable field, with an offset", url.Values{"sort": {"tracker_id=desc"}, "offset": {"99"}},
			roster.ListQuery{Sort: []roster.SortKey{{Field: "tracker_id", Desc: true}}, Offset: 99}, true},
		{"sorted by department", url.Values{"sort": {"department_id"}},
			roster.ListQuery{Sort: []roster.SortKey{{Field: "department_id"}}}, true},
		{"filtered, many match", url.Values{"filter": {"ann"}}, roster.ListQuery{Filter: "ann"}, true},
		{"filtered by unicode, folded", url.Values{"filter": {"STRASSE"}, "sort": {"phone"}},
			roster.ListQuery{Filter: "STRASSE", Sort: []roster.SortKey{{Field: "phone"}}}, true},
		{"filtered, few match", url.Values{"filter": {"e7@"}}, roster.ListQuery{Filter: "e7@"}, false},
		{"filtered, none match", url.Values{"filter": {"nobody"}}, roster.ListQuery{Filter: "nobody"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := f.db.EmployeeList(t.Context(), f.account, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			total, err := l.Count(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if got := pageRows(tt.q, total) > streamRows; got != tt.stream {
				t.Fatalf("pageRows(%+v, %d) > %d = %v, want %v: the case no longer tests what it says", tt.q, total, streamRows, got, tt.stream)
			}
			want := f.buffered(t, tt.q)
			status, got, err := f.get(t, tt.params)
			if err != nil || status != http.StatusOK || !bytes.Equal(got, want) {
				t.Errorf("employee/list(%s) = %d, %d bytes %.120q…, %v; want 200, the %d bytes %.120q…", tt.params.Encode(), status, len(got), got, err, len(want), want)
			}
		})
	}
	// The other request forms of the same streamed list.
	want := f.buffered(t, roster.ListQuery{Offset: 3, Sort: []roster.SortKey{{Field: "email"}}})
	form := url.Values{"hash": {f.hash}, "offset": {"3"}, "sort": {`["email=asc"]`}}
	for _, tc := range []struct{ name, contentType, body string }{
		{"form", "application/x-www-form-urlencoded", form.Encode()},
		{"json", "application/json", `{"hash":"` + f.hash + `","offset":3,"sort":["email=asc"]}`},
	} {
		resp, err := http.Post(f.http.URL+"/v2/employee/list", tc.contentType, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("employee/list as %s = %d bytes %.120q…, %v; want the %d bytes %.120q…", tc.name, len(got), got, err, len(want), want)
		}
	}
	// The list is all of it: every employee, once.
	var all struct {
		List []struct {
			ID int64 `json:"id"`
		} `json:"list"`
		Count int `json:"count"`
	}
	if err := json.Unmarshal(f.buffered(t, roster.ListQuery{}), &all); err != nil || len(all.List) != n || all.Count != n {
		t.Fatalf("the reference list has %d employees and count %d (%v), want %d", len(all.List), all.Count, err, n)
	}
}

// breakRow empties the stored JSON of the k-th employee in id order: the
// store then fails on that row, as on a read error from the database.
func (f *listFixture) breakRow(t *testing.T, k int) {
	t.Helper()
	if _, err := f.rawDB(t).ExecContext(t.Context(), `UPDATE employees SET wire_head = ''
		WHERE id = (SELECT id FROM employees ORDER BY id LIMIT 1 OFFSET $1)`, k); err != nil {
		t.Fatal(err)
	}
}

// TestListFailsMidStream: when the database fails after part of a streamed
// list is sent, the client gets a broken answer, never a well-formed
// short one, and the failure is logged once; before the first byte it is
// an ordinary error answer.
func TestListFailsMidStream(t *testing.T) {
	t.Run("after the first bytes", func(t *testing.T) {
		f := newListFixture(t, 600, nil)
		f.breakRow(t, 500) // some 200 KB into the answer
		status, got, err := f.get(t, url.Values{})
		if err == nil || json.Valid(got) {
			t.Errorf("employee/list with a broken row 500 = %d, %d bytes, %v; want the body cut off", status, len(got), err)
		}
		if n := strings.Count(f.log.String(), "answer cut off"); n != 1 {
			t.Errorf("the log says %d times that the answer was cut off, want once:\n%s", n, f.log)
		}
		if !strings.Contains(f.log.String(), "level=ERROR") || !strings.Contains(f.log.String(), "no stored JSON") {
			t.Errorf("the log does not give the failure as an error with its cause:\n%s", f.log)
		}
		if !strings.Contains(f.log.String(), "msg=request") || !strings.Contains(f.log.String(), "aborted=true") {
			t.Errorf("the cut answer has no request line saying it was aborted:\n%s", f.log)
		}
	})
	t.Run("before the first byte", func(t *testing.T) {
		f := newListFixture(t, 600, nil)
		f.breakRow(t, 3)
		status, got, err := f.get(t, url.Values{})
		var body errorBody
		if err != nil || status != http.StatusInternalServerError || json.Unmarshal(got, &body) != nil || body.Status.Code != codeDatabase {
			t.Errorf("employee/list with a broken row 3 = %d %.200s, %v; want 500 with code %d", status, got, err, codeDatabase)
		}
	})
}

// stalledList sends an unlimited employee/list on a raw connection and
// never reads the answer.
func (f *listFixture) stalledList(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", f.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(c, "GET /v2/employee/list?hash=%s HTTP/1.1\r\nHost: x\r\n\r\n", f.hash)
	return c
}

// TestListStalledReaders: clients that stop reading long lists hold their
// stream slots only until the stall limit, and never the connections the
// other calls need.
func TestListStalledReaders(t *testing.T) {
	f := newListFixture(t, 2000, &streamLimits{stall: 300 * time.Millisecond, grace: time.Minute, minRate: 1})
	slots := f.db.ListStreams()
	var stalled []net.Conn
	for range slots + 2 {
		stalled = append(stalled, f.stalledList(t))
	}
	time.Sleep(100 * time.Millisecond) // the stalled lists take their slots
	start := time.Now()
	resp, err := http.Get(f.http.URL + "/v2/employee/list?limit=5&hash=" + f.hash)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); !bytes.HasPrefix(b, []byte(`{"success":true`)) || d > time.Second {
		t.Errorf("a page of 5 beside %d stalled lists = %.100s after %v, want an answer within 1s", len(stalled), b, d)
	}
	// Once the stalled ones are cut off, a whole list streams again.
	status, got, err := f.get(t, url.Values{})
	if want := f.buffered(t, roster.ListQuery{}); err != nil || status != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("employee/list after stalled lists = %d, %d bytes, %v; want the whole list of %d bytes", status, len(got), err, len(want))
	}
	if n := strings.Count(f.log.String(), "did not read it in time"); n < slots {
		t.Errorf("the log cut off %d stalled lists, want at least %d:\n%s", n, slots, f.log)
	}
}

// deadlineWriter records the write deadlines a ResponseController sets.
type deadlineWriter struct {
	httptest.ResponseRecorder
	deadlines []time.Time
}

func (d *deadlineWriter) SetWriteDeadline(t time.Time) error {
	d.deadlines = append(d.deadlines, t)
	return nil
}

// TestStreamWriterDeadlines: each piece may block for stall at most, and
// the whole answer may fall behind minRate by grace at most.
func TestStreamWriterDeadlines(t *testing.T) {
	l := streamLimits{stall: 5 * time.Second, grace: 10 * time.Second, minRate: 1 << 20}
	tests := []struct {
		name    string
		written int64         // bytes before this piece
		elapsed time.Duration // since the stream started
		piece   int
		want    time.Duration // the deadline, from the start
	}{
		{"first piece", 0, 0, 64 << 10, 5 * time.Second},
		{"on time", 20 << 20, 15 * time.Second, 64 << 10, 20 * time.Second},
		{"behind: what is left of the grace", 10 << 20, 19 * time.Second, 1 << 20, 21 * time.Second},
		{"far ahead: still the stall limit", 500 << 20, 30 * time.Second, 64 << 10, 35 * time.Second},
	}
	for _, tt := range tests {
		w := &deadlineWriter{ResponseRecorder: *httptest.NewRecorder()}
		sw := newStreamWriter(w, l)
		sw.start = time.Now().Add(-tt.elapsed)
		sw.written, sw.started = tt.written, true
		if _, err := sw.Write(make([]byte, tt.piece)); err != nil {
			t.Fatal(err)
		}
		if got := w.deadlines[0].Sub(sw.start); got < tt.want-50*time.Millisecond || got > tt.want+50*time.Millisecond {
			t.Errorf("%s: deadline after %v of %d bytes, for %d more = start+%v, want start+%v", tt.name, tt.elapsed, tt.written, tt.piece, got, tt.want)
		}
	}
	// finish clears the deadline for the next request on the connection.
	w := &deadlineWriter{ResponseRecorder: *httptest.NewRecorder()}
	if err := newStreamWriter(w, l).finish([]byte("]}")); err != nil || len(w.deadlines) != 2 || !w.deadlines[1].IsZero() {
		t.Errorf("finish set the deadlines %v (%v), want one, then none", w.deadlines, err)
	}
	if w.Header().Get("Content-Type") != "application/json; charset=utf-8" || w.Body.String() != "]}" {
		t.Errorf("finish wrote %q with Content-Type %q", w.Body.String(), w.Header().Get("Content-Type"))
	}
}

// TestListClientGoesAway: a client that leaves in the middle of a streamed
// list is not logged as a failure of the server.
func TestListClientGoesAway(t *testing.T) {
	f := newListFixture(t, 2000, nil)
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.http.URL+"/v2/employee/list?hash="+f.hash, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 10<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(f.log.String(), "answer cut off") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if log := f.log.String(); !strings.Contains(log, "answer cut off") || strings.Contains(log, "level=ERROR") {
		t.Errorf("the log after a client left mid-list does not say so, or says the server failed:\n%s", log)
	}
}
