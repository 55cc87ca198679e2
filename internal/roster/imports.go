package roster

import "time"

// ImportProcess is a background import of a parsed spreadsheet, in the
// shape Navixy gives every import family.
type ImportProcess struct {
	ID        int64
	AccountID int64
	SubuserID *int64 // who started it, when a sub-user did
	Type      string // "employee"
	Filename  string
	Params    ImportParams
	Status    string // ImportCreated, ...
	Created   time.Time
	Changed   time.Time // of the status
	// TotalLines are the file's data lines; FirstLine is the line of the
	// spreadsheet the first of them was on (2 after a header), by which
	// messages and the failed rows name lines.
	TotalLines, FirstLine int
	Progress              ImportProgress
	FailedFile            *string // the failed rows' TSV in the file store, once written
}

// ImportParams are what start was given.
type ImportParams struct {
	Headers     []string `json:"headers"`
	UserHeaders []string `json:"user_headers"`
}

// ImportProgress is how far an import has got.
type ImportProgress struct {
	Imported       int                 `json:"imported"`
	Failed         int                 `json:"failed"`
	ProcessedLines int                 `json:"processed_lines"`
	Warnings       []ImportLineMessage `json:"warnings"`
	Errors         []ImportLineMessage `json:"errors"`
}

// ImportLineMessage is a problem found on one line of the spreadsheet.
type ImportLineMessage struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// The statuses of an import, as Navixy names them.
const (
	ImportCreated    = "created"
	ImportInProgress = "in_progress"
	ImportDone       = "done"
	ImportFailed     = "failed"
)

// MaxImportMessages is how many warnings and errors an import keeps to
// show, each: the first, as Navixy does. Every failed row is kept for
// download_failed.
const MaxImportMessages = 25
