package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/oauthbroker/oauthbroker/client"
)

// bot is the conversation with one chat user.
type bot struct {
	api             *client.Client
	actions         *actions
	out             io.Writer
	channel, user   string
	rides, social   string // provider names
	waitingToRideTo string // a ride waiting for accounts to be linked; "" when none
}

func (b *bot) say(format string, args ...any) {
	fmt.Fprintf(b.out, "bot: "+format+"\n", args...)
}

var (
	shareRide = regexp.MustCompile(`(?i)^\s*(?:please\s+)?share\s+my\s+ride(?:\s+to\s+(.+?))?\s*[.!]?\s*$`)
	unlink    = regexp.MustCompile(`(?i)^\s*unlink\s+(\S+)\s*$`)
	sixDigits = regexp.MustCompile(`^\s*(\d{6})\s*$`)
)

// handle answers one line; it returns true when the user said goodbye.
func (b *bot) handle(ctx context.Context, line string) (quit bool) {
	switch l := strings.ToLower(strings.TrimSpace(line)); {
	case l == "":
	case l == "quit" || l == "exit" || l == "bye":
		return true
	case l == "help":
		b.say(`"share my ride to PLACE" books a ride and posts about it; "accounts" lists your linked accounts; "unlink PROVIDER" removes one; "cancel" forgets a ride waiting for accounts.`)
	case l == "accounts":
		b.accounts(ctx)
	case l == "cancel":
		b.waitingToRideTo = ""
		b.say("OK, forgotten.")
	case shareRide.MatchString(line):
		to := shareRide.FindStringSubmatch(line)[1]
		if to == "" {
			to = "the office"
		}
		b.shareRide(ctx, to)
	case unlink.MatchString(line):
		b.unlink(ctx, unlink.FindStringSubmatch(line)[1])
	case sixDigits.MatchString(line):
		// Bots with confirm: code: the connect page showed the user a code to type here.
		b.confirm(ctx, sixDigits.FindStringSubmatch(line)[1])
	default:
		b.say(`Sorry, I only share rides. Try "share my ride to the station".`)
	}
	return false
}

// shareRide is the combined action: one Require call for both accounts, one link for what is
// missing, and the action itself once everything is ready.
func (b *bot) shareRide(ctx context.Context, to string) {
	req, err := b.require(ctx)
	if err != nil {
		b.failed(err)
		return
	}
	if !req.Ready {
		b.waitingToRideTo = to
		b.sendConnect(req)
		b.say("I'll book the ride to %s as soon as that is done.", to)
		return
	}
	b.waitingToRideTo = ""
	b.perform(ctx, to, req.Credentials)
}

func (b *bot) require(ctx context.Context) (client.Requirements, error) {
	return b.api.Require(ctx, client.RequireRequest{Channel: b.channel, User: b.user, UserLabel: b.user + " (" + b.channel + ")",
		Providers: []client.Requirement{{Provider: b.rides}, {Provider: b.social}}})
}

// sendConnect sends one message with one link: its page connects every missing account in
// one visit, each worded by why it is needed. In a real chat it would be a card with one
// button (see docs/INTEGRATION.md); a terminal prints it.
func (b *bot) sendConnect(req client.Requirements) {
	var what []string
	for _, m := range req.Missing {
		name := title(m.Provider)
		switch m.Reason {
		case client.ReasonRelinkRequired:
			what = append(what, name+" (connect it again)")
		case client.ReasonMissingScopes:
			what = append(what, name+" (more permissions)")
		default:
			what = append(what, name)
		}
	}
	until := ""
	if req.ConnectExpiresAt != nil {
		until = " (valid until " + req.ConnectExpiresAt.Local().Format("15:04") + ")"
	}
	accounts, them := "account", "it"
	if len(what) > 1 {
		accounts, them = "accounts", "them"
	}
	b.say("To do that I need your %s %s. Open this to connect %s%s:\n     %s", strings.Join(what, " and "), accounts, them, until, req.ConnectURL)
}

func (b *bot) perform(ctx context.Context, to string, creds map[string]client.Credentials) {
	ride, err := b.actions.bookRide(ctx, creds[b.rides], to)
	if err != nil {
		b.say("I could not book the ride: %v", err)
		return
	}
	b.say("Booked %s: %s in %s picks you up in %d minutes.", ride.ID, ride.Driver, ride.Car, ride.ETAMinutes)
	text := fmt.Sprintf("On my way to %s: %s is picking me up in %d minutes.", ride.Destination, ride.Driver, ride.ETAMinutes)
	post, err := b.actions.publish(ctx, creds[b.social], text)
	if err != nil {
		b.say("The ride is booked, but I could not share it: %v", err)
		return
	}
	b.say("Shared on %s: %q %s", title(b.social), post.Text, post.URL)
}

// event handles a webhook. Only this user's events matter to this conversation.
func (b *bot) event(ctx context.Context, ev client.Event) {
	if ev.Type == client.EventLinkCompleted {
		// Every account the link was for is linked (and confirmed): carry on.
		if l := ev.Link; l.Channel == b.channel && l.User == b.user && b.waitingToRideTo != "" {
			b.continueRide(ctx, b.waitingToRideTo)
		}
		return
	}
	id := ev.Identity
	if id.Channel != b.channel || id.User != b.user {
		return
	}
	switch ev.Type {
	case client.EventConfirmed:
		// Only the bot confirms codes (see confirm), and it said so then.
	case client.EventLinked, client.EventRelinked:
		if id.Status == client.StatusPending {
			// The page shows the code once every account of the link is linked.
			b.say("Your %s account is linked; it counts once you type the code the page shows at the end.", title(id.Provider))
			return
		}
		b.say("Your %s account is connected.", title(id.Provider))
	case client.EventRelinkRequired:
		b.say("%s no longer accepts my access to your account; I'll ask you to connect it again when I need it.", title(id.Provider))
	case client.EventUnlinked:
		b.say("Your %s account is disconnected.", title(id.Provider))
	}
}

// continueRide carries on with a waiting ride once its link is complete: Require again, and
// either perform or say what is still missing (without sending a link again).
func (b *bot) continueRide(ctx context.Context, to string) {
	req, err := b.require(ctx)
	if err != nil {
		b.failed(err)
		return
	}
	if !req.Ready {
		var names []string
		for _, m := range req.Missing {
			names = append(names, title(m.Provider))
		}
		b.say("Still waiting for your %s account (the link above).", strings.Join(names, " and "))
		return
	}
	b.waitingToRideTo = ""
	b.perform(ctx, to, req.Credentials)
}

func (b *bot) confirm(ctx context.Context, code string) {
	ids, err := b.api.Confirm(ctx, b.channel, b.user, code)
	switch {
	case client.IsCode(err, client.CodeWrongCode):
		b.say("That is not the code on the page. Try again (after five wrong tries I send a new link).")
	case client.IsCode(err, client.CodeNoPendingConfirmation):
		b.say("There is nothing to confirm any more; say \"share my ride\" and I'll send a new link.")
	case client.IsCode(err, client.CodeConfirmNotEnabled):
		b.say("No code needed here: this bot does not use confirmation codes.")
	case err != nil:
		b.failed(err)
	default:
		var names []string
		for _, id := range ids {
			names = append(names, title(id.Provider))
		}
		accounts := "account is"
		if len(ids) > 1 {
			accounts = "accounts are"
		}
		b.say("Confirmed: your %s %s connected.", strings.Join(names, " and "), accounts)
		if to := b.waitingToRideTo; to != "" {
			b.continueRide(ctx, to)
		}
	}
}

func (b *bot) accounts(ctx context.Context) {
	ids, err := b.api.Identities(ctx, b.channel, b.user, "")
	if err != nil {
		b.failed(err)
		return
	}
	if len(ids) == 0 {
		b.say("You have not connected any account yet.")
	}
	for _, id := range ids {
		b.say("%s: %s (@%s), %s, connected %s", title(id.Provider), id.Name, id.NickName, id.Status, id.LinkedAt.Local().Format(time.DateTime))
	}
}

func (b *bot) unlink(ctx context.Context, provider string) {
	ids, err := b.api.Identities(ctx, b.channel, b.user, provider)
	if client.IsCode(err, client.CodeUnknownProvider) {
		b.say("I don't know %q; I use %s and %s.", provider, b.rides, b.social)
		return
	}
	if err != nil {
		b.failed(err)
		return
	}
	if len(ids) == 0 {
		b.say("You have no %s account connected.", title(provider))
	}
	for _, id := range ids {
		if err := b.api.Unlink(ctx, id.ID); err != nil {
			b.failed(err)
			return
		}
	}
	// The identity.unlinked webhook says it to the user.
}

// failed tells the user what went wrong in their terms; the code says what happened.
func (b *bot) failed(err error) {
	var e *client.Error
	switch {
	case errors.As(err, &e) && e.Code == client.CodeRefreshUnavailable:
		b.say("The provider is not answering right now; try again in %s.", e.RetryAfter)
	case errors.As(err, &e) && e.Code == client.CodeUnauthorized:
		b.say("The broker does not accept my API key (OAUTHBROKER_API_KEY).")
	case errors.As(err, &e):
		b.say("The broker said %s: %s", e.Code, e.Detail)
	default:
		b.say("I cannot reach the broker: %v", err)
	}
}

// title is a provider name as people read it: "social" → "Social".
func title(provider string) string {
	if provider == "" {
		return provider
	}
	return strings.ToUpper(provider[:1]) + provider[1:]
}
