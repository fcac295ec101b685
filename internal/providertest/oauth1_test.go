package providertest

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// The verifier must reproduce the RFC's examples exactly, from the request as sent: the
// parameters it collects, the base string, and where the RFC allows, the signature.
// internal/providers' TestSignerRFC5849Vectors holds the signer to the same vectors.
func TestVerifierRFC5849Vectors(t *testing.T) {
	for _, v := range RFC5849Vectors {
		t.Run(v.Name, func(t *testing.T) {
			r := httptest.NewRequest(v.Method, v.URL, strings.NewReader(v.Body))
			if v.ContentType != "" {
				r.Header.Set("Content-Type", v.ContentType)
			}
			if v.Authorization != "" {
				r.Header.Set("Authorization", v.Authorization)
			}
			s, err := parseSigned(r)
			if err != nil {
				t.Fatalf("parseSigned: %v", err)
			}
			// §3.4.1.3.1: the same parameters as the RFC lists, in any order.
			got := make([]string, len(s.params))
			for i, p := range s.params {
				got[i] = p.name + "=" + p.value
			}
			want := make([]string, len(v.Params))
			for i, p := range v.Params {
				want[i] = p[0] + "=" + p[1]
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("parameters\n got %q\nwant %q", got, want)
			}
			base := signatureBaseString(r, s.params)
			if base != v.BaseString {
				t.Fatalf("base string\n got %s\nwant %s", base, v.BaseString)
			}
			if v.Signature != "" {
				if sig := hmacSHA1(base, v.ClientSecret, v.TokenSecret); sig != v.Signature || sig != s.oauth["oauth_signature"] {
					t.Fatalf("signature %s, want the RFC's %s (header says %s)", sig, v.Signature, s.oauth["oauth_signature"])
				}
			}
		})
	}
}

// The intermediate results the RFC prints for §3.4.1.1's request.
func TestVerifierRFC5849Steps(t *testing.T) {
	v := RFC5849Vectors[0]
	var params []param
	for _, p := range v.Params {
		params = append(params, param{p[0], p[1]})
	}
	// End of §3.4.1.3.2.
	if got, want := normalizeParameters(params), "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9dj"+
		"dj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1"+
		"&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"; got != want {
		t.Errorf("normalized parameters\n got %s\nwant %s", got, want)
	}
	// §3.4.1.2's examples of a base string URI.
	for raw, want := range map[string]string{
		"HTTP://EXAMPLE.COM:80/r%20v/X?id=123": "http://example.com/r%20v/X",
		"https://www.example.net:8080/?q=1":    "https://www.example.net:8080/",
		"https://www.example.net:443/a":        "https://www.example.net/a",
		"http://www.example.net:443/a":         "http://www.example.net:443/a",
	} {
		if got := baseStringURI(httptest.NewRequest("GET", raw, nil)); got != want {
			t.Errorf("base string URI of %s = %s, want %s", raw, got, want)
		}
	}
	// §3.6, with a multi-byte character and the characters that are easy to get wrong.
	if got, want := encode("Ladies + Gentlemen ~-._ café*!"), "Ladies%20%2B%20Gentlemen%20~-._%20caf%C3%A9%2A%21"; got != want {
		t.Errorf("encode = %s, want %s", got, want)
	}
}

// TestNonceLogForgetsOnlyWhatTheTimestampCheckRefuses: a nonce is refused a second time for
// as long as its timestamp is inside the window the verifier accepts; once outside it, the
// log may drop it (the timestamp check refuses the request anyway), and does at its next
// sweep, so a fake under a long load stays within twice a window's worth of nonces.
func TestNonceLogForgetsOnlyWhatTheTimestampCheckRefuses(t *testing.T) {
	l := newNonceLog()
	t0 := time.Unix(1_800_000_000, 0)
	if !l.add("old", t0.Unix(), t0) || l.add("old", t0.Unix(), t0) {
		t.Fatal("a nonce was not refused the second time")
	}
	now := t0.Add(maxSkew + time.Minute)
	recent := now.Add(-maxSkew + time.Minute).Unix() // four minutes old: still inside the window
	if !l.add("recent", recent, now) {
		t.Fatal("a new nonce was refused")
	}
	for i := range minSweep - 3 { // "old", "recent", these, then "last", the minSweep-th: the first sweep
		if !l.add(fmt.Sprint("n", i), now.Unix(), now) {
			t.Fatalf("nonce n%d refused", i)
		}
	}
	if _, kept := l.seen["old"]; !kept {
		t.Fatal("the log swept before its minSweep-th nonce")
	}
	if !l.add("last", now.Unix(), now) {
		t.Fatal("a new nonce was refused")
	}
	if _, kept := l.seen["old"]; kept {
		t.Error("a nonce outside the window survived the sweep")
	}
	if l.add("recent", recent, now) {
		t.Error("a nonce inside the window was forgotten: it was accepted again")
	}
	if len(l.seen) != minSweep-1 {
		t.Errorf("the log holds %d nonces after the sweep, want %d (all but the expired one)", len(l.seen), minSweep-1)
	}
	if l.sweepAt != 2*(minSweep-1) {
		t.Errorf("the next sweep is due at %d nonces, want twice the %d left", l.sweepAt, minSweep-1)
	}
}
