package testenv

import (
	"strings"
	"testing"
)

// Unchanged runs attack and checks that it got the status (and, unless wantText is empty, an
// answer saying wantText) and left every table of the store as it was.
func (b *Broker) Unchanged(t testing.TB, wantStatus int, wantText string, attack func() (int, string)) {
	t.Helper()
	b.UnchangedExcept(t, nil, wantStatus, wantText, attack)
}

// UnchangedExcept is Unchanged for every table but the listed ones.
func (b *Broker) UnchangedExcept(t testing.TB, tables []string, wantStatus int, wantText string, attack func() (int, string)) {
	t.Helper()
	before := b.Snapshot(tables...)
	status, body := attack()
	if status != wantStatus {
		t.Errorf("status %d, want %d:\n%s", status, wantStatus, body)
	}
	if wantText != "" && !strings.Contains(body, wantText) {
		t.Errorf("answer does not say %q:\n%s", wantText, body)
	}
	if after := b.Snapshot(tables...); after != before {
		t.Errorf("the store changed")
	}
}
