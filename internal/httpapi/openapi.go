package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDocument is this API as OpenAPI 3.1. openapi.yaml next to this file is the one
// source; docs/openapi.yaml is a copy for readers of the repository, and a test fails when
// the two differ.
//
//go:generate cp openapi.yaml ../../docs/openapi.yaml
//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPI returns the bot API's OpenAPI 3.1 document, as GET /api/v1/openapi.yaml serves it.
func OpenAPI() []byte { return bytes.Clone(openAPIDocument) }

// serveOpenAPI answers without authentication: the document describes the API, it holds no
// data of any bot.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml") // RFC 9512
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDocument)
}
