package sqlstore

import (
	"context"
	"encoding/json"
)

// StoredEmployees renders every employee as its columns hold it (not as
// the stored answer parts do), in id order: for tests outside the package
// that compare two databases column by column.
func StoredEmployees(ctx context.Context, db *DB) (string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+employeeColumns+` FROM employees ORDER BY id`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []byte
	for rows.Next() {
		e, err := scanEmployee(rows)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return "", err
		}
		out = append(append(out, b...), '\n')
	}
	return string(out), rows.Err()
}
