package main

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/xuri/excelize/v2"
)

func init() {
	// The document tests read employee/import/download_failed's file.
	openapi3filter.RegisterBodyDecoder("text/tab-separated-values", openapi3filter.FileBodyDecoder)
}

// importHeaders are every field an import's headers may name, in the
// order the test's spreadsheets have their columns.
var importHeaders = []string{"first_name", "middle_name", "last_name", "email", "phone", "driver_license_number",
	"driver_license_cats", "driver_license_issue_date", "driver_license_valid_till", "hardware_key", "address",
	"lat", "lng", "radius", "personnel_number", "ssn", "tracker_label", "tags", "undefined"}

// importRow is a row of the test spreadsheet, by field.
type importRow map[string]string

func (r importRow) cells() []string {
	out := make([]string, len(importHeaders))
	for i, h := range importHeaders {
		out[i] = r[h]
	}
	return out
}

// importCase is a row and what the import must make of it: the field the
// refusal names ("" for a row that imports).
type importCase struct {
	row     importRow
	refused string
	warning string
}

// importCases cover every field rule of employee/create, duplicates inside
// the file and against an existing employee, tags of the account and of
// another, and both warnings.
func importCases(existingKey string, tags [2]int64, foreignTag int64) []importCase {
	long := strings.Repeat("x", 101)
	return []importCase{
		{row: importRow{"first_name": "Ann", "middle_name": "B", "last_name": "Lee", "email": "ann@example.com",
			"phone": "+7 916 123-45-67", "driver_license_number": "DL1", "driver_license_cats": "B,C",
			"driver_license_issue_date": "2020-01-02", "driver_license_valid_till": "2030-01-02", "hardware_key": "KEY-A",
			"address": "1 Main St", "lat": "51.5", "lng": "-0.12", "radius": "250", "personnel_number": "P1",
			"ssn": "123-45", "tracker_label": "Truck 7", "tags": fmt.Sprintf("%d,%d", tags[0], tags[1]), "undefined": "ignored"}, warning: "tracker_label"},
		{row: importRow{"first_name": "Bob"}},
		{row: importRow{"first_name": "Cy", "email": "not an address"}, refused: "email"},
		{row: importRow{"first_name": "Di", "phone": "call me"}, refused: "phone"},
		{row: importRow{"first_name": "", "last_name": "Nameless"}, refused: "first_name"},
		{row: importRow{"first_name": "Ed", "driver_license_valid_till": "2030-02-30"}, refused: "driver_license_valid_till"},
		{row: importRow{"first_name": "Flo", "driver_license_issue_date": "yesterday"}, refused: "driver_license_issue_date"},
		{row: importRow{"first_name": "Gus", "lat": "91", "lng": "10"}, refused: "lat"},
		{row: importRow{"first_name": "Hal", "lat": "10", "lng": "181"}, refused: "lng"},
		{row: importRow{"first_name": "Ida", "lat": "10"}, refused: "lng"},
		{row: importRow{"first_name": "Jo", "lat": "10", "lng": "10", "radius": "wide"}, refused: "radius"},
		{row: importRow{"first_name": "Kim", "hardware_key": "KEY-A"}, refused: "hardware key"},
		{row: importRow{"first_name": "Lou", "hardware_key": existingKey}, refused: "hardware key"},
		{row: importRow{"first_name": "Max", "middle_name": long}, refused: "middle_name"},
		{row: importRow{"first_name": "Ned", "last_name": long}, refused: "last_name"},
		{row: importRow{"first_name": "Ola", "tags": "one"}, refused: "tags"},
		{row: importRow{"first_name": "Oto", "tags": fmt.Sprint(foreignTag)}, refused: fmt.Sprintf("tag %d", foreignTag)},
		{row: importRow{"first_name": "Pam", "personnel_number": strings.Repeat("9", 16)}, refused: "personnel_number"},
		{row: importRow{"first_name": "Quin", "ssn": strings.Repeat("9", 33)}, refused: "ssn"},
		{row: importRow{"first_name": "Rae", "driver_license_number": strings.Repeat("9", 33)}, refused: "driver_license_number"},
		{row: importRow{"first_name": "Sam", "driver_license_cats": strings.Repeat("9", 33)}, refused: "driver_license_cats"},
		{row: importRow{"first_name": "Tia", "hardware_key": strings.Repeat("k", 65)}, refused: "hardware_key"},
		{row: importRow{"first_name": "Uma", "email": strings.Repeat("a", 95) + "@b.com"}, refused: "email"},
		{row: importRow{"first_name": "Vic", "address": "2 High St"}, warning: "address"},
		{row: importRow{"first_name": "Wes", "phone": strings.Repeat("1", 33)}, refused: "phone"},
	}
}

// writeCSV writes rows with encoding/csv, as a spreadsheet program would
// save them: a byte-order mark, semicolons (as in many locales), a header
// row, and an empty row in the middle.
func writeCSV(t *testing.T, cases []importCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\uFEFF")
	w := csv.NewWriter(&buf)
	w.Comma = ';'
	w.Write(importHeaders)
	for i, c := range cases {
		if i == 2 {
			w.Write(make([]string, len(importHeaders)))
		}
		w.Write(c.row.cells())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeXLSX writes rows with excelize: dates as real date cells (day
// numbers with a date format), coordinates and phones as numbers.
func writeXLSX(t *testing.T, cases []importCase) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	cells := make([]any, len(importHeaders))
	for i, h := range importHeaders {
		cells[i] = h
	}
	if err := f.SetSheetRow(sheet, "A1", &cells); err != nil {
		t.Fatal(err)
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		t.Fatal(err)
	}
	line := 2
	for i, c := range cases {
		if i == 2 {
			line++ // an empty row
		}
		for j, h := range importHeaders {
			ref, _ := excelize.CoordinatesToCellName(j+1, line)
			v := c.row[h]
			var val any = v
			if d, err := time.Parse("2006-01-02", v); err == nil && strings.HasPrefix(h, "driver_license_") {
				val = d
				f.SetCellStyle(sheet, ref, ref, dateStyle)
			} else if h == "lat" || h == "lng" {
				var n float64
				if _, err := fmt.Sscan(v, &n); err == nil {
					val = n
				}
			}
			if v == "" {
				continue
			}
			if err := f.SetCellValue(sheet, ref, val); err != nil {
				t.Fatal(err)
			}
		}
		line++
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parseSheet uploads a spreadsheet to data/spreadsheet/parse.
func (s session) parseSheet(t *testing.T, data []byte, filename string, extra map[string]string) result {
	t.Helper()
	return send(t, sheetRequest(t, s.api, s.hash, data, filename, extra))
}

// sheetRequest is a data/spreadsheet/parse upload: the hash as a part
// (none if ""), the fields, and the file (none if nil).
func sheetRequest(t *testing.T, api, hash string, data []byte, filename string, extra map[string]string) *http.Request {
	t.Helper()
	var parts []part
	if hash != "" {
		parts = append(parts, part{name: "hash", data: []byte(hash)})
	}
	for k, v := range extra {
		parts = append(parts, part{name: k, data: []byte(v)})
	}
	if data != nil {
		parts = append(parts, part{name: "file", filename: filename, contentType: "text/csv", data: data})
	}
	return uploadRequest(t, api+"/data/spreadsheet/parse", parts...)
}

// awaitImport polls employee/import/read until the import is done.
func awaitImport(t *testing.T, api, hash string, id int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := do(t, api, formJSON, "employee/import/read", map[string]any{"hash": hash, "process_id": id})
		if v, _ := r.body["value"].(map[string]any); v["status"] == "done" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("import %d not done in time", id)
}

// waitImport polls employee/import/read until the import is done.
func (s session) waitImport(t *testing.T, id int64) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.ok(t, "employee/import/read", map[string]any{"process_id": id})
		v := r.body["value"].(map[string]any)
		if v["status"] == "done" || v["status"] == "failed" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %d not done: %s", id, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestImportFlow imports a CSV and an XLSX, made by real writers, through
// the public API on both stacks: every header field, every field rule,
// duplicates in the file and against the account, the progress, the
// failed rows' file, and the documented codes.
func TestImportFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		for _, kind := range []string{"csv", "xlsx"} {
			t.Run(kind, func(t *testing.T) {
				a := st.newAccount(t)
				existing := unique("KEY-E")
				a.createEmployee(t, map[string]any{"first_name": "Existing", "hardware_key": existing})
				var tags [2]int64
				for i := range tags {
					tags[i] = a.ok(t, "tag/create", map[string]any{"tag": map[string]any{"name": unique("T"), "color": "00BFFF"}}).int("id")
				}
				other := st.newAccount(t)
				foreign := other.ok(t, "tag/create", map[string]any{"tag": map[string]any{"name": unique("T"), "color": "808080"}}).int("id")
				cases := importCases(existing, tags, foreign)
				data := writeCSV(t, cases)
				if kind == "xlsx" {
					data = writeXLSX(t, cases)
				}
				r := a.parseSheet(t, data, "people."+kind, map[string]string{"parse_header": "true", "preview_count": "3",
					"header_map": `{"first_name": "First"}`})
				check(t, "parse", r, 0)
				fileID, _ := r.body["file_id"].(string)
				preview, _ := r.body["preview"].([]any)
				if len(preview) != 3 {
					t.Fatalf("preview = %s, want 3 rows", r.raw)
				}
				if first, _ := preview[0].(map[string]any); first["First"] != "Ann" || first["phone"] == nil {
					t.Errorf("preview[0] = %v, want First Ann and a phone", first)
				}
				start := map[string]any{"filename": fileID, "headers": importHeaders, "user_headers": importHeaders}
				r = a.ok(t, "employee/import/start", start)
				id := r.int("id")
				a.want(t, formJSON, "employee/import/start", start, 247)
				v := a.waitImport(t, id)

				var wantFailed, wantImported int
				var wantErrs, wantWarns []float64
				for i, c := range cases {
					line := float64(i + 2)
					if i >= 2 {
						line++ // after the empty row
					}
					if c.refused != "" {
						wantFailed++
						wantErrs = append(wantErrs, line)
					} else {
						wantImported++
					}
					if c.warning != "" {
						wantWarns = append(wantWarns, line)
					}
				}
				pr := v["progress"].(map[string]any)
				if v["status"] != "done" || pr["imported"] != float64(wantImported) || pr["failed"] != float64(wantFailed) ||
					pr["percent"] != float64(100) || pr["processed_lines"] != float64(len(cases)+1) {
					t.Errorf("import = %v, want done, %d imported, %d failed, 100%%, %d lines", v, wantImported, wantFailed, len(cases)+1)
				}
				errs, _ := pr["errors"].([]any)
				var gotErrs []float64
				for i, e := range errs {
					m := e.(map[string]any)
					gotErrs = append(gotErrs, m["line"].(float64))
					c := cases[caseOfLine(int(m["line"].(float64)))]
					if msg, _ := m["message"].(string); !strings.Contains(msg, c.refused) {
						t.Errorf("errors[%d] = %v, want it to name %s", i, m, c.refused)
					}
				}
				same(t, "error lines", gotErrs, wantErrs)
				var gotWarns []float64
				for _, w := range pr["warnings"].([]any) {
					gotWarns = append(gotWarns, w.(map[string]any)["line"].(float64))
				}
				same(t, "warning lines", gotWarns, wantWarns)
				if v["type"] != "employee" || v["filename"] != fileID || v["user_id"] == nil {
					t.Errorf("import = %v", v)
				}

				list := a.list(t, "employee/list", nil)
				if len(list) != 1+wantImported {
					t.Fatalf("employee/list has %d employees, want %d", len(list), 1+wantImported)
				}
				var ann map[string]any
				for _, e := range list {
					if e.(map[string]any)["first_name"] == "Ann" {
						ann = e.(map[string]any)
					}
				}
				want := map[string]any{"first_name": "Ann", "middle_name": "B", "last_name": "Lee", "email": "ann@example.com",
					"phone": "79161234567", "driver_license_number": "DL1", "driver_license_cats": "B,C",
					"driver_license_issue_date": "2020-01-02", "driver_license_valid_till": "2030-01-02", "hardware_key": "KEY-A",
					"location":         map[string]any{"address": "1 Main St", "lat": 51.5, "lng": -0.12, "radius": float64(250)},
					"personnel_number": "P1", "ssn": "123-45", "tags": []any{float64(tags[0]), float64(tags[1])}, "tracker_id": nil}
				for k, w := range want {
					same(t, "Ann's "+k, ann[k], w)
				}

				// Every failed row, with its reason, in the file.
				resp := send(t, callRequest(t, a.api, formJSON, "employee/import/download_failed", map[string]any{"hash": a.hash, "process_id": id}))
				if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/tab-separated-values") {
					t.Fatalf("download_failed = %d %s %s", resp.status, resp.header, resp.raw)
				}
				lines := strings.Split(strings.TrimSuffix(string(resp.raw), "\n"), "\n")
				if len(lines) != wantFailed+1 || !strings.HasSuffix(lines[0], "\terror") {
					t.Errorf("failed file has %d lines (%q…), want a header and %d rows", len(lines), lines[0], wantFailed)
				}
				for _, l := range lines[1:] {
					cells := strings.Split(l, "\t")
					if len(cells) != len(importHeaders)+1 || !strings.HasPrefix(cells[len(cells)-1], "line ") {
						t.Errorf("failed row %q: want %d cells and the reason last", l, len(importHeaders)+1)
					}
				}

				// Lists, the cross-family calls, and the codes.
				if l := a.list(t, "employee/import/list", nil); len(l) != 0 {
					t.Errorf("employee/import/list = %v, want none unfinished", l)
				}
				a.ok(t, "data/import/read", map[string]any{"process_id": id, "type": "employee"})
				a.want(t, formJSON, "data/import/read", map[string]any{"process_id": id, "type": "place"}, 201)
				a.want(t, formJSON, "data/import/read", map[string]any{"process_id": id, "type": "boat"}, 7)
				a.want(t, formJSON, "data/import/list", map[string]any{"types": []string{"boat"}}, 7)
				a.ok(t, "data/import/list", map[string]any{"types": []string{"employee", "zone"}})
				other.want(t, formJSON, "employee/import/read", map[string]any{"process_id": id}, 201)
				other.want(t, formJSON, "employee/import/download_failed", map[string]any{"process_id": id}, 201)
				other.want(t, formJSON, "employee/import/start", map[string]any{"filename": fileID, "headers": []string{"first_name"}}, 233)
				other.want(t, formJSON, "employee/batch_convert", map[string]any{"file_id": fileID}, 201)
			})
		}
	})
}

// caseOfLine is the index in importCases of the row on a line of the
// test spreadsheets (a header on line 1, an empty row on line 4).
func caseOfLine(line int) int {
	if line >= 5 {
		return line - 3
	}
	return line - 2
}

// TestImportCodes answers each documented code of the import calls on
// both stacks.
func TestImportCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b, "--import-runner=false", "--max-imports", "1")
		a := st.master
		csvText := []byte("first_name,last_name\nAnn,Lee\nBob,Ray\n")
		r := a.parseSheet(t, csvText, "a.csv", nil)
		check(t, "parse", r, 0)
		file := r.body["file_id"].(string)

		check(t, "parse without a file", a.parseSheet(t, nil, "", nil), 233)
		check(t, "parse of an XLS", a.parseSheet(t, append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), "old.xls", nil), 234)
		check(t, "parse of Latin-1 text", a.parseSheet(t, []byte("name\nJos\xe9\n"), "latin.csv", nil), 234)
		check(t, "parse of a broken XLSX", a.parseSheet(t, []byte("PK\x03\x04 not really"), "x.xlsx", nil), 234)
		check(t, "parse of nothing", a.parseSheet(t, []byte("\n\n"), "empty.csv", nil), 234)
		check(t, "parse with preview_count 21", a.parseSheet(t, csvText, "a.csv", map[string]string{"preview_count": "21"}), 7)
		a.want(t, formJSON, "data/spreadsheet/parse", map[string]any{"preview_count": 2}, 5)
		// Hostile files: one 50 MB line is over the upload limit, a zip
		// bomb unpacks past its limit (internal/sheet measures the heap).
		check(t, "parse of a 50 MB line", a.parseSheet(t, bytes.Repeat([]byte("x"), 50<<20), "line.csv", nil), 271)
		r = a.parseSheet(t, zipBomb(t), "bomb.xlsx", nil)
		check(t, "parse of a zip bomb", r, 234)
		if got := fmt.Sprint(r.body["errors"]); !strings.Contains(got, "unpacks to more than") {
			t.Errorf("zip bomb refused with %s, want the reason", got)
		}

		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": file}, 7)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": file, "headers": []string{}}, 7)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": file, "headers": []string{"shoe_size"}}, 7)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": file, "headers": []string{"first_name"}, "user_headers": []string{"a", "b"}}, 7)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": "import-00000000000000000000000000000000.tsv", "headers": []string{"first_name"}}, 233)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": "people.xlsx", "headers": []string{"first_name"}}, 234)
		r = a.ok(t, "employee/import/start", map[string]any{"filename": file, "headers": []string{"first_name", "last_name"}})
		id := r.int("id")
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": file, "headers": []string{"first_name", "last_name"}}, 247)
		second := a.parseSheet(t, csvText, "b.csv", nil).body["file_id"].(string)
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": second, "headers": []string{"first_name"}}, 15)
		if l := a.list(t, "employee/import/list", nil); len(l) != 1 || l[0].(map[string]any)["status"] != "created" {
			t.Errorf("employee/import/list = %v, want the one import, created", l)
		}
		a.want(t, formJSON, "employee/import/download_failed", map[string]any{"process_id": id}, 204)
		a.want(t, formJSON, "employee/import/read", map[string]any{"process_id": id + 1000}, 201)

		a.want(t, formJSON, "employee/batch_convert", map[string]any{}, 7)
		r = a.ok(t, "employee/batch_convert", map[string]any{"batch": "Ann\t\tLee\tann@example.com\t123\n\t\tNoName\tbad\t+1x\n"})
		list := r.body["list"].([]any)
		if len(list) != 2 || r.body["limit_exceeded"] != false {
			t.Fatalf("batch_convert = %s", r.raw)
		}
		if e := list[0].(map[string]any); e["first_name"] != "Ann" || len(e["errors"].([]any)) != 0 {
			t.Errorf("batch_convert[0] = %v, want Ann without errors", e)
		}
		if got := errorNames(list[1].(map[string]any)["errors"]); !slices.Equal(got, []string{"first_name", "email", "phone"}) {
			t.Errorf("batch_convert[1] errors name %v, want first_name, email, phone", got)
		}
		r = a.ok(t, "employee/batch_convert", map[string]any{"file_id": file, "fields": []string{"first_name", "last_name"}, "geocoder": "google", "default_radius": 50})
		// Without parse_header, the header row is data.
		if l := r.body["list"].([]any); len(l) != 3 || l[2].(map[string]any)["last_name"] != "Ray" {
			t.Errorf("batch_convert of the file = %s", r.raw)
		}
		r = a.ok(t, "employee/batch_convert", map[string]any{"batch": strings.Repeat("Ann\n", 1001)})
		if l := r.body["list"].([]any); len(l) != 1000 || r.body["limit_exceeded"] != true {
			t.Errorf("batch_convert of 1001 rows: %d rows, limit_exceeded %v", len(l), r.body["limit_exceeded"])
		}
		if n := len(a.list(t, "employee/list", nil)); n != 0 {
			t.Errorf("batch_convert created %d employees", n)
		}

		reader := st.subUser(t, a, a.createGroup(t, "readers"))
		reader.want(t, formJSON, "employee/import/start", map[string]any{"filename": file, "headers": []string{"first_name"}}, 13)
		reader.want(t, formJSON, "employee/batch_convert", map[string]any{"batch": "Ann"}, 13)
		if r := send(t, callRequest(t, a.api, formJSON, "employee/import/list", nil)); r.code() != 3 {
			t.Errorf("employee/import/list without a hash = %s, want 3", r.raw)
		}
	})
}

// zipBomb is a real workbook with an entry of 256 MiB of zeros beside its
// sheet, a few hundred KB packed.
func zipBomb(t *testing.T) []byte {
	t.Helper()
	f := excelize.NewFile()
	f.SetCellValue("Sheet1", "A1", "x")
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range zr.File {
		w, _ := zw.Create(e.Name)
		r, _ := e.Open()
		io.Copy(w, r)
		r.Close()
	}
	w, _ := zw.Create("xl/media/image1.png")
	zeros := make([]byte, 1<<20)
	for range 256 {
		w.Write(zeros)
	}
	zw.Close()
	return out.Bytes()
}

func errorNames(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(map[string]any)["parameter"].(string))
	}
	return out
}

// TestImportRetention: the avatar sweep leaves the import's files alone,
// and the maintenance loop removes them after the retention period: a
// parsed file can no longer be started (233), a failed rows' file is gone
// (204), on both stacks.
func TestImportRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		stores := b.args(t)
		sheet := []byte("first_name,email\nAnn,ann@example.com\nBob,bad\n")
		// Kept: a sweep that removes any unreferenced avatar at once.
		s := startServer(t, append(slices.Clone(stores), "--sweep-grace", "1ns", "--sweep-interval", "100ms"), nil)
		a := session{api: s.api, login: "admin", hash: login(t, s.api, "admin", s.admin)}
		file := a.parseSheet(t, sheet, "p.csv", map[string]string{"parse_header": "true"}).body["file_id"].(string)
		kept := a.parseSheet(t, sheet, "q.csv", map[string]string{"parse_header": "true"}).body["file_id"].(string)
		id := a.ok(t, "employee/import/start", map[string]any{"filename": file, "headers": []string{"first_name", "email"}}).int("id")
		a.waitImport(t, id)
		time.Sleep(500 * time.Millisecond) // several sweeps
		if r := send(t, callRequest(t, a.api, formJSON, "employee/import/download_failed", map[string]any{"hash": a.hash, "process_id": id})); r.status != 200 {
			t.Fatalf("download_failed after the sweeps = %d %s", r.status, r.raw)
		}
		importFiles := func() []string {
			if slices.Contains(stores, "--files") {
				return nil // on S3: seen through the API only
			}
			left, _ := filepath.Glob(filepath.Join(stores[slices.Index(stores, "--data")+1], "files", "import-*"))
			return left
		}
		if n := len(importFiles()); !slices.Contains(stores, "--files") && n != 3 {
			t.Errorf("the store holds %d import files, want 2 parsed and 1 of failed rows", n)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(stores, "--files") {
			// A file a node stored and crashed before recording: no
			// import names it, the retention removes it all the same.
			dir := filepath.Join(stores[slices.Index(stores, "--data")+1], "files")
			if err := os.WriteFile(filepath.Join(dir, "import-0123456789abcdef0123456789abcdef.tsv"), []byte("Orphan\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// Past the retention period.
		s = startServer(t, append(slices.Clone(stores), "--import-retention", "1ns", "--sweep-interval", "100ms"), nil)
		a.api = s.api
		time.Sleep(1500 * time.Millisecond) // created_at counts seconds
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := a.do(t, formJSON, "employee/import/download_failed", map[string]any{"process_id": id})
			if r.code() == 204 || time.Now().After(deadline) {
				checkCall(t, "employee/import/download_failed", "download_failed past the retention", r, 204)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		a.want(t, formJSON, "employee/import/start", map[string]any{"filename": kept, "headers": []string{"first_name"}}, 233)
		if left := importFiles(); len(left) > 0 {
			t.Errorf("import files left in the store past the retention: %v", left)
		}
	})
}
