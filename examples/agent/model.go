package main

import (
	"encoding/json"
	"fmt"
)

// step is what the model does next: call a tool, or say something (and wait for the user,
// unless done).
type step struct {
	tool string
	args map[string]any
	say  string
	done bool
}

// model is a scripted stand-in for an LLM, for the one task "share my ride": it picks the
// next step from what the tools last answered, as a model reading their descriptions would.
// Its only knowledge of the APIs is what describe_provider would tell it: rides are booked
// with POST /rides and posts published with POST /posts.
type model struct {
	to, rides, social string

	last struct {
		tool    string
		text    string
		isError bool
	}
	heard bool // the user said something since the last tool call
	ride  struct {
		ID, Driver, Car string
		ETAMinutes      int `json:"eta_minutes"`
	}
}

func (m *model) observe(tool, text string, isError bool) {
	m.last.tool, m.last.text, m.last.isError = tool, text, isError
	m.heard = false
}

func (m *model) hear(string) { m.heard = true }

func (m *model) next() step {
	need := map[string]any{"providers": []string{m.rides, m.social}}
	if m.last.isError {
		var e struct {
			Error struct{ Code, Message, NextStep string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(m.last.text), &e)
		return step{say: fmt.Sprintf("Sorry, that did not work: %s (%s).", e.Error.Message, e.Error.Code), done: true}
	}
	switch m.last.tool {
	case "":
		return step{tool: "connect_accounts", args: need}
	case "connect_accounts":
		var c struct {
			Ready          bool   `json:"ready"`
			MessageForUser string `json:"message_for_user"`
		}
		_ = json.Unmarshal([]byte(m.last.text), &c)
		switch {
		case c.Ready:
			return step{tool: "call_api", args: map[string]any{"provider": m.rides, "method": "POST", "path": "/rides",
				"body": map[string]string{"destination": m.to}}}
		case m.heard:
			return step{tool: "connect_accounts", args: need}
		}
		return step{say: c.MessageForUser}
	case "call_api":
		var r struct {
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		}
		_ = json.Unmarshal([]byte(m.last.text), &r)
		if r.Status != 201 {
			return step{say: fmt.Sprintf("Sorry, the provider answered %d: %s", r.Status, r.Body), done: true}
		}
		if m.ride.ID == "" {
			_ = json.Unmarshal(r.Body, &m.ride)
			text := fmt.Sprintf("On my way to %s with %s in %s, there in %d minutes.", m.to, m.ride.Driver, m.ride.Car, m.ride.ETAMinutes)
			return step{tool: "call_api", args: map[string]any{"provider": m.social, "method": "POST", "path": "/posts",
				"body": map[string]string{"text": text}}}
		}
		var post struct{ URL string }
		_ = json.Unmarshal(r.Body, &post)
		return step{say: fmt.Sprintf("Booked %s: %s is coming in %s, in %d minutes. Shared on %s: %s",
			m.ride.ID, m.ride.Driver, m.ride.Car, m.ride.ETAMinutes, m.social, post.URL), done: true}
	}
	return step{say: "I got lost; let's start again.", done: true}
}
