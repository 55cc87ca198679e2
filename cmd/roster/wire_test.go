package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// request builds a call by hand: a body in one form (or none), a query
// string and headers.
type request struct {
	method string
	call   string
	query  url.Values
	form   form // formJSON, formURL or formMultipart for a body; "" for none
	body   map[string]string
	header map[string]string
}

func (rq request) send(t *testing.T, api string) result {
	t.Helper()
	u := api + "/" + rq.call
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	var body bytes.Buffer
	contentType := ""
	switch rq.form {
	case formJSON:
		m := map[string]json.RawMessage{}
		for k, v := range rq.body {
			m[k] = json.RawMessage(v)
		}
		b, _ := json.Marshal(m)
		body.Write(b)
		contentType = "application/json"
	case formURL:
		vals := url.Values{}
		for k, v := range rq.body {
			vals.Set(k, v)
		}
		body.WriteString(vals.Encode())
		contentType = "application/x-www-form-urlencoded"
	case formMultipart:
		mw := multipart.NewWriter(&body)
		for k, v := range rq.body {
			mw.WriteField(k, v)
		}
		mw.Close()
		contentType = mw.FormDataContentType()
	}
	method := rq.method
	if method == "" {
		method = http.MethodPost
		if rq.form == "" {
			method = http.MethodGet
		}
	}
	req := mustRequest(t, method, u, &body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// quoted writes s as a JSON string, for request bodies given as JSON text.
func quoted(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestWire checks the wire conventions of SPEC §1 that TestCalls does not
// go through call by call.
func TestWire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		sub := st.subUser(t, st.master, nil)
		gone := st.login(t, "admin", st.admin)
		gone.ok(t, "user/logout", nil)

		t.Run("multipart", func(t *testing.T) {
			t.Parallel()
			r := do(t, st.api, formMultipart, "user/auth", map[string]any{"login": "admin", "password": st.admin})
			if check(t, "multipart user/auth", r, 0) {
				session{api: st.api, hash: r.body["hash"].(string)}.ok(t, "user/get_info", nil)
			}
			dept := st.master.want(t, formMultipart, "department/create", map[string]any{
				"department": map[string]any{"label": "Multipart"}}, 0).int("id")
			e := fullEmployee(dept, seq.Add(1), st.master.someTags(t, 2))
			id := st.master.want(t, formMultipart, "employee/create", map[string]any{"employee": e}, 0).int("id")
			v, _ := st.master.want(t, formMultipart, "employee/read", map[string]any{"employee_id": id}, 0).body["value"].(map[string]any)
			same(t, "employee created and read by multipart", v, wantEmployee(id, e, nil, nil))
			r = st.master.want(t, formMultipart, "employee/list", map[string]any{
				"sort": []string{"id=desc"}, "limit": 1, "filter": e["last_name"]}, 0)
			if list, _ := r.body["list"].([]any); !slices.Equal(ids(list), []int64{id}) {
				t.Errorf("multipart employee/list = %s, want employee %d", r.raw, id)
			}
			g := st.master.want(t, formMultipart, "subuser/security_group/create", map[string]any{"group": map[string]any{
				"label": "Multipart", "privileges": map[string]any{"rights": []string{"employee_update"}}}}, 0).int("id")
			st.master.want(t, formMultipart, "subuser/security_group/delete", map[string]any{"security_group_id": g}, 0)
			st.master.want(t, formMultipart, "employee/delete", map[string]any{"employee_id": id}, 0)
			st.master.want(t, formJSON, "employee/read", map[string]any{"employee_id": id}, 201)
		})

		t.Run("negative zero", func(t *testing.T) {
			t.Parallel()
			// SQLite drops the sign of a zero, PostgreSQL keeps it: a
			// coordinate of -0 is 0 on both, in every answer.
			r := request{form: formJSON, call: "employee/create", body: map[string]string{"hash": `"` + st.master.hash + `"`,
				"employee": `{"first_name":"Zero","location":{"lat":-0,"lng":-0.0,"address":""}}`}}.send(t, st.api)
			if !check(t, "employee/create at -0", r, 0) {
				return
			}
			id := r.int("id")
			read := st.master.want(t, formJSON, "employee/read", map[string]any{"employee_id": id}, 0)
			list := st.master.want(t, formJSON, "employee/list", map[string]any{"filter": "Zero"}, 0)
			for _, raw := range []string{string(read.raw), string(list.raw)} {
				if !strings.Contains(raw, `"location":{"lat":0,"lng":0,"address":"","radius":0}`) || strings.Contains(raw, "-0") {
					t.Errorf("an employee created at -0 reads as %s, want lat and lng 0", raw)
				}
			}
		})

		t.Run("Authorization header", func(t *testing.T) {
			t.Parallel()
			for _, f := range []form{"", formJSON, formURL, formMultipart} {
				r := request{form: f, call: "user/get_info", header: map[string]string{"Authorization": "NVX " + sub.hash}}.send(t, st.api)
				if check(t, string(f)+" user/get_info with the hash in the header", r, 0) {
					if got := r.body["user_info"].(map[string]any)["login"]; got != sub.login {
						t.Errorf("user/get_info with the hash in the header = %s, want %s's", r.raw, sub.login)
					}
				}
			}
			r := request{form: formJSON, call: "employee/create", body: map[string]string{"employee": `{"first_name":"By header"}`},
				header: map[string]string{"Authorization": "NVX " + st.master.hash}}.send(t, st.api)
			if check(t, "employee/create with the hash in the header", r, 0) {
				st.master.readEmployee(t, r.int("id"))
			}
			for _, h := range []string{"Bearer " + st.master.hash, st.master.hash, "NVX", "NVX " + st.master.hash[:31]} {
				r := request{call: "user/get_info", header: map[string]string{"Authorization": h}}.send(t, st.api)
				check(t, "user/get_info with Authorization: "+h, r, 3)
			}
			r = request{call: "user/get_info", header: map[string]string{"Authorization": "NVX " + gone.hash}}.send(t, st.api)
			check(t, "user/get_info with a logged-out hash in the header", r, 4)
		})

		t.Run("hash lookup order", func(t *testing.T) {
			t.Parallel()
			// Whose hash was used shows in the login get_info answers with.
			for _, f := range []form{formJSON, formURL, formMultipart, ""} {
				for _, c := range []struct {
					name                string
					body, query, header string
					want                string // a login, or a code as text
				}{
					{"body over query and header", st.master.hash, sub.hash, sub.hash, "admin"},
					{"query over header", "", sub.hash, st.master.hash, sub.login},
					{"header alone", "", "", st.master.hash, "admin"},
					{"a malformed body hash is not skipped", "xyz", st.master.hash, st.master.hash, "3"},
					{"an ended body hash is not skipped", gone.hash, st.master.hash, st.master.hash, "4"},
					{"an ended query hash is not skipped", "", gone.hash, st.master.hash, "4"},
				} {
					if f == "" && c.body != "" {
						continue // a GET has no body
					}
					rq := request{form: f, call: "user/get_info", query: url.Values{}, body: map[string]string{},
						header: map[string]string{}}
					if c.body != "" {
						rq.body["hash"] = c.body
						if f == formJSON {
							rq.body["hash"] = quoted(c.body)
						}
					}
					if c.query != "" {
						rq.query.Set("hash", c.query)
					}
					if c.header != "" {
						rq.header["Authorization"] = "NVX " + c.header
					}
					r := rq.send(t, st.api)
					info, _ := r.body["user_info"].(map[string]any)
					got := info["login"]
					if r.code() != 0 {
						got = textValue(r.code())
					}
					if got != c.want {
						t.Errorf("%s, %s: user/get_info = %s, want %s", f, c.name, r.raw, c.want)
					}
				}
			}
		})

		t.Run("parameters", func(t *testing.T) {
			t.Parallel()
			// Body parameters win over query ones; the query is read on POST.
			a := st.master.createEmployee(t, map[string]any{"first_name": "A"})
			bID := st.master.createEmployee(t, map[string]any{"first_name": "B"})
			for _, f := range []form{formJSON, formURL, formMultipart} {
				body := map[string]string{"hash": st.master.hash, "employee_id": textValue(a)}
				if f == formJSON {
					body["hash"] = quoted(st.master.hash)
				}
				r := request{form: f, call: "employee/read", body: body, query: url.Values{"employee_id": {textValue(bID)}}}.send(t, st.api)
				if v, _ := r.body["value"].(map[string]any); v["first_name"] != "A" {
					t.Errorf("%s employee/read with employee_id in body and query = %s, want the body's", f, r.raw)
				}
				r = request{form: f, call: "employee/read", body: map[string]string{"hash": body["hash"]},
					query: url.Values{"employee_id": {textValue(bID)}}}.send(t, st.api)
				if v, _ := r.body["value"].(map[string]any); v["first_name"] != "B" {
					t.Errorf("%s employee/read with employee_id in the query only = %s, want the query's", f, r.raw)
				}
			}
			// Unknown parameters are ignored.
			for _, f := range plainForms {
				st.master.want(t, f, "employee/read", map[string]any{"employee_id": a, "frobnicate": 1, "employee": "x"}, 0)
			}
		})

		t.Run("trailing slash", func(t *testing.T) {
			t.Parallel()
			for _, f := range plainForms {
				check(t, string(f)+" user/auth/", do(t, st.api, f, "user/auth/", map[string]any{"login": "admin", "password": st.admin}), 0)
				id := st.master.want(t, f, "employee/create/", map[string]any{"employee": map[string]any{"first_name": "Slash"}}, 0).int("id")
				st.master.want(t, f, "employee/read/", map[string]any{"employee_id": id}, 0)
				st.master.want(t, f, "subuser/security_group/list/", nil, 0)
			}
		})

		t.Run("integers as JSON strings", func(t *testing.T) {
			t.Parallel()
			dept := st.master.createDepartment(t, map[string]any{"label": "Strings"})
			tracker := seq.Add(1)
			tags := st.master.someTags(t, 2)
			e := map[string]any{"first_name": "Str", "tracker_id": textValue(tracker), "department_id": textValue(dept),
				"tags": []string{textValue(tags[0]), textValue(tags[1])}}
			id := st.master.want(t, formJSON, "employee/create", map[string]any{"employee": e}, 0).int("id")
			same(t, "employee created with integers as strings", st.master.readEmployee(t, id), wantEmployee(id,
				map[string]any{"first_name": "Str", "tracker_id": tracker, "department_id": dept, "tags": tags}, nil, nil))
			st.master.want(t, formJSON, "employee/read", map[string]any{"employee_id": textValue(id)}, 0)
			st.master.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"id": textValue(id), "first_name": "Str2"}}, 0)
			st.master.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{
				"employee_id": textValue(id), "first_name": "Str3"}}, 0)
			if got := st.master.readEmployee(t, id)["first_name"]; got != "Str3" {
				t.Errorf("first_name after updates by string ids = %v, want Str3", got)
			}
			name := unique("Strings")
			st.master.createEmployee(t, map[string]any{"first_name": name})
			second := st.master.createEmployee(t, map[string]any{"first_name": name})
			r := st.master.want(t, formJSON, "employee/list", map[string]any{"limit": "1", "offset": "1", "filter": name}, 0)
			if list, _ := r.body["list"].([]any); !slices.Equal(ids(list), []int64{second}) || r.int("count") != 2 {
				t.Errorf("employee/list with limit \"1\" and offset \"1\" = %s, want employee %d of 2", r.raw, second)
			}
			st.master.want(t, formJSON, "employee/avatar/assign", map[string]any{"employee_id": textValue(id), "icon_id": "12"}, 0)
			if got := st.master.readEmployee(t, id)["icon_id"]; got != 12.0 {
				t.Errorf("icon_id assigned as \"12\" = %v, want 12", got)
			}
			st.master.want(t, formJSON, "department/delete", map[string]any{"department_id": textValue(dept)}, 0)
			st.master.want(t, formJSON, "employee/delete", map[string]any{"employee_id": textValue(id)}, 0)
		})

		t.Run("null text", func(t *testing.T) {
			t.Parallel()
			a := st.newAccount(t)
			id := a.createEmployee(t, map[string]any{"first_name": "Null"})
			a.ok(t, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 5})
			for _, f := range plainForms {
				// Optional parameters given as null are absent.
				r := a.want(t, f, "employee/list", map[string]any{"limit": nil, "offset": nil, "sort": nil, "filter": nil}, 0)
				if list, _ := r.body["list"].([]any); !slices.Equal(ids(list), []int64{id}) {
					t.Errorf("%s employee/list with null parameters = %s, want every employee", f, r.raw)
				}
				a.want(t, f, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": nil}, 0)
				if got := a.readEmployee(t, id)["icon_id"]; got != nil {
					t.Errorf("%s icon_id after assigning null = %v, want null", f, got)
				}
				a.ok(t, "employee/avatar/assign", map[string]any{"employee_id": id, "icon_id": 5})
				// A required one given as null is missing.
				r = a.want(t, f, "employee/read", map[string]any{"employee_id": nil}, 7)
				if got := errorParams(r); !slices.Equal(got, []string{"employee_id"}) {
					t.Errorf("%s employee/read with employee_id null names %v, want [employee_id]", f, got)
				}
			}
			// The text null is JSON's null only outside JSON: in a JSON body
			// the string "null" is a string.
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": id, "first_name": "null"}}, 0)
			if got := a.readEmployee(t, id)["first_name"]; got != "null" {
				t.Errorf(`first_name after a JSON update to "null" = %v, want the text null`, got)
			}
		})

		t.Run("JSON text outside JSON", func(t *testing.T) {
			t.Parallel()
			tags := st.master.someTags(t, 2)
			for _, f := range []form{formURL, "", formMultipart} {
				body := map[string]string{
					"hash": st.master.hash,
					"employee": fmt.Sprintf(`{"first_name":"Text","tags":[%d,%d],"location":{"lat":1.5,"lng":2.5,"address":"x"}}`,
						tags[0], tags[1]),
				}
				rq := request{form: f, call: "employee/create", body: body}
				if f == "" {
					rq.query = url.Values{}
					for k, v := range body {
						rq.query.Set(k, v)
					}
				}
				r := rq.send(t, st.api)
				if !check(t, string(f)+" employee/create with the object as JSON text", r, 0) {
					continue
				}
				got := st.master.readEmployee(t, r.int("id"))
				same(t, string(f)+" employee from JSON text", got, wantEmployee(r.int("id"), map[string]any{"first_name": "Text",
					"tags": tags, "location": map[string]any{"lat": 1.5, "lng": 2.5, "address": "x"}}, nil, nil))
			}
		})

		t.Run("content types", func(t *testing.T) {
			t.Parallel()
			body := `{"hash":"` + st.master.hash + `","employee":{"first_name":"Typed"}}`
			for _, ct := range []string{"application/json; charset=utf-8", "application/JSON", "application/vnd.navixy+json", ""} {
				req := mustRequest(t, http.MethodPost, st.api+"/employee/create", strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				check(t, "employee/create as "+ct, send(t, req), 0)
			}
			req := mustRequest(t, http.MethodPost, st.api+"/employee/list", strings.NewReader("hash="+st.master.hash+"&limit=1"))
			check(t, "a form body without a content type", send(t, req), 0)
		})
	})
}

// TestSessionExpiry: a session ends its TTL after it was made or last
// renewed, and renewing in any form moves its end.
func TestSessionExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		// Expiry is stored in whole seconds: a session made at r0 ends
		// within (r0+3s, r0+4s]; renewed at r0+2s it ends after r0+5s.
		st := newStack(t, b, "--session-ttl", "4s")
		start := time.Now()
		control := st.master
		renewed := map[form]session{}
		for _, f := range plainForms {
			renewed[f] = st.login(t, "admin", st.admin)
		}
		time.Sleep(time.Until(start.Add(2 * time.Second)))
		for _, f := range plainForms {
			renewed[f].want(t, f, "user/session/renew", nil, 0)
		}
		time.Sleep(time.Until(start.Add(4200 * time.Millisecond)))
		control.want(t, formJSON, "user/get_info", nil, 4)
		control.want(t, formJSON, "user/session/renew", nil, 4)
		for _, f := range plainForms {
			renewed[f].want(t, formJSON, "user/get_info", nil, 0)
		}
	})
}
