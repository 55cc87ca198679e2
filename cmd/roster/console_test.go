package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPresetIcons: icons 1–24 are served like avatars (immutable, never
// sniffed, sandboxed); anything else is a bare 404.
func TestPresetIcons(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir()}, nil)
	var etag string
	for id := 1; id <= 24; id++ {
		r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/icons/"+itoa(id)+".svg", nil))
		if r.status != 200 || !strings.HasPrefix(string(r.raw), "<svg") {
			t.Fatalf("icon %d = %d %.40s, want 200 and an SVG", id, r.status, r.raw)
		}
		for k, want := range map[string]string{
			"Content-Type":            "image/svg+xml",
			"Cache-Control":           "public, max-age=31536000, immutable",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; sandbox",
		} {
			if got := r.header.Get(k); got != want {
				t.Errorf("icon %d %s = %q, want %q", id, k, got, want)
			}
		}
		if id == 5 {
			etag = r.header.Get("ETag")
		}
	}
	req := mustRequest(t, http.MethodGet, s.api+"/static/employee/icons/5.svg", nil)
	req.Header.Set("If-None-Match", etag)
	if r := send(t, req); etag == "" || r.status != http.StatusNotModified {
		t.Errorf("icon 5 with If-None-Match %s = %d, want 304", etag, r.status)
	}
	if r := send(t, mustRequest(t, http.MethodHead, s.api+"/static/employee/icons/5.svg", nil)); r.status != 200 || len(r.raw) != 0 {
		t.Errorf("HEAD icon 5 = %d with %d bytes, want 200 and no body", r.status, len(r.raw))
	}
	for _, name := range []string{"0.svg", "25.svg", "3654.svg", "05.svg", "5", "5.png", "-1.svg", "..%2f5.svg"} {
		if r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/icons/"+name, nil)); r.status != 404 {
			t.Errorf("icon %q = %d, want 404", name, r.status)
		}
	}
}

func itoa(n int) string { return textValue(n) }

// screenshotDir is where browser tests leave their screenshots:
// $ROSTER_SCREENSHOTS if set, else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("ROSTER_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsole walks the web console in Chromium: sign in, create an
// employee, upload a photo and see it appear, see a refused upload's
// reason, assign a preset icon, and sign out.
func TestConsole(t *testing.T) {
	ctx := browser(t)
	s := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"ROSTER_ADMIN_PASSWORD": "console-password"})
	dir := t.TempDir()
	photo := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(photo, pngBytes(t, 300, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	shots := screenshotDir(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(shots, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	wait := func(what, expr string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			shot("failed.png")
			t.Fatalf("waiting until %s: %v", what, err)
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot("failed.png")
			t.Fatalf("%s: %v", what, err)
		}
	}

	do("open the console", chromedp.Navigate(s.base+"/console/"))
	do("sign in",
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("#login", "admin"),
		chromedp.SendKeys("#password", "console-password"),
		chromedp.Click(`#signin-form button[type="submit"]`),
		chromedp.WaitVisible("#app"),
	)
	do("create an employee",
		chromedp.Click("#new"),
		chromedp.WaitVisible(`#editor input[name="first_name"]`),
		chromedp.SendKeys(`#editor input[name="first_name"]`, "Ann"),
		chromedp.SendKeys(`#editor input[name="last_name"]`, "Lee"),
		chromedp.SendKeys(`#editor input[name="email"]`, "ann@example.com"),
		chromedp.Click("#save"),
	)
	wait("the employee is listed", `[...document.querySelectorAll("#list .name")].some(e => e.textContent === "Ann Lee")`)
	wait("the avatar tools show", `!document.getElementById("avatar-tools").hidden`)

	do("upload a photo", chromedp.SetUploadFiles("#file", []string{photo}))
	wait("the crop opens", `document.getElementById("cropper").open`)
	do("upload it uncropped", chromedp.Click("#crop-whole"))
	wait("the uploaded photo appears in the list", `(() => {
		const img = document.querySelector("#list img.avatar");
		return img && img.src.includes("/static/employee/avatars/") && img.src.includes("size=48") &&
			img.complete && img.naturalWidth > 0;
	})()`)
	wait("the editor shows it", `document.getElementById("preview").src.includes("size=96") && document.getElementById("preview").naturalWidth > 0`)
	shot("console-upload.png")

	do("upload something that is not a picture", chromedp.SetUploadFiles("#file", []string{notes}))
	wait("the refusal is shown", `document.getElementById("upload-error").textContent.startsWith("The picture was refused")`)
	if msg, err := chromedp.Run(ctx, chromedp.Text("#upload-error")); err != nil || !strings.Contains(msg, "text/plain") {
		t.Errorf("refused upload shows %q (%v), want the server's reason naming text/plain", msg, err)
	}

	do("assign an icon", chromedp.Click(`#icons button[data-icon="5"]`))
	wait("the icon replaces the photo", `(() => {
		const img = document.querySelector("#list img.avatar");
		return img && img.src.endsWith("/static/employee/icons/5.svg") && img.naturalWidth > 0 &&
			document.querySelector('#icons button[data-icon="5"]').getAttribute("aria-pressed") === "true";
	})()`)
	shot("console-icon.png")

	// What the console did is what the API holds.
	hash := login(t, s.api, "admin", "console-password")
	list := ok(t, s.api, "employee/list", map[string]any{"hash": hash}).body["list"].([]any)
	if len(list) != 1 {
		t.Fatalf("employee/list after the walk = %v, want one employee", list)
	}
	e := list[0].(map[string]any)
	if e["first_name"] != "Ann" || e["email"] != "ann@example.com" || e["icon_id"] != float64(5) || e["avatar_file_name"] == nil {
		t.Errorf("employee after the walk = %v, want Ann with icon 5 and an uploaded avatar", e)
	}

	clear := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelector(`+"`"+sel+"`"+`).value = "", true)`)); err != nil {
			t.Fatalf("clearing %s: %v", sel, err)
		}
	}
	clear(`#editor input[name="last_name"]`)
	do("edit the last name",
		chromedp.SendKeys(`#editor input[name="last_name"]`, "Lee-Smith"),
		chromedp.Click("#save"),
	)
	wait("the list shows the new name", `[...document.querySelectorAll("#list .name")].some(e => e.textContent === "Ann Lee-Smith")`)

	do("close the editor and filter", chromedp.Click("#close"), chromedp.SendKeys("#filter", "nobody"))
	wait("the filter hides everyone", `document.querySelectorAll("#list li").length === 0`)
	clear("#filter")
	do("filter for Ann", chromedp.SendKeys("#filter", "smith"))
	wait("the filter finds Ann", `document.querySelectorAll("#list li").length === 1`)
	do("delete her, confirming", chromedp.Click("#list button"), chromedp.WaitVisible("#delete"), chromedp.Click("#delete"))
	wait("the console asks first", `document.getElementById("confirm").open`)
	do("confirm", chromedp.Click("#confirm-yes"))
	wait("she is gone", `!document.getElementById("editor").open && document.querySelectorAll("#list li").length === 0`)
	if n := len(ok(t, s.api, "employee/list", map[string]any{"hash": hash}).body["list"].([]any)); n != 0 {
		t.Errorf("employee/list after deleting in the console = %d employees, want none", n)
	}
	do("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
	shot("console-signed-out.png")
}

// TestConsoleKeyboardOnPhone: on a phone-sized screen, with the keyboard
// only, a person signs in, creates an employee and picks an icon; a picture
// dropped on the drop zone is uploaded and shown; nothing scrolls sideways.
func TestConsoleKeyboardOnPhone(t *testing.T) {
	ctx := browser(t)
	s := startServer(t, []string{"--data", t.TempDir()}, map[string]string{"ROSTER_ADMIN_PASSWORD": "console-password"})
	shots := screenshotDir(t)
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err == nil {
			err = os.WriteFile(filepath.Join(shots, name), png, 0o644)
		}
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		t.Logf("screenshot: %s", filepath.Join(shots, name))
	}
	wait := func(what, expr string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			shot("failed-phone.png")
			t.Fatalf("waiting until %s: %v", what, err)
		}
	}
	keys := func(what, k string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.KeyEvent(k)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// tabTo presses Tab until expr holds, at most 40 times.
	tabTo := func(expr string) bool {
		t.Helper()
		for range 40 {
			keys("tab", "\t")
			on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if err != nil {
				t.Fatal(err)
			}
			if on {
				return true
			}
		}
		return false
	}
	noSideways := func(where string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth ||
			[...document.querySelectorAll("dialog[open]")].some(d => d.scrollWidth > d.clientWidth)`))
		if err != nil || wide {
			t.Errorf("%s scrolls sideways on a phone (%v)", where, err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.base+"/console/")); err != nil {
		t.Fatal(err)
	}
	wait("the login field has the focus", `document.activeElement && document.activeElement.id === "login"`)
	keys("sign in", "admin\tconsole-password\r")
	wait("the filter has the focus", `!document.getElementById("app").hidden && document.activeElement.id === "filter"`)
	noSideways("the list")
	if !tabTo(`document.activeElement.id === "new"`) {
		t.Fatalf("New employee cannot be reached with Tab")
	}
	keys("open the editor", "\r")
	wait("the first name has the focus", `document.getElementById("editor").open && document.activeElement.name === "first_name"`)
	keys("type a name and save", "Bo\r")
	wait("the avatar tools show", `!document.getElementById("avatar-tools").hidden`)
	if !tabTo(`document.activeElement.dataset.icon === "12"`) {
		t.Fatalf("icon 12 cannot be reached with Tab")
	}
	keys("pick the icon", " ")
	wait("the icon is picked", `document.querySelector('#icons button[data-icon="12"]').getAttribute("aria-pressed") === "true" &&
		document.querySelector("#list img.avatar") && document.querySelector("#list img.avatar").src.endsWith("/icons/12.svg")`)
	noSideways("the editor")
	shot("console-phone-editor.png")
	if !tabTo(`document.activeElement.id === "file" &&
		getComputedStyle(document.querySelector('label[for="file"]')).outlineStyle === "solid"`) {
		t.Errorf("the file picker cannot be reached with Tab, or its focus does not show")
	}

	// A picture dropped on the drop zone, as a browser delivers a drag
	// from the desktop.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => {
		const c = document.createElement("canvas");
		c.width = 120; c.height = 80;
		const g = c.getContext("2d");
		g.fillStyle = "#2a7"; g.fillRect(0, 0, 120, 80);
		g.fillStyle = "#fff"; g.fillRect(30, 20, 60, 40);
		const blob = await new Promise(r => c.toBlob(r, "image/png"));
		const dt = new DataTransfer();
		dt.items.add(new File([blob], "dropped.png", {type: "image/png"}));
		const zone = document.getElementById("drop");
		zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
		zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("dropping a picture: %v", err)
	}
	wait("the crop opens on the dropped picture", `document.getElementById("cropper").open`)
	keys("upload the square", "\r")
	wait("the dropped picture shows", `(() => {
		const img = document.querySelector("#list img.avatar");
		return img && img.src.includes("/static/employee/avatars/") && img.naturalWidth > 0;
	})()`)
	keys("close with Escape", "\u001b")
	wait("the editor is closed", `!document.getElementById("editor").open`)
	noSideways("the list")
	shot("console-phone-list.png")
}
