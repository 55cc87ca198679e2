package api

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// decodeEmployee reads an employee object. Update replaces every writable
// field, as Navixy's does: a field left out becomes null or empty. The
// fields Navixy describes as "may be empty but not null" refuse an explicit
// null (7 naming the field); left out, they are empty as before. icon_id
// and avatar_file_name are never read: only the avatar calls change them.
func decodeEmployee(f fields, withID bool) roster.Employee {
	var e roster.Employee
	if withID {
		// employee_id is accepted as an alias of id.
		name := "id"
		if v, ok := f.get("id"); !ok || v.isNull() {
			if v, ok := f.get("employee_id"); ok && !v.isNull() {
				name = "employee_id"
			}
		}
		if id := f.ID(name, true); id != nil {
			e.ID = *id
		}
	}
	e.TrackerID = f.Int("tracker_id", false)
	e.FirstName = f.Str("first_name", true)
	e.MiddleName = f.NotNull("middle_name")
	e.LastName = f.NotNull("last_name")
	e.Email = f.NotNull("email")
	e.Phone = f.NotNull("phone")
	e.DriverLicenseNumber = f.NotNull("driver_license_number")
	e.DriverLicenseCats = f.Str("driver_license_cats", false)
	e.DriverLicenseIssueDate = f.String("driver_license_issue_date", false)
	e.DriverLicenseValidTill = f.String("driver_license_valid_till", false)
	e.HardwareKey = f.String("hardware_key", false)
	e.DepartmentID = f.Int("department_id", false)
	e.Location = decodeLocation(f, "location")
	e.PersonnelNumber = f.Str("personnel_number", false)
	e.SSN = f.Str("ssn", false)
	e.Tags = f.Ints("tags", false)
	return e
}

func decodeLocation(f fields, name string) *roster.Location {
	obj, ok := f.Object(name, false)
	if !ok {
		return nil
	}
	lat := obj.Float("lat", true)
	lng := obj.Float("lng", true)
	address := obj.Str("address", false)
	// No radius (absent or null) is a radius of 0: the answer always has
	// an integer, as Navixy's description types it.
	var radius int64
	if r := obj.Int("radius", false); r != nil {
		radius = *r
	}
	if lat == nil || lng == nil {
		return nil
	}
	// Adding 0 turns -0 into 0: SQLite drops the sign of a zero and
	// PostgreSQL keeps it, and the answer must not depend on the database.
	return &roster.Location{Lat: *lat + 0, Lng: *lng + 0, Address: address, Radius: radius}
}

// readEmployee reads and checks the employee parameter.
func readEmployee(p *params, withID bool) (roster.Employee, error) {
	var e roster.Employee
	if obj, ok := p.Object("employee", true); ok {
		e = decodeEmployee(obj, withID)
		p.addInvalid(e.Validate("employee"))
	}
	return e, p.Err()
}

func (s *Server) employeeList(c *call) (any, error) {
	p := c.params
	var q roster.ListQuery
	if n := p.Int("limit", false); n != nil {
		if *n < 0 || *n > 1_000_000 {
			p.add("limit", "must be between 0 and 1000000")
		} else {
			q.Limit = int(*n)
		}
	}
	if n := p.Int("offset", false); n != nil {
		if *n < 0 || *n > 1<<31 {
			p.add("offset", "must not be negative")
		} else {
			q.Offset = int(*n)
		}
	}
	q.Sort = readSort(p.fields)
	if f := p.String("filter", false); f != nil {
		var errs roster.InvalidParams
		roster.Text(&errs, "filter", *f, 0, 100)
		*p.errs = append(*p.errs, errs...)
		q.Filter = *f
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	ctx := c.r.Context()
	list, err := s.db.EmployeeList(ctx, c.caller.Account(), q)
	if err != nil {
		return nil, err
	}
	return s.answerList(c, list, q, `{"success":true,"list":`, appendCount)
}

// answerList answers a list of employees: head, the page's array, then
// what tail appends (given the count), from one buffer or, for a long
// page, streamed.
func (s *Server) answerList(c *call, list sqlstore.EmployeeList, q roster.ListQuery, head string, tail func([]byte, int) []byte) (any, error) {
	ctx := c.r.Context()
	total, err := list.Count(ctx)
	if err != nil {
		return nil, err
	}
	if pageRows(q, total) > streamRows {
		return s.streamList(c, list, head, func(b []byte) []byte { return tail(b, total) })
	}
	b, err := list.Stream(ctx, append(newBody(), head...), 0, nil)
	if err != nil {
		return nil, err
	}
	return body(tail(b, total)), nil
}

// streamRows is the longest list answered from one buffer, after the
// connection has been given back; a longer one is streamed. An ordinary
// page of up to 200 (about 80 KB of typical employees, 5 MB at most with
// every field at its longest) stays on the fast path; a whole account of
// thousands costs a 64 KiB buffer instead of its size.
const streamRows = 200

// pageRows is how many employees a list answers, of total that match.
func pageRows(q roster.ListQuery, total int) int {
	n := max(0, total-q.Offset)
	if q.Limit > 0 {
		n = min(n, q.Limit)
	}
	return n
}

func appendCount(b []byte, total int) []byte {
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	return append(b, '}')
}

// listChunk is how much of a streamed list is written at a time.
const listChunk = 64 << 10

// streamList answers a long list as it is read from the database. The
// stream holds a connection until its last row is written, so it first
// takes one of the stream slots (fewer than the connections, shared fairly
// between accounts), waiting as uploads do for a worker and refused with 15
// past that. tail ends the answer (with the count read before, as for a
// buffered page).
func (s *Server) streamList(c *call, list sqlstore.EmployeeList, head string, tail func([]byte) []byte) (any, error) {
	ctx := c.r.Context()
	wctx, cancel := context.WithTimeout(ctx, admitWait)
	release, err := s.streams.acquire(wctx, c.caller.Account())
	cancel()
	if err != nil {
		return nil, s.admitError(ctx, err)
	}
	return stream(func(w http.ResponseWriter) {
		defer release()
		sw := newStreamWriter(w, s.streamLimits)
		buf := newBody()
		defer func() { recycle(body(buf)) }()
		b, err := list.Stream(ctx, append(buf, head...), listChunk, sw)
		if err == nil {
			buf = tail(b)
			err = sw.finish(buf)
		}
		if err != nil {
			s.streamFailed(w, c.r, sw, err)
		}
	}), nil
}

// sortDoc and filterDoc describe employee/list's sort and filter in the
// OpenAPI document.
var sortDoc = "Up to two of field=asc or field=desc (asc when the direction is left out), by " +
	strings.Join(slices.Sorted(maps.Keys(roster.EmployeeSortFields)), ", ") + ". " +
	"Text compares byte by byte (UTF-8), so capitals come before small letters and accented letters after z. " +
	"Null (no department, location, hardware key, date or tracker) comes before every value, and a descending sort " +
	"is the exact reverse of the ascending one; ties are broken by id, in the direction of the last key. " +
	"object_label is the label of the tracker bound to the employee: Roster keeps no trackers, so it is empty " +
	"for everyone and orders by id alone. department_label is the department's label, address the location's."

var filterDoc = "An employee matches when one of its sortable properties contains the text, after Unicode case " +
	"folding of both (STRASSE finds Straße); % and _ are plain characters. The id counts as its decimal text " +
	"(12 matches ids 12, 120 and 312), a date as yyyy-MM-dd, the department by its label; tracker_id and " +
	"department_id do not count, and object_label, always empty, never matches."

// readSort reads up to two sort keys, "field=asc" or "field=desc", given as
// an array of strings (JSON text outside JSON bodies) or as one string.
func readSort(f fields) []roster.SortKey {
	v, ok := f.present("sort", false)
	if !ok {
		return nil
	}
	var items []string
	if strings.HasPrefix(strings.TrimSpace(v.raw), "[") {
		items = f.Strings("sort", false)
	} else if s := f.String("sort", false); s != nil {
		items = []string{*s}
	}
	if len(items) > 2 {
		f.add("sort", "takes at most two fields")
		return nil
	}
	var keys []roster.SortKey
	for _, it := range items {
		field, dir, _ := strings.Cut(it, "=")
		field, dir = strings.TrimSpace(field), strings.ToLower(strings.TrimSpace(dir))
		if _, ok := roster.EmployeeSortFields[field]; !ok {
			f.add("sort", "cannot sort by "+quoteField(field))
			return nil
		}
		if dir != "" && dir != "asc" && dir != "desc" {
			f.add("sort", "direction must be asc or desc")
			return nil
		}
		keys = append(keys, roster.SortKey{Field: field, Desc: dir == "desc"})
	}
	return keys
}

func quoteField(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}

func (s *Server) employeeRead(c *call) (any, error) {
	id := c.params.ID("employee_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	b, err := s.db.AppendEmployee(c.r.Context(), append(newBody(), `{"success":true,"value":`...), c.caller.Account(), *id)
	if err != nil {
		return nil, err
	}
	return body(append(b, '}')), nil
}

type valueResult struct {
	Value any `json:"value"`
}

func (s *Server) employeeCreate(c *call) (any, error) {
	e, err := readEmployee(c.params, false)
	if err != nil {
		return nil, err
	}
	id, err := s.db.CreateEmployee(c.r.Context(), c.caller.Account(), e)
	if err != nil {
		return nil, err
	}
	return idResult{ID: id}, nil
}

func (s *Server) employeeUpdate(c *call) (any, error) {
	e, err := readEmployee(c.params, true)
	if err != nil {
		return nil, err
	}
	return nil, s.db.UpdateEmployee(c.r.Context(), c.caller.Account(), e)
}

// employeeDelete deletes an employee, then its uploaded avatar file once the
// deletion has committed. A file that cannot be deleted now is left to the
// sweep: it is no longer referenced.
func (s *Server) employeeDelete(c *call) (any, error) {
	id := c.params.ID("employee_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	avatar, err := s.db.DeleteEmployee(c.r.Context(), c.caller.Account(), *id)
	if err != nil {
		return nil, err
	}
	if avatar != nil {
		s.deleteAvatarFiles(context.WithoutCancel(c.r.Context()), *avatar)
	}
	return nil, nil
}

func (s *Server) departmentList(c *call) (any, error) {
	list, err := s.db.Departments(c.r.Context(), c.caller.Account())
	if err != nil {
		return nil, err
	}
	return struct {
		List []roster.Department `json:"list"`
	}{list}, nil
}

func readDepartment(p *params, withID bool) (roster.Department, error) {
	var d roster.Department
	if obj, ok := p.Object("department", true); ok {
		if withID {
			if id := obj.ID("id", true); id != nil {
				d.ID = *id
			}
		}
		d.Label = obj.Str("label", true)
		d.Location = decodeLocation(obj, "location")
		p.addInvalid(d.Validate("department"))
	}
	return d, p.Err()
}

func (s *Server) departmentCreate(c *call) (any, error) {
	d, err := readDepartment(c.params, false)
	if err != nil {
		return nil, err
	}
	id, err := s.db.CreateDepartment(c.r.Context(), c.caller.Account(), d)
	if err != nil {
		return nil, err
	}
	return idResult{ID: id}, nil
}

func (s *Server) departmentUpdate(c *call) (any, error) {
	d, err := readDepartment(c.params, true)
	if err != nil {
		return nil, err
	}
	return nil, s.db.UpdateDepartment(c.r.Context(), c.caller.Account(), d)
}

func (s *Server) departmentDelete(c *call) (any, error) {
	id := c.params.ID("department_id", true)
	if err := c.params.Err(); err != nil {
		return nil, err
	}
	return nil, s.db.DeleteDepartment(c.r.Context(), c.caller.Account(), *id)
}
