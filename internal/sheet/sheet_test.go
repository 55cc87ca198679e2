package sheet

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// convert runs Convert and gives the TSV's rows.
func convert(t *testing.T, data []byte, lim Limits, header bool) (Result, [][]string, error) {
	t.Helper()
	var out bytes.Buffer
	res, err := Convert(data, lim, header, 20, &out)
	if err != nil {
		return res, nil, err
	}
	var rows [][]string
	if err := Read(&out, 1<<20, func(_ int, cells []string) error {
		rows = append(rows, append([]string(nil), cells...))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return res, rows, nil
}

func TestCSVDelimitersAndEncodings(t *testing.T) {
	want := [][]string{{"Ann", "Lee", "a;b,c"}, {}, {"Bob", "", "tab\there\nand a line"}}
	for _, d := range []rune{',', ';', '\t', '|'} {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = d
		w.Write([]string{"First", "Last", "Note"})
		for _, r := range want {
			if len(r) == 0 {
				buf.WriteString("\n") // encoding/csv writes no empty record; a program would
				continue
			}
			w.Write(r)
			w.Flush()
		}
		w.Flush()
		utf8 := buf.Bytes()
		bom := append([]byte("\uFEFF"), utf8...)
		var utf16 []byte
		utf16 = append(utf16, 0xFF, 0xFE)
		for _, r := range string(utf8) {
			utf16 = append(utf16, byte(r), byte(r>>8))
		}
		for name, data := range map[string][]byte{"utf-8": utf8, "utf-8 with BOM": bom, "utf-16le": utf16} {
			t.Run(fmt.Sprintf("%q %s", d, name), func(t *testing.T) {
				res, rows, err := convert(t, data, Limits{}, true)
				if err != nil {
					t.Fatal(err)
				}
				if res.Format != CSV || strings.Join(res.Header, "|") != "First|Last|Note" || res.First != 2 || res.Rows != 3 {
					t.Errorf("Convert = %+v", res)
				}
				if fmt.Sprint(rows) != fmt.Sprint(want) {
					t.Errorf("rows = %q, want %q", rows, want)
				}
			})
		}
	}
}

func TestRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		data []byte
		lim  Limits
		want string
	}{
		"latin-1":           {[]byte("name\nJos\xe9\n"), Limits{}, "UTF-8"},
		"legacy xls":        {[]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0}, Limits{}, "XLSX"},
		"binary":            {[]byte("a,b\n\x00\x01\x02"), Limits{}, "binary"},
		"empty":             {[]byte("\n\n ,\n"), Limits{}, "no rows"},
		"too many rows":     {[]byte(strings.Repeat("a\n", 11)), Limits{MaxRows: 10}, "more than 10 rows"},
		"too many columns":  {[]byte(strings.Repeat("a,", 20) + "a\n"), Limits{MaxColumns: 20}, "21 columns"},
		"a cell too large":  {[]byte("a," + strings.Repeat("x", 2000) + "\n"), Limits{MaxCellBytes: 1000}, "row 1, column 2"},
		"a 50 MB line":      {[]byte(strings.Repeat("x", 50<<20)), Limits{}, "holds 52428800 bytes"},
		"not really a xlsx": {[]byte("PK\x03\x04 and then nothing"), Limits{}, "cannot be read"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := convert(t, c.data, c.lim, false)
			var re *RejectError
			if !errors.As(err, &re) || !strings.Contains(re.Reason, c.want) {
				t.Errorf("Convert = %v, want a refusal saying %q", err, c.want)
			}
		})
	}
}

// workbook writes a real XLSX with excelize, then replaces its sheet's
// XML by what sheetXML writes, when given.
func workbook(t *testing.T, set func(f *excelize.File), sheetXML func(w io.Writer), extra map[string]int64) []byte {
	t.Helper()
	f := excelize.NewFile()
	set(f)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if sheetXML == nil && extra == nil {
		return buf.Bytes()
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range zr.File {
		w, err := zw.Create(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Name == "xl/worksheets/sheet1.xml" && sheetXML != nil {
			sheetXML(w)
			continue
		}
		r, _ := e.Open()
		io.Copy(w, r)
		r.Close()
	}
	for name, size := range extra {
		w, _ := zw.Create(name)
		zeros := make([]byte, 1<<20)
		for n := int64(0); n < size; n += int64(len(zeros)) {
			w.Write(zeros)
		}
	}
	zw.Close()
	return out.Bytes()
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
	`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
const sheetTail = `</sheetData></worksheet>`

func TestXLSX(t *testing.T) {
	data := workbook(t, func(f *excelize.File) {
		f.SetSheetRow("Sheet1", "A1", &[]any{"First", "Phone", "Valid till", "Sum"})
		f.SetSheetRow("Sheet1", "A2", &[]any{"Ann", 79161234567, time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)})
		f.SetCellFormula("Sheet1", "D2", "=1+1")
		f.SetSheetRow("Sheet1", "A4", &[]any{"Bob"})
	}, nil, nil)
	res, rows, err := convert(t, data, Limits{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Format != XLSX || res.First != 2 || res.Rows != 3 {
		t.Errorf("Convert = %+v", res)
	}
	// A date is its day number; a formula that was never computed by a
	// spreadsheet program has no saved value, and is not computed here.
	want := [][]string{{"Ann", "79161234567", "47485"}, {}, {"Bob"}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows = %q, want %q", rows, want)
	}
}

// peakHeap runs f and reports the most heap it held beyond what was in use
// before, sampled every millisecond.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > base {
				peak = max(peak, m.HeapAlloc-base)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak
}

// TestHostileWorkbooks: a zip bomb, a million empty rows and a 100 MB cell
// are refused or read within a bounded heap, never unpacked into memory.
func TestHostileWorkbooks(t *testing.T) {
	cell := func(f *excelize.File) { f.SetCellValue("Sheet1", "A1", "x") }
	for _, c := range []struct {
		name  string
		data  func() []byte
		want  string // a refusal's reason; "" to be read
		rows  int
		bound uint64
	}{
		{"zip bomb", func() []byte { return workbook(t, cell, nil, map[string]int64{"xl/media/bomb.bin": 1 << 30}) },
			"unpacks to more than 64 MiB", 0, 16 << 20},
		{"a million empty rows", func() []byte {
			return workbook(t, cell, func(w io.Writer) {
				io.WriteString(w, sheetHead+`<row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>`)
				for i := 2; i <= 1_000_000; i++ {
					fmt.Fprintf(w, `<row r="%d"/>`, i)
				}
				io.WriteString(w, sheetTail)
			}, nil)
		}, "", 1, 32 << 20},
		{"a million empty rows, then a value", func() []byte {
			return workbook(t, cell, func(w io.Writer) {
				io.WriteString(w, sheetHead+`<row r="1000001"><c r="A1000001" t="inlineStr"><is><t>x</t></is></c></row>`+sheetTail)
			}, nil)
		}, "more than 200000 rows", 0, 16 << 20},
		{"a 100 MB cell", func() []byte {
			return workbook(t, cell, func(w io.Writer) {
				io.WriteString(w, sheetHead+`<row r="1"><c r="A1" t="inlineStr"><is><t>`)
				chunk := strings.Repeat("x", 1<<20)
				for range 100 {
					io.WriteString(w, chunk)
				}
				io.WriteString(w, `</t></is></c></row>`+sheetTail)
			}, nil)
		}, "unpacks to more than 64 MiB", 0, 16 << 20},
		{"a 1 MB cell", func() []byte {
			return workbook(t, cell, func(w io.Writer) {
				io.WriteString(w, sheetHead+`<row r="1"><c r="A1" t="inlineStr"><is><t>`+strings.Repeat("x", 1<<20)+`</t></is></c></row>`+sheetTail)
			}, nil)
		}, "the limit is 32768", 0, 48 << 20},
		{"a cell at the last column of every row", func() []byte {
			return workbook(t, cell, func(w io.Writer) {
				io.WriteString(w, sheetHead)
				for i := 1; i <= 5000; i++ {
					fmt.Fprintf(w, `<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>`, i, i)
				}
				io.WriteString(w, sheetTail)
			}, nil)
		}, "row 1 has 16384 columns", 0, 32 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			var res Result
			var err error
			peak := peakHeap(func() { res, err = Convert(data, Limits{}, false, 5, io.Discard) })
			if c.want != "" {
				var re *RejectError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, c.want) {
					t.Errorf("Convert of %d bytes = %v, want a refusal saying %q", len(data), err, c.want)
				}
			} else if err != nil || res.Rows != c.rows {
				t.Errorf("Convert = %+v, %v; want %d rows", res, err, c.rows)
			}
			if peak > c.bound {
				t.Errorf("Convert of %d bytes held %d MiB of heap; the bound is %d MiB", len(data), peak>>20, c.bound>>20)
			}
		})
	}
}

func TestTSVEscapes(t *testing.T) {
	row := []string{"a\tb", "c\nd\re", `back\slash`, "", "plain"}
	line := AppendRow(nil, row)
	if bytes.Count(line, []byte{'\n'}) != 1 {
		t.Fatalf("AppendRow = %q: one line break, at the end, expected", line)
	}
	got := ParseRow(bytes.TrimSuffix(line, []byte{'\n'}), nil)
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", row) {
		t.Errorf("ParseRow(AppendRow(%q)) = %q", row, got)
	}
	var n int
	long := strings.Repeat("x", 300<<10)
	err := Read(strings.NewReader("a\n"+long+"\nb"), 1<<20, func(line int, cells []string) error {
		n++
		if line == 2 && cells[0] != long {
			t.Errorf("a line longer than the buffer came back as %d bytes", len(cells[0]))
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("Read = %v after %d lines, want 3", err, n)
	}
	if err := Read(strings.NewReader(long), 1<<10, func(int, []string) error { return nil }); err == nil {
		t.Error("Read of a line over its limit succeeded")
	}
}

// TestMaxCells: the cells a workbook's rows hand out, empty ones included,
// are counted against their limit.
func TestMaxCells(t *testing.T) {
	data := workbook(t, func(f *excelize.File) {
		for i := 1; i <= 50; i++ {
			f.SetCellValue("Sheet1", fmt.Sprintf("C%d", i), "x")
		}
	}, nil, nil)
	_, _, err := convert(t, data, Limits{MaxCells: 100}, false)
	var re *RejectError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "more than 100 cells") {
		t.Errorf("Convert = %v, want a refusal past 100 cells", err)
	}
	if _, _, err := convert(t, data, Limits{MaxCells: 1000}, false); err != nil {
		t.Errorf("Convert within the limit = %v", err)
	}
}
