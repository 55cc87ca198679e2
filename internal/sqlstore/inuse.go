package sqlstore

import (
	"context"
	"fmt"
	"os"
)

// inUseKey is the advisory lock of a PostgreSQL schema's servers: one per
// schema, so that installations sharing a database do not see each other.
const inUseKey = `hashtextextended('roster serve ' || current_schema(), 0)`

// Serving marks the database as served by this process until release is
// called, so that roster copy can refuse a source a server is writing to
// (InUse). Every server of the database holds the mark at once: on SQLite a
// shared lock (flock) on <database>.lock beside the file, on PostgreSQL a
// shared advisory lock of the schema, held on a connection of its own. Both
// end with the process, however it ends.
func (db *DB) Serving(ctx context.Context) (release func(), err error) {
	if db.dialect == dialectSQLite {
		f, err := os.OpenFile(db.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("sqlite: in-use lock: %w", err)
		}
		// Blocking: a copy holds the lock exclusively only for a moment.
		if err := lockFile(f, false, true); err != nil {
			f.Close()
			return nil, fmt.Errorf("sqlite: in-use lock: %w", err)
		}
		return func() { f.Close() }, nil
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: in-use lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock_shared(`+inUseKey+`)`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("postgres: in-use lock: %w", err)
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock_shared(`+inUseKey+`)`)
		conn.Close()
	}, nil
}

// InUse reports whether a server holds the database's Serving mark. On
// systems without flock, a SQLite database is never seen in use.
func (db *DB) InUse(ctx context.Context) (bool, error) {
	if db.dialect == dialectSQLite {
		f, err := os.OpenFile(db.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return false, fmt.Errorf("sqlite: in-use lock: %w", err)
		}
		defer f.Close() // closing drops the lock
		err = lockFile(f, true, false)
		if err == errLocked {
			return true, nil
		}
		return false, err
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+inUseKey+`)`).Scan(&got); err != nil {
		return false, fmt.Errorf("postgres: in-use lock: %w", err)
	}
	if got {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(`+inUseKey+`)`); err != nil {
			return false, err
		}
	}
	return !got, nil
}
