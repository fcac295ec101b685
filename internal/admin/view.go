package admin

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oauthbroker/oauthbroker/internal/store"
)

// Turning store records into page data. Only the fields listed here reach a page: an Identity's
// token fields have no counterpart in identityRow.

func identityURL(bot string, id int64) string {
	return fmt.Sprintf("%s/bots/%s/identities/%d", Prefix, url.PathEscape(bot), id)
}

func (h *Handler) row(i store.Identity, now time.Time) identityRow {
	display := firstNonEmpty(i.Name, i.NickName, i.ProviderUserID)
	return identityRow{
		ID: i.ID, URL: identityURL(i.Bot, i.ID),
		Bot: i.Bot, Channel: i.Channel, User: i.User, Provider: i.Provider, ProviderUserID: i.ProviderUserID,
		Display: display, Name: i.Name, NickName: i.NickName, Email: i.Email,
		Initials: initials(display), Status: status(i.Status), Scopes: i.Scopes, TokenType: i.TokenType,
		Linked: when(now, i.LinkedAt), Updated: when(now, i.UpdatedAt), Expiry: expiry(now, i.ExpiresAt),
	}
}

var statuses = []struct{ value, label, class string }{
	{store.StatusActive, "active", "ok"},
	{store.StatusPending, "pending", "warn"},
	{store.StatusRelinkRequired, "relink required", "err"},
}

func status(s string) statusBadge {
	for _, st := range statuses {
		if st.value == s {
			return statusBadge{Label: st.label, Class: st.class}
		}
	}
	return statusBadge{Label: s}
}

var eventKinds = map[string]string{
	store.EventLinked: "linked", store.EventRelinked: "relinked", store.EventConfirmed: "confirmed",
	store.EventUnlinked: "unlinked", store.EventRefreshed: "refreshed", store.EventRefreshFailed: "refresh failed",
	store.EventRelinkRequired: "relink required",
}

func event(e store.Event, now time.Time) historyLine {
	kind, ok := eventKinds[e.Kind]
	if !ok {
		kind = strings.ReplaceAll(e.Kind, "_", " ")
	}
	outcome := firstNonEmpty(e.Outcome, "ok")
	// revoked and not_revoked (the provider offers no revocation) are both a clean unlink.
	good := (outcome == "ok" || outcome == "revoked" || outcome == "not_revoked") && e.Kind != store.EventRefreshFailed &&
		e.Kind != store.EventRelinkRequired
	return historyLine{
		When: when(now, e.At), Kind: kind, Outcome: strings.ReplaceAll(outcome, "_", " "), OK: good, Detail: e.Detail,
	}
}

// when is t relative to now, with the exact time for the title.
func when(now, t time.Time) shownTime {
	if t.IsZero() {
		return shownTime{Zero: true}
	}
	return shownTime{
		Relative: relative(now, t),
		Exact:    t.UTC().Format("2006-01-02 15:04:05 UTC"),
		ISO:      t.UTC().Format(time.RFC3339),
	}
}

func expiry(now, t time.Time) shownExpiry {
	if t.IsZero() {
		return shownExpiry{None: true}
	}
	return shownExpiry{shownTime: when(now, t), Expired: !now.Before(t)}
}

// relative says how far t is from now in the largest unit that fits: "just now", "5 min ago",
// "in 3 h", "12 days ago"; past two months it gives the date.
func relative(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	case d < 60*24*time.Hour:
		s = fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	default:
		return t.UTC().Format("2 Jan 2006")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// initials are the first letters of the first two words: "Ada Lovelace" → "AL".
func initials(s string) string {
	var out []rune
	for _, w := range strings.Fields(s) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
