// Command seed fills a Roster database for the scale benchmarks: one big
// account with many employees and many small accounts with a few each. The
// schema comes from sqlstore.Open (its migrations) and the sessions from
// sqlstore; the rows themselves go in as multi-row INSERTs in large
// transactions, because one transaction a row (what the API does) would
// take minutes on SQLite with synchronous=FULL.
//
//	seed -db sqlite:/tmp/x/roster.db -big 100000 -accounts 10000 -per 3 -key-big HEX -key-small HEX
//	seed -db 'postgres://...&search_path=bench_x' -create-schema bench_x ...
//	seed -db 'postgres://...' -drop-schema bench_x
//
// It prints one JSON object: the ids the benchmarks need.
package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"roster/internal/roster"
	"roster/internal/sqlstore"
)

type result struct {
	BigAccount   int64   `json:"big_account"`
	SmallAccount int64   `json:"small_account"`
	BigIDs       []int64 `json:"big_ids"`   // first, middle and last employee of the big account
	SmallID      int64   `json:"small_id"`  // an employee of the small account
	Employees    int     `json:"employees"` // rows inserted
	Accounts     int     `json:"accounts"`
	Seconds      float64 `json:"seconds"`
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func main() {
	dbURL := flag.String("db", "", "sqlite:<path> or postgres://... (with search_path=<schema> for a dedicated schema)")
	big := flag.Int("big", 100000, "employees of the big account")
	accounts := flag.Int("accounts", 10000, "small accounts")
	per := flag.Int("per", 3, "employees of each small account")
	keyBig := flag.String("key-big", "", "session key (32 hex) to create for the big account")
	keySmall := flag.String("key-small", "", "session key (32 hex) to create for one small account")
	createSchema := flag.String("create-schema", "", "PostgreSQL: create this schema first")
	dropSchema := flag.String("drop-schema", "", "PostgreSQL: drop this schema (and everything in it) and exit")
	importFloor := flag.Int("import-floor", 0, "insert this many import-shaped employees (importRow) into a new account with plain multi-row INSERTs, print the seconds and exit: the import's floor")
	importCSV := flag.Int("import-csv", 0, "write the CSV of this many import-shaped employees to stdout and exit")
	migrateOnly := flag.Bool("migrate-only", false, "create the schema (with -create-schema), migrate and exit")
	flag.Parse()
	if *importCSV > 0 {
		if err := writeImportCSV(os.Stdout, *importCSV); err != nil {
			fmt.Fprintln(os.Stderr, "seed:", err)
			os.Exit(1)
		}
		return
	}
	if *importFloor > 0 || *migrateOnly {
		if err := runImportFloor(context.Background(), *dbURL, *createSchema, *importFloor); err != nil {
			fmt.Fprintln(os.Stderr, "seed:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), *dbURL, *big, *accounts, *per, *keyBig, *keySmall, *createSchema, *dropSchema); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dbURL string, big, accounts, per int, keyBig, keySmall, createSchema, dropSchema string) error {
	postgres := strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://")
	if err := schema(ctx, dbURL, createSchema, dropSchema); err != nil || dropSchema != "" {
		return err
	}
	for _, k := range []string{keyBig, keySmall} {
		if !roster.ValidKey(k) {
			return fmt.Errorf("session key %q: want 32 hex characters", k)
		}
	}
	start := time.Now()
	db, raw, err := open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	defer raw.Close()

	// One password hash for every account: nobody signs in with them.
	hash, err := roster.HashPassword(roster.RandomPassword())
	if err != nil {
		return err
	}
	now := time.Now()
	logins := make([][]any, 0, accounts+1)
	logins = append(logins, []any{"bench-big", hash, "Big", now.Unix()})
	for i := range accounts {
		logins = append(logins, []any{fmt.Sprintf("bench-small-%05d", i), hash, "Small", now.Unix()})
	}
	ids, err := insert(ctx, raw, "users", []string{"login", "password_hash", "first_name", "created_at"}, logins)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	res := result{BigAccount: ids[0], SmallAccount: ids[1+accounts/2], Accounts: accounts + 1}

	// The big account's departments, which most of its employees are in.
	var deptRows [][]any
	for i := range departments {
		deptRows = append(deptRows, []any{ids[0], departmentLabel(i)})
	}
	depts, err := insert(ctx, raw, "departments", []string{"account_id", "label"}, deptRows)
	if err != nil {
		return fmt.Errorf("departments: %w", err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var rows [][]any
	var cols []string
	add := func(account int64, i int, depts []int64) error {
		e, label := employee(rng, i, depts)
		c, vals, err := sqlstore.EmployeeRow(e, label)
		cols = append([]string{"account_id"}, c...)
		rows = append(rows, append([]any{account}, vals...))
		return err
	}
	for i := range big {
		if err := add(ids[0], i, depts); err != nil {
			return err
		}
	}
	for a := range accounts {
		for i := range per {
			if err := add(ids[1+a], i, nil); err != nil {
				return err
			}
		}
	}
	eids, err := insert(ctx, raw, "employees", cols, rows)
	if err != nil {
		return fmt.Errorf("employees: %w", err)
	}
	res.Employees = len(eids)
	if err := db.RecountEmployees(ctx); err != nil {
		return err
	}
	// What the server's maintenance does at its start.
	if err := db.TidyFilterIndex(ctx); err != nil {
		return err
	}
	if big > 0 {
		res.BigIDs = []int64{eids[0], eids[big/2], eids[big-1]}
	}
	if per > 0 && accounts > 0 {
		res.SmallID = eids[big+(accounts/2)*per]
	}
	if postgres {
		// What autovacuum would have done by the time such an account is
		// read: statistics, and the visibility map that index-only scans
		// (count(*) of an account) need.
		for _, t := range []string{"users", "employees"} {
			if _, err := raw.ExecContext(ctx, "VACUUM ANALYZE "+t); err != nil {
				return err
			}
		}
	}

	exp := now.Add(30 * 24 * time.Hour)
	if err := db.CreateSession(ctx, res.BigAccount, roster.KeyDigest(keyBig), now, exp); err != nil {
		return err
	}
	if err := db.CreateSession(ctx, res.SmallAccount, roster.KeyDigest(keySmall), now, exp); err != nil {
		return err
	}
	// Read back through the store, as the server will.
	if _, n, err := db.Employees(ctx, res.BigAccount, roster.ListQuery{Limit: 1}); err != nil || n != big {
		return fmt.Errorf("big account has %d employees, want %d (%v)", n, big, err)
	}
	res.Seconds = time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// schema creates or drops a PostgreSQL schema, when one is named.
func schema(ctx context.Context, dbURL, createSchema, dropSchema string) error {
	if createSchema == "" && dropSchema == "" {
		return nil
	}
	postgres := strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://")
	name := createSchema + dropSchema
	if !postgres || !schemaName.MatchString(name) {
		return fmt.Errorf("schema %q: want a PostgreSQL URL and a plain lower-case name", name)
	}
	raw, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	defer raw.Close()
	stmt := "CREATE SCHEMA " + name
	if dropSchema != "" {
		stmt = "DROP SCHEMA IF EXISTS " + name + " CASCADE"
	}
	_, err = raw.ExecContext(ctx, stmt)
	return err
}

// open opens the store (its migrations make the schema exactly the
// server's) and a plain connection beside it for the multi-row INSERTs.
func open(ctx context.Context, dbURL string) (*sqlstore.DB, *sql.DB, error) {
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return nil, nil, err
	}
	var raw *sql.DB
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		raw, err = sql.Open("pgx", dbURL)
	} else {
		raw, err = sql.Open("sqlite", "file:"+strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")+
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	raw.SetMaxOpenConns(1)
	return db, raw, nil
}

// importRow is the i-th employee of the import benchmark: the fields a
// driver's spreadsheet has, a hardware key and a location of its own.
func importRow(i int) []string {
	return []string{fmt.Sprintf("Imp%06d", i), lastNames[i%len(lastNames)], fmt.Sprintf("imp%06d@example.com", i),
		fmt.Sprintf("49151%08d", i), fmt.Sprintf("HK%07d", i), fmt.Sprintf("P%06d", i),
		"Somewhere street " + fmt.Sprint(i%300), fmt.Sprintf("%.6f", 48.1+float64(i%1000)/1000), fmt.Sprintf("%.6f", 11.5+float64(i%997)/1000)}
}

// ImportHeaders are importRow's columns, as employee/import/start names them.
var importHeaders = []string{"first_name", "last_name", "email", "phone", "hardware_key", "personnel_number", "address", "lat", "lng"}

func writeImportCSV(w io.Writer, n int) error {
	cw := csv.NewWriter(w)
	cw.Write(importHeaders)
	for i := range n {
		cw.Write(importRow(i))
	}
	cw.Flush()
	return cw.Error()
}

// runImportFloor inserts n employees of importRow, as the import makes them
// (radius 100), into a new account with plain multi-row INSERTs, and prints
// the seconds the rows took from their values to their commit.
func runImportFloor(ctx context.Context, dbURL, createSchema string, n int) error {
	if err := schema(ctx, dbURL, createSchema, ""); err != nil {
		return err
	}
	db, raw, err := open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	defer raw.Close()
	if n == 0 {
		return nil
	}
	ids, err := insert(ctx, raw, "users", []string{"login", "password_hash", "first_name", "created_at"},
		[][]any{{"bench-import-floor", "x", "Floor", time.Now().Unix()}})
	if err != nil {
		return err
	}
	start := time.Now()
	var cols []string
	rows := make([][]any, 0, n)
	for i := range n {
		r := importRow(i)
		var lat, lng float64
		fmt.Sscan(r[7], &lat)
		fmt.Sscan(r[8], &lng)
		e := roster.Employee{FirstName: r[0], LastName: r[1], Email: r[2], Phone: r[3], HardwareKey: &r[4], PersonnelNumber: r[5],
			Location: &roster.Location{Address: r[6], Lat: lat, Lng: lng, Radius: 100}, Tags: []int64{}}
		c, vals, err := sqlstore.EmployeeRow(e, nil)
		if err != nil {
			return err
		}
		cols = append([]string{"account_id"}, c...)
		rows = append(rows, append([]any{ids[0]}, vals...))
	}
	if _, err := insert(ctx, raw, "employees", cols, rows); err != nil {
		return err
	}
	if _, err := raw.ExecContext(ctx, `UPDATE users SET employee_count = $1 WHERE id = $2`, n, ids[0]); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{"seconds": time.Since(start).Seconds()})
}

var lastNames = []string{"Lee", "Smith", "Novak", "García", "Müller", "Rossi", "Kowalski", "Ivanova", "Tanaka", "Okafor"}

// departments is how many departments the big account has.
const departments = 40

func departmentLabel(i int) string {
	return fmt.Sprintf("%s %02d", []string{"Depot", "Workshop", "Office", "Fleet"}[i%4], i)
}

// employee is the i-th employee of an account: every sortable property set
// for most employees, with values that repeat (ties) and nulls, in the
// first of depts or none when there are none.
func employee(rng *rand.Rand, i int, depts []int64) (roster.Employee, *string) {
	e := roster.Employee{FirstName: fmt.Sprintf("Emp%06d", i), LastName: lastNames[rng.IntN(len(lastNames))],
		Email: fmt.Sprintf("emp%06d@example.com", i), Phone: fmt.Sprintf("49151%08d", rng.IntN(100_000_000)),
		DriverLicenseNumber: fmt.Sprintf("DL%08d", i), DriverLicenseCats: []string{"B", "B,C", "A,B", "C,CE"}[i%4],
		DriverLicenseValidTill: ptr(fmt.Sprintf("20%02d-%02d-28", 26+rng.IntN(10), 1+rng.IntN(12))),
		Location: &roster.Location{Lat: 48.1 + rng.Float64(), Lng: 11.5 + rng.Float64(),
			Address: "Somewhere street " + fmt.Sprint(i%300)},
		// No tags: employees carry only their account's, and the seed
		// makes none.
		PersonnelNumber: fmt.Sprintf("P%06d", i)}
	if i%2 == 0 {
		e.TrackerID = ptr(int64(1_000_000 + i))
	}
	if i%3 != 0 {
		e.HardwareKey = ptr(fmt.Sprintf("%08x-%d", rng.Uint32(), i))
	}
	if i%4 != 0 {
		e.SSN = fmt.Sprintf("%03d-%02d-%04d", rng.IntN(900), rng.IntN(100), rng.IntN(10000))
	}
	if i%10 == 9 {
		e.DriverLicenseValidTill, e.Location = nil, nil
	}
	if len(depts) == 0 || i%10 == 0 {
		return e, nil
	}
	d := rng.IntN(len(depts))
	e.DepartmentID = &depts[d]
	label := departmentLabel(d)
	return e, &label
}

func ptr[T any](v T) *T { return &v }

// insert adds rows in multi-row INSERTs, many to a transaction, and
// returns the new ids in order.
func insert(ctx context.Context, db *sql.DB, table string, cols []string, rows [][]any) ([]int64, error) {
	// Statements of a few hundred parameters on SQLite: binding cost grows
	// faster than linearly with the parameter count in its driver. On
	// PostgreSQL as many rows as its 65,535 parameters allow: each
	// statement is a round trip.
	perStmt := 64
	if _, pg := db.Driver().(*stdlib.Driver); pg {
		perStmt = 65535 / len(cols)
	}
	const perTx = 20000
	ids := make([]int64, 0, len(rows))
	for txStart := 0; txStart < len(rows); txStart += perTx {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		for s := txStart; s < min(txStart+perTx, len(rows)); s += perStmt {
			chunk := rows[s:min(s+perStmt, txStart+perTx, len(rows))]
			var b strings.Builder
			args := make([]any, 0, len(chunk)*len(cols))
			b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
			for r, row := range chunk {
				if r > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('(')
				for c := range row {
					if c > 0 {
						b.WriteString(", ")
					}
					args = append(args, row[c])
					fmt.Fprintf(&b, "$%d", len(args))
				}
				b.WriteByte(')')
			}
			b.WriteString(" RETURNING id")
			got, err := queryIDs(ctx, tx, b.String(), args)
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			ids = append(ids, got...)
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func queryIDs(ctx context.Context, tx *sql.Tx, query string, args []any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
