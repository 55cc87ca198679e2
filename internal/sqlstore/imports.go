package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"roster/internal/roster"
)

// ErrTooManyImports: the account has as many imports in progress as it may.
var ErrTooManyImports = errors.New("too many imports in progress")

// ErrLeaseLost: another node holds the import now (this one's lease ran
// out), or it moved on; the batch was not written.
var ErrLeaseLost = errors.New("the import's lease was lost")

// AddImportFile records a parsed upload stored under name in the file
// store: rows data lines, the first of them the spreadsheet's firstLine.
func (db *DB) AddImportFile(ctx context.Context, account int64, name string, rows, firstLine int, now time.Time) error {
	_, err := db.exec(ctx, `INSERT INTO import_files (name, account_id, rows, first_line, created_at) VALUES ($1, $2, $3, $4, $5)`,
		name, account, rows, firstLine, now.Unix())
	return err
}

// ImportFile gives a parsed upload of the account: its data lines and the
// line the first is on. ErrNotFound when it is not the account's, or gone.
func (db *DB) ImportFile(ctx context.Context, account int64, name string) (rows, firstLine int, err error) {
	err = db.queryRow(ctx, `SELECT rows, first_line FROM import_files WHERE name = $1 AND account_id = $2`,
		name, account).Scan(&rows, &firstLine)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("import file %s: %w", name, roster.ErrNotFound)
	}
	return rows, firstLine, err
}

const importColumns = `id, account_id, subuser_id, type, filename, params, status, created_at, status_changed_at,
	total_lines, first_line, processed_lines, imported, failed, warnings, errors, failed_file`

func scanImport(s scanner) (roster.ImportProcess, error) {
	var p roster.ImportProcess
	var sub sql.NullInt64
	var params, warnings, errs string
	var created, changed int64
	var failedFile sql.NullString
	err := s.Scan(&p.ID, &p.AccountID, &sub, &p.Type, &p.Filename, &params, &p.Status, &created, &changed,
		&p.TotalLines, &p.FirstLine, &p.Progress.ProcessedLines, &p.Progress.Imported, &p.Progress.Failed,
		&warnings, &errs, &failedFile)
	if err != nil {
		return p, err
	}
	p.SubuserID, p.FailedFile = ptrInt(sub), ptrString(failedFile)
	p.Created, p.Changed = time.Unix(created, 0).UTC(), time.Unix(changed, 0).UTC()
	for _, u := range []struct {
		text string
		v    any
	}{{params, &p.Params}, {warnings, &p.Progress.Warnings}, {errs, &p.Progress.Errors}} {
		if err := json.Unmarshal([]byte(u.text), u.v); err != nil {
			return p, fmt.Errorf("import %d: %w", p.ID, err)
		}
	}
	return p, nil
}

// CreateImport records a new import, waiting to be claimed, and gives its
// id. ErrTooManyImports when the account has maxActive imports not yet
// done; ErrExists when the account has an import of the same file with the
// same parameters.
func (db *DB) CreateImport(ctx context.Context, p roster.ImportProcess, maxActive int) (int64, error) {
	params, err := json.Marshal(p.Params)
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256(params)
	var id int64
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if db.dialect == dialectPostgres {
			// Two starts of one account count one after the other.
			if _, err := tx.ExecContext(ctx, `SELECT id FROM users WHERE id = $1 FOR UPDATE`, p.AccountID); err != nil {
				return err
			}
		}
		var same int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM imports WHERE account_id = $1 AND type = $2 AND filename = $3
			AND params_digest = $4`, p.AccountID, p.Type, p.Filename, hex.EncodeToString(digest[:])).Scan(&same); err != nil {
			return err
		}
		if same > 0 {
			return fmt.Errorf("import of %s: %w", p.Filename, roster.ErrExists)
		}
		var active int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM imports WHERE account_id = $1 AND status IN ('created', 'in_progress')`,
			p.AccountID).Scan(&active); err != nil {
			return err
		}
		if active >= maxActive {
			return fmt.Errorf("%w: %d of %d", ErrTooManyImports, active, maxActive)
		}
		now := p.Created.Unix()
		err := tx.QueryRowContext(ctx, `INSERT INTO imports (account_id, subuser_id, type, filename, params, params_digest,
			status, created_at, status_changed_at, total_lines, first_line) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) RETURNING id`,
			p.AccountID, nullInt(p.SubuserID), p.Type, p.Filename, string(params), hex.EncodeToString(digest[:]),
			roster.ImportCreated, now, p.TotalLines, p.FirstLine).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("import of %s: %w", p.Filename, roster.ErrExists)
		}
		return err
	})
	return id, err
}

// Import reads one import of the account, of the type.
func (db *DB) Import(ctx context.Context, account int64, typ string, id int64) (roster.ImportProcess, error) {
	p, err := scanImport(db.queryRow(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1 AND account_id = $2 AND type = $3`,
		id, account, typ))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("import %d: %w", id, roster.ErrNotFound)
	}
	return p, err
}

// UnfinishedImports lists the account's imports that are not done, of the
// types given (all without any), by id.
func (db *DB) UnfinishedImports(ctx context.Context, account int64, types []string) ([]roster.ImportProcess, error) {
	args := []any{account}
	where := ""
	if len(types) > 0 {
		var marks []string
		for _, t := range types {
			args = append(args, t)
			marks = append(marks, fmt.Sprintf("$%d", len(args)))
		}
		where = ` AND type IN (` + strings.Join(marks, ", ") + `)`
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+importColumns+` FROM imports WHERE account_id = $1
		AND status IN ('created', 'in_progress')`+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []roster.ImportProcess{}
	for rows.Next() {
		p, err := scanImport(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// ClaimImport gives this node (owner) an import to run until leaseUntil:
// the oldest one not done whose lease is free or ran out. Exactly one
// node gets each: on PostgreSQL the row is taken with FOR UPDATE SKIP
// LOCKED, so a node that claims at the same time passes over it; on SQLite
// the transaction is the only writer. ok is false when there is none.
func (db *DB) ClaimImport(ctx context.Context, owner string, now, leaseUntil time.Time) (p roster.ImportProcess, ok bool, err error) {
	lock := ""
	if db.dialect == dialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	free := `status IN ('created', 'in_progress') AND (lease_until IS NULL OR lease_until < $3)`
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanImport(tx.QueryRowContext(ctx, `UPDATE imports SET lease_owner = $1, lease_until = $2,
			status_changed_at = CASE WHEN status = 'created' THEN $4 ELSE status_changed_at END, status = 'in_progress'
			WHERE id = (SELECT id FROM imports WHERE `+free+` ORDER BY id LIMIT 1`+lock+`) AND `+free+`
			RETURNING `+importColumns, owner, leaseUntil.UnixMilli(), now.UnixMilli(), now.Unix()))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	return p, err == nil, err
}

// ImportRow is a row of the file that reads as an employee, for the store
// to create (or refuse by its rules).
type ImportRow struct {
	Line     int // of the spreadsheet
	Employee roster.Employee
	Raw      []byte // the row's TSV line, for the failed rows' file
}

// ImportFailure is a row that failed, and why.
type ImportFailure struct {
	Line   int
	Raw    []byte
	Reason string
}

// ImportBatch is the next part of an import: the rows to create, those
// that failed before reaching the store, the warnings found, and the
// processed lines once it is written.
type ImportBatch struct {
	Rows     []ImportRow
	Failed   []ImportFailure
	Warnings []roster.ImportLineMessage
	Through  int
}

// ApplyImportBatch writes a batch in one transaction: its employees (by
// createEmployees, whose refusals join the failed rows), its failed rows
// and the import's progress, so that a batch is either all written or not
// at all, and a restart resumes after the last one written. The import's
// row is updated first, only while owner holds the lease and the progress
// is still p's: a node whose lease ran out, and which another node took
// over, writes nothing (ErrLeaseLost). On success p holds the new progress.
func (db *DB) ApplyImportBatch(ctx context.Context, p *roster.ImportProcess, owner string, b ImportBatch, leaseUntil time.Time) error {
	next := p.Progress
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE imports SET lease_until = $1 WHERE id = $2 AND lease_owner = $3
			AND processed_lines = $4 AND status = 'in_progress'`, leaseUntil.UnixMilli(), p.ID, owner, p.Progress.ProcessedLines)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(ErrLeaseLost, err)
		}
		es := make([]roster.Employee, len(b.Rows))
		for i, r := range b.Rows {
			es[i] = r.Employee
		}
		_, refused, err := db.createEmployees(ctx, tx, p.AccountID, es)
		if err != nil {
			return err
		}
		failed := slices.Clone(b.Failed)
		for i, r := range b.Rows {
			if refused[i] != nil {
				failed = append(failed, ImportFailure{Line: r.Line, Raw: r.Raw, Reason: refused[i].Error()})
			}
		}
		next = p.Progress
		next.Imported += len(b.Rows) - (len(failed) - len(b.Failed))
		next.Failed += len(failed)
		next.ProcessedLines = b.Through
		next.Warnings = appendMessages(next.Warnings, b.Warnings)
		slices.SortStableFunc(failed, func(a, b ImportFailure) int { return cmp.Compare(a.Line, b.Line) })
		var errs []roster.ImportLineMessage
		for _, f := range failed {
			errs = append(errs, roster.ImportLineMessage{Line: f.Line, Message: f.Reason})
		}
		next.Errors = appendMessages(next.Errors, errs)
		for _, f := range failed {
			if _, err := tx.ExecContext(ctx, `INSERT INTO import_failures (import_id, line, row, reason) VALUES ($1, $2, $3, $4)`,
				p.ID, f.Line, string(f.Raw), f.Reason); err != nil {
				return err
			}
		}
		warnings, _ := json.Marshal(next.Warnings)
		errsText, _ := json.Marshal(next.Errors)
		_, err = tx.ExecContext(ctx, `UPDATE imports SET processed_lines = $1, imported = $2, failed = $3, warnings = $4, errors = $5
			WHERE id = $6`, next.ProcessedLines, next.Imported, next.Failed, string(warnings), string(errsText), p.ID)
		return err
	})
	if err == nil {
		p.Progress = next
	}
	return err
}

// appendMessages keeps the first roster.MaxImportMessages messages, in
// line order.
func appendMessages(have, more []roster.ImportLineMessage) []roster.ImportLineMessage {
	if have == nil {
		have = []roster.ImportLineMessage{}
	}
	for _, m := range more {
		if len(have) >= roster.MaxImportMessages {
			break
		}
		have = append(have, m)
	}
	return have
}

// ImportFailures calls fn for each failed row of an import, by line.
func (db *DB) ImportFailures(ctx context.Context, id int64, fn func(line int, raw, reason string) error) error {
	rows, err := db.sql.QueryContext(ctx, `SELECT line, row, reason FROM import_failures WHERE import_id = $1 ORDER BY line`, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var line int
		var raw, reason string
		if err := rows.Scan(&line, &raw, &reason); err != nil {
			return err
		}
		if err := fn(line, raw, reason); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FailuresSize is how many bytes an import's failed rows and reasons hold.
func (db *DB) FailuresSize(ctx context.Context, id int64) (int64, error) {
	var n sql.NullInt64
	err := db.queryRow(ctx, `SELECT sum(length(row) + length(reason) + 16) FROM import_failures WHERE import_id = $1`, id).Scan(&n)
	return n.Int64, err
}

// FinishImport ends an import that owner holds with status, naming the
// file of its failed rows (nil: none); the failed rows kept in the
// database go, the file has them now.
func (db *DB) FinishImport(ctx context.Context, p *roster.ImportProcess, owner, status string, failedFile *string, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE imports SET status = $1, status_changed_at = $2, failed_file = $3,
			lease_owner = NULL, lease_until = NULL WHERE id = $4 AND lease_owner = $5 AND status = 'in_progress'`,
			status, now.Unix(), nullString(failedFile), p.ID, owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(ErrLeaseLost, err)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM import_failures WHERE import_id = $1`, p.ID)
		if err == nil {
			p.Status, p.FailedFile, p.Changed = status, failedFile, now.UTC().Truncate(time.Second)
		}
		return err
	})
}

// ExpireImportFiles forgets the parsed uploads and the failed rows' files
// made before cutoff, except a parsed upload an import not yet done still
// reads, and gives their names, for the caller to delete from the file
// store. An import whose failed rows' file is gone answers download_failed
// with 204.
func (db *DB) ExpireImportFiles(ctx context.Context, cutoff time.Time) ([]string, error) {
	var names []string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		names, err = scanColumn[string](tx.QueryContext(ctx, `DELETE FROM import_files WHERE created_at < $1 AND name NOT IN
			(SELECT filename FROM imports WHERE status IN ('created', 'in_progress')) RETURNING name`, cutoff.Unix()))
		if err != nil {
			return err
		}
		failed, err := scanColumn[string](tx.QueryContext(ctx,
			`SELECT failed_file FROM imports WHERE failed_file IS NOT NULL AND status_changed_at < $1`, cutoff.Unix()))
		if err != nil {
			return err
		}
		for _, name := range failed {
			if _, err := tx.ExecContext(ctx, `UPDATE imports SET failed_file = NULL WHERE failed_file = $1`, name); err != nil {
				return err
			}
		}
		names = append(names, failed...)
		return nil
	})
	return names, err
}

// ImportFilesInUse reports which of the names an import not yet done
// reads.
func (db *DB) ImportFilesInUse(ctx context.Context, names []string) (map[string]bool, error) {
	used := map[string]bool{}
	for len(names) > 0 {
		n := min(500, len(names))
		args := make([]any, n)
		marks := make([]string, n)
		for i, name := range names[:n] {
			args[i], marks[i] = name, fmt.Sprintf("$%d", i+1)
		}
		list, err := scanColumn[string](db.sql.QueryContext(ctx, `SELECT filename FROM imports
			WHERE status IN ('created', 'in_progress') AND filename IN (`+strings.Join(marks, ", ")+`)`, args...))
		if err != nil {
			return nil, err
		}
		for _, name := range list {
			used[name] = true
		}
		names = names[n:]
	}
	return used, nil
}
