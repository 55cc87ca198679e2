package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"roster/internal/roster"
)

// The list's filter. An employee matches when its id (as decimal text) or
// its search text (searchText: every other property the filter looks in,
// folded and joined by a separator no filter can hold) contains the folded
// filter. In a small account the filter reads every search text of the
// account, which on SQLite an index holds. In a big one it asks the trigram
// index (FTS5 on SQLite, pg_trgm on PostgreSQL) for the employees of every
// account whose text holds the filter's rarest three-character pieces,
// keeps the account's that really match, and when they are not too many,
// reads the page and the count from them.

// EmployeeList is a list query of an account with its condition worked out
// once (the filter's folding is the costly part) for its count and its
// rows, which the API reads in two steps: the count tells it whether to
// stream the rows.
type EmployeeList struct {
	db    *DB
	q     roster.ListQuery
	where string
	args  []any
	none  bool // a filter nothing can match
	total int  // the count, when known already; -1 otherwise
	// indexed: the filter's matches were found through the trigram index.
	indexed bool
}

// accountOnly is the condition of a list of the whole account, whose count
// is the account's employee_count.
const accountOnly = `account_id = $1`

// filterScanRows is the size of account (DB.filterScanRows) up to which
// the filter reads the account's search texts rather than the trigram
// index: the index finds the candidates of every account at once, so for a
// small account a common text costs more there than the account does.
const filterScanRows = 1000

// filterMatches is the most matches (DB.filterMatches) the index path
// holds as a list of ids, from which the count and the page are read;
// beyond it, both queries ask the index again.
const filterMatches = 1000

// filterMatch is the filter's rule on a row, $2 being its LIKE pattern.
const filterMatch = `(search LIKE $2 ESCAPE '\' OR CAST(id AS TEXT) LIKE $2 ESCAPE '\')`

// ftsTable is the filter's trigram index on SQLite, an FTS5 table that
// triggers keep (migration 0006).
const ftsTable = "employees_fts"

// haystack is the text the filter looks in on PostgreSQL, exactly as its
// trigram index (trigramIndex) is made of it: the id and the search text.
// A filter cannot contain the separator, so it matches inside one of them.
const haystack = `(CAST(id AS TEXT) || '` + searchSep + `' || search)`

// EmployeeList prepares the list q of the account's employees.
func (db *DB) EmployeeList(ctx context.Context, account int64, q roster.ListQuery) (EmployeeList, error) {
	l := EmployeeList{db: db, q: q, where: accountOnly, args: []any{account}, total: -1}
	if q.Filter == "" {
		return l, nil
	}
	f := fold(q.Filter)
	if strings.Contains(f, searchSep) {
		// No single field holds the separator.
		l.none = true
		return l, nil
	}
	like := "%" + escapeLike(f) + "%"
	l.args = append(l.args, like)
	l.where = `account_id = $1 AND ` + filterMatch
	grams := db.indexedTrigrams(f)
	if len(grams) == 0 {
		return l, nil
	}
	var size int
	if err := db.queryRow(ctx, `SELECT employee_count FROM users WHERE id = $1`, account).Scan(&size); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return l, err
	}
	if size <= db.filterScanRows {
		return l, nil
	}
	probe, err := db.rarest(ctx, grams)
	if err != nil {
		return l, err
	}
	// The candidates come from the index; +account_id keeps the planners
	// from reading the account's rows through an index of account_id
	// instead.
	args := []any{account, like}
	var where string
	if db.dialect == dialectSQLite {
		var terms []string
		for _, g := range probe {
			terms = append(terms, `"`+strings.ReplaceAll(g, `"`, `""`)+`"`)
		}
		args = append(args, strings.Join(terms, " AND "))
		where = `id IN (SELECT rowid FROM ` + ftsTable + ` WHERE ` + ftsTable + ` MATCH $3)`
	} else {
		for len(probe) < 3 {
			probe = append(probe, probe[0]) // one query text
		}
		for i, g := range probe {
			args = append(args, "%"+escapeLike(g)+"%")
			if i > 0 {
				where += " AND "
			}
			where += haystack + ` LIKE $` + strconv.Itoa(len(args)) + ` ESCAPE '\'`
		}
	}
	where += ` AND +account_id = $1 AND ` + filterMatch
	l.indexed = true
	ids, err := db.matchingIDs(ctx, where, args)
	if err != nil {
		return l, err
	}
	if len(ids) > db.filterMatches {
		l.where, l.args = where, args
		return l, nil
	}
	l.total = len(ids)
	if db.dialect == dialectSQLite {
		b := []byte{'['}
		for i, id := range ids {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		l.where, l.args = `id IN (SELECT value FROM json_each($2)) AND +account_id = $1`, []any{account, string(append(b, ']'))}
	} else {
		l.where, l.args = `id = ANY($2) AND +account_id = $1`, []any{account, ids}
	}
	return l, nil
}

// matchingIDs reads the ids of the rows where holds, up to one more than
// DB.filterMatches.
func (db *DB) matchingIDs(ctx context.Context, where string, args []any) ([]int64, error) {
	return scanColumn[int64](db.query(ctx, `SELECT id FROM employees WHERE `+where+` LIMIT `+strconv.Itoa(db.filterMatches+1), args...))
}

// indexedTrigrams lists the distinct three-character pieces of the folded
// filter f that the trigram index can look up, in order: none when it can
// serve none. FTS5's trigram tokenizer takes every character. pg_trgm
// makes trigrams of the words of a pattern, letters and digits (beyond
// ASCII only where the server's character classes say so).
func (db *DB) indexedTrigrams(f string) []string {
	if db.dialect == dialectPostgres && !db.trigram {
		return nil
	}
	word := func(r rune) bool {
		if db.dialect == dialectSQLite {
			return true
		}
		return (r < utf8.RuneSelf || db.trigramUnicode) && (unicode.IsLetter(r) || unicode.IsDigit(r))
	}
	rs := []rune(f)
	var out []string
	for i := 0; i+3 <= len(rs); i++ {
		if word(rs[i]) && word(rs[i+1]) && word(rs[i+2]) {
			if g := string(rs[i : i+3]); !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// rarest picks the pieces of grams the index is asked for: the rarest of
// them, by a sample of the rows, and up to two more if they are not common.
// What the index reads grows with how many employees hold each piece: a
// piece nearly everyone holds (the domain of the e-mail addresses, the
// country code of the phones) costs much and leaves as many candidates.
func (db *DB) rarest(ctx context.Context, grams []string) ([]string, error) {
	count, rows, err := db.trigramCounts(ctx)
	if err != nil {
		return nil, err
	}
	byCount := slices.Clone(grams)
	slices.SortStableFunc(byCount, func(a, b string) int { return count[a] - count[b] })
	probe := byCount[:1]
	for _, g := range byCount[1:min(3, len(byCount))] {
		if count[g] <= rows/5 {
			probe = append(probe, g)
		}
	}
	return probe, nil
}

// trigramSample is how many rows, in how many runs of consecutive ids,
// the counts of pieces are taken from, and how long they serve.
const (
	sampleRuns   = 32
	sampleRunLen = 32
	sampleAge    = 10 * time.Minute
)

// trigramCounts are, per three-character piece, how many rows of a sample
// hold it, and the sample's size. One request takes the sample when there
// is none or it has grown old; the others wait for it.
type trigramCounts struct {
	mu    sync.Mutex
	count map[string]int
	rows  int
	taken time.Time
}

func (db *DB) trigramCounts(ctx context.Context) (map[string]int, int, error) {
	s := &db.grams
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count != nil && time.Since(s.taken) < sampleAge {
		return s.count, s.rows, nil
	}
	var lo, hi sql.NullInt64
	if err := db.queryRow(ctx, `SELECT min(id), max(id) FROM employees`).Scan(&lo, &hi); err != nil {
		return nil, 0, err
	}
	count, rows := map[string]int{}, 0
	seen := map[string]bool{}
	for run := range sampleRuns {
		if !lo.Valid {
			break
		}
		from := lo.Int64 + (hi.Int64-lo.Int64)*int64(run)/sampleRuns
		texts, err := queryStrings(ctx, db.sql, `SELECT `+haystack+` FROM employees WHERE id >= $1 ORDER BY id LIMIT $2`,
			from, sampleRunLen)
		if err != nil {
			return nil, 0, err
		}
		for _, t := range texts {
			rows++
			clear(seen)
			rs := []rune(t)
			for i := 0; i+3 <= len(rs); i++ {
				if g := string(rs[i : i+3]); !seen[g] {
					seen[g] = true
					count[g]++
				}
			}
		}
	}
	s.count, s.rows, s.taken = count, rows, time.Now()
	return count, rows, nil
}

// TidyFilterIndex merges the segments SQLite's trigram index has grown by
// since it last ran, a bounded step a transaction, so that writers wait
// for one step at most: each segment costs every lookup a seek, and the
// index grows one segment a write. (On PostgreSQL the GIN index's pending
// entries are autovacuum's work.)
func (db *DB) TidyFilterIndex(ctx context.Context) error {
	if db.dialect != dialectSQLite {
		return nil
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		// A step that writes less than two pages had nothing to merge.
		var before, after int64
		if err := conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&before); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO `+ftsTable+` (`+ftsTable+`, rank) VALUES ('merge', 500)`); err != nil {
			return err
		}
		if err := conn.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&after); err != nil {
			return err
		}
		if after-before < 2 {
			return nil
		}
	}
}
