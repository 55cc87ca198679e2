package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg" // decoding the uploaded crop
	_ "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// consolePage drives the console in one Chromium tab: it waits, clicks,
// types, saves a screenshot of each screen and runs the accessibility
// check on it.
type consolePage struct {
	t      *testing.T
	ctx    context.Context
	shots  string // the directory screenshots go to
	prefix string // the start of their names: the stack and the size
	width  int    // the width of the screen emulated
}

func newConsolePage(t *testing.T, prefix string) *consolePage {
	shots := screenshotDir(t)
	t.Logf("screenshots of %s go to %s", prefix, shots)
	// The walks are long, and slow under the race detector on a busy machine.
	return &consolePage{t: t, ctx: browserFor(t, 6*time.Minute), shots: shots, prefix: prefix}
}

func (p *consolePage) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(p.shots, p.prefix+"-"+name+".png"), png, 0o644)
	}
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
}

func (p *consolePage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failed")
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p *consolePage) wait(what, expr string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		p.shot("failed")
		p.t.Fatalf("waiting until %s: %v", what, err)
	}
}

func (p *consolePage) eval(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.shot("failed")
		p.t.Fatalf("evaluating %.60s: %v", expr, err)
	}
	return v
}

// fill replaces the value of the input sel with text, typed as keys.
func (p *consolePage) fill(sel, text string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return ""; })()`, sel))
	if text != "" {
		p.do("typing into "+sel, chromedp.SendKeys(sel, text))
	}
}

// choose picks a value of a select (or sets a color input) as a person
// would, with the change event the console listens to.
func (p *consolePage) choose(sel, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, sel, value))
}

var (
	axeOnce   sync.Once
	axeSource []byte
	axeErr    error
)

// axeViolations runs axe-core (vendored in testdata/axe-core) on the page
// and returns its serious and critical violations, one line each.
func (p *consolePage) axeViolations() []string {
	p.t.Helper()
	axeOnce.Do(func() { axeSource, axeErr = os.ReadFile("testdata/axe-core/axe.min.js") })
	if axeErr != nil {
		p.t.Fatal(axeErr)
	}
	if p.eval(`typeof window.axe`) == "undefined" {
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](string(axeSource)+";undefined")); err != nil {
			p.t.Fatalf("injecting axe-core: %v", err)
		}
	}
	raw := p.eval(`(async () => {
		const r = await axe.run(document, {resultTypes: ["violations"]});
		return JSON.stringify(r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).slice(0, 5).join(", ")));
	})()`)
	var out []string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		p.t.Fatalf("axe answered %q: %v", raw, err)
	}
	return out
}

// tooWide lists what sticks out of the screen when the page scrolls
// sideways ("[]" when it does not): a wide table must scroll inside its
// own frame instead.
func (p *consolePage) tooWide() string {
	p.t.Helper()
	return p.eval(fmt.Sprintf(`JSON.stringify(document.documentElement.scrollWidth <= %d ? [] :
		[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > %[1]d + 1)
		.map(e => e.tagName + "#" + e.id + "." + e.className).slice(0, 8))`, p.width))
}

// screen saves a screenshot of what is shown as name and reports every
// serious or critical accessibility violation on it.
func (p *consolePage) screen(name string) {
	p.t.Helper()
	p.shot(name)
	if wide := p.tooWide(); wide != "[]" {
		p.t.Errorf("%s %s is wider than the screen: %s", p.prefix, name, wide)
	}
	for _, v := range p.axeViolations() {
		p.t.Errorf("%s %s: %s", p.prefix, name, v)
	}
}

// view opens a section from the navigation and waits until it is loaded.
func (p *consolePage) view(name string) {
	p.t.Helper()
	p.do(name, chromedp.Click(fmt.Sprintf(`#nav a[data-view=%q]`, name)))
	p.wait(name+" is loaded", fmt.Sprintf(`!document.getElementById("view-%s").hidden && !document.getElementById("main").hasAttribute("aria-busy")`, name))
}

func (p *consolePage) signIn(base, login, password string) {
	p.t.Helper()
	p.do("open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible("#login"))
	p.fill("#login", login)
	p.fill("#password", password)
	p.do("sign in", chromedp.Click(`#signin-form button[type="submit"]`), chromedp.WaitVisible("#app"))
}

// seedEmployees creates n employees through the API, four calls at a time.
func seedEmployees(t *testing.T, s session, n int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				r := do(t, s.api, formJSON, "employee/create", map[string]any{"hash": s.hash, "employee": map[string]any{
					"first_name": []string{"Ann", "Bo", "Cai", "Dee"}[i%4], "last_name": fmt.Sprintf("Seed%04d", i),
					"email": fmt.Sprintf("seed%04d@example.com", i), "personnel_number": fmt.Sprintf("P%05d", (i*7919)%100000)}})
				if r.code() != 0 {
					t.Errorf("seeding employee %d: %s", i, r.raw)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// firstName is the name of the first employee of employee/list with params.
func firstName(t *testing.T, s session, params map[string]any) string {
	t.Helper()
	params["limit"] = 1
	e := s.list(t, "employee/list", params)[0].(map[string]any)
	return strings.TrimSpace(fmt.Sprint(e["first_name"], " ", e["last_name"]))
}

// TestConsoleModule walks every flow of the console on both stacks:
// paging and sorting 1,000 employees, filtering by text and tag, editing
// every field (and a refusal), cropping and uploading a picture,
// departments, tags, security groups, sub-users and API keys, each checked
// against what the API then holds. Every screen is then visited at desktop
// and phone size, screenshotted and checked by axe-core.
func TestConsoleModule(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		seedEmployees(t, st.master, 1000)
		p := newConsolePage(t, b.name+"-desktop")
		p.width = 1280
		p.do("desktop size", chromedp.EmulateViewport(1280, 800))
		p.signIn(st.base, "admin", st.admin)

		// Paging and sorting.
		p.wait("the first page", `document.getElementById("status").textContent === "1–50 of 1,000 employees" &&
			document.querySelectorAll("#list li").length === 50`)
		p.screen("employees-cards")
		p.do("next page", chromedp.Click("#next"))
		p.wait("the second page", `document.getElementById("status").textContent === "51–100 of 1,000 employees"`)
		want := firstName(t, st.master, map[string]any{"sort": "last_name=asc", "offset": 50})
		p.wait("the second page starts with "+want, fmt.Sprintf(`document.querySelector("#list .name")?.textContent === %q`, want))
		p.do("show as a table", chromedp.Click("#as-table"))
		p.wait("the table", `document.querySelectorAll("#table-body tr").length === 50`)
		p.do("sort by name, descending", chromedp.Click(`#table-head th[aria-sort="ascending"] button`))
		want = firstName(t, st.master, map[string]any{"sort": "last_name=desc"})
		p.wait("Z to A from the first page", fmt.Sprintf(`document.querySelector("#table-body th .name")?.textContent === %q &&
			document.querySelector("#table-head th[aria-sort]")?.getAttribute("aria-sort") === "descending" &&
			document.getElementById("status").textContent.startsWith("1–50 ")`, want))
		p.choose("#sort", "personnel_number=desc")
		want = firstName(t, st.master, map[string]any{"sort": "personnel_number=desc"})
		p.wait("sorted by personnel number", fmt.Sprintf(`document.querySelector("#table-body th .name")?.textContent === %q`, want))
		p.choose("#page-size", "100")
		p.wait("100 a page", `document.querySelectorAll("#table-body tr").length === 100 &&
			document.getElementById("page").value === "1" && document.getElementById("page-info").textContent === "of 10"`)
		p.choose("#page", "10")
		p.wait("the last page", `document.getElementById("status").textContent === "901–1,000 of 1,000 employees" && document.getElementById("next").disabled`)
		p.choose("#page", "1")
		p.wait("the first page", `document.getElementById("status").textContent === "1–100 of 1,000 employees" && document.getElementById("prev").disabled`)
		p.screen("employees-table")
		p.do("back to cards", chromedp.Click("#as-cards"))
		p.fill("#filter", "nobody at all")
		p.wait("nobody matches", `document.querySelectorAll("#list li").length === 0 && document.getElementById("status").textContent.startsWith("No employee matches")`)
		p.screen("employees-no-match")

		// Departments and tags, made in the console.
		p.view("departments")
		p.wait("no departments yet", `document.querySelector("#departments-body td.empty")?.textContent.startsWith("No departments yet. Press")`)
		p.screen("departments-empty")
		p.do("new department", chromedp.Click("#new-department"), chromedp.WaitVisible(`#form input[name="label"]`))
		p.fill(`#form input[name="label"]`, "North")
		p.fill(`#form input[name="address"]`, "Oslo")
		p.fill(`#form input[name="lat"]`, "59.91")
		p.screen("department-form")
		p.do("save without a longitude", chromedp.Click("#form-save"))
		p.wait("the console asks for it", `document.getElementById("form-error").textContent.includes("longitude") &&
			document.querySelector('#form input[name="lng"]')?.getAttribute("aria-invalid") === "true"`)
		p.fill(`#form input[name="lng"]`, "10.75")
		p.fill(`#form input[name="radius"]`, "2000000")
		p.do("save a radius too large", chromedp.Click("#form-save"))
		p.wait("the server's reason", `document.getElementById("form-error").textContent === "Radius must be a whole number of metres in [0, 1000000]"`)
		if n := len(st.master.list(t, "department/list", nil)); n != 0 {
			t.Fatalf("refused department saved: %d departments", n)
		}
		p.fill(`#form input[name="radius"]`, "500")
		p.do("save", chromedp.Click("#form-save"))
		p.wait("the department is listed", `!document.getElementById("form-dialog").open && document.querySelector("#departments-body th")?.textContent === "North"`)
		p.do("rename", chromedp.Click(`#departments-body button[aria-label="Edit North"]`))
		p.fill(`#form input[name="label"]`, "Nord")
		p.do("save", chromedp.Click("#form-save"))
		p.wait("renamed", `document.querySelector("#departments-body th")?.textContent === "Nord"`)
		deps := st.master.list(t, "department/list", nil)
		same(t, "departments", deps, []any{map[string]any{"id": deps[0].(map[string]any)["id"], "label": "Nord",
			"location": map[string]any{"lat": 59.91, "lng": 10.75, "address": "Oslo", "radius": float64(500)}}})
		depID := int64(deps[0].(map[string]any)["id"].(float64))

		p.view("tags")
		p.wait("no tags yet", `document.querySelector("#tags-body td.empty") !== null`)
		p.do("new tag", chromedp.Click("#new-tag"), chromedp.WaitVisible(`#form input[name="name"]`))
		p.fill(`#form input[name="name"]`, "Nights")
		p.choose(`#form input[name="color"]`, "#ff8800")
		p.screen("tag-form")
		p.do("save", chromedp.Click("#form-save"))
		p.wait("the tag is listed", `document.querySelector("#tags-body th")?.textContent === "Nights"`)
		tagList := st.master.list(t, "tag/list", nil)
		if len(tagList) != 1 || tagList[0].(map[string]any)["color"] != "FF8800" {
			t.Fatalf("tag/list after creating in the console = %v, want Nights in FF8800", tagList)
		}
		tagID := int64(tagList[0].(map[string]any)["id"].(float64))
		tagPhoto := filepath.Join(t.TempDir(), "moon.png")
		if err := os.WriteFile(tagPhoto, pngBytes(t, 120, 90), 0o644); err != nil {
			t.Fatal(err)
		}
		p.do("a picture for the tag", chromedp.Click(`#tags-body button[aria-label="Choose a picture for Nights"]`),
			chromedp.SetUploadFiles("#tag-file", []string{tagPhoto}))
		p.wait("the crop opens", `document.getElementById("cropper").open`)
		p.do("upload the square", chromedp.Click("#crop-upload"))
		p.wait("the tag shows it", `(() => { const i = document.querySelector("#tags-body img.tag-avatar");
			return i && i.src.includes("/static/tag/avatars/") && i.naturalWidth > 0; })()`)
		if a := st.master.list(t, "tag/list", nil)[0].(map[string]any)["avatar_file_name"]; a == nil {
			t.Errorf("tag/list after the console gave Nights a picture has no avatar_file_name")
		}
		p.screen("tags")

		// Every field of one employee.
		st.master.createEmployee(t, map[string]any{"first_name": "Holder", "last_name": "Zz", "hardware_key": "HK-TAKEN"})
		p.view("employees")
		p.fill("#filter", "seed0777")
		p.wait("one match", `document.querySelectorAll("#list li").length === 1`)
		p.do("open her", chromedp.Click("#list button"), chromedp.WaitVisible(`#editor input[name="first_name"]`))
		fields := map[string]string{
			"middle_name": "Q", "last_name": "Seed0777-Lund", "phone": "4712345678", "personnel_number": "E-777",
			"hardware_key": "HK-777", "tracker_id": "4242", "ssn": "010190-12345", "driver_license_number": "DL777",
			"driver_license_cats": "B, C1", "address": "Storgata 1, Oslo", "lat": "59.9139", "lng": "10.7522", "radius": "150",
		}
		for name, v := range fields {
			p.fill(fmt.Sprintf(`#editor [name=%q]`, name), v)
		}
		p.choose(`#editor [name="driver_license_issue_date"]`, "2015-04-01")
		p.choose(`#editor [name="driver_license_valid_till"]`, "2030-03-31")
		p.choose(`#editor [name="department_id"]`, fmt.Sprint(depID))
		p.do("tick the tag", chromedp.Click(fmt.Sprintf(`#editor-tags input[value="%d"]`, tagID)))
		p.fill(`#editor [name="email"]`, "not an address")
		p.do("save a bad e-mail", chromedp.Click("#save"))
		p.wait("the server's rule is shown", `document.getElementById("editor-error").textContent === "Email must be an e-mail address" &&
			document.querySelector('#editor [name="email"]')?.getAttribute("aria-invalid") === "true"`)
		p.screen("editor-refused")
		list := st.master.list(t, "employee/list", map[string]any{"filter": "seed0777"})
		if e := list[0].(map[string]any); e["middle_name"] != "" || e["tags"].([]any) == nil || len(e["tags"].([]any)) != 0 {
			t.Fatalf("a refused save changed the employee: %v", e)
		}
		p.fill(`#editor [name="email"]`, "ann.lund@example.com")
		p.fill(`#editor [name="hardware_key"]`, "HK-TAKEN")
		p.do("save another's hardware key", chromedp.Click("#save"))
		p.wait("the clash is explained", `document.getElementById("editor-error").textContent ===
			"Another employee has this hardware key or tracker id (Entity already exists)" &&
			document.querySelector('#editor [name="hardware_key"]').getAttribute("aria-invalid") === "true"`)
		p.fill(`#editor [name="hardware_key"]`, "HK-777")
		p.do("save", chromedp.Click("#save"))
		p.wait("saved", `document.getElementById("editor-title").textContent === "Bo Q Seed0777-Lund" && document.getElementById("editor-error").textContent === ""`)
		id := int64(list[0].(map[string]any)["id"].(float64))
		got := st.master.readEmployee(t, id)
		for k, v := range map[string]any{
			"first_name": "Bo", "middle_name": "Q", "last_name": "Seed0777-Lund", "email": "ann.lund@example.com",
			"phone": "4712345678", "personnel_number": "E-777", "hardware_key": "HK-777", "tracker_id": float64(4242),
			"ssn": "010190-12345", "driver_license_number": "DL777", "driver_license_cats": "B, C1",
			"driver_license_issue_date": "2015-04-01", "driver_license_valid_till": "2030-03-31",
			"department_id": float64(depID), "tags": []any{float64(tagID)},
			"location": map[string]any{"lat": 59.9139, "lng": 10.7522, "address": "Storgata 1, Oslo", "radius": float64(150)},
		} {
			same(t, "employee "+k, got[k], v)
		}
		p.screen("editor")

		// Crop and upload: the square the person chose is what is stored.
		photo := filepath.Join(t.TempDir(), "wide.png")
		if err := os.WriteFile(photo, pngBytes(t, 600, 300), 0o644); err != nil {
			t.Fatal(err)
		}
		p.do("choose a wide picture", chromedp.SetUploadFiles("#file", []string{photo}))
		p.wait("the crop opens", `document.getElementById("cropper").open && document.activeElement.id === "crop-area"`)
		p.do("zoom in twice and move left", chromedp.KeyEvent("++"), chromedp.KeyEvent(kb.ArrowLeft))
		p.screen("crop")
		p.do("upload the square", chromedp.Click("#crop-upload"))
		p.wait("the picture shows", `(() => { const i = document.querySelector("#list img.avatar");
			return i && i.src.includes("/static/employee/avatars/") && i.naturalWidth > 0; })()`)
		name := st.master.readEmployee(t, id)["avatar_file_name"].(string)
		res, err := http.Get(st.api + "/static/employee/avatars/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(res.Body)
		res.Body.Close()
		cfg, _, err := image.DecodeConfig(&body)
		if err != nil || cfg.Width != cfg.Height || cfg.Width >= 300 || cfg.Width < 200 {
			t.Errorf("the stored picture is %dx%d (%v), want the square the zoom left: about 248 pixels a side", cfg.Width, cfg.Height, err)
		}
		p.do("close", chromedp.Click("#close"))

		// Filter by tag.
		p.fill("#filter", "")
		p.choose("#tag-filter", fmt.Sprint(tagID))
		p.wait("only the tagged employee", `document.querySelectorAll("#list li").length === 1 && document.getElementById("status").textContent === "1–1 of 1 employee"`)
		p.choose("#tag-filter", "")

		// Deleting the department says what happens, then does it.
		p.view("departments")
		p.do("delete Nord", chromedp.Click(`#departments-body button[aria-label="Delete Nord"]`))
		p.wait("the question", `document.getElementById("confirm").open && document.getElementById("confirm-text").textContent.includes("left without a department")`)
		p.screen("confirm")
		p.do("keep it", chromedp.Click("#confirm-no"))
		if n := len(st.master.list(t, "department/list", nil)); n != 1 {
			t.Fatalf("Keep it deleted the department")
		}
		p.do("delete Nord", chromedp.Click(`#departments-body button[aria-label="Delete Nord"]`), chromedp.Click("#confirm-yes"))
		p.wait("gone", `document.querySelector("#departments-body td.empty") !== null`)
		if d := st.master.readEmployee(t, id)["department_id"]; d != nil {
			t.Errorf("after deleting the department the employee has department_id %v, want null", d)
		}

		// People and access.
		p.view("people")
		p.wait("empty lists", `document.querySelectorAll("#view-people td.empty").length === 3`)
		p.screen("people-empty")
		p.do("new group", chromedp.Click("#new-group"), chromedp.WaitVisible(`#form input[name="label"]`))
		p.fill(`#form input[name="label"]`, "Dispatch")
		p.fill(`#form input[name="store_period"]`, "1 year")
		p.do("tick employee_update", chromedp.Click(`#form input[value="employee_update"]`), chromedp.Click("#form-save"))
		p.wait("the store period's rule", `document.getElementById("form-error").textContent.startsWith("History kept for ")`)
		p.fill(`#form input[name="store_period"]`, "1y")
		p.screen("group-form")
		p.do("save", chromedp.Click("#form-save"))
		p.wait("the group", `document.querySelector("#groups-body th")?.textContent === "Dispatch"`)
		groups := st.master.list(t, "subuser/security_group/list", nil)
		g := groups[0].(map[string]any)
		same(t, "the group's privileges", g["privileges"], map[string]any{"rights": []any{"employee_update"}, "store_period": "1y"})
		p.do("register", chromedp.Click("#new-subuser"), chromedp.WaitVisible(`#form input[name="login"]`))
		p.fill(`#form input[name="login"]`, "kim@example.com")
		p.fill(`#form input[name="password"]`, "short")
		p.choose(`#form select[name="security_group_id"]`, fmt.Sprint(g["id"]))
		p.do("save a short password", chromedp.Click("#form-save"))
		p.wait("the password rule", `document.getElementById("form-error").textContent.startsWith("Password ")`)
		p.screen("subuser-form")
		p.fill(`#form input[name="password"]`, subPassword)
		p.fill(`#form input[name="first_name"]`, "Kim")
		p.do("save", chromedp.Click("#form-save"))
		p.wait("listed", `document.querySelector("#subusers-body th") && document.querySelector("#subusers-body th")?.textContent === "kim@example.com"`)
		st.login(t, "kim@example.com", subPassword)
		p.do("edit", chromedp.Click(`#subusers-body button[aria-label="Edit kim@example.com"]`), chromedp.WaitVisible(`#form input[name="activated"]`))
		p.do("deactivate", chromedp.Click(`#form input[name="activated"]`), chromedp.Click("#form-save"))
		p.wait("deactivated", `document.querySelector("#subusers-body td:nth-of-type(3)").textContent === "Deactivated"`)
		u := st.master.list(t, "subuser/list", nil)[0].(map[string]any)
		if u["activated"] != false || u["first_name"] != "Kim" || u["security_group_id"] != g["id"] {
			t.Errorf("sub-user after the console = %v, want Kim deactivated in Dispatch", u)
		}

		p.fill(`#key-form input[name="title"]`, "Depot sync")
		p.do("create a key", chromedp.Click(`#key-form button`))
		p.wait("the key is shown once", `document.getElementById("key-shown").open && document.getElementById("key-value").value.length === 32`)
		p.screen("key-shown")
		key := p.eval(`document.getElementById("key-value").value`)
		if r := do(t, st.api, formJSON, "user/get_info", map[string]any{"hash": key}); r.code() != 0 {
			t.Errorf("the key the console showed does not work: %s", r.raw)
		}
		p.do("done", chromedp.Click("#key-done"))
		p.wait("the key is listed, not shown", `document.querySelector("#keys-body th")?.textContent === "Depot sync" &&
			!document.body.innerHTML.includes(`+fmt.Sprintf("%q", key)+`)`)
		p.screen("people")
		p.do("delete the key", chromedp.Click(`#keys-body button[aria-label="Delete the key Depot sync"]`), chromedp.Click("#confirm-yes"))
		p.wait("no keys", `document.querySelector("#keys-body td.empty") !== null`)
		if n := len(st.master.list(t, "api/key/list", nil)); n != 0 {
			t.Errorf("api/key/list after deleting in the console has %d keys", n)
		}

		// Deleting an employee asks first.
		p.view("employees")
		p.fill("#filter", "seed0777")
		p.wait("one match", `document.querySelectorAll("#list li").length === 1`)
		p.do("open and delete", chromedp.Click("#list button"), chromedp.WaitVisible("#delete"), chromedp.Click("#delete"), chromedp.Click("#confirm-yes"))
		p.wait("she is gone", `!document.getElementById("editor").open && document.querySelectorAll("#list li").length === 0`)
		if n := st.master.ok(t, "employee/list", map[string]any{"limit": 1}).int("count"); n != 1000 {
			t.Errorf("employee/list count after deleting one of 1,001 = %d, want 1000", n)
		}

		// Every screen at phone size.
		p.prefix = b.name + "-phone"
		p.width = 390
		p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
		p.fill("#filter", "")
		p.wait("the list", `document.querySelectorAll("#list li").length === 100`)
		p.screen("employees-cards")
		p.do("table", chromedp.Click("#as-table"))
		p.screen("employees-table")
		p.do("open one", chromedp.Click("#table-body button"), chromedp.WaitVisible("#editor"))
		p.screen("editor")
		p.do("choose a picture", chromedp.SetUploadFiles("#file", []string{photo}))
		p.wait("the crop opens", `document.getElementById("cropper").open`)
		p.screen("crop")
		p.do("cancel", chromedp.Click("#crop-cancel"), chromedp.Click("#close"))
		p.fill("#filter", "nobody at all")
		p.wait("nobody matches", `document.getElementById("status").textContent.startsWith("No employee matches")`)
		p.screen("employees-no-match")
		p.do("new employee", chromedp.Click("#new"), chromedp.WaitVisible("#editor"))
		p.wait("no keyboard pops up in the editor", `document.activeElement.id === "editor-title"`)
		p.do("save empty", chromedp.Click("#save"))
		p.wait("refused", `document.getElementById("editor-error").textContent === "First name must not be empty"`)
		p.screen("editor-refused")
		p.do("close", chromedp.Click("#close"))
		// form opens a form dialog with the button sel, screenshots it, and
		// cancels it.
		form := func(name, sel string) {
			t.Helper()
			p.do(name, chromedp.Click(sel), chromedp.WaitVisible("#form-dialog"))
			p.screen(name)
			p.do("cancel", chromedp.Click("#form-cancel"))
		}
		p.view("departments")
		p.screen("departments-empty")
		form("department-form", "#new-department")
		p.view("tags")
		p.screen("tags")
		form("tag-form", "#new-tag")
		p.do("delete the tag?", chromedp.Click(`#tags-body button[aria-label="Delete Nights"]`), chromedp.WaitVisible("#confirm"))
		p.screen("confirm")
		p.do("keep it", chromedp.Click("#confirm-no"))
		p.view("people")
		p.screen("people")
		form("subuser-form", "#new-subuser")
		form("group-form", "#new-group")
		p.fill(`#key-form input[name="title"]`, "Phone")
		p.do("create a key", chromedp.Click(`#key-form button`), chromedp.WaitVisible("#key-shown"))
		p.screen("key-shown")
		p.do("done", chromedp.Click("#key-done"))
		p.do("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
		p.do("open it afresh, as a phone does", chromedp.Reload(), chromedp.WaitVisible("#login"))
		p.wait("no keyboard pops up on a phone", `document.activeElement === document.body`)
		p.screen("signin")
		p.prefix = b.name + "-desktop"
		p.width = 1280
		p.do("desktop size", chromedp.EmulateViewport(1280, 800))
		p.screen("signin")
	})
}

// recordCodes makes the page keep the Navixy code of every answer its
// fetch calls get, in window.codes.
const recordCodes = `(() => {
	window.codes = [];
	const f = window.fetch;
	window.fetch = async (...args) => {
		const r = await f(...args);
		r.clone().json().then(b => window.codes.push(b.success ? 0 : b.status.code)).catch(() => window.codes.push(-1));
		return r;
	};
	return "";
})()`

// TestConsoleReadOnly: a sub-user whose group lacks employee_update and
// tag_update sees every screen with no control that would answer 13, and
// no call the console makes answers 13. The same recorder catches a 13
// when one is made.
func TestConsoleReadOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		dep := st.master.createDepartment(t, map[string]any{"label": "Depot"})
		tag := st.master.ok(t, "tag/create", map[string]any{"tag": map[string]any{"name": "Days", "color": "FFD700"}}).int("id")
		for i := range 3 {
			st.master.createEmployee(t, map[string]any{"first_name": fmt.Sprint("Viewer", i), "department_id": dep, "tags": []int64{tag}})
		}
		group := st.master.createGroup(t, "Lookers", "tracker_update")
		login := uniqueLogin("looker")
		st.master.register(t, map[string]any{"login": login, "security_group_id": group}, subPassword)

		p := newConsolePage(t, b.name+"-readonly")
		p.width = 1280
		p.do("desktop size", chromedp.EmulateViewport(1280, 800))
		p.do("open the console", chromedp.Navigate(st.base+"/console/"), chromedp.WaitVisible("#login"))
		p.eval(recordCodes)
		p.fill("#login", login)
		p.fill("#password", "Wrong-passw0rd")
		p.do("sign in with a wrong password", chromedp.Click(`#signin-form button[type="submit"]`))
		p.wait("the reason, once", `document.getElementById("signin-error").textContent === "Wrong login or password"`)
		p.fill("#password", subPassword)
		p.do("sign in", chromedp.Click(`#signin-form button[type="submit"]`), chromedp.WaitVisible("#app"))
		p.wait("the list", `document.querySelectorAll("#list li").length === 3`)
		// visibleWrites lists the write controls a person could reach.
		const visibleWrites = `JSON.stringify([...document.querySelectorAll("button, input, select, label.button")]
			.filter(e => e.checkVisibility() && !e.disabled && !e.closest("fieldset:disabled") &&
				/^(New|Save|Delete|Edit|Choose|Register|Create)|icon \d+\)$/.test(e.textContent + (e.getAttribute("aria-label") || "")))
			.map(e => e.id || e.textContent))`
		noWrites := func(where string) {
			t.Helper()
			if got := p.eval(visibleWrites); got != "[]" {
				t.Errorf("%s shows write controls to a sub-user without the right: %s", where, got)
			}
		}
		if p.eval(`String(document.getElementById("readonly").checkVisibility())`) != "true" {
			t.Errorf("the read-only notice is not shown")
		}
		if p.eval(`String(document.querySelector('#nav a[data-view="people"]').checkVisibility())`) != "false" {
			t.Errorf("a sub-user sees People and access")
		}
		if p.eval(`String(document.querySelector('#nav a[data-view="import"]').checkVisibility())`) != "false" {
			t.Errorf("a sub-user without employee_update sees Import")
		}
		noWrites("the list")
		p.screen("employees")
		p.do("open one", chromedp.Click("#list button"), chromedp.WaitVisible("#editor"))
		p.wait("read-only fields", `document.getElementById("editor-fields").disabled && document.activeElement.id === "close"`)
		noWrites("the editor")
		p.screen("editor")
		p.do("close", chromedp.Click("#close"))
		for _, view := range []string{"departments", "tags"} {
			p.view(view)
			p.wait(view+" listed", fmt.Sprintf(`document.querySelector("#%s-body th") !== null`, view))
			noWrites(view)
			p.screen(view)
		}
		p.do("people by its address", chromedp.Navigate(st.base+"/console/#people"))
		p.wait("the employees instead", `!document.getElementById("view-employees").hidden && document.getElementById("view-people").hidden`)
		p.do("import by its address", chromedp.Navigate(st.base+"/console/#import"))
		p.wait("the employees instead", `!document.getElementById("view-employees").hidden && document.getElementById("view-import").hidden`)
		p.eval(recordCodes)
		p.view("employees")
		p.do("as a table", chromedp.Click("#as-table"))
		p.wait("the table", `document.querySelectorAll("#table-body tr").length === 3`)
		noWrites("the table")
		if got := p.eval(`JSON.stringify(window.codes)`); strings.Contains(got, "13") || got == "[]" {
			t.Errorf("the console's answers as a read-only sub-user: %s, want some and no 13", got)
		}
		// The recorder is not blind: a write made anyway is caught.
		p.eval(`fetch("` + st.api + `/employee/create", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify({hash: sessionStorage.getItem("roster-hash"), employee: {first_name: "X"}})}).then(() => "")`)
		p.wait("the 13 is recorded", `window.codes.includes(13)`)

		p.prefix = b.name + "-readonly-phone"
		p.width = 390
		p.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
		p.screen("employees-table")
		p.do("open one", chromedp.Click("#table-body button"), chromedp.WaitVisible("#editor"))
		noWrites("the editor on a phone")
		p.screen("editor")
		p.do("close", chromedp.Click("#close"))
		for _, view := range []string{"departments", "tags"} {
			p.view(view)
			noWrites(view + " on a phone")
			p.screen(view)
		}
	})
}

// TestConsoleKeyboardCreateAndUpload: at desktop size, with the keyboard
// alone, a person signs in, creates an employee, chooses a picture, moves
// and zooms the crop and uploads it.
func TestConsoleKeyboardCreateAndUpload(t *testing.T) {
	st := newStack(t, backends()[0])
	p := newConsolePage(t, "keyboard")
	photo := filepath.Join(t.TempDir(), "tall.png")
	if err := os.WriteFile(photo, pngBytes(t, 200, 400), 0o644); err != nil {
		t.Fatal(err)
	}
	key := func(what, k string) {
		t.Helper()
		p.do(what, chromedp.KeyEvent(k))
	}
	tabTo := func(what, expr string) {
		t.Helper()
		for range 60 {
			key("tab", "\t")
			if p.eval(`String(`+expr+`)`) == "true" {
				return
			}
		}
		p.shot("failed")
		t.Fatalf("%s cannot be reached with Tab", what)
	}
	p.width = 1280
	p.do("open the console", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(st.base+"/console/"))
	p.wait("the login has the focus", `document.activeElement.id === "login"`)
	key("sign in", "admin\t"+st.admin+"\r")
	p.wait("the filter has the focus", `!document.getElementById("app").hidden && document.activeElement.id === "filter"`)
	tabTo("New employee", `document.activeElement.id === "new"`)
	key("open the editor", "\r")
	p.wait("the first name has the focus", `document.getElementById("editor").open && document.activeElement.name === "first_name"`)
	key("type a name and save", "Kit\r")
	p.wait("the avatar tools show", `!document.getElementById("avatar-tools").hidden`)
	tabTo("the picture chooser", `document.activeElement.id === "file" &&
		getComputedStyle(document.querySelector('label[for="file"]')).outlineStyle === "solid"`)
	// The browser's file chooser is the operating system's; the test
	// answers it as a person would.
	p.do("choose a picture", chromedp.SetUploadFiles("#file", []string{photo}))
	p.wait("the crop has the focus", `document.getElementById("cropper").open && document.activeElement.id === "crop-area" &&
		getComputedStyle(document.activeElement).outlineStyle === "solid"`)
	key("zoom and move", "+"+kb.ArrowDown+kb.ArrowDown)
	p.shot("crop")
	tabTo("Upload the square", `document.activeElement.id === "crop-upload"`)
	key("upload", "\r")
	p.wait("the picture shows", `(() => { const i = document.querySelector("#list img.avatar");
		return i && i.src.includes("/static/employee/avatars/") && i.naturalWidth > 0; })()`)
	e := st.master.list(t, "employee/list", nil)[0].(map[string]any)
	if e["first_name"] != "Kit" || e["avatar_file_name"] == nil {
		t.Errorf("after the keyboard walk the employee is %v, want Kit with a picture", e)
	}
	key("close with Escape", "\u001b")
	p.wait("the editor is closed", `!document.getElementById("editor").open`)
}

// TestConsoleAxeCatches: the screen checks are not blind: an unlabelled
// field and grey-on-grey text added to the sign-in screen are reported as
// serious violations, and a block wider than the screen as sticking out.
func TestConsoleAxeCatches(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	p := newConsolePage(t, "axe-check")
	p.width = 1200
	p.do("open the console", chromedp.Navigate(s.base+"/console/"), chromedp.WaitVisible("#login"))
	if v := p.axeViolations(); len(v) != 0 {
		t.Fatalf("the sign-in screen has violations before it is broken: %v", v)
	}
	p.eval(`(() => {
		const f = document.getElementById("signin-form");
		f.append(document.createElement("input"));
		const low = document.createElement("p");
		low.textContent = "hard to read";
		low.style.color = "#bbb";
		f.append(low);
		return "";
	})()`)
	got := strings.Join(p.axeViolations(), "\n")
	for _, want := range []string{"label (critical)", "color-contrast (serious)"} {
		if !strings.Contains(got, want) {
			t.Errorf("axe on a broken sign-in screen reported %q, want %s", got, want)
		}
	}
	if w := p.tooWide(); w != "[]" {
		t.Fatalf("the sign-in screen is too wide before it is broken: %s", w)
	}
	p.eval(`(() => { const d = document.createElement("div"); d.id = "wide"; d.style.width = "2000px"; d.style.height = "1px";
		document.body.append(d); return ""; })()`)
	if w := p.tooWide(); !strings.Contains(w, "DIV#wide") {
		t.Errorf("a 2000-pixel block on a 1200-pixel screen: tooWide = %s, want it named", w)
	}
}
