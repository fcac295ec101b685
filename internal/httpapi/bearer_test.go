package httpapi

import "testing"

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc-123_x.y~z+/=", "abc-123_x.y~z+/=", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearer  abc", "", false},
		{"Bearer abc def", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"abc", "", false},
		{"", "", false},
		{"Bearer abc\x00", "", false},
		{"Bearer abcé", "", false},
		{"Bearer " + string(make([]byte, 600)), "", false},
	} {
		token, ok := BearerToken(c.header)
		if token != c.token || ok != c.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", c.header, token, ok, c.token, c.ok)
		}
	}
}
