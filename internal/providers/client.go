package providers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"
)

// maxBody caps every answer a provider sends us. Token and profile answers are a few KB;
// goth reads profiles with io.ReadAll, so without a cap a hostile or broken endpoint could
// make the broker buffer gigabytes.
const maxBody = 1 << 20

// defaultTimeout applies when neither Options.HTTPClient nor the config sets one.
const defaultTimeout = 10 * time.Second

// GuardDefaultClient gives http.DefaultClient a timeout when it has none. cmd calls it once
// at start-up, before serving.
//
// Why: some goth providers ignore the client we inject on some calls. discord, auth0,
// dailymotion, fitbit, intercom, oura and yandex exchange the code with oauth2.NoContext
// and refresh the same way, which makes golang.org/x/oauth2 fall back to
// http.DefaultClient; mailru and seatalk never take a client at all. (openid-connect and
// google refresh through our own code with our client.) http.DefaultClient has no timeout, so one hung provider would hold a
// callback request, and its goroutine, forever. It is a process-wide setting, which is why
// it is a separate call for cmd rather than a side effect of NewRegistry; it never replaces
// a timeout someone else already set.
func GuardDefaultClient(timeout time.Duration) {
	if timeout > 0 && http.DefaultClient.Timeout == 0 {
		http.DefaultClient.Timeout = timeout
	}
}

// KeepConnections lets the default transport, which every provider call goes through, keep
// up to n idle connections per provider host instead of Go's default of 2. A burst of link
// flows (a campaign) calls the same token and profile endpoints from many goroutines at once;
// with 2 idle connections most calls dial (and at a real provider, handshake TLS) again.
// Like GuardDefaultClient it is a process-wide setting: cmd's main calls it once, before
// anything runs. It does nothing when the default transport was replaced (tests do that).
func KeepConnections(n int) {
	if t, ok := http.DefaultTransport.(*http.Transport); ok && n > t.MaxIdleConnsPerHost {
		t.MaxIdleConnsPerHost = n
	}
}

// callClient returns the client for one operation (Begin, Complete, Refresh, Revoke): every
// request it sends shares ctx, which ends after timeout, so an operation made of several
// requests (the exchange, golang.org/x/oauth2's retry with the other client
// authentication style, the profile, GitHub's emails) takes at most timeout in total —
// that is how long a browser waits on the callback. Answers are capped at maxBody.
func callClient(ctx context.Context, base *http.Client, timeout time.Duration) (*http.Client, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	c := &http.Client{
		Transport:     &callTransport{ctx: ctx, base: base.Transport},
		CheckRedirect: base.CheckRedirect,
		Timeout:       timeout,
	}
	return c, cancel
}

type callTransport struct {
	ctx  context.Context
	base http.RoundTripper // nil: http.DefaultTransport, read at call time
	tap  *scopeTap         // Complete's: keeps the granted scopes goth would drop
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	// The request's own context is oauth2's carrier for the client (or Background in goth's
	// code); the operation context replaces it so the deadline and the caller's cancellation
	// reach every request.
	resp, err := base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxBody}
	t.tap.watch(req, resp)
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells "exactly maxBody" from "too long".
		var one [1]byte
		if n, _ := b.ReadCloser.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("answer longer than %d bytes", maxBody)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// injectHTTPClient sets c into a goth provider's client field. goth has no setter, but
// nearly every provider exports `HTTPClient *http.Client` (tiktok calls it `Client`), so a
// field lookup covers the table without one closure per type. It reports whether the
// provider has such a field; TestHTTPClientInjected pins which types do not.
func injectHTTPClient(p any, c *http.Client) bool {
	v := reflect.ValueOf(p)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	for _, name := range []string{"HTTPClient", "Client"} {
		f := v.Elem().FieldByName(name)
		if f.IsValid() && f.CanSet() && f.Type() == reflect.TypeFor[*http.Client]() {
			f.Set(reflect.ValueOf(c))
			return true
		}
	}
	return false
}
