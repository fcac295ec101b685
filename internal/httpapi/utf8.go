package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// invalidUTF8Field returns the field of a JSON body whose string (name or value) is not valid
// UTF-8, or "" when every string is. encoding/json would quietly turn such bytes, and an
// escaped lone surrogate (\ud800), into U+FFFD: a user id stored that way no longer matches
// the id the bot looks up later. The field is named like "user", "scopes[1]" or
// "providers[0].provider"; a field name that is itself invalid is named by where it is.
//
// A malformed body gives "": decoding then reports what is wrong with it.
func invalidUTF8Field(body []byte) string {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) {
		return "" // nothing to replace: the common case costs one pass
	}
	type frame struct {
		object    bool
		key       string
		index     int
		expectKey bool
	}
	var stack []frame
	path := func(last string) string {
		var b strings.Builder
		for i, f := range stack {
			switch {
			case f.object && i == len(stack)-1 && last != "":
				writeKey(&b, last)
			case f.object && !f.expectKey:
				writeKey(&b, f.key)
			case !f.object:
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		return b.String()
	}
	// valueDone moves the innermost container past the value that just ended.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.object {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			raw := body[start:dec.InputOffset()]
			isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey
			if replaced(t, raw) {
				if isKey {
					if p := path(""); p != "" {
						return "a field name in " + p
					}
					return "a field name"
				}
				return path("")
			}
			if isKey {
				top := &stack[len(stack)-1]
				top.key, top.expectKey = t, false
			} else {
				valueDone()
			}
		default:
			valueDone()
		}
	}
}

// replaced reports whether decoding raw (a JSON string token with what precedes it) to s put a
// U+FFFD in place of something else: s has more of them than raw spells out, as the UTF-8
// bytes or as the escape \ufffd.
func replaced(s string, raw []byte) bool {
	n := strings.Count(s, "\uFFFD")
	if n == 0 {
		return false
	}
	spelled := bytes.Count(raw, []byte("\uFFFD")) + bytes.Count(bytes.ToLower(raw), []byte(`\ufffd`))
	return n > spelled
}

func writeKey(b *strings.Builder, key string) {
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
}
