package providers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
)

// What an identity stores as granted, from what the token answer said.
func TestGrantedScopeNames(t *testing.T) {
	google := records["google"].Spec
	microsoft := records["microsoft"].Spec
	for _, c := range []struct {
		name      string
		requested []string
		answer    string // "-": no scope member
		spec      config.Spec
		want      []string
	}{
		{"no scope member: as requested (RFC 6749 §5.1)", []string{"a", "b"}, "-", config.Spec{}, []string{"a", "b"}},
		{"fewer granted", []string{"a", "b"}, "a", config.Spec{}, []string{"a"}},
		{"nothing granted", []string{"a"}, "", config.Spec{}, nil},
		{"comma-separated answer", []string{"repo", "gist"}, "gist,repo", config.Spec{}, []string{"repo", "gist"}},
		{"more granted than asked", []string{"a"}, "a b", config.Spec{}, []string{"a", "b"}},
		{"provider says nothing", []string{"a", "b"}, "a", config.Spec{GrantedScopes: config.GrantedRequested}, []string{"a", "b"}},
		{"Google's long names", []string{"openid", "email", "profile"},
			"openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile", google, []string{"openid", "email", "profile"}},
		{"Google: the user unticked profile", []string{"openid", "email", "profile"},
			"openid https://www.googleapis.com/auth/userinfo.email", google, []string{"openid", "email"}},
		{"Microsoft leaves out offline_access and changes case", []string{"openid", "offline_access", "User.Read", "Mail.Read"},
			"user.read openid", microsoft, []string{"openid", "offline_access", "User.Read"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var answer []string
			answered := c.answer != "-"
			if answered {
				answer, _ = splitScopes(c.answer, c.spec.ScopeSeparator)
			}
			if got := grantedScopes(c.requested, answer, answered, c.spec); !slices.Equal(got, c.want) {
				t.Errorf("granted %q, want %q", got, c.want)
			}
		})
	}
}

// The scope tap reads the exchange's answer (and only the exchange's), leaving it intact
// for goth.
func TestScopeTap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at","scope":"openid https://www.googleapis.com/auth/userinfo.email"}`))
	}))
	defer srv.Close()
	tap := &scopeTap{}
	client, cancel := callClient(t.Context(), srv.Client(), 3*time.Second)
	defer cancel()
	client.Transport.(*callTransport).tap = tap
	for _, grant := range []string{"refresh_token", "authorization_code"} {
		resp, err := client.PostForm(srv.URL, url.Values{"grant_type": {grant}, "code": {"c"}})
		if err != nil {
			t.Fatal(err)
		}
		body := new(strings.Builder)
		_, _ = io.Copy(body, resp.Body)
		resp.Body.Close()
		if !strings.Contains(body.String(), `"access_token":"at"`) {
			t.Fatalf("the answer goth reads was consumed: %q", body)
		}
		scopes, ok := tap.scope()
		if want := grant == "authorization_code"; ok != want || ok && !slices.Equal(scopes, []string{"openid", "https://www.googleapis.com/auth/userinfo.email"}) {
			t.Errorf("after a %s request: %q %v", grant, scopes, ok)
		}
	}
}
