package testenv

import (
	"database/sql"
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

// RequireBody is the answer of POST /bots/{bot}/require.
type RequireBody struct {
	Ready   bool `json:"ready"`
	Missing []struct {
		Provider string `json:"provider"`
		Reason   string `json:"reason"`
		URL      string `json:"url"`
	} `json:"missing"`
	Credentials map[string]CredentialsBody `json:"credentials"`
}

// DamageToken flips one bit of an identity's sealed access token in the database file, as
// disk corruption or a bad restore would.
// DamageToken flips a bit of an identity's sealed access token in the SQLite file, as a
// damaged disk or a wrong key would leave it.
func DamageToken(t testing.TB, dbPath string, id int64) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sealed []byte
	if err := db.QueryRow(`SELECT access_token FROM identities WHERE id = ?`, id).Scan(&sealed); err != nil || len(sealed) == 0 {
		t.Fatalf("read the sealed token: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := db.Exec(`UPDATE identities SET access_token = ? WHERE id = ?`, sealed, id); err != nil {
		t.Fatal(err)
	}
}
