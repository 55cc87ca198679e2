package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/cases"

	"roster/internal/roster"
)

// employeeColumns are the columns scanEmployee reads: the id, the two
// only the avatar calls write, and writableFields.
var employeeColumns = `id, icon_id, avatar_file_name, ` + strings.Join(writableFields, ", ")

// writableFields are the columns an employee's writable fields are stored
// in, in the order of writableArgs and scanEmployee; derivedFields are
// computed from them on every write.
var writableFields = []string{"tracker_id", "first_name", "middle_name", "last_name", "email", "phone",
	"driver_license_number", "driver_license_cats", "driver_license_issue_date", "driver_license_valid_till",
	"hardware_key", "department_id", "location_lat", "location_lng", "location_address", "location_radius",
	"personnel_number", "ssn", "tags"}

var derivedFields = []string{"department_label", "search", "wire_head", "wire_tail"}

// employeeFields are the columns a create or an update writes, in the
// order of employeeArgs.
var employeeFields = append(slices.Clone(writableFields), derivedFields...)

// writableArgs are the values of writableFields for an employee.
func writableArgs(e roster.Employee) ([]any, error) {
	tags, err := json.Marshal(e.Tags)
	if err != nil {
		return nil, err
	}
	if e.Tags == nil {
		tags = []byte("[]")
	}
	lat, lng, address, radius := locationArgs(e.Location)
	return []any{nullInt(e.TrackerID), e.FirstName, e.MiddleName, e.LastName, e.Email, e.Phone,
		e.DriverLicenseNumber, e.DriverLicenseCats, nullString(e.DriverLicenseIssueDate),
		nullString(e.DriverLicenseValidTill), nullString(e.HardwareKey), nullInt(e.DepartmentID),
		lat, lng, address, radius, e.PersonnelNumber, e.SSN, string(tags)}, nil
}

// scanEmployee reads a row of employeeColumns.
func scanEmployee(s scanner) (roster.Employee, error) {
	var e roster.Employee
	var tracker, icon, dept, radius sql.NullInt64
	var issued, validTill, hwKey, avatar, address sql.NullString
	var lat, lng sql.NullFloat64
	var tags string
	err := s.Scan(&e.ID, &icon, &avatar, &tracker, &e.FirstName, &e.MiddleName, &e.LastName, &e.Email, &e.Phone,
		&e.DriverLicenseNumber, &e.DriverLicenseCats, &issued, &validTill, &hwKey, &dept,
		&lat, &lng, &address, &radius, &e.PersonnelNumber, &e.SSN, &tags)
	if err != nil {
		return e, err
	}
	e.TrackerID, e.IconID, e.DepartmentID = ptrInt(tracker), ptrInt(icon), ptrInt(dept)
	e.DriverLicenseIssueDate, e.DriverLicenseValidTill = ptrString(issued), ptrString(validTill)
	e.HardwareKey, e.AvatarFileName = ptrString(hwKey), ptrString(avatar)
	e.Location = location(lat, lng, address, radius)
	if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
		return e, fmt.Errorf("employee %d tags: %w", e.ID, err)
	}
	if e.Tags == nil {
		e.Tags = []int64{}
	}
	return e, nil
}

// location is the location its columns hold. A location stored before
// radius was kept has a null radius, read as 0.
func location(lat, lng sql.NullFloat64, address sql.NullString, radius sql.NullInt64) *roster.Location {
	if !lat.Valid || !lng.Valid {
		return nil
	}
	return &roster.Location{Lat: lat.Float64, Lng: lng.Float64, Address: address.String, Radius: radius.Int64}
}

// locationArgs gives the four column values of an optional location: all
// null without one.
func locationArgs(l *roster.Location) (lat, lng sql.NullFloat64, address sql.NullString, radius sql.NullInt64) {
	if l == nil {
		return
	}
	return sql.NullFloat64{Float64: l.Lat, Valid: true}, sql.NullFloat64{Float64: l.Lng, Valid: true},
		sql.NullString{String: l.Address, Valid: true}, sql.NullInt64{Int64: l.Radius, Valid: true}
}

func ptrString(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

// Employees lists a page of the account's employees and counts all that
// match the filter.
func (db *DB) Employees(ctx context.Context, account int64, q roster.ListQuery) ([]roster.Employee, int, error) {
	b, total, err := db.AppendEmployees(ctx, nil, account, q)
	if err != nil {
		return nil, 0, err
	}
	list := []roster.Employee{}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// AppendEmployees is Employees that appends the page to dst as the JSON
// array the API answers.
func (db *DB) AppendEmployees(ctx context.Context, dst []byte, account int64, q roster.ListQuery) ([]byte, int, error) {
	l, err := db.EmployeeList(ctx, account, q)
	if err != nil {
		return nil, 0, err
	}
	total, err := l.Count(ctx)
	if err != nil {
		return nil, 0, err
	}
	out, err := l.Stream(ctx, dst, 0, nil)
	return out, total, err
}

// Count counts the employees that match the filter: the count of a list
// answer, whatever its page.
func (l EmployeeList) Count(ctx context.Context) (int, error) {
	if l.none {
		return 0, nil
	}
	if l.total >= 0 {
		return l.total, nil
	}
	var total int
	count := `SELECT employee_count FROM users WHERE id = $1`
	if l.where != accountOnly {
		count = `SELECT count(*) FROM employees WHERE ` + l.where
	}
	if err := l.db.queryRow(ctx, count, l.args...).Scan(&total); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return total, nil
}

// Stream appends the page to dst as the JSON array the API answers, as
// AppendEmployees does, and serves an answer too large to hold as well:
// with a non-nil w, each time the buffer holds chunk bytes or more it is
// written to w and emptied. It returns what is left unwritten, the end of
// the array included. One query reads the whole page, so the answer is one
// snapshot of the list; its connection is held until the last row has
// been written. An error of w comes back wrapped.
func (l EmployeeList) Stream(ctx context.Context, dst []byte, chunk int, w io.Writer) ([]byte, error) {
	if l.none {
		return append(dst, "[]"...), nil
	}
	db, q, where := l.db, l.q, l.where
	order, err := db.orderBy(q.Sort)
	if err != nil {
		return nil, err
	}
	args := l.args[:len(l.args):len(l.args)] // appended to: a copy, not l's
	page := ""
	if q.Limit > 0 {
		args = append(args, q.Limit, q.Offset)
		page = fmt.Sprintf(" LIMIT $%d OFFSET $%d", len(args)-1, len(args))
	} else if q.Offset > 0 {
		args = append(args, q.Offset)
		page = fmt.Sprintf(" LIMIT -1 OFFSET $%d", len(args))
		if db.dialect == dialectPostgres {
			page = fmt.Sprintf(" OFFSET $%d", len(args))
		}
	}
	query := `SELECT ` + wireColumns + ` FROM employees WHERE ` + where + ` ORDER BY ` + order + page
	if q.Offset > 0 || q.Limit > 0 && db.dialect == dialectPostgres {
		// A deep page skips its offset on the ids alone (sorting only the
		// sort keys), then reads the rows of the page. PostgreSQL reads
		// every page so: it would otherwise walk the primary key for a
		// page by id, past the rows of every account it skips, where the
		// ids are read from an index of the account's.
		query = `SELECT ` + wireColumns + ` FROM employees WHERE id IN (SELECT id FROM employees WHERE ` +
			where + ` ORDER BY ` + order + page + `) ORDER BY ` + order
	}
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := append(dst, '[')
	var row wireRow
	for first := true; rows.Next(); first = false {
		if !first {
			out = append(out, ',')
		}
		if out, err = row.append(out, rows); err != nil {
			return nil, err
		}
		if w != nil && len(out) >= chunk {
			if _, err := w.Write(out); err != nil {
				return nil, fmt.Errorf("writing the list: %w", err)
			}
			out = out[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return append(out, ']'), nil
}

// ListStreams is how many lists may stream at once, each holding a
// connection while its answer is written: half the pool, so that the other
// calls always find one.
func (db *DB) ListStreams() int { return max(1, db.sql.Stats().MaxOpenConnections/2) }

// orderBy turns sort keys into an ORDER BY clause that is the same on both
// databases: byte order for text, null before every value, ties broken by
// id in the direction of the last key. A descending sort is thus the exact
// reverse of the ascending one, and one index of (account_id, key, id)
// serves both directions on both databases.
func (db *DB) orderBy(keys []roster.SortKey) (string, error) {
	var parts []string
	desc := false
	for _, k := range keys {
		col, ok := roster.EmployeeSortFields[k.Field]
		if !ok {
			return "", fmt.Errorf("sort field %q: %w", k.Field, roster.InvalidParams{{Parameter: "sort", Reason: "unknown field " + k.Field}})
		}
		desc = k.Desc
		if col == "" {
			continue // the same for every employee
		}
		if col == "id" {
			// Unique: no later key can matter.
			return strings.Join(append(parts, "id"+direction(desc)), ", "), nil
		}
		expr := col
		if db.dialect == dialectPostgres {
			// SQLite's own order: nulls first ascending, last descending.
			if textColumn(col) {
				expr += ` COLLATE "C"`
			}
			if desc {
				expr += " DESC NULLS LAST"
			} else {
				expr += " ASC NULLS FIRST"
			}
		} else {
			expr += direction(desc)
		}
		parts = append(parts, expr)
	}
	return strings.Join(append(parts, "id"+direction(desc)), ", "), nil
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

func textColumn(col string) bool {
	switch col {
	case "id", "tracker_id", "department_id":
		return false
	}
	return true
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// Employee reads one employee of the account.
func (db *DB) Employee(ctx context.Context, account, id int64) (roster.Employee, error) {
	var e roster.Employee
	b, err := db.AppendEmployee(ctx, nil, account, id)
	if err != nil {
		return e, err
	}
	err = json.Unmarshal(b, &e)
	return e, err
}

// AppendEmployee is Employee that appends the JSON object the API answers
// to dst.
func (db *DB) AppendEmployee(ctx context.Context, dst []byte, account, id int64) ([]byte, error) {
	rows, err := db.query(ctx, `SELECT `+wireColumns+` FROM employees WHERE id = $1 AND account_id = $2`, id, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("employee %d: %w", id, roster.ErrNotFound)
	}
	var w wireRow
	b, err := w.append(dst, rows)
	if err != nil {
		return nil, err
	}
	return b, rows.Close()
}

// departmentLabel makes sure a department id, if set, names a department of
// the account, and returns its label for the employee's row. On PostgreSQL
// it holds the department's row until the transaction ends, so a rename
// (which rewrites the labels of the department's employees) waits for the
// employee's write to commit, or this for the rename.
func (db *DB) departmentLabel(ctx context.Context, tx *sql.Tx, account int64, dept *int64) (*string, error) {
	if dept == nil {
		return nil, nil
	}
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR SHARE"
	}
	var label string
	err := tx.QueryRowContext(ctx, `SELECT label FROM departments WHERE id = $1 AND account_id = $2`+lock,
		*dept, account).Scan(&label)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("department %d: %w", *dept, roster.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &label, nil
}

// searchSep joins the fields in employees.search. A filter cannot contain
// it, so a match never spans two fields.
const searchSep = "\x1f"

// fold is the case folding of the list filter, applied alike to the stored
// fields and to the filter: full Unicode case folding, so "STRASSE" finds
// "Straße" and "σωκράτης" finds "ΣΩΚΡΆΤΗΣ" on every database.
func fold(s string) string { return cases.Fold().String(s) }

// searchText is the employees.search value of an employee in the
// department of that label (nil: none): the properties employee/list's
// filter looks in besides the id (see roster.EmployeeSortFields), folded.
// The department's label comes first, so that renaming a department
// replaces the text up to the first separator (renameDepartment).
func searchText(e roster.Employee, department *string) string {
	address := ""
	if e.Location != nil {
		address = e.Location.Address
	}
	return fold(strings.Join([]string{deref(department), e.FirstName, e.MiddleName, e.LastName, e.Email,
		e.Phone, e.PersonnelNumber, deref(e.HardwareKey), e.DriverLicenseNumber, e.DriverLicenseCats,
		deref(e.DriverLicenseValidTill), address, e.SSN}, searchSep))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// sortMigration adds employees.department_label, the sort indexes and, on
// SQLite, the trigram index; the search texts are then recomputed with
// every property the filter looks in.
const sortMigration = "0006_employee_sort"

// fillSearch recomputes employees.search of every row.
func fillSearch(ctx context.Context, tx *sql.Tx) error {
	return rewriteEmployees(ctx, tx, "", nil, []string{"search"}, func(e roster.Employee, department *string) ([]any, error) {
		return []any{searchText(e, department)}, nil
	})
}

// rewriteBatch is how many employees rewriteEmployees reads and updates at
// a time.
const rewriteBatch = 500

// rewriteEmployees sets columns of every row (or of those that meet cond,
// whose placeholders start at $2 for args) from the values f gives for the
// employee its columns hold (and the department label its row holds),
// after a migration that adds or changes derived columns. It works
// through the rows by id, rewriteBatch at a time: one read and one UPDATE
// per batch, and never more than a batch in memory, however many
// employees the database holds.
func rewriteEmployees(ctx context.Context, tx *sql.Tx, cond string, args []any, cols []string, f func(roster.Employee, *string) ([]any, error)) error {
	if cond != "" {
		cond = ` AND ` + cond
	}
	read := `SELECT ` + employeeColumns + `, department_label FROM employees WHERE id > $1` + cond + ` ORDER BY id LIMIT ` + strconv.Itoa(rewriteBatch)
	var after int64
	for {
		rows, err := tx.QueryContext(ctx, read, append([]any{after}, args...)...)
		if err != nil {
			return err
		}
		var ids []int64
		var vals [][]any
		for rows.Next() {
			var label sql.NullString
			e, err := scanEmployee(scanFunc(func(dest ...any) error { return rows.Scan(append(dest, &label)...) }))
			if err == nil {
				var v []any
				v, err = f(e, ptrString(label))
				ids, vals = append(ids, e.ID), append(vals, v)
			}
			if err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := updateBatch(ctx, tx, cols, ids, vals); err != nil {
			return err
		}
		after = ids[len(ids)-1]
	}
}

// scanFunc lets a function stand for a row's Scan.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// updateBatch sets cols of the employees ids to vals (one slice per id) in
// one statement, the same on both dialects: UPDATE ... FROM a VALUES list,
// whose columns both name column1, column2, ...
func updateBatch(ctx context.Context, tx *sql.Tx, cols []string, ids []int64, vals [][]any) error {
	var b strings.Builder
	b.WriteString(`UPDATE employees SET `)
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = v.column%d", c, i+2)
	}
	b.WriteString(` FROM (VALUES `)
	args := make([]any, 0, len(ids)*(len(cols)+1))
	for r, id := range ids {
		if len(vals[r]) != len(cols) {
			return fmt.Errorf("employee %d: %d values for %d columns", id, len(vals[r]), len(cols))
		}
		if r > 0 {
			b.WriteString(", ")
		}
		// PostgreSQL types a VALUES column from its first row: the casts
		// say what the placeholders hold (text for every derived column).
		args = append(args, id)
		fmt.Fprintf(&b, "(CAST($%d AS BIGINT)", len(args))
		for _, v := range vals[r] {
			args = append(args, v)
			fmt.Fprintf(&b, ", CAST($%d AS TEXT)", len(args))
		}
		b.WriteString(")")
	}
	b.WriteString(`) AS v WHERE employees.id = v.column1`)
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// ErrDuplicateKeys: the database holds employees of one account that share
// a hardware key, which this Roster keeps unique; the error names them.
var ErrDuplicateKeys = errors.New("employees of one account share a hardware key")

// refuseDuplicateKeys stops the migration that makes hardware keys unique
// when some already repeat, naming the account, the key and the employees
// of each (up to maxDuplicates of them), for the operator to settle: which
// employee keeps a key is not the store's to guess, and nothing is dropped.
func refuseDuplicateKeys(ctx context.Context, tx *sql.Tx) error {
	const maxDuplicates = 10
	rows, err := tx.QueryContext(ctx, `SELECT account_id, hardware_key FROM employees
		WHERE hardware_key IS NOT NULL AND hardware_key <> ''
		GROUP BY account_id, hardware_key HAVING count(*) > 1
		ORDER BY account_id, hardware_key`)
	if err != nil {
		return err
	}
	type dup struct {
		account int64
		key     string
	}
	var dups []dup
	for rows.Next() {
		var d dup
		if err := rows.Scan(&d.account, &d.key); err != nil {
			rows.Close()
			return err
		}
		dups = append(dups, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(dups) == 0 {
		return err
	}
	var parts []string
	for _, d := range dups[:min(len(dups), maxDuplicates)] {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM employees WHERE account_id = $1 AND hardware_key = $2 ORDER BY id`,
			d.account, d.key)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("account %d, hardware key %q: employees %s", d.account, d.key, strings.Join(ids, ", ")))
	}
	if len(dups) > maxDuplicates {
		parts = append(parts, fmt.Sprintf("and %d more keys", len(dups)-maxDuplicates))
	}
	return fmt.Errorf("%w (%s); give each employee its own key, or none, with the Roster that made this database "+
		"(employee/update), then start this one again: nothing was changed", ErrDuplicateKeys, strings.Join(parts, "; "))
}

// insertEmployee and updateEmployee take employeeArgs, then the account
// (and, before it, the id for an update).
var insertEmployee, updateEmployee = func() (string, string) {
	cols := employeeFields
	var marks, sets []string
	for i, c := range cols {
		marks = append(marks, fmt.Sprintf("$%d", i+1))
		sets = append(sets, fmt.Sprintf("%s = $%d", c, i+1))
	}
	n := len(cols)
	return fmt.Sprintf(`INSERT INTO employees (%s, account_id) VALUES (%s, $%d) RETURNING id`,
			strings.Join(cols, ", "), strings.Join(marks, ", "), n+1),
		fmt.Sprintf(`UPDATE employees SET %s WHERE id = $%d AND account_id = $%d`,
			strings.Join(sets, ", "), n+1, n+2)
}()

// employeeArgs are the values of employeeFields for an employee in the
// department of that label (nil: none).
func employeeArgs(e roster.Employee, department *string) ([]any, error) {
	args, err := writableArgs(e)
	if err != nil {
		return nil, err
	}
	head, tail, err := wireParts(e)
	if err != nil {
		return nil, err
	}
	return append(args, nullString(department), searchText(e, department), head, tail), nil
}

// EmployeeRow gives the columns and values of a new employee's row, except
// account_id, for a program that loads rows in bulk: department is the
// label of the department e.DepartmentID names (nil without one), and
// e.Tags must be tags of the account (nothing here checks them). It must
// then call RecountEmployees.
func EmployeeRow(e roster.Employee, department *string) (cols []string, vals []any, err error) {
	vals, err = employeeArgs(e, department)
	return slices.Clone(employeeFields), vals, err
}

// RecountEmployees sets every account's employee count from its rows.
func (db *DB) RecountEmployees(ctx context.Context) error {
	_, err := db.sql.ExecContext(ctx, recountEmployees)
	return err
}

const recountEmployees = `UPDATE users SET employee_count =
	(SELECT count(*) FROM employees WHERE account_id = users.id)`

// CreateEmployee creates an employee in the account. icon_id and
// avatar_file_name start null. ErrExists when the tracker is bound to
// another employee or another employee holds the hardware key; ErrNotFound
// when the department or a tag is not the account's (also when it is
// deleted while this runs).
func (db *DB) CreateEmployee(ctx context.Context, account int64, e roster.Employee) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		ids, refused, err := db.createEmployees(ctx, tx, account, []roster.Employee{e})
		if err != nil {
			return err
		}
		if refused[0] != nil {
			return refused[0]
		}
		id = ids[0]
		return nil
	})
	return id, err
}

// createEmployees creates employees in the account inside tx: the one
// path employee/create and the import take, with one set of rules. Each
// employee that breaks one (a department or a tag not the account's, a
// tracker or hardware key another employee holds, in the account or
// earlier in es) is
// refused with its error in refused, and the others are written by one
// multi-row INSERT, with one change of the account's count. ids are the
// new employees' ids for a single employee (RETURNING does not promise the
// order of many rows); err is a failure of the transaction, which must
// then be rolled back: among them, a unique value taken by a write that
// committed after the check (ErrExists), which the caller may retry.
func (db *DB) createEmployees(ctx context.Context, tx *sql.Tx, account int64, es []roster.Employee) (ids []int64, refused []error, err error) {
	refused = make([]error, len(es))
	labels := map[int64]*string{}
	for i, e := range es {
		if e.DepartmentID == nil {
			continue
		}
		if _, ok := labels[*e.DepartmentID]; ok {
			continue
		}
		label, err := db.departmentLabel(ctx, tx, account, e.DepartmentID)
		if errors.Is(err, roster.ErrNotFound) {
			refused[i] = err
			labels[*e.DepartmentID] = nil
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		labels[*e.DepartmentID] = label
	}
	var tags []int64
	for _, e := range es {
		tags = append(tags, e.Tags...)
	}
	found, err := db.accountTags(ctx, tx, account, tags)
	if err != nil {
		return nil, nil, err
	}
	for i, e := range es {
		if refused[i] == nil {
			refused[i] = missingTag(found, e.Tags)
		}
	}
	if err := db.checkTaken(ctx, tx, account, es, refused); err != nil {
		return nil, nil, err
	}
	var rows [][]any
	var keep []roster.Employee
	for i, e := range es {
		if refused[i] != nil {
			continue
		}
		var label *string
		if e.DepartmentID != nil {
			if label = labels[*e.DepartmentID]; label == nil {
				refused[i] = fmt.Errorf("department %d: %w", *e.DepartmentID, roster.ErrNotFound)
				continue
			}
		}
		args, err := employeeArgs(e, label)
		if err != nil {
			return nil, nil, err
		}
		rows, keep = append(rows, append(args, account)), append(keep, e)
	}
	if len(rows) == 0 {
		return nil, refused, nil
	}
	if len(rows) == 1 {
		var id int64
		err = tx.QueryRowContext(ctx, insertEmployee, rows[0]...).Scan(&id)
		ids = []int64{id}
	} else {
		// Statements of insertChunk rows on SQLite, whose driver's cost of
		// binding grows faster than the parameters of a statement; on
		// PostgreSQL as few statements as its 65,535 parameters allow, each
		// a round trip.
		per := insertChunk
		if db.dialect == dialectPostgres {
			per = 65535 / (len(employeeFields) + 1)
		}
		for c := 0; c < len(rows) && err == nil; c += per {
			chunk := rows[c:min(c+per, len(rows))]
			_, err = tx.ExecContext(ctx, insertEmployees(len(chunk)), slices.Concat(chunk...)...)
		}
	}
	if err != nil {
		if len(keep) == 1 {
			if err := taken(err, keep[0]); err != nil {
				return nil, nil, err
			}
		} else if isUnique(err) {
			return nil, nil, fmt.Errorf("a tracker or hardware key was taken meanwhile: %w", roster.ErrExists)
		}
		if isForeignKey(err) {
			return nil, nil, fmt.Errorf("a department was deleted meanwhile: %w", roster.ErrNotFound)
		}
		return nil, nil, err
	}
	return ids, refused, countEmployees(ctx, tx, account, len(rows))
}

// insertChunk is how many rows one INSERT of createEmployees writes on
// SQLite.
const insertChunk = 64

// insertEmployees is the INSERT of n employees' employeeArgs and account,
// one after the other.
func insertEmployees(n int) string {
	cols := len(employeeFields) + 1
	var b strings.Builder
	b.WriteString(`INSERT INTO employees (` + strings.Join(employeeFields, ", ") + `, account_id) VALUES `)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(r*cols + c + 1))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// checkTaken refuses (in refused) each employee whose tracker or hardware
// key another employee of the account holds, or an earlier one of es:
// one query for all of them, so that a batch needs no savepoint per row
// (on PostgreSQL a unique violation would abort the transaction).
func (db *DB) checkTaken(ctx context.Context, tx *sql.Tx, account int64, es []roster.Employee, refused []error) error {
	trackers, keys := map[int64]bool{}, map[string]bool{}
	var tList []int64
	var kList []string
	for _, e := range es {
		if e.TrackerID != nil && !trackers[*e.TrackerID] {
			trackers[*e.TrackerID] = false
			tList = append(tList, *e.TrackerID)
		}
		if k := deref(e.HardwareKey); k != "" && !keys[k] {
			keys[k] = false
			kList = append(kList, k)
		}
	}
	if len(tList)+len(kList) == 0 {
		return nil
	}
	// One SELECT for each, so that each reads its own unique index. On
	// PostgreSQL the values go as one array each: a list of hundreds of
	// parameters costs it more to plan than to run.
	args := []any{account}
	in := func(column string, vals []any, array any, cast string) string {
		if db.dialect == dialectPostgres {
			args = append(args, array)
			return fmt.Sprintf("%s = ANY(CAST($%d AS %s[]))", column, len(args), cast)
		}
		marks := make([]string, len(vals))
		for i, v := range vals {
			args = append(args, v)
			marks[i] = "$" + strconv.Itoa(len(args))
		}
		return column + " IN (" + strings.Join(marks, ", ") + ")"
	}
	var parts []string
	if len(tList) > 0 {
		vals := make([]any, len(tList))
		for i, v := range tList {
			vals[i] = v
		}
		parts = append(parts, `SELECT tracker_id, hardware_key FROM employees WHERE account_id = $1 AND `+
			in("tracker_id", vals, tList, "BIGINT"))
	}
	if len(kList) > 0 {
		vals := make([]any, len(kList))
		for i, v := range kList {
			vals[i] = v
		}
		parts = append(parts, `SELECT tracker_id, hardware_key FROM employees WHERE account_id = $1
			AND hardware_key IS NOT NULL AND hardware_key <> '' AND `+in("hardware_key", vals, kList, "TEXT"))
	}
	rows, err := tx.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t sql.NullInt64
		var k sql.NullString
		if err := rows.Scan(&t, &k); err != nil {
			return err
		}
		if _, ok := trackers[t.Int64]; t.Valid && ok {
			trackers[t.Int64] = true
		}
		if _, ok := keys[k.String]; k.Valid && ok {
			keys[k.String] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, e := range es {
		if refused[i] != nil {
			continue
		}
		k := deref(e.HardwareKey)
		switch {
		case e.TrackerID != nil && trackers[*e.TrackerID]:
			refused[i] = fmt.Errorf("tracker %d: %w", *e.TrackerID, roster.ErrExists)
		case k != "" && keys[k]:
			refused[i] = fmt.Errorf("hardware key: %w", roster.ErrExists)
		default:
			// Taken from here on, for the rows after this one.
			if e.TrackerID != nil {
				trackers[*e.TrackerID] = true
			}
			if k != "" {
				keys[k] = true
			}
		}
	}
	return nil
}

// taken turns the violation of a unique index by an employee's write into
// ErrExists naming the value another employee of the account holds: its
// tracker or its hardware key. Nil for any other error.
func taken(err error, e roster.Employee) error {
	switch {
	case isUniqueOn(err, "hardware_key"):
		return fmt.Errorf("hardware key: %w", roster.ErrExists)
	case isUniqueOn(err, "tracker_id") && e.TrackerID != nil:
		return fmt.Errorf("tracker %d: %w", *e.TrackerID, roster.ErrExists)
	}
	return nil
}

// countEmployees moves an account's employee count by delta.
func countEmployees(ctx context.Context, tx *sql.Tx, account int64, delta int) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET employee_count = employee_count + $1 WHERE id = $2`,
		delta, account)
	return err
}

// UpdateEmployee replaces an employee's writable fields; icon_id and
// avatar_file_name are kept. The errors are CreateEmployee's.
func (db *DB) UpdateEmployee(ctx context.Context, account int64, e roster.Employee) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		label, err := db.departmentLabel(ctx, tx, account, e.DepartmentID)
		if err != nil {
			return err
		}
		if err := db.checkTags(ctx, tx, account, e.Tags); err != nil {
			return err
		}
		args, err := employeeArgs(e, label)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, updateEmployee, append(args, e.ID, account)...)
		if err := taken(err, e); err != nil {
			return err
		}
		if isForeignKey(err) && e.DepartmentID != nil {
			return fmt.Errorf("department %d: %w", *e.DepartmentID, roster.ErrNotFound)
		}
		return affected(res, err, "employee", e.ID)
	})
}

// DeleteEmployee deletes an employee of the account and returns the name of
// its uploaded avatar, if any, for the caller to delete once this has
// committed.
func (db *DB) DeleteEmployee(ctx context.Context, account, id int64) (avatar *string, err error) {
	var name sql.NullString
	err = db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`DELETE FROM employees WHERE id = $1 AND account_id = $2 RETURNING avatar_file_name`,
			id, account).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("employee %d: %w", id, roster.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return countEmployees(ctx, tx, account, -1)
	})
	return ptrString(name), err
}

// Departments lists the account's departments by id.
func (db *DB) Departments(ctx context.Context, account int64) ([]roster.Department, error) {
	rows, err := db.query(ctx, `SELECT id, label, location_lat, location_lng, location_address, location_radius
		FROM departments WHERE account_id = $1 ORDER BY id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []roster.Department{}
	for rows.Next() {
		var d roster.Department
		var lat, lng sql.NullFloat64
		var address sql.NullString
		var radius sql.NullInt64
		if err := rows.Scan(&d.ID, &d.Label, &lat, &lng, &address, &radius); err != nil {
			return nil, err
		}
		d.Location = location(lat, lng, address, radius)
		list = append(list, d)
	}
	return list, rows.Err()
}

// CreateDepartment creates a department in the account.
func (db *DB) CreateDepartment(ctx context.Context, account int64, d roster.Department) (int64, error) {
	lat, lng, address, radius := locationArgs(d.Location)
	var id int64
	err := db.queryRow(ctx, `INSERT INTO departments (account_id, label, location_lat,
		location_lng, location_address, location_radius) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		account, d.Label, lat, lng, address, radius).Scan(&id)
	return id, err
}

// UpdateDepartment changes a department of the account, and the label its
// employees' rows hold.
func (db *DB) UpdateDepartment(ctx context.Context, account int64, d roster.Department) error {
	lat, lng, address, radius := locationArgs(d.Location)
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE departments SET label = $1, location_lat = $2,
			location_lng = $3, location_address = $4, location_radius = $5 WHERE id = $6 AND account_id = $7`,
			d.Label, lat, lng, address, radius, d.ID, account)
		if err := affected(res, err, "department", d.ID); err != nil {
			return err
		}
		return db.relabel(ctx, tx, account, d.ID, &d.Label)
	})
}

// relabel sets the department label of the department's employees, and
// the label's part of their search texts: the text before the first
// separator (see searchText). With a nil label they leave the department.
// Only rows whose label changes are written.
func (db *DB) relabel(ctx context.Context, tx *sql.Tx, account, dept int64, label *string) error {
	find := "instr"
	if db.dialect == dialectPostgres {
		find = "strpos"
	}
	var err error
	if label == nil {
		_, err = tx.ExecContext(ctx, `UPDATE employees SET department_id = NULL, department_label = NULL,
			search = substr(search, `+find+`(search, $1)) WHERE department_id = $2 AND account_id = $3`,
			searchSep, dept, account)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE employees SET department_label = $1,
			search = $2 || substr(search, `+find+`(search, $3))
			WHERE department_id = $4 AND account_id = $5 AND department_label <> $1`,
			*label, fold(*label), searchSep, dept, account)
	}
	return err
}

// DeleteDepartment deletes a department of the account; its employees get
// department_id and department_label null.
func (db *DB) DeleteDepartment(ctx context.Context, account, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == dialectPostgres {
			// Taken first, so that an employee's write that names the
			// department (departmentLabel holds it) commits before its
			// employees are read below, or finds it gone.
			if _, err := tx.ExecContext(ctx, `SELECT id FROM departments WHERE id = $1 AND account_id = $2 FOR UPDATE`,
				id, account); err != nil {
				return err
			}
		}
		if err := db.relabel(ctx, tx, account, id, nil); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM departments WHERE id = $1 AND account_id = $2`, id, account)
		return affected(res, err, "department", id)
	})
}
