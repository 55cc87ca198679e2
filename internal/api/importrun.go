package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"roster/internal/roster"
	"roster/internal/sheet"
	"roster/internal/sqlstore"
)

// RunImports runs the imports of every node's accounts until ctx ends,
// one at a time: it claims the oldest import whose lease is free (a
// new one, or one whose node died), runs it in batches, each written with
// its progress in one transaction, and looks again. A node that dies
// mid-import leaves its last batch written whole or not at all; the node
// that claims the import next, once the lease has run out, resumes after
// the last written line, so no row is created twice.
func (s *Server) RunImports(ctx context.Context) {
	b := make([]byte, 8)
	rand.Read(b)
	owner := hex.EncodeToString(b)
	o := s.opts.Imports
	for ctx.Err() == nil {
		now := s.opts.Now()
		p, ok, err := s.db.ClaimImport(ctx, owner, now, now.Add(o.Lease))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("claiming an import", "error", err)
		}
		if ok {
			s.log.Info("import claimed", "import", p.ID, "account", p.AccountID, "from_line", p.Progress.ProcessedLines)
			if err := s.runImport(ctx, owner, &p); err != nil && ctx.Err() == nil {
				s.log.Warn("import stopped", "import", p.ID, "error", err)
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-s.importWake:
		case <-time.After(o.Poll):
		}
	}
}

// runImport runs a claimed import to its end, or until its lease is lost
// or ctx ends.
func (s *Server) runImport(ctx context.Context, owner string, p *roster.ImportProcess) error {
	o := s.opts.Imports
	obj, err := s.files.Get(ctx, p.Filename)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.log.Warn("import file missing", "import", p.ID, "error", err)
		return s.db.FinishImport(ctx, p, owner, roster.ImportFailed, nil, s.opts.Now())
	}
	defer obj.Close()
	headers := p.Params.Headers
	var batch sqlstore.ImportBatch
	size := 0
	flush := func(through int) error {
		batch.Through = through
		var err error
		for try := range 3 {
			err = s.db.ApplyImportBatch(ctx, p, owner, batch, s.opts.Now().Add(o.Lease))
			// A tracker or key taken by a write that committed after the
			// check: the next try's check sees it and refuses the row.
			if !errors.Is(err, roster.ErrExists) {
				break
			}
			time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
		}
		batch, size = sqlstore.ImportBatch{}, 0
		return err
	}
	done := p.Progress.ProcessedLines
	err = sheet.Read(obj, s.maxLine(), func(n int, cells []string) error {
		if n <= done {
			return nil
		}
		line := p.FirstLine + n - 1
		raw := sheet.AppendRow(nil, cells)
		raw = raw[:len(raw)-1]
		if len(cells) > 0 {
			e, warnings, bad := rowEmployee(headers, cells, 100)
			for _, w := range warnings {
				batch.Warnings = append(batch.Warnings, roster.ImportLineMessage{Line: line, Message: w})
			}
			if len(bad) > 0 {
				batch.Failed = append(batch.Failed, sqlstore.ImportFailure{Line: line, Raw: raw, Reason: rowMessage(bad)})
			} else {
				batch.Rows = append(batch.Rows, sqlstore.ImportRow{Line: line, Employee: e, Raw: raw})
			}
			size += len(raw)
		}
		// Batches are bounded by rows and by bytes, so that wide rows
		// keep a batch's memory small.
		if len(batch.Rows)+len(batch.Failed) >= o.Batch || size >= 4<<20 {
			return flush(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(p.TotalLines); err != nil {
		return err
	}
	var failedFile *string
	if p.Progress.Failed > 0 {
		name, err := s.writeFailed(ctx, p)
		if err != nil {
			return err
		}
		failedFile = &name
	}
	if err := s.db.FinishImport(ctx, p, owner, roster.ImportDone, failedFile, s.opts.Now()); err != nil {
		return err
	}
	s.log.Info("import done", "import", p.ID, "imported", p.Progress.Imported, "failed", p.Progress.Failed)
	return nil
}

// writeFailed stores the file of an import's failed rows: a header line
// (the columns' labels, or their fields, and "error"), then each failed
// row as it was read with why it failed in a last column. The file is
// built in memory reserved from the budget (its size is known first), since
// the file store takes whole objects.
func (s *Server) writeFailed(ctx context.Context, p *roster.ImportProcess) (string, error) {
	size, err := s.db.FailuresSize(ctx, p.ID)
	if err != nil {
		return "", err
	}
	free, err := s.budget.reserve(ctx, min(size*2, s.budget.size))
	if err != nil {
		return "", err
	}
	defer free()
	head := p.Params.UserHeaders
	if len(head) != len(p.Params.Headers) {
		head = p.Params.Headers
	}
	cols := len(head)
	buf := sheet.AppendRow(nil, append(append([]string{}, head...), "error"))
	err = s.db.ImportFailures(ctx, p.ID, func(line int, raw, reason string) error {
		cells := sheet.ParseRow([]byte(raw), nil)
		for len(cells) < cols {
			cells = append(cells, "")
		}
		buf = sheet.AppendRow(buf, append(cells, fmt.Sprintf("line %d: %s", line, reason)))
		return nil
	})
	if err != nil {
		return "", err
	}
	name := failedFileName(p.ID)
	if err := s.files.Put(ctx, name, buf); err != nil {
		return "", err
	}
	return name, nil
}

// expireImports deletes the parsed files and failed rows' files older than
// the retention period: those the database names, then any other import
// file of the store that old which no import not yet done reads (one a
// node stored but crashed before recording).
func (s *Server) expireImports(ctx context.Context) (int, error) {
	cutoff := s.opts.Now().Add(-s.opts.Imports.Retention)
	names, err := s.db.ExpireImportFiles(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	var old []string
	err = s.files.List(ctx, func(name string, mod time.Time) error {
		if strings.HasPrefix(name, "import-") && mod.Before(cutoff) && !slices.Contains(names, name) {
			old = append(old, name)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	used, err := s.db.ImportFilesInUse(ctx, old)
	if err != nil {
		return 0, err
	}
	for _, name := range old {
		if !used[name] {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if err := s.files.Delete(ctx, name); err != nil {
			return 0, err
		}
	}
	return len(names), nil
}
