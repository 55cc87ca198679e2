package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNotEmpty is returned by Copy and CopyTarget for a target database that
// holds data no unfinished copy left there.
var ErrNotEmpty = errors.New("target database is not empty")

// copyMarker is a table that exists in a target database from the start of
// a copy until FinishCopy: it tells an interrupted copy's rows, which a new
// run may replace, from an installation's own data, which it must not.
const copyMarker = "unfinished_copy"

// Copy reads the tables, their columns and their foreign keys from the
// schema rather than from a list kept here, so a table or column a
// migration adds is copied without changes to this file.

// copyKind is how a column's values are read, written and compared, the
// same on both dialects.
type copyKind int

const (
	copyInt copyKind = iota + 1
	copyText
	copyReal
	copyBool
	copyBytes
)

type copyColumn struct {
	name string
	kind copyKind
}

// copyTable is one table of the schema as Copy sees it.
type copyTable struct {
	name    string
	columns []copyColumn
	// key are the primary key's columns: rows are read in key order on
	// both sides, which puts a sub-user after its master (ids only grow).
	key []string
	// parents are the other tables this one references.
	parents []string
	// serial: the key is an id taken from a sequence (PostgreSQL identity,
	// SQLite AUTOINCREMENT), which the target must continue past the
	// source's.
	serial bool
}

// reader is what *sql.DB and *sql.Tx share for reading.
type reader interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// internalTable reports whether a table is bookkeeping, not data: also
// the tables of SQLite's trigram index of the filter, which a target fills
// from the rows copied into it.
func internalTable(name string) bool {
	return name == "schema_migrations" || name == copyMarker || strings.HasPrefix(name, "sqlite_") ||
		name == ftsTable || strings.HasPrefix(name, ftsTable+"_")
}

// queryStrings runs a query whose rows are one text column.
func queryStrings(ctx context.Context, q reader, query string, args ...any) ([]string, error) {
	return scanColumn[string](q.QueryContext(ctx, query, args...))
}

// scanColumn reads every row of a one-column result, as a query method
// returns it, and closes it.
func scanColumn[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

// tableNames lists the data tables of the schema, by name.
func (db *DB) tableNames(ctx context.Context, q reader) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if db.dialect == dialectPostgres {
		query = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	all, err := queryStrings(ctx, q, query)
	if err != nil {
		return nil, err
	}
	names := slices.DeleteFunc(all, internalTable)
	slices.Sort(names)
	return names, nil
}

// schema describes the data tables in an order that puts every table after
// the tables it references.
func (db *DB) schema(ctx context.Context, q reader) ([]copyTable, error) {
	names, err := db.tableNames(ctx, q)
	if err != nil {
		return nil, err
	}
	tables := make(map[string]copyTable, len(names))
	for _, name := range names {
		t, err := db.describe(ctx, q, name)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		tables[name] = t
	}
	// Depth-first topological order; names are sorted, so it is stable.
	var order []copyTable
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("tables reference each other in a cycle through %s", name)
		case 2:
			return nil
		}
		state[name] = 1
		t, ok := tables[name]
		if !ok {
			return fmt.Errorf("a table references %s, which is not in the schema", name)
		}
		for _, p := range t.parents {
			if err := visit(p); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, t)
		return nil
	}
	for _, name := range names {
		if err := visit(name); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// describe reads one table's columns, key, references and sequence.
func (db *DB) describe(ctx context.Context, q reader, name string) (copyTable, error) {
	t := copyTable{name: name}
	var rows *sql.Rows
	var err error
	if db.dialect == dialectPostgres {
		rows, err = q.QueryContext(ctx, `SELECT c.column_name, c.data_type,
			COALESCE((SELECT k.ordinal_position FROM information_schema.table_constraints tc
				JOIN information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name
					AND k.table_schema = tc.table_schema AND k.table_name = tc.table_name
				WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
					AND tc.table_name = c.table_name AND k.column_name = c.column_name), 0)
			FROM information_schema.columns c
			WHERE c.table_schema = current_schema() AND c.table_name = $1 AND c.is_generated <> 'ALWAYS'
			ORDER BY c.ordinal_position`, name)
	} else {
		// table_info leaves out generated columns, which take no value.
		rows, err = q.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid`, name)
	}
	if err != nil {
		return t, err
	}
	defer rows.Close()
	keyAt := map[int]string{}
	for rows.Next() {
		var col, typ string
		var pk int
		if err := rows.Scan(&col, &typ, &pk); err != nil {
			return t, err
		}
		k, ok := db.kindOf(typ)
		if !ok {
			return t, fmt.Errorf("column %s: type %q cannot be copied", col, typ)
		}
		t.columns = append(t.columns, copyColumn{col, k})
		if pk > 0 {
			keyAt[pk] = col
		}
	}
	if err := rows.Err(); err != nil {
		return t, err
	}
	for _, pos := range slices.Sorted(maps.Keys(keyAt)) {
		t.key = append(t.key, keyAt[pos])
	}
	if len(t.key) == 0 {
		return t, errors.New("no primary key")
	}

	var parents []string
	if db.dialect == dialectPostgres {
		parents, err = queryStrings(ctx, q, `SELECT DISTINCT p.relname FROM pg_constraint k
			JOIN pg_class c ON c.oid = k.conrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_class p ON p.oid = k.confrelid
			WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1`, name)
	} else {
		parents, err = queryStrings(ctx, q, `SELECT DISTINCT "table" FROM pragma_foreign_key_list($1)`, name)
	}
	if err != nil {
		return t, err
	}
	for _, p := range parents {
		if p != name && !slices.Contains(t.parents, p) {
			t.parents = append(t.parents, p)
		}
	}
	slices.Sort(t.parents)

	if len(t.key) == 1 {
		if db.dialect == dialectPostgres {
			var seq sql.NullString
			err = q.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, name, t.key[0]).Scan(&seq)
			t.serial = seq.Valid
		} else {
			var def string
			err = q.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1`, name).Scan(&def)
			t.serial = strings.Contains(strings.ToUpper(def), "AUTOINCREMENT")
		}
		if err != nil {
			return t, err
		}
	}
	return t, nil
}

// kindOf maps a declared column type to how it is copied: SQLite's
// affinity rules, PostgreSQL's information_schema names.
func (db *DB) kindOf(typ string) (copyKind, bool) {
	typ = strings.ToUpper(typ)
	if db.dialect == dialectPostgres {
		switch typ {
		case "BIGINT", "INTEGER", "SMALLINT":
			return copyInt, true
		case "TEXT", "CHARACTER VARYING", "CHARACTER":
			return copyText, true
		case "DOUBLE PRECISION", "REAL":
			return copyReal, true
		case "BOOLEAN":
			return copyBool, true
		case "BYTEA":
			return copyBytes, true
		}
		return 0, false
	}
	switch {
	case strings.Contains(typ, "BOOL"):
		return copyBool, true
	case strings.Contains(typ, "INT"):
		return copyInt, true
	case strings.Contains(typ, "CHAR"), strings.Contains(typ, "CLOB"), strings.Contains(typ, "TEXT"):
		return copyText, true
	case strings.Contains(typ, "BLOB"), typ == "":
		return copyBytes, true
	case strings.Contains(typ, "REAL"), strings.Contains(typ, "FLOA"), strings.Contains(typ, "DOUB"):
		return copyReal, true
	}
	return 0, false
}

// match checks that source and target have the same tables and columns and
// returns the target's tables with kinds both sides can hold: SQLite keeps
// booleans as integers, so a column that is boolean on either side is
// copied as a boolean.
func match(from, to []copyTable) ([]copyTable, error) {
	src := map[string]copyTable{}
	for _, t := range from {
		src[t.name] = t
	}
	if len(from) != len(to) {
		return nil, fmt.Errorf("the source has tables %s, the target %s: are both at the same version of Roster?",
			tableList(from), tableList(to))
	}
	out := make([]copyTable, 0, len(to))
	for _, t := range to {
		s, ok := src[t.name]
		if !ok {
			return nil, fmt.Errorf("the source has tables %s, the target %s: are both at the same version of Roster?",
				tableList(from), tableList(to))
		}
		kinds := map[string]copyKind{}
		for _, c := range s.columns {
			kinds[c.name] = c.kind
		}
		if len(s.columns) != len(t.columns) {
			return nil, fmt.Errorf("table %s has %d columns in the source and %d in the target", t.name, len(s.columns), len(t.columns))
		}
		t.columns = slices.Clone(t.columns)
		for i, c := range t.columns {
			k, ok := kinds[c.name]
			switch {
			case !ok:
				return nil, fmt.Errorf("table %s: column %s is not in the source", t.name, c.name)
			case k == copyBool || c.kind == copyBool:
				if (k != copyBool && k != copyInt) || (c.kind != copyBool && c.kind != copyInt) {
					return nil, fmt.Errorf("table %s: column %s has different types in source and target", t.name, c.name)
				}
				t.columns[i].kind = copyBool
			case k != c.kind:
				return nil, fmt.Errorf("table %s: column %s has different types in source and target", t.name, c.name)
			}
		}
		t.serial = t.serial && s.serial
		out = append(out, t)
	}
	return out, nil
}

func tableList(ts []copyTable) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	slices.Sort(names)
	return "(" + strings.Join(names, ", ") + ")"
}

// Counts counts the rows of every data table.
func (db *DB) Counts(ctx context.Context) (map[string]int64, error) {
	return db.counts(ctx, db.sql)
}

func (db *DB) counts(ctx context.Context, q reader) (map[string]int64, error) {
	names, err := db.tableNames(ctx, q)
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(names))
	for _, name := range names {
		var n int64
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting %s: %w", name, err)
		}
		m[name] = n
	}
	return m, nil
}

// CopyTarget reports whether db may receive a copy: it is empty, or it holds
// the rows of a copy that has not finished (resuming is then true).
// Otherwise the error matches ErrNotEmpty and says what the database holds.
func (db *DB) CopyTarget(ctx context.Context) (resuming bool, err error) {
	return db.copyTarget(ctx, db.sql)
}

func (db *DB) copyTarget(ctx context.Context, q reader) (bool, error) {
	if unfinished, err := db.copyUnfinished(ctx, q); err != nil || unfinished {
		return unfinished, err
	}
	m, err := db.counts(ctx, q)
	if err != nil {
		return false, err
	}
	var held []string
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if m[name] > 0 {
			held = append(held, fmt.Sprintf("%d %s", m[name], name))
		}
	}
	if len(held) > 0 {
		return false, fmt.Errorf("%w: it holds %s", ErrNotEmpty, strings.Join(held, ", "))
	}
	return false, nil
}

// CopyUnfinished reports whether db is the target of a roster copy that
// has not finished: neither a source nor a server may use it.
func (db *DB) CopyUnfinished(ctx context.Context) (bool, error) {
	return db.copyUnfinished(ctx, db.sql)
}

func (db *DB) copyUnfinished(ctx context.Context, q reader) (bool, error) {
	var n int
	var err error
	if db.dialect == dialectPostgres {
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, copyMarker).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
			WHERE type = 'table' AND name = $1`, copyMarker).Scan(&n)
	}
	return n > 0, err
}

// FinishCopy marks a copy into db as complete, once the caller has checked
// everything that came with it: from then on db is an installation of its
// own, and Copy refuses to write into it.
func (db *DB) FinishCopy(ctx context.Context) error {
	_, err := db.sql.ExecContext(ctx, `DROP TABLE IF EXISTS `+copyMarker)
	return err
}

// Copy copies every row of every table of from into to, keeping ids,
// password hashes and session digests, so that ids, sign-ins, session keys
// and avatar names keep working on to. Both must be at the same schema
// version. The target must be empty or hold an unfinished copy
// (ErrNotEmpty otherwise); it stays marked as an unfinished copy until
// FinishCopy.
//
// Each table is copied in one transaction of the target that first empties
// it, parents before children, so an interrupted Copy leaves whole tables
// and running it again gives the same result. The source is read in one
// read-only transaction: a consistent snapshot even if a server still
// writes to it. Before a table commits, its rows in the target are read back
// and compared with the source's (count, and a SHA-256 over every value).
// Identity sequences of the target continue past the source's, so new rows
// get ids the source never handed out.
//
// progress, if not nil, is called with a table's name and the rows copied
// so far: every 10,000 rows and once the table has committed.
func Copy(ctx context.Context, from, to *DB, progress func(table string, n int)) error {
	if progress == nil {
		progress = func(string, int) {}
	}
	opts := &sql.TxOptions{ReadOnly: true}
	if from.dialect == dialectPostgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	src, err := from.sql.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer src.Rollback()
	srcTables, err := from.schema(ctx, src)
	if err != nil {
		return fmt.Errorf("source schema: %w", err)
	}
	dstTables, err := to.schema(ctx, to.sql)
	if err != nil {
		return fmt.Errorf("target schema: %w", err)
	}
	tables, err := match(srcTables, dstTables)
	if err != nil {
		return err
	}

	err = to.tx(ctx, func(tx *sql.Tx) error {
		resuming, err := to.copyTarget(ctx, tx)
		if err != nil || resuming {
			return err
		}
		_, err = tx.ExecContext(ctx, `CREATE TABLE `+copyMarker+` (started_at BIGINT NOT NULL)`)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO `+copyMarker+` (started_at) VALUES ($1)`, time.Now().Unix())
		}
		return err
	})
	if err != nil {
		return err
	}

	// Emptying a parent cascades to its children, so a table is emptied
	// before any table that references it is filled again.
	for _, t := range tables {
		var n int
		err := to.tx(ctx, func(dst *sql.Tx) error {
			var err error
			n, err = t.copy(ctx, from, src, to, dst, progress)
			return err
		})
		if err != nil {
			return fmt.Errorf("copying %s: %w", t.name, err)
		}
		progress(t.name, n)
	}
	return nil
}

// copy replaces the table's rows in dst with those of src, continues its
// sequence, and checks dst against src before the caller commits.
func (t copyTable) copy(ctx context.Context, from *DB, src *sql.Tx, to *DB, dst *sql.Tx, progress func(string, int)) (int, error) {
	if _, err := dst.ExecContext(ctx, `DELETE FROM `+t.name); err != nil {
		return 0, err
	}
	rows, err := src.QueryContext(ctx, t.selectSQL())
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer rows.Close()

	sum := sha256.New()
	// Well under both drivers' limit on parameters per statement.
	batch := max(1, min(500, 10_000/len(t.columns)))
	args := make([]any, 0, batch*len(t.columns))
	var n, pending int
	var maxID int64
	flush := func() error {
		if pending == 0 {
			return nil
		}
		_, err := dst.ExecContext(ctx, t.insertSQL(pending), args...)
		args, pending = args[:0], 0
		return err
	}
	keyAt := slices.IndexFunc(t.columns, func(c copyColumn) bool { return c.name == t.key[0] })
	for rows.Next() {
		vals := t.values()
		if err := rows.Scan(vals...); err != nil {
			return n, fmt.Errorf("source: %w", err)
		}
		writeRow(sum, vals)
		if t.serial {
			if id, ok := vals[keyAt].(*sql.NullInt64); ok {
				maxID = max(maxID, id.Int64)
			}
		}
		for _, v := range vals {
			args = append(args, argOf(v))
		}
		n++
		if pending++; pending == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
		if n%10_000 == 0 {
			progress(t.name, n)
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("source: %w", err)
	}
	if err := flush(); err != nil {
		return n, err
	}

	if t.serial {
		high, err := from.highWater(ctx, src, t.name, t.key[0])
		if err != nil {
			return n, fmt.Errorf("source sequence: %w", err)
		}
		if err := to.continueSequence(ctx, dst, t.name, t.key[0], max(high, maxID)); err != nil {
			return n, fmt.Errorf("sequence: %w", err)
		}
	}

	got, m, err := t.digest(ctx, dst)
	if err != nil {
		return n, fmt.Errorf("reading back: %w", err)
	}
	if m != n {
		return n, fmt.Errorf("copied %d rows but the target holds %d", n, m)
	}
	if string(got) != string(sum.Sum(nil)) {
		return n, errors.New("the target's rows differ from the source's after copying")
	}
	return n, nil
}

func (t copyTable) columnList() string {
	names := make([]string, len(t.columns))
	for i, c := range t.columns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func (t copyTable) selectSQL() string {
	return `SELECT ` + t.columnList() + ` FROM ` + t.name + ` ORDER BY ` + strings.Join(t.key, ", ")
}

// insertSQL inserts rows rows in one statement.
func (t copyTable) insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + t.name + ` (` + t.columnList() + `) VALUES `)
	p := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range t.columns {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(p))
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// values makes scan destinations for one row: the Null types of
// database/sql, which both drivers fill alike.
func (t copyTable) values() []any {
	vals := make([]any, len(t.columns))
	for i, c := range t.columns {
		switch c.kind {
		case copyInt:
			vals[i] = new(sql.NullInt64)
		case copyText:
			vals[i] = new(sql.NullString)
		case copyReal:
			vals[i] = new(sql.NullFloat64)
		case copyBool:
			vals[i] = new(sql.NullBool)
		case copyBytes:
			vals[i] = new([]byte)
		}
	}
	return vals
}

// argOf turns a scan destination into a statement argument.
func argOf(v any) any {
	switch v := v.(type) {
	case *sql.NullInt64:
		return *v
	case *sql.NullString:
		return *v
	case *sql.NullFloat64:
		return *v
	case *sql.NullBool:
		return *v
	case *[]byte:
		return *v
	}
	panic(fmt.Sprintf("sqlstore: no argument for %T", v))
}

// writeRow adds one row to a digest: every value with a null mark and, if
// its length varies, its length, so no two different rows write the same
// bytes.
func writeRow(h hash.Hash, vals []any) {
	present := func(ok bool) byte {
		if ok {
			return 1
		}
		return 0
	}
	var b []byte
	for _, v := range vals {
		switch v := v.(type) {
		case *sql.NullInt64:
			b = binary.BigEndian.AppendUint64(append(b, present(v.Valid)), uint64(v.Int64))
		case *sql.NullString:
			b = binary.BigEndian.AppendUint64(append(b, present(v.Valid)), uint64(len(v.String)))
			b = append(b, v.String...)
		case *sql.NullFloat64:
			b = binary.BigEndian.AppendUint64(append(b, present(v.Valid)), math.Float64bits(v.Float64))
		case *sql.NullBool:
			b = append(b, present(v.Valid), present(v.Bool))
		case *[]byte:
			b = binary.BigEndian.AppendUint64(append(b, present(*v != nil)), uint64(len(*v)))
			b = append(b, *v...)
		}
	}
	h.Write(b)
}

// digest reads the table back in copy order: its row count and the SHA-256
// that writeRow builds.
func (t copyTable) digest(ctx context.Context, q reader) ([]byte, int, error) {
	rows, err := q.QueryContext(ctx, t.selectSQL())
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	sum := sha256.New()
	n := 0
	for rows.Next() {
		vals := t.values()
		if err := rows.Scan(vals...); err != nil {
			return nil, n, err
		}
		writeRow(sum, vals)
		n++
	}
	return sum.Sum(nil), n, rows.Err()
}

// highWater is the last id the table's sequence has handed out, which is
// above the largest id in the table when the newest rows were deleted.
func (db *DB) highWater(ctx context.Context, q reader, table, column string) (int64, error) {
	if db.dialect == dialectSQLite {
		var seq int64
		err := q.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = $1`, table).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return seq, err
	}
	var seq string
	if err := q.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, table, column).Scan(&seq); err != nil {
		return 0, err
	}
	// seq comes from PostgreSQL, quoted as an identifier needs.
	var last int64
	var called bool
	if err := q.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+seq).Scan(&last, &called); err != nil {
		return 0, err
	}
	if !called {
		last--
	}
	return last, nil
}

// continueSequence makes the next id the table's sequence hands out
// high+1.
func (db *DB) continueSequence(ctx context.Context, tx *sql.Tx, table, column string, high int64) error {
	if db.dialect == dialectSQLite {
		// AUTOINCREMENT keeps its high-water mark in sqlite_sequence.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sqlite_sequence WHERE name = $1`, table); err != nil {
			return err
		}
		if high == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES ($1, $2)`, table, high)
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)`,
		table, column, max(high, 1), high > 0)
	return err
}
