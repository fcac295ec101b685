package retain

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// TestRemember: with n = 3 the map holds the newest 3 to 5 keys, the oldest forgotten
// first, and the order lists exactly the keys the map holds.
func TestRemember(t *testing.T) {
	m := map[string]int{}
	var order []string
	for i := range 20 {
		key := fmt.Sprint("k", i)
		m[key] = i
		order = Remember(m, order, key, 3)
		if n := len(m); n < min(i+1, 3) || n > 5 {
			t.Fatalf("after %d keys the map holds %d, want 3 to 5", i+1, n)
		}
		if _, kept := m[key]; !kept {
			t.Fatalf("the newest key %s was forgotten", key)
		}
		held := slices.Sorted(maps.Keys(m))
		if got := slices.Sorted(slices.Values(order)); !slices.Equal(got, held) {
			t.Fatalf("after %d keys the order is %q, the map holds %q", i+1, order, held)
		}
	}
	// The 18th key made six and cut them to the newest three; two more came after.
	if want := []string{"k15", "k16", "k17", "k18", "k19"}; !slices.Equal(order, want) {
		t.Errorf("order %q, want %q: the newest, oldest first", order, want)
	}
}

// TestRememberZeroKeepsEverything: n of zero forgets nothing and keeps no order.
func TestRememberZeroKeepsEverything(t *testing.T) {
	m := map[string]bool{}
	var order []string
	for i := range 100 {
		key := fmt.Sprint(i)
		m[key] = true
		order = Remember(m, order, key, 0)
	}
	if len(m) != 100 || order != nil {
		t.Errorf("n = 0: the map holds %d of 100, order %q", len(m), order)
	}
}

func TestNewest(t *testing.T) {
	log := []int{1, 2, 3}
	if got := Newest(log, 2); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("under 2n entries: %v, want them all", got)
	}
	log = append(log, 4)
	if got := Newest(log, 2); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("at 2n entries: %v, want the newest n, oldest first", got)
	}
	if got := Newest([]int{1, 2, 3, 4, 5}, 0); len(got) != 5 {
		t.Errorf("n = 0: %v, want every entry", got)
	}
}
