package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// apiDoc fetches and loads the server's OpenAPI document, checking that it
// is a valid OpenAPI 3.1 document.
func apiDoc(t *testing.T, s *server) *openapi3.T {
	t.Helper()
	r := send(t, mustRequest(t, http.MethodGet, s.base+"/openapi.json", nil))
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", r.status, r.header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.raw)
	if err != nil {
		t.Fatalf("loading /openapi.json: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// specClient makes calls and checks every answer against the document:
// its HTTP status must be documented for the call, and its body must match
// that status's schema (for errors: the codes the call lists under it).
type specClient struct {
	t    *testing.T
	doc  *openapi3.T
	api  string
	seen map[string]bool // "call status" seen and valid
}

func (c *specClient) send(call string, req *http.Request) result {
	c.t.Helper()
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	r := send(c.t, req)
	req.Body = io.NopCloser(bytes.NewReader(body))
	item := c.doc.Paths.Find("/" + call)
	if item == nil {
		c.t.Fatalf("%s is not in the OpenAPI document", call)
	}
	op := item.GetOperation(req.Method)
	if op == nil {
		c.t.Fatalf("%s %s is not in the OpenAPI document", req.Method, call)
	}
	route := &routers.Route{Spec: c.doc, Path: "/" + call, PathItem: item, Method: req.Method, Operation: op}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.raw)),
		Options:                opts,
	})
	if err != nil {
		c.t.Errorf("%s %s answered %d %s, which the OpenAPI document does not allow: %v", req.Method, call, r.status, r.raw, err)
	}
	// A request the server accepted must be one the document accepts.
	// Form bodies are left out: kin-openapi cannot decode an object
	// property sent as JSON text in a form (the document says so with
	// encoding contentType application/json), nor the text null.
	if r.code() == 0 && req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: &openapi3filter.Options{
			MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if verr := openapi3filter.ValidateRequest(context.Background(), in); verr != nil {
			c.t.Errorf("%s %s (%s) succeeded, but the OpenAPI document does not accept the request: %v",
				req.Method, call, req.Header.Get("Content-Type"), verr)
			err = verr
		}
	}
	if err == nil {
		c.seen[fmt.Sprintf("%s %d", call, r.code())] = true
	}
	return r
}

// call makes a call in form f, as do does.
func (c *specClient) call(f form, call string, params map[string]any) result {
	c.t.Helper()
	return c.send(call, callRequest(c.t, c.api, f, call, params))
}

// upload posts an avatar upload with the given file part (none if nil).
func (c *specClient) upload(hash string, fields map[string]string, file []byte, fileType string) result {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("hash", hash)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="face.png"`)
		h.Set("Content-Type", fileType)
		w, _ := mw.CreatePart(h)
		w.Write(file)
	}
	mw.Close()
	// The owner is the one whose id the fields name.
	call := "employee/avatar/upload"
	if _, ok := fields["tag_id"]; ok {
		call = "tag/avatar/upload"
	}
	req := mustRequest(c.t, http.MethodPost, c.api+"/"+call, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.send(call, req)
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 160, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenAPI: the document served at /openapi.json is valid OpenAPI 3.1,
// names every call, and real answers — successes and the errors each call
// lists — match it.
func TestOpenAPI(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir(), "--max-upload-bytes", "100000"},
		map[string]string{"ROSTER_ADMIN_PASSWORD": "admin-password"})
	doc := apiDoc(t, s)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/v2" {
		t.Errorf("servers = %v, want the base path /v2", doc.Servers)
	}
	c := &specClient{t: t, doc: doc, api: s.api, seen: map[string]bool{}}
	a := c.call(formJSON, "user/auth", map[string]any{"login": "admin", "password": "admin-password"})
	hash, _ := a.body["hash"].(string)
	c.call(formURL, "user/auth", map[string]any{"login": "admin", "password": "wrong"})
	c.call(formGET, "user/auth", map[string]any{})
	c.call(formJSON, "user/auth", map[string]any{"login": "admin", "password": "admin-password", "dealer_id": 1})
	c.call(formJSON, "user/get_info", map[string]any{"hash": "short"})
	c.call(formJSON, "user/get_info", map[string]any{"hash": strings.Repeat("0", 32)})
	c.call(formGET, "user/get_info", map[string]any{"hash": hash})
	c.call(formMultipart, "user/session/renew", map[string]any{"hash": hash})
	req := mustRequest(t, http.MethodPost, s.api+"/employee/list", strings.NewReader(`{"hash":`))
	req.Header.Set("Content-Type", "application/json")
	c.send("employee/list", req)

	// API keys.
	k := c.call(formJSON, "api/key/create", map[string]any{"hash": hash, "title": "spec"})
	key := k.body["value"].(map[string]any)["hash"].(string)
	c.call(formGET, "api/key/list", map[string]any{"hash": hash})
	c.call(formGET, "api/key/list", map[string]any{"hash": key})
	c.call(formJSON, "api/key/create", map[string]any{"hash": key, "title": "by a key"})
	c.call(formJSON, "api/key/create", map[string]any{"hash": hash, "title": strings.Repeat("x", 300)})
	c.call(formJSON, "api/key/create", map[string]any{"hash": hash})
	for range 19 {
		c.call(formJSON, "api/key/create", map[string]any{"hash": hash, "title": "spec"})
	}
	c.call(formJSON, "api/key/create", map[string]any{"hash": hash, "title": "one too many"})
	c.call(formJSON, "user/session/renew", map[string]any{"hash": key})
	c.call(formJSON, "user/logout", map[string]any{"hash": key})
	c.call(formURL, "api/key/delete", map[string]any{"hash": hash, "key": key})
	c.call(formURL, "api/key/delete", map[string]any{"hash": hash, "key": key})

	// Tags (1 and 2, which the employee below carries).
	tag := c.call(formJSON, "tag/create", map[string]any{"hash": hash, "tag": map[string]any{"name": "Nights", "color": "#00BFFF"}}).int("id")
	c.call(formGET, "tag/create", map[string]any{"hash": hash, "tag": map[string]any{"name": "Days", "color": "FFD700"}})
	c.call(formJSON, "tag/create", map[string]any{"hash": hash, "tag": map[string]any{"name": "", "color": "blue"}})
	c.call(formURL, "tag/update", map[string]any{"hash": hash, "tag": map[string]any{"id": tag, "name": "Night shift", "color": "0000FF"}})
	c.call(formJSON, "tag/update", map[string]any{"hash": hash, "tag": map[string]any{"id": 99999, "name": "None", "color": "000000"}})
	c.call(formGET, "tag/list", map[string]any{"hash": hash, "filter": "night"})
	c.call(formJSON, "tag/list", map[string]any{"hash": hash, "filter": "ab"})
	c.call(formGET, "tag/avatar/assign", map[string]any{"hash": hash, "tag_id": tag, "icon_id": 3})
	c.call(formJSON, "tag/avatar/assign", map[string]any{"hash": hash, "tag_id": 99999, "icon_id": 3})
	tagUp := c.upload(hash, map[string]string{"tag_id": fmt.Sprint(tag)}, pngBytes(t, 32, 32), "image/png")
	c.upload(hash, map[string]string{"tag_id": "99999"}, pngBytes(t, 32, 32), "image/png")
	c.upload(hash, map[string]string{"tag_id": fmt.Sprint(tag)}, nil, "")
	if name, _ := tagUp.body["value"].(string); name != "" {
		item := doc.Paths.Find("/static/tag/avatars/{name}")
		if item == nil || item.Get == nil {
			t.Errorf("the static tag avatar route is not in the OpenAPI document")
		} else if r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/tag/avatars/"+name, nil)); r.status != 200 || item.Get.Responses.Status(r.status) == nil {
			t.Errorf("static tag avatar answered %d, want 200, which the document lists", r.status)
		}
	}

	// Departments and employees.
	dep := c.call(formURL, "department/create", map[string]any{"hash": hash,
		"department": map[string]any{"label": "Depot", "location": map[string]any{"lat": 52.5, "lng": 13.4, "address": "Berlin"}}}).int("id")
	c.call(formJSON, "department/create", map[string]any{"hash": hash, "department": map[string]any{}})
	c.call(formGET, "department/list", map[string]any{"hash": hash})
	c.call(formJSON, "department/update", map[string]any{"hash": hash, "department": map[string]any{"id": dep, "label": "Main depot", "location": nil}})
	c.call(formJSON, "department/update", map[string]any{"hash": hash, "department": map[string]any{"id": 99999, "label": "None"}})
	emp := c.call(formJSON, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{
		"first_name": "Ann", "last_name": "Lee", "tracker_id": 7, "department_id": dep, "tags": []int{1, 2},
		"driver_license_valid_till": "2030-01-31", "hardware_key": "k1", "driver_license_issue_date": "2020-01-31",
		"ssn": "123", "location": map[string]any{"lat": 1, "lng": 2, "address": "x", "radius": 30}}}).int("id")
	c.call(formURL, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "Bo", "tracker_id": 7}})
	c.call(formJSON, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "Bo", "hardware_key": "k1"}})
	c.call(formJSON, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "Bo", "last_name": nil}})
	c.call(formGET, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": "Cy", "department_id": 99999}})
	c.call(formMultipart, "employee/create", map[string]any{"hash": hash, "employee": map[string]any{"first_name": ""}})
	c.call(formGET, "employee/list", map[string]any{"hash": hash, "sort": []string{"last_name=asc"}, "filter": "lee", "limit": 10})
	c.call(formGET, "employee/list", map[string]any{"hash": hash, "limit": -1})
	c.call(formJSON, "employee/read", map[string]any{"hash": hash, "employee_id": emp})
	c.call(formJSON, "employee/read", map[string]any{"hash": hash, "employee_id": 99999})
	c.call(formJSON, "employee/update", map[string]any{"hash": hash, "employee": map[string]any{"id": emp, "first_name": "Ann", "location": nil}})
	c.call(formJSON, "employee/update", map[string]any{"hash": hash, "employee": map[string]any{"id": 99999, "first_name": "X"}})
	c.call(formGET, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": emp, "icon_id": 3})
	c.call(formURL, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": emp, "icon_id": nil})
	c.call(formJSON, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": 99999, "icon_id": 3})
	c.call(formJSON, "employee/avatar/assign", map[string]any{"hash": hash, "employee_id": emp, "icon_id": 0})

	// Uploads.
	img := pngBytes(t, 64, 48)
	id := fmt.Sprint(emp)
	up := c.upload(hash, map[string]string{"employee_id": id}, img, "image/png")
	c.upload(hash, map[string]string{"employee_id": id}, nil, "")
	c.upload(hash, map[string]string{"employee_id": id}, []byte("<svg/>"), "image/png")
	c.upload(hash, map[string]string{"employee_id": id}, img, "text/html")

	// Imports.
	parse := c.send("data/spreadsheet/parse", sheetRequest(t, s.api, hash, []byte("First,Email\nAnn,ann@example.com\nBob,bad\n"), "p.csv",
		map[string]string{"parse_header": "true"}))
	c.send("data/spreadsheet/parse", sheetRequest(t, s.api, hash, nil, "", nil))
	c.send("data/spreadsheet/parse", sheetRequest(t, s.api, hash, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, "x.xls", nil))
	sheetFile, _ := parse.body["file_id"].(string)
	proc := c.call(formJSON, "employee/import/start", map[string]any{"hash": hash, "filename": sheetFile, "headers": []string{"first_name", "email"}}).int("id")
	c.call(formJSON, "employee/import/start", map[string]any{"hash": hash, "filename": sheetFile, "headers": []string{"first_name", "email"}})
	c.call(formJSON, "employee/import/start", map[string]any{"hash": hash, "filename": "import-00000000000000000000000000000000.tsv", "headers": []string{"first_name"}})
	awaitImport(t, s.api, hash, proc)
	c.call(formJSON, "employee/import/read", map[string]any{"hash": hash, "process_id": proc})
	c.call(formJSON, "employee/import/read", map[string]any{"hash": hash, "process_id": 99999})
	c.call(formGET, "employee/import/list", map[string]any{"hash": hash})
	c.call(formJSON, "data/import/list", map[string]any{"hash": hash, "types": []string{"employee"}})
	c.call(formJSON, "data/import/read", map[string]any{"hash": hash, "process_id": proc, "type": "employee"})
	c.call(formJSON, "employee/import/download_failed", map[string]any{"hash": hash, "process_id": proc})
	c.call(formJSON, "employee/batch_convert", map[string]any{"hash": hash, "batch": "Ann\t\tLee\n"})
	c.call(formJSON, "employee/batch_convert", map[string]any{"hash": hash})
	c.upload(hash, map[string]string{"employee_id": id}, bytes.Repeat([]byte{0}, 200000), "image/png")
	c.upload(hash, map[string]string{"employee_id": "99999"}, img, "image/png")
	c.upload(hash, map[string]string{"employee_id": id, "redirect_target": "https://example.com/done"}, img, "image/png")
	c.upload(hash, map[string]string{"employee_id": id, "redirect_target": "javascript:alert(1)"}, img, "image/png")
	c.call(formGET, "employee/avatar/upload", map[string]any{"hash": hash, "employee_id": emp})
	if name, _ := up.body["value"].(string); name != "" {
		item := doc.Paths.Find("/static/employee/avatars/{name}")
		if item == nil || item.Get == nil {
			t.Errorf("the static avatar route is not in the OpenAPI document")
		} else if r := send(t, mustRequest(t, http.MethodGet, s.api+"/static/employee/avatars/"+name+"?size=64", nil)); item.Get.Responses.Status(r.status) == nil {
			t.Errorf("static avatar answered %d, which the document does not list", r.status)
		}
	}

	// Sub-users and groups.
	g := c.call(formJSON, "subuser/security_group/create", map[string]any{"hash": hash,
		"group": map[string]any{"label": "Dispatch", "privileges": map[string]any{"rights": []string{"employee_update"}, "store_period": "2h"}}}).int("id")
	c.call(formURL, "subuser/security_group/create", map[string]any{"hash": hash, "group": map[string]any{"label": "Guests"}})
	c.call(formJSON, "subuser/security_group/create", map[string]any{"hash": hash,
		"group": map[string]any{"label": "Admins", "privileges": map[string]any{"rights": []string{"admin"}}}})
	c.call(formGET, "subuser/security_group/list", map[string]any{"hash": hash})
	c.call(formURL, "subuser/security_group/update", map[string]any{"hash": hash,
		"group": map[string]any{"id": g, "label": "Dispatchers", "privileges": map[string]any{"rights": []string{}}}})
	c.call(formURL, "subuser/security_group/update", map[string]any{"hash": hash,
		"group": map[string]any{"id": 99999, "label": "None", "privileges": map[string]any{"rights": []string{}}}})
	sub := c.call(formJSON, "subuser/register", map[string]any{"hash": hash, "password": subPassword,
		"user": map[string]any{"login": "dispatcher@example.com", "first_name": "Zoë", "security_group_id": g, "legal_type": "legal_entity",
			"legal_name": "Zoë AS", "state_reg_num": "123456789", "post_country": "Norge", "phone": "4791234567"}}).int("id")
	c.call(formJSON, "subuser/register", map[string]any{"hash": hash, "password": subPassword,
		"user": map[string]any{"login": "dispatcher@example.com"}})
	c.call(formJSON, "subuser/register", map[string]any{"hash": hash, "password": "short", "user": map[string]any{"login": "x y"}})
	c.call(formGET, "subuser/list", map[string]any{"hash": hash})
	c.call(formJSON, "subuser/update", map[string]any{"hash": hash, "user": map[string]any{"id": sub, "login": "dispatcher@example.com", "last_name": "Ng", "security_group_id": g}})
	c.call(formJSON, "subuser/update", map[string]any{"hash": hash, "user": map[string]any{"id": 99999, "login": "nobody@example.com"}})
	c.call(formJSON, "subuser/security_group/assign", map[string]any{"hash": hash, "group_id": g, "subuser_ids": []int64{sub}})
	c.call(formJSON, "subuser/security_group/assign", map[string]any{"hash": hash, "group_id": nil, "subuser_ids": []int64{sub}})
	c.call(formGET, "subuser/security_group/assign", map[string]any{"hash": hash, "subuser_ids": []int64{99999}})
	c.call(formJSON, "subuser/security_group/assign", map[string]any{"hash": hash, "subuser_ids": []int64{}})
	c.call(formJSON, "subuser/session/create", map[string]any{"hash": hash, "subuser_id": sub})
	c.call(formGET, "subuser/session/create", map[string]any{"hash": hash, "subuser_id": 99999})
	c.call(formJSON, "subuser/session/create", map[string]any{"hash": hash})
	idle := c.call(formJSON, "subuser/register", map[string]any{"hash": hash, "password": subPassword,
		"user": map[string]any{"login": "idle@example.com", "activated": false}}).int("id")
	c.call(formJSON, "subuser/session/create", map[string]any{"hash": hash, "subuser_id": idle})
	subHash := c.call(formJSON, "user/auth", map[string]any{"login": "dispatcher@example.com", "password": subPassword}).body["hash"].(string)
	c.call(formJSON, "user/get_info", map[string]any{"hash": subHash})
	c.call(formJSON, "subuser/list", map[string]any{"hash": subHash})
	c.call(formJSON, "subuser/session/create", map[string]any{"hash": subHash, "subuser_id": sub})
	c.call(formJSON, "subuser/security_group/assign", map[string]any{"hash": subHash, "subuser_ids": []int64{sub}})
	c.call(formJSON, "api/key/list", map[string]any{"hash": subHash})
	c.call(formJSON, "employee/delete", map[string]any{"hash": subHash, "employee_id": emp})
	c.call(formJSON, "user/logout", map[string]any{"hash": subHash})
	c.call(formJSON, "subuser/delete", map[string]any{"hash": hash, "subuser_id": sub})
	c.call(formJSON, "subuser/delete", map[string]any{"hash": hash, "subuser_id": sub})
	c.call(formJSON, "subuser/security_group/delete", map[string]any{"hash": hash, "security_group_id": g})
	c.call(formJSON, "subuser/security_group/delete", map[string]any{"hash": hash, "security_group_id": g})

	c.call(formGET, "tag/search", map[string]any{"hash": hash, "tag_ids": []int64{1, 2}})
	c.call(formJSON, "tag/search", map[string]any{"hash": hash, "tag_ids": []int64{1}, "entity_types": []string{"employee", "zone"}})
	c.call(formJSON, "tag/search", map[string]any{"hash": hash, "tag_ids": []int64{}})
	c.call(formJSON, "tag/delete", map[string]any{"hash": hash, "tag_id": 2})
	c.call(formJSON, "tag/delete", map[string]any{"hash": hash, "tag_id": 2})
	c.call(formURL, "tag/delete", map[string]any{"hash": hash, "tag_ids": []int64{1, 99999}})
	c.call(formJSON, "tag/delete", map[string]any{"hash": hash})

	c.call(formJSON, "employee/delete", map[string]any{"hash": hash, "employee_id": emp})
	c.call(formJSON, "employee/delete", map[string]any{"hash": hash, "employee_id": emp})
	c.call(formJSON, "department/delete", map[string]any{"hash": hash, "department_id": dep})
	c.call(formJSON, "department/delete", map[string]any{"hash": hash, "department_id": dep})
	c.call(formJSON, "user/logout", map[string]any{"hash": hash})

	// Every call answered with success at least once, and the errors
	// provoked above were each seen and allowed.
	for path := range doc.Paths.Map() {
		call := strings.TrimPrefix(path, "/")
		if strings.HasPrefix(call, "static/") {
			continue
		}
		if !c.seen[call+" 0"] {
			t.Errorf("%s: no valid success seen", call)
		}
	}
	for _, want := range []string{"user/auth 102", "user/auth 7", "user/get_info 3", "user/get_info 4", "employee/list 5",
		"api/key/create 4", "api/key/list 4", "user/session/renew 4", "user/logout 4", "api/key/create 7", "api/key/create 268", "api/key/delete 201", "tag/create 7", "tag/update 201", "tag/avatar/assign 201", "tag/avatar/upload 201", "tag/avatar/upload 233", "tag/list 7", "tag/search 7", "tag/delete 201", "tag/delete 7", "department/create 7",
		"department/update 201", "employee/create 247", "employee/create 201", "employee/create 7", "employee/list 7", "employee/read 201",
		"employee/avatar/assign 201", "employee/avatar/upload 233", "employee/avatar/upload 234",
		"employee/avatar/upload 271", "employee/avatar/upload 201", "employee/avatar/upload 5",
		"data/spreadsheet/parse 233", "data/spreadsheet/parse 234", "employee/import/start 247", "employee/import/start 233",
		"employee/import/read 201", "employee/batch_convert 7",
		"subuser/security_group/create 7", "subuser/register 206", "subuser/list 13", "subuser/update 201",
		"api/key/list 13", "employee/delete 13", "subuser/delete 201", "subuser/security_group/delete 201",
		"subuser/security_group/assign 7", "subuser/security_group/assign 13", "subuser/security_group/assign 201",
		"subuser/session/create 7", "subuser/session/create 11", "subuser/session/create 13", "subuser/session/create 201"} {
		if !c.seen[want] {
			t.Errorf("%s: not seen, or not allowed by the document", want)
		}
	}
}

// TestOpenAPIBasePath: the document's server URL is the configured base
// path; the document itself stays at /openapi.json.
func TestOpenAPIBasePath(t *testing.T) {
	s := startServer(t, []string{"--data", t.TempDir(), "--base-path", "/api/navixy"}, nil)
	doc := apiDoc(t, s)
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/navixy" {
		t.Errorf("servers = %v, want /api/navixy", doc.Servers)
	}
}

// TestOpenAPISessionOnly: the calls the document marks x-session-only are
// exactly those SPEC §2 makes session-only, and they, and only they,
// refuse an API key with 4.
func TestOpenAPISessionOnly(t *testing.T) {
	s, hash := keyServer(t, backends()[0])
	key, _ := createKey(t, s.api, hash, "probe")
	doc := apiDoc(t, s)
	var marked []string
	for path, item := range doc.Paths.Map() {
		call := strings.TrimPrefix(path, "/")
		if strings.HasPrefix(call, "static/") {
			continue
		}
		only := item.Post.Extensions["x-session-only"] == true
		if get := item.Get.Extensions["x-session-only"] == true; get != only {
			t.Errorf("%s: x-session-only is %v on POST and %v on GET", call, only, get)
		}
		if only {
			marked = append(marked, call)
		}
		r := do(t, s.api, formJSON, call, map[string]any{"hash": key})
		switch {
		case only && r.code() != 4:
			t.Errorf("%s with an API key = %s, want 4: the document marks it session-only", call, r.raw)
		case !only && r.code() == 4:
			t.Errorf("%s with an API key = %s, but the document does not mark it session-only", call, r.raw)
		}
	}
	slices.Sort(marked)
	want := []string{"api/key/create", "api/key/delete", "api/key/list", "user/logout", "user/session/renew"}
	if !slices.Equal(marked, want) {
		t.Errorf("x-session-only calls = %v, want %v", marked, want)
	}
	// The key was refused, not ended.
	ok(t, s.api, "user/get_info", map[string]any{"hash": key})
}
