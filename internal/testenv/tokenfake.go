package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// What the token endpoint does with a refresh_token grant.
const (
	RefreshOK           int32 = iota // the sandbox answers (and rotates, if asked to)
	RefreshInvalidGrant              // 400 invalid_grant: the grant is gone
	RefreshServerError               // 500
	RefreshHang                      // no answer until the client gives up
)

// TokenFake is the strict sandbox OAuth 2 server with a switch in front of its token and
// revocation endpoints, for the failures a real provider has: it answers refresh grants with
// invalid_grant, 500 or silence on demand, fails revocations, counts every refresh grant that
// reaches it, and can shorten the lifetime it announces for the first token (so a test starts
// with a token "about to expire" without waiting an hour). Behind it the sandbox checks client
// secrets, single-use codes and rotated refresh tokens as before.
type TokenFake struct {
	*sandbox.Server
	URL string

	RefreshMode  atomic.Int32
	RevokeFails  atomic.Bool
	FirstTTL     atomic.Int64 // expires_in announced for code exchanges; 0: the sandbox's
	RefreshCalls atomic.Int64 // refreshes attempted, answered or not
	hung         chan struct{}

	// ForgiveReuse makes it a provider that rotates refresh tokens without RFC 9700's reuse
	// detection: a rotated-out refresh token gets invalid_grant, and the grant lives on.
	ForgiveReuse atomic.Bool
	// Holds, when set, receives every refresh answer before it goes out, so a test orders
	// what the broker learns: the provider has decided (and rotated) already.
	Holds atomic.Pointer[chan HeldRefresh]
}

// HeldRefresh is a refresh answer the fake holds until the test closes release.
type HeldRefresh struct {
	Presented string // the refresh token the broker sent
	Status    int
	Release   chan struct{}
}

func NewTokenFake(t testing.TB, rotate bool) *TokenFake {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{
		Users:       []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada Lovelace", Email: "ada@example.com"}},
		AutoApprove: "1001", RotateRefresh: rotate,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &TokenFake{Server: sb, hung: make(chan struct{})}
	srv := httptest.NewServer(f)
	f.URL = srv.URL
	t.Cleanup(func() { close(f.hung); srv.Close() })
	return f
}

func (f *TokenFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/oauth/token":
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("grant_type") == "refresh_token" {
			// x/oauth2 sends a failed token request again with the other client
			// authentication style (Basic first, then the form): one refresh is one Basic try.
			_, _, basic := r.BasicAuth()
			if basic {
				f.RefreshCalls.Add(1)
			}
			if hold := f.Holds.Load(); hold != nil && basic {
				f.holdRefresh(w, r, form.Get("refresh_token"), *hold)
				return
			}
			f.answerRefresh(w, r, form.Get("refresh_token"))
			return
		}
		if ttl := f.FirstTTL.Load(); ttl != 0 && form.Get("grant_type") == "authorization_code" {
			f.withExpiresIn(w, r, ttl)
			return
		}
	case r.Method == http.MethodPost && r.URL.Path == "/oauth/revoke" && f.RevokeFails.Load():
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	f.Server.ServeHTTP(w, r)
}

// answerRefresh answers a refresh grant as the mode says, else as the sandbox does.
func (f *TokenFake) answerRefresh(w http.ResponseWriter, r *http.Request, presented string) {
	switch {
	case f.failRefresh(w, r):
	case f.ForgiveReuse.Load() && !f.Live(presented):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"the refresh token was rotated out"}`)
	default:
		f.Server.ServeHTTP(w, r)
	}
}

// holdRefresh decides a refresh grant, hands the answer to the test on hold and sends it once
// the test releases it.
func (f *TokenFake) holdRefresh(w http.ResponseWriter, r *http.Request, presented string, hold chan HeldRefresh) {
	rec := httptest.NewRecorder()
	f.answerRefresh(rec, r, presented)
	h := HeldRefresh{Presented: presented, Status: rec.Code, Release: make(chan struct{})}
	select {
	case hold <- h:
	case <-f.hung:
		return
	}
	select {
	case <-h.Release:
	case <-f.hung:
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// failRefresh answers a refresh grant as the current mode says; false lets the sandbox answer.
func (f *TokenFake) failRefresh(w http.ResponseWriter, r *http.Request) bool {
	switch f.RefreshMode.Load() {
	case RefreshInvalidGrant:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"the refresh token was revoked"}`)
	case RefreshServerError:
		http.Error(w, "upstream exploded", http.StatusInternalServerError)
	case RefreshHang:
		select {
		case <-r.Context().Done():
		case <-f.hung:
		}
	default:
		return false
	}
	return true
}

// withExpiresIn lets the sandbox answer, then changes the announced lifetime.
func (f *TokenFake) withExpiresIn(w http.ResponseWriter, r *http.Request, ttl int64) {
	rec := httptest.NewRecorder()
	f.Server.ServeHTTP(rec, r)
	var answer map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	answer["expires_in"] = ttl
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// GitlabYAML is a gitlab-type provider entry named gl pointing at the fake: refresh through
// goth's gitlab provider, RFC 7009 revocation at /oauth/revoke.
func GitlabYAML(fakeURL string) string {
	return fmt.Sprintf(`      gl:
        type: gitlab
        key: gl-client
        secret: gl-secret-0123456789
        endpoints:
          auth_url: %[1]s/oauth/authorize
          token_url: %[1]s/oauth/token
          profile_url: %[1]s/api/v4/user
`, fakeURL)
}

// Register adds the broker's gl client (with every callback given) to the fake.
func (f *TokenFake) Register(t testing.TB, callbacks ...string) {
	t.Helper()
	if err := f.AddClient(sandbox.Client{ID: "gl-client", Secret: "gl-secret-0123456789", RedirectURIs: callbacks}); err != nil {
		t.Fatal(err)
	}
}

// LastGrant is the newest token set the fake issued.
func (f *TokenFake) LastGrant(t testing.TB) sandbox.Grant {
	t.Helper()
	g := f.Issued()
	if len(g) == 0 {
		t.Fatal("the provider issued nothing")
	}
	return g[len(g)-1]
}
