package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// Snapshot writes a consistent copy of a SQLite database to path, a file
// that must not exist, while the database serves: VACUUM INTO reads in one
// transaction, which under WAL blocks no writer. It returns the avatar
// names the copy references, read from the copy itself after checking its
// integrity, and leaves the copy synced to disk.
func (db *DB) Snapshot(ctx context.Context, path string) (avatars []string, err error) {
	if db.dialect != dialectSQLite {
		return nil, errors.New("snapshot: only a SQLite database can be snapshot by roster; back PostgreSQL up with its own tools")
	}
	if _, err := db.sql.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// Read-only and immutable: reading the copy writes nothing beside it.
	q := url.Values{"mode": {"ro"}, "immutable": {"1"}}
	s, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer s.Close()
	snap := &DB{sql: s, dialect: dialectSQLite, path: path}
	if err := snap.IntegrityCheck(ctx); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// Every owner's avatars (employees', tags'), as the sweep asks.
	rows, err := s.QueryContext(ctx, referencing(`avatar_file_name`, `avatar_file_name IS NOT NULL`)+` ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		avatars = append(avatars, name)
	}
	return avatars, rows.Err()
}
