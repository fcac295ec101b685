package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/providertest"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
)

// bareBodies are the bare handler's answers, bodies of the broker's own answers byte for
// byte, and what its bare flow needs: where it listens and where the fakes are.
type bareBodies struct {
	Credentials []byte `json:"credentials"`
	Identities  []byte `json:"identities"`
	Links       []byte `json:"links"`

	Addr  string               `json:"addr"` // host:port to listen on, known to the fakes
	Fakes fakeURLs             `json:"fakes"`
	Flows map[string]flowPages `json:"flows"` // by provider; none when no flow test runs
}

// runBare is the ceiling: a net/http handler that answers each API route with a JSON body of
// the broker's size, doing nothing else, and the flow's routes as bareFlow does. It serves
// until stopped.
func runBare(ctx context.Context, bodiesFile string, stdout io.Writer) error {
	data, err := os.ReadFile(bodiesFile)
	if err != nil {
		return err
	}
	var b bareBodies
	if err := json.Unmarshal(data, &b); err != nil {
		return err
	}
	flow := &bareFlow{self: "http://" + b.Addr, fakes: b.Fakes, pages: b.Flows, client: bareFlowClient()}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flow.serveFlow(w, r) {
			return
		}
		body, status := b.Identities, http.StatusOK
		switch {
		case strings.HasSuffix(r.URL.Path, "/credentials"):
			body = b.Credentials
		case strings.HasSuffix(r.URL.Path, "/links"):
			_, _ = io.Copy(io.Discard, r.Body)
			body, status = b.Links, http.StatusCreated
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	return serveOn(ctx, b.Addr, h, stdout, nil)
}

// runFakes serves the fake providers a flow goes through: the sandbox (OAuth 2, played as
// GitLab) and providertest's Twitter (OAuth 1.0a, every signature verified), each on its own
// loopback port. clients are the comma-separated URLs of the servers whose GitLab callback the
// sandbox accepts (the broker's and the bare flow's). It prints their addresses as one JSON line.
func runFakes(ctx context.Context, clients string, stdout io.Writer) error {
	var redirects []string
	for c := range strings.SplitSeq(clients, ",") {
		redirects = append(redirects, c+"/bots/"+benchBot+"/gitlab/callback")
	}
	sb, err := sandbox.New(sandbox.Options{
		Clients:     []sandbox.Client{{ID: oauth2ClientID, Secret: oauth2ClientSecret, RedirectURIs: redirects}},
		Users:       []sandbox.User{{ID: "4242", Login: "bench", Name: "Bench User", Email: "bench@example.com"}},
		AutoApprove: "4242",
		Retain:      fakesRetain,
	})
	if err != nil {
		return err
	}
	tb := &processTB{}
	defer tb.cleanup()
	tw := providertest.NewTwitter(tb, map[string]string{oauth1ConsumerKey: oauth1ConsumerSecret})
	tw.SetRetain(fakesRetain)
	return serveOn(ctx, "127.0.0.1:0", sb, stdout, func(sandboxURL string) string {
		out, _ := json.Marshal(fakeURLs{Sandbox: sandboxURL, Twitter: tw.URL()})
		return string(out)
	})
}

// fakesRetain is how many codes, tokens and calls of each kind the fakes keep (up to twice
// that): far more than the flows in flight at once, a second or more of the fastest test,
// while the fakes' memory stays flat over a run. Keeping everything, as tests need, grew
// their process to 2 GB over five rounds, a heap whose collections land in some rounds
// and not others.
const fakesRetain = 10_000

type fakeURLs struct {
	Sandbox string `json:"sandbox"`
	Twitter string `json:"twitter"`
}

// serveOn serves h on addr (port 0: a free one), prints announce(its URL) (default: the URL)
// and serves until ctx ends.
func serveOn(ctx context.Context, addr string, h http.Handler, stdout io.Writer, announce func(string) string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	u := "http://" + ln.Addr().String()
	if announce != nil {
		u = announce(u)
	}
	fmt.Fprintln(stdout, u)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// processTB lets providertest's Twitter fake, written for tests, run for the life of this
// process: its constructor only marks itself a helper and registers its server's Close.
// Any other testing.TB method would panic on the nil embedded interface; none is called.
type processTB struct {
	testing.TB
	cleanups []func()
}

func (t *processTB) Helper()          {}
func (t *processTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *processTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
