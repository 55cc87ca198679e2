// Package sheet turns an uploaded spreadsheet (CSV or XLSX, told by its
// bytes) into the tab-separated text the imports read, within limits given
// by the caller: the rows, the columns, the size of a cell and, for XLSX,
// what the archive may unpack to. Like the avatar pipeline it checks before
// it spends and refuses with a reason for people; it does no I/O beyond
// excelize's temporary files for large worksheets.
package sheet

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Limits bound a conversion. Zero values take the defaults of Default.
type Limits struct {
	MaxRows      int   // rows up to the last that holds a value
	MaxColumns   int   // columns up to the last that holds a value
	MaxCellBytes int   // bytes of one cell
	MaxUnzip     int64 // bytes an XLSX may unpack to, all its parts together
	// MaxCells bounds the cells an XLSX row iterator hands out, empty ones
	// included (a cell far to the right pads its row with empty ones).
	MaxCells int64
	TempDir  string // where excelize puts large worksheets; "" for the system's
}

// Default are the limits of a server started without its own.
var Default = Limits{MaxRows: 200_000, MaxColumns: 256, MaxCellBytes: 32 << 10, MaxUnzip: 64 << 20, MaxCells: 20_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxRows <= 0 {
		l.MaxRows = Default.MaxRows
	}
	if l.MaxColumns <= 0 {
		l.MaxColumns = Default.MaxColumns
	}
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = Default.MaxCellBytes
	}
	if l.MaxUnzip <= 0 {
		l.MaxUnzip = Default.MaxUnzip
	}
	if l.MaxCells <= 0 {
		l.MaxCells = Default.MaxCells
	}
	return l
}

// RejectError says why a file cannot be read, for people.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return e.Reason }

func reject(format string, args ...any) error {
	return &RejectError{Reason: fmt.Sprintf(format, args...)}
}

// Format is what the bytes of an upload are.
type Format string

const (
	CSV  Format = "csv"
	XLSX Format = "xlsx"
)

// Result is what a conversion found.
type Result struct {
	Format Format
	Header []string   // the first row, when it was read as the header
	Rows   int        // data rows written (empty ones between them included)
	First  int        // the line of the spreadsheet the first data row is on
	Sample [][]string // the first data rows that hold a value, up to the number asked for
}

// Convert reads a spreadsheet and writes its rows as TSV to w (see
// WriteRow): one line per row. Empty rows after the last value are
// left out, so that the n-th line is the spreadsheet's (n+First-1)-th row.
// With header, the first row is the header and is not written. Formulas
// are not computed: an XLSX cell gives the value the program that wrote it
// saved, a CSV cell its text.
func Convert(data []byte, lim Limits, header bool, sample int, w io.Writer) (Result, error) {
	lim = lim.withDefaults()
	out := &writer{tsv: bufio.NewWriterSize(w, 64<<10), lim: lim, header: header, sample: sample}
	var err error
	switch {
	case bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return Result{}, reject("legacy Excel (.xls) files and encrypted workbooks are not read; save the sheet as XLSX (Excel Workbook) or as CSV UTF-8 and upload that")
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		out.res.Format = XLSX
		err = readXLSX(data, lim, out)
	default:
		out.res.Format = CSV
		err = readCSV(data, out)
	}
	if err != nil {
		return Result{}, err
	}
	if err := out.tsv.Flush(); err != nil {
		return Result{}, err
	}
	if out.res.Rows == 0 {
		return Result{}, reject("the file holds no rows with a value")
	}
	return out.res, nil
}

// writer writes rows as TSV, holding back empty rows until a row with a
// value follows them, and checks the limits.
type writer struct {
	tsv     *bufio.Writer
	lim     Limits
	header  bool
	sample  int
	line    int // the spreadsheet line of the row being written
	pending int // empty rows held back
	res     Result
}

func (w *writer) row(cells []string) error {
	w.line++
	for len(cells) > 0 && strings.TrimSpace(cells[len(cells)-1]) == "" {
		cells = cells[:len(cells)-1]
	}
	if len(cells) > w.lim.MaxColumns {
		return reject("row %d has %d columns; the limit is %d", w.line, len(cells), w.lim.MaxColumns)
	}
	for i, c := range cells {
		if len(c) > w.lim.MaxCellBytes {
			return reject("the cell in row %d, column %d holds %d bytes; the limit is %d", w.line, i+1, len(c), w.lim.MaxCellBytes)
		}
		if !utf8.ValidString(c) {
			return reject("the cell in row %d, column %d is not valid text", w.line, i+1)
		}
	}
	if w.header && w.res.Header == nil {
		if len(cells) == 0 {
			return reject("the first row, read as the header, is empty")
		}
		w.res.Header = slices.Clone(cells)
		return nil
	}
	if w.res.First == 0 {
		w.res.First = w.line
	}
	if len(cells) == 0 {
		w.pending++
		return nil
	}
	if n := w.res.Rows + w.pending + 1; n > w.lim.MaxRows {
		return reject("the file has more than %d rows", w.lim.MaxRows)
	}
	for ; w.pending > 0; w.pending-- {
		if err := w.tsv.WriteByte('\n'); err != nil {
			return err
		}
		w.res.Rows++
	}
	if len(w.res.Sample) < w.sample {
		w.res.Sample = append(w.res.Sample, slices.Clone(cells))
	}
	w.res.Rows++
	_, err := w.tsv.Write(AppendRow(nil, cells))
	return err
}

// readCSV reads text in UTF-8 (with or without a byte-order mark) or UTF-16
// with its mark, the encodings spreadsheet programs write, with the
// delimiter its first lines use.
func readCSV(data []byte, out *writer) error {
	var text []byte
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		text = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		dec := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder()
		var err error
		if text, _, err = transform.Bytes(dec, data); err != nil {
			return reject("the file starts as UTF-16 text but is not: %v", err)
		}
	default:
		text = data
	}
	if !utf8.Valid(text) {
		return reject("the file is neither an XLSX workbook nor text in UTF-8 or UTF-16; " +
			"save it as CSV UTF-8 (comma delimited), or as XLSX, and upload that")
	}
	if bytes.IndexByte(text, 0) >= 0 {
		return reject("the file holds binary data: it is not a CSV, an XLSX or a text file")
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = delimiter(text)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	var offset int64
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		// encoding/csv skips blank lines; a spreadsheet program shows each
		// as an empty row, and the lines must keep their numbers.
		for gap := text[offset:r.InputOffset()]; err == nil; {
			gap = bytes.TrimPrefix(gap, []byte{'\r'})
			if len(gap) == 0 || gap[0] != '\n' {
				break
			}
			gap = gap[1:]
			if err := out.row(nil); err != nil {
				return err
			}
		}
		offset = r.InputOffset()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return reject("line %d of the file cannot be read as CSV: %v", pe.StartLine, pe.Err)
			}
			return err
		}
		if err := out.row(rec); err != nil {
			return err
		}
	}
}

// delimiters are the field separators spreadsheet programs write.
var delimiters = []rune{',', ';', '\t', '|'}

// delimiter guesses the field separator from the first lines of text: the
// one that splits them into the same number of fields, more than one, most
// often; a comma when none does.
func delimiter(text []byte) rune {
	head := text[:min(len(text), 64<<10)]
	best, bestScore := ',', 0
	for _, d := range delimiters {
		r := csv.NewReader(bytes.NewReader(head))
		r.Comma, r.FieldsPerRecord, r.LazyQuotes = d, -1, true
		counts := map[int]int{}
		for range 50 {
			rec, err := r.Read()
			if err != nil {
				break
			}
			if len(rec) > 1 {
				counts[len(rec)]++
			}
		}
		score := 0
		for _, n := range counts {
			score = max(score, n)
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

// readXLSX reads the workbook's active sheet. Its archive may unpack to
// lim.MaxUnzip bytes in all (archive/zip holds every entry to the size its
// header declares); parts over 1 MiB go to temporary files rather than
// memory, and rows are read one at a time.
func readXLSX(data []byte, lim Limits, out *writer) error {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit: lim.MaxUnzip, UnzipXMLSizeLimit: min(lim.MaxUnzip, 1<<20), TmpDir: lim.TempDir,
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return reject("the workbook unpacks to more than %d MiB; the limit is %d MiB", lim.MaxUnzip>>20, lim.MaxUnzip>>20)
		}
		return reject("the file starts as an XLSX workbook but cannot be read as one")
	}
	defer f.Close()
	name := f.GetSheetName(f.GetActiveSheetIndex())
	if name == "" {
		return reject("the workbook has no sheet")
	}
	rows, err := f.Rows(name)
	if err != nil {
		return reject("the sheet %q cannot be read", name)
	}
	defer rows.Close()
	var cells int64
	for rows.Next() {
		cols, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return reject("row %d of the sheet cannot be read", out.line+1)
		}
		if cells += int64(len(cols)) + 1; cells > lim.MaxCells {
			return reject("the sheet has more than %d cells, empty ones included", lim.MaxCells)
		}
		if err := out.row(cols); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return reject("the sheet cannot be read past row %d", out.line)
	}
	return nil
}

// The TSV of an import has one line per row and a tab between fields; a
// tab, a line break or a backslash inside a field is written as \t, \n, \r
// or \\ (the "linear TSV" convention), so that a line is a row, always.

// AppendRow appends a row and its line break to dst.
func AppendRow(dst []byte, cells []string) []byte {
	for i, c := range cells {
		if i > 0 {
			dst = append(dst, '\t')
		}
		for j := range len(c) {
			switch b := c[j]; b {
			case '\t':
				dst = append(dst, `\t`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\\':
				dst = append(dst, `\\`...)
			default:
				dst = append(dst, b)
			}
		}
	}
	return append(dst, '\n')
}

// ParseRow splits a line (without its line break) into its fields.
func ParseRow(line []byte, cells []string) []string {
	cells = cells[:0]
	if len(line) == 0 {
		return cells
	}
	var b strings.Builder
	for _, f := range bytes.Split(line, []byte{'\t'}) {
		if bytes.IndexByte(f, '\\') < 0 {
			cells = append(cells, string(f))
			continue
		}
		b.Reset()
		for j := 0; j < len(f); j++ {
			c := f[j]
			if c == '\\' && j+1 < len(f) {
				j++
				switch f[j] {
				case 't':
					c = '\t'
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				default:
					c = f[j]
				}
			}
			b.WriteByte(c)
		}
		cells = append(cells, b.String())
	}
	return cells
}

// Read calls fn for each line of a TSV that Convert wrote, with its number
// (from 1) and its fields, a buffer at a time. A line longer than maxLine
// bytes is an error.
func Read(r io.Reader, maxLine int, fn func(line int, cells []string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var cells []string
	var long []byte
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(long) > maxLine {
					return fmt.Errorf("line %d is longer than %d bytes", line, maxLine)
				}
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if err == io.EOF && len(b) == 0 {
			return nil
		}
		if err != nil && err != io.EOF {
			return err
		}
		cells = ParseRow(bytes.TrimSuffix(b, []byte{'\n'}), cells)
		if err := fn(line, cells); err != nil {
			return err
		}
		if err == io.EOF {
			return nil
		}
	}
}
