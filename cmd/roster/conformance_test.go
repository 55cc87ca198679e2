package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// The conformance test holds Roster to Navixy's own OpenAPI description of
// the calls it serves (../shared/navixy/openapi-subset.json, beside the
// project): every answer must match the description's schema for the call,
// carry the HTTP status the description gives its code, and show every
// field the description documents for the objects it returns; every field
// a client sends must come back. It is called as a client built from that
// description would call it: JSON bodies, forms, GET query strings, and
// the key in Authorization: NVX <hash>.

// navixyDocPath is where the description lies from this package's
// directory: ../shared from the project's root.
var navixyDocPath = filepath.Join("..", "..", "..", "shared", "navixy", "openapi-subset.json")

// deviation is a way Roster's answers differ from Navixy's description on
// purpose.
type deviation struct {
	reason string
	// call and field: a documented field the call's answers leave out
	// (list[] is every item of the list).
	call, field string
	// statuses: the HTTP status Roster answers a code with, where the
	// description gives another.
	statuses map[int]int
}

// deviations are the only ones allowed. SPEC.md lists the same two.
var deviations = []deviation{
	{reason: "Roster stores only a digest of each API key, so the key itself is shown once, by api/key/create, and never listed",
		call: "api/key/list", field: "list[].hash"},
	{reason: "233 and 234 answer 400 and 254 answers 500, as Navixy's error table has them, where the description files them under 402",
		statuses: map[int]int{233: 400, 234: 400, 254: 500}},
}

func excusedField(call, path string) bool {
	return slices.ContainsFunc(deviations, func(d deviation) bool { return d.call == call && d.field == path })
}

func excusedStatus(code int) (int, bool) {
	for _, d := range deviations {
		if st, ok := d.statuses[code]; ok {
			return st, true
		}
	}
	return 0, false
}

// formNVX is a JSON body with the key in Authorization: NVX <hash> instead
// of the body, as Navixy's description shows every call.
const formNVX form = "nvx"

// conformForms are the ways the test sends every call.
var conformForms = []form{formJSON, formURL, formGET, formNVX}

// navixy is Navixy's description, loaded for kin-openapi and as plain JSON
// for what kin-openapi does not keep (the descriptions of responses that
// are references).
type navixy struct {
	doc        *openapi3.T
	paths      map[string]map[string]any // path → operation (post)
	components map[string]any
}

// completeObjects are the objects whose every documented field an answer
// must carry.
var completeObjects = []string{"Employee", "Department", "Subuser", "SecurityGroup", "ApiKey"}

func loadNavixy(t *testing.T) *navixy {
	t.Helper()
	raw, err := os.ReadFile(navixyDocPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("Navixy's OpenAPI description is not at %s (../shared beside the project): conformance not checked", navixyDocPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("loading %s: %v", navixyDocPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", navixyDocPath, err)
	}
	var plain struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &plain); err != nil {
		t.Fatal(err)
	}
	n := &navixy{doc: doc, paths: map[string]map[string]any{}, components: plain.Components.Schemas}
	for p, item := range plain.Paths {
		n.paths[p] = item["post"]
	}
	return n
}

var errorMention = regexp.MustCompile(`[Ee]rror (?:code )?(\d+)`)

// status is the HTTP status the description gives code on call: the
// status of the response whose description names the code ("Error 247:
// ..."), else Navixy's error table (SPEC §1; the description's own rule is
// 400, which the table refines).
func (n *navixy) status(call string, code int) int {
	if code == 0 {
		return 200
	}
	op := n.paths["/"+call]
	responses, _ := op["responses"].(map[string]any)
	for st, r := range responses {
		if st == "200" || st == "default" {
			continue
		}
		desc, _ := r.(map[string]any)["description"].(string)
		for sentence := range strings.SplitSeq(desc, ". ") {
			if strings.Contains(sentence, "default") {
				continue // "... return the default 400"
			}
			for _, m := range errorMention.FindAllStringSubmatch(sentence, -1) {
				if m[1] == strconv.Itoa(code) {
					n, _ := strconv.Atoi(st)
					return n
				}
			}
		}
	}
	return specStatus[code].http
}

// resolve follows a schema's $ref, if any, and names the component.
func (n *navixy) resolve(schema map[string]any) (map[string]any, string) {
	ref, _ := schema["$ref"].(string)
	if ref == "" {
		return schema, ""
	}
	name := strings.TrimPrefix(ref, "#/components/schemas/")
	s, _ := n.components[name].(map[string]any)
	return s, name
}

// missing lists the documented fields an answer value leaves out, within
// the objects of completeObjects (and the objects inside them).
func (n *navixy) missing(schema map[string]any, v any, path string, complete bool, out *[]string) {
	if schema == nil || v == nil {
		return
	}
	schema, name := n.resolve(schema)
	complete = complete || slices.Contains(completeObjects, name)
	for _, sub := range asList(schema["allOf"]) {
		s, _ := sub.(map[string]any)
		n.missing(s, v, path, complete, out)
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, p := range slices.Sorted(maps.Keys(props)) {
			ps, _ := props[p].(map[string]any)
			val, ok := v[p]
			if !ok {
				if complete {
					*out = append(*out, join(path, p))
				}
				continue
			}
			n.missing(ps, val, join(path, p), complete, out)
		}
	case []any:
		items, _ := schema["items"].(map[string]any)
		for _, item := range v {
			n.missing(items, item, path+"[]", complete, out)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func join(path, p string) string {
	if path == "" {
		return p
	}
	return path + "." + p
}

// okSchema is the schema of a call's success answer.
func (n *navixy) okSchema(call string) map[string]any {
	r, _ := n.paths["/"+call]["responses"].(map[string]any)["200"].(map[string]any)
	if ref, _ := r["$ref"].(string); ref != "" {
		return nil // the bare OK answer: no objects
	}
	c, _ := r["content"].(map[string]any)["application/json"].(map[string]any)
	s, _ := c["schema"].(map[string]any)
	return s
}

// settable lists the documented fields of a component a client sets: all
// but id, read-only ones, and those the description says cannot be set
// there (an employee's icon and avatar, set by the avatar calls).
func (n *navixy) settable(component string) []string {
	s, _ := n.components[component].(map[string]any)
	props, _ := s["properties"].(map[string]any)
	var out []string
	for _, p := range slices.Sorted(maps.Keys(props)) {
		ps, _ := props[p].(map[string]any)
		desc, _ := ps["description"].(string)
		if p == "id" || ps["readOnly"] == true || strings.Contains(desc, "Cannot be set here") {
			continue
		}
		out = append(out, p)
	}
	return out
}

// sortKeys are employee/list's documented sort properties, as its
// description of sort lists them.
func (n *navixy) sortKeys(t *testing.T) []string {
	t.Helper()
	body, _ := n.paths["/employee/list"]["requestBody"].(map[string]any)
	c, _ := body["content"].(map[string]any)["application/json"].(map[string]any)
	props, _ := c["schema"].(map[string]any)["properties"].(map[string]any)
	desc, _ := props["sort"].(map[string]any)["description"].(string)
	_, list, ok := strings.Cut(desc, "Sortable properties:")
	if !ok {
		t.Fatalf("employee/list's sort description names no sortable properties: %q", desc)
	}
	var keys []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(list, -1) {
		keys = append(keys, m[1])
	}
	if len(keys) < 5 {
		t.Fatalf("employee/list's sortable properties read as %v from %q", keys, desc)
	}
	return keys
}

// conformClient makes calls and holds every answer to the description.
type conformClient struct {
	t    *testing.T
	n    *navixy
	api  string
	seen map[string]bool // "call code" seen, conforming
}

// call makes a call in form f with the key hash ("" for none) and checks
// that it answers code want and conforms.
func (c *conformClient) call(f form, call, hash string, params map[string]any, want int) result {
	c.t.Helper()
	p := maps.Clone(params)
	if p == nil {
		p = map[string]any{}
	}
	var req *http.Request
	if f == formNVX {
		req = callRequest(c.t, c.api, formJSON, call, p)
		if hash != "" {
			req.Header.Set("Authorization", "NVX "+hash)
		}
	} else {
		if hash != "" {
			p["hash"] = hash
		}
		req = callRequest(c.t, c.api, f, call, p)
	}
	return c.send(f, call, req, want)
}

// upload posts an avatar upload: the key as a part, or in the header for
// formNVX; no file part if file is nil.
func (c *conformClient) upload(f form, hash string, employee any, file []byte, fileType string, want int) result {
	c.t.Helper()
	return c.uploadTo(f, "employee", hash, employee, file, fileType, want)
}

// uploadTo is upload for any owner of avatars: entity is its paths' noun.
func (c *conformClient) uploadTo(f form, entity, hash string, id any, file []byte, fileType string, want int) result {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if f != formNVX {
		mw.WriteField("hash", hash)
	}
	mw.WriteField(entity+"_id", fmt.Sprint(id))
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="face"`)
		h.Set("Content-Type", fileType)
		w, _ := mw.CreatePart(h)
		w.Write(file)
	}
	mw.Close()
	req := mustRequest(c.t, http.MethodPost, c.api+"/"+entity+"/avatar/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if f == formNVX {
		req.Header.Set("Authorization", "NVX "+hash)
	}
	return c.send(f, entity+"/avatar/upload", req, want)
}

func (c *conformClient) send(f form, call string, req *http.Request, want int) result {
	c.t.Helper()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r := send(c.t, req)
	what := fmt.Sprintf("%s %s", f, call)
	good := true
	fail := func(format string, args ...any) {
		c.t.Helper()
		good = false
		c.t.Errorf("%s: "+format, append([]any{what}, args...)...)
	}
	if r.code() != want {
		fail("answered %d %s, want code %d", r.status, r.raw, want)
		return r
	}
	wantType := "application/json"
	if call == "employee/import/download_failed" && want == 0 {
		wantType = "text/tab-separated-values" // the file itself, as the description has it
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), wantType) {
		fail("Content-Type %q, want %s", r.header.Get("Content-Type"), wantType)
	}
	wantStatus := c.n.status(call, want)
	if st, ok := excusedStatus(want); ok {
		wantStatus = st
	}
	if r.status != wantStatus {
		fail("code %d answered with HTTP %d, the description gives %d: %s", want, r.status, wantStatus, r.raw)
	}

	item := c.n.doc.Paths.Find("/" + call)
	if item == nil || item.Post == nil {
		c.t.Fatalf("%s is not in Navixy's description", call)
	}
	route := &routers.Route{Spec: c.n.doc, Path: "/" + call, PathItem: item, Method: http.MethodPost, Operation: item.Post}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.raw)), Options: opts,
	}); err != nil {
		fail("answer %s does not match the description: %v", r.raw, err)
	}
	if want == 0 {
		var answer any
		json.Unmarshal(r.raw, &answer)
		var missing []string
		c.n.missing(c.n.okSchema(call), answer, "", false, &missing)
		missing = slices.DeleteFunc(missing, func(p string) bool { return excusedField(call, p) })
		if len(missing) > 0 {
			slices.Sort(missing)
			fail("answer leaves out documented fields %v: %s", slices.Compact(missing), r.raw)
		}
		// What Roster accepted, the description accepts too (JSON bodies:
		// the only form it describes a schema for).
		if (f == formJSON || f == formNVX) && req.Header.Get("Content-Type") == "application/json" {
			req.Body = io.NopCloser(bytes.NewReader(body))
			vin := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{
				MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			if err := openapi3filter.ValidateRequest(context.Background(), vin); err != nil {
				fail("the request %s succeeded, but the description does not accept it: %v", body, err)
			}
		}
	}
	if good {
		c.seen[fmt.Sprintf("%s %d", call, want)] = true
	}
	return r
}

// sameFields checks that every field sent comes back as it was sent.
func sameFields(t *testing.T, what string, sent, got map[string]any) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: not found", what)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(sent)) {
		if k == "id" {
			continue
		}
		w, _ := json.Marshal(sent[k])
		g, ok := got[k]
		gj, _ := json.Marshal(g)
		if !ok || !bytes.Equal(canonical(t, w), canonical(t, gj)) {
			t.Errorf("%s: field %s sent as %s came back as %s", what, k, w, gj)
		}
	}
}

// canonical re-encodes JSON so that equal values compare equal.
func canonical(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

// covers checks that a sample object sets every documented settable field
// of its component, so that a field the description adds cannot go
// untested.
func (n *navixy) covers(t *testing.T, component string, sample map[string]any) {
	t.Helper()
	for _, p := range n.settable(component) {
		if _, ok := sample[p]; !ok {
			t.Errorf("the test sends no %s.%s, which the description documents", component, p)
		}
	}
}

// TestConformance runs every implemented call, its successes and the errors
// the description lists, in every form, on every stack, against Navixy's
// description.
func TestConformance(t *testing.T) {
	n := loadNavixy(t)
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b, "--max-upload-bytes", "100000")
		seen := map[string]bool{}
		for _, f := range conformForms {
			c := &conformClient{t: t, n: n, api: st.api, seen: map[string]bool{}}
			conformScenario(t, st, n, c, f)
			maps.Copy(seen, c.seen)
		}
		// Every call Roster serves answered success conformingly.
		for _, call := range servedCalls(t, st) {
			if n.paths["/"+call] == nil {
				t.Errorf("%s is served but not in Navixy's description", call)
				continue
			}
			if !seen[call+" 0"] {
				t.Errorf("%s: no conforming success seen", call)
			}
		}
	})
}

// servedCalls are the calls of Roster's own document.
func servedCalls(t *testing.T, st *stack) []string {
	t.Helper()
	var calls []string
	for path := range apiDoc(t, st.server).Paths.Map() {
		if !strings.HasPrefix(path, "/static/") {
			calls = append(calls, strings.TrimPrefix(path, "/"))
		}
	}
	slices.Sort(calls)
	return calls
}

func conformScenario(t *testing.T, st *stack, n *navixy, c *conformClient, f form) {
	m := st.newAccount(t)
	tag := string(f)

	// Sessions.
	h := c.call(f, "user/auth", "", map[string]any{"login": m.login, "password": accountPassword}, 0).body["hash"].(string)
	c.call(f, "user/auth", "", map[string]any{"login": m.login, "password": "wrong password"}, 102)
	c.call(f, "user/auth", "", map[string]any{"login": m.login}, 7)
	c.call(f, "user/auth", "", map[string]any{"login": m.login, "password": accountPassword, "dealer_id": 1}, 102)
	c.call(f, "user/get_info", h, nil, 0)
	c.call(f, "user/get_info", "short", nil, 3)
	c.call(f, "user/get_info", unknownHash, nil, 4)
	c.call(f, "user/session/renew", h, nil, 0)

	// API keys: session-only calls refuse a key with 4.
	key := c.call(f, "api/key/create", h, map[string]any{"title": "Sync " + tag}, 0).body["value"].(map[string]any)["hash"].(string)
	c.call(f, "api/key/list", h, nil, 0)
	c.call(f, "api/key/list", key, nil, 4)
	c.call(f, "api/key/create", key, map[string]any{"title": "by a key"}, 4)
	c.call(f, "api/key/create", h, map[string]any{}, 7)
	c.call(f, "api/key/delete", key, map[string]any{"key": key}, 4)
	c.call(f, "user/session/renew", key, nil, 4)
	c.call(f, "user/logout", key, nil, 4)
	c.call(f, "user/get_info", key, nil, 0) // a key works wherever a session does
	c.call(f, "api/key/delete", h, map[string]any{"key": key}, 0)
	c.call(f, "api/key/delete", h, map[string]any{"key": key}, 201)
	for i := range 20 {
		c.call(f, "api/key/create", h, map[string]any{"title": fmt.Sprint("Key ", i)}, 0)
	}
	c.call(f, "api/key/create", h, map[string]any{"title": "One too many"}, 268)

	// Departments.
	dept := map[string]any{"label": "Depot " + tag, "location": map[string]any{"lat": 59.9139, "lng": 10.7522, "address": "Oslo " + tag, "radius": 150}}
	n.covers(t, "Department", dept)
	dep := c.call(f, "department/create", h, map[string]any{"department": dept}, 0).int("id")
	c.call(f, "department/create", h, map[string]any{"department": map[string]any{"label": ""}}, 7)
	sameFields(t, tag+" department/list", dept, findID(c.call(f, "department/list", h, nil, 0), dep))
	dept = map[string]any{"id": dep, "label": "Main depot " + tag, "location": map[string]any{"lat": -33.8688, "lng": 151.2093, "address": "Sydney " + tag, "radius": 20}}
	c.call(f, "department/update", h, map[string]any{"department": dept}, 0)
	sameFields(t, tag+" updated department", dept, findID(c.call(f, "department/list", h, nil, 0), dep))
	c.call(f, "department/update", h, map[string]any{"department": map[string]any{"id": 999999, "label": "None"}}, 201)

	// Tags, with every documented field; the employee below carries two.
	tg := map[string]any{"name": "Nights " + tag, "color": "00BFFF"}
	n.covers(t, "Tag", tg)
	t1 := c.call(f, "tag/create", h, map[string]any{"tag": tg}, 0).int("id")
	t2 := c.call(f, "tag/create", h, map[string]any{"tag": map[string]any{"name": "Days " + tag, "color": "FFD700"}}, 0).int("id")
	c.call(f, "tag/create", h, map[string]any{"tag": map[string]any{"name": "", "color": "blue"}}, 7)
	sameFields(t, tag+" tag/list", tg, findID(c.call(f, "tag/list", h, nil, 0), t1))
	tg = map[string]any{"id": t1, "name": "Night shift " + tag, "color": "0000FF"}
	c.call(f, "tag/update", h, map[string]any{"tag": tg}, 0)
	sameFields(t, tag+" updated tag", tg, findID(c.call(f, "tag/list", h, map[string]any{"filter": "night shift"}, 0), t1))
	c.call(f, "tag/update", h, map[string]any{"tag": map[string]any{"id": 999999, "name": "None", "color": "000000"}}, 201)
	c.call(f, "tag/list", h, map[string]any{"filter": "ab"}, 7)
	c.call(f, "tag/avatar/assign", h, map[string]any{"tag_id": t1, "icon_id": 3}, 0)
	c.call(f, "tag/avatar/assign", h, map[string]any{"tag_id": t1, "icon_id": nil}, 0)
	c.call(f, "tag/avatar/assign", h, map[string]any{"tag_id": 999999, "icon_id": 3}, 201)
	c.call(f, "tag/avatar/assign", h, map[string]any{"tag_id": t1, "icon_id": 0}, 7)
	tagImg := pngBytes(t, 32, 32)
	c.uploadTo(f, "tag", h, t1, tagImg, "image/png", 0)
	c.uploadTo(f, "tag", h, t1, nil, "", 233)
	c.uploadTo(f, "tag", h, t1, []byte("<svg/>"), "image/png", 234)
	c.uploadTo(f, "tag", h, t1, bytes.Repeat([]byte{0}, 200000), "image/png", 271)
	c.uploadTo(f, "tag", h, 999999, tagImg, "image/png", 201)
	c.call(f, "tag/avatar/upload", h, map[string]any{"tag_id": t1}, 5) // not multipart

	// Employees, with every documented field.
	emp := map[string]any{"tracker_id": 7001, "first_name": "Ann " + tag, "middle_name": "Q", "last_name": "Lee " + tag,
		"email": "ann." + tag + "@example.com", "phone": "4915112345678", "driver_license_number": "DL-" + tag,
		"driver_license_cats": "B,C1", "driver_license_issue_date": "2020-02-29", "driver_license_valid_till": "2030-01-31",
		"hardware_key": "hk-" + tag, "department_id": dep, "personnel_number": "P-" + tag, "ssn": "123-45-" + tag,
		"location": map[string]any{"lat": 52.52, "lng": 13.405, "address": "Alexanderplatz " + tag, "radius": 75},
		"tags":     []int64{t1, t2}}
	n.covers(t, "Employee", emp)
	id := c.call(f, "employee/create", h, map[string]any{"employee": emp}, 0).int("id")
	sameFields(t, tag+" employee/read", emp, valueOf(c.call(f, "employee/read", h, map[string]any{"employee_id": id}, 0)))
	sameFields(t, tag+" employee/list", emp, findID(c.call(f, "employee/list", h, nil, 0), id))
	c.call(f, "employee/create", h, map[string]any{"employee": map[string]any{"first_name": "Bo", "tracker_id": 7001}}, 247)
	c.call(f, "employee/create", h, map[string]any{"employee": map[string]any{"first_name": "Bo", "hardware_key": "hk-" + tag}}, 247)
	c.call(f, "employee/create", h, map[string]any{"employee": map[string]any{"first_name": "Cy", "department_id": 999999}}, 201)
	c.call(f, "employee/create", h, map[string]any{"employee": map[string]any{"first_name": ""}}, 7)
	c.call(f, "employee/read", h, map[string]any{"employee_id": 999999}, 201)
	other := c.call(f, "employee/create", h, map[string]any{"employee": map[string]any{"first_name": "Bo " + tag}}, 0).int("id")

	// Sorting by every documented property, both ways, and filtering
	// through each: the employee is found by any one of its values.
	for _, k := range n.sortKeys(t) {
		for _, dir := range []string{"asc", "desc"} {
			r := c.call(f, "employee/list", h, map[string]any{"sort": []string{k + "=" + dir}, "limit": 10}, 0)
			if got := ids(listOf(r)); !slices.Contains(got, id) || !slices.Contains(got, other) {
				t.Errorf("%s employee/list sorted by %s=%s = %v, want employees %d and %d among them", tag, k, dir, got, id, other)
			}
		}
		value := map[string]any{"department_label": "Main depot " + tag, "address": "Alexanderplatz " + tag}[k]
		if v, ok := emp[k]; ok && value == nil {
			value = v
		}
		if k == "id" || k == "object_label" {
			continue // a number, and the label of a tracker Roster does not hold
		}
		r := c.call(f, "employee/list", h, map[string]any{"filter": fmt.Sprint(value)}, 0)
		if !slices.Contains(ids(listOf(r)), id) {
			t.Errorf("%s employee/list filtered by its %s %q = %s, want employee %d", tag, k, value, r.raw, id)
		}
	}
	c.call(f, "employee/list", h, map[string]any{"sort": []string{"salary=asc"}}, 7)
	emp = map[string]any{"id": id, "tracker_id": 7002, "first_name": "Anna " + tag, "middle_name": "", "last_name": "Berg",
		"email": "", "phone": "", "driver_license_number": "", "driver_license_cats": "", "driver_license_issue_date": nil,
		"driver_license_valid_till": nil, "hardware_key": nil, "department_id": nil, "personnel_number": "", "ssn": "",
		"location": map[string]any{"lat": 0.5, "lng": -0.5, "address": "", "radius": 1}, "tags": []int{}}
	r := c.call(f, "tag/search", h, map[string]any{"tag_ids": []int64{t1, t2}}, 0)
	if got := ids(r.body["result"].(map[string]any)["employee"].([]any)); !slices.Equal(got, []int64{id}) {
		t.Errorf("%s tag/search = %v, want employee %d", tag, got, id)
	}
	c.call(f, "tag/search", h, map[string]any{"tag_ids": []int64{t1}, "entity_types": []string{"employee", "vehicle"}}, 0)
	c.call(f, "tag/search", h, map[string]any{"tag_ids": []int64{}}, 7)
	c.call(f, "employee/update", h, map[string]any{"employee": emp}, 0)
	sameFields(t, tag+" updated employee", emp, valueOf(c.call(f, "employee/read", h, map[string]any{"employee_id": id}, 0)))
	c.call(f, "employee/update", h, map[string]any{"employee": map[string]any{"id": 999999, "first_name": "X"}}, 201)
	c.call(f, "employee/update", h, map[string]any{"employee": map[string]any{"id": other, "first_name": "Bo", "tracker_id": 7002}}, 247)

	// Avatars.
	c.call(f, "employee/avatar/assign", h, map[string]any{"employee_id": id, "icon_id": 3}, 0)
	c.call(f, "employee/avatar/assign", h, map[string]any{"employee_id": id, "icon_id": nil}, 0)
	c.call(f, "employee/avatar/assign", h, map[string]any{"employee_id": 999999, "icon_id": 3}, 201)
	c.call(f, "employee/avatar/assign", h, map[string]any{"employee_id": id, "icon_id": 0}, 7)
	img := pngBytes(t, 64, 48)
	c.upload(f, h, id, img, "image/png", 0)
	c.upload(f, h, id, nil, "", 233)
	c.upload(f, h, id, []byte("<svg/>"), "image/png", 234)
	c.upload(f, h, id, img, "text/html", 234)
	c.upload(f, h, id, bytes.Repeat([]byte{0}, 200000), "image/png", 271)
	c.upload(f, h, 999999, img, "image/png", 201)
	c.call(f, "employee/avatar/upload", h, map[string]any{"employee_id": id}, 5) // not multipart

	// Imports: parse, start, follow, the failed rows, the check.
	sheet := func(data []byte, want int) result {
		t.Helper()
		hash := h
		if f == formNVX {
			hash = ""
		}
		req := sheetRequest(t, st.api, hash, data, "people.csv", map[string]string{"parse_header": "true", "preview_count": "2"})
		if f == formNVX {
			req.Header.Set("Authorization", "NVX "+h)
		}
		return c.send(f, "data/spreadsheet/parse", req, want)
	}
	file := sheet([]byte("First;Email\nAnn;ann@example.com\nBob;not an address\n"), 0).body["file_id"].(string)
	clean := sheet([]byte("First,Email\nCy,cy@example.com\n"), 0).body["file_id"].(string)
	sheet(nil, 233)
	sheet([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0}, 234)
	c.call(f, "data/spreadsheet/parse", h, map[string]any{"preview_count": 2}, 5) // not multipart
	start := map[string]any{"filename": file, "headers": []string{"first_name", "email"}, "user_headers": []string{"First", "Email"}}
	proc := c.call(f, "employee/import/start", h, start, 0).int("id")
	c.call(f, "employee/import/start", h, start, 247)
	c.call(f, "employee/import/start", h, map[string]any{"filename": "import-00000000000000000000000000000000.tsv", "headers": []string{"first_name"}}, 233)
	c.call(f, "employee/import/start", h, map[string]any{"filename": file}, 7)
	cleanProc := c.call(f, "employee/import/start", h, map[string]any{"filename": clean, "headers": []string{"first_name", "email"}}, 0).int("id")
	awaitImport(t, st.api, h, proc)
	awaitImport(t, st.api, h, cleanProc)
	c.call(f, "employee/import/read", h, map[string]any{"process_id": proc}, 0)
	c.call(f, "employee/import/read", h, map[string]any{"process_id": 999999}, 201)
	c.call(f, "employee/import/list", h, nil, 0)
	c.call(f, "data/import/list", h, map[string]any{"types": []string{"employee"}}, 0)
	c.call(f, "data/import/read", h, map[string]any{"process_id": proc, "type": "employee"}, 0)
	c.call(f, "data/import/read", h, map[string]any{"process_id": proc, "type": "zone"}, 201)
	c.call(f, "employee/import/download_failed", h, map[string]any{"process_id": proc}, 0)
	c.call(f, "employee/import/download_failed", h, map[string]any{"process_id": cleanProc}, 204)
	c.call(f, "employee/import/download_failed", h, map[string]any{"process_id": 999999}, 201)
	c.call(f, "employee/batch_convert", h, map[string]any{"batch": "Ann\t\tLee\tann@example.com\t4791234567\nXi\tX\tY\tbad\t+1\n", "default_radius": 150}, 0)
	c.call(f, "employee/batch_convert", h, map[string]any{"file_id": file, "fields": []string{"first_name", "email"}}, 0)
	c.call(f, "employee/batch_convert", h, map[string]any{}, 7)

	// Security groups and sub-users, with every documented field.
	group := map[string]any{"label": "Dispatch " + tag, "privileges": map[string]any{"rights": []string{"employee_update", "tag_update"}, "store_period": "3d"}}
	n.covers(t, "SecurityGroup", group)
	g := c.call(f, "subuser/security_group/create", h, map[string]any{"group": group}, 0).int("id")
	bare := c.call(f, "subuser/security_group/create", h, map[string]any{"group": map[string]any{"label": "No rights " + tag}}, 0).int("id")
	c.call(f, "subuser/security_group/create", h, map[string]any{"group": map[string]any{"label": "Admins", "privileges": map[string]any{"rights": []string{"admin"}}}}, 7)
	c.call(f, "subuser/security_group/create", h, map[string]any{"group": map[string]any{"label": "Odd", "privileges": map[string]any{"rights": []string{"report_update"}}}}, 7)
	sameFields(t, tag+" subuser/security_group/list", group, findID(c.call(f, "subuser/security_group/list", h, nil, 0), g))
	group = map[string]any{"id": g, "label": "Dispatchers " + tag, "privileges": map[string]any{"rights": []string{"employee_update"}, "store_period": "1y"}}
	c.call(f, "subuser/security_group/update", h, map[string]any{"group": group}, 0)
	sameFields(t, tag+" updated group", group, findID(c.call(f, "subuser/security_group/list", h, nil, 0), g))
	c.call(f, "subuser/security_group/update", h, map[string]any{"group": map[string]any{"id": 999999, "label": "None"}}, 201)

	login := uniqueLogin("dispatch." + tag + ".")
	user := with(someDetails(tag), map[string]any{"login": login, "activated": true, "first_name": "Zoë", "middle_name": "Ann",
		"last_name": "Ng", "phone": "4930123456", "security_group_id": g})
	n.covers(t, "Subuser", user)
	sub := c.call(f, "subuser/register", h, map[string]any{"user": user, "password": subPassword}, 0).int("id")
	c.call(f, "subuser/register", h, map[string]any{"user": map[string]any{"login": login}, "password": subPassword}, 206)
	c.call(f, "subuser/register", h, map[string]any{"user": map[string]any{"login": "not an address"}, "password": "weak"}, 7)
	sameFields(t, tag+" subuser/list", user, findID(c.call(f, "subuser/list", h, nil, 0), sub))
	idle := c.call(f, "subuser/register", h, map[string]any{"user": map[string]any{"login": uniqueLogin("idle"), "activated": false,
		"security_group_id": bare}, "password": subPassword}, 0).int("id")
	user = with(someDetails(tag+"2"), map[string]any{"id": sub, "login": login, "activated": true, "first_name": "Zoe", "middle_name": "",
		"last_name": "Ng-Berg", "phone": "", "security_group_id": g, "legal_type": "individual"})
	c.call(f, "subuser/update", h, map[string]any{"user": user}, 0)
	sameFields(t, tag+" updated sub-user", user, findID(c.call(f, "subuser/list", h, nil, 0), sub))
	c.call(f, "subuser/update", h, map[string]any{"user": map[string]any{"id": 999999, "login": uniqueLogin("nobody")}}, 201)
	c.call(f, "subuser/update", h, map[string]any{"user": map[string]any{"id": idle, "login": login}}, 206)

	subHash := c.call(f, "user/auth", "", map[string]any{"login": login, "password": subPassword}, 0).body["hash"].(string)
	c.call(f, "user/get_info", subHash, nil, 0)
	c.call(f, "subuser/list", subHash, nil, 13)
	c.call(f, "subuser/security_group/assign", subHash, map[string]any{"subuser_ids": []int64{sub}}, 13)
	c.call(f, "api/key/list", subHash, nil, 13)
	c.call(f, "api/key/create", subHash, map[string]any{"title": "by a sub-user"}, 13)
	c.call(f, "subuser/session/create", h, map[string]any{"subuser_id": idle}, 11) // deactivated
	plain := c.call(f, "subuser/session/create", h, map[string]any{"subuser_id": sub}, 0).body["hash"].(string)
	c.call(f, "subuser/session/create", h, map[string]any{"subuser_id": 999999}, 201)
	c.call(f, "subuser/security_group/assign", h, map[string]any{"group_id": bare, "subuser_ids": []int64{sub}}, 0)
	c.call(f, "employee/delete", plain, map[string]any{"employee_id": id}, 13) // no rights now
	c.call(f, "subuser/security_group/assign", h, map[string]any{"group_id": nil, "subuser_ids": []int64{sub, idle}}, 0)
	c.call(f, "subuser/security_group/assign", h, map[string]any{"group_id": g, "subuser_ids": []int64{999999}}, 201)
	c.call(f, "subuser/security_group/assign", h, map[string]any{"group_id": g, "subuser_ids": []int64{}}, 7)
	c.call(f, "user/logout", subHash, nil, 0)
	c.call(f, "user/get_info", subHash, nil, 4)

	c.call(f, "subuser/delete", h, map[string]any{"subuser_id": sub}, 0)
	c.call(f, "subuser/delete", h, map[string]any{"subuser_id": sub}, 201)
	c.call(f, "subuser/security_group/delete", h, map[string]any{"security_group_id": g}, 0)
	c.call(f, "subuser/security_group/delete", h, map[string]any{"security_group_id": g}, 201)
	c.call(f, "employee/delete", h, map[string]any{"employee_id": id}, 0)
	c.call(f, "employee/delete", h, map[string]any{"employee_id": id}, 201)
	c.call(f, "department/delete", h, map[string]any{"department_id": dep}, 0)
	c.call(f, "department/delete", h, map[string]any{"department_id": dep}, 201)
	c.call(f, "tag/delete", h, map[string]any{"tag_id": t1}, 0)
	c.call(f, "tag/delete", h, map[string]any{"tag_id": t1}, 201)
	c.call(f, "tag/delete", h, map[string]any{"tag_ids": []int64{t2, 999999}}, 0)
	c.call(f, "tag/delete", h, map[string]any{}, 7)
	c.call(f, "user/logout", h, nil, 0)
	c.call(f, "user/get_info", h, nil, 4)
}

func listOf(r result) []any { l, _ := r.body["list"].([]any); return l }

func valueOf(r result) map[string]any { v, _ := r.body["value"].(map[string]any); return v }

// findID is the object with that id in a list answer, or nil.
func findID(r result, id int64) map[string]any {
	for _, v := range listOf(r) {
		if m, _ := v.(map[string]any); m["id"] == float64(id) {
			return m
		}
	}
	return nil
}
