package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// keyServer starts a fresh server on b with a second account, "other", and
// returns the server and the admin's session.
func keyServer(t *testing.T, b backend) (*server, string) {
	t.Helper()
	args := b.args(t)
	s := startServer(t, args, map[string]string{"ROSTER_ADMIN_PASSWORD": "admin-password"})
	if err := run(t.Context(), append([]string{"user", "create", "--login", "other", "--password", "other-password"}, args...),
		noEnv, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	return s, login(t, s.api, "admin", "admin-password")
}

// createKey makes an API key and returns it and its id.
func createKey(t *testing.T, api, hash, title string) (string, int64) {
	t.Helper()
	r := ok(t, api, "api/key/create", map[string]any{"hash": hash, "title": title})
	v, _ := r.body["value"].(map[string]any)
	key, _ := v["hash"].(string)
	id, _ := v["id"].(float64)
	if !hex32.MatchString(key) || id < 1 || v["title"] != title {
		t.Fatalf("api/key/create = %s, want a value with a 32-hex hash, an id and the title %q", r.raw, title)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`).MatchString(v["create_date"].(string)) {
		t.Errorf("create_date = %v, want yyyy-MM-dd HH:mm:ss", v["create_date"])
	}
	return key, int64(id)
}

// TestAPIKeys: a key works wherever a session hash does, in every request
// form and the header, except on the session-only calls, survives the
// session's logout, and ends when deleted.
func TestAPIKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := keyServer(t, b)
		key, id := createKey(t, s.api, hash, "Integration with the depot")

		emp := ok(t, s.api, "employee/create", map[string]any{"hash": key, "employee": map[string]any{"first_name": "Ann"}}).int("id")
		for _, f := range []form{formJSON, formURL, formGET, formMultipart} {
			r := do(t, s.api, f, "employee/read", map[string]any{"hash": key, "employee_id": emp})
			if r.code() != 0 {
				t.Errorf("employee/read with a key as %s = %s", f, r.raw)
			}
		}
		// The query string, on a POST with a JSON body.
		req := mustRequest(t, http.MethodPost, s.api+"/employee/list?hash="+key, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		if r := send(t, req); r.code() != 0 {
			t.Errorf("employee/list with the key in the query = %s", r.raw)
		}
		req = mustRequest(t, http.MethodGet, s.api+"/employee/list", nil)
		req.Header.Set("Authorization", "NVX "+key)
		if r := send(t, req); r.code() != 0 {
			t.Errorf("employee/list with Authorization: NVX <key> = %s", r.raw)
		}
		ok(t, s.api, "employee/avatar/assign", map[string]any{"hash": key, "employee_id": emp, "icon_id": 7})

		// The list shows the key's id, title and date, never the key.
		r := ok(t, s.api, "api/key/list", map[string]any{"hash": hash})
		list, _ := r.body["list"].([]any)
		if len(list) != 1 {
			t.Fatalf("api/key/list = %s, want one key", r.raw)
		}
		item := list[0].(map[string]any)
		if item["id"] != float64(id) || item["title"] != "Integration with the depot" || item["hash"] != nil {
			t.Errorf("api/key/list item = %v, want id %d, the title and no hash", item, id)
		}
		if strings.Contains(string(r.raw), key) {
			t.Errorf("api/key/list shows the key: %s", r.raw)
		}

		// The session-only calls refuse the key with 4, in every form and
		// the header, and change nothing: the key still works, and no key
		// was made or deleted.
		for _, tt := range []struct {
			call   string
			params map[string]any
		}{
			{"user/logout", nil},
			{"user/session/renew", nil},
			{"api/key/list", nil},
			{"api/key/create", map[string]any{"title": "made by a key"}},
			{"api/key/delete", map[string]any{"key_id": id}},
			{"api/key/delete", map[string]any{"key": key}},
		} {
			k := session{api: s.api, login: "admin's key", hash: key}
			for _, f := range plainForms {
				k.want(t, f, tt.call, tt.params, 4)
			}
			req := mustRequest(t, http.MethodPost, s.api+"/"+tt.call, strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "NVX "+key)
			checkCall(t, tt.call, tt.call+" with Authorization: NVX <key>", send(t, req), 4)
		}
		ok(t, s.api, "user/get_info", map[string]any{"hash": key})
		if r := ok(t, s.api, "api/key/list", map[string]any{"hash": hash}); len(r.body["list"].([]any)) != 1 {
			t.Errorf("api/key/list after the refused calls = %s, want the one key", r.raw)
		}
		// Logout of the session does not touch the key.
		ok(t, s.api, "user/logout", map[string]any{"hash": hash})
		ok(t, s.api, "user/get_info", map[string]any{"hash": key})

		// Deleting by the key itself and by id: the key then answers 4.
		hash = login(t, s.api, "admin", "admin-password")
		key2, _ := createKey(t, s.api, hash, "second")
		ok(t, s.api, "api/key/delete", map[string]any{"hash": hash, "key": key2})
		ok(t, s.api, "api/key/delete", map[string]any{"hash": hash, "key_id": id})
		for _, k := range []string{key, key2} {
			if r := do(t, s.api, formJSON, "employee/list", map[string]any{"hash": k}); r.code() != 4 || r.status != 400 {
				t.Errorf("employee/list with a deleted key = %d %s, want 400 and code 4", r.status, r.raw)
			}
		}
		if r := do(t, s.api, formJSON, "api/key/delete", map[string]any{"hash": hash, "key_id": id}); r.code() != 201 {
			t.Errorf("deleting a deleted key = %s, want 201", r.raw)
		}
	})
}

// TestAPIKeyParameters: the title (required, 1 to 255 printable
// characters) and the key to delete are checked, and a refused create
// makes no key.
func TestAPIKeyParameters(t *testing.T) {
	s, hash := freshServer(t, backends()[0])
	a := session{api: s.api, login: "admin", hash: hash}
	for _, tt := range []struct {
		name   string
		call   string
		params map[string]any
		want   string // the parameter named
	}{
		{"title missing", "api/key/create", map[string]any{}, "title"},
		{"title null", "api/key/create", map[string]any{"title": nil}, "title"},
		{"title empty", "api/key/create", map[string]any{"title": ""}, "title"},
		{"title too long", "api/key/create", map[string]any{"title": strings.Repeat("x", 256)}, "title"},
		{"title not printable", "api/key/create", map[string]any{"title": "a\nb"}, "title"},
		{"title with a tab", "api/key/create", map[string]any{"title": "a\tb"}, "title"},
		{"nothing to delete", "api/key/delete", map[string]any{}, "key"},
		{"key not hex", "api/key/delete", map[string]any{"key": "not a key"}, "key"},
		{"key_id not an id", "api/key/delete", map[string]any{"key_id": 0}, "key_id"},
	} {
		for _, f := range plainForms {
			r := a.want(t, f, tt.call, tt.params, 7)
			if got := errorParams(r); len(got) != 1 || got[0] != tt.want {
				t.Errorf("%s: %s(%v) as %s names %v, want [%s]", tt.name, tt.call, tt.params, f, got, tt.want)
			}
		}
	}
	if r := a.ok(t, "api/key/list", nil); len(r.body["list"].([]any)) != 0 {
		t.Errorf("api/key/list after refused creates = %s, want empty", r.raw)
	}
	createKey(t, s.api, hash, "x")
	createKey(t, s.api, hash, strings.Repeat("é", 255))
	createKey(t, s.api, hash, "Depot sync — Zoë's laptop")
}

// TestAPIKeyQuota: 20 keys an account, 268 beyond; deleting one makes room.
func TestAPIKeyQuota(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := keyServer(t, b)
		var first int64
		for i := range 20 {
			_, id := createKey(t, s.api, hash, "key")
			if i == 0 {
				first = id
			}
		}
		r := do(t, s.api, formJSON, "api/key/create", map[string]any{"hash": hash, "title": "one too many"})
		if r.code() != 268 || r.status != 402 {
			t.Fatalf("21st api/key/create = %d %s, want 402 and code 268", r.status, r.raw)
		}
		if st, _ := r.body["status"].(map[string]any); st["description"] != "Over quota" {
			t.Errorf("268 description = %v, want Over quota", st["description"])
		}
		// The quota is per account.
		createKey(t, s.api, login(t, s.api, "other", "other-password"), "other's")
		ok(t, s.api, "api/key/delete", map[string]any{"hash": hash, "key_id": first})
		createKey(t, s.api, hash, "in the freed place")
	})
}

// TestAPIKeyAccounts: sub-users cannot manage keys (13), and one account's
// keys are invisible to another (201 on delete).
func TestAPIKeyAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, hash := keyServer(t, b)
		ok(t, s.api, "subuser/register", map[string]any{"hash": hash, "password": subPassword,
			"user": map[string]any{"login": "dispatcher@example.com", "first_name": "Zoë"}})
		sub := login(t, s.api, "dispatcher@example.com", subPassword)
		for _, call := range []string{"api/key/create", "api/key/list", "api/key/delete"} {
			for _, f := range plainForms {
				if r := do(t, s.api, f, call, map[string]any{"hash": sub, "key_id": 1}); r.code() != 13 || r.status != 403 {
					t.Errorf("%s by a sub-user as %s = %d %s, want 403 and code 13", call, f, r.status, r.raw)
				}
			}
		}

		key, id := createKey(t, s.api, hash, "admin's")
		other := login(t, s.api, "other", "other-password")
		if r := ok(t, s.api, "api/key/list", map[string]any{"hash": other}); len(r.body["list"].([]any)) != 0 {
			t.Errorf("another account's api/key/list = %s, want empty", r.raw)
		}
		for _, p := range []map[string]any{{"key_id": id}, {"key": key}} {
			p["hash"] = other
			if r := do(t, s.api, formJSON, "api/key/delete", p); r.code() != 201 {
				t.Errorf("api/key/delete(%v) by another account = %s, want 201", p, r.raw)
			}
		}
		// The key still works and acts for its own account only.
		r := ok(t, s.api, "user/get_info", map[string]any{"hash": key})
		if info := r.body["user_info"].(map[string]any); info["login"] != "admin" {
			t.Errorf("user/get_info with admin's key = %s", r.raw)
		}
	})
}
