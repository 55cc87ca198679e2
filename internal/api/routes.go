package api

import (
	"net/http"

	"roster/internal/console"
	"roster/internal/roster"
)

// routes lists every call Roster serves and who may make it. Reads need a
// session; writes need the right named here, checked before any work. The
// calls on the session itself and on API keys take a password session
// only, never an API key.
func (s *Server) routes() {
	update := need(roster.RightEmployeeUpdate)
	admin := need(roster.RightAdmin)

	s.handle("user/auth", public, s.userAuth)
	s.handle("user/logout", signedIn.session(), s.userLogout)
	s.handle("user/session/renew", signedIn.session(), s.sessionRenew)
	s.handle("user/get_info", signedIn, s.userGetInfo)

	s.handle("api/key/create", admin.session(), s.keyCreate)
	s.handle("api/key/list", admin.session(), s.keyList)
	s.handle("api/key/delete", admin.session(), s.keyDelete)

	s.handle("subuser/register", admin, s.subuserRegister)
	s.handle("subuser/list", admin, s.subuserList)
	s.handle("subuser/update", admin, s.subuserUpdate)
	s.handle("subuser/delete", admin, s.subuserDelete)
	s.handle("subuser/session/create", admin, s.subuserSession)
	s.handle("subuser/security_group/create", admin, s.groupCreate)
	s.handle("subuser/security_group/list", admin, s.groupList)
	s.handle("subuser/security_group/update", admin, s.groupUpdate)
	s.handle("subuser/security_group/delete", admin, s.groupDelete)
	s.handle("subuser/security_group/assign", admin, s.groupAssign)

	s.handle("employee/list", signedIn, s.employeeList)
	s.handle("employee/read", signedIn, s.employeeRead)
	s.handle("employee/create", update, s.employeeCreate)
	s.handle("employee/update", update, s.employeeUpdate)
	s.handle("employee/delete", update, s.employeeDelete)

	s.handle("department/list", signedIn, s.departmentList)
	s.handle("department/create", update, s.departmentCreate)
	s.handle("department/update", update, s.departmentUpdate)
	s.handle("department/delete", update, s.departmentDelete)

	tags := need(roster.RightTagUpdate)
	s.handle("tag/list", signedIn, s.tagList)
	s.handle("tag/create", tags, s.tagCreate)
	s.handle("tag/update", tags, s.tagUpdate)
	s.handle("tag/delete", tags, s.tagDelete)
	s.handle("tag/search", signedIn, s.tagSearch)

	s.avatarRoutes() // {entity}/avatar/assign|upload and their static files, for every avatarOwner

	// Navixy names no right for parse: any signed-in user may upload a
	// spreadsheet, which only the account's imports can read.
	s.handle("data/spreadsheet/parse", access{upload: sheetUpload}, s.spreadsheetParse)
	s.handle("employee/import/start", update, s.importStart)
	s.handle("employee/import/read", signedIn, s.importRead)
	s.handle("employee/import/list", signedIn, s.importList)
	s.handle("employee/import/download_failed", signedIn, s.importDownloadFailed)
	s.handle("data/import/list", signedIn, s.dataImportList)
	s.handle("data/import/read", signedIn, s.dataImportRead)
	s.handle("employee/batch_convert", update, s.batchConvert)

	s.mux.HandleFunc("GET "+s.opts.BasePath+"/static/employee/icons/{file}", s.staticIcon)
	con := console.Handler(s.opts.BasePath)
	consoleFn := func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).call = "console"
		con.ServeHTTP(w, r)
	}
	s.mux.HandleFunc("GET /console", consoleFn)
	s.mux.HandleFunc("GET /console/", consoleFn)
	s.mux.HandleFunc("GET /favicon.ico", consoleFn)
	// The front door: a browser pointed at the server finds the console.
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		infoOf(r).call = "console"
		http.Redirect(w, r, "/console/", http.StatusFound)
	})

	s.opsRoutes()
	s.mux.HandleFunc("GET /openapi.json", serveOpenAPI(s.openAPI()))
}
