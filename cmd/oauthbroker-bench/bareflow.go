package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/oauth1"
)

// flowPages are what the broker answered in one link flow, for the bare flow to answer the
// same bytes: the bot's POST links, the connect page before the click and after the callback.
type flowPages struct {
	Link     []byte `json:"link"`
	Open     []byte `json:"open"`
	Complete []byte `json:"complete"`
}

// bareFlow is the floor of a link flow: the same requests as the broker's flow (the bot's
// POST links, the connect page, the button's POST, the callback with its two provider calls,
// the connect page again) and the same answers, byte for byte, but nothing else — no store,
// no cookies, no templates, no sealing, no goth. What it costs over the fake is what the
// flow's shape costs in net/http, whoever implements it.
type bareFlow struct {
	self   string // this server's URL, where the providers send the browser back
	fakes  fakeURLs
	pages  map[string]flowPages // by provider
	client *http.Client
	// secrets holds each OAuth 1.0a request token's secret from the button's POST to the
	// callback, as any OAuth 1.0a client must.
	secrets sync.Map
}

// bareFlowAPI is where the bare flow's bot API is: the bot's POST links of a flow goes to
// bareFlowAPI+"/api/v1/bots/…/links", apart from the bare handler's answer to the POST links
// test.
const bareFlowAPI = "/flow"

// serveFlow answers a flow route; false for any other path.
func (f *bareFlow) serveFlow(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == bareFlowAPI+"/api/v1/bots/"+benchBot+"/links" {
		f.link(w, r)
		return true
	}
	rest, found := strings.CutPrefix(r.URL.Path, "/bots/"+benchBot+"/")
	if !found {
		return false
	}
	if rest == "connect" {
		f.connect(w, r)
		return true
	}
	provider, step, _ := strings.Cut(rest, "/")
	if _, known := f.pages[provider]; !known {
		return false
	}
	var err error
	switch step {
	case "auth":
		err = f.start(w, r, provider)
	case "callback":
		err = f.callback(w, r, provider)
	default:
		return false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	return true
}

// link answers the bot's POST links with the broker's answer for the provider asked for.
func (f *bareFlow) link(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Provider string `json:"provider"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, ok := f.pages[req.Provider]
	if !ok {
		http.Error(w, "no such provider", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(p.Link)
}

// connect answers the connect page: before the click, or with the account linked once the
// callback sent the browser here with done.
func (f *bareFlow) connect(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := f.pages[q.Get("provider")]
	if !ok {
		http.Error(w, "no such link", http.StatusNotFound)
		return
	}
	body := p.Open
	if q.Has("done") {
		body = p.Complete
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(body)
}

// callbackURL is where provider sends the browser back to the bare flow.
func (f *bareFlow) callbackURL(provider string) string {
	return f.self + "/bots/" + benchBot + "/" + provider + "/callback"
}

// start is the button's POST: the provider's authorize URL, after the request token for
// OAuth 1.0a.
func (f *bareFlow) start(w http.ResponseWriter, r *http.Request, provider string) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	to := ""
	if provider == "twitter" {
		rt, authorize, err := oauth1Start(r.Context(), f.client, f.fakes.Twitter, f.callbackURL(provider))
		if err != nil {
			return err
		}
		f.secrets.Store(rt.Token, rt.Secret)
		to = authorize
	} else {
		to = oauth2AuthorizeURL(f.fakes.Sandbox, f.callbackURL(provider), rand.Text())
	}
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// callback makes the provider calls of the callback and sends the browser to the connect
// page.
func (f *bareFlow) callback(w http.ResponseWriter, r *http.Request, provider string) error {
	q := r.URL.Query()
	var err error
	if provider == "twitter" {
		secret, ok := f.secrets.LoadAndDelete(q.Get("oauth_token"))
		if !ok {
			return errors.New("a callback for an unknown request token")
		}
		rt := oauth1.Token{Token: q.Get("oauth_token"), Secret: secret.(string)}
		err = oauth1Complete(r.Context(), f.client, f.fakes.Twitter, rt, q.Get("oauth_verifier"))
	} else {
		err = oauth2Complete(r.Context(), f.client, f.fakes.Sandbox, f.callbackURL(provider), q.Get("code"))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/bots/"+benchBot+"/connect?provider="+provider+"&done=1", http.StatusSeeOther)
	return nil
}

// sampleFlow runs one flow of provider through the broker and keeps its answers, with the
// broker's URL replaced by the bare handler's, and each link's token by the provider's name,
// which is all the bare flow needs to know which page to answer.
func sampleFlow(ctx context.Context, client *http.Client, brokerURL, bareURL, provider string) (flowPages, error) {
	w := &worker{client: client}
	req, _ := json.Marshal(map[string]string{"provider": provider, "channel": benchChannel, "user": "sample-" + provider})
	link, err := api(ctx, w, http.MethodPost, brokerURL+"/api/v1/bots/"+benchBot+"/links", req, http.StatusCreated)
	if err != nil {
		return flowPages{}, err
	}
	linkURL, err := linkURLOf(link)
	if err != nil {
		return flowPages{}, err
	}
	open, complete, err := browse(ctx, w, brokerURL, linkURL, provider)
	if err != nil {
		return flowPages{}, err
	}
	u, err := url.Parse(linkURL)
	if err != nil {
		return flowPages{}, err
	}
	token := u.Query().Get("link")
	// Only the link's URL is rewritten: the bare flow reads the provider from it. The form's
	// hidden field keeps the token (spent by now), which the bare flow never reads.
	rewrite := func(b []byte) []byte {
		b = bytes.ReplaceAll(b, []byte(brokerURL), []byte(bareURL))
		b = bytes.ReplaceAll(b, []byte("connect?link="+token), []byte("connect?provider="+provider))
		return b
	}
	return flowPages{Link: rewrite(link), Open: rewrite(open), Complete: rewrite(complete)}, nil
}

// bareFlowClient is the bare flow's client to the providers: idle connections kept for
// the bench's concurrency, as the broker keeps them.
func bareFlowClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
	}}
}
