package providers

import "testing"

// TestNumericIDTypesExist keeps the list of integer-id types in step with the type table.
func TestNumericIDTypesExist(t *testing.T) {
	types := Types()
	for typ := range numericIDTypes {
		if _, ok := types[typ]; !ok {
			t.Errorf("numericIDTypes names %q, which is not a provider type", typ)
		}
	}
}

func TestNoUserID(t *testing.T) {
	for _, c := range []struct {
		typ, id string
		none    bool
	}{
		{"github", "", true},
		{"github", "0", true}, // {"id": null}, {} or null from GitHub's /user
		{"gitlab", "0", true},
		{"github", "1001", false},
		{"slack", "0", false}, // string ids are taken as sent
		{"openid-connect", "0", false},
		{"twitter", "", true},
	} {
		if got := noUserID(c.typ, c.id); got != c.none {
			t.Errorf("noUserID(%q, %q) = %v, want %v", c.typ, c.id, got, c.none)
		}
	}
}
