package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"roster/internal/roster"
)

// call is one API request as a handler sees it: its parameters and, for
// calls that need a session, who makes it.
type call struct {
	r      *http.Request
	params *params
	caller *roster.Caller
}

// handler answers a call. The value it returns is marshalled as JSON and its
// members follow "success": true; nil means {"success": true}.
type handler func(c *call) (any, error)

// access says who may make a call.
type access struct {
	public bool         // no session needed
	right  roster.Right // "" = any signed-in user
	// upload is what a multipart upload's file part may be; nil for a
	// call that is not an upload.
	upload *uploadKind
	// sessionOnly refuses an API key (code 4): the call acts on the session
	// itself, or manages keys, which a leaked key must not be able to do.
	sessionOnly bool
}

// uploadKind is a kind of file an upload takes.
type uploadKind struct {
	// types are the MIME types the file part may declare (nil: any,
	// the bytes alone decide), for the document and the handler's check.
	types []string
	// redirect: the call takes redirect_target (Navixy's avatar uploads
	// do, for forms posted by browsers).
	redirect bool
}

var (
	// imageUpload is an avatar: an image of a format the pipeline reads.
	imageUpload = &uploadKind{types: allowedTypes, redirect: true}
	// sheetUpload is a spreadsheet: CSV or XLSX, whatever a browser calls
	// it (text/plain, application/vnd.ms-excel, application/octet-stream).
	sheetUpload = &uploadKind{}
)

var (
	public   = access{public: true}
	signedIn = access{}
)

func need(r roster.Right) access { return access{right: r} }

// session is a, made for a password session only.
func (a access) session() access {
	a.sessionOnly = true
	return a
}

// callRoute is a registered call and who may make it.
type callRoute struct {
	name   string
	access access
}

// handle registers a call under the base path, with and without a trailing
// slash, for every method.
func (s *Server) handle(name string, a access, h handler) {
	s.calls = append(s.calls, callRoute{name: name, access: a})
	fn := func(w http.ResponseWriter, r *http.Request) { s.serveCall(w, r, name, a, h) }
	s.mux.HandleFunc(s.opts.BasePath+"/"+name, fn)
	s.mux.HandleFunc(s.opts.BasePath+"/"+name+"/", func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimSuffix(r.URL.Path, "/") != s.opts.BasePath+"/"+name {
			s.notFound(w, r)
			return
		}
		fn(w, r)
	})
}

// serveCall is the edge every call passes: decode the parameters, find the
// caller and check the right before any work, run the handler, and write
// the Navixy envelope.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, name string, a access, h handler) {
	infoOf(r).call = name
	if ok, wait := s.limits.perIP.take(s.clientKey(r), 1); !ok {
		s.writeError(w, r, rateLimited(wait))
		return
	}
	// An upload's caller is authorized as its file part arrives (see gate).
	g := &gate{s: s, w: w, r: r, a: a}
	defer g.free()
	p, err := g.decode()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var redirect string
	if a.upload != nil && a.upload.redirect {
		if rt := p.String("redirect_target", false); rt != nil && *rt != "" {
			if !validRedirect(*rt) {
				s.writeError(w, r, failParam(codeInvalidParams, "redirect_target", "must be an absolute http or https URL"))
				return
			}
			redirect = *rt
		}
		if err := p.Err(); err != nil {
			s.writeError(w, r, err) // redirect_target is not valid UTF-8
			return
		}
	}
	c, err := g.authorize(p)
	g.release()
	if err != nil {
		// No redirect before the caller is known: a stranger's link must
		// not send a browser on to where it likes.
		s.writeError(w, r, err)
		return
	}
	res, err := h(c)
	if redirect != "" {
		s.redirect(w, r, redirect, res, err)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w, res)
}

// authorize finds the caller of a call that needs a session, refuses an
// API key on a session-only call, and checks the right, before any other
// work is done.
func (s *Server) authorize(c *call, a access) error {
	if a.public {
		return nil
	}
	key, ok := c.params.hash(c.r)
	if !ok || !roster.ValidKey(key) {
		return fail(codeWrongHash, nil)
	}
	caller, err := s.db.Caller(c.r.Context(), roster.KeyDigest(key), s.opts.Now())
	if err != nil {
		return err
	}
	if !caller.User.Activated {
		return fail(codeAccessDenied, errors.New("sub-user not activated"))
	}
	if ok, wait := s.limits.perUser.take(strconv.FormatInt(caller.User.ID, 10), 1); !ok {
		return rateLimited(wait)
	}
	if a.sessionOnly && caller.APIKeyID != 0 {
		// As in Navixy: the key is valid, but not a session; charged to
		// the user like any call.
		return fail(codeNoSession, errors.New("API key on a session-only call"))
	}
	if a.right != "" && !caller.Can(a.right) {
		return fail(codeNotPermitted, fmt.Errorf("right %s", a.right))
	}
	c.caller = caller
	c.r = c.r.WithContext(roster.WithCaller(c.r.Context(), caller))
	return nil
}

// body is a whole answer the handler has encoded itself, for results that
// the store gives as JSON.
type body []byte

// envelope marshals {"success": true, ...res}.
func envelope(res any) ([]byte, error) {
	switch res := res.(type) {
	case nil:
		return []byte(`{"success":true}`), nil
	case body:
		return res, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("result %T is not an object", res)
	}
	if len(b) == 2 {
		return []byte(`{"success":true}`), nil
	}
	return append([]byte(`{"success":true,`), b[1:]...), nil
}

func writeOK(w http.ResponseWriter, res any) {
	if st, ok := res.(stream); ok {
		st(w)
		return
	}
	b, err := envelope(res)
	if err != nil {
		panic(err) // a programming error: results are structs and maps
	}
	writeJSON(w, http.StatusOK, b)
	recycle(res)
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	jsonHeaders(w)
	w.WriteHeader(status)
	w.Write(b)
}

// jsonHeaders are the headers of every JSON answer.
func jsonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

type errorBody struct {
	Success bool         `json:"success"`
	Status  errorStatus  `json:"status"`
	Errors  []paramError `json:"errors,omitempty"`
}

type errorStatus struct {
	Code        int    `json:"code"`
	Description string `json:"description"`
}

type paramError struct {
	Parameter string `json:"parameter"`
	Error     string `json:"error"`
}

// failure turns an error into the Navixy error body and its HTTP status,
// logging what the client is not told.
//
// A call whose client went away is not a failure of the server: it is
// logged at info as cancelled, and answered (to no one) with
// statusClientGone, which the request log and metrics record instead of a
// 5xx.
func (s *Server) failure(r *http.Request, err error) (errorBody, int) {
	e := classify(err)
	info := infoOf(r)
	info.code = e.code
	st := statuses[e.code]
	if clientGone(r) && !errors.Is(err, errSlowBody) {
		info.code = statusClientGone
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "call cancelled: the client went away", slog.String("request_id", info.id),
			slog.String("call", info.call), slog.Int("code", e.code), slog.Any("error", err))
		return errorBody{Status: errorStatus{Code: e.code, Description: st.description}}, statusClientGone
	}
	if st.http >= 500 {
		s.log.LogAttrs(r.Context(), slog.LevelError, "call failed", slog.String("request_id", info.id),
			slog.String("call", info.call), slog.Int("code", e.code), slog.Any("error", err))
	}
	body := errorBody{Status: errorStatus{Code: e.code, Description: st.description}}
	for _, p := range e.params {
		body.Errors = append(body.Errors, paramError{Parameter: p.Parameter, Error: p.Reason})
	}
	return body, httpStatus(info.call, e.code)
}

// statusClientGone is the status and code recorded for a request whose
// client went away before its answer: nginx's 499, outside both the HTTP
// and the Navixy tables, so it is counted neither as an error nor as a
// success.
const statusClientGone = 499

// clientGone reports whether the request's client has gone away (its
// connection closed), so nothing it is answered will be read.
func clientGone(r *http.Request) bool {
	return errors.Is(r.Context().Err(), context.Canceled)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body, status := s.failure(r, err)
	b, _ := json.Marshal(body)
	var rl *rateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.wait.Seconds()))))
	}
	writeJSON(w, status, b)
}

// rateLimitError is a refusal for going over a rate limit; wait is how long
// until a retry can succeed (the Retry-After header).
type rateLimitError struct{ wait time.Duration }

func (e *rateLimitError) Error() string { return "rate limit exceeded" }

func rateLimited(wait time.Duration) error {
	return &apiError{code: codeRateLimited, cause: &rateLimitError{wait: max(wait, time.Second)}}
}

// signInThrottled is user/auth's refusal past the sign-in throttle: Navixy
// answers too many attempts with 105 (HTTP 400), and the Retry-After
// header says when the next attempt can be checked.
func signInThrottled(wait time.Duration) error {
	return &apiError{code: codeLoginAttempts, cause: &rateLimitError{wait: max(wait, time.Second)}}
}

// validRedirect accepts only absolute http and https URLs.
func validRedirect(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// redirect answers 302 to target?response=<the JSON answer>, for success
// and errors alike, as Navixy's upload does.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, target string, res any, err error) {
	var b []byte
	if err != nil {
		body, _ := s.failure(r, err)
		b, _ = json.Marshal(body)
	} else {
		var merr error
		if b, merr = envelope(res); merr != nil {
			panic(merr)
		}
	}
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i] // a fragment would swallow the response
	}
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	w.Header().Set("Location", target+sep+"response="+url.QueryEscape(string(bytes.TrimSpace(b))))
	w.WriteHeader(http.StatusFound)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "404 page not found", http.StatusNotFound)
}
