package api

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"roster/internal/avatar"
	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// An avatarOwner is an entity that has avatars, as Navixy gives several
// (employees, tags; vehicles, places and trackers have the same calls):
// {entity}/avatar/assign and {entity}/avatar/upload, naming it by idParam,
// guarded by right, its files served at /static/{entity}/avatars/{name}.
// Routes, handlers, the OpenAPI document and metrics labels are made from
// this table, and the store's kind is what the sweep asks about: a new
// owner is one entry here and its sqlstore.AvatarKind.
type avatarOwner struct {
	entity  string
	idParam string
	right   roster.Right
	kind    sqlstore.AvatarKind
}

// staticLabel is the owner's static route below the base path, and its
// call label in logs and metrics.
func (o avatarOwner) staticLabel() string { return "static/" + o.entity + "/avatars" }

// staticRoute finds the owner and stored name of a GET or HEAD of a
// static avatar in its one canonical spelling, {base}/static/{entity}/
// avatars/{name} with a stored name: the most frequent request, answered
// without the mux's routing. Anything else goes through the mux, which
// cleans, redirects and refuses as for any route.
func (s *Server) staticRoute(r *http.Request) (label, name string, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, s.opts.BasePath+"/static/")
	if !ok {
		return "", "", false
	}
	entity, rest, _ := strings.Cut(rest, "/")
	name, ok = strings.CutPrefix(rest, "avatars/")
	if !ok || !isStoredName(name) {
		return "", "", false
	}
	label, ok = staticLabels[entity]
	return label, name, ok
}

// staticLabels are the owners' static labels by entity.
var staticLabels = func() map[string]string {
	m := map[string]string{}
	for _, o := range avatarOwners {
		m[o.entity] = o.staticLabel()
	}
	return m
}()

var avatarOwners = []avatarOwner{
	{entity: "employee", idParam: "employee_id", right: roster.RightEmployeeUpdate, kind: sqlstore.EmployeeAvatars},
	{entity: "tag", idParam: "tag_id", right: roster.RightTagUpdate, kind: sqlstore.TagAvatars},
}

// avatarRoutes registers each owner's two calls and its static route.
func (s *Server) avatarRoutes() {
	for _, o := range avatarOwners {
		s.handle(o.entity+"/avatar/assign", need(o.right), s.avatarAssign(o))
		s.handle(o.entity+"/avatar/upload", access{right: o.right, upload: imageUpload}, s.avatarUpload(o))
		// Canonical paths of stored names are answered by staticRoute
		// before the mux; this route answers every other spelling.
		label := o.staticLabel()
		s.mux.HandleFunc("GET "+s.opts.BasePath+"/"+label+"/{name}", func(w http.ResponseWriter, r *http.Request) {
			info := infoOf(r)
			info.call, info.quiet = label, true
			s.staticAvatar(w, r, info, r.PathValue("name"))
		})
	}
}

// avatarAssign sets an owner's icon_id; null (or absent) means "show the
// uploaded avatar instead". avatar_file_name is not touched.
func (s *Server) avatarAssign(o avatarOwner) handler {
	return func(c *call) (any, error) {
		id := c.params.ID(o.idParam, true)
		icon := c.params.ID("icon_id", false)
		if err := c.params.Err(); err != nil {
			return nil, err
		}
		return nil, s.db.SetIcon(c.r.Context(), o.kind, c.caller.Account(), *id, icon)
	}
}

// allowedTypes are the MIME types an upload's file part may declare, as
// Navixy takes them. The declaration only gates: the bytes decide the
// format, so a WebP declared as image/png is read as the WebP it is.
var allowedTypes = []string{"image/jpeg", "image/pjpeg", "image/png", "image/gif", "image/webp"}

// avatarUpload stores a new avatar for an owner. The order of work keeps
// every committed state whole: check the request, clean the image, write
// the new file, commit the database change, and only then delete the
// previous file. A crash between steps leaves at most an unreferenced file,
// which the sweep removes.
func (s *Server) avatarUpload(o avatarOwner) handler {
	return func(c *call) (any, error) { return s.upload(c, o) }
}

func (s *Server) upload(c *call, o avatarOwner) (any, error) {
	p := c.params
	id := p.ID(o.idParam, true)
	if err := p.Err(); err != nil {
		return nil, err
	}
	f := p.file
	if f == nil {
		return nil, failParam(codeNoFile, "file", "the request has no file part named file")
	}
	mt, _, _ := mime.ParseMediaType(f.contentType)
	if !slices.Contains(allowedTypes, strings.ToLower(mt)) {
		return nil, failParam(codeInvalidFile, "file",
			fmt.Sprintf("declared type %q is not one of %s", truncate(f.contentType, 60), strings.Join(allowedTypes, ", ")))
	}
	ctx := c.r.Context()
	account := c.caller.Account()
	// The owner must exist before the image is worth decoding.
	if err := s.db.AvatarOwnerExists(ctx, o.kind, account, *id); err != nil {
		return nil, err
	}
	s.metrics.uploadBytes.Add(float64(len(f.data)))
	lim := avatar.Limits{MaxPixels: s.opts.MaxPixels, MaxFrames: s.opts.MaxFrames, MaxSide: s.opts.MaxSide}
	img, err := s.process(ctx, account, func() (int64, error) { return avatar.ProcessCost(f.data, lim) },
		func() (avatar.Image, error) { return avatar.Process(f.data, lim) })
	if err != nil {
		return nil, err
	}
	name, err := newAvatarName(img.Format)
	if err != nil {
		return nil, fail(codeUnexpected, err)
	}
	if err := s.files.Put(ctx, name, img.Data); err != nil {
		return nil, fail(codeCannotSave, err)
	}
	previous, err := s.db.SetAvatar(ctx, o.kind, account, *id, name)
	if err != nil {
		s.deleteAvatarFiles(context.WithoutCancel(ctx), name)
		return nil, err
	}
	if previous != nil {
		s.deleteAvatarFiles(context.WithoutCancel(ctx), *previous)
	}
	return valueResult{Value: name}, nil
}

// process runs image work once it is admitted: its memory estimated from
// the headers and reserved from the budget, then a decode worker of the
// account's fair share. A picture that could never fit the budget is
// refused with 234 saying so.
func (s *Server) process(ctx context.Context, account int64, estimate func() (int64, error), work func() (avatar.Image, error)) (avatar.Image, error) {
	need, err := estimate()
	if err != nil {
		return avatar.Image{}, imageError(err)
	}
	done, err := s.admit(ctx, account, need)
	var over *errOverBudget
	if errors.As(err, &over) {
		return avatar.Image{}, &avatar.RejectError{Reason: "image is too large: it " + over.Error()}
	}
	if err != nil {
		return avatar.Image{}, err
	}
	defer done()
	start := time.Now()
	img, err := work()
	s.metrics.uploadSeconds.Observe(time.Since(start).Seconds())
	return img, imageError(err)
}

// imageError keeps the pipeline's refusals (234 with their reason) and
// makes anything else an internal failure.
func imageError(err error) error {
	var re *avatar.RejectError
	if err != nil && !errors.As(err, &re) {
		return fail(codeUnexpected, err)
	}
	return err
}

// deleteAvatarFiles deletes a stored avatar and its renditions. It buries
// the name first, before the caller answers: from then on this node serves
// none of them, and a rendition being made meanwhile is deleted by its
// maker (keepRendition). A failure is logged and left to the sweep, which
// removes files no owner references.
func (s *Server) deleteAvatarFiles(ctx context.Context, name string) {
	s.cache.bury(name, time.Now())
	for _, n := range avatarKeys(name) {
		if err := s.files.Delete(ctx, n); err != nil {
			s.log.Warn("deleting avatar file; the sweep will retry", "error", err)
			return
		}
	}
}

func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n] + "…"
	}
	return s
}
