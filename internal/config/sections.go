package config

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied when a key is missing or expands to an empty string, so
// `listen: ${LISTEN:-}` means "the default unless the environment says otherwise".
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultOutboundTimeout = 10 * time.Second
	DefaultLinkTTL         = 10 * time.Minute
	DefaultMaxLinkTTL      = 24 * time.Hour
	DefaultSQLiteDSN       = "oauthbroker.db"
	DefaultKeysFileName    = "oauthbroker.keys.json"
	DefaultRetention       = 7 * 24 * time.Hour
	// MinBcryptCost is the lowest bcrypt cost accepted for admin.password_hash: below it a
	// leaked hash gives way to a GPU within days (bcrypt's own default is 10).
	MinBcryptCost = 10
)

// config walks the whole document; every section is checked even when another one is broken.
func (p *parser) config(root *yaml.Node) *Config {
	top := p.object(root, "", root.Line, "server", "storage", "admin", "bots")
	cfg := &Config{File: p.file}
	cfg.Server = p.server(p.section(top, "server", "public_url", "listen", "outbound_timeout", "link_ttl", "max_link_ttl", "proxy",
		"metrics_listen", "metrics_token"))
	cfg.Storage = p.storage(p.section(top, "storage", "driver", "dsn", "keys_file", "max_conns", "retention"))
	cfg.Admin = p.admin(p.section(top, "admin", "password_hash"))
	cfg.Bots = p.bots(top)
	return cfg
}

// section reads a fixed-key map under the top level; a missing section is an empty one, so its
// required keys are reported as missing on the line the parent starts.
func (p *parser) section(top *object, key string, allowed ...string) *object {
	e, ok := top.keys[key]
	if !ok {
		o := p.object(nil, key, top.line, allowed...)
		o.bad = top.bad
		return o
	}
	return p.object(e.value, key, e.line, allowed...)
}

func (p *parser) server(o *object) Server {
	s := Server{
		Listen:          DefaultListen,
		OutboundTimeout: DefaultOutboundTimeout,
		LinkTTL:         DefaultLinkTTL,
		MaxLinkTTL:      DefaultMaxLinkTTL,
	}
	if v := p.str(o, "public_url"); p.required(v, "the URL browsers and providers use to reach the broker, like https://broker.example.com") {
		if u, ok := p.httpURL(v, false); ok {
			// Callback URLs are public_url + "/bots/…": a query would end up in the middle of
			// them, and a trailing slash would double the separator.
			if u.RawQuery != "" || u.ForceQuery {
				p.problem(v.line, v.field, "must not have a ?query: callback URLs are built by appending to it")
			} else {
				s.PublicURL = strings.TrimRight(v.s, "/")
			}
		}
	}
	if v := p.str(o, "listen"); given(v) && p.listenAddress(v) {
		s.Listen = v.s
	}
	if v := p.str(o, "metrics_listen"); given(v) && p.listenAddress(v) {
		if v.s == s.Listen {
			p.problem(v.line, v.field, "must differ from listen (%s): leave it out to serve /metrics there", s.Listen)
		} else {
			s.MetricsListen = v.s
		}
	}
	if v := p.str(o, "metrics_token"); given(v) && p.secretShape(v, "openssl rand -hex 24") {
		s.MetricsToken = v.s
	}
	s.OutboundTimeout, _ = p.duration(p.str(o, "outbound_timeout"), DefaultOutboundTimeout, time.Second, 5*time.Minute)
	var linkOK, maxOK bool
	s.LinkTTL, linkOK = p.duration(p.str(o, "link_ttl"), DefaultLinkTTL, time.Second, 0)
	maxTTL := p.str(o, "max_link_ttl")
	s.MaxLinkTTL, maxOK = p.duration(maxTTL, DefaultMaxLinkTTL, time.Second, 0)
	if linkOK && maxOK && s.MaxLinkTTL < s.LinkTTL {
		p.problem(maxTTL.line, maxTTL.field, "must be at least link_ttl (%s), or links would outlive their cap", s.LinkTTL)
	}
	s.Proxy = p.proxy(o)
	return s
}

// listenAddress checks a host:port to listen on.
func (p *parser) listenAddress(v value) bool {
	host, port, err := net.SplitHostPort(v.s)
	switch {
	case err != nil:
		p.problem(v.line, v.field, "must be host:port, like 127.0.0.1:8080 or :8080")
	case port == "" || (!validPort(port) && port != "0"):
		p.problem(v.line, v.field, "has an invalid port: use 0-65535")
	case strings.ContainsAny(host, "/ "):
		p.problem(v.line, v.field, "has an invalid host: use an IP address or a host name")
	default:
		return true
	}
	return false
}

func (p *parser) storage(o *object) Storage {
	st := Storage{Driver: "sqlite"}
	if v := p.str(o, "driver"); given(v) {
		switch v.s {
		case "sqlite", "postgres":
			st.Driver = v.s
		default:
			p.problem(v.line, v.field, "must be sqlite or postgres")
			st.Driver = ""
		}
	}
	dsn := p.str(o, "dsn")
	switch st.Driver {
	case "sqlite":
		st.DSN = DefaultSQLiteDSN
		if given(dsn) {
			st.DSN = dsn.s
		}
		st.KeysFile = filepath.Join(sqliteDir(st.DSN), DefaultKeysFileName)
	case "postgres":
		// The message must not quote the DSN: it usually carries the database password.
		if p.required(dsn, "a URL like postgres://user:password@host:5432/oauthbroker (from the environment: ${DATABASE_URL})") {
			if u, err := url.Parse(dsn.s); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				p.problem(dsn.line, dsn.field, "must be a postgres:// or postgresql:// URL")
			} else {
				st.DSN = dsn.s
			}
		}
		st.KeysFile = DefaultKeysFileName
	}
	if v := p.str(o, "keys_file"); given(v) {
		st.KeysFile = v.s
	}
	if v := p.str(o, "max_conns"); given(v) {
		n, err := strconv.Atoi(v.s)
		switch {
		case st.Driver != "postgres":
			p.problem(v.line, v.field, "applies to driver postgres only (SQLite writes through one connection)")
		case err != nil || n < 1 || n > maxStorageConns:
			p.problem(v.line, v.field, "must be a whole number of connections from 1 to %d", maxStorageConns)
		default:
			st.MaxConns = n
		}
	}
	st.Retention, _ = p.duration(p.str(o, "retention"), DefaultRetention, time.Hour, 10*365*24*time.Hour)
	return st
}

// maxStorageConns bounds storage.max_conns: each instance holds up to this many connections,
// and PostgreSQL's own default max_connections is 100 for all of them together.
const maxStorageConns = 1000

func (p *parser) admin(o *object) Admin {
	v := p.str(o, "password_hash")
	if !given(v) {
		return Admin{}
	}
	if !isBcrypt(v.s) {
		p.problem(v.line, v.field, "must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters, e.g. from htpasswd -nbBC 12 '' PASSWORD), or empty with OAUTHBROKER_ADMIN_PASSWORD set")
		return Admin{}
	}
	if cost, _ := strconv.Atoi(v.s[4:6]); cost < MinBcryptCost {
		p.problem(v.line, v.field, "has bcrypt cost %d, below %d: such a hash is cheap to crack if it leaks; make a new one with htpasswd -nbBC 12 '' 'PASSWORD' | cut -d: -f2",
			cost, MinBcryptCost)
		return Admin{}
	}
	return Admin{PasswordHash: v.s}
}
