package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/httpapi"
	"github.com/oauthbroker/oauthbroker/internal/providers"
)

// The OpenAPI document is checked against the real broker in three ways:
//
//   - Main puts a validating transport into http.DefaultClient, which Broker.API and every
//     other bot API call of a package's tests go through: every answer any test receives
//     from /api/v1 must match the document (operation, status, headers, body), or the run
//     fails and names the exchange;
//   - TestOpenAPIContract drives every operation into every status and error code the
//     document lists, and fails if one is documented but never produced;
//   - TestOpenAPIDocument checks the document is valid OpenAPI 3.1, is what the broker serves,
//     equals docs/openapi.yaml, and lists exactly the routes the API's router has.

// ContractHost is the server the loaded document is given, so that the router matches
// requests to any test broker: each request is matched as if sent there.
const ContractHost = "http://broker.test"

// Contract is the bot API's OpenAPI document, loaded for validating exchanges.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
	mu     sync.Mutex // kin-openapi does not promise concurrent validation; tests call in parallel
}

func NewContract(data []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("the document says openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	doc.Servers = openapi3.Servers{{URL: ContractHost + "/api/v1"}}
	proxyCatchAll(doc) // below
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Contract{Doc: doc, router: r}, nil
}

// Exchange is one request to the bot API and its answer, as a client saw them.
type Exchange struct {
	method    string
	pathQuery string // the request URI: path and query
	reqHeader http.Header
	reqBody   []byte
	status    int
	header    http.Header
	body      []byte
}

func (ex Exchange) String() string {
	return fmt.Sprintf("%s %s → %d %s", ex.method, ex.pathQuery, ex.status, bytes.TrimSpace(ex.body))
}

// Check validates one exchange against the document and returns its coverage key:
// "operationId status code" (code empty for a success). The request of a success must match
// the document too: a request the broker accepts but the document forbids means the document
// is stricter than the code. (Refused requests are not checked: tests send bad ones on purpose.)
func (c *Contract) Check(ex Exchange) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req, err := http.NewRequest(ex.method, ContractHost+ex.pathQuery, bytes.NewReader(ex.reqBody))
	if err != nil {
		return "", err
	}
	req.Header = ex.reqHeader.Clone()
	problem, perr := problemOf(ex)
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Not an operation of the document: only the router's own problems may answer.
		if perr != nil {
			return "", fmt.Errorf("no documented operation, and the answer is not a problem: %v", perr)
		}
		want := map[int][]string{404: {"route_not_found", "unknown_bot"}, 405: {"method_not_allowed"}, 401: {"unauthorized"}}[ex.status]
		if !slices.Contains(want, problem.Code) {
			return "", fmt.Errorf("no documented operation (%v), answered %d %s", err, ex.status, problem.Code)
		}
		return "- " + fmt.Sprint(ex.status) + " " + problem.Code, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireBearer, MultiError: true}}
	if ex.status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return "", fmt.Errorf("the broker accepted a request the document does not allow: %w", err)
		}
	}
	if key, ok, err := proxyAnswer(route, params, ex); ok { // the provider's answer: below
		return key, err
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.status, Header: ex.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(ex.body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return "", fmt.Errorf("the answer does not match the document: %w", err)
	}
	key := route.Operation.OperationID + " " + fmt.Sprint(ex.status) + " "
	if ex.status >= 400 {
		if perr != nil {
			return "", perr
		}
		key += problem.Code
	}
	return key, nil
}

// CheckEvent validates one webhook delivery (its headers and raw body) against the
// document's webhook of its type: linkCompleted, or identityEvent.
func (c *Contract) CheckEvent(h http.Header, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := c.Doc.Webhooks["identityEvent"].Post
	if h.Get("X-OAuthBroker-Event") == "link.completed" {
		op = c.Doc.Webhooks["linkCompleted"].Post
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("event body: %v", err)
	}
	schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
	if err := c.Doc.ValidateSchemaJSON(schema, v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("the event does not match the document: %w", err)
	}
	for _, p := range op.Parameters {
		val := h.Get(p.Value.Name)
		if val == "" {
			if p.Value.Required {
				return fmt.Errorf("the event has no %s header", p.Value.Name)
			}
			continue
		}
		if err := c.Doc.ValidateSchemaJSON(p.Value.Schema.Value, val, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("header %s: %w", p.Value.Name, err)
		}
	}
	return nil
}

// problemOf reads an error answer as RFC 9457 problem details and checks what a schema
// cannot: status and type agree with the answer and the code.
func problemOf(ex Exchange) (ProblemBody, error) {
	var p struct {
		ProblemBody
		Type string `json:"type"`
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/problem+json" {
		return p.ProblemBody, fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if err := json.Unmarshal(ex.body, &p); err != nil {
		return p.ProblemBody, fmt.Errorf("problem body: %v", err)
	}
	if p.Status != ex.status || p.Type != "https://oauthbroker.dev/problems/"+p.Code {
		return p.ProblemBody, fmt.Errorf("problem status %d and type %q do not match HTTP %d and code %q", p.Status, p.Type, ex.status, p.Code)
	}
	return p.ProblemBody, nil
}

func requireBearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "botKey" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	if _, ok := httpapi.BearerToken(in.RequestValidationInput.Request.Header.Get("Authorization")); !ok {
		return errors.New("no Authorization: Bearer header")
	}
	return nil
}

// Documented lists every coverage key the document promises: each operation's statuses,
// and for problem answers each code the status's schema allows.
func (c *Contract) Documented() []string {
	var keys []string
	for _, path := range c.Doc.Paths.InMatchingOrder() {
		for _, op := range c.Doc.Paths.Value(path).Operations() {
			for status, resp := range op.Responses.Map() {
				media := resp.Value.Content.Get("application/problem+json")
				if media == nil {
					keys = append(keys, op.OperationID+" "+status+" ")
					continue
				}
				for _, code := range problemCodes(media.Schema.Value) {
					keys = append(keys, op.OperationID+" "+status+" "+code)
				}
			}
		}
	}
	keys = append(keys, "- 404 route_not_found", "- 405 method_not_allowed")
	sort.Strings(keys)
	return keys
}

// problemCodes is the enum or const of a problem schema's code, wherever the response
// narrowed it (next to the $ref, which kin-openapi resolves into allOf).
func problemCodes(s *openapi3.Schema) []string {
	var out []string
	for _, part := range append([]*openapi3.SchemaRef{{Value: s}}, s.AllOf...) {
		code := part.Value.Properties["code"]
		if code == nil {
			continue
		}
		if code.Value.Const != nil {
			out = append(out, fmt.Sprint(code.Value.Const))
		}
		for _, e := range code.Value.Enum {
			out = append(out, fmt.Sprint(e))
		}
		if len(out) > 0 && part.Value != s {
			return out // the narrowed list, not Problem's list of every code
		}
		out = out[:0]
	}
	return []string{"(code not narrowed)"}
}

// ContractTransport validates every exchange with /api/v1 against the contract. Other
// requests (to fake providers, to flow pages) pass untouched.
type ContractTransport struct {
	Contract *Contract
	base     http.RoundTripper // nil: http.DefaultTransport at the time of the call
	report   func(Exchange, error)
	seen     func(key string)
}

func (t *ContractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ex := Exchange{method: req.Method, pathQuery: req.URL.RequestURI(), reqHeader: req.Header,
		reqBody: reqBody, status: resp.StatusCode, header: resp.Header, body: body}
	key, verr := t.Contract.Check(ex)
	switch {
	case verr != nil && t.report != nil:
		t.report(ex, verr)
	case verr == nil && t.seen != nil:
		t.seen(key)
	}
	return resp, nil
}

// violations collects what Main's transport found, from any test's goroutine.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(ex Exchange, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.list = append(v.list, fmt.Sprintf("%s\n    %v", ex, err))
}

// Main runs a package's tests with a validating transport in http.DefaultClient, which
// Broker.API and every other bot API call through it go through: every answer any test
// receives from /api/v1 must match the OpenAPI document (operation, status, headers, body),
// or the run fails and names the exchange. A package's TestMain returns its exit code:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	c, err := NewContract(httpapi.OpenAPI())
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi:", err)
		return 1
	}
	var found violations
	http.DefaultClient.Transport = &ContractTransport{Contract: c, report: found.add}
	// app.Open gives http.DefaultClient a timeout the first time it runs (a process-wide
	// setting, made once at start-up in production). Tests start brokers while other
	// goroutines already use http.DefaultClient, so make that one write here, first.
	providers.GuardDefaultClient(config.DefaultOutboundTimeout)
	code := m.Run()
	if len(found.list) > 0 {
		fmt.Fprintf(os.Stderr, "--- FAIL: %d bot API answers do not match internal/httpapi/openapi.yaml:\n", len(found.list))
		for _, v := range found.list {
			fmt.Fprintln(os.Stderr, "  ", v)
		}
		code = 1
	}
	return code
}

// ContractClient is an HTTP client whose every bot API exchange must match the document;
// it records what it saw, for coverage.
func ContractClient(t testing.TB) (*http.Client, func() map[string]bool) {
	t.Helper()
	c, err := NewContract(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	tr := &ContractTransport{Contract: c,
		report: func(ex Exchange, err error) { t.Errorf("%s\n    %v", ex, err) },
		seen:   func(k string) { mu.Lock(); seen[k] = true; mu.Unlock() }}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
}

// proxyCatchAll routes the proxy's {path}, which spans segments like chi's catch-all "*", as
// gorilla/mux's {path:.*}: the validator's router would otherwise match one segment only.
func proxyCatchAll(doc *openapi3.T) {
	for _, p := range doc.Paths.Keys() {
		if rest, ok := strings.CutSuffix(p, "/{path}"); ok {
			item := doc.Paths.Value(p)
			doc.Paths.Delete(p)
			doc.Paths.Set(rest+"/{path:.*}", item)
		}
	}
}

// ProxyOperation reports whether a coverage key ("operationId status code") is one of the
// proxy's operations, which TestProxyContract drives.
func ProxyOperation(key string) bool { return strings.HasPrefix(key, "proxy") }

// proxyAnswer checks an answer of the proxy that carries X-OAuthBroker-Identity: the
// Provider's answer, passed through with whatever status and body the provider gave, which the
// document does not describe beyond its default response. What the broker adds is checked
// here: the identity header names the route's identity, and no provider cookie got through.
// ok is false for every other exchange, which the caller validates as usual.
func proxyAnswer(route *routers.Route, params map[string]string, ex Exchange) (key string, ok bool, err error) {
	if route.Operation == nil || !ProxyOperation(route.Operation.OperationID) {
		return "", false, nil
	}
	id := ex.header.Get("X-OAuthBroker-Identity")
	if id == "" {
		return "", false, nil
	}
	switch {
	case id != params["id"]:
		err = fmt.Errorf("X-OAuthBroker-Identity is %q on a call as identity %q", id, params["id"])
	case ex.header.Get("Set-Cookie") != "":
		err = fmt.Errorf("a provider's Set-Cookie reached the bot")
	case ex.header.Get("Content-Type") == "application/problem+json" && ex.status >= 400 && strings.Contains(string(ex.body), "oauthbroker.dev/problems"):
		err = fmt.Errorf("a broker problem carries X-OAuthBroker-Identity, so it reads as the provider's answer")
	}
	return route.Operation.OperationID + " default ", true, err
}
