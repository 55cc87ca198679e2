package sqlstore

import (
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

// wireColumns are the columns wireRow reads, in its order.
const wireColumns = `id, wire_head, icon_id, avatar_file_name, department_id, wire_tail`

// wireHead is what an employee's answer holds between the id and icon_id,
// and wireTail what follows department_id, each field in its place in the
// answer: wire_head and wire_tail are these marshalled, without their
// braces. A field of roster.Employee goes in one of them, in the same
// order (TestWirePartsCoverEmployee checks it).
type wireHead struct {
	TrackerID              *int64  `json:"tracker_id"`
	FirstName              string  `json:"first_name"`
	MiddleName             string  `json:"middle_name"`
	LastName               string  `json:"last_name"`
	Email                  string  `json:"email"`
	Phone                  string  `json:"phone"`
	DriverLicenseNumber    string  `json:"driver_license_number"`
	DriverLicenseCats      string  `json:"driver_license_cats"`
	DriverLicenseIssueDate *string `json:"driver_license_issue_date"`
	DriverLicenseValidTill *string `json:"driver_license_valid_till"`
	HardwareKey            *string `json:"hardware_key"`
}

type wireTail struct {
	Location        *roster.Location `json:"location"`
	PersonnelNumber string           `json:"personnel_number"`
	SSN             string           `json:"ssn"`
	Tags            []int64          `json:"tags"`
}

// wireParts gives the wire_head and wire_tail of an employee.
func wireParts(e roster.Employee) (head, tail string, err error) {
	tags := e.Tags
	if tags == nil {
		tags = []int64{}
	}
	h, err := inner(wireHead{
		TrackerID: e.TrackerID, FirstName: e.FirstName, MiddleName: e.MiddleName, LastName: e.LastName,
		Email: e.Email, Phone: e.Phone, DriverLicenseNumber: e.DriverLicenseNumber,
		DriverLicenseCats: e.DriverLicenseCats, DriverLicenseIssueDate: e.DriverLicenseIssueDate,
		DriverLicenseValidTill: e.DriverLicenseValidTill, HardwareKey: e.HardwareKey,
	})
	if err != nil {
		return "", "", err
	}
	t, err := inner(wireTail{Location: e.Location, PersonnelNumber: e.PersonnelNumber, SSN: e.SSN, Tags: tags})
	return h, t, err
}

// inner is the JSON of a struct without its braces.
func inner(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b[1 : len(b)-1]), nil
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

// fillWire recomputes wire_head and wire_tail of every row.
func fillWire(ctx context.Context, tx *sql.Tx) error {
	return rewriteEmployees(ctx, tx, "", nil, []string{"wire_head", "wire_tail"}, func(e roster.Employee, _ *string) ([]any, error) {
		head, tail, err := wireParts(e)
		return []any{head, tail}, err
	})
}
