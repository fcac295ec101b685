package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/oauthbroker/internal/app"
	"github.com/oauthbroker/oauthbroker/internal/seal"
)

// sealedKeyIDs reads every sealed value straight from the database file and returns the key
// ids they name, counted.
func sealedKeyIDs(t testing.TB, dbPath string) map[string]int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT access_token, access_token_secret, refresh_token FROM identities`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a, s, r []byte
		if err := rows.Scan(&a, &s, &r); err != nil {
			t.Fatal(err)
		}
		for _, v := range [][]byte{a, s, r} {
			if len(v) > 0 {
				id, err := seal.KeyID(v)
				if err != nil {
					t.Fatalf("a stored value is not sealed: %v", err)
				}
				out[id]++
			}
		}
	}
	return out
}

func primaryKey(t testing.TB, keysPath string) (string, []string) {
	t.Helper()
	data, err := os.ReadFile(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := seal.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Ring.Primary(), keys.Ring.IDs()
}

// TestKeyRotationWhileServing: `keys rotate` runs while bots read credentials and tokens get
// refreshed (and so re-sealed by the broker) underneath it. No read fails, every stored value
// ends up under the new key, and `keys retire` works only once no value uses the old one.
func TestKeyRotationWhileServing(t *testing.T) {
	clk := newClock()
	f := newTokenFake(t, true)
	botYAML := glBot(f.URL, "")
	b := startBrokerWith(t, botYAML, app.Options{Now: clk.Now})
	f.Register(t, b.URL+"/bots/alpha/gl/callback")
	var ids []int64
	for i := range 5 {
		ids = append(ids, b.linkOne("alpha", keyA, "gl", "slack", fmt.Sprint("U", i)).ID)
	}
	dir := filepath.Dir(b.dbPath)
	cfgPath := filepath.Join(dir, "keys.yaml")
	writeFile(t, cfgPath, fmt.Sprintf("server:\n  public_url: http://127.0.0.1:1\nstorage:\n  dsn: %s\nbots:\n%s", b.dbPath, botYAML))
	keysPath := filepath.Join(dir, "oauthbroker.keys.json")
	keys := func(verb string, args ...string) (string, error) {
		out, errOut, err := runCommand(context.Background(), nil, append([]string{"keys", verb, "-config", cfgPath}, args...)...)
		return out.String() + errOut.String(), err
	}
	first, _ := primaryKey(t, keysPath)
	if out, err := keys("retire", first); exitCode(err) != 1 || !strings.Contains(err.Error(), "is the primary key") {
		t.Fatalf("retiring the primary key: %v\n%s", err, out)
	}

	// A new primary key alone does not re-encrypt anything: the old key cannot go yet.
	second, err := seal.AddPrimaryKey(keysPath, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys("retire", first); exitCode(err) != 1 || !strings.Contains(err.Error(), "still sealed under "+first) {
		t.Fatalf("retiring a key still in use: %v", err)
	}

	// Bots read two identities all the time, and every ~100 ms the clock jumps so that their
	// tokens need a refresh (re-sealed by the broker, racing the re-encryption). The other
	// three stay cold: only the re-encryption pass can move them to the new key.
	//
	// The broker measures refresh leases on this clock too. A jump during a refresh would end
	// its lease as if the provider had taken an hour to answer, and the next read would take
	// over and present the refresh token the provider had just rotated, which the sandbox
	// (like a provider following RFC 9700) answers by revoking the grant. That is a clock
	// step, which TestRefreshThatOutlivesItsLease covers; here a jump waits for the reads in
	// flight and the refreshes they started.
	hot := ids[:2]
	stop := make(chan struct{})
	var reads, failures atomic.Int64
	var jumping sync.RWMutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				jumping.RLock()
				st, _, p, _ := b.credentialsRaw("alpha", keyA, hot[i%len(hot)])
				jumping.RUnlock()
				reads.Add(1)
				if st != 200 {
					failures.Add(1)
					t.Errorf("read during rotation: %d %+v", st, p)
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				jumping.Lock()
				b.app.Broker.Drain() // no read is in flight, so no refresh can start meanwhile
				clk.Advance(59 * time.Minute)
				jumping.Unlock()
			}
		}
	})
	out, err := keys("rotate")
	time.Sleep(200 * time.Millisecond) // reads and refreshes after the rotation, too
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	t.Logf("%d reads, %d refreshes during rotation\n%s", reads.Load(), f.RefreshCalls.Load(), out)
	if failures.Load() != 0 || reads.Load() == 0 || f.RefreshCalls.Load() == 0 {
		t.Fatalf("%d of %d reads failed; %d refreshes", failures.Load(), reads.Load(), f.RefreshCalls.Load())
	}
	if r := f.Stats().Rejected; len(r) != 0 {
		t.Fatalf("the provider rejected requests (a rotated refresh token presented again?): %v", r)
	}
	third, all := primaryKey(t, keysPath)
	if third == first || third == second || len(all) != 3 {
		t.Fatalf("keys after rotate: primary %s of %v", third, all)
	}
	if got := sealedKeyIDs(t, b.dbPath); len(got) != 1 || got[third] != 10 { // 5 access + 5 refresh tokens
		t.Fatalf("sealed values by key after rotate: %v, want all 10 under %s", got, third)
	}
	resealed := 0
	for _, m := range regexp.MustCompile(`(\d+) values re-encrypted`).FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		resealed += n
	}
	if resealed < 6 {
		t.Errorf("rotate re-encrypted %d values, want at least the cold identities' 6", resealed)
	}
	if out, err := keys("list"); err != nil || !strings.Contains(out, third+"  yes      10") {
		t.Errorf("keys list: %v\n%s", err, out)
	}

	for _, old := range []string{first, second} {
		if out, err := keys("retire", old); err != nil {
			t.Fatalf("retire %s: %v\n%s", old, err, out)
		}
	}
	if p, all := primaryKey(t, keysPath); p != third || len(all) != 1 {
		t.Fatalf("key file after retiring: primary %s of %v", p, all)
	}
	if info, err := os.Stat(keysPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", info.Mode(), err)
	}
	for _, id := range ids {
		if st, _, p, _ := b.credentialsRaw("alpha", keyA, id); st != 200 {
			t.Errorf("read after retiring the old keys: %d %+v", st, p)
		}
	}
}

// TestKeysRefusesEnvironmentKeys: with OAUTHBROKER_KEYS the running brokers cannot follow a
// key file, so rotation refuses and says what to do instead.
func TestKeysRefusesEnvironmentKeys(t *testing.T) {
	_, _, err := runCommand(context.Background(), map[string]string{"OAUTHBROKER_KEYS": `{"primary":"k"}`}, "keys", "rotate")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "OAUTHBROKER_KEYS is set") {
		t.Fatalf("got %v", err)
	}
	if _, errOut, err := runCommand(context.Background(), nil, "keys", "frobnicate"); exitCode(err) != 2 || !strings.Contains(errOut.String(), "keys rotate") {
		t.Errorf("unknown verb: %v %s", err, errOut)
	}
}
