package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib" // the test's own PostgreSQL connection
	_ "modernc.org/sqlite"             // the test's own SQLite connection
)

// specStatus is SPEC §1's table of error codes, written out here again so
// that the suite checks the server against the contract, not against its own
// table.
var specStatus = map[int]struct {
	description string
	http        int
}{
	0:   {"", 200},
	1:   {"Database error", 500},
	3:   {"Wrong hash", 400},
	4:   {"User or API key not found or session ended", 400},
	5:   {"Wrong request format", 400},
	6:   {"Unexpected error", 500},
	7:   {"Invalid parameters", 400},
	9:   {"Too large request", 412},
	11:  {"Access denied", 403},
	13:  {"Operation not permitted", 403},
	15:  {"Too many requests (rate limit exceeded)", 429},
	102: {"Wrong login or password", 400},
	201: {"Not found in the database", 400},
	204: {"Entity not found", 404},
	206: {"Login already in use", 409},
	233: {"No data file", 400},
	234: {"Invalid data format", 400},
	247: {"Entity already exists", 409},
	254: {"Cannot save file", 500},
	268: {"Over quota", 402},
	271: {"File over max size", 413},
}

// callStatus are the calls whose answers of a code carry another HTTP
// status than specStatus, as Navixy's description gives them: the API-key
// calls answer 4 with 403.
var callStatus = map[string]map[int]int{
	"api/key/create": {4: 403},
	"api/key/list":   {4: 403},
	"api/key/delete": {4: 403},
}

// check reports whether r is the answer with Navixy code want (0: success),
// with the HTTP status and description SPEC §1 gives that code and a JSON
// content type. It reports a mismatch as an error of the test.
func check(t *testing.T, what string, r result, want int) bool {
	t.Helper()
	return checkCall(t, "", what, r, want)
}

// checkCall is check for an answer of call, whose HTTP status may be one
// of callStatus.
func checkCall(t *testing.T, call, what string, r result, want int) bool {
	t.Helper()
	st, known := specStatus[want]
	if !known {
		t.Fatalf("check(%s): code %d is not in SPEC §1", what, want)
	}
	if http, ok := callStatus[call][want]; ok {
		st.http = http
	}
	status, _ := r.body["status"].(map[string]any)
	desc, _ := status["description"].(string)
	switch {
	case r.code() != want:
		t.Errorf("%s = HTTP %d %s, want code %d", what, r.status, r.raw, want)
	case r.status != st.http:
		t.Errorf("%s = HTTP %d %s, want HTTP %d for code %d", what, r.status, r.raw, st.http, want)
	case !strings.HasPrefix(r.header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: Content-Type = %q, want application/json", what, r.header.Get("Content-Type"))
	case want != 0 && desc != st.description:
		t.Errorf("%s: description = %q, want %q", what, desc, st.description)
	default:
		return true
	}
	return false
}

// errorParams lists the parameters a code 7 answer names, in its order.
func errorParams(r result) []string {
	list, _ := r.body["errors"].([]any)
	var names []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		p, _ := m["parameter"].(string)
		if reason, _ := m["error"].(string); reason == "" {
			p += " (without a reason)"
		}
		names = append(names, p)
	}
	return names
}

// seq makes names and numbers unique within the test binary.
var seq atomic.Int64

func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// uniqueLogin is a unique sub-user login: an e-mail address.
func uniqueLogin(prefix string) string { return unique(prefix) + "@example.com" }

// noDetails are the legal and address fields of a user who was never
// given any, as the API answers them.
var noDetails = map[string]any{"legal_type": "individual", "post_country": "", "post_index": "", "post_region": "",
	"post_city": "", "post_street_address": "", "registered_country": "", "registered_index": "",
	"registered_region": "", "registered_city": "", "registered_street_address": "", "state_reg_num": "",
	"tin": "", "legal_name": "", "iec": ""}

// someDetails are legal and address fields with every one set, distinct
// from the others and marked with tag.
func someDetails(tag string) map[string]any {
	return map[string]any{"legal_type": "legal_entity", "post_country": "Deutschland " + tag, "post_index": "10178",
		"post_region": "Berlin " + tag, "post_city": "Berlin", "post_street_address": "Alexanderplatz 1, " + tag,
		"registered_country": "Österreich", "registered_index": "A-1010", "registered_region": "Wien",
		"registered_city": "Wien " + tag, "registered_street_address": "Stephansplatz 3", "state_reg_num": "HRB 123456",
		"tin": "DE123456789", "legal_name": "Zoë & Söhne GmbH " + tag, "iec": "770101001"}
}

// infoDetails are the fields of details that user/get_info's user_info
// shows (all but state_reg_num).
func infoDetails(details map[string]any) map[string]any {
	out := maps.Clone(details)
	delete(out, "state_reg_num")
	return out
}

// subPassword is a password a sub-user may have: it holds an upper-case
// and a lower-case letter, a digit and a special character.
const subPassword = "Sub-passw0rd"

// stack is a running server on a fresh installation of one backend, with
// the store flags that reach it, so that operator commands and the test's
// own database connection can work beside it.
type stack struct {
	*server
	stores []string
	master session // the admin's session
}

// newStack starts a server on a fresh installation of b and signs in as
// admin (user id 1).
func newStack(t *testing.T, b backend, extra ...string) *stack {
	t.Helper()
	stores := b.args(t)
	s := startServer(t, append(slices.Clone(stores), extra...), nil)
	if s.admin == "" {
		t.Fatalf("first start printed no admin password:\n%s", s.stdout)
	}
	st := &stack{server: s, stores: stores}
	st.master = st.login(t, "admin", s.admin)
	return st
}

// session is a signed-in user of a stack.
type session struct {
	api   string
	login string
	hash  string
}

// login signs in.
func (st *stack) login(t *testing.T, user, password string) session {
	t.Helper()
	return session{api: st.api, login: user, hash: login(t, st.api, user, password)}
}

// accountPassword is the password of every account newAccount makes.
const accountPassword = "account-password"

// newAccount creates another master user with `roster user create` on the
// same stores, and signs in as it. Its login is an e-mail address, which a
// sub-user's login may clash with.
func (st *stack) newAccount(t *testing.T) session {
	t.Helper()
	name, password := uniqueLogin("account"), accountPassword
	args := append([]string{"user", "create", "--login", name, "--password", password}, st.stores...)
	var out bytes.Buffer
	if err := run(t.Context(), args, noEnv, &out, io.Discard); err != nil {
		t.Fatalf("roster user create: %v", err)
	}
	return st.login(t, name, password)
}

// subUser registers a sub-user of the account of master, in the security
// group (nil: the default group), and signs in as it.
func (st *stack) subUser(t *testing.T, master session, group any) session {
	t.Helper()
	name := uniqueLogin("sub")
	master.register(t, map[string]any{"login": name, "security_group_id": group}, subPassword)
	return st.login(t, name, subPassword)
}

// sqlDB opens the stack's database directly, as an operator would.
func (st *stack) sqlDB(t *testing.T) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", ""
	for i, a := range st.stores {
		switch a {
		case "--data":
			dsn = "file:" + filepath.Join(st.stores[i+1], "roster.db")
		case "--db":
			driver, dsn = "pgx", st.stores[i+1]
		}
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// do makes a call with the session's hash (none if it is "").
func (s session) do(t *testing.T, f form, call string, params map[string]any) result {
	t.Helper()
	p := maps.Clone(params)
	if p == nil {
		p = map[string]any{}
	}
	if s.hash != "" {
		p["hash"] = s.hash
	}
	return do(t, s.api, f, call, p)
}

// ok makes a JSON call that must succeed.
func (s session) ok(t *testing.T, call string, params map[string]any) result {
	t.Helper()
	r := s.do(t, formJSON, call, params)
	if r.code() != 0 || r.status != 200 {
		t.Fatalf("%s(%v) as %s = %d %s, want success", call, params, s.login, r.status, r.raw)
	}
	return r
}

// want makes a call and checks its code.
func (s session) want(t *testing.T, f form, call string, params map[string]any, code int) result {
	t.Helper()
	r := s.do(t, f, call, params)
	checkCall(t, call, fmt.Sprintf("%s %s(%v) as %s", f, call, params, s.login), r, code)
	return r
}

func (s session) createEmployee(t *testing.T, e map[string]any) int64 {
	t.Helper()
	return s.ok(t, "employee/create", map[string]any{"employee": e}).int("id")
}

func (s session) readEmployee(t *testing.T, id int64) map[string]any {
	t.Helper()
	v, _ := s.ok(t, "employee/read", map[string]any{"employee_id": id}).body["value"].(map[string]any)
	return v
}

func (s session) createDepartment(t *testing.T, d map[string]any) int64 {
	t.Helper()
	return s.ok(t, "department/create", map[string]any{"department": d}).int("id")
}

func (s session) createGroup(t *testing.T, label string, rights ...string) int64 {
	t.Helper()
	if rights == nil {
		rights = []string{}
	}
	return s.ok(t, "subuser/security_group/create", map[string]any{
		"group": map[string]any{"label": label, "privileges": map[string]any{"rights": rights}},
	}).int("id")
}

func (s session) register(t *testing.T, user map[string]any, password string) int64 {
	t.Helper()
	return s.ok(t, "subuser/register", map[string]any{"user": user, "password": password}).int("id")
}

// list returns the "list" member of a list call's answer.
func (s session) list(t *testing.T, call string, params map[string]any) []any {
	t.Helper()
	l, _ := s.ok(t, call, params).body["list"].([]any)
	return l
}

// find returns the object with that id in a list call's answer, or nil.
func (s session) find(t *testing.T, call string, id int64) map[string]any {
	t.Helper()
	for _, v := range s.list(t, call, nil) {
		if m, _ := v.(map[string]any); m["id"] == float64(id) {
			return m
		}
	}
	return nil
}

// snapshot is everything an account holds that the API shows its master.
func (s session) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, call := range []string{"employee/list", "department/list", "tag/list", "subuser/list", "subuser/security_group/list"} {
		r := s.ok(t, call, nil)
		fmt.Fprintf(&b, "%s: %s\n", call, r.raw)
	}
	return b.String()
}

// jsonValue gives v as encoding/json decodes it into an any, so that values
// written in Go compare with decoded answers.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// same reports a difference between an answer and what it should be.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// ids lists the ids of the objects in a list.
func ids(list []any) []int64 {
	out := []int64{}
	for _, v := range list {
		m, _ := v.(map[string]any)
		f, _ := m["id"].(float64)
		out = append(out, int64(f))
	}
	return out
}

var dateTimePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

// recent checks a creation_date: Navixy's layout, UTC, within the test's
// lifetime.
func recent(t *testing.T, what string, v any) {
	t.Helper()
	s, _ := v.(string)
	d, err := time.Parse("2006-01-02 15:04:05", s)
	if !dateTimePattern.MatchString(s) || err != nil {
		t.Errorf("%s creation_date = %v, want yyyy-MM-dd HH:mm:ss", what, v)
		return
	}
	if age := time.Since(d); age < -2*time.Second || age > 10*time.Minute {
		t.Errorf("%s creation_date = %v, want about now (UTC), not %v away", what, s, age)
	}
}
