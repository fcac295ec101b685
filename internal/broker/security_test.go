package broker

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/config"
	"github.com/oauthbroker/oauthbroker/internal/providers"
	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/seal"
	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/store/sqlite"
	"github.com/oauthbroker/oauthbroker/internal/testenv/dbdigest"
)

// The broker's own security checks, each driven through its public flow and credentials API
// with a SQLite file store and real providers against the local fakes: the callback's state
// against the browser's flow, OAuth 1.0a's returned oauth_token against the flow's request
// token, and the sealing's binding of a token to its identity (docs/SECURITY.md).

// secBroker is a broker for bot "alpha" with an OAuth 2 provider "sb" at an auto-approving
// sandbox and an OAuth 1.0a provider "tw" at the Twitter fake, on a SQLite file.
type secBroker struct {
	*Broker
	tw     *providertest.Twitter
	dbPath string
}

const secPublic = "https://broker.test"

func newSecBroker(t *testing.T) *secBroker {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Users: []sandbox.User{{ID: "1001", Login: "ada", Name: "Ada"}}, AutoApprove: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := newServer(t, sb)
	tw := providertest.NewTwitter(t, map[string]string{"ck-alpha": "cs-alpha-secret"})
	cfg := &config.Config{
		Server: config.Server{PublicURL: secPublic, OutboundTimeout: 2 * time.Second, LinkTTL: 10 * time.Minute, MaxLinkTTL: time.Hour},
		Bots: []*config.Bot{{Name: "alpha", APIKeys: []string{"key-alpha-0123456789"}, Confirm: config.ConfirmNone,
			Providers: []*config.Provider{
				{Name: "sb", Type: "sandbox"},
				{Name: "tw", Type: "twitter", Key: "ck-alpha", Secret: "cs-alpha-secret", Endpoints: tw.Endpoints()},
			}}},
	}
	reg, err := providers.NewRegistry(t.Context(), cfg, providers.Options{HTTPClient: &http.Client{Timeout: 2 * time.Second}, SandboxURL: sbSrv})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range reg.SandboxClients() {
		if err := sb.AddClient(sandbox.Client{ID: c.ClientID, Secret: c.ClientSecret, RedirectURIs: []string{c.RedirectURI}}); err != nil {
			t.Fatal(err)
		}
	}
	dbPath := filepath.Join(t.TempDir(), "broker.db")
	st, err := sqlite.Open(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, _, err := seal.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &secBroker{Broker: New(cfg, reg, st, keys, Options{}), tw: tw, dbPath: dbPath}
}

// begin makes a link for chat user user, starts provider's flow as the connect page's button
// does, and plays the browser at the provider: it returns the flow the browser's cookie
// carries and the callback query the provider sent back.
func (b *secBroker) begin(t *testing.T, provider, user string) (FlowState, url.Values) {
	t.Helper()
	link, err := b.CreateLink(t.Context(), LinkRequest{Bot: "alpha", Providers: []Requirement{{Provider: provider}}, Channel: "slack", User: user})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	authURL, fs, err := b.BeginAuth(t.Context(), "alpha", provider, u.Query().Get("link"))
	if err != nil {
		t.Fatal(err)
	}
	return fs, providertest.FollowToCallback(t, nil, authURL, secPublic+"/bots/alpha/"+provider+"/callback")
}

// link runs a whole flow and returns the identity it stored.
func (b *secBroker) link(t *testing.T, provider, user string) IdentityInfo {
	t.Helper()
	fs, q := b.begin(t, provider, user)
	done, err := b.CompleteAuth(t.Context(), "alpha", provider, &fs, q)
	if err != nil {
		t.Fatalf("%s for %s: %v", provider, user, err)
	}
	return done.Identity
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestTamperedStateIsRefused: an OAuth 2 callback whose state is not the one of the browser's
// flow — changed, missing, repeated, or another flow's with that flow's own code — is refused
// as flow_invalid and changes nothing in the store (the flow is not even consumed); the
// genuine callback then links the account.
func TestTamperedStateIsRefused(t *testing.T) {
	b := newSecBroker(t)
	fs, q := b.begin(t, "sb", "U1")
	_, other := b.begin(t, "sb", "U2") // another browser's flow, whose callback an attacker holds
	state := q.Get("state")
	if state == "" || state != fs.State || other.Get("state") == state {
		t.Fatalf("callback state %q, flow state %q, other flow's %q", state, fs.State, other.Get("state"))
	}
	flipped := []byte(state)
	flipped[len(flipped)/2] ^= 1
	before := dbdigest.Dump(t, b.dbPath)
	for name, params := range map[string]url.Values{
		"one character changed":             {"code": {q.Get("code")}, "state": {string(flipped)}},
		"missing":                           {"code": {q.Get("code")}},
		"empty":                             {"code": {q.Get("code")}, "state": {""}},
		"a prefix":                          {"code": {q.Get("code")}, "state": {state[:len(state)-1]}},
		"with more after it":                {"code": {q.Get("code")}, "state": {state + "x"}},
		"another flow's second":             {"code": {q.Get("code")}, "state": {other.Get("state"), state}},
		"another flow's, with its code":     other,
		"another flow's, with the error":    {"error": {"access_denied"}, "state": {other.Get("state")}},
		"only OAuth 1.0a's token, no state": {"code": {q.Get("code")}, "oauth_token": {state}},
		"upper-cased":                       {"code": {q.Get("code")}, "state": {strings.ToUpper(state)}},
	} {
		_, err := b.CompleteAuth(t.Context(), "alpha", "sb", &fs, params)
		if ErrorCode(err) != CodeFlowInvalid {
			t.Errorf("state %s: %v, want %s", name, err, CodeFlowInvalid)
		}
		if after := dbdigest.Dump(t, b.dbPath); after != before {
			t.Fatalf("state %s changed the store:\nbefore:\n%s\nafter:\n%s", name, before, after)
		}
	}
	done, err := b.CompleteAuth(t.Context(), "alpha", "sb", &fs, q)
	if err != nil || done.Identity.ID == 0 {
		t.Fatalf("the genuine callback after the refused ones: %+v, %v", done, err)
	}
	ids, err := b.store.Identities(t.Context(), store.IdentityQuery{Bot: "alpha", Channel: "slack", User: "U1"})
	if err != nil || len(ids) != 1 || ids[0].ProviderUserID != "1001" {
		t.Fatalf("identities of U1: %+v, %v", ids, err)
	}
}

// TestOAuth1TokenOfAnotherFlowIsRefused: OAuth 1.0a has no state; the oauth_token the
// provider sends back must be the request token this browser's flow obtained. A callback
// with another flow's token and verifier (an attacker's own approval), a made-up token, or
// none at all is refused as flow_invalid and changes nothing; the genuine one then links.
func TestOAuth1TokenOfAnotherFlowIsRefused(t *testing.T) {
	b := newSecBroker(t)
	fs, q := b.begin(t, "tw", "U1")
	_, other := b.begin(t, "tw", "U2")
	if q.Get("oauth_token") == "" || q.Get("oauth_verifier") == "" || other.Get("oauth_token") == q.Get("oauth_token") {
		t.Fatalf("callbacks %v and %v", q, other)
	}
	before := dbdigest.Dump(t, b.dbPath)
	for name, params := range map[string]url.Values{
		"another flow's token and verifier": other,
		"another flow's token":              {"oauth_token": {other.Get("oauth_token")}, "oauth_verifier": {q.Get("oauth_verifier")}},
		"a made-up token":                   {"oauth_token": {"made-up"}, "oauth_verifier": {q.Get("oauth_verifier")}},
		"no token":                          {"oauth_verifier": {q.Get("oauth_verifier")}},
		"OAuth 2's state instead":           {"state": {fs.State}, "oauth_verifier": {q.Get("oauth_verifier")}},
		"another flow's token as denied=":   {"denied": {other.Get("oauth_token")}},
	} {
		_, err := b.CompleteAuth(t.Context(), "alpha", "tw", &fs, params)
		if ErrorCode(err) != CodeFlowInvalid {
			t.Errorf("%s: %v, want %s", name, err, CodeFlowInvalid)
		}
		if after := dbdigest.Dump(t, b.dbPath); after != before {
			t.Fatalf("%s changed the store:\nbefore:\n%s\nafter:\n%s", name, before, after)
		}
	}
	if _, err := b.CompleteAuth(t.Context(), "alpha", "tw", &fs, q); err != nil {
		t.Fatalf("the genuine callback after the refused ones: %v", err)
	}
	if issued := b.tw.Issued(); len(issued) != 1 {
		t.Fatalf("the fake issued %d access tokens, want the genuine callback's one", len(issued))
	}
}

// TestSealedTokenMovedToAnotherIdentityDoesNotOpen: the sealing binds each token to its
// identity and field, so A's sealed access token copied into B's row (as someone with write
// access to the database would) is an error when B's credentials are read, never A's token;
// and A's own token copied into its secret's field does not open either.
func TestSealedTokenMovedToAnotherIdentityDoesNotOpen(t *testing.T) {
	b := newSecBroker(t)
	a := b.link(t, "tw", "U1")
	b.tw.SetUser(providertest.TwitterUser{ID: "2002", ScreenName: "grace", Name: "Grace Hopper"})
	g := b.link(t, "tw", "U2")
	issued := b.tw.Issued()
	if len(issued) != 2 {
		t.Fatalf("%d access tokens issued, want 2", len(issued))
	}
	for i, id := range []int64{a.ID, g.ID} {
		c, err := b.Credentials(t.Context(), "alpha", id)
		if err != nil || c.AccessToken != issued[i].Token || c.AccessTokenSecret != issued[i].Secret {
			t.Fatalf("identity %d before the move: %+v, %v; want the token the fake issued", id, c, err)
		}
	}

	db, err := sql.Open("sqlite3", "file:"+b.dbPath+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	move := func(query string, args ...any) {
		t.Helper()
		if res, err := db.ExecContext(t.Context(), query, args...); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s: %d rows", query, n)
		}
	}
	move(`UPDATE identities SET access_token = (SELECT access_token FROM identities WHERE id = ?) WHERE id = ?`, a.ID, g.ID)
	c, err := b.Credentials(t.Context(), "alpha", g.ID)
	if ErrorCode(err) != CodeTokenUnreadable || c.AccessToken != "" {
		t.Fatalf("B's credentials with A's sealed token: %+v, %v; want %s and no token", c, err, CodeTokenUnreadable)
	}
	if strings.Contains(fmt.Sprint(c, err), issued[0].Token) {
		t.Fatal("A's token came out for B")
	}

	move(`UPDATE identities SET access_token_secret = access_token WHERE id = ?`, a.ID)
	if c, err := b.Credentials(t.Context(), "alpha", a.ID); ErrorCode(err) != CodeTokenUnreadable || c.AccessTokenSecret != "" {
		t.Fatalf("A's token in its secret's field: %+v, %v; want %s", c, err, CodeTokenUnreadable)
	}
}
