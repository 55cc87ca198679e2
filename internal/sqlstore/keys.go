package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"roster/internal/roster"
)

// MaxAPIKeys is how many API keys one account may hold (Navixy's limit).
const MaxAPIKeys = 20

// ErrKeyQuota is returned by CreateAPIKey when the account already holds
// MaxAPIKeys keys.
var ErrKeyQuota = errors.New("API key quota reached")

// APIKey is an API key as listed: never the key itself, which is stored
// only as a digest.
type APIKey struct {
	ID        int64
	Title     string
	CreatedAt time.Time
}

// CreateAPIKey stores an API key of the user by the digest of the key.
// ErrKeyQuota when the user already has MaxAPIKeys keys. The count and the
// insert run in one transaction that holds the user's row, so two creates
// at once cannot both take the last place.
func (db *DB) CreateAPIKey(ctx context.Context, userID int64, digest []byte, title string, now time.Time) (APIKey, error) {
	k := APIKey{Title: title, CreatedAt: time.Unix(now.Unix(), 0).UTC()}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == dialectPostgres {
			// SQLite's BEGIN IMMEDIATE already serializes writers.
			var id int64
			if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, userID).Scan(&id); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE user_id = $1`, userID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxAPIKeys {
			return fmt.Errorf("user %d has %d keys: %w", userID, n, ErrKeyQuota)
		}
		return tx.QueryRowContext(ctx,
			`INSERT INTO api_keys (digest, user_id, title, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			digest, userID, title, now.Unix()).Scan(&k.ID)
	})
	return k, err
}

// APIKeys lists the user's API keys by id.
func (db *DB) APIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	rows, err := db.query(ctx,
		`SELECT id, title, created_at FROM api_keys WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []APIKey{}
	for rows.Next() {
		var k APIKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Title, &created); err != nil {
			return nil, err
		}
		k.CreatedAt = time.Unix(created, 0).UTC()
		list = append(list, k)
	}
	return list, rows.Err()
}

// DeleteAPIKey deletes the user's API key with that id. ErrNotFound when
// the user has no such key.
func (db *DB) DeleteAPIKey(ctx context.Context, userID, id int64) error {
	res, err := db.exec(ctx, `DELETE FROM api_keys WHERE id = $1 AND user_id = $2`, id, userID)
	return affected(res, err, "API key", id)
}

// DeleteAPIKeyByDigest deletes the user's API key with that digest.
// ErrNotFound when the user has no such key.
func (db *DB) DeleteAPIKeyByDigest(ctx context.Context, userID int64, digest []byte) error {
	res, err := db.exec(ctx, `DELETE FROM api_keys WHERE digest = $1 AND user_id = $2`, digest, userID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("API key: %w", roster.ErrNotFound)
	}
	return nil
}
