package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
		var deleted []int64
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
			deleted = append(deleted, id)
			if name.Valid {
				avatars = append(avatars, name.String)
			}
		}
		return db.untag(ctx, tx, account, deleted)
	})
	return avatars, err
}

// untag takes deleted tags off every employee of the account that carries
// one, in the deletion's transaction: the tags column and the stored
// answer's tail, which holds them.
func (db *DB) untag(ctx context.Context, tx *sql.Tx, account int64, deleted []int64) error {
	if len(deleted) == 0 {
		return nil
	}
	list, err := json.Marshal(deleted)
	if err != nil {
		return err
	}
	carries := `account_id = $2 AND EXISTS (SELECT 1 FROM json_each(employees.tags) AS e
		WHERE e.value IN (SELECT value FROM json_each($3)))`
	if db.dialect == dialectPostgres {
		carries = `account_id = $2 AND EXISTS (SELECT 1 FROM jsonb_array_elements(employees.tags::jsonb) AS e
			WHERE e.value IN (SELECT value FROM jsonb_array_elements($3::jsonb)))`
	}
	return rewriteEmployees(ctx, tx, carries, []any{account, string(list)}, []string{"tags", "wire_tail"},
		func(e roster.Employee, _ *string) ([]any, error) {
			e.Tags = slices.DeleteFunc(e.Tags, func(id int64) bool { return slices.Contains(deleted, id) })
			tags, err := json.Marshal(e.Tags)
			if err != nil {
				return nil, err
			}
			_, tail, err := wireParts(e)
			return []any{string(tags), tail}, err
		})
}

// checkTags makes sure every id is a tag of the account (ErrNotFound
// naming the first that is not): employees carry only their account's
// tags. It runs in the transaction of the write that stores them, so a
// bulk write checks each row in its own; on PostgreSQL it holds the tags'
// rows until that ends, so a tag/delete at the same time either waits for
// the write and then takes the tag off the employee, or deletes first and
// the write finds the tag gone (SQLite runs one writer at a time).
func (db *DB) checkTags(ctx context.Context, tx *sql.Tx, account int64, ids []int64) error {
	found, err := db.accountTags(ctx, tx, account, ids)
	if err != nil {
		return err
	}
	return missingTag(found, ids)
}

// missingTag is ErrNotFound naming the first of ids not in found.
func missingTag(found map[int64]bool, ids []int64) error {
	for _, id := range ids {
		if !found[id] {
			return fmt.Errorf("tag %d: %w", id, roster.ErrNotFound)
		}
	}
	return nil
}

// tagQueryIDs bounds the ids one query of accountTags names.
const tagQueryIDs = 1000

// accountTags is the set of ids that are tags of the account, read as
// checkTags reads them (locked on PostgreSQL until tx ends), in one query
// per tagQueryIDs distinct ids: a bulk write checks all its rows' tags at
// once.
func (db *DB) accountTags(ctx context.Context, tx *sql.Tx, account int64, ids []int64) (map[int64]bool, error) {
	found := map[int64]bool{}
	distinct := slices.Compact(slices.Sorted(slices.Values(ids)))
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR SHARE"
	}
	for c := 0; c < len(distinct); c += tagQueryIDs {
		chunk := distinct[c:min(c+tagQueryIDs, len(distinct))]
		args := []any{account}
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		ids, err := scanColumn[int64](tx.QueryContext(ctx, `SELECT id FROM tags WHERE account_id = $1 AND id IN (`+
			strings.Join(marks, ", ")+`)`+lock, args...))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			found[id] = true
		}
	}
	return found, nil
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

// Before tags existed (migration 0008), employees carried any integers as
// tag ids. placeholderTags makes each id an account's employees carry a
// tag of that account, named "Tag <id>" in grey (808080), so that nothing
// an employee held is lost and the tags can be renamed, recoloured or
// deleted through tag/*. An id keeps its number in the first account (by
// id) that carries it; a tag id is one tag, of one account, so another
// account carrying the same number gets a new tag, with its own id, and
// its employees are rewritten to carry that (as is an id below 1, which no
// tag call could name). It runs in the migration's transaction, on the
// columns 0008 knows (id, account_id, tags), and the stored answers are
// recomputed after every migration (refillWire).
func (db *DB) placeholderTags(ctx context.Context, tx *sql.Tx) error {
	pairs := `SELECT DISTINCT employees.account_id, CAST(j.value AS INTEGER) AS tag
		FROM employees, json_each(employees.tags) AS j ORDER BY tag, employees.account_id`
	if db.dialect == dialectPostgres {
		pairs = `SELECT DISTINCT employees.account_id, CAST(j.value AS BIGINT) AS tag
			FROM employees CROSS JOIN LATERAL jsonb_array_elements_text(employees.tags::jsonb) AS j(value)
			ORDER BY tag, employees.account_id`
	}
	type carried struct{ account, tag int64 }
	var all []carried
	rows, err := tx.QueryContext(ctx, pairs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c carried
		if err := rows.Scan(&c.account, &c.tag); err != nil {
			rows.Close()
			return err
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	insert := `INSERT INTO tags (id, account_id, name, color) VALUES ($1, $2, $3, '808080')`
	var moved []carried // the pairs that need a new id, made once the kept ids are in
	for i, c := range all {
		if c.tag < 1 || i > 0 && all[i-1].tag == c.tag {
			moved = append(moved, c)
			continue
		}
		if _, err := tx.ExecContext(ctx, insert, c.tag, c.account, "Tag "+strconv.FormatInt(c.tag, 10)); err != nil {
			return fmt.Errorf("placeholder tag %d: %w", c.tag, err)
		}
	}
	if db.dialect == dialectPostgres && len(all) > len(moved) {
		// Ids given explicitly leave the identity behind them.
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('tags', 'id'), (SELECT max(id) FROM tags))`); err != nil {
			return err
		}
	}
	renumber := map[carried]int64{}
	for _, c := range moved {
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO tags (account_id, name, color) VALUES ($1, $2, '808080') RETURNING id`,
			c.account, "Tag "+strconv.FormatInt(c.tag, 10)).Scan(&id); err != nil {
			return fmt.Errorf("placeholder tag %d of account %d: %w", c.tag, c.account, err)
		}
		renumber[c] = id
	}
	db.placeholders = len(all)
	if len(renumber) == 0 {
		return nil
	}
	// The employees that carry a renumbered id, a batch at a time.
	var after int64
	for {
		type row struct {
			id, account int64
			tags        string
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, account_id, tags FROM employees WHERE id > $1 AND tags <> '[]'
			ORDER BY id LIMIT `+strconv.Itoa(rewriteBatch), after)
		if err != nil {
			return err
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.account, &r.tags); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].id
		var ids []int64
		var vals [][]any
		for _, r := range batch {
			var tags []int64
			if err := json.Unmarshal([]byte(r.tags), &tags); err != nil {
				return fmt.Errorf("employee %d tags: %w", r.id, err)
			}
			changed := false
			for i, t := range tags {
				if id, ok := renumber[carried{r.account, t}]; ok {
					tags[i], changed = id, true
				}
			}
			if !changed {
				continue
			}
			b, err := json.Marshal(tags)
			if err != nil {
				return err
			}
			ids, vals = append(ids, r.id), append(vals, []any{string(b)})
		}
		if len(ids) > 0 {
			if err := updateBatch(ctx, tx, []string{"tags"}, ids, vals); err != nil {
				return err
			}
		}
	}
}

// PlaceholderTags is how many tags the migration to tags made, when this
// Open ran it, of the tag ids employees carried before (placeholderTags).
func (db *DB) PlaceholderTags() int { return db.placeholders }
