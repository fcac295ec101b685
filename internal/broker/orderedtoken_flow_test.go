package broker_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/store"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

// TestLinkAndFlowKeysAreStoredInCreationOrder: what the store keeps of the links and flows a
// bot and its users make, read from the database file, is in the order they were made (so
// each new one goes to the end of its unique index), and still only the hash of each token
// after its time: the link's token from its URL is not in the file.
func TestLinkAndFlowKeysAreStoredInCreationOrder(t *testing.T) {
	b, _ := testenv.StartSandboxBroker(t, "none")
	var tokens []string
	for i := range 6 {
		link := b.Link("alpha", testenv.KeyA, "sandbox", "telegram", "user-"+string(rune('a'+i)))
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, u.Query().Get("link"))
		if i%2 == 0 { // a flow for every other link
			if status, page := testenv.OpenLink(t, testenv.NewBrowser(t), link, "1001", "authorize"); status != http.StatusOK || !testenv.IsComplete(page) {
				t.Fatalf("link %d: status %d\n%s", i, status, page)
			}
		}
	}
	db, err := sql.Open("sqlite3", "file:"+b.DBPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct{ what, query string }{
		{"links", `SELECT token_hash FROM links ORDER BY id`},
		{"flows", `SELECT state_hash FROM flows ORDER BY rowid`},
	} {
		rows, err := db.Query(q.query)
		if err != nil {
			t.Fatal(err)
		}
		var keys [][]byte
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		rows.Close()
		if want := map[string]int{"links": 6, "flows": 3}[q.what]; len(keys) != want {
			t.Fatalf("%s: %d rows, want %d", q.what, len(keys), want)
		}
		for i, k := range keys {
			if len(k) != 8+sha256.Size {
				t.Errorf("%s key %d: %d bytes, want the 8-byte time and a SHA-256", q.what, i, len(k))
			}
			if i > 0 && bytes.Compare(keys[i-1], k) >= 0 {
				t.Errorf("%s key %d (%x) does not sort after key %d (%x)", q.what, i, k, i-1, keys[i-1])
			}
			if q.what == "links" {
				sum := sha256.Sum256([]byte(tokens[i]))
				if !bytes.Equal(k[8:], sum[:]) {
					t.Errorf("link %d: stored %x, want the time and then the token's SHA-256 %x", i, k, sum)
				}
			}
		}
	}
	files := b.RawFiles()
	for i, tok := range tokens {
		if bytes.Contains(files, []byte(tok)) {
			t.Errorf("link %d's token is in the database files", i)
		}
	}
}

// TestLinkMadeBeforeOrderedTokensStillLinks: a link the release before ordered tokens made
// (32 random bytes, stored as their SHA-256 alone) still opens and links after the upgrade,
// for the rest of its time.
func TestLinkMadeBeforeOrderedTokensStillLinks(t *testing.T) {
	b, _ := testenv.StartSandboxBroker(t, "none")
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	now := time.Now().UTC()
	if _, err := b.App.Store.CreateLink(t.Context(), store.Link{TokenHash: sum[:], Bot: "alpha", Channel: "telegram", User: "user-9",
		Providers: []store.LinkProvider{{Provider: "sandbox"}}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	link := b.URL + "/bots/alpha/connect?link=" + token
	status, page := testenv.OpenLink(t, testenv.NewBrowser(t), link, "1002", "authorize")
	if status != http.StatusOK || !testenv.IsComplete(page) || testenv.ProviderState(page, "sandbox") != "linked" {
		t.Fatalf("the old link's page after the callback: status %d\n%s", status, page)
	}
	if ids := b.Identities("alpha", testenv.KeyA, "telegram", "user-9"); len(ids) != 1 || ids[0].ProviderUserID != "1002" {
		t.Fatalf("identities = %+v, want the account linked through the old link", ids)
	}
	// Spent now, as any link: a second visit shows it used, and links nothing.
	if status, _ := testenv.Visit(t, testenv.NewBrowser(t), link); status != http.StatusGone {
		t.Errorf("the spent old link's page in another browser: status %d, want %d", status, http.StatusGone)
	}
}
