package main

import (
	"bytes"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

func (s session) createTag(t *testing.T, name, color string) int64 {
	t.Helper()
	return s.ok(t, "tag/create", map[string]any{"tag": map[string]any{"name": name, "color": color}}).int("id")
}

// someTags makes n tags of the session's account, for employees to carry.
func (s session) someTags(t *testing.T, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = s.createTag(t, "Tag "+strconv.Itoa(i), "808080")
	}
	return ids
}

// wantTag is a tag as every answer gives it: icon_id and
// avatar_file_name null until the avatar calls set them.
func wantTag(id int64, name, color string) map[string]any {
	return map[string]any{"id": id, "name": name, "color": color, "icon_id": nil, "avatar_file_name": nil}
}

// tagCallCases are TestCalls' cases of the tag family.
var tagCallCases = []callCase{
	{"tag/list", func(t *testing.T, st *stack) func(*testing.T, form) {
		a := st.newAccount(t)
		red := a.createTag(t, "Straße Nord", "FF0000")
		blue := a.createTag(t, "Depot", "0000ff")
		green := a.createTag(t, "STRASSE Süd", "00FF00")
		st.newAccount(t).createTag(t, "Straße of another account", "FF0000")
		return func(t *testing.T, f form) {
			r := a.want(t, f, "tag/list", nil, 0)
			same(t, "tag/list", r.body["list"], []any{wantTag(red, "Straße Nord", "FF0000"), wantTag(blue, "Depot", "0000ff"),
				wantTag(green, "STRASSE Süd", "00FF00")})
			if r.body["count"] != float64(3) {
				t.Errorf("tag/list count = %v, want 3", r.body["count"])
			}
			// The filter folds case both ways, as employee/list's does.
			r = a.want(t, f, "tag/list", map[string]any{"filter": "strasse"}, 0)
			same(t, "tag/list filtered", r.body["list"], []any{wantTag(red, "Straße Nord", "FF0000"), wantTag(green, "STRASSE Süd", "00FF00")})
			same(t, "tag/list with a null filter", a.want(t, f, "tag/list", map[string]any{"filter": nil}, 0).body["list"],
				a.want(t, f, "tag/list", nil, 0).body["list"])
			a.want(t, f, "tag/list", map[string]any{"filter": "ab"}, 7)
			a.want(t, f, "tag/list", map[string]any{"filter": string(make([]byte, 61))}, 7)
		}
	}},
	{"tag/create", each(func(t *testing.T, st *stack, f form) {
		id := st.master.want(t, f, "tag/create", map[string]any{"tag": map[string]any{
			"name": "Night shift", "color": "#00BFFF", "id": 999, "icon_id": 5, "avatar_file_name": "0123456789abcdef0123456789abcdef.png"}}, 0).int("id")
		same(t, "created tag", st.master.find(t, "tag/list", id), wantTag(id, "Night shift", "00BFFF"))
		for _, bad := range []map[string]any{
			{"name": "", "color": "FF0000"},
			{"name": "x", "color": "red"},
			{"name": "x", "color": "FF00001"},
			{"name": string(make([]rune, 61)), "color": "FF0000"},
			{"color": "FF0000"},
		} {
			st.master.want(t, f, "tag/create", map[string]any{"tag": bad}, 7)
		}
		st.master.want(t, f, "tag/create", nil, 7)
	})},
	{"tag/update", each(func(t *testing.T, st *stack, f form) {
		id := st.master.createTag(t, "Old", "111111")
		st.master.want(t, f, "tag/update", map[string]any{"tag": map[string]any{"id": id, "name": "New", "color": "abcdef",
			"avatar_file_name": "0123456789abcdef0123456789abcdef.png", "icon_id": 3}}, 0)
		same(t, "updated tag", st.master.find(t, "tag/list", id), wantTag(id, "New", "abcdef"))
		st.master.want(t, f, "tag/update", map[string]any{"tag": map[string]any{"id": 999999, "name": "X", "color": "000000"}}, 201)
		st.master.want(t, f, "tag/update", map[string]any{"tag": map[string]any{"id": id, "name": "X", "color": "0000"}}, 7)
		same(t, "tag after refused updates", st.master.find(t, "tag/list", id), wantTag(id, "New", "abcdef"))
	})},
	{"tag/delete", each(func(t *testing.T, st *stack, f form) {
		one := st.master.createTag(t, "One", "111111")
		two := st.master.createTag(t, "Two", "222222")
		three := st.master.createTag(t, "Three", "333333")
		keep := st.master.createTag(t, "Keep", "444444")
		st.master.want(t, f, "tag/delete", map[string]any{"tag_id": one}, 0)
		st.master.want(t, f, "tag/delete", map[string]any{"tag_id": one}, 201)
		st.master.want(t, f, "tag/delete", map[string]any{"tag_ids": []int64{two, 999999, three}}, 0) // unknown ids are skipped
		r := st.master.want(t, f, "tag/delete", nil, 7)
		if got := errorParams(r); !slices.Equal(got, []string{"has_at_least_one_tag_id"}) {
			t.Errorf("tag/delete with neither id names %v, want [has_at_least_one_tag_id]", got)
		}
		st.master.want(t, f, "tag/delete", map[string]any{"tag_id": keep, "tag_ids": []int64{keep}}, 7)
		for _, id := range []int64{one, two, three} {
			if got := st.master.find(t, "tag/list", id); got != nil {
				t.Errorf("tag/list after delete still has %v", got)
			}
		}
		if st.master.find(t, "tag/list", keep) == nil {
			t.Errorf("tag %d, refused deletes, is gone", keep)
		}
	})},
	{"tag/search", func(t *testing.T, st *stack) func(*testing.T, form) {
		a := st.newAccount(t)
		x, y, z := a.createTag(t, "x", "000000"), a.createTag(t, "y", "000000"), a.createTag(t, "z", "000000")
		both := a.createEmployee(t, map[string]any{"first_name": "Both", "tags": []int64{y, x}})
		onlyX := a.createEmployee(t, map[string]any{"first_name": "OnlyX", "tags": []int64{x}})
		a.createEmployee(t, map[string]any{"first_name": "None"})
		return func(t *testing.T, f form) {
			r := a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x, y}}, 0)
			res, _ := r.body["result"].(map[string]any)
			same(t, "tag/search(x, y) employees", ids(res["employee"].([]any)), []int64{both})
			for _, g := range []string{"place", "task", "task_schedule", "vehicle", "zone", "tracker"} {
				if l, ok := res[g].([]any); !ok || len(l) != 0 {
					t.Errorf("tag/search group %s = %v, want []", g, res[g])
				}
			}
			same(t, "the employee tag/search answers", res["employee"].([]any)[0], a.readEmployee(t, both))
			res, _ = a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x}}, 0).body["result"].(map[string]any)
			same(t, "tag/search(x) employees", ids(res["employee"].([]any)), []int64{both, onlyX})
			res, _ = a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{z}}, 0).body["result"].(map[string]any)
			same(t, "tag/search(z) employees", res["employee"], []any{})
			r = a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x}, "entity_types": []string{"vehicle", "employee"}}, 0)
			same(t, "tag/search for vehicles and employees", r.body["result"], map[string]any{
				"vehicle": []any{}, "employee": []any{a.readEmployee(t, both), a.readEmployee(t, onlyX)}})
			r = a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x}, "entity_types": []string{"zone"}}, 0)
			same(t, "tag/search for zones", r.body["result"], map[string]any{"zone": []any{}})
			a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{}}, 7)
			a.want(t, f, "tag/search", nil, 7)
			a.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x}, "entity_types": []string{"planet"}}, 7)
			// Another account's tag finds none of this one's employees.
			other := st.newAccount(t)
			res, _ = other.want(t, f, "tag/search", map[string]any{"tag_ids": []int64{x}}, 0).body["result"].(map[string]any)
			same(t, "another account's tag/search", res["employee"], []any{})
		}
	}},
}

// tagGolden is TestGolden's scenario of the tag family.
var tagGolden = []goldenStep{
	okStep("tag/create", func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/create", map[string]any{"tag": map[string]any{"name": "Night shift", "color": "#00BFFF"}})
	}),
	failStep("tag/create", 7, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/create", map[string]any{"tag": map[string]any{"name": "", "color": "blue"}})
	}),
	okStep("tag/update", func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/update", map[string]any{"tag": map[string]any{"id": 1, "name": "Nights", "color": "0000FF"}})
	}),
	failStep("tag/update", 201, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/update", map[string]any{"tag": map[string]any{"id": 99, "name": "None", "color": "000000"}})
	}),
	okStep("tag/list", func(t *testing.T, st *stack) result {
		st.master.createTag(t, "Days", "FFD700")
		return st.master.do(t, formJSON, "tag/list", nil)
	}),
	failStep("tag/list", 7, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/list", map[string]any{"filter": "ab"})
	}),
	okStep("tag/search", func(t *testing.T, st *stack) result {
		st.master.createEmployee(t, map[string]any{"first_name": "Ann", "tags": []int64{1, 2}})
		st.master.createEmployee(t, map[string]any{"first_name": "Bob", "tags": []int64{2}})
		return st.master.do(t, formJSON, "tag/search", map[string]any{"tag_ids": []int64{1, 2}})
	}),
	failStep("tag/search", 7, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/search", map[string]any{"tag_ids": []int64{}})
	}),
	okStep("tag/avatar/assign", func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/avatar/assign", map[string]any{"tag_id": 2, "icon_id": 3654})
	}),
	failStep("tag/avatar/assign", 201, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/avatar/assign", map[string]any{"tag_id": 99, "icon_id": 1})
	}),
	okStep("tag/delete", func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/delete", map[string]any{"tag_ids": []int64{1, 99}})
	}),
	failStep("tag/delete", 7, func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/delete", nil)
	}),
	{call: "tag/delete", file: "tag_delete.missing.err", code: 201, do: func(t *testing.T, st *stack) result {
		return st.master.do(t, formJSON, "tag/delete", map[string]any{"tag_id": 1})
	}},
	{call: "tag/delete", file: "tag_delete.right.err", code: 13, do: func(t *testing.T, st *stack) result {
		return st.subUser(t, st.master, nil).do(t, formJSON, "tag/delete", map[string]any{"tag_id": 2})
	}},
}

// TestEmployeeTags: an employee carries only tags of its account (201
// otherwise, changing nothing), and deleting a tag takes it off every
// employee carrying it, in every answer that shows employees.
func TestEmployeeTags(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		a, other := st.newAccount(t), st.newAccount(t)
		x, y, z := a.createTag(t, "x", "000000"), a.createTag(t, "y", "000000"), a.createTag(t, "z", "000000")
		foreign := other.createTag(t, "theirs", "000000")
		ann := a.createEmployee(t, map[string]any{"first_name": "Ann", "tags": []int64{x, y, z}})
		bob := a.createEmployee(t, map[string]any{"first_name": "Bob", "tags": []int64{y}})
		theirs := other.createEmployee(t, map[string]any{"first_name": "Them", "tags": []int64{foreign}})

		before := a.snapshot(t)
		for _, tags := range [][]int64{{foreign}, {x, foreign}, {999999}} {
			a.want(t, formJSON, "employee/create", map[string]any{"employee": map[string]any{"first_name": "New", "tags": tags}}, 201)
			a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": bob, "first_name": "Bob", "tags": tags}}, 201)
		}
		if after := a.snapshot(t); after != before {
			t.Errorf("refused writes with another account's tags changed the account:\nbefore %s\nafter %s", before, after)
		}

		a.want(t, formJSON, "tag/delete", map[string]any{"tag_ids": []int64{y, z}}, 0)
		same(t, "Ann's tags after y and z are deleted", a.readEmployee(t, ann)["tags"], []int64{x})
		same(t, "Bob's tags after y is deleted", a.readEmployee(t, bob)["tags"], []int64{})
		for _, e := range a.list(t, "employee/list", nil) {
			if m := e.(map[string]any); m["id"] == float64(ann) {
				same(t, "Ann in employee/list", m["tags"], []int64{x})
			}
		}
		res, _ := a.want(t, formJSON, "tag/search", map[string]any{"tag_ids": []int64{x}}, 0).body["result"].(map[string]any)
		same(t, "tag/search(x) after the deletes", ids(res["employee"].([]any)), []int64{ann})
		same(t, "Ann as tag/search answers her", res["employee"].([]any)[0], a.readEmployee(t, ann))
		// A tag id is never reused: a new tag does not bring a deleted one back.
		if n := a.createTag(t, "new", "000000"); n == y || n == z {
			t.Errorf("a new tag took the id %d of a deleted one", n)
		}
		// The other account's employee keeps its tag.
		same(t, "another account's employee", other.readEmployee(t, theirs)["tags"], []int64{foreign})
		a.want(t, formJSON, "employee/update", map[string]any{"employee": map[string]any{"id": bob, "first_name": "Bob", "tags": []int64{y}}}, 201)

		// More employees than one buffered answer holds: the answer is
		// streamed, and whole.
		many := []int64{ann}
		for i := range 205 {
			many = append(many, a.createEmployee(t, map[string]any{"first_name": "Many " + strconv.Itoa(i), "tags": []int64{x}}))
		}
		r := a.want(t, formGET, "tag/search", map[string]any{"tag_ids": []int64{x}, "entity_types": []string{"employee", "tracker"}}, 0)
		res, _ = r.body["result"].(map[string]any)
		if list, _ := res["employee"].([]any); !slices.Equal(ids(list), many) || len(res) != 2 {
			t.Errorf("streamed tag/search has %d employees and groups %v, want %d employees and employee, tracker", len(list), slices.Collect(maps.Keys(res)), len(many))
		}
	})
}

// uploadTagAvatar uploads an image as the tag's avatar.
func uploadTagAvatar(t *testing.T, s session, tag int64, data []byte, contentType string) result {
	t.Helper()
	return send(t, uploadRequest(t, s.api+"/tag/avatar/upload",
		part{name: "hash", data: []byte(s.hash)},
		part{name: "tag_id", data: []byte(strconv.FormatInt(tag, 10))},
		part{name: "file", filename: "photo", contentType: contentType, data: data}))
}

// TestTagAvatar: a tag's avatar goes through the employees' pipeline
// (cleaning, renditions, deletion with its owner) and is
// served at /static/tag/avatars/{name}; its calls need tag_update.
func TestTagAvatar(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		st := newStack(t, b)
		a := st.newAccount(t)
		tag := a.createTag(t, "Pictured", "00BFFF")
		r := uploadTagAvatar(t, a, tag, corpus(t, "exif-orient6.jpg"), "image/jpeg")
		first, _ := r.body["value"].(string)
		if r.code() != 0 || !storedName.MatchString(first) {
			t.Fatalf("tag/avatar/upload = %d %s, want a stored name", r.status, r.raw)
		}
		same(t, "tag after upload", a.find(t, "tag/list", tag), with(wantTag(tag, "Pictured", "00BFFF"), map[string]any{"avatar_file_name": first}))
		static := func(name, query string, h ...string) result {
			req := mustRequest(t, http.MethodGet, a.api+"/static/tag/avatars/"+name+query, nil)
			for i := 0; i+1 < len(h); i += 2 {
				req.Header.Set(h[i], h[i+1])
			}
			return send(t, req)
		}
		got := static(first, "")
		if got.status != 200 || got.header.Get("Content-Type") != "image/jpeg" ||
			got.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || bytes.Contains(got.raw, []byte("Exif")) {
			t.Errorf("GET /static/tag/avatars/%s = %d %v (Exif kept: %v), want the cleaned JPEG with immutable caching",
				first, got.status, got.header, bytes.Contains(got.raw, []byte("Exif")))
		}
		thumb := static(first, "?size=64")
		if thumb.status != 200 {
			t.Errorf("GET ?size=64 = %d %v, want a rendition", thumb.status, thumb.header)
		} else if img, _, err := image.DecodeConfig(bytes.NewReader(thumb.raw)); err != nil || img.Width > 64 || img.Height > 64 {
			t.Errorf("rendition decodes to %v, %v, want at most 64×64", img, err)
		}
		if got := send(t, mustRequest(t, http.MethodGet, a.api+"/static/place/avatars/"+first, nil)); got.status != 404 {
			t.Errorf("GET /static/place/avatars/ = %d, want 404: places are no owner of avatars", got.status)
		}

		a.want(t, formGET, "tag/avatar/assign", map[string]any{"tag_id": tag, "icon_id": 5}, 0)
		if got := a.find(t, "tag/list", tag)["icon_id"]; got != float64(5) {
			t.Errorf("icon_id after assign = %v, want 5", got)
		}
		a.want(t, formJSON, "tag/avatar/assign", map[string]any{"tag_id": tag, "icon_id": nil}, 0)
		if got := a.find(t, "tag/list", tag); got["icon_id"] != nil || got["avatar_file_name"] != first {
			t.Errorf("tag after assign null = %v, want icon_id null and the upload kept", got)
		}
		// tag/update keeps the avatar.
		a.ok(t, "tag/update", map[string]any{"tag": map[string]any{"id": tag, "name": "Renamed", "color": "000000", "avatar_file_name": nil}})
		if got := a.find(t, "tag/list", tag)["avatar_file_name"]; got != first {
			t.Errorf("avatar_file_name after tag/update = %v, want %s", got, first)
		}

		// A new upload replaces the file; deleting the tag deletes its avatar.
		second, _ := uploadTagAvatar(t, a, tag, corpus(t, "alpha.png"), "image/png").body["value"].(string)
		if second == "" || second == first || static(first, "").status != 404 || static(second, "").status != 200 {
			t.Errorf("after a second upload: first %s served %d, second %q served %d; want 404 and 200", first, static(first, "").status, second, static(second, "").status)
		}
		// Refusals change nothing.
		other := st.newAccount(t)
		for _, tt := range []struct {
			s    session
			tag  int64
			data []byte
			want int
		}{
			{a, 999999, tinyPNG(t), 201},
			{other, tag, tinyPNG(t), 201},
			{a, tag, []byte("<svg/>"), 234},
			{st.subUser(t, a, nil), tag, tinyPNG(t), 13},
			{st.subUser(t, a, a.createGroup(t, "Editors", "employee_update")), tag, tinyPNG(t), 13},
		} {
			if r := uploadTagAvatar(t, tt.s, tt.tag, tt.data, "image/png"); r.code() != tt.want {
				t.Errorf("tag/avatar/upload by %s to tag %d = %s, want %d", tt.s.login, tt.tag, r.raw, tt.want)
			}
		}
		taggers := st.subUser(t, a, a.createGroup(t, "Taggers", "tag_update"))
		taggers.want(t, formJSON, "tag/avatar/assign", map[string]any{"tag_id": tag, "icon_id": 7}, 0)
		other.want(t, formJSON, "tag/avatar/assign", map[string]any{"tag_id": tag, "icon_id": 8}, 201)
		if got := a.find(t, "tag/list", tag); got["avatar_file_name"] != second || got["icon_id"] != float64(7) {
			t.Errorf("tag after refused calls = %v, want avatar %s and icon 7", got, second)
		}
		a.want(t, formJSON, "tag/delete", map[string]any{"tag_id": tag}, 0)
		if got := static(second, ""); got.status != 404 {
			t.Errorf("the deleted tag's avatar is served: %d", got.status)
		}
	})
}
