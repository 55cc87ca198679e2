package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"roster/internal/roster"
)

// MaxTags is how many tags one account may hold (268 beyond): tag/list
// answers them all at once, so this bounds its answer (about 2 MB).
const MaxTags = 10_000

const tagColumns = `id, name, color, icon_id, avatar_file_name`

// Tags lists the account's tags by id; with a filter, those whose name
// contains it, both sides case-folded as employee/list's filter is (the
// same on both databases: the folding is done here).
func (db *DB) Tags(ctx context.Context, account int64, filter string) ([]roster.Tag, error) {
	rows, err := db.query(ctx, `SELECT `+tagColumns+` FROM tags WHERE account_id = $1 ORDER BY id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	f := fold(filter)
	list := []roster.Tag{}
	for rows.Next() {
		var t roster.Tag
		var icon sql.NullInt64
		var avatar sql.NullString
		if err := rows.Scan(&t.ID, &t.Name, &t.Color, &icon, &avatar); err != nil {
			return nil, err
		}
		if f != "" && !strings.Contains(fold(t.Name), f) {
			continue
		}
		if icon.Valid {
			t.IconID = &icon.Int64
		}
		t.AvatarFileName = ptrString(avatar)
		list = append(list, t)
	}
	return list, rows.Err()
}

// CreateTag creates a tag in the account; icon_id and avatar_file_name
// start null. ErrOverQuota when the account holds MaxTags tags: the count
// and the insert hold the account's row, so two creates at once cannot
// both take the last place.
func (db *DB) CreateTag(ctx context.Context, account int64, t roster.Tag) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == dialectPostgres {
			// SQLite's BEGIN IMMEDIATE already serializes writers.
			if _, err := tx.ExecContext(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, account); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tags WHERE account_id = $1`, account).Scan(&n); err != nil {
			return err
		}
		if n >= MaxTags {
			return fmt.Errorf("account %d has %d tags: %w", account, n, roster.ErrOverQuota)
		}
		return tx.QueryRowContext(ctx, `INSERT INTO tags (account_id, name, color) VALUES ($1, $2, $3) RETURNING id`,
			account, t.Name, t.Color).Scan(&id)
	})
	return id, err
}

// UpdateTag changes a tag's name and colour; its icon and avatar are the
// avatar calls'.
func (db *DB) UpdateTag(ctx context.Context, account int64, t roster.Tag) error {
	res, err := db.exec(ctx, `UPDATE tags SET name = $1, color = $2 WHERE id = $3 AND account_id = $4`,
		t.Name, t.Color, t.ID, account)
	return affected(res, err, "tag", t.ID)
}

// DeleteTags deletes the account's tags of ids and returns the names of
// their uploaded avatars, for the caller to delete once this has
// committed. With strict, a missing id is ErrNotFound and nothing is
// deleted (tag/delete with tag_id); otherwise missing ids are skipped
// (with tag_ids), as Navixy does.
func (db *DB) DeleteTags(ctx context.Context, account int64, ids []int64, strict bool) (avatars []string, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		avatars = nil
		for _, id := range ids {
			var name sql.NullString
			err := tx.QueryRowContext(ctx, `DELETE FROM tags WHERE id = $1 AND account_id = $2 RETURNING avatar_file_name`,
				id, account).Scan(&name)
			if errors.Is(err, sql.ErrNoRows) {
				if strict {
					return fmt.Errorf("tag %d: %w", id, roster.ErrNotFound)
				}
				continue
			}
			if err != nil {
				return err
			}
			if name.Valid {
				avatars = append(avatars, name.String)
			}
		}
		return nil
	})
	return avatars, err
}

// TaggedEmployees is the list of the account's employees that carry every
// one of tags, by id, for tag/search. It reads the account's rows (their
// tags are JSON text), as a filter of a small account does.
func (db *DB) TaggedEmployees(account int64, tags []int64) (EmployeeList, error) {
	b, err := json.Marshal(tags)
	if err != nil {
		return EmployeeList{}, err
	}
	where := accountOnly + ` AND NOT EXISTS (SELECT 1 FROM json_each($2) AS w
		WHERE w.value NOT IN (SELECT value FROM json_each(employees.tags)))`
	if db.dialect == dialectPostgres {
		where = accountOnly + ` AND employees.tags::jsonb @> $2::jsonb`
	}
	return EmployeeList{db: db, where: where, args: []any{account, string(b)}, total: -1}, nil
}
