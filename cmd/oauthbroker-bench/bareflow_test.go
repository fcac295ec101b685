package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// TestBareFlowMakesTheProviderCalls: the bare flow is only a floor if it pays for what any
// server of the flow must do. Driven by the bench's own flow, each provider's flow trades its
// code or verifier at the fake, which checks the client's secret or signature, and reads the
// profile; a callback that cannot be completed fails without a provider call.
func TestBareFlowMakesTheProviderCalls(t *testing.T) {
	flow := &bareFlow{client: bareFlowClient()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !flow.serveFlow(w, r) {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	flow.self = srv.URL

	sb, err := sandbox.New(sandbox.Options{
		Clients: []sandbox.Client{{ID: oauth2ClientID, Secret: oauth2ClientSecret,
			RedirectURIs: []string{flow.callbackURL("gitlab")}}},
		Users:       []sandbox.User{{ID: "4242", Login: "bench"}},
		AutoApprove: "4242",
	})
	if err != nil {
		t.Fatal(err)
	}
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	tw := providertest.NewTwitter(t, map[string]string{oauth1ConsumerKey: oauth1ConsumerSecret})
	flow.fakes = fakeURLs{Sandbox: sbSrv.URL, Twitter: tw.URL()}

	// The pages the bench samples from the broker, reduced to what the browser reads of them.
	flow.pages = map[string]flowPages{}
	for _, p := range []string{"gitlab", "twitter"} {
		flow.pages[p] = flowPages{
			Link: fmt.Appendf(nil, `{"url":%q}`, srv.URL+"/bots/"+benchBot+"/connect?provider="+p),
			Open: fmt.Appendf(nil, `<form method="post" action="%s/bots/%s/%s/auth" data-provider="%s">`+
				`<input type="hidden" name="link" value="spent"></form>`, srv.URL, benchBot, p, p),
			Complete: []byte(`<main data-connect="complete"></main>`),
		}
	}

	w := &worker{client: srv.Client()}
	for _, p := range []string{"gitlab", "twitter"} {
		if err := linkFlow(context.Background(), w, srv.URL+bareFlowAPI, p, "u1"); err != nil {
			t.Fatalf("%s flow through the bare flow: %v", p, err)
		}
	}
	if st := sb.Stats(); st.CodeExchanges != 1 || len(st.Rejected) != 0 {
		t.Errorf("the sandbox saw %d code exchanges and refused %v; want one exchange, nothing refused", st.CodeExchanges, st.Rejected)
	}
	if issued := sb.Issued(); len(issued) != 1 {
		t.Errorf("the sandbox issued %d grants, want 1", len(issued))
	}
	var paths []string
	for _, c := range tw.Calls() {
		if c.Rejected != "" {
			t.Errorf("the Twitter fake refused %s: %s", c.Path, c.Rejected)
		}
		paths = append(paths, c.Path)
	}
	if want := []string{"/oauth/request_token", "/oauth/access_token", "/1.1/account/verify_credentials.json"}; !slices.Equal(paths, want) {
		t.Errorf("the Twitter fake's calls %q, want %q", paths, want)
	}

	// A callback for a request token the bare flow never obtained is refused before any call.
	resp, err := srv.Client().Get(srv.URL + "/bots/" + benchBot + "/twitter/callback?oauth_token=unknown&oauth_verifier=v")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || len(tw.Calls()) != len(paths) {
		t.Errorf("a callback for an unknown request token: %d and %d calls at the fake; want 502 and none", resp.StatusCode, len(tw.Calls())-len(paths))
	}
	// An OAuth 2 callback with a code the sandbox never issued fails at the code exchange.
	resp, err = srv.Client().Get(srv.URL + "/bots/" + benchBot + "/gitlab/callback?code=forged&state=s")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || sb.Stats().CodeExchanges != 1 {
		t.Errorf("a callback with a forged code: %d; want 502 and no exchange", resp.StatusCode)
	}
	// A provider the bench did not sample is not the bare flow's route.
	resp, err = srv.Client().Get(srv.URL + "/bots/" + benchBot + "/github/auth")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown provider's start: %d, want 404", resp.StatusCode)
	}
}
