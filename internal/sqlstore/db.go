// Package sqlstore keeps Roster's data in SQLite (embedded, the default) or
// PostgreSQL (for many nodes). One concrete DB serves both: the SQL text is
// shared, with $N placeholders that both drivers accept; only the schema
// migrations and a few fragments differ per dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrations embed.FS

type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

// DB is Roster's database.
type DB struct {
	sql     *sql.DB
	dialect dialect
	path    string // SQLite's file

	// stmts are prepared statements by query text, made on first use: SQLite
	// spends a third of a simple read parsing its SQL otherwise.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	rights rightSets // security groups' rights, parsed

	// On PostgreSQL, whether the filter's trigram index exists (trigramErr
	// says why not), and whether pg_trgm takes letters beyond ASCII as
	// parts of words, which depends on the server's locale.
	trigram, trigramUnicode bool
	trigramErr              error
	// filterScanRows and filterMatches, but in tests.
	filterScanRows, filterMatches int
	grams                         trigramCounts
	// placeholders: how many tags migration 0008 made (PlaceholderTags).
	placeholders int
}

// Open connects to the database named by rawURL — "sqlite:<path>" or
// "postgres://..." (also "postgresql://") — and applies pending migrations.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	var db *DB
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		if path == "" {
			return nil, errors.New("sqlite: empty path")
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
		}
		// WAL lets readers run beside the writer; synchronous=FULL makes a
		// commit durable across power loss, not only process death;
		// _txlock=immediate takes the write lock at BEGIN, so two writers
		// queue on busy_timeout instead of failing on lock upgrade.
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		s, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		s.SetMaxOpenConns(max(4, 2*runtime.NumCPU()))
		s.SetMaxIdleConns(max(4, 2*runtime.NumCPU()))
		db = &DB{sql: s, dialect: dialectSQLite, path: path, filterScanRows: filterScanRows, filterMatches: filterMatches}
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		s, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		s.SetMaxOpenConns(max(8, 4*runtime.NumCPU()))
		s.SetMaxIdleConns(max(8, 4*runtime.NumCPU()))
		db = &DB{sql: s, dialect: dialectPostgres, filterScanRows: filterScanRows, filterMatches: filterMatches}
	default:
		return nil, fmt.Errorf("database URL %q: want sqlite:<path> or postgres://...", redact(rawURL))
	}
	if err := db.migrate(ctx); err != nil {
		db.sql.Close()
		return nil, err
	}
	return db, nil
}

// redact drops a password from a URL before it is shown.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Close closes the database.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	return db.sql.Close()
}

// prepared returns the prepared statement of a query, preparing it once.
// Only fixed query texts come here (a bounded set), never texts that vary
// with their arguments.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = st
	return st, nil
}

// queryRow, query and exec run a query outside a transaction through its
// prepared statement.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := db.prepared(ctx, query)
	if err != nil {
		// The same query unprepared carries the error to Scan.
		return db.sql.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := db.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := db.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.sql.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Postgres reports whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.dialect == dialectPostgres }

// A migration is one SQL file per dialect in migrations/, named by its
// version, and what the store does beside it in Go. steps lists every
// migration in order; Open refuses to run when the files and the list do
// not match (a file missing, renamed or not listed), rather than skip a
// step.
type step struct {
	version string
	// before runs, in the migration's transaction, before its SQL; an
	// error stops the migration with nothing changed.
	before migrateFunc
	// after runs after its SQL.
	after migrateFunc
	// refill names derived columns of employees this migration adds or
	// changes the meaning of. They are recomputed once, from the final
	// schema, after every pending migration has run (the code that
	// computes them knows only that schema).
	refill refill
}

// migrateFunc is a Go step of a migration, given the database for its
// dialect.
type migrateFunc func(*DB, context.Context, *sql.Tx) error

// anyDialect is a Go step that is the same on both dialects.
func anyDialect(f func(context.Context, *sql.Tx) error) migrateFunc {
	return func(_ *DB, ctx context.Context, tx *sql.Tx) error { return f(ctx, tx) }
}

// refill is a set of derived columns of employees.
type refill uint8

const (
	refillSearch refill = 1 << iota // employees.search
	refillWire                      // employees.wire_head and wire_tail
)

var steps = []step{
	{version: "0001_init"},
	{version: "0002_employee_search", refill: refillSearch},
	{version: "0003_api_keys"},
	{version: "0004_employee_wire", after: anyDialect(recount), refill: refillWire},
	{version: "0005_employee_fields", before: anyDialect(refuseDuplicateKeys), refill: refillWire},
	{version: "0006_employee_sort", refill: refillSearch},
	{version: "0007_subuser_fields"},
	{version: "0008_tags", after: (*DB).placeholderTags, refill: refillWire},
	{version: "0009_imports"},
}

// refills are the Go steps of each derived column set, in the order they
// run.
var refills = []struct {
	set  refill
	fill func(context.Context, *sql.Tx) error
}{
	{refillSearch, fillSearch},
	{refillWire, fillWire},
}

// recount sets every account's employee count from its rows.
func recount(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, recountEmployees)
	return err
}

// checkSteps matches the migration files of a dialect (their paths) with
// steps: the same versions, in the same order.
func checkSteps(names []string) error {
	versions := make([]string, len(names))
	for i, name := range names {
		versions[i] = strings.TrimSuffix(filepath.Base(name), ".sql")
	}
	sort.Strings(versions)
	for i, st := range steps {
		switch {
		case i >= len(versions):
			return fmt.Errorf("migration %s has no SQL file", st.version)
		case versions[i] != st.version:
			if slices.Contains(versions, st.version) {
				return fmt.Errorf("migration file %s is not listed in steps", versions[i])
			}
			return fmt.Errorf("migration %s has no SQL file (found %s in its place)", st.version, versions[i])
		}
	}
	if len(versions) > len(steps) {
		return fmt.Errorf("migration file %s is not listed in steps", versions[len(steps)])
	}
	return nil
}

func (db *DB) migrate(ctx context.Context) error {
	dir := "migrations/sqlite"
	if db.dialect == dialectPostgres {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(migrations, dir+"/*.sql")
	if err != nil {
		return err
	}
	if err := checkSteps(names); err != nil {
		return fmt.Errorf("migrate: %s: %w", dir, err)
	}
	// One transaction for the whole migration: on PostgreSQL DDL is
	// transactional and an advisory lock makes nodes that start together
	// wait for the first; on SQLite BEGIN IMMEDIATE does the same.
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == dialectPostgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7512303)`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx,
			`CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
			return err
		}
		if err := refuseNewer(ctx, tx); err != nil {
			return err
		}
		var pending refill
		for _, st := range steps {
			var n int
			if err := tx.QueryRowContext(ctx,
				`SELECT count(*) FROM schema_migrations WHERE version = $1`, st.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			body, err := migrations.ReadFile(dir + "/" + st.version + ".sql")
			if err != nil {
				return err
			}
			for _, f := range []migrateFunc{st.before, anyDialect(execSQL(string(body))), st.after} {
				if f == nil {
					continue
				}
				if err := f(db, ctx, tx); err != nil {
					return fmt.Errorf("%s: %w", st.version, err)
				}
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version) VALUES ($1)`, st.version); err != nil {
				return err
			}
			pending |= st.refill
		}
		for _, r := range refills {
			if pending&r.set != 0 {
				if err := r.fill(ctx, tx); err != nil {
					return fmt.Errorf("recomputing derived columns: %w", err)
				}
			}
		}
		if db.dialect == dialectPostgres {
			return db.trigramIndex(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func execSQL(body string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, body)
		return err
	}
}

// trigramIndexName is the filter's trigram index on PostgreSQL.
const trigramIndexName = "employees_haystack_trgm"

// trigramIndex makes the filter's trigram index on PostgreSQL when it is
// missing, each time the database is opened: pg_trgm may be installed
// after the migrations ran. It creates the extension (in the schema
// public, so that dropping Roster's schema leaves other users of it alone;
// otherwise in Roster's schema), which needs the right to (pg_trgm is a
// trusted extension: the database's owner has it). Where the extension
// cannot be had, the filter reads the account's rows and FilterIndex says
// why; nothing else changes.
func (db *DB) trigramIndex(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pg_indexes
		WHERE schemaname = current_schema() AND indexname = $1`, trigramIndexName).Scan(&n); err != nil {
		return err
	}
	// try runs a statement that may fail without failing the migration.
	try := func(stmt string) error {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT trigram`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, stmt)
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT trigram`); rerr != nil {
				return rerr
			}
			return err
		}
		_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT trigram`)
		return err
	}
	if n == 0 {
		if err := try(`CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public`); err != nil {
			if err := try(`CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
				db.trigramErr = fmt.Errorf("the PostgreSQL extension pg_trgm is not installed and cannot be created here (%v)", err)
				return nil
			}
		}
	}
	var schema string
	if err := tx.QueryRowContext(ctx, `SELECT n.nspname FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'`).Scan(&schema); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			db.trigramErr = errors.New("the trigram index exists but the extension pg_trgm does not")
			return nil
		}
		return err
	}
	schema = `"` + strings.ReplaceAll(schema, `"`, `""`) + `"`
	if n == 0 {
		if _, err := tx.ExecContext(ctx, `CREATE INDEX `+trigramIndexName+` ON employees
			USING gin (`+haystack+` `+schema+`.gin_trgm_ops)`); err != nil {
			return fmt.Errorf("creating the trigram index: %w", err)
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT cardinality(`+schema+`.show_trgm('ωωω')) > 0`).Scan(&db.trigramUnicode); err != nil {
		return err
	}
	db.trigram = true
	return nil
}

// FilterIndex reports why employee/list's filter has no trigram index to
// read, if it has none: then every filter reads the account's rows.
func (db *DB) FilterIndex() error { return db.trigramErr }

// refuseNewer fails when a newer Roster has migrated the database: this
// one would not keep what the newer schema derives from the rows (stored
// JSON, counts), and its writes would leave them wrong for the newer nodes.
func refuseNewer(ctx context.Context, tx *sql.Tx) error {
	known := map[string]bool{}
	for _, st := range steps {
		known[st.version] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		if !known[v] {
			return fmt.Errorf("%w: it has schema version %s, which this Roster does not know", ErrNewerSchema, v)
		}
	}
	return rows.Err()
}

// ErrNewerSchema: the database was migrated by a newer Roster.
var ErrNewerSchema = errors.New("the database was made by a newer Roster; run that version")

// tx runs fn in a transaction, committing when fn returns nil.
func (db *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isUnique reports whether err is a violation of a unique constraint.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// isUniqueOn reports whether err is a violation of a unique index of
// employees over column: SQLite names the index's columns, PostgreSQL the
// index (named after its column, or the constraint PostgreSQL named after
// its columns).
func isUniqueOn(err error, column string) bool {
	if !isUnique(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.Contains(pe.ConstraintName, column)
	}
	return strings.Contains(err.Error(), "employees."+column)
}

// isForeignKey reports whether err is a violation of a foreign key: the
// row an id named was deleted after it was checked and before the write,
// by a transaction that committed in between (PostgreSQL; SQLite runs one
// writer at a time).
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return false
}

// IntegrityCheck runs the database's own consistency check (SQLite's
// integrity_check and foreign_key_check); PostgreSQL guarantees these itself.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if db.dialect != dialectSQLite {
		return db.Ping(ctx)
	}
	var res string
	if err := db.sql.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("integrity_check: %s", res)
	}
	rows, err := db.sql.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		return errors.New("foreign_key_check found violations")
	}
	return rows.Err()
}
