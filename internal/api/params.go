package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"roster/internal/roster"
)

// value is one raw parameter: JSON text from a JSON body or object, or plain
// text from a query string, form or multipart field (where ints are decimal
// text, arrays and objects JSON text, and the text null is null).
type value struct {
	raw  string
	json bool
}

// fields reads typed values out of a set of raw ones and collects an error
// per bad parameter, so a handler reads all its parameters and then checks
// errs once. Parameter names in errors carry prefix (employee.first_name).
type fields struct {
	get    func(name string) (value, bool)
	prefix string
	errs   *roster.InvalidParams
}

// params is the parameter view of one request, whatever its form: body
// parameters (JSON root, form or multipart fields) win over query ones.
type params struct {
	fields
	body  map[string]value
	query url.Values
	file  *upload // the multipart file part, for uploads
	hooks readHooks
	// refused holds why beforeFile refused an upload's file part.
	refused error
}

// readHooks let the edge bound what reading a request costs. Each may be
// nil.
type readHooks struct {
	// beforeFile runs as an upload's file part is reached, before a byte
	// of it is read. If it fails, the file is not read and refused holds
	// why.
	beforeFile func(*params) error
	// reserve takes n bytes of the memory budget for the body being read,
	// before it is read; an error refuses the request.
	reserve func(n int64) error
}

func (p *params) lookup(name string) (value, bool) {
	if v, ok := p.body[name]; ok {
		return v, true
	}
	if vs, ok := p.query[name]; ok && len(vs) > 0 {
		return value{raw: vs[0]}, true
	}
	return value{}, false
}

// Limits of request parsing.
const (
	maxBodyBytes  = 1 << 20 // a non-upload body (code 9 beyond)
	maxFieldBytes = 64 << 10
	maxParts      = 100
)

// upload is the file part of a multipart upload, read whole into memory
// within the upload limit.
type upload struct {
	data        []byte
	contentType string
	tooLarge    bool
}

// decodeParams reads the request's parameters from its query string and
// body. For uploads, the multipart file part is kept (up to maxUpload bytes),
// if the hooks let it be read.
func decodeParams(r *http.Request, maxUpload int64, isUpload bool, h readHooks) (*params, error) {
	p := &params{body: map[string]value{}, query: r.URL.Query(), hooks: h}
	p.fields = fields{get: p.lookup, errs: &roster.InvalidParams{}}
	switch {
	case r.Method == http.MethodPost:
	case isUpload:
		return nil, fail(codeBadRequest, fmt.Errorf("upload by %s, not a multipart POST", r.Method))
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return p, nil
	default:
		return nil, fail(codeBadRequest, fmt.Errorf("method %s", r.Method))
	}
	ct := r.Header.Get("Content-Type")
	mediaType, mparams, err := mime.ParseMediaType(ct)
	if ct == "" {
		mediaType, err = "", nil
	}
	if err != nil {
		return nil, fail(codeBadRequest, fmt.Errorf("content type %q: %w", ct, err))
	}
	if isUpload {
		if mediaType != "multipart/form-data" {
			return nil, fail(codeBadRequest, fmt.Errorf("upload as %q, not multipart/form-data", mediaType))
		}
		return p, p.readMultipart(r, mparams["boundary"], maxUpload, true)
	}
	if err := p.reserve(bodyCost(r.ContentLength)); err != nil {
		return nil, err
	}
	switch mediaType {
	case "multipart/form-data":
		return p, p.readMultipart(r, mparams["boundary"], maxBodyBytes, false)
	case "application/json", "application/x-www-form-urlencoded", "":
	default:
		if strings.HasSuffix(mediaType, "+json") {
			mediaType = "application/json"
			break
		}
		return nil, fail(codeBadRequest, fmt.Errorf("content type %q", mediaType))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fail(codeBadRequest, fmt.Errorf("reading body: %w", err))
	}
	if len(body) > maxBodyBytes {
		return nil, fail(codeTooLarge, fmt.Errorf("body over %d bytes", maxBodyBytes))
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return p, nil
	}
	if mediaType == "" {
		// A body without a type: JSON if it looks like it, else a form.
		mediaType = "application/x-www-form-urlencoded"
		if body[0] == '{' {
			mediaType = "application/json"
		}
	}
	if mediaType == "application/json" {
		var root map[string]json.RawMessage
		if err := json.Unmarshal(body, &root); err != nil {
			return nil, fail(codeBadRequest, fmt.Errorf("JSON body: %w", err))
		}
		for k, v := range root {
			p.body[k] = value{raw: string(v), json: true}
		}
		return p, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fail(codeBadRequest, fmt.Errorf("form body: %w", err))
	}
	for k, vs := range form {
		p.body[k] = value{raw: vs[0]}
	}
	return p, nil
}

// bodyCost is what a non-upload body of the given Content-Length (-1:
// unknown) is reserved for: the body and the values decoded from it, about
// four times its size. Bodies of a few KiB, nearly every call, reserve
// nothing: their cost is part of the base reserve.
func bodyCost(contentLength int64) int64 {
	const small = 64 << 10
	n := contentLength
	if n < 0 || n > maxBodyBytes {
		n = maxBodyBytes
	}
	if n <= small {
		return 0
	}
	return 4 * n
}

// reserve runs the reserve hook, if any.
func (p *params) reserve(n int64) error {
	if p.hooks.reserve == nil || n <= 0 {
		return nil
	}
	return p.hooks.reserve(n)
}

// gate decodes a call's parameters and authorizes its caller, and holds
// what reading them reserved until the call is done (free).
//
// An upload's caller is authorized as its file part arrives, so a
// stranger's upload is refused before its file is read into memory. An
// upload with no key before its file (the key may follow it) is "blind":
// its file is read, but only while it holds one of s.blind's slots (one per
// client address, a few in all). Every body that reserves memory (uploads,
// and other bodies over 64 KiB) must arrive at minRate at least, so that
// clients who trickle bytes cannot hold the memory or the slots.
type gate struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	a     access
	c     *call  // authorized as its file part arrived
	blind func() // frees the slot of s.blind, while held
	paced *pacedBody
	frees []func()
}

// Bodies that reserve memory must arrive at this average rate, after a
// grace period, or they are cut.
const (
	minRate  = 32 << 10 // bytes a second
	minGrace = 2 * time.Second
)

// decode reads the call's parameters.
func (g *gate) decode() (*params, error) {
	h := readHooks{reserve: g.reserve}
	if g.a.upload != nil && !g.a.public {
		h.beforeFile = g.beforeFile
	}
	if g.a.upload != nil || bodyCost(g.r.ContentLength) > 0 {
		g.paced = &pacedBody{ReadCloser: g.r.Body, rc: http.NewResponseController(g.w), start: time.Now()}
		g.r.Body = g.paced
	}
	return decodeParams(g.r, g.s.opts.MaxUploadBytes, g.a.upload != nil, h)
}

// pacedBody is a request body that must arrive at minRate on average after
// minGrace: each read is given a deadline that keeps to it, and one that
// starts late fails.
type pacedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	read  int64
}

// excuse moves the body's clock past a wait of the server's own (for a
// slot, for memory), which is not the client's slowness.
func (b *pacedBody) excuse(since time.Time) {
	if b != nil {
		b.start = b.start.Add(time.Since(since))
	}
}

func (b *pacedBody) Read(p []byte) (int, error) {
	p = p[:min(len(p), 64<<10)]
	due := b.start.Add(minGrace + time.Duration(float64(b.read+int64(len(p)))/minRate*float64(time.Second)))
	if time.Now().After(due) {
		return 0, slowBody()
	}
	b.rc.SetReadDeadline(due) // not every connection has one; then ReadTimeout holds
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = slowBody()
	}
	return n, err
}

// errSlowBody is the cause of a body cut for arriving too slowly. The read
// deadline also ends the request's context, yet the client is still there
// to be told.
var errSlowBody = errors.New("request body below the minimum rate")

func slowBody() error {
	return &apiError{code: codeBadRequest, cause: errSlowBody, params: roster.InvalidParams{{Parameter: "body",
		Reason: fmt.Sprintf("arrived slower than %d KiB/s", minRate>>10)}}}
}

// reserve takes n bytes of the memory budget until the call is done: at
// most the client address's share of it, then as the budget allows.
func (g *gate) reserve(n int64) error {
	waited := time.Now()
	defer g.paced.excuse(waited)
	ctx, cancel := context.WithTimeout(g.r.Context(), admitWait)
	defer cancel()
	give, err := g.s.bodyShares.acquire(ctx, g.s.clientKey(g.r), n)
	if err != nil {
		return g.s.admitError(g.r.Context(), err)
	}
	g.frees = append(g.frees, give)
	free, err := g.s.bodies.reserve(ctx, n)
	if err != nil {
		var over *errOverBudget
		if errors.As(err, &over) {
			return fail(codeTooLarge, err)
		}
		return g.s.admitError(g.r.Context(), err)
	}
	g.frees = append(g.frees, free)
	return nil
}

// beforeFile runs as an upload's file part arrives, before a byte of it is
// read: without a key so far, it waits for a blind slot; with one, it
// authorizes the caller.
func (g *gate) beforeFile(p *params) error {
	if _, ok := p.hash(g.r); !ok {
		waited := time.Now()
		defer g.paced.excuse(waited)
		ctx, cancel := context.WithTimeout(g.r.Context(), admitWait)
		defer cancel()
		free, err := g.s.blind.acquire(ctx, g.s.clientKey(g.r), 1)
		if err != nil {
			return g.s.admitError(g.r.Context(), err)
		}
		g.blind = free
		return nil
	}
	c := &call{r: g.r, params: p}
	if err := g.s.authorize(c, g.a); err != nil {
		return err
	}
	g.c = c
	return nil
}

// authorize gives the call with its caller: refused or authorized as its
// file part arrived, else authorized now.
func (g *gate) authorize(p *params) (*call, error) {
	switch {
	case p.refused != nil:
		return nil, p.refused
	case g.c != nil:
		return g.c, nil
	}
	c := &call{r: g.r, params: p}
	return c, g.s.authorize(c, g.a)
}

// release frees the blind slot, if the call holds one: once the body is
// read, the call is no longer blind.
func (g *gate) release() {
	if g.blind != nil {
		g.blind()
		g.blind = nil
	}
}

// free gives back everything the call holds, once it is answered.
func (g *gate) free() {
	g.release()
	for _, f := range g.frees {
		f()
	}
	g.frees = nil
}

// readMultipart reads the fields of a multipart body, and for uploads its
// file part. The whole body is bounded by limit; for an upload the excess
// is never buffered: reading stops at the limit and the upload is marked
// too large.
func (p *params) readMultipart(r *http.Request, boundary string, limit int64, isUpload bool) error {
	if boundary == "" {
		return fail(codeBadRequest, errors.New("multipart without boundary"))
	}
	// The multipart framing costs a few hundred bytes beyond the file.
	body := &limitedReader{r: r.Body, n: limit + 64<<10}
	mr := multipart.NewReader(body, boundary)
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if body.exceeded {
			return p.tooLarge(isUpload, limit)
		}
		if err != nil {
			return fail(codeBadRequest, fmt.Errorf("multipart: %w", err))
		}
		if n >= maxParts {
			return fail(codeBadRequest, fmt.Errorf("more than %d multipart parts", maxParts))
		}
		name := part.FormName()
		if part.FileName() != "" || name == "file" {
			if !isUpload || name != "file" || p.file != nil {
				// Not ours to keep: skip it (still bounded by the limit).
				if _, err := io.Copy(io.Discard, part); err != nil {
					return p.partError(body, isUpload, limit, err)
				}
				continue
			}
			if p.hooks.beforeFile != nil {
				if err := p.hooks.beforeFile(p); err != nil {
					p.refused = err
					return nil
				}
			}
			data, err := p.readFile(part, limit, r.ContentLength)
			if err != nil {
				return p.partError(body, isUpload, limit, err)
			}
			if int64(len(data)) > limit {
				return p.tooLarge(isUpload, limit)
			}
			p.file = &upload{data: data, contentType: part.Header.Get("Content-Type")}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return p.partError(body, isUpload, limit, err)
		}
		if len(data) > maxFieldBytes {
			return fail(codeTooLarge, fmt.Errorf("multipart field %q over %d bytes", name, maxFieldBytes))
		}
		if name == "" {
			continue
		}
		if _, seen := p.body[name]; !seen {
			p.body[name] = value{raw: string(data)}
		}
	}
}

// readFile reads an upload's file part, up to limit+1 bytes, into one
// buffer whose memory is reserved before it is allocated: the request's
// Content-Length when it has one (the file is no larger), else the whole
// limit.
func (p *params) readFile(part io.Reader, limit, contentLength int64) ([]byte, error) {
	size := limit + 1
	if contentLength >= 0 && contentLength < size {
		size = contentLength
	}
	if err := p.reserve(size); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, size)
	for int64(len(buf)) < size {
		n, err := part.Read(buf[len(buf):min(cap(buf), len(buf)+64<<10)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
	// Full: either limit+1 bytes, which the caller refuses, or the whole
	// Content-Length, past which the body cannot go.
	return buf, nil
}

func (p *params) partError(body *limitedReader, isUpload bool, limit int64, err error) error {
	if _, ok := errors.AsType[*apiError](err); ok {
		return err // a refusal of the hooks or of pacedBody
	}
	if body.exceeded {
		return p.tooLarge(isUpload, limit)
	}
	return fail(codeBadRequest, fmt.Errorf("multipart: %w", err))
}

func (p *params) tooLarge(isUpload bool, limit int64) error {
	if !isUpload {
		return fail(codeTooLarge, fmt.Errorf("body over %d bytes", limit))
	}
	return &apiError{code: codeFileTooLarge, params: roster.InvalidParams{{Parameter: "file",
		Reason: fmt.Sprintf("upload is larger than the limit of %s", byteSize(limit))}}}
}

// byteSize writes a byte count for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitedReader is io.LimitReader that remembers whether the limit was hit.
type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		l.exceeded = true
		return 0, errors.New("request body too large")
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	return n, err
}

// hash finds the session key: body, then query, then the header
// "Authorization: NVX <hash>".
func (p *params) hash(r *http.Request) (string, bool) {
	if v, ok := p.body["hash"]; ok {
		return p.text(v)
	}
	if vs, ok := p.query["hash"]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, ok := strings.Cut(strings.TrimSpace(h), " ")
		if ok && strings.EqualFold(scheme, "NVX") {
			return strings.TrimSpace(key), true
		}
	}
	return "", false
}

// text gives a value's string form: a JSON string unquoted, else raw text.
func (p *params) text(v value) (string, bool) {
	if !v.json {
		return v.raw, true
	}
	var s string
	if err := json.Unmarshal([]byte(v.raw), &s); err != nil {
		return "", false
	}
	return s, true
}

func (f fields) add(name, reason string) { f.errs.Add(f.prefix+name, reason) }

// scalar gives the text of a scalar value: a JSON string unquoted, other
// JSON as written, plain text as is. False for a malformed JSON string.
func (v value) scalar() (string, bool) {
	if !v.json || !strings.HasPrefix(v.raw, `"`) {
		return v.raw, true
	}
	var s string
	err := json.Unmarshal([]byte(v.raw), &s)
	return s, err == nil
}

// isNull reports whether a raw value is null in its form.
func (v value) isNull() bool {
	if v.json {
		return v.raw == "null"
	}
	return v.raw == "null"
}

// present looks a parameter up and handles absence and null: it returns
// false when there is no usable value (and records an error when one was
// required).
func (f fields) present(name string, required bool) (value, bool) {
	v, ok := f.get(name)
	if !ok || v.isNull() {
		if required {
			if ok {
				f.add(name, "must not be null")
			} else {
				f.add(name, "is required")
			}
		}
		return v, false
	}
	return v, true
}

// Int reads an integer: a JSON number, or decimal text (also as a JSON
// string). Nil when absent or null.
func (f fields) Int(name string, required bool) *int64 {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	s, ok := v.scalar()
	if !ok {
		f.add(name, "must be an integer")
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		// JSON may write an integer as 12.0 or 1e3.
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 || !v.json {
			if errors.Is(err, strconv.ErrRange) {
				f.add(name, "is out of range")
			} else {
				f.add(name, "must be an integer")
			}
			return nil
		}
		n = int64(fl)
	}
	return &n
}

// ID reads a positive integer id.
func (f fields) ID(name string, required bool) *int64 {
	n := f.Int(name, required)
	if n != nil && *n < 1 {
		f.add(name, "must be a positive integer")
		return nil
	}
	return n
}

// Float reads a number.
func (f fields) Float(name string, required bool) *float64 {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	s, ok := v.scalar()
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if !ok || err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		f.add(name, "must be a number")
		return nil
	}
	return &n
}

// String reads a string. Nil when absent or null.
func (f fields) String(name string, required bool) *string {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	if !utf8.ValidString(v.raw) {
		// Text would be stored as sent and answered as U+FFFD by
		// encoding/json; JSON would be quietly altered to U+FFFD at once.
		f.add(name, "must be valid UTF-8 text")
		return nil
	}
	if !v.json {
		return &v.raw
	}
	var s string
	if err := json.Unmarshal([]byte(v.raw), &s); err != nil {
		// Accept a number where a string is due (a phone written as 123).
		var n json.Number
		if json.Unmarshal([]byte(v.raw), &n) != nil {
			f.add(name, "must be a string")
			return nil
		}
		s = n.String()
	}
	return &s
}

// Str reads a string that is never null: absent or null reads as "".
func (f fields) Str(name string, required bool) string {
	if s := f.String(name, required); s != nil {
		return *s
	}
	return ""
}

// NotNull reads a string that may be empty but not null: absent reads as
// "", an explicit null is refused.
func (f fields) NotNull(name string) string {
	if v, ok := f.get(name); ok && v.isNull() {
		f.add(name, "may be empty but not null")
		return ""
	}
	return f.Str(name, false)
}

// Bool reads true or false.
func (f fields) Bool(name string, required bool) *bool {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	s, _ := v.scalar()
	switch s {
	case "true", "1":
		b := true
		return &b
	case "false", "0":
		b := false
		return &b
	}
	f.add(name, "must be true or false")
	return nil
}

// rawJSON gives a value as JSON text: as is from JSON, parsed from text
// elsewhere.
func (f fields) rawJSON(name string, v value) (json.RawMessage, bool) {
	if v.json {
		return json.RawMessage(v.raw), true
	}
	if !json.Valid([]byte(v.raw)) {
		f.add(name, "must be JSON")
		return nil, false
	}
	return json.RawMessage(v.raw), true
}

// Object reads a JSON object and returns a fields view of its members.
// Ok is false when it is absent, null or not an object.
func (f fields) Object(name string, required bool) (fields, bool) {
	v, ok := f.present(name, required)
	if !ok {
		return fields{}, false
	}
	raw, ok := f.rawJSON(name, v)
	if !ok {
		return fields{}, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		f.add(name, "must be an object")
		return fields{}, false
	}
	return fields{
		get: func(k string) (value, bool) {
			r, ok := m[k]
			return value{raw: string(r), json: true}, ok
		},
		prefix: f.prefix + name + ".",
		errs:   f.errs,
	}, true
}

// Ints reads an array of integers.
func (f fields) Ints(name string, required bool) []int64 {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	raw, ok := f.rawJSON(name, v)
	if !ok {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.add(name, "must be an array of integers")
		return nil
	}
	out := make([]int64, 0, len(items))
	for i, item := range items {
		elem := fields{get: func(string) (value, bool) { return value{raw: string(item), json: true}, true },
			prefix: f.prefix, errs: f.errs}
		n := elem.Int(fmt.Sprintf("%s[%d]", name, i), true)
		if n == nil {
			return nil
		}
		out = append(out, *n)
	}
	return out
}

// IDs reads an array of at most most positive ids; a required one must not
// be empty either.
func (f fields) IDs(name string, required bool, most int) []int64 {
	ids := f.Ints(name, required)
	switch {
	case ids == nil:
	case len(ids) == 0 && required:
		f.add(name, "must not be empty")
	case len(ids) > most:
		f.add(name, fmt.Sprintf("must have at most %d ids", most))
	default:
		for i, id := range ids {
			if id < 1 {
				f.add(fmt.Sprintf("%s[%d]", name, i), "must be a positive integer")
			}
		}
	}
	return ids
}

// Strings reads an array of strings.
func (f fields) Strings(name string, required bool) []string {
	v, ok := f.present(name, required)
	if !ok {
		return nil
	}
	raw, ok := f.rawJSON(name, v)
	if !ok {
		return nil
	}
	var out []string
	if !utf8.Valid(raw) {
		f.add(name, "must be valid UTF-8 text")
		return nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		f.add(name, "must be an array of strings")
		return nil
	}
	return out
}

// Err returns the collected parameter errors, if any.
func (f fields) Err() error { return f.errs.Err() }

// addInvalid records the parameter errors of err (a roster.InvalidParams
// from a Validate method) beside the ones reading collected, so that one
// answer names every bad parameter. A parameter already named is skipped: a
// value that could not be read is not judged again.
func (f fields) addInvalid(err error) {
	var invalid roster.InvalidParams
	errors.As(err, &invalid)
	for _, e := range invalid {
		if !slices.ContainsFunc(*f.errs, func(p roster.ParamError) bool { return p.Parameter == e.Parameter }) {
			*f.errs = append(*f.errs, e)
		}
	}
}
