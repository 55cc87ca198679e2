package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"roster/internal/roster"
)

// An AvatarKind is an owner of avatars: a table whose rows belong to an
// account and carry icon_id and avatar_file_name (UNIQUE). The avatar
// methods take the kind; the sweep and renditions ask every kind, so a new
// owner is one entry in avatarKinds (and its table).
type AvatarKind struct {
	table string // the owners' table
	noun  string // what an error names
}

var (
	EmployeeAvatars = AvatarKind{table: "employees", noun: "employee"}
	TagAvatars      = AvatarKind{table: "tags", noun: "tag"}
)

// avatarKinds are every owner of avatars: a file none of them references
// is the sweep's.
var avatarKinds = []AvatarKind{EmployeeAvatars, TagAvatars}

// AvatarOwnerExists reports roster.ErrNotFound unless the account has the
// owner: an upload checks it before its image is worth decoding.
func (db *DB) AvatarOwnerExists(ctx context.Context, k AvatarKind, account, id int64) error {
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM `+k.table+` WHERE id = $1 AND account_id = $2`, id, account).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %d: %w", k.noun, id, roster.ErrNotFound)
	}
	return err
}

// SetIcon sets an owner's icon_id (null: show the uploaded avatar).
func (db *DB) SetIcon(ctx context.Context, k AvatarKind, account, id int64, icon *int64) error {
	res, err := db.exec(ctx, `UPDATE `+k.table+` SET icon_id = $1 WHERE id = $2 AND account_id = $3`,
		nullInt(icon), id, account)
	return affected(res, err, k.noun, id)
}

// SetAvatar points an owner at a newly stored avatar file and returns the
// name it pointed at before, for the caller to delete once this has
// committed.
func (db *DB) SetAvatar(ctx context.Context, k AvatarKind, account, id int64, name string) (previous *string, err error) {
	// On PostgreSQL two concurrent uploads would both read the same old
	// name under READ COMMITTED, and the name one of them set would never be
	// deleted: lock the row. SQLite's BEGIN IMMEDIATE already serializes.
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR UPDATE"
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var old sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT avatar_file_name FROM `+k.table+` WHERE id = $1 AND account_id = $2`+lock,
			id, account).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s %d: %w", k.noun, id, roster.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE `+k.table+` SET avatar_file_name = $1 WHERE id = $2`, name, id); err != nil {
			return err
		}
		previous = ptrString(old)
		return nil
	})
	return previous, err
}

// referencing is one query over every owner's avatar_file_name:
// "SELECT <cols> FROM employees WHERE <cond> UNION ALL SELECT ... FROM tags ...".
func referencing(cols, cond string) string {
	parts := make([]string, len(avatarKinds))
	for i, k := range avatarKinds {
		parts[i] = `SELECT ` + cols + ` FROM ` + k.table + ` WHERE ` + cond
	}
	return strings.Join(parts, ` UNION ALL `)
}

// AvatarOwner returns the account of the owner (of any kind) whose
// avatar_file_name is name, or roster.ErrNotFound when none references it:
// a rendition is made only of a referenced original, on its owner's share
// of the decode workers. The column is UNIQUE in each table, so the lookup
// is an index read per kind on both dialects.
func (db *DB) AvatarOwner(ctx context.Context, name string) (account int64, err error) {
	err = db.queryRow(ctx, referencing(`account_id`, `avatar_file_name = $1`), name).Scan(&account)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("avatar %s: %w", name, roster.ErrNotFound)
	}
	return account, err
}

// ReferencedAvatars reports which of the names some owner's
// avatar_file_name holds, whatever its kind.
func (db *DB) ReferencedAvatars(ctx context.Context, names []string) (map[string]bool, error) {
	found := make(map[string]bool, len(names))
	const batch = 500
	for len(names) > 0 {
		n := min(batch, len(names))
		args := make([]any, n)
		marks := make([]string, n)
		for i, name := range names[:n] {
			args[i] = name
			marks[i] = "$" + strconv.Itoa(i+1)
		}
		got, err := scanColumn[string](db.sql.QueryContext(ctx,
			referencing(`avatar_file_name`, `avatar_file_name IN (`+strings.Join(marks, ", ")+`)`), args...))
		if err != nil {
			return nil, err
		}
		for _, s := range got {
			found[s] = true
		}
		names = names[n:]
	}
	return found, nil
}
