package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"roster/internal/roster"
	"roster/internal/sheet"
	"roster/internal/sqlstore"
)

// ImportOptions bound the spreadsheet imports.
type ImportOptions struct {
	// Sheet bounds what a parse reads (rows, columns, cells, what an XLSX
	// unpacks to); its zero values take sheet.Default, and MaxUnzip four
	// times the upload limit.
	Sheet sheet.Limits
	// MaxActive is how many imports an account may have not yet done
	// (15 beyond); default 3.
	MaxActive int
	// Lease is how long a node holds an import it runs without writing a
	// batch; another node takes over an import whose lease ran out (its
	// node died). Default 30 seconds.
	Lease time.Duration
	// Poll is how often a node looks for an import to run; default 2
	// seconds. An import started on the node is run at once.
	Poll time.Duration
	// Retention is how long parsed files and failed rows' files are kept;
	// default 7 days.
	Retention time.Duration
	// Batch is how many rows an import writes per transaction; default
	// 500.
	Batch int
}

func (o *ImportOptions) defaults(d ImportOptions, maxUpload int64) {
	if o.Sheet.MaxUnzip <= 0 {
		o.Sheet.MaxUnzip = 4 * maxUpload
	}
	orDefault(&o.MaxActive, d.MaxActive)
	orDefault(&o.Lease, d.Lease)
	orDefault(&o.Poll, d.Poll)
	orDefault(&o.Retention, d.Retention)
	orDefault(&o.Batch, d.Batch)
}

// importType is the only import family Roster has; data/import/* name it.
const importType = "employee"

// importTypes are the families Navixy's data/import/* know.
var importTypes = []string{"place", "vehicle", "employee", "driver", "fsm_employee", "zone", "customer"}

// importFields are what employee/import/start's headers may name.
var importFields = []string{"first_name", "middle_name", "last_name", "email", "phone", "driver_license_number",
	"driver_license_cats", "driver_license_issue_date", "driver_license_valid_till", "hardware_key", "address",
	"lat", "lng", "radius", "personnel_number", "ssn", "tracker_label", "tags", "undefined"}

// batchFields are the columns batch_convert reads when it is given none.
var batchFields = []string{"first_name", "middle_name", "last_name", "email", "phone"}

// maxBatchConvert is how many rows batch_convert checks; beyond it
// limit_exceeded is true and the rest are left out. Navixy's description
// names a limit without its number: 1000 keeps the answer under a few MB.
const maxBatchConvert = 1000

// importFileName makes the name of a parsed upload in the file store:
// "import-" and 128 random bits, which the avatar sweep never matches
// (its names start with the hex digits).
func importFileName() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "import-" + hex.EncodeToString(b) + ".tsv", nil
}

// failedFileName is the name of an import's failed rows' file: one per
// import, so that writing it again after a crash replaces it.
func failedFileName(id int64) string { return fmt.Sprintf("import-%d-failed.tsv", id) }

// maxTSV bounds the TSV a parse writes: what an XLSX may unpack to.
type cappedBuffer struct {
	bytes.Buffer
	max int64
}

var errTSVTooLarge = errors.New("tsv over its limit")

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.max {
		return 0, errTSVTooLarge
	}
	return b.Buffer.Write(p)
}

// spreadsheetParse reads an uploaded CSV or XLSX, stores it as the TSV the
// import reads, and answers its name with a preview. Its memory (the
// upload, the TSV and what parsing holds) is reserved from the budget and
// the work takes a worker, as a picture's does: a file that could never
// fit is refused with 234, a busy server answers 15.
func (s *Server) spreadsheetParse(c *call) (any, error) {
	p := c.params
	preview := 5
	if n := p.Int("preview_count", false); n != nil {
		if *n < 1 || *n > 20 {
			p.add("preview_count", "must be between 1 and 20")
		} else {
			preview = int(*n)
		}
	}
	header := false
	if b := p.Bool("parse_header", false); b != nil {
		header = *b
	}
	headerMap := map[string]string{}
	if v := p.String("header_map", false); v != nil && *v != "" {
		if err := json.Unmarshal([]byte(*v), &headerMap); err != nil {
			p.add("header_map", "must be a JSON object of column names to field names")
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if p.file == nil {
		return nil, failParam(codeNoFile, "file", "the request has no file part named file")
	}
	data := p.file.data
	lim := s.opts.Imports.Sheet
	// A CSV costs its text decoded and the TSV, each about its size; an
	// XLSX what excelize holds of its parts (at most 1 MiB each in memory,
	// the rest in temporary files), its shared strings and the TSV, each
	// bounded by what it may unpack to.
	need := 3 * int64(len(data))
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		need = int64(len(data)) + 2*lim.MaxUnzip
	}
	ctx := c.r.Context()
	done, err := s.admit(ctx, c.caller.Account(), need)
	var over *errOverBudget
	if errors.As(err, &over) {
		return nil, failParam(codeInvalidFile, "file", "the file is too large to read: it "+over.Error())
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		done()
		if need >= 8<<20 {
			// The upload and its TSV are garbage now: collected at once,
			// so that the import that follows (or the next parse) runs in
			// a heap of its own, not beside them.
			runtime.GC()
		}
	}()
	out := &cappedBuffer{max: lim.MaxUnzip}
	res, err := sheet.Convert(data, lim, header, preview, out)
	p.file.data, data = nil, nil // no longer needed: collectable
	if errors.Is(err, errTSVTooLarge) {
		return nil, failParam(codeInvalidFile, "file", fmt.Sprintf("the file's rows come to more than %d MiB", lim.MaxUnzip>>20))
	}
	if re, ok := errors.AsType[*sheet.RejectError](err); ok {
		return nil, failParam(codeInvalidFile, "file", re.Reason)
	}
	if err != nil {
		return nil, fail(codeUnexpected, err)
	}
	name, err := importFileName()
	if err != nil {
		return nil, fail(codeUnexpected, err)
	}
	if err := s.files.Put(ctx, name, out.Bytes()); err != nil {
		return nil, fail(codeCannotSave, err)
	}
	if err := s.db.AddImportFile(ctx, c.caller.Account(), name, res.Rows, res.First, s.opts.Now()); err != nil {
		s.files.Delete(context.WithoutCancel(ctx), name)
		return nil, err
	}
	keys := previewKeys(res.Header, headerMap, res.Sample)
	rows := make([]map[string]string, 0, len(res.Sample))
	for _, cells := range res.Sample {
		m := make(map[string]string, len(cells))
		for i, v := range cells {
			m[keys[i]] = v
		}
		rows = append(rows, m)
	}
	answer := struct {
		FileID  string              `json:"file_id"`
		Preview []map[string]string `json:"preview"`
		Header  []string            `json:"header,omitempty"`
	}{name, rows, res.Header}
	return answer, nil
}

// previewKeys names the columns of the preview's objects: with a header,
// by the field header_map gives its text, else by the text; a column
// without a header, or whose name an earlier one took, by its number from 1.
func previewKeys(header []string, headerMap map[string]string, sample [][]string) []string {
	n := len(header)
	for _, r := range sample {
		n = max(n, len(r))
	}
	keys := make([]string, n)
	taken := map[string]bool{}
	for i := range keys {
		k := ""
		if i < len(header) {
			k = strings.TrimSpace(header[i])
			if f, ok := headerMap[k]; ok && f != "" {
				k = f
			}
		}
		if k == "" || taken[k] {
			k = strconv.Itoa(i + 1)
		}
		taken[k] = true
		keys[i] = k
	}
	return keys
}

// readHeaders reads start's headers and user_headers.
func readHeaders(p *params) (headers, user []string) {
	headers = p.Strings("headers", true)
	if headers != nil && len(headers) == 0 {
		p.add("headers", "must name at least one column")
	}
	if len(headers) > sheet.Default.MaxColumns {
		p.add("headers", fmt.Sprintf("must name at most %d columns", sheet.Default.MaxColumns))
	}
	for i, h := range headers {
		if !slices.Contains(importFields, h) {
			p.add(fmt.Sprintf("headers[%d]", i), "must be one of "+strings.Join(importFields, ", "))
		} else if h != "undefined" && slices.Index(headers, h) != i {
			p.add(fmt.Sprintf("headers[%d]", i), quoteField(h)+" names an earlier column already")
		}
	}
	user = p.Strings("user_headers", false)
	if user != nil && headers != nil && len(user) != len(headers) {
		p.add("user_headers", "must be as long as headers")
	}
	return headers, user
}

func (s *Server) importStart(c *call) (any, error) {
	p := c.params
	name := p.Str("filename", true)
	if _, ok := p.get("filename"); ok && name == "" {
		p.add("filename", "must not be empty")
	}
	headers, user := readHeaders(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(name, "import-") || !strings.HasSuffix(name, ".tsv") {
		return nil, failParam(codeInvalidFile, "filename", "is not the name of a file data/spreadsheet/parse made")
	}
	ctx := c.r.Context()
	account := c.caller.Account()
	rows, first, err := s.db.ImportFile(ctx, account, name)
	if errors.Is(err, roster.ErrNotFound) {
		return nil, failParam(codeNoFile, "filename", "no parsed file of that name: parse the spreadsheet again")
	}
	if err != nil {
		return nil, err
	}
	proc := roster.ImportProcess{AccountID: account, Type: importType, Filename: name,
		Params: roster.ImportParams{Headers: headers, UserHeaders: user}, Created: s.opts.Now(),
		TotalLines: rows, FirstLine: first}
	if c.caller.User.ID != account {
		proc.SubuserID = &c.caller.User.ID
	}
	if proc.Params.UserHeaders == nil {
		proc.Params.UserHeaders = []string{}
	}
	id, err := s.db.CreateImport(ctx, proc, s.opts.Imports.MaxActive)
	if errors.Is(err, sqlstore.ErrTooManyImports) {
		return nil, &apiError{code: codeRateLimited, cause: err, params: roster.InvalidParams{{Parameter: "filename",
			Reason: fmt.Sprintf("the account has %d imports in progress already; wait for one to finish", s.opts.Imports.MaxActive)}}}
	}
	if errors.Is(err, roster.ErrExists) {
		return nil, failParam(codeExists, "filename", "an import of this file with these headers exists already")
	}
	if err != nil {
		return nil, err
	}
	select {
	case s.importWake <- struct{}{}:
	default:
	}
	return idResult{ID: id}, nil
}

// importJSON is an ImportProcess as Navixy's description shapes it.
type importJSON struct {
	ID     int64 `json:"id"`
	UserID int64 `json:"user_id"`
	// SubuserID is left out when the master started the import: Navixy's
	// description types it an integer, never null.
	SubuserID *int64              `json:"subuser_id,omitempty"`
	Created   string              `json:"created"`
	Type      string              `json:"type"`
	Params    roster.ImportParams `json:"params"`
	Filename  string              `json:"filename"`
	Status    string              `json:"status"`
	Changed   string              `json:"status_change_date"`
	Progress  progressJSON        `json:"progress"`
}

type progressJSON struct {
	Imported       int                        `json:"imported"`
	Failed         int                        `json:"failed"`
	Percent        *int                       `json:"percent"`
	ProcessedLines int                        `json:"processed_lines"`
	Warnings       []roster.ImportLineMessage `json:"warnings"`
	Errors         []roster.ImportLineMessage `json:"errors"`
}

func toImportJSON(p roster.ImportProcess) importJSON {
	percent := 100
	if p.TotalLines > 0 {
		percent = int(math.Floor(float64(p.Progress.ProcessedLines) * 100 / float64(p.TotalLines)))
	}
	pr := p.Progress
	return importJSON{ID: p.ID, UserID: p.AccountID, SubuserID: p.SubuserID,
		Created: p.Created.UTC().Format(roster.DateTimeLayout), Type: p.Type, Params: p.Params, Filename: p.Filename,
		Status: p.Status, Changed: p.Changed.UTC().Format(roster.DateTimeLayout),
		Progress: progressJSON{Imported: pr.Imported, Failed: pr.Failed, Percent: &percent, ProcessedLines: pr.ProcessedLines,
			Warnings: noMessages(pr.Warnings), Errors: noMessages(pr.Errors)}}
}

func noMessages(m []roster.ImportLineMessage) []roster.ImportLineMessage {
	if m == nil {
		return []roster.ImportLineMessage{}
	}
	return m
}

func (s *Server) importRead(c *call) (any, error) {
	id := c.params.ID("process_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	p, err := s.db.Import(c.r.Context(), c.caller.Account(), importType, *id)
	if err != nil {
		return nil, err
	}
	return valueResult{Value: toImportJSON(p)}, nil
}

func (s *Server) importList(c *call) (any, error) {
	return s.listImports(c, []string{importType})
}

func (s *Server) listImports(c *call, types []string) (any, error) {
	list, err := s.db.UnfinishedImports(c.r.Context(), c.caller.Account(), types)
	if err != nil {
		return nil, err
	}
	out := make([]importJSON, len(list))
	for i, p := range list {
		out[i] = toImportJSON(p)
	}
	return struct {
		List []importJSON `json:"list"`
	}{out}, nil
}

// readImportType checks a type of data/import/*: one of Navixy's
// families. Roster imports employees only; the others have no imports.
func readImportType(f fields, name, v string) bool {
	if !slices.Contains(importTypes, v) {
		f.add(name, "must be one of "+strings.Join(importTypes, ", "))
		return false
	}
	return true
}

func (s *Server) dataImportList(c *call) (any, error) {
	p := c.params
	types := p.Strings("types", false)
	for i, t := range types {
		readImportType(p.fields, fmt.Sprintf("types[%d]", i), t)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if len(types) == 0 {
		types = nil
	}
	return s.listImports(c, types)
}

func (s *Server) dataImportRead(c *call) (any, error) {
	p := c.params
	id := p.ID("process_id", true)
	t := p.Str("type", true)
	if t != "" {
		readImportType(p.fields, "type", t)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	proc, err := s.db.Import(c.r.Context(), c.caller.Account(), t, *id)
	if err != nil {
		return nil, err
	}
	return valueResult{Value: toImportJSON(proc)}, nil
}

// importDownloadFailed answers the file of an import's failed rows: every
// one of them, each with the reason it failed in a last column. 204 when
// the import has none (yet, or any more after the retention period).
func (s *Server) importDownloadFailed(c *call) (any, error) {
	id := c.params.ID("process_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	p, err := s.db.Import(ctx, c.caller.Account(), importType, *id)
	if err != nil {
		return nil, err
	}
	if p.FailedFile == nil {
		return nil, failParam(codeNoEntity, "process_id", "the import has no file of failed rows")
	}
	obj, err := s.files.Get(ctx, *p.FailedFile)
	if err != nil {
		return nil, failParam(codeNoEntity, "process_id", "the import's file of failed rows is gone")
	}
	return stream(func(w http.ResponseWriter) {
		defer obj.Close()
		h := w.Header()
		h.Set("Content-Type", "text/tab-separated-values; charset=utf-8")
		h.Set("Content-Length", strconv.FormatInt(obj.Size(), 10))
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="employee-import-%d-failed.tsv"`, p.ID))
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		io.Copy(w, obj)
	}), nil
}

// batchConvert checks a batch of TSV rows as the import would, creating
// nothing. Roster has no geocoder: geocoder is accepted and ignored, and
// an address without lat and lng keeps no location (a warning says so).
func (s *Server) batchConvert(c *call) (any, error) {
	p := c.params
	batch := p.String("batch", false)
	fileID := p.String("file_id", false)
	fields := p.Strings("fields", false)
	if fields == nil {
		fields = batchFields
	}
	for i, f := range fields {
		if !slices.Contains(importFields, f) {
			p.add(fmt.Sprintf("fields[%d]", i), "must be one of "+strings.Join(importFields, ", "))
		}
	}
	radius := int64(100)
	if r := p.Int("default_radius", false); r != nil {
		if *r < 0 || *r > math.MaxInt32 {
			p.add("default_radius", "must not be negative")
		}
		radius = *r
	}
	_ = p.String("geocoder", false)
	if (batch == nil || *batch == "") && fileID == nil {
		p.add("batch", "The 'batch' or 'file_id' parameter must be specified")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	type rowError struct {
		Parameter string `json:"parameter"`
		Error     string `json:"error"`
	}
	type checked struct {
		roster.Employee
		ID     *int64     `json:"id"` // null: not created
		Errors []rowError `json:"errors"`
	}
	list := []checked{}
	exceeded := false
	add := func(cells []string) error {
		if len(list) == maxBatchConvert {
			exceeded = true
			return errStopReading
		}
		e, _, bad := rowEmployee(fields, cells, radius)
		errs := make([]rowError, len(bad))
		for i, b := range bad {
			errs[i] = rowError{b.Parameter, b.Reason}
		}
		list = append(list, checked{Employee: e, Errors: errs})
		return nil
	}
	ctx := c.r.Context()
	if fileID != nil {
		if _, _, err := s.db.ImportFile(ctx, c.caller.Account(), *fileID); err != nil {
			return nil, err
		}
		obj, err := s.files.Get(ctx, *fileID)
		if err != nil {
			return nil, fmt.Errorf("import file %s: %w", *fileID, roster.ErrNotFound)
		}
		defer obj.Close()
		err = sheet.Read(obj, s.maxLine(), func(_ int, cells []string) error { return add(cells) })
		if err != nil && !errors.Is(err, errStopReading) {
			return nil, failParam(codeInvalidFile, "file_id", "the file cannot be read as TSV")
		}
	} else {
		for line := range strings.Lines(*batch) {
			line = strings.TrimRight(line, "\r\n")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if add(strings.Split(line, "\t")) != nil {
				break
			}
		}
	}
	return struct {
		List          []checked `json:"list"`
		LimitExceeded bool      `json:"limit_exceeded"`
	}{list, exceeded}, nil
}

var errStopReading = errors.New("enough rows")

// maxLine is the longest TSV line an import reads: every column at its
// largest, escaped.
func (s *Server) maxLine() int {
	l := s.opts.Imports.Sheet
	cols, cell := l.MaxColumns, l.MaxCellBytes
	if cols <= 0 {
		cols = sheet.Default.MaxColumns
	}
	if cell <= 0 {
		cell = sheet.Default.MaxCellBytes
	}
	return cols * (2*cell + 1)
}

// rowEmployee reads a row of cells as the employee its columns (headers)
// describe, and checks it by employee/create's rules: bad names each field
// at fault (by its header name) and why. A value is trimmed of spaces; a
// phone loses its +, spaces, dashes, dots and brackets; a date may be
// yyyy-MM-dd or a spreadsheet's day number; tags are ids separated by
// commas (or a JSON array). tracker_label, which Roster cannot resolve (it
// keeps no trackers), and an address without lat and lng (it has no
// geocoder) are warnings: the employee is created without them.
func rowEmployee(headers, cells []string, defaultRadius int64) (e roster.Employee, warnings []string, bad roster.InvalidParams) {
	v := map[string]string{}
	for i, h := range headers {
		if h == "undefined" || i >= len(cells) {
			continue
		}
		v[h] = strings.TrimSpace(cells[i])
	}
	optional := func(name string) *string {
		if s, ok := v[name]; ok && s != "" {
			return &s
		}
		return nil
	}
	e.FirstName, e.MiddleName, e.LastName, e.Email = v["first_name"], v["middle_name"], v["last_name"], v["email"]
	e.Phone = strings.Map(func(r rune) rune {
		if strings.ContainsRune("+ -.()\u00a0", r) {
			return -1
		}
		return r
	}, v["phone"])
	e.DriverLicenseNumber, e.DriverLicenseCats = v["driver_license_number"], v["driver_license_cats"]
	e.DriverLicenseIssueDate = sheetDate(optional("driver_license_issue_date"))
	e.DriverLicenseValidTill = sheetDate(optional("driver_license_valid_till"))
	e.HardwareKey = optional("hardware_key")
	e.PersonnelNumber, e.SSN = v["personnel_number"], v["ssn"]
	number := func(name string) *float64 {
		s := optional(name)
		if s == nil {
			return nil
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(*s, ",", "."), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			bad.Add(name, "must be a number")
			return nil
		}
		return &f
	}
	lat, lng := number("lat"), number("lng")
	radius := defaultRadius
	if r := optional("radius"); r != nil {
		n, err := strconv.ParseInt(*r, 10, 32)
		if err != nil || n < 0 {
			bad.Add("radius", "must be a whole number of metres")
		}
		radius = n
	}
	switch {
	case lat != nil && lng != nil:
		e.Location = &roster.Location{Lat: *lat + 0, Lng: *lng + 0, Address: v["address"], Radius: radius}
	case lat != nil:
		bad.Add("lng", "is required with lat")
	case lng != nil:
		bad.Add("lat", "is required with lng")
	case v["address"] != "":
		warnings = append(warnings, "address kept nowhere: without lat and lng there is no location (Roster has no geocoder)")
	}
	if t := optional("tags"); t != nil {
		text := strings.Trim(*t, "[]")
		for part := range strings.SplitSeq(text, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil || id < 1 {
				bad.Add("tags", "must be tag ids separated by commas")
				break
			}
			e.Tags = append(e.Tags, id)
		}
	}
	if e.Tags == nil {
		e.Tags = []int64{}
	}
	if l := optional("tracker_label"); l != nil {
		warnings = append(warnings, fmt.Sprintf("tracker_label %s not bound: Roster keeps no trackers", quoteField(*l)))
	}
	var checked roster.InvalidParams
	if err := e.Validate("employee"); err != nil {
		errors.As(err, &checked)
	}
	for _, pe := range checked {
		name := strings.TrimPrefix(pe.Parameter, "employee.")
		name = strings.TrimPrefix(name, "location.")
		if !slices.ContainsFunc(bad, func(b roster.ParamError) bool { return b.Parameter == name }) {
			bad = append(bad, roster.ParamError{Parameter: name, Reason: pe.Reason})
		}
	}
	return e, warnings, bad
}

// sheetDate reads a date cell: yyyy-MM-dd as it is, a spreadsheet's day
// number (days since 1899-12-30, as an XLSX stores a date) as its day;
// anything else as it is, for the rules to refuse.
func sheetDate(s *string) *string {
	if s == nil {
		return nil
	}
	if n, err := strconv.ParseFloat(*s, 64); err == nil && n >= 1 && n < 2958466 {
		d := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(n)).Format(roster.DateLayout)
		return &d
	}
	return s
}

// rowMessage is one line of why a row failed, for people.
func rowMessage(bad roster.InvalidParams) string {
	parts := make([]string, len(bad))
	for i, b := range bad {
		parts[i] = b.Parameter + ": " + b.Reason
	}
	return strings.Join(parts, "; ")
}
