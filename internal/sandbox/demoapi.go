package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Scopes of the demo APIs.
const (
	ScopeRides = "rides" // book rides as the user
	ScopePosts = "posts" // publish posts as the user
)

// DemoAPIs puts two tiny provider APIs in front of a sandbox server, for the demo's "share
// my ride" bot (examples/chatbot): a rides service and a social network. They sit at the
// sandbox-type provider's API base (/api/v4) and accept the sandbox's own access tokens,
// each with its scope, as Uber's and Twitter's APIs accept theirs:
//
//	POST /api/v4/rides       {"pickup","destination"} → 201 the ride        (scope rides)
//	POST /api/v4/posts       {"text"}, at most 280 characters → 201 the post (scope posts)
//	GET  /api/v4/posts/{id}  a post; public, like a post's web page
//
// Every other request goes to the sandbox. State lives in memory.
type DemoAPIs struct {
	sandbox *Server
	mux     *http.ServeMux

	mu    sync.Mutex
	rides []Ride
	posts []Post
}

// Ride is a booked ride.
type Ride struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	Rider       string    `json:"rider"` // the login of the token's user
	Pickup      string    `json:"pickup"`
	Destination string    `json:"destination"`
	Driver      string    `json:"driver"`
	Car         string    `json:"car"`
	ETAMinutes  int       `json:"eta_minutes"`
	BookedAt    time.Time `json:"booked_at"`
}

// Post is a published post.
type Post struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"` // the login of the token's user
	Text      string    `json:"text"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"created_at"`
}

// NewDemoAPIs serves the demo APIs, and s for everything else.
func NewDemoAPIs(s *Server) *DemoAPIs {
	d := &DemoAPIs{sandbox: s, mux: http.NewServeMux()}
	d.mux.HandleFunc("POST /api/v4/rides", d.bookRide)
	d.mux.HandleFunc("POST /api/v4/posts", d.publish)
	d.mux.HandleFunc("GET /api/v4/posts/{id}", d.post)
	d.mux.Handle("/", s)
	return d
}

func (d *DemoAPIs) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Posts returns every post published so far, oldest first.
func (d *DemoAPIs) Posts() []Post {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.posts)
}

// Rides returns every ride booked so far, oldest first.
func (d *DemoAPIs) Rides() []Ride {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.rides)
}

var demoDrivers = []struct{ name, car string }{
	{"Grace", "a blue Zoe, KL-204"}, {"Alan", "a grey Prius, TU-1936"}, {"Katherine", "a white Leaf, NA-1969"},
}

func (d *DemoAPIs) bookRide(w http.ResponseWriter, r *http.Request) {
	user, ok := d.authorize(w, r, ScopeRides)
	if !ok {
		return
	}
	var in struct {
		Pickup      string `json:"pickup"`
		Destination string `json:"destination"`
	}
	if !decodeDemo(w, r, &in) {
		return
	}
	in.Destination = strings.TrimSpace(in.Destination)
	if in.Destination == "" || utf8.RuneCountInString(in.Destination) > 100 || utf8.RuneCountInString(in.Pickup) > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "destination is required (at most 100 characters)"})
		return
	}
	if in.Pickup == "" {
		in.Pickup = "your location"
	}
	d.mu.Lock()
	n := len(d.rides)
	drv := demoDrivers[n%len(demoDrivers)]
	ride := Ride{ID: fmt.Sprintf("ride_%d", n+1), Status: "booked", Rider: user.Login, Pickup: in.Pickup,
		Destination: in.Destination, Driver: drv.name, Car: drv.car, ETAMinutes: 3 + n%5, BookedAt: d.sandbox.now().UTC()}
	d.rides = append(d.rides, ride)
	d.mu.Unlock()
	writeJSON(w, http.StatusCreated, ride)
}

func (d *DemoAPIs) publish(w http.ResponseWriter, r *http.Request) {
	user, ok := d.authorize(w, r, ScopePosts)
	if !ok {
		return
	}
	var in struct {
		Text string `json:"text"`
	}
	if !decodeDemo(w, r, &in) {
		return
	}
	if strings.TrimSpace(in.Text) == "" || utf8.RuneCountInString(in.Text) > 280 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "text is required, at most 280 characters"})
		return
	}
	d.mu.Lock()
	id := fmt.Sprintf("post_%d", len(d.posts)+1)
	p := Post{ID: id, Author: user.Login, Text: in.Text, URL: d.sandbox.baseURL(r) + "/api/v4/posts/" + id, CreatedAt: d.sandbox.now().UTC()}
	d.posts = append(d.posts, p)
	d.mu.Unlock()
	writeJSON(w, http.StatusCreated, p)
}

func (d *DemoAPIs) post(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.posts {
		if p.ID == r.PathValue("id") {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
}

// authorize checks the bearer token and its scope (RFC 6750 §3.1: a valid token without the
// scope gets 403 insufficient_scope, naming the scope needed).
func (d *DemoAPIs) authorize(w http.ResponseWriter, r *http.Request, scope string) (User, bool) {
	user, scopes, ok := d.sandbox.bearer(w, r, shapeGitLab, false)
	if !ok {
		return User{}, false
	}
	if !slices.Contains(scopes, scope) {
		d.sandbox.reject(ReasonInsufficientScope)
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="sandbox", error="insufficient_scope", scope=%q`, scope))
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "scope": scope})
		return User{}, false
	}
	return user, true
}

func decodeDemo(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "the body must be JSON"})
		return false
	}
	return true
}
