package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/oauthbroker/client"
)

// A combined action: one link for everything missing, or every credential at once.
func ExampleClient_Require() {
	ctx := context.Background()
	c, err := client.New("https://broker.example.com", "supportbot", os.Getenv("BROKER_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	req, err := c.Require(ctx, client.RequireRequest{Channel: "slack", User: "U024BE7LH",
		Providers: []client.Requirement{{Provider: "uber"}, {Provider: "twitter", Scopes: []string{"tweet.write"}}}})
	if err != nil {
		log.Fatal(err)
	}
	if !req.Ready {
		// One message with one link: its page connects every missing account in one visit.
		// Carry on when the link.completed webhook arrives.
		fmt.Printf("send to the user: to go on, connect %d account(s): %s\n", len(req.Missing), req.ConnectURL)
	}
	if req.Ready {
		fmt.Println("uber token:", req.Credentials["uber"].AccessToken != "")
	}
}

// Acting as the user: the broker calls the provider with the identity's tokens, which the
// bot never holds. The provider's answer comes back whatever its status; an *Error means the
// broker refused the call.
func ExampleClient_Proxy() {
	ctx := context.Background()
	c, err := client.New("https://broker.example.com", "supportbot", os.Getenv("BROKER_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	form := url.Values{"status": {"Booked a ride to the station"}}
	resp, err := c.Proxy(ctx, 7, http.MethodPost, "1.1/statuses/update.json", strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	var e *client.Error
	switch {
	case client.IsCode(err, client.CodeRelinkRequired):
		// send the user a new link (Require makes one)
	case errors.As(err, &e):
		log.Printf("the broker refused: %s (retry after %s)", e.Code, e.RetryAfter)
	case err != nil:
		log.Print(err) // the broker could not be reached
	default:
		defer resp.Body.Close()
		tweet, _ := io.ReadAll(resp.Body)
		fmt.Println("twitter answered", resp.StatusCode, len(tweet) > 0) // a 4xx here is Twitter's own
	}
}

// Error answers carry the stable code, and Retry-After where there is one.
func ExampleError() {
	c, _ := client.New("https://broker.example.com", "supportbot", os.Getenv("BROKER_API_KEY"))
	_, err := c.Credentials(context.Background(), 42)
	var e *client.Error
	switch {
	case client.IsCode(err, client.CodeRelinkRequired):
		// send the user a new link (Require makes one)
	case errors.As(err, &e) && e.Code == client.CodeRefreshUnavailable:
		time.Sleep(e.RetryAfter)
	}
}

// A webhook endpoint: verify, refuse stale deliveries, handle each event id once.
func ExampleReadWebhook() {
	var mu sync.Mutex
	seen := map[string]bool{} // in a real bot: a store shared by its instances
	http.HandleFunc("POST /hooks/oauthbroker", func(w http.ResponseWriter, r *http.Request) {
		ev, err := client.ReadWebhook(os.Getenv("BROKER_WEBHOOK_SECRET"), r)
		if err != nil {
			http.Error(w, "refused", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		first := !seen[ev.ID]
		seen[ev.ID] = true
		mu.Unlock()
		if first {
			switch ev.Type {
			case client.EventLinked:
				fmt.Printf("%s/%s linked %s\n", ev.Identity.Channel, ev.Identity.User, ev.Identity.Provider)
			case client.EventLinkCompleted:
				// Everything the link was for is linked: carry on with the user's action.
				fmt.Printf("%s/%s finished a link of %d account(s)\n", ev.Link.Channel, ev.Link.User, len(ev.Link.Identities))
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
