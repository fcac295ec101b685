package providers

import (
	"net/http"
	"sort"
	"testing"
	"time"
)

// TestHTTPClientInjected pins which goth types take our client. A goth upgrade that renames
// a field would otherwise silently send that type's calls through http.DefaultClient.
func TestHTTPClientInjected(t *testing.T) {
	t.Parallel()
	// mailru keeps its client unexported and seatalk calls http.Get: both fall back to
	// http.DefaultClient (see GuardDefaultClient).
	without := map[string]bool{"mailru": true, "seatalk": true}
	c := &http.Client{}
	var missing []string
	for name, k := range gothKinds {
		a := &buildArgs{key: "k", secret: "s", callbackURL: "https://cb.test", client: c, sandboxURL: "https://sb.test",
			options: map[string]string{"base_url": "https://x.test", "domain": "x.test"},
			oidc:    &oidcConfig{Issuer: "https://x.test", Auth: "https://x.test/a", Token: "https://x.test/t"}}
		gp, err := k.build(a)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if injectHTTPClient(gp, c) == without[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("client injection differs from what this test expects for: %v", missing)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	got := scrub(`Get "https://gitlab.test/api/v4/user?access_token=tok123": EOF; secret s3cr3t`, []string{"s3cr3t", "x"})
	if want := `Get "https://gitlab.test/api/v4/user?…": EOF; secret [redacted]`; got != want {
		t.Fatalf("scrub = %q, want %q", got, want)
	}
}

// Not parallel: it changes http.DefaultClient.
func TestGuardDefaultClient(t *testing.T) {
	prev := http.DefaultClient.Timeout
	t.Cleanup(func() { http.DefaultClient.Timeout = prev })
	http.DefaultClient.Timeout = 0
	GuardDefaultClient(5 * time.Second)
	if http.DefaultClient.Timeout != 5*time.Second {
		t.Fatalf("Timeout = %v, want 5s", http.DefaultClient.Timeout)
	}
	GuardDefaultClient(time.Minute) // never replaces a timeout already set
	if http.DefaultClient.Timeout != 5*time.Second {
		t.Fatalf("Timeout = %v, want it kept at 5s", http.DefaultClient.Timeout)
	}
}
