package fire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"roster/internal/proctest"
)

// The abuse suite: hostile input against a real process. Every case gets
// its documented answer within a time bound and a memory bound, and
// changes nothing.

// repeat is an endless reader of one byte: a body of any size without
// allocating it.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

const gib = 1 << 30

// exchange writes req on a fresh connection while reading the answer, so a
// server that answers before reading the whole body is seen answering. It
// gives the status, the body, and how many body bytes the server took
// before it answered and closed.
func exchange(ctx context.Context, base string, req *http.Request, timeout time.Duration) (*http.Response, []byte, error) {
	u, _ := url.Parse(base)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		req.Write(conn) // fails once the server stops reading: expected
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		conn.Close()
		<-wrote
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	conn.Close()
	<-wrote
	return resp, body, err
}

// abuseCase is one hostile request and what it must get.
type abuseCase struct {
	name   string
	req    func() *http.Request
	status []int // acceptable HTTP statuses
	code   []int // acceptable Navixy codes; nil for answers that are no envelope
	within time.Duration
	// forbidden are strings the answer must not contain.
	forbidden []string
}

func newReq(method, u, contentType string, body io.Reader, length int64) *http.Request {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		panic(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if length >= 0 {
		req.ContentLength = length
	}
	req.Close = true
	return req
}

// multipartBody is a multipart body: fields, then an optional file part
// whose content is file (any reader), streamed.
func multipartBody(fields [][2]string, fileHeader textproto.MIMEHeader, file io.Reader) (io.Reader, string) {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	if fileHeader == nil {
		mw.Close()
		return &head, mw.FormDataContentType()
	}
	mw.CreatePart(fileHeader)
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	return io.MultiReader(&head, file, strings.NewReader(tail)), mw.FormDataContentType()
}

func fileHeader(contentType string, extra ...string) textproto.MIMEHeader {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="photo"`)
	h.Set("Content-Type", contentType)
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// employeeStringFields are every string field of an employee.
var employeeStringFields = []string{"first_name", "middle_name", "last_name", "email", "phone",
	"driver_license_number", "driver_license_cats", "hardware_key", "personnel_number"}

// abuseCases builds the corpus for a server at base, signed in with hash,
// with employee id existing and avatar its stored avatar name.
func abuseCases(t *testing.T, api, base, hash string, id int64, avatarName string) []abuseCase {
	u := func(call string) string { return api + "/" + call }
	q := func(call string, v url.Values) string { v.Set("hash", hash); return u(call) + "?" + v.Encode() }
	jsonReq := func(call, body string) func() *http.Request {
		return func() *http.Request {
			return newReq(http.MethodPost, u(call), "application/json", strings.NewReader(body), int64(len(body)))
		}
	}
	formReq := func(call, body string) func() *http.Request {
		return func() *http.Request {
			return newReq(http.MethodPost, u(call), "application/x-www-form-urlencoded", strings.NewReader(body), int64(len(body)))
		}
	}
	get := func(u string) func() *http.Request {
		return func() *http.Request { return newReq(http.MethodGet, u, "", nil, 0) }
	}
	uploadWith := func(fields [][2]string, h textproto.MIMEHeader, file io.Reader, size int64) func() *http.Request {
		return func() *http.Request {
			fs := append([][2]string{{"hash", hash}, {"employee_id", strconv.FormatInt(id, 10)}}, fields...)
			body, ct := multipartBody(fs, h, file)
			length := int64(-1)
			if size < 0 {
				b, _ := io.ReadAll(body)
				body, length = bytes.NewReader(b), int64(len(b))
			} else {
				// Count the framing once to send an honest Content-Length.
				frame, _ := multipartBody(fs, h, strings.NewReader(""))
				n, _ := io.Copy(io.Discard, frame)
				length = n + size
			}
			return newReq(http.MethodPost, u("employee/avatar/upload"), ct, body, length)
		}
	}
	bad := []int{http.StatusBadRequest}
	const quick = 10 * time.Second

	var cases []abuseCase
	// The image corpus: every file the pipeline must refuse.
	for _, name := range []string{"truncated.jpg", "page.html", "image.svg", "huge.png", "huge.gif", "huge.jpg", "frames600.gif", "budget.gif"} {
		data := corpus(t, name)
		cases = append(cases, abuseCase{name: "corpus " + name,
			req:    uploadWith(nil, fileHeader("image/png"), bytes.NewReader(data), -1),
			status: bad, code: []int{234}, within: quick})
	}
	png := corpus(t, "alpha.png")
	cases = append(cases,
		abuseCase{name: "a PNG declared as SVG", req: uploadWith(nil, fileHeader("image/svg+xml"), bytes.NewReader(png), -1),
			status: bad, code: []int{234}, within: quick},
		abuseCase{name: "upload without a file part", req: uploadWith(nil, nil, nil, -1),
			status: bad, code: []int{233}, within: quick},
		abuseCase{name: "upload by GET", req: get(q("employee/avatar/upload", url.Values{"employee_id": {"1"}})),
			status: bad, code: []int{5}, within: quick},
		abuseCase{name: "upload as a form", req: formReq("employee/avatar/upload", "hash="+hash+"&employee_id=1&file=xyz"),
			status: bad, code: []int{5}, within: quick},
	)

	// JSON.
	cases = append(cases,
		abuseCase{name: "malformed JSON", req: jsonReq("employee/create", `{"hash":"`+hash+`","employee":{"first_name":`),
			status: bad, code: []int{5}, within: quick},
		abuseCase{name: "JSON array root", req: jsonReq("employee/create", `[{"hash":"`+hash+`"}]`),
			status: bad, code: []int{5}, within: quick},
		abuseCase{name: "JSON nested 100000 deep", req: jsonReq("employee/create", `{"hash":"`+hash+`","employee":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`),
			status: bad, code: []int{5}, within: quick},
		abuseCase{name: "JSON of 2 MiB", req: jsonReq("employee/create", `{"hash":"`+hash+`","pad":"`+strings.Repeat("x", 2<<20)+`"}`),
			status: []int{http.StatusPreconditionFailed}, code: []int{9}, within: quick},
		abuseCase{name: "JSON body of 1 GiB", req: func() *http.Request {
			body := io.MultiReader(strings.NewReader(`{"hash":"`+hash+`","pad":"`), io.LimitReader(repeat('x'), gib))
			return newReq(http.MethodPost, u("employee/create"), "application/json", body, gib+int64(len(hash))+17)
		}, status: []int{http.StatusPreconditionFailed}, code: []int{9}, within: 20 * time.Second},
		abuseCase{name: "JSON with an employee object of 10000 members", req: func() func() *http.Request {
			var b strings.Builder
			b.WriteString(`{"hash":"` + hash + `","employee":{"first_name":"","x0":0`)
			for i := 1; i < 10000; i++ {
				fmt.Fprintf(&b, `,"x%d":%d`, i, i)
			}
			b.WriteString(`}}`)
			return jsonReq("employee/create", b.String())
		}(), status: bad, code: []int{7}, within: quick},
	)

	// Forms.
	manyFields := func(n int) string {
		var b strings.Builder
		b.WriteString("hash=" + hash)
		for i := range n {
			fmt.Fprintf(&b, "&f%d=%d", i, i)
		}
		return b.String()
	}
	cases = append(cases,
		abuseCase{name: "form of 10000 fields", req: formReq("employee/create", manyFields(10000)),
			status: bad, code: []int{5, 7}, within: quick},
		abuseCase{name: "query of 3000 parameters", req: get(u("employee/create") + "?" + manyFields(3000)),
			status: bad, code: []int{7}, within: quick},
		// A longer query is over the header limit (64 KiB) before any API
		// code sees it.
		abuseCase{name: "query of 10000 parameters", req: get(u("employee/create") + "?" + manyFields(10000)),
			status: []int{http.StatusRequestHeaderFieldsTooLarge}, within: quick},
		abuseCase{name: "form body of 1 GiB", req: func() *http.Request {
			body := io.MultiReader(strings.NewReader("hash="+hash+"&pad="), io.LimitReader(repeat('x'), gib))
			return newReq(http.MethodPost, u("employee/create"), "application/x-www-form-urlencoded", body, gib+int64(len(hash))+10)
		}, status: []int{http.StatusPreconditionFailed}, code: []int{9}, within: 20 * time.Second},
		abuseCase{name: "unknown content type", req: func() *http.Request {
			return newReq(http.MethodPost, u("employee/list"), "text/xml", strings.NewReader("<a/>"), 4)
		}, status: bad, code: []int{5}, within: quick},
		abuseCase{name: "broken content type", req: func() *http.Request {
			return newReq(http.MethodPost, u("employee/list"), "multipart/form-data; boundary=\"", strings.NewReader("x"), 1)
		}, status: bad, code: []int{5}, within: quick},
	)

	// Multipart.
	manyParts := func(n int) [][2]string {
		f := make([][2]string, n)
		for i := range f {
			f[i] = [2]string{"p" + strconv.Itoa(i), "v"}
		}
		return f
	}
	cases = append(cases,
		abuseCase{name: "multipart of 5000 parts to a call", req: func() *http.Request {
			body, ct := multipartBody(append([][2]string{{"hash", hash}}, manyParts(5000)...), nil, nil)
			b, _ := io.ReadAll(body)
			return newReq(http.MethodPost, u("employee/list"), ct, bytes.NewReader(b), int64(len(b)))
		}, status: bad, code: []int{5}, within: quick},
		abuseCase{name: "upload of 5000 parts", req: uploadWith(manyParts(5000), fileHeader("image/png"), bytes.NewReader(png), -1),
			status: bad, code: []int{5}, within: quick},
		abuseCase{name: "upload of 1 GiB", req: uploadWith(nil, fileHeader("image/png"), io.LimitReader(repeat(0), gib), gib),
			status: []int{http.StatusRequestEntityTooLarge}, code: []int{271}, within: 30 * time.Second},
		abuseCase{name: "upload field of 1 GiB", req: func() *http.Request {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="employee_id"`)
			return uploadWith(nil, h, io.LimitReader(repeat('1'), gib), gib)()
		}, status: []int{http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge}, code: []int{9, 271}, within: 30 * time.Second},
		abuseCase{name: "part header of 12 MB", req: uploadWith(nil, fileHeader("image/png", "X-Junk", strings.Repeat("j", 12<<20)), bytes.NewReader(png), -1),
			status: bad, code: []int{5}, within: 30 * time.Second},
		abuseCase{name: "part header of 2 MB to a call", req: func() *http.Request {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="filter"`)
			h.Set("X-Junk", strings.Repeat("j", 2<<20))
			body, ct := multipartBody([][2]string{{"hash", hash}}, h, strings.NewReader("x"))
			b, _ := io.ReadAll(body)
			return newReq(http.MethodPost, u("employee/list"), ct, bytes.NewReader(b), int64(len(b)))
		}, status: []int{http.StatusPreconditionFailed, http.StatusBadRequest}, code: []int{5, 9}, within: quick},
		abuseCase{name: "multipart without a closing boundary", req: func() *http.Request {
			body, ct := multipartBody([][2]string{{"hash", hash}}, nil, nil)
			b, _ := io.ReadAll(body)
			b = b[:len(b)-10]
			return newReq(http.MethodPost, u("employee/list"), ct, bytes.NewReader(b), int64(len(b)))
		}, status: bad, code: []int{5}, within: quick},
		abuseCase{name: "request header of 1 MB", req: func() *http.Request {
			r := newReq(http.MethodGet, q("employee/list", url.Values{}), "", nil, 0)
			r.Header.Set("X-Junk", strings.Repeat("j", 1<<20))
			return r
		}, status: []int{http.StatusRequestHeaderFieldsTooLarge}, within: quick},
	)

	// Invalid UTF-8 in every string field, in JSON and as form text.
	const invalid = "ok\xff\xfe\xc0\x80"
	for _, f := range employeeStringFields {
		e := map[string]any{"id": id, "first_name": "Ann", f: invalid}
		if f == "first_name" {
			e["first_name"] = invalid
		}
		raw := strings.ReplaceAll(mustJSON(e), `"ok\ufffd\ufffd\ufffd\ufffd"`, `"`+invalid+`"`)
		cases = append(cases,
			abuseCase{name: "invalid UTF-8 in employee." + f + " (JSON)", req: jsonReq("employee/update", `{"hash":"`+hash+`","employee":`+raw+`}`),
				status: bad, code: []int{5, 7}, within: quick},
			abuseCase{name: "invalid UTF-8 in employee." + f + " (form)", req: formReq("employee/update", "hash="+hash+"&employee="+url.QueryEscape(raw)),
				status: bad, code: []int{5, 7}, within: quick})
	}
	for _, c := range []struct{ call, param, object string }{
		{"employee/list", "filter", ""},
		{"department/create", "label", "department"},
		{"subuser/security_group/create", "label", "group"},
		{"subuser/register", "login", "user"},
		{"subuser/register", "first_name", "user"},
		{"employee/update", "address", "location"},
	} {
		var body string
		switch {
		case c.object == "":
			body = "hash=" + hash + "&" + c.param + "=" + url.QueryEscape(invalid)
		case c.object == "location":
			body = "hash=" + hash + "&employee=" + url.QueryEscape(`{"id":`+strconv.FormatInt(id, 10)+`,"first_name":"Ann","location":{"lat":1,"lng":2,"address":"`+invalid+`"}}`)
		default:
			obj := `{"` + c.param + `":"` + invalid + `"}`
			switch {
			case c.object == "group":
				obj = `{"label":"` + invalid + `","privileges":{"rights":[]}}`
			case c.object == "user" && c.param != "login":
				obj = `{"login":"newlogin@example.com","` + c.param + `":"` + invalid + `"}`
			}
			body = "hash=" + hash + "&password=Secret-1&" + c.object + "=" + url.QueryEscape(obj)
		}
		cases = append(cases, abuseCase{name: "invalid UTF-8 in " + c.call + " " + c.param,
			req: formReq(c.call, body), status: bad, code: []int{5, 7}, within: quick})
	}

	// Numbers out of range, negative and zero ids.
	for _, c := range []struct{ name, call, body string }{
		{"employee_id over int64", "employee/read", `{"employee_id":99999999999999999999}`},
		{"employee_id 1e400", "employee/read", `{"employee_id":1e400}`},
		{"employee_id -1", "employee/read", `{"employee_id":-1}`},
		{"employee_id 0", "employee/read", `{"employee_id":0}`},
		{"employee_id 1.5", "employee/read", `{"employee_id":1.5}`},
		{"employee_id as text over int64", "employee/read", `{"employee_id":"-99999999999999999999"}`},
		{"icon_id -1", "employee/avatar/assign", `{"employee_id":` + strconv.FormatInt(id, 10) + `,"icon_id":-1}`},
		{"icon_id 2^63", "employee/avatar/assign", `{"employee_id":` + strconv.FormatInt(id, 10) + `,"icon_id":9223372036854775808}`},
		{"tracker_id -5", "employee/update", `{"employee":{"id":` + strconv.FormatInt(id, 10) + `,"first_name":"Ann","tracker_id":-5}}`},
		{"latitude 1e309", "employee/update", `{"employee":{"id":` + strconv.FormatInt(id, 10) + `,"first_name":"Ann","location":{"lat":1e309,"lng":0}}}`},
		{"limit -1", "employee/list", `{"limit":-1}`},
		{"offset over int64", "employee/list", `{"offset":18446744073709551616}`},
		{"tags of a huge integer", "employee/update", `{"employee":{"id":` + strconv.FormatInt(id, 10) + `,"first_name":"Ann","tags":[1e30]}}`},
		{"department_id -1", "department/delete", `{"department_id":-1}`},
	} {
		body := `{"hash":"` + hash + `",` + c.body[1:]
		cases = append(cases, abuseCase{name: c.name, req: jsonReq(c.call, body), status: bad, code: []int{7}, within: quick})
	}
	cases = append(cases, abuseCase{name: "employee_id -1 in a query", req: get(q("employee/read", url.Values{"employee_id": {"-1"}})),
		status: bad, code: []int{7}, within: quick})

	// Path tricks on the public static names: none reaches a file that is
	// not a stored avatar, and none serves the database.
	static := base + "/v2/static/employee/avatars/"
	// Not found, or a redirect to the cleaned path (which serves nothing
	// either): never the file.
	pathStatuses := []int{http.StatusNotFound, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusBadRequest}
	stem := strings.TrimSuffix(avatarName, avatarName[strings.LastIndexByte(avatarName, '.'):])
	otherExt := ".png"
	if strings.HasSuffix(avatarName, ".png") {
		otherExt = ".jpg"
	}
	for _, p := range []string{
		"..%2f..%2froster.db", "..%2F..%2Froster.db", "%2e%2e%2f%2e%2e%2froster.db", "..%252f..%252froster.db",
		"roster.db", ".tmp-" + stem, strings.ToUpper(avatarName), avatarName + "%00", avatarName + "%00.png",
		stem, stem + otherExt, avatarName + ".jpg", avatarName + "%2f..", "%2e%2e", "..", ".",
		avatarName + "?size=9999", avatarName + "?size=-64", avatarName + "?size=64x", avatarName + "?size=0x40",
		stem + "-64" + avatarName[len(stem):], "files%2f" + avatarName, "%5c..%5croster.db",
	} {
		cases = append(cases, abuseCase{name: "static " + p, req: func() *http.Request {
			r := newReq(http.MethodGet, static+p, "", nil, 0)
			return r
		}, status: pathStatuses, within: quick,
			forbidden: []string{"SQLite format", "\x89PNG", "\xff\xd8\xff", "GIF8"}})
	}
	for _, p := range []string{"/v2/static/employee/avatars/../../../roster.db", "/v2/static/employee/avatars/./" + avatarName + "/..", "/v2/static/../../roster.db"} {
		cases = append(cases, abuseCase{name: "static raw path " + p, req: func() *http.Request {
			r := newReq(http.MethodGet, base+"/", "", nil, 0)
			r.URL.Opaque = p // sent as is, not cleaned by the client
			return r
		}, status: pathStatuses, within: quick,
			forbidden: []string{"SQLite format"}})
	}
	return cases
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkAnswer checks one hostile request's answer against its case.
func checkAnswer(c abuseCase, resp *http.Response, body []byte, took time.Duration) error {
	if took > c.within {
		return fmt.Errorf("%s: answered in %v, want within %v", c.name, took.Round(time.Millisecond), c.within)
	}
	if !slices.Contains(c.status, resp.StatusCode) {
		return fmt.Errorf("%s: HTTP %d %.200s, want one of %v", c.name, resp.StatusCode, body, c.status)
	}
	for _, f := range c.forbidden {
		if bytes.Contains(body, []byte(f)) {
			return fmt.Errorf("%s: answer contains %q", c.name, f)
		}
	}
	if c.code == nil {
		return nil
	}
	var env struct {
		Success bool
		Status  struct{ Code int }
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: answer is not a JSON envelope: %.200s", c.name, body)
	}
	if env.Success || !slices.Contains(c.code, env.Status.Code) {
		return fmt.Errorf("%s: code %d %.200s, want one of %v", c.name, env.Status.Code, body, c.code)
	}
	return nil
}

// snapshot is everything the API shows of an account, and the store's
// object names: two equal snapshots mean nothing changed.
func snapshot(ctx context.Context, c *client, st stack) (string, error) {
	var b strings.Builder
	for _, call := range []string{"employee/list", "department/list", "subuser/list", "subuser/security_group/list"} {
		r, err := c.call(ctx, call, map[string]any{})
		if err != nil {
			return "", err
		}
		if r.code() != 0 {
			return "", fmt.Errorf("%s = %s", call, r)
		}
		fmt.Fprintf(&b, "%s: %s\n", call, r.raw)
	}
	objects, _, err := storeContents(ctx, st)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "files: %v\n", objects)
	return b.String(), nil
}

// checkUnchanged compares two snapshots.
func checkUnchanged(before, after string) error {
	if before == after {
		return nil
	}
	bl, al := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range min(len(bl), len(al)) {
		if bl[i] != al[i] {
			return fmt.Errorf("state changed:\nbefore: %.400s\nafter:  %.400s", bl[i], al[i])
		}
	}
	return errors.New("state changed")
}

// populate gives an account one of everything: an employee with an avatar
// and a rendition, a department, a security group and a sub-user.
func populate(t *testing.T, ctx context.Context, c *client, base string) (int64, string) {
	t.Helper()
	dept := c.must(t, "department/create", map[string]any{"department": map[string]any{"label": "Depot"}}).body["id"]
	id := int64(c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann", "last_name": "Lee", "department_id": dept}}).body["id"].(float64))
	group := c.must(t, "subuser/security_group/create", map[string]any{"group": map[string]any{"label": "Editors", "privileges": map[string]any{"rights": []string{"employee_update"}}}}).body["id"]
	c.must(t, "subuser/register", map[string]any{"user": map[string]any{"login": "editor@example.com", "first_name": "Ed", "security_group_id": group, "activated": true}, "password": "Editor-pass1"})
	r, err := c.upload(ctx, id, corpus(t, "baseline.jpg"), "image/jpeg")
	if err != nil || r.code() != 0 {
		t.Fatalf("upload = %v %v", r, err)
	}
	name := r.body["value"].(string)
	if err := fetchImage(ctx, http.DefaultClient, staticURL(base, name)+"?size=64"); err != nil {
		t.Fatal(err)
	}
	return id, name
}

func TestAbuse(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack) {
		ctx := t.Context()
		p := serve(t, st)
		c := newClient(p.API)
		if err := c.signIn(ctx); err != nil {
			t.Fatal(err)
		}
		id, name := populate(t, ctx, c, p.Base)
		before, err := snapshot(ctx, c, st)
		if err != nil {
			t.Fatal(err)
		}

		// Slow clients hold connections open from the start; the server's
		// timeouts must cut them while everything else goes on.
		loris := slowLoris(ctx, p.Base, 8)

		hwm0, _ := p.VM("VmHWM")
		// A case may cost a 16 MiB upload buffer or a 10 MiB header, a few
		// times over while it is read; the race detector's shadow memory
		// about doubles that. Nothing may cost in proportion to a 1 GiB body.
		memLimit := int64(96)
		if proctest.Race {
			memLimit = 160
		}
		var maxGrowth int64
		var worst, slowCase string
		var slowest time.Duration
		cases := abuseCases(t, p.API, p.Base, c.hash, id, name)
		start := time.Now()
		for _, ac := range cases {
			h0, _ := p.VM("VmHWM")
			t0 := time.Now()
			resp, body, err := exchange(ctx, p.Base, ac.req(), ac.within+5*time.Second)
			took := time.Since(t0)
			if err != nil {
				t.Errorf("%s: %v", ac.name, err)
				continue
			}
			if err := checkAnswer(ac, resp, body, took); err != nil {
				t.Error(err)
			}
			if took > slowest {
				slowest, slowCase = took, ac.name
			}
			h1, err := p.VM("VmHWM")
			if err != nil {
				t.Fatalf("%s: the server died: %v", ac.name, err)
			}
			if g := h1 - h0; g > maxGrowth {
				maxGrowth, worst = g, ac.name
			}
			if g := h1 - h0; g > memLimit<<10 {
				t.Errorf("%s: peak memory grew by %d MiB, want under %d MiB", ac.name, g>>10, memLimit)
			}
		}
		hwm1, _ := p.VM("VmHWM")
		after, err := snapshot(ctx, c, st)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkUnchanged(before, after); err != nil {
			t.Errorf("after %d hostile requests: %v", len(cases), err)
		}
		closed, lorisErr := loris()
		if lorisErr != nil {
			t.Error(lorisErr)
		}
		if !p.Alive() {
			t.Fatalf("the server died:\n%s", p.Stderr())
		}
		// A hundred odd requests logged, and never a secret among them.
		for _, secret := range []string{c.hash, adminPassword, "Editor-pass1"} {
			if strings.Contains(p.Stderr(), secret) {
				t.Errorf("the log holds a secret (%.6s…)", secret)
			}
		}
		t.Logf("abuse suite %s: %d bad inputs tried, %d slow-loris connections cut, peak memory %d → %d MiB (largest rise %d MiB, by %q), slowest answer %v (%q), %s",
			st.name, len(cases), closed, hwm0>>10, hwm1>>10, maxGrowth>>10, worst, slowest.Round(time.Millisecond), slowCase, time.Since(start).Round(time.Millisecond))
	})
}

// slowLoris opens n connections that send a request header (half of them)
// or a body (the other half) a byte at a time, and returns a function that
// waits for the server to cut the header senders — ReadHeaderTimeout is
// 10 s — and checks that the body senders never stopped the server from
// answering others. The body senders are cut by ReadTimeout (2 minutes),
// longer than this suite waits; they are closed by the test.
func slowLoris(ctx context.Context, base string, n int) func() (int, error) {
	u, _ := url.Parse(base)
	type result struct {
		header bool
		cut    bool
		after  time.Duration
	}
	results := make(chan result, n)
	stop := make(chan struct{})
	start := time.Now()
	for i := range n {
		header := i%2 == 0
		go func() {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				results <- result{header: header}
				return
			}
			defer conn.Close()
			msg := "GET /v2/employee/list HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)
			if !header {
				fmt.Fprintf(conn, "POST /v2/employee/list HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n")
				msg = strings.Repeat("a", 100000)
			}
			for j := 0; ; j++ {
				select {
				case <-stop:
					results <- result{header: header}
					return
				case <-time.After(500 * time.Millisecond):
				}
				conn.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := conn.Write([]byte{msg[j%len(msg)]}); err != nil {
					results <- result{header: header, cut: true, after: time.Since(start)}
					return
				}
				// A closed connection shows as a failed write, or as EOF.
				conn.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, err := conn.Read(make([]byte, 1)); err == io.EOF {
					results <- result{header: header, cut: true, after: time.Since(start)}
					return
				}
			}
		}()
	}
	return func() (int, error) {
		// Everyone else is served while they hang on.
		var errs []error
		if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
			errs = append(errs, fmt.Errorf("healthz beside slow clients: %v", err))
		} else {
			resp.Body.Close()
		}
		deadline := time.After(max(2*time.Second, 16*time.Second-time.Since(start)))
		cut, headers := 0, 0
		pending := n
	wait:
		for headers < (n+1)/2 {
			var r result
			// Results already in win over a deadline already passed.
			select {
			case r = <-results:
			default:
				select {
				case r = <-results:
				case <-deadline:
					errs = append(errs, fmt.Errorf("%d slow header senders still connected after %v", (n+1)/2-headers, time.Since(start).Round(time.Second)))
					break wait
				case <-ctx.Done():
					break wait
				}
			}
			pending--
			if r.header {
				headers++
				if !r.cut {
					errs = append(errs, errors.New("a slow header sender was not cut"))
				} else {
					cut++
				}
			}
		}
		close(stop)
		for range pending {
			<-results
		}
		return cut, errors.Join(errs...)
	}
}

// TestAbuseCheckersCatch shows the abuse checkers failing: a wrong code, a
// slow answer, a leaked file, and a changed state.
func TestAbuseCheckersCatch(t *testing.T) {
	c := abuseCase{name: "x", status: []int{400}, code: []int{7}, within: time.Second, forbidden: []string{"SQLite format"}}
	ok := &http.Response{StatusCode: 400}
	if err := checkAnswer(c, ok, []byte(`{"success":false,"status":{"code":7}}`), time.Millisecond); err != nil {
		t.Fatalf("a right answer: %v", err)
	}
	for name, tc := range map[string]struct {
		resp *http.Response
		body string
		took time.Duration
	}{
		"wrong code":     {ok, `{"success":false,"status":{"code":6}}`, time.Millisecond},
		"success":        {&http.Response{StatusCode: 200}, `{"success":true}`, time.Millisecond},
		"too slow":       {ok, `{"success":false,"status":{"code":7}}`, 2 * time.Second},
		"not JSON":       {ok, `oops`, time.Millisecond},
		"leaks the file": {ok, `SQLite format 3`, time.Millisecond},
	} {
		if err := checkAnswer(c, tc.resp, []byte(tc.body), tc.took); err == nil {
			t.Errorf("checkAnswer(%s) = nil, want an error", name)
		}
	}
	if err := checkUnchanged("a: 1\nb: 2\n", "a: 1\nb: 3\n"); err == nil || !strings.Contains(err.Error(), "b: 3") {
		t.Errorf("checkUnchanged of a changed state = %v, want the change shown", err)
	}
}

// injections are SQL and HTML that must be stored and returned as text.
var injections = []string{
	`'; DROP TABLE employees; --`,
	`" OR 1=1 --`,
	`Robert'); DELETE FROM users;--`,
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`%_\' ${7*7} {{7*7}} $1`,
}

// fit cuts s to n characters.
func fit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TestInjectionStoredVerbatim: SQL and HTML in every string field are
// stored and returned exactly, escaped as JSON, and never executed; the
// same text in a filter, a sort or a login finds nothing and breaks nothing.
func TestInjectionStoredVerbatim(t *testing.T) {
	forEachStack(t, func(t *testing.T, st stack) {
		ctx := t.Context()
		p := serve(t, st)
		c := newClient(p.API)
		if err := c.signIn(ctx); err != nil {
			t.Fatal(err)
		}
		tried := 0
		limits := map[string]int{"first_name": 100, "middle_name": 100, "last_name": 100, "driver_license_number": 32,
			"driver_license_cats": 32, "hardware_key": 64, "personnel_number": 15}
		var ids []int64
		for _, inj := range injections {
			e := map[string]any{"email": "o'brien+x@example.com"}
			for f, n := range limits {
				e[f] = fit(inj, n)
			}
			e["location"] = map[string]any{"lat": 1, "lng": 2, "address": inj}
			id := int64(c.must(t, "employee/create", map[string]any{"employee": e}).body["id"].(float64))
			ids = append(ids, id)
			r := c.must(t, "employee/read", map[string]any{"employee_id": id})
			got := r.body["value"].(map[string]any)
			for f := range limits {
				if got[f] != e[f] {
					t.Errorf("employee.%s = %q, stored %q", f, got[f], e[f])
				}
			}
			if addr := got["location"].(map[string]any)["address"]; addr != inj {
				t.Errorf("employee.location.address = %q, stored %q", addr, inj)
			}
			if bytes.Contains(r.raw, []byte("<script")) || bytes.Contains(r.raw, []byte("<img")) {
				t.Errorf("employee/read returns raw HTML: %s", r.raw)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("employee/read Content-Type %q, nosniff %q", ct, r.header.Get("X-Content-Type-Options"))
			}
			c.must(t, "department/create", map[string]any{"department": map[string]any{"label": inj}})
			group := c.must(t, "subuser/security_group/create", map[string]any{"group": map[string]any{"label": inj, "privileges": map[string]any{"rights": []string{}}}}).body["id"]
			c.must(t, "subuser/register", map[string]any{"user": map[string]any{"login": fmt.Sprintf("inj%d@example.com", len(ids)), "first_name": inj, "last_name": inj, "middle_name": inj, "security_group_id": group}, "password": "Secret-1"})
			tried += len(limits) + 6
			for _, l := range []struct{ call, key string }{{"department/list", "label"}, {"subuser/security_group/list", "label"}} {
				found := false
				for _, item := range c.must(t, l.call, map[string]any{}).body["list"].([]any) {
					m := item.(map[string]any)
					if m[l.key] == inj {
						found = true
					}
				}
				if !found {
					t.Errorf("%s has no %s %q", l.call, l.key, inj)
				}
			}

			// As a filter it is a substring to look for, nothing more.
			r = c.must(t, "employee/list", map[string]any{"filter": fit(inj, 100)})
			if n := int(r.body["count"].(float64)); n != 1 {
				t.Errorf("filter %q found %d employees, want 1 (its own)", inj, n)
			}
			if r, _ := c.call(ctx, "employee/list", map[string]any{"sort": []string{inj + "=asc"}}); r.code() != 7 {
				t.Errorf("sort %q = %s, want 7", inj, r)
			}
			if r, _ := newClient(p.API).call(ctx, "user/auth", map[string]any{"login": "admin" + inj, "password": inj}); r.code() != 102 && r.code() != 7 {
				t.Errorf("user/auth as %q = %s, want 102", inj, r)
			}
			tried += 3
		}
		r := c.must(t, "employee/list", map[string]any{})
		if n := int(r.body["count"].(float64)); n != len(injections) {
			t.Errorf("after the injections the account has %d employees, want %d", n, len(injections))
		}
		for _, f := range []string{"%", "_", `\`} {
			r := c.must(t, "employee/list", map[string]any{"filter": f})
			if n := int(r.body["count"].(float64)); n != 1 {
				t.Errorf("filter %q found %d employees, want the 1 that holds it", f, n)
			}
		}
		t.Logf("injection suite %s: %d SQL/HTML values stored verbatim and searched, %d employees intact", st.name, tried, len(ids))
	})
}

// TestUploadFloodBeforeAuth: many strangers uploading 15 MiB at once cannot
// fill the server's memory. A key that comes before the file is checked
// before the file is read; uploads whose key follows the file are read a
// few at a time. Uploads with the key after the file, or in the header,
// still work.
func TestUploadFloodBeforeAuth(t *testing.T) {
	ctx := t.Context()
	st := sqliteStack(t)
	p := serve(t, st, "--decode-workers", "2")
	c := newClient(p.API)
	if err := c.signIn(ctx); err != nil {
		t.Fatal(err)
	}
	id := c.must(t, "employee/create", map[string]any{"employee": map[string]any{"first_name": "Ann"}}).body["id"]
	const size = 15 << 20
	flood := func(n int, fields [][2]string, want abuseCase) (int64, error) {
		h0, err := p.VM("VmHWM")
		if err != nil {
			return 0, err
		}
		errs := make(chan error, n)
		for range n {
			go func() {
				body, ct := multipartBody(fields, fileHeader("image/png"), io.LimitReader(repeat(0), size))
				frame, _ := multipartBody(fields, fileHeader("image/png"), strings.NewReader(""))
				length, _ := io.Copy(io.Discard, frame)
				req := newReq(http.MethodPost, p.API+"/employee/avatar/upload", ct, body, length+size)
				resp, b, err := exchange(ctx, p.Base, req, 60*time.Second)
				if err == nil {
					err = checkAnswer(want, resp, b, 0)
				}
				errs <- err
			}()
		}
		var all []error
		for range n {
			all = append(all, <-errs)
		}
		h1, err := p.VM("VmHWM")
		if err != nil {
			return 0, err
		}
		return h1 - h0, errors.Join(all...)
	}
	strangers, err := flood(24, [][2]string{{"hash", "0123456789abcdef0123456789abcdef"}, {"employee_id", "1"}},
		abuseCase{name: "strangers' flood", status: []int{http.StatusBadRequest}, code: []int{4}, within: time.Minute})
	if err != nil {
		t.Error(err)
	}
	if strangers > 96<<10 {
		t.Errorf("24 strangers uploading 15 MiB each raised peak memory by %d MiB, want under 96 MiB", strangers>>10)
	}
	// Keyless uploads are read a few at a time (the blind slots); one that
	// waits longer than the admission wait for a slot, as on a loaded
	// machine under the race detector, is refused with 15 instead.
	keyless, err := flood(12, [][2]string{{"employee_id", "1"}},
		abuseCase{name: "keyless flood", status: []int{http.StatusBadRequest, http.StatusTooManyRequests}, code: []int{3, 15}, within: time.Minute})
	if err != nil {
		t.Error(err)
	}
	// Two at a time (--decode-workers 2) cost about 70 MiB; the race
	// detector's shadow memory makes that about 300. All twelve at once
	// would cost well over 400 (1,200 with the race detector).
	limit := int64(192)
	if proctest.Race {
		limit = 512
	}
	if keyless > limit<<10 {
		t.Errorf("12 keyless uploads of 15 MiB each raised peak memory by %d MiB, want under %d MiB", keyless>>10, limit)
	}

	// The key after the file, and in the header: both still upload.
	png := corpus(t, "alpha.png")
	body, ct := multipartBody([][2]string{{"employee_id", fmt.Sprint(id)}}, fileHeader("image/png"), bytes.NewReader(png))
	b, _ := io.ReadAll(body)
	// Append the hash as a last part: rewrite the closing boundary.
	boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
	b = append(bytes.TrimSuffix(b, []byte("--"+boundary+"--\r\n")), []byte("--"+boundary+"\r\nContent-Disposition: form-data; name=\"hash\"\r\n\r\n"+c.hash+"\r\n--"+boundary+"--\r\n")...)
	req := newReq(http.MethodPost, p.API+"/employee/avatar/upload", ct, bytes.NewReader(b), int64(len(b)))
	if r, err := c.do(req); err != nil || r.code() != 0 {
		t.Errorf("upload with the key after the file = %v %v, want success", r, err)
	}
	body, ct = multipartBody([][2]string{{"employee_id", fmt.Sprint(id)}}, fileHeader("image/png"), bytes.NewReader(png))
	req = newReq(http.MethodPost, p.API+"/employee/avatar/upload", ct, body, -1)
	req.Header.Set("Authorization", "NVX "+c.hash)
	if r, err := c.do(req); err != nil || r.code() != 0 {
		t.Errorf("upload with the key in the header = %v %v, want success", r, err)
	}
	t.Logf("upload flood: 24 strangers × 15 MiB raised peak memory by %d MiB, 12 keyless × 15 MiB by %d MiB", strangers>>10, keyless>>10)
}
