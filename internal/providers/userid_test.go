package providers

import (
	"testing"
)

// goth decodes these types' ids into integers: "0" then means the profile had none.
func TestGothNumericIDs(t *testing.T) {
	for _, typ := range []string{"github", "gitlab", "gitea", "sandbox"} {
		if r := records[typ]; r == nil || !r.NumericID {
			t.Errorf("%s: record %+v, want numeric_id", typ, r)
		}
	}
	if records["slack-classic"].NumericID || records["openid-connect"].NumericID {
		t.Error("string-id types marked numeric_id")
	}
}

// The broker's own implementations read ids by JSON pointer: strings as sent, numbers with
// every digit, and a numeric 0, null or absence as no id.
func TestAccountID(t *testing.T) {
	doc, err := decodeAnswer([]byte(`{"a":"0","b":0,"c":1234567890123456789,"d":null,"e":{"id":"x"},"f":true,"g":[{"id":7}]}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	for ptr, want := range map[string]string{"/a": "0", "/b": "", "/c": "1234567890123456789", "/d": "", "/e/id": "x", "/f": "", "/g/0/id": "7", "/missing": "", "/e": ""} {
		if got := accountID(doc, ptr); got != want {
			t.Errorf("accountID(%s) = %q, want %q", ptr, got, want)
		}
	}
}
