package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"
)

// importCSV is a spreadsheet saved as CSV with two bad rows: line 3's
// e-mail is no address, line 5 has no first name.
const importCSV = "First name;Last name;E-mail;Phone;Notes\n" +
	"Ann;Lee;ann@example.com;+47 123 45 678;first\n" +
	"Bob;Ray;not-an-address;;second\n" +
	"Cy;Oak;cy@example.com;;third\n" +
	";Nameless;nobody@example.com;;fourth\n"

// TestConsoleImport walks the import screen on both stacks, at desktop size
// with the CSV and at phone size with the same rows in an XLSX: a file the server cannot read is refused with its reason; a
// CSV with bad rows is previewed, its columns guessed from the header, a
// column named twice refused before anything is sent; the import's
// progress bar reaches 100; the failed rows' lines and reasons are those
// the server gives, and the download offered holds the server's file of
// them. Each step is screenshotted and checked by axe-core.
func TestConsoleImport(t *testing.T) {
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "people.csv")
	xlsxFile := filepath.Join(dir, "people.xlsx")
	latin1 := filepath.Join(dir, "latin1.csv")
	if err := os.WriteFile(csvFile, []byte(importCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(xlsxFile, csvAsXLSX(t, importCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	// "Zoë" in Windows-1252: not UTF-8, which the server refuses with 234.
	if err := os.WriteFile(latin1, []byte("First name\nZo\xeb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		p := newConsolePage(t, b.name+"-import-desktop")
		p.width = 1280
		p.do("desktop size", chromedp.EmulateViewport(1280, 800))
		p.signIn(st.base, "admin", st.admin)

		walk := func(round int, sheet string) {
			t.Helper()
			p.view("employees")
			p.view("import")
			p.screen("import")
			p.do("choose a file the server cannot read", chromedp.SetUploadFiles("#import-file", []string{latin1}))
			p.wait("the server's reason", `document.getElementById("import-error").textContent.startsWith("The spreadsheet was refused: ") &&
				document.getElementById("import-error").textContent.includes("UTF-8") && document.getElementById("import-map").hidden`)
			p.screen("import-refused")

			p.do("choose the spreadsheet", chromedp.SetUploadFiles("#import-file", []string{sheet}))
			p.wait("the preview", `!document.getElementById("import-map").hidden && document.querySelectorAll("#import-rows tr").length === 4`)
			cells := p.eval(`JSON.stringify([...document.querySelectorAll("#import-rows tr")].map(r => [...r.cells].map(c => c.textContent)))`)
			if want := `[["Ann","Lee","ann@example.com","+47 123 45 678","first"],["Bob","Ray","not-an-address","","second"],` +
				`["Cy","Oak","cy@example.com","","third"],["","Nameless","nobody@example.com","","fourth"]]`; cells != want {
				t.Errorf("the preview's cells are %s, want %s", cells, want)
			}
			guess := p.eval(`JSON.stringify([...document.querySelectorAll("#import-head select")].map(s => s.value))`)
			if want := `["first_name","last_name","email","phone","undefined"]`; guess != want {
				t.Errorf("the guess from the header is %s, want %s", guess, want)
			}
			p.screen("import-preview")
			p.choose(`#import-head select[data-column="4"]`, "email")
			p.do("start with two columns holding the email", chromedp.Click("#import-start"))
			p.wait("refused in the console", `document.getElementById("import-error").textContent.startsWith("Two columns hold Email") &&
				document.querySelector('#import-head select[data-column="4"]').getAttribute("aria-invalid") === "true"`)
			if n := len(st.master.list(t, "employee/list", nil)); n != 2*round {
				t.Errorf("after a refused start employee/list has %d employees, want %d", n, 2*round)
			}
			p.screen("import-mapping-refused")
			p.choose(`#import-head select[data-column="4"]`, "undefined")
			p.do("start", chromedp.Click("#import-start"))
			p.wait("the bar reaches 100", `document.getElementById("import-progress").value === 100 &&
				document.getElementById("import-progress-text").textContent === "Done: 4 rows read: 2 imported, 2 failed." &&
				!document.getElementById("import-run").hidden && !document.getElementById("import-download").hidden`)
			p.screen("import-done")

			name := p.eval(`document.getElementById("import-download").download`)
			id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(name, "employee-import-"), "-failed.tsv"), 10, 64)
			if err != nil {
				t.Fatalf("the download is named %q, want employee-import-<id>-failed.tsv", name)
			}
			proc, _ := st.master.ok(t, "employee/import/read", map[string]any{"process_id": id}).body["value"].(map[string]any)
			progress, _ := proc["progress"].(map[string]any)
			var want [][2]string
			for _, e := range progress["errors"].([]any) {
				m := e.(map[string]any)
				want = append(want, [2]string{fmt.Sprint(m["line"]), m["message"].(string)})
			}
			if len(want) != 2 || want[0][0] != "3" || want[1][0] != "5" {
				t.Fatalf("the server's failed rows are %v, want lines 3 and 5", want)
			}
			var shown [][2]string
			if err := json.Unmarshal([]byte(p.eval(`JSON.stringify([...document.querySelectorAll("#import-failed-body tr")].map(r => [r.cells[0].textContent, r.cells[1].textContent]))`)), &shown); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(shown) != fmt.Sprint(want) {
				t.Errorf("the failed rows on screen are %v, want the server's %v", shown, want)
			}
			file := do(t, st.api, formJSON, "employee/import/download_failed", map[string]any{"hash": st.master.hash, "process_id": id})
			got := p.download("#import-download", name)
			if got != string(file.raw) || !strings.Contains(got, "Bob\tRay\tnot-an-address") || !strings.Contains(got, "Nameless") || strings.Contains(got, "Ann") {
				t.Errorf("the download holds %q, want the server's file of the failed rows %q", got, file.raw)
			}
			if n := len(st.master.list(t, "employee/list", nil)); n != 2*(round+1) {
				t.Errorf("after the import employee/list has %d employees, want %d", n, 2*(round+1))
			}
		}
		walk(0, csvFile)
		// The guess on other common headers, and a field guessed twice
		// given to the first column only.
		got := p.eval(`JSON.stringify(guessFields(["Surname", "E-mail address", "Licence valid till", "Driver license number",
			"Lat", "Longitude", "first_name", "FIRST NAME", "Tag ids", "Mobile", "Remarks", ""]))`)
		if want := `["last_name","email","driver_license_valid_till","driver_license_number","lat","lng","first_name",` +
			`"undefined","tags","phone","undefined","undefined"]`; got != want {
			t.Errorf("guessFields = %s, want %s", got, want)
		}

		p.prefix = b.name + "-import-phone"
		p.width = 390
		p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
		walk(1, xlsxFile)
		// Whoever signs in next on this browser sees nothing of that import.
		p.do("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
		p.fill("#login", "admin")
		p.fill("#password", st.admin)
		p.do("sign in again", chromedp.Click(`#signin-form button[type="submit"]`), chromedp.WaitVisible("#app"))
		p.wait("the import screen, empty", `!document.getElementById("view-import").hidden && document.getElementById("import-run").hidden &&
			document.getElementById("import-map").hidden && !document.getElementById("import-file").value &&
			document.getElementById("import-download").hidden`)
	})
}

// download clicks the link sel as a person would and returns what the
// browser saved under name.
func (p *consolePage) download(sel, name string) string {
	p.t.Helper()
	dir := p.t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		p.t.Fatalf("allowing downloads: %v", err)
	}
	p.do("download", chromedp.Click(sel))
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		// Chromium writes name.crdownload and renames it when complete.
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(b)
		}
	}
	p.shot("failed")
	entries, _ := os.ReadDir(dir)
	p.t.Fatalf("no %s was downloaded to %s (it holds %v; the link is %s)", name, dir, entries,
		p.eval(`document.querySelector(`+fmt.Sprintf("%q", sel)+`).outerHTML`))
	return ""
}

// csvAsXLSX writes the rows of a semicolon-separated text as an XLSX with
// excelize, every cell a string.
func csvAsXLSX(t *testing.T, text string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var cells []any
		for _, c := range strings.Split(line, ";") {
			cells = append(cells, c)
		}
		if err := f.SetSheetRow(f.GetSheetName(0), fmt.Sprintf("A%d", i+1), &cells); err != nil {
			t.Fatal(err)
		}
	}
	b, err := f.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
