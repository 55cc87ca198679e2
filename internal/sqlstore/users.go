package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"roster/internal/roster"
)

const userColumns = `id, COALESCE(master_id, 0), login, first_name, middle_name, last_name, phone,
	activated, security_group_id, created_at`

// detailColumns are the columns of roster.UserDetails, which User and
// SubUsers read and a sub-user's writes set; Caller and UserByLogin leave
// them out, as signing in and authorizing need none of them.
var detailColumns = strings.Join(roster.DetailColumns, ", ")

// detailValues gives the values of d for detailColumns.
func detailValues(d *roster.UserDetails) []any {
	var values []any
	for _, f := range d.Fields() {
		values = append(values, *f.Value)
	}
	return values
}

// placeholders gives n placeholders from $first on, comma-separated.
func placeholders(first, n int) string {
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(list, ", ")
}

type scanner interface{ Scan(dest ...any) error }

// scanFullUser scans userColumns and then detailColumns.
func scanFullUser(s scanner) (roster.User, error) {
	var d roster.UserDetails
	var dest []any
	for _, f := range d.Fields() {
		dest = append(dest, f.Value)
	}
	u, err := scanUser(s, dest...)
	u.Details = d
	return u, err
}

func scanUser(s scanner, extra ...any) (roster.User, error) {
	var u roster.User
	var created int64
	var group sql.NullInt64
	dest := append([]any{&u.ID, &u.MasterID, &u.Login, &u.FirstName, &u.MiddleName, &u.LastName,
		&u.Phone, &u.Activated, &group, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return u, err
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	u.SecurityGroupID = ptrInt(group)
	return u, nil
}

// CountUsers counts every user, master or sub-user.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateMaster creates a master user (an account). ErrLoginTaken when the
// login is in use.
func (db *DB) CreateMaster(ctx context.Context, login, passwordHash string, now time.Time) (int64, error) {
	var id int64
	err := db.queryRow(ctx,
		`INSERT INTO users (login, password_hash, activated, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		login, passwordHash, true, now.Unix()).Scan(&id)
	if isUnique(err) {
		return 0, fmt.Errorf("user %q: %w", login, roster.ErrLoginTaken)
	}
	return id, err
}

// SetMasterPassword sets a master user's password and ends its sessions,
// in one transaction.
func (db *DB) SetMasterPassword(ctx context.Context, login, passwordHash string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx,
			`UPDATE users SET password_hash = $1 WHERE login = $2 AND master_id IS NULL RETURNING id`,
			passwordHash, login).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("master user %q: %w", login, roster.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
}

// UserByLogin returns the user with that login and its password hash.
func (db *DB) UserByLogin(ctx context.Context, login string) (roster.User, string, error) {
	var hash string
	row := db.queryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE login = $1`, login)
	u, err := scanUser(row, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return u, "", fmt.Errorf("login: %w", roster.ErrNotFound)
	}
	return u, hash, err
}

// CreateSession stores a session by the digest of its key.
func (db *DB) CreateSession(ctx context.Context, userID int64, digest []byte, now, expires time.Time) error {
	_, err := db.exec(ctx, insertSession, digest, userID, now.Unix(), expires.Unix())
	return err
}

const insertSession = `INSERT INTO sessions (digest, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`

// Caller loads who holds the session or API key with that digest: the
// user, and the rights of its security group. ErrNoSession when the digest
// names neither a live session nor an API key. One query looks in both: a
// session expires, an API key does not. (Asking sessions alone first saves
// little on a session and costs an API key a second query.) The Rights map
// is shared between callers of the same group: read it, never write it.
func (db *DB) Caller(ctx context.Context, digest []byte, now time.Time) (*roster.Caller, error) {
	var rights sql.NullString
	var keyID int64
	row := db.queryRow(ctx, `SELECT u.id, COALESCE(u.master_id, 0), u.login, u.first_name,
		u.middle_name, u.last_name, u.phone, u.activated, u.security_group_id, u.created_at, g.rights, c.key_id
		FROM (SELECT user_id, 0 AS key_id FROM sessions WHERE digest = $1 AND expires_at > $2
			UNION ALL SELECT user_id, id AS key_id FROM api_keys WHERE digest = $1) c
		JOIN users u ON u.id = c.user_id
		LEFT JOIN security_groups g ON g.id = u.security_group_id
		LIMIT 1`, digest, now.Unix())
	u, err := scanUser(row, &rights, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roster.ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	c := &roster.Caller{User: u, Rights: map[roster.Right]bool{}, KeyDigest: digest, APIKeyID: keyID}
	if rights.Valid {
		if c.Rights, err = db.rights.parse(rights.String); err != nil {
			return nil, fmt.Errorf("group %d rights: %w", *u.SecurityGroupID, err)
		}
	}
	return c, nil
}

// rightSets remembers the sets parseRights made, by their JSON text, so a
// call does not decode the same text again: every authenticated call asks
// for its caller's rights. It memoizes a pure function, it does not copy
// data: a changed group has another text. It holds at most maxRightSets
// texts (a deployment has few distinct sets of rights, not one per group)
// and starts over when full.
type rightSets struct {
	mu sync.RWMutex
	m  map[string]map[roster.Right]bool
}

const maxRightSets = 1024

// parse returns the set of rights in a group's JSON text. Calls with the
// same text share one map: read it, never write it.
func (rs *rightSets) parse(text string) (map[roster.Right]bool, error) {
	rs.mu.RLock()
	set, ok := rs.m[text]
	rs.mu.RUnlock()
	if ok {
		return set, nil
	}
	var list []roster.Right
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return nil, err
	}
	set = make(map[roster.Right]bool, len(list))
	for _, r := range list {
		set[r] = true
	}
	rs.mu.Lock()
	if rs.m == nil || len(rs.m) >= maxRightSets {
		rs.m = map[string]map[roster.Right]bool{}
	}
	rs.m[text] = set
	rs.mu.Unlock()
	return set, nil
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, digest []byte) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE digest = $1`, digest)
	return err
}

// RenewSession moves a live session's expiry. ErrNoSession when it has ended.
func (db *DB) RenewSession(ctx context.Context, digest []byte, now, expires time.Time) error {
	res, err := db.exec(ctx,
		`UPDATE sessions SET expires_at = $1 WHERE digest = $2 AND expires_at > $3`,
		expires.Unix(), digest, now.Unix())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return roster.ErrNoSession
	}
	return nil
}

// ActiveSessions counts sessions that have not expired.
func (db *DB) ActiveSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.queryRow(ctx, `SELECT count(*) FROM sessions WHERE expires_at > $1`, now.Unix()).Scan(&n)
	return n, err
}

// DeleteExpiredSessions removes sessions that have expired.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// checkGroup makes sure a security group id, if set, names a group of the
// account.
func checkGroup(ctx context.Context, tx *sql.Tx, account int64, group *int64) error {
	if group == nil {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM security_groups WHERE id = $1 AND account_id = $2`,
		*group, account).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("security group %d: %w", *group, roster.ErrNotFound)
	}
	return nil
}

// CreateSubUser creates a sub-user of the account.
func (db *DB) CreateSubUser(ctx context.Context, account int64, u roster.User, passwordHash string, now time.Time) (int64, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkGroup(ctx, tx, account, u.SecurityGroupID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, insertSubUser, append([]any{account, u.Login, passwordHash, u.FirstName,
			u.MiddleName, u.LastName, u.Phone, u.Activated, nullInt(u.SecurityGroupID), now.Unix()},
			detailValues(&u.Details)...)...).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("login %q: %w", u.Login, roster.ErrLoginTaken)
		}
		if isForeignKey(err) && u.SecurityGroupID != nil {
			return fmt.Errorf("security group %d: %w", *u.SecurityGroupID, roster.ErrNotFound)
		}
		return err
	})
	return id, err
}

var insertSubUser = `INSERT INTO users (master_id, login, password_hash, first_name, middle_name, last_name,
	phone, activated, security_group_id, created_at, ` + detailColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ` + placeholders(11, len(roster.DetailColumns)) + `) RETURNING id`

// SubUsers lists the account's sub-users by id.
func (db *DB) SubUsers(ctx context.Context, account int64) ([]roster.User, error) {
	rows, err := db.query(ctx, `SELECT `+userColumns+`, `+detailColumns+` FROM users WHERE master_id = $1 ORDER BY id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []roster.User{}
	for rows.Next() {
		u, err := scanFullUser(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, u)
	}
	return list, rows.Err()
}

// UpdateSubUser changes a sub-user's fields (not its password). Deactivating
// a sub-user ends its sessions.
func (db *DB) UpdateSubUser(ctx context.Context, account int64, u roster.User) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkGroup(ctx, tx, account, u.SecurityGroupID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, updateSubUser, append([]any{u.Login, u.FirstName, u.MiddleName,
			u.LastName, u.Phone, u.Activated, nullInt(u.SecurityGroupID), u.ID, account},
			detailValues(&u.Details)...)...)
		if isUnique(err) {
			return fmt.Errorf("login %q: %w", u.Login, roster.ErrLoginTaken)
		}
		if isForeignKey(err) && u.SecurityGroupID != nil {
			return fmt.Errorf("security group %d: %w", *u.SecurityGroupID, roster.ErrNotFound)
		}
		if err := affected(res, err, "sub-user", u.ID); err != nil {
			return err
		}
		if !u.Activated {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
		}
		return err
	})
}

var updateSubUser = func() string {
	set := make([]string, len(roster.DetailColumns))
	for i, c := range roster.DetailColumns {
		set[i] = fmt.Sprintf("%s = $%d", c, 10+i)
	}
	return `UPDATE users SET login = $1, first_name = $2, middle_name = $3, last_name = $4, phone = $5,
	activated = $6, security_group_id = $7, ` + strings.Join(set, ", ") + `
	WHERE id = $8 AND master_id = $9`
}()

// AssignGroup puts the account's sub-users ids in the security group
// (nil: the default group, no rights). All or nothing: one id that is not a
// sub-user of the account, or a group of another account, changes nothing
// and answers ErrNotFound. Duplicate ids are harmless.
func (db *DB) AssignGroup(ctx context.Context, account int64, group *int64, ids []int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := checkGroup(ctx, tx, account, group); err != nil {
			return err
		}
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE users SET security_group_id = $1 WHERE id = $2 AND master_id = $3`,
				nullInt(group), id, account)
			if isForeignKey(err) && group != nil {
				return fmt.Errorf("security group %d: %w", *group, roster.ErrNotFound)
			}
			if err := affected(res, err, "sub-user", id); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateSubUserSession opens a session as a sub-user of the account:
// ErrNotFound when id is not one, ErrAccessDenied when it is deactivated.
// The check takes the sub-user's row for writing before the session is
// stored, so a deactivation that commits first is seen, and one that comes
// after waits and then ends the new session with the others.
func (db *DB) CreateSubUserSession(ctx context.Context, account, id int64, digest []byte, now, expires time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET activated = activated
			WHERE id = $1 AND master_id = $2 AND activated`, id, account)
		if err := affected(res, err, "active sub-user", id); err != nil {
			if !errors.Is(err, roster.ErrNotFound) {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE id = $1 AND master_id = $2`,
				id, account).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("sub-user %d: %w", id, roster.ErrNotFound)
			}
			return fmt.Errorf("sub-user %d deactivated: %w", id, roster.ErrAccessDenied)
		}
		_, err = tx.ExecContext(ctx, insertSession, digest, id, now.Unix(), expires.Unix())
		return err
	})
}

// DeleteSubUser deletes a sub-user of the account and its sessions.
func (db *DB) DeleteSubUser(ctx context.Context, account, id int64) error {
	res, err := db.exec(ctx, `DELETE FROM users WHERE id = $1 AND master_id = $2`, id, account)
	return affected(res, err, "sub-user", id)
}

// CreateGroup creates a security group in the account.
func (db *DB) CreateGroup(ctx context.Context, account int64, g roster.SecurityGroup) (int64, error) {
	rights, err := json.Marshal(rightsOrEmpty(g.Rights))
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.queryRow(ctx,
		`INSERT INTO security_groups (account_id, label, rights, store_period) VALUES ($1, $2, $3, $4) RETURNING id`,
		account, g.Label, string(rights), g.StorePeriod).Scan(&id)
	return id, err
}

// Groups lists the account's security groups by id.
func (db *DB) Groups(ctx context.Context, account int64) ([]roster.SecurityGroup, error) {
	rows, err := db.query(ctx,
		`SELECT id, label, rights, store_period FROM security_groups WHERE account_id = $1 ORDER BY id`, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []roster.SecurityGroup{}
	for rows.Next() {
		var g roster.SecurityGroup
		var rights string
		if err := rows.Scan(&g.ID, &g.Label, &rights, &g.StorePeriod); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(rights), &g.Rights); err != nil {
			return nil, fmt.Errorf("group %d rights: %w", g.ID, err)
		}
		list = append(list, g)
	}
	return list, rows.Err()
}

// UpdateGroup changes a security group of the account.
func (db *DB) UpdateGroup(ctx context.Context, account int64, g roster.SecurityGroup) error {
	rights, err := json.Marshal(rightsOrEmpty(g.Rights))
	if err != nil {
		return err
	}
	res, err := db.exec(ctx,
		`UPDATE security_groups SET label = $1, rights = $2, store_period = $3 WHERE id = $4 AND account_id = $5`,
		g.Label, string(rights), g.StorePeriod, g.ID, account)
	return affected(res, err, "security group", g.ID)
}

// DeleteGroup deletes a security group of the account; its sub-users fall
// back to the default group (no rights).
func (db *DB) DeleteGroup(ctx context.Context, account, id int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE users SET security_group_id = NULL WHERE security_group_id = $1 AND master_id = $2`,
			id, account); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM security_groups WHERE id = $1 AND account_id = $2`, id, account)
		return affected(res, err, "security group", id)
	})
}

func rightsOrEmpty(r []roster.Right) []roster.Right {
	if r == nil {
		return []roster.Right{}
	}
	return r
}

// affected turns "no row changed" into ErrNotFound.
func affected(res sql.Result, err error, what string, id int64) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %d: %w", what, id, roster.ErrNotFound)
	}
	return nil
}

func nullInt(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func ptrInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// User reads a user by id, with its details.
func (db *DB) User(ctx context.Context, id int64) (roster.User, error) {
	u, err := scanFullUser(db.queryRow(ctx, `SELECT `+userColumns+`, `+detailColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %d: %w", id, roster.ErrNotFound)
	}
	return u, err
}
