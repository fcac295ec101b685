module github.com/oauthbroker/oauthbroker

go 1.26.8

require (
	cloud.google.com/go/compute/metadata v0.3.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/chromedp/chromedp v0.23.0 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/golang-jwt/jwt/v5 v5.2.2 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/gorilla/sessions v1.4.0 // indirect
	github.com/markbates/goth v1.82.0 // indirect
	github.com/mattn/go-sqlite3 v1.14.53 // indirect
	github.com/mrjones/oauth v0.0.0-20180629183705-f4e24b6d100c // indirect
	github.com/oauth2-proxy/mockoidc v0.0.0-20261103160011-e06ed0b7cb7f // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/oauth2 v0.27.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
