package testenv_test

import (
	"database/sql"
	"net/http"
	"os"
	"slices"
	"testing"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/sandbox"
	"github.com/oauthbroker/oauthbroker/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestStartFromGo: a broker configured in Go links an account through the browser, and the
// bot reads it back.
func TestStartFromGo(t *testing.T) {
	sb, sbURL := testenv.NewSandbox(t)
	b := testenv.Start(t, testenv.Config{
		Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).Confirm("none").
			Provider("sandbox", "sandbox", "client-a", "secret-a-0123456789")},
		App: app.Options{SandboxURL: sbURL},
	})
	if err := sb.AddClient(sandbox.Client{ID: "client-a", Secret: "secret-a-0123456789",
		RedirectURIs: []string{b.URL + "/bots/alpha/sandbox/callback"}}); err != nil {
		t.Fatal(err)
	}
	id := b.LinkOne("alpha", testenv.KeyA, "sandbox", "slack", "U1")
	if id.Provider != "sandbox" || id.ProviderUserID != "1001" || id.Status != "active" {
		t.Errorf("identity %+v", id)
	}
	if c := b.Credentials("alpha", testenv.KeyA, id.ID); c.AccessToken == "" {
		t.Errorf("credentials %+v", c)
	}
	if st := b.API(http.MethodGet, "/bots/alpha/identities?channel=slack&user=U1", testenv.KeyB, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("another bot's key: %d", st)
	}
}

// TestSnapshotCoversEveryTable: the digest changes when any table changes, a table added
// after this was written included, and not when nothing changes.
func TestSnapshotCoversEveryTable(t *testing.T) {
	b := testenv.Start(t, testenv.Config{Bots: []*testenv.BotConfig{testenv.Bot("alpha").Key(testenv.KeyA).
		Provider("gh", "github", "k", "s")}})
	tables := b.Tables()
	for _, want := range []string{"links", "identities", "webhook_outbox"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("tables %v lack %s", tables, want)
		}
	}
	before := b.Snapshot()
	if again := b.Snapshot(); again != before {
		t.Fatal("two snapshots of an idle store differ")
	}
	db, err := sql.Open("sqlite3", "file:"+b.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE added_later (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID`); err != nil {
		t.Fatal(err)
	}
	empty := b.Snapshot()
	if empty == before {
		t.Error("a new, empty table did not change the digest")
	}
	if _, err := db.Exec(`INSERT INTO added_later VALUES ('a', x'00')`); err != nil {
		t.Fatal(err)
	}
	row := b.Snapshot()
	if row == empty {
		t.Error("a row in a table added later did not change the digest")
	}
	if b.Snapshot("added_later") != before {
		t.Error("leaving the new table out does not give the old digest")
	}
	for _, table := range tables {
		if b.Snapshot(table) == row {
			t.Errorf("leaving out %s did not change the digest", table)
		}
	}
}
