package main

import (
	"net/http"
	"sync"
	"testing"
)

// readAllAtOnce sends readers concurrent credentials reads of one identity, spread over the
// brokers (processes or instances sharing one store), and checks that the provider saw
// exactly one refresh and every read got the refreshed token.
func readAllAtOnce(t *testing.T, f *tokenFake, brokers []*testBroker, readers int, id int64) {
	t.Helper()
	tokens, statuses := make([]string, readers), make([]int, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			<-start
			st, c, _, _ := brokers[i%len(brokers)].credentialsRaw("alpha", keyA, id)
			statuses[i], tokens[i] = st, c.AccessToken
		})
	}
	close(start)
	wg.Wait()
	if n := f.RefreshCalls.Load(); n != 1 {
		t.Fatalf("the provider saw %d refreshes from %d brokers sharing one store, want exactly 1", n, len(brokers))
	}
	fresh := f.LastGrant(t)
	for i := range readers {
		if statuses[i] != http.StatusOK || tokens[i] != fresh.AccessToken {
			t.Fatalf("read %d (broker %d): status %d, want 200 and the refreshed token", i, i%len(brokers), statuses[i])
		}
	}
}
