package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"roster/internal/sqlstore/sqltest"
)

// previousRelease holds installations the previous release made through its
// CLI and API, with what it answered to every read; make.sh beside them
// re-creates them.
const previousRelease = "testdata/release-1678fc9"

// TestPreviousRelease: today's Roster starts on an installation of the
// previous release, migrating it, and answers every read as that release
// did, plus the fields added since at their defaults (ssn "",
// driver_license_issue_date null, a location's radius 0); sign-ins, API
// keys and avatars keep working.
func TestPreviousRelease(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(previousRelease, dialect)
			var fixture struct {
				Release string
				Answers map[string]json.RawMessage
			}
			b, err := os.ReadFile(filepath.Join(dir, "fixture.json"))
			if err == nil {
				err = json.Unmarshal(b, &fixture)
			}
			if err != nil || len(fixture.Answers) == 0 {
				t.Fatalf("reading the fixture: %v", err)
			}
			data := t.TempDir()
			if err := os.CopyFS(filepath.Join(data, "files"), os.DirFS(filepath.Join(dir, "files"))); err != nil {
				t.Fatal(err)
			}
			db := "sqlite:" + filepath.Join(data, "roster.db")
			if dialect == "sqlite" {
				copyFile(t, filepath.Join(dir, "roster.db"), filepath.Join(data, "roster.db"))
			} else {
				db = sqltest.PostgresURL(t)
				loadDump(t, db, filepath.Join(dir, "dump.sql"))
			}
			s := startServer(t, []string{"--data", data, "--db", db, "--files", "file:" + filepath.Join(data, "files")}, nil)
			if s.admin != "" {
				t.Fatalf("the server took the release's database for an empty one:\n%s", s.stdout)
			}

			text := func(key string) string {
				var v string
				if err := json.Unmarshal(fixture.Answers[key], &v); err != nil {
					t.Fatalf("fixture %s: %v", key, err)
				}
				return v
			}
			hashes := map[string]string{}
			// Every tag id the release's employees carried is a tag now:
			// the first account to carry an id keeps it, another carrying
			// the same gets a new tag of its own, named after the old id.
			retag := map[string]map[int64]int64{}
			for _, master := range []string{"admin", "fleet"} {
				hashes[master] = login(t, s.api, master, text("password "+master))
				retag[master] = map[int64]int64{}
				for _, item := range ok(t, s.api, "tag/list", map[string]any{"hash": hashes[master]}).body["list"].([]any) {
					tag := item.(map[string]any)
					var old int64
					if _, err := fmt.Sscanf(tag["name"].(string), "Tag %d", &old); err != nil || tag["color"] != "808080" {
						t.Errorf("%s has tag %v, want a grey placeholder named Tag <id>", master, tag)
					}
					retag[master][old] = int64(tag["id"].(float64))
				}
			}
			if want := map[int64]int64{1: 1, 2: 2, 3: 3}; !maps.Equal(retag["admin"], want) {
				t.Errorf("admin's placeholder tags (old id: id) = %v, want %v", retag["admin"], want)
			}
			if len(retag["fleet"]) != 3 || retag["fleet"][1] <= 3 || retag["fleet"][2] <= 3 || retag["fleet"][3] <= 3 {
				t.Errorf("fleet's placeholder tags (old id: id) = %v, want 1, 2 and 3 under new ids", retag["fleet"])
			}
			checked := 0
			for _, key := range slices.Sorted(maps.Keys(fixture.Answers)) {
				who, call, _ := strings.Cut(key, " ")
				switch who {
				case "password", "api_key":
					continue
				case "avatar":
					sum := sha256.Sum256(getStatic(t, s.api, call))
					if got, want := hex.EncodeToString(sum[:]), text(key); got != want {
						t.Errorf("avatar %s has SHA-256 %s, the release served %s", call, got, want)
					}
					checked++
					continue
				}
				if hashes[who] == "" {
					hashes[who] = login(t, s.api, who, text("password "+who))
				}
				params := map[string]any{"hash": hashes[who]}
				if c, id, ok := strings.Cut(call, " "); ok {
					call = c
					n, _ := strconv.ParseInt(id, 10, 64)
					params["employee_id"] = n
				}
				got := ok(t, s.api, call, params).raw
				account := "admin"
				if strings.Contains(who, "fleet") {
					account = "fleet"
				}
				sameAsRelease(t, key, fixture.Answers[key], got, strings.HasPrefix(call, "employee/") || call == "department/list", retag[account])
				checked++
			}
			if checked < 30 {
				t.Errorf("the fixture held only %d answers to check", checked)
			}

			// The release's API keys still open the account; its hardware
			// keys are now each one employee's.
			for _, master := range []string{"admin", "fleet"} {
				key := text("api_key " + master)
				got := ok(t, s.api, "employee/list", map[string]any{"hash": key}).raw
				sameAsRelease(t, master+" employee/list by API key", fixture.Answers[master+" employee/list"], got, true, retag[master])
			}
			r := do(t, s.api, formJSON, "employee/create", map[string]any{"hash": hashes["admin"],
				"employee": map[string]any{"first_name": "Twin", "hardware_key": "ibutton-1"}})
			check(t, "employee/create with a key the release gave an employee", r, 247)
			id := ok(t, s.api, "employee/create", map[string]any{"hash": hashes["admin"], "employee": map[string]any{
				"first_name": "New", "ssn": "1", "driver_license_issue_date": "2020-01-01",
				"location": map[string]any{"lat": 1, "lng": 2, "address": "", "radius": 9}}}).int("id")
			v := ok(t, s.api, "employee/read", map[string]any{"hash": hashes["admin"], "employee_id": id}).raw
			if !bytes.Contains(v, []byte(`"ssn":"1"`)) || !bytes.Contains(v, []byte(`"radius":9}`)) {
				t.Errorf("an employee written after the migration reads %s", v)
			}
		})
	}
}

// sameAsRelease compares today's answer with the release's, the release's
// employees and locations given the fields added since at their defaults.
// With exact, the answers must be equal; otherwise today's may carry
// members the release's did not (fields that later migrations add to
// other objects), and every member the release's had must be equal. The
// release's employees' tags are read through retag, the account's old
// tag ids and the tags they became.
func sameAsRelease(t *testing.T, what string, release, today []byte, exact bool, retag map[int64]int64) {
	t.Helper()
	decode := func(b []byte) any {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v in %s", what, err, b)
		}
		return v
	}
	want, got := withNewFields(decode(release), retag), decode(today)
	if !exact {
		got = only(got, want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s differs from the release's answer (-release +today):\n%s", what, diff)
	}
}

// withNewFields gives the employees and locations in a release answer the
// fields added since, at the values they read as for such rows, and the
// employees' tags as retag renumbered them.
func withNewFields(v any, retag map[int64]int64) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = withNewFields(e, retag)
		}
		_, employee := v["first_name"]
		if _, ok := v["driver_license_cats"]; employee && ok {
			v["driver_license_issue_date"], v["ssn"] = nil, ""
			tags, _ := v["tags"].([]any)
			for i, tag := range tags {
				old, _ := tag.(json.Number).Int64()
				tags[i] = json.Number(strconv.FormatInt(retag[old], 10))
			}
		}
		if _, ok := v["lat"]; ok {
			v["radius"] = json.Number("0")
		}
	case []any:
		for i, e := range v {
			v[i] = withNewFields(e, retag)
		}
	}
	return v
}

// only keeps of got the members want has, at every depth.
func only(got, want any) any {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return got
		}
		out := map[string]any{}
		for k, wv := range w {
			if gv, ok := g[k]; ok {
				out[k] = only(gv, wv)
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return got
		}
		out := make([]any, len(g))
		for i := range g {
			out[i] = only(g[i], w[i])
		}
		return out
	}
	return got
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err == nil {
		err = os.WriteFile(to, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// loadDump runs a plain SQL dump in the database (the schema its URL's
// search_path names).
func loadDump(t *testing.T, url, path string) {
	t.Helper()
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), string(dump)); err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM employees`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("the dump loaded %d employees, %v", n, err)
	}
}
