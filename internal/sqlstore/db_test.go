package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"roster/internal/roster"
	"roster/internal/sqlstore/sqltest"
)

// The store conformance suite: every test runs the same function on every
// backend, SQLite always and PostgreSQL when ROSTER_TEST_POSTGRES is set, each
// on a database of its own.

// backend is one database the suite runs on.
type backend struct {
	name string
	// url names a fresh, empty database.
	url func(tb testing.TB) string
}

var backends = []backend{
	{"sqlite", func(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "roster.db") }},
	{"postgres", func(tb testing.TB) string { return sqltest.PostgresURL(tb) }},
}

// forEachBackend runs f as a parallel subtest on every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// forEachDB runs f on a fresh, migrated database of every backend.
func forEachDB(t *testing.T, f func(t *testing.T, db *DB)) {
	forEachBackend(t, func(t *testing.T, b backend) { f(t, openDB(t, b.url(t))) })
}

func openDB(tb testing.TB, url string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("Open(%s) = %v", url, err)
	}
	tb.Cleanup(func() { db.Close() })
	tb.Cleanup(func() { checkDerived(tb, db) })
	return db
}

// checkDerived checks, after every test, what the store keeps besides the
// columns: each employee reads as json.Marshal encodes its columns, and each
// account's employee count is its number of rows.
func checkDerived(tb testing.TB, db *DB) {
	tb.Helper()
	ctx := context.Background()
	if err := db.Ping(ctx); err != nil {
		return // closed by the test
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+employeeColumns+`, account_id FROM employees`)
	if err != nil {
		tb.Errorf("reading employees: %v", err)
		return
	}
	want := map[int64]map[int64]string{}
	for rows.Next() {
		var account int64
		e, err := scanEmployee(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &account)...) }))
		if err != nil {
			tb.Errorf("reading employees: %v", err)
			rows.Close()
			return
		}
		b, _ := json.Marshal(e)
		if want[account] == nil {
			want[account] = map[int64]string{}
		}
		want[account][e.ID] = string(b)
	}
	rows.Close()
	for account, byID := range want {
		b, n, err := db.AppendEmployees(ctx, nil, account, roster.ListQuery{})
		var list []json.RawMessage
		if err == nil {
			err = json.Unmarshal(b, &list)
		}
		if err != nil || n != len(byID) || len(list) != len(byID) {
			tb.Errorf("account %d lists %d employees (count %d, %v), want %d", account, len(list), n, err, len(byID))
			continue
		}
		for _, raw := range list {
			var e struct{ ID int64 }
			json.Unmarshal(raw, &e)
			if want, ok := byID[e.ID]; !ok || string(raw) != want {
				tb.Errorf("employee %d reads as\n%s\nits columns say\n%s", e.ID, raw, want)
			}
			delete(byID, e.ID) // each row once
		}
	}
	checkSearch(tb, db)
	var stale int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM users
		WHERE employee_count <> (SELECT count(*) FROM employees WHERE account_id = users.id)`).Scan(&stale); err != nil || stale > 0 {
		tb.Errorf("%d accounts have a wrong employee count (%v)", stale, err)
	}
}

// checkSearch checks what the list's filter and sort read besides the
// columns: each row's department label is its department's, its search
// text is what searchText makes of its columns, and on SQLite the trigram
// index holds exactly the rows' texts.
func checkSearch(tb testing.TB, db *DB) {
	tb.Helper()
	ctx := context.Background()
	rows, err := db.sql.QueryContext(ctx, `SELECT `+employeeColumns+`, department_label,
		(SELECT label FROM departments WHERE departments.id = employees.department_id), search FROM employees`)
	if err != nil {
		tb.Errorf("reading employees: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var label, dept sql.NullString
		var search string
		e, err := scanEmployee(scanFunc(func(dest ...any) error {
			return rows.Scan(append(dest, &label, &dept, &search)...)
		}))
		if err != nil {
			tb.Errorf("reading employees: %v", err)
			return
		}
		if label != dept {
			tb.Errorf("employee %d has department label %v, its department %v", e.ID, label, dept)
		}
		if want := searchText(e, ptrString(dept)); search != want {
			tb.Errorf("employee %d has search text %q, want %q", e.ID, search, want)
		}
	}
	if err := rows.Err(); err != nil {
		tb.Errorf("reading employees: %v", err)
	}
	var fts int
	if db.dialect == dialectSQLite {
		db.sql.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = $1`, ftsTable).Scan(&fts)
	}
	if fts > 0 { // not dropped by the test
		if _, err := db.sql.ExecContext(ctx, `INSERT INTO `+ftsTable+` (`+ftsTable+`, rank) VALUES ('integrity-check', 1)`); err != nil {
			tb.Errorf("the trigram index does not hold the rows' texts: %v", err)
		}
	}
}

// t0 is the suite's clock: stores take the time as a parameter.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// wantErr reports a call whose error does not match want (nil: no error).
func wantErr(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want %v", call, err, want)
	}
}

// must fails the test at once on an error of a setup step.
func must[T any](t testing.TB, call string) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s = %v", call, err)
		}
		return v
	}
}

func newMaster(t testing.TB, db *DB, login string) int64 {
	t.Helper()
	return must[int64](t, "CreateMaster("+login+")")(db.CreateMaster(context.Background(), login, "hash-of-"+login, t0))
}

func newSubUser(t testing.TB, db *DB, account int64, login string, group *int64) int64 {
	t.Helper()
	u := roster.User{Login: login, FirstName: "Sub", Activated: true, SecurityGroupID: group}
	return must[int64](t, "CreateSubUser("+login+")")(db.CreateSubUser(context.Background(), account, u, "hash-of-"+login, t0))
}

func newGroup(t testing.TB, db *DB, account int64, label string, rights ...roster.Right) int64 {
	t.Helper()
	g := roster.SecurityGroup{Label: label, Rights: rights}
	return must[int64](t, "CreateGroup("+label+")")(db.CreateGroup(context.Background(), account, g))
}

// newSession opens a session of user that expires an hour after t0.
func newSession(t testing.TB, db *DB, user int64) []byte {
	t.Helper()
	_, digest, err := roster.NewSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(context.Background(), user, digest, t0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("CreateSession(%d) = %v", user, err)
	}
	return digest
}

func newEmployee(t testing.TB, db *DB, account int64, e roster.Employee) int64 {
	t.Helper()
	return must[int64](t, "CreateEmployee("+e.FirstName+")")(db.CreateEmployee(context.Background(), account, e))
}

// newTags makes n tags of the account and returns their ids: employees
// carry only their account's tags.
func newTags(t testing.TB, db *DB, account int64, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		name := fmt.Sprint("tag ", i)
		ids[i] = must[int64](t, "CreateTag("+name+")")(db.CreateTag(context.Background(), account, roster.Tag{Name: name, Color: "FF0000"}))
	}
	return ids
}

func newDepartment(t testing.TB, db *DB, account int64, label string) int64 {
	t.Helper()
	d := roster.Department{Label: label}
	return must[int64](t, "CreateDepartment("+label+")")(db.CreateDepartment(context.Background(), account, d))
}

// live reports whether the session with digest lets its holder in at now.
func live(t *testing.T, db *DB, digest []byte, now time.Time) bool {
	t.Helper()
	_, err := db.Caller(t.Context(), digest, now)
	if err != nil && !errors.Is(err, roster.ErrNoSession) {
		t.Fatalf("Caller = %v", err)
	}
	return err == nil
}

// dump renders every row of every table, to show that a refused call
// changed nothing.
func dump(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range tables(t, db) {
		rows, err := db.sql.QueryContext(t.Context(), `SELECT * FROM `+table+` ORDER BY 1`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			fmt.Fprintf(&b, "%s %v\n", table, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return b.String()
}

// tables names every table of the schema, in name order.
func tables(t *testing.T, db *DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Postgres() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
	}
	rows, err := db.sql.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("listing tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if len(names) < 5 {
		t.Fatalf("listing tables found only %v", names)
	}
	return names
}

func migrationCount(t *testing.T, db *DB) (applied, files int) {
	t.Helper()
	dir := "migrations/sqlite"
	if db.Postgres() {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.sql.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatalf("counting schema_migrations: %v", err)
	}
	return applied, len(names)
}

func TestOpenURLs(t *testing.T) {
	tests := []struct {
		name, url string
	}{
		{"empty", ""},
		{"empty sqlite path", "sqlite:"},
		{"unknown scheme", "mysql://root@localhost/roster"},
		{"bare path", "/var/lib/roster.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) = nil error, want an error", tt.url)
			}
		})
	}
	t.Run("password not shown", func(t *testing.T) {
		_, err := Open(t.Context(), "mysql://root:s3cret@localhost/roster")
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(mysql://root:s3cret@...) = %v, want an error without the password", err)
		}
	})
}

// TestMigrationsIdempotent opens the same database again: nothing is applied
// twice and the data stays.
func TestMigrationsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		first := openDB(t, url)
		id := newMaster(t, first, "ann")
		before := dump(t, first)
		first.Close()
		for i := range 2 {
			db := openDB(t, url)
			if got := dump(t, db); got != before {
				t.Errorf("open #%d changed the database:\n%s\nwant\n%s", i+2, got, before)
			}
			if applied, files := migrationCount(t, db); applied != files {
				t.Errorf("open #%d: %d migrations recorded, want %d", i+2, applied, files)
			}
			if u, err := db.User(t.Context(), id); err != nil || u.Login != "ann" {
				t.Errorf("User(%d) after reopening = %+v, %v, want ann", id, u, err)
			}
			db.Close()
		}
	})
}

// TestOpenConcurrent starts several nodes at once on a fresh database: every
// Open succeeds and the migrations run once.
func TestOpenConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		url := b.url(t)
		const nodes = 4
		dbs := make([]*DB, nodes)
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range nodes {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = Open(context.Background(), url)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d = %v, want nil", i, err)
				continue
			}
			defer dbs[i].Close()
		}
		if t.Failed() {
			return
		}
		if applied, files := migrationCount(t, dbs[0]); applied != files {
			t.Errorf("%d migrations recorded, want %d", applied, files)
		}
		id := newMaster(t, dbs[0], "ann")
		if u, err := dbs[nodes-1].User(t.Context(), id); err != nil || u.Login != "ann" {
			t.Errorf("User(%d) on another node = %+v, %v, want ann", id, u, err)
		}
	})
}

func TestPing(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		wantErr(t, "Ping()", db.Ping(t.Context()), nil)
		db.Close()
		if err := db.Ping(t.Context()); err == nil {
			t.Errorf("Ping() after Close = nil, want an error")
		}
	})
}

func TestUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		if n, err := db.CountUsers(ctx); n != 0 || err != nil {
			t.Errorf("CountUsers() on a new database = %d, %v, want 0", n, err)
		}
		ann := newMaster(t, db, "ann")
		bob := newMaster(t, db, "bob")
		sub := newSubUser(t, db, ann, "ann.sub", nil)
		if n, err := db.CountUsers(ctx); n != 3 || err != nil {
			t.Errorf("CountUsers() = %d, %v, want 3", n, err)
		}

		u, hash, err := db.UserByLogin(ctx, "ann")
		want := roster.User{ID: ann, Login: "ann", Activated: true, CreatedAt: t0}
		if err != nil || hash != "hash-of-ann" || !equalUser(u, want) {
			t.Errorf("UserByLogin(ann) = %+v, %q, %v, want %+v, hash-of-ann", u, hash, err, want)
		}
		if u, _, err := db.UserByLogin(ctx, "ann.sub"); err != nil || u.ID != sub || u.MasterID != ann || u.AccountID() != ann {
			t.Errorf("UserByLogin(ann.sub) = %+v, %v, want id %d of account %d", u, err, sub, ann)
		}
		for _, login := range []string{"nobody", "ANN", "ann ", ""} {
			_, _, err := db.UserByLogin(ctx, login)
			wantErr(t, fmt.Sprintf("UserByLogin(%q)", login), err, roster.ErrNotFound)
		}
		// A user made without details has the defaults: those of every
		// row older than the columns.
		if u, err := db.User(ctx, bob); err != nil || u.Login != "bob" || u.MasterID != 0 ||
			u.Details != (roster.UserDetails{LegalType: roster.DefaultLegalType}) {
			t.Errorf("User(%d) = %+v, %v, want master bob, legal type individual and no other details", bob, u, err)
		}
		_, err = db.User(ctx, 999999)
		wantErr(t, "User(999999)", err, roster.ErrNotFound)

		taken := []struct {
			name string
			call func() error
		}{
			{"master with a master's login", func() error {
				_, err := db.CreateMaster(ctx, "ann", "x", t0)
				return err
			}},
			{"master with a sub-user's login", func() error {
				_, err := db.CreateMaster(ctx, "ann.sub", "x", t0)
				return err
			}},
			{"sub-user with a master's login", func() error {
				_, err := db.CreateSubUser(ctx, ann, roster.User{Login: "bob", Activated: true}, "x", t0)
				return err
			}},
			{"sub-user with another account's sub-user login", func() error {
				_, err := db.CreateSubUser(ctx, bob, roster.User{Login: "ann.sub", Activated: true}, "x", t0)
				return err
			}},
		}
		for _, tt := range taken {
			before := dump(t, db)
			wantErr(t, tt.name, tt.call(), roster.ErrLoginTaken)
			if after := dump(t, db); after != before {
				t.Errorf("%s changed the database:\n%s\nwant\n%s", tt.name, after, before)
			}
		}
	})
}

func equalUser(got, want roster.User) bool {
	return got.ID == want.ID && got.MasterID == want.MasterID && got.Login == want.Login &&
		got.FirstName == want.FirstName && got.MiddleName == want.MiddleName && got.LastName == want.LastName &&
		got.Phone == want.Phone && got.Activated == want.Activated && got.CreatedAt.Equal(want.CreatedAt) &&
		equalPtr(got.SecurityGroupID, want.SecurityGroupID) && got.Details == want.Details
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func TestSetMasterPassword(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		bob := newMaster(t, db, "bob")
		newSubUser(t, db, ann, "ann.sub", nil)
		annSessions := [][]byte{newSession(t, db, ann), newSession(t, db, ann)}
		bobSession := newSession(t, db, bob)

		wantErr(t, "SetMasterPassword(ann)", db.SetMasterPassword(ctx, "ann", "new-hash"), nil)
		if _, hash, err := db.UserByLogin(ctx, "ann"); hash != "new-hash" || err != nil {
			t.Errorf("UserByLogin(ann) hash = %q, %v, want new-hash", hash, err)
		}
		for i, s := range annSessions {
			if live(t, db, s, t0) {
				t.Errorf("ann's session #%d still live after SetMasterPassword", i)
			}
		}
		if !live(t, db, bobSession, t0) {
			t.Errorf("bob's session ended by SetMasterPassword(ann)")
		}

		for _, login := range []string{"nobody", "ann.sub"} {
			before := dump(t, db)
			wantErr(t, "SetMasterPassword("+login+")", db.SetMasterPassword(ctx, login, "x"), roster.ErrNotFound)
			if after := dump(t, db); after != before {
				t.Errorf("SetMasterPassword(%s) changed the database", login)
			}
		}
	})
}

func TestSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		editors := newGroup(t, db, ann, "editors", roster.RightEmployeeUpdate, "tag_update")
		editor := newSubUser(t, db, ann, "editor", &editors)
		plain := newSubUser(t, db, ann, "plain", nil)

		callers := []struct {
			name   string
			user   int64
			master bool
			rights []roster.Right
		}{
			{"master", ann, true, nil},
			{"sub-user in a group", editor, false, []roster.Right{roster.RightEmployeeUpdate, "tag_update"}},
			{"sub-user in the default group", plain, false, nil},
		}
		for _, tt := range callers {
			digest := newSession(t, db, tt.user)
			c, err := db.Caller(ctx, digest, t0)
			if err != nil {
				t.Errorf("Caller(%s) = %v", tt.name, err)
				continue
			}
			if c.User.ID != tt.user || c.Account() != ann || c.Master() != tt.master || string(c.KeyDigest) != string(digest) {
				t.Errorf("Caller(%s) = user %d of account %d, master %v, want user %d of account %d, master %v",
					tt.name, c.User.ID, c.Account(), c.Master(), tt.user, ann, tt.master)
			}
			if len(c.Rights) != len(tt.rights) {
				t.Errorf("Caller(%s).Rights = %v, want %v", tt.name, c.Rights, tt.rights)
			}
			for _, r := range tt.rights {
				if !c.Rights[r] {
					t.Errorf("Caller(%s).Rights = %v, want %v", tt.name, c.Rights, tt.rights)
				}
			}
			if got, want := c.Can(roster.RightEmployeeUpdate), tt.master || len(tt.rights) > 0; got != want {
				t.Errorf("Caller(%s).Can(employee_update) = %v, want %v", tt.name, got, want)
			}
		}

		// Expiry: a session lives until, not at, its expiry.
		s := newSession(t, db, ann)
		expiry := []struct {
			at   time.Duration
			live bool
		}{{0, true}, {time.Hour - time.Second, true}, {time.Hour, false}, {48 * time.Hour, false}}
		for _, tt := range expiry {
			if got := live(t, db, s, t0.Add(tt.at)); got != tt.live {
				t.Errorf("Caller(session) at t0+%v live = %v, want %v", tt.at, got, tt.live)
			}
		}
		_, err := db.Caller(ctx, []byte("not a digest"), t0)
		wantErr(t, "Caller(unknown)", err, roster.ErrNoSession)

		// Renewal moves the expiry; an ended session cannot be renewed.
		wantErr(t, "RenewSession(at t0+30m)", db.RenewSession(ctx, s, t0.Add(30*time.Minute), t0.Add(3*time.Hour)), nil)
		if !live(t, db, s, t0.Add(2*time.Hour)) {
			t.Errorf("renewed session ended before its new expiry")
		}
		if live(t, db, s, t0.Add(3*time.Hour)) {
			t.Errorf("renewed session live at its new expiry")
		}
		wantErr(t, "RenewSession(expired)", db.RenewSession(ctx, s, t0.Add(3*time.Hour), t0.Add(4*time.Hour)), roster.ErrNoSession)
		if live(t, db, s, t0.Add(3*time.Hour)) {
			t.Errorf("expired session came back to life by a refused renewal")
		}
		wantErr(t, "RenewSession(unknown)", db.RenewSession(ctx, []byte("nope"), t0, t0.Add(time.Hour)), roster.ErrNoSession)

		// Logout.
		s2 := newSession(t, db, ann)
		wantErr(t, "DeleteSession()", db.DeleteSession(ctx, s2), nil)
		if live(t, db, s2, t0) {
			t.Errorf("session live after DeleteSession")
		}
		wantErr(t, "DeleteSession(again)", db.DeleteSession(ctx, s2), nil)
		wantErr(t, "RenewSession(deleted)", db.RenewSession(ctx, s2, t0, t0.Add(time.Hour)), roster.ErrNoSession)
	})
}

func TestExpiredSessions(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		var digests [][]byte
		for i := range 5 {
			_, d, _ := roster.NewSessionKey()
			// Expiring at t0+1h, t0+2h, ... t0+5h.
			if err := db.CreateSession(ctx, ann, d, t0, t0.Add(time.Duration(i+1)*time.Hour)); err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d)
		}
		active := []struct {
			at   time.Duration
			want int64
		}{{0, 5}, {time.Hour - time.Second, 5}, {time.Hour, 4}, {150 * time.Minute, 3}, {5 * time.Hour, 0}}
		for _, tt := range active {
			if n, err := db.ActiveSessions(ctx, t0.Add(tt.at)); n != tt.want || err != nil {
				t.Errorf("ActiveSessions(t0+%v) = %d, %v, want %d", tt.at, n, err, tt.want)
			}
		}
		if n, err := db.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)); n != 2 || err != nil {
			t.Errorf("DeleteExpiredSessions(t0+2h) = %d, %v, want 2", n, err)
		}
		if n, err := db.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)); n != 0 || err != nil {
			t.Errorf("DeleteExpiredSessions(t0+2h) again = %d, %v, want 0", n, err)
		}
		// The deleted ones are gone even for a clock that runs backwards.
		for i, d := range digests {
			if got, want := live(t, db, d, t0), i >= 2; got != want {
				t.Errorf("session #%d live at t0 after the sweep = %v, want %v", i, got, want)
			}
		}
		if n, err := db.ActiveSessions(ctx, t0); n != 3 || err != nil {
			t.Errorf("ActiveSessions(t0) after the sweep = %d, %v, want 3", n, err)
		}
	})
}

func TestSubUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		g := newGroup(t, db, ann, "drivers")
		if list, err := db.SubUsers(ctx, ann); err != nil || list == nil || len(list) != 0 {
			t.Errorf("SubUsers() with none = %#v, %v, want an empty list", list, err)
		}

		in := roster.User{Login: "jo@example.org", FirstName: "Jó", MiddleName: "Ø", LastName: "O'Neil \"Jr\"",
			Phone: "4915112345678", Activated: true, SecurityGroupID: &g, Details: roster.UserDetails{
				LegalType: roster.LegalEntity, PostCountry: "Deutschland", PostIndex: "10178", PostRegion: "Berlin",
				PostCity: "Berlin", PostStreetAddress: "Alexanderplatz 1", RegisteredCountry: "Österreich",
				RegisteredIndex: "1010", RegisteredRegion: "Wien", RegisteredCity: "Wien",
				RegisteredStreetAddress: "Stephansplatz 3, 2. Stock", StateRegNum: "HRB 123456", TIN: "DE123456789",
				LegalName: "Jó & Söhne GmbH", IEC: "770101001"}}
		id, err := db.CreateSubUser(ctx, ann, in, "h", t0)
		if err != nil {
			t.Fatalf("CreateSubUser(%+v) = %v", in, err)
		}
		in2 := roster.User{Login: "inactive", Activated: false, Details: roster.UserDetails{LegalType: roster.SoleTrader}}
		id2, err := db.CreateSubUser(ctx, ann, in2, "h", t0.Add(time.Second))
		if err != nil {
			t.Fatalf("CreateSubUser(%+v) = %v", in2, err)
		}
		want := in
		want.ID, want.MasterID, want.CreatedAt = id, ann, t0
		want2 := in2
		want2.ID, want2.MasterID, want2.CreatedAt = id2, ann, t0.Add(time.Second)
		list, err := db.SubUsers(ctx, ann)
		if err != nil || len(list) != 2 || !equalUser(list[0], want) || !equalUser(list[1], want2) {
			t.Errorf("SubUsers() = %+v, %v, want [%+v %+v]", list, err, want, want2)
		}
		if u, err := db.User(ctx, id); err != nil || !equalUser(u, want) {
			t.Errorf("User(%d) = %+v, %v, want %+v", id, u, err, want)
		}

		// Update replaces every field but the password and creation time.
		upd := roster.User{ID: id, Login: "jo2", FirstName: "J", Phone: "1", Activated: true,
			Details: roster.UserDetails{LegalType: roster.Individual, PostCity: "Köln", IEC: "1"}}
		wantErr(t, "UpdateSubUser()", db.UpdateSubUser(ctx, ann, upd), nil)
		want = upd
		want.MasterID, want.CreatedAt = ann, t0
		if u, err := db.User(ctx, id); err != nil || !equalUser(u, want) {
			t.Errorf("User(%d) after update = %+v, %v, want %+v", id, u, err, want)
		}
		// Signing in reads no details.
		want.Details = roster.UserDetails{}
		if u, hash, err := db.UserByLogin(ctx, "jo2"); err != nil || hash != "h" || !equalUser(u, want) {
			t.Errorf("UserByLogin(jo2) after update = %+v, %q, %v, want %+v, h", u, hash, err, want)
		}
		if list, err := db.SubUsers(ctx, ann); err != nil || len(list) != 2 || list[0].Details != upd.Details || list[1].Details != in2.Details {
			t.Errorf("SubUsers() after update = %+v, %v, want the details of %+v and %+v", list, err, upd, in2)
		}
		// Keeping one's own login is not a clash; taking another's is.
		wantErr(t, "UpdateSubUser(same login)", db.UpdateSubUser(ctx, ann, upd), nil)
		before := dump(t, db)
		taken := upd
		taken.Login, taken.FirstName = "ann", "changed"
		wantErr(t, "UpdateSubUser(login ann)", db.UpdateSubUser(ctx, ann, taken), roster.ErrLoginTaken)
		taken.Login = "inactive"
		wantErr(t, "UpdateSubUser(login inactive)", db.UpdateSubUser(ctx, ann, taken), roster.ErrLoginTaken)
		if after := dump(t, db); after != before {
			t.Errorf("a refused UpdateSubUser changed the database:\n%s\nwant\n%s", after, before)
		}

		// Deactivation ends the sessions; reactivation does not bring them back.
		s1, s2 := newSession(t, db, id), newSession(t, db, id)
		other := newSession(t, db, ann)
		upd.Activated = false
		wantErr(t, "UpdateSubUser(deactivate)", db.UpdateSubUser(ctx, ann, upd), nil)
		if live(t, db, s1, t0) || live(t, db, s2, t0) {
			t.Errorf("sessions of a deactivated sub-user still live")
		}
		if !live(t, db, other, t0) {
			t.Errorf("deactivating a sub-user ended the master's session")
		}
		upd.Activated = true
		wantErr(t, "UpdateSubUser(reactivate)", db.UpdateSubUser(ctx, ann, upd), nil)
		if live(t, db, s1, t0) {
			t.Errorf("reactivation brought an ended session back")
		}

		// Deletion takes the sessions along; the login is free again.
		s3 := newSession(t, db, id)
		wantErr(t, "DeleteSubUser()", db.DeleteSubUser(ctx, ann, id), nil)
		if live(t, db, s3, t0) {
			t.Errorf("session of a deleted sub-user still live")
		}
		_, err = db.User(ctx, id)
		wantErr(t, "User(deleted)", err, roster.ErrNotFound)
		wantErr(t, "DeleteSubUser(again)", db.DeleteSubUser(ctx, ann, id), roster.ErrNotFound)
		if _, err := db.CreateSubUser(ctx, ann, roster.User{Login: "jo2", Activated: true}, "h", t0); err != nil {
			t.Errorf("CreateSubUser(jo2) after deleting jo2 = %v", err)
		}
		// A master is not a sub-user.
		wantErr(t, "DeleteSubUser(master)", db.DeleteSubUser(ctx, ann, ann), roster.ErrNotFound)
		wantErr(t, "UpdateSubUser(master)", db.UpdateSubUser(ctx, ann, roster.User{ID: ann, Login: "ann", Activated: true}), roster.ErrNotFound)
		_, err = db.CreateSubUser(ctx, ann, roster.User{Login: "x", SecurityGroupID: ptr(int64(999999))}, "h", t0)
		wantErr(t, "CreateSubUser(unknown group)", err, roster.ErrNotFound)
	})
}

func TestGroups(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		if list, err := db.Groups(ctx, ann); err != nil || list == nil || len(list) != 0 {
			t.Errorf("Groups() with none = %#v, %v, want an empty list", list, err)
		}
		tests := []struct {
			name  string
			in    roster.SecurityGroup
			wantR []roster.Right
		}{
			{"no rights", roster.SecurityGroup{Label: "viewers"}, []roster.Right{}},
			{"rights", roster.SecurityGroup{Label: "Ærø editors", Rights: []roster.Right{"tracker_update", roster.RightEmployeeUpdate},
				StorePeriod: "3d"}, []roster.Right{"tracker_update", roster.RightEmployeeUpdate}},
		}
		var ids []int64
		for _, tt := range tests {
			id, err := db.CreateGroup(ctx, ann, tt.in)
			if err != nil {
				t.Fatalf("CreateGroup(%s) = %v", tt.name, err)
			}
			ids = append(ids, id)
		}
		list, err := db.Groups(ctx, ann)
		if err != nil || len(list) != len(tests) {
			t.Fatalf("Groups() = %+v, %v, want %d groups", list, err, len(tests))
		}
		for i, tt := range tests {
			if g := list[i]; g.ID != ids[i] || g.Label != tt.in.Label || fmt.Sprint(g.Rights) != fmt.Sprint(tt.wantR) || g.Rights == nil ||
				g.StorePeriod != tt.in.StorePeriod {
				t.Errorf("Groups()[%d] = %#v, want %d %q %v %q", i, g, ids[i], tt.in.Label, tt.wantR, tt.in.StorePeriod)
			}
		}

		upd := roster.SecurityGroup{ID: ids[0], Label: "renamed", Rights: []roster.Right{roster.RightEmployeeUpdate}, StorePeriod: "1y"}
		wantErr(t, "UpdateGroup()", db.UpdateGroup(ctx, ann, upd), nil)
		upd2 := roster.SecurityGroup{ID: ids[1], Label: tests[1].in.Label, Rights: tests[1].in.Rights}
		wantErr(t, "UpdateGroup(no store period)", db.UpdateGroup(ctx, ann, upd2), nil)
		list, _ = db.Groups(ctx, ann)
		if g := list[0]; g.Label != "renamed" || fmt.Sprint(g.Rights) != "[employee_update]" || g.StorePeriod != "1y" {
			t.Errorf("Groups()[0] after update = %+v, want renamed [employee_update] 1y", g)
		}
		if g := list[1]; g.StorePeriod != "" {
			t.Errorf("Groups()[1] after an update without a store period = %+v, want none", g)
		}
		wantErr(t, "UpdateGroup(unknown)", db.UpdateGroup(ctx, ann, roster.SecurityGroup{ID: 999999, Label: "x"}), roster.ErrNotFound)

		// Deleting a group puts its sub-users in the default group: no rights.
		sub := newSubUser(t, db, ann, "sub", &ids[0])
		keep := newSubUser(t, db, ann, "keep", &ids[1])
		s := newSession(t, db, sub)
		if c, err := db.Caller(ctx, s, t0); err != nil || !c.Can(roster.RightEmployeeUpdate) {
			t.Fatalf("Caller(sub in group) = %+v, %v, want employee_update", c, err)
		}
		wantErr(t, "DeleteGroup()", db.DeleteGroup(ctx, ann, ids[0]), nil)
		if u, err := db.User(ctx, sub); err != nil || u.SecurityGroupID != nil {
			t.Errorf("User(sub).SecurityGroupID after DeleteGroup = %v, %v, want nil", u.SecurityGroupID, err)
		}
		if u, err := db.User(ctx, keep); err != nil || !equalPtr(u.SecurityGroupID, &ids[1]) {
			t.Errorf("User(keep).SecurityGroupID after deleting another group = %v, %v, want %d", u.SecurityGroupID, err, ids[1])
		}
		if c, err := db.Caller(ctx, s, t0); err != nil || len(c.Rights) != 0 || c.Can(roster.RightEmployeeUpdate) {
			t.Errorf("Caller(sub) after DeleteGroup = %+v, %v, want a live session without rights", c, err)
		}
		if list, _ := db.Groups(ctx, ann); len(list) != 1 || list[0].ID != ids[1] {
			t.Errorf("Groups() after DeleteGroup = %+v, want only %d", list, ids[1])
		}
		wantErr(t, "DeleteGroup(again)", db.DeleteGroup(ctx, ann, ids[0]), roster.ErrNotFound)
	})
}

// TestTenantIsolation: every call given another account's id answers
// ErrNotFound, exactly as for an id that does not exist, and changes
// nothing.
func TestTenantIsolation(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann, bob := newMaster(t, db, "ann"), newMaster(t, db, "bob")
		// Bob's things, which Ann must not reach.
		bGroup := newGroup(t, db, bob, "bob's group", roster.RightEmployeeUpdate)
		bSub := newSubUser(t, db, bob, "bob.sub", &bGroup)
		bSession := newSession(t, db, bSub)
		bDept := newDepartment(t, db, bob, "bob's department")
		bEmp := newEmployee(t, db, bob, roster.Employee{FirstName: "Bobby", TrackerID: ptr(int64(5)), DepartmentID: &bDept})
		if _, err := db.SetAvatar(ctx, EmployeeAvatars, bob, bEmp, "bobby.png"); err != nil {
			t.Fatal(err)
		}
		bTag := newTags(t, db, bob, 1)[0]
		if _, err := db.SetAvatar(ctx, TagAvatars, bob, bTag, "bobtag.png"); err != nil {
			t.Fatal(err)
		}
		// Ann's own, to aim Bob's ids from.
		aSub := newSubUser(t, db, ann, "ann.sub", nil)
		aEmp := newEmployee(t, db, ann, roster.Employee{FirstName: "Annie"})

		calls := []struct {
			name string
			call func() error
		}{
			{"UpdateSubUser(bob's sub-user)", func() error {
				return db.UpdateSubUser(ctx, ann, roster.User{ID: bSub, Login: "stolen", Activated: false})
			}},
			{"DeleteSubUser(bob's sub-user)", func() error { return db.DeleteSubUser(ctx, ann, bSub) }},
			{"DeleteSubUser(bob)", func() error { return db.DeleteSubUser(ctx, ann, bob) }},
			{"CreateSubUser(in bob's group)", func() error {
				_, err := db.CreateSubUser(ctx, ann, roster.User{Login: "new", Activated: true, SecurityGroupID: &bGroup}, "h", t0)
				return err
			}},
			{"UpdateSubUser(own, into bob's group)", func() error {
				return db.UpdateSubUser(ctx, ann, roster.User{ID: aSub, Login: "ann.sub", Activated: true, SecurityGroupID: &bGroup})
			}},
			{"UpdateGroup(bob's group)", func() error {
				return db.UpdateGroup(ctx, ann, roster.SecurityGroup{ID: bGroup, Label: "stolen"})
			}},
			{"DeleteGroup(bob's group)", func() error { return db.DeleteGroup(ctx, ann, bGroup) }},
			{"Employee(bob's employee)", func() error {
				_, err := db.Employee(ctx, ann, bEmp)
				return err
			}},
			{"UpdateEmployee(bob's employee)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: bEmp, FirstName: "stolen"})
			}},
			{"DeleteEmployee(bob's employee)", func() error {
				_, err := db.DeleteEmployee(ctx, ann, bEmp)
				return err
			}},
			{"SetIcon(bob's employee)", func() error { return db.SetIcon(ctx, EmployeeAvatars, ann, bEmp, ptr(int64(3))) }},
			{"SetIcon(bob's employee, null)", func() error { return db.SetIcon(ctx, EmployeeAvatars, ann, bEmp, nil) }},
			{"SetAvatar(bob's employee)", func() error {
				_, err := db.SetAvatar(ctx, EmployeeAvatars, ann, bEmp, "stolen.png")
				return err
			}},
			{"CreateEmployee(in bob's department)", func() error {
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "x", DepartmentID: &bDept})
				return err
			}},
			{"UpdateEmployee(own, into bob's department)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: aEmp, FirstName: "x", DepartmentID: &bDept})
			}},
			{"UpdateDepartment(bob's department)", func() error {
				return db.UpdateDepartment(ctx, ann, roster.Department{ID: bDept, Label: "stolen"})
			}},
			{"DeleteDepartment(bob's department)", func() error { return db.DeleteDepartment(ctx, ann, bDept) }},
			{"UpdateTag(bob's tag)", func() error { return db.UpdateTag(ctx, ann, roster.Tag{ID: bTag, Name: "stolen", Color: "000000"}) }},
			{"DeleteTags(bob's tag)", func() error {
				_, err := db.DeleteTags(ctx, ann, []int64{bTag}, true)
				return err
			}},
			{"SetIcon(bob's tag)", func() error { return db.SetIcon(ctx, TagAvatars, ann, bTag, ptr(int64(3))) }},
			{"SetAvatar(bob's tag)", func() error {
				_, err := db.SetAvatar(ctx, TagAvatars, ann, bTag, "stolen.png")
				return err
			}},
			{"AvatarOwnerExists(bob's tag)", func() error { return db.AvatarOwnerExists(ctx, TagAvatars, ann, bTag) }},
			{"CreateEmployee(with bob's tag)", func() error {
				_, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "x", Tags: []int64{bTag}})
				return err
			}},
			{"UpdateEmployee(own, with bob's tag)", func() error {
				return db.UpdateEmployee(ctx, ann, roster.Employee{ID: aEmp, FirstName: "x", Tags: []int64{bTag}})
			}},
		}
		for _, tt := range calls {
			before := dump(t, db)
			wantErr(t, tt.name, tt.call(), roster.ErrNotFound)
			if after := dump(t, db); after != before {
				t.Errorf("%s changed the database:\n%s\nwant\n%s", tt.name, after, before)
			}
		}
		if !live(t, db, bSession, t0) {
			t.Errorf("bob's sub-user's session ended by ann's calls")
		}

		// Lists show only the account's own.
		if l, err := db.SubUsers(ctx, ann); err != nil || len(l) != 1 || l[0].ID != aSub {
			t.Errorf("SubUsers(ann) = %+v, %v, want only %d", l, err, aSub)
		}
		if l, err := db.Groups(ctx, ann); err != nil || len(l) != 0 {
			t.Errorf("Groups(ann) = %+v, %v, want none", l, err)
		}
		if l, err := db.Departments(ctx, ann); err != nil || len(l) != 0 {
			t.Errorf("Departments(ann) = %+v, %v, want none", l, err)
		}
		if l, n, err := db.Employees(ctx, ann, roster.ListQuery{}); err != nil || n != 1 || len(l) != 1 || l[0].ID != aEmp {
			t.Errorf("Employees(ann) = %+v, %d, %v, want only %d", l, n, err, aEmp)
		}
		if l, n, err := db.Employees(ctx, ann, roster.ListQuery{Filter: "bobby"}); err != nil || n != 0 || len(l) != 0 {
			t.Errorf("Employees(ann, filter bobby) = %+v, %d, %v, want none", l, n, err)
		}
		// A tracker id is unique per account, not across accounts.
		if _, err := db.CreateEmployee(ctx, ann, roster.Employee{FirstName: "tracked", TrackerID: ptr(int64(5))}); err != nil {
			t.Errorf("CreateEmployee(ann, tracker 5 of bob's) = %v, want nil", err)
		}
	})
}

func TestIntegrityCheck(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ann := newMaster(t, db, "ann")
		d := newDepartment(t, db, ann, "d")
		newEmployee(t, db, ann, roster.Employee{FirstName: "e", DepartmentID: &d})
		newSession(t, db, ann)
		wantErr(t, "IntegrityCheck()", db.IntegrityCheck(ctx), nil)
		if db.Postgres() {
			return
		}
		// A row that breaks a foreign key, slipped past the checks on a
		// connection of its own, is found.
		conn, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, q := range []string{`PRAGMA foreign_keys = OFF`,
			`INSERT INTO employees (account_id, first_name, department_id) VALUES (999, 'orphan', 999)`} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := db.IntegrityCheck(ctx); err == nil {
			t.Errorf("IntegrityCheck() with an orphan row = nil, want an error")
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM employees WHERE account_id = 999`); err != nil {
			t.Fatal(err)
		}
		// The connection must not go back to the pool with checks off.
		conn.Raw(func(any) error { return driver.ErrBadConn })
	})
}

// TestSubUserFieldsMigration: a database from before 0007 (the migration
// undone: its columns dropped and its version forgotten) migrates, and its
// users and groups read as before plus the defaults of the new fields.
func TestSubUserFieldsMigration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		url := b.url(t)
		db := openDB(t, url)
		ann := newMaster(t, db, "ann")
		g := newGroup(t, db, ann, "drivers", roster.RightEmployeeUpdate)
		sub := newSubUser(t, db, ann, "legacy-login", &g)
		for _, c := range roster.DetailColumns {
			if _, err := db.sql.ExecContext(ctx, `ALTER TABLE users DROP COLUMN `+c); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{`ALTER TABLE security_groups DROP COLUMN store_period`,
			`DELETE FROM schema_migrations WHERE version = '0007_subuser_fields'`} {
			if _, err := db.sql.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		db = openDB(t, url)
		if applied, files := migrationCount(t, db); applied != files {
			t.Errorf("%d migrations recorded, want %d", applied, files)
		}
		want := roster.User{ID: sub, MasterID: ann, Login: "legacy-login", FirstName: "Sub", Activated: true,
			SecurityGroupID: &g, CreatedAt: t0, Details: roster.UserDetails{LegalType: roster.DefaultLegalType}}
		if list, err := db.SubUsers(ctx, ann); err != nil || len(list) != 1 || !equalUser(list[0], want) {
			t.Errorf("SubUsers() after migrating = %+v, %v, want [%+v]", list, err, want)
		}
		if u, err := db.User(ctx, ann); err != nil || u.Details != (roster.UserDetails{LegalType: roster.DefaultLegalType}) {
			t.Errorf("User(master) after migrating = %+v, %v, want legal type individual", u, err)
		}
		if list, err := db.Groups(ctx, ann); err != nil || len(list) != 1 || list[0].StorePeriod != "" ||
			fmt.Sprint(list[0].Rights) != "[employee_update]" {
			t.Errorf("Groups() after migrating = %+v, %v, want drivers [employee_update] without a store period", list, err)
		}
	})
}
