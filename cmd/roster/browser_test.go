package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for the test and returns a context of
// one tab in it, good for two minutes. The test is skipped when Chromium
// is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	return browserFor(t, 2*time.Minute)
}

// browserFor is browser with a context good for d.
func browserFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("needs Chromium at %s (apt-get install chromium; .ci/run installs it)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1200, 900),
	}
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first action starts the browser, which lives as long as ctx: no
	// timeout on it, only on what follows.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(ctx, d)
	t.Cleanup(cancelTime)
	return ctx
}

// corsPage is a page of another origin calling Roster the way Navixy's JS
// SDK does: form-encoded POSTs, objects as JSON text, null as the text null.
// It reports what it saw in window.results and sets window.done.
var corsPage = template.Must(template.New("page").Parse(`<!doctype html>
<meta charset="utf-8"><title>CORS client</title>
<script>
const API = {{.API}};
function encode(params) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    body.append(k, v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v));
  }
  return body;
}
async function call(path, params, headers) {
  const r = await fetch(API + "/" + path, {method: "POST",
    headers: Object.assign({"Content-Type": "application/x-www-form-urlencoded"}, headers || {}),
    body: encode(params)});
  return {status: r.status, requestId: r.headers.get("X-Request-Id"), body: await r.json()};
}
(async () => {
  const out = {};
  try {
    const auth = await call("user/auth", {login: "admin", password: {{.Password}}});
    out.auth = auth.status + " " + auth.body.success + " " + (auth.body.hash || "").length;
    const hash = auth.body.hash;
    const tags = [];
    for (const name of ["Nights", "Days"]) {
      tags.push((await call("tag/create", {hash, tag: {name, color: "#00BFFF"}})).body.id);
    }
    const created = await call("employee/create", {hash, employee: {first_name: "Zoë", last_name: "Ng", tags, location: null}});
    const id = created.body.id;
    out.created = created.body.success;
    const list = await call("employee/list", {hash, filter: "ng", limit: 10});
    out.list = list.body.list.map(e => e.first_name + " " + e.last_name + " " + JSON.stringify(e.tags));
    out.listRequestId = list.requestId ? list.requestId.length > 0 : false;
    await call("employee/avatar/assign", {hash, employee_id: id, icon_id: 5});
    out.iconAfterAssign = (await call("employee/read", {hash, employee_id: id})).body.value.icon_id;
    await call("employee/avatar/assign", {hash, employee_id: id, icon_id: null});
    out.iconAfterNull = (await call("employee/read", {hash, employee_id: id})).body.value.icon_id;
    // The header makes this a preflighted request.
    const byHeader = await call("employee/read", {employee_id: id}, {"Authorization": "NVX " + hash});
    out.byHeader = byHeader.status + " " + byHeader.body.value.first_name;
    const missing = await call("employee/read", {hash, employee_id: 999999});
    out.missing = missing.status + " " + missing.body.status.code + " " + missing.body.status.description;
  } catch (e) {
    out.error = String(e);
  }
  window.results = out;
  window.done = true;
})();
</script>`))

// runPage serves corsPage from its own loopback origin, opens it in the
// browser and returns what it reported. origin receives the page's origin
// before Roster is started, so the caller can allow it or not.
func runPage(t *testing.T, ctx context.Context, start func(origin string) (api, password string)) map[string]any {
	t.Helper()
	var api, password string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		corsPage.Execute(w, map[string]string{"API": api, "Password": password})
	}))
	t.Cleanup(page.Close)
	api, password = start(page.URL)
	err := chromedp.Do(ctx,
		chromedp.Navigate(page.URL),
		chromedp.Poll[chromedp.Void](`window.done === true`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	if err != nil {
		t.Fatalf("running the page: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.results)`))
	if err != nil {
		t.Fatalf("running the page: %v", err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCORSInBrowser: a page of an allowed origin signs in, lists, assigns
// an icon and null, reads back, and reads a 201 error body, all in a real
// browser with its CORS checks.
func TestCORSInBrowser(t *testing.T) {
	ctx := browser(t)
	res := runPage(t, ctx, func(origin string) (string, string) {
		s := startServer(t, []string{"--data", t.TempDir(), "--cors-origins", origin},
			map[string]string{"ROSTER_ADMIN_PASSWORD": "browser-password"})
		return s.api, "browser-password"
	})
	want := map[string]any{
		"auth":            "200 true 32",
		"created":         true,
		"list":            []any{"Zoë Ng [1,2]"},
		"listRequestId":   true,
		"iconAfterAssign": float64(5),
		"iconAfterNull":   nil,
		"byHeader":        "200 Zoë",
		"missing":         "400 201 Not found in the database",
	}
	if res["error"] != nil {
		t.Fatalf("the page failed: %v (results %v)", res["error"], res)
	}
	for k, w := range want {
		if got, ok := res[k]; !ok || fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("page reported %s = %#v, want %#v", k, got, w)
		}
	}
}

// TestCORSRefusedInBrowser: a page of an origin that is not allowed cannot
// read Roster's answers.
func TestCORSRefusedInBrowser(t *testing.T) {
	ctx := browser(t)
	res := runPage(t, ctx, func(origin string) (string, string) {
		s := startServer(t, []string{"--data", t.TempDir(), "--cors-origins", "http://127.0.0.1:1"},
			map[string]string{"ROSTER_ADMIN_PASSWORD": "browser-password"})
		return s.api, "browser-password"
	})
	if e, _ := res["error"].(string); e == "" || res["auth"] != nil {
		t.Errorf("a page of a foreign origin got %v, want a failed fetch and nothing read", res)
	}
}
