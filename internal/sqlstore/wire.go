package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	"roster/internal/roster"
)

// An employee is read as the API answers it without fetching and encoding
// each of its columns: employees.wire_head and wire_tail hold the JSON of
// the fields only CreateEmployee and UpdateEmployee write, and a read puts
// the object together from them and the four columns other calls change
// (the id, and icon_id, avatar_file_name and department_id, which the
// avatar calls and a department's deletion set). The result is the bytes
// json.Marshal gives for roster.Employee.

// wireMigration adds the wire columns and users.employee_count; fillWire
// fills them for the rows that were there before.
const wireMigration = "0004_employee_wire"

// wireColumns are the columns wireRow reads, in its order.
const wireColumns = `id, wire_head, icon_id, avatar_file_name, department_id, wire_tail`

// wireOpen and wireMiddle are what surrounds the head in json.Marshal's
// output for an employee with a zero id and null icon_id, avatar_file_name
// and department_id. No string value can contain them: a quote inside a
// JSON string is escaped.
const (
	wireOpen   = `{"id":0,`
	wireMiddle = `,"icon_id":null,"avatar_file_name":null,"department_id":null,`
)

// wireParts gives the wire_head and wire_tail of an employee.
func wireParts(e roster.Employee) (head, tail string, err error) {
	e.ID, e.IconID, e.AvatarFileName, e.DepartmentID = 0, nil, nil, nil
	if e.Tags == nil {
		e.Tags = []int64{}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", "", err
	}
	i := bytes.Index(b, []byte(wireMiddle))
	if !bytes.HasPrefix(b, []byte(wireOpen)) || i < 0 || b[len(b)-1] != '}' {
		return "", "", fmt.Errorf("employee JSON %.40q... is not in the expected field order", b)
	}
	return string(b[len(wireOpen):i]), string(b[i+len(wireMiddle) : len(b)-1]), nil
}

// wireRow is one row of wireColumns. Its byte slices belong to the rows
// being read and are valid until the next Next.
type wireRow struct {
	id         int64
	head, tail sql.RawBytes
	icon, dept sql.NullInt64
	avatar     sql.RawBytes
}

// append scans the current row and appends its JSON object to dst.
func (w *wireRow) append(dst []byte, rows *sql.Rows) ([]byte, error) {
	if err := rows.Scan(&w.id, &w.head, &w.icon, &w.avatar, &w.dept, &w.tail); err != nil {
		return dst, err
	}
	if len(w.head) == 0 || len(w.tail) == 0 {
		return dst, fmt.Errorf("employee %d has no stored JSON", w.id)
	}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, w.id, 10)
	dst = append(dst, ',')
	dst = append(dst, w.head...)
	dst = append(dst, `,"icon_id":`...)
	dst = appendNullInt(dst, w.icon)
	dst = append(dst, `,"avatar_file_name":`...)
	switch {
	case w.avatar == nil:
		dst = append(dst, "null"...)
	case roster.ValidFileName(string(w.avatar)):
		// Hex digits, a dot and an extension: nothing to escape.
		dst = append(append(append(dst, '"'), w.avatar...), '"')
	default:
		b, err := json.Marshal(string(w.avatar))
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
	}
	dst = append(dst, `,"department_id":`...)
	dst = appendNullInt(dst, w.dept)
	dst = append(dst, ',')
	dst = append(dst, w.tail...)
	return append(dst, '}'), nil
}

func appendNullInt(dst []byte, n sql.NullInt64) []byte {
	if !n.Valid {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, n.Int64, 10)
}

// fillWire computes wire_head and wire_tail for every row from its columns,
// and every account's employee count.
func fillWire(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, recountEmployees); err != nil {
		return err
	}
	return rewriteEmployees(ctx, tx, `wire_head = $1, wire_tail = $2`, func(e roster.Employee) ([]any, error) {
		head, tail, err := wireParts(e)
		return []any{head, tail}, err
	})
}
