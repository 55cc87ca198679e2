package api

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"roster/internal/roster"
	"roster/internal/sqlstore"
)

// The OpenAPI 3.1 document served at /openapi.json is built from the calls
// routes.go registers and the table below, so it cannot list a call Roster
// does not serve or miss one it does (NewServer panics on a call without an
// entry). Each call's error codes are those its access implies (wrongHash,
// noSession, ... from serveCall and authorize) plus the ones it names here;
// each code's HTTP status comes from the one table in errors.go.
// cmd/roster/openapi_test.go validates real answers against it.

// callDoc documents one call: its parameters as JSON Schema properties, the
// members its success answer adds to "success": true, and the error codes
// it can answer beyond those of its access.
type callDoc struct {
	summary  string
	params   string // JSON object of property schemas
	required []string
	result   string // JSON object of property schemas
	optional string // JSON object of property schemas the answer may leave out
	codes    []int
	// file is the content type of a success that is a file, not JSON.
	file string
}

// callDocs has one entry per call in routes.go.
var callDocs = withAvatarDocs(map[string]callDoc{
	"user/auth": {summary: "Sign in: a session key for a login and password. Roster has no dealers, so a dealer_id given answers 102. Too many attempts from one address or on one login answer 105, with Retry-After.",
		params: `{"login": {"type": "string"}, "password": {"type": "string"},
			"dealer_id": {"type": ["integer", "null"], "description": "refused with 102 when given: no user belongs to a dealer"}}`,
		required: []string{"login", "password"},
		result: `{"type": {"const": "authenticated", "description": "Roster has no second factor: the session is ready"},
			"hash": {"$ref": "#/components/schemas/hash"}}`, codes: []int{codeBadCredentials, codeLoginAttempts, codeAccessDenied}},
	"user/logout": {summary: "End the session. An API key ends only by api/key/delete.",
		params: `{}`, result: `{}`},
	"user/session/renew": {summary: "Extend the session's expiry. An API key never expires.",
		params: `{}`, result: `{}`},
	"user/get_info": {summary: "Who the caller is; for a sub-user also its master and rights, the rights both in user_info and at the top level.",
		params: `{}`, result: `{"user_info": {"$ref": "#/components/schemas/user_info"}}`,
		optional: `{"privileges": {"$ref": "#/components/schemas/privileges", "description": "a sub-user's rights; absent for a master, who has all"}}`},

	"api/key/create": {summary: "Make an API key (master users only). The key is in this answer and nowhere else; at most 20 a user.",
		params:   `{"title": {"type": "string", "minLength": 1, "maxLength": 255, "description": "printable characters"}}`,
		required: []string{"title"},
		result:   `{"value": {"$ref": "#/components/schemas/api_key_created"}}`, codes: []int{codeOverQuota}},
	"api/key/list": {summary: "The user's API keys, without the keys themselves (only their digests are stored).",
		params: `{}`, result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/api_key"}}}`},
	"api/key/delete": {summary: "Delete an API key, named by the key itself or by its id.",
		params: `{"key": {"$ref": "#/components/schemas/hash"}, "key_id": {"$ref": "#/components/schemas/id"}}`,
		result: `{}`, codes: []int{codeNotFound}},

	"subuser/register": {summary: "Create a sub-user.",
		params: `{"user": {"$ref": "#/components/schemas/subuser_input"}, "password": {"type": "string", "minLength": ` + fmt.Sprint(roster.SubUserPasswords.MinLength) + `, "maxLength": ` + fmt.Sprint(roster.SubUserPasswords.MaxLength) + `,
			"description": "with an upper-case letter, a lower-case letter, a digit and a special character (any printable character that is neither a letter nor a digit)"}}`,
		required: []string{"user", "password"}, result: `{"id": {"$ref": "#/components/schemas/id"}}`,
		codes: []int{codeLoginTaken, codeNotFound}},
	"subuser/list": {summary: "The account's sub-users.",
		params: `{}`, result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/subuser"}}}`},
	"subuser/update": {summary: "Change a sub-user (not its password).",
		params: `{"user": {"$ref": "#/components/schemas/subuser_input"}}`, required: []string{"user"},
		result: `{}`, codes: []int{codeLoginTaken, codeNotFound}},
	"subuser/delete": {summary: "Delete a sub-user.",
		params: `{"subuser_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"subuser_id"},
		result: `{}`, codes: []int{codeNotFound}},
	"subuser/session/create": {summary: "Open a session as one of the account's sub-users, with its rights, without its password. A deactivated sub-user gets none (11).",
		params: `{"subuser_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"subuser_id"},
		result: `{"hash": {"$ref": "#/components/schemas/hash"}}`, codes: []int{codeNotFound, codeAccessDenied}},
	"subuser/security_group/create": {summary: "Create a security group.",
		params: `{"group": {"$ref": "#/components/schemas/security_group_input"}}`, required: []string{"group"},
		result: `{"id": {"$ref": "#/components/schemas/id"}}`},
	"subuser/security_group/list": {summary: "The account's security groups.",
		params: `{}`, result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/security_group"}}}`},
	"subuser/security_group/update": {summary: "Change a security group.",
		params: `{"group": {"$ref": "#/components/schemas/security_group_input"}}`, required: []string{"group"},
		result: `{}`, codes: []int{codeNotFound}},
	"subuser/security_group/delete": {summary: "Delete a security group; its sub-users fall back to the default group.",
		params: `{"security_group_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"security_group_id"},
		result: `{}`, codes: []int{codeNotFound}},

	"subuser/security_group/assign": {summary: "Put sub-users in a security group, or with group_id null or absent in the default group. All or nothing: an unknown id moves no one (201).",
		params: `{"group_id": {"type": ["integer", "null"], "minimum": 1},
			"subuser_ids": {"type": "array", "items": {"$ref": "#/components/schemas/id"}, "minItems": 1, "maxItems": ` + fmt.Sprint(maxAssign) + `}}`,
		required: []string{"subuser_ids"}, result: `{}`, codes: []int{codeNotFound}},

	"employee/list": {summary: "The account's employees, optionally paged, sorted and filtered.",
		params: `{"limit": {"type": "integer", "minimum": 0}, "offset": {"type": "integer", "minimum": 0},
			"sort": {"oneOf": [{"type": "array", "items": {"type": "string"}, "maxItems": 2}, {"type": "string"}],
				"description": ` + jsonString(sortDoc) + `},
			"filter": {"type": "string", "maxLength": 100, "description": ` + jsonString(filterDoc) + `}}`,
		result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/employee"}}, "count": {"type": "integer", "minimum": 0}}`},
	"employee/read": {summary: "One employee.",
		params: `{"employee_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"employee_id"},
		result: `{"value": {"$ref": "#/components/schemas/employee"}}`, codes: []int{codeNotFound}},
	"employee/create": {summary: "Create an employee. 247 when another employee of the account has its tracker_id or its hardware_key; 201 when its department or one of its tags is not the account's.",
		params: `{"employee": {"$ref": "#/components/schemas/employee_input"}}`, required: []string{"employee"},
		result: `{"id": {"$ref": "#/components/schemas/id"}}`, codes: []int{codeNotFound, codeExists}},
	"employee/update": {summary: "Change an employee (icon_id and avatar_file_name are ignored: see employee/avatar/*). 247 when another employee of the account has its tracker_id or its hardware_key; 201 when its department or one of its tags is not the account's.",
		params: `{"employee": {"$ref": "#/components/schemas/employee_input"}}`, required: []string{"employee"},
		result: `{}`, codes: []int{codeNotFound, codeExists}},
	"employee/delete": {summary: "Delete an employee and their uploaded avatar.",
		params: `{"employee_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"employee_id"},
		result: `{}`, codes: []int{codeNotFound}},

	"department/list": {summary: "The account's departments.",
		params: `{}`, result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/department"}}}`},
	"department/create": {summary: "Create a department.",
		params: `{"department": {"$ref": "#/components/schemas/department_input"}}`, required: []string{"department"},
		result: `{"id": {"$ref": "#/components/schemas/id"}}`},
	"department/update": {summary: "Change a department.",
		params: `{"department": {"$ref": "#/components/schemas/department_input"}}`, required: []string{"department"},
		result: `{}`, codes: []int{codeNotFound}},
	"department/delete": {summary: "Delete a department; its employees get department_id null.",
		params: `{"department_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"department_id"},
		result: `{}`, codes: []int{codeNotFound}},

	"tag/list": {summary: "The account's tags by id; with filter, those whose name contains it (case-folded).",
		params: `{"filter": {"type": ["string", "null"], "minLength": 3, "maxLength": 60}}`,
		result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/tag"}}, "count": {"type": "integer", "minimum": 0}}`},
	"tag/create": {summary: "Create a tag. 268 when the account holds " + fmt.Sprint(sqlstore.MaxTags) + " tags.",
		params: `{"tag": {"$ref": "#/components/schemas/tag_input"}}`, required: []string{"tag"},
		result: `{"id": {"$ref": "#/components/schemas/id"}}`, codes: []int{codeOverQuota}},
	"tag/update": {summary: "Change a tag's name and colour (icon_id and avatar_file_name are ignored: see tag/avatar/*).",
		params: `{"tag": {"$ref": "#/components/schemas/tag_input"}}`, required: []string{"tag"},
		result: `{}`, codes: []int{codeNotFound}},
	"tag/delete": {summary: "Delete a tag (tag_id: 201 when it is not the account's) or several (tag_ids: ids that are not are skipped), and their uploaded avatars; every employee carrying one loses it, in the same transaction. Give one of tag_id and tag_ids: neither is 7 naming has_at_least_one_tag_id, both is 7 naming tag_ids.",
		params: `{"tag_id": {"$ref": "#/components/schemas/id"},
			"tag_ids": {"type": "array", "items": {"$ref": "#/components/schemas/id"}, "maxItems": ` + fmt.Sprint(roster.MaxTags) + `}}`,
		result: `{}`, codes: []int{codeNotFound}},
	"tag/search": {summary: "The account's entities that carry every one of tag_ids, grouped by type, for the types of entity_types (all when left out). Roster holds employees only: the other groups are empty.",
		params: `{"tag_ids": {"type": "array", "items": {"$ref": "#/components/schemas/id"}, "minItems": 1, "maxItems": ` + fmt.Sprint(roster.MaxTags) + `},
			"entity_types": {"type": ["array", "null"], "items": {"enum": ["place", "task", "task_schedule", "employee", "vehicle", "zone", "tracker"]}}}`,
		required: []string{"tag_ids"},
		result: `{"result": {"type": "object", "properties": {"employee": {"type": "array", "items": {"$ref": "#/components/schemas/employee"}},
			"place": {"type": "array", "maxItems": 0}, "task": {"type": "array", "maxItems": 0}, "task_schedule": {"type": "array", "maxItems": 0},
			"vehicle": {"type": "array", "maxItems": 0}, "zone": {"type": "array", "maxItems": 0}, "tracker": {"type": "array", "maxItems": 0}}}}`},

	"data/spreadsheet/parse": {summary: "Upload a spreadsheet (CSV in UTF-8 or UTF-16, any common delimiter; or XLSX) as the TSV an import reads, named by file_id, with a preview of its first rows. Legacy XLS is refused with 234: save as XLSX or CSV. Files are kept for the import retention period.",
		params: `{"file": {"type": "string", "contentMediaType": "text/csv"},
			"preview_count": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
			"parse_header": {"type": "boolean", "description": "read the first row as the header"},
			"header_map": {"type": "string", "description": "JSON object of column name to field name, naming the preview's keys"}}`,
		required: []string{"file"},
		result: `{"file_id": {"type": "string", "pattern": "^import-[0-9a-f]{32}\\.tsv$"},
			"preview": {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "string"}}}}`,
		optional: `{"header": {"type": "array", "items": {"type": "string"}}}`,
		codes:    []int{codeNoFile, codeInvalidFile, codeCannotSave, codeFileTooLarge}},
	"employee/import/start": {summary: "Start importing a parsed file's rows as employees, in the background; each row is checked by employee/create's rules. 233 when the file is not the account's (or gone), 247 for an import of the same file with the same headers, 15 past the imports in progress an account may have.",
		params: `{"filename": {"type": "string", "minLength": 1}, "headers": {"type": "array", "minItems": 1, "items": {"enum": ` + jsonText(importFields) + `}},
			"user_headers": {"type": "array", "items": {"type": "string"}}}`,
		required: []string{"filename", "headers"},
		result:   `{"id": {"$ref": "#/components/schemas/id"}}`, codes: []int{codeNoFile, codeInvalidFile, codeExists}},
	"employee/import/read": {summary: "One employee import and its progress.",
		params: `{"process_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"process_id"},
		result: `{"value": {"$ref": "#/components/schemas/import_process"}}`, codes: []int{codeNotFound}},
	"employee/import/list": {summary: "The account's employee imports not yet done.",
		params: `{}`, result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/import_process"}}}`},
	"employee/import/download_failed": {summary: "The import's failed rows as TSV (not JSON): every one, as read, with why it failed in a last column. 204 when there are none.",
		params: `{"process_id": {"$ref": "#/components/schemas/id"}}`, required: []string{"process_id"},
		result: `{}`, codes: []int{codeNotFound, codeNoEntity}, file: "text/tab-separated-values"},
	"data/import/list": {summary: "The account's imports not yet done, of every type (Roster imports employees only).",
		params: `{"types": {"type": "array", "items": {"enum": ` + jsonText(importTypes) + `}}}`,
		result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/import_process"}}}`},
	"data/import/read": {summary: "One import, by id and type.",
		params:   `{"process_id": {"$ref": "#/components/schemas/id"}, "type": {"enum": ` + jsonText(importTypes) + `}}`,
		required: []string{"process_id", "type"},
		result:   `{"value": {"$ref": "#/components/schemas/import_process"}}`, codes: []int{codeNotFound}},
	"employee/batch_convert": {summary: "Check TSV rows as employees (batch, or a parsed file's file_id, which wins), creating nothing: each with its errors. At most 1000 rows; limit_exceeded says some were left out. geocoder is accepted and ignored: Roster has no geocoder.",
		params: `{"batch": {"type": "string"}, "file_id": {"type": "string"}, "fields": {"type": "array", "items": {"enum": ` + jsonText(importFields) + `}},
			"geocoder": {"type": "string"}, "default_radius": {"type": "integer", "minimum": 0, "default": 100}}`,
		result: `{"list": {"type": "array", "items": {"$ref": "#/components/schemas/checked_employee"}}, "limit_exceeded": {"type": "boolean"}}`,
		codes:  []int{codeNotFound, codeInvalidFile}},
})

// withAvatarDocs adds the two calls of every avatarOwner to docs.
func withAvatarDocs(docs map[string]callDoc) map[string]callDoc {
	for _, o := range avatarOwners {
		id := `{"` + o.idParam + `": {"$ref": "#/components/schemas/id"}`
		docs[o.entity+"/avatar/assign"] = callDoc{
			summary:  "Set the " + o.entity + "'s icon; null shows the uploaded avatar instead. Icons 1-24 are served at /static/employee/icons/{id}.svg; other ids are accepted and left to clients.",
			params:   id + `, "icon_id": {"type": ["integer", "null"], "minimum": 1}}`,
			required: []string{o.idParam}, result: `{}`, codes: []int{codeNotFound}}
		docs[o.entity+"/avatar/upload"] = callDoc{
			summary: "Upload the " + o.entity + "'s avatar (multipart POST only), served at /static/" + o.entity + "/avatars/{name}. With redirect_target the answer is a 302 to it with ?response=<the JSON answer>.",
			params: id + `, "file": {"type": "string", "contentMediaType": "image/jpeg"},
			"redirect_target": {"type": "string", "format": "uri"}}`,
			required: []string{o.idParam, "file"}, result: `{"value": {"type": "string", "pattern": "^[0-9a-f]{32,64}\\.(jpg|png|gif)$"}}`,
			codes: []int{codeNotFound, codeNoFile, codeInvalidFile, codeCannotSave, codeFileTooLarge}}
	}
	return docs
}

// schemas are the objects the calls share (JSON Schema 2020-12, as
// OpenAPI 3.1 has it).
var schemas = `{
  "id": {"type": "integer", "minimum": 1},
  "hash": {"type": "string", "pattern": "^[0-9a-fA-F]{32}$", "description": "a session key or an API key"},
  "date_time": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$", "description": "yyyy-MM-dd HH:mm:ss, UTC"},
  "location": {"type": ["object", "null"], "required": ["lat", "lng", "address", "radius"],
    "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
      "lng": {"type": "number", "minimum": -180, "maximum": 180}, "address": {"type": "string"},
      "radius": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "metres around the point; 0 when none was given"}}},
  "location_input": {"type": ["object", "null"], "required": ["lat", "lng"],
    "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
      "lng": {"type": "number", "minimum": -180, "maximum": 180}, "address": {"type": ["string", "null"], "maxLength": 255},
      "radius": {"type": ["integer", "null"], "minimum": 0, "maximum": 1000000, "description": "metres around the point; absent or null is 0"}}},
  "employee": {"type": "object",
    "required": ["id", "tracker_id", "first_name", "middle_name", "last_name", "email", "phone",
      "driver_license_number", "driver_license_cats", "driver_license_issue_date", "driver_license_valid_till",
      "hardware_key", "icon_id", "avatar_file_name", "department_id", "location", "personnel_number", "ssn", "tags"],
    "properties": {
      "id": {"$ref": "#/components/schemas/id"},
      "tracker_id": {"type": ["integer", "null"]},
      "first_name": {"type": "string", "minLength": 1, "maxLength": 100},
      "middle_name": {"type": "string", "maxLength": 100},
      "last_name": {"type": "string", "maxLength": 100},
      "email": {"type": "string", "maxLength": 100},
      "phone": {"type": "string", "pattern": "^[0-9]{0,32}$"},
      "driver_license_number": {"type": "string", "maxLength": 32},
      "driver_license_cats": {"type": "string", "maxLength": 32},
      "driver_license_issue_date": {"type": ["string", "null"], "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
      "driver_license_valid_till": {"type": ["string", "null"], "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
      "hardware_key": {"type": ["string", "null"], "maxLength": 64},
      "icon_id": {"type": ["integer", "null"], "description": "read-only here: set by employee/avatar/assign"},
      "avatar_file_name": {"type": ["string", "null"], "description": "read-only here: set by employee/avatar/upload; served at /static/employee/avatars/{name}"},
      "department_id": {"type": ["integer", "null"]},
      "location": {"$ref": "#/components/schemas/location"},
      "personnel_number": {"type": "string", "maxLength": 15},
      "ssn": {"type": "string", "maxLength": 32},
      "tags": {"type": "array", "items": {"type": "integer"}}}},
  "import_message": {"type": "object", "required": ["line", "message"],
    "properties": {"line": {"type": "integer", "description": "the spreadsheet's line"}, "message": {"type": "string"}}},
  "import_process": {"type": "object",
    "required": ["id", "user_id", "created", "type", "params", "filename", "status", "status_change_date", "progress"],
    "properties": {"id": {"type": "integer"}, "user_id": {"type": "integer"}, "subuser_id": {"type": "integer", "description": "the sub-user who started it; absent when the master did"},
      "created": {"$ref": "#/components/schemas/date_time"}, "type": {"type": "string"},
      "params": {"type": "object", "properties": {"headers": {"type": "array", "items": {"type": "string"}},
        "user_headers": {"type": "array", "items": {"type": "string"}}}},
      "filename": {"type": "string"}, "status": {"enum": ["created", "in_progress", "done", "failed", "finished"]},
      "status_change_date": {"$ref": "#/components/schemas/date_time"},
      "progress": {"type": "object", "required": ["imported", "failed", "percent", "processed_lines", "warnings", "errors"],
        "properties": {"imported": {"type": "integer"}, "failed": {"type": "integer"}, "percent": {"type": ["integer", "null"]},
          "processed_lines": {"type": "integer"},
          "warnings": {"type": "array", "maxItems": 25, "items": {"$ref": "#/components/schemas/import_message"}},
          "errors": {"type": "array", "maxItems": 25, "items": {"$ref": "#/components/schemas/import_message"}}}}}},
  "checked_employee": {"type": "object", "required": ["id", "first_name", "errors"],
    "description": "an employee as employee/list answers it, with id null (nothing is created) and the row's errors",
    "properties": {"id": {"type": "null"}, "first_name": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object", "required": ["parameter", "error"],
      "properties": {"parameter": {"type": "string"}, "error": {"type": "string"}}}}}},
  "employee_input": {"type": "object", "required": ["first_name"],
    "description": "an employee object; id (or employee_id) names the employee to update, and is ignored by create. Every writable field is replaced: one left out becomes null, or empty for a text that is never null. Lengths are in characters.",
    "properties": {
      "id": {"$ref": "#/components/schemas/id"},
      "employee_id": {"$ref": "#/components/schemas/id"},
      "tracker_id": {"type": ["integer", "null"]},
      "first_name": {"type": "string", "minLength": 1, "maxLength": 100},
      "middle_name": {"type": "string", "maxLength": 100, "description": "may be empty, never null (7); left out, empty"},
      "last_name": {"type": "string", "maxLength": 100, "description": "may be empty, never null (7); left out, empty"},
      "email": {"type": "string", "maxLength": 100, "description": "an e-mail address or empty, never null (7); left out, empty"},
      "phone": {"type": "string", "pattern": "^[0-9]{0,32}$", "description": "digits without +, may be empty, never null (7); left out, empty"},
      "driver_license_number": {"type": "string", "maxLength": 32, "description": "may be empty, never null (7); left out, empty"},
      "driver_license_cats": {"type": ["string", "null"], "maxLength": 32, "description": "null reads as empty"},
      "driver_license_issue_date": {"type": ["string", "null"], "pattern": "^\\d{4}-\\d{2}-\\d{2}$", "description": "a real date, yyyy-MM-dd"},
      "driver_license_valid_till": {"type": ["string", "null"], "pattern": "^\\d{4}-\\d{2}-\\d{2}$", "description": "a real date, yyyy-MM-dd"},
      "hardware_key": {"type": ["string", "null"], "maxLength": 64,
        "description": "unique among the account's employees (247 when another holds it); null and the empty key may repeat"},
      "department_id": {"type": ["integer", "null"]},
      "location": {"$ref": "#/components/schemas/location_input"},
      "personnel_number": {"type": ["string", "null"], "maxLength": 15, "description": "null reads as empty"},
      "ssn": {"type": ["string", "null"], "maxLength": 32, "description": "null reads as empty"},
      "tags": {"type": ["array", "null"], "items": {"type": "integer"}, "maxItems": 1000,
        "description": "ids of tags of the account (201 for any other); deleting a tag takes it off every employee"}}},
  "department": {"type": "object", "required": ["id", "label", "location"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "label": {"type": "string"},
      "location": {"$ref": "#/components/schemas/location"}}},
  "department_input": {"type": "object", "required": ["label"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "label": {"type": "string", "minLength": 1},
      "location": {"$ref": "#/components/schemas/location_input"}}},
  "tag": {"type": "object", "required": ["id", "name", "color", "icon_id", "avatar_file_name"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "name": {"type": "string"},
      "color": {"type": "string", "pattern": "^[0-9A-Fa-f]{6}$"},
      "icon_id": {"type": ["integer", "null"], "description": "Roster's addition: set by tag/avatar/assign"},
      "avatar_file_name": {"type": ["string", "null"], "description": "set by tag/avatar/upload; served at /static/tag/avatars/{name}"}}},
  "tag_input": {"type": "object", "required": ["name", "color"],
    "description": "a tag; id names the tag to update, and is ignored by create. icon_id and avatar_file_name are ignored.",
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "name": {"type": "string", "minLength": 1, "maxLength": 60},
      "color": {"type": "string", "pattern": "^#?[0-9A-Fa-f]{6}$", "description": "RGB in hex, FF0000; a leading # is dropped"}}},
  "subuser": {"type": "object",
    "required": ["id", "activated", "login", "first_name", "middle_name", "last_name", "legal_type", "phone",
      "post_country", "post_index", "post_region", "post_city", "post_street_address", "registered_country",
      "registered_index", "registered_region", "registered_city", "registered_street_address", "state_reg_num",
      "tin", "legal_name", "iec", "security_group_id", "creation_date"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "activated": {"type": "boolean"},
      "login": {"type": "string", "description": "an e-mail address; one stored before Roster required that is kept as it is"},
      "first_name": {"type": "string"}, "middle_name": {"type": "string"},
      "last_name": {"type": "string"}, "legal_type": {"$ref": "#/components/schemas/legal_type"},
      "phone": {"type": "string", "pattern": "^[0-9]*$", "description": "10 to 15 digits, or empty; one stored before Roster required that is kept as it is"},
      "post_country": {"type": "string"}, "post_index": {"type": "string"}, "post_region": {"type": "string"},
      "post_city": {"type": "string"}, "post_street_address": {"type": "string"},
      "registered_country": {"type": "string"}, "registered_index": {"type": "string"},
      "registered_region": {"type": "string"}, "registered_city": {"type": "string"},
      "registered_street_address": {"type": "string"}, "state_reg_num": {"type": "string"},
      "tin": {"type": "string"}, "legal_name": {"type": "string"}, "iec": {"type": "string"},
      "security_group_id": {"type": ["integer", "null"], "description": "null: the default group, with no rights"},
      "creation_date": {"$ref": "#/components/schemas/date_time"}}},
  "subuser_input": {"type": "object", "required": ["login"],
    "description": "a sub-user; register ignores id. Update replaces every field: one left out becomes empty (legal_type: individual). A login or phone sent unchanged is accepted as stored, even if it predates the rules below.",
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "activated": {"type": "boolean"},
      "login": {"type": "string", "format": "email", "maxLength": 100},
      "first_name": {"type": ["string", "null"], "maxLength": 100}, "middle_name": {"type": ["string", "null"], "maxLength": 100},
      "last_name": {"type": ["string", "null"], "maxLength": 100},
      "legal_type": {"oneOf": [{"$ref": "#/components/schemas/legal_type"}, {"type": "null"}], "description": "individual when left out or null"},
      "phone": {"type": ["string", "null"], "pattern": "^([0-9]{10,15})?$"},
      "post_country": {"type": ["string", "null"], "maxLength": 100}, "post_index": {"type": ["string", "null"], "maxLength": 32},
      "post_region": {"type": ["string", "null"], "maxLength": 100}, "post_city": {"type": ["string", "null"], "maxLength": 100},
      "post_street_address": {"type": ["string", "null"], "maxLength": 255},
      "registered_country": {"type": ["string", "null"], "maxLength": 100}, "registered_index": {"type": ["string", "null"], "maxLength": 32},
      "registered_region": {"type": ["string", "null"], "maxLength": 100}, "registered_city": {"type": ["string", "null"], "maxLength": 100},
      "registered_street_address": {"type": ["string", "null"], "maxLength": 255},
      "state_reg_num": {"type": ["string", "null"], "maxLength": 15}, "tin": {"type": ["string", "null"], "maxLength": 32},
      "legal_name": {"type": ["string", "null"], "maxLength": 255}, "iec": {"type": ["string", "null"], "maxLength": 32},
      "security_group_id": {"type": ["integer", "null"]}}},
  "legal_type": {"enum": ["legal_entity", "individual", "sole_trader"]},
  "privileges": {"type": "object", "required": ["rights"],
    "properties": {"rights": {"type": "array", "items": {"type": "string"},
      "description": "employee_update guards every employee and department write and both employee avatar calls, tag_update every tag write and both tag avatar calls; the other sub-user rights are stored and guard nothing yet"}}},
  "group_privileges": {"type": "object", "required": ["rights", "store_period"],
    "properties": {"rights": {"type": "array", "items": {"type": "string"},
        "description": "as set; a group stored with names outside the list of rights keeps them until it is updated"},
      "store_period": {"type": "string", "description": "empty: no limit. Roster keeps no history: stored for clients"}}},
  "group_privileges_input": {"type": "object",
    "properties": {"rights": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/right"}, "maxItems": 100,
        "description": "employee_update guards every employee and department write and both employee avatar calls, tag_update every tag write and both tag avatar calls; the others are stored and guard nothing yet; admin cannot be granted. Left out or null: none"},
      "store_period": {"type": ["string", "null"], "pattern": "^([1-9][0-9]{0,3}[hdmy])?$",
        "description": "how far back the group's sub-users may look: a number of hours (h), days (d), months (m) or years (y); empty, null or left out: no limit"}}},
  "right": {"enum": ` + jsonText(roster.GroupRights) + `},
  "security_group": {"type": "object", "required": ["id", "label", "privileges"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "label": {"type": "string"},
      "privileges": {"$ref": "#/components/schemas/group_privileges"}}},
  "security_group_input": {"type": "object", "required": ["label"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "label": {"type": "string", "minLength": 1, "maxLength": 100},
      "privileges": {"oneOf": [{"$ref": "#/components/schemas/group_privileges_input"}, {"type": "null"}],
        "description": "left out or null: no rights, no store period"}}},
  "user": {"type": "object",
    "required": ["id", "login", "first_name", "middle_name", "last_name", "legal_name", "phone", "creation_date",
      "legal_type", "tin", "iec", "post_country", "post_region", "post_index", "post_city", "post_street_address",
      "registered_country", "registered_region", "registered_index", "registered_city", "registered_street_address"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "login": {"type": "string"},
      "first_name": {"type": "string"}, "middle_name": {"type": "string"}, "last_name": {"type": "string"},
      "legal_name": {"type": "string"}, "phone": {"type": "string"}, "creation_date": {"$ref": "#/components/schemas/date_time"},
      "legal_type": {"$ref": "#/components/schemas/legal_type"}, "tin": {"type": "string"}, "iec": {"type": "string"},
      "post_country": {"type": "string"}, "post_region": {"type": "string"}, "post_index": {"type": "string"},
      "post_city": {"type": "string"}, "post_street_address": {"type": "string"},
      "registered_country": {"type": "string"}, "registered_region": {"type": "string"},
      "registered_index": {"type": "string"}, "registered_city": {"type": "string"},
      "registered_street_address": {"type": "string"}}},
  "user_info": {"allOf": [{"$ref": "#/components/schemas/user"}],
    "properties": {"master": {"oneOf": [{"$ref": "#/components/schemas/user"}, {"type": "null"}],
        "description": "the account's master user; null or absent for a master"},
      "privileges": {"oneOf": [{"$ref": "#/components/schemas/privileges"}, {"type": "null"}],
        "description": "a sub-user's rights; null or absent for a master, who has all"}}},
  "api_key": {"type": "object", "required": ["id", "title", "create_date"],
    "properties": {"id": {"$ref": "#/components/schemas/id"}, "title": {"type": "string"},
      "create_date": {"$ref": "#/components/schemas/date_time"}}},
  "api_key_created": {"allOf": [{"$ref": "#/components/schemas/api_key"}], "required": ["hash"],
    "properties": {"hash": {"$ref": "#/components/schemas/hash"}}},
  "error": {"type": "object", "required": ["success", "status"],
    "properties": {"success": {"const": false},
      "status": {"type": "object", "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
      "errors": {"type": "array", "description": "the parameters at fault, for codes 7, 233, 234 and 271",
        "items": {"type": "object", "required": ["parameter", "error"],
          "properties": {"parameter": {"type": "string"}, "error": {"type": "string"}}}}}}
}`

// jsonText is v as JSON, for the document.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// callCodes lists the error codes a call can answer: those of the edge
// every call passes, of its access, and its own.
func callCodes(a access, d callDoc) []int {
	codes := []int{codeDatabase, codeBadRequest, codeUnexpected, codeTooLarge, codeRateLimited}
	if d.params != `{}` || a.upload != nil {
		codes = append(codes, codeInvalidParams)
	}
	if !a.public {
		codes = append(codes, codeWrongHash, codeNoSession, codeAccessDenied)
	}
	if a.right != "" {
		codes = append(codes, codeNotPermitted)
	}
	codes = append(codes, d.codes...)
	slices.Sort(codes)
	return slices.Compact(codes)
}

// openAPI builds the document for the calls registered so far, with the
// base path as its server URL.
func (s *Server) openAPI() []byte {
	var components map[string]any
	if err := json.Unmarshal([]byte(schemas), &components); err != nil {
		panic(fmt.Sprintf("openapi schemas: %v", err))
	}
	paths := map[string]any{}
	if len(s.calls) != len(callDocs) {
		panic(fmt.Sprintf("openapi: %d calls routed, %d documented", len(s.calls), len(callDocs)))
	}
	for _, c := range s.calls {
		d, ok := callDocs[c.name]
		if !ok {
			panic("openapi: no entry for call " + c.name)
		}
		paths["/"+c.name] = s.callPath(c, d, components)
	}
	for _, o := range avatarOwners {
		paths["/static/"+o.entity+"/avatars/{name}"] = staticAvatarPath(o)
	}
	paths["/static/employee/icons/{id}.svg"] = staticIconPath
	server := s.opts.BasePath
	if server == "" {
		server = "/"
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Roster",
			"version": "2",
			"description": "Employees and their avatars, wire-compatible with the Navixy user API. " +
				"Every call accepts a JSON body, a form body, a query string (GET) or multipart fields; " +
				"outside JSON, integers are decimal text, objects and arrays JSON text, and the text null is null. " +
				"A parameter in the body wins over the same one in the query. " +
				"The session key or API key (hash) comes in the body, the query, or the header Authorization: NVX <hash>. " +
				"Success is HTTP 200 with {\"success\": true, ...}; failure is {\"success\": false, \"status\": {code, description}} " +
				"with the HTTP status of its code.",
		},
		"servers": []any{map[string]any{"url": server}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": components,
			"securitySchemes": map[string]any{
				"nvx":   map[string]any{"type": "apiKey", "in": "header", "name": "Authorization", "description": "NVX <hash>"},
				"query": map[string]any{"type": "apiKey", "in": "query", "name": "hash"},
			},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// callPath is the path item of one call: GET with a query string and POST
// with a JSON, form or multipart body (multipart only, for an upload).
func (s *Server) callPath(c callRoute, d callDoc, components map[string]any) map[string]any {
	var props map[string]any
	if err := json.Unmarshal([]byte(d.params), &props); err != nil {
		panic(fmt.Sprintf("openapi %s params: %v", c.name, err))
	}
	var result map[string]any
	if err := json.Unmarshal([]byte(d.result), &result); err != nil {
		panic(fmt.Sprintf("openapi %s result: %v", c.name, err))
	}
	id := strings.NewReplacer("/", "_").Replace(c.name)
	required := slices.Clone(d.required)
	if !c.access.public {
		props["hash"] = map[string]any{"$ref": "#/components/schemas/hash"}
	}
	components[id+"_params"] = map[string]any{"type": "object", "properties": props, "required": orEmpty(required)}
	paramsRef := map[string]any{"$ref": "#/components/schemas/" + id + "_params"}

	okProps := map[string]any{"success": map[string]any{"const": true}}
	okRequired := []string{"success"}
	for k, v := range result {
		okProps[k] = v
		okRequired = append(okRequired, k)
	}
	if d.optional != "" {
		var optional map[string]any
		if err := json.Unmarshal([]byte(d.optional), &optional); err != nil {
			panic(fmt.Sprintf("openapi %s optional: %v", c.name, err))
		}
		maps.Copy(okProps, optional)
	}
	slices.Sort(okRequired)
	responses := map[string]any{"200": map[string]any{
		"description": "success",
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"type": "object", "required": okRequired, "properties": okProps}}},
	}}
	if d.file != "" {
		responses["200"] = map[string]any{"description": "the file", "content": map[string]any{
			d.file: map[string]any{"schema": map[string]any{"type": "string"}}}}
	}
	byStatus := map[int][]int{}
	for _, code := range callCodes(c.access, d) {
		st := httpStatus(c.name, code)
		byStatus[st] = append(byStatus[st], code)
	}
	for st, codes := range byStatus {
		responses[fmt.Sprint(st)] = errorResponse(codes)
	}
	if c.access.upload != nil && c.access.upload.redirect {
		responses["302"] = map[string]any{"description": "with redirect_target: Location is redirect_target?response=<the JSON answer>, for success and errors alike"}
	}
	var security []any
	if !c.access.public {
		security = []any{map[string]any{"nvx": []any{}}, map[string]any{"query": []any{}}, map[string]any{}}
	} else {
		security = []any{}
	}
	tag := strings.SplitN(c.name, "/", 2)[0]
	desc := d.summary
	if c.access.sessionOnly {
		// Also marked x-session-only, for tools.
		desc += " Takes a session key from user/auth only: an API key answers 4."
	}
	if c.access.right != "" {
		desc += fmt.Sprintf(" Needs the right %s (13 otherwise, before any other work).", c.access.right)
	}
	// Objects and arrays travel as JSON text outside a JSON body.
	encoding := map[string]any{}
	for _, name := range slices.Sorted(maps.Keys(props)) {
		if isStructured(props[name], components) {
			encoding[name] = map[string]any{"contentType": "application/json"}
		}
	}
	post := map[string]any{
		"operationId": id + "_post", "tags": []any{tag}, "summary": d.summary, "description": desc,
		"security": security, "responses": responses,
	}
	if c.access.sessionOnly {
		post["x-session-only"] = true
	}
	if c.access.upload != nil {
		if t := c.access.upload.types; t != nil {
			encoding["file"] = map[string]any{"contentType": strings.Join(t, ", ")}
		}
		post["requestBody"] = map[string]any{"required": true, "content": map[string]any{
			"multipart/form-data": map[string]any{"schema": paramsRef, "encoding": encoding}}}
		// Any other method is answered, with 5.
		get := map[string]any{
			"operationId": id + "_get", "tags": []any{tag}, "summary": "Not an upload: uploads are multipart POSTs.",
			"security": security, "responses": map[string]any{
				"400": errorResponse([]int{codeBadRequest}), "429": errorResponse([]int{codeRateLimited})},
		}
		return map[string]any{"get": get, "post": post}
	}
	post["requestBody"] = map[string]any{"content": map[string]any{
		"application/json":                  map[string]any{"schema": paramsRef},
		"application/x-www-form-urlencoded": map[string]any{"schema": paramsRef, "encoding": encoding},
		"multipart/form-data":               map[string]any{"schema": paramsRef, "encoding": encoding},
	}}
	var query []any
	for _, name := range slices.Sorted(maps.Keys(props)) {
		if name == "hash" {
			continue // the query security scheme
		}
		p := map[string]any{"name": name, "in": "query", "required": slices.Contains(required, name)}
		if isStructured(props[name], components) {
			p["content"] = map[string]any{"application/json": map[string]any{"schema": props[name]}}
		} else {
			p["schema"] = props[name]
		}
		query = append(query, p)
	}
	get := map[string]any{
		"operationId": id + "_get", "tags": []any{tag}, "summary": d.summary, "description": desc,
		"parameters": orEmptyAny(query), "security": security, "responses": responses,
	}
	if c.access.sessionOnly {
		get["x-session-only"] = true
	}
	return map[string]any{"get": get, "post": post}
}

// errorResponse is the error envelope with one of codes.
func errorResponse(codes []int) map[string]any {
	var desc []string
	for _, code := range codes {
		desc = append(desc, fmt.Sprintf("%d %s", code, statuses[code].description))
	}
	return map[string]any{
		"description": strings.Join(desc, "; "),
		"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
			"allOf": []any{map[string]any{"$ref": "#/components/schemas/error"}},
			"properties": map[string]any{"status": map[string]any{
				"properties": map[string]any{"code": map[string]any{"enum": codes}}}},
		}}},
	}
}

// isStructured reports whether a property schema is an object or array
// (following one $ref), which travels as JSON text outside JSON bodies.
func isStructured(schema any, components map[string]any) bool {
	m, _ := schema.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		m, _ = components[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	if _, ok := m["oneOf"]; ok {
		return true
	}
	switch t := m["type"].(type) {
	case string:
		return t == "object" || t == "array"
	case []any:
		return slices.Contains(t, any("object")) || slices.Contains(t, any("array"))
	}
	return false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyAny(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

// staticAvatarPath documents the static route of an owner's avatars.
func staticAvatarPath(o avatarOwner) map[string]any {
	return map[string]any{"get": map[string]any{
		"operationId": "static_" + o.entity + "_avatar", "tags": []any{"static"},
		"summary":     "An uploaded avatar, by the name " + o.entity + "/avatar/upload returned. Public: the name is the secret.",
		"description": "Served with ETag, Cache-Control: public, max-age=31536000, immutable, X-Content-Type-Options: nosniff and Content-Security-Policy: default-src 'none'; sandbox. Range requests and If-None-Match are honoured. HEAD is answered too.",
		"security":    []any{},
		"parameters": []any{
			map[string]any{"name": "name", "in": "path", "required": true,
				"schema": map[string]any{"type": "string", "pattern": "^[0-9a-f]+\\.(jpg|png|gif)$"}},
			map[string]any{"name": "size", "in": "query", "required": false,
				"description": "a square, centre-cropped rendition of at most size×size",
				"schema":      map[string]any{"type": "integer", "enum": []any{32, 48, 64, 96, 128, 192, 256, 512}}},
		},
		"responses": map[string]any{
			"200": map[string]any{"description": "the image", "content": map[string]any{
				"image/jpeg": map[string]any{}, "image/png": map[string]any{}, "image/gif": map[string]any{}}},
			"206": map[string]any{"description": "the requested range"},
			"304": map[string]any{"description": "not modified (If-None-Match)"},
			"404": map[string]any{"description": "no such avatar or size (no detail)"},
			"416": map[string]any{"description": "range not satisfiable"},
		},
	}}
}

var staticIconPath = map[string]any{
	"get": map[string]any{
		"operationId": "static_icon", "tags": []any{"static"},
		"summary":     "A preset icon, for icon_id 1 to 24. Other icon ids are accepted by employee/avatar/assign and left to clients to draw.",
		"description": "Served with the headers of avatars: ETag, Cache-Control: public, max-age=31536000, immutable, X-Content-Type-Options: nosniff, Content-Security-Policy: default-src 'none'; sandbox.",
		"security":    []any{},
		"parameters": []any{map[string]any{"name": "id", "in": "path", "required": true,
			"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": 24}}},
		"responses": map[string]any{
			"200": map[string]any{"description": "the icon", "content": map[string]any{"image/svg+xml": map[string]any{}}},
			"304": map[string]any{"description": "not modified (If-None-Match)"},
			"404": map[string]any{"description": "not a preset icon"},
		},
	},
}

// serveOpenAPI serves the document, outside the base path.
func serveOpenAPI(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).call = "openapi"
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(doc)
	}
}

// jsonString is s as a JSON string, for text put into the document's
// schema strings.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
